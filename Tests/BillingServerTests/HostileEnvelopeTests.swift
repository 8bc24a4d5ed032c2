@testable import BillingServer
import BillingClient
import Foundation
import Testing

/// What a hostile or broken peer can put in the envelope itself: strings C would cut short, extreme
/// numbers, and method names made up to grow the metrics.
@Suite("Hostile envelopes")
struct HostileEnvelopeTests {
    static func varint(_ value: UInt64) -> [UInt8] {
        var value = value
        var bytes: [UInt8] = []
        while value >= 0x80 {
            bytes.append(UInt8(value & 0x7F) | 0x80)
            value >>= 7
        }
        return bytes + [UInt8(value)]
    }

    static func stringField(_ number: UInt64, _ bytes: [UInt8]) -> [UInt8] {
        varint(number << 3 | 2) + varint(UInt64(bytes.count)) + bytes
    }

    @Test func aNulInTheEnvelopeIsRefusedForThatCallAndTheConnectionLives() async throws {
        let server = try TestServer()
        let peer = try RawPeer(path: server.socketPath)
        let service = Self.stringField(1, Array(TestService.serviceName.utf8))
        let cases: [(envelope: [UInt8], field: String)] = [
            (service + Self.stringField(2, Array("Echo\u{0}Evil".utf8)), "method"),
            (service + Self.stringField(2, Array("Echo".utf8)) + Self.stringField(5, Self.stringField(1, Array("request-id".utf8)) + Self.stringField(2, [0x61, 0, 0x62])), "metadata[0].value"),
            (service + Self.stringField(2, [0x45, 0xFF]), "method"),
        ]
        for (index, bad) in cases.enumerated() {
            peer.write(Frame(streamID: UInt32(2 * index + 1), type: .request, payload: bad.envelope).encoded)
        }
        peer.request(stream: 7, method: "Echo", payload: Array("alive".utf8))
        let frames = await peer.readFrames(4)
        #expect(frames.map(\.streamID) == [1, 3, 5, 7])
        for (frame, bad) in zip(frames, cases) {
            let status = try response(frame).status
            #expect(status.code == .invalidArgument)
            #expect(status.error?.reason == "invalid_string")
            #expect(status.error?.detail("field") == bad.field)
        }
        #expect(try response(frames[3]).payload == Array("alive".utf8))
        await server.stop()
    }

    @Test func extremeTimeoutsAndWindowsAreAnsweredNotFatal() async throws {
        let server = try TestServer()
        let peer = try RawPeer(path: server.socketPath)
        let timeouts: [Int64] = [Int64.min, -1, Int64.max]
        for (index, timeout) in timeouts.enumerated() {
            let envelope = RequestEnvelope(service: TestService.serviceName, method: "Echo", payload: Array("t".utf8), timeoutNanoseconds: timeout, streamWindow: UInt32.max)
            peer.write(Frame(streamID: UInt32(2 * index + 1), type: .request, payload: envelope.wireBytes()).encoded)
        }
        let frames = await peer.readFrames(3)
        #expect(try frames.map { try response($0).status.code } == [.invalidArgument, .invalidArgument, .ok])
        #expect(try response(frames[0]).status.error?.detail("field") == "timeout_nano")
        let stream = RequestEnvelope(service: TestService.serviceName, method: "Count", payload: Array("3".utf8), streamWindow: UInt32.max)
        peer.write(Frame(streamID: 9, type: .request, payload: stream.wireBytes()).encoded)
        peer.write(Frame(streamID: 9, type: .windowUpdate, payload: WindowUpdateEnvelope(messages: UInt32.max).wireBytes()).encoded)
        let streamed = await peer.readFrames(4)
        #expect(streamed.map(\.type) == [.data, .data, .data, .response])
        #expect(try await server.client().test("Echo", "alive") == "alive")
        await server.stop()
    }

    @Test func madeUpMethodNamesDoNotGrowTheMetrics() async throws {
        let server = try TestServer { $0.access = AccessPolicy(allowedUserIDs: [4_000_000_000], allowedGroupIDs: []) }
        let refused = server.client()
        for index in 0..<50 {
            _ = try? await refused.unary(TestService.serviceName, "Made\(index)Up", payload: [])
            _ = try? await refused.unary("no.such.Service\(index)", "Call", payload: [])
        }
        let open = try TestServer()
        let client = open.client()
        for index in 0..<50 { _ = try? await client.unary(TestService.serviceName, "Made\(index)Up", payload: []) }
        _ = try await client.test("Echo", "x")
        #expect(server.server.metrics.methodLabels == ["unknown"])
        #expect(open.server.metrics.methodLabels == ["unknown", "\(TestService.serviceName)/Echo"])
        await server.stop()
        await open.stop()
    }
}

/// Peers that come and go: the server must notice every close, however it arrives.
@Suite("Peers that leave at once")
struct ShortLivedPeerTests {
    @Test func aPeerThatSendsThePrefaceAndClosesAtOnceIsAlwaysNoticed() async throws {
        let server = try TestServer()
        let cycles = 20_000
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<4 {
                group.addTask {
                    await offPool {
                        for index in 0..<cycles / 4 {
                            guard let fd = try? UnixSocket.connect(path: server.socketPath) else { continue }
                            _ = UnixSocket.writeSome(fd, ConnectionPreface.bytes(), from: 0)
                            if index % 3 == 1 { usleep(UInt32(index % 200)) }
                            if index % 3 == 2 { shutdown(fd, Int32(SHUT_WR)); usleep(50) }
                            close(fd)
                        }
                    }
                }
            }
        }
        // Every one of them closed its end: none may linger until the idle timeout.
        try await eventually { server.server.openConnectionCount == 0 }
        #expect(server.server.openConnectionCount == 0, "\(server.server.openConnectionCount) of \(cycles) connections still open")
        await server.stop()
    }
}
