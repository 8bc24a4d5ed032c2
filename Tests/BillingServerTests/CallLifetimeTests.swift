@testable import BillingServer
import BillingWire
import Dispatch
import Logging
import Testing

/// What a call leaves behind once it has ended: nothing. The hostile clients' stream-id reuse (a Watch,
/// then a protocol violation, 20,000 connections in four seconds) grew resident memory by about 4.6 KB
/// a connection, for good: every connection that had run a server stream was never freed.
@Suite("Call lifetimes")
struct CallLifetimeTests {
    /// Answers go nowhere; only their count is kept. Touched on the dispatcher's queue only.
    final class CountingTransport: CallTransport, @unchecked Sendable {
        var responses = 0
        func sendResponse(streamID: UInt32, status: RPCStatus, payload: [UInt8]) { responses += 1 }
        func sendData(streamID: UInt32, payload: [UInt8]) {}
        func lastCallEnded() {}
    }

    /// A server stream's writer delivered its messages through a closure that held the call, while the
    /// call held the writer: the call, the writer and the connection's whole dispatcher were never freed.
    @Test func aServerStreamThatEndedLeavesNothingOfItsConnectionBehind() async throws {
        let queue = DispatchQueue(label: "test.connection")
        let transport = CountingTransport()
        var dispatcher: CallDispatcher? = CallDispatcher(
            transport: transport, queue: queue, connectionID: 1, peer: nil, router: Router(services: [TestService(probe: Probe())]),
            configuration: ServerConfiguration(socketPath: "/nonexistent"), metrics: ServerMetrics(), logger: Logger(label: "test"))
        weak let released = dispatcher
        queue.sync {
            dispatcher!.start(RequestEnvelope(service: TestService.serviceName, method: "Count", payload: Array("2".utf8)), streamID: 1)
            dispatcher!.start(RequestEnvelope(service: TestService.serviceName, method: "Count", payload: Array("1000".utf8), streamWindow: 1), streamID: 3)
        }
        // The first stream ends by itself; the second waits for credit and is cut off by the close.
        try await eventually { queue.sync { transport.responses } == 1 }
        queue.sync { dispatcher!.connectionClosed() }
        dispatcher = nil
        try await eventually { released == nil }
        #expect(released == nil, "the dispatcher of a closed connection is still alive")
    }
}
