import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The throwaway PostgreSQL cluster of a `--postgres` run, made by `scripts/postgres-cluster.sh` in a
/// folder of its own and removed at the end whatever happens: by `stop()` on every way out of the run
/// that Swift sees, and otherwise (a trap, SIGKILL of this program) by a watchdog shell that waits for
/// this process to be gone, then stops the cluster as a crash would and removes its folder.
///
/// Everything the checker needs from PostgreSQL goes through `psql` (as the `postgres` user when run as
/// root, like the script): billing-crash links no PostgreSQL client, so it shares no code with the
/// engine it checks.
final class PostgresCluster {
    /// The schema both daemons keep their tables in (`&schema=` of their URL).
    static let schema = "billing_crash"
    /// Where amcheck's functions live, apart from billingd's tables.
    static let amcheckSchema = "billing_crash_amcheck"
    /// The database the script creates, which billingd uses.
    static let database = "billing"

    /// The cluster's own folder (a `mktemp -d` in /tmp: its parent must be traversable by `postgres`).
    let directory: String
    let script: String
    /// What both daemons get as `--database`.
    let url: String
    /// `psql` and `pg_dump` of the newest installed PostgreSQL, as the script picks `initdb`.
    let binDirectory: String
    /// Whether amcheck is installed, the counterpart of SQLite's `PRAGMA integrity_check`.
    private(set) var hasAmcheck = false
    private var watchdog: Process?
    private var stopped = false

    /// Creates the folder, starts the watchdog, starts the cluster and prepares amcheck.
    init(script: String) throws {
        guard let bin = try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")
            .filter({ FileManager.default.isExecutableFile(atPath: "/usr/lib/postgresql/\($0)/bin/psql") })
            .max(by: { $0.compare($1, options: .numeric) == .orderedAscending })
        else { throw CrashTestError("PostgreSQL is not installed (apt-get install postgresql)") }
        var template = Array("/tmp/billing-crash-pg.XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw CrashTestError("cannot create a directory in /tmp for the PostgreSQL cluster") }
        let directory = String(cString: made)
        let watchdog: Process
        do {
            watchdog = try Self.startWatchdog(script: script, directory: directory)
        } catch {
            try? FileManager.default.removeItem(atPath: directory)
            throw error
        }
        let started = try? Self.run(script, ["start", directory])
        self.directory = directory
        self.script = script
        self.binDirectory = "/usr/lib/postgresql/\(bin)/bin"
        self.watchdog = watchdog
        guard let started, started.status == 0, let printed = started.output.split(separator: "\n").last.map(String.init), printed.hasPrefix("postgres://") else {
            url = ""
            stop()
            throw CrashTestError("postgres-cluster.sh start \(directory) failed (status \(started?.status ?? -1)): \(started?.error ?? "could not run it")")
        }
        url = printed + "&schema=\(Self.schema)"
        let amcheck = try? execute(
            "CREATE SCHEMA \(Self.amcheckSchema); CREATE EXTENSION amcheck SCHEMA \(Self.amcheckSchema);", database: Self.database, singleTransaction: true)
        hasAmcheck = amcheck?.status == 0
    }

    /// Stops the cluster (fast shutdown), removes its folder and ends the watchdog. Safe to call twice.
    func stop() {
        guard !stopped else { return }
        stopped = true
        if FileManager.default.fileExists(atPath: directory + "/data/postmaster.pid"), let stopping = try? Self.run(script, ["stop", directory]), stopping.status != 0 {
            print("note: postgres-cluster.sh stop \(directory) failed: \(stopping.error)")
        }
        try? FileManager.default.removeItem(atPath: directory)
        if let watchdog, watchdog.isRunning { Glibc.kill(watchdog.processIdentifier, SIGKILL) }
        watchdog = nil
    }

    deinit { stop() }

    /// Writes billingd's schema as SQL (pg_dump) to `path`, so that a failed run keeps its data after
    /// the cluster is gone.
    func dump(to path: String) throws {
        guard FileManager.default.createFile(atPath: path, contents: nil) else { throw CrashTestError("cannot create \(path)") }
        let file = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? file.close() }
        let dumped = try Self.run(
            binDirectory + "/pg_dump", ["-h", directory, "-U", "billing", "-n", Self.schema, Self.database], asOwner: true, output: file)
        guard dumped.status == 0 else { throw CrashTestError("pg_dump failed: \(dumped.error)") }
    }

    /// Runs `sql` (several statements may follow each other) in `database` with psql, stopping at the
    /// first error: for the harness's own changes (amcheck, the self-test's copies), never billingd's data.
    @discardableResult
    func execute(_ sql: String, database: String, singleTransaction: Bool = false) throws -> (status: Int32, output: String, error: String) {
        try Self.run(
            binDirectory + "/psql",
            ["-h", directory, "-U", "billing", "-d", database, "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1"] + (singleTransaction ? ["-1"] : []),
            asOwner: true, environment: ["PGOPTIONS": "-c search_path=\(Self.schema) -c client_min_messages=warning"], input: Data(sql.utf8))
    }

    /// The arguments that start psql for a reader: unaligned, tuples only, rows ended by a zero byte,
    /// read-only sessions in billingd's schema.
    func psqlCommand(database: String) -> (executable: String, arguments: [String]) {
        Self.command(
            binDirectory + "/psql", ["-h", directory, "-U", "billing", "-d", database, "-X", "-q", "-At", "-0", "-v", "ON_ERROR_STOP=1"],
            asOwner: true,
            environment: [
                // Bytes as stored (UTF-8), never converted: the separators below are bytes UTF-8 never holds.
                "PGCLIENTENCODING": "SQL_ASCII",
                "PGOPTIONS": "-c search_path=\(Self.schema) -c default_transaction_read_only=on -c statement_timeout=60000 -c client_min_messages=warning",
            ])
    }

    // MARK: Processes

    /// `executable arguments` with `environment`, through `runuser -u postgres` when this runs as root
    /// and `asOwner` (the cluster's files and socket belong to `postgres` then).
    static func command(_ executable: String, _ arguments: [String], asOwner: Bool, environment: [String: String] = [:]) -> (executable: String, arguments: [String]) {
        let assignments = environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        guard asOwner && getuid() == 0 else { return ("/usr/bin/env", assignments + [executable] + arguments) }
        // env sets the variables in the command's own environment, whatever runuser passes on.
        let runuser = ["/usr/sbin/runuser", "/sbin/runuser", "/usr/bin/runuser"].first { FileManager.default.isExecutableFile(atPath: $0) } ?? "runuser"
        return (runuser, ["-u", "postgres", "--", "/usr/bin/env"] + assignments + [executable] + arguments)
    }

    /// Runs a command to its end: its status, standard output (unless `output` takes it) and standard
    /// error, each through a temporary file.
    ///
    /// Not Foundation's `Process`: it tells a child's end by a socket the child inherits, and the cluster
    /// script's `pg_ctl start` leaves a postmaster holding it, so the script would never seem to end.
    /// Here the child gets standard input, output and error and nothing else, and is waited for by pid.
    static func run(
        _ executable: String, _ arguments: [String], asOwner: Bool = false, environment: [String: String] = [:], input: Data? = nil,
        output: FileHandle? = nil
    ) throws -> (status: Int32, output: String, error: String) {
        let (path, argv) = command(executable, arguments, asOwner: asOwner, environment: environment)
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("billing-crash-\(getpid())-\(UUID().uuidString)").path
        let files = [scratch + ".in", scratch + ".out", scratch + ".err"]
        defer { files.forEach { try? FileManager.default.removeItem(atPath: $0) } }
        guard FileManager.default.createFile(atPath: files[0], contents: input ?? Data(), attributes: [.posixPermissions: 0o600]),
              FileManager.default.createFile(atPath: files[1], contents: nil, attributes: [.posixPermissions: 0o600]),
              FileManager.default.createFile(atPath: files[2], contents: nil, attributes: [.posixPermissions: 0o600])
        else { throw CrashTestError("cannot create temporary files for \(executable)") }
        let descriptors = [open(files[0], O_RDONLY | O_CLOEXEC), output.map { dup($0.fileDescriptor) } ?? open(files[1], O_WRONLY | O_CLOEXEC),
                           open(files[2], O_WRONLY | O_CLOEXEC)]
        defer { descriptors.filter { $0 >= 0 }.forEach { close($0) } }
        guard !descriptors.contains(where: { $0 < 0 }) else { throw CrashTestError("cannot open temporary files for \(executable)") }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for (target, descriptor) in descriptors.enumerated() { posix_spawn_file_actions_adddup2(&actions, descriptor, Int32(target)) }
        guard let closeFrom = Self.addCloseFrom else { throw CrashTestError("this C library has no posix_spawn_file_actions_addclosefrom_np (glibc 2.34 or later)") }
        _ = closeFrom(&actions, 3)
        let cArguments = ([path] + argv).map { strdup($0) } + [nil]
        defer { cArguments.forEach { free($0) } }
        var pid = pid_t()
        let spawned = posix_spawn(&pid, path, &actions, nil, cArguments, environ)
        guard spawned == 0 else { throw CrashTestError("cannot run \(executable): \(String(cString: strerror(spawned)))") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            guard errno == EINTR else { throw CrashTestError("cannot wait for \(executable): \(String(cString: strerror(errno)))") }
        }
        // WIFEXITED: the low seven bits are zero; otherwise report 128 + the signal, as a shell does.
        let exitStatus = status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        let printed = output == nil ? ((try? String(contentsOfFile: files[1], encoding: .utf8)) ?? "") : ""
        let error = ((try? String(contentsOfFile: files[2], encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        return (exitStatus, printed, error)
    }

    /// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34 and later), which its header declares
    /// for _GNU_SOURCE only: the child must inherit no descriptor of this process but the three it is
    /// given, or a postmaster started by the script would hold pipes of whoever runs this program.
    private static let addCloseFrom: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32)? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32).self)
    }()

    /// A shell that outlives this process if it must: once this process is gone it stops the cluster
    /// (immediate, as a crash would) and removes its folder. It ignores the terminal's signals, which
    /// reach it with this process's group; `stop()` kills it after doing the same work itself.
    private static func startWatchdog(script: String, directory: String) throws -> Process {
        let watchdog = Process()
        watchdog.executableURL = URL(fileURLWithPath: "/bin/sh")
        watchdog.arguments = [
            "-c",
            #"trap '' INT TERM HUP; while kill -0 "$2" 2>/dev/null; do sleep 1; done; "$0" crash "$1" >/dev/null 2>&1; rm -rf "$1""#,
            script, directory, "\(getpid())",
        ]
        watchdog.standardInput = FileHandle.nullDevice
        watchdog.standardOutput = FileHandle.nullDevice
        watchdog.standardError = FileHandle.nullDevice
        try watchdog.run()
        return watchdog
    }
}
