import BillingWire
import Dispatch
import Logging

/// One client connection: its frames, its calls in flight, their deadlines, and its share of the limits.
///
/// All state lives on the channel's serial queue. Handlers run as Swift tasks that prefer this queue
/// as their executor (no thread hop for a small call); calls interleave at every suspension point, and
/// actor-isolated work runs on its actor, so only long synchronous stretches (rendering a PDF, a few ms)
/// delay the connection's other calls.
final class Connection: @unchecked Sendable {
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

    let id: UInt64
    let channel: FrameChannel
    let peer: PeerCredentials?
    private let router: Router
    private let limits: ServerLimits
    private let access: AccessPolicy
    private let metrics: ServerMetrics
    private var logger: Logger
    private let onClosed: @Sendable (Connection) -> Void

    private var calls: [UInt32: Call] = [:]
    private var highestStreamID: UInt32 = 0
    private var isDraining = false
    private var lastActivity = ContinuousClock.now
    private var deadlineTimer: DeadlineTimer!
    /// Handlers run on this connection's queue unless they hop to an actor.
    private let executor: QueueExecutor
    private var idleTimer: (any DispatchSourceTimer)?

    init(
        id: UInt64, fileDescriptor: Int32, router: Router, configuration: ServerConfiguration,
        metrics: ServerMetrics, logger: Logger, onClosed: @escaping @Sendable (Connection) -> Void
    ) {
        self.id = id
        let queue = DispatchQueue(label: "billing.connection.\(id)")
        self.channel = FrameChannel(
            fileDescriptor: fileDescriptor, queue: queue,
            maxFramePayloadBytes: configuration.limits.maxFramePayloadBytes,
            maxBufferedOutboundBytes: configuration.limits.maxBufferedOutboundBytesPerConnection
        )
        self.executor = QueueExecutor(queue: queue)
        self.peer = UnixSocket.peerCredentials(of: fileDescriptor)
        self.router = router
        self.limits = configuration.limits
        self.access = configuration.access
        self.metrics = metrics
        self.logger = logger
        self.logger[metadataKey: "connection"] = "\(id)"
        if let peer { self.logger[metadataKey: "peer"] = "\(peer)" }
        self.onClosed = onClosed
    }

    /// Starts serving; call once, from any thread.
    func start() {
        channel.queue.async { [self] in
            channel.onPreface = { [unowned self] verdict in acceptPreface(verdict) }
            channel.onFrame = { [unowned self] decoded in
                lastActivity = .now
                handle(decoded)
            }
            channel.onMalformed = { [unowned self] error in protocolViolation("\(error)") }
            channel.onTransfer = { [metrics] received, sent in
                if received > 0 { metrics.bytesReceived.increment(by: received) }
                if sent > 0 { metrics.bytesSent.increment(by: sent) }
            }
            channel.onClose = { [unowned self] reason in closed(reason) }
            deadlineTimer = DeadlineTimer(queue: channel.queue) { [unowned self] in expireDeadlines() }
            let idleCheck = DispatchTimeInterval.nanoseconds(Int(limits.idleTimeout.nanoseconds / 4))
            let idleTimer = DispatchSource.makeTimerSource(queue: channel.queue)
            idleTimer.setEventHandler { [unowned self] in closeIfIdle() }
            idleTimer.schedule(deadline: .now() + idleCheck, repeating: idleCheck, leeway: .milliseconds(100))
            idleTimer.activate()
            self.idleTimer = idleTimer
            channel.start()
        }
    }

    /// Refuses a connection over the server's limit: the client learns why from a GOAWAY.
    func refuse(_ error: RPCError) {
        channel.queue.async { [self] in
            channel.onClose = { [unowned self] _ in closed(nil) }
            channel.start()
            sendGoAway(error)
            channel.closeAfterFlush(.closedLocally(error.message))
        }
    }

    /// Shutdown, first step: no new calls; calls in flight may finish.
    func drain() {
        channel.queue.async { [self] in
            guard !isDraining, !channel.isClosed else { return }
            isDraining = true
            sendGoAway(RPCError(.unavailable, "the server is shutting down; retry on a new connection", reason: .shuttingDown))
            if calls.isEmpty { channel.closeAfterFlush(.closedLocally("drained")) }
        }
    }

    /// Shutdown, last step: the grace period is over; cancel what still runs and close.
    func forceClose() {
        channel.queue.async { [self] in
            for call in Array(calls.values) {
                finish(call, RPCError(.unavailable, "the server shut down before the call finished", reason: .shuttingDown))
            }
            channel.closeAfterFlush(.closedLocally("shutdown grace period over"))
        }
    }

    // MARK: Frames

    private func acceptPreface(_ verdict: ConnectionPreface.Verdict) -> Bool {
        switch verdict {
        case .accepted:
            return true
        case .unsupportedVersion(let version):
            logger.warning("refused a peer speaking protocol version \(version)")
            sendGoAway(RPCError(
                .failedPrecondition,
                "protocol version \(version) is not supported; this server speaks version \(ConnectionPreface.currentVersion)",
                reason: .unsupportedProtocolVersion))
            channel.closeAfterFlush(.closedLocally("unsupported protocol version"))
            return false
        case .notThisProtocol:
            logger.warning("refused a peer that did not send the billing RPC preface")
            channel.sendRaw(Array("billing-rpc: expected the preface \"BRPC\" and a protocol version; see docs/PROTOCOL.md\n".utf8))
            channel.closeAfterFlush(.closedLocally("not a billing RPC peer"))
            return false
        }
    }

    private func handle(_ decoded: DecodedFrame) {
        switch decoded {
        case .oversized(let header):
            logger.warning("frame larger than the limit", metadata: ["stream": "\(header.streamID)", "type": "\(header.type)", "bytes": "\(header.payloadLength)"])
            let error = RPCError(
                .resourceExhausted,
                "a \(header.type) frame of \(header.payloadLength) bytes exceeds the \(limits.maxFramePayloadBytes)-byte frame limit",
                reason: .messageTooLarge)
            if let call = calls[header.streamID] {
                finish(call, error)
            } else if header.type == .request {
                sendResponse(streamID: header.streamID, status: RPCStatus(error))
            }
        case .frame(let frame):
            switch frame.type {
            case .request: startCall(frame)
            case .cancel: cancelCall(streamID: frame.streamID)
            case .windowUpdate: grantWindow(frame)
            case .response, .data, .goAway:
                protocolViolation("a client sent a \(frame.type) frame, which only servers send")
            default:
                logger.warning("unknown frame type", metadata: ["stream": "\(frame.streamID)", "type": "\(frame.type)"])
                if frame.streamID != 0, calls[frame.streamID] == nil {
                    sendResponse(
                        streamID: frame.streamID,
                        status: RPCStatus(RPCError(.invalidArgument, "frame type \(frame.type) is not part of protocol version 1", reason: .protocolViolation)))
                }
            }
        }
    }

    private func startCall(_ frame: Frame) {
        let streamID = frame.streamID
        guard streamID % 2 == 1 else { return protocolViolation("stream ids chosen by clients must be odd; got \(streamID)") }
        guard calls[streamID] == nil else { return protocolViolation("stream \(streamID) already has a call in flight") }
        let request: RequestEnvelope
        do {
            request = try RequestEnvelope(wireBytes: frame.payload)
        } catch where error.reason == TransportReason.invalidString.rawValue {
            // Well framed, but a string in the envelope is refused: answer this call, keep the connection.
            highestStreamID = max(highestStreamID, streamID)
            return answerWithoutRunning(streamID: streamID, method: "unknown", requestID: "\(id)-\(streamID)", started: .now, error: error)
        } catch {
            return protocolViolation("the REQUEST frame on stream \(streamID) does not hold a valid Request envelope")
        }
        highestStreamID = max(highestStreamID, streamID)
        let handler = router.handler(service: request.service, method: request.method)
        // Metrics and logs name registered methods only: any peer could otherwise grow the label set.
        let method = handler == nil ? "unknown" : "\(request.service)/\(request.method)"
        let started = ContinuousClock.now
        let requestID = request.metadata.first { $0.key == "request-id" }?.value.prefix(64).description ?? "\(id)-\(streamID)"

        let refusal: RPCError? =
            if isDraining {
                RPCError(.unavailable, "the server is shutting down; retry on a new connection", reason: .shuttingDown)
            } else if calls.count >= limits.maxCallsInFlightPerConnection {
                RPCError(.resourceExhausted, "this connection already has \(limits.maxCallsInFlightPerConnection) calls in flight, the limit; wait for some to finish or open another connection", reason: .tooManyCalls)
            } else if let problem = metadataProblem(request.metadata) {
                problem
            } else if request.timeoutNanoseconds < 0 {
                RPCError(.invalidArgument, "timeout_nano must not be negative", details: [.field("timeout_nano")])
            } else if !access.allows(peer) {
                RPCError(.permissionDenied, "uid \(peer.map { "\($0.uid)" } ?? "unknown") is not allowed to call this server")
            } else {
                nil
            }
        if let refusal {
            return answerWithoutRunning(streamID: streamID, method: method, requestID: requestID, started: started, error: refusal)
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
        deadlineTimer.arm(at: call.deadline)
        let context = CallContext(method: method, requestID: requestID, deadline: call.deadline, peer: peer, metadata: request.metadata)
        let payload = request.payload
        switch handler {
        case .unary(let body):
            call.task = Task(executorPreference: executor) { [self] in
                let result: Result<[UInt8], any Error>
                do { result = .success(try await body(payload, context)) } catch { result = .failure(error) }
                channel.queue.async { [self] in complete(call, result) }
            }
        case .serverStream(let body):
            let window = min(request.streamWindow == 0 ? limits.defaultStreamWindow : request.streamWindow, StreamWindow.max)
            let stream = ServerStreamWriter(initialCredit: window, maxCredit: StreamWindow.max) { [self] message in
                channel.queue.async { [self] in
                    guard calls[streamID] === call else { return }
                    channel.send(Frame(streamID: streamID, type: .data, payload: message))
                }
            }
            call.stream = stream
            call.task = Task(executorPreference: executor) { [self] in
                let result: Result<[UInt8], any Error>
                do {
                    try await body(payload, context, stream)
                    result = .success([])
                } catch {
                    result = .failure(error)
                }
                channel.queue.async { [self] in complete(call, result) }
            }
        }
    }

    private func cancelCall(streamID: UInt32) {
        guard let call = calls[streamID] else { return }
        finish(call, RPCError(.cancelled, "the client cancelled the call"))
    }

    private func grantWindow(_ frame: Frame) {
        guard let stream = calls[frame.streamID]?.stream else { return }
        guard let update = try? WindowUpdateEnvelope(wireBytes: frame.payload) else {
            return protocolViolation("the WINDOW_UPDATE frame on stream \(frame.streamID) is not valid protobuf")
        }
        stream.grant(update.messages)
    }

    private func metadataProblem(_ metadata: [MetadataEntry]) -> RPCError? {
        guard metadata.count <= limits.maxMetadataEntries else {
            return RPCError(.resourceExhausted, "the request carries \(metadata.count) metadata entries; the limit is \(limits.maxMetadataEntries)", reason: .metadataTooLarge)
        }
        let bytes = metadata.reduce(0) { $0 + $1.key.utf8.count + $1.value.utf8.count }
        guard bytes <= limits.maxMetadataBytes else {
            return RPCError(.resourceExhausted, "the request carries \(bytes) bytes of metadata; the limit is \(limits.maxMetadataBytes)", reason: .metadataTooLarge)
        }
        return nil
    }

    /// A peer that breaks the framing rules cannot be trusted with more frames: tell it why, then close.
    private func protocolViolation(_ message: String) {
        logger.warning("closing connection: \(message)")
        sendGoAway(RPCError(.invalidArgument, message, reason: .protocolViolation))
        for call in Array(calls.values) { finish(call, RPCError(.cancelled, "the connection broke the protocol and was closed", reason: .protocolViolation)) }
        channel.closeAfterFlush(.closedLocally(message))
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
        sendResponse(streamID: call.streamID, status: status, payload: error == nil ? payload : [])
        record(method: call.method, requestID: call.requestID, code: status.code, started: call.started)
        if isDraining && calls.isEmpty { channel.closeAfterFlush(.closedLocally("drained")) }
    }

    private func answerWithoutRunning(streamID: UInt32, method: String, requestID: String, started: ContinuousClock.Instant, error: RPCError) {
        sendResponse(streamID: streamID, status: RPCStatus(error))
        record(method: method, requestID: requestID, code: error.code, started: started)
    }

    private func sendResponse(streamID: UInt32, status: RPCStatus, payload: [UInt8] = []) {
        channel.send(Frame(streamID: streamID, type: .response, payload: ResponseEnvelope(status: status, payload: payload).wireBytes()))
    }

    private func sendGoAway(_ error: RPCError) {
        let goAway = GoAwayEnvelope(lastStreamID: highestStreamID, status: RPCStatus(error))
        channel.send(Frame(streamID: 0, type: .goAway, payload: goAway.wireBytes()))
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

    private func expireDeadlines() {
        let now = ContinuousClock.now
        for call in Array(calls.values) {
            if call.deadline <= now {
                finish(call, RPCError(.deadlineExceeded, "the call did not finish within its deadline"))
            } else {
                deadlineTimer.arm(at: call.deadline)
            }
        }
    }

    private func closeIfIdle() {
        guard calls.isEmpty, ContinuousClock.now - lastActivity >= limits.idleTimeout, !channel.isClosed else { return }
        logger.debug("closing idle connection")
        sendGoAway(RPCError(.unavailable, "the connection was idle for \(limits.idleTimeout); reconnect to call again", reason: .idle))
        channel.closeAfterFlush(.closedLocally("idle"))
    }

    private func closed(_ reason: FrameChannel.CloseReason?) {
        if let reason {
            switch reason {
            case .malformed: logger.warning("connection closed: \(reason)")
            default: logger.debug("connection closed: \(reason)")
            }
        }
        for call in Array(calls.values) {
            calls[call.streamID] = nil
            call.task?.cancel()
            call.stream?.close(RPCError(.cancelled, "the connection closed"))
            record(method: call.method, requestID: call.requestID, code: .cancelled, started: call.started)
        }
        deadlineTimer?.cancel()
        idleTimer?.cancel()
        onClosed(self)
    }
}
