import Dispatch
import Synchronization

/// The single writer and its queue of pending writes: group commit.
///
/// Callers queue their bodies; the writer's serial queue takes everything queued (up to
/// `maxWritesPerTransaction`), opens one `BEGIN IMMEDIATE`, runs each body in its own SAVEPOINT, commits
/// once, and only then tells each caller its result. With `synchronous=FULL` a COMMIT costs an fsync, so
/// one fsync now serves a whole batch instead of one write. While a batch commits, the next one gathers.
final class Writer: Sendable {
    private let connection: SQLiteConnection
    private let maxWritesPerTransaction: Int
    private let maxQueuedWrites: Int
    private let state = Mutex(State())

    private struct State {
        var queued: [QueuedWrite] = []
        /// A drain is on the writer queue or running; it keeps going until `queued` is empty.
        var isDraining = false
        var isClosed = false
        var statistics = StoreStatistics()
    }

    init(connection: SQLiteConnection, maxWritesPerTransaction: Int, maxQueuedWrites: Int) {
        self.connection = connection
        self.maxWritesPerTransaction = maxWritesPerTransaction
        self.maxQueuedWrites = maxQueuedWrites
    }

    var statistics: StoreStatistics {
        state.withLock { state in
            var statistics = state.statistics
            statistics.queuedWrites = state.queued.count
            return statistics
        }
    }

    /// Queues a write, or throws `overloaded` when the queue is full and `closed` after `close()`.
    func enqueue(_ write: QueuedWrite) throws {
        try state.withLock { state in
            guard !state.isClosed else { throw StoreError.closed("queue a write") }
            guard state.queued.count < maxQueuedWrites else { throw StoreError.overloaded(queued: state.queued.count) }
            state.queued.append(write)
            if !state.isDraining {
                state.isDraining = true
                // Dispatched under the lock so that `close` cannot put its block on the queue ahead of this one.
                connection.queue.async { self.drain() }
            }
        }
    }

    /// Refuses new writes, lets the queued ones commit, then closes the connection.
    func close() async {
        state.withLock { $0.isClosed = true }
        // Any drain is already on the serial queue ahead of this block and empties the queue before it ends.
        await connection.closeOnQueue()
    }

    // MARK: - On the writer queue

    private func drain() {
        while let batch = nextBatch() {
            commit(batch)
        }
    }

    private func nextBatch() -> [QueuedWrite]? {
        state.withLock { state in
            guard !state.queued.isEmpty else {
                state.isDraining = false
                return nil
            }
            let batch = Array(state.queued.prefix(maxWritesPerTransaction))
            state.queued.removeFirst(batch.count)
            return batch
        }
    }

    /// One transaction for the whole batch; callers hear back only after COMMIT has returned.
    private func commit(_ batch: [QueuedWrite]) {
        var deliveries: [@Sendable () -> Void] = []
        deliveries.reserveCapacity(batch.count)
        var bodiesRolledBack = 0
        do {
            try connection.execute("BEGIN IMMEDIATE", [], origin: .store)
            for write in batch {
                let (deliver, keptChanges) = try runInOwnSavepoint(write)
                deliveries.append(deliver)
                if !keptChanges { bodiesRolledBack += 1 }
            }
            try connection.execute("COMMIT", [], origin: .store)
        } catch {
            // Nothing of this batch is durable, so every caller in it, whatever its body did, gets the error.
            connection.rollbackIfInTransaction()
            state.withLock { $0.statistics.transactionsFailed += 1 }
            for write in batch { write.fail(error) }
            return
        }
        state.withLock { state in
            state.statistics.transactionsCommitted += 1
            state.statistics.writesCommitted += batch.count - bodiesRolledBack
            state.statistics.writesRolledBack += bodiesRolledBack
            state.statistics.largestBatch = max(state.statistics.largestBatch, batch.count)
        }
        for deliver in deliveries { deliver() }
    }

    /// Runs one body between SAVEPOINT and RELEASE, rolling back to the savepoint if the body failed.
    /// Returns how to answer its caller after COMMIT; throws only for failures that end the whole batch.
    private func runInOwnSavepoint(_ write: QueuedWrite) throws -> (deliver: @Sendable () -> Void, keptChanges: Bool) {
        try connection.execute("SAVEPOINT batched_write", [], origin: .store)
        let outcome = write.run(WriteTransaction(connection: connection))
        try requireBatchTransaction()
        var deliver = outcome.deliver
        var keepsChanges = outcome.succeeded
        if keepsChanges && connection.hasUnresolvedForeignKeys {
            // Caught here, where rolling back this body's savepoint is enough, rather than by COMMIT,
            // which would fail every write of the batch.
            keepsChanges = false
            deliver = { write.fail(StoreError.unresolvedForeignKeys) }
        }
        if !keepsChanges {
            try connection.execute("ROLLBACK TO batched_write", [], origin: .store)
        }
        try connection.execute("RELEASE batched_write", [], origin: .store)
        return (deliver, keepsChanges)
    }

    /// SQLite rolls a whole transaction back by itself after a trigger's RAISE(ROLLBACK) and after some
    /// failures (disk full, I/O error). The next body would then run in autocommit mode and commit on its
    /// own, outside the batch: stop the batch instead.
    private func requireBatchTransaction() throws {
        guard connection.isInTransaction else {
            throw StoreError(
                .transactionRolledBack, operation: "run a batch of writes",
                message: "SQLite rolled back the batch's transaction (a trigger's RAISE(ROLLBACK), a full disk or an I/O error)")
        }
    }
}

/// One caller's write waiting for the writer: how to run its body, and how to answer it.
struct QueuedWrite: Sendable {
    struct Outcome {
        /// False if the body threw; its savepoint is then rolled back.
        let succeeded: Bool
        /// Resumes the caller with the body's result or error; called only after COMMIT returned.
        let deliver: @Sendable () -> Void
    }

    /// Runs the body inside its savepoint.
    let run: @Sendable (WriteTransaction) -> Outcome
    /// Resumes the caller with the store's error instead: one that failed the whole batch (BEGIN, a savepoint,
    /// COMMIT), or this body's unresolved deferred foreign key.
    let fail: @Sendable (any Error) -> Void

    /// Wraps a typed body and the caller's continuation; the writer calls exactly one of `deliver` and `fail`.
    init<T: Sendable>(
        _ body: @escaping @Sendable (WriteTransaction) throws -> T,
        answering caller: CheckedContinuation<T, any Error>
    ) {
        run = { transaction in
            let result = Result { try body(transaction) }
            let succeeded = if case .success = result { true } else { false }
            return Outcome(succeeded: succeeded, deliver: { caller.resume(with: result) })
        }
        fail = { error in caller.resume(throwing: error) }
    }
}
