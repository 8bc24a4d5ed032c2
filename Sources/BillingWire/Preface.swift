/// The 8 bytes each peer sends first on a new connection: `"BRPC" | version u16 BE | reserved u16 (0)`.
///
/// It lets a server tell a peer speaking another protocol version (or no billing protocol at all)
/// a clear error instead of decoding its bytes as frames.
public enum ConnectionPreface {
    public static let magic: [UInt8] = Array("BRPC".utf8)
    public static let size = 8
    /// The protocol version this build speaks.
    public static let currentVersion: UInt16 = 1

    public static func bytes(version: UInt16 = currentVersion) -> [UInt8] {
        magic + [UInt8(version >> 8), UInt8(version & 0xFF), 0, 0]
    }

    /// What a received preface says.
    public enum Verdict: Equatable, Sendable {
        case accepted
        /// The magic matched but the version did not.
        case unsupportedVersion(UInt16)
        /// The peer does not speak this protocol at all.
        case notThisProtocol
    }

    public static func check(_ bytes: some Collection<UInt8>) -> Verdict {
        let bytes = Array(bytes.prefix(size))
        guard bytes.count == size, Array(bytes[0..<4]) == magic else { return .notThisProtocol }
        let version = UInt16(bytes[4]) << 8 | UInt16(bytes[5])
        return version == currentVersion ? .accepted : .unsupportedVersion(version)
    }
}
