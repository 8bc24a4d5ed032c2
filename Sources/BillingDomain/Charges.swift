import BillingStore
import Foundation

/// One attempt to take money: recorded as pending before the gateway is called, settled after.
public struct Charge: Sendable, Hashable, Codable {
    public enum Status: String, Sendable, Hashable, Codable, CaseIterable {
        case pending
        case succeeded
        case failed
    }

    /// What settling the charge completes.
    public enum Purpose: String, Sendable, Hashable, Codable {
        case invoicePayment = "invoice_payment"
        case walletTopUp = "wallet_top_up"
        case walletAutoRecharge = "wallet_auto_recharge"
    }

    public var id: String
    public var accountID: String
    public var amount: Money
    public var status: Status
    public var paymentMethodID: String?
    public var cardBrand: String
    public var cardLast4: String
    public var failureCode: String
    public var failureMessage: String
    public var gatewayReference: String
    public var description: String
    public var purpose: Purpose
    public var invoiceID: String?
    public var createdAtMilliseconds: Int64
    /// When the row was written, on the wall clock (differs from `createdAtMilliseconds` only for an
    /// account on a test clock); what reconciliation measures a pending charge's age by. Nil in
    /// outcomes stored before it existed.
    var recordedAtMilliseconds: Int64?
    /// The daemon that recorded it (``BillingContext/instanceName``); nil for charges recorded before
    /// this was kept.
    var recordedBy: String?
    /// When this service last sent the charge and got no answer, its look-up not telling either. Nil
    /// if the charge was settled by the answer to its call, or no call was ever made.
    var unansweredAtMilliseconds: Int64?
}

/// The life of a charge, shared by every way of taking money; it knows no invoices and no wallets
/// (what a settled charge means for its purpose is `Settlement`'s business).
///
/// 1. `recordPending` (inside the caller's write transaction, with whatever it checks) inserts the
///    charge as pending; the charge id is the gateway idempotency key.
/// 2. `callGateway` charges the card. If the gateway's answer is lost, the charge is looked up by its
///    key; if that does not tell, the charge stays pending and the reconciler settles it later.
/// 3. `settle` (inside the caller's completing write transaction) records the outcome.
///
/// A crash between 1 and 3 never leaves money taken and unrecorded: the pending row names the key
/// the gateway knows the charge by.
enum ChargeLifecycle {
    /// The failure code of a charge the gateway certainly did not make.
    static let notChargedCode = "not_charged"

    /// What the gateway said, or that nobody knows yet.
    enum GatewayOutcome: Sendable {
        case settled(GatewayCharge)
        /// The gateway certainly made no charge under this key.
        case notCharged(reason: String)
        /// The gateway could not be asked, or does not know the charge yet; the charge stays pending.
        case unknown
        /// The charge was sent and no answer came back, nor from its look-up; the charge stays
        /// pending, marked as sent, so that reconciliation can tell it from one never sent.
        case unanswered
    }

    /// The primary card of an account with its gateway token, or FAILED_PRECONDITION saying why there
    /// is none to charge.
    static func primaryCard(of account: Account, in tx: some Querying, now: Date) throws -> (method: PaymentMethod, token: String) {
        guard let id = account.primaryPaymentMethodID else {
            throw BillingError.failedPrecondition(
                "the account has no primary card; add a card or choose a primary one", field: "payment_method_id", reason: .noPrimaryPaymentMethod)
        }
        let method = try PaymentMethodRecords.paymentMethod(id, accountID: account.id, in: tx, now: now)
        guard !method.isExpired else {
            throw BillingError.failedPrecondition(
                "the primary card ending \(method.last4) expired \(method.expiryMonth)/\(method.expiryYear); add a current card",
                field: "payment_method_id", reason: .primaryCardExpired)
        }
        let token = try PaymentMethodRecords.activeToken(id, accountID: account.id, in: tx)
        return (method, token)
    }

    /// Charges need complete billing information: FAILED_PRECONDITION naming what is missing.
    static func requireCompleteBillingInformation(_ accountID: String, in tx: some Querying) throws {
        let record = try AccountRecords.billingInformation(accountID, in: tx)
        guard record.isComplete else {
            throw BillingError.failedPrecondition(
                "the billing address is incomplete: \(record.missingForPayments.joined(separator: ", ")) missing; update the billing information first",
                field: "billing_information", reason: .billingAddressIncomplete)
        }
    }

    /// - Parameters:
    ///   - nowMilliseconds: the charge's date (the account's test clock, if it has one).
    ///   - wallMilliseconds: the wall clock, when it differs from `nowMilliseconds`.
    ///   - recordedBy: the daemon that will send it (``BillingContext/instanceName``).
    static func recordPending(
        accountID: String, amount: Money, card: PaymentMethod, description: String, purpose: Charge.Purpose,
        invoiceID: String?, recordedBy: String, in tx: WriteTransaction, nowMilliseconds: Int64, wallMilliseconds: Int64? = nil
    ) throws -> String {
        let id = Identifier.make("ch")
        try tx.execute("""
            INSERT INTO charges(id, account_id, amount_minor, currency, status, payment_method_id, card_brand, card_last4,
                                description, purpose, invoice_id, created_at_ms, recorded_at_ms, recorded_by)
            VALUES (?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, .text(id), .text(accountID), .integer(amount.amountMinor), .text(amount.currency.code), .text(card.id),
            .text(card.brand.rawValue), .text(card.last4), .text(description), .text(purpose.rawValue), SQLValue(invoiceID), .integer(nowMilliseconds),
            .integer(wallMilliseconds ?? nowMilliseconds), .text(recordedBy))
        return id
    }

    /// Charges the card under the charge id as the gateway's idempotency key; a lost answer is looked
    /// up under the same key. Safe to call again for the same pending charge: the gateway deduplicates
    /// on the key, so a second call returns the first charge instead of making another.
    static func callGateway(_ gateway: any PaymentGateway, chargeID: String, token: String, amount: Money, description: String) async -> GatewayOutcome {
        do {
            return .settled(try await gateway.charge(token: token, amount: amount, idempotencyKey: chargeID, description: description))
        } catch {
            let found = await lookUp(gateway, chargeID: chargeID)
            if case .unknown = found { return .unanswered }
            return found
        }
    }

    /// Asks the gateway what became of the charge made under `chargeID`. A charge it does not find is
    /// `.unknown`, never `.notCharged`: a processor's look-up can lag behind its charges, so only the
    /// reconciler, once a charge is old enough, may conclude that nothing was charged.
    static func lookUp(_ gateway: any PaymentGateway, chargeID: String) async -> GatewayOutcome {
        do {
            guard let charge = try await gateway.lookUpCharge(idempotencyKey: chargeID) else { return .unknown }
            return .settled(charge)
        } catch {
            return .unknown
        }
    }

    /// Runs `work` to its end even if the calling task is cancelled (the caller's deadline passed, or
    /// it went away): once a charge is recorded pending and sent, its outcome must be recorded, or the
    /// money moves without its credit until reconciliation.
    static func uncancellable<T: Sendable>(_ work: @escaping @Sendable () async throws -> T) async throws -> T {
        try await Task { try await work() }.value
    }

    /// Records the outcome of a pending charge. Returns the charge (still pending for `.unknown` and
    /// `.unanswered`) and whether this call settled it: only the call that settles a charge may act on
    /// it (credit a wallet, mark an invoice paid), so settling twice never credits twice.
    static func settle(_ chargeID: String, with outcome: GatewayOutcome, in tx: WriteTransaction, nowMilliseconds: Int64) throws -> (charge: Charge, settledNow: Bool) {
        var changed = 0
        switch outcome {
        case .settled(let result):
            changed = try tx.execute("""
                UPDATE charges SET status = ?, gateway_reference = ?, failure_code = ?, failure_message = ?, settled_at_ms = ?
                WHERE id = ? AND status = 'pending'
                """, .text(result.succeeded ? "succeeded" : "failed"), .text(result.reference), .text(result.failureCode ?? ""),
                .text(result.failureMessage ?? ""), .integer(nowMilliseconds), .text(chargeID))
        case .notCharged(let reason):
            changed = try tx.execute("""
                UPDATE charges SET status = 'failed', failure_code = ?, failure_message = ?, settled_at_ms = ?
                WHERE id = ? AND status = 'pending'
                """, .text(notChargedCode), .text(reason), .integer(nowMilliseconds), .text(chargeID))
        case .unknown:
            break
        case .unanswered:
            try tx.execute(
                "UPDATE charges SET unanswered_at_ms = ? WHERE id = ? AND status = 'pending'", .integer(nowMilliseconds), .text(chargeID))
        }
        return (try charge(chargeID, in: tx), changed > 0)
    }

    /// The error a caller sees for a charge that did not succeed.
    static func failure(of charge: Charge) -> BillingError {
        switch charge.status {
        case .failed where charge.failureCode == notChargedCode:
            return .unavailable("\(charge.failureMessage); retry later", reason: .gatewayUnavailable)
        case .failed:
            return BillingError(
                kind: .failedPrecondition,
                message: "the card ending \(charge.cardLast4) was declined (\(charge.failureCode)): \(charge.failureMessage); use another card or contact the card issuer",
                field: "payment_method_id", reason: .cardDeclined, declineCode: charge.failureCode)
        case .pending:
            return .unavailable(
                "the payment gateway has not answered yet; the charge \(charge.id) is pending and will be reconciled; "
                    + "a retry with the same idempotency key asks the gateway again and never charges twice",
                reason: .chargePending)
        case .succeeded:
            return .internalError("charge \(charge.id) succeeded")
        }
    }

    /// A charge still pending, ready to be sent again under its own gateway key (the gateway returns
    /// the first charge if it made one); nil when it is settled or its card's token is gone, and then
    /// it can only be looked up.
    static func resendable(_ chargeID: String, in tx: some Querying) throws -> PendingCharge? {
        let charge = try charge(chargeID, in: tx)
        guard charge.status == .pending, let methodID = charge.paymentMethodID,
            let token = try PaymentMethodRecords.token(of: methodID, in: tx)
        else { return nil }
        return PendingCharge(chargeID: chargeID, token: token, amount: charge.amount, description: charge.description)
    }

    /// The oldest charges still pending that were recorded (on the wall clock) at or before `cutoff`.
    static func pendingCharges(createdAtOrBefore cutoff: Int64, limit: Int, in tx: some Querying) throws -> [Charge] {
        try tx.query(
            "SELECT * FROM charges WHERE status = 'pending' AND coalesce(recorded_at_ms, created_at_ms) <= ? ORDER BY seq LIMIT ?", .integer(cutoff), .int(limit)
        ).map(charge(from:))
    }

    /// The card (brand, last four) of the succeeded charge that paid an invoice, the latest if several.
    static func payingCard(ofInvoice invoiceID: String, in tx: some Querying) throws -> (brand: String, last4: String)? {
        try tx.queryOne(
            "SELECT card_brand, card_last4 FROM charges WHERE invoice_id = ? AND status = 'succeeded' ORDER BY created_at_ms DESC, id DESC LIMIT 1",
            .text(invoiceID)
        ).map { (brand: try $0.string("card_brand"), last4: try $0.string("card_last4")) }
    }

    static func charge(_ id: String, in tx: some Querying) throws -> Charge {
        guard let row = try tx.queryOne("SELECT * FROM charges WHERE id = ?", .text(id)) else {
            throw BillingError.notFound("no charge with id \(id)")
        }
        return try charge(from: row)
    }

    static func charge(from row: Row) throws -> Charge {
        Charge(
            id: try row.string("id"), accountID: try row.string("account_id"),
            amount: Money(amountMinor: try row.int64("amount_minor"), currency: try Currency(code: try row.string("currency"))),
            status: Charge.Status(rawValue: try row.string("status")) ?? .pending,
            paymentMethodID: try row.optionalString("payment_method_id"),
            cardBrand: try row.string("card_brand"), cardLast4: try row.string("card_last4"),
            failureCode: try row.string("failure_code"), failureMessage: try row.string("failure_message"),
            gatewayReference: try row.string("gateway_reference"), description: try row.string("description"),
            purpose: Charge.Purpose(rawValue: try row.string("purpose")) ?? .invoicePayment,
            invoiceID: try row.optionalString("invoice_id"), createdAtMilliseconds: try row.int64("created_at_ms"),
            recordedAtMilliseconds: try row.optionalInt64("recorded_at_ms"),
            recordedBy: try row.optionalString("recorded_by"), unansweredAtMilliseconds: try row.optionalInt64("unanswered_at_ms"))
    }
}

/// A charge the caller's checks allowed, recorded as pending in the caller's transaction: what the
/// gateway needs to make it.
struct PendingCharge: Sendable {
    var chargeID: String
    var token: String
    var amount: Money
    var description: String
}
