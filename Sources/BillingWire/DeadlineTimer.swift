import Dispatch

/// One Dispatch timer per connection that fires at the earliest deadline of its calls, on the
/// connection's queue: cheaper than a timer per call, and monotonic (DispatchTime does not follow
/// wall-clock changes).
///
/// The owner arms it with each new deadline; when it fires, the owner expires what is due and arms
/// it again with the earliest deadline left. Arming with a later deadline than the armed one is a no-op.
public final class DeadlineTimer: @unchecked Sendable {
    private let timer: any DispatchSourceTimer
    private let queue: DispatchQueue
    private var armed: ContinuousClock.Instant?

    public init(queue: DispatchQueue, onFire: @escaping () -> Void) {
        self.queue = queue
        self.timer = DispatchSource.makeTimerSource(queue: queue)
        timer.setEventHandler { [unowned self] in
            armed = nil
            onFire()
        }
        timer.schedule(deadline: .distantFuture)
        timer.activate()
    }

    /// Makes sure the timer fires no later than `deadline`.
    public func arm(at deadline: ContinuousClock.Instant) {
        dispatchPrecondition(condition: .onQueue(queue))
        if let armed, armed <= deadline { return }
        armed = deadline
        timer.schedule(deadline: .now() + .nanoseconds(Int(max(.zero, deadline - .now).nanoseconds)), leeway: .milliseconds(1))
    }

    /// Stops the timer for good.
    public func cancel() {
        timer.cancel()
    }
}
