import BillingWire
import Dispatch
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// One busy peer must not hold the thread its connection shares with others: the hostile clients'
/// pipelining peers made a health check on a neighbouring connection wait for seconds.
@Suite("Fairness between connections on one thread")
struct FairnessTests {
    /// A channel on a queue that targets a shared loop, as the server's connections are, reading from
    /// the other end of a socket pair.
    final class LoopedChannel: @unchecked Sendable {
        let loop = DispatchQueue(label: "test.loop")
        let queue: DispatchQueue
        let channel: FrameChannel
        let peer: Int32
        let delivered = Atomic<Int>(0)

        init() throws {
            var ends: [Int32] = [0, 0]
            try #require(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &ends) == 0)
            _ = fcntl(ends[0], F_SETFL, fcntl(ends[0], F_GETFL) | O_NONBLOCK)
            peer = ends[1]
            queue = DispatchQueue(label: "test.connection", target: loop)
            channel = FrameChannel(
                fileDescriptor: ends[0], queue: queue, maxFramePayloadBytes: 1024, maxBufferedOutboundBytes: 1 << 20, turnQueue: loop)
        }

        deinit { close(peer) }
    }

    @Test func aTurnHandsOverAtMostFramesPerTurnThenLetsTheLoopsOtherWorkRun() async throws {
        let looped = try LoopedChannel()
        let frames = 64
        // What the loop's other work saw: how many frames the channel had handed over when it ran.
        let seenByNeighbour = Atomic<Int>(-1)
        looped.queue.sync {
            looped.channel.onFrame = { [looped] _ in
                // At the first frame, a neighbour's work arrives on the shared loop.
                if looped.delivered.add(1, ordering: .relaxed).newValue == 1 {
                    looped.loop.async { seenByNeighbour.store(looped.delivered.load(ordering: .relaxed), ordering: .relaxed) }
                }
            }
            looped.channel.start()
        }
        var bytes = ConnectionPreface.bytes()
        for index in 0..<frames { bytes += Frame(streamID: UInt32(2 * index + 1), type: .cancel, payload: []).encoded }
        #expect(write(looped.peer, bytes, bytes.count) == bytes.count)
        try await eventually { looped.delivered.load(ordering: .relaxed) == frames }
        // Every frame arrived in one read; before turns were bounded, all were handed over first.
        #expect(seenByNeighbour.load(ordering: .relaxed) == FrameChannel.framesPerTurn)
        looped.queue.sync { looped.channel.close(.closedLocally("test over")) }
    }
}
