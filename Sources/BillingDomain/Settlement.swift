import BillingStore
import Foundation

/// What settling a charge did, by what the charge was for.
enum Settled: Sendable {
    case invoicePayment(InvoicePayment)
    /// A wallet top-up or auto-recharge.
    case walletCredit(WalletCredit)

    var charge: Charge {
        switch self {
        case .invoicePayment(let payment): payment.charge
        case .walletCredit(let credit): credit.charge
        }
    }
}

/// What settling a top-up or recharge charge did.
struct WalletCredit: Sendable, Hashable, Codable {
    var charge: Charge
    var transaction: WalletTransaction?
    var invoice: Invoice?
    /// Whether usage-based services were suspended before and restored by this credit.
    var restored: Bool
    /// Whether this settlement made the credit (false when it was made before, or not at all).
    var credited: Bool
}

/// What a settled charge means for its purpose: the one place that knows every purpose (paying an
/// invoice, crediting a top-up or a recharge), above the charge lifecycle and idempotency, which know
/// none. Used by the live paths and by reconciliation alike.
///
/// ```
/// Settlement ──▶ ChargeLifecycle (pending, gateway, settle, look up)
///     │      ──▶ IdempotencyRecords (keys and outcomes)
///     └────────▶ InvoiceRecords, WalletLedger, AccountRecords (the rows a purpose changes)
/// ```
enum Settlement {
    /// Records `outcome` for the pending charge and acts on it by purpose, once: only the call that
    /// moves the charge out of `pending` credits a wallet or marks an invoice paid. Completes the
    /// idempotency record of the request that made the charge.
    static func settle(
        _ chargeID: String, with outcome: ChargeLifecycle.GatewayOutcome, context: BillingContext, in tx: WriteTransaction, nowMilliseconds now: Int64
    ) throws -> Settled {
        let (charge, settledNow) = try ChargeLifecycle.settle(chargeID, with: outcome, in: tx, nowMilliseconds: now)
        let settled: Settled
        switch charge.purpose {
        case .invoicePayment:
            settled = .invoicePayment(try payInvoice(with: charge, settledNow: settledNow, context: context, in: tx, nowMilliseconds: now))
        case .walletTopUp, .walletAutoRecharge:
            settled = .walletCredit(try creditWallet(with: charge, settledNow: settledNow, invoicePrefix: context.invoiceNumberPrefix, in: tx, nowMilliseconds: now))
        }
        switch settled {
        case .invoicePayment(let payment) where payment.invoice.billingReason == .subscriptionCreate && payment.charge.status == .failed:
            // A subscription whose first payment failed exists (incomplete, its invoice open): its
            // request's answer is the subscription, not an error, and so is every retry's.
            try IdempotencyRecords.complete(reference: payment.charge.id, result: payment, in: tx)
        case .invoicePayment(let payment): try completeRequest(of: settled.charge, result: payment, in: tx)
        case .walletCredit(let credit): try completeRequest(of: settled.charge, result: credit, in: tx)
        }
        return settled
    }

    /// A succeeded invoice payment marks its invoice paid.
    private static func payInvoice(with charge: Charge, settledNow: Bool, context: BillingContext, in tx: WriteTransaction, nowMilliseconds now: Int64) throws -> InvoicePayment {
        guard let invoiceID = charge.invoiceID else { throw BillingError.internalError("charge \(charge.id) pays no invoice") }
        if settledNow && charge.status == .succeeded { try InvoiceRecords.markPaid(invoiceID, by: charge, in: tx, nowMilliseconds: now) }
        var invoice = try InvoiceRecords.invoice(invoiceID, accountID: charge.accountID, in: tx)
        var subscription: Subscription?
        if invoice.subscriptionID != nil {
            subscription = try SubscriptionBilling.invoicePaymentSettled(invoice, by: charge, settledNow: settledNow, context: context, in: tx)
            invoice = try InvoiceRecords.invoice(invoiceID, accountID: charge.accountID, in: tx)
        }
        return InvoicePayment(invoice: invoice, charge: charge, subscription: subscription)
    }

    /// A succeeded top-up or recharge credits the wallet, issues a paid invoice and lifts a suspension;
    /// any settled one clears the wallet's recharge-in-flight marker.
    private static func creditWallet(
        with charge: Charge, settledNow: Bool, invoicePrefix: String, in tx: WriteTransaction, nowMilliseconds now: Int64
    ) throws -> WalletCredit {
        var charge = charge
        if charge.status != .pending { try WalletLedger.clearPendingRecharge(charge.id, accountID: charge.accountID, in: tx) }
        guard charge.status == .succeeded else {
            return WalletCredit(charge: charge, transaction: nil, invoice: nil, restored: false, credited: false)
        }
        guard settledNow else {
            // Settled before: the credit and the invoice exist already; report them, add nothing.
            let line = try WalletLedger.transaction(forCharge: charge.id, in: tx)
            let invoice = try charge.invoiceID.map { try InvoiceRecords.invoice($0, accountID: charge.accountID, in: tx) }
            return WalletCredit(charge: charge, transaction: line, invoice: invoice, restored: false, credited: false)
        }
        let isRecharge = charge.purpose == .walletAutoRecharge
        let transaction = try WalletLedger.credit(charge, source: isRecharge ? .autoRecharge : .topUp, in: tx, nowMilliseconds: now)
        let invoice = try InvoiceRecords.issuePaidInvoice(
            for: charge, line: isRecharge ? "Wallet auto-recharge" : "Wallet funds", prefix: invoicePrefix, in: tx, nowMilliseconds: now)
        charge.invoiceID = invoice.id
        let restored = try AccountRecords.restoreServices(charge.accountID, in: tx)
        return WalletCredit(charge: charge, transaction: transaction, invoice: invoice, restored: restored, credited: true)
    }

    /// The idempotency record of the request that made `charge` gets its outcome: the result when the
    /// charge succeeded, the decline when it failed; a charge that certainly did not happen frees the
    /// key, so that a retry runs afresh; a pending one keeps it held.
    private static func completeRequest<Result: Codable>(of charge: Charge, result: Result, in tx: WriteTransaction) throws {
        switch charge.status {
        case .pending:
            return
        case .failed where charge.failureCode == ChargeLifecycle.notChargedCode:
            try IdempotencyRecords.release(reference: charge.id, in: tx)
        case .failed:
            try IdempotencyRecords.complete(reference: charge.id, error: ChargeLifecycle.failure(of: charge), in: tx)
        case .succeeded:
            try IdempotencyRecords.complete(reference: charge.id, result: result, in: tx)
        }
    }
}

// MARK: - Taking money under an idempotency key

/// What `chargeOnce` found in its first transaction.
private enum FirstStep<Replay: Sendable>: Sendable {
    case done(Replay)
    case completed(Replay)
    /// The key's charge is pending and cannot be re-sent: only look it up.
    case lookUp(chargeID: String)
    case charge(PendingCharge)
}

extension Settlement {
    /// What a request that takes money under an idempotency key got: the stored outcome of an earlier
    /// request with the key, or the settlement of its own charge (settled, or still pending).
    enum Once<Replay: Sendable>: Sendable {
        case replayed(Replay)
        /// The request's checks found nothing to charge, and its change is made (and its outcome stored).
        case completed(Replay)
        case settled(Settled)
    }

    /// What a request's checks decided, in `chargeOnce`'s first transaction.
    enum Charging<Replay: Sendable>: Sendable {
        /// Charge this, recorded pending.
        case charge(PendingCharge)
        /// Nothing to charge: the change is made, and this is its outcome.
        case noCharge(Replay)
    }

    /// The one path of every request that takes money (paying an invoice, adding funds): in one write
    /// transaction, replay the key's outcome, or let `record` check what allows the charge and record it
    /// pending while the key is stored as pending beside it (a key still pending from an earlier try
    /// re-sends its own charge under the same gateway key instead); then charge the card; then settle in
    /// a second transaction. Callers run it for one key at a time (`KeyedSerialQueue`).
    static func chargeOnce<Replay: Codable & Sendable>(
        key: IdempotencyKey, context: BillingContext, replaying: Replay.Type,
        record: @escaping @Sendable (WriteTransaction, Int64) throws -> PendingCharge
    ) async throws -> Once<Replay> {
        try await chargeOnce(key: key, context: context, replaying: replaying) { tx, now in .charge(try record(tx, now)) }
    }

    /// `chargeOnce` for a request that may find nothing to charge (a downgrade, a trial): `record` makes
    /// the change and returns its outcome instead of a charge, stored under the key in the same transaction.
    static func chargeOnce<Replay: Codable & Sendable>(
        key: IdempotencyKey, context: BillingContext, replaying: Replay.Type,
        deciding record: @escaping @Sendable (WriteTransaction, Int64) throws -> Charging<Replay>
    ) async throws -> Once<Replay> {
        let now = context.nowMilliseconds
        let step: FirstStep<Replay> = try await context.store.write { tx in
            switch try IdempotencyRecords.look(key, in: tx, as: Replay.self) {
            case .done(let earlier): return .done(earlier)
            case .pending(let chargeID?): return try ChargeLifecycle.resendable(chargeID, in: tx).map(FirstStep.charge) ?? .lookUp(chargeID: chargeID)
            case .pending(nil), .none: break
            }
            switch try record(tx, now) {
            case .charge(let pending):
                try IdempotencyRecords.savePending(key, reference: pending.chargeID, in: tx, nowMilliseconds: now)
                return .charge(pending)
            case .noCharge(let outcome):
                try IdempotencyRecords.saveDone(outcome, key: key, in: tx, nowMilliseconds: now)
                return .completed(outcome)
            }
        }
        switch step {
        case .done(let earlier):
            return .replayed(earlier)
        case .completed(let outcome):
            return .completed(outcome)
        case .lookUp(let chargeID):
            return .settled(try await ChargeLifecycle.uncancellable {
                let outcome = await ChargeLifecycle.lookUp(context.gateway, chargeID: chargeID)
                return try await context.store.write { tx in
                    try settle(chargeID, with: outcome, context: context, in: tx, nowMilliseconds: context.nowMilliseconds)
                }
            })
        case .charge(let pending):
            return .settled(try await send(pending, context: context))
        }
    }

    /// Charges a charge recorded pending and settles it. From the gateway call to the settlement nothing
    /// the caller does stops the work: the charge exists at the gateway, or may, so its outcome is
    /// recorded whatever happens to the caller.
    static func send(_ pending: PendingCharge, context: BillingContext) async throws -> Settled {
        try await ChargeLifecycle.uncancellable {
            let outcome = await ChargeLifecycle.callGateway(
                context.gateway, chargeID: pending.chargeID, token: pending.token, amount: pending.amount, description: pending.description)
            return try await context.store.write { tx in
                try settle(pending.chargeID, with: outcome, context: context, in: tx, nowMilliseconds: context.nowMilliseconds)
            }
        }
    }
}
