import BillingStore
import Dispatch
import Foundation
import PostgresNIO

/// One PostgreSQL connection, used from one serial queue, whose statements wait for their replies.
///
/// A transaction body is synchronous on every engine (nothing may come between a check and the write
/// that depends on it), so its statements block the session's own thread until PostgreSQL answers —
/// never an event loop and never a thread of Swift's concurrency pool. The connection is opened on first
/// use and again after it broke, so a daemon recovers by itself when PostgreSQL comes back.
///
/// `@unchecked Sendable` is sound for the same reason as `SQLiteConnection`'s: the reference may travel,
/// the mutable state is touched only on `queue` (checked by `dispatchPrecondition`).
final class PostgresSession: @unchecked Sendable {
    let queue: DispatchQueue
    private let location: PostgresLocation
    private let applicationName: String
    private let connectTimeout: TimeAmount
    private let statementTimeoutMilliseconds: Int
    private let logger: Logger
    private var connection: PostgresConnection?
    private var nextConnectionID = 1
    /// Statements already translated from the domain's SQLite placeholders (`SQLTranslation`).
    private var translations: [String: String] = [:]
    /// The first error a statement of the current body got. PostgreSQL refuses every later statement of a
    /// transaction after one failed, so a body that caught and carried on is failed with this instead
    /// (see `PostgresWriter`); cleared before each body.
    private(set) var firstFailureInBody: StoreError?

    init(label: String, location: PostgresLocation, applicationName: String, connectTimeout: Duration, statementTimeout: Duration, logger: Logger) {
        self.queue = DispatchQueue(label: label)
        self.location = location
        self.applicationName = applicationName
        self.connectTimeout = .milliseconds(Self.milliseconds(of: connectTimeout))
        self.statementTimeoutMilliseconds = Int(Self.milliseconds(of: statementTimeout))
        self.logger = logger
    }

    /// A duration in whole milliseconds, as PostgreSQL's settings and NIO's timeouts take it.
    static func milliseconds(of duration: Duration) -> Int64 {
        duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
    }

    /// A store dropped without `close()` still closes its connections; each is kept alive until closed.
    deinit {
        if let connection { connection.close().whenComplete { _ in _ = connection } }
    }

    /// Runs `work` with this session on its queue and returns its result to the awaiting task.
    func perform<T: Sendable>(_ work: @escaping @Sendable (PostgresSession) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try work(self) }) }
        }
    }

    // MARK: Statements

    /// Runs one of the store's own statements (BEGIN, SAVEPOINT, COMMIT, migrations) as written.
    @discardableResult
    func control(_ sql: String) throws -> [Row] {
        try run(sql, [], operation: sql).rows
    }

    /// Runs a body's statement: placeholders translated, transaction control refused.
    func callerStatement(_ sql: String, _ arguments: [SQLValue]) throws -> (rows: [Row], affected: Int) {
        dispatchPrecondition(condition: .onQueue(queue))
        let translated: String
        if let known = translations[sql] {
            translated = known
        } else {
            translated = try SQLTranslation.postgresStatement(fromSQLite: sql)
            if translations.count >= 512 { translations.removeAll(keepingCapacity: true) }
            translations[sql] = translated
        }
        do {
            return try run(translated, arguments, operation: Self.describe(sql))
        } catch let error as StoreError {
            if firstFailureInBody == nil { firstFailureInBody = error }
            throw error
        }
    }

    func forgetBodyFailure() {
        dispatchPrecondition(condition: .onQueue(queue))
        firstFailureInBody = nil
    }

    /// Whether a connection is open (it may still turn out broken on its next statement).
    var isConnected: Bool {
        dispatchPrecondition(condition: .onQueue(queue))
        return connection.map { !$0.isClosed } ?? false
    }

    /// Closes the connection (if open); the next statement opens a new one.
    func disconnect() {
        dispatchPrecondition(condition: .onQueue(queue))
        guard let connection else { return }
        self.connection = nil
        // Not waited for: a close need not be answered, and this thread serves the next statement.
        connection.close().whenComplete { _ in _ = connection }
    }

    private func run(_ sql: String, _ arguments: [SQLValue], operation: @autoclosure () -> String) throws -> (rows: [Row], affected: Int) {
        dispatchPrecondition(condition: .onQueue(queue))
        let connection = try openConnection()
        var bindings = PostgresBindings(capacity: arguments.count)
        for argument in arguments {
            switch argument {
            case .null: bindings.appendNull()
            case .integer(let value): bindings.append(value)
            case .real(let value): bindings.append(value)
            case .text(let value): bindings.append(value)
            case .blob(let bytes): bindings.append(ByteBuffer(bytes: bytes))
            }
        }
        let result: PostgresQueryResult
        do {
            result = try reply(to: connection.query(PostgresQuery(unsafeSQL: sql, binds: bindings), logger: logger), on: connection, operation: operation())
        } catch {
            let storeError = Self.storeError(error, operation: operation())
            if storeError.kind == .unavailable { disconnect() }
            throw storeError
        }
        return (try Self.rows(of: result, operation: operation()), result.metadata.rows ?? 0)
    }

    /// Waits for a statement's reply. postgres-nio fails the reply when its connection closes, but once
    /// (a CI run, 30 November 2026, PostgreSQL stopped as a crash stops it mid-statement) it did not, and
    /// this thread waited for good: every later write of the store queued behind it, also after
    /// PostgreSQL was back. So the wait also ends, as unavailable, when the connection has closed and no
    /// reply came within a second after, or when the statement ran well past its `statement_timeout`.
    private func reply<T: Sendable>(to future: EventLoopFuture<T>, on connection: PostgresConnection, operation: String) throws -> T {
        let replied = DispatchSemaphore(value: 0)
        future.whenComplete { _ in replied.signal() }
        let limit = statementTimeoutMilliseconds > 0 ? DispatchTime.now() + .milliseconds(statementTimeoutMilliseconds + 5_000) : .distantFuture
        var closedSince: DispatchTime?
        while replied.wait(timeout: .now() + .milliseconds(100)) == .timedOut {
            let now = DispatchTime.now()
            if connection.isClosed, closedSince == nil { closedSince = now }
            let gaveUp = closedSince.map { now >= $0 + .seconds(1) } ?? false
            guard gaveUp || now >= limit else { continue }
            connection.close().whenComplete { _ in _ = connection }
            throw StoreError(
                .unavailable, operation: operation,
                message: "PostgreSQL did not answer (\(gaveUp ? "its connection closed" : "past the statement timeout")); the outcome is not known to be stored; retry later")
        }
        return try future.wait()
    }

    private func openConnection() throws -> PostgresConnection {
        if let connection, !connection.isClosed { return connection }
        connection = nil
        let configuration = connectionConfiguration()
        let id = nextConnectionID
        nextConnectionID += 1
        do {
            let opened = try PostgresConnection.connect(
                on: MultiThreadedEventLoopGroup.singleton.next(), configuration: configuration, id: id, logger: logger
            ).wait()
            connection = opened
            return opened
        } catch {
            throw StoreError(
                .unavailable, operation: "connect to the \(location)",
                message: "PostgreSQL cannot be reached (\(Self.cause(of: error))); nothing was stored; retry later")
        }
    }

    /// How every connection of the store connects: endpoint, user, and the settings it starts with.
    static func configuration(
        for location: PostgresLocation, applicationName: String, connectTimeout: TimeAmount, statementTimeoutMilliseconds: Int
    ) -> PostgresConnection.Configuration {
        var configuration: PostgresConnection.Configuration =
            switch location.endpoint {
            case .unixSocket(let path):
                .init(unixSocketPath: path, username: location.username, password: location.password, database: location.database)
            case .tcp(let host, let port):
                .init(host: host, port: port, username: location.username, password: location.password, database: location.database, tls: .disable)
            }
        configuration.options.connectTimeout = connectTimeout
        var parameters = [("statement_timeout", "\(statementTimeoutMilliseconds)"), ("TimeZone", "UTC"), ("application_name", applicationName)]
        if let schema = location.schema { parameters.append(("search_path", schema)) }
        configuration.options.additionalStartupParameters = parameters
        return configuration
    }

    private func connectionConfiguration() -> PostgresConnection.Configuration {
        Self.configuration(
            for: location, applicationName: applicationName, connectTimeout: connectTimeout, statementTimeoutMilliseconds: statementTimeoutMilliseconds)
    }

    // MARK: Results and errors

    private static func rows(of result: PostgresQueryResult, operation: @autoclosure () -> String) throws -> [Row] {
        guard let first = result.rows.first else { return [] }
        let columns = Row.Columns(names: first.map(\.columnName))
        return try result.rows.map { row in
            Row(columns: columns, values: try row.map { try value(of: $0, operation: operation()) })
        }
    }

    /// A cell as the value SQLite would have given: integers (and booleans, as 0 or 1), text, bytes.
    /// `sum()` over BIGINT is NUMERIC in PostgreSQL; an integral one reads as an integer.
    private static func value(of cell: PostgresCell, operation: @autoclosure () -> String) throws -> SQLValue {
        guard cell.bytes != nil else { return .null }
        do {
            switch cell.dataType {
            case .int2, .int4, .int8: return .integer(try cell.decode(Int64.self))
            case .bool: return .bool(try cell.decode(Bool.self))
            case .text, .varchar, .name, .bpchar: return .text(try cell.decode(String.self))
            case .bytea: return .blob(Array(buffer: try cell.decode(ByteBuffer.self)))
            case .float4, .float8: return .real(try cell.decode(Double.self))
            case .void: return .null
            case .numeric:
                let number = try cell.decode(Decimal.self)
                if let integer = Int64(number.description) { return .integer(integer) }
                return .real(NSDecimalNumber(decimal: number).doubleValue)
            default:
                throw StoreError.misuse(operation(), "column '\(cell.columnName)' has PostgreSQL type \(cell.dataType), which the store does not read")
            }
        } catch let error as StoreError {
            throw error
        } catch {
            // The decoding error would carry the cell's bytes; name the column only.
            throw StoreError.misuse(operation(), "column '\(cell.columnName)' could not be read as \(cell.dataType)")
        }
    }

    /// PostgreSQL's refusals keep their SQLSTATE and message (which name constraints, never values: the
    /// DETAIL that would is left out); a broken or refused connection is `unavailable`.
    static func storeError(_ error: any Error, operation: String) -> StoreError {
        if let error = error as? StoreError { return error }
        if let error = error as? PSQLError, error.code == .server, let info = error.serverInfo {
            let sqlState = info[.sqlState] ?? ""
            let message = info[.message] ?? "PostgreSQL refused the statement"
            // Class 08: connection exceptions; 57P01–57P05: the server is shutting down or restarting.
            if sqlState.hasPrefix("08") || sqlState.hasPrefix("57P") {
                return StoreError(.unavailable, sqlState: sqlState, operation: operation, message: "PostgreSQL is unavailable: \(message); retry later")
            }
            return StoreError(.postgresql, sqlState: sqlState, operation: operation, message: message)
        }
        return StoreError(
            .unavailable, operation: operation,
            message: "the connection to PostgreSQL failed (\(cause(of: error))); the outcome is not known to be stored; retry later")
    }

    /// A short cause without payloads: the PSQLError code, or the error's type.
    static func cause(of error: any Error) -> String {
        if let error = error as? PSQLError { return "\(error.code)" }
        if let error = error as? IOError { return "errno \(error.errnoCode)" }
        return "\(type(of: error))"
    }

    /// The statement's text for errors: it holds placeholders, never values.
    private static func describe(_ sql: String) -> String {
        let flat = sql.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: " ")
        return flat.count > 160 ? String(flat.prefix(160)) + "…" : flat
    }
}

/// A body's statements on a PostgreSQL session.
final class PostgresStatementRunner: StatementRunner {
    private let session: PostgresSession

    init(session: PostgresSession) { self.session = session }

    var dialect: SQLDialect { .postgresql }

    func runStatement(_ sql: String, _ arguments: [SQLValue]) throws -> Int {
        try session.callerStatement(sql, arguments).affected
    }

    func queryRows(_ sql: String, _ arguments: [SQLValue]) throws -> [Row] {
        try session.callerStatement(sql, arguments).rows
    }

    func notify(_ channel: String, _ payload: String) throws {
        _ = try session.callerStatement("SELECT pg_notify(?, ?) IS NULL AS sent", [.text(channel), .text(payload)])
    }

    func queryRow(_ sql: String, _ arguments: [SQLValue]) throws -> Row? {
        let rows = try session.callerStatement(sql, arguments).rows
        guard rows.count <= 1 else { throw StoreError.misuse(sql, "expected at most one row, the query returned more") }
        return rows.first
    }
}
