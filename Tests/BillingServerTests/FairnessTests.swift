import BillingLocking
import BillingWire
import Dispatch
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// One busy peer must not hold the thread its connection shares with others: the hostile clients'
/// pipelining peers made a health check on a neighbouring connection wait up to a second.
@Suite("Fairness between connections on one thread")
struct FairnessTests {
    /// A channel on a queue that targets a shared loop, as the server's connections are, reading from
    /// the other end of a socket pair.
    final class LoopedChannel: @unchecked Sendable {
        let loop: ChannelLoop
        let queue: DispatchQueue
        let channel: FrameChannel
        let peer: Int32
        let delivered = Atomic<Int>(0)

        init(loop: ChannelLoop = ChannelLoop(label: "test.loop")) throws {
            self.loop = loop
            var ends: [Int32] = [0, 0]
            try #require(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &ends) == 0)
            _ = fcntl(ends[0], F_SETFL, fcntl(ends[0], F_GETFL) | O_NONBLOCK)
            peer = ends[1]
            queue = DispatchQueue(label: "test.connection", target: loop.queue)
            channel = FrameChannel(
                fileDescriptor: ends[0], queue: queue, maxFramePayloadBytes: 1024, maxBufferedOutboundBytes: 1 << 20, loop: loop)
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
                    looped.loop.queue.async { seenByNeighbour.store(looped.delivered.load(ordering: .relaxed), ordering: .relaxed) }
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

    /// Busy channels share a round: while seven others wait for their turn, a channel's turn hands over
    /// 32 / 8 = 4 frames, so a quiet neighbour arriving behind all of them waits for about 32, not 8 × 16.
    @Test func turnsShrinkAsMoreChannelsWaitOnTheLoop() async throws {
        let loop = ChannelLoop(label: "test.loop")
        let channelCount = 8, framesEach = 256
        let channels = try (0..<channelCount).map { _ in try LoopedChannel(loop: loop) }
        // Which channel handed over each frame, in order (onFrame runs on the loop, one at a time).
        let order = Locked<[Int]>([])
        for (index, looped) in channels.enumerated() {
            looped.queue.sync {
                looped.channel.onFrame = { _ in order.withLock { $0.append(index) } }
                looped.channel.start()
            }
            #expect(write(looped.peer, ConnectionPreface.bytes(), ConnectionPreface.size) == ConnectionPreface.size)
        }
        // The frames reach every channel while the loop is held, so that all of them wait for a turn at
        // once when it is let go (Dispatch reports each socket readable in its own time).
        var bytes: [UInt8] = []
        for index in 0..<framesEach { bytes += Frame(streamID: UInt32(2 * index + 1), type: .cancel, payload: []).encoded }
        let gate = DispatchSemaphore(value: 0)
        loop.queue.async { gate.wait() }
        for looped in channels { #expect(write(looped.peer, bytes, bytes.count) == bytes.count) }
        try await Task.sleep(for: .milliseconds(300))
        gate.signal()
        try await eventually { order.withLock { $0.count } == channelCount * framesEach }
        // Turns are runs of one channel's frames. Count those once every channel has had a turn and a round
        // more, and before any ran out of frames (fewer channels then wait, and turns grow again).
        let log = order.withLock { $0 }
        var delivered = [Int](repeating: 0, count: channelCount)
        var turns: [Int] = []
        for (position, channel) in log.enumerated() {
            delivered[channel] += 1
            if delivered.contains(framesEach) { break }
            guard !delivered.contains(0) else { continue }
            if position > 0, log[position - 1] == channel, !turns.isEmpty { turns[turns.count - 1] += 1 } else { turns.append(1) }
        }
        let steady = turns.dropFirst(channelCount + 1)
        #expect(!steady.isEmpty)
        #expect((steady.max() ?? 0) <= ChannelLoop.framesPerRound / channelCount, "turns of \(Set(steady).sorted()) frames")
        for looped in channels { looped.queue.sync { looped.channel.close(.closedLocally("test over")) } }
    }
}
