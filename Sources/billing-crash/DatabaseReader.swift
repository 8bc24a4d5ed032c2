import CSQLite
import Foundation

/// Read-only access to billingd's database, for the checker alone.
///
/// The checker must not share code paths with what it checks, so it reads the tables with plain SQL
/// through a client of its own instead of the store's read API, and never writes, so that a bug here
/// cannot repair or damage what the next round examines. The SQL the checks send is the dialect both
/// engines speak (`?` placeholders, text arguments); what differs between them stays behind this
/// protocol: how a read transaction starts, and how the storage's own soundness is verified.
protocol DatabaseReader: AnyObject {
    /// Every row of `sql`, each column as text (NULL as nil): the checks compare ids and integers,
    /// and text keeps the readers small.
    func query(_ sql: String, _ arguments: [String]) throws -> [[String?]]

    /// Runs `body` inside one read transaction, so that every check sees the same committed state.
    func snapshot<T>(_ body: () throws -> T) throws -> T

    /// The engine's own check of its storage: what was checked, and each problem found (none: sound),
    /// or nil when this engine has no such check available here (the caller prints a note).
    func storageCheck() throws -> (name: String, problems: [String])?
}

extension DatabaseReader {
    func rows(_ sql: String, _ arguments: String...) throws -> [[String?]] {
        try query(sql, arguments)
    }

    /// The first column of the first row, or nil.
    func value(_ sql: String, _ arguments: String...) throws -> String? {
        try query(sql, arguments).first?.first ?? nil
    }
}

/// A read-only SQLite connection (SQLITE_OPEN_READONLY) to billingd's database or to the sandbox
/// gateway's record. Used from one task only.
final class SQLiteReader: DatabaseReader {
    /// A failed statement, with SQLite's message (the checker's SQL carries no secrets).
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    private var handle: OpaquePointer?

    init(path: String) throws {
        guard sqlite3_open_v2(path, &handle, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nil) == SQLITE_OK else {
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close(handle)
            throw Failure(description: "cannot open \(path) read-only: \(message)")
        }
        sqlite3_busy_timeout(handle, 5000)
    }

    deinit { sqlite3_close(handle) }

    func query(_ sql: String, _ arguments: [String]) throws -> [[String?]] {
        var statement: OpaquePointer?
        guard sqlite3_prepare_v2(handle, sql, -1, &statement, nil) == SQLITE_OK else { throw failure(sql) }
        defer { sqlite3_finalize(statement) }
        for (index, argument) in arguments.enumerated() {
            // SQLITE_TRANSIENT: SQLite copies the text, whose buffer only lives for this call.
            sqlite3_bind_text(statement, Int32(index + 1), argument, -1, unsafeBitCast(-1, to: sqlite3_destructor_type.self))
        }
        var result: [[String?]] = []
        while true {
            switch sqlite3_step(statement) {
            case SQLITE_ROW:
                let columns = sqlite3_column_count(statement)
                result.append((0..<columns).map { column in
                    sqlite3_column_text(statement, column).map { String(cString: $0) }
                })
            case SQLITE_DONE:
                return result
            default:
                throw failure(sql)
            }
        }
    }

    func snapshot<T>(_ body: () throws -> T) throws -> T {
        _ = try rows("BEGIN")
        defer { _ = try? rows("COMMIT") }
        // A deferred read transaction takes its snapshot at the first read.
        _ = try rows("SELECT count(*) FROM sqlite_master")
        return try body()
    }

    func storageCheck() throws -> (name: String, problems: [String])? {
        let result = try rows("PRAGMA integrity_check").compactMap { $0.first ?? nil }
        return ("PRAGMA integrity_check", result == ["ok"] ? [] : result)
    }

    private func failure(_ sql: String) -> Failure {
        Failure(description: "\(String(cString: sqlite3_errmsg(handle))) in: \(sql.prefix(80))")
    }
}
