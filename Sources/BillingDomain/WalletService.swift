import BillingStore
import Foundation
import Synchronization

/// Totals of one month and category, credits and debits apart.
public struct WalletMonthSummary: Sendable, Hashable {
    /// "2026-11".
    public var month: String
    public var category: String
    public var credits: Money
    public var debits: Money
    public var transactionCount: Int
}

/// The wallet tab: balance and details, funds, auto-recharge, usage debits, the ledger and its summary,
/// and a stream of events. Each account's wallet is one `Wallet` actor, loaded on first use.
public final class WalletService: Sendable {
    /// The longest range a summary may span.
    public static let maxSummaryRangeMilliseconds: Int64 = 366 * 86_400_000
    /// Bounds of auto-recharge settings, in minor units.
    public static let maxRechargeAmountMinor: Int64 = 1_000_000_00
    public static let maxAddFundsMinor: Int64 = 10_000_000_00

    let context: BillingContext
    let policy: WalletPolicy
    private let wallets = Mutex<[String: Task<Wallet, any Error>]>([:])
    private let gatewayRequests = KeyedSerialQueue()

    public init(context: BillingContext, policy: WalletPolicy = WalletPolicy()) {
        self.context = context
        self.policy = policy
    }

    /// The wallet actor of an account, loading it once however many callers ask at the same time.
    public func wallet(_ accountID: String) async throws -> Wallet {
        try Identifier.validate(accountID, prefix: "acct", field: "account_id")
        let loading = wallets.withLock { loaded -> Task<Wallet, any Error> in
            if let existing = loaded[accountID] { return existing }
            if loaded.count >= policy.maxLoadedWallets, let victim = loaded.keys.first { loaded[victim] = nil }
            let task = Task { [context, policy] in try await Wallet.load(accountID: accountID, context: context, policy: policy) }
            loaded[accountID] = task
            return task
        }
        do {
            return try await loading.value
        } catch {
            // Do not cache a failed load (an unknown account, say).
            wallets.withLock { loaded in
                if loaded[accountID] == loading { loaded[accountID] = nil }
            }
            throw error
        }
    }

    public func view(accountID: String) async throws -> WalletView {
        try await wallet(accountID).view
    }

    public func recordUsage(accountID: String, usage: UsageDebit) async throws -> (transaction: WalletTransaction, replayed: Bool) {
        try await wallet(accountID).recordUsage(usage)
    }

    /// Charges the primary card and credits the wallet; FAILED_PRECONDITION (crediting nothing) when there
    /// is no primary card, the card is declined, or the billing address is incomplete.
    public func addFunds(accountID: String, amount: Money, idempotencyKey: String) async throws -> (transaction: WalletTransaction, charge: Charge, invoice: Invoice?) {
        guard amount.isPositive else { throw BillingError.invalidArgument("amount must be positive", field: "amount") }
        guard amount.amountMinor <= Self.maxAddFundsMinor else {
            throw BillingError.invalidArgument("amount is more than one add-funds call may charge", field: "amount")
        }
        let wallet = try await wallet(accountID)
        try amount.requireCurrency(await wallet.view.balance.currency, field: "amount")
        let key = try IdempotencyKey(idempotencyKey, scope: accountID, method: "AddBalance", parameters: ["\(amount.amountMinor)", amount.currency.code])
        let topUp = try await gatewayRequests.run(key.scope + "\u{0}" + key.key) { try await wallet.addFunds(amount, key: key) }
        guard let transaction = topUp.transaction else { throw ChargeLifecycle.failure(of: topUp.charge) }
        return (transaction, topUp.charge, topUp.invoice)
    }

    public func configureAutoRecharge(accountID: String, settings: AutoRechargeSettings, idempotencyKey: String) async throws -> AutoRechargeSettings {
        if settings.isEnabled {
            guard settings.amount.isPositive, settings.amount.amountMinor <= Self.maxRechargeAmountMinor else {
                throw BillingError.invalidArgument("recharge_amount must be positive and at most \(Self.maxRechargeAmountMinor) minor units", field: "recharge_amount")
            }
            guard settings.threshold.amountMinor >= 0, settings.threshold.amountMinor <= Self.maxRechargeAmountMinor else {
                throw BillingError.invalidArgument("threshold must be between 0 and \(Self.maxRechargeAmountMinor) minor units", field: "threshold")
            }
        }
        let key = try IdempotencyKey(idempotencyKey, scope: accountID, method: "ConfigureAutoRecharge", parameters: [
            "\(settings.isEnabled)", "\(settings.amount.amountMinor)", settings.amount.currency.code,
            "\(settings.threshold.amountMinor)", settings.threshold.currency.code,
        ])
        return try await wallet(accountID).configureAutoRecharge(settings, key: key)
    }

    /// Tells a loaded wallet that its account has a new primary card (ends a recharge backoff).
    public func primaryCardChanged(accountID: String) async {
        guard let loaded = wallets.withLock({ $0[accountID] }), let wallet = try? await loaded.value else { return }
        await wallet.primaryCardChanged()
    }

    /// Ends every open watch, so that a shutdown need not wait for them.
    public func endAllWatches() async {
        let loaded = wallets.withLock { Array($0.values) }
        for loading in loaded {
            if let wallet = try? await loading.value { await wallet.endWatches() }
        }
    }

    public func events(accountID: String) async throws -> (WalletView, AsyncStream<WalletEvent>) {
        let wallet = try await wallet(accountID)
        return try await (wallet.view, wallet.events())
    }

    /// The ledger, newest first, filtered by category and creation time.
    public func transactions(accountID: String, filter: HistoryFilter, page: PageRequest) async throws -> Page<WalletTransaction> {
        try Identifier.validate(accountID, prefix: "acct", field: "account_id")
        return try await context.store.read { tx in
            _ = try AccountService.account(accountID, in: tx)
            return try Paging.page(of: "wallet_transactions", accountID: accountID, filter: filter, page: page, in: tx, decode: WalletLedger.transaction(from:))
        }
    }

    /// Totals per month and category over `[from, before)`, newest month first.
    public func summary(accountID: String, fromMilliseconds: Int64, beforeMilliseconds: Int64) async throws -> [WalletMonthSummary] {
        try Identifier.validate(accountID, prefix: "acct", field: "account_id")
        guard fromMilliseconds < beforeMilliseconds else {
            throw BillingError.invalidArgument("from_unix_ms must be earlier than before_unix_ms", field: "from_unix_ms")
        }
        guard beforeMilliseconds - fromMilliseconds <= Self.maxSummaryRangeMilliseconds else {
            throw BillingError.invalidArgument("the range may span at most 366 days", field: "before_unix_ms")
        }
        return try await context.store.read { tx in
            let account = try AccountService.account(accountID, in: tx)
            return try tx.query("""
                SELECT strftime('%Y-%m', created_at_ms / 1000, 'unixepoch') AS month, category,
                       coalesce(sum(CASE WHEN amount_minor > 0 THEN amount_minor END), 0) AS credits,
                       coalesce(sum(CASE WHEN amount_minor < 0 THEN -amount_minor END), 0) AS debits,
                       count(*) AS n
                FROM wallet_transactions
                WHERE account_id = ? AND created_at_ms >= ? AND created_at_ms < ?
                GROUP BY month, category ORDER BY month DESC, category
                """, .text(accountID), .integer(fromMilliseconds), .integer(beforeMilliseconds)
            ).map { row in
                WalletMonthSummary(
                    month: try row.string("month"), category: try row.string("category"),
                    credits: Money(amountMinor: try row.int64("credits"), currency: account.currency),
                    debits: Money(amountMinor: try row.int64("debits"), currency: account.currency),
                    transactionCount: try row.int("n"))
            }
        }
    }
}
