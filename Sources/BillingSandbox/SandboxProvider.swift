import BillingGateway
import BillingValues
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The built-in fulfilment provider: stands in for every provider the catalog names. It acts once per
/// idempotency key and journals each action it takes (one JSON line, fsync'd before it answers) to
/// `sandbox-provider.jsonl`, so that after a restart it still knows what it did and answers a repeated
/// key without acting again. Tests and people trying the service read its state per subscription.
public actor SandboxProvider: FulfilmentProvider {
    public static let journalFileName = "sandbox-provider.jsonl"

    /// What the provider did for a subscription, in order.
    public struct Record: Sendable, Hashable, Codable {
        public var idempotencyKey: String
        public var action: FulfilmentAction
    }

    private let fileURL: URL
    private let fileDescriptor: Int32
    private var performedKeys: Set<String> = []
    private var history: [String: [FulfilmentAction]] = [:]
    private var failuresToInject = 0

    public init(directory: URL) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        fileURL = directory.appendingPathComponent(Self.journalFileName)
        fileDescriptor = open(fileURL.path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        guard fileDescriptor >= 0 else { throw BillingError.internalError("sandbox provider cannot open \(fileURL.path)") }
        let contents = (try? Data(contentsOf: fileURL)) ?? Data()
        let newline = UInt8(ascii: "\n")
        // A torn last line is an action whose answer never went out: forget it, it will be sent again.
        let completeLength = (contents.lastIndex(of: newline).map { $0 + 1 }) ?? contents.startIndex
        if completeLength < contents.endIndex { _ = ftruncate(fileDescriptor, off_t(completeLength - contents.startIndex)) }
        for line in contents[contents.startIndex..<completeLength].split(separator: newline) {
            let record = try JSONDecoder().decode(Record.self, from: Data(line))
            performedKeys.insert(record.idempotencyKey)
            history[record.action.subscriptionID, default: []].append(record.action)
        }
    }

    deinit { close(fileDescriptor) }

    public func perform(_ action: FulfilmentAction, idempotencyKey: String) async throws {
        if failuresToInject > 0 {
            failuresToInject -= 1
            throw BillingError.unavailable("the sandbox provider \(action.provider) is unavailable (injected)")
        }
        guard !performedKeys.contains(idempotencyKey) else { return }
        var line = Array(try JSONEncoder().encode(Record(idempotencyKey: idempotencyKey, action: action)))
        line.append(UInt8(ascii: "\n"))
        let written = line.withUnsafeBytes { write(fileDescriptor, $0.baseAddress!, $0.count) }
        guard written == line.count, fsync(fileDescriptor) == 0 else {
            throw BillingError.unavailable("the sandbox provider could not record the action")
        }
        performedKeys.insert(idempotencyKey)
        history[action.subscriptionID, default: []].append(action)
    }

    /// The actions performed for a subscription, oldest first (each key once).
    public func actions(for subscriptionID: String) -> [FulfilmentAction.Kind] {
        history[subscriptionID, default: []].map(\.kind)
    }

    /// Makes the next `count` calls fail before acting, like an unreachable provider.
    public func failNextCalls(_ count: Int) {
        failuresToInject = count
    }
}
