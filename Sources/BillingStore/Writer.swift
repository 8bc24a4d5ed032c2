import BillingLocking
import Dispatch

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
    private let state = Locked(State())

    private struct State {
        var queued: [QueuedWrite] = []
        /// A drain is on the writer queue or running; it keeps going until `queued` is empty.
        var isDraining = false
        var isClosed = false
        var statistics = StoreStatistics()
        /// Writes refused by the disk since the last batch that committed a change; non-zero while the
        /// disk is failing (an episode), so that the owner hears once when it starts and once when it ends.
        var storageFailuresInEpisode = 0
    }

    private let onEvent: (@Sendable (StoreEvent) -> Void)?
    /// Asks, between batches, for the WAL to be started over (`Checkpointer.takeRestartRequest`).
    private let checkpointer: Checkpointer?

    init(
        connection: SQLiteConnection, maxWritesPerTransaction: Int, maxQueuedWrites: Int, checkpointer: Checkpointer?,
        onEvent: (@Sendable (StoreEvent) -> Void)?
    ) {
        self.connection = connection
        self.maxWritesPerTransaction = maxWritesPerTransaction
        self.maxQueuedWrites = maxQueuedWrites
        self.checkpointer = checkpointer
        self.onEvent = onEvent
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
            // After the batch's callers were answered: copies what the checkpointer has not (a few
            // batches' frames), so that the next BEGIN starts the WAL over.
            if checkpointer?.takeRestartRequest() == true { connection.checkpointPassively() }
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
        var firstStorageFailure: StoreError?
        var bodiesRefusedByStorage = 0
        do {
            try connection.execute("BEGIN IMMEDIATE", [], origin: .store)
            for write in batch {
                let (deliver, keptChanges, storageFailure) = try runInOwnSavepoint(write)
                deliveries.append(deliver)
                if !keptChanges { bodiesRolledBack += 1 }
                if let storageFailure {
                    bodiesRefusedByStorage += 1
                    firstStorageFailure = firstStorageFailure ?? storageFailure
                }
            }
            try connection.execute("COMMIT", [], origin: .store)
        } catch {
            // Nothing of this batch is durable, so every caller in it, whatever its body did, gets the error.
            connection.rollbackIfInTransaction()
            let storageFailure = (error as? StoreError).flatMap { $0.storageFault == nil ? nil : $0 }
            if storageFailure != nil { overwriteUnindexedFrames() }
            let event = state.withLock { state in
                state.statistics.transactionsFailed += 1
                state.statistics.writesFailed += batch.count
                guard let storageFailure else { return StoreEvent?.none }
                return Self.noteStorageFailures(batch.count, storageFailure, in: &state)
            }
            if let event { onEvent?(event) }
            for write in batch { write.fail(error) }
            return
        }
        let events = state.withLock { state in
            state.statistics.transactionsCommitted += 1
            state.statistics.writesCommitted += batch.count - bodiesRolledBack
            state.statistics.writesRolledBack += bodiesRolledBack
            state.statistics.largestBatch = max(state.statistics.largestBatch, batch.count)
            var events: [StoreEvent] = []
            // A batch that stored something proves the disk takes writes again.
            if state.storageFailuresInEpisode > 0 && batch.count > bodiesRolledBack {
                events.append(.storageRecovered(failedWrites: state.storageFailuresInEpisode))
                state.storageFailuresInEpisode = 0
            }
            if let firstStorageFailure,
                let event = Self.noteStorageFailures(bodiesRefusedByStorage, firstStorageFailure, in: &state)
            {
                events.append(event)
            }
            return events
        }
        for event in events { onEvent?(event) }
        for deliver in deliveries { deliver() }
    }

    /// When only the fsync of a COMMIT failed, the batch's WAL frames are in the file, complete with their
    /// commit frame. SQLite never indexed them, so no reader sees them and the next commit writes over them;
    /// but if the process died first, recovery would find them valid and replay a batch whose callers were
    /// told it failed. So a commit of nothing (page 1 rewritten with the `user_version` it has) is written
    /// over them at once. If that commit fails too, what recovery could replay is that page, unchanged.
    /// Not counted in the statistics: it stores nothing.
    private func overwriteUnindexedFrames() {
        do {
            try connection.execute("BEGIN IMMEDIATE", [], origin: .store)
            let version = try connection.queryOne("PRAGMA user_version", [], origin: .store)?.int64(0) ?? 0
            try connection.execute("PRAGMA user_version = \(version)", [], origin: .store)
            try connection.execute("COMMIT", [], origin: .store)
        } catch {
            connection.rollbackIfInTransaction()
        }
    }

    /// Counts writes the disk refused; returns `storageFailed` if they start an episode.
    private static func noteStorageFailures(_ count: Int, _ failure: StoreError, in state: inout State) -> StoreEvent? {
        let startsEpisode = state.storageFailuresInEpisode == 0
        state.statistics.storageFailures += count
        state.storageFailuresInEpisode += count
        return startsEpisode ? .storageFailed(failure) : nil
    }

    /// Runs one body between SAVEPOINT and RELEASE, rolling back to the savepoint if the body failed.
    /// Returns how to answer its caller after COMMIT, and the body's error if the disk caused it; throws
    /// only for failures that end the whole batch.
    private func runInOwnSavepoint(
        _ write: QueuedWrite
    ) throws -> (deliver: @Sendable () -> Void, keptChanges: Bool, storageFailure: StoreError?) {
        try connection.execute("SAVEPOINT batched_write", [], origin: .store)
        connection.forgetLastError()
        let outcome = write.run(WriteTransaction(runner: connection))
        try requireBatchTransaction()
        var deliver = outcome.deliver
        var keepsChanges = outcome.error == nil
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
        let storageFailure = (outcome.error as? StoreError).flatMap { $0.storageFault == nil ? nil : $0 }
        return (deliver, keepsChanges, storageFailure)
    }

    /// SQLite rolls a whole transaction back by itself after a trigger's RAISE(ROLLBACK) and after some
    /// failures (disk full, I/O error). The next body would then run in autocommit mode and commit on its
    /// own, outside the batch: stop the batch instead, naming the failure that caused the rollback.
    private func requireBatchTransaction() throws {
        guard connection.isInTransaction else {
            let cause = connection.lastError
            throw StoreError(
                .transactionRolledBack, resultCode: cause?.resultCode ?? 0, operation: "run a batch of writes",
                message: "SQLite rolled back the batch's transaction"
                    + (cause.map { " after: \($0.operation): \($0.message)" }
                        ?? " (a trigger's RAISE(ROLLBACK), a full disk or an I/O error)"),
                systemErrorNumber: cause?.systemErrorNumber ?? 0)
        }
    }
}

/// One caller's write waiting for the writer: how to run its body, and how to answer it.
package struct QueuedWrite: Sendable {
    package struct Outcome {
        /// What the body threw, nil if it returned; its savepoint is rolled back if it threw.
        package let error: (any Error)?
        /// Resumes the caller with the body's result or error; called only after COMMIT returned.
        package let deliver: @Sendable () -> Void
    }

    /// Runs the body inside its savepoint.
    package let run: @Sendable (WriteTransaction) -> Outcome
    /// Resumes the caller with the store's error instead: one that failed the whole batch (BEGIN, a savepoint,
    /// COMMIT), or this body's unresolved deferred foreign key.
    package let fail: @Sendable (any Error) -> Void

    /// Queues `body` with `enqueue` and waits for its answer: every engine's `write`. A refused enqueue
    /// (overloaded, closed) is the caller's error at once.
    package static func submit<T: Sendable>(
        _ body: @escaping @Sendable (WriteTransaction) throws -> T, to enqueue: (QueuedWrite) throws -> Void
    ) async throws -> T {
        try await withCheckedThrowingContinuation { (caller: CheckedContinuation<T, any Error>) in
            do {
                try enqueue(QueuedWrite(body, answering: caller))
            } catch {
                caller.resume(throwing: error)
            }
        }
    }

    /// Wraps a typed body and the caller's continuation; the writer calls exactly one of `deliver` and `fail`.
    package init<T: Sendable>(
        _ body: @escaping @Sendable (WriteTransaction) throws -> T,
        answering caller: CheckedContinuation<T, any Error>
    ) {
        run = { transaction in
            let result = Result { try body(transaction) }
            let error: (any Error)? = if case .failure(let error) = result { error } else { nil }
            return Outcome(error: error, deliver: { caller.resume(with: result) })
        }
        fail = { error in caller.resume(throwing: error) }
    }
}
