import BillingClient
import Dispatch
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// One billingd process on the test's own directory: started, waited for, killed with SIGKILL.
///
/// Its output goes to `billingd.log` in the directory (appended across restarts), which is kept when a
/// round fails. Used from the round loop only.
final class ServerProcess {
    let executable: String
    let directory: URL
    /// The plan catalog billingd is given (`--catalog`), so that it does not depend on the working folder.
    let catalog: String?
    var databasePath: String { directory.appendingPathComponent("billing.sqlite3").path }
    var socketPath: String { directory.appendingPathComponent("billingd.sock").path }
    /// The sandbox gateway's own SQLite database, next to billingd's (billingd's default).
    var gatewayRecordPath: String { directory.appendingPathComponent("sandbox-gateway/sandbox-gateway.sqlite3").path }
    var logPath: String { directory.appendingPathComponent("billingd.log").path }

    private var process: Process?

    /// The development seller from the Makefile's DEV_SELLER_FLAGS: billingd refuses to start without one.
    static let sellerFlags = [
        "--seller-name", "DEVELOPMENT ONLY - not a real seller", "--seller-address", "1 Development Street",
        "--seller-address", "Testville", "--seller-tax-id", "DEV-NOT-A-TAX-ID", "--invoice-number-prefix", "CRASH",
    ]

    init(executable: String, directory: URL, catalog: String?) {
        self.executable = executable
        self.directory = directory
        self.catalog = catalog
    }

    /// Starts billingd and waits until it answers a health check: start-up reconciliation runs before
    /// it listens, so once it answers, every charge a crash left pending has been settled.
    func start(within timeout: Duration) async throws {
        if !FileManager.default.fileExists(atPath: logPath) { _ = FileManager.default.createFile(atPath: logPath, contents: nil) }
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        log.seekToEndOfFile()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = [
            "--socket", socketPath, "--database", databasePath, "--metrics-socket", "", "--log-level", "warning",
        ] + Self.sellerFlags + (catalog.map { ["--catalog", $0] } ?? [])
        process.standardOutput = log
        process.standardError = log
        try process.run()
        self.process = process
        runningServerID.store(process.processIdentifier, ordering: .relaxed)
        try? log.close()

        var configuration = ClientConfiguration(socketPath: socketPath)
        configuration.retry = .never
        configuration.defaultTimeout = .seconds(2)
        let client = RPCClient(configuration: configuration)
        defer { client.close() }
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            guard process.isRunning else {
                throw CrashTestError("billingd exited with status \(process.terminationStatus) at start-up; see \(logPath)")
            }
            if (try? await HealthClient(client).check()) == .serving { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw CrashTestError("billingd did not answer a health check within \(timeout); see \(logPath)")
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
        runningServerID.store(0, ordering: .relaxed)
        self.process = nil
    }

    /// Interrupted (Ctrl-C, or CI's timeout sending SIGTERM), the crash test kills the billingd it
    /// started instead of leaving it serving a temporary directory. Keep the returned sources alive.
    static func killServerWhenInterrupted() -> [any DispatchSourceSignal] {
        [SIGINT, SIGTERM].map { signalNumber in
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler {
                let server = runningServerID.load(ordering: .relaxed)
                if server > 0 { Glibc.kill(server, SIGKILL) }
                exit(128 + signalNumber)
            }
            source.resume()
            return source
        }
    }
}

/// The process id of the billingd running now (0: none), for the interrupt handler.
private let runningServerID = Atomic<Int32>(0)

/// A failure of the test's own machinery (billingd would not start, a file could not be written), as
/// opposed to a failed check.
struct CrashTestError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
