import BillingGateway
import BillingStore
import Foundation

/// What a subscription call did: the subscription, and the invoice, charge or wallet credit it made.
public struct SubscriptionOutcome: Sendable, Hashable, Codable {
    public var subscription: Subscription
    public var invoice: Invoice?
    public var charge: Charge?
    public var credit: WalletTransaction?
}

/// When a plan change takes effect.
public enum ChangeTiming: String, Sendable, Hashable, Codable {
    /// An upgrade: now, invoicing the prorated difference (or, during a trial, now with nothing to pay).
    case immediate
    /// A downgrade or the same price: at the end of the period.
    case atPeriodEnd = "at_period_end"
    /// The current plan and quantity: a pending downgrade is withdrawn.
    case withdrawPending = "withdraw_pending"
}

/// What a change would do, computed without doing it.
public struct SubscriptionChangePreview: Sendable, Hashable {
    public var timing: ChangeTiming
    public var lines: [Invoice.Line]
    public var total: Money
    public var effectiveAtMilliseconds: Int64
    public var nextRenewalAmount: Money
}

/// The subscriptions tab: plans, subscribing, changing with exact proration, canceling and resuming.
/// Renewals, retries, trial ends and expiries run from the durable schedule (`SubscriptionScheduler`).
///
/// `incomplete → active | incomplete_expired`; `trialing → active | past_due`; `active ⇄ past_due →
/// unpaid | canceled`; `unpaid → active` (a later period paid); any live status `→ canceled`.
public final class SubscriptionService: Sendable {
    let context: BillingContext
    let wallets: WalletService
    let scheduler: SubscriptionScheduler
    private let gatewayRequests = KeyedSerialQueue()

    init(context: BillingContext, wallets: WalletService, scheduler: SubscriptionScheduler) {
        self.context = context
        self.wallets = wallets
        self.scheduler = scheduler
    }

    private var catalog: PlanCatalog { context.catalog }

    // MARK: Plans

    public func plans(kind: Plan.Kind?, includeRetired: Bool, currencyCode: String) throws -> [Plan] {
        let currency = try currencyCode.isEmpty ? nil : Currency(code: currencyCode, field: "currency")
        return catalog.plans.filter { plan in
            (kind == nil || plan.kind == kind) && (includeRetired || !plan.retired) && (currency == nil || plan.unitAmount.currency == currency)
        }
    }

    // MARK: Subscribing

    public func create(
        accountID: String, planID: String, quantity requestedQuantity: Int64, trialDays requestedTrialDays: Int?, alignToAccountBillingDate: Bool,
        idempotencyKey: String
    ) async throws -> SubscriptionOutcome {
        try Identifier.validate(accountID, prefix: "acct", field: "account_id")
        let plan = try catalog.plan(planID)
        guard !plan.retired else {
            throw BillingError.failedPrecondition("plan \(plan.id) is retired and takes no new subscribers; ListPlans shows the plans on offer", field: "plan_id", reason: .planRetired)
        }
        let quantity = requestedQuantity == 0 ? plan.minQuantity : requestedQuantity
        try Self.requireQuantity(quantity, of: plan, limits: context.limits)
        let trialDays = requestedTrialDays ?? plan.trialDays
        guard (0...PlanCatalog.maxTrialDays).contains(trialDays) else {
            throw BillingError.invalidArgument("trial_days must be 0 to \(PlanCatalog.maxTrialDays)", field: "trial_days")
        }
        guard !alignToAccountBillingDate || plan.kind == .marketplaceApp else {
            throw BillingError.invalidArgument("only marketplace apps can be aligned to the account's billing date", field: "align_to_account_billing_date")
        }
        let key = try IdempotencyKey(idempotencyKey, scope: accountID, method: "CreateSubscription", parameters: [
            plan.id, "\(quantity)", requestedTrialDays.map { "\($0)" } ?? "plan", "\(alignToAccountBillingDate)",
        ])
        let context = context
        let outcome: SubscriptionOutcome = try await gatewayRequests.run(key.scope + "\u{0}" + key.key) {
            let once = try await Settlement.chargeOnce(key: key, context: context, replaying: SubscriptionOutcome.self) { tx, wall in
                let account = try AccountRecords.account(accountID, in: tx)
                try Self.requireCurrency(of: plan, matches: account)
                let live = try SubscriptionRecords.liveCount(accountID: accountID, in: tx)
                guard live < context.subscriptionPolicy.maxLiveSubscriptionsPerAccount else {
                    throw BillingError.resourceExhausted(
                        "the account has \(live) live subscriptions, the limit; cancel one first", reason: .tooManySubscriptions)
                }
                let now = try SubscriptionClock.now(of: accountID, in: tx, wall: wall)
                try PlansInUse.record(plan, in: tx, nowMilliseconds: now)
                if trialDays > 0 {
                    return .noCharge(try Self.startTrial(plan: plan, quantity: quantity, days: trialDays, accountID: accountID, context: context, in: tx, now: now))
                }
                return .charge(try Self.startPaid(
                    plan: plan, quantity: quantity, aligned: alignToAccountBillingDate, accountID: accountID, context: context, in: tx, now: now))
            }
            switch once {
            case .replayed(let outcome), .completed(let outcome):
                return outcome
            case .settled(.invoicePayment(let payment)):
                guard payment.charge.status != .pending, let subscription = payment.subscription else { throw ChargeLifecycle.failure(of: payment.charge) }
                return SubscriptionOutcome(subscription: subscription, invoice: payment.invoice, charge: payment.charge)
            case .settled(.walletCredit):
                throw BillingError.internalError("a subscription payment settled as a wallet credit")
            }
        }
        return try await refreshed(outcome)
    }

    /// A trial: nothing to pay until it ends; the provider provisions at once.
    private static func startTrial(plan: Plan, quantity: Int64, days: Int, accountID: String, context: BillingContext, in tx: WriteTransaction, now: Int64) throws -> SubscriptionOutcome {
        let trialEnd = now + Int64(days) * BillingCycle.millisecondsPerDay
        var subscription = Subscription(
            id: Identifier.make("sub"), accountID: accountID, plan: plan, quantity: quantity, status: .trialing, anchorMilliseconds: trialEnd,
            periodIndex: -1, periodStartMilliseconds: now, periodEndMilliseconds: trialEnd, segmentStartMilliseconds: now, segmentAmountMinor: 0,
            trialEndMilliseconds: trialEnd, cancelAtPeriodEnd: false, pendingChange: nil, paymentAttempts: 0, awaitingNewCard: false,
            fulfilmentState: plan.provider == nil ? .notApplicable : .pending, fulfilmentInProgress: false, createdAtMilliseconds: now)
        try SubscriptionRecords.insert(subscription, in: tx)
        try Fulfilment.enqueue(.provision, for: &subscription, in: tx, nowMilliseconds: now)
        try SubscriptionRecords.update(subscription, in: tx)
        try SubscriptionRecords.schedule(.endTrial, of: subscription, at: trialEnd, in: tx)
        return SubscriptionOutcome(subscription: try SubscriptionRecords.subscription(subscription.id, catalog: context.catalog, in: tx))
    }

    /// The first period, invoiced and charged now: incomplete until the charge succeeds. The next
    /// renewal is scheduled in this same transaction.
    private static func startPaid(
        plan: Plan, quantity: Int64, aligned: Bool, accountID: String, context: BillingContext, in tx: WriteTransaction, now: Int64
    ) throws -> PendingCharge {
        var anchor = now
        var index = 0
        var periodEnd = BillingCycle.boundary(anchor: now, months: plan.months, index: 1)
        var line = try SubscriptionBilling.periodLine(plan: plan, quantity: quantity, start: now, end: periodEnd)
        if aligned, let other = try SubscriptionRecords.earliestActive(accountID: accountID, months: plan.months, catalog: context.catalog, in: tx),
            other.periodEndMilliseconds > now
        {
            // Marketplace apps: the first period ends with the account's current one, billed prorated.
            anchor = other.anchorMilliseconds
            index = other.periodIndex
            periodEnd = other.periodEndMilliseconds
            let full = line.amount.amountMinor
            let prorated = try BillingCycle.prorate(
                full, numerator: BillingCycle.seconds(periodEnd) - BillingCycle.seconds(now),
                denominator: max(1, BillingCycle.seconds(periodEnd) - BillingCycle.seconds(other.periodStartMilliseconds)))
            let amount = Money(amountMinor: prorated, currency: plan.unitAmount.currency)
            line = Invoice.Line(
                description: "\(plan.name) × \(quantity), \(SubscriptionBilling.day(now)) – \(SubscriptionBilling.day(periodEnd)) (prorated to the account's billing date)",
                quantity: 1, unitAmount: amount, amount: amount)
        }
        var subscription = Subscription(
            id: Identifier.make("sub"), accountID: accountID, plan: plan, quantity: quantity, status: .incomplete, anchorMilliseconds: anchor,
            periodIndex: index, periodStartMilliseconds: now, periodEndMilliseconds: periodEnd, segmentStartMilliseconds: now,
            segmentAmountMinor: line.amount.amountMinor, trialEndMilliseconds: nil, cancelAtPeriodEnd: false, pendingChange: nil, paymentAttempts: 0,
            awaitingNewCard: false, incompleteExpiresAtMilliseconds: now + context.subscriptionPolicy.incompleteExpiry.milliseconds,
            fulfilmentState: plan.provider == nil ? .notApplicable : .pending, fulfilmentInProgress: false, createdAtMilliseconds: now)
        try SubscriptionRecords.insert(subscription, in: tx)
        let invoice = try SubscriptionBilling.issueInvoice(
            for: subscription, lines: [line], reason: .subscriptionCreate, periodStart: now, periodEnd: periodEnd, context: context, in: tx,
            nowMilliseconds: now)
        subscription.latestInvoiceID = invoice.id
        try SubscriptionRecords.update(subscription, in: tx)
        try SubscriptionRecords.schedule(.renew, of: subscription, at: periodEnd, in: tx)
        try SubscriptionRecords.schedule(.expireIncomplete, of: subscription, at: subscription.incompleteExpiresAtMilliseconds!, in: tx)
        // No usable card refuses the whole request: nothing is created.
        return try SubscriptionBilling.recordCharge(of: invoice, context: context, in: tx, nowMilliseconds: now).get()
    }

    // MARK: Reading

    public func subscription(accountID: String, subscriptionID: String) async throws -> Subscription {
        try Identifier.validate(accountID, prefix: "acct", field: "account_id")
        try Identifier.validate(subscriptionID, prefix: "sub", field: "subscription_id")
        return try await context.store.read { [catalog] tx in
            _ = try AccountRecords.account(accountID, in: tx)
            return try SubscriptionRecords.subscription(subscriptionID, accountID: accountID, catalog: catalog, in: tx)
        }
    }

    /// Live subscriptions first, then ended ones, newest first within each.
    public func list(accountID: String, statuses: [Subscription.Status], kind: Plan.Kind?, pageSize: Int, pageToken: String) async throws -> Page<Subscription> {
        try Identifier.validate(accountID, prefix: "acct", field: "account_id")
        let page = try PageRequest(size: pageSize, token: "")
        let token = try SubscriptionRecords.parseToken(pageToken)
        guard statuses.count <= HistoryFilter.maxValues else {
            throw BillingError.invalidArgument("filter by at most \(HistoryFilter.maxValues) statuses", field: "statuses")
        }
        return try await context.store.read { [catalog] tx in
            _ = try AccountRecords.account(accountID, in: tx)
            return try SubscriptionRecords.page(
                accountID: accountID, statuses: statuses, kind: kind, page: page, token: token, catalog: catalog, in: tx)
        }
    }

    // MARK: Changing

    public func preview(accountID: String, subscriptionID: String, planID: String, quantity: Int64) async throws -> SubscriptionChangePreview {
        try Identifier.validate(accountID, prefix: "acct", field: "account_id")
        try Identifier.validate(subscriptionID, prefix: "sub", field: "subscription_id")
        let plan = try catalog.plan(planID)
        let context = context
        return try await context.store.read { tx in
            let subscription = try SubscriptionRecords.subscription(subscriptionID, accountID: accountID, catalog: context.catalog, in: tx)
            let now = try SubscriptionClock.now(of: accountID, in: tx, wall: context.nowMilliseconds)
            return try Self.decide(subscription, to: plan, quantity: quantity, at: now, context: context)
        }
    }

    /// An upgrade applies now and only if its prorated invoice is paid (a decline changes nothing and
    /// answers with the decline); a downgrade waits for the period end; the current plan and quantity
    /// withdraw a waiting downgrade.
    public func update(accountID: String, subscriptionID: String, planID: String, quantity: Int64, idempotencyKey: String) async throws -> SubscriptionOutcome {
        try Identifier.validate(accountID, prefix: "acct", field: "account_id")
        try Identifier.validate(subscriptionID, prefix: "sub", field: "subscription_id")
        let plan = try catalog.plan(planID)
        let key = try IdempotencyKey(idempotencyKey, scope: accountID, method: "UpdateSubscription", parameters: [subscriptionID, plan.id, "\(quantity)"])
        let context = context
        let outcome: SubscriptionOutcome = try await gatewayRequests.run(key.scope + "\u{0}" + key.key) {
            let once = try await Settlement.chargeOnce(key: key, context: context, replaying: SubscriptionOutcome.self) { tx, wall in
                var subscription = try SubscriptionRecords.subscription(subscriptionID, accountID: accountID, catalog: context.catalog, in: tx)
                let now = try SubscriptionClock.now(of: accountID, in: tx, wall: wall)
                let preview = try Self.decide(subscription, to: plan, quantity: quantity, at: now, context: context)
                let newQuantity = quantity == 0 ? subscription.quantity : quantity
                switch preview.timing {
                case .withdrawPending:
                    subscription.pendingChange = nil
                case .atPeriodEnd:
                    subscription.pendingChange = .init(planID: plan.id, quantity: newQuantity, effectiveAtMilliseconds: subscription.periodEndMilliseconds)
                    try PlansInUse.record(plan, in: tx, nowMilliseconds: now)
                case .immediate where subscription.status == .trialing:
                    try SubscriptionBilling.applyUpgrade(
                        .init(subscriptionID: subscription.id, planID: plan.id, quantity: newQuantity, effectiveAtMilliseconds: now,
                              periodStartMilliseconds: subscription.periodStartMilliseconds, chargeLineMinor: 0),
                        to: &subscription, context: context, in: tx, nowMilliseconds: now)
                case .immediate:
                    let invoice = try SubscriptionBilling.issueInvoice(
                        for: subscription, lines: preview.lines, reason: .subscriptionUpdate, periodStart: now,
                        periodEnd: subscription.periodEndMilliseconds, context: context, in: tx, nowMilliseconds: now)
                    let change = SubscriptionRecords.Change(
                        subscriptionID: subscription.id, planID: plan.id, quantity: newQuantity, effectiveAtMilliseconds: now,
                        periodStartMilliseconds: subscription.periodStartMilliseconds, chargeLineMinor: preview.lines.last?.amount.amountMinor ?? 0)
                    guard invoice.status == .paid else {
                        try SubscriptionRecords.insertChange(change, invoiceID: invoice.id, in: tx)
                        // No usable card refuses the whole request: nothing changes.
                        return .charge(try SubscriptionBilling.recordCharge(of: invoice, context: context, in: tx, nowMilliseconds: now).get())
                    }
                    // Nothing to pay (the rest of the period is too short to cost a minor unit).
                    try SubscriptionBilling.applyUpgrade(change, to: &subscription, context: context, in: tx, nowMilliseconds: now)
                    try SubscriptionRecords.update(subscription, in: tx)
                    return .noCharge(SubscriptionOutcome(
                        subscription: try SubscriptionRecords.subscription(subscription.id, catalog: context.catalog, in: tx), invoice: invoice))
                }
                try SubscriptionRecords.update(subscription, in: tx)
                return .noCharge(SubscriptionOutcome(subscription: try SubscriptionRecords.subscription(subscription.id, catalog: context.catalog, in: tx)))
            }
            switch once {
            case .replayed(let outcome), .completed(let outcome):
                return outcome
            case .settled(.invoicePayment(let payment)):
                guard payment.charge.status == .succeeded, let subscription = payment.subscription else { throw ChargeLifecycle.failure(of: payment.charge) }
                return SubscriptionOutcome(subscription: subscription, invoice: payment.invoice, charge: payment.charge)
            case .settled(.walletCredit):
                throw BillingError.internalError("a subscription payment settled as a wallet credit")
            }
        }
        return try await refreshed(outcome)
    }

    /// What moving to `plan` × `quantity` at `now` would do, and every reason it may not.
    static func decide(_ subscription: Subscription, to plan: Plan, quantity requested: Int64, at now: Int64, context: BillingContext) throws -> SubscriptionChangePreview {
        try requireChangeable(subscription)
        let quantity = requested == 0 ? subscription.quantity : requested
        try requireQuantity(quantity, of: plan, limits: context.limits)
        let current = subscription.plan
        guard plan.kind == current.kind, plan.months == current.months, plan.provider == current.provider,
            plan.unitAmount.currency == current.unitAmount.currency
        else {
            throw BillingError.invalidArgument(
                "plan \(plan.id) differs from \(current.id) in interval, kind, provider or currency; cancel and subscribe to it instead",
                field: "plan_id", reason: .planChangeNotAllowed)
        }
        if plan.retired && plan.id != current.id {
            throw BillingError.failedPrecondition("plan \(plan.id) is retired and takes no new subscribers", field: "plan_id", reason: .planRetired)
        }
        let currency = plan.unitAmount.currency
        let newAmount = try plan.unitAmount.multiplied(by: quantity)
        let currentAmount = try subscription.periodAmount
        let zero = Money.zero(in: currency)
        if plan.id == current.id && quantity == subscription.quantity {
            return .init(timing: .withdrawPending, lines: [], total: zero, effectiveAtMilliseconds: now, nextRenewalAmount: currentAmount)
        }
        guard newAmount.amountMinor > currentAmount.amountMinor || subscription.status == .trialing else {
            return .init(timing: .atPeriodEnd, lines: [], total: zero, effectiveAtMilliseconds: subscription.periodEndMilliseconds, nextRenewalAmount: newAmount)
        }
        if subscription.status == .trialing {
            return .init(timing: .immediate, lines: [], total: zero, effectiveAtMilliseconds: now, nextRenewalAmount: newAmount)
        }
        let lines = try SubscriptionBilling.prorationLines(for: subscription, to: plan, quantity: quantity, at: now)
        let total = try lines.credit.amount.adding(lines.charge.amount)
        try context.limits.require(total, field: "quantity", name: "the invoice total", allowsZero: true)
        return .init(timing: .immediate, lines: [lines.credit, lines.charge], total: total, effectiveAtMilliseconds: now, nextRenewalAmount: newAmount)
    }

    private static func requireChangeable(_ subscription: Subscription) throws {
        guard !subscription.status.hasEnded else {
            throw BillingError.failedPrecondition(
                "subscription \(subscription.id) is \(subscription.status.rawValue) and cannot change; subscribe again instead",
                field: "subscription_id", reason: .subscriptionEnded)
        }
        guard subscription.status == .active || subscription.status == .trialing else {
            throw BillingError.failedPrecondition(
                "subscription \(subscription.id) is \(subscription.status.rawValue); pay its open invoice (or add a card) before changing it",
                field: "subscription_id", reason: .subscriptionNotActive)
        }
    }

    /// Within the plan's bounds, and a period at that quantity is one amount under the limit (every
    /// renewal charges it).
    private static func requireQuantity(_ quantity: Int64, of plan: Plan, limits: MoneyLimits) throws {
        guard (plan.minQuantity...plan.maxQuantity).contains(quantity) else {
            throw BillingError.invalidArgument(
                "quantity must be between \(plan.minQuantity) and \(plan.maxQuantity) for plan \(plan.id)", field: "quantity", reason: .quantityOutOfRange)
        }
        try limits.require(try plan.unitAmount.multiplied(by: quantity), field: "quantity", name: "a period of the plan at this quantity")
    }

    private static func requireCurrency(of plan: Plan, matches account: Account) throws {
        guard plan.unitAmount.currency == account.currency else {
            throw BillingError.invalidArgument(
                "plan \(plan.id) is priced in \(plan.unitAmount.currency.code) and the account bills in \(account.currency.code); choose a \(account.currency.code) plan",
                field: "plan_id", reason: .currencyMismatch)
        }
    }

    // MARK: Canceling

    /// At period end (undone by `resume` until then), or now, with the unused part of what was paid for
    /// the period credited to the wallet if asked (never to a card).
    public func cancel(accountID: String, subscriptionID: String, atPeriodEnd: Bool, creditUnusedTime: Bool, idempotencyKey: String) async throws -> SubscriptionOutcome {
        try Identifier.validate(accountID, prefix: "acct", field: "account_id")
        try Identifier.validate(subscriptionID, prefix: "sub", field: "subscription_id")
        guard !(atPeriodEnd && creditUnusedTime) else {
            throw BillingError.invalidArgument("credit_unused_time applies to canceling now; at the period end nothing is unused", field: "credit_unused_time")
        }
        let key = try IdempotencyKey(idempotencyKey, scope: accountID, method: "CancelSubscription", parameters: [subscriptionID, "\(atPeriodEnd)", "\(creditUnusedTime)"])
        let context = context
        let change: @Sendable (WriteTransaction) throws -> (SubscriptionOutcome, WalletTransaction?, Bool) = { tx in
            var credited: WalletTransaction?
            var restored = false
            let (outcome, _) = try IdempotencyRecords.onceNotingReplay(key, in: tx, nowMilliseconds: context.nowMilliseconds) { tx in
                var subscription = try SubscriptionRecords.subscription(subscriptionID, accountID: accountID, catalog: context.catalog, in: tx)
                guard !subscription.status.hasEnded else {
                    throw BillingError.failedPrecondition(
                        "subscription \(subscription.id) is already \(subscription.status.rawValue)", field: "subscription_id", reason: .subscriptionEnded)
                }
                let now = try SubscriptionClock.now(of: accountID, in: tx, wall: context.nowMilliseconds)
                if atPeriodEnd {
                    subscription.cancelAtPeriodEnd = true
                    subscription.canceledAtMilliseconds = now
                } else {
                    let paid = try subscription.latestInvoiceID.map { try InvoiceRecords.invoice($0, accountID: accountID, in: tx).status == .paid } ?? false
                    let unused = creditUnusedTime && paid && subscription.status != .trialing ? try SubscriptionBilling.unusedAmount(of: subscription, at: now) : 0
                    if unused > 0 {
                        credited = try WalletLedger.credit(
                            Money(amountMinor: unused, currency: subscription.plan.unitAmount.currency), accountID: accountID,
                            category: "subscription-credit",
                            description: "Unused time on \(subscription.plan.name) × \(subscription.quantity), canceled \(SubscriptionBilling.day(now))",
                            in: tx, nowMilliseconds: context.nowMilliseconds)
                        restored = try AccountRecords.restoreServices(accountID, in: tx)
                    }
                    // An incomplete subscription was never paid for: its first invoice goes with it. (A
                    // past-due one's invoice stays open: the time it ran is owed.)
                    if subscription.status == .incomplete, let invoiceID = subscription.latestInvoiceID {
                        try InvoiceRecords.requireNoPaymentInFlight(invoiceID, in: tx)
                        try InvoiceRecords.close(invoiceID, as: .void, in: tx)
                    }
                    subscription.canceledAtMilliseconds = now
                    try SubscriptionBilling.end(&subscription, status: .canceled, in: tx, nowMilliseconds: now)
                }
                try SubscriptionRecords.update(subscription, in: tx)
                return SubscriptionOutcome(
                    subscription: try SubscriptionRecords.subscription(subscription.id, catalog: context.catalog, in: tx), credit: credited)
            }
            return (outcome, credited, restored)
        }
        // A credit goes through the wallet's actor, so that its balance in memory follows.
        let outcome = creditUnusedTime
            ? try await wallets.withWallet(accountID) { wallet in try await wallet.commitCredit(change) }
            : try await context.store.write { tx in try change(tx).0 }
        return try await refreshed(outcome)
    }

    public func resume(accountID: String, subscriptionID: String, idempotencyKey: String) async throws -> SubscriptionOutcome {
        try Identifier.validate(accountID, prefix: "acct", field: "account_id")
        try Identifier.validate(subscriptionID, prefix: "sub", field: "subscription_id")
        let key = try IdempotencyKey(idempotencyKey, scope: accountID, method: "ResumeSubscription", parameters: [subscriptionID])
        let context = context
        return try await IdempotencyRecords.once(key, in: context.store, nowMilliseconds: context.nowMilliseconds) { tx in
            var subscription = try SubscriptionRecords.subscription(subscriptionID, accountID: accountID, catalog: context.catalog, in: tx)
            guard !subscription.status.hasEnded else {
                throw BillingError.failedPrecondition(
                    "subscription \(subscription.id) is \(subscription.status.rawValue); subscribe again instead", field: "subscription_id", reason: .subscriptionEnded)
            }
            guard subscription.cancelAtPeriodEnd else {
                throw BillingError.failedPrecondition(
                    "subscription \(subscription.id) is not set to cancel; there is nothing to resume", field: "subscription_id", reason: .subscriptionNotCanceling)
            }
            subscription.cancelAtPeriodEnd = false
            subscription.canceledAtMilliseconds = nil
            try SubscriptionRecords.update(subscription, in: tx)
            return SubscriptionOutcome(subscription: try SubscriptionRecords.subscription(subscription.id, catalog: context.catalog, in: tx))
        }
    }

    // MARK: Shared steps

    /// Delivers the fulfilment actions the call wrote, then answers with the subscription as it is now
    /// (the invoice and charge stay those of the first answer).
    private func refreshed(_ outcome: SubscriptionOutcome) async throws -> SubscriptionOutcome {
        var outcome = outcome
        if outcome.subscription.plan.provider != nil {
            await scheduler.deliverFulfilment(for: [outcome.subscription.id])
            outcome.subscription = try await subscription(accountID: outcome.subscription.accountID, subscriptionID: outcome.subscription.id)
        }
        return outcome
    }
}
