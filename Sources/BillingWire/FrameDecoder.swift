/// Why a byte stream cannot be read as frames; the connection that sent it is closed.
public enum FrameDecodingError: Error, Equatable, Sendable, CustomStringConvertible {
    case reservedFlags(streamID: UInt32, flags: UInt8)
    case zeroFrameType(streamID: UInt32)

    public var description: String {
        switch self {
        case .reservedFlags(let streamID, let flags):
            "frame on stream \(streamID) sets reserved flags 0x\(String(flags, radix: 16)); protocol version 1 defines none"
        case .zeroFrameType(let streamID):
            "frame on stream \(streamID) has type 0, which is never valid"
        }
    }
}

/// What the decoder found next in the byte stream.
public enum DecodedFrame: Sendable {
    /// A whole frame within the size limit.
    case frame(Frame)
    /// A frame whose payload is larger than the limit: the decoder skips its payload as it arrives,
    /// so the caller can answer RESOURCE_EXHAUSTED on that stream and keep the connection.
    case oversized(FrameHeader)
}

/// Splits a byte stream into frames, incrementally: bytes may arrive split at any point.
///
/// Memory is bounded by the frame size limit: a payload over the limit is skipped, never buffered.
public struct FrameDecoder: Sendable {
    public let maxPayloadSize: Int
    private var buffer: [UInt8] = []
    private var readIndex = 0
    /// Bytes of an oversized payload still to be thrown away.
    private var bytesToSkip = 0

    public init(maxPayloadSize: Int) {
        self.maxPayloadSize = maxPayloadSize
    }

    /// Bytes received but not yet returned as frames.
    public var bufferedByteCount: Int { buffer.count - readIndex }

    /// The memory this decoder holds for frames not yet returned, counting a frame whose header has
    /// arrived at its whole size: room for all of it is made when more of it arrives (`append`). A server
    /// charges its inbound budget this, so that a peer that will not get room is refused after its first
    /// read, not after megabytes of payload it was let send.
    public var reservedByteCount: Int { max(buffer.count - readIndex, nextFrameSize ?? 0) }

    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        var bytes = bytes[...]
        if bytesToSkip > 0 {
            let skipped = min(bytesToSkip, bytes.count)
            bytesToSkip -= skipped
            bytes = bytes.dropFirst(skipped)
        }
        if readIndex > 0 && readIndex >= buffer.count / 2 {
            buffer.removeFirst(readIndex)
            readIndex = 0
        }
        makeRoomForIncompleteFrame()
        buffer.append(contentsOf: bytes)
    }

    /// Room for the whole frame at once, once its header is here and more of it arrives: growing by
    /// doubling would hold up to twice its size. Not on the read that brings the header: a peer refused
    /// over the inbound budget after that read never costs a frame-sized allocation (peers that came back
    /// a thousand times a second each made the server map and unmap 4 MiB).
    private mutating func makeRoomForIncompleteFrame() {
        if let size = nextFrameSize { buffer.reserveCapacity(readIndex + size) }
    }

    /// The whole size, header included, of the next frame once its header is here, if it is within the limit.
    private var nextFrameSize: Int? {
        guard bytesToSkip == 0, buffer.count - readIndex >= FrameHeader.size else { return nil }
        let length = Int(headerAtReadIndex().payloadLength)
        return length > maxPayloadSize ? nil : FrameHeader.size + length
    }

    public mutating func append(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { append($0) }
    }

    /// The next whole frame, or nil until more bytes arrive.
    public mutating func next() throws(FrameDecodingError) -> DecodedFrame? {
        guard bytesToSkip == 0, buffer.count - readIndex >= FrameHeader.size else { return nil }
        let header = headerAtReadIndex()
        guard header.flags == 0 else { throw .reservedFlags(streamID: header.streamID, flags: header.flags) }
        guard header.type.rawValue != 0 else { throw .zeroFrameType(streamID: header.streamID) }
        let length = Int(header.payloadLength)
        if length > maxPayloadSize {
            readIndex += FrameHeader.size
            let available = min(length, buffer.count - readIndex)
            readIndex += available
            bytesToSkip = length - available
            return .oversized(header)
        }
        guard buffer.count - readIndex - FrameHeader.size >= length else { return nil }
        let start = readIndex + FrameHeader.size
        let payload = Array(buffer[start..<(start + length)])
        readIndex = start + length
        if readIndex == buffer.count {
            buffer.removeAll(keepingCapacity: buffer.capacity <= 1 << 20)
            readIndex = 0
        }
        return .frame(Frame(header: header, payload: payload))
    }

    private func headerAtReadIndex() -> FrameHeader {
        buffer.withUnsafeBytes { FrameHeader(UnsafeRawBufferPointer(rebasing: $0[readIndex..<(readIndex + FrameHeader.size)])) }
    }
}
