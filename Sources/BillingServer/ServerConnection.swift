import BillingWire
import Dispatch
import Logging

/// The transport of one client connection: the socket, the preface, frames by type, GOAWAY, protocol
/// violations, idleness and closing. What a REQUEST, CANCEL or WINDOW_UPDATE asks for is the call
/// layer's business (`CallDispatcher`), which answers through `CallTransport`; this type never runs a
/// handler and never decides whether a call may run.
final class ServerConnection: CallTransport, @unchecked Sendable {
    let id: UInt64
    let channel: FrameChannel
    let peer: PeerCredentials?
    private let limits: ServerLimits
    private let metrics: ServerMetrics
    private var logger: Logger
    private let onClosed: @Sendable (ServerConnection) -> Void
    private var calls: CallDispatcher!

    private var highestStreamID: UInt32 = 0
    private var isDraining = false
    private var lastActivity = ContinuousClock.now
    private var idleTimer: (any DispatchSourceTimer)?

    /// - Parameter loop: the loop this connection's own queue runs on (see `RPCServer.loops`).
    init(
        id: UInt64, fileDescriptor: Int32, loop: ChannelLoop, inboundBudget: ByteBudget, outboundBudget: ByteBudget, router: Router, configuration: ServerConfiguration,
        metrics: ServerMetrics, logger: Logger, onClosed: @escaping @Sendable (ServerConnection) -> Void
    ) {
        self.id = id
        let queue = DispatchQueue(label: "billing.connection.\(id)", target: loop.queue)
        self.channel = FrameChannel(
            fileDescriptor: fileDescriptor, queue: queue,
            maxFramePayloadBytes: configuration.limits.maxFramePayloadBytes,
            maxBufferedOutboundBytes: configuration.limits.maxBufferedOutboundBytesPerConnection,
            inboundBudget: inboundBudget, outboundBudget: outboundBudget, loop: loop
        )
        self.peer = UnixSocket.peerCredentials(of: fileDescriptor)
        self.limits = configuration.limits
        self.metrics = metrics
        self.logger = logger
        self.logger[metadataKey: "connection"] = "\(id)"
        if let peer { self.logger[metadataKey: "peer"] = "\(peer)" }
        self.onClosed = onClosed
        self.calls = CallDispatcher(
            transport: self, queue: queue, connectionID: id, peer: peer, router: router, configuration: configuration,
            metrics: metrics, logger: self.logger)
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
            channel.onOverBudget = { [unowned self] in refuseOverBudget() }
            channel.onTransfer = { [metrics] received, sent in
                if received > 0 { metrics.bytesReceived.increment(by: received) }
                if sent > 0 { metrics.bytesSent.increment(by: sent) }
            }
            channel.onClose = { [unowned self] reason in closed(reason) }
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
            calls.beginDrain()
            sendGoAway(RPCError(.unavailable, "the server is shutting down; retry on a new connection", reason: .shuttingDown))
            if calls.isIdle { channel.closeAfterFlush(.closedLocally("drained")) }
        }
    }

    /// Shutdown, last step: the grace period is over; cancel what still runs and close.
    func forceClose() {
        channel.queue.async { [self] in
            calls.endAll(with: RPCError(.unavailable, "the server shut down before the call finished", reason: .shuttingDown))
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
            refuseOversized(header)
        case .frame(let frame):
            switch frame.type {
            case .request: receiveRequest(frame)
            case .cancel: calls.cancel(streamID: frame.streamID)
            case .windowUpdate: receiveWindowUpdate(frame)
            case .response, .data, .goAway:
                protocolViolation("a client sent a \(frame.type) frame, which only servers send")
            default:
                logger.warning("unknown frame type", metadata: ["stream": "\(frame.streamID)", "type": "\(frame.type)"])
                if frame.streamID != 0, !calls.hasCall(on: frame.streamID) {
                    sendResponse(
                        streamID: frame.streamID,
                        status: RPCStatus(RPCError(.invalidArgument, "frame type \(frame.type) is not part of protocol version 1", reason: .protocolViolation)),
                        payload: [])
                }
            }
        }
    }

    /// A REQUEST: the stream id rules and the envelope are the transport's; the call is the call layer's.
    private func receiveRequest(_ frame: Frame) {
        let streamID = frame.streamID
        guard streamID % 2 == 1 else { return protocolViolation("stream ids chosen by clients must be odd; got \(streamID)") }
        guard !calls.hasCall(on: streamID) else { return protocolViolation("stream \(streamID) already has a call in flight") }
        let request: RequestEnvelope
        do {
            request = try RequestEnvelope(wireBytes: frame.payload)
        } catch where error.reason == TransportReason.invalidString.rawValue {
            // Well framed, but a string in the envelope is refused: answer this call, keep the connection.
            highestStreamID = max(highestStreamID, streamID)
            return calls.refuse(streamID: streamID, error: error)
        } catch {
            return protocolViolation("the REQUEST frame on stream \(streamID) does not hold a valid Request envelope")
        }
        highestStreamID = max(highestStreamID, streamID)
        calls.start(request, streamID: streamID)
    }

    private func receiveWindowUpdate(_ frame: Frame) {
        guard calls.hasStream(on: frame.streamID) else { return }
        guard let update = try? WindowUpdateEnvelope(wireBytes: frame.payload) else {
            return protocolViolation("the WINDOW_UPDATE frame on stream \(frame.streamID) is not valid protobuf")
        }
        calls.grant(update.messages, streamID: frame.streamID)
    }

    /// The process holds as many bytes of incomplete frames as it may: this peer's were the ones too many.
    private func refuseOverBudget() {
        logger.warning("closing connection: its incomplete frame would pass the server's inbound budget")
        let error = RPCError(
            .resourceExhausted, "the server holds \(limits.maxBufferedInboundBytes) bytes of incomplete frames, its limit; retry later",
            reason: .serverBusy)
        sendGoAway(error)
        calls.endAll(with: error)
        channel.closeAfterFlush(.closedLocally("over the inbound budget"))
    }

    /// A frame over the limit is answered, and its connection ends without the rest being read: the
    /// protocol has no flow control for requests, so keeping the connection meant reading and throwing
    /// away every byte of the payload, and peers that declared 4 GiB and streamed into it, or sent one
    /// frame over the limit after another, kept the server reading gigabytes while its other clients
    /// waited. Calls in flight finish and are answered (they may have moved money); server streams end,
    /// since the client's grants can no longer be read; then the connection closes.
    private func refuseOversized(_ header: FrameHeader) {
        logger.warning("closing connection: frame larger than the limit", metadata: [
            "stream": "\(header.streamID)", "type": "\(header.type)", "bytes": "\(header.payloadLength)",
        ])
        let error = RPCError(
            .resourceExhausted,
            "a \(header.type) frame of \(header.payloadLength) bytes exceeds the \(limits.maxFramePayloadBytes)-byte frame limit; this connection takes no more calls",
            reason: .messageTooLarge)
        if calls.hasCall(on: header.streamID) {
            calls.fail(streamID: header.streamID, with: error)
        } else if header.type == .request {
            sendResponse(streamID: header.streamID, status: RPCStatus(error), payload: [])
        }
        channel.stopReading()
        isDraining = true  // a shutdown now sends no second GOAWAY
        calls.beginDrain()
        sendGoAway(error)
        calls.endStreams(with: error)
        if calls.isIdle { channel.closeAfterFlush(.closedLocally("frame larger than the limit")) }
    }

    /// A peer that breaks the framing rules cannot be trusted with more frames: tell it why, then close.
    private func protocolViolation(_ message: String) {
        logger.warning("closing connection: \(message)")
        sendGoAway(RPCError(.invalidArgument, message, reason: .protocolViolation))
        calls.endAll(with: RPCError(.cancelled, "the connection broke the protocol and was closed", reason: .protocolViolation))
        channel.closeAfterFlush(.closedLocally(message))
    }

    // MARK: CallTransport

    func sendResponse(streamID: UInt32, status: RPCStatus, payload: [UInt8]) {
        channel.send(Frame(streamID: streamID, type: .response, payload: ResponseEnvelope(status: status, payload: payload).wireBytes()))
    }

    func sendData(streamID: UInt32, payload: [UInt8]) {
        channel.send(Frame(streamID: streamID, type: .data, payload: payload))
    }

    func lastCallEnded() {
        channel.closeAfterFlush(.closedLocally("drained"))
    }

    private func sendGoAway(_ error: RPCError) {
        let goAway = GoAwayEnvelope(lastStreamID: highestStreamID, status: RPCStatus(error))
        channel.send(Frame(streamID: 0, type: .goAway, payload: goAway.wireBytes()))
    }

    // MARK: Idleness and closing

    private func closeIfIdle() {
        guard calls.isIdle, ContinuousClock.now - lastActivity >= limits.idleTimeout, !channel.isClosed else { return }
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
        calls.connectionClosed()
        idleTimer?.cancel()
        onClosed(self)
    }
}
