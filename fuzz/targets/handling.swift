// fuzz-modules: service
// fuzz-asan-options: detect_leaks=0
//
// libFuzzer target: the handling of billing.v1.BillingService calls, in process, as billingd runs them: the
// generated routing (decoding, the handler, encoding), the domain, a real SQLite store (in /dev/shm, so that
// fsync is cheap) and the sandbox gateway, without the socket. Input: up to 8 calls, each
// `method index u8 | payload length u8 | payload`, the index into the unary methods sorted by name.
// Ids are made by the server (`acct_` and 20 hex digits), so no input could name one: in a payload,
// `<prefix>_` followed by 20 `@` becomes the latest id with that prefix that a reply of this input held.
//
// Checks: no crash, no hang; every call ends in a reply that decodes, or in an RPCError that is not
// INTERNAL/UNKNOWN (a hostile request must be refused with a reason, not break the server).
//
// Leak detection is off (the fuzz-asan-options line above, read by fuzz/run.sh): Foundation's
// Data(contentsOf:) leaks 4 KiB reading the sandbox's empty journal at start-up, once, outside our code.
//
// The store persists across inputs (a fresh database per input would be too slow), so a failure may depend
// on what earlier inputs left: a crashing input is replayed on a fresh database first, and may not fail alone.
import BillingAPI
import BillingDomain
import BillingSandbox
import BillingServer
import BillingService
import BillingStore
import BillingWire
import Dispatch
import Foundation
import InvoiceRendering
@testable import BillingServer

final class Box<T>: @unchecked Sendable { var value: T? }

/// Runs `body` to its end on the concurrency pool and waits for it.
func blocking<T>(_ body: @escaping @Sendable () async -> T) -> T {
    let done = DispatchSemaphore(value: 0)
    let box = Box<T>()
    Task {
        box.value = await body()
        done.signal()
    }
    done.wait()
    return box.value!
}

struct Service: @unchecked Sendable {
    var methods: [(name: String, body: @Sendable ([UInt8], CallContext) async throws -> [UInt8])]
}

nonisolated(unsafe) var service: Service?
/// The run's directory in /dev/shm, removed when the run ends normally (a crash leaves it, to look at).
nonisolated(unsafe) var directory: String?
/// FUZZ_VERBOSE=1 prints each call's outcome (to see how far the seeds get).
let verbose = getenv("FUZZ_VERBOSE") != nil

func setDirectory(_ path: String) {
    directory = path
    atexit { if let directory { try? FileManager.default.removeItem(atPath: directory) } }
}

func makeService() -> Service {
    blocking { () async -> Service in
        do {
            var template = Array("/dev/shm/billing-fuzz-XXXXXX".utf8CString)
            let directory = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
            setDirectory(directory)
            let store = try await Store.open(path: directory + "/billing.sqlite3", migrations: BillingSchema.migrations)
            let gateway = try SandboxGateway(directory: URL(fileURLWithPath: directory + "/sandbox-gateway"))
            let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            let invoicing = try InvoiceSettings(
                seller: .init(legalName: "Fuzz Ltd", addressLines: ["1 Fuzz Road"], taxID: "FUZZ"), numberPrefix: "FUZZ",
                renderer: try InvoiceRenderer(fonts: .dejaVuSans))
            let context = BillingContext(
                store: store, gateway: gateway, invoicing: invoicing,
                catalog: try PlanCatalog.load(contentsOf: repository.appendingPathComponent("catalog/plans.json")), allowsTestClocks: true)
            let provider = try SandboxProvider(directory: URL(fileURLWithPath: directory + "/sandbox-provider"))
            let billing = Billing(context: context, fulfilment: provider)
            _ = try await billing.prepare()
            let handlers = BillingHandlers(billing: billing)
            var methods: [(name: String, body: @Sendable ([UInt8], CallContext) async throws -> [UInt8])] = []
            for (name, handler) in handlers.methods.sorted(by: { $0.key < $1.key }) {
                if case .unary(let body) = handler { methods.append((name, body)) }
            }
            FileHandle.standardError.write(Data("fuzz: handling \(methods.count) unary methods on \(directory)\n".utf8))
            return Service(methods: methods)
        } catch {
            fatalError("fuzz: cannot start the service: \(error)")
        }
    }
}

/// The ids (`<prefix>_<20 hex digits>`) in a reply, as prefix → id bytes.
func ids(in bytes: [UInt8], into found: inout [[UInt8]: [UInt8]]) {
    func isHex(_ b: UInt8) -> Bool { (0x30...0x39).contains(b) || (0x61...0x66).contains(b) }
    func isLower(_ b: UInt8) -> Bool { (0x61...0x7A).contains(b) }
    var index = 0
    while index < bytes.count {
        guard bytes[index] == 0x5F, index + 20 < bytes.count, (1...20).allSatisfy({ isHex(bytes[index + $0]) }) else {
            index += 1
            continue
        }
        var start = index
        while start > 0, isLower(bytes[start - 1]) { start -= 1 }
        if start < index { found[Array(bytes[start..<index])] = Array(bytes[start...(index + 20)]) }
        index += 21
    }
}

/// Replaces each `<prefix>_` and 20 `@` in `payload` with the latest id of that prefix (same length).
func substitute(_ payload: inout [UInt8], _ found: [[UInt8]: [UInt8]]) {
    guard !found.isEmpty, payload.count >= 22 else { return }
    let at = UInt8(ascii: "@")
    var index = 1
    while index + 20 < payload.count {
        if payload[index] == 0x5F, (1...20).allSatisfy({ payload[index + $0] == at }) {
            for (prefix, id) in found where index >= prefix.count && Array(payload[(index - prefix.count)..<index]) == prefix {
                payload.replaceSubrange((index - prefix.count)...(index + 20), with: id)
                break
            }
            index += 21
        } else {
            index += 1
        }
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    if service == nil { service = makeService() }
    let methods = service!.methods
    var offset = 0
    var calls = 0
    var found: [[UInt8]: [UInt8]] = [:]
    while offset + 2 <= size, calls < 8 {
        let (name, body) = methods[Int(data[offset]) % methods.count]
        let length = min(Int(data[offset + 1]), size - offset - 2)
        var payload = Array(UnsafeBufferPointer(start: data + offset + 2, count: length))
        substitute(&payload, found)
        offset += 2 + length
        calls += 1
        let context = CallContext(
            method: "billing.v1.BillingService/\(name)", requestID: "fuzz", deadline: .now + .seconds(5), peer: nil, metadata: [])
        let request = payload
        let outcome = blocking { () async -> Result<[UInt8], any Error> in
            do { return .success(try await body(request, context)) } catch { return .failure(error) }
        }
        // As CallDispatcher.rpcError(from:) maps what a handler throws.
        let error: RPCError
        switch outcome {
        case .success(let reply):
            ids(in: reply, into: &found)
            if verbose { print("  \(name): OK, \(reply.count) bytes") }
            continue
        case .failure(let thrown as RPCError): error = thrown
        case .failure(let thrown as any RPCErrorConvertible): error = thrown.rpcError
        case .failure(let thrown): fatalError("\(name) threw \(type(of: thrown)), which the server answers INTERNAL: \(thrown) (payload \(payload))")
        }
        if verbose { print("  \(name): \(error)") }
        precondition(error.code != .internalError && error.code != .unknown, "\(name) answered \(error) to \(payload)")
    }
    return 0
}
