import BillingWire

/// The messages of one server-streaming call, as an `AsyncSequence`.
///
/// The call starts when iteration starts. Reading slowly slows the server: it may run at most the
/// client's stream window ahead. Breaking out of the loop or cancelling the task cancels the call.
public struct ServerStream<Message: WireMessage>: AsyncSequence, Sendable {
    public typealias Element = Message

    let client: RPCClient
    let service: String
    let method: String
    let payload: [UInt8]
    let options: CallOptions

    public func makeAsyncIterator() -> Iterator {
        Iterator(stream: self)
    }

    /// A started call; dropping it before the end (a `break` out of the loop) cancels it on the server.
    final class ActiveCall: Sendable {
        let connection: ClientConnection
        let state: ClientConnection.StreamState
        let handle: ClientConnection.CallHandle

        init(connection: ClientConnection, state: ClientConnection.StreamState, handle: ClientConnection.CallHandle) {
            self.connection = connection
            self.state = state
            self.handle = handle
        }

        deinit { connection.cancel(handle) }
    }

    public struct Iterator: AsyncIteratorProtocol {
        private let stream: ServerStream
        private var call: ActiveCall?
        private var finished = false

        init(stream: ServerStream) {
            self.stream = stream
        }

        public mutating func next() async throws(RPCError) -> Message? {
            guard !finished else { return nil }
            do {
                if call == nil { call = try start() }
                guard let call, let bytes = try await call.connection.nextMessage(of: call.state, handle: call.handle) else {
                    finished = true
                    return nil
                }
                return try Message(wireBytes: bytes)
            } catch {
                finished = true
                call = nil
                throw RPCClient.failure(from: error).error
            }
        }

        private func start() throws(CallFailure) -> ActiveCall {
            let client = stream.client
            let deadline = ContinuousClock.now + (stream.options.timeout ?? client.configuration.defaultTimeout)
            let request = client.envelope(stream.service, stream.method, stream.payload, deadline: deadline, options: stream.options)
            let connection = try client.currentConnection()
            let handle = ClientConnection.CallHandle()
            return ActiveCall(connection: connection, state: connection.openStream(request, deadline: deadline, handle: handle), handle: handle)
        }
    }
}
