import BillingAPI
import BillingWire

extension BillingV1.ErrorReason {
    /// The value of a status's `reason` detail for this reason: its proto name without the
    /// `ERROR_REASON_` prefix, in lower case (`card_declined`).
    public var wireName: String { String(description.dropFirst("ERROR_REASON_".count)).lowercased() }

    /// The reason a `reason` detail names; `.unspecified` for a name this build does not know.
    public init(wireName: String) {
        self = Self.allCases.first { $0 != .unspecified && $0.wireName == wireName } ?? .unspecified
    }
}

extension RPCError {
    /// Why the call failed, typed: switch on it rather than on the message, which is for people.
    ///
    /// ```swift
    /// catch let error as RPCError where error.billingReason == .cardDeclined {
    ///     print("declined:", error.declineCode ?? "")
    /// }
    /// ```
    public var billingReason: BillingV1.ErrorReason { BillingV1.ErrorReason(wireName: reason) }

    /// The request field at fault, as a path (`billing_address.lines[1]`), when one is to blame.
    public var field: String? { detail("field") }

    /// For `card_declined`: the payment gateway's code (`insufficient_funds`, `expired_card`, ...).
    public var declineCode: String? { detail("decline_code") }
}
