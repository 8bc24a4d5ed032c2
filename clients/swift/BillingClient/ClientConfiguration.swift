/// How a client reaches the server and how patient it is.
public struct ClientConfiguration: Sendable {
    public var socketPath: String
    /// The deadline of a call whose options name none.
    public var defaultTimeout: Duration = .seconds(10)
    public var retry = RetryPolicy()
    /// Largest frame the client accepts from the server.
    public var maxFramePayloadBytes = 4 * 1024 * 1024
    /// Server streams: messages buffered before the server must wait for this client to read.
    public var streamWindow: UInt32 = 16
    /// Unary calls in flight at once; more wait (until their deadline) for one to finish. Keep it at or
    /// below the server's calls-in-flight limit per connection (256 by default).
    public var maxConcurrentCalls = 256

    public init(socketPath: String) {
        self.socketPath = socketPath
    }
}

/// Retries happen only where they are safe: a call that never reached the server (it could not connect,
/// or the server said GOAWAY before taking it), or a call marked idempotent that failed UNAVAILABLE.
public struct RetryPolicy: Sendable {
    /// Attempts in all, the first included.
    public var maxAttempts = 4
    public var initialBackoff: Duration = .milliseconds(20)
    public var maxBackoff: Duration = .seconds(1)

    public init(maxAttempts: Int = 4, initialBackoff: Duration = .milliseconds(20), maxBackoff: Duration = .seconds(1)) {
        self.maxAttempts = maxAttempts
        self.initialBackoff = initialBackoff
        self.maxBackoff = maxBackoff
    }

    public static let never = RetryPolicy(maxAttempts: 1)

    /// Full jitter: a random wait up to the exponential backoff, so retrying clients spread out.
    func backoff(beforeAttempt attempt: Int) -> Duration {
        let ceiling = min(maxBackoff, initialBackoff * (1 << min(attempt - 1, 16)))
        return .nanoseconds(Int64.random(in: 0...max(1, ceiling.nanoseconds)))
    }
}

/// Per-call choices.
public struct CallOptions: Sendable {
    /// The call's deadline, relative to its start; nil takes the client's default.
    public var timeout: Duration?
    /// The caller promises that running the call twice has the effect of running it once (reads, or
    /// writes carrying an idempotency key), so UNAVAILABLE after sending may be retried.
    public var isIdempotent: Bool
    public var metadata: [MetadataEntry]

    public init(timeout: Duration? = nil, isIdempotent: Bool = false, metadata: [MetadataEntry] = []) {
        self.timeout = timeout
        self.isIdempotent = isIdempotent
        self.metadata = metadata
    }
}
