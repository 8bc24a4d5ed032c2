import BillingLocking
import CSQLite
import Dispatch

/// One SQLite connection, bound to the one serial queue allowed to use it.
///
/// SQLite connections are not safe to share between threads, so each one belongs to a queue: it is opened
/// there, used there and closed there, and every method checks that with `dispatchPrecondition` so misuse
/// traps at once instead of corrupting state now and then. That check is also why `@unchecked Sendable`
/// is sound: the reference may travel, the mutable state (`handle`, `statements`) is only touched on `queue`.
///
/// Statements are prepared once per SQL text and reused (SQLite's parse and plan is the expensive part).
final class SQLiteConnection: @unchecked Sendable {
    enum Role {
        /// Reads and writes; creates the file and switches it to WAL.
        case writer
        /// Read-only: opened with SQLITE_OPEN_READONLY and `query_only`, reads committed data without blocking the writer.
        case reader
        /// Copies the WAL back into the database file (`Checkpointer`); runs no statement of callers.
        case checkpointer
    }

    /// Who wrote a statement: callers' statements may not control transactions, the store's own may.
    enum Origin {
        case caller
        case store
    }

    let queue: DispatchQueue
    private var handle: OpaquePointer?
    private var statements: [StatementKey: OpaquePointer] = [:]
    private let statementCacheCapacity: Int
    /// Read by the authorizer (a C function, so it gets a pointer rather than `self`); true while a caller's
    /// statement is prepared or run, so transaction control and the store's own pragmas are refused then.
    private let callerStatementIsActive: UnsafeMutablePointer<Bool>
    /// The last error SQLite gave on this connection: when SQLite rolls a transaction back by itself,
    /// the writer names its cause (a full disk, an I/O error) with it. Cleared by `forgetLastError`.
    private(set) var lastError: StoreError?

    private struct StatementKey: Hashable {
        let sql: String
        let origin: Origin
    }

    /// Opens and configures the connection; must run on `queue`.
    init(
        path: String, role: Role, vfsName: String?, busyTimeoutMilliseconds: Int32, statementCacheCapacity: Int,
        queue: DispatchQueue
    ) throws {
        dispatchPrecondition(condition: .onQueue(queue))
        self.queue = queue
        self.statementCacheCapacity = statementCacheCapacity
        self.callerStatementIsActive = .allocate(capacity: 1)
        callerStatementIsActive.initialize(to: false)

        let flags = switch role {
        case .writer: SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        case .reader: SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX
        case .checkpointer: SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX
        }
        let result = sqlite3_open_v2(path, &handle, flags, vfsName)
        guard result == SQLITE_OK, let handle else {
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            throw StoreError(.sqlite, resultCode: result, operation: "open the database as \(role)", message: message)
        }
        sqlite3_extended_result_codes(handle, 1)
        sqlite3_busy_timeout(handle, busyTimeoutMilliseconds)
        sqlite3_set_authorizer(handle, refuseStoreControlFromCallers, callerStatementIsActive)
        try configure(as: role)
    }

    deinit {
        // Nothing else can hold this connection any more, so closing from whatever thread runs deinit is safe.
        if let handle {
            for statement in statements.values { sqlite3_finalize(statement) }
            sqlite3_close_v2(handle)
        }
        callerStatementIsActive.deallocate()
    }

    /// Settings that durability and consistency depend on; each one is read back, not assumed.
    private func configure(as role: Role) throws {
        switch role {
        case .writer:
            // WAL: readers keep reading while the writer commits. FULL: a COMMIT that returned survives power loss.
            try require("PRAGMA journal_mode = WAL", returns: "wal")
            try execute("PRAGMA synchronous = FULL", [], origin: .store)
            try require("PRAGMA synchronous", returns: "2")
        case .reader:
            try execute("PRAGMA query_only = ON", [], origin: .store)
            try require("PRAGMA journal_mode", returns: "wal")
        case .checkpointer:
            // A checkpoint fsyncs the database file before it lets the WAL be reused, at FULL as at NORMAL.
            try require("PRAGMA journal_mode", returns: "wal")
            try execute("PRAGMA synchronous = FULL", [], origin: .store)
            try require("PRAGMA synchronous", returns: "2")
        }
        try execute("PRAGMA foreign_keys = ON", [], origin: .store)
        try require("PRAGMA foreign_keys", returns: "1")
    }

    private func require(_ pragma: String, returns expected: String) throws {
        let value = try queryOne(pragma, [], origin: .store)?.values.first
        let found: String? = switch value {
        case .text(let text): text.lowercased()
        case .integer(let integer): String(integer)
        default: nil
        }
        guard found == expected else {
            throw StoreError.misuse("configure the connection", "`\(pragma)` gave \(found ?? "nothing"), expected \(expected)")
        }
    }

    /// Finalizes every statement and closes the connection; later calls throw `closed`. Safe to call twice.
    func close() {
        dispatchPrecondition(condition: .onQueue(queue))
        guard let handle else { return }
        finalizeStatements()
        let result = sqlite3_close_v2(handle)
        precondition(result == SQLITE_OK, "sqlite3_close_v2 failed with \(result) after every statement was finalized")
        self.handle = nil
    }

    /// Runs `work` with this connection on its queue and returns its result to the awaiting task.
    func perform<T: Sendable>(_ work: @escaping @Sendable (SQLiteConnection) throws -> T) async throws -> T {
        try await Self.run(on: queue) { try work(self) }
    }

    /// Runs `work` on `queue` and returns its result to the awaiting task, with the hand-over told to
    /// ThreadSanitizer too: a short `work` on an idle queue often resumes the task before it reaches its
    /// `await`, and the Swift runtime then gives TSan no ordering (`ThreadSanitizer.HandOver`). TSan
    /// reported the task's first use of a connection just opened this way as a race.
    static func run<T: Sendable>(on queue: DispatchQueue, _ work: @escaping @Sendable () throws -> T) async throws -> T {
        let handOver = ThreadSanitizer.HandOver()
        let result = try await withCheckedThrowingContinuation { continuation in
            queue.async {
                let result = Result { try work() }
                handOver.release()
                continuation.resume(with: result)
            }
        }
        handOver.acquire()
        return result
    }

    /// What a PASSIVE checkpoint did: SQLite's result code (SQLITE_BUSY when another checkpoint ran),
    /// the frames in the WAL, and how many of them are now in the database file.
    struct CheckpointOutcome {
        let resultCode: Int32
        let walFrames: Int32
        let copiedFrames: Int32

        /// Every frame of the WAL is in the database file: the next write transaction may start the WAL over.
        var copiedAll: Bool { resultCode == SQLITE_OK && copiedFrames == walFrames }
    }

    /// Copies what it can of the WAL into the database file without waiting for the writer or readers
    /// (a PASSIVE checkpoint).
    @discardableResult
    func checkpointPassively() -> CheckpointOutcome {
        dispatchPrecondition(condition: .onQueue(queue))
        guard let handle else { return CheckpointOutcome(resultCode: SQLITE_MISUSE, walFrames: 0, copiedFrames: 0) }
        var walFrames: Int32 = 0
        var copiedFrames: Int32 = 0
        let result = sqlite3_wal_checkpoint_v2(handle, nil, SQLITE_CHECKPOINT_PASSIVE, &walFrames, &copiedFrames)
        return CheckpointOutcome(resultCode: result, walFrames: walFrames, copiedFrames: copiedFrames)
    }

    /// `close()` from any task: hops to the connection's queue, behind any work already there.
    func closeOnQueue() async {
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            queue.async {
                self.close()
                done.resume()
            }
        }
    }
}

// MARK: - Running statements

/// A body's statements: the caller's, so transaction control is refused.
extension SQLiteConnection: StatementRunner {
    var dialect: SQLDialect { .sqlite }
    func runStatement(_ sql: String, _ arguments: [SQLValue]) throws -> Int { try execute(sql, arguments, origin: .caller) }
    func queryRows(_ sql: String, _ arguments: [SQLValue]) throws -> [Row] { try query(sql, arguments, origin: .caller) }
    func queryRow(_ sql: String, _ arguments: [SQLValue]) throws -> Row? { try queryOne(sql, arguments, origin: .caller) }
    /// One process writes a SQLite file: there is nobody to tell.
    func notify(_ channel: String, _ payload: String) throws {}
}

extension SQLiteConnection {
    /// Runs one statement to completion and returns the number of rows it inserted, updated or deleted
    /// (0 for any other statement).
    @discardableResult
    func execute(_ sql: String, _ arguments: [SQLValue], origin: Origin) throws -> Int {
        try withStatement(sql, arguments, origin: origin) { handle, statement in
            let totalChangesBefore = sqlite3_total_changes64(handle)
            while try step(statement, sql) {}
            // `sqlite3_changes` keeps the previous statement's count across DDL; the total tells whether rows changed.
            return sqlite3_total_changes64(handle) == totalChangesBefore ? 0 : Int(sqlite3_changes64(handle))
        }
    }

    /// Runs one query and copies every row out.
    func query(_ sql: String, _ arguments: [SQLValue], origin: Origin) throws -> [Row] {
        try withStatement(sql, arguments, origin: origin) { _, statement in
            let columns = Self.columns(of: statement)
            var rows: [Row] = []
            while try step(statement, sql) { rows.append(Self.row(statement, columns)) }
            return rows
        }
    }

    /// The only row of a query, or nil; more than one row means the WHERE clause is not what the caller thinks.
    func queryOne(_ sql: String, _ arguments: [SQLValue], origin: Origin) throws -> Row? {
        try withStatement(sql, arguments, origin: origin) { _, statement in
            guard try step(statement, sql) else { return nil }
            let row = Self.row(statement, Self.columns(of: statement))
            guard try !step(statement, sql) else {
                throw StoreError.misuse(Self.describe(sql), "expected at most one row, the query returned more")
            }
            return row
        }
    }

    /// Runs a script of several statements without arguments: migrations. As for callers' statements,
    /// transaction control and the store's own pragmas are refused: the store runs migrations in its transaction.
    func runScript(_ sql: String, operation: String) throws {
        let handle = try openHandle(operation)
        callerStatementIsActive.pointee = true
        defer { callerStatementIsActive.pointee = false }
        var message: UnsafeMutablePointer<CChar>?
        let result = sqlite3_exec(handle, sql, nil, nil, &message)
        defer { sqlite3_free(message) }
        guard result == SQLITE_OK else {
            let text = message.map { String(cString: $0) } ?? String(cString: sqlite3_errmsg(handle))
            throw error(result, operation, message: text)
        }
    }

    /// False when SQLite is in autocommit mode: no BEGIN, or SQLite rolled the transaction back on its own
    /// (it does so after SQLITE_FULL, SQLITE_IOERR, SQLITE_NOMEM and some SQLITE_BUSY failures).
    var isInTransaction: Bool {
        dispatchPrecondition(condition: .onQueue(queue))
        guard let handle else { return false }
        return sqlite3_get_autocommit(handle) == 0
    }

    /// Whether foreign keys are left unresolved: deferred constraints (DEFERRABLE INITIALLY DEFERRED, or
    /// `PRAGMA defer_foreign_keys`) are only checked at COMMIT, where one body's violation would fail its batch.
    var hasUnresolvedForeignKeys: Bool {
        dispatchPrecondition(condition: .onQueue(queue))
        guard let handle else { return false }
        var current: Int32 = 0
        var highwater: Int32 = 0
        sqlite3_db_status(handle, SQLITE_DBSTATUS_DEFERRED_FKS, &current, &highwater, 0)
        return current != 0
    }

    func forgetLastError() {
        dispatchPrecondition(condition: .onQueue(queue))
        lastError = nil
    }

    /// Rolls back if a transaction is open; used on paths that are already failing, so its own failure is moot.
    func rollbackIfInTransaction() {
        if isInTransaction { _ = try? execute("ROLLBACK", [], origin: .store) }
    }

    // MARK: Statement plumbing

    /// Prepares (or reuses) the statement, binds the arguments, hands it to `body`, then resets it and clears
    /// its bindings so no argument value stays in memory longer than the call.
    private func withStatement<T>(
        _ sql: String, _ arguments: [SQLValue], origin: Origin,
        _ body: (_ handle: OpaquePointer, _ statement: OpaquePointer) throws -> T
    ) throws -> T {
        let handle = try openHandle(Self.describe(sql))
        callerStatementIsActive.pointee = origin == .caller
        defer { callerStatementIsActive.pointee = false }
        let statement = try preparedStatement(sql, origin: origin, handle: handle)
        defer {
            sqlite3_reset(statement)
            sqlite3_clear_bindings(statement)
        }
        try bind(arguments, to: statement, sql)
        return try body(handle, statement)
    }

    /// The open handle, checked to be used on its queue. `operation` is only built if the connection is closed.
    private func openHandle(_ operation: @autoclosure () -> String) throws -> OpaquePointer {
        dispatchPrecondition(condition: .onQueue(queue))
        guard let handle else { throw StoreError.closed(operation()) }
        return handle
    }

    /// Steps once: true for a row, false when done.
    private func step(_ statement: OpaquePointer, _ sql: String) throws -> Bool {
        switch sqlite3_step(statement) {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        case let result: throw error(result, Self.describe(sql))
        }
    }

    private func preparedStatement(_ sql: String, origin: Origin, handle: OpaquePointer) throws -> OpaquePointer {
        let key = StatementKey(sql: sql, origin: origin)
        if let cached = statements[key] { return cached }
        // A bound on memory; SQL texts are constants in code, so in practice the cache never fills.
        if statements.count >= statementCacheCapacity { finalizeStatements() }

        let statement = try sql.withCString { text -> OpaquePointer in
            var statement: OpaquePointer?
            var tail: UnsafePointer<CChar>?
            let flags = UInt32(SQLITE_PREPARE_PERSISTENT)
            let result = sqlite3_prepare_v3(handle, text, -1, flags, &statement, &tail)
            guard result == SQLITE_OK else {
                sqlite3_finalize(statement)
                throw error(result, "prepare " + Self.describe(sql))
            }
            guard let statement else { throw StoreError.misuse("prepare " + Self.describe(sql), "the SQL text holds no statement") }
            if let tail, Self.holdsStatement(tail, handle) {
                sqlite3_finalize(statement)
                throw StoreError.misuse("prepare " + Self.describe(sql), "the SQL text holds more than one statement")
            }
            return statement
        }
        statements[key] = statement
        return statement
    }

    /// Whether text after the first statement is more than whitespace and comments (which SQLite would ignore silently).
    private static func holdsStatement(_ tail: UnsafePointer<CChar>, _ handle: OpaquePointer) -> Bool {
        var statement: OpaquePointer?
        let result = sqlite3_prepare_v2(handle, tail, -1, &statement, nil)
        defer { sqlite3_finalize(statement) }
        return result != SQLITE_OK || statement != nil
    }

    private func finalizeStatements() {
        for statement in statements.values { sqlite3_finalize(statement) }
        statements.removeAll()
    }

    private func bind(_ arguments: [SQLValue], to statement: OpaquePointer, _ sql: String) throws {
        let placeholders = Int(sqlite3_bind_parameter_count(statement))
        guard placeholders == arguments.count else {
            throw StoreError.misuse(Self.describe(sql), "the statement has \(placeholders) placeholders, \(arguments.count) arguments were given")
        }
        for (offset, argument) in arguments.enumerated() {
            let index = Int32(offset + 1)
            let result: Int32 = switch argument {
            case .null: sqlite3_bind_null(statement, index)
            case .integer(let integer): sqlite3_bind_int64(statement, index, integer)
            case .real(let real): sqlite3_bind_double(statement, index, real)
            case .text(let text): Self.bind(text, statement, index)
            case .blob(let bytes): Self.bind(bytes, statement, index)
            }
            guard result == SQLITE_OK else { throw error(result, "bind argument \(index) of " + Self.describe(sql)) }
        }
    }

    private static func bind(_ text: String, _ statement: OpaquePointer, _ index: Int32) -> Int32 {
        var text = text
        return text.withUTF8 { utf8 in
            // A nil base address (an empty string) would bind NULL; "" binds the empty text.
            guard let base = utf8.baseAddress else { return sqlite3_bind_text(statement, index, "", 0, transient) }
            return base.withMemoryRebound(to: CChar.self, capacity: utf8.count) {
                sqlite3_bind_text(statement, index, $0, Int32(utf8.count), transient)
            }
        }
    }

    private static func bind(_ bytes: [UInt8], _ statement: OpaquePointer, _ index: Int32) -> Int32 {
        // sqlite3_bind_blob with no bytes would bind NULL; an empty blob is not NULL.
        if bytes.isEmpty { return sqlite3_bind_zeroblob(statement, index, 0) }
        return bytes.withUnsafeBytes { sqlite3_bind_blob(statement, index, $0.baseAddress, Int32($0.count), transient) }
    }

    private static func columns(of statement: OpaquePointer) -> Row.Columns {
        let count = sqlite3_column_count(statement)
        return Row.Columns(names: (0..<count).map { String(cString: sqlite3_column_name(statement, $0)) })
    }

    private static func row(_ statement: OpaquePointer, _ columns: Row.Columns) -> Row {
        let values = (0..<Int32(columns.names.count)).map { column -> SQLValue in
            switch sqlite3_column_type(statement, column) {
            case SQLITE_INTEGER:
                return .integer(sqlite3_column_int64(statement, column))
            case SQLITE_FLOAT:
                return .real(sqlite3_column_double(statement, column))
            case SQLITE_TEXT:
                // Text first, then its length: that order is what SQLite documents as safe.
                let text = sqlite3_column_text(statement, column)
                let count = Int(sqlite3_column_bytes(statement, column))
                precondition(text != nil || count == 0, "SQLite ran out of memory converting a column to text")
                return .text(String(decoding: UnsafeBufferPointer(start: text, count: count), as: UTF8.self))
            case SQLITE_BLOB:
                let bytes = sqlite3_column_blob(statement, column)
                let count = Int(sqlite3_column_bytes(statement, column))
                precondition(bytes != nil || count == 0, "SQLite ran out of memory reading a blob column")
                return .blob(Array(UnsafeRawBufferPointer(start: bytes, count: count)))
            default:
                return .null
            }
        }
        return Row(columns: columns, values: values)
    }

    /// An error from SQLite's last failure on this connection. Only codes and SQLite's message, which names
    /// tables and columns but not values: bound arguments never reach it.
    private func error(_ result: Int32, _ operation: String, message: String? = nil) -> StoreError {
        guard let handle else { return StoreError.closed(operation) }
        if result == SQLITE_AUTH && callerStatementIsActive.pointee {
            return StoreError.misuse(
                operation, "transactions, savepoints and connection settings are the store's to control, not a statement's")
        }
        let code = sqlite3_extended_errcode(handle)
        let error = StoreError(
            .sqlite, resultCode: code & 0xFF == result & 0xFF ? code : result, operation: operation,
            message: message ?? String(cString: sqlite3_errmsg(handle)),
            systemErrorNumber: sqlite3_system_errno(handle))
        lastError = error
        return error
    }

    /// The SQL text for an error: whitespace folded, long texts cut. Placeholders only, never values.
    static func describe(_ sql: String) -> String {
        let folded = sql.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        let limit = 160
        return "`" + (folded.count > limit ? String(folded.prefix(limit)) + "…" : folded) + "`"
    }
}

/// SQLITE_TRANSIENT, which Swift does not import: SQLite copies text and blobs before the bind call returns.
private let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

/// The authorizer: while a caller's statement is active, refuses what would break the store's guarantees —
/// transaction control (a body's own COMMIT or ROLLBACK would break the writer's batch) and changing the
/// settings that durability and consistency rest on (`PRAGMA synchronous = OFF`, for example).
private func refuseStoreControlFromCallers(
    _ callerStatementIsActive: UnsafeMutableRawPointer?, _ action: Int32,
    _ pragmaName: UnsafePointer<CChar>?, _ pragmaValue: UnsafePointer<CChar>?, _: UnsafePointer<CChar>?,
    _: UnsafePointer<CChar>?
) -> Int32 {
    guard let callerStatementIsActive, callerStatementIsActive.load(as: Bool.self) else { return SQLITE_OK }
    switch action {
    case SQLITE_TRANSACTION, SQLITE_SAVEPOINT:
        return SQLITE_DENY
    case SQLITE_PRAGMA:
        // Reading a pragma is fine; setting one of these is not.
        guard let pragmaName, pragmaValue != nil else { return SQLITE_OK }
        return storeOwnedPragmas.contains(String(cString: pragmaName).lowercased()) ? SQLITE_DENY : SQLITE_OK
    default:
        return SQLITE_OK
    }
}

private let storeOwnedPragmas: Set<String> = [
    "journal_mode", "synchronous", "foreign_keys", "query_only", "locking_mode", "user_version", "writable_schema",
]
