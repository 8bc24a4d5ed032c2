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
                _ = try AccountService.account(accountID, in: tx)
                try Self.requireRoomForAnotherCard(accountID, in: tx)
                return nil
            }
            if let replay { return replay }
            let tokenized = try await context.gateway.tokenize(card)
            let now = context.nowMilliseconds
            return try await context.store.write { tx in
                // Re-checked inside the write: nothing that was read before the await is trusted.
                if case .done(let method) = try IdempotencyRecords.look(key, in: tx, as: PaymentMethod.self) { return method }
                let account = try AccountService.account(accountID, in: tx)
                try Self.requireRoomForAnotherCard(accountID, in: tx)
                let id = Identifier.make("pm")
                try tx.execute("""
                    INSERT INTO payment_methods(id, account_id, brand, last4, expiry_month, expiry_year, holder_name, gateway_token, created_at_ms)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """, .text(id), .text(accountID), .text(tokenized.brand.rawValue), .text(tokenized.last4),
                    .int(tokenized.expiryMonth), .int(tokenized.expiryYear), .text(card.holderName.trimmingCharacters(in: .whitespaces)),
                    .text(tokenized.token), .integer(now))
                if makePrimary || account.primaryPaymentMethodID == nil {
                    try tx.execute("UPDATE accounts SET primary_payment_method_id = ? WHERE id = ?", .text(id), .text(accountID))
                }
                let method = try Self.paymentMethod(id, accountID: accountID, in: tx, now: context.now())
                try IdempotencyRecords.save(method, for: key, in: tx, nowMilliseconds: now)
                return method
            }
        }
    }

    public func remove(accountID: String, paymentMethodID: String, idempotencyKey: String) async throws -> PaymentMethodRemoval {
        try Identifier.validate(accountID, prefix: "acct", field: "account_id")
        try Identifier.validate(paymentMethodID, prefix: "pm", field: "payment_method_id")
        let key = try IdempotencyKey(idempotencyKey, scope: accountID, method: "RemovePaymentMethod", parameters: [paymentMethodID])
        let now = context.nowMilliseconds
        return try await context.store.write { tx in
            if case .done(let removal) = try IdempotencyRecords.look(key, in: tx, as: PaymentMethodRemoval.self) { return removal }
            let account = try AccountService.account(accountID, in: tx)
            _ = try Self.activeToken(paymentMethodID, accountID: accountID, in: tx)
            try tx.execute("UPDATE payment_methods SET removed_at_ms = ? WHERE id = ?", .integer(now), .text(paymentMethodID))
            let wasPrimary = account.primaryPaymentMethodID == paymentMethodID
            if wasPrimary {
                try tx.execute("UPDATE accounts SET primary_payment_method_id = NULL WHERE id = ?", .text(accountID))
            }
            let hasPrimary = !wasPrimary && account.primaryPaymentMethodID != nil
            let removal = PaymentMethodRemoval(
                removedPaymentMethodID: paymentMethodID, removedPrimary: wasPrimary, hasPrimary: hasPrimary,
                notice: wasPrimary
                    ? "the removed card was the primary one: the account has no primary card now; choose one before the next charge"
                    : hasPrimary ? "" : "the account has no primary card; choose one before the next charge")
            try IdempotencyRecords.save(removal, for: key, in: tx, nowMilliseconds: now)
            return removal
        }
    }

    public func setPrimary(accountID: String, paymentMethodID: String, idempotencyKey: String) async throws -> PaymentMethod {
        try Identifier.validate(accountID, prefix: "acct", field: "account_id")
        try Identifier.validate(paymentMethodID, prefix: "pm", field: "payment_method_id")
        let key = try IdempotencyKey(idempotencyKey, scope: accountID, method: "SetPrimaryPaymentMethod", parameters: [paymentMethodID])
        let context = context
        let now = context.nowMilliseconds
        return try await context.store.write { tx in
            if case .done(let method) = try IdempotencyRecords.look(key, in: tx, as: PaymentMethod.self) { return method }
            _ = try AccountService.account(accountID, in: tx)
            _ = try Self.activeToken(paymentMethodID, accountID: accountID, in: tx)
            let candidate = try Self.paymentMethod(paymentMethodID, accountID: accountID, in: tx, now: context.now())
            guard !candidate.isExpired else {
                throw BillingError.failedPrecondition(
                    "the card ending \(candidate.last4) expired \(candidate.expiryMonth)/\(candidate.expiryYear); add a current card instead",
                    field: "payment_method_id", reason: .primaryCardExpired)
            }
            try tx.execute("UPDATE accounts SET primary_payment_method_id = ? WHERE id = ?", .text(paymentMethodID), .text(accountID))
            let method = try Self.paymentMethod(paymentMethodID, accountID: accountID, in: tx, now: context.now())
            try IdempotencyRecords.save(method, for: key, in: tx, nowMilliseconds: now)
            return method
        }
    }

    /// The cards on file: primary first, then newest first.
    public func list(accountID: String) async throws -> [PaymentMethod] {
        try Identifier.validate(accountID, prefix: "acct", field: "account_id")
        let now = context.now()
        return try await context.store.read { tx in
            _ = try AccountService.account(accountID, in: tx)
            let ids = try tx.query(
                "SELECT id FROM payment_methods WHERE account_id = ? AND removed_at_ms IS NULL ORDER BY seq DESC", .text(accountID)
            ).map { try $0.string("id") }
            let methods = try ids.map { try Self.paymentMethod($0, accountID: accountID, in: tx, now: now) }
            return methods.filter(\.isPrimary) + methods.filter { !$0.isPrimary }
        }
    }

    // MARK: Lookups

    static func paymentMethod(_ id: String, accountID: String, in tx: some Querying, now: Date) throws -> PaymentMethod {
        guard let row = try tx.queryOne("""
            SELECT m.id, m.brand, m.last4, m.expiry_month, m.expiry_year, m.holder_name, m.created_at_ms,
                   a.primary_payment_method_id = m.id AS is_primary
            FROM payment_methods m JOIN accounts a ON a.id = m.account_id
            WHERE m.id = ? AND m.account_id = ?
            """, .text(id), .text(accountID))
        else { throw BillingError.notFound("no payment method \(id) on account \(accountID)", field: "payment_method_id") }
        let month = try row.int("expiry_month")
        let year = try row.int("expiry_year")
        return PaymentMethod(
            id: try row.string("id"), brand: CardBrand(rawValue: try row.string("brand")) ?? .unknown,
            last4: try row.string("last4"), expiryMonth: month, expiryYear: year,
            holderName: try row.string("holder_name"), isPrimary: (try row.optionalBool("is_primary")) ?? false,
            isExpired: Self.isExpired(month: month, year: year, now: now),
            createdAtMilliseconds: try row.int64("created_at_ms"))
    }

    /// The gateway token of a card that is on file (not removed); the token never leaves the domain.
    static func activeToken(_ id: String, accountID: String, in tx: some Querying) throws -> String {
        guard let row = try tx.queryOne(
            "SELECT gateway_token, removed_at_ms FROM payment_methods WHERE id = ? AND account_id = ?", .text(id), .text(accountID))
        else { throw BillingError.notFound("no payment method \(id) on account \(accountID)", field: "payment_method_id") }
        guard try row.optionalInt64("removed_at_ms") == nil else {
            throw BillingError.notFound("payment method \(id) was already removed", field: "payment_method_id")
        }
        return try row.string("gateway_token")
    }

    /// A card is valid through the last day of its expiry month (UTC).
    static func isExpired(month: Int, year: Int, now: Date) -> Bool {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let today = calendar.dateComponents([.year, .month], from: now)
        return (today.year!, today.month!) > (year, month)
    }

    private static func requireRoomForAnotherCard(_ accountID: String, in tx: some Querying) throws {
        let count = try tx.queryOne(
            "SELECT count(*) AS n FROM payment_methods WHERE account_id = ? AND removed_at_ms IS NULL", .text(accountID)
        )?.int("n") ?? 0
        guard count < maxPaymentMethodsPerAccount else {
            throw BillingError.resourceExhausted("the account already has \(count) cards, the limit; remove one first")
        }
    }
}
