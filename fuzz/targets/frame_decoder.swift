// libFuzzer target: the incremental frame decoder (Sources/BillingWire/FrameDecoder.swift) on arbitrary bytes
// in arbitrary chunkings. Input: byte 0 picks the payload limit, byte 1 seeds the chunking, the rest is the
// byte stream a peer sends after its preface.
//
// Checks, beyond "never crashes": the frames, oversized headers and errors the decoder returns are exactly
// those of a plain one-pass reading of the whole stream (so no chunking changes what is read); no frame
// exceeds the limit; and what the decoder holds once drained is less than one frame at the limit.
import BillingWire

enum Event: Equatable {
    case frame(streamID: UInt32, type: UInt8, payload: [UInt8])
    case oversized(FrameHeader)
    case error(FrameDecodingError)
}

/// The protocol as docs/PROTOCOL.md states it, read in one pass over the whole stream.
func reference(_ bytes: [UInt8], limit: Int) -> [Event] {
    var events: [Event] = []
    var offset = 0
    while bytes.count - offset >= FrameHeader.size {
        func u32(_ at: Int) -> UInt32 {
            UInt32(bytes[at]) << 24 | UInt32(bytes[at + 1]) << 16 | UInt32(bytes[at + 2]) << 8 | UInt32(bytes[at + 3])
        }
        let length = Int(u32(offset)), streamID = u32(offset + 4), type = bytes[offset + 8], flags = bytes[offset + 9]
        if flags != 0 { events.append(.error(.reservedFlags(streamID: streamID, flags: flags))); return events }
        if type == 0 { events.append(.error(.zeroFrameType(streamID: streamID))); return events }
        offset += FrameHeader.size
        if length > limit {
            events.append(.oversized(FrameHeader(payloadLength: UInt32(length), streamID: streamID, type: FrameType(rawValue: type))))
            offset += length  // skipped, whether or not it has arrived
            continue
        }
        guard bytes.count - offset >= length else { return events }
        events.append(.frame(streamID: streamID, type: type, payload: Array(bytes[offset..<offset + length])))
        offset += length
    }
    return events
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 2 else { return 0 }
    // Limits from 0 to 1020 bytes, so that small inputs reach both sides of the limit.
    let limit = Int(data[0]) * 4
    var seed = UInt32(data[1]) | 0x9E37_0000
    let stream = Array(UnsafeBufferPointer(start: data + 2, count: size - 2))

    var decoder = FrameDecoder(maxPayloadSize: limit)
    var events: [Event] = []
    var offset = 0
    var failed = false
    feeding: while offset < stream.count {
        // xorshift32: chunks of 1 to 64 bytes, or (one time in eight) everything left.
        seed ^= seed << 13; seed ^= seed >> 17; seed ^= seed << 5
        let chunk = seed % 8 == 0 ? stream.count - offset : min(Int(seed >> 8) % 64 + 1, stream.count - offset)
        stream[offset..<offset + chunk].withUnsafeBytes { decoder.append($0) }
        offset += chunk
        while true {
            do {
                guard let decoded = try decoder.next() else { break }
                switch decoded {
                case .frame(let frame):
                    precondition(frame.payload.count <= limit, "a frame of \(frame.payload.count) bytes passed the \(limit)-byte limit")
                    precondition(Int(frame.header.payloadLength) == frame.payload.count, "header length and payload disagree")
                    events.append(.frame(streamID: frame.streamID, type: frame.type.rawValue, payload: frame.payload))
                case .oversized(let header):
                    precondition(Int(header.payloadLength) > limit, "an oversized header within the limit")
                    events.append(.oversized(header))
                }
            } catch {
                events.append(.error(error))
                failed = true
                break feeding  // the connection is closed: nothing more is read
            }
        }
        precondition(
            decoder.bufferedByteCount < FrameHeader.size + limit || decoder.bufferedByteCount < FrameHeader.size,
            "the decoder holds \(decoder.bufferedByteCount) bytes with nothing to return (limit \(limit))")
    }
    let expected = reference(stream, limit: limit)
    if events != expected {
        fatalError("chunked decoding differs from one pass: \(events.count) events against \(expected.count), failed \(failed)")
    }
    return 0
}
