import BillingAPI
import BillingLocking
import BillingWire

/// A client of the billing RPC server: one connection, shared by every call made through it, opened on
/// first use and again after the server restarts.
///
/// ```swift
/// let client = RPCClient(configuration: .init(socketPath: "data/billingd.sock"))
/// let health = try await HealthClient(client).check()
/// ```
/// Calls are `async`; cancelling the calling task cancels the call on the server. Failures are `RPCError`.
public final class RPCClient: Sendable {
    public let configuration: ClientConfiguration
    private let connection = Locked<ClientConnection?>(nil)
    private let slots: CallSlots

    public init(configuration: ClientConfiguration) {
        self.configuration = configuration
        self.slots = CallSlots(max(1, configuration.maxConcurrentCalls))
    }

    deinit { connection.withLock { $0?.close() } }

    /// Closes the connection; a later call opens a new one.
    public func close() {
        connection.withLock { connection in
            connection?.close()
            connection = nil
        }
    }

    /// Calls a unary method with typed messages.
    public func unary<Request: WireMessage, Response: WireMessage>(
        _ service: String, _ method: String, _ request: Request, as: Response.Type = Response.self, options: CallOptions = CallOptions()
    ) async throws(RPCError) -> Response {
        try Response(wireBytes: try await unary(service, method, payload: request.wireBytes(), options: options))
    }

    /// Calls a unary method with an encoded request; returns the encoded reply.
    public func unary(_ service: String, _ method: String, payload: [UInt8], options: CallOptions = CallOptions()) async throws(RPCError) -> [UInt8] {
        let deadline = ContinuousClock.now + (options.timeout ?? configuration.defaultTimeout)
        guard await slots.acquire(until: deadline) else {
            throw Task.isCancelled
                ? RPCError(.cancelled, "the call was cancelled")
                : RPCError(.deadlineExceeded, "the deadline passed while \(configuration.maxConcurrentCalls) calls were in flight on this client")
        }
        defer { slots.release() }
        var attempt = 1
        while true {
            do {
                // Built per attempt, so that a retry tells the server the time left, not the time first asked for.
                let request = envelope(service, method, payload, deadline: deadline, options: options)
                return try await currentConnection().unary(request, deadline: deadline)
            } catch {
                let failure = Self.failure(from: error)
                // A charge whose outcome is pending waits for reconciliation: retrying at once rarely helps,
                // so the caller decides (a retry with the same key is safe whenever it comes).
                let retryable = failure.error.code == .unavailable && (!failure.mayHaveRun || options.isIdempotent)
                    && failure.error.reason != BillingV1.ErrorReason.chargePending.wireName
                guard retryable, attempt < configuration.retry.maxAttempts, !Task.isCancelled else { throw failure.error }
                let wait = configuration.retry.backoff(beforeAttempt: attempt)
                guard ContinuousClock.now + wait < deadline else { throw failure.error }
                try? await Task.sleep(for: wait)
                attempt += 1
            }
        }
    }

    /// Calls a server-streaming method: the returned sequence yields each message, then ends (or throws
    /// the call's error). The server sends no more than the client's window ahead of the reader.
    public func serverStream<Request: WireMessage, Response: WireMessage>(
        _ service: String, _ method: String, _ request: Request, as: Response.Type = Response.self, options: CallOptions = CallOptions()
    ) -> ServerStream<Response> {
        ServerStream(client: self, service: service, method: method, payload: request.wireBytes(), options: options)
    }

    func envelope(_ service: String, _ method: String, _ payload: [UInt8], deadline: ContinuousClock.Instant, options: CallOptions) -> RequestEnvelope {
        RequestEnvelope(
            service: service, method: method, payload: payload,
            timeoutNanoseconds: max(1, (deadline - .now).nanoseconds), metadata: options.metadata
        )
    }

    /// The open connection, or a new one when there is none or the old one is closing.
    func currentConnection() throws(CallFailure) -> ClientConnection {
        try connection.withLock { (current: inout ClientConnection?) throws(CallFailure) -> ClientConnection in
            if let open = current, open.acceptsNewCalls { return open }
            do {
                let fresh = try ClientConnection(socketPath: configuration.socketPath, configuration: configuration)
                current = fresh
                return fresh
            } catch {
                throw CallFailure(error: RPCError(.unavailable, "cannot reach the billing server: \(error)"), mayHaveRun: false)
            }
        }
    }

    static func failure(from error: any Error) -> CallFailure {
        switch error {
        case let failure as CallFailure: failure
        case let error as RPCError: CallFailure(error: error, mayHaveRun: true)
        default: CallFailure(error: RPCError(.unknown, "\(error)"), mayHaveRun: true)
        }
    }
}
