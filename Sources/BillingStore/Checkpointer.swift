import BillingLocking
import CSQLite
import Dispatch

/// Copies the WAL back into the database file every `interval`, on a connection and queue of its own,
/// so that no commit has to (the writer's automatic checkpoints are off). With SQLite's default the
/// commit that takes the WAL past 1000 pages checkpoints before it returns, writing pages to the
/// database file and fsyncing it, and every caller in that batch waits for it: that was the p99 of a
/// batched commit (see docs/PERFORMANCE.md, "The WAL checkpoints").
///
/// Checkpoints are PASSIVE: they copy what no reader still needs and never wait for the writer or a
/// reader, so they cannot hold a commit up. One that fails (a full disk) is tried again next time; the
/// WAL meanwhile keeps growing, and the writer's own commits report the disk.
///
/// SQLite starts the WAL over only when a write transaction begins with every frame copied, which a
/// checkpoint beside a writer that never pauses never sees: the writer has always appended more by
/// the time it ends. So once the WAL holds `restartFrames` or more, the checkpointer checkpoints again
/// until a pass finds few frames appended during the one before, then asks the writer
/// (`takeRestartRequest`) to copy the rest between two batches; the writer's next batch writes the
/// WAL from its start. Without that the WAL grew for as long as debits kept coming: 750 MB in 10 s at
/// full speed, 1 GB in 16 s at half of it.
final class Checkpointer: Sendable {
    private let connection: SQLiteConnection
    private let interval: Duration
    private let restartFrames: Int32
    private let isClosed = Locked(false)
    private let restartIsDue = Locked(false)

    init(connection: SQLiteConnection, interval: Duration, restartFrames: Int32) {
        self.connection = connection
        self.interval = interval
        self.restartFrames = restartFrames
        scheduleNext()
    }

    /// True once after the checkpointer caught up with a WAL of `restartFrames` or more: the writer
    /// should checkpoint on its own connection before its next batch. (If the WAL started over in the
    /// meantime, that checkpoint finds little to copy.)
    func takeRestartRequest() -> Bool {
        restartIsDue.withLock { isDue in
            defer { isDue = false }
            return isDue
        }
    }

    private func scheduleNext() {
        let (seconds, attoseconds) = interval.components
        let nanoseconds = Int(seconds) * 1_000_000_000 + Int(attoseconds / 1_000_000_000)
        connection.queue.asyncAfter(deadline: .now() + .nanoseconds(nanoseconds)) { [self] in
            guard !isClosed.withLock({ $0 }) else { return }
            if catchUp() { restartIsDue.withLock { $0 = true } }
            scheduleNext()
        }
    }

    /// Checkpoints, and when the WAL has reached `restartFrames`, checkpoints again until a pass
    /// finds only a few frames appended since the one before (each pass copies what the writer
    /// appended during the last): true when the writer's own checkpoint would have little left to copy.
    private func catchUp() -> Bool {
        var last = connection.checkpointPassively()
        guard last.walFrames >= restartFrames else { return false }
        for _ in 0..<8 {
            guard last.copiedAll else { return false }
            let next = connection.checkpointPassively()
            guard next.copiedAll else { return false }
            // The WAL holds no more than this many frames the writer would have to copy itself.
            if next.walFrames - last.walFrames <= Self.framesLeftToTheWriter { return true }
            last = next
        }
        return false
    }

    /// At most this many frames, appended since the checkpointer's last pass, are left to the writer.
    private static let framesLeftToTheWriter: Int32 = 256

    /// Stops checkpointing and closes the connection, after a checkpoint in progress.
    func close() async {
        isClosed.withLock { $0 = true }
        await connection.closeOnQueue()
    }
}
