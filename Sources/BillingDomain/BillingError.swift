import Foundation

/// The one error type the billing domain throws.
///
/// Every failure a caller can see is a `BillingError`, so the server has exactly one
/// place that turns domain failures into gRPC status codes (see ``Kind``). The domain
/// itself knows nothing of sockets, frames or protobuf.
///
/// The `message` is written for a person who has to fix the problem: it names the
/// field and says what is wrong with it, for example
/// `"billing_address.postal_code is required for country US"`.
/// Messages never contain card numbers, CVCs or gateway tokens.
///
/// ```swift
/// throw BillingError.invalidArgument(
///     "billing_address.postal_code is required for country US",
///     field: "billing_address.postal_code")
/// ```
public struct BillingError: Error, Sendable, Hashable, Codable, CustomStringConvertible {
    /// What kind of failure this is. Each kind maps to one gRPC status code of the
    /// same name, so pick the kind by what the caller should do next.
    public enum Kind: String, Sendable, Hashable, Codable, CaseIterable {
        /// The request itself is wrong; retrying it unchanged will fail again.
        case invalidArgument
        /// Something the request names does not exist.
        case notFound
        /// Something the request would create exists already.
        case alreadyExists
        /// The request is well formed, but the system is not in a state that allows it
        /// (for example charging an account with no payment method).
        case failedPrecondition
        /// A limit or quota has been reached.
        case resourceExhausted
        /// A conflict with a concurrent operation; the caller may retry the whole operation.
        case aborted
        /// A dependency (such as the payment gateway) cannot be reached right now; retry later.
        case unavailable
        /// A bug or broken invariant on our side; the caller cannot fix it.
        case `internal`
    }

    /// What kind of failure this is; decides the status code the caller sees.
    public let kind: Kind
    /// What went wrong, written so a person can act on it.
    public let message: String
    /// The request field at fault, in the API's `snake_case` path form
    /// (`billing_address.postal_code`), when a single field is to blame.
    public let field: String?

    public init(kind: Kind, message: String, field: String? = nil) {
        self.kind = kind
        self.message = message
        self.field = field
    }

    public var description: String {
        if let field {
            return "\(kind.rawValue) (\(field)): \(message)"
        }
        return "\(kind.rawValue): \(message)"
    }
}

// MARK: - Shorthands, one per kind

extension BillingError {
    public static func invalidArgument(_ message: String, field: String? = nil) -> BillingError {
        BillingError(kind: .invalidArgument, message: message, field: field)
    }

    public static func notFound(_ message: String, field: String? = nil) -> BillingError {
        BillingError(kind: .notFound, message: message, field: field)
    }

    public static func alreadyExists(_ message: String, field: String? = nil) -> BillingError {
        BillingError(kind: .alreadyExists, message: message, field: field)
    }

    public static func failedPrecondition(_ message: String, field: String? = nil) -> BillingError {
        BillingError(kind: .failedPrecondition, message: message, field: field)
    }

    public static func resourceExhausted(_ message: String, field: String? = nil) -> BillingError {
        BillingError(kind: .resourceExhausted, message: message, field: field)
    }

    public static func aborted(_ message: String, field: String? = nil) -> BillingError {
        BillingError(kind: .aborted, message: message, field: field)
    }

    public static func unavailable(_ message: String, field: String? = nil) -> BillingError {
        BillingError(kind: .unavailable, message: message, field: field)
    }

    public static func internalError(_ message: String, field: String? = nil) -> BillingError {
        BillingError(kind: .internal, message: message, field: field)
    }
}

// `localizedDescription` is what many loggers print; make it the message rather than
// Foundation's generic "The operation could not be completed".
extension BillingError: LocalizedError {
    public var errorDescription: String? { message }
}
