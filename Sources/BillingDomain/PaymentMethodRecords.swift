import BillingStore
import Foundation

/// The payment method rows, read and changed inside the caller's transaction. The gateway token is
/// stored here and read only to charge: it never leaves the domain.
enum PaymentMethodRecords {
    static func insert(_ card: GatewayCard, holderName: String, accountID: String, in tx: WriteTransaction, nowMilliseconds now: Int64) throws -> String {
        let id = Identifier.make("pm")
        try tx.execute("""
            INSERT INTO payment_methods(id, account_id, brand, last4, expiry_month, expiry_year, holder_name, gateway_token, created_at_ms)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, .text(id), .text(accountID), .text(card.brand.rawValue), .text(card.last4),
            .int(card.expiryMonth), .int(card.expiryYear), .text(holderName), .text(card.token), .integer(now))
        return id
    }

    static func markRemoved(_ id: String, in tx: WriteTransaction, nowMilliseconds now: Int64) throws {
        try tx.execute("UPDATE payment_methods SET removed_at_ms = ? WHERE id = ?", .integer(now), .text(id))
    }

    /// The ids of the cards on file (not removed), newest first.
    static func onFile(_ accountID: String, in tx: some Querying) throws -> [String] {
        try tx.query("SELECT id FROM payment_methods WHERE account_id = ? AND removed_at_ms IS NULL ORDER BY seq DESC", .text(accountID))
            .map { try $0.string("id") }
    }

    static func countOnFile(_ accountID: String, in tx: some Querying) throws -> Int {
        try tx.queryOne("SELECT count(*) AS n FROM payment_methods WHERE account_id = ? AND removed_at_ms IS NULL", .text(accountID))?.int("n") ?? 0
    }

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
            isExpired: CardExpiry.isExpired(month: month, year: year, now: now),
            createdAtMilliseconds: try row.int64("created_at_ms"))
    }

    /// The gateway token of a card that is on file (not removed).
    static func activeToken(_ id: String, accountID: String, in tx: some Querying) throws -> String {
        guard let row = try tx.queryOne(
            "SELECT gateway_token, removed_at_ms FROM payment_methods WHERE id = ? AND account_id = ?", .text(id), .text(accountID))
        else { throw BillingError.notFound("no payment method \(id) on account \(accountID)", field: "payment_method_id") }
        guard try row.optionalInt64("removed_at_ms") == nil else {
            throw BillingError.notFound("payment method \(id) was already removed", field: "payment_method_id")
        }
        return try row.string("gateway_token")
    }

    /// The gateway token a card had, removed or not: a pending charge is re-sent with the token it was
    /// first sent with.
    static func token(of id: String, in tx: some Querying) throws -> String? {
        try tx.queryOne("SELECT gateway_token FROM payment_methods WHERE id = ?", .text(id))?.optionalString("gateway_token")
    }
}
