import BillingWire
import Testing

@Suite("Frame codec")
struct FrameDecoderTests {
    /// Three frames of different sizes, back to back, as they would arrive on a socket.
    private let frames = [
        Frame(streamID: 1, type: .request, payload: Array(0..<40)),
        Frame(streamID: 3, type: .cancel),
        Frame(streamID: 5, type: .windowUpdate, payload: [7, 8, 9]),
    ]

    private func decodeAll(_ decoder: inout FrameDecoder) throws -> [DecodedFrame] {
        var decoded: [DecodedFrame] = []
        while let next = try decoder.next() { decoded.append(next) }
        return decoded
    }

    private func expectSameFrames(_ decoded: [DecodedFrame]) {
        #expect(decoded.count == frames.count)
        for (got, want) in zip(decoded, frames) {
            guard case .frame(let frame) = got else {
                Issue.record("expected a whole frame, got \(got)")
                continue
            }
            #expect(frame.header == want.header)
            #expect(frame.payload == want.payload)
        }
    }

    @Test func headerLayoutIsBigEndian() {
        let bytes = Frame(streamID: 0x0102_0304, type: .response, payload: [0xAA, 0xBB]).encoded
        #expect(bytes == [0, 0, 0, 2, 1, 2, 3, 4, 0x02, 0x00, 0xAA, 0xBB])
    }

    @Test func everySplitOfTheBytesDecodesTheSameFrames() throws {
        let bytes = frames.flatMap(\.encoded)
        for first in 0...bytes.count {
            for second in first...bytes.count where second == first || second % 3 == 0 {
                var decoder = FrameDecoder(maxPayloadSize: 1024)
                var decoded: [DecodedFrame] = []
                for chunk in [bytes[..<first], bytes[first..<second], bytes[second...]] {
                    decoder.append(Array(chunk))
                    decoded += try decodeAll(&decoder)
                }
                expectSameFrames(decoded)
                #expect(decoder.bufferedByteCount == 0)
            }
        }
    }

    @Test func oneByteAtATime() throws {
        var decoder = FrameDecoder(maxPayloadSize: 1024)
        var decoded: [DecodedFrame] = []
        for byte in frames.flatMap(\.encoded) {
            decoder.append([byte])
            decoded += try decodeAll(&decoder)
        }
        expectSameFrames(decoded)
    }

    @Test func truncatedFrameWaitsForTheRest() throws {
        let bytes = frames[0].encoded
        var decoder = FrameDecoder(maxPayloadSize: 1024)
        decoder.append(Array(bytes.dropLast()))
        #expect(try decoder.next() == nil)
        decoder.append(Array(bytes.suffix(1)))
        decoder.append(frames[1].encoded + frames[2].encoded)
        expectSameFrames(try decodeAll(&decoder))
    }

    @Test func truncatedHeaderWaitsForTheRest() throws {
        var decoder = FrameDecoder(maxPayloadSize: 1024)
        decoder.append(Array(frames[1].encoded.prefix(FrameHeader.size - 1)))
        #expect(try decoder.next() == nil)
        #expect(decoder.bufferedByteCount == FrameHeader.size - 1)
    }

    @Test func oversizedFrameIsReportedAndSkippedWithoutBuffering() throws {
        let big = Frame(streamID: 7, type: .request, payload: [UInt8](repeating: 0x55, count: 5000))
        let bytes = big.encoded + frames[1].encoded
        var decoder = FrameDecoder(maxPayloadSize: 1000)
        var decoded: [DecodedFrame] = []
        // Fed in small chunks: the decoder must never hold more than a chunk of the oversized payload.
        for start in stride(from: 0, to: bytes.count, by: 100) {
            decoder.append(Array(bytes[start..<min(start + 100, bytes.count)]))
            decoded += try decodeAll(&decoder)
            #expect(decoder.bufferedByteCount <= 100)
        }
        #expect(decoded.count == 2)
        guard case .oversized(let header) = decoded.first else { Issue.record("expected an oversized report"); return }
        #expect(header.streamID == 7)
        #expect(header.payloadLength == 5000)
        guard case .frame(let after) = decoded.last else { Issue.record("expected the next frame"); return }
        #expect(after.header == frames[1].header)
    }

    @Test func garbageHeadersAreMalformed() {
        var reserved = FrameDecoder(maxPayloadSize: 1024)
        reserved.append([0, 0, 0, 0, 0, 0, 0, 1, 0x01, 0x80])
        #expect(throws: FrameDecodingError.reservedFlags(streamID: 1, flags: 0x80)) { try reserved.next() }

        var zeroType = FrameDecoder(maxPayloadSize: 1024)
        zeroType.append([0, 0, 0, 0, 0, 0, 0, 9, 0x00, 0x00])
        #expect(throws: FrameDecodingError.zeroFrameType(streamID: 9)) { try zeroType.next() }
    }

    @Test func unknownFrameTypesDecodeAsFramesForTheCallerToRefuse() throws {
        var decoder = FrameDecoder(maxPayloadSize: 1024)
        decoder.append(Frame(streamID: 11, type: FrameType(rawValue: 0x42), payload: [1, 2]).encoded)
        guard case .frame(let frame) = try decoder.next() else { Issue.record("expected a frame"); return }
        #expect(frame.type.rawValue == 0x42)
        #expect(!frame.type.isKnown)
        #expect(frame.payload == [1, 2])
    }

    @Test func prefaceVerdicts() {
        #expect(ConnectionPreface.check(ConnectionPreface.bytes()) == .accepted)
        #expect(ConnectionPreface.check(ConnectionPreface.bytes(version: 2)) == .unsupportedVersion(2))
        #expect(ConnectionPreface.check(Array("GET / HTTP/1.1\r\n".utf8)) == .notThisProtocol)
    }
}
