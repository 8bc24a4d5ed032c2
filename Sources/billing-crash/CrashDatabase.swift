import CSQLite
import Foundation

/// Where billingd keeps its data in a run, and how the checker reads it: one SQLite file for one
/// daemon, or one PostgreSQL database (one schema) that two daemons share.
enum CrashDatabase {
    case sqlite(path: String)
    case postgres(PostgresCluster)

    var name: String {
        switch self {
        case .sqlite: "SQLite"
        case .postgres: "PostgreSQL"
        }
    }

    /// billingd's `--database`.
    var argument: String {
        switch self {
        case .sqlite(let path): path
        case .postgres(let cluster): cluster.url
        }
    }

    /// Daemons on this database: SQLite is one process's file; PostgreSQL is there to be shared.
    var daemons: Int {
        switch self {
        case .sqlite: 1
        case .postgres: 2
        }
    }

    /// A new read-only connection (SQLite) or session (PostgreSQL).
    func reader() throws -> any DatabaseReader {
        switch self {
        case .sqlite(let path): try SQLiteReader(path: path)
        case .postgres(let cluster): try PostgresReader(cluster: cluster)
        }
    }

    /// A copy of the database as it is now, for one corruption of the checker's self-test. Run only
    /// when no daemon is running (PostgreSQL copies a database that has no other session).
    func copy(_ index: Int, in directory: URL, forDamage: Bool) throws -> any DatabaseCopy {
        switch self {
        case .sqlite(let path): try SQLiteCopy(of: path, to: directory.appendingPathComponent("self-test-\(index).sqlite3").path)
        case .postgres(let cluster): try PostgresCopy(of: cluster, named: "billing_self_test_\(index)", forDamage: forDamage)
        }
    }
}

/// A throwaway copy of the final database that one corruption of the checker's self-test changes.
protocol DatabaseCopy: AnyObject {
    func reader() throws -> any DatabaseReader
    /// Runs `sql` (engine-neutral statements) with what guards the data switched off on the copy: the
    /// ledger's append-only triggers, and on PostgreSQL the foreign keys, which SQLite's connection
    /// here does not enforce either.
    func corrupt(_ sql: String) throws
    /// Overwrites bytes in the middle of the ledger's storage, as a failing disk would.
    func damage() throws
    func remove()
}

/// A copy of the SQLite file (`VACUUM INTO`).
final class SQLiteCopy: DatabaseCopy {
    let path: String

    init(of source: String, to path: String) throws {
        self.path = path
        _ = try SQLiteReader(path: source).rows("VACUUM INTO ?", path)
    }

    func reader() throws -> any DatabaseReader { try SQLiteReader(path: path) }

    func corrupt(_ sql: String) throws {
        try Self.execute("DROP TRIGGER wallet_transactions_no_update; DROP TRIGGER wallet_transactions_no_delete; " + sql, on: path)
    }

    func damage() throws {
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        handle.seek(toFileOffset: 3 * 4096)
        handle.write(Data(repeating: 0x55, count: 2 * 4096))
        try handle.close()
    }

    func remove() { try? FileManager.default.removeItem(atPath: path) }

    /// Runs `sql` on a copy, read-write: with the gateway record's copy, the only writes this program
    /// makes to any SQLite database.
    static func execute(_ sql: String, on path: String) throws {
        var handle: OpaquePointer?
        defer { sqlite3_close(handle) }
        guard sqlite3_open_v2(path, &handle, SQLITE_OPEN_READWRITE, nil) == SQLITE_OK else { throw CrashTestError("cannot open the self-test copy \(path)") }
        var message: UnsafeMutablePointer<CChar>?
        guard sqlite3_exec(handle, sql, nil, nil, &message) == SQLITE_OK else {
            let text = message.map { String(cString: $0) } ?? "unknown error"
            sqlite3_free(message)
            throw CrashTestError("self-test corruption failed: \(text)")
        }
    }
}

/// A copy of billingd's PostgreSQL database (`CREATE DATABASE … TEMPLATE`), with its schema, in the
/// same cluster.
final class PostgresCopy: DatabaseCopy {
    let cluster: PostgresCluster
    let name: String

    /// `forDamage` copies the files (`STRATEGY FILE_COPY`, after a checkpoint) instead of the default
    /// block-by-block copy through shared buffers, so that the copy's pages are read from disk, where
    /// `damage()` changes them.
    init(of cluster: PostgresCluster, named name: String, forDamage: Bool) throws {
        self.cluster = cluster
        self.name = name
        try Self.require(cluster.execute(
            "DROP DATABASE IF EXISTS \(name); CREATE DATABASE \(name) TEMPLATE \(PostgresCluster.database)\(forDamage ? " STRATEGY FILE_COPY" : "");",
            database: "postgres"), "copying the database")
    }

    func reader() throws -> any DatabaseReader { try PostgresReader(cluster: cluster, database: name) }

    func corrupt(_ sql: String) throws {
        try Self.require(cluster.execute("SET session_replication_role = replica;\n" + sql, database: name, singleTransaction: true), "the corruption")
    }

    /// Two pages of the ledger's table file overwritten (the first pages when the table is small),
    /// before anything has read them into PostgreSQL's buffers.
    func damage() throws {
        let located = try cluster.execute("SELECT pg_relation_filepath('wallet_transactions')", database: name)
        try Self.require(located, "locating the ledger's file")
        let path = cluster.directory + "/data/" + located.output.trimmingCharacters(in: .whitespacesAndNewlines)
        let size = (try FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue ?? 0
        guard size >= 8192 else { throw CrashTestError("the ledger's file \(path) is too small to damage (\(size) bytes)") }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        handle.seek(toFileOffset: size >= 3 * 8192 ? 8192 : 0)
        handle.write(Data(repeating: 0x55, count: min(2 * 8192, size)))
        try handle.close()
    }

    func remove() {
        _ = try? cluster.execute("DROP DATABASE IF EXISTS \(name) WITH (FORCE)", database: "postgres")
    }

    private static func require(_ result: (status: Int32, output: String, error: String), _ what: String) throws {
        guard result.status == 0 else { throw CrashTestError("self-test: \(what) failed: \(result.error)") }
    }
}
