import BillingStore
import Foundation

/// How subscriptions are billed when payments fail, and their bounds.
public struct SubscriptionPolicy: Sendable {
    public enum FinalStatus: String, Sendable {
        /// The subscription stays, unpaid, with fulfilment suspended; the next renewal is still attempted.
        case unpaid
        case canceled
    }

    /// When the payment of a period invoice is retried, counted from its first failure.
    public var retryDelays: [Duration] = [.seconds(86_400), .seconds(3 * 86_400), .seconds(5 * 86_400), .seconds(7 * 86_400)]
    /// What a subscription becomes when the retries run out; its invoice becomes uncollectible.
    public var finalStatus: FinalStatus = .unpaid
    /// How long an incomplete subscription (first payment failed) waits for its invoice to be paid.
    public var incompleteExpiry: Duration = .seconds(23 * 3600)
    /// Decline codes that no retry can fix: retries wait for a new primary card instead.
    public var hardDeclineCodes: Set<String> = ["stolen_card", "lost_card", "pickup_card", "restricted_card", "account_closed", "fraudulent"]
    /// Subscriptions not ended (any status but canceled and incomplete_expired) per account.
    public var maxLiveSubscriptionsPerAccount = 100

    public init() {}
}

/// The billing steps of subscriptions, shared by the calls, the scheduled runner and settlement: the
/// invoices a subscription makes, and what a settled payment of one means for the subscription.
/// Everything here runs inside the caller's write transaction.
enum SubscriptionBilling {
    // MARK: Invoices

    /// "Team × 3, 2027-01-01 – 2027-02-01": the line of a full period.
    static func periodLine(plan: Plan, quantity: Int64, start: Int64, end: Int64) throws -> Invoice.Line {
        Invoice.Line(
            description: "\(plan.name), \(day(start)) – \(day(end))", quantity: quantity, unitAmount: plan.unitAmount,
            amount: try plan.unitAmount.multiplied(by: quantity))
    }

    /// Issues an open, numbered invoice for a subscription (paid at once when it totals zero), with the
    /// billing information copied in. A second invoice for the same period of the same subscription is
    /// refused by the store's unique index, however it is attempted.
    static func issueInvoice(
        for subscription: Subscription, lines: [Invoice.Line], reason: Invoice.BillingReason, periodStart: Int64, periodEnd: Int64,
        context: BillingContext, in tx: WriteTransaction, nowMilliseconds now: Int64
    ) throws -> Invoice {
        let currency = subscription.plan.unitAmount.currency
        let total = try Money.sum(lines.map(\.amount), in: currency)
        guard total.amountMinor >= 0 else { throw BillingError.internalError("a subscription invoice totals below zero") }
        try context.limits.require(total, field: "quantity", name: "the invoice total", allowsZero: true)
        let id = Identifier.make("inv")
        let billedTo = try AccountRecords.billingInformation(subscription.accountID, in: tx).information
        let paidAtOnce = total.isZero
        do {
            try tx.execute("""
                INSERT INTO invoices(id, account_id, number, status, currency, subtotal_minor, tax_minor, total_minor, billed_to, created_at_ms,
                                     finalized_at_ms, due_at_ms, paid_at_ms, subscription_id, period_start_ms, period_end_ms, billing_reason)
                VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, ?6, ?7, ?8, ?8, ?8, ?9, ?10, ?11, ?12, ?13)
                """, .text(id), .text(subscription.accountID), .text(try InvoiceRecords.nextNumber(prefix: context.invoiceNumberPrefix, in: tx)),
                .text(paidAtOnce ? "paid" : "open"), .text(currency.code), .integer(total.amountMinor),
                .text(String(decoding: try JSONEncoder().encode(billedTo), as: UTF8.self)), .integer(now), paidAtOnce ? .integer(now) : .null,
                .text(subscription.id), .integer(periodStart), .integer(periodEnd), .text(reason.rawValue))
        } catch let error as StoreError where error.isUniqueViolation {
            throw AlreadyInvoiced()
        }
        for (position, line) in lines.enumerated() {
            try tx.execute(
                "INSERT INTO invoice_lines(invoice_id, position, description, quantity, unit_amount_minor, amount_minor) VALUES (?, ?, ?, ?, ?, ?)",
                .text(id), .int(position), .text(line.description), .integer(line.quantity), .integer(line.unitAmount.amountMinor),
                .integer(line.amount.amountMinor))
        }
        return try InvoiceRecords.invoice(id, accountID: subscription.accountID, in: tx)
    }

    /// The period was invoiced already (the unique index said so): nothing to do twice.
    struct AlreadyInvoiced: Error {}

    /// Records a pending charge of the invoice's amount due to the primary card; the refusal when
    /// nothing can be charged (no card, an expired one, an incomplete billing address).
    static func recordCharge(of invoice: Invoice, context: BillingContext, in tx: WriteTransaction, nowMilliseconds now: Int64) throws -> Result<PendingCharge, BillingError> {
        do {
            let account = try AccountRecords.account(invoice.accountID, in: tx)
            try ChargeLifecycle.requireCompleteBillingInformation(invoice.accountID, in: tx)
            let (card, token) = try ChargeLifecycle.primaryCard(of: account, in: tx, now: Date(unixMilliseconds: now))
            let description = "Invoice \(invoice.number ?? invoice.id)"
            let chargeID = try ChargeLifecycle.recordPending(
                accountID: invoice.accountID, amount: invoice.amountDue, card: card, description: description, purpose: .invoicePayment,
                invoiceID: invoice.id, recordedBy: context.instanceName, in: tx, nowMilliseconds: now, wallMilliseconds: context.nowMilliseconds)
            return .success(PendingCharge(chargeID: chargeID, token: token, amount: invoice.amountDue, description: description))
        } catch let refusal as BillingError where refusal.kind == .failedPrecondition {
            return .failure(refusal)
        }
    }

    // MARK: Settled payments

    /// What a settled payment of a subscription's invoice means for the subscription: a paid period
    /// invoice makes it active (and provisions or resumes fulfilment), a failed one starts or advances
    /// dunning; a paid upgrade invoice applies the upgrade, a failed one voids the invoice and changes
    /// nothing. Called by `Settlement` for live payments and reconciled ones alike, once per charge.
    static func invoicePaymentSettled(_ invoice: Invoice, by charge: Charge, settledNow: Bool, context: BillingContext, in tx: WriteTransaction) throws -> Subscription {
        guard let subscriptionID = invoice.subscriptionID else { throw BillingError.internalError("invoice \(invoice.id) has no subscription") }
        var subscription = try SubscriptionRecords.subscription(subscriptionID, catalog: context.catalog, in: tx)
        guard settledNow, charge.status != .pending else { return subscription }
        let now = try SubscriptionClock.now(of: subscription.accountID, in: tx, wall: context.nowMilliseconds)
        switch invoice.billingReason {
        case .subscriptionUpdate:
            guard let change = try SubscriptionRecords.takeChange(ofInvoice: invoice.id, in: tx) else { return subscription }
            if charge.status == .succeeded {
                try applyUpgrade(change, to: &subscription, context: context, in: tx, nowMilliseconds: now)
            } else {
                try InvoiceRecords.setStatus(.void, of: invoice.id, in: tx)
            }
        case .subscriptionCreate, .subscriptionCycle:
            guard subscription.latestInvoiceID == invoice.id, !subscription.status.hasEnded else { return subscription }
            if charge.status == .succeeded {
                try periodPaid(&subscription, in: tx, nowMilliseconds: now)
            } else {
                let dunning = try SubscriptionRecords.dunning(of: subscription.id, in: tx)
                try periodPaymentFailed(
                    &subscription, failureCode: charge.failureCode, scheduledAttempt: dunning.chargeID == charge.id, context: context, in: tx,
                    nowMilliseconds: now)
            }
        case .manual, .walletFunds:
            return subscription
        }
        try SubscriptionRecords.update(subscription, in: tx)
        return try SubscriptionRecords.subscription(subscriptionID, catalog: context.catalog, in: tx)
    }

    /// The latest period invoice is paid: active again, dunning over, fulfilment provisioned or resumed.
    static func periodPaid(_ subscription: inout Subscription, in tx: WriteTransaction, nowMilliseconds now: Int64) throws {
        if subscription.status == .incomplete {
            try SubscriptionRecords.unschedule(.expireIncomplete, of: subscription.id, in: tx)
            subscription.incompleteExpiresAtMilliseconds = nil
        }
        subscription.status = .active
        subscription.paymentAttempts = 0
        subscription.awaitingNewCard = false
        try SubscriptionRecords.unschedule(.retryPayment, of: subscription.id, in: tx)
        try SubscriptionRecords.setDunning(.init(startedAtMilliseconds: nil, chargeID: nil), of: subscription.id, in: tx)
        switch subscription.fulfilmentState {
        case .pending: try Fulfilment.enqueue(.provision, for: &subscription, in: tx, nowMilliseconds: now)
        case .suspended: try Fulfilment.enqueue(.resume, for: &subscription, in: tx, nowMilliseconds: now)
        case .notApplicable, .provisioned, .terminated: break
        }
    }

    /// An attempt to pay the latest period invoice failed (or could not be made: `failureCode` then
    /// names the refusal). Only a scheduled attempt advances the retry schedule: a manual payment that
    /// fails uses none up. A hard decline stops the retries until a new primary card arrives.
    static func periodPaymentFailed(
        _ subscription: inout Subscription, failureCode: String, scheduledAttempt: Bool, context: BillingContext, in tx: WriteTransaction,
        nowMilliseconds now: Int64
    ) throws {
        let policy = context.subscriptionPolicy
        switch subscription.status {
        case .incomplete, .incompleteExpired, .canceled:
            return  // an incomplete subscription waits for its payment or its expiry
        case .active, .trialing:
            subscription.status = .pastDue
        case .pastDue, .unpaid:
            break
        }
        guard scheduledAttempt else {
            if policy.hardDeclineCodes.contains(failureCode) { try awaitNewCard(&subscription, in: tx) }
            return
        }
        var dunning = try SubscriptionRecords.dunning(of: subscription.id, in: tx)
        if dunning.startedAtMilliseconds == nil {
            dunning.startedAtMilliseconds = now
            try SubscriptionRecords.setDunning(dunning, of: subscription.id, in: tx)
        }
        if policy.hardDeclineCodes.contains(failureCode) {
            try awaitNewCard(&subscription, in: tx)
        } else if subscription.paymentAttempts < policy.retryDelays.count {
            // On time, counted from the first failure; an attempt that is late already (the daemon was
            // down) waits an hour rather than firing every retry at once.
            let onTime = (dunning.startedAtMilliseconds ?? now) + policy.retryDelays[subscription.paymentAttempts].milliseconds
            let retryAt = onTime > now ? onTime : now + 3_600_000
            try SubscriptionRecords.schedule(.retryPayment, of: subscription, at: retryAt, in: tx)
        } else {
            try retriesExhausted(&subscription, context: context, in: tx, nowMilliseconds: now)
        }
    }

    private static func awaitNewCard(_ subscription: inout Subscription, in tx: WriteTransaction) throws {
        subscription.awaitingNewCard = true
        try SubscriptionRecords.unschedule(.retryPayment, of: subscription.id, in: tx)
    }

    /// Out of retries: the invoice is written off, and the subscription becomes unpaid (fulfilment
    /// suspended, renewals continue) or canceled, as configured.
    private static func retriesExhausted(_ subscription: inout Subscription, context: BillingContext, in tx: WriteTransaction, nowMilliseconds now: Int64) throws {
        try SubscriptionRecords.unschedule(.retryPayment, of: subscription.id, in: tx)
        if let invoiceID = subscription.latestInvoiceID {
            try InvoiceRecords.close(invoiceID, as: .uncollectible, in: tx)
        }
        switch context.subscriptionPolicy.finalStatus {
        case .unpaid:
            subscription.status = .unpaid
            if subscription.fulfilmentState == .provisioned { try Fulfilment.enqueue(.suspend, for: &subscription, in: tx, nowMilliseconds: now) }
        case .canceled:
            try end(&subscription, status: .canceled, in: tx, nowMilliseconds: now)
        }
    }

    /// Ends a subscription now: nothing more is scheduled, the provider terminates it.
    static func end(_ subscription: inout Subscription, status: Subscription.Status, in tx: WriteTransaction, nowMilliseconds now: Int64) throws {
        subscription.status = status
        subscription.endedAtMilliseconds = now
        if status == .canceled { subscription.canceledAtMilliseconds = subscription.canceledAtMilliseconds ?? now }
        subscription.cancelAtPeriodEnd = false
        subscription.pendingChange = nil
        try SubscriptionRecords.unscheduleAll(of: subscription.id, in: tx)
        if subscription.fulfilmentState == .provisioned || subscription.fulfilmentState == .suspended {
            try Fulfilment.enqueue(.terminate, for: &subscription, in: tx, nowMilliseconds: now)
        } else if subscription.fulfilmentState == .pending {
            subscription.fulfilmentState = .terminated
        }
    }

    /// A paid upgrade takes effect: the new plan and quantity from the moment it was priced, with what
    /// was charged for them as the base of the next credit.
    static func applyUpgrade(_ change: SubscriptionRecords.Change, to subscription: inout Subscription, context: BillingContext, in tx: WriteTransaction, nowMilliseconds now: Int64) throws {
        subscription.plan = try context.catalog.plan(change.planID)
        subscription.quantity = change.quantity
        if change.periodStartMilliseconds == subscription.periodStartMilliseconds {
            subscription.segmentStartMilliseconds = change.effectiveAtMilliseconds
            subscription.segmentAmountMinor = change.chargeLineMinor
        }
        subscription.pendingChange = nil
        try PlansInUse.record(subscription.plan, in: tx, nowMilliseconds: now)
        if subscription.fulfilmentState == .provisioned { try Fulfilment.enqueue(.change, for: &subscription, in: tx, nowMilliseconds: now) }
    }

    // MARK: Proration

    /// The invoice lines of moving `subscription` to `plan` × `quantity` at `now`: a credit for the
    /// unused part of what was billed for the current plan in this period, and a charge for the new
    /// plan over the rest of the period. Each rounded half up to the minor unit, in integers.
    static func prorationLines(for subscription: Subscription, to plan: Plan, quantity: Int64, at now: Int64) throws -> (credit: Invoice.Line, charge: Invoice.Line) {
        let end = BillingCycle.seconds(subscription.periodEndMilliseconds)
        let remaining = max(0, end - BillingCycle.seconds(now))
        let period = max(1, end - BillingCycle.seconds(subscription.periodStartMilliseconds))
        let currency = plan.unitAmount.currency
        let credit = try unusedAmount(of: subscription, at: now)
        let fullNew = try plan.unitAmount.multiplied(by: quantity).amountMinor
        let charge = try BillingCycle.prorate(fullNew, numerator: min(remaining, period), denominator: period)
        let from = day(now)
        return (
            credit: Invoice.Line(
                description: "Unused time on \(subscription.plan.name) × \(subscription.quantity) from \(from)", quantity: 1,
                unitAmount: Money(amountMinor: -credit, currency: currency), amount: Money(amountMinor: -credit, currency: currency)),
            charge: Invoice.Line(
                description: "Remaining time on \(plan.name) × \(quantity) from \(from)", quantity: 1,
                unitAmount: Money(amountMinor: charge, currency: currency), amount: Money(amountMinor: charge, currency: currency)))
    }

    /// The unused part of what was billed for the current plan in this period: the credit of a change,
    /// and of a cancellation that credits it.
    static func unusedAmount(of subscription: Subscription, at now: Int64) throws -> Int64 {
        let end = BillingCycle.seconds(subscription.periodEndMilliseconds)
        let remaining = max(0, end - BillingCycle.seconds(now))
        let segment = max(1, end - BillingCycle.seconds(subscription.segmentStartMilliseconds))
        return try BillingCycle.prorate(subscription.segmentAmountMinor, numerator: min(remaining, segment), denominator: segment)
    }

    /// "2027-01-16" (UTC).
    static func day(_ milliseconds: Int64) -> String {
        let (year, month, day) = BillingCycle.civil(fromDays: (milliseconds >= 0 ? milliseconds : milliseconds - 86_399_999) / 86_400_000)
        func two(_ value: Int64) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(year)-\(two(month))-\(two(day))"
    }
}
