import ArgumentParser
import BillingClient
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `billing-crash`: starts billingd on a fresh directory, drives mixed load and a subscription renewal
/// run each round (a test clock advanced a month), kills it with SIGKILL at random moments, restarts it,
/// and after every restart checks that nothing acknowledged was lost or doubled, that no subscription
/// period was invoiced twice, skipped or left unpaid, and that every invariant of the money tables
/// holds. With `--postgres`, two billingd share a throwaway PostgreSQL cluster and each round kills one
/// of them. docs/RELIABILITY.md ("Crash safety").
@main
struct CrashTest: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "billing-crash",
        abstract: "Crash test of billingd: SIGKILL under load for many rounds, checking after each restart.")

    @Option(help: "The billingd binary (default: billingd next to this program).")
    var billingd: String?

    @Option(help: "Kill-and-restart rounds.")
    var rounds = 20

    @Option(help: "Seed of the random choices (kill moments, operations, amounts); printed, so a run can be repeated.")
    var seed: UInt64?

    @Option(help: "Concurrent workers driving load.")
    var workers = 6

    @Option(help: "Accounts the load spreads over.")
    var accounts = 4

    @Option(help: "Earliest kill, in ms after the round's load starts.")
    var minKillMs = 50

    @Option(help: "Latest kill, in ms after the round's load starts.")
    var maxKillMs = 800

    @Option(help: "Accounts on a test clock, each subscribed to a monthly plan at set-up (0: none).")
    var subscriptions = 40

    @Flag(inversion: .prefixedNo, help: "Advance the test clock a month each round beside the load, so that the kill lands in renewal runs.")
    var renewals = true

    @Option(help: "The plan catalog billingd loads (default: catalog/plans.json of the repository this program was built in).")
    var catalog: String?

    @Option(help: "Acknowledged operations resent per round to check that they replay their first outcome.")
    var replays = 16

    @Option(help: "Seconds the whole run may take; no round starts after it.")
    var maxSeconds = 3600

    @Option(help: "Seconds billingd may take to start and answer.")
    var startTimeoutSeconds = 30

    @Flag(help: "Keep the test directory (database, gateway record, operations log, billingd.log) even when every round passed.")
    var keep = false

    @Flag(help: "Two billingd on one PostgreSQL database (a throwaway cluster made by scripts/postgres-cluster.sh), one of them killed each round.")
    var postgres = false

    @Option(help: "With --postgres: operations sent to both daemons at once under one key, in percent.")
    var sameKeyPercent = 10

    @Flag(inversion: .prefixedNo, help: "With --postgres: the daemon not killed keeps serving load until the killed one answers again.")
    var loadThroughRestart = true

    @Option(help: "With --postgres: the cluster script (default: scripts/postgres-cluster.sh of the repository this program was built in).")
    var clusterScript: String?

    func validate() throws {
        guard (1...100_000).contains(rounds) else { throw ValidationError("--rounds must be 1...100000") }
        guard (1...64).contains(workers), (1...100).contains(accounts) else { throw ValidationError("--workers must be 1...64, --accounts 1...100") }
        guard minKillMs >= 1, minKillMs <= maxKillMs, maxKillMs <= 60_000 else { throw ValidationError("need 1 <= --min-kill-ms <= --max-kill-ms <= 60000") }
        guard (0...1000).contains(replays), maxSeconds > 0, startTimeoutSeconds > 0 else { throw ValidationError("--replays must be 0...1000; times positive") }
        guard (0...1000).contains(subscriptions) else { throw ValidationError("--subscriptions must be 0...1000") }
        guard (0...100).contains(sameKeyPercent) else { throw ValidationError("--same-key-percent must be 0...100") }
    }

    func run() async throws {
        let seed = seed ?? UInt64.random(in: 0...UInt64(UInt32.max))
        let executable = try billingd ?? Self.siblingBillingd()
        let catalog = try catalog ?? Self.repositoryFile("catalog/plans.json", required: subscriptions > 0, option: "--catalog (or --subscriptions 0)")
        let clusterScript = postgres ? try clusterScript ?? Self.repositoryFile("scripts/postgres-cluster.sh", required: true, option: "--cluster-script") : nil
        let directory = try Self.makeTemporaryDirectory()
        let interruptHandlers = ServerProcess.killServerWhenInterrupted()
        defer { interruptHandlers.forEach { $0.cancel() } }
        print("billing-crash: seed \(seed), \(rounds) rounds, \(workers) workers, \(accounts) accounts, kill after \(minKillMs)-\(maxKillMs) ms, "
              + "\(subscriptions) subscriptions\(subscriptions > 0 ? (renewals ? ", renewed each round" : ", not renewed (--no-renewals)") : "")")
        print("billingd \(executable), catalog \(catalog ?? "none"), directory \(directory.path)")

        let database: CrashDatabase
        let cluster: PostgresCluster?
        if let clusterScript {
            let made = try PostgresCluster(script: clusterScript)
            cluster = made
            database = .postgres(made)
            print("PostgreSQL cluster \(made.directory) (removed at the end): two daemons on \(made.url), one killed each round; "
                  + "\(sameKeyPercent) % of operations sent to both under one key; load \(loadThroughRestart ? "goes on" : "stops") on the other daemon during a restart")
        } else {
            cluster = nil
            database = .sqlite(path: directory.appendingPathComponent("billing.sqlite3").path)
        }
        defer { cluster?.stop() }

        let names = database.daemons == 1 ? ["billingd"] : ["billingd-a", "billingd-b"]
        let run = try CrashRun(
            servers: names.map { ServerProcess(executable: executable, directory: directory, name: $0, database: database.argument, catalog: catalog) },
            database: database, directory: directory, seed: seed, workers: workers, accounts: accounts,
            killWindowMilliseconds: minKillMs...maxKillMs, replaysPerRound: replays, startTimeout: .seconds(startTimeoutSeconds),
            subscriptions: subscriptions, renewals: renewals, sameKeyPercent: sameKeyPercent, loadThroughRestart: loadThroughRestart)
        let summary = try await run.run(rounds: rounds, deadline: .now + .seconds(maxSeconds))
        print(summary.text(seed: seed))
        let failed = summary.failedRounds > 0 || summary.finalCheckFailed || summary.setupFailure != nil || !summary.selfTestMissed.isEmpty
        if failed || keep {
            if let cluster {
                // The cluster goes; its data stays, as SQL.
                let dump = directory.appendingPathComponent("billing.pg.sql").path
                do { try cluster.dump(to: dump) } catch { print("note: could not dump the PostgreSQL database: \(error)") }
            }
            print("kept \(directory.path) (operations.jsonl: the acknowledged operations; \(names.map { $0 + ".log" }.joined(separator: ", "))"
                  + "\(cluster == nil ? "" : "; billing.pg.sql: the PostgreSQL database, dumped"))")
        } else {
            try? FileManager.default.removeItem(at: directory)
        }
        print("\(summary.passedRounds) passed, \(summary.failedRounds) failed")
        if failed { throw ExitCode(1) }
    }

    /// This executable's own path, symbolic links resolved (`.build/debug` is one).
    static var executablePath: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }

    /// `relative` (catalog/plans.json, scripts/postgres-cluster.sh) in the repository this program was
    /// built in: the first folder above the executable (`<repository>/.build/<triple>/debug/billing-crash`)
    /// that holds `Package.swift` and that file, so that the working folder does not matter.
    static func repositoryFile(_ relative: String, required: Bool, option: String) throws -> String? {
        var folder = URL(fileURLWithPath: executablePath).standardizedFileURL.deletingLastPathComponent()
        while folder.path != "/" {
            let file = folder.appendingPathComponent(relative).path
            if FileManager.default.fileExists(atPath: folder.appendingPathComponent("Package.swift").path), FileManager.default.fileExists(atPath: file) {
                return file
            }
            folder.deleteLastPathComponent()
        }
        if required { throw ValidationError("no \(relative) in a repository above \(executablePath); pass \(option)") }
        return nil
    }

    /// `billingd` in the folder of this executable: `swift build` puts both in `.build/debug`.
    static func siblingBillingd() throws -> String {
        let path = URL(fileURLWithPath: executablePath).deletingLastPathComponent().appendingPathComponent("billingd").path
        guard FileManager.default.isExecutableFile(atPath: path) else { throw ValidationError("no billingd at \(path); pass --billingd") }
        return path
    }

    /// A new directory for the database, the socket and the logs (short: socket paths are limited to 107 bytes).
    static func makeTemporaryDirectory() throws -> URL {
        var template = Array("/tmp/billing-crash.XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw CrashTestError("cannot create a directory in /tmp") }
        return URL(fileURLWithPath: String(cString: made))
    }
}
