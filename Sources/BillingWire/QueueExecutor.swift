import Dispatch

/// A task executor that runs jobs on a connection's serial queue.
///
/// Handlers started with it as their preference run on the thread that already holds the connection,
/// instead of hopping to the shared pool and back for every call: the hops, not the work, were most of
/// the cost of a small call (see docs/PERFORMANCE.md). Code isolated to an actor still runs on the actor.
public final class QueueExecutor: TaskExecutor, @unchecked Sendable {
    public let queue: DispatchQueue

    public init(queue: DispatchQueue) {
        self.queue = queue
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        queue.async { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
