// libFuzzer target: the envelope (Sources/BillingWire/Envelope.swift and Generated/), the payloads of
// REQUEST, RESPONSE, GOAWAY and WINDOW_UPDATE frames and the messages inside them, decoded from arbitrary
// bytes through protobuf-c and the string check. Input: byte 0 picks the message, the rest is its payload.
// Each must accept exactly what protobuf-c unpacks with every string clean (fuzz/support/StringOracle.swift),
// refuse the rest as INVALID_ARGUMENT, and round-trip what it accepts (fuzz/support/RoundTrip.swift).
// The connection preface check runs on the same bytes.
import BillingProtos
import BillingWire

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 1 else { return 0 }
    let payload = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    switch data[0] % 8 {
    case 0:
        // What the server does with a REQUEST frame's payload (ServerConnection.receiveRequest).
        if let request = checkRoundTrip(RequestEnvelope.self, payload) {
            _ = request.timeoutNanoseconds
        }
        checkDecoding(RequestEnvelope.self, billing__rpc__v1__request__descriptor, payload)
    case 1:
        // What the client does with a RESPONSE frame's payload.
        if let response = checkRoundTrip(ResponseEnvelope.self, payload) {
            if let error = response.status.error {
                precondition(error.code == response.status.code && error.code != .ok)
                _ = error.reason
                _ = "\(error)"
            }
        }
        checkDecoding(BillingRpcV1.Response.self, billing__rpc__v1__response__descriptor, payload)
    case 2:
        if let goAway = checkRoundTrip(GoAwayEnvelope.self, payload) { _ = goAway.status.error.map { "\($0)" } }
        checkDecoding(BillingRpcV1.GoAway.self, billing__rpc__v1__go_away__descriptor, payload)
    case 3: checkDecoding(WindowUpdateEnvelope.self, billing__rpc__v1__window_update__descriptor, payload)
    case 4: checkDecoding(BillingRpcV1.Status.self, billing__rpc__v1__status__descriptor, payload)
    case 5: checkDecoding(BillingRpcV1.StatusDetail.self, billing__rpc__v1__status_detail__descriptor, payload)
    case 6: checkDecoding(MetadataEntry.self, billing__rpc__v1__key_value__descriptor, payload)
    default:
        let verdict = ConnectionPreface.check(payload)
        let expected: ConnectionPreface.Verdict =
            payload.count < 8 || Array(payload[0..<4]) != Array("BRPC".utf8) ? .notThisProtocol
            : UInt16(payload[4]) << 8 | UInt16(payload[5]) == 1 ? .accepted
            : .unsupportedVersion(UInt16(payload[4]) << 8 | UInt16(payload[5]))
        precondition(verdict == expected, "preface \(payload.prefix(8)): \(verdict), expected \(expected)")
    }
    return 0
}
