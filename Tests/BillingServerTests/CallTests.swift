import BillingClient
import BillingLocking
import BillingServer
import Foundation
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif

extension SocketTimingSuites {
    @Suite("Calls over a real socket")
    struct CallTests {
        @Test func healthCheckAnswersServing() async throws {
            let server = try TestServer()
            let client = server.client()
            #expect(try await HealthClient(client).check() == .serving)
            #expect(try await HealthClient(client).check(service: TestService.serviceName) == .serving)
            await #expect(throws: RPCError(.notFound, "no service named \"nope\" is registered for health checks")) {
                try await HealthClient(client).check(service: "nope")
            }
            await server.stop()
        }

        @Test func manyConcurrentCallsOnOneConnectionAreAnsweredOutOfOrder() async throws {
            let server = try TestServer()
            let client = server.client(timeout: .seconds(60))
            let finished = OrderRecorder()
            // 39 calls are held on the server until a `Release` call arrives; a later call on the same
            // connection is answered while they wait, whatever the machine's speed.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<39 {
                    group.addTask {
                        let answer = try await client.test("Hold", "\(index)")
                        #expect(answer == "\(index)")
                        finished.append(index)
                    }
                }
                try await eventually { server.probe.handlersStarted.load(ordering: .relaxed) == 39 }
                #expect(try await client.test("Echo", "later") == "later")
                #expect(finished.values.isEmpty, "a held call finished before its release")
                #expect(try await client.test("Release") == "")
                try await group.waitForAll()
            }
            #expect(finished.values.count == 39)
            #expect(server.server.openConnectionCount == 1)
            await server.stop()
        }

        @Test func errorsCarryTheirStatusAndUnexpectedErrorsAreInternalWithoutDetail() async throws {
            let server = try TestServer()
            let client = server.client()
            await #expect(throws: RPCError(.failedPrecondition, "the account has no primary card; add one first")) {
                try await client.test("Fail")
            }
            do {
                _ = try await client.test("Crash")
                Issue.record("Crash should fail")
            } catch {
                #expect(error.code == .internalError)
                #expect(!error.message.contains("4242"))
                #expect(error.message.contains("request id"))
            }
            await #expect(throws: RPCError(.unimplemented, "service test.v1.Test has no method Nope", reason: .unknownMethod)) { try await client.test("Nope") }
            do {
                _ = try await client.unary("no.such.Service", "Call", payload: [])
            } catch {
                #expect(error.code == .unimplemented)
            }
            #expect(try await client.test("Echo", "still fine") == "still fine")
            await server.stop()
        }

        @Test func deadlinesAreEnforcedAndVisibleToHandlers() async throws {
            let server = try TestServer()
            let client = server.client()
            let remaining = try #require(Int(try await client.test("Deadline", options: CallOptions(timeout: .seconds(20)))))
            #expect(remaining > 10_000 && remaining <= 20_000)

            let started = ContinuousClock.now
            await #expect(throws: RPCError.self) { try await client.test("Sleep", "5000", options: CallOptions(timeout: .milliseconds(100))) }
            do {
                _ = try await client.test("Sleep", "5000", options: CallOptions(timeout: .milliseconds(100)))
            } catch {
                #expect(error.code == .deadlineExceeded)
            }
            // Unenforced, the two calls would take ten seconds (their handlers sleep five each); enforced,
            // a fifth of a second, plus whatever a loaded two-core machine adds.
            #expect(ContinuousClock.now - started < .seconds(4))
            // The server cancelled both handlers when their deadline passed.
            try await eventually { server.probe.handlersCancelled.load(ordering: .relaxed) == 2 }
            await server.stop()
        }

        @Test func serverEnforcesDeadlinesEvenWhenTheClientDoesNot() async throws {
            let server = try TestServer()
            let peer = try RawPeer(path: server.socketPath)
            let envelope = RequestEnvelope(service: TestService.serviceName, method: "Sleep", payload: Array("5000".utf8), timeoutNanoseconds: 50_000_000)
            peer.write(Frame(streamID: 1, type: .request, payload: envelope.wireBytes()).encoded)
            let frames = await peer.readFrames(1)
            #expect(try frames.first.map(response)?.status.code == .deadlineExceeded)
            await server.stop()
        }

        @Test func cancellingTheTaskCancelsTheCallOnTheServer() async throws {
            let server = try TestServer()
            let client = server.client()
            let call = Task { try await client.test("Sleep", "10000") }
            try await eventually { server.probe.handlersStarted.load(ordering: .relaxed) == 1 }
            call.cancel()
            do {
                _ = try await call.value
                Issue.record("the call should have been cancelled")
            } catch let error as RPCError {
                #expect(error.code == .cancelled)
            }
            try await eventually { server.probe.handlersCancelled.load(ordering: .relaxed) == 1 }
            #expect(try await client.test("Echo", "after") == "after")
            await server.stop()
        }

        @Test func serverStreamWithASlowConsumerIsHeldToTheWindow() async throws {
            let server = try TestServer()
            let client = server.client { $0.streamWindow = 4 }
            var received: [String] = []
            for try await message in client.serverStream(TestService.serviceName, "Count", Text("40"), as: Text.self) {
                received.append(message.value)
                // The server may run ahead of the reader by the window, never more.
                let sent = server.probe.streamMessagesSent.load(ordering: .relaxed)
                #expect(sent <= received.count + 4)
                if received.count % 10 == 0 { try await Task.sleep(for: .milliseconds(30)) }
            }
            #expect(received == (0..<40).map { "\($0)" })
            await server.stop()
        }

        @Test func breakingOutOfAStreamCancelsIt() async throws {
            let server = try TestServer()
            let client = server.client()
            for try await message in client.serverStream(TestService.serviceName, "Count", Text("1000000"), as: Text.self) where message.value == "3" {
                break
            }
            try await eventually { server.probe.streamMessagesSent.load(ordering: .relaxed) < 1000 }
            let sent = server.probe.streamMessagesSent.load(ordering: .relaxed)
            try await Task.sleep(for: .milliseconds(100))
            #expect(server.probe.streamMessagesSent.load(ordering: .relaxed) == sent, "the stream kept running after the reader left")
            await server.stop()
        }

        @Test func peerCredentialsReachHandlers() async throws {
            let server = try TestServer()
            let parts = try await server.client().test("WhoAmI").split(separator: " ")
            #expect(parts == ["\(getuid())", "\(getgid())", "\(getpid())"])
            await server.stop()
        }
    }
}

/// Records the order in which concurrent work finished.
final class OrderRecorder: Sendable {
    private let storage = Locked<[Int]>([])
    func append(_ value: Int) { storage.withLock { $0.append(value) } }
    var values: [Int] { storage.withLock { $0 } }
}

/// Waits for a condition that becomes true asynchronously. The limit is generous (a minute unless told):
/// it is reached only when the test fails, and under ThreadSanitizer on two cores seconds pass quickly.
func eventually(
    within limit: Duration = .seconds(60), _ condition: () -> Bool, sourceLocation: SourceLocation = #_sourceLocation
) async throws {
    let deadline = ContinuousClock.now + limit
    while ContinuousClock.now < deadline {
        if condition() { return }
        try await Task.sleep(for: .milliseconds(10))
    }
    Issue.record("condition still false after \(limit)", sourceLocation: sourceLocation)
}
