import BillingClient
import Dispatch
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// One billingd process on the test's own directory: started, waited for, killed with SIGKILL.
///
/// Its output goes to `<name>.log` in the directory (appended across restarts), which is kept when a
/// round fails. Daemons of one run share the database and the sandbox gateway's and provider's folders,
/// as several billingd on one database must; each has its own socket. Used from the round loop only.
final class ServerProcess {
    let executable: String
    let directory: URL
    /// "billingd", or "billingd-a" and "billingd-b" when two share the database.
    let name: String
    /// billingd's `--database`: the SQLite file, or the PostgreSQL URL.
    let database: String
    /// The plan catalog billingd is given (`--catalog`), so that it does not depend on the working folder.
    let catalog: String?
    var socketPath: String { directory.appendingPathComponent("\(name).sock").path }
    /// The sandbox gateway's own SQLite database (given as `--gateway-directory`, shared by every daemon of the run).
    var gatewayRecordPath: String { Self.gatewayDirectory(in: directory).appendingPathComponent("sandbox-gateway.sqlite3").path }
    var logPath: String { directory.appendingPathComponent("\(name).log").path }

    static func gatewayDirectory(in directory: URL) -> URL { directory.appendingPathComponent("sandbox-gateway") }
    static func providerDirectory(in directory: URL) -> URL { directory.appendingPathComponent("sandbox-provider") }

    private var process: Process?

    /// The development seller from the Makefile's DEV_SELLER_FLAGS: billingd refuses to start without one.
    static let sellerFlags = [
        "--seller-name", "DEVELOPMENT ONLY - not a real seller", "--seller-address", "1 Development Street",
        "--seller-address", "Testville", "--seller-tax-id", "DEV-NOT-A-TAX-ID", "--invoice-number-prefix", "CRASH",
    ]

    init(executable: String, directory: URL, name: String, database: String, catalog: String?) {
        self.executable = executable
        self.directory = directory
        self.name = name
        self.database = database
        self.catalog = catalog
    }

    /// Starts billingd and waits until it answers a health check: start-up reconciliation runs before
    /// it listens, so once it answers, every charge a crash left pending has been settled.
    func start(within timeout: Duration) async throws {
        try launch()
        try await waitUntilServing(within: timeout)
    }

    /// Starts the process without waiting for it, so that several daemons can start together.
    func launch() throws {
        if !FileManager.default.fileExists(atPath: logPath) { _ = FileManager.default.createFile(atPath: logPath, contents: nil) }
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        log.seekToEndOfFile()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = [
            "--socket", socketPath, "--database", database, "--metrics-socket", "", "--log-level", "warning",
            "--gateway-directory", Self.gatewayDirectory(in: directory).path, "--provider-directory", Self.providerDirectory(in: directory).path,
        ] + Self.sellerFlags + (catalog.map { ["--catalog", $0] } ?? [])
        process.standardOutput = log
        process.standardError = log
        try process.run()
        self.process = process
        runningServers.withLock { _ = $0.insert(process.processIdentifier) }
        try? log.close()
    }

    /// Waits until the launched billingd answers a health check.
    func waitUntilServing(within timeout: Duration) async throws {
        guard let process else { throw CrashTestError("\(name) was not launched") }
        var configuration = ClientConfiguration(socketPath: socketPath)
        configuration.retry = .never
        configuration.defaultTimeout = .seconds(2)
        let client = RPCClient(configuration: configuration)
        defer { client.close() }
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            guard process.isRunning else {
                throw CrashTestError("\(name) exited with status \(process.terminationStatus) at start-up (\(lastLogLine)); see \(logPath)")
            }
            if (try? await HealthClient(client).check()) == .serving { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw CrashTestError("\(name) did not answer a health check within \(timeout); see \(logPath)")
    }

    /// How billingd ended if it ended by itself (a crash, an exit) rather than by `kill()` or `stop()`:
    /// nil while it runs. The process is forgotten, so that `start` can run it again.
    func endedByItself() -> String? {
        guard let process, !process.isRunning else { return nil }
        let how = process.terminationReason == .uncaughtSignal ? "signal \(process.terminationStatus)" : "status \(process.terminationStatus)"
        runningServers.withLock { _ = $0.remove(process.processIdentifier) }
        self.process = nil
        return "\(name) ended by itself (\(how)); its last line: \(lastLogLine); see \(logPath)"
    }

    /// The last line billingd wrote: at an exit during start-up, its reason.
    private var lastLogLine: String {
        let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").last.map(String.init) ?? "no output"
    }

    /// SIGKILL: no drain, no close, nothing flushed that was not already durable. Returns once the
    /// process is gone (polled, so that no cooperative thread blocks in a wait).
    func kill() async {
        await end(with: SIGKILL)
    }

    /// SIGTERM, at the end of a run: billingd drains and closes its store.
    func stop() async {
        await end(with: SIGTERM)
    }

    private func end(with signal: Int32) async {
        guard let process else { return }
        if process.isRunning { Glibc.kill(process.processIdentifier, signal) }
        while process.isRunning { try? await Task.sleep(for: .milliseconds(2)) }
        runningServers.withLock { _ = $0.remove(process.processIdentifier) }
        self.process = nil
    }

    /// Interrupted (Ctrl-C, or CI's timeout sending SIGTERM), the crash test kills the billingd it
    /// started instead of leaving it serving a temporary directory (a PostgreSQL cluster's watchdog then
    /// removes the cluster). Keep the returned sources alive.
    static func killServerWhenInterrupted() -> [any DispatchSourceSignal] {
        [SIGINT, SIGTERM].map { signalNumber in
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler {
                for server in runningServers.withLock({ $0 }) { Glibc.kill(server, SIGKILL) }
                exit(128 + signalNumber)
            }
            source.resume()
            return source
        }
    }
}

/// The process ids of the billingd running now, for the interrupt handler.
private let runningServers = Mutex<Set<Int32>>([])

/// A failure of the test's own machinery (billingd would not start, a file could not be written), as
/// opposed to a failed check.
struct CrashTestError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
