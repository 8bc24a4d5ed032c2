import BillingLocking
import BillingStore
import Foundation

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

    let context: BillingContext
    let policy: WalletPolicy
    private let loaded: Locked<LoadedWallets>
    private let gatewayRequests = KeyedSerialQueue()

    public init(context: BillingContext, policy: WalletPolicy = WalletPolicy()) {
        self.context = context
        self.policy = policy
        self.loaded = Locked(LoadedWallets(capacity: policy.maxLoadedWallets))
        if context.store.isShared { followOtherDaemons() }
    }

    /// On a shared store: each notice that a wallet changed (from any daemon) lets its copy here catch up,
    /// if it is loaded and watched; after notices may have been missed, every loaded wallet does. Ends when
    /// the store closes.
    private func followOtherDaemons() {
        let notices = context.store.notices(on: Wallet.noticeChannel)
        Task { [weak self] in
            for await accountID in notices {
                guard let self else { return }
                let wallets = self.loaded.withLock { loaded in
                    accountID == Store.noticesMayHaveBeenMissed ? loaded.wallets : loaded.wallet(accountID).map { [$0] } ?? []
                }
                for wallet in wallets { await wallet.catchUpForWatchers() }
            }
        }
    }

    /// Runs `body` with the account's wallet actor, loading it once however many callers ask at the
    /// same time. While `body` runs the wallet cannot be evicted, so an account never has two actors.
    func withWallet<T: Sendable>(_ accountID: String, _ body: (Wallet) async throws -> T) async throws -> T {
        try Identifier.validate(accountID, prefix: "acct", field: "account_id")
        let (loading, alreadyLoaded) = try loaded.withLock { wallets in try wallets.acquire(accountID) { [context, policy] in
            Task { try await Wallet.load(accountID: accountID, context: context, policy: policy) }
        } }
        defer { loaded.withLock { $0.release(accountID, loading) } }
        if let alreadyLoaded { return try await body(alreadyLoaded) }
        let wallet: Wallet
        do {
            wallet = try await loading.value
        } catch {
            // Do not keep a failed load (an unknown account, say).
            loaded.withLock { $0.forget(accountID, loading) }
            throw error
        }
        loaded.withLock { $0.loaded(accountID, wallet, by: loading) }
        return try await body(wallet)
    }

    /// The wallet tab's view. A loaded wallet on a store of this process's own is read from the view its
    /// actor published with its last change, without waiting behind the actor's debits (the view is
    /// never older than the last call that answered); on a shared store, or for a wallet not in memory,
    /// through the actor.
    public func view(accountID: String) async throws -> WalletView {
        if !context.store.isShared, let latest = loaded.withLock({ $0.recentlyUsed(accountID)?.latestView }) { return latest }
        return try await withWallet(accountID) { try await $0.currentView() }
    }

    public func recordUsage(accountID: String, usage: UsageDebit) async throws -> (transaction: WalletTransaction, replayed: Bool) {
        try context.limits.require(usage.amount, field: "amount")
        return try await withWallet(accountID) { try await $0.recordUsage(usage) }
    }

    /// Charges the primary card and credits the wallet; FAILED_PRECONDITION (crediting nothing) when there
    /// is no primary card, the card is declined, or the billing address is incomplete.
    public func addFunds(accountID: String, amount: Money, idempotencyKey: String) async throws -> (transaction: WalletTransaction, charge: Charge, invoice: Invoice?) {
        try context.limits.require(amount, field: "amount")
        let key = try IdempotencyKey(idempotencyKey, scope: accountID, method: "AddBalance", parameters: ["\(amount.amountMinor)", amount.currency.code])
        let topUp = try await withWallet(accountID) { wallet in
            try amount.requireCurrency(wallet.latestView.balance.currency, field: "amount")
            return try await gatewayRequests.run(key.scope + "\u{0}" + key.key) { try await wallet.addFunds(amount, key: key) }
        }
        guard let transaction = topUp.transaction else { throw ChargeLifecycle.failure(of: topUp.charge) }
        return (transaction, topUp.charge, topUp.invoice)
    }

    /// Amounts and thresholds are checked whether auto-recharge is turned on or off: the values are kept
    /// and shown either way.
    public func configureAutoRecharge(accountID: String, settings: AutoRechargeSettings, idempotencyKey: String) async throws -> AutoRechargeSettings {
        try context.limits.require(settings.amount, field: "recharge_amount", allowsZero: !settings.isEnabled)
        try context.limits.require(settings.threshold, field: "threshold", allowsZero: true)
        let key = try IdempotencyKey(idempotencyKey, scope: accountID, method: "ConfigureAutoRecharge", parameters: [
            "\(settings.isEnabled)", "\(settings.amount.amountMinor)", settings.amount.currency.code,
            "\(settings.threshold.amountMinor)", settings.threshold.currency.code,
        ])
        return try await withWallet(accountID) { try await $0.configureAutoRecharge(settings, key: key) }
    }

    /// Tells the account's wallet that it has a new primary card: the backoff ends, and a wallet
    /// suspended with auto-recharge on recharges at once (following "update the card" is enough).
    public func primaryCardChanged(accountID: String) async throws {
        try await withWallet(accountID) { await $0.primaryCardChanged() }
    }

    /// Settles a top-up or recharge left pending, through its wallet's actor (for the reconciler).
    func settlePending(accountID: String, chargeID: String, outcome: ChargeLifecycle.GatewayOutcome) async throws {
        try await withWallet(accountID) { try await $0.settlePending(chargeID: chargeID, outcome: outcome) }
    }

    /// Ends every open watch, so that a shutdown need not wait for them.
    public func endAllWatches() async {
        for wallet in loaded.withLock({ $0.wallets }) { await wallet.endWatches() }
    }

    public func events(accountID: String) async throws -> (WalletView, AsyncStream<WalletEvent>) {
        try await withWallet(accountID) { wallet in try await (wallet.currentView(), wallet.events()) }
    }

    /// The ledger, newest first, filtered by category and creation time.
    public func transactions(accountID: String, filter: HistoryFilter, page: PageRequest) async throws -> Page<WalletTransaction> {
        try Identifier.validate(accountID, prefix: "acct", field: "account_id")
        return try await context.store.read { tx in
            _ = try AccountRecords.account(accountID, in: tx)
            return try Paging.page(of: "wallet_transactions", accountID: accountID, filter: filter, page: page, in: tx, decode: WalletLedger.transaction(from:))
        }
    }

    /// Totals per month and category over `[from, before)`, newest month first.
    public func summary(accountID: String, fromMilliseconds: Int64, beforeMilliseconds: Int64) async throws -> [WalletMonthSummary] {
        try Identifier.validate(accountID, prefix: "acct", field: "account_id")
        guard fromMilliseconds < beforeMilliseconds else {
            throw BillingError.invalidArgument("from_unix_ms must be earlier than before_unix_ms", field: "from_unix_ms")
        }
        // Both ends come from the caller: the span of -1 .. Int64.max overflows, so it is checked.
        let (span, overflow) = beforeMilliseconds.subtractingReportingOverflow(fromMilliseconds)
        guard !overflow, span <= Self.maxSummaryRangeMilliseconds else {
            throw BillingError.invalidArgument("the range may span at most 366 days", field: "before_unix_ms")
        }
        return try await context.store.read { tx in
            let account = try AccountRecords.account(accountID, in: tx)
            return try WalletLedger.monthlyTotals(of: accountID, currency: account.currency, from: fromMilliseconds, before: beforeMilliseconds, in: tx)
        }
    }
}

/// The wallet actors in memory, at most one per account. A wallet is evicted only when idle — no call
/// holds it, no recharge is in flight, nobody watches it — least recently used first; when every
/// loaded wallet is busy, a new one is refused rather than a busy one dropped (which would leave two
/// actors for one account, each with its own idea of the balance).
struct LoadedWallets {
    private struct Entry {
        var loading: Task<Wallet, any Error>
        var wallet: Wallet?
        /// Calls between `acquire` and `release`.
        var callers: Int
        var lastUse: UInt64

        var isIdle: Bool { callers == 0 && (wallet?.isIdle ?? false) }
    }

    private var entries: [String: Entry] = [:]
    private var uses: UInt64 = 0
    let capacity: Int

    init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    var count: Int { entries.count }
    var wallets: [Wallet] { entries.values.compactMap(\.wallet) }

    /// The account's wallet if it is loaded; loads nothing.
    func wallet(_ accountID: String) -> Wallet? { entries[accountID]?.wallet }

    /// The account's wallet if it is loaded, counted as a use (the last to be evicted); loads nothing.
    mutating func recentlyUsed(_ accountID: String) -> Wallet? {
        // One hash of the id: this runs on every GetWallet.
        guard let index = entries.index(forKey: accountID), let wallet = entries.values[index].wallet else { return nil }
        uses += 1
        entries.values[index].lastUse = uses
        return wallet
    }

    /// The account's wallet, held until `release`: its load, and the wallet itself once loaded (the
    /// common case, which then needs no await). `load` starts a load when there is none, after making room.
    mutating func acquire(
        _ accountID: String, load: () -> Task<Wallet, any Error>
    ) throws -> (loading: Task<Wallet, any Error>, wallet: Wallet?) {
        uses += 1
        if var entry = entries[accountID] {
            entry.callers += 1
            entry.lastUse = uses
            entries[accountID] = entry
            return (entry.loading, entry.wallet)
        }
        if entries.count >= capacity { evictIdle() }
        guard entries.count < capacity else {
            throw BillingError.resourceExhausted(
                "all \(capacity) loaded wallets are busy; retry shortly", reason: .walletsBusy)
        }
        let loading = load()
        entries[accountID] = Entry(loading: loading, wallet: nil, callers: 1, lastUse: uses)
        return (loading, nil)
    }

    mutating func loaded(_ accountID: String, _ wallet: Wallet, by loading: Task<Wallet, any Error>) {
        guard entries[accountID]?.loading == loading else { return }
        entries[accountID]?.wallet = wallet
    }

    mutating func release(_ accountID: String, _ loading: Task<Wallet, any Error>) {
        guard entries[accountID]?.loading == loading else { return }
        entries[accountID]?.callers -= 1
    }

    mutating func forget(_ accountID: String, _ loading: Task<Wallet, any Error>) {
        if entries[accountID]?.loading == loading { entries[accountID] = nil }
    }

    /// Drops the least recently used idle wallets: a sixty-fourth of the capacity at a time, so that
    /// the scan is paid once per many loads.
    private mutating func evictIdle() {
        let batch = max(1, capacity / 64)
        let victims = entries.filter { $0.value.isIdle }.sorted { $0.value.lastUse < $1.value.lastUse }.prefix(batch)
        for (accountID, _) in victims { entries[accountID] = nil }
    }
}
