/// The two halves of the store boundary that an engine implements: SQLite (`SQLiteEngine`, in this module)
/// and PostgreSQL (`PostgresEngine`, in BillingStorePostgres). The domain sees neither: it sees `Store`,
/// `WriteTransaction` and `ReadTransaction`, whose bodies are synchronous on every engine.

/// The machinery behind a `Store`: where bodies run, how they are grouped into transactions, how they
/// become durable. Every engine keeps the same promises (see `Store.write` and `Store.read`).
package protocol StoreEngine: Sendable {
    func write<T: Sendable>(_ body: @escaping @Sendable (WriteTransaction) throws -> T) async throws -> T
    func read<T: Sendable>(_ body: @escaping @Sendable (ReadTransaction) throws -> T) async throws -> T
    var statistics: StoreStatistics { get }
    /// Whether other processes may write the same database (PostgreSQL): then nothing a process keeps in
    /// memory about the data is sure to be current.
    var isShared: Bool { get }
    /// Payloads that committed transactions, of any process, sent on `channel` (`WriteTransaction.notify`);
    /// an engine whose database no other process writes finishes the stream at once.
    func notices(on channel: String) -> AsyncStream<String>
    func close() async
}

/// Runs the statements of one transaction body, on the one thread allowed to use its connection.
package protocol StatementRunner: AnyObject {
    var dialect: SQLDialect { get }
    /// Runs one statement; returns how many rows it inserted, updated or deleted.
    func runStatement(_ sql: String, _ arguments: [SQLValue]) throws -> Int
    /// Every row of a query.
    func queryRows(_ sql: String, _ arguments: [SQLValue]) throws -> [Row]
    /// The only row of a query, or nil; throws `misuse` if the query returns more than one.
    func queryRow(_ sql: String, _ arguments: [SQLValue]) throws -> Row?
    /// Tells the other processes on the database `payload` on `channel` once the transaction commits.
    func notify(_ channel: String, _ payload: String) throws
}

/// The SQL spoken by the engine under a transaction. Statements are written once, in the subset both
/// engines share (`?` placeholders, `RETURNING`, `ON CONFLICT … DO UPDATE`, CASE rather than two-argument
/// `max`); the few expressions that differ are spelled here, so the differences stay in one place.
public enum SQLDialect: Sendable, Hashable {
    case sqlite
    case postgresql

    /// The UTC month, "YYYY-MM", of a column holding Unix milliseconds.
    public func utcMonth(ofMilliseconds column: String) -> String {
        switch self {
        case .sqlite: "strftime('%Y-%m', \(column) / 1000, 'unixepoch')"
        case .postgresql: "to_char(to_timestamp(\(column) / 1000) AT TIME ZONE 'UTC', 'YYYY-MM')"
        }
    }
}
