import BillingLocking
import BillingStore
import Foundation
import Synchronization

/// Auto-recharge: when a debit leaves the balance at or below `threshold`, charge `amount` (or the
/// smallest multiple of it that lifts the balance above the threshold) to the primary card.
public struct AutoRechargeSettings: Sendable, Hashable, Codable {
    public var isEnabled: Bool
    public var amount: Money
    public var threshold: Money

    public init(isEnabled: Bool, amount: Money, threshold: Money) {
        self.isEnabled = isEnabled
        self.amount = amount
        self.threshold = threshold
    }
}

/// What the wallet tab shows, served from memory.
public struct WalletView: Sendable, Hashable {
    public var accountID: String
    public var balance: Money
    public var autoRecharge: AutoRechargeSettings
    public var serviceStatus: Account.ServiceStatus
    public var suspensionReason: String
    public var lastRechargeAtMilliseconds: Int64?
    public var lastRechargeChargeID: String?
    /// The amount of the recharge in flight, if one is.
    public var pendingRecharge: Money?
    public var consecutiveRechargeFailures: Int
    /// While set and in the future, auto-recharge waits instead of retrying into a declining card.
    public var rechargeRetryAfterMilliseconds: Int64?
    public var creditsThisMonth: Money
    public var debitsThisMonth: Money
}

/// What happened to a wallet, for those who watch it.
public enum WalletEvent: Sendable, Hashable {
    case balanceChanged(WalletTransaction)
    case rechargeStarted(amount: Money)
    case rechargeSucceeded(chargeID: String, amount: Money)
    case rechargeFailed(reason: String, retryAfterMilliseconds: Int64?)
    case suspended(reason: String)
    case restored
}

/// One account's wallet: everything that changes it goes through this actor, so recharges are serialized
/// and there is never more than one in flight.
///
/// The database is the judge of every balance check: a debit is one conditional UPDATE inside its write
/// transaction, so no `await` separates the check from the write. The actor keeps a copy of the committed
/// state for reads, applied in ledger order, and decides — synchronously, between awaits — whether a
/// recharge must start.
///
/// When other daemons write the same database (`Store.isShared`, PostgreSQL), that copy is a cache: reads
/// refresh it first (`currentView`), every debit brings back the row's current auto-recharge settings and
/// tells whether the account is suspended, and the one-recharge-in-flight rule is the wallet row's
/// `pending_recharge_charge_id`, set by a transaction that checked it was empty (SERIALIZABLE makes that
/// a compare-and-set across daemons). Every transaction that changes a wallet notifies the account id on
/// `noticeChannel`; a daemon whose copy of that wallet has watchers catches up (`catchUpForWatchers`),
/// so `WatchWallet` reports the changes another daemon made too.
public actor Wallet {
    /// The store channel (PostgreSQL `NOTIFY`) that carries the account id of every changed wallet.
    public static let noticeChannel = "billing_wallet"

    public let accountID: String
    private let context: BillingContext
    private let policy: WalletPolicy

    /// The committed state this actor keeps, and what auto-recharge is doing. Each assignment publishes
    /// the new view whole (`latestView`), so a change of several fields is made on a copy and assigned
    /// once: a reader without a hop never sees half of one.
    private var state: State {
        didSet { published.withLock { $0 = state.view(of: accountID) } }
    }
    private let published: Locked<WalletView>
    /// The recharge in flight, if any (its amount is in `state`).
    private var rechargeTask: Task<Void, Never>? {
        didSet { holds.store((rechargeTask == nil ? 0 : 1) + watchers.count, ordering: .relaxed) }
    }
    private var watchers: [Int: AsyncStream<WalletEvent>.Continuation] = [:] {
        didSet { holds.store((rechargeTask == nil ? 0 : 1) + watchers.count, ordering: .relaxed) }
    }
    private var nextWatcherID = 0
    /// On a shared store, the ledger lines applied lately, by sequence: a line can arrive twice, from the
    /// call that made it and from a catch-up after its notice, and must count once.
    private var appliedLines = Set<Int64>()
    /// Counts this copy's own service-status changes: a snapshot read across one of them may predate it
    /// (a status change adds no ledger line to tell by), so its status is not taken.
    private var statusChanges = 0
    /// What keeps this wallet in memory besides calls: a recharge in flight and each watcher.
    private let holds = Atomic<Int>(0)

    /// Whether nothing but calls could still need this actor: no recharge in flight, nobody watching.
    /// Read without a hop by `LoadedWallets`, which evicts only idle wallets.
    nonisolated var isIdle: Bool { holds.load(ordering: .relaxed) == 0 }

    static func load(accountID: String, context: BillingContext, policy: WalletPolicy) async throws -> Wallet {
        let month = Self.month(of: context.nowMilliseconds)
        let snapshot = try await context.store.read { tx in try WalletLedger.snapshot(of: accountID, month: month, in: tx) }
        let account = snapshot.account
        return Wallet(accountID: accountID, context: context, policy: policy, state: State(
            balance: Money(amountMinor: snapshot.balanceMinor, currency: account.currency), appliedSequence: snapshot.lastSequence,
            settings: snapshot.settings, serviceStatus: account.serviceStatus, suspensionReason: account.suspensionReason,
            lastRechargeAtMilliseconds: snapshot.lastRechargeAtMilliseconds, lastRechargeChargeID: snapshot.lastRechargeChargeID,
            month: month, creditsThisMonth: snapshot.creditsThisMonthMinor, debitsThisMonth: snapshot.debitsThisMonthMinor))
    }

    private init(accountID: String, context: BillingContext, policy: WalletPolicy, state: State) {
        self.accountID = accountID
        self.context = context
        self.policy = policy
        self.state = state
        self.published = Locked(state.view(of: accountID))
    }

    /// What the actor keeps of the committed state: balance, settings and status as of `appliedSequence`,
    /// this month's totals, and what auto-recharge is doing.
    private struct State {
        var balance: Money
        var appliedSequence: Int64
        var settings: AutoRechargeSettings
        var serviceStatus: Account.ServiceStatus
        var suspensionReason: String
        var lastRechargeAtMilliseconds: Int64?
        var lastRechargeChargeID: String?
        /// The amount of the recharge in flight, if one is.
        var pendingRecharge: Money?
        var rechargeFailures = 0
        var rechargeRetryAfter: Int64?
        var month: String
        var creditsThisMonth: Int64
        var debitsThisMonth: Int64

        /// Applies a committed ledger line, which may come back out of order: only newer ones move the
        /// balance, every one counts in its month.
        mutating func apply(_ transaction: WalletTransaction) {
            let transactionMonth = Wallet.month(of: transaction.createdAtMilliseconds)
            if transactionMonth != month {
                month = transactionMonth
                creditsThisMonth = 0
                debitsThisMonth = 0
            }
            if transaction.amount.isPositive { creditsThisMonth += transaction.amount.amountMinor } else { debitsThisMonth -= transaction.amount.amountMinor }
            if transaction.sequence > appliedSequence {
                appliedSequence = transaction.sequence
                balance = transaction.balanceAfter
            }
        }

        /// New settings: the backoff after failures under the old ones ends.
        mutating func replaceSettings(_ newSettings: AutoRechargeSettings) {
            settings = newSettings
            endBackoff()
        }

        /// A new card, new settings or a credit: earlier declines say nothing about the next recharge.
        mutating func endBackoff() {
            rechargeFailures = 0
            rechargeRetryAfter = nil
        }

        func view(of accountID: String) -> WalletView {
            WalletView(
                accountID: accountID, balance: balance, autoRecharge: settings, serviceStatus: serviceStatus, suspensionReason: suspensionReason,
                lastRechargeAtMilliseconds: lastRechargeAtMilliseconds, lastRechargeChargeID: lastRechargeChargeID,
                pendingRecharge: pendingRecharge, consecutiveRechargeFailures: rechargeFailures, rechargeRetryAfterMilliseconds: rechargeRetryAfter,
                creditsThisMonth: Money(amountMinor: creditsThisMonth, currency: balance.currency),
                debitsThisMonth: Money(amountMinor: debitsThisMonth, currency: balance.currency))
        }
    }

    // MARK: Reads

    /// The view as of the last change this actor made or learned, read without a hop: on a store of its
    /// own (SQLite) the actor sees every change, so this is the committed state, and `WalletService`
    /// serves reads from it.
    public nonisolated var latestView: WalletView { published.withLock { $0 } }

    /// The view, refreshed from the database first when other daemons may have changed it.
    public func currentView() async throws -> WalletView {
        try await refreshIfShared()
        return latestView
    }

    /// On a shared store, after a notice that this wallet changed: if anyone watches it, applies the
    /// ledger lines it has not seen (each emits its event) and takes the account's status and settings,
    /// announcing a suspension or a restore that another daemon made.
    func catchUpForWatchers() async {
        guard context.store.isShared, !watchers.isEmpty else { return }
        let month = Self.month(of: context.nowMilliseconds)
        let since = state.appliedSequence
        let statusChangesBefore = statusChanges
        guard let (lines, snapshot) = try? await context.store.read({ [accountID] tx in
            (try tx.query("SELECT * FROM wallet_transactions WHERE account_id = ? AND seq > ? ORDER BY seq LIMIT 500", .text(accountID), .integer(since))
                .map(WalletLedger.transaction(from:)),
             try WalletLedger.snapshot(of: accountID, month: month, in: tx))
        }) else { return }
        for line in lines { apply(line) }
        if take(snapshot, month: month, status: false) && statusChanges == statusChangesBefore {
            setServiceStatus(snapshot.account.serviceStatus, reason: snapshot.account.suspensionReason)
        }
    }

    /// Takes the committed state when the store is shared.
    private func refreshIfShared() async throws {
        guard context.store.isShared else { return }
        let month = Self.month(of: context.nowMilliseconds)
        let statusChangesBefore = statusChanges
        let snapshot = try await context.store.read { [accountID] tx in try WalletLedger.snapshot(of: accountID, month: month, in: tx) }
        take(snapshot, month: month, status: statusChanges == statusChangesBefore)
    }

    /// Takes a snapshot read after an await if it is at least as new as the ledger lines this actor
    /// applied meanwhile, with the service status too if `status` (silently: reads announce nothing);
    /// returns whether it was new enough to take.
    @discardableResult
    private func take(_ snapshot: WalletLedger.Snapshot, month: String, status: Bool) -> Bool {
        guard snapshot.lastSequence >= state.appliedSequence else { return false }
        var next = state
        next.balance = Money(amountMinor: snapshot.balanceMinor, currency: state.balance.currency)
        next.appliedSequence = snapshot.lastSequence
        next.settings = snapshot.settings
        next.lastRechargeAtMilliseconds = snapshot.lastRechargeAtMilliseconds
        next.lastRechargeChargeID = snapshot.lastRechargeChargeID
        next.month = month
        next.creditsThisMonth = snapshot.creditsThisMonthMinor
        next.debitsThisMonth = snapshot.debitsThisMonthMinor
        if status {
            next.serviceStatus = snapshot.account.serviceStatus
            next.suspensionReason = snapshot.account.suspensionReason
        }
        state = next
        return true
    }

    /// Events from now on; at most `WalletPolicy.maxWatchers` at once, each buffering the newest 64.
    public func events() throws -> AsyncStream<WalletEvent> {
        guard watchers.count < policy.maxWatchers else {
            throw BillingError.resourceExhausted("wallet \(accountID) already has \(policy.maxWatchers) watchers, the limit", reason: .tooManyWatchers)
        }
        let (stream, continuation) = AsyncStream.makeStream(of: WalletEvent.self, bufferingPolicy: .bufferingNewest(64))
        let id = nextWatcherID
        nextWatcherID += 1
        watchers[id] = continuation
        continuation.onTermination = { [weak self] _ in Task { await self?.removeWatcher(id) } }
        return stream
    }

    /// Ends every watch of this wallet (the server is shutting down).
    func endWatches() {
        for watcher in watchers.values { watcher.finish() }
        watchers = [:]
    }

    // MARK: Usage

    /// Debits usage if the balance covers it, or if an auto-recharge (started now, or already in flight)
    /// makes it cover it; otherwise FAILED_PRECONDITION. Idempotent on the usage id.
    public func recordUsage(_ usage: UsageDebit) async throws -> (transaction: WalletTransaction, replayed: Bool) {
        try usage.amount.requireCurrency(state.balance.currency, field: "amount")
        var waitedForRecharge = false
        while true {
            let now = context.nowMilliseconds
            let outcome: WalletLedger.DebitOutcome
            do {
                outcome = try await context.store.write { [accountID] tx in try WalletLedger.debit(usage, accountID: accountID, in: tx, nowMilliseconds: now) }
            } catch is WalletLedger.UsageAlreadyRecorded {
                let earlier = try await context.store.read { [accountID] tx in try WalletLedger.recordedUsage(usage, accountID: accountID, in: tx) }
                guard let earlier else { throw BillingError.aborted("usage_id \(usage.usageID) collided with a concurrent debit; retry") }
                return (earlier, true)
            }
            // Re-checked after the await: only the committed outcome counts.
            switch outcome {
            case .replayed(let earlier):
                return (earlier, true)
            case .debited(let transaction, let currentSettings):
                apply(transaction)
                if context.store.isShared { noteCommitted(settings: currentSettings) }
                await afterDebit()
                return (transaction, false)
            case .suspended(let reason):
                // Suspended by another daemon, if this copy did not know.
                if context.store.isShared { setServiceStatus(.suspended, reason: reason) }
                throw BillingError.failedPrecondition(
                    "usage-based services of account \(accountID) are suspended: \(reason); add funds to restore them", reason: .walletSuspended)
            case .insufficient(let available):
                let recharging = waitedForRecharge ? nil : startRechargeIfAllowed(covering: usage.amount)
                if case .started(let rechargeDone)? = recharging {
                    waitedForRecharge = true
                    await rechargeDone.value
                    continue
                }
                throw insufficientFunds(available: available, needed: usage.amount, recharging: recharging)
            }
        }
    }

    /// What a debit committed on a shared store says about state other daemons may have changed: the
    /// auto-recharge settings, and that services run (a debit succeeds only on an active account).
    private func noteCommitted(settings current: AutoRechargeSettings) {
        if current != state.settings { state.replaceSettings(current) }
        setServiceStatus(.active)
    }

    // MARK: Funds

    /// Charges `amount` to the primary card and credits it, once per idempotency key.
    func addFunds(_ amount: Money, key: IdempotencyKey) async throws -> WalletCredit {
        let context = context
        let accountID = accountID
        let once = try await Settlement.chargeOnce(key: key, context: context, replaying: WalletCredit.self) { tx, now in
            let account = try AccountRecords.account(accountID, in: tx)
            try ChargeLifecycle.requireCompleteBillingInformation(accountID, in: tx)
            let (card, token) = try ChargeLifecycle.primaryCard(of: account, in: tx, now: context.now())
            let chargeID = try ChargeLifecycle.recordPending(
                accountID: accountID, amount: amount, card: card, description: "Wallet funds", purpose: .walletTopUp, invoiceID: nil,
                recordedBy: context.instanceName, in: tx, nowMilliseconds: now)
            return PendingCharge(chargeID: chargeID, token: token, amount: amount, description: "Wallet funds")
        }
        guard case .settled(.walletCredit(let credit)) = once else {
            guard case .replayed(let earlier) = once else { throw BillingError.internalError("a top-up settled as another purpose") }
            return earlier
        }
        apply(credit)
        guard credit.charge.status == .succeeded else { throw ChargeLifecycle.failure(of: credit.charge) }
        return credit
    }

    func configureAutoRecharge(_ newSettings: AutoRechargeSettings, key: IdempotencyKey) async throws -> AutoRechargeSettings {
        try newSettings.amount.requireCurrency(state.balance.currency, field: "recharge_amount")
        try newSettings.threshold.requireCurrency(state.balance.currency, field: "threshold")
        let (_, replayed) = try await IdempotencyRecords.onceNotingReplay(key, in: context.store, nowMilliseconds: context.nowMilliseconds) { [accountID] tx in
            try WalletLedger.configureAutoRecharge(newSettings, accountID: accountID, in: tx)
            return newSettings
        }
        // A replay changes nothing: later settings may have replaced these since.
        guard !replayed else { return newSettings }
        state.replaceSettings(newSettings)
        // Recharges follow debits; the one exception is a suspended wallet, which no debit can reach.
        if state.serviceStatus == .suspended { _ = startRechargeIfAllowed(covering: nil) }
        return state.settings
    }

    /// Settles a top-up or recharge charge that stayed pending (the gateway's answer was lost), found by
    /// the reconciler; the credit reaches this wallet's state like any other.
    func settlePending(chargeID: String, outcome: ChargeLifecycle.GatewayOutcome) async throws {
        let context = context
        let settled = try await context.store.write { tx in
            try Settlement.settle(chargeID, with: outcome, context: context, in: tx, nowMilliseconds: context.nowMilliseconds)
        }
        if case .walletCredit(let credit) = settled { apply(credit) }
    }

    /// Runs a write that credits this wallet beside other changes (a canceled subscription's unused
    /// time) and applies the credit it made, if any, once committed; a lifted suspension too.
    func commitCredit<T: Sendable>(_ body: @escaping @Sendable (WriteTransaction) throws -> (T, WalletTransaction?, Bool)) async throws -> T {
        let (result, credit, restored) = try await context.store.write(body)
        if let credit { apply(credit) }
        if restored || credit != nil { setServiceStatus(.active) }
        return result
    }

    /// A new primary card ends the backoff: the old card's declines say nothing about the new one. A
    /// wallet suspended with auto-recharge on recharges at once, since no debit can reach it: following
    /// the advice "update the card" is enough, and the recharge's success restores the services.
    func primaryCardChanged() {
        state.endBackoff()
        if state.serviceStatus == .suspended { _ = startRechargeIfAllowed(covering: nil) }
    }

    // MARK: Recharge

    /// After a debit: start a recharge on crossing the threshold, or suspend at zero when nothing can refill.
    private func afterDebit() async {
        guard state.settings.isEnabled, state.balance.amountMinor <= state.settings.threshold.amountMinor else {
            if state.balance.isZero { await suspend(because: "the wallet balance is zero and auto-recharge is off") }
            return
        }
        let recharging = startRechargeIfAllowed(covering: nil)
        guard state.balance.isZero else { return }
        switch recharging {
        case .started: break
        case .off: await suspend(because: "the wallet balance is zero and auto-recharge is off")
        case .backingOff: await suspend(because: "the wallet balance is zero and auto-recharge is backing off after a failed charge")
        case .exceedsLimit: await suspend(because: "the wallet balance is zero and the recharge it needs is above the limit of one charge")
        }
    }

    /// What auto-recharge can do for a balance that falls short.
    private enum Recharging {
        /// A recharge runs (started now, or already in flight); the task ends when it is settled.
        case started(Task<Void, Never>)
        case off
        /// A recharge failed lately; the next may start at this time (Unix ms).
        case backingOff(until: Int64)
        /// Covering the shortfall would take a charge above `maxCharge`, the most one recharge may take.
        case exceedsLimit(maxCharge: Money)
    }

    /// Starts a recharge unless one is in flight (then returns it), it is off, the backoff forbids it,
    /// or it would have to charge more than one recharge may. Synchronous: the check and the start
    /// happen with no `await` between them, so one crossing of the threshold makes exactly one
    /// recharge however many debits race.
    private func startRechargeIfAllowed(covering debit: Money?) -> Recharging {
        if let rechargeTask { return .started(rechargeTask) }
        guard state.settings.isEnabled, state.settings.amount.isPositive else { return .off }
        if let retryAfter = state.rechargeRetryAfter, context.nowMilliseconds < retryAfter { return .backingOff(until: retryAfter) }
        // The smallest multiple of the recharge amount that leaves the balance above the threshold
        // (after the debit waiting for it, if any), at most `maxRechargeMultiple` times the amount and
        // never above the limit of one charge, so that a typo cannot charge a fortune. Every term is
        // bounded by `MoneyLimits`, so nothing here can overflow; it is checked all the same.
        let maxMultiple = min(policy.maxRechargeMultiple, context.limits.maxAmountMinor / state.settings.amount.amountMinor)
        let maxCharge = Money(amountMinor: state.settings.amount.amountMinor.multipliedReportingOverflow(by: maxMultiple).partialValue, currency: state.balance.currency)
        let (needed, overflowNeeded) = state.settings.threshold.amountMinor.addingReportingOverflow(debit?.amountMinor ?? 0)
        let (shortfall, overflowShortfall) = needed.subtractingReportingOverflow(state.balance.amountMinor)
        guard !overflowNeeded, !overflowShortfall else { return .exceedsLimit(maxCharge: maxCharge) }
        let multiple = max(1, shortfall / state.settings.amount.amountMinor + 1)
        guard multiple <= maxMultiple else { return .exceedsLimit(maxCharge: maxCharge) }
        let credit = Money(amountMinor: state.settings.amount.amountMinor * multiple, currency: state.balance.currency)
        let task = Task { [threshold = state.settings.threshold.amountMinor] in
            await self.performRecharge(credit, threshold: threshold, covering: debit?.amountMinor)
        }
        rechargeTask = task
        state.pendingRecharge = credit
        emit(.rechargeStarted(amount: credit))
        return .started(task)
    }

    /// The refusal of a debit the balance does not cover, saying what auto-recharge did or could not
    /// do, so that nobody is told to turn on what is already on.
    private func insufficientFunds(available: Int64, needed: Money, recharging: Recharging?) -> BillingError {
        let shortfall = "insufficient wallet balance: \(Money(amountMinor: available, currency: state.balance.currency).formatted) available, \(needed.formatted) needed"
        switch recharging {
        case .off?, .started?:
            return .failedPrecondition("\(shortfall); add funds or enable auto-recharge", field: "amount", reason: .insufficientFunds)
        case .backingOff(let until)?:
            return .failedPrecondition(
                "\(shortfall); auto-recharge is on but waits until \(Date(unixMilliseconds: until).ISO8601Format()) after a failed charge; add funds or update the primary card",
                field: "amount", reason: .insufficientFunds)
        case .exceedsLimit(let maxCharge)?:
            return .failedPrecondition(
                "\(shortfall); auto-recharge is on, but one recharge may charge at most \(maxCharge.formatted), which does not cover this debit; add funds",
                field: "amount", reason: .rechargeLimitExceeded)
        case nil:
            return .failedPrecondition(
                "\(shortfall); auto-recharge ran but the balance still does not cover this debit; add funds", field: "amount", reason: .insufficientFunds)
        }
    }

    /// What the transaction that would start a recharge found.
    private enum RechargeStart: Sendable {
        case started(PendingCharge)
        /// Another recharge is in flight: the marker in the wallet row is set.
        case inFlight
        /// The committed balance no longer needs one: another daemon's recharge for this crossing landed
        /// after this copy decided (found by the two-daemon crash test: a second recharge for one crossing).
        case notNeeded
    }

    private func performRecharge(_ amount: Money, threshold: Int64, covering debit: Int64?) async {
        let context = context
        let accountID = accountID
        let now = context.nowMilliseconds
        let started: Result<RechargeStart, any Error>
        do {
            started = .success(try await context.store.write { tx -> RechargeStart in
                // At most one recharge per wallet, also across restarts: the marker lives in the row.
                guard try !WalletLedger.hasPendingRecharge(accountID, in: tx) else { return .inFlight }
                // The decision was taken on this actor's copy; the database's balance has the last word.
                let balance = try WalletLedger.balance(of: accountID, in: tx) ?? 0
                guard balance <= threshold || balance < (debit ?? 0) else { return .notNeeded }
                let account = try AccountRecords.account(accountID, in: tx)
                try ChargeLifecycle.requireCompleteBillingInformation(accountID, in: tx)
                let (card, token) = try ChargeLifecycle.primaryCard(of: account, in: tx, now: context.now())
                let chargeID = try ChargeLifecycle.recordPending(
                    accountID: accountID, amount: amount, card: card, description: "Wallet auto-recharge", purpose: .walletAutoRecharge,
                    invoiceID: nil, recordedBy: context.instanceName, in: tx, nowMilliseconds: now)
                try WalletLedger.markPendingRecharge(chargeID, accountID: accountID, in: tx)
                return .started(PendingCharge(chargeID: chargeID, token: token, amount: amount, description: "Wallet auto-recharge"))
            })
        } catch {
            started = .failure(error)
        }
        switch started {
        case .success(.notNeeded):
            endRecharge()
        case .success(.inFlight) where context.store.isShared:
            // Another daemon's recharge is in flight (or one a crash left, which reconciliation settles):
            // the crossing has its one recharge already. Nothing failed here, so no backoff and no
            // suspension; the credit reaches this copy with the next debit or read.
            endRecharge()
        case .success(.inFlight):
            // A recharge a crash or an outage left pending is settled by start-up reconciliation; until
            // then back off like after a failure instead of asking the database on every debit.
            await rechargeFailed(reason: "an earlier recharge is still pending at the payment gateway")
        case .failure(let error):
            await rechargeFailed(reason: (error as? BillingError)?.message ?? "the recharge could not be recorded")
        case .success(.started(let pending)):
            do {
                guard case .walletCredit(let credit) = try await Settlement.send(pending, context: context) else {
                    throw BillingError.internalError("a recharge settled as another purpose")
                }
                apply(credit)
                switch credit.charge.status {
                case .succeeded:
                    endRecharge()
                case .failed:
                    await rechargeFailed(reason: ChargeLifecycle.failure(of: credit.charge).message)
                case .pending:
                    // The gateway did not answer: reconciliation settles it; until then no second recharge.
                    await rechargeFailed(reason: "the payment gateway did not answer; the recharge is pending")
                }
            } catch {
                await rechargeFailed(reason: "the recharge outcome could not be recorded")
            }
        }
    }

    /// The recharge in flight is over, and nothing failed.
    private func endRecharge() {
        rechargeTask = nil
        state.pendingRecharge = nil
    }

    /// A failed recharge backs off (doubling, bounded) instead of retrying into a declining card on every debit.
    private func rechargeFailed(reason: String) async {
        rechargeTask = nil
        var next = state
        next.pendingRecharge = nil
        next.rechargeFailures += 1
        let delay = min(policy.maxRechargeBackoff, policy.initialRechargeBackoff * (1 << min(next.rechargeFailures - 1, 20)))
        next.rechargeRetryAfter = context.nowMilliseconds + delay.milliseconds
        state = next
        emit(.rechargeFailed(reason: reason, retryAfterMilliseconds: next.rechargeRetryAfter))
        if state.balance.isZero { await suspend(because: "the wallet balance is zero and the auto-recharge failed: \(reason)") }
    }

    private func suspend(because reason: String) async {
        guard state.serviceStatus == .active else { return }
        do {
            // Only if the balance is still zero: a credit may have landed while we waited.
            let changed = try await context.store.write { [accountID] tx in try AccountRecords.suspendIfWalletEmpty(accountID, reason: reason, in: tx) }
            guard changed, state.balance.isZero else { return }
            setServiceStatus(.suspended, reason: reason)
        } catch {
            // The debit that got here is durable; suspension is retried by the next debit at zero.
        }
    }

    // MARK: Memory

    /// Applies a committed ledger line; lines may come back out of order, only newer ones move the balance.
    private func apply(_ transaction: WalletTransaction) {
        if context.store.isShared {
            guard appliedLines.insert(transaction.sequence).inserted else { return }
            if appliedLines.count > 4096 { appliedLines = appliedLines.filter { $0 > state.appliedSequence - 100_000 } }
        }
        state.apply(transaction)
        emit(.balanceChanged(transaction))
    }

    /// Applies a credited top-up or recharge, live or reconciled: the ledger line, the end of any
    /// backoff, and the events in the order they happened (balance, recharge, restored services).
    private func apply(_ credit: WalletCredit) {
        guard credit.credited else { return }
        state.endBackoff()
        if let transaction = credit.transaction {
            apply(transaction)
            var next = state
            next.lastRechargeAtMilliseconds = transaction.createdAtMilliseconds
            next.lastRechargeChargeID = credit.charge.id
            state = next
        }
        if credit.charge.purpose == .walletAutoRecharge { emit(.rechargeSucceeded(chargeID: credit.charge.id, amount: credit.charge.amount)) }
        if credit.restored || credit.transaction != nil { setServiceStatus(.active) }
    }

    /// Changes the copy's service status and tells the watchers, once: a change can be learned twice on a
    /// shared store (from the call that made it and from the catch-up after its notice).
    private func setServiceStatus(_ status: Account.ServiceStatus, reason: String = "") {
        guard status != state.serviceStatus else { return }
        statusChanges += 1
        var next = state
        next.serviceStatus = status
        next.suspensionReason = reason
        state = next
        emit(status == .suspended ? .suspended(reason: reason) : .restored)
    }

    private func emit(_ event: WalletEvent) {
        for watcher in watchers.values { watcher.yield(event) }
    }

    private func removeWatcher(_ id: Int) {
        watchers[id] = nil
    }

    /// "2026-11" (UTC) for a time, by integer arithmetic: this runs on every debit, and a Foundation
    /// calendar costs more than the rest of the debit's bookkeeping.
    static func month(of milliseconds: Int64) -> String {
        // Howard Hinnant's civil_from_days.
        let days = (milliseconds >= 0 ? milliseconds : milliseconds - 86_399_999) / 86_400_000 + 719_468
        let era = (days >= 0 ? days : days - 146_096) / 146_097
        let dayOfEra = days - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153
        let month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return "\(year)-" + (month < 10 ? "0\(month)" : "\(month)")
    }
}

/// Bounds and timings of wallets.
public struct WalletPolicy: Sendable {
    /// The first wait after a failed recharge; each further failure doubles it, up to the maximum.
    public var initialRechargeBackoff: Duration = .seconds(60)
    public var maxRechargeBackoff: Duration = .seconds(3600)
    /// A recharge charges at most this many times the configured amount.
    public var maxRechargeMultiple: Int64 = 100
    public var maxWatchers = 64
    /// Wallets kept in memory; past it, idle ones are dropped and reloaded on next use.
    public var maxLoadedWallets = 100_000

    public init() {}
}

extension Duration {
    var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
