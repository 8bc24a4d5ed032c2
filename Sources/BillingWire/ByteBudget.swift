import Synchronization

/// Bytes a process holds for all its connections together, against a limit: the bytes of frames not yet
/// arrived whole (inbound), or of replies not yet taken by their peers (outbound).
///
/// Each connection has limits of its own, but a few hundred peers each holding up to them could still
/// exhaust memory: 100 peers that sent all of a large frame but its last byte took half a gigabyte, and
/// 32 that never read their replies, a quarter.
public final class ByteBudget: Sendable {
    public let limitBytes: Int
    private let used = Atomic<Int>(0)

    public init(limitBytes: Int) {
        self.limitBytes = limitBytes
    }

    /// Bytes held now.
    public var usedBytes: Int { used.load(ordering: .relaxed) }

    /// Whether more is held than the limit allows (bytes already held are counted whatever the limit).
    public var isOverLimit: Bool { usedBytes > limitBytes }

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

    /// Counts `bytes` more (or fewer, if negative), within the limit or not.
    func add(_ bytes: Int) {
        used.add(bytes, ordering: .relaxed)
    }

    func give(_ bytes: Int) {
        used.subtract(bytes, ordering: .relaxed)
    }
}
