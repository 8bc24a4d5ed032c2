// A second, independent reading of a message's wire bytes, to check StringFieldCheck (Sources/BillingWire)
// against: protobuf-c hands strings to Swift NUL-terminated and patches bad UTF-8, so a decoder that lets
// such a string through merges or alters values without a word (two idempotency keys "K\0A" and "K\0B"
// become one "K").
import BillingProtos
import BillingWire

/// Whether every string field in `bytes` (read as `descriptor`, nested messages included) is UTF-8 without a
/// NUL byte; nil when the bytes cannot be walked (malformed, or a wire type protobuf does not use in proto3).
func stringsAreClean(_ bytes: ArraySlice<UInt8>, _ descriptor: UnsafePointer<ProtobufCMessageDescriptor>, depth: Int = 0) -> Bool? {
    var index = bytes.startIndex
    func varint() -> UInt64? {
        var value: UInt64 = 0
        for shift in stride(from: UInt64(0), to: 70, by: 7) {
            guard index < bytes.endIndex else { return nil }
            let byte = bytes[index]
            index += 1
            if shift < 64 { value |= UInt64(byte & 0x7F) << shift }
            if byte < 0x80 { return value }
        }
        return nil
    }
    var clean = true
    while index < bytes.endIndex {
        guard let tag = varint() else { return nil }
        switch tag & 7 {
        case 0: guard varint() != nil else { return nil }
        case 1, 5:
            let width = tag & 7 == 1 ? 8 : 4
            guard bytes.endIndex - index >= width else { return nil }
            index += width
        case 2:
            guard let length = varint(), length <= UInt64(bytes.endIndex - index) else { return nil }
            let value = bytes[index..<index + Int(length)]
            index += Int(length)
            guard let field = protobuf_c_message_descriptor_get_field(descriptor, UInt32(truncatingIfNeeded: tag >> 3)) else { continue }
            if field.pointee.type == PROTOBUF_C_TYPE_STRING {
                if value.contains(0) || value.withUnsafeBufferPointer({ String(validating: $0, as: UTF8.self) }) == nil { clean = false }
            } else if field.pointee.type == PROTOBUF_C_TYPE_MESSAGE, let nested = field.pointee.descriptor {
                guard depth < 64 else { return nil }
                let inner = stringsAreClean(value, nested.assumingMemoryBound(to: ProtobufCMessageDescriptor.self), depth: depth + 1)
                guard let inner else { return nil }
                if !inner { clean = false }
            }
        default: return nil
        }
    }
    return clean
}

/// Checks `M(wireBytes:)` against protobuf-c's generic unpacking and `stringsAreClean`: it must accept
/// exactly the bytes protobuf-c unpacks whose strings are all clean, and then round-trip
/// (`checkRoundTrip`).
func checkDecoding<M: WireMessage & Hashable>(_ type: M.Type, _ descriptor: ProtobufCMessageDescriptor, _ bytes: [UInt8]) {
    let accepted = checkRoundTrip(M.self, bytes) != nil
    withUnsafePointer(to: descriptor) { descriptor in
        let unpacked = bytes.withUnsafeBufferPointer { protobuf_c_message_unpack(descriptor, nil, $0.count, $0.baseAddress) }
        defer { if let unpacked { protobuf_c_message_free_unpacked(unpacked, nil) } }
        let clean = unpacked == nil ? nil : stringsAreClean(bytes[...], descriptor)
        if accepted {
            precondition(unpacked != nil, "\(M.self): accepted bytes protobuf-c does not unpack: \(bytes)")
            precondition(clean == true, "\(M.self): accepted a string field with a NUL byte or invalid UTF-8: \(bytes)")
        } else {
            precondition(unpacked == nil || clean != true, "\(M.self): refused bytes protobuf-c unpacks with clean strings: \(bytes)")
        }
    }
}
