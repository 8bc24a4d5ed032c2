import Synchronization

/// The bytes a process holds for frames that have not arrived whole, across all its connections.
///
/// Each connection may hold one frame up to the frame limit while it arrives, and a few peers that send
/// all of a large frame but its last byte could otherwise hold the frame limit each: 100 such peers took
/// half a gigabyte. A connection whose next bytes would pass the budget is refused instead.
public final class InboundBudget: Sendable {
    public let limitBytes: Int
    private let used = Atomic<Int>(0)

    public init(limitBytes: Int) {
        self.limitBytes = limitBytes
    }

    /// Bytes held now.
    public var usedBytes: Int { used.load(ordering: .relaxed) }

    /// Takes `bytes` more, or nothing (false) when that would pass the limit.
    func take(_ bytes: Int) -> Bool {
        var current = used.load(ordering: .relaxed)
        while true {
            guard current + bytes <= limitBytes else { return false }
            let (exchanged, original) = used.compareExchange(expected: current, desired: current + bytes, ordering: .relaxed)
            if exchanged { return true }
            current = original
        }
    }

    func give(_ bytes: Int) {
        used.subtract(bytes, ordering: .relaxed)
    }
}
