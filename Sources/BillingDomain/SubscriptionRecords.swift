import BillingStore
import Foundation

/// A subscription to a catalog plan, as the subscriptions tab shows it.
public struct Subscription: Sendable, Hashable, Codable {
    public enum Status: String, Sendable, Hashable, Codable, CaseIterable {
        case incomplete
        case incompleteExpired = "incomplete_expired"
        case trialing, active
        case pastDue = "past_due"
        case unpaid, canceled

        /// Ended for good: nothing changes it any more.
        public var hasEnded: Bool { self == .canceled || self == .incompleteExpired }
    }

    public enum FulfilmentState: String, Sendable, Hashable, Codable {
        case notApplicable = "not_applicable"
        case pending, provisioned, suspended, terminated
    }

    /// A downgrade waiting for the end of the period.
    public struct PendingChange: Sendable, Hashable, Codable {
        public var planID: String
        public var quantity: Int64
        public var effectiveAtMilliseconds: Int64
    }

    public var id: String
    public var accountID: String
    public var plan: Plan
    public var quantity: Int64
    public var status: Status
    public var anchorMilliseconds: Int64
    public var periodIndex: Int
    public var periodStartMilliseconds: Int64
    public var periodEndMilliseconds: Int64
    /// Since when the current plan and quantity run in this period, and what was billed for that.
    public var segmentStartMilliseconds: Int64
    public var segmentAmountMinor: Int64
    public var trialEndMilliseconds: Int64?
    public var cancelAtPeriodEnd: Bool
    public var canceledAtMilliseconds: Int64?
    public var endedAtMilliseconds: Int64?
    public var pendingChange: PendingChange?
    public var latestInvoiceID: String?
    public var paymentAttempts: Int
    public var nextPaymentAttemptMilliseconds: Int64?
    public var awaitingNewCard: Bool
    public var incompleteExpiresAtMilliseconds: Int64?
    public var fulfilmentState: FulfilmentState
    public var fulfilmentInProgress: Bool
    public var createdAtMilliseconds: Int64
    /// When the next period is invoiced (a renewal, or the end of the trial), while one is scheduled.
    public var nextRenewalMilliseconds: Int64?
    /// What the next period costs, after a pending change.
    public var nextRenewalAmount: Money?

    /// What a period costs at the current plan and quantity.
    var periodAmount: Money { get throws { try plan.unitAmount.multiplied(by: quantity) } }
}

/// The subscription rows, their schedule and their outbox, inside the caller's transaction.
enum SubscriptionRecords {
    /// Scheduled actions; at most one row per subscription and action.
    enum Action: String, Sendable, CaseIterable {
        case renew
        case retryPayment = "retry_payment"
        case endTrial = "end_trial"
        case expireIncomplete = "expire_incomplete"
    }

    /// One scheduled action, as a runner reads it.
    struct Due: Sendable, Hashable {
        var subscriptionID: String
        var action: Action
        var dueAtMilliseconds: Int64
    }

    static func subscription(_ id: String, accountID: String, catalog: PlanCatalog, in tx: some Querying) throws -> Subscription {
        guard let row = try tx.queryOne("SELECT * FROM subscriptions WHERE id = ? AND account_id = ?", .text(id), .text(accountID)) else {
            throw BillingError.notFound("no subscription \(id) on account \(accountID)", field: "subscription_id")
        }
        return try subscription(from: row, catalog: catalog, in: tx)
    }

    static func subscription(_ id: String, catalog: PlanCatalog, in tx: some Querying) throws -> Subscription {
        guard let row = try tx.queryOne("SELECT * FROM subscriptions WHERE id = ?", .text(id)) else {
            throw BillingError.notFound("no subscription \(id)", field: "subscription_id")
        }
        return try subscription(from: row, catalog: catalog, in: tx)
    }

    static func subscription(from row: Row, catalog: PlanCatalog, in tx: some Querying) throws -> Subscription {
        let id = try row.string("id")
        let plan = try catalog.plan(try row.string("plan_id"))
        let quantity = try row.int64("quantity")
        var schedule: [Action: Int64] = [:]
        for due in try tx.query("SELECT action, due_at_ms FROM subscription_schedule WHERE subscription_id = ?", .text(id)) {
            if let action = Action(rawValue: try due.string("action")) { schedule[action] = try due.int64("due_at_ms") }
        }
        let pendingChange = try row.optionalString("pending_plan_id").map { planID in
            Subscription.PendingChange(
                planID: planID, quantity: try row.optionalInt64("pending_quantity") ?? quantity, effectiveAtMilliseconds: try row.int64("period_end_ms"))
        }
        // A subscription set to cancel has no next renewal: its period end is its end.
        let renewal = try row.int64("cancel_at_period_end") != 0 ? nil : schedule[.renew] ?? schedule[.endTrial]
        var nextAmount: Money?
        if renewal != nil {
            let nextPlan = try pendingChange.map { try catalog.plan($0.planID) } ?? plan
            nextAmount = try nextPlan.unitAmount.multiplied(by: pendingChange?.quantity ?? quantity)
        }
        let inProgress = try tx.queryOne(
            "SELECT 1 AS one FROM fulfilment_outbox WHERE subscription_id = ? AND delivered_at_ms IS NULL LIMIT 1", .text(id)) != nil
        return Subscription(
            id: id, accountID: try row.string("account_id"), plan: plan, quantity: quantity,
            status: Subscription.Status(rawValue: try row.string("status")) ?? .incomplete, anchorMilliseconds: try row.int64("anchor_ms"),
            periodIndex: try row.int("period_index"), periodStartMilliseconds: try row.int64("period_start_ms"),
            periodEndMilliseconds: try row.int64("period_end_ms"), segmentStartMilliseconds: try row.int64("segment_start_ms"),
            segmentAmountMinor: try row.int64("segment_amount_minor"), trialEndMilliseconds: try row.optionalInt64("trial_end_ms"),
            cancelAtPeriodEnd: try row.int64("cancel_at_period_end") != 0, canceledAtMilliseconds: try row.optionalInt64("canceled_at_ms"),
            endedAtMilliseconds: try row.optionalInt64("ended_at_ms"), pendingChange: pendingChange,
            latestInvoiceID: try row.optionalString("latest_invoice_id"), paymentAttempts: try row.int("payment_attempts"),
            nextPaymentAttemptMilliseconds: schedule[.retryPayment], awaitingNewCard: try row.int64("awaiting_new_card") != 0,
            incompleteExpiresAtMilliseconds: try row.optionalInt64("incomplete_expires_at_ms"),
            fulfilmentState: Subscription.FulfilmentState(rawValue: try row.string("fulfilment_state")) ?? .notApplicable,
            fulfilmentInProgress: inProgress, createdAtMilliseconds: try row.int64("created_at_ms"),
            nextRenewalMilliseconds: renewal, nextRenewalAmount: nextAmount)
    }

    static func insert(_ subscription: Subscription, in tx: WriteTransaction) throws {
        try tx.execute("""
            INSERT INTO subscriptions(id, account_id, plan_id, quantity, status, anchor_ms, period_index, period_start_ms, period_end_ms,
                                      segment_start_ms, segment_amount_minor, trial_end_ms, fulfilment_state, incomplete_expires_at_ms, created_at_ms)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, .text(subscription.id), .text(subscription.accountID), .text(subscription.plan.id), .integer(subscription.quantity),
            .text(subscription.status.rawValue), .integer(subscription.anchorMilliseconds), .int(subscription.periodIndex),
            .integer(subscription.periodStartMilliseconds), .integer(subscription.periodEndMilliseconds),
            .integer(subscription.segmentStartMilliseconds), .integer(subscription.segmentAmountMinor), SQLValue(subscription.trialEndMilliseconds),
            .text(subscription.fulfilmentState.rawValue), SQLValue(subscription.incompleteExpiresAtMilliseconds), .integer(subscription.createdAtMilliseconds))
    }

    /// Writes the fields a transition may change (everything but identity and creation).
    static func update(_ subscription: Subscription, in tx: WriteTransaction) throws {
        try tx.execute("""
            UPDATE subscriptions SET plan_id = ?, quantity = ?, status = ?, anchor_ms = ?, period_index = ?, period_start_ms = ?, period_end_ms = ?,
                segment_start_ms = ?, segment_amount_minor = ?, trial_end_ms = ?, cancel_at_period_end = ?, canceled_at_ms = ?, ended_at_ms = ?,
                pending_plan_id = ?, pending_quantity = ?, latest_invoice_id = ?, payment_attempts = ?, awaiting_new_card = ?,
                incomplete_expires_at_ms = ?, fulfilment_state = ?
            WHERE id = ?
            """, .text(subscription.plan.id), .integer(subscription.quantity), .text(subscription.status.rawValue),
            .integer(subscription.anchorMilliseconds), .int(subscription.periodIndex), .integer(subscription.periodStartMilliseconds),
            .integer(subscription.periodEndMilliseconds), .integer(subscription.segmentStartMilliseconds), .integer(subscription.segmentAmountMinor),
            SQLValue(subscription.trialEndMilliseconds), .int(subscription.cancelAtPeriodEnd ? 1 : 0), SQLValue(subscription.canceledAtMilliseconds),
            SQLValue(subscription.endedAtMilliseconds), SQLValue(subscription.pendingChange?.planID), SQLValue(subscription.pendingChange?.quantity),
            SQLValue(subscription.latestInvoiceID), .int(subscription.paymentAttempts), .int(subscription.awaitingNewCard ? 1 : 0),
            SQLValue(subscription.incompleteExpiresAtMilliseconds), .text(subscription.fulfilmentState.rawValue), .text(subscription.id))
    }

    // MARK: Dunning bookkeeping (columns only the billing steps use)

    struct Dunning {
        var startedAtMilliseconds: Int64?
        var chargeID: String?
    }

    static func dunning(of subscriptionID: String, in tx: some Querying) throws -> Dunning {
        let row = try tx.queryOne("SELECT dunning_started_at_ms, dunning_charge_id FROM subscriptions WHERE id = ?", .text(subscriptionID))
        return Dunning(startedAtMilliseconds: try row?.optionalInt64("dunning_started_at_ms"), chargeID: try row?.optionalString("dunning_charge_id"))
    }

    static func setDunning(_ dunning: Dunning, of subscriptionID: String, in tx: WriteTransaction) throws {
        try tx.execute(
            "UPDATE subscriptions SET dunning_started_at_ms = ?, dunning_charge_id = ? WHERE id = ?",
            SQLValue(dunning.startedAtMilliseconds), SQLValue(dunning.chargeID), .text(subscriptionID))
    }

    // MARK: Schedule

    static func schedule(_ action: Action, of subscription: Subscription, at dueAt: Int64, in tx: WriteTransaction) throws {
        try tx.execute("""
            INSERT INTO subscription_schedule(subscription_id, action, due_at_ms, test_clock_id)
            VALUES (?1, ?2, ?3, (SELECT test_clock_id FROM accounts WHERE id = ?4))
            ON CONFLICT(subscription_id, action) DO UPDATE SET due_at_ms = excluded.due_at_ms
            """, .text(subscription.id), .text(action.rawValue), .integer(dueAt), .text(subscription.accountID))
    }

    static func unschedule(_ action: Action, of subscriptionID: String, in tx: WriteTransaction) throws {
        try tx.execute("DELETE FROM subscription_schedule WHERE subscription_id = ? AND action = ?", .text(subscriptionID), .text(action.rawValue))
    }

    static func unscheduleAll(of subscriptionID: String, in tx: WriteTransaction) throws {
        try tx.execute("DELETE FROM subscription_schedule WHERE subscription_id = ?", .text(subscriptionID))
    }

    /// Claims a due action: true if it is still scheduled as read (no other runner took it since), and
    /// then it is gone; the action's own writes schedule what follows, in the same transaction.
    static func claim(_ due: Due, in tx: WriteTransaction) throws -> Bool {
        try tx.execute(
            "DELETE FROM subscription_schedule WHERE subscription_id = ? AND action = ? AND due_at_ms = ?",
            .text(due.subscriptionID), .text(due.action.rawValue), .integer(due.dueAtMilliseconds)) == 1
    }

    /// Due actions on the wall clock (`testClockID` nil) or on a test clock, oldest first.
    static func due(atOrBefore time: Int64, testClockID: String?, limit: Int, in tx: some Querying) throws -> [Due] {
        let rows = try testClockID.map { clock in
            try tx.query(
                "SELECT * FROM subscription_schedule WHERE test_clock_id = ? AND due_at_ms <= ? ORDER BY due_at_ms, subscription_id LIMIT ?",
                .text(clock), .integer(time), .int(limit))
        } ?? tx.query(
            "SELECT * FROM subscription_schedule WHERE test_clock_id IS NULL AND due_at_ms <= ? ORDER BY due_at_ms, subscription_id LIMIT ?",
            .integer(time), .int(limit))
        return try rows.compactMap { row in
            guard let action = Action(rawValue: try row.string("action")) else { return nil }
            return Due(subscriptionID: try row.string("subscription_id"), action: action, dueAtMilliseconds: try row.int64("due_at_ms"))
        }
    }

    /// The earliest time an action falls due on a test clock, up to `time`.
    static func nextDue(onTestClock clockID: String, atOrBefore time: Int64, in tx: some Querying) throws -> Int64? {
        try tx.queryOne(
            "SELECT min(due_at_ms) AS due FROM subscription_schedule WHERE test_clock_id = ? AND due_at_ms <= ?", .text(clockID), .integer(time)
        )?.optionalInt64("due")
    }

    // MARK: Upgrades waiting for payment

    struct Change: Sendable {
        var subscriptionID: String
        var planID: String
        var quantity: Int64
        var effectiveAtMilliseconds: Int64
        var periodStartMilliseconds: Int64
        var chargeLineMinor: Int64
    }

    static func insertChange(_ change: Change, invoiceID: String, in tx: WriteTransaction) throws {
        try tx.execute("""
            INSERT INTO subscription_changes(invoice_id, subscription_id, plan_id, quantity, effective_at_ms, period_start_ms, charge_line_minor)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            """, .text(invoiceID), .text(change.subscriptionID), .text(change.planID), .integer(change.quantity),
            .integer(change.effectiveAtMilliseconds), .integer(change.periodStartMilliseconds), .integer(change.chargeLineMinor))
    }

    /// Removes and returns the change an upgrade invoice carries.
    static func takeChange(ofInvoice invoiceID: String, in tx: WriteTransaction) throws -> Change? {
        try tx.queryOne("DELETE FROM subscription_changes WHERE invoice_id = ? RETURNING *", .text(invoiceID)).map { row in
            Change(
                subscriptionID: try row.string("subscription_id"), planID: try row.string("plan_id"), quantity: try row.int64("quantity"),
                effectiveAtMilliseconds: try row.int64("effective_at_ms"), periodStartMilliseconds: try row.int64("period_start_ms"),
                chargeLineMinor: try row.int64("charge_line_minor"))
        }
    }

    static func hasChangeAwaitingPayment(_ subscriptionID: String, in tx: some Querying) throws -> Bool {
        try tx.queryOne("SELECT 1 AS one FROM subscription_changes WHERE subscription_id = ? LIMIT 1", .text(subscriptionID)) != nil
    }

    // MARK: Listing

    static func liveCount(accountID: String, in tx: some Querying) throws -> Int {
        try tx.queryOne(
            "SELECT count(*) AS n FROM subscriptions WHERE account_id = ? AND status NOT IN ('canceled', 'incomplete_expired')", .text(accountID)
        )!.int("n")
    }

    /// The account's earliest live subscription with an interval of `months`, for aligning a
    /// marketplace app to the account's billing date.
    static func earliestActive(accountID: String, months: Int, catalog: PlanCatalog, in tx: some Querying) throws -> Subscription? {
        for row in try tx.query(
            "SELECT * FROM subscriptions WHERE account_id = ? AND status IN ('active', 'past_due') ORDER BY seq LIMIT 100", .text(accountID))
        {
            let subscription = try subscription(from: row, catalog: catalog, in: tx)
            if subscription.plan.months == months { return subscription }
        }
        return nil
    }

    /// Live subscriptions first, then ended ones; newest first within each. The page token is
    /// "s<group>.<seq>" of the last row.
    static func page(
        accountID: String, statuses: [Subscription.Status], kind: Plan.Kind?, page: PageRequest, token: (group: Int, seq: Int64)?,
        catalog: PlanCatalog, in tx: some Querying
    ) throws -> Page<Subscription> {
        let group = "(CASE WHEN status IN ('canceled', 'incomplete_expired') THEN 1 ELSE 0 END)"
        var conditions = ["account_id = ?"]
        var arguments: [SQLValue] = [.text(accountID)]
        if let token {
            conditions.append("(\(group) > ? OR (\(group) = ? AND seq < ?))")
            arguments += [.int(token.group), .int(token.group), .integer(token.seq)]
        }
        if !statuses.isEmpty {
            conditions.append("status IN (\(statuses.map { _ in "?" }.joined(separator: ", ")))")
            arguments += statuses.map { .text($0.rawValue) }
        }
        if let kind {
            let planIDs = catalog.plans.filter { $0.kind == kind }.map(\.id)
            conditions.append("plan_id IN (\(planIDs.isEmpty ? "NULL" : planIDs.map { _ in "?" }.joined(separator: ", ")))")
            arguments += planIDs.map(SQLValue.text)
        }
        arguments.append(.int(page.size + 1))
        let rows = try tx.query(
            "SELECT *, \(group) AS list_group FROM subscriptions WHERE \(conditions.joined(separator: " AND ")) ORDER BY list_group, seq DESC LIMIT ?",
            arguments: arguments)
        let pageRows = Array(rows.prefix(page.size))
        let items = try pageRows.map { try subscription(from: $0, catalog: catalog, in: tx) }
        guard rows.count > page.size, let last = pageRows.last else { return Page(items: items, nextPageToken: "") }
        return Page(items: items, nextPageToken: "s\(try last.int("list_group")).\(try last.int64("seq"))")
    }

    static func parseToken(_ token: String) throws(BillingError) -> (group: Int, seq: Int64)? {
        guard !token.isEmpty else { return nil }
        let parts = token.dropFirst().split(separator: ".")
        guard token.hasPrefix("s"), parts.count == 2, let group = Int(parts[0]), (0...1).contains(group), let seq = Int64(parts[1]), seq > 0 else {
            throw .invalidArgument("page_token is not one this service issued; pass the next_page_token of the previous reply", field: "page_token")
        }
        return (group, seq)
    }
}

/// The clock a subscription lives on: its account's test clock, or the wall clock.
enum SubscriptionClock {
    static func now(of accountID: String, in tx: some Querying, wall: Int64) throws -> Int64 {
        try tx.queryOne(
            "SELECT t.frozen_time_ms FROM accounts a JOIN test_clocks t ON t.id = a.test_clock_id WHERE a.id = ?", .text(accountID)
        )?.int64("frozen_time_ms") ?? wall
    }
}
