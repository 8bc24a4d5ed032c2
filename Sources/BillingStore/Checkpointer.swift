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
final class Checkpointer: Sendable {
    private let connection: SQLiteConnection
    private let interval: Duration
    private let isClosed = Locked(false)

    init(connection: SQLiteConnection, interval: Duration) {
        self.connection = connection
        self.interval = interval
        scheduleNext()
    }

    private func scheduleNext() {
        let (seconds, attoseconds) = interval.components
        let nanoseconds = Int(seconds) * 1_000_000_000 + Int(attoseconds / 1_000_000_000)
        connection.queue.asyncAfter(deadline: .now() + .nanoseconds(nanoseconds)) { [self] in
            guard !isClosed.withLock({ $0 }) else { return }
            _ = connection.checkpointPassively()
            scheduleNext()
        }
    }

    /// Stops checkpointing and closes the connection, after a checkpoint in progress.
    func close() async {
        isClosed.withLock { $0 = true }
        await connection.closeOnQueue()
    }
}
