import BillingLocking
import Dispatch
import Glibc
import Testing

@Suite("Locked")
struct LockedTests {
    /// What the lock guards beside its own value: a plain counter, as a class's state often is.
    final class Guarded: @unchecked Sendable {
        let lock = Locked(0)
        var outside = 0
    }

    /// Four threads contend for one lock. Every increment counts; and under ThreadSanitizer (`make test-tsan`)
    /// nothing is reported: with `Synchronization.Mutex` in its place, the contended lock is taken inside
    /// the uninstrumented runtime and TSan reports a race (3 runs out of 3 of the same code, alone).
    @Test func contendedCriticalSectionsCountEveryIncrementAndAreOrderedForThreadSanitizer() {
        let guarded = Guarded()
        let group = DispatchGroup()
        for _ in 0..<4 {
            DispatchQueue.global().async(group: group) {
                for _ in 0..<20_000 {
                    guarded.lock.withLock { value in
                        value += 1
                        guarded.outside += 1
                    }
                }
            }
        }
        group.wait()
        #expect(guarded.lock.withLock { $0 } == 80_000)
        #expect(guarded.lock.withLock { _ in guarded.outside } == 80_000)
    }

    /// Made on a Dispatch thread and handed to the awaiting task.
    final class Made: @unchecked Sendable {
        var value = 0
    }

    /// The worker resumes the continuation before the task reaches its `await` (the sleep makes sure), so
    /// the runtime lets the task go on without telling ThreadSanitizer; `HandOver` tells it. Under TSan
    /// (`make test-tsan`) nothing is reported; without the hand-over, the read of `value` is.
    @Test func aResultHandedOverBeforeTheAwaitIsOrderedForThreadSanitizer() async {
        var total = 0
        for _ in 0..<20 {
            let handOver = ThreadSanitizer.HandOver()
            let made = await withCheckedContinuation { (continuation: CheckedContinuation<Made, Never>) in
                DispatchQueue.global().async {
                    let made = Made()
                    made.value = 1
                    handOver.release()
                    continuation.resume(returning: made)
                }
                usleep(2_000)
            }
            handOver.acquire()
            total += made.value
        }
        #expect(total == 20)
    }

    @Test func typedErrorsPassThrough() {
        struct Refused: Error, Equatable {}
        let lock = Locked([1, 2])
        #expect(throws: Refused()) {
            try lock.withLock { (values: inout [Int]) throws(Refused) -> Int in
                values.append(3)
                throw Refused()
            }
        }
        #expect(lock.withLock { $0 } == [1, 2, 3])
    }
}
