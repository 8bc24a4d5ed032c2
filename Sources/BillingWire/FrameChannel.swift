import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// A connected, non-blocking Unix stream socket that carries frames: the part of a connection that the
/// server and the client share.
///
/// Everything happens on `queue`, a serial queue: Dispatch sources tell it when the socket is readable
/// or writable; bytes are decoded incrementally; frames sent in one turn of the queue leave in one
/// system call. When the peer stops reading and unsent bytes pass `maxBufferedOutboundBytes`, the channel
/// stops reading from the peer too, so a slow peer cannot grow this process's memory; and so does a
/// channel holding more than `outboundShareBytes` while its channels together pass their outbound budget,
/// so that many slow peers cannot either.
public final class FrameChannel: @unchecked Sendable {
    /// Why a channel closed.
    public enum CloseReason: Sendable, CustomStringConvertible {
        case peerClosed
        case closedLocally(String)
        case malformed(FrameDecodingError)
        case ioError(Int32)

        public var description: String {
            switch self {
            case .peerClosed: "peer closed the connection"
            case .closedLocally(let why): why
            case .malformed(let error): "malformed frame: \(error)"
            case .ioError(let code): "socket error: \(String(cString: strerror(code)))"
            }
        }
    }

    /// The serial queue that owns this channel's state; every method must be called on it.
    public let queue: DispatchQueue
    public let fileDescriptor: Int32
    public let maxBufferedOutboundBytes: Int

    /// Called once with the peer's preface before any frame; returning false closes the channel.
    public var onPreface: (ConnectionPreface.Verdict) -> Bool = { _ in true }
    /// Called with every frame, or oversized frame header, in order of arrival.
    public var onFrame: (DecodedFrame) -> Void = { _ in }
    /// Called when the bytes cannot be read as frames; no frame is read after it. The owner says why to
    /// the peer and closes; by default the channel just closes.
    public var onMalformed: (FrameDecodingError) -> Void = { _ in }
    /// Called once, after the socket is closed.
    public var onClose: (CloseReason) -> Void = { _ in }
    /// Called after each system call that moved bytes, for metrics.
    public var onTransfer: (_ received: Int, _ sent: Int) -> Void = { _, _ in }
    /// Called when the bytes of an incomplete frame would pass the process's `ByteBudget`; the
    /// channel reads no more. The owner says why to the peer and closes; by default the channel closes.
    public var onOverBudget: () -> Void = {}

    private var decoder: FrameDecoder
    private var prefaceBytes: [UInt8] = []
    private var prefaceReceived = false
    private var outbound: [UInt8] = []
    private var outboundOffset = 0
    private var flushScheduled = false
    private var closeWhenFlushed: CloseReason?
    private var malformed: FrameDecodingError?
    private var readSource: (any DispatchSourceRead)?
    private var writeSource: (any DispatchSourceWrite)?
    /// No more reading for now: the peer is not reading its replies, or the channel is closing.
    private var readingPaused = false
    /// No more reading ever (`stopReading`), though the channel still writes.
    private var readingStopped = false
    /// A turn that stopped early waits for its place (`continueLater`).
    private var turnPending = false
    /// Whether the read source is suspended (it is while reading is paused or a turn is pending).
    private var readSourceSuspended = false
    private var writeSourceArmed = false
    private var sourcesAwaitingCancel = 0
    private(set) public var isClosed = false
    private let readBuffer: ReadBuffer
    /// The loop this channel's queue runs on, shared with other channels, if any.
    private let loop: ChannelLoop?
    private let inboundBudget: ByteBudget?
    /// Unsent bytes of all the channels that share it.
    private let outboundBudget: ByteBudget?
    /// The part of `inboundBudget` this channel holds: its incomplete frame, at its declared size.
    private var budgetHeld = 0
    /// The part of `outboundBudget` this channel holds: its unsent bytes, as last counted.
    private var outboundHeld = 0

    /// Unsent bytes a channel may hold while the outbound budget is exceeded; past it, the channel stops
    /// reading its peer. A peer that reads its replies holds next to none, so it is never stopped.
    public static let outboundShareBytes = 64 * 1024

    /// Frames handed to `onFrame` in one turn of the queue, at most. A peer that pipelines small frames
    /// sent thousands in one turn (each 64 KiB read holds about 1,400 health checks), and every other
    /// connection on the same thread waited for all of them.
    public static let framesPerTurn = 16

    /// - Parameters:
    ///   - outboundBudget: counts this channel's unsent bytes with those of the channels that share it.
    ///   - loop: the loop `queue` runs on, when it shares one with other channels (a server's connections
    ///     do): they share its read buffer, and its time (`ChannelLoop`).
    public init(
        fileDescriptor: Int32, queue: DispatchQueue, maxFramePayloadBytes: Int, maxBufferedOutboundBytes: Int, inboundBudget: ByteBudget? = nil,
        outboundBudget: ByteBudget? = nil, loop: ChannelLoop? = nil
    ) {
        self.fileDescriptor = fileDescriptor
        self.queue = queue
        self.maxBufferedOutboundBytes = maxBufferedOutboundBytes
        self.inboundBudget = inboundBudget
        self.outboundBudget = outboundBudget
        self.decoder = FrameDecoder(maxPayloadSize: maxFramePayloadBytes)
        self.readBuffer = loop?.readBuffer ?? ReadBuffer()
        self.loop = loop
    }

    /// Sends this side's preface and starts reading.
    public func start() {
        dispatchPrecondition(condition: .onQueue(queue))
        sendRaw(ConnectionPreface.bytes())
        let read = DispatchSource.makeReadSource(fileDescriptor: fileDescriptor, queue: queue)
        read.setEventHandler { [unowned self] in self.readTurn() }
        closeDescriptorWhenCancelled(read)
        readSource = read
        read.activate()
    }

    /// The descriptor is closed once every source watching it is cancelled, never while Dispatch still
    /// watches it.
    private func closeDescriptorWhenCancelled(_ source: any DispatchSourceProtocol) {
        sourcesAwaitingCancel += 1
        source.setCancelHandler { [self] in
            sourcesAwaitingCancel -= 1
            if sourcesAwaitingCancel == 0 { Glibc.close(fileDescriptor) }
        }
    }

    /// Waits for the socket to take more. The write source is made the first time a write would block:
    /// most connections never fill their socket, and one made for each connection cost Dispatch's one
    /// event thread a registration and a removal per connection, which connection churn multiplied.
    private func armWriteSource() {
        guard !writeSourceArmed else { return }
        writeSourceArmed = true
        if let writeSource { return writeSource.resume() }
        let write = DispatchSource.makeWriteSource(fileDescriptor: fileDescriptor, queue: queue)
        write.setEventHandler { [unowned self] in self.flush() }
        closeDescriptorWhenCancelled(write)
        writeSource = write
        write.activate()
    }

    /// Queues a frame; frames queued in the same turn of the queue leave together.
    public func send(_ frame: Frame) {
        dispatchPrecondition(condition: .onQueue(queue))
        guard !isClosed else { return }
        frame.append(to: &outbound)
        scheduleFlush()
        countOutbound()
        if holdsTooMuchOutbound { pauseReading() }
    }

    /// Queues raw bytes (the preface, or a plain-text refusal to a peer that speaks no frames).
    public func sendRaw(_ bytes: [UInt8]) {
        dispatchPrecondition(condition: .onQueue(queue))
        guard !isClosed else { return }
        outbound.append(contentsOf: bytes)
        scheduleFlush()
        countOutbound()
    }

    /// Bytes queued but not yet taken by the socket.
    public var bufferedOutboundBytes: Int { outbound.count - outboundOffset }

    /// Whether this channel should stop reading its peer until the peer takes more of its replies: it holds
    /// more unsent bytes than its own limit, or more than its share while all channels hold too many.
    private var holdsTooMuchOutbound: Bool {
        let buffered = bufferedOutboundBytes
        return buffered > maxBufferedOutboundBytes || (buffered > Self.outboundShareBytes && outboundBudget?.isOverLimit == true)
    }

    /// Whether it may read again: it holds half its own limit at most, and half its share if all channels
    /// still hold too many.
    private var mayReadAgain: Bool {
        let buffered = bufferedOutboundBytes
        return buffered <= maxBufferedOutboundBytes / 2 && (buffered <= Self.outboundShareBytes / 2 || outboundBudget?.isOverLimit != true)
    }

    /// Brings this channel's part of the outbound budget up to date with its unsent bytes.
    private func countOutbound() {
        guard let outboundBudget else { return }
        let buffered = bufferedOutboundBytes
        if buffered != outboundHeld {
            outboundBudget.add(buffered - outboundHeld)
            outboundHeld = buffered
        }
    }

    /// How long `closeAfterFlush` waits for a peer to take the last bytes before closing anyway.
    public static let closeFlushTimeout: DispatchTimeInterval = .seconds(1)

    /// Closes after everything queued so far has been written, or after `closeFlushTimeout` if the peer
    /// does not read them (or at once if the peer is gone).
    public func closeAfterFlush(_ reason: CloseReason) {
        dispatchPrecondition(condition: .onQueue(queue))
        guard !isClosed, closeWhenFlushed == nil else { return }
        closeWhenFlushed = reason
        pauseReading()
        scheduleFlush()
        queue.asyncAfter(deadline: .now() + Self.closeFlushTimeout) { [self] in close(reason) }
    }

    /// Closes now, dropping anything unsent.
    public func close(_ reason: CloseReason) {
        dispatchPrecondition(condition: .onQueue(queue))
        guard !isClosed else { return }
        isClosed = true
        outbound = []
        outboundOffset = 0
        outboundBudget?.give(outboundHeld)
        outboundHeld = 0
        // The bytes of an incomplete frame go now, not when the last reference to this channel does
        // (the close-after-flush timer holds one for a second): peers refused over the inbound budget
        // that came straight back held their refused frames beside the budget, 700 MB where it allows 64.
        decoder = FrameDecoder(maxPayloadSize: decoder.maxPayloadSize)
        prefaceBytes = []
        if let writeSource {
            if !writeSourceArmed { writeSource.resume() }
            writeSource.cancel()
        }
        if let readSource {
            if readSourceSuspended { readSource.resume() }
            readSource.cancel()
        } else {
            Glibc.close(fileDescriptor)
        }
        inboundBudget?.give(budgetHeld)
        budgetHeld = 0
        onClose(reason)
        onPreface = { _ in false }
        onFrame = { _ in }
        onMalformed = { _ in }
        onClose = { _ in }
        onTransfer = { _, _ in }
    }

    /// One turn: the frames already decoded, then reads until the socket says it has nothing more
    /// (EAGAIN), never stopping at a short read: the peer's close can arrive in the same readiness event
    /// as its last bytes, and Dispatch may not report it again, which left the connections of peers that
    /// sent a preface and closed at once open until the idle timeout. A turn ends early after four reads
    /// or `framesPerTurn` frames, so that one busy peer cannot starve the others on the same thread; the
    /// rest waits for a later turn (`continueLater`). On a shared loop a turn is shorter while others
    /// wait for theirs (`ChannelLoop.framesForNextTurn`).
    private func readTurn() {
        guard !isClosed, !readingPaused, !turnPending else { return }
        var framesLeft = loop?.framesForNextTurn ?? Self.framesPerTurn
        guard deliverFrames(&framesLeft) else { return }
        for _ in 0..<4 {
            guard framesLeft > 0, !readingPaused else { break }
            let count = Glibc.read(fileDescriptor, readBuffer.bytes.baseAddress, readBuffer.bytes.count)
            if count == 0 { return close(.peerClosed) }
            if count < 0 {
                if errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR { return }
                return close(.ioError(errno))
            }
            onTransfer(count, 0)
            var bytes = UnsafeRawBufferPointer(rebasing: readBuffer.bytes[0..<count])
            if !prefaceReceived {
                let needed = ConnectionPreface.size - prefaceBytes.count
                prefaceBytes.append(contentsOf: bytes.prefix(needed))
                bytes = UnsafeRawBufferPointer(rebasing: bytes.dropFirst(needed))
                guard prefaceBytes.count == ConnectionPreface.size else { continue }
                prefaceReceived = true
                guard onPreface(ConnectionPreface.check(prefaceBytes)) else { return }
            }
            decoder.append(bytes)
            guard deliverFrames(&framesLeft), holdWithinBudget(decoder.reservedByteCount) else { return }
        }
        continueLater()
    }

    /// Hands decoded frames to `onFrame`, at most `framesLeft`, while the channel is open and reading;
    /// false when it must read no more (malformed bytes, or it closed).
    private func deliverFrames(_ framesLeft: inout Int) -> Bool {
        do {
            while framesLeft > 0, !isClosed, closeWhenFlushed == nil, !readingPaused, let decoded = try decoder.next() {
                framesLeft -= 1
                onFrame(decoded)
            }
            return !isClosed && closeWhenFlushed == nil
        } catch {
            malformed = error
            pauseReading()
            onMalformed(error)
            if !isClosed && closeWhenFlushed == nil { close(.malformed(error)) }
            return false
        }
    }

    /// Continues reading in a later turn: on a shared loop, behind the work already waiting there (work
    /// added to this channel's own queue while it runs would run in the same go). The read source waits
    /// meanwhile, or it would start the turn early.
    private func continueLater() {
        guard !isClosed, !readingPaused else { return }
        turnPending = true
        updateReadSource()
        loop?.waitingTurns += 1
        let next: @Sendable () -> Void = { [self] in
            loop?.waitingTurns -= 1
            turnPending = false
            updateReadSource()
            readTurn()
        }
        if let loop {
            loop.queue.async { [queue] in queue.async(execute: next) }
        } else {
            queue.async(execute: next)
        }
    }

    /// Accounts for the bytes the decoder holds or has made room for; false (and the channel stops
    /// reading) when they would pass the process's budget.
    private func holdWithinBudget(_ bytes: Int) -> Bool {
        guard let inboundBudget, !isClosed, bytes != budgetHeld else { return true }
        if bytes < budgetHeld {
            inboundBudget.give(budgetHeld - bytes)
        } else if !inboundBudget.take(bytes - budgetHeld) {
            pauseReading()
            onOverBudget()
            if !isClosed && closeWhenFlushed == nil { close(.closedLocally("over the inbound budget")) }
            return false
        }
        budgetHeld = bytes
        return true
    }

    private func scheduleFlush() {
        guard !flushScheduled, !writeSourceArmed else { return }
        flushScheduled = true
        queue.async { [self] in
            flushScheduled = false
            flush()
        }
    }

    private func flush() {
        guard !isClosed else { return }
        while outboundOffset < outbound.count {
            guard let written = UnixSocket.writeSome(fileDescriptor, outbound, from: outboundOffset) else {
                return close(.ioError(errno))
            }
            if written == 0 { break }
            outboundOffset += written
            onTransfer(0, written)
        }
        countOutbound()
        if outboundOffset == outbound.count {
            outbound.removeAll(keepingCapacity: outbound.capacity <= 1 << 20)
            outboundOffset = 0
            if writeSourceArmed {
                writeSource?.suspend()
                writeSourceArmed = false
            }
            if let reason = closeWhenFlushed { return close(reason) }
        } else {
            armWriteSource()
        }
        if holdsTooMuchOutbound {
            pauseReading()
        } else if readingPaused, mayReadAgain, closeWhenFlushed == nil, malformed == nil, !readingStopped {
            readingPaused = false
            // Frames decoded before the pause may wait in the decoder with nothing more in the socket,
            // so a turn is scheduled rather than left to the read source (which resumes with it).
            continueLater()
        }
        if outboundOffset > 1 << 20 {
            outbound.removeFirst(outboundOffset)
            outboundOffset = 0
        }
    }

    /// Reads nothing more from the peer, for good; replies are still written. For an owner that will
    /// close once its work in flight is answered, and must not read what the peer sends meanwhile.
    public func stopReading() {
        dispatchPrecondition(condition: .onQueue(queue))
        readingStopped = true
        pauseReading()
    }

    private func pauseReading() {
        guard !readingPaused else { return }
        readingPaused = true
        updateReadSource()
    }

    /// Suspends the read source while reading is paused or a turn is pending, and resumes it after.
    private func updateReadSource() {
        let suspended = readingPaused || turnPending
        guard let readSource, !isClosed, suspended != readSourceSuspended else { return }
        readSourceSuspended = suspended
        if suspended { readSource.suspend() } else { readSource.resume() }
    }
}

/// A serial queue that several channels' queues run on (a server's loop: one thread for many
/// connections), and what they share there.
///
/// They share one read buffer: channels on one loop never read at the same time, and an idle connection
/// then holds no 64 KiB buffer of its own. And they share the loop's time: a quiet connection's request
/// waits for the turns of the busy ones queued before it, so a turn hands over fewer frames while more
/// channels wait for theirs, and all their turns together hand over about `framesPerRound`, however
/// many they are. With 16 frames a turn, a health check behind 8 connections pipelining calls waited
/// for 128 of their calls.
public final class ChannelLoop: @unchecked Sendable {
    /// Frames that the turns of all the channels waiting on a loop hand over together, about.
    public static let framesPerRound = 32

    public let queue: DispatchQueue
    let readBuffer = ReadBuffer()
    /// Channels whose next turn waits on `queue`. Touched on `queue` only: every channel's queue runs on
    /// it, so their code does too.
    var waitingTurns = 0

    public init(label: String) {
        queue = DispatchQueue(label: label)
    }

    /// The frames of a turn starting now: an equal share of a round with the channels waiting.
    var framesForNextTurn: Int {
        max(1, min(FrameChannel.framesPerTurn, Self.framesPerRound / (waitingTurns + 1)))
    }
}

/// The buffer a channel reads into; everything read is copied out (into the decoder, the preface)
/// before the read handler returns, so channels that never read at the same time can share one.
final class ReadBuffer: @unchecked Sendable {
    let bytes: UnsafeMutableRawBufferPointer

    init(byteCount: Int = 64 * 1024) {
        bytes = .allocate(byteCount: byteCount, alignment: 16)
    }

    deinit { bytes.deallocate() }
}
