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
    ///
    /// A charge of a subscription on a test clock is stamped with the clock's time, which may be ahead
    /// of the wall clock: with `minimumAge` zero every pending charge is taken whatever its stamp, and a
    /// stamp in the future counts as age zero.
    func reconcile(minimumAge: Duration, notChargedAfter: Duration) async throws -> Int {
        let now = context.nowMilliseconds
        let cutoff = minimumAge == .zero ? Int64.max : now - minimumAge.milliseconds
        let pending = try await context.store.read { tx in
            try ChargeLifecycle.pendingCharges(createdAtOrBefore: cutoff, limit: Self.maxChargesPerRound, in: tx)
        }
        var settled = 0
        for charge in pending {
            let outcome: ChargeLifecycle.GatewayOutcome
            do {
                if let found = try await context.gateway.lookUpCharge(idempotencyKey: charge.id) {
                    outcome = .settled(found)
                } else if max(0, now - charge.createdAtMilliseconds) >= notChargedAfter.milliseconds {
                    outcome = .notCharged(reason: "the payment gateway has no record of this charge; nothing was charged")
                } else {
                    continue  // too young to be sure: the gateway's look-up may lag, or a live call may still land
                }
            } catch {
                continue  // the gateway cannot be asked now; the next round tries again
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
            settled += 1
        }
        return settled
    }
}
