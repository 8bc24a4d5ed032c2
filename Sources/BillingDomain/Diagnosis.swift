import BillingStore
import Foundation

/// One thing that makes payments fail, or soon will, with how to fix it.
public struct Finding: Sendable, Hashable {
    public enum Severity: Int, Sendable, Hashable, Comparable {
        case info = 1, warning, error
        public static func < (lhs: Severity, rhs: Severity) -> Bool { lhs.rawValue < rhs.rawValue }
    }

    /// Stable codes, for programs (`billing.v1.Finding.code`).
    public enum Code: String, Sendable, Hashable, CaseIterable {
        case noPrimaryCard = "no_primary_card"
        case primaryCardExpired = "primary_card_expired"
        case primaryCardExpiring = "primary_card_expiring"
        case lastChargeDeclined = "last_charge_declined"
        case billingAddressIncomplete = "billing_address_incomplete"
        case walletSuspended = "wallet_suspended"
        case autoRechargeOff = "auto_recharge_off"
        case autoRechargeBackingOff = "auto_recharge_backing_off"
        case subscriptionIncomplete = "subscription_incomplete"
        case subscriptionPastDue = "subscription_past_due"
        case subscriptionUnpaid = "subscription_unpaid"
        case invoiceOverdue = "invoice_overdue"
    }

    public var code: Code
    public var severity: Severity
    public var message: String
    public var fix: String
    public var paymentMethodID: String?
    public var subscriptionID: String?
    public var invoiceID: String?
    public var chargeID: String?
    public var declineCode: String?
    public var retryCanHelp = false
    public var missingFields: [String] = []
    public var atMilliseconds: Int64?
    public var attemptsLeft: Int?
}

/// What the billing page shows at a glance.
public struct BillingOverview: Sendable {
    public var account: Account
    public var subscriptions: [Subscription]
    public var primaryPaymentMethod: PaymentMethod?
    public var billingInformation: BillingInformationRecord
    public var wallet: WalletView
    public var latestCharges: [Charge]
    public var openInvoices: [Invoice]
    public var findings: [Finding]
}

/// "Why are my payments failing?": the billing guide's troubleshooting, answered from the account's
/// state. Each finding is a fact of the store (or of the wallet's memory), never a guess: an account
/// with no problem gets none.
public struct DiagnosisService: Sendable {
    /// Cards expiring within this many days are reported.
    public static let expiryWarningDays: Int64 = 30

    let context: BillingContext
    let wallets: WalletService

    /// The page in one round trip: one read transaction of the store, and the wallet's backoff state
    /// from its actor.
    public func overview(accountID: String) async throws -> BillingOverview {
        try Identifier.validate(accountID, prefix: "acct", field: "account_id")
        let wallet = try await wallets.view(accountID: accountID)
        let context = context
        return try await context.store.read { tx in
            let account = try AccountRecords.account(accountID, in: tx)
            let now = try SubscriptionClock.now(of: accountID, in: tx, wall: context.nowMilliseconds)
            var current = wallet
            // The balance and suspension as this read sees them, beside everything else it shows.
            if let balance = try WalletLedger.balance(of: accountID, in: tx) { current.balance = Money(amountMinor: balance, currency: account.currency) }
            current.serviceStatus = account.serviceStatus
            current.suspensionReason = account.suspensionReason
            let primary = try account.primaryPaymentMethodID.map {
                try PaymentMethodRecords.paymentMethod($0, accountID: accountID, in: tx, now: Date(unixMilliseconds: context.nowMilliseconds))
            }
            let subscriptions = try tx.query(
                "SELECT * FROM subscriptions WHERE account_id = ? AND status NOT IN ('canceled', 'incomplete_expired') ORDER BY seq DESC LIMIT 100",
                .text(accountID)
            ).map { try SubscriptionRecords.subscription(from: $0, catalog: context.catalog, in: tx) }
            let charges = try tx.query("SELECT * FROM charges WHERE account_id = ? ORDER BY seq DESC LIMIT 5", .text(accountID))
                .map(ChargeLifecycle.charge(from:))
            let invoices = try tx.query(
                "SELECT * FROM invoices WHERE account_id = ? AND status = 'open' ORDER BY due_at_ms, seq LIMIT 20", .text(accountID)
            ).map { try InvoiceRecords.invoice(from: $0, in: tx) }
            var overview = BillingOverview(
                account: account, subscriptions: subscriptions, primaryPaymentMethod: primary,
                billingInformation: try AccountRecords.billingInformation(accountID, in: tx), wallet: current, latestCharges: charges,
                openInvoices: invoices, findings: [])
            overview.findings = Self.findings(of: overview, now: now, wallNow: context.nowMilliseconds, policy: context.subscriptionPolicy)
            return overview
        }
    }

    public func diagnose(accountID: String) async throws -> [Finding] {
        try await overview(accountID: accountID).findings
    }

    /// The findings of an overview, most severe first.
    static func findings(of overview: BillingOverview, now: Int64, wallNow: Int64, policy: SubscriptionPolicy) -> [Finding] {
        var findings: [Finding] = []
        // The `billing` commands that fix each finding, with this account filled in.
        let account = overview.account.id
        let addCard = "billing cards add \(account) --number … --exp MM/YYYY --cvc … --primary"
        // The card.
        if let card = overview.primaryPaymentMethod {
            let expiresAt = BillingCycle.days(fromCivil: Int64(card.expiryYear), Int64(card.expiryMonth) + 1, 1) * BillingCycle.millisecondsPerDay
            let ending = "the primary card \(card.brand.rawValue) ending \(card.last4)"
            if card.isExpired {
                findings.append(Finding(
                    code: .primaryCardExpired, severity: .error, message: "\(ending.capitalizedFirst) expired at the end of \(card.expiryMonth)/\(card.expiryYear).",
                    fix: "Add a current card and make it primary: AddPaymentMethod with make_primary (\(addCard)).",
                    paymentMethodID: card.id, atMilliseconds: expiresAt))
            } else if expiresAt - wallNow <= Self.expiryWarningDays * BillingCycle.millisecondsPerDay {
                findings.append(Finding(
                    code: .primaryCardExpiring, severity: .warning,
                    message: "\(ending.capitalizedFirst) expires at the end of \(card.expiryMonth)/\(card.expiryYear), within \(Self.expiryWarningDays) days.",
                    fix: "Add the renewed card and make it primary: AddPaymentMethod with make_primary (\(addCard)).",
                    paymentMethodID: card.id, atMilliseconds: expiresAt))
            }
        } else {
            findings.append(Finding(
                code: .noPrimaryCard, severity: .error, message: "The account has no primary card, so nothing can be charged.",
                fix: "Add a card and make it primary: AddPaymentMethod with make_primary (\(addCard))."))
        }
        // The latest charge.
        if let last = overview.latestCharges.first, last.status == .failed {
            let code = last.failureCode
            // Retrying cannot help a hard decline (the card is stolen, lost, closed) or an expired card.
            let canHelp = code != "expired_card" && !policy.hardDeclineCodes.contains(code)
            findings.append(Finding(
                code: .lastChargeDeclined, severity: .error,
                message: "The last charge (\(last.description), \(last.amount.formatted)) failed: \(code)"
                    + (canHelp ? "; retrying may succeed." : "; retrying this card will not help."),
                fix: canHelp
                    ? "Retry the payment, or make another card primary: AddPaymentMethod with make_primary (\(addCard))."
                    : "Use another card: AddPaymentMethod with make_primary (\(addCard)).",
                paymentMethodID: last.paymentMethodID, chargeID: last.id, declineCode: code, retryCanHelp: canHelp))
        }
        // The address.
        if !overview.billingInformation.isComplete {
            let missing = overview.billingInformation.missingForPayments
            findings.append(Finding(
                code: .billingAddressIncomplete, severity: .error,
                message: "The billing information is incomplete (\(missing.joined(separator: ", ")) missing), so charges are refused.",
                fix: "Complete it: UpdateBillingInformation (billing info update \(account) --name … --country … --line … --city … --postal-code …).",
                missingFields: missing))
        }
        // The wallet.
        let wallet = overview.wallet
        if wallet.serviceStatus == .suspended {
            findings.append(Finding(
                code: .walletSuspended, severity: .error,
                message: "Usage-based services are suspended: \(wallet.suspensionReason.isEmpty ? "the wallet is at zero" : wallet.suspensionReason).",
                fix: "Add funds: AddBalance (billing wallet add \(account) --amount …)"
                    + (wallet.autoRecharge.isEnabled ? ", or make a working card primary to recharge at once." : ".")))
            if !wallet.autoRecharge.isEnabled {
                findings.append(Finding(
                    code: .autoRechargeOff, severity: .warning,
                    message: "Auto-recharge is off, so the wallet stays at zero until funds are added.",
                    fix: "Turn it on: ConfigureAutoRecharge (billing wallet auto-recharge \(account) --amount … --threshold …)."))
            }
        }
        if wallet.autoRecharge.isEnabled, let until = wallet.rechargeRetryAfterMilliseconds, until > wallNow {
            findings.append(Finding(
                code: .autoRechargeBackingOff, severity: .warning,
                message: "Auto-recharge failed \(wallet.consecutiveRechargeFailures) time(s) in a row and waits before trying again.",
                fix: "Make a working card primary (SetPrimaryPaymentMethod; billing cards set-primary \(account) CARD): that ends the wait.",
                atMilliseconds: until))
        }
        // Subscriptions.
        for subscription in overview.subscriptions {
            let name = "\(subscription.plan.name) (\(subscription.id))"
            switch subscription.status {
            case .incomplete:
                findings.append(Finding(
                    code: .subscriptionIncomplete, severity: .error,
                    message: "The first payment of \(name) failed; it expires unless its invoice is paid in time.",
                    fix: "Pay its invoice (PayInvoice; billing invoices pay \(account) \(subscription.latestInvoiceID ?? "INVOICE")), or make a working card primary, which retries at once.",
                    subscriptionID: subscription.id, invoiceID: subscription.latestInvoiceID, atMilliseconds: subscription.incompleteExpiresAtMilliseconds))
            case .pastDue:
                let left = max(0, policy.retryDelays.count - subscription.paymentAttempts)
                findings.append(Finding(
                    code: .subscriptionPastDue, severity: .error,
                    message: subscription.awaitingNewCard
                        ? "The renewal of \(name) was declined in a way no retry can fix; payment waits for a new card."
                        : "The renewal of \(name) failed; \(left) scheduled attempt(s) left.",
                    fix: "Make a working card primary (\(addCard)): the payment is retried at once.",
                    subscriptionID: subscription.id, invoiceID: subscription.latestInvoiceID,
                    atMilliseconds: subscription.nextPaymentAttemptMilliseconds, attemptsLeft: left))
            case .unpaid:
                findings.append(Finding(
                    code: .subscriptionUnpaid, severity: .error,
                    message: "\(name) is unpaid: its payment retries ran out and what it provides is suspended until a renewal is paid.",
                    fix: "Make a working card primary (\(addCard)) before the next renewal.",
                    subscriptionID: subscription.id, atMilliseconds: subscription.nextRenewalMilliseconds))
            case .trialing, .active, .canceled, .incompleteExpired:
                break
            }
        }
        // Invoices past due (those of subscriptions are covered above).
        for invoice in overview.openInvoices where invoice.subscriptionID == nil {
            guard let due = invoice.dueAtMilliseconds, due < wallNow else { continue }
            findings.append(Finding(
                code: .invoiceOverdue, severity: .warning,
                message: "Invoice \(invoice.number ?? invoice.id) (\(invoice.amountDue.formatted) due) is past its due date.",
                fix: "Pay it: PayInvoice (billing invoices pay \(account) \(invoice.id)).", invoiceID: invoice.id, atMilliseconds: due))
        }
        return findings.enumerated().sorted { ($0.element.severity, -$0.offset) > ($1.element.severity, -$1.offset) }.map(\.element)
    }
}

extension String {
    fileprivate var capitalizedFirst: String { prefix(1).uppercased() + dropFirst() }
}
