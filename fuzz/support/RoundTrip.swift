// Shared by the message targets: what must hold for any message decoded from arbitrary bytes.
import BillingWire

/// Decodes `bytes` as `M`. Bytes that do not decode must be refused as INVALID_ARGUMENT (never a crash);
/// bytes that do decode must survive a round trip: the value encodes, the encoding decodes to an equal
/// value, and encoding that value again gives the same bytes.
@discardableResult
func checkRoundTrip<M: WireMessage & Hashable>(_ type: M.Type, _ bytes: [UInt8]) -> M? {
    let first: M
    do {
        first = try M(wireBytes: bytes)
    } catch {
        precondition(error.code == .invalidArgument, "\(M.self): refused with \(error), not INVALID_ARGUMENT")
        return nil
    }
    let encoded = first.wireBytes()
    let second: M
    do {
        second = try M(wireBytes: encoded)
    } catch {
        fatalError("\(M.self): its own encoding \(encoded) does not decode: \(error)")
    }
    precondition(first == second, "\(M.self): \(first) encodes to a different value \(second)")
    precondition(second.wireBytes() == encoded, "\(M.self): encoding is not stable")
    return first
}
