import BillingValues
/// What the billing service needs from a card processor: turn a card into a token,
/// charge a token, and find out what happened to a charge.
///
/// The domain only ever talks to this protocol, so the sandbox (``SandboxGateway``)
/// and a real processor are interchangeable, and tests can inject failures.
///
/// ## Idempotency
/// Every charge carries a caller-chosen `idempotencyKey` (at most
/// ``IdempotencyKey/maxLength`` characters, ``IdempotencyKey/validate(_:field:)``). A gateway must:
/// - charge at most once per key: a repeated call returns the first result (including
///   a failed one) without charging again, even after the gateway restarts;
/// - reject a repeated key whose token or amount differ from the first call with
///   `invalidArgument` on `idempotency_key`, because that is a caller bug;
/// - answer ``lookUpCharge(idempotencyKey:)`` so a caller that crashed mid-charge can
///   learn whether the charge happened before deciding to retry.
///
/// ## Errors
/// Implementations throw ``BillingError``: `unavailable` when the processor cannot be
/// reached (safe to retry with the same key), `notFound` for an unknown token,
/// `invalidArgument` for bad input. A declined card is not an error: it is a
/// ``GatewayCharge`` with status ``GatewayChargeStatus/failed``.
/// Tokens and card numbers never appear in error messages.
public protocol PaymentGateway: Sendable {
    /// Exchanges card details for a reusable token. The card is validated first.
    func tokenize(_ card: CardDetails) async throws -> GatewayCard

    /// Charges `amount` (which must be positive) to the card behind `token`.
    /// - Parameter description: what the charge is for, as shown on the customer's statement
    ///   and in the processor's dashboard (e.g. "Invoice INV-000042").
    func charge(token: String, amount: Money, idempotencyKey: String, description: String) async throws
        -> GatewayCharge

    /// The charge made under `idempotencyKey`, or `nil` if none was found (yet).
    func lookUpCharge(idempotencyKey: String) async throws -> GatewayCharge?

    /// How long after a charge call its look-up may still miss it. Until a pending charge is this old,
    /// a look-up that finds nothing proves nothing, and the reconciler keeps it pending instead of
    /// declaring it not charged (which would free its idempotency key for a second charge).
    var lookUpLag: Duration { get }
}

extension PaymentGateway {
    /// A real processor's search lags its charges by seconds to minutes; an hour is safe.
    public var lookUpLag: Duration { .seconds(3600) }
}

/// Limits every gateway applies to its inputs.
public enum PaymentGatewayLimits {
    /// Longer charge descriptions are cut to this many characters.
    public static let maxChargeDescriptionLength = 500

    /// Checks a charge amount: gateways charge strictly positive amounts.
    public static func validateChargeAmount(_ amount: Money) throws {
        if !amount.isPositive {
            throw BillingError.invalidArgument(
                "amount must be greater than zero to charge (got \(amount.formatted))", field: "amount")
        }
    }
}

/// A card as the gateway knows it after tokenization. Holds the token (a secret), so
/// its descriptions redact it.
public struct GatewayCard: Sendable, Hashable, Codable, CustomStringConvertible, CustomDebugStringConvertible,
    CustomReflectable
{
    /// Opaque handle to charge the card with. Secret: never log or return it.
    public let token: String
    public let brand: CardBrand
    public let last4: String
    public let expiryMonth: Int
    public let expiryYear: Int

    public init(token: String, brand: CardBrand, last4: String, expiryMonth: Int, expiryYear: Int) {
        self.token = token
        self.brand = brand
        self.last4 = last4
        self.expiryMonth = expiryMonth
        self.expiryYear = expiryYear
    }

    /// `"visa •••• 4242 exp 12/2030"`: no token.
    public var description: String {
        "\(brand.rawValue) •••• \(last4) exp \(CardExpiry.text(month: expiryMonth, year: expiryYear))"
    }

    public var debugDescription: String { "GatewayCard(\(description))" }

    public var customMirror: Mirror {
        Mirror(self, children: [
            "token": "<redacted>",
            "brand": brand,
            "last4": last4,
            "expiryMonth": expiryMonth,
            "expiryYear": expiryYear,
        ], displayStyle: .struct)
    }
}

/// Whether the money moved.
public enum GatewayChargeStatus: String, Sendable, Hashable, Codable {
    case succeeded
    case failed
}

/// The outcome of one charge attempt, as the gateway recorded it.
public struct GatewayCharge: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The gateway's id for the charge (e.g. `ch_…`); printed on receipts and used
    /// to find the charge in the processor's dashboard.
    public let reference: String
    public let status: GatewayChargeStatus
    public let amount: Money
    /// Machine-readable reason for a failure, Stripe's vocabulary: `card_declined`,
    /// `insufficient_funds`, `expired_card`, `processing_error`. `nil` on success.
    public let failureCode: String?
    /// What to tell the customer about a failure. `nil` on success.
    public let failureMessage: String?

    public init(
        reference: String, status: GatewayChargeStatus, amount: Money,
        failureCode: String? = nil, failureMessage: String? = nil
    ) {
        self.reference = reference
        self.status = status
        self.amount = amount
        self.failureCode = failureCode
        self.failureMessage = failureMessage
    }

    public var succeeded: Bool { status == .succeeded }

    public var description: String {
        var text = "\(reference) \(status.rawValue) \(amount.formatted)"
        if let failureCode { text += " (\(failureCode))" }
        return text
    }
}
