import BillingGateway
import BillingStore
import Foundation

/// The billing domain as one object: the services a caller uses, and the work that runs beside the
/// calls — settling charges left pending, dropping expired idempotency keys, and telling a wallet that
/// its account has a new primary card. `billingd` builds one and runs its upkeep; the RPC handlers only
/// translate requests and replies.
public final class Billing: Sendable {
    public let accounts: AccountService
    public let paymentMethods: PaymentMethodService
    public let invoices: InvoiceService
    public let wallets: WalletService
    public let subscriptions: SubscriptionService
    /// The billing page at a glance, and why payments fail.
    public let diagnosis: DiagnosisService
    /// Renewals, retries, trial ends and expiries; test clocks; fulfilment delivery.
    public let scheduler: SubscriptionScheduler
    private let reconciler: ChargeReconciler
    private let context: BillingContext

    /// - Parameter fulfilment: who is told to provision, suspend, resume, change and terminate the
    ///   subscriptions of reselling products and marketplace apps.
    public init(context: BillingContext, walletPolicy: WalletPolicy = WalletPolicy(), fulfilment: (any FulfilmentProvider)? = nil) {
        self.context = context
        accounts = AccountService(context: context)
        paymentMethods = PaymentMethodService(context: context)
        invoices = InvoiceService(context: context)
        wallets = WalletService(context: context, policy: walletPolicy)
        scheduler = SubscriptionScheduler(context: context, provider: fulfilment)
        subscriptions = SubscriptionService(context: context, wallets: wallets, scheduler: scheduler)
        diagnosis = DiagnosisService(context: context, wallets: wallets)
        reconciler = ChargeReconciler(context: context, wallets: wallets)
    }

    // MARK: Upkeep

    /// What upkeep did.
    public struct Upkeep: Sendable, Hashable {
        public var reconciledCharges: Int
        public var purgedKeys: Int
    }

    /// Work to do before serving: settle charges a crash left pending, drop expired idempotency keys.
    /// With no call of this process in flight, a charge the gateway does not know is declared not
    /// charged once it is older than the gateway's look-up lag; on a database other daemons share,
    /// only if an earlier run of this daemon recorded it (another's may be in flight).
    public func prepare() async throws -> Upkeep {
        let inUse = try await context.store.read { tx in try PlansInUse.all(in: tx) }
        try context.catalog.checkPlansInUse(inUse)
        // What an earlier run of this daemon was doing when it stopped is no longer being done.
        _ = try await context.store.write { [holder = context.instanceName] tx in try Claims.releaseAll(heldBy: holder, in: tx) }
        return Upkeep(
            reconciledCharges: try await reconciler.reconcile(minimumAge: .zero, notChargedAfter: context.gateway.lookUpLag),
            purgedKeys: try await purgeExpiredIdempotencyKeys())
    }

    /// Work to do now and then while serving: settle charges whose gateway answer was lost at least a
    /// minute ago (an outage); one the gateway does not know is declared not charged after an hour (or
    /// the gateway's look-up lag, if longer), when no live call can still make it. And drop expired keys.
    public func maintain() async throws -> Upkeep {
        let upkeep = Upkeep(
            reconciledCharges: try await reconciler.reconcile(
                minimumAge: .seconds(60), notChargedAfter: max(ChargeReconciler.liveCallsMayLandWithin, context.gateway.lookUpLag)),
            purgedKeys: try await purgeExpiredIdempotencyKeys())
        await scheduler.deliverFulfilment(for: nil)
        return upkeep
    }

    /// The server is shutting down: end every wallet watch (they never finish by themselves).
    public func beginDrain() async {
        await wallets.endAllWatches()
    }

    /// Drops finished idempotency keys past their retention.
    private func purgeExpiredIdempotencyKeys() async throws -> Int {
        let cutoff = context.nowMilliseconds - Int64(IdempotencyKey.retention * 1000)
        return try await context.store.write { tx in try IdempotencyRecords.purge(olderThanMilliseconds: cutoff, in: tx) }
    }

    // MARK: Card changes

    /// Adds a card; when it becomes primary, the account's wallet hears of it (see `primaryCardChanged`).
    public func addPaymentMethod(accountID: String, card: CardDetails, makePrimary: Bool, idempotencyKey: String) async throws -> PaymentMethod {
        let method = try await paymentMethods.add(accountID: accountID, card: card, makePrimary: makePrimary, idempotencyKey: idempotencyKey)
        if method.isPrimary { await primaryCardChanged(accountID) }
        return method
    }

    public func setPrimaryPaymentMethod(accountID: String, paymentMethodID: String, idempotencyKey: String) async throws -> PaymentMethod {
        let method = try await paymentMethods.setPrimary(accountID: accountID, paymentMethodID: paymentMethodID, idempotencyKey: idempotencyKey)
        await primaryCardChanged(accountID)
        return method
    }

    /// A new primary card ends the wallet's recharge backoff and recharges a suspended wallet, and
    /// retries at once the open invoices of subscriptions waiting on a payment. The card
    /// change is durable and answered whatever this does: a wallet too busy to be told now reads the
    /// primary card afresh at its next recharge.
    private func primaryCardChanged(_ accountID: String) async {
        try? await wallets.primaryCardChanged(accountID: accountID)
        await scheduler.primaryCardChanged(accountID: accountID)
    }
}
