import Foundation

/// A mutating request's idempotency key, with a fingerprint of what it asked for.
///
/// The first outcome of a key is stored in the same transaction as the change it made; a retry with
/// the same key gets that outcome back and changes nothing; the same key with other parameters is
/// INVALID_ARGUMENT. Keys are scoped to an account (account creation uses the empty scope) and kept
/// at least `IdempotencyKey.retention`.
public struct IdempotencyKey: Sendable, Hashable {
    public static let maxLength = 255
    /// How long a key is remembered; the issue asks for at least a day.
    public static let retention: TimeInterval = 7 * 24 * 3600

    public let scope: String
    public let key: String
    /// A hash of the method and its parameters. Parameters that are secrets (card numbers, CVCs) are
    /// left out by the caller: the fingerprint is stored.
    public let fingerprint: String

    public init(_ key: String, scope: String, method: String, parameters: [String]) throws(BillingError) {
        try Self.validate(key)
        self.scope = scope
        self.key = key
        self.fingerprint = Self.hash(([method] + parameters).joined(separator: "\u{1F}"))
    }

    /// The one rule for idempotency keys, ours and the gateway's alike (Stripe's): 1 to 255 characters,
    /// no control characters.
    public static func validate(_ key: String, field: String = "idempotency_key") throws(BillingError) {
        guard !key.isEmpty else {
            throw .invalidArgument("\(field) is required: send a unique value (a UUID, say) and reuse it when retrying", field: field)
        }
        guard key.count <= maxLength else {
            throw .invalidArgument("\(field) is \(key.count) characters; the limit is \(maxLength)", field: field)
        }
        guard key.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value != 0x7F }) else {
            throw .invalidArgument("\(field) must not contain control characters", field: field)
        }
    }

    /// 64-bit FNV-1a, twice with different seeds: a stable fingerprint without a crypto dependency.
    /// It guards against a caller's mistake (reusing a key for another request), not against an attacker.
    private static func hash(_ text: String) -> String {
        func fnv(_ seed: UInt64) -> UInt64 {
            var hash = seed
            for byte in text.utf8 {
                hash ^= UInt64(byte)
                hash = hash &* 0x100_0000_01B3
            }
            return hash
        }
        return String(fnv(0xCBF2_9CE4_8422_2325), radix: 16) + String(fnv(0x84222325CBF29CE4), radix: 16)
    }
}
