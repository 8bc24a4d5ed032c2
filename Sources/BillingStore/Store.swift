import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// The billing service's database: by default one SQLite file, one writer that commits in batches, a few
/// readers; or a PostgreSQL database shared by several daemons (BillingStorePostgres), with the same promises.
///
/// The store knows tables and transactions, not accounts or money: the domain decides what belongs in one
/// transaction by putting it in one `write` body, and the store makes that body atomic and durable.
///
/// - Writes are queued and committed in groups (see `write`): a caller is answered only after its batch's
///   COMMIT returned with `synchronous=FULL`, yet one fsync serves up to `maxWritesPerTransaction` writes.
/// - Reads run on read-only connections in WAL mode and see only committed data.
/// - Migrations run once, at `open`, in one transaction.
///
/// ```swift
/// let store = try await Store.open(path: "/var/lib/billing/billing.sqlite3", migrations: BillingSchema.migrations)
/// let balance = try await store.read { tx in
///     try tx.queryOne("SELECT balance_minor FROM accounts WHERE id = ?", .integer(id))?.int64("balance_minor")
/// }
/// await store.close()
/// ```
public final class Store: Sendable {
    /// Limits and settings; every queue has a bound (a full queue is an `overloaded` error, not a slow death).
    public struct Configuration: Sendable {
        /// Read-only connections; reads beyond this many run one after another on the least busy reader.
        public var readerCount = 2
        /// Bodies per transaction. Larger batches share an fsync among more writes but make each caller
        /// wait for more bodies. 1 means one transaction (one fsync) per write: for the benchmark only.
        public var maxWritesPerTransaction = 256
        /// Writes waiting for the writer; beyond it `write` throws `overloaded`.
        public var maxQueuedWrites = 4096
        /// Reads in progress or waiting; beyond it `read` throws `overloaded`.
        public var maxQueuedReads = 1024
        /// How long a connection waits for a lock another process holds before failing with SQLITE_BUSY.
        public var busyTimeoutMilliseconds: Int32 = 5000
        /// How often a connection of its own copies the WAL into the database file (`Checkpointer`), so
        /// that no commit does it and makes its batch wait; nil leaves it to SQLite (the commit that takes
        /// the WAL past 1000 pages checkpoints). Tests that count the disk's calls to fail one on cue turn
        /// it off, since the checkpointer's calls would land among them at random.
        public var checkpointInterval: Duration? = .milliseconds(100)
        /// The WAL's size, in pages, past which the writer helps the checkpointer start it over
        /// (`Checkpointer`): what bounds the WAL while writes never pause. That help pauses the writer
        /// (2–36 ms measured), so it should come seldom: 16,384 pages is 64 MiB, about once a second
        /// with debits at full speed.
        public var walRestartPages = 16_384
        /// Prepared statements kept per connection.
        public var statementCacheCapacity = 128
        /// Permission bits of the database file and its WAL and shared-memory files, whatever the umask:
        /// the file holds billing addresses and gateway tokens, so nobody else may read it.
        public var fileMode: mode_t = 0o600
        /// The SQLite VFS every connection opens the file through, by its registered name; nil is SQLite's
        /// default (the unix VFS). Tests name a VFS that fails writes and fsyncs on cue (`CSQLiteFaults`).
        public var vfsName: String? = nil
        /// Told when writes start failing because of the disk and when they succeed again (`StoreEvent`),
        /// so that the owner can log it; the store has no logger of its own. Called on the writer's
        /// queue between batches: it must return quickly and must not call the store.
        public var onEvent: (@Sendable (StoreEvent) -> Void)? = nil

        public init() {}

        fileprivate func validate() throws {
            func require(_ condition: Bool, _ message: String) throws {
                if !condition { throw StoreError.misuse("check the store configuration", message) }
            }
            try require((1...16).contains(readerCount), "readerCount must be 1...16")
            try require(maxWritesPerTransaction >= 1, "maxWritesPerTransaction must be at least 1")
            try require(maxQueuedWrites >= 1, "maxQueuedWrites must be at least 1")
            try require(maxQueuedReads >= 1, "maxQueuedReads must be at least 1")
            try require(busyTimeoutMilliseconds >= 0, "busyTimeoutMilliseconds must not be negative")
            try require(statementCacheCapacity >= 1, "statementCacheCapacity must be at least 1")
            try require(checkpointInterval.map { $0 > .zero } ?? true, "checkpointInterval must be positive")
            try require((1...1_000_000).contains(walRestartPages), "walRestartPages must be 1...1000000")
            try require(fileMode & 0o007 == 0, "fileMode may give the owner and the group access, never others")
        }
    }

    private let engine: any StoreEngine

    /// A store over any engine; `open(path:)` and, in BillingStorePostgres, `open(postgres:)` build one.
    package init(engine: any StoreEngine) {
        self.engine = engine
    }

    /// Opens (creating if needed) the SQLite database at `path`, switches it to WAL, applies the migrations
    /// above its `user_version`, and opens the readers. Throws `schemaTooNew` if a newer build migrated the file already.
    public static func open(
        path: String, migrations: [Migration], configuration: Configuration = Configuration()
    ) async throws -> Store {
        try configuration.validate()
        try restrictAccess(to: path, mode: configuration.fileMode)
        let writerConnection = try await SQLiteConnection.open(
            path: path, role: .writer, label: "billing.store.writer", configuration: configuration)
        do {
            try await writerConnection.perform { try $0.migrate(migrations) }
            if configuration.checkpointInterval != nil {
                try await writerConnection.perform { connection in
                    _ = try connection.queryOne("PRAGMA wal_autocheckpoint = 0", [], origin: .store)
                }
            }
        } catch {
            await writerConnection.closeOnQueue()
            throw error
        }

        var readerConnections: [SQLiteConnection] = []
        do {
            for index in 0..<configuration.readerCount {
                readerConnections.append(
                    try await SQLiteConnection.open(
                        path: path, role: .reader, label: "billing.store.reader.\(index)", configuration: configuration))
            }
        } catch {
            for connection in readerConnections { await connection.closeOnQueue() }
            await writerConnection.closeOnQueue()
            throw error
        }
        var checkpointer: Checkpointer?
        if let interval = configuration.checkpointInterval {
            do {
                checkpointer = Checkpointer(
                    connection: try await SQLiteConnection.open(
                        path: path, role: .checkpointer, label: "billing.store.checkpointer", configuration: configuration),
                    interval: interval, restartFrames: Int32(configuration.walRestartPages))
            } catch {
                for connection in readerConnections { await connection.closeOnQueue() }
                await writerConnection.closeOnQueue()
                throw error
            }
        }

        return Store(
            engine: SQLiteEngine(
                writer: Writer(
                    connection: writerConnection,
                    maxWritesPerTransaction: configuration.maxWritesPerTransaction,
                    maxQueuedWrites: configuration.maxQueuedWrites,
                    checkpointer: checkpointer,
                    onEvent: configuration.onEvent),
                readers: ReaderPool(readers: readerConnections, maxQueuedReads: configuration.maxQueuedReads),
                checkpointer: checkpointer))
    }

    /// Creates the database file with `mode` before SQLite does (SQLite gives its WAL and shared-memory
    /// files the database's mode), and narrows the mode of files an older build left wider.
    private static func restrictAccess(to path: String, mode: mode_t) throws {
        let fd = Glibc.open(path, O_RDONLY | O_CREAT | O_CLOEXEC, mode)
        guard fd >= 0 else { throw StoreError.misuse("create the database file", "cannot create \(path): \(String(cString: strerror(errno)))") }
        defer { Glibc.close(fd) }
        guard fchmod(fd, mode) == 0 else { throw StoreError.misuse("restrict the database file", "cannot chmod \(path): \(String(cString: strerror(errno)))") }
        for suffix in ["-wal", "-shm"] { _ = chmod(path + suffix, mode) }
    }

    /// Runs `body` atomically in the next batch and returns its result once the batch is durable.
    ///
    /// The body runs on the writer's queue inside its own SAVEPOINT: if it throws, only its changes are rolled
    /// back and only this caller gets the error; the rest of the batch commits. A body that leaves a deferred
    /// foreign key unresolved is treated the same way. If the batch itself fails (BEGIN, COMMIT, the disk, a
    /// trigger's RAISE(ROLLBACK)), every caller in it gets that error and nothing of it is stored.
    /// The body must not block or wait: the whole batch waits for it.
    ///
    /// Throws `overloaded` when `maxQueuedWrites` writes are already waiting, `closed` after `close()`,
    /// and `CancellationError` if the task was cancelled before the write was queued. Once queued, a write
    /// runs even if its task is cancelled, so a caller never has to guess whether it happened.
    @discardableResult
    public func write<T: Sendable>(_ body: @escaping @Sendable (WriteTransaction) throws -> T) async throws -> T {
        try Task.checkCancellation()
        return try await engine.write(body)
    }

    /// Runs `body` in one read transaction on a reader connection: a consistent view of committed data.
    ///
    /// Throws `overloaded` when `maxQueuedReads` reads are in progress and `closed` after `close()`.
    public func read<T: Sendable>(_ body: @escaping @Sendable (ReadTransaction) throws -> T) async throws -> T {
        try await engine.read(body)
    }

    /// Whether other processes (other billingd) may write the same database: a PostgreSQL store is, a SQLite
    /// file has one writer process. Then what the domain keeps in memory is a cache to refresh, not the truth.
    public var isShared: Bool { engine.isShared }

    /// What committed transactions of every process sharing the database sent on `channel`
    /// (`WriteTransaction.notify`), this one's included, while the store is open. A SQLite store's stream
    /// ends at once: no other process writes its file.
    public func notices(on channel: String) -> AsyncStream<String> { engine.notices(on: channel) }

    /// Yielded by `notices(on:)` whenever the engine starts listening, at first and after a lost connection:
    /// notices sent before may have been missed, so listeners catch up on everything they follow.
    public static let noticesMayHaveBeenMissed = "*"

    /// Counters for tests and metrics: how many COMMITs, how many writes, how many waiting.
    public var statistics: StoreStatistics { engine.statistics }

    /// Refuses new work, waits for queued writes to commit and started reads to finish, then finalizes
    /// every statement and closes every connection. Calling it again does nothing.
    public func close() async {
        await engine.close()
    }
}

/// The embedded engine: one SQLite file, a group-commit writer and a pool of readers.
struct SQLiteEngine: StoreEngine {
    let writer: Writer
    let readers: ReaderPool
    let checkpointer: Checkpointer?

    func write<T: Sendable>(_ body: @escaping @Sendable (WriteTransaction) throws -> T) async throws -> T {
        try await QueuedWrite.submit(body, to: writer.enqueue)
    }

    func read<T: Sendable>(_ body: @escaping @Sendable (ReadTransaction) throws -> T) async throws -> T {
        try await readers.read(body)
    }

    var statistics: StoreStatistics { writer.statistics }

    var isShared: Bool { false }

    func notices(on channel: String) -> AsyncStream<String> { AsyncStream { $0.finish() } }

    func close() async {
        await writer.close()
        await readers.close()
        // Last: the last connection to close checkpoints the whole WAL and removes it, if it may write.
        await checkpointer?.close()
    }
}

/// What the writer has done since the store opened; read it for tests and metrics.
public struct StoreStatistics: Sendable, Hashable {
    /// Successful COMMITs: each one is one fsync.
    public var transactionsCommitted = 0
    /// Batches that failed as a whole (BEGIN or COMMIT failed, or SQLite rolled the transaction back);
    /// their writes all got the error and are counted in `writesFailed`.
    public var transactionsFailed = 0
    /// Bodies whose changes were committed.
    public var writesCommitted = 0
    /// Bodies that threw or left a deferred foreign key unresolved: their savepoint was rolled back,
    /// the rest of their batch committed.
    public var writesRolledBack = 0
    /// Writes answered with their batch's error: nothing of them was stored. With `writesCommitted` and
    /// `writesRolledBack` it accounts for every write the writer took.
    public var writesFailed = 0
    /// Writes refused because of the disk (full, or an I/O error; `StoreError.storageFault`), whether
    /// their whole batch failed (also in `writesFailed`) or only their body (also in `writesRolledBack`).
    public var storageFailures = 0
    /// Batches run again from the start because a concurrent transaction conflicted with them (PostgreSQL's
    /// serialization failures and deadlocks; always 0 on SQLite, whose single writer never conflicts).
    public var transactionsRetried = 0
    /// The most bodies one transaction has carried.
    public var largestBatch = 0
    /// Writes waiting for the writer right now.
    public var queuedWrites = 0

    public init() {}
}

/// What the store tells its owner (`Configuration.onEvent`) about the disk under it. A full disk or an
/// I/O error fails every write until it passes, so the store reports the change of state, not each
/// failure: one `storageFailed` when writes start failing, one `storageRecovered` when they succeed again.
public enum StoreEvent: Sendable, Hashable {
    /// A write failed because of the disk after writes had been succeeding. The error says how (its
    /// `storageFault`, result code and operation) and holds no SQL argument values.
    case storageFailed(StoreError)
    /// A batch committed after storage failures; `failedWrites` writes were refused in between.
    case storageRecovered(failedWrites: Int)
}

extension SQLiteConnection {
    /// Creates a queue and opens a connection on it.
    fileprivate static func open(
        path: String, role: Role, label: String, configuration: Store.Configuration
    ) async throws -> SQLiteConnection {
        let queue = DispatchQueue(label: label)
        return try await run(on: queue) {
            try SQLiteConnection(
                path: path, role: role, vfsName: configuration.vfsName,
                busyTimeoutMilliseconds: configuration.busyTimeoutMilliseconds,
                statementCacheCapacity: configuration.statementCacheCapacity, queue: queue)
        }
    }
}
