import BillingLocking

/// Bounds the calls one client has in flight, so that a burst of callers waits its turn here instead of
/// being refused RESOURCE_EXHAUSTED by the server's per-connection limit. Waiters are served first come,
/// first served, and give up at their deadline or when their task is cancelled.
final class CallSlots: Sendable {
    private struct State {
        var available: Int
        var waiters: [(id: UInt64, continuation: CheckedContinuation<Bool, Never>)] = []
        var nextID: UInt64 = 0
    }

    private let state: Locked<State>

    init(_ count: Int) {
        state = Locked(State(available: count))
    }

    /// Takes a slot; false when the deadline passed or the task was cancelled first.
    func acquire(until deadline: ContinuousClock.Instant) async -> Bool {
        let id: UInt64? = state.withLock { state in
            if state.available > 0 {
                state.available -= 1
                return nil
            }
            defer { state.nextID += 1 }
            return state.nextID
        }
        guard let id else { return true }
        let expiry = Task { [weak self] in
            try? await Task.sleep(until: deadline)
            self?.giveUp(id)
        }
        defer { expiry.cancel() }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let immediate: Bool? = state.withLock { state in
                    if state.available > 0 {
                        state.available -= 1
                        return true
                    }
                    if Task.isCancelled || ContinuousClock.now >= deadline { return false }
                    state.waiters.append((id, continuation))
                    return nil
                }
                if let immediate { continuation.resume(returning: immediate) }
            }
        } onCancel: {
            giveUp(id)
        }
    }

    /// Returns a slot: hands it to the longest waiter, if any.
    func release() {
        let next = state.withLock { state -> CheckedContinuation<Bool, Never>? in
            guard !state.waiters.isEmpty else {
                state.available += 1
                return nil
            }
            return state.waiters.removeFirst().continuation
        }
        next?.resume(returning: true)
    }

    private func giveUp(_ id: UInt64) {
        let waiter = state.withLock { state -> CheckedContinuation<Bool, Never>? in
            guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
            return state.waiters.remove(at: index).continuation
        }
        waiter?.resume(returning: false)
    }
}
