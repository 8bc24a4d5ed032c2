import BillingStore
import Foundation

/// Settles charges left pending: at start-up (a crash between calling the gateway and recording its
/// answer), and now and then while running (an answer lost to a gateway outage). Each is looked up at
/// the gateway under its key; top-ups go through their wallet's actor so its state sees the credit.
/// The only place that may declare a charge not charged, and only once it is old enough.
struct ChargeReconciler: Sendable {
    /// Charges settled per round at most; the rest wait for the next round.
    static let maxChargesPerRound = 1000

    let context: BillingContext
    let wallets: WalletService

    /// Settles the pending charges created at least `minimumAge` ago (zero: all of them, at start-up,
    /// when this process has no gateway call in flight). A charge the gateway does not know is declared
    /// not charged only once it is `notChargedAfter` old: a processor's look-up can lag, and while
    /// running a slow live call could still make it; declaring it failed first would free its key for a
    /// second charge, or take money without crediting it. Returns how many were settled.
    func reconcile(minimumAge: Duration, notChargedAfter: Duration) async throws -> Int {
        let now = context.nowMilliseconds
        let pending = try await context.store.read { tx in
            try ChargeLifecycle.pendingCharges(createdAtOrBefore: now - minimumAge.milliseconds, limit: Self.maxChargesPerRound, in: tx)
        }
        var settled = 0
        for charge in pending {
            // With other daemons on the database, theirs may be reconciling it too: one at a time. (Alone,
            // this daemon runs one pass at a time, and the claim's two writes per charge are saved.)
            let claims = context.store.isShared
            if claims, try await !context.takeClaim(.chargeReconciliation, charge.id, for: Self.claimDuration) { continue }
            do {
                if try await reconcile(charge, now: now, notChargedAfter: notChargedAfter) { settled += 1 }
            } catch {
                if claims { try? await context.releaseClaim(.chargeReconciliation, charge.id) }
                throw error
            }
            if claims { try? await context.releaseClaim(.chargeReconciliation, charge.id) }
        }
        return settled
    }

    /// How long a pass holds a charge's claim: longer than a look-up and a settlement take.
    static let claimDuration: Duration = .seconds(300)

    /// Settles one pending charge if the gateway (or its age) says how; returns whether it did.
    private func reconcile(_ charge: Charge, now: Int64, notChargedAfter: Duration) async throws -> Bool {
        let outcome: ChargeLifecycle.GatewayOutcome
        do {
            if let found = try await context.gateway.lookUpCharge(idempotencyKey: charge.id) {
                outcome = .settled(found)
            } else if now - (charge.recordedAtMilliseconds ?? charge.createdAtMilliseconds) >= waitBeforeNotCharged(charge, abandoned: notChargedAfter).milliseconds {
                // A subscription payment the schedule decided (a renewal, a scheduled retry) has no
                // caller to retry it: it is sent now, under its own gateway key, rather than recorded
                // as a failed attempt that never reached the card.
                let context = context
                if let resend = try await context.store.read({ tx in try Self.scheduledSubscriptionPayment(charge.id, in: tx) }) {
                    _ = try await Settlement.send(resend, context: context)
                    return true
                }
                outcome = .notCharged(reason: Self.notChargedReason(charge))
            } else {
                return false  // too young to be sure: the gateway's look-up may lag, or a live call may still land
            }
        } catch {
            return false  // the gateway cannot be asked now; the next round tries again
        }
        switch charge.purpose {
        case .invoicePayment:
            let context = context
            _ = try await context.store.write { tx in
                try Settlement.settle(charge.id, with: outcome, context: context, in: tx, nowMilliseconds: context.nowMilliseconds)
            }
        case .walletTopUp, .walletAutoRecharge:
            try await wallets.settlePending(accountID: charge.accountID, chargeID: charge.id, outcome: outcome)
        }
        return true
    }

    /// The pending charge as a subscription's scheduled payment attempt whose invoice is still open,
    /// ready to send; nil for any other charge.
    static func scheduledSubscriptionPayment(_ chargeID: String, in tx: some Querying) throws -> PendingCharge? {
        guard try tx.queryOne("""
            SELECT 1 AS one FROM subscriptions s JOIN invoices i ON i.id = s.latest_invoice_id
            WHERE s.dunning_charge_id = ? AND i.status = 'open'
            """, .text(chargeID)) != nil
        else { return nil }
        return try ChargeLifecycle.resendable(chargeID, in: tx)
    }

    /// How long a live gateway call may still make a charge the gateway does not know yet.
    static let liveCallsMayLandWithin: Duration = .seconds(3600)

    /// `abandoned` for a charge no live call can still make, or, on a database several daemons share,
    /// the wait for live calls for a charge another daemon recorded (it may be sending it right now).
    private func waitBeforeNotCharged(_ charge: Charge, abandoned: Duration) -> Duration {
        guard context.store.isShared, charge.recordedBy != context.instanceName else { return abandoned }
        return max(abandoned, Self.liveCallsMayLandWithin)
    }

    /// Why a charge unknown to the gateway was not made, as the payment history shows it: sent
    /// without an answer, or cut off by a stop between recording it and hearing back (a stop leaves
    /// no mark, so a charge without one is the latter).
    static func notChargedReason(_ charge: Charge) -> String {
        if charge.unansweredAtMilliseconds != nil {
            return "the payment gateway could not be reached when this charge was sent, and it has no record of it; nothing was charged"
        }
        return "this charge never reached the payment gateway: the service stopped before sending it (or while sending it); nothing was charged"
    }
}
