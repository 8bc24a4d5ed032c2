import BillingStore
import Foundation

/// A card on file as the billing page shows it: never the number, the CVC or the gateway's token.
public struct PaymentMethod: Sendable, Hashable, Codable {
    public var id: String
    public var brand: CardBrand
    public var last4: String
    public var expiryMonth: Int
    public var expiryYear: Int
    public var holderName: String
    public var isPrimary: Bool
    public var isExpired: Bool
    public var createdAtMilliseconds: Int64
}

/// What removing a card did, and what the person should do next.
public struct PaymentMethodRemoval: Sendable, Hashable, Codable {
    public var removedPaymentMethodID: String
    public var removedPrimary: Bool
    public var hasPrimary: Bool
    public var notice: String
}

/// Adds, removes, lists cards and chooses the primary one.
///
/// The first card becomes primary. Removing the primary card leaves the account without one until the
/// caller chooses another: charges then fail with FAILED_PRECONDITION saying so; nothing is picked silently.
public struct PaymentMethodService: Sendable {
    /// Cards on file per account; past it, adding one is RESOURCE_EXHAUSTED.
    public static let maxPaymentMethodsPerAccount = 20

    let context: BillingContext
    let gatewayRequests: KeyedSerialQueue

    public init(context: BillingContext) {
        self.context = context
        self.gatewayRequests = KeyedSerialQueue()
    }

    /// Validates the card, has the gateway tokenize it, and stores only the token, brand, last four digits
    /// and expiry.
    public func add(accountID: String, card: CardDetails, makePrimary: Bool, idempotencyKey: String) async throws -> PaymentMethod {
        try Identifier.validate(accountID, prefix: "acct", field: "account_id")
        try card.validate(now: context.now())
        // The fingerprint leaves out the number and the CVC: it is stored.
        let key = try IdempotencyKey(idempotencyKey, scope: accountID, method: "AddPaymentMethod", parameters: [
            card.brand.rawValue, card.last4, "\(card.expiryMonth)", "\(card.expiryYear)", card.holderName, "\(makePrimary)",
        ])
        let context = context
        return try await gatewayRequests.run(key.scope + "\u{0}" + key.key) {
            // Before calling the gateway: replay a finished request, and refuse what the write would refuse.
            let replay: PaymentMethod? = try await context.store.read { tx in
                if case .done(let method) = try IdempotencyRecords.look(key, in: tx, as: PaymentMethod.self) { return method }
                _ = try AccountRecords.account(accountID, in: tx)
                try Self.requireRoomForAnotherCard(accountID, in: tx)
                return nil
            }
            if let replay { return replay }
            let tokenized = try await context.gateway.tokenize(card)
            let now = context.nowMilliseconds
            // Re-checked inside the write: nothing that was read before the await is trusted.
            return try await IdempotencyRecords.once(key, in: context.store, nowMilliseconds: now) { tx in
                let account = try AccountRecords.account(accountID, in: tx)
                try Self.requireRoomForAnotherCard(accountID, in: tx)
                let id = try PaymentMethodRecords.insert(
                    tokenized, holderName: card.holderName.trimmingCharacters(in: .whitespaces), accountID: accountID, in: tx, nowMilliseconds: now)
                if makePrimary || account.primaryPaymentMethodID == nil {
                    try AccountRecords.setPrimaryPaymentMethod(id, of: accountID, in: tx)
                }
                return try PaymentMethodRecords.paymentMethod(id, accountID: accountID, in: tx, now: context.now())
            }
        }
    }

    public func remove(accountID: String, paymentMethodID: String, idempotencyKey: String) async throws -> PaymentMethodRemoval {
        try Identifier.validate(accountID, prefix: "acct", field: "account_id")
        try Identifier.validate(paymentMethodID, prefix: "pm", field: "payment_method_id")
        let key = try IdempotencyKey(idempotencyKey, scope: accountID, method: "RemovePaymentMethod", parameters: [paymentMethodID])
        let now = context.nowMilliseconds
        return try await IdempotencyRecords.once(key, in: context.store, nowMilliseconds: now) { tx in
            let account = try AccountRecords.account(accountID, in: tx)
            _ = try PaymentMethodRecords.activeToken(paymentMethodID, accountID: accountID, in: tx)
            try PaymentMethodRecords.markRemoved(paymentMethodID, in: tx, nowMilliseconds: now)
            let wasPrimary = account.primaryPaymentMethodID == paymentMethodID
            if wasPrimary { try AccountRecords.setPrimaryPaymentMethod(nil, of: accountID, in: tx) }
            let hasPrimary = !wasPrimary && account.primaryPaymentMethodID != nil
            let removal = PaymentMethodRemoval(
                removedPaymentMethodID: paymentMethodID, removedPrimary: wasPrimary, hasPrimary: hasPrimary,
                notice: wasPrimary
                    ? "the removed card was the primary one: the account has no primary card now; choose one before the next charge"
                    : hasPrimary ? "" : "the account has no primary card; choose one before the next charge")
            return removal
        }
    }

    public func setPrimary(accountID: String, paymentMethodID: String, idempotencyKey: String) async throws -> PaymentMethod {
        try Identifier.validate(accountID, prefix: "acct", field: "account_id")
        try Identifier.validate(paymentMethodID, prefix: "pm", field: "payment_method_id")
        let key = try IdempotencyKey(idempotencyKey, scope: accountID, method: "SetPrimaryPaymentMethod", parameters: [paymentMethodID])
        let context = context
        return try await IdempotencyRecords.once(key, in: context.store, nowMilliseconds: context.nowMilliseconds) { tx in
            _ = try AccountRecords.account(accountID, in: tx)
            _ = try PaymentMethodRecords.activeToken(paymentMethodID, accountID: accountID, in: tx)
            let candidate = try PaymentMethodRecords.paymentMethod(paymentMethodID, accountID: accountID, in: tx, now: context.now())
            guard !candidate.isExpired else {
                throw BillingError.failedPrecondition(
                    "the card ending \(candidate.last4) expired \(candidate.expiryMonth)/\(candidate.expiryYear); add a current card instead",
                    field: "payment_method_id", reason: .primaryCardExpired)
            }
            try AccountRecords.setPrimaryPaymentMethod(paymentMethodID, of: accountID, in: tx)
            return try PaymentMethodRecords.paymentMethod(paymentMethodID, accountID: accountID, in: tx, now: context.now())
        }
    }

    /// The cards on file: primary first, then newest first.
    public func list(accountID: String) async throws -> [PaymentMethod] {
        try Identifier.validate(accountID, prefix: "acct", field: "account_id")
        let now = context.now()
        return try await context.store.read { tx in
            _ = try AccountRecords.account(accountID, in: tx)
            let methods = try PaymentMethodRecords.onFile(accountID, in: tx).map {
                try PaymentMethodRecords.paymentMethod($0, accountID: accountID, in: tx, now: now)
            }
            return methods.filter(\.isPrimary) + methods.filter { !$0.isPrimary }
        }
    }

    private static func requireRoomForAnotherCard(_ accountID: String, in tx: some Querying) throws {
        let count = try PaymentMethodRecords.countOnFile(accountID, in: tx)
        guard count < maxPaymentMethodsPerAccount else {
            throw BillingError.resourceExhausted("the account already has \(count) cards, the limit; remove one first")
        }
    }
}
