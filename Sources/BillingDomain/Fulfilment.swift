import BillingGateway
import BillingStore
import Foundation

/// Telling providers of reselling products and marketplace apps what to do, through an outbox: the
/// action is a row written in the transaction of the state change that calls for it, so a crash never
/// loses one; `deliver` sends the rows in order per subscription, under the row id as the provider's
/// idempotency key, so a crash between the provider's answer and its record never makes it act twice.
enum Fulfilment {
    /// Writes `kind` for the subscription's provider, and the state it leads to; no-op for SaaS plans.
    static func enqueue(_ kind: FulfilmentAction.Kind, for subscription: inout Subscription, in tx: WriteTransaction, nowMilliseconds now: Int64) throws {
        guard let provider = subscription.plan.provider else { return }
        try tx.execute("""
            INSERT INTO fulfilment_outbox(id, subscription_id, account_id, provider, action, plan_id, quantity, created_at_ms, next_attempt_at_ms)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, .text(Identifier.make("ful")), .text(subscription.id), .text(subscription.accountID), .text(provider), .text(kind.rawValue),
            .text(subscription.plan.id), .integer(subscription.quantity), .integer(now), .integer(0))
        switch kind {
        case .provision, .resume, .change: subscription.fulfilmentState = .provisioned
        case .suspend: subscription.fulfilmentState = .suspended
        case .terminate: subscription.fulfilmentState = .terminated
        }
        subscription.fulfilmentInProgress = true
    }

    /// One undelivered row.
    private struct Pending: Sendable {
        var id: String
        var action: FulfilmentAction
        var attempts: Int
        var nextAttemptAt: Int64
    }

    /// How long a pass holds a subscription's claim: longer than a provider call may take.
    static let claimDuration: Duration = .seconds(300)

    /// The longest wait between two attempts at an unreachable provider.
    static let maxBackoffMilliseconds: Int64 = 3_600_000

    /// Sends what is due, oldest first; a subscription whose earliest action fails waits (backing off)
    /// before its later ones, so that a provider never sees "resume" before "suspend". Returns how
    /// many actions were delivered. `subscriptionIDs` limits it to some subscriptions (a test clock's).
    ///
    /// A subscription's actions are delivered under its claim (``Claims``), so that two daemons (or two
    /// passes in one) never send them at once, and so never out of order.
    static func deliver(
        provider: any FulfilmentProvider, context: BillingContext, limit: Int = 500, subscriptionIDs: Set<String>? = nil
    ) async throws -> Int {
        let (store, now) = (context.store, context.nowMilliseconds)
        let rows = try await store.read { tx in
            try tx.query(
                "SELECT * FROM fulfilment_outbox WHERE delivered_at_ms IS NULL ORDER BY seq LIMIT ?", .int(limit * 4)
            ).map { row in
                Pending(
                    id: try row.string("id"),
                    action: FulfilmentAction(
                        kind: FulfilmentAction.Kind(rawValue: try row.string("action")) ?? .change, provider: try row.string("provider"),
                        subscriptionID: try row.string("subscription_id"), accountID: try row.string("account_id"),
                        planID: try row.string("plan_id"), quantity: try row.int64("quantity")),
                    attempts: try row.int("attempts"), nextAttemptAt: try row.int64("next_attempt_at_ms"))
            }
        }
        var blocked: Set<String> = []
        var claimed: [String] = []
        var delivered = 0
        var failure: (any Error)?
        for pending in rows where delivered < limit {
            let subscription = pending.action.subscriptionID
            if let subscriptionIDs, !subscriptionIDs.contains(subscription) { continue }
            guard !blocked.contains(subscription) else { continue }
            guard pending.nextAttemptAt <= now else {
                blocked.insert(subscription)
                continue
            }
            do {
                if !claimed.contains(subscription) {
                    guard try await context.takeClaim(.fulfilment, subscription, for: claimDuration) else {
                        blocked.insert(subscription)  // being delivered elsewhere
                        continue
                    }
                    claimed.append(subscription)
                }
                // Read again under the claim: another pass may have delivered it since this one read it.
                guard try await store.read({ tx in
                    try tx.queryOne("SELECT 1 AS one FROM fulfilment_outbox WHERE id = ? AND delivered_at_ms IS NULL", .text(pending.id)) != nil
                }) else { continue }
                if try await deliverOne(pending, provider: provider, store: store, now: now) {
                    delivered += 1
                } else {
                    blocked.insert(subscription)
                }
            } catch {
                failure = error
                break
            }
        }
        for subscription in claimed { try? await context.releaseClaim(.fulfilment, subscription) }
        if let failure { throw failure }
        return delivered
    }

    /// Sends one action and records the outcome: delivered, or a failed attempt with its backoff.
    /// Returns whether the provider took it.
    private static func deliverOne(_ pending: Pending, provider: any FulfilmentProvider, store: Store, now: Int64) async throws -> Bool {
        do {
            try await provider.perform(pending.action, idempotencyKey: pending.id)
        } catch {
            let backoff = min(maxBackoffMilliseconds, 1000 << min(pending.attempts, 20))
            let message = (error as? BillingError)?.message ?? "\(type(of: error))"
            try await store.write { tx in
                try tx.execute(
                    "UPDATE fulfilment_outbox SET attempts = attempts + 1, next_attempt_at_ms = ?, last_error = ? WHERE id = ?",
                    .integer(now + backoff), .text(String(message.prefix(500))), .text(pending.id))
            }
            return false
        }
        try await store.write { tx in
            try tx.execute("UPDATE fulfilment_outbox SET delivered_at_ms = ?, attempts = attempts + 1 WHERE id = ?", .integer(now), .text(pending.id))
        }
        return true
    }
}
