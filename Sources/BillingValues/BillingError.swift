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

    /// Why, in a word a program can switch on: callers are told never to parse `message`. The raw
    /// values are the `reason` details on the wire; `billing.v1.ErrorReason` lists every one, and a
    /// test keeps the two lists equal.
    public enum Reason: String, Sendable, Hashable, Codable, CaseIterable {
        // Generic reasons, one per kind, for refusals that need no finer word.
        case invalidArgument = "invalid_argument"
        case notFound = "not_found"
        case alreadyExists = "already_exists"
        case failedPrecondition = "failed_precondition"
        case resourceExhausted = "resource_exhausted"
        case aborted
        case unavailable
        case `internal`
        // The request.
        /// An amount above the configured limit for one amount (`MoneyLimits`).
        case amountTooLarge = "amount_too_large"
        case currencyMismatch = "currency_mismatch"
        /// The idempotency key was used before for a request with other parameters.
        case idempotencyKeyReused = "idempotency_key_reused"
        // Payments.
        /// The gateway declined the charge, or the card when it was added; the `decline_code` detail says how.
        case cardDeclined = "card_declined"
        case noPrimaryPaymentMethod = "no_primary_payment_method"
        case primaryCardExpired = "primary_card_expired"
        case billingAddressIncomplete = "billing_address_incomplete"
        /// The gateway's answer is not known yet: reconciliation settles the charge; retrying now
        /// with the same key re-sends it under the same gateway key, never a second charge.
        case chargePending = "charge_pending"
        case gatewayUnavailable = "gateway_unavailable"
        case invoiceNotPayable = "invoice_not_payable"
        case invoiceStateConflict = "invoice_state_conflict"
        // Wallets.
        case insufficientFunds = "insufficient_funds"
        case walletSuspended = "wallet_suspended"
        /// The debit is larger than one auto-recharge may charge.
        case rechargeLimitExceeded = "recharge_limit_exceeded"
        case tooManyWatchers = "too_many_watchers"
        /// Every loaded wallet is busy and the limit of loaded wallets is reached.
        case walletsBusy = "wallets_busy"
        // The store.
        case storeOverloaded = "store_overloaded"
        case storeFailed = "store_failed"
        /// The store's disk is full (RESOURCE_EXHAUSTED): nothing was stored; retry once space is freed.
        case storageFull = "storage_full"
        /// The store's disk gave an I/O error (UNAVAILABLE): nothing was stored; retry later.
        case storageError = "storage_error"
        /// The store's database server cannot be reached (UNAVAILABLE): retry with the same idempotency key.
        case storeUnavailable = "store_unavailable"
        /// Concurrent writes conflicted with this one more often than the store retries (ABORTED): retry.
        case storeConflict = "store_conflict"
        // Plans and subscriptions.
        case planNotFound = "plan_not_found"
        case planRetired = "plan_retired"
        case quantityOutOfRange = "quantity_out_of_range"
        case subscriptionEnded = "subscription_ended"
        case subscriptionNotCanceling = "subscription_not_canceling"
        case subscriptionNotActive = "subscription_not_active"
        case planChangeNotAllowed = "plan_change_not_allowed"
        case tooManySubscriptions = "too_many_subscriptions"
        // Test clocks.
        case testClockBackwards = "test_clock_backwards"
        case testClocksUnavailable = "test_clocks_unavailable"
        case testClockAdvancing = "test_clock_advancing"

        /// The reason a refusal of `kind` has when nothing finer is said.
        public static func generic(for kind: Kind) -> Reason {
            switch kind {
            case .invalidArgument: .invalidArgument
            case .notFound: .notFound
            case .alreadyExists: .alreadyExists
            case .failedPrecondition: .failedPrecondition
            case .resourceExhausted: .resourceExhausted
            case .aborted: .aborted
            case .unavailable: .unavailable
            case .internal: .internal
            }
        }
    }

    /// What kind of failure this is; decides the status code the caller sees.
    public let kind: Kind
    /// What went wrong, written so a person can act on it.
    public let message: String
    /// The request field at fault, in the API's `snake_case` path form
    /// (`billing_address.postal_code`), when a single field is to blame.
    public let field: String?
    /// Why, for programs.
    public let reason: Reason
    /// For `cardDeclined`: the gateway's code (`insufficient_funds`, `card_declined`, `expired_card`).
    public let declineCode: String?

    public init(kind: Kind, message: String, field: String? = nil, reason: Reason? = nil, declineCode: String? = nil) {
        self.kind = kind
        self.message = message
        self.field = field
        self.reason = reason ?? .generic(for: kind)
        self.declineCode = declineCode
    }

    private enum CodingKeys: String, CodingKey { case kind, message, field, reason, declineCode }

    /// Outcomes stored before reasons existed decode with their kind's generic reason.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let kind = try container.decode(Kind.self, forKey: .kind)
        self.init(
            kind: kind, message: try container.decode(String.self, forKey: .message),
            field: try container.decodeIfPresent(String.self, forKey: .field),
            reason: try container.decodeIfPresent(Reason.self, forKey: .reason),
            declineCode: try container.decodeIfPresent(String.self, forKey: .declineCode))
    }

    public var description: String {
        if let field {
            return "\(kind.rawValue) \(reason.rawValue) (\(field)): \(message)"
        }
        return "\(kind.rawValue) \(reason.rawValue): \(message)"
    }
}

// MARK: - Shorthands, one per kind

extension BillingError {
    public static func invalidArgument(_ message: String, field: String? = nil, reason: Reason? = nil) -> BillingError {
        BillingError(kind: .invalidArgument, message: message, field: field, reason: reason)
    }

    public static func notFound(_ message: String, field: String? = nil, reason: Reason? = nil) -> BillingError {
        BillingError(kind: .notFound, message: message, field: field, reason: reason)
    }

    public static func alreadyExists(_ message: String, field: String? = nil, reason: Reason? = nil) -> BillingError {
        BillingError(kind: .alreadyExists, message: message, field: field, reason: reason)
    }

    public static func failedPrecondition(_ message: String, field: String? = nil, reason: Reason? = nil) -> BillingError {
        BillingError(kind: .failedPrecondition, message: message, field: field, reason: reason)
    }

    public static func resourceExhausted(_ message: String, field: String? = nil, reason: Reason? = nil) -> BillingError {
        BillingError(kind: .resourceExhausted, message: message, field: field, reason: reason)
    }

    public static func aborted(_ message: String, field: String? = nil, reason: Reason? = nil) -> BillingError {
        BillingError(kind: .aborted, message: message, field: field, reason: reason)
    }

    public static func unavailable(_ message: String, field: String? = nil, reason: Reason? = nil) -> BillingError {
        BillingError(kind: .unavailable, message: message, field: field, reason: reason)
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
