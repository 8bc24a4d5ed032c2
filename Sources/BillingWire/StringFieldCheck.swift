import BillingProtos

/// Refuses string fields that C would read differently from the sender: protobuf-c hands strings over
/// NUL-terminated, so `"K\0A"` and `"K\0B"` would both arrive as `"K"` (two idempotency keys merged into
/// one), and bytes that are not UTF-8 would be patched silently. Checked once, on the wire bytes, for
/// every string field of every message, nested and repeated ones included, against the message's own
/// protobuf-c descriptor; so no handler has to remember it.
enum StringFieldCheck {
    /// Nesting deeper than this is refused rather than walked (no schema of ours comes close).
    static let maxDepth = 32

    /// The first string field holding a NUL byte or invalid UTF-8, as an INVALID_ARGUMENT naming it;
    /// nil when every string is clean. `bytes` must already have unpacked as this message.
    static func firstProblem(in bytes: UnsafeBufferPointer<UInt8>, of descriptor: UnsafePointer<ProtobufCMessageDescriptor>) -> RPCError? {
        guard let (path, problem) = firstProblem(in: bytes, of: descriptor, depth: 0) else { return nil }
        return RPCError(
            .invalidArgument, "\(path) holds \(problem); strings must be UTF-8 without NUL bytes (U+0000)",
            reason: .invalidString, details: [.field(path)])
    }

    private static func firstProblem(
        in bytes: UnsafeBufferPointer<UInt8>, of descriptor: UnsafePointer<ProtobufCMessageDescriptor>, depth: Int
    ) -> (path: String, problem: String)? {
        var offset = 0
        while offset < bytes.count {
            let fieldStart = offset
            guard let tag = readVarint(bytes, &offset) else { return ("the message", "a malformed field") }
            switch tag & 7 {
            case 0:
                guard readVarint(bytes, &offset) != nil else { return ("the message", "a malformed varint") }
            case 1:
                offset += 8
            case 5:
                offset += 4
            case 2:
                guard let length = readVarint(bytes, &offset), length <= UInt64(bytes.count - offset) else {
                    return ("the message", "a malformed length")
                }
                let value = UnsafeBufferPointer(rebasing: bytes[offset..<offset + Int(length)])
                offset += Int(length)
                let number = UInt32(truncatingIfNeeded: tag >> 3)
                guard let field = protobuf_c_message_descriptor_get_field(descriptor, number) else { continue }
                let found: (path: String, problem: String)?
                switch field.pointee.type {
                case PROTOBUF_C_TYPE_STRING:
                    found = stringProblem(value).map { ("", $0) }
                case PROTOBUF_C_TYPE_MESSAGE:
                    guard depth < maxDepth, let nested = field.pointee.descriptor else { return ("the message", "nesting too deep") }
                    found = firstProblem(in: value, of: nested.assumingMemoryBound(to: ProtobufCMessageDescriptor.self), depth: depth + 1)
                default:
                    found = nil
                }
                // The path is built only on this rare path: the field's name, its index when repeated.
                if let (inner, problem) = found {
                    var name = String(cString: field.pointee.name)
                    if field.pointee.label == PROTOBUF_C_LABEL_REPEATED {
                        name += "[\(occurrences(of: number, in: UnsafeBufferPointer(rebasing: bytes[0..<fieldStart])))]"
                    }
                    return (inner.isEmpty ? name : name + "." + inner, problem)
                }
            default:
                return ("the message", "an unsupported wire type")
            }
        }
        return offset == bytes.count ? nil : ("the message", "a truncated field")
    }

    /// Why a string's bytes are refused, or nil. ASCII without NUL, the common case, is one pass.
    private static func stringProblem(_ bytes: UnsafeBufferPointer<UInt8>) -> String? {
        var isASCII = true
        for byte in bytes {
            if byte == 0 { return "a NUL byte" }
            if byte >= 0x80 { isASCII = false }
        }
        if isASCII { return nil }
        guard String(validating: bytes, as: UTF8.self) == nil else { return nil }
        // How the Swift client's encoder writes a NUL it cannot put in a C string (ProtobufCArena).
        let isEncodedNUL = zip(bytes, bytes.dropFirst()).contains { $0 == 0xC0 && $1 == 0x80 }
        return isEncodedNUL ? "a NUL byte (sent as C0 80)" : "bytes that are not valid UTF-8"
    }

    /// How many length-delimited fields numbered `number` come in `bytes`: the index of the next one.
    private static func occurrences(of number: UInt32, in bytes: UnsafeBufferPointer<UInt8>) -> Int {
        var offset = 0
        var count = 0
        while offset < bytes.count, let tag = readVarint(bytes, &offset) {
            switch tag & 7 {
            case 0: _ = readVarint(bytes, &offset)
            case 1: offset += 8
            case 5: offset += 4
            case 2:
                guard let length = readVarint(bytes, &offset), length <= UInt64(bytes.count - offset) else { return count }
                offset += Int(length)
                if UInt32(truncatingIfNeeded: tag >> 3) == number { count += 1 }
            default: return count
            }
        }
        return count
    }

    private static func readVarint(_ bytes: UnsafeBufferPointer<UInt8>, _ offset: inout Int) -> UInt64? {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while offset < bytes.count, shift < 64 {
            let byte = bytes[offset]
            offset += 1
            value |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 { return value }
            shift += 7
        }
        return nil
    }
}
