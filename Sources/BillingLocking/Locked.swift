import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A value behind a lock: `Synchronization.Mutex`, with its critical sections made visible to
/// ThreadSanitizer. Use it wherever a `Mutex` would do; the API is the same.
///
/// ```swift
/// private let state = Locked(State())
/// let count = state.withLock { state in state.count += 1; return state.count }
/// ```
///
/// Why not `Mutex` itself: on Linux, `Mutex` takes a contended lock inside the Swift runtime's
/// `libswiftSynchronization.so` (a spin, then a futex system call), which is not built with ThreadSanitizer.
/// TSan then sees two threads touch the locked value with nothing ordering them, and reports a race
/// that is not one: four threads adding to a `Mutex<Int>` 20,000 times each end at exactly 80,000 and
/// are still reported (Swift 6.3.1). So each critical section here also tells TSan "acquire" on entry
/// and "release" on exit, on an address of this lock's own. Outside a TSan build the two calls do
/// nothing (the TSan runtime is not there to find).
///
/// A real race is still reported: code that touches the value, or anything else the lock guards,
/// without taking the lock gets no ordering from these calls.
public struct Locked<Value: ~Copyable>: ~Copyable, @unchecked Sendable {
    @usableFromInline let mutex: Mutex<Value>
    /// The address TSan orders critical sections by; never read or written. (The value's own address
    /// would do, but taking it counts as an access to the value, which TSan would check before the
    /// acquire.)
    @usableFromInline let synchronizationAddress: UnsafeMutableRawPointer

    public init(_ initialValue: consuming sending Value) {
        mutex = Mutex(initialValue)
        synchronizationAddress = .allocate(byteCount: 1, alignment: 1)
    }

    deinit {
        synchronizationAddress.deallocate()
    }

    /// Runs `body` with the value while holding the lock, as `Mutex.withLock` does. Inlinable, as that one
    /// is, so that callers in other modules get it specialized rather than through generic code.
    @inlinable
    public borrowing func withLock<Result: ~Copyable, E: Error>(
        _ body: (inout sending Value) throws(E) -> sending Result
    ) throws(E) -> sending Result {
        try mutex.withLock { (value: inout sending Value) throws(E) -> sending Result in
            ThreadSanitizer.acquire(synchronizationAddress)
            defer { ThreadSanitizer.release(synchronizationAddress) }
            return try body(&value)
        }
    }
}

/// ThreadSanitizer's annotations, when the process runs with it; otherwise nothing. For orderings that TSan
/// cannot see by itself: a lock taken inside an uninstrumented library (`Locked`), a result handed over by
/// the Swift runtime without telling TSan (`HandOver`).
///
/// Found by name at run time, as the Swift concurrency runtime finds them, so that one build of the code
/// serves both: a TSan build links the TSan runtime into the executable, a normal build does not.
public enum ThreadSanitizer {
    @usableFromInline typealias Annotation = @convention(c) (UnsafeMutableRawPointer?) -> Void

    @usableFromInline static let acquireAnnotation = function(named: "__tsan_acquire")
    @usableFromInline static let releaseAnnotation = function(named: "__tsan_release")

    /// What was released on `address` so far happens before what this thread does next.
    @inlinable
    public static func acquire(_ address: UnsafeMutableRawPointer) {
        acquireAnnotation?(address)
    }

    /// What this thread did so far happens before a later `acquire` of `address`.
    @inlinable
    public static func release(_ address: UnsafeMutableRawPointer) {
        releaseAnnotation?(address)
    }

    /// One hand-over from the thread that makes a result to the task that awaits it, through a
    /// continuation: the maker calls `release()` just before it resumes the continuation, the task calls
    /// `acquire()` just after its `await` returns.
    ///
    /// Needed because the Swift runtime (6.3.1) tells TSan about a resume only when the task had already
    /// suspended: when the resume comes first (the work was quicker than the task's way to its `await`),
    /// the task goes on with no ordering TSan can see, and its first use of the result is reported as a
    /// race. A short program shows it; with the resume after the suspension, nothing is reported.
    public final class HandOver: Sendable {
        public init() {}

        public func release() {
            ThreadSanitizer.release(Unmanaged.passUnretained(self).toOpaque())
        }

        public func acquire() {
            ThreadSanitizer.acquire(Unmanaged.passUnretained(self).toOpaque())
        }
    }

    private static func function(named name: String) -> Annotation? {
        // A null handle is glibc's RTLD_DEFAULT: search every object loaded in the process.
        dlsym(UnsafeMutableRawPointer(bitPattern: 0), name).map { unsafeBitCast($0, to: Annotation.self) }
    }
}
