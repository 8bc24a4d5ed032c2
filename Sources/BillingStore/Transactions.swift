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
///     try tx.execute("INSERT INTO ledger(account_id, amount_minor) VALUES (?, ?)", .integer(id), .integer(-amount))
///     return tx.lastInsertRowID
/// }
/// ```
///
/// Transaction control (BEGIN, COMMIT, ROLLBACK, SAVEPOINT, RELEASE) is refused: the store owns the batch.
public struct WriteTransaction: Querying {
    let connection: SQLiteConnection

    /// Runs one statement; returns how many rows it inserted, updated or deleted.
    @discardableResult
    public func execute(_ sql: String, _ arguments: SQLValue...) throws -> Int {
        try execute(sql, arguments: arguments)
    }

    @discardableResult
    public func execute(_ sql: String, arguments: [SQLValue]) throws -> Int {
        try connection.execute(sql, arguments, origin: .caller)
    }

    /// Every row of a query, including the changes this body made so far.
    public func query(_ sql: String, arguments: [SQLValue]) throws -> [Row] {
        try connection.query(sql, arguments, origin: .caller)
    }

    /// The only row of a query, or nil; throws if the query returns more than one row.
    public func queryOne(_ sql: String, arguments: [SQLValue]) throws -> Row? {
        try connection.queryOne(sql, arguments, origin: .caller)
    }

    /// The rowid of the last row this connection inserted (`INTEGER PRIMARY KEY` columns are the rowid).
    public var lastInsertRowID: Int64 { connection.lastInsertRowID }
}

/// What a `Store.read` body gets: queries inside one read transaction on a reader connection.
///
/// All queries of one body see the same committed snapshot, so a balance and its ledger entries agree;
/// nothing a write batch has not committed yet is visible.
public struct ReadTransaction: Querying {
    let connection: SQLiteConnection

    public func query(_ sql: String, arguments: [SQLValue]) throws -> [Row] {
        try connection.query(sql, arguments, origin: .caller)
    }

    /// The only row of a query, or nil; throws if the query returns more than one row.
    public func queryOne(_ sql: String, arguments: [SQLValue]) throws -> Row? {
        try connection.queryOne(sql, arguments, origin: .caller)
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
