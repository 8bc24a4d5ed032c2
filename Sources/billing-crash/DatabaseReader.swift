import CSQLite
import Foundation

/// A read-only SQLite connection to billingd's database, for the checker alone.
///
/// The checker must not share code paths with what it checks, so it reads the tables with plain SQL
/// through the system library instead of the store's read API; it never writes (SQLITE_OPEN_READONLY),
/// so a bug here cannot repair or damage what the next round examines. Used from one task only.
final class DatabaseReader {
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

    /// Every row of `sql`, each column as text (NULL as nil): the checks compare ids and integers,
    /// and text keeps the reader small.
    func rows(_ sql: String, _ arguments: String...) throws -> [[String?]] {
        try query(sql, arguments)
    }

    private func query(_ sql: String, _ arguments: [String]) throws -> [[String?]] {
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

    /// The first column of the first row, or nil.
    func value(_ sql: String, _ arguments: String...) throws -> String? {
        try query(sql, arguments).first?.first ?? nil
    }

    /// Runs `body` inside one read transaction, so that every check sees the same committed state.
    func snapshot<T>(_ body: () throws -> T) throws -> T {
        _ = try rows("BEGIN")
        defer { _ = try? rows("COMMIT") }
        // A deferred read transaction takes its snapshot at the first read.
        _ = try rows("SELECT count(*) FROM sqlite_master")
        return try body()
    }

    private func failure(_ sql: String) -> Failure {
        Failure(description: "\(String(cString: sqlite3_errmsg(handle))) in: \(sql.prefix(80))")
    }
}
