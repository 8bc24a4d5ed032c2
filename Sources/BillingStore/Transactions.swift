/// What a `Store.write` body gets: statements that run inside the caller's own savepoint of the current batch.
///
/// Everything a body does commits together or not at all; a body that throws has its changes rolled back
/// while the other bodies of the batch commit. The body is synchronous on purpose: nothing can interleave
/// between its check ("is the balance enough?") and its write ("debit it").
///
/// ```swift
/// let ledgerID = try await store.write { tx in
///     guard let account = try tx.queryOne("SELECT balance_minor FROM accounts WHERE id = ?", .integer(id))
///     else { throw WalletError.unknownAccount }
///     let balance = try account.int64("balance_minor") - amount
///     try tx.execute("UPDATE accounts SET balance_minor = ? WHERE id = ?", .integer(balance), .integer(id))
///     return try tx.queryOne(
///         "INSERT INTO ledger(account_id, amount_minor) VALUES (?, ?) RETURNING seq", .integer(id), .integer(-amount))!.int64("seq")
/// }
/// ```
///
/// Transaction control (BEGIN, COMMIT, ROLLBACK, SAVEPOINT, RELEASE) is refused: the store owns the batch.
public struct WriteTransaction: Querying {
    let runner: any StatementRunner

    package init(runner: any StatementRunner) { self.runner = runner }

    /// The SQL of the engine underneath, for the few expressions that differ (`SQLDialect`).
    public var dialect: SQLDialect { runner.dialect }

    /// Runs one statement; returns how many rows it inserted, updated or deleted.
    @discardableResult
    public func execute(_ sql: String, _ arguments: SQLValue...) throws -> Int {
        try execute(sql, arguments: arguments)
    }

    @discardableResult
    public func execute(_ sql: String, arguments: [SQLValue]) throws -> Int {
        try runner.runStatement(sql, arguments)
    }

    /// Tells the other processes that share the database (`Store.isShared`) `payload` on `channel` when,
    /// and only if, this transaction commits; they read it from `Store.notices(on:)`. On SQLite, which
    /// no other process writes, nobody is listening and this does nothing.
    public func notify(_ channel: String, _ payload: String) throws {
        try runner.notify(channel, payload)
    }

    /// Every row of a query, including the changes this body made so far.
    public func query(_ sql: String, arguments: [SQLValue]) throws -> [Row] {
        try runner.queryRows(sql, arguments)
    }

    /// The only row of a query, or nil; throws if the query returns more than one row.
    public func queryOne(_ sql: String, arguments: [SQLValue]) throws -> Row? {
        try runner.queryRow(sql, arguments)
    }
}

/// What a `Store.read` body gets: queries inside one read transaction on a reader connection.
///
/// All queries of one body see the same committed snapshot, so a balance and its ledger entries agree;
/// nothing a write batch has not committed yet is visible.
public struct ReadTransaction: Querying {
    let runner: any StatementRunner

    package init(runner: any StatementRunner) { self.runner = runner }

    public var dialect: SQLDialect { runner.dialect }

    public func query(_ sql: String, arguments: [SQLValue]) throws -> [Row] {
        try runner.queryRows(sql, arguments)
    }

    /// The only row of a query, or nil; throws if the query returns more than one row.
    public func queryOne(_ sql: String, arguments: [SQLValue]) throws -> Row? {
        try runner.queryRow(sql, arguments)
    }
}

// A transaction belongs to the body it was handed to; sending it elsewhere would use its connection off its queue.
@available(*, unavailable)
extension WriteTransaction: Sendable {}

@available(*, unavailable)
extension ReadTransaction: Sendable {}

/// What reads need from either kind of transaction, so that a lookup ("the account with this id") is
/// written once and used inside reads and writes alike.
public protocol Querying {
    var dialect: SQLDialect { get }
    func query(_ sql: String, arguments: [SQLValue]) throws -> [Row]
    func queryOne(_ sql: String, arguments: [SQLValue]) throws -> Row?
}

extension Querying {
    public func query(_ sql: String, _ arguments: SQLValue...) throws -> [Row] {
        try query(sql, arguments: arguments)
    }

    public func queryOne(_ sql: String, _ arguments: SQLValue...) throws -> Row? {
        try queryOne(sql, arguments: arguments)
    }
}
