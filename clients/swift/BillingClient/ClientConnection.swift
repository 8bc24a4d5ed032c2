import BillingWire
import Dispatch
import Foundation
import Synchronization

/// A failure with what the client knows about whether the server may have run the call.
struct CallFailure: Error {
    var error: RPCError
    /// False when the server certainly did not run the call: safe to retry whatever it was.
    var mayHaveRun: Bool
}

/// One connection to the server, multiplexing many calls by stream id. State lives on the channel's queue.
final class ClientConnection: @unchecked Sendable {
    /// The state of one server stream on the client side: messages received and not yet read, bounded
    /// by the window this client granted.
    final class StreamState: @unchecked Sendable {
        var streamID: UInt32?
        var buffered: [[UInt8]] = []
        var end: Result<Void, CallFailure>?
        var waiter: CheckedContinuation<[UInt8]?, any Error>?
        var consumedSinceGrant: UInt32 = 0
    }

    /// A call's place in the table: who waits for its answer, and by when.
    private enum PendingCall {
        case unary(CheckedContinuation<[UInt8], any Error>, deadline: ContinuousClock.Instant)
        case stream(StreamState, deadline: ContinuousClock.Instant)

        var deadline: ContinuousClock.Instant {
            switch self {
            case .unary(_, let deadline), .stream(_, let deadline): deadline
            }
        }
    }

    /// Lets a task's cancellation find its call: both run on the queue.
    final class CallHandle: @unchecked Sendable {
        var streamID: UInt32?
        var cancelledBeforeStart = false
    }

    let channel: FrameChannel
    let streamWindow: UInt32
    /// The largest REQUEST payload sent: the client's own frame limit, taken to be the server's (both
    /// default to 4 MiB). The server ends a connection that sends more, so it is refused here instead.
    private let maxRequestBytes: Int
    private var calls: [UInt32: PendingCall] = [:]
    private var nextStreamID: UInt32 = 1
    /// False once the server said GOAWAY or the socket closed: new calls need a new connection.
    /// Atomic, so that callers choosing a connection need not wait for its queue.
    private let accepting = Atomic<Bool>(true)
    var acceptsNewCalls: Bool { accepting.load(ordering: .acquiring) }

    private func stopAcceptingNewCalls() {
        accepting.store(false, ordering: .releasing)
    }
    private var deadlineTimer: DeadlineTimer!

    init(socketPath: String, configuration: ClientConfiguration) throws(SocketError) {
        let fd = try UnixSocket.connect(path: socketPath)
        let queue = DispatchQueue(label: "billing.client.connection")
        channel = FrameChannel(
            fileDescriptor: fd, queue: queue, maxFramePayloadBytes: configuration.maxFramePayloadBytes,
            maxBufferedOutboundBytes: 8 * 1024 * 1024
        )
        streamWindow = min(max(1, configuration.streamWindow), StreamWindow.max)
        maxRequestBytes = configuration.maxFramePayloadBytes
        queue.sync {
            deadlineTimer = DeadlineTimer(queue: queue) { [unowned self] in expireDeadlines() }
            channel.onPreface = { [unowned self] verdict in
                guard verdict == .accepted else {
                    failAll(RPCError(.unavailable, "the server at \(socketPath) does not speak billing RPC protocol version \(ConnectionPreface.currentVersion)"), mayHaveRun: false)
                    channel.close(.closedLocally("unexpected preface"))
                    return false
                }
                return true
            }
            channel.onFrame = { [unowned self] decoded in handle(decoded) }
            channel.onMalformed = { [unowned self] error in
                failAll(RPCError(.internalError, "the server sent bytes that are not frames: \(error)"), mayHaveRun: true)
            }
            channel.onClose = { [unowned self] reason in
                stopAcceptingNewCalls()
                deadlineTimer.cancel()
                failAll(RPCError(.unavailable, "the connection to the server closed: \(reason)"), mayHaveRun: true)
            }
            channel.start()
        }
    }

    func close() {
        channel.queue.async { [self] in channel.close(.closedLocally("the client closed the connection")) }
    }

    // MARK: Calls

    /// Sends a request and waits for its single reply.
    func unary(_ request: RequestEnvelope, deadline: ContinuousClock.Instant) async throws -> [UInt8] {
        let handle = CallHandle()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<[UInt8], any Error>) in
                channel.queue.async { [self] in
                    guard !handle.cancelledBeforeStart else {
                        return continuation.resume(throwing: CallFailure(error: RPCError(.cancelled, "the call was cancelled"), mayHaveRun: false))
                    }
                    switch open(request, as: .unary(continuation, deadline: deadline)) {
                    case .success(let streamID): handle.streamID = streamID
                    case .failure(let error): continuation.resume(throwing: CallFailure(error: error, mayHaveRun: false))
                    }
                }
            }
        } onCancel: {
            cancel(handle)
        }
    }

    /// Opens a server stream; messages arrive in `state`.
    func openStream(_ request: RequestEnvelope, deadline: ContinuousClock.Instant, handle: CallHandle) -> StreamState {
        let state = StreamState()
        channel.queue.async { [self] in
            guard !handle.cancelledBeforeStart else {
                return state.end = .failure(CallFailure(error: RPCError(.cancelled, "the call was cancelled"), mayHaveRun: false))
            }
            var request = request
            request.streamWindow = streamWindow
            switch open(request, as: .stream(state, deadline: deadline)) {
            case .success(let streamID):
                state.streamID = streamID
                handle.streamID = streamID
            case .failure(let error):
                state.end = .failure(CallFailure(error: error, mayHaveRun: false))
            }
        }
        return state
    }

    /// The next message of a stream, or nil at its successful end; grants the server more as messages are read.
    func nextMessage(of state: StreamState, handle: CallHandle) async throws -> [UInt8]? {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<[UInt8]?, any Error>) in
                channel.queue.async { [self] in
                    if !state.buffered.isEmpty {
                        let message = state.buffered.removeFirst()
                        acknowledgeRead(of: state)
                        return continuation.resume(returning: message)
                    }
                    switch state.end {
                    case .success: return continuation.resume(returning: nil)
                    case .failure(let failure): return continuation.resume(throwing: failure)
                    case nil: state.waiter = continuation
                    }
                }
            }
        } onCancel: {
            cancel(handle)
        }
    }

    func cancel(_ handle: CallHandle) {
        channel.queue.async { [self] in
            guard let streamID = handle.streamID else {
                handle.cancelledBeforeStart = true
                return
            }
            guard calls[streamID] != nil else { return }
            channel.send(Frame(streamID: streamID, type: .cancel))
            complete(streamID, with: .failure(CallFailure(error: RPCError(.cancelled, "the call was cancelled"), mayHaveRun: true)))
        }
    }

    /// Sends the REQUEST that opens a call; the error says why it was not sent.
    private func open(_ request: RequestEnvelope, as call: PendingCall) -> Result<UInt32, RPCError> {
        let payload = request.wireBytes()
        guard payload.count <= maxRequestBytes else {
            return .failure(RPCError(
                .resourceExhausted, "the request of \(payload.count) bytes exceeds the \(maxRequestBytes)-byte frame limit; it was not sent",
                reason: .messageTooLarge))
        }
        guard acceptsNewCalls, !channel.isClosed, nextStreamID < UInt32.max - 2 else {
            stopAcceptingNewCalls()
            return .failure(RPCError(.unavailable, "the connection is closing; the call was not sent"))
        }
        let streamID = nextStreamID
        nextStreamID += 2
        calls[streamID] = call
        deadlineTimer.arm(at: call.deadline)
        channel.send(Frame(streamID: streamID, type: .request, payload: payload))
        return .success(streamID)
    }

    /// Counts a message handed to the reader; every half window, grants the server that many more.
    private func acknowledgeRead(of state: StreamState) {
        state.consumedSinceGrant += 1
        guard state.consumedSinceGrant >= max(1, streamWindow / 2), let streamID = state.streamID, calls[streamID] != nil else { return }
        channel.send(Frame(streamID: streamID, type: .windowUpdate, payload: WindowUpdateEnvelope(messages: state.consumedSinceGrant).wireBytes()))
        state.consumedSinceGrant = 0
    }

    // MARK: Frames from the server

    private func handle(_ decoded: DecodedFrame) {
        guard case .frame(let frame) = decoded else {
            // A reply over the limit: the call fails, the connection lives on.
            if case .oversized(let header) = decoded, calls[header.streamID] != nil {
                channel.send(Frame(streamID: header.streamID, type: .cancel))
                complete(header.streamID, with: .failure(CallFailure(
                    error: RPCError(.resourceExhausted, "the server's reply of \(header.payloadLength) bytes exceeds this client's frame limit"),
                    mayHaveRun: true)))
            }
            return
        }
        switch frame.type {
        case .response:
            do {
                let response = try ResponseEnvelope(wireBytes: frame.payload)
                if let error = response.status.error {
                    complete(frame.streamID, with: .failure(CallFailure(error: error, mayHaveRun: true)))
                } else {
                    complete(frame.streamID, with: .success(response.payload))
                }
            } catch {
                complete(frame.streamID, with: .failure(CallFailure(error: RPCError(.internalError, "the server sent a RESPONSE that is not valid protobuf"), mayHaveRun: true)))
            }
        case .data:
            guard case .stream(let state, _) = calls[frame.streamID] else { return }
            if let waiter = state.waiter {
                state.waiter = nil
                waiter.resume(returning: frame.payload)
                acknowledgeRead(of: state)
            } else {
                state.buffered.append(frame.payload)
            }
        case .goAway:
            stopAcceptingNewCalls()
            let goAway = try? GoAwayEnvelope(wireBytes: frame.payload)
            let lastStreamID = goAway?.lastStreamID ?? 0
            let reason = goAway?.status.error ?? RPCError(.unavailable, "the server is going away")
            // Calls above the last one the server took were never run: safe to retry anywhere.
            for streamID in calls.keys where streamID > lastStreamID {
                complete(streamID, with: .failure(CallFailure(error: reason, mayHaveRun: false)))
            }
            if calls.isEmpty { channel.closeAfterFlush(.closedLocally("server sent GOAWAY")) }
        default:
            break
        }
    }

    private func complete(_ streamID: UInt32, with result: Result<[UInt8], CallFailure>) {
        guard let call = calls.removeValue(forKey: streamID) else { return }
        switch call {
        case .unary(let continuation, _):
            continuation.resume(with: result.mapError { $0 as any Error })
        case .stream(let state, _):
            state.end = result.map { _ in () }
            if let waiter = state.waiter {
                state.waiter = nil
                switch result {
                case .success: waiter.resume(returning: nil)
                case .failure(let failure): waiter.resume(throwing: failure)
                }
            }
        }
        if !acceptsNewCalls && calls.isEmpty { channel.closeAfterFlush(.closedLocally("drained after GOAWAY")) }
    }

    private func failAll(_ error: RPCError, mayHaveRun: Bool) {
        for streamID in Array(calls.keys) {
            complete(streamID, with: .failure(CallFailure(error: error, mayHaveRun: mayHaveRun)))
        }
    }

    private func expireDeadlines() {
        let now = ContinuousClock.now
        for (streamID, call) in calls {
            if call.deadline <= now {
                channel.send(Frame(streamID: streamID, type: .cancel))
                complete(streamID, with: .failure(CallFailure(error: RPCError(.deadlineExceeded, "the call did not finish within its deadline"), mayHaveRun: true)))
            } else {
                deadlineTimer.arm(at: call.deadline)
            }
        }
    }
}
