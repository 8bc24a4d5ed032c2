import BillingWire
import Dispatch
import Logging

/// What the call layer needs from its connection's transport: a way to answer, and word that the last
/// call ended.
protocol CallTransport: AnyObject {
    func sendResponse(streamID: UInt32, status: RPCStatus, payload: [UInt8])
    func sendData(streamID: UInt32, payload: [UInt8])
    /// A draining connection ran out of calls.
    func lastCallEnded()
}

/// The call layer of one connection: admission (draining, limits, metadata, access), routing, handler
/// tasks, deadlines, stream credit, and one metrics sample and log line per call. The transport below
/// (`ServerConnection`) hands it decoded requests and stream events; it never sees a frame header.
///
/// All state lives on the connection's serial queue. Handlers run as Swift tasks that start at once on
/// this queue, in the turn that read their request, and prefer it as their executor after a suspension
/// (no thread hop for a small call); calls interleave at every suspension point, and actor-isolated work
/// runs on its actor, so only long synchronous stretches (rendering a PDF, a few ms) delay the
/// connection's other calls.
final class CallDispatcher: @unchecked Sendable {
    /// One call in flight. Compared by identity, so that an answer for a call that already ended
    /// (by deadline or cancellation) is dropped even if its stream id is reused. Its mutable fields are
    /// touched on the connection's queue only.
    private final class Call: @unchecked Sendable {
        let streamID: UInt32
        let method: String
        let requestID: String
        let started: ContinuousClock.Instant
        let deadline: ContinuousClock.Instant
        var task: Task<Void, Never>?
        var stream: ServerStreamWriter?

        init(streamID: UInt32, method: String, requestID: String, started: ContinuousClock.Instant, deadline: ContinuousClock.Instant) {
            self.streamID = streamID
            self.method = method
            self.requestID = requestID
            self.started = started
            self.deadline = deadline
        }
    }

    private unowned let transport: any CallTransport
    private let queue: DispatchQueue
    private let connectionID: UInt64
    private let peer: PeerCredentials?
    private let router: Router
    private let limits: ServerLimits
    /// What this connection's peer may call: its credentials are read once, when it connects.
    private let role: AccessPolicy.Role
    private let metrics: ServerMetrics
    private let logger: Logger
    /// Handlers run on this connection's queue unless they hop to an actor.
    private let executor: QueueExecutor
    private var calls: [UInt32: Call] = [:]
    private var isDraining = false
    /// Made with the first call: connections that never call (most hostile ones) need none.
    private var deadlineTimer: DeadlineTimer?

    init(
        transport: any CallTransport, queue: DispatchQueue, connectionID: UInt64, peer: PeerCredentials?, router: Router,
        configuration: ServerConfiguration, metrics: ServerMetrics, logger: Logger
    ) {
        self.transport = transport
        self.queue = queue
        self.connectionID = connectionID
        self.peer = peer
        self.router = router
        self.limits = configuration.limits
        self.role = configuration.access.role(of: peer)
        self.metrics = metrics
        self.logger = logger
        self.executor = QueueExecutor(queue: queue)
        queue.setSpecific(key: Self.queueKey, value: connectionID)
    }

    var isIdle: Bool { calls.isEmpty }

    func hasCall(on streamID: UInt32) -> Bool { calls[streamID] != nil }

    /// Whether a server stream is in flight on `streamID` (WINDOW_UPDATEs for anything else are ignored).
    func hasStream(on streamID: UInt32) -> Bool { calls[streamID]?.stream != nil }

    // MARK: Admission and routing

    /// Admits, routes and starts the call a REQUEST opened, or answers it with the reason it is refused.
    func start(_ request: RequestEnvelope, streamID: UInt32) {
        let handler = router.handler(service: request.service, method: request.method)
        // Metrics and logs name registered methods only: any peer could otherwise grow the label set.
        let method = handler == nil ? "unknown" : "\(request.service)/\(request.method)"
        let started = ContinuousClock.now
        let requestID = request.metadata.first { $0.key == "request-id" }?.value.prefix(64).description ?? "\(connectionID)-\(streamID)"

        if let refusal = admissionProblem(request) {
            return answerWithoutRunning(streamID: streamID, method: method, requestID: requestID, started: started, error: refusal)
        }
        if handler != nil, role == .readOnly, !router.isReadOnly(service: request.service, method: request.method) {
            // Who was refused what, never with what: no payload reaches the log.
            logger.warning("refused a read-only caller", metadata: [
                "uid": "\(peer.map { "\($0.uid)" } ?? "unknown")", "pid": "\(peer.map { "\($0.pid)" } ?? "unknown")", "method": "\(method)",
            ])
            let error = RPCError(
                .permissionDenied, "uid \(peer.map { "\($0.uid)" } ?? "unknown") may only read; \(method) changes the account", reason: .readOnlyCaller)
            return answerWithoutRunning(streamID: streamID, method: method, requestID: requestID, started: started, error: error)
        }
        guard let handler else {
            let error = router.hasService(request.service)
                ? RPCError(.unimplemented, "service \(request.service.prefix(200)) has no method \(request.method.prefix(200))", reason: .unknownMethod)
                : RPCError(.unimplemented, "unknown service \(request.service.prefix(200))", reason: .unknownService)
            return answerWithoutRunning(streamID: streamID, method: method, requestID: requestID, started: started, error: error)
        }

        let requested = request.timeoutNanoseconds == 0 ? limits.defaultCallTimeout : .nanoseconds(request.timeoutNanoseconds)
        let call = Call(streamID: streamID, method: method, requestID: requestID, started: started, deadline: started + min(requested, limits.maxCallTimeout))
        calls[streamID] = call
        armDeadline(at: call.deadline)
        let context = CallContext(method: method, requestID: requestID, deadline: call.deadline, peer: peer, metadata: request.metadata)
        let payload = request.payload
        switch handler {
        case .unary(let body):
            run(call) { try await body(payload, context) }
        case .serverStream(let body):
            let window = min(request.streamWindow == 0 ? limits.defaultStreamWindow : request.streamWindow, StreamWindow.max)
            // The writer holds the call weakly: the call holds the writer, and a cycle between them kept
            // both, and this whole dispatcher, alive for good once the stream had ended.
            let stream = ServerStreamWriter(initialCredit: window, maxCredit: StreamWindow.max) { [self, weak call] message in
                guard let call else { return }
                queue.async { [self] in
                    guard calls[streamID] === call else { return }
                    transport.sendData(streamID: streamID, payload: message)
                }
            }
            call.stream = stream
            run(call) {
                try await body(payload, context, stream)
                return []
            }
        }
    }

    /// Refuses a well-formed request that cannot be taken (a string in its envelope, say) without running it.
    func refuse(streamID: UInt32, error: RPCError) {
        answerWithoutRunning(streamID: streamID, method: "unknown", requestID: "\(connectionID)-\(streamID)", started: .now, error: error)
    }

    private func admissionProblem(_ request: RequestEnvelope) -> RPCError? {
        if isDraining {
            return RPCError(.unavailable, "the server is shutting down; retry on a new connection", reason: .shuttingDown)
        }
        if calls.count >= limits.maxCallsInFlightPerConnection {
            return RPCError(
                .resourceExhausted,
                "this connection already has \(limits.maxCallsInFlightPerConnection) calls in flight, the limit; wait for some to finish or open another connection",
                reason: .tooManyCalls)
        }
        guard request.metadata.count <= limits.maxMetadataEntries else {
            return RPCError(.resourceExhausted, "the request carries \(request.metadata.count) metadata entries; the limit is \(limits.maxMetadataEntries)", reason: .metadataTooLarge)
        }
        let metadataBytes = request.metadata.reduce(0) { $0 + $1.key.utf8.count + $1.value.utf8.count }
        guard metadataBytes <= limits.maxMetadataBytes else {
            return RPCError(.resourceExhausted, "the request carries \(metadataBytes) bytes of metadata; the limit is \(limits.maxMetadataBytes)", reason: .metadataTooLarge)
        }
        if request.timeoutNanoseconds < 0 {
            return RPCError(.invalidArgument, "timeout_nano must not be negative", details: [.field("timeout_nano")])
        }
        if role == .none {
            logger.warning("refused a caller not on the allowlist", metadata: [
                "uid": "\(peer.map { "\($0.uid)" } ?? "unknown")", "pid": "\(peer.map { "\($0.pid)" } ?? "unknown")",
            ])
            return RPCError(.permissionDenied, "uid \(peer.map { "\($0.uid)" } ?? "unknown") is not allowed to call this server")
        }
        return nil
    }

    /// Runs a handler as a task that starts here and now, on the queue, and prefers this connection's
    /// executor once it suspends (`Task.immediate`). A handler that never suspends (a health check, a
    /// request refused by validation) is answered in the same turn; before, each call waited in the
    /// loop's queue twice more, once to start and once to be answered, behind every other connection's
    /// work there. A unary call's outcome is handled at once when the task ends on the queue (as it does
    /// unless its last stretch ran elsewhere). A stream's always goes behind its messages, which its
    /// writer queues (`start`): handled at once, the RESPONSE overtook them.
    private func run(_ call: Call, _ body: @escaping @Sendable () async throws -> [UInt8]) {
        call.task = Task.immediate(executorPreference: executor) { [self] in
            let result: Result<[UInt8], any Error>
            do { result = .success(try await body()) } catch { result = .failure(error) }
            if isOnQueue && call.stream == nil {
                complete(call, result)
            } else {
                queue.async { [self] in complete(call, result) }
            }
        }
    }

    /// Marks this connection's queue, so that code can tell whether it already runs there.
    private static let queueKey = DispatchSpecificKey<UInt64>()
    private var isOnQueue: Bool { DispatchQueue.getSpecific(key: Self.queueKey) == connectionID }

    // MARK: Stream events

    func cancel(streamID: UInt32) {
        guard let call = calls[streamID] else { return }
        finish(call, RPCError(.cancelled, "the client cancelled the call"))
    }

    /// The client granted a server stream `messages` more.
    func grant(_ messages: UInt32, streamID: UInt32) {
        calls[streamID]?.stream?.grant(messages)
    }

    /// Ends the call on `streamID` with `error`, if one is in flight (an oversized frame on its stream).
    func fail(streamID: UInt32, with error: RPCError) {
        guard let call = calls[streamID] else { return }
        finish(call, error)
    }

    // MARK: Shutdown

    /// No new calls from now on; calls in flight may finish.
    func beginDrain() {
        isDraining = true
    }

    /// Ends the server streams in flight with `error`, leaving unary calls to finish (the connection is no
    /// longer read, so no grant could reach a stream).
    func endStreams(with error: RPCError) {
        for call in Array(calls.values) where call.stream != nil { finish(call, error) }
    }

    /// Ends every call in flight with `error` (the grace period is over, or the peer broke the protocol).
    func endAll(with error: RPCError) {
        for call in Array(calls.values) { finish(call, error) }
    }

    /// The connection closed under the calls: stop them, and record them as cancelled.
    func connectionClosed() {
        for call in Array(calls.values) {
            calls[call.streamID] = nil
            call.task?.cancel()
            call.stream?.close(RPCError(.cancelled, "the connection closed"))
            record(method: call.method, requestID: call.requestID, code: .cancelled, started: call.started)
        }
        deadlineTimer?.cancel()
    }

    // MARK: Answers

    private func complete(_ call: Call, _ result: Result<[UInt8], any Error>) {
        switch result {
        case .success(let payload):
            finish(call, nil, payload: payload)
        case .failure(let error):
            finish(call, rpcError(from: error, requestID: call.requestID))
        }
    }

    /// Ends a call once: sends its RESPONSE, stops its task, records it. Later answers for it are dropped.
    private func finish(_ call: Call, _ error: RPCError?, payload: [UInt8] = []) {
        guard calls[call.streamID] === call else { return }
        calls[call.streamID] = nil
        if let error {
            call.task?.cancel()
            call.stream?.close(error)
        } else {
            call.stream?.close(RPCError(.cancelled, "the stream already ended"))
        }
        let status = error.map(RPCStatus.init) ?? .ok
        transport.sendResponse(streamID: call.streamID, status: status, payload: error == nil ? payload : [])
        record(method: call.method, requestID: call.requestID, code: status.code, started: call.started)
        if isDraining && calls.isEmpty { transport.lastCallEnded() }
    }

    private func answerWithoutRunning(streamID: UInt32, method: String, requestID: String, started: ContinuousClock.Instant, error: RPCError) {
        transport.sendResponse(streamID: streamID, status: RPCStatus(error), payload: [])
        record(method: method, requestID: requestID, code: error.code, started: started)
    }

    private func record(method: String, requestID: String, code: StatusCode, started: ContinuousClock.Instant) {
        let duration = ContinuousClock.now - started
        metrics.recordCall(method: method, code: code, duration: duration)
        logger.info("call", metadata: [
            "method": "\(method)", "status": "\(code)", "duration_us": "\(duration.microseconds)", "request_id": "\(requestID)",
        ])
    }

    /// Handler errors become statuses: `RPCError` as it is, domain errors through `RPCErrorConvertible`,
    /// and anything else INTERNAL, logged here by type only so no payload detail leaks to the caller.
    private func rpcError(from error: any Error, requestID: String) -> RPCError {
        switch error {
        case let error as RPCError: return error
        case let error as any RPCErrorConvertible: return error.rpcError
        case is CancellationError: return RPCError(.cancelled, "the call was cancelled")
        default:
            logger.error("handler failed with an unexpected error", metadata: ["request_id": "\(requestID)", "error_type": "\(type(of: error))"])
            return RPCError(.internalError, "internal error; quote request id \(requestID) when reporting it")
        }
    }

    // MARK: Time

    private func armDeadline(at deadline: ContinuousClock.Instant) {
        if deadlineTimer == nil { deadlineTimer = DeadlineTimer(queue: queue) { [unowned self] in expireDeadlines() } }
        deadlineTimer?.arm(at: deadline)
    }

    private func expireDeadlines() {
        let now = ContinuousClock.now
        for call in Array(calls.values) {
            if call.deadline <= now {
                finish(call, RPCError(.deadlineExceeded, "the call did not finish within its deadline"))
            } else {
                armDeadline(at: call.deadline)
            }
        }
    }
}
