import BillingStore
import Foundation

/// An account: who is billed, in which currency, and whether its usage-based services run.
public struct Account: Sendable, Hashable, Codable {
    public enum ServiceStatus: String, Sendable, Hashable, Codable {
        case active
        case suspended
    }

    public var id: String
    public var displayName: String
    public var currency: Currency
    public var createdAtMilliseconds: Int64
    public var serviceStatus: ServiceStatus
    /// Why services are suspended; empty while active.
    public var suspensionReason: String
    /// Nil when the account has no primary card.
    public var primaryPaymentMethodID: String?

    public static let maxDisplayNameLength = 200
}

/// An account's billing information as stored, with whether it is enough to charge.
public struct BillingInformationRecord: Sendable, Hashable, Codable {
    /// Nil until someone enters it.
    public var information: BillingInformation?
    public var updatedAtMilliseconds: Int64?

    /// The fields still missing for payments (all of them when nothing was entered).
    public var missingForPayments: [String] {
        information?.missingForPayments ?? ["full_name", "country_code", "billing_address.line1", "billing_address.city", "billing_address.postal_code"]
    }

    public var isComplete: Bool { information?.isComplete ?? false }
}

/// Creates and reads accounts and their billing information.
public struct AccountService: Sendable {
    let context: BillingContext

    public init(context: BillingContext) {
        self.context = context
    }

    public func createAccount(displayName: String, currencyCode: String, idempotencyKey: String) async throws -> Account {
        let name = displayName.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !name.isEmpty else { throw BillingError.invalidArgument("display_name is required", field: "display_name") }
        guard name.count <= Account.maxDisplayNameLength else {
            throw BillingError.invalidArgument("display_name is \(name.count) characters; the limit is \(Account.maxDisplayNameLength)", field: "display_name")
        }
        guard !name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw BillingError.invalidArgument("display_name must not contain control characters", field: "display_name")
        }
        let currency = try Currency(code: currencyCode, field: "currency")
        let key = try IdempotencyKey(idempotencyKey, scope: "", method: "CreateAccount", parameters: [name, currency.code])
        let now = context.nowMilliseconds
        return try await context.store.write { tx in
            if case .done(let account) = try IdempotencyRecords.look(key, in: tx, as: Account.self) { return account }
            let account = Account(
                id: Identifier.make("acct"), displayName: name, currency: currency, createdAtMilliseconds: now,
                serviceStatus: .active, suspensionReason: "", primaryPaymentMethodID: nil)
            try tx.execute(
                "INSERT INTO accounts(id, display_name, currency, created_at_ms) VALUES (?, ?, ?, ?)",
                .text(account.id), .text(account.displayName), .text(currency.code), .integer(now))
            try tx.execute("INSERT INTO wallets(account_id, currency) VALUES (?, ?)", .text(account.id), .text(currency.code))
            try IdempotencyRecords.save(account, for: key, in: tx, nowMilliseconds: now)
            return account
        }
    }

    public func account(id: String) async throws -> Account {
        try Identifier.validate(id, prefix: "acct", field: "account_id")
        return try await context.store.read { tx in try Self.account(id, in: tx) }
    }

    public func billingInformation(accountID: String) async throws -> BillingInformationRecord {
        try Identifier.validate(accountID, prefix: "acct", field: "account_id")
        return try await context.store.read { tx in try Self.billingInformation(accountID, in: tx) }
    }

    /// Replaces the billing information after validating every field; the reply says what is still
    /// missing for payments, if anything.
    public func updateBillingInformation(accountID: String, information: BillingInformation, idempotencyKey: String) async throws -> BillingInformationRecord {
        try Identifier.validate(accountID, prefix: "acct", field: "account_id")
        let validated = try information.validated()
        let key = try IdempotencyKey(idempotencyKey, scope: accountID, method: "UpdateBillingInformation", parameters: [
            validated.fullName, validated.countryCode, validated.address.lines.joined(separator: "\n"),
            validated.address.city, validated.address.region, validated.address.postalCode,
        ])
        let now = context.nowMilliseconds
        return try await context.store.write { tx in
            if case .done(let record) = try IdempotencyRecords.look(key, in: tx, as: BillingInformationRecord.self) { return record }
            _ = try Self.account(accountID, in: tx)
            let record = BillingInformationRecord(information: validated, updatedAtMilliseconds: now)
            try tx.execute(
                "UPDATE accounts SET billing_information = ? WHERE id = ?",
                .text(String(decoding: try JSONEncoder().encode(record), as: UTF8.self)), .text(accountID))
            try IdempotencyRecords.save(record, for: key, in: tx, nowMilliseconds: now)
            return record
        }
    }

    // MARK: Lookups shared by every service

    static func account(_ id: String, in tx: some Querying) throws -> Account {
        guard let row = try tx.queryOne(
            "SELECT id, display_name, currency, created_at_ms, service_status, suspension_reason, primary_payment_method_id FROM accounts WHERE id = ?",
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
            primaryPaymentMethodID: try row.optionalString("primary_payment_method_id"))
    }

    static func billingInformation(_ accountID: String, in tx: some Querying) throws -> BillingInformationRecord {
        _ = try account(accountID, in: tx)
        guard let json = try tx.queryOne("SELECT billing_information FROM accounts WHERE id = ?", .text(accountID))?
            .optionalString("billing_information")
        else { return BillingInformationRecord(information: nil, updatedAtMilliseconds: nil) }
        return try JSONDecoder().decode(BillingInformationRecord.self, from: Data(json.utf8))
    }
}
