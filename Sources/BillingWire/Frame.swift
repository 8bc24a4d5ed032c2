/// The kinds of frame, the byte at offset 8 of every frame header. docs/PROTOCOL.md defines each.
public struct FrameType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// Client → server: opens a call; the payload is a `Request` envelope.
    public static let request = FrameType(rawValue: 0x01)
    /// Server → client: closes a call; the payload is a `Response` envelope.
    public static let response = FrameType(rawValue: 0x02)
    /// Server → client: one message of a server stream; the payload is the message itself.
    public static let data = FrameType(rawValue: 0x03)
    /// Client → server: cancels a call; no payload.
    public static let cancel = FrameType(rawValue: 0x04)
    /// Server → client, stream 0: the server takes no new calls; the payload is a `GoAway` envelope.
    public static let goAway = FrameType(rawValue: 0x05)
    /// Client → server: grants a server stream more DATA frames; the payload is a `WindowUpdate`.
    public static let windowUpdate = FrameType(rawValue: 0x06)

    public var isKnown: Bool { (0x01...0x06).contains(rawValue) }

    public var description: String {
        switch self {
        case .request: "REQUEST"
        case .response: "RESPONSE"
        case .data: "DATA"
        case .cancel: "CANCEL"
        case .goAway: "GOAWAY"
        case .windowUpdate: "WINDOW_UPDATE"
        default: "UNKNOWN(0x\(String(rawValue, radix: 16)))"
        }
    }
}

/// The fixed 10-byte header in front of every frame:
/// `payload length u32 BE | stream id u32 BE | type u8 | flags u8`.
public struct FrameHeader: Hashable, Sendable {
    public static let size = 10

    public var payloadLength: UInt32
    public var streamID: UInt32
    public var type: FrameType
    /// No flags are defined in protocol version 1; a frame with any bit set is malformed.
    public var flags: UInt8

    public init(payloadLength: UInt32, streamID: UInt32, type: FrameType, flags: UInt8 = 0) {
        self.payloadLength = payloadLength
        self.streamID = streamID
        self.type = type
        self.flags = flags
    }

    /// Reads a header from exactly `FrameHeader.size` bytes.
    public init(_ bytes: UnsafeRawBufferPointer) {
        precondition(bytes.count >= Self.size)
        func u32(_ at: Int) -> UInt32 {
            UInt32(bytes[at]) << 24 | UInt32(bytes[at + 1]) << 16 | UInt32(bytes[at + 2]) << 8 | UInt32(bytes[at + 3])
        }
        self.init(payloadLength: u32(0), streamID: u32(4), type: FrameType(rawValue: bytes[8]), flags: bytes[9])
    }

    public func append(to buffer: inout [UInt8]) {
        for shift in stride(from: 24, through: 0, by: -8) { buffer.append(UInt8(truncatingIfNeeded: payloadLength >> UInt32(shift))) }
        for shift in stride(from: 24, through: 0, by: -8) { buffer.append(UInt8(truncatingIfNeeded: streamID >> UInt32(shift))) }
        buffer.append(type.rawValue)
        buffer.append(flags)
    }
}

/// One whole frame: its header and its payload.
public struct Frame: Sendable {
    public var header: FrameHeader
    public var payload: [UInt8]

    public init(streamID: UInt32, type: FrameType, payload: [UInt8] = []) {
        self.header = FrameHeader(payloadLength: UInt32(payload.count), streamID: streamID, type: type)
        self.payload = payload
    }

    init(header: FrameHeader, payload: [UInt8]) {
        self.header = header
        self.payload = payload
    }

    public var streamID: UInt32 { header.streamID }
    public var type: FrameType { header.type }

    /// Appends the encoded frame (header, then payload) to `buffer`, so that many frames share one write.
    public func append(to buffer: inout [UInt8]) {
        header.append(to: &buffer)
        buffer.append(contentsOf: payload)
    }

    public var encoded: [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(FrameHeader.size + payload.count)
        append(to: &bytes)
        return bytes
    }
}

/// Flow control of server streams: how many DATA frames may be in flight before the client grants more.
public enum StreamWindow {
    /// The largest window a request may ask for; larger requests are clamped to it by both sides.
    public static let max: UInt32 = 1024
}
