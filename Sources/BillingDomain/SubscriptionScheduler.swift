import BillingGateway
import BillingStore
import Foundation

/// A test clock: a time that stands still until it is advanced.
public struct TestClock: Sendable, Hashable, Codable {
    public var id: String
    public var name: String
    public var frozenTimeMilliseconds: Int64
    public var createdAtMilliseconds: Int64
}

/// Runs what the subscription schedule says is due — renewals, payment retries, trial ends and
/// expiries — on the wall clock (`runDue`, called by billingd every second) and on test clocks
/// (`advance`), and delivers fulfilment actions.
///
/// Each action is claimed in the transaction that acts on it (the schedule row is replaced or deleted
/// there), and a period's invoice is unique in the store, so two runners, a restart in the middle or a
/// runner that was down for three periods never bill a period twice or skip one: a missed period's
/// renewal schedules the next one at its own end, which is due at once, and so on, in order.
public final class SubscriptionScheduler: Sendable {
    /// Due actions read per page; a page runs `concurrency` at a time.
    public static let pageSize = 500
    /// The most actions one AdvanceTestClock runs; advance in smaller steps beyond it.
    public static let maxActionsPerAdvance = 100_000
    /// The furthest one AdvanceTestClock moves a clock: five years.
    public static let maxAdvanceMilliseconds: Int64 = 5 * 366 * 86_400_000

    let context: BillingContext
    let provider: (any FulfilmentProvider)?
    let concurrency: Int

    init(context: BillingContext, provider: (any FulfilmentProvider)?, concurrency: Int = 32) {
        self.context = context
        self.provider = provider
        self.concurrency = max(1, concurrency)
    }

    private var catalog: PlanCatalog { context.catalog }

    // MARK: Running due actions

    /// Runs every wall-clock action due now, page by page, until none is left (an action may make the
    /// next one due at once: the renewals of a daemon that was down for several periods); returns how
    /// many ran. At most `maxActionsPerAdvance` per call; the rest wait for the next call.
    public func runDue() async throws -> Int {
        var total = 0
        var failures: [any Error] = []
        while total < Self.maxActionsPerAdvance {
            let now = context.nowMilliseconds
            let due = try await context.store.read { tx in
                try SubscriptionRecords.due(atOrBefore: now, testClockID: nil, limit: Self.pageSize, in: tx)
            }
            guard !due.isEmpty else { break }
            let (ran, failed) = await run(due)
            total += ran
            failures += failed
            if ran == 0 { break }  // another runner took them, or only failing ones are left
        }
        if provider != nil { await deliverFulfilment(for: nil) }
        if let first = failures.first { throw ActionsFailed(count: failures.count, ran: total, first: first) }
        return total
    }

    /// Some due actions failed (their transactions rolled back, so they stay due and run again next
    /// time); the others ran.
    public struct ActionsFailed: Error, CustomStringConvertible {
        public let count: Int
        public let ran: Int
        public let first: any Error
        public var description: String { "\(count) scheduled subscription action(s) failed and stay due (\(ran) ran); the first: \(first)" }
    }

    /// Runs `due` actions, at most `concurrency` at once, never two of one subscription at once (a
    /// page holds at most one row per subscription and action, and actions of one subscription go in
    /// the order read). One subscription's failure stops only its own later actions of the page: a
    /// poisoned row never holds up the renewals of others.
    private func run(_ due: [SubscriptionRecords.Due]) async -> (ran: Int, failures: [any Error]) {
        var bySubscription: [String: [SubscriptionRecords.Due]] = [:]
        var order: [String] = []
        for item in due {
            if bySubscription[item.subscriptionID] == nil { order.append(item.subscriptionID) }
            bySubscription[item.subscriptionID, default: []].append(item)
        }
        var ran = 0
        var failures: [any Error] = []
        await withTaskGroup(of: (Int, (any Error)?).self) { group in
            var next = order.makeIterator()
            func addNext() -> Bool {
                guard let subscriptionID = next.next(), let items = bySubscription[subscriptionID] else { return false }
                group.addTask {
                    var count = 0
                    do {
                        for item in items where try await self.run(item) { count += 1 }
                        return (count, nil)
                    } catch {
                        return (count, error)
                    }
                }
                return true
            }
            for _ in 0..<concurrency where !addNext() { break }
            while let (count, failure) = await group.next() {
                ran += count
                if let failure { failures.append(failure) }
                _ = addNext()
            }
        }
        return (ran, failures)
    }

    /// What an action's first transaction decided.
    enum Step: Sendable {
        case none
        case done
        case charge(PendingCharge)
    }

    /// Runs one due action; false if another runner had claimed it.
    func run(_ due: SubscriptionRecords.Due) async throws -> Bool {
        let context = context
        let step: Step = try await context.store.write { tx in
            guard try SubscriptionRecords.claim(due, in: tx) else { return .none }
            var subscription = try SubscriptionRecords.subscription(due.subscriptionID, catalog: context.catalog, in: tx)
            let now = try SubscriptionClock.now(of: subscription.accountID, in: tx, wall: context.nowMilliseconds)
            let step: Step
            switch due.action {
            case .renew: step = try Self.renew(&subscription, context: context, in: tx, now: now)
            case .endTrial: step = try Self.endTrial(&subscription, context: context, in: tx, now: now)
            case .retryPayment: step = try Self.retryPayment(&subscription, scheduled: true, context: context, in: tx, now: now)
            case .expireIncomplete: step = try Self.expireIncomplete(&subscription, in: tx, now: now)
            }
            try SubscriptionRecords.update(subscription, in: tx)
            return step
        }
        switch step {
        case .none: return false
        case .done: return true
        case .charge(let pending):
            _ = try await Settlement.send(pending, context: context)
            return true
        }
    }

    /// The period ended: end the subscription if it was set to, apply a waiting downgrade, then invoice
    /// and charge the next period, scheduling the renewal after it in the same transaction.
    private static func renew(_ subscription: inout Subscription, context: BillingContext, in tx: WriteTransaction, now: Int64) throws -> Step {
        guard !subscription.status.hasEnded, subscription.status != .incomplete else { return .done }
        if try SubscriptionRecords.hasChangeAwaitingPayment(subscription.id, in: tx) {
            // An upgrade's payment is in flight: renew once it settles.
            try SubscriptionRecords.schedule(.renew, of: subscription, at: now + 60_000, in: tx)
            return .done
        }
        if subscription.cancelAtPeriodEnd {
            try SubscriptionBilling.end(&subscription, status: .canceled, in: tx, nowMilliseconds: subscription.periodEndMilliseconds)
            return .done
        }
        if let change = subscription.pendingChange {
            subscription.plan = try context.catalog.plan(change.planID)
            subscription.quantity = change.quantity
            subscription.pendingChange = nil
            if subscription.fulfilmentState == .provisioned { try Fulfilment.enqueue(.change, for: &subscription, in: tx, nowMilliseconds: now) }
        }
        let index = subscription.periodIndex + 1
        return try billPeriod(&subscription, index: index, reason: .subscriptionCycle, context: context, in: tx, now: now)
    }

    /// The trial ended: cancel if set to, otherwise invoice and charge the first period. Without a
    /// usable card the subscription goes past due and into dunning, never silently active.
    private static func endTrial(_ subscription: inout Subscription, context: BillingContext, in tx: WriteTransaction, now: Int64) throws -> Step {
        guard subscription.status == .trialing else { return .done }
        if subscription.cancelAtPeriodEnd {
            try SubscriptionBilling.end(&subscription, status: .canceled, in: tx, nowMilliseconds: subscription.periodEndMilliseconds)
            return .done
        }
        return try billPeriod(&subscription, index: 0, reason: .subscriptionCreate, context: context, in: tx, now: now)
    }

    /// Invoices period `index` and records its charge (the period's first attempt); the next renewal is
    /// scheduled here, in the transaction that bills this period.
    private static func billPeriod(
        _ subscription: inout Subscription, index: Int, reason: Invoice.BillingReason, context: BillingContext, in tx: WriteTransaction, now: Int64
    ) throws -> Step {
        let months = subscription.plan.months
        let start = BillingCycle.boundary(anchor: subscription.anchorMilliseconds, months: months, index: index)
        let end = BillingCycle.boundary(anchor: subscription.anchorMilliseconds, months: months, index: index + 1)
        let line = try SubscriptionBilling.periodLine(plan: subscription.plan, quantity: subscription.quantity, start: start, end: end)
        let invoice = try SubscriptionBilling.issueInvoice(
            for: subscription, lines: [line], reason: reason, periodStart: start, periodEnd: end, context: context, in: tx, nowMilliseconds: now)
        subscription.periodIndex = index
        subscription.periodStartMilliseconds = start
        subscription.periodEndMilliseconds = end
        subscription.segmentStartMilliseconds = start
        subscription.segmentAmountMinor = line.amount.amountMinor
        subscription.latestInvoiceID = invoice.id
        subscription.paymentAttempts = 0
        subscription.awaitingNewCard = false
        try SubscriptionRecords.unschedule(.retryPayment, of: subscription.id, in: tx)
        try SubscriptionRecords.schedule(.renew, of: subscription, at: end, in: tx)
        try SubscriptionRecords.setDunning(.init(startedAtMilliseconds: nil, chargeID: nil), of: subscription.id, in: tx)
        return try attemptPayment(of: invoice, for: &subscription, scheduled: true, context: context, in: tx, now: now)
    }

    /// A scheduled retry of the latest period invoice (or, `scheduled` false, one a new primary card
    /// asked for, which uses no attempt up).
    static func retryPayment(_ subscription: inout Subscription, scheduled: Bool, context: BillingContext, in tx: WriteTransaction, now: Int64) throws -> Step {
        guard [.pastDue, .unpaid, .incomplete].contains(subscription.status), let invoiceID = subscription.latestInvoiceID else { return .done }
        let invoice = try InvoiceRecords.invoice(invoiceID, accountID: subscription.accountID, in: tx)
        guard invoice.status == .open, invoice.amountDue.isPositive else { return .done }
        if (try? InvoiceRecords.requireNoPaymentInFlight(invoice.id, in: tx)) == nil {
            if scheduled { try SubscriptionRecords.schedule(.retryPayment, of: subscription, at: now + 60_000, in: tx) }
            return .done
        }
        if scheduled { subscription.paymentAttempts += 1 } else { subscription.awaitingNewCard = false }
        return try attemptPayment(of: invoice, for: &subscription, scheduled: scheduled || subscription.status != .incomplete, context: context, in: tx, now: now)
    }

    /// Records the charge of an attempt; an attempt that cannot be made (no usable card) fails at once.
    private static func attemptPayment(
        of invoice: Invoice, for subscription: inout Subscription, scheduled: Bool, context: BillingContext, in tx: WriteTransaction, now: Int64
    ) throws -> Step {
        switch try SubscriptionBilling.recordCharge(of: invoice, context: context, in: tx, nowMilliseconds: now) {
        case .success(let pending):
            var dunning = try SubscriptionRecords.dunning(of: subscription.id, in: tx)
            if scheduled { dunning.chargeID = pending.chargeID }
            try SubscriptionRecords.setDunning(dunning, of: subscription.id, in: tx)
            return .charge(pending)
        case .failure(let refusal):
            try SubscriptionBilling.periodPaymentFailed(
                &subscription, failureCode: refusal.reason.rawValue, scheduledAttempt: scheduled, context: context, in: tx, nowMilliseconds: now)
            return .done
        }
    }

    /// 23 hours without a paid first invoice: the subscription expires and its invoice is voided.
    private static func expireIncomplete(_ subscription: inout Subscription, in tx: WriteTransaction, now: Int64) throws -> Step {
        guard subscription.status == .incomplete else { return .done }
        if let invoiceID = subscription.latestInvoiceID {
            if (try? InvoiceRecords.requireNoPaymentInFlight(invoiceID, in: tx)) == nil {
                try SubscriptionRecords.schedule(.expireIncomplete, of: subscription, at: now + 60_000, in: tx)
                return .done
            }
            try InvoiceRecords.close(invoiceID, as: .void, in: tx)
        }
        try SubscriptionBilling.end(&subscription, status: .incompleteExpired, in: tx, nowMilliseconds: now)
        return .done
    }

    // MARK: A new primary card

    /// A new primary card retries at once the open invoice of every subscription waiting on a payment
    /// (past due, unpaid, incomplete), without using up a scheduled attempt.
    func primaryCardChanged(accountID: String) async {
        let context = context
        guard let waiting = try? await context.store.read({ tx in
            try tx.query(
                "SELECT id FROM subscriptions WHERE account_id = ? AND status IN ('past_due', 'unpaid', 'incomplete') ORDER BY seq LIMIT 100",
                .text(accountID)
            ).map { try $0.string("id") }
        }) else { return }
        for subscriptionID in waiting {
            let step: Step? = try? await context.store.write { tx in
                var subscription = try SubscriptionRecords.subscription(subscriptionID, catalog: context.catalog, in: tx)
                let now = try SubscriptionClock.now(of: accountID, in: tx, wall: context.nowMilliseconds)
                let step = try Self.retryPayment(&subscription, scheduled: false, context: context, in: tx, now: now)
                try SubscriptionRecords.update(subscription, in: tx)
                return step
            }
            if case .charge(let pending)? = step { _ = try? await Settlement.send(pending, context: context) }
        }
        if provider != nil { await deliverFulfilment(for: Set(waiting)) }
    }

    // MARK: Fulfilment

    /// Delivers waiting fulfilment actions (of `subscriptionIDs`, or all); failures wait for a later round.
    func deliverFulfilment(for subscriptionIDs: Set<String>?) async {
        guard let provider else { return }
        _ = try? await Fulfilment.deliver(provider: provider, context: context, subscriptionIDs: subscriptionIDs)
    }

    // MARK: Test clocks

    public func createTestClock(name: String, frozenTimeMilliseconds: Int64, idempotencyKey: String) async throws -> TestClock {
        try requireTestClocks()
        let trimmed = name.trimmingCharacters(in: .whitespacesAndNewlines)
        guard trimmed.count <= 200 else { throw BillingError.invalidArgument("name is longer than 200 characters", field: "name") }
        guard frozenTimeMilliseconds >= 0, frozenTimeMilliseconds <= 253_402_300_799_000 else {
            throw BillingError.invalidArgument("frozen_time_unix_ms must be between 0 (now) and the year 9999", field: "frozen_time_unix_ms")
        }
        let key = try IdempotencyKey(idempotencyKey, scope: "", method: "CreateTestClock", parameters: [trimmed, "\(frozenTimeMilliseconds)"])
        let now = context.nowMilliseconds
        return try await IdempotencyRecords.once(key, in: context.store, nowMilliseconds: now) { tx in
            let clock = TestClock(
                id: Identifier.make("clock"), name: trimmed, frozenTimeMilliseconds: frozenTimeMilliseconds == 0 ? now : frozenTimeMilliseconds,
                createdAtMilliseconds: now)
            try TestClockRecords.insert(clock, in: tx)
            return clock
        }
    }

    public func testClock(id: String) async throws -> TestClock {
        try Identifier.validate(id, prefix: "clock", field: "test_clock_id")
        return try await context.store.read { tx in try TestClockRecords.clock(id, in: tx) }
    }

    /// Moves the clock to `target`, running in time order everything due on the way (each at its due
    /// time), then delivers fulfilment; answers once all of it is done. Returns the clock and how many
    /// actions ran. Safe to repeat: a retry finds nothing left due and moves the clock to the same time.
    public func advance(clockID: String, to target: Int64, idempotencyKey: String) async throws -> (TestClock, Int) {
        try requireTestClocks()
        try Identifier.validate(clockID, prefix: "clock", field: "test_clock_id")
        let key = try IdempotencyKey(idempotencyKey, scope: clockID, method: "AdvanceTestClock", parameters: ["\(target)"])
        // A retry of an answered advance gets its first answer, even once the clock has moved past its target.
        let earlier = try await context.store.read { tx -> TestClock? in
            guard case .done(let clock) = try IdempotencyRecords.look(key, in: tx, as: TestClock.self) else { return nil }
            return clock
        }
        if let earlier { return (earlier, 0) }
        let clock = try await testClock(id: clockID)
        guard target >= clock.frozenTimeMilliseconds else {
            throw BillingError.invalidArgument(
                "the clock stands at \(clock.frozenTimeMilliseconds) and can only move forward; frozen_time_unix_ms \(target) is earlier",
                field: "frozen_time_unix_ms", reason: .testClockBackwards)
        }
        guard target - clock.frozenTimeMilliseconds <= Self.maxAdvanceMilliseconds else {
            throw BillingError.invalidArgument("a clock moves at most five years at once; advance in steps", field: "frozen_time_unix_ms")
        }
        // Claimed in the database: another call, on this daemon or another, may be advancing it.
        guard try await context.takeClaim(.testClockAdvance, clockID, for: Self.advanceClaimDuration) else {
            throw BillingError.aborted("test clock \(clockID) is being advanced by another call; retry once it answers", reason: .testClockAdvancing)
        }
        do {
            let result = try await advanceHoldingClaim(clockID, to: target, key: key)
            try? await context.releaseClaim(.testClockAdvance, clockID)
            return result
        } catch {
            try? await context.releaseClaim(.testClockAdvance, clockID)
            throw error
        }
    }

    /// How long an advance holds its clock's claim without renewing it (it renews at every step).
    static let advanceClaimDuration: Duration = .seconds(300)

    private func advanceHoldingClaim(_ clockID: String, to target: Int64, key: IdempotencyKey) async throws -> (TestClock, Int) {
        var ran = 0
        while let next = try await context.store.read({ tx in try SubscriptionRecords.nextDue(onTestClock: clockID, atOrBefore: target, in: tx) }) {
            guard try await context.renewClaim(.testClockAdvance, clockID, for: Self.advanceClaimDuration) else {
                throw BillingError.aborted("test clock \(clockID) was taken over while advancing (its claim expired); retry", reason: .testClockAdvancing)
            }
            try await context.store.write { tx in try TestClockRecords.move(clockID, to: next, in: tx) }
            let due = try await context.store.read { tx in try SubscriptionRecords.due(atOrBefore: next, testClockID: clockID, limit: Self.pageSize, in: tx) }
            let (count, failures) = await run(due)
            if let first = failures.first { throw first }
            ran += count
            guard ran <= Self.maxActionsPerAdvance else {
                throw BillingError.resourceExhausted(
                    "advancing ran \(ran) actions, the most one call runs; the clock stands at \(next): advance again in smaller steps")
            }
        }
        let subscriptions = try await context.store.read { tx in
            try tx.query("SELECT s.id FROM subscriptions s JOIN accounts a ON a.id = s.account_id WHERE a.test_clock_id = ?", .text(clockID))
                .map { try $0.string("id") }
        }
        await deliverFulfilment(for: Set(subscriptions))
        let moved = try await IdempotencyRecords.once(key, in: context.store, nowMilliseconds: context.nowMilliseconds) { tx in
            try TestClockRecords.move(clockID, to: target, in: tx)
            return try TestClockRecords.clock(clockID, in: tx)
        }
        return (moved, ran)
    }

    private func requireTestClocks() throws {
        guard context.allowsTestClocks else {
            throw BillingError.failedPrecondition(
                "test clocks exist only while billingd runs with the sandbox gateway", reason: .testClocksUnavailable)
        }
    }
}

/// The test clock rows.
enum TestClockRecords {
    static func insert(_ clock: TestClock, in tx: WriteTransaction) throws {
        try tx.execute(
            "INSERT INTO test_clocks(id, name, frozen_time_ms, created_at_ms) VALUES (?, ?, ?, ?)",
            .text(clock.id), .text(clock.name), .integer(clock.frozenTimeMilliseconds), .integer(clock.createdAtMilliseconds))
    }

    static func clock(_ id: String, in tx: some Querying) throws -> TestClock {
        guard let row = try tx.queryOne("SELECT * FROM test_clocks WHERE id = ?", .text(id)) else {
            throw BillingError.notFound("no test clock \(id)", field: "test_clock_id")
        }
        return TestClock(
            id: try row.string("id"), name: try row.string("name"), frozenTimeMilliseconds: try row.int64("frozen_time_ms"),
            createdAtMilliseconds: try row.int64("created_at_ms"))
    }

    /// Moves a clock forward (never back).
    static func move(_ id: String, to time: Int64, in tx: WriteTransaction) throws {
        try tx.execute("UPDATE test_clocks SET frozen_time_ms = ?1 WHERE id = ?2 AND frozen_time_ms < ?1", .integer(time), .text(id))
    }
}
