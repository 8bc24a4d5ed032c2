import BillingStore
import Foundation

/// The account rows, read and changed inside the caller's transaction.
enum AccountRecords {
    static func account(_ id: String, in tx: some Querying) throws -> Account {
        guard let row = try tx.queryOne(
            "SELECT id, display_name, currency, created_at_ms, service_status, suspension_reason, primary_payment_method_id, test_clock_id FROM accounts WHERE id = ?",
            .text(id))
        else {
            throw BillingError.notFound("no account with id \(id); create it first or check the id", field: "account_id")
        }
        return Account(
            id: try row.string("id"), displayName: try row.string("display_name"),
            currency: try Currency(code: try row.string("currency")),
            createdAtMilliseconds: try row.int64("created_at_ms"),
            serviceStatus: Account.ServiceStatus(rawValue: try row.string("service_status")) ?? .active,
            suspensionReason: try row.string("suspension_reason"),
            primaryPaymentMethodID: try row.optionalString("primary_payment_method_id"), testClockID: try row.optionalString("test_clock_id"))
    }

    static func billingInformation(_ accountID: String, in tx: some Querying) throws -> BillingInformationRecord {
        _ = try account(accountID, in: tx)
        guard let json = try tx.queryOne("SELECT billing_information FROM accounts WHERE id = ?", .text(accountID))?
            .optionalString("billing_information")
        else { return BillingInformationRecord(information: nil, updatedAtMilliseconds: nil) }
        return try JSONDecoder().decode(BillingInformationRecord.self, from: Data(json.utf8))
    }

    /// Creates an account with its empty wallet.
    static func insert(_ account: Account, in tx: WriteTransaction) throws {
        try tx.execute(
            "INSERT INTO accounts(id, display_name, currency, created_at_ms, test_clock_id) VALUES (?, ?, ?, ?, ?)",
            .text(account.id), .text(account.displayName), .text(account.currency.code), .integer(account.createdAtMilliseconds),
            SQLValue(account.testClockID))
        try tx.execute("INSERT INTO wallets(account_id, currency) VALUES (?, ?)", .text(account.id), .text(account.currency.code))
    }

    static func saveBillingInformation(_ record: BillingInformationRecord, of accountID: String, in tx: WriteTransaction) throws {
        try tx.execute(
            "UPDATE accounts SET billing_information = ? WHERE id = ?",
            .text(String(decoding: try JSONEncoder().encode(record), as: UTF8.self)), .text(accountID))
    }

    /// Makes `paymentMethodID` the primary card, or leaves the account without one (nil).
    static func setPrimaryPaymentMethod(_ paymentMethodID: String?, of accountID: String, in tx: WriteTransaction) throws {
        try tx.execute("UPDATE accounts SET primary_payment_method_id = ? WHERE id = ?", SQLValue(paymentMethodID), .text(accountID))
    }

    /// Suspends usage-based services, unless the wallet holds money again (a credit may have landed
    /// since the caller looked); returns whether it did.
    static func suspendIfWalletEmpty(_ accountID: String, reason: String, in tx: WriteTransaction) throws -> Bool {
        let suspended = try tx.execute("""
            UPDATE accounts SET service_status = 'suspended', suspension_reason = ?1
            WHERE id = ?2 AND service_status = 'active' AND (SELECT balance_minor FROM wallets WHERE account_id = ?2) = 0
            """, .text(reason), .text(accountID)) > 0
        if suspended { try tx.notify(Wallet.noticeChannel, accountID) }
        return suspended
    }

    /// Lifts a suspension; returns whether there was one.
    static func restoreServices(_ accountID: String, in tx: WriteTransaction) throws -> Bool {
        let restored = try tx.execute(
            "UPDATE accounts SET service_status = 'active', suspension_reason = '' WHERE id = ? AND service_status = 'suspended'", .text(accountID)) > 0
        if restored { try tx.notify(Wallet.noticeChannel, accountID) }
        return restored
    }
}
