extension Duration {
    /// Whole nanoseconds, as the wire's `timeout_nano` and Dispatch want them.
    public var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }

    public var microseconds: Int64 { nanoseconds / 1_000 }
}
