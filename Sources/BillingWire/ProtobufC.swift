import BillingProtos
#if canImport(Glibc)
import Glibc
#endif

/// A protobuf message as Swift values, with its encoding through the committed protobuf-c code.
///
/// Conforming types copy everything out of the C struct while decoding and free it at once,
/// so no C pointer outlives `init(wireBytes:)`.
public protocol WireMessage: Sendable {
    /// Decodes protobuf bytes; malformed bytes are INVALID_ARGUMENT.
    init(wireBytes: [UInt8]) throws(RPCError)
    /// Encodes the message as protobuf bytes.
    func wireBytes() -> [UInt8]
}

/// The C memory a message points into while it is packed or read: strings, byte buffers, structs and pointer
/// arrays, taken from blocks and freed together when the arena is released, so that a
/// message costs a `malloc` or two instead of one per field. (GetWallet's reply holds six amounts,
/// each with its currency code: building its C structs with a `malloc` per field took 16 % of the
/// server's CPU time in a profile of that call.)
public final class ProtobufCArena {
    /// The newest block. Its first word points to the block before it (nil for the first); the
    /// header keeps what follows aligned as `malloc`'s own memory is.
    private var newest: UnsafeMutableRawPointer?
    private var used = 0
    private var capacity = 0
    private static let headerBytes = 16
    private static let alignment = 16
    /// Small enough for glibc's per-thread cache (up to 1,032 bytes), which most messages fit in: with
    /// 4 KiB blocks the Swift client spent more CPU decoding a wallet than with a `malloc` per field.
    private static let blockBytes = 1024
    private static let maxUnpackAllocationBytes = 1 << 30

    public init() {}

    deinit {
        var block = newest
        while let current = block {
            block = current.load(as: UnsafeMutableRawPointer?.self)
            free(current)
        }
    }

    /// `byteCount` bytes aligned for any C type: from the newest block, or from a new one (of its own
    /// size, for an allocation larger than a block).
    private func allocate(_ byteCount: Int) -> UnsafeMutableRawPointer {
        let rounded = (byteCount + Self.alignment - 1) & ~(Self.alignment - 1)
        if newest == nil || rounded > capacity - used {
            let size = max(Self.blockBytes, Self.headerBytes + rounded)
            let block = malloc(size)!
            block.storeBytes(of: newest, as: UnsafeMutableRawPointer?.self)
            newest = block
            used = Self.headerBytes
            capacity = size
        }
        let pointer = newest! + used
        used += rounded
        return pointer
    }

    /// A NUL-terminated copy of `string`. A C string cannot hold a NUL, so one inside `string` is
    /// written as the overlong pair C0 80, which no receiver accepts as UTF-8: the call is refused,
    /// naming the field, instead of the string being cut short without a word.
    public func string(_ string: String) -> UnsafeMutablePointer<CChar> {
        var string = string
        return string.withUTF8 { utf8 in
            let nulCount = utf8.reduce(0) { $0 + ($1 == 0 ? 1 : 0) }
            let length = utf8.count + nulCount
            let copy = allocate(length + 1)
            if nulCount == 0 {
                if let base = utf8.baseAddress { copy.copyMemory(from: base, byteCount: utf8.count) }
            } else {
                var offset = 0
                for byte in utf8 {
                    if byte == 0 {
                        copy.storeBytes(of: 0xC0, toByteOffset: offset, as: UInt8.self)
                        copy.storeBytes(of: 0x80, toByteOffset: offset + 1, as: UInt8.self)
                        offset += 2
                    } else {
                        copy.storeBytes(of: byte, toByteOffset: offset, as: UInt8.self)
                        offset += 1
                    }
                }
            }
            copy.storeBytes(of: 0, toByteOffset: length, as: UInt8.self)
            return copy.bindMemory(to: CChar.self, capacity: length + 1)
        }
    }

    public func bytes(_ bytes: [UInt8]) -> ProtobufCBinaryData {
        guard !bytes.isEmpty else { return ProtobufCBinaryData(len: 0, data: nil) }
        let copy = allocate(bytes.count)
        bytes.withUnsafeBytes { copy.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
        return ProtobufCBinaryData(len: bytes.count, data: copy.bindMemory(to: UInt8.self, capacity: bytes.count))
    }

    /// A zeroed C struct, initialized by `initialize` (the generated `…__init` function).
    public func message<M>(_ initialize: (UnsafeMutablePointer<M>) -> Void) -> UnsafeMutablePointer<M> {
        let raw = allocate(MemoryLayout<M>.stride)
        raw.initializeMemory(as: UInt8.self, repeating: 0, count: MemoryLayout<M>.stride)
        let pointer = raw.bindMemory(to: M.self, capacity: 1)
        initialize(pointer)
        return pointer
    }

    /// Runs `body` with a protobuf-c allocator that takes from this arena and frees nothing: what
    /// protobuf-c unpacks with it is freed with the arena. A request past `maxUnpackAllocationBytes`
    /// (no frame holds that much) fails the unpack instead of overflowing the arithmetic.
    func withAllocator<Result>(_ body: (UnsafeMutablePointer<ProtobufCAllocator>) -> Result) -> Result {
        var allocator = ProtobufCAllocator(
            alloc: { arena, byteCount in
                guard byteCount <= ProtobufCArena.maxUnpackAllocationBytes else { return nil }
                return Unmanaged<ProtobufCArena>.fromOpaque(arena!).takeUnretainedValue().allocate(byteCount)
            },
            free: { _, _ in },
            allocator_data: Unmanaged.passUnretained(self).toOpaque())
        return withUnsafeMutablePointer(to: &allocator) { body($0) }
    }

    /// A C array of the given elements (a repeated field).
    public func array<T>(_ elements: [T]) -> UnsafeMutablePointer<T>? {
        guard !elements.isEmpty else { return nil }
        let pointer = allocate(MemoryLayout<T>.stride * elements.count).bindMemory(to: T.self, capacity: elements.count)
        pointer.initialize(from: elements, count: elements.count)
        return pointer
    }
}

/// Packs a generated protobuf-c struct (built with an arena) into bytes.
public func packProtobufC<M>(_ message: UnsafeMutablePointer<M>) -> [UInt8] {
    let base = UnsafeRawPointer(message).assumingMemoryBound(to: ProtobufCMessage.self)
    let size = protobuf_c_message_get_packed_size(base)
    guard size > 0 else { return [] }
    return [UInt8](unsafeUninitializedCapacity: size) { buffer, count in
        count = protobuf_c_message_pack(base, buffer.baseAddress!)
    }
}

/// Unpacks `bytes` with a generated `…__unpack` function, refuses string fields with NUL bytes or
/// invalid UTF-8 (``StringFieldCheck``), and lets `read` copy the fields out. protobuf-c allocates the
/// C struct from an arena, freed whole when this returns.
public func unpackProtobufC<M, Value>(
    _ bytes: [UInt8],
    as name: String,
    unpack: (UnsafeMutablePointer<ProtobufCAllocator>?, Int, UnsafePointer<UInt8>?) -> UnsafeMutablePointer<M>?,
    read: (M) throws(RPCError) -> Value
) throws(RPCError) -> Value {
    let arena = ProtobufCArena()
    // The C struct points into the arena: keep the arena alive until `read` is done.
    defer { withExtendedLifetime(arena) {} }
    let message = arena.withAllocator { allocator in bytes.withUnsafeBufferPointer { unpack(allocator, $0.count, $0.baseAddress) } }
    guard let message else {
        throw RPCError(.invalidArgument, "the \(name) message is not valid protobuf", reason: .invalidMessage)
    }
    // Every generated struct starts with its `ProtobufCMessage` base, which names its descriptor.
    let descriptor = UnsafeRawPointer(message).assumingMemoryBound(to: ProtobufCMessage.self).pointee.descriptor!
    if let problem = bytes.withUnsafeBufferPointer({ StringFieldCheck.firstProblem(in: $0, of: descriptor) }) {
        throw problem
    }
    return try read(message.pointee)
}

/// Reading fields out of protobuf-c structs.
public enum ProtobufCField {
    public static func string(_ pointer: UnsafeMutablePointer<CChar>?) -> String {
        pointer.map { String(cString: $0) } ?? ""
    }

    public static func bytes(_ data: ProtobufCBinaryData) -> [UInt8] {
        guard data.len > 0, let base = data.data else { return [] }
        return Array(UnsafeBufferPointer(start: base, count: data.len))
    }

    /// A map field, which protobuf-c keeps as repeated `…Entry` messages, each read by `read` into a key and
    /// a value. A key sent twice keeps its last value, as protobuf specifies for maps.
    public static func map<T, Key: Hashable, Value>(
        _ count: Int, _ entries: UnsafeMutablePointer<UnsafeMutablePointer<T>?>?,
        _ read: (T) throws(RPCError) -> (Key, Value)
    ) throws(RPCError) -> [Key: Value] {
        var values: [Key: Value] = [:]
        guard count > 0, let entries else { return values }
        values.reserveCapacity(count)
        for index in 0..<count {
            guard let entry = entries[index] else { continue }
            let (key, value) = try read(entry.pointee)
            values[key] = value
        }
        return values
    }

    /// The elements of a repeated message field, each read by `read`.
    public static func repeated<T, Value>(
        _ count: Int, _ elements: UnsafeMutablePointer<UnsafeMutablePointer<T>?>?,
        _ read: (T) throws(RPCError) -> Value
    ) throws(RPCError) -> [Value] {
        guard count > 0, let elements else { return [] }
        var values: [Value] = []
        values.reserveCapacity(count)
        for index in 0..<count {
            guard let element = elements[index] else { continue }
            values.append(try read(element.pointee))
        }
        return values
    }
}
