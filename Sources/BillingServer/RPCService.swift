import BillingLocking
import BillingWire

/// What a handler knows about the call it serves.
public struct CallContext: Sendable {
    /// `service/method`, for example `grpc.health.v1.Health/Check`.
    public var method: String
    /// Names the call in logs: the caller's `request-id` metadata, or one the server made.
    public var requestID: String
    /// When the caller stops waiting, on the monotonic clock. Handlers that wait should give up by then.
    public var deadline: ContinuousClock.Instant
    /// Who called, from `SO_PEERCRED`.
    public var peer: PeerCredentials?
    public var metadata: [MetadataEntry]

    /// Cancellation (by the caller, by the deadline, or by shutdown) reaches handlers as Swift task
    /// cancellation: check `Task.isCancelled` or call `Task.checkCancellation()` between steps.
    public var isCancelled: Bool { Task.isCancelled }
}

/// How a method is served: one reply, or a stream of messages then a status.
public enum MethodHandler: Sendable {
    case unary(@Sendable (_ request: [UInt8], _ context: CallContext) async throws -> [UInt8])
    case serverStream(@Sendable (_ request: [UInt8], _ context: CallContext, _ stream: ServerStreamWriter) async throws -> Void)

    /// A unary method with typed messages.
    public static func unary<Request: WireMessage, Response: WireMessage>(
        _ handler: @escaping @Sendable (Request, CallContext) async throws -> Response
    ) -> MethodHandler {
        .unary { bytes, context in try await handler(try Request(wireBytes: bytes), context).wireBytes() }
    }

    /// A server-streaming method with typed messages.
    public static func serverStream<Request: WireMessage, Response: WireMessage>(
        _ handler: @escaping @Sendable (Request, CallContext, TypedStreamWriter<Response>) async throws -> Void
    ) -> MethodHandler {
        .serverStream { bytes, context, stream in
            try await handler(try Request(wireBytes: bytes), context, TypedStreamWriter(stream))
        }
    }
}

/// A set of methods under one fully qualified service name.
public protocol RPCService: Sendable {
    static var serviceName: String { get }
    /// Method name → handler.
    var methods: [String: MethodHandler] { get }
    /// The server began to shut down: end server streams (watches) gracefully, since they never finish
    /// by themselves and would otherwise hold the drain open for the whole grace period.
    func beginDrain() async

    /// Whether `method` only reads, so that a read-only caller may call it. A method a service does not
    /// say is read-only is taken to change something.
    func isReadOnly(method: String) -> Bool
}

extension RPCService {
    public func beginDrain() async {}
    public func isReadOnly(method: String) -> Bool { false }
}

/// Sends the messages of one server stream, waiting while the client has granted no more
/// (the stream's window), so a slow consumer slows the handler instead of filling memory.
public final class ServerStreamWriter: Sendable {
    private struct State {
        var credit: UInt32
        var closed: RPCError?
        var waiter: CheckedContinuation<Void, any Error>?
    }

    private let state: Locked<State>
    private let maxCredit: UInt32
    private let deliver: @Sendable ([UInt8]) -> Void

    init(initialCredit: UInt32, maxCredit: UInt32, deliver: @escaping @Sendable ([UInt8]) -> Void) {
        self.state = Locked(State(credit: initialCredit))
        self.maxCredit = maxCredit
        self.deliver = deliver
    }

    /// Sends one message once the client has room for it. Throws CANCELLED once the call has ended.
    public func send(_ message: [UInt8]) async throws {
        while true {
            try Task.checkCancellation()
            let ready: Bool = try state.withLock { state in
                if let closed = state.closed { throw closed }
                guard state.credit > 0 else { return false }
                state.credit -= 1
                return true
            }
            if ready { return deliver(message) }
            try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { continuation in
                    let resumeNow: Bool = state.withLock { state in
                        if state.credit > 0 || state.closed != nil { return true }
                        state.waiter = continuation
                        return false
                    }
                    if resumeNow { continuation.resume() }
                }
            } onCancel: {
                close(RPCError(.cancelled, "the call was cancelled"))
            }
        }
    }

    /// The client granted `messages` more.
    func grant(_ messages: UInt32) {
        let waiter = state.withLock { state in
            state.credit = UInt32(min(UInt64(maxCredit), UInt64(state.credit) + UInt64(messages)))
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }

    /// The call ended: wake a waiting sender with `reason`.
    func close(_ reason: RPCError) {
        let waiter = state.withLock { state in
            if state.closed == nil { state.closed = reason }
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }
}

/// A `ServerStreamWriter` for one message type.
public struct TypedStreamWriter<Message: WireMessage>: Sendable {
    public let raw: ServerStreamWriter
    init(_ raw: ServerStreamWriter) { self.raw = raw }
    public func send(_ message: Message) async throws { try await raw.send(message.wireBytes()) }
}
