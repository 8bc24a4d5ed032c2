import BillingLocking
import BillingStore
import Dispatch
import Logging
import PostgresNIO

/// How the PostgreSQL engine runs; every queue has a bound, as in the SQLite engine.
public struct PostgresStoreConfiguration: Sendable {
    /// Connections that run write batches, each one batch at a time. One, as in SQLite, means a daemon's
    /// batches never conflict with each other (only with other daemons'); more overlap their round trips
    /// but, as serializable transactions on the same hot rows, abort and retry each other.
    public var writerCount = 1
    /// Connections for reads.
    public var readerCount = 2
    /// Bodies per transaction: one COMMIT (one WAL flush) serves them all.
    public var maxWritesPerTransaction = 64
    /// Writes waiting for a writer; beyond it `write` throws `overloaded`.
    public var maxQueuedWrites = 4096
    /// Reads in progress or waiting; beyond it `read` throws `overloaded`.
    public var maxQueuedReads = 1024
    /// Attempts of one write that PostgreSQL aborts for a serialization failure or a deadlock (SQLSTATE
    /// 40001, 40P01) before its caller gets `conflict`. A batch that conflicts is split: each of its
    /// writes then runs alone with this many attempts of its own. Many: PostgreSQL's serializable
    /// isolation also aborts on false conflicts (its predicate locks cover index pages, not keys, so two
    /// top-ups of different accounts in a young database collide), and each attempt is short.
    public var maxAttempts = 30
    /// Conflicts after which a write's further attempts run alone: its transaction first locks every
    /// table of the schema against other writers (`SHARE ROW EXCLUSIVE`; readers go on), so it cannot
    /// lose again. Without it, a write that reads a row other daemons keep updating (a busy wallet, the
    /// invoice-number row) can lose every attempt for as long as their load lasts.
    public var exclusiveAfterConflicts = 6
    /// What `pg_stat_activity` shows for this daemon's connections.
    public var applicationName = "billingd"
    public var connectTimeout: Duration = .seconds(5)
    /// PostgreSQL's `statement_timeout` for every statement: a hung statement fails instead of holding a
    /// writer forever.
    public var statementTimeout: Duration = .seconds(30)
    /// Told when writes start failing because of the database's disk and when they succeed again.
    public var onEvent: (@Sendable (StoreEvent) -> Void)? = nil

    public init() {}

    fileprivate func validate() throws {
        func require(_ condition: Bool, _ message: String) throws {
            if !condition { throw StoreError.misuse("check the PostgreSQL store configuration", message) }
        }
        try require((1...32).contains(writerCount), "writerCount must be 1...32")
        try require((1...32).contains(readerCount), "readerCount must be 1...32")
        try require(maxWritesPerTransaction >= 1, "maxWritesPerTransaction must be at least 1")
        try require(maxQueuedWrites >= 1 && maxQueuedReads >= 1, "queue bounds must be at least 1")
        try require(maxAttempts >= 1, "maxAttempts must be at least 1")
        try require(exclusiveAfterConflicts >= 1, "exclusiveAfterConflicts must be at least 1")
    }
}

extension Store {
    /// Opens the PostgreSQL database at `location`: creates its schema if missing, applies the
    /// migrations' PostgreSQL texts above the recorded version (one transaction; a second daemon starting
    /// at the same time waits for it and then finds nothing to do), and opens the writers and readers.
    ///
    /// Fails with `unavailable` if PostgreSQL cannot be reached, `misuse` if a migration has no
    /// PostgreSQL text or the database does not sort text bytewise (`C` collation: ids and plan names must
    /// sort as they do in SQLite), `schemaTooNew` if a newer build migrated it.
    public static func open(
        postgres location: PostgresLocation, migrations: [Migration], configuration: PostgresStoreConfiguration = PostgresStoreConfiguration()
    ) async throws -> Store {
        try configuration.validate()
        let logger = Logger(label: "billing.store.postgres", factory: { _ in SwiftLogNoOpLogHandler() })
        func session(_ label: String) -> PostgresSession {
            PostgresSession(
                label: "billing.store.postgres.\(label)", location: location, applicationName: configuration.applicationName,
                connectTimeout: configuration.connectTimeout,
                statementTimeout: configuration.statementTimeout, logger: logger)
        }
        let writers = (0..<configuration.writerCount).map { session("writer.\($0)") }
        let readers = (0..<configuration.readerCount).map { session("reader.\($0)") }
        do {
            try await writers[0].perform { try PostgresMigrator.migrate($0, location: location, migrations: migrations) }
        } catch {
            _ = try? await writers[0].perform { $0.disconnect() }
            throw error
        }
        // Taken only by a write that kept losing to others (`exclusiveAfterConflicts`); in name order,
        // as every daemon takes it, so two such writes wait for each other rather than deadlock.
        let tables = try await writers[0].perform { session in
            try session.control("SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename")
                .map { try $0.string("tablename") }
        }
        let lockEveryTable = "LOCK TABLE " + tables.map { "\"\($0)\"" }.joined(separator: ", ") + " IN SHARE ROW EXCLUSIVE MODE"
        let notices = PostgresNotices(
            configuration: PostgresSession.configuration(
                for: location, applicationName: configuration.applicationName,
                connectTimeout: .milliseconds(PostgresSession.milliseconds(of: configuration.connectTimeout)), statementTimeoutMilliseconds: 0),
            logger: logger)
        return Store(
            engine: PostgresEngine(
                writer: PostgresWriter(sessions: writers, configuration: configuration, lockEveryTable: tables.isEmpty ? nil : lockEveryTable),
                readers: PostgresReaders(sessions: readers, maxQueuedReads: configuration.maxQueuedReads), listeners: notices))
    }
}

struct PostgresEngine: StoreEngine {
    let writer: PostgresWriter
    let readers: PostgresReaders
    let listeners: PostgresNotices

    func write<T: Sendable>(_ body: @escaping @Sendable (WriteTransaction) throws -> T) async throws -> T {
        try await QueuedWrite.submit(body, to: writer.enqueue)
    }

    func read<T: Sendable>(_ body: @escaping @Sendable (ReadTransaction) throws -> T) async throws -> T {
        try await readers.read(body)
    }

    var statistics: StoreStatistics { writer.statistics }

    var isShared: Bool { true }

    func notices(on channel: String) -> AsyncStream<String> { listeners.notices(on: channel) }

    func close() async {
        listeners.close()
        await writer.close()
        await readers.close()
    }
}

// MARK: - Writes

/// Group commit on PostgreSQL: each writer session takes what is queued (up to `maxWritesPerTransaction`),
/// runs it as one SERIALIZABLE transaction (a SAVEPOINT per body once one failed), and answers the callers after COMMIT.
///
/// SERIALIZABLE is what keeps the domain's rules true with several daemons on one database: a body that
/// checks a balance (or an idempotency key, or a schedule row) and then writes is guaranteed that no
/// concurrent transaction, in this daemon or another, changed what it read; if one did, PostgreSQL aborts
/// with SQLSTATE 40001 and its writes run again, one per transaction. Bodies are pure functions of what
/// they read, so running one again is safe; only the last run's result is delivered.
final class PostgresWriter: Sendable {
    private let sessions: [PostgresSession]
    private let maxWritesPerTransaction: Int
    private let maxQueuedWrites: Int
    private let maxAttempts: Int
    private let exclusiveAfterConflicts: Int
    /// `LOCK TABLE` of every table in the schema, for a write that runs alone; nil if there is none.
    private let lockEveryTable: String?
    private let onEvent: (@Sendable (StoreEvent) -> Void)?
    private let state: Locked<State>

    private struct State {
        var queued: [QueuedWrite] = []
        /// Sessions with no drain running, by index.
        var idleSessions: [Int]
        var isClosed = false
        var statistics = StoreStatistics()
        var storageFailuresInEpisode = 0
    }

    init(sessions: [PostgresSession], configuration: PostgresStoreConfiguration, lockEveryTable: String?) {
        self.sessions = sessions
        self.maxWritesPerTransaction = configuration.maxWritesPerTransaction
        self.maxQueuedWrites = configuration.maxQueuedWrites
        self.maxAttempts = configuration.maxAttempts
        self.exclusiveAfterConflicts = configuration.exclusiveAfterConflicts
        self.lockEveryTable = lockEveryTable
        self.onEvent = configuration.onEvent
        self.state = Locked(State(idleSessions: Array(sessions.indices.reversed())))
    }

    var statistics: StoreStatistics {
        state.withLock { state in
            var statistics = state.statistics
            statistics.queuedWrites = state.queued.count
            return statistics
        }
    }

    func enqueue(_ write: QueuedWrite) throws {
        try state.withLock { state in
            guard !state.isClosed else { throw StoreError.closed("queue a write") }
            guard state.queued.count < maxQueuedWrites else { throw StoreError.overloaded(queued: state.queued.count) }
            state.queued.append(write)
            if let index = state.idleSessions.popLast() {
                // Under the lock, so that `close` cannot put its block on the queue ahead of this one.
                sessions[index].queue.async { self.drain(index) }
            }
        }
    }

    /// Refuses new writes, lets the queued ones commit, then closes the connections.
    func close() async {
        state.withLock { $0.isClosed = true }
        for session in sessions { _ = try? await session.perform { $0.disconnect() } }
    }

    private func drain(_ index: Int) {
        while let batch = nextBatch(for: index) {
            commit(batch, on: sessions[index])
        }
    }

    private func nextBatch(for index: Int) -> [QueuedWrite]? {
        state.withLock { state in
            guard !state.queued.isEmpty else {
                state.idleSessions.append(index)
                return nil
            }
            let batch = Array(state.queued.prefix(maxWritesPerTransaction))
            state.queued.removeFirst(batch.count)
            return batch
        }
    }

    /// Runs the batch until it commits or fails as a whole; after a conflict, runs its writes one by one,
    /// each until it commits, fails, or has conflicted `maxAttempts` times; after
    /// `exclusiveAfterConflicts` of them, a write runs alone (see ``PostgresStoreConfiguration``).
    ///
    /// A batch first runs without a savepoint per body: two round trips fewer per body, and bodies rarely
    /// fail. If one does, the transaction is rolled back and the batch runs again with savepoints, so
    /// that only that body's changes are undone.
    private func commit(_ batch: [QueuedWrite], on session: PostgresSession) {
        var attempt = 1
        var savepoints = false
        while true {
            do {
                let alone = batch.count == 1 && attempt > exclusiveAfterConflicts
                let outcome = try run(batch, on: session, savepoints: savepoints, alone: alone)
                finish(batch, outcome)
                return
            } catch is BodyFailedWithoutSavepoint {
                session.rollbackQuietly()
                savepoints = true
            } catch let error as StoreError where error.isSerializationConflict && (attempt < maxAttempts || batch.count > 1) {
                session.rollbackQuietly()
                state.withLock { $0.statistics.transactionsRetried += 1 }
                // A batch that conflicted runs again one body per transaction, each with attempts of its own:
                // a short transaction has a short window in which another daemon can beat it, whereas a
                // long batch retried whole can lose to the other daemon's batches again and again (as
                // every top-up of both daemons bumping the one invoice-number row did).
                if batch.count > 1 {
                    for write in batch { commit([write], on: session) }
                    return
                }
                // Jittered, growing pause so that the conflicting transactions do not meet again at once.
                usleep(UInt32.random(in: 0...(UInt32(500) << min(attempt, 8))))
                attempt += 1
            } catch {
                session.rollbackQuietly()
                var failure = error as? StoreError ?? StoreError.misuse("run a batch of writes", "\(type(of: error))")
                if failure.isSerializationConflict {
                    failure = StoreError(
                        .conflict, sqlState: failure.sqlState, operation: "run a batch of writes",
                        message: "concurrent writes conflicted with this one \(attempt) times; nothing was stored; retry")
                }
                fail(batch, failure)
                return
            }
        }
    }

    /// A body of a batch run without savepoints failed: the batch runs again with them.
    private struct BodyFailedWithoutSavepoint: Error {}

    private struct BatchOutcome {
        var deliveries: [@Sendable () -> Void] = []
        var bodiesRolledBack = 0
        var storageFailure: StoreError?
    }

    /// One attempt: BEGIN, every body (each in its own savepoint if `savepoints`), COMMIT. Throws what
    /// fails the whole batch: BEGIN, a savepoint, COMMIT, a lost connection, a serialization conflict;
    /// and `BodyFailedWithoutSavepoint` when a body of several failed without one.
    private func run(_ batch: [QueuedWrite], on session: PostgresSession, savepoints: Bool, alone: Bool) throws -> BatchOutcome {
        try begin(on: session)
        // Before any query: a serializable transaction's snapshot is taken at its first query, so the
        // snapshot then already holds every other writer's last commit.
        // Waiting at most 200 ms: another daemon's transaction may hold one table and wait for one this
        // lock already took, a deadlock PostgreSQL would only break after a second.
        if alone, let lockEveryTable {
            try session.control("SET LOCAL lock_timeout = '200ms'")
            try session.control(lockEveryTable)
        }
        let runner = PostgresStatementRunner(session: session)
        var outcome = BatchOutcome()
        for write in batch {
            if savepoints { try session.control("SAVEPOINT batched_write") }
            session.forgetBodyFailure()
            let result = write.run(WriteTransaction(runner: runner))
            var deliver = result.deliver
            var keepsChanges = result.error == nil
            if let failure = session.firstFailureInBody {
                // A conflict or a lost connection is the batch's, whatever the body made of it.
                if failure.isSerializationConflict || failure.kind == .unavailable { throw failure }
                // PostgreSQL refused one of its statements, so its transaction is unusable past that point:
                // a body that caught the error and went on has not done what it returned.
                if keepsChanges {
                    keepsChanges = false
                    deliver = { write.fail(failure) }
                }
                if failure.storageFault != nil { outcome.storageFailure = outcome.storageFailure ?? failure }
            }
            if !keepsChanges {
                if !savepoints && batch.count > 1 { throw BodyFailedWithoutSavepoint() }
                outcome.bodiesRolledBack += 1
                if savepoints { try session.control("ROLLBACK TO SAVEPOINT batched_write") }
            }
            if savepoints { try session.control("RELEASE SAVEPOINT batched_write") }
            outcome.deliveries.append(deliver)
        }
        if outcome.bodiesRolledBack == batch.count && !savepoints {
            try session.control("ROLLBACK")
        } else {
            try session.control("COMMIT")
        }
        return outcome
    }

    /// BEGIN, once more on a new connection if the old one was found broken: nothing was sent yet, so
    /// that retry is safe, and the first write after PostgreSQL restarted does not fail for it.
    private func begin(on session: PostgresSession) throws {
        do {
            try session.control("BEGIN ISOLATION LEVEL SERIALIZABLE")
        } catch let error as StoreError where error.kind == .unavailable {
            try session.control("BEGIN ISOLATION LEVEL SERIALIZABLE")
        }
    }

    private func finish(_ batch: [QueuedWrite], _ outcome: BatchOutcome) {
        let events = state.withLock { state in
            state.statistics.transactionsCommitted += 1
            state.statistics.writesCommitted += batch.count - outcome.bodiesRolledBack
            state.statistics.writesRolledBack += outcome.bodiesRolledBack
            state.statistics.largestBatch = max(state.statistics.largestBatch, batch.count)
            var events: [StoreEvent] = []
            if state.storageFailuresInEpisode > 0 && batch.count > outcome.bodiesRolledBack {
                events.append(.storageRecovered(failedWrites: state.storageFailuresInEpisode))
                state.storageFailuresInEpisode = 0
            }
            if let failure = outcome.storageFailure {
                if state.storageFailuresInEpisode == 0 { events.append(.storageFailed(failure)) }
                state.statistics.storageFailures += 1
                state.storageFailuresInEpisode += 1
            }
            return events
        }
        for event in events { onEvent?(event) }
        for deliver in outcome.deliveries { deliver() }
    }

    private func fail(_ batch: [QueuedWrite], _ error: StoreError) {
        let event = state.withLock { state in
            state.statistics.transactionsFailed += 1
            state.statistics.writesFailed += batch.count
            guard error.storageFault != nil else { return StoreEvent?.none }
            let startsEpisode = state.storageFailuresInEpisode == 0
            state.statistics.storageFailures += batch.count
            state.storageFailuresInEpisode += batch.count
            return startsEpisode ? .storageFailed(error) : nil
        }
        if let event { onEvent?(event) }
        for write in batch { write.fail(error) }
    }
}

// MARK: - Reads

/// Reader sessions; each read is one REPEATABLE READ, READ ONLY transaction: one snapshot for all its queries.
final class PostgresReaders: Sendable {
    private let sessions: [PostgresSession]
    private let slots: ReadSlots

    init(sessions: [PostgresSession], maxQueuedReads: Int) {
        self.sessions = sessions
        self.slots = ReadSlots(readers: sessions.count, maxQueuedReads: maxQueuedReads)
    }

    func read<T: Sendable>(_ body: @escaping @Sendable (ReadTransaction) throws -> T) async throws -> T {
        let index = try slots.checkOut()
        defer { slots.checkIn(index) }
        return try await sessions[index].perform { session in
            do {
                return try Self.read(body, on: session)
            } catch let error as StoreError where error.kind == .unavailable {
                // A read changes nothing: once more, on a new connection (PostgreSQL may have restarted).
                return try Self.read(body, on: session)
            }
        }
    }

    private static func read<T>(_ body: (ReadTransaction) throws -> T, on session: PostgresSession) throws -> T {
        try session.control("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        session.forgetBodyFailure()
        do {
            let result = try body(ReadTransaction(runner: PostgresStatementRunner(session: session)))
            if let failure = session.firstFailureInBody { throw failure }
            try session.control("COMMIT")
            return result
        } catch {
            session.rollbackQuietly()
            throw error
        }
    }

    func close() async {
        slots.close()
        for session in sessions { _ = try? await session.perform { $0.disconnect() } }
    }
}

// MARK: - Migrations

enum PostgresMigrator {
    /// The schema version lives in a one-row table; the migrating transaction locks that row, so daemons
    /// that start together migrate once, one after the other.
    static func migrate(_ session: PostgresSession, location: PostgresLocation, migrations: [Migration]) throws {
        let ordered = try Migration.ordered(migrations)
        if let missing = ordered.first(where: { $0.postgresql == nil }) {
            throw StoreError.misuse("check migrations", "migration \(missing.version) '\(missing.name)' has no PostgreSQL text")
        }
        let latestVersion = Int64(ordered.last?.version ?? 0)
        try requireBytewiseCollation(session)
        // IF NOT EXISTS still races with a second daemon creating the same thing at the same moment (a
        // unique violation in the catalog, or "type … already exists", 42710; 42P06 and 42P07 for the
        // schema and the table); the loser pauses and tries again, and then finds it made.
        for attempt in 1...5 {
            do {
                if let schema = location.schema { try session.control("CREATE SCHEMA IF NOT EXISTS \(schema)") }
                try session.control(
                    "CREATE TABLE IF NOT EXISTS billing_schema_version (singleton BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (singleton), version BIGINT NOT NULL)")
                try session.control("INSERT INTO billing_schema_version(version) VALUES (0) ON CONFLICT DO NOTHING")
                break
            } catch let error as StoreError
                where (error.isUniqueViolation || ["42710", "42P06", "42P07"].contains(error.sqlState)) && attempt < 5 {
                usleep(UInt32.random(in: 10_000...50_000))
            }
        }
        try session.control("BEGIN")
        do {
            let current = try session.control("SELECT version FROM billing_schema_version FOR UPDATE").first?.int64("version") ?? 0
            guard current <= latestVersion else {
                throw StoreError(
                    .schemaTooNew, operation: "check the schema version",
                    message: "the database is at version \(current), this build knows versions up to \(latestVersion)")
            }
            for migration in ordered where migration.version > current {
                for statement in SQLTranslation.statements(ofScript: migration.postgresql!) {
                    do {
                        try session.control(statement)
                    } catch let error as StoreError {
                        throw StoreError(
                            error.kind, sqlState: error.sqlState, operation: "apply migration \(migration.version) '\(migration.name)'",
                            message: error.message)
                    }
                }
            }
            if current < latestVersion { try session.control("UPDATE billing_schema_version SET version = \(latestVersion)") }
            try session.control("COMMIT")
        } catch {
            session.rollbackQuietly()
            throw error
        }
    }

    private static func requireBytewiseCollation(_ session: PostgresSession) throws {
        let collation = try session.control("SELECT datcollate FROM pg_database WHERE datname = current_database()").first?.string("datcollate") ?? ""
        guard collation == "C" || collation == "POSIX" else {
            throw StoreError.misuse(
                "check the database's collation",
                "the database sorts text by locale '\(collation)'; create it with LC_COLLATE 'C' (createdb --locale=C --template=template0) so that ids sort bytewise")
        }
    }
}

extension PostgresSession {
    /// ROLLBACK on a connection that is still open; on paths that are already failing, so its own failure is moot.
    func rollbackQuietly() {
        guard isConnected else { return }
        _ = try? control("ROLLBACK")
    }
}

extension StoreError {
    /// PostgreSQL aborted the transaction because a concurrent one conflicted with it, or a write running
    /// alone did not get its tables in time: running it again from the start is the documented remedy.
    var isSerializationConflict: Bool {
        // 55P03: a write running alone did not get its tables within its lock timeout.
        kind == .postgresql && (sqlState == "40001" || sqlState == "40P01" || sqlState == "55P03")
    }
}
