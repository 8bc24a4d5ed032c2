import BillingClient
import BillingServer
import Dispatch
import Foundation
import Logging
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Counters a test service bumps so that tests can see what happened on the server's side.
final class Probe: Sendable {
    let handlersCancelled = Atomic<Int>(0)
    let streamMessagesSent = Atomic<Int>(0)
    let handlersStarted = Atomic<Int>(0)
    /// Set by a `Release` call; `Hold` calls wait for it.
    let released = Atomic<Bool>(false)
}

/// A service for transport tests; payloads are UTF-8 text.
struct TestService: RPCService {
    static let serviceName = "test.v1.Test"
    let probe: Probe

    var methods: [String: MethodHandler] {
        let probe = probe
        return [
            "Echo": .unary { request, _ in request },
            "Sleep": .unary { request, _ in
                probe.handlersStarted.add(1, ordering: .relaxed)
                do {
                    try await Task.sleep(for: .milliseconds(Int(String(decoding: request, as: UTF8.self)) ?? 0))
                } catch {
                    probe.handlersCancelled.add(1, ordering: .relaxed)
                    throw error
                }
                return request
            },
            // Waits until a later `Release` call arrives: proves calls are answered out of order without timing.
            "Hold": .unary { request, _ in
                probe.handlersStarted.add(1, ordering: .relaxed)
                while !probe.released.load(ordering: .acquiring) { try await Task.sleep(for: .milliseconds(2)) }
                return request
            },
            "Release": .unary { request, _ in
                probe.released.store(true, ordering: .releasing)
                return request
            },
            "Deadline": .unary { _, context in
                Array("\((context.deadline - .now).components.seconds * 1000 + (context.deadline - .now).components.attoseconds / 1_000_000_000_000_000)".utf8)
            },
            "WhoAmI": .unary { _, context in
                Array("\(context.peer?.uid ?? 9999) \(context.peer?.gid ?? 9999) \(context.peer?.pid ?? 0)".utf8)
            },
            "Big": .unary { request, _ in
                [UInt8](repeating: 0x42, count: Int(String(decoding: request, as: UTF8.self)) ?? 0)
            },
            "Fail": .unary { _, _ in
                throw RPCError(.failedPrecondition, "the account has no primary card; add one first")
            },
            "Crash": .unary { _, _ in
                struct SecretLeak: Error { let card = "4242424242424242" }
                throw SecretLeak()
            },
            "Count": .serverStream { request, _, stream in
                let count = Int(String(decoding: request, as: UTF8.self)) ?? 0
                for index in 0..<count {
                    try await stream.send(Array("\(index)".utf8))
                    probe.streamMessagesSent.add(1, ordering: .relaxed)
                }
            },
        ]
    }
}

/// A text message for the test service, carried as raw bytes.
struct Text: WireMessage, Equatable {
    var value: String
    init(_ value: String) { self.value = value }
    init(wireBytes: [UInt8]) { value = String(decoding: wireBytes, as: UTF8.self) }
    func wireBytes() -> [UInt8] { Array(value.utf8) }
}

/// A real server on a real socket in a fresh temporary directory.
final class TestServer: Sendable {
    let directory: String
    let socketPath: String
    let server: RPCServer
    let probe: Probe

    init(configure: (inout ServerConfiguration) -> Void = { _ in }, directory: String? = nil) throws {
        self.directory = directory ?? Self.makeTemporaryDirectory()
        socketPath = self.directory + "/billingd.sock"
        var configuration = ServerConfiguration(socketPath: socketPath)
        configuration.shutdownGracePeriod = .seconds(2)
        configure(&configuration)
        probe = Probe()
        var logger = Logger(label: "test")
        logger.logLevel = .warning
        server = RPCServer(configuration: configuration, services: [TestService(probe: probe)], logger: logger)
        try server.start()
    }

    static func makeTemporaryDirectory() -> String {
        var template = Array("/tmp/billing-test-XXXXXX".utf8CString)
        return template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
    }

    /// The default deadline is generous: under ThreadSanitizer, with the whole suite running beside it on two
    /// cores, a call can take seconds. Tests about deadlines give their own.
    func client(
        timeout: Duration = .seconds(60), retry: RetryPolicy = RetryPolicy(), configure: (inout ClientConfiguration) -> Void = { _ in }
    ) -> RPCClient {
        var configuration = ClientConfiguration(socketPath: socketPath)
        configuration.defaultTimeout = timeout
        configuration.retry = retry
        configure(&configuration)
        return RPCClient(configuration: configuration)
    }

    func stop() async {
        await server.shutdown()
        try? FileManager.default.removeItem(atPath: directory)
    }
}

extension RPCClient {
    func test(_ method: String, _ text: String = "", options: CallOptions = CallOptions()) async throws(RPCError) -> String {
        try await unary(TestService.serviceName, method, Text(text), as: Text.self, options: options).value
    }
}

/// Runs blocking work (poll, blocking reads) on a Dispatch thread, never on Swift's cooperative pool:
/// on two cores, two blocked pool threads would starve the server's handlers under test.
func offPool<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        // A queue of its own: the global queue is as wide as the cores, and blocking it stalls the server's queues too.
        DispatchQueue(label: "off-pool").async { continuation.resume(returning: body()) }
    }
}

/// A peer that speaks raw bytes, for what the client library would never send. Its reads wait, so
/// tests call them through `offPool`; one test uses a peer at a time.
final class RawPeer: @unchecked Sendable {
    let fd: Int32
    private var decoder = FrameDecoder(maxPayloadSize: 64 * 1024 * 1024)

    init(path: String, sendPreface: Bool = true) throws {
        fd = try UnixSocket.connect(path: path)
        if sendPreface { write(ConnectionPreface.bytes()) }
    }

    deinit { close(fd) }

    /// Writes all of `bytes`, giving up if the server takes nothing for a second.
    func write(_ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            guard let written = UnixSocket.writeSome(fd, bytes, from: offset) else { return }
            if written == 0 && !waitFor(POLLOUT, milliseconds: 1000) { return }
            offset += written
        }
    }

    /// Writes what the socket takes without waiting; returns the bytes taken.
    func writeWithoutWaiting(_ bytes: [UInt8]) -> Int {
        UnixSocket.writeSome(fd, bytes, from: 0) ?? 0
    }

    func request(stream: UInt32, service: String = TestService.serviceName, method: String, payload: [UInt8] = [], metadata: [MetadataEntry] = []) {
        let envelope = RequestEnvelope(service: service, method: method, payload: payload, metadata: metadata)
        write(Frame(streamID: stream, type: .request, payload: envelope.wireBytes()).encoded)
    }

    /// Reads the server's preface, then returns frames until `count` arrived or `timeout` passed.
    func readFrames(_ count: Int, timeoutMilliseconds: Int32 = 10_000) async -> [Frame] {
        await offPool { self.readFramesWaiting(count, timeoutMilliseconds: timeoutMilliseconds) }
    }

    private func readFramesWaiting(_ count: Int, timeoutMilliseconds: Int32) -> [Frame] {
        var frames: [Frame] = []
        var preface: [UInt8] = []
        while frames.count < count {
            while frames.count < count, case .frame(let frame)? = try? decoder.next() { frames.append(frame) }
            if frames.count == count { break }
            guard waitFor(POLLIN, milliseconds: timeoutMilliseconds) else { break }
            var buffer = [UInt8](repeating: 0, count: 65536)
            let n = read(fd, &buffer, buffer.count)
            if n <= 0 { break }
            var bytes = Array(buffer[0..<n])
            if !prefaceSeen {
                let needed = ConnectionPreface.size - preface.count
                preface += bytes.prefix(needed)
                bytes = Array(bytes.dropFirst(needed))
                if preface.count == ConnectionPreface.size { prefaceSeen = true }
            }
            decoder.append(bytes)
        }
        return frames
    }

    private var prefaceSeen = false

    /// Everything the peer sends until it closes (or the timeout), preface included.
    func readUntilClosed(timeoutMilliseconds: Int32 = 10_000) async -> (bytes: [UInt8], closed: Bool) {
        await offPool { self.readUntilClosedWaiting(timeoutMilliseconds: timeoutMilliseconds) }
    }

    private func readUntilClosedWaiting(timeoutMilliseconds: Int32) -> (bytes: [UInt8], closed: Bool) {
        var all: [UInt8] = []
        while waitFor(POLLIN, milliseconds: timeoutMilliseconds) {
            var buffer = [UInt8](repeating: 0, count: 65536)
            let n = read(fd, &buffer, buffer.count)
            if n <= 0 { return (all, true) }
            all += buffer[0..<n]
        }
        return (all, false)
    }

    @discardableResult
    func waitFor(_ events: Int32, milliseconds: Int32) -> Bool {
        var descriptor = pollfd(fd: fd, events: Int16(events), revents: 0)
        return poll(&descriptor, 1, milliseconds) > 0
    }
}

func response(_ frame: Frame) throws -> ResponseEnvelope {
    try ResponseEnvelope(wireBytes: frame.payload)
}

/// `billingd` itself, built beside the tests, started in a process of its own on a temporary socket and
/// database, for what only a separate process shows (its threads, its open descriptors).
final class Daemon: Sendable {
    let directory: String
    let socketPath: String
    let process: Process

    static func start(_ flags: [String] = []) async throws -> Daemon {
        // The test bundle and billingd are built into the same folder (.build/debug).
        let folder = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        var binary = folder.appendingPathComponent("billingd")
        while !FileManager.default.fileExists(atPath: binary.path), binary.pathComponents.count > 2 {
            binary = binary.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("billingd")
        }
        try #require(FileManager.default.isExecutableFile(atPath: binary.path), "billingd is not built beside the tests: run swift build first")
        let directory = TestServer.makeTemporaryDirectory()
        let process = Process()
        process.executableURL = binary
        process.arguments = [
            "--socket", directory + "/billingd.sock", "--database", directory + "/billing.sqlite3", "--metrics-socket", "",
            "--log-level", "error", "--seller-name", "Test Seller", "--seller-address", "1 Test Street", "--seller-tax-id", "TEST",
            "--invoice-number-prefix", "TEST",
        ] + flags
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let daemon = Daemon(directory: directory, process: process)
        try await eventually { FileManager.default.fileExists(atPath: daemon.socketPath) }
        return daemon
    }

    private init(directory: String, process: Process) {
        self.directory = directory
        self.socketPath = directory + "/billingd.sock"
        self.process = process
    }

    /// Resident memory, in bytes.
    var residentBytes: Int {
        let status = (try? String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        return (Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0) * 1024
    }

    /// The resident high-water mark since `resetPeakResident()` (VmHWM), in bytes.
    var peakResidentBytes: Int {
        let status = (try? String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") } ?? ""
        return (Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0) * 1024
    }

    /// Makes the high-water mark the current resident size (Linux's clear_refs "5"); false if refused.
    func resetPeakResident() -> Bool {
        let fd = open("/proc/\(process.processIdentifier)/clear_refs", O_WRONLY)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return write(fd, "5", 1) == 1
    }

    var threads: Int { (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(process.processIdentifier)/task").count) ?? 0 }
    /// Its open sockets (the listener and the connections), not the files and event descriptors Dispatch
    /// and SQLite open as they go.
    var openSockets: Int {
        let folder = "/proc/\(process.processIdentifier)/fd"
        let descriptors = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        return descriptors.filter { (try? FileManager.default.destinationOfSymbolicLink(atPath: "\(folder)/\($0)"))?.hasPrefix("socket:") == true }.count
    }

    func stop() async {
        process.terminate()
        await offPool { self.process.waitUntilExit() }
        try? FileManager.default.removeItem(atPath: directory)
    }
}

/// The suites whose timing matters (deadlines, streams) and the suite that loads the machine most
/// (connection churn against billingd) run one after another, never side by side.
@Suite(.serialized) struct SocketTimingSuites {}
