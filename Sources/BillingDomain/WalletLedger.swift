import BillingStore
import Foundation

/// One line of a wallet's ledger: a credit (positive) or a debit (negative), with the balance after it.
public struct WalletTransaction: Sendable, Hashable, Codable {
    public enum Source: String, Sendable, Hashable, Codable, CaseIterable {
        case topUp = "top_up"
        case autoRecharge = "auto_recharge"
        case usage
        case adjustment
    }

    public var id: String
    public var accountID: String
    public var amount: Money
    public var balanceAfter: Money
    public var category: String
    public var description: String
    public var source: Source
    public var chargeID: String?
    public var usageID: String?
    public var createdAtMilliseconds: Int64
    /// Ledger order; later transactions have larger values.
    public var sequence: Int64
}

/// A usage debit as an internal service reports it.
public struct UsageDebit: Sendable, Hashable {
    public static let maxUsageIDLength = 255
    public static let maxCategoryLength = 32
    public static let maxDescriptionLength = 500

    public var usageID: String
    public var category: String
    public var amount: Money
    public var description: String

    /// Checks everything that does not need the wallet: the usage id, the category's form, a positive amount.
    public init(usageID: String, category: String, amount: Money, description: String) throws(BillingError) {
        guard !usageID.isEmpty, usageID.count <= Self.maxUsageIDLength else {
            throw .invalidArgument("usage_id is required (1 to \(Self.maxUsageIDLength) characters): it makes retries safe", field: "usage_id")
        }
        guard !category.isEmpty, category.count <= Self.maxCategoryLength,
            category.utf8.allSatisfy({ (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || $0 == UInt8(ascii: "-") })
        else {
            throw .invalidArgument("category must be 1 to \(Self.maxCategoryLength) lowercase letters, digits or dashes, like sms or ai-tokens", field: "category")
        }
        guard amount.isPositive else { throw .invalidArgument("amount must be positive", field: "amount") }
        guard description.count <= Self.maxDescriptionLength else {
            throw .invalidArgument("description is \(description.count) characters; the limit is \(Self.maxDescriptionLength)", field: "description")
        }
        self.usageID = usageID
        self.category = category
        self.amount = amount
        self.description = description
    }
}

/// The wallet's rows, read and changed inside the caller's transaction. Every change of a balance goes
/// with the ledger line that explains it, in the same transaction, so the balance always equals the
/// sum of the ledger.
enum WalletLedger {
    enum DebitOutcome: Sendable {
        /// With the auto-recharge settings the wallet row had at that moment: another daemon may have
        /// changed them (`Store.isShared`).
        case debited(WalletTransaction, AutoRechargeSettings)
        /// The same usage id was debited before; nothing changed.
        case replayed(WalletTransaction)
        case insufficient(available: Int64)
        case suspended(reason: String)
    }

    /// Thrown by `debit` when the usage id was recorded before: the body's savepoint is rolled back (so
    /// nothing changed) and the caller looks the earlier line up.
    struct UsageAlreadyRecorded: Error {}

    /// Debits if, and only if, the account is active and the balance covers it: one UPDATE checks and
    /// writes, so nothing can come between them; the ledger line follows in the same transaction. This is
    /// the hottest write of the service, hence few statements on the common path; finding out why a debit
    /// was refused costs more, on the rare path.
    static func debit(_ usage: UsageDebit, accountID: String, in tx: WriteTransaction, nowMilliseconds: Int64) throws -> DebitOutcome {
        if tx.dialect == .postgresql {
            if let (line, settings) = try debitInOneStatement(usage, accountID: accountID, in: tx, nowMilliseconds: nowMilliseconds) {
                return .debited(line, settings)
            }
            return try refusedDebit(usage, accountID: accountID, in: tx)
        }
        let debited = try tx.queryOne("""
            UPDATE wallets SET balance_minor = balance_minor - ?1, last_entry_at_ms = \(latest("last_entry_at_ms", "?3"))
            WHERE account_id = ?2 AND balance_minor >= ?1
              AND (SELECT service_status FROM accounts WHERE id = ?2) = 'active'
            RETURNING balance_minor, last_entry_at_ms, auto_recharge_enabled, recharge_amount_minor, recharge_threshold_minor
            """, .integer(usage.amount.amountMinor), .text(accountID), .integer(nowMilliseconds))
        if let debited {
            do {
                return .debited(try append(
                    accountID: accountID, amountMinor: -usage.amount.amountMinor, balanceAfterMinor: try debited.int64("balance_minor"),
                    currency: usage.amount.currency, category: usage.category, description: usage.description, source: .usage, chargeID: nil,
                    usageID: usage.usageID, in: tx, createdAtMilliseconds: try debited.int64("last_entry_at_ms")),
                    try settings(from: debited, currency: usage.amount.currency))
            } catch let error as StoreError where error.isUniqueViolation {
                throw UsageAlreadyRecorded()
            }
        }
        return try refusedDebit(usage, accountID: accountID, in: tx)
    }

    /// Why a debit moved nothing: the usage id was debited before, the account is suspended, or the
    /// balance falls short.
    private static func refusedDebit(_ usage: UsageDebit, accountID: String, in tx: WriteTransaction) throws -> DebitOutcome {
        if let earlier = try recordedUsage(usage, accountID: accountID, in: tx) { return .replayed(earlier) }
        let account = try AccountRecords.account(accountID, in: tx)
        if account.serviceStatus == .suspended { return .suspended(reason: account.suspensionReason) }
        return .insufficient(available: try balance(of: accountID, in: tx) ?? 0)
    }

    /// The same debit as one statement, for PostgreSQL, where every statement is a round trip to the
    /// server: the conditional UPDATE feeds the ledger line's INSERT, which feeds the month's totals
    /// (data-modifying WITH, which SQLite lacks). It is all or nothing: a usage id seen before fails the
    /// INSERT, and with it the UPDATE. Nil when the UPDATE's conditions refused the debit.
    private static func debitInOneStatement(
        _ usage: UsageDebit, accountID: String, in tx: WriteTransaction, nowMilliseconds: Int64
    ) throws -> (WalletTransaction, AutoRechargeSettings)? {
        let id = Identifier.make("wtx")
        let row: Row?
        do {
            row = try tx.queryOne("""
                WITH debited AS (
                    UPDATE wallets SET balance_minor = balance_minor - ?1, last_entry_at_ms = GREATEST(last_entry_at_ms, ?3)
                    WHERE account_id = ?2 AND balance_minor >= ?1 AND (SELECT service_status FROM accounts WHERE id = ?2) = 'active'
                    RETURNING balance_minor, last_entry_at_ms, auto_recharge_enabled, recharge_amount_minor, recharge_threshold_minor
                ), line AS (
                    INSERT INTO wallet_transactions(id, account_id, amount_minor, balance_after_minor, currency, category, description, source, usage_id, created_at_ms)
                    SELECT ?4, ?2, -?1, balance_minor, ?5, ?6, ?7, 'usage', ?8, last_entry_at_ms FROM debited
                    RETURNING seq, balance_after_minor, created_at_ms
                ), totals AS (
                    INSERT INTO wallet_month_totals(account_id, month, category, credits_minor, debits_minor, transaction_count)
                    SELECT ?2, \(tx.dialect.utcMonth(ofMilliseconds: "created_at_ms")), ?6, 0, ?1, 1 FROM line
                    ON CONFLICT(account_id, month, category) DO UPDATE SET debits_minor = wallet_month_totals.debits_minor + excluded.debits_minor,
                        transaction_count = wallet_month_totals.transaction_count + 1
                )
                SELECT seq, balance_after_minor, created_at_ms, auto_recharge_enabled, recharge_amount_minor, recharge_threshold_minor,
                    pg_notify('\(Wallet.noticeChannel)', ?2) IS NULL AS notified
                FROM line, debited
                """, .integer(usage.amount.amountMinor), .text(accountID), .integer(nowMilliseconds), .text(id), .text(usage.amount.currency.code),
                .text(usage.category), .text(usage.description), .text(usage.usageID))
        } catch let error as StoreError where error.isUniqueViolation {
            throw UsageAlreadyRecorded()
        }
        guard let row else { return nil }
        let currency = usage.amount.currency
        let line = WalletTransaction(
            id: id, accountID: accountID, amount: Money(amountMinor: -usage.amount.amountMinor, currency: currency),
            balanceAfter: Money(amountMinor: try row.int64("balance_after_minor"), currency: currency), category: usage.category,
            description: usage.description, source: .usage, chargeID: nil, usageID: usage.usageID,
            createdAtMilliseconds: try row.int64("created_at_ms"), sequence: try row.int64("seq"))
        return (line, try settings(from: row, currency: currency))
    }

    /// The auto-recharge columns of a wallet row.
    static func settings(from row: Row, currency: Currency) throws -> AutoRechargeSettings {
        AutoRechargeSettings(
            isEnabled: try row.bool("auto_recharge_enabled"),
            amount: Money(amountMinor: try row.int64("recharge_amount_minor"), currency: currency),
            threshold: Money(amountMinor: try row.int64("recharge_threshold_minor"), currency: currency))
    }

    /// The ledger line an earlier debit with the same usage id made, if any; the same id with another
    /// amount or category is INVALID_ARGUMENT.
    static func recordedUsage(_ usage: UsageDebit, accountID: String, in tx: some Querying) throws -> WalletTransaction? {
        guard let row = try tx.queryOne("SELECT * FROM wallet_transactions WHERE account_id = ? AND usage_id = ?", .text(accountID), .text(usage.usageID)) else {
            return nil
        }
        let earlier = try transaction(from: row)
        guard earlier.amount.amountMinor == -usage.amount.amountMinor, earlier.category == usage.category else {
            throw BillingError.invalidArgument("usage_id \(usage.usageID) was already recorded with another amount or category", field: "usage_id")
        }
        return earlier
    }

    /// Credits a settled top-up charge.
    static func credit(_ charge: Charge, source: WalletTransaction.Source, in tx: WriteTransaction, nowMilliseconds: Int64) throws -> WalletTransaction {
        let credited = try tx.queryOne("""
            UPDATE wallets SET balance_minor = balance_minor + ?1, last_recharge_charge_id = ?2, last_entry_at_ms = \(latest("last_entry_at_ms", "?3")),
                               last_recharge_at_ms = \(latest("last_entry_at_ms", "?3"))
            WHERE account_id = ?4 RETURNING balance_minor, last_entry_at_ms
            """, .integer(charge.amount.amountMinor), .text(charge.id), .integer(nowMilliseconds), .text(charge.accountID))!
        return try append(
            accountID: charge.accountID, amountMinor: charge.amount.amountMinor, balanceAfterMinor: try credited.int64("balance_minor"),
            currency: charge.amount.currency, category: "top-up", description: source == .autoRecharge ? "Auto-recharge" : "Funds added",
            source: source, chargeID: charge.id, usageID: nil, in: tx, createdAtMilliseconds: try credited.int64("last_entry_at_ms"))
    }

    /// Credits an adjustment (a canceled subscription's unused time): no charge behind it.
    static func credit(
        _ amount: Money, accountID: String, category: String, description: String, in tx: WriteTransaction, nowMilliseconds: Int64
    ) throws -> WalletTransaction {
        let credited = try tx.queryOne("""
            UPDATE wallets SET balance_minor = balance_minor + ?1, last_entry_at_ms = \(latest("last_entry_at_ms", "?2"))
            WHERE account_id = ?3 RETURNING balance_minor, last_entry_at_ms
            """, .integer(amount.amountMinor), .integer(nowMilliseconds), .text(accountID))!
        return try append(
            accountID: accountID, amountMinor: amount.amountMinor, balanceAfterMinor: try credited.int64("balance_minor"), currency: amount.currency,
            category: category, description: description, source: .adjustment, chargeID: nil, usageID: nil, in: tx,
            createdAtMilliseconds: try credited.int64("last_entry_at_ms"))
    }

    /// Appends a ledger line stamped `createdAtMilliseconds`, which the caller took from the wallet row's
    /// `last_entry_at_ms` as it moved the balance: never earlier than the line before it, so timestamps
    /// follow ledger order even when a later commit read the clock first.
    private static func append(
        accountID: String, amountMinor: Int64, balanceAfterMinor: Int64, currency: Currency, category: String, description: String,
        source: WalletTransaction.Source, chargeID: String?, usageID: String?, in tx: WriteTransaction, createdAtMilliseconds: Int64
    ) throws -> WalletTransaction {
        let id = Identifier.make("wtx")
        let sequence = try tx.queryOne("""
            INSERT INTO wallet_transactions(id, account_id, amount_minor, balance_after_minor, currency, category, description, source, charge_id, usage_id, created_at_ms)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING seq
            """, .text(id), .text(accountID), .integer(amountMinor), .integer(balanceAfterMinor), .text(currency.code), .text(category),
            .text(description), .text(source.rawValue), SQLValue(chargeID), SQLValue(usageID), .integer(createdAtMilliseconds))!.int64("seq")
        try tx.execute("""
            INSERT INTO wallet_month_totals(account_id, month, category, credits_minor, debits_minor, transaction_count) VALUES (?, ?, ?, ?, ?, 1)
            ON CONFLICT(account_id, month, category) DO UPDATE SET credits_minor = wallet_month_totals.credits_minor + excluded.credits_minor,
                debits_minor = wallet_month_totals.debits_minor + excluded.debits_minor, transaction_count = wallet_month_totals.transaction_count + 1
            """, .text(accountID), .text(Wallet.month(of: createdAtMilliseconds)), .text(category), .integer(max(0, amountMinor)),
            .integer(max(0, -amountMinor)))
        try tx.notify(Wallet.noticeChannel, accountID)
        return WalletTransaction(
            id: id, accountID: accountID, amount: Money(amountMinor: amountMinor, currency: currency),
            balanceAfter: Money(amountMinor: balanceAfterMinor, currency: currency), category: category, description: description,
            source: source, chargeID: chargeID, usageID: usageID, createdAtMilliseconds: createdAtMilliseconds, sequence: sequence)
    }

    /// The later of two times: `max(a, b)` in SQLite is `GREATEST(a, b)` in PostgreSQL; CASE is both.
    private static func latest(_ column: String, _ value: String) -> String {
        "CASE WHEN \(column) > \(value) THEN \(column) ELSE \(value) END"
    }

    static func transaction(from row: Row) throws -> WalletTransaction {
        let currency = try Currency(code: try row.string("currency"))
        return WalletTransaction(
            id: try row.string("id"), accountID: try row.string("account_id"),
            amount: Money(amountMinor: try row.int64("amount_minor"), currency: currency),
            balanceAfter: Money(amountMinor: try row.int64("balance_after_minor"), currency: currency),
            category: try row.string("category"), description: try row.string("description"),
            source: WalletTransaction.Source(rawValue: try row.string("source")) ?? .adjustment,
            chargeID: try row.optionalString("charge_id"), usageID: try row.optionalString("usage_id"),
            createdAtMilliseconds: try row.int64("created_at_ms"), sequence: try row.int64("seq"))
    }

    /// Totals per month and category over `[from, before)`, newest month first: whole months from
    /// `wallet_month_totals`, the partial months at either end from the ledger lines. Each sum adds at
    /// most a month of lines bounded by `MoneyLimits`, so it cannot overflow.
    static func monthlyTotals(of accountID: String, currency: Currency, from: Int64, before requestedBefore: Int64, in tx: some Querying) throws -> [WalletMonthSummary] {
        // No line is stamped after the wallet's last entry: a range that ends later (this month's summary,
        // up to now) holds the same lines as one that runs to the end of its month, whose totals are kept.
        let lastEntry = try tx.queryOne("SELECT last_entry_at_ms FROM wallets WHERE account_id = ?", .text(accountID))?.int64("last_entry_at_ms") ?? .max
        let before = requestedBefore > lastEntry && monthStart(of: requestedBefore) != requestedBefore ? monthStart(after: requestedBefore) : requestedBefore
        let firstWholeMonth = monthStart(of: from) == from ? from : monthStart(after: from)
        let endOfWholeMonths = monthStart(of: before)
        guard from >= 0, firstWholeMonth < endOfWholeMonths else {
            return try ledgerTotals(of: accountID, currency: currency, from: from, before: before, in: tx)
        }
        var totals = try tx.query("""
            SELECT month, category, credits_minor AS credits, debits_minor AS debits, transaction_count AS n FROM wallet_month_totals
            WHERE account_id = ? AND month >= ? AND month < ?
            """, .text(accountID), .text(Wallet.month(of: firstWholeMonth)), .text(Wallet.month(of: endOfWholeMonths))
        ).map { try summary(from: $0, currency: currency) }
        if from < firstWholeMonth { totals += try ledgerTotals(of: accountID, currency: currency, from: from, before: firstWholeMonth, in: tx) }
        if endOfWholeMonths < before { totals += try ledgerTotals(of: accountID, currency: currency, from: endOfWholeMonths, before: before, in: tx) }
        return totals.sorted { ($0.month, $1.category) > ($1.month, $0.category) }
    }

    /// The first instant of the UTC month of `milliseconds`.
    static func monthStart(of milliseconds: Int64) -> Int64 {
        let day = (milliseconds >= 0 ? milliseconds : milliseconds - 86_399_999) / 86_400_000
        let (year, month, _) = BillingCycle.civil(fromDays: day)
        return BillingCycle.days(fromCivil: year, month, 1) * 86_400_000
    }

    /// The first instant of the month after that of `milliseconds`.
    static func monthStart(after milliseconds: Int64) -> Int64 {
        BillingCycle.boundary(anchor: monthStart(of: milliseconds), months: 1, index: 1)
    }

    private static func summary(from row: Row, currency: Currency) throws -> WalletMonthSummary {
        WalletMonthSummary(
            month: try row.string("month"), category: try row.string("category"),
            credits: Money(amountMinor: try row.int64("credits"), currency: currency),
            debits: Money(amountMinor: try row.int64("debits"), currency: currency),
            transactionCount: try row.int("n"))
    }

    /// Totals straight from the ledger lines of `[from, before)`: for the partial months of a range.
    private static func ledgerTotals(of accountID: String, currency: Currency, from: Int64, before: Int64, in tx: some Querying) throws -> [WalletMonthSummary] {
        try tx.query("""
            SELECT \(tx.dialect.utcMonth(ofMilliseconds: "created_at_ms")) AS month, category,
                   coalesce(sum(CASE WHEN amount_minor > 0 THEN amount_minor END), 0) AS credits,
                   coalesce(sum(CASE WHEN amount_minor < 0 THEN -amount_minor END), 0) AS debits,
                   count(*) AS n
            FROM wallet_transactions
            WHERE account_id = ? AND created_at_ms >= ? AND created_at_ms < ?
            GROUP BY month, category ORDER BY month DESC, category
            """, .text(accountID), .integer(from), .integer(before)
        ).map { try summary(from: $0, currency: currency) }
    }

    /// The ledger line that credited `chargeID`, if any.
    static func transaction(forCharge chargeID: String, in tx: some Querying) throws -> WalletTransaction? {
        try tx.queryOne("SELECT * FROM wallet_transactions WHERE charge_id = ?", .text(chargeID)).map(transaction(from:))
    }

    static func balance(of accountID: String, in tx: some Querying) throws -> Int64? {
        try tx.queryOne("SELECT balance_minor FROM wallets WHERE account_id = ?", .text(accountID))?.int64("balance_minor")
    }

    // MARK: Auto-recharge

    static func configureAutoRecharge(_ settings: AutoRechargeSettings, accountID: String, in tx: WriteTransaction) throws {
        try tx.execute(
            "UPDATE wallets SET auto_recharge_enabled = ?, recharge_amount_minor = ?, recharge_threshold_minor = ? WHERE account_id = ?",
            .bool(settings.isEnabled), .integer(settings.amount.amountMinor), .integer(settings.threshold.amountMinor), .text(accountID))
        try tx.notify(Wallet.noticeChannel, accountID)
    }

    /// Whether a recharge charge is in flight. The marker lives in the row, so at most one recharge per
    /// wallet holds across restarts too.
    static func hasPendingRecharge(_ accountID: String, in tx: some Querying) throws -> Bool {
        try tx.queryOne("SELECT pending_recharge_charge_id FROM wallets WHERE account_id = ?", .text(accountID))?
            .optionalString("pending_recharge_charge_id") != nil
    }

    static func markPendingRecharge(_ chargeID: String, accountID: String, in tx: WriteTransaction) throws {
        try tx.execute("UPDATE wallets SET pending_recharge_charge_id = ? WHERE account_id = ?", .text(chargeID), .text(accountID))
    }

    /// Clears the recharge-in-flight marker if `chargeID` holds it (a settled recharge).
    static func clearPendingRecharge(_ chargeID: String, accountID: String, in tx: WriteTransaction) throws {
        try tx.execute("UPDATE wallets SET pending_recharge_charge_id = NULL WHERE account_id = ? AND pending_recharge_charge_id = ?", .text(accountID), .text(chargeID))
    }

    // MARK: Loading a wallet

    /// What a wallet actor starts from: the wallet row, the last ledger sequence and this month's totals.
    struct Snapshot: Sendable {
        var account: Account
        var balanceMinor: Int64
        var settings: AutoRechargeSettings
        var lastRechargeAtMilliseconds: Int64?
        var lastRechargeChargeID: String?
        var lastSequence: Int64
        var creditsThisMonthMinor: Int64
        var debitsThisMonthMinor: Int64
    }

    /// - Parameter month: "2026-11", the month whose totals to sum.
    static func snapshot(of accountID: String, month: String, in tx: some Querying) throws -> Snapshot {
        let account = try AccountRecords.account(accountID, in: tx)
        guard let wallet = try tx.queryOne("SELECT * FROM wallets WHERE account_id = ?", .text(accountID)) else {
            throw BillingError.internalError("account \(accountID) has no wallet row")
        }
        // Both from indexes: the wallet's last ledger line, and its month's totals (not a scan of the ledger).
        let lastSequence = try tx.queryOne(
            "SELECT coalesce(max(seq), 0) AS last_seq FROM wallet_transactions WHERE account_id = ?", .text(accountID))!.int64("last_seq")
        let totals = try tx.queryOne("""
            SELECT coalesce(sum(credits_minor), 0) AS credits, coalesce(sum(debits_minor), 0) AS debits
            FROM wallet_month_totals WHERE account_id = ? AND month = ?
            """, .text(accountID), .text(month))!
        let currency = account.currency
        return Snapshot(
            account: account, balanceMinor: try wallet.int64("balance_minor"),
            settings: try settings(from: wallet, currency: currency),
            lastRechargeAtMilliseconds: try wallet.optionalInt64("last_recharge_at_ms"),
            lastRechargeChargeID: try wallet.optionalString("last_recharge_charge_id"),
            lastSequence: lastSequence, creditsThisMonthMinor: try totals.int64("credits"), debitsThisMonthMinor: try totals.int64("debits"))
    }
}
