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
    /// The test clock the account's subscriptions live on; nil for the wall clock.
    public var testClockID: String? = nil

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

    public func createAccount(displayName: String, currencyCode: String, testClockID: String? = nil, idempotencyKey: String) async throws -> Account {
        let name = displayName.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !name.isEmpty else { throw BillingError.invalidArgument("display_name is required", field: "display_name") }
        guard name.count <= Account.maxDisplayNameLength else {
            throw BillingError.invalidArgument("display_name is \(name.count) characters; the limit is \(Account.maxDisplayNameLength)", field: "display_name")
        }
        guard !name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw BillingError.invalidArgument("display_name must not contain control characters", field: "display_name")
        }
        let currency = try Currency(code: currencyCode, field: "currency")
        if let testClockID {
            guard context.allowsTestClocks else {
                throw BillingError.failedPrecondition(
                    "test clocks exist only while billingd runs with the sandbox gateway", field: "test_clock_id", reason: .testClocksUnavailable)
            }
            try Identifier.validate(testClockID, prefix: "clock", field: "test_clock_id")
        }
        let key = try IdempotencyKey(idempotencyKey, scope: "", method: "CreateAccount", parameters: [name, currency.code] + (testClockID.map { [$0] } ?? []))
        let now = context.nowMilliseconds
        return try await IdempotencyRecords.once(key, in: context.store, nowMilliseconds: now) { tx in
            if let testClockID { _ = try TestClockRecords.clock(testClockID, in: tx) }
            let account = Account(
                id: Identifier.make("acct"), displayName: name, currency: currency, createdAtMilliseconds: now,
                serviceStatus: .active, suspensionReason: "", primaryPaymentMethodID: nil, testClockID: testClockID)
            try AccountRecords.insert(account, in: tx)
            return account
        }
    }

    public func account(id: String) async throws -> Account {
        try Identifier.validate(id, prefix: "acct", field: "account_id")
        return try await context.store.read { tx in try AccountRecords.account(id, in: tx) }
    }

    public func billingInformation(accountID: String) async throws -> BillingInformationRecord {
        try Identifier.validate(accountID, prefix: "acct", field: "account_id")
        return try await context.store.read { tx in try AccountRecords.billingInformation(accountID, in: tx) }
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
        return try await IdempotencyRecords.once(key, in: context.store, nowMilliseconds: now) { tx in
            _ = try AccountRecords.account(accountID, in: tx)
            let record = BillingInformationRecord(information: validated, updatedAtMilliseconds: now)
            try AccountRecords.saveBillingInformation(record, of: accountID, in: tx)
            return record
        }
    }
}
