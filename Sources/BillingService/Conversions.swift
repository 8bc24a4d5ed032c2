import BillingAPI
import BillingDomain

/// Domain values → `billing.v1` messages. One function per type, so every reply shows a value the same way.
enum Reply {
    static func money(_ money: Money) -> BillingV1.Money {
        BillingV1.Money(amountMinor: money.amountMinor, currency: money.currency.code)
    }

    static func account(_ account: Account) -> BillingV1.Account {
        BillingV1.Account(
            id: account.id, displayName: account.displayName, currency: account.currency.code,
            createdAtUnixMs: account.createdAtMilliseconds,
            serviceStatus: account.serviceStatus == .active ? .active : .suspended,
            suspensionReason: account.suspensionReason, testClockID: account.testClockID ?? "")
    }

    static func billingInformation(_ record: BillingInformationRecord) -> BillingV1.BillingInformation {
        var message = record.information.map(billingInformation) ?? BillingV1.BillingInformation()
        message.complete = record.isComplete
        message.missingFields = record.missingForPayments
        message.updatedAtUnixMs = record.updatedAtMilliseconds ?? 0
        return message
    }

    static func billingInformation(_ information: BillingInformation) -> BillingV1.BillingInformation {
        BillingV1.BillingInformation(
            fullName: information.fullName, countryCode: information.countryCode,
            address: BillingV1.BillingAddress(
                lines: information.address.lines, city: information.address.city, region: information.address.region,
                postalCode: information.address.postalCode),
            complete: information.isComplete, missingFields: information.missingForPayments)
    }

    static func paymentMethod(_ method: PaymentMethod) -> BillingV1.PaymentMethod {
        BillingV1.PaymentMethod(
            id: method.id, brand: method.brand.rawValue, last4: method.last4, expiryMonth: UInt32(method.expiryMonth),
            expiryYear: UInt32(method.expiryYear), holderName: method.holderName, primary: method.isPrimary,
            expired: method.isExpired, createdAtUnixMs: method.createdAtMilliseconds)
    }

    static func charge(_ charge: Charge) -> BillingV1.Charge {
        BillingV1.Charge(
            id: charge.id, amount: money(charge.amount), status: chargeStatus(charge.status),
            paymentMethodID: charge.paymentMethodID ?? "", cardBrand: charge.cardBrand, cardLast4: charge.cardLast4,
            failureCode: charge.failureCode, failureMessage: charge.failureMessage, gatewayReference: charge.gatewayReference,
            description: charge.description, invoiceID: charge.invoiceID ?? "", createdAtUnixMs: charge.createdAtMilliseconds)
    }

    static func chargeStatus(_ status: Charge.Status) -> BillingV1.ChargeStatus {
        switch status {
        case .pending: .pending
        case .succeeded: .succeeded
        case .failed: .failed
        }
    }

    static func invoice(_ invoice: Invoice) -> BillingV1.Invoice {
        BillingV1.Invoice(
            id: invoice.id, number: invoice.number ?? "", status: invoiceStatus(invoice.status),
            lines: invoice.lines.map(invoiceLine),
            subtotal: money(invoice.subtotal), tax: money(invoice.tax), total: money(invoice.total),
            amountPaid: money(invoice.amountPaid), amountDue: money(invoice.amountDue),
            billedTo: invoice.billedTo.map(billingInformation), createdAtUnixMs: invoice.createdAtMilliseconds,
            finalizedAtUnixMs: invoice.finalizedAtMilliseconds ?? 0, dueAtUnixMs: invoice.dueAtMilliseconds ?? 0,
            paidAtUnixMs: invoice.paidAtMilliseconds ?? 0, memo: invoice.memo, subscriptionID: invoice.subscriptionID ?? "",
            periodStartUnixMs: invoice.periodStartMilliseconds ?? 0, periodEndUnixMs: invoice.periodEndMilliseconds ?? 0,
            billingReason: invoice.billingReason.rawValue)
    }

    static func invoiceLine(_ line: Invoice.Line) -> BillingV1.InvoiceLine {
        BillingV1.InvoiceLine(description: line.description, quantity: line.quantity, unitAmount: money(line.unitAmount), amount: money(line.amount))
    }

    static func plan(_ plan: Plan) -> BillingV1.Plan {
        BillingV1.Plan(
            id: plan.id, name: plan.name, kind: planKind(plan.kind), intervalUnit: plan.intervalUnit == .month ? .month : .year,
            intervalCount: UInt32(clamping: plan.intervalCount), unitAmount: money(plan.unitAmount), minQuantity: UInt32(clamping: plan.minQuantity),
            maxQuantity: UInt32(clamping: plan.maxQuantity), trialDays: UInt32(clamping: plan.trialDays), provider: plan.provider ?? "",
            retired: plan.retired, description: plan.description)
    }

    static func planKind(_ kind: Plan.Kind) -> BillingV1.PlanKind {
        switch kind {
        case .saasPlan: .saasPlan
        case .resellingProduct: .resellingProduct
        case .marketplaceApp: .marketplaceApp
        }
    }

    static func subscription(_ subscription: Subscription) -> BillingV1.Subscription {
        var message = BillingV1.Subscription()
        message.id = subscription.id
        message.accountID = subscription.accountID
        message.plan = plan(subscription.plan)
        message.quantity = UInt32(clamping: subscription.quantity)
        message.status = subscriptionStatus(subscription.status)
        message.currentPeriodStartUnixMs = subscription.periodStartMilliseconds
        message.currentPeriodEndUnixMs = subscription.periodEndMilliseconds
        message.billingCycleAnchorUnixMs = subscription.anchorMilliseconds
        message.trialEndUnixMs = subscription.trialEndMilliseconds ?? 0
        message.cancelAtPeriodEnd = subscription.cancelAtPeriodEnd
        message.canceledAtUnixMs = subscription.canceledAtMilliseconds ?? 0
        message.endedAtUnixMs = subscription.endedAtMilliseconds ?? 0
        message.pendingChange = subscription.pendingChange.map {
            BillingV1.PendingChange(planID: $0.planID, quantity: UInt32(clamping: $0.quantity), effectiveAtUnixMs: $0.effectiveAtMilliseconds)
        }
        message.latestInvoiceID = subscription.latestInvoiceID ?? ""
        message.nextRenewalUnixMs = subscription.nextRenewalMilliseconds ?? 0
        message.nextRenewalAmount = subscription.nextRenewalAmount.map(money)
        message.paymentAttempts = UInt32(clamping: subscription.paymentAttempts)
        message.nextPaymentAttemptUnixMs = subscription.nextPaymentAttemptMilliseconds ?? 0
        message.awaitingNewCard = subscription.awaitingNewCard
        message.fulfilmentState = fulfilmentState(subscription.fulfilmentState)
        message.fulfilmentInProgress = subscription.fulfilmentInProgress
        message.createdAtUnixMs = subscription.createdAtMilliseconds
        message.incompleteExpiresAtUnixMs = subscription.incompleteExpiresAtMilliseconds ?? 0
        return message
    }

    static func subscriptionResponse(_ outcome: SubscriptionOutcome) -> BillingV1.SubscriptionResponse {
        BillingV1.SubscriptionResponse(
            subscription: subscription(outcome.subscription), latestInvoice: outcome.invoice.map(invoice), latestCharge: outcome.charge.map(charge),
            credit: outcome.credit.map(walletTransaction))
    }

    static func subscriptionStatus(_ status: Subscription.Status) -> BillingV1.SubscriptionStatus {
        switch status {
        case .incomplete: .incomplete
        case .incompleteExpired: .incompleteExpired
        case .trialing: .trialing
        case .active: .active
        case .pastDue: .pastDue
        case .unpaid: .unpaid
        case .canceled: .canceled
        }
    }

    static func subscriptionStatusValue(_ status: BillingV1.SubscriptionStatus) -> Subscription.Status? {
        Subscription.Status.allCases.first { subscriptionStatus($0) == status }
    }

    static func fulfilmentState(_ state: Subscription.FulfilmentState) -> BillingV1.FulfilmentState {
        switch state {
        case .notApplicable: .notApplicable
        case .pending: .pending
        case .provisioned: .provisioned
        case .suspended: .suspended
        case .terminated: .terminated
        }
    }

    static func changeTiming(_ timing: ChangeTiming) -> BillingV1.ChangeTiming {
        switch timing {
        case .immediate: .immediate
        case .atPeriodEnd: .atPeriodEnd
        case .withdrawPending: .withdrawPending
        }
    }

    static func finding(_ finding: Finding) -> BillingV1.Finding {
        let severity: BillingV1.FindingSeverity =
            switch finding.severity {
            case .info: .info
            case .warning: .warning
            case .error: .error
            }
        return BillingV1.Finding(
            code: finding.code.rawValue, severity: severity, message: finding.message, fix: finding.fix,
            paymentMethodID: finding.paymentMethodID ?? "", subscriptionID: finding.subscriptionID ?? "", invoiceID: finding.invoiceID ?? "",
            chargeID: finding.chargeID ?? "", declineCode: finding.declineCode ?? "", retryCanHelp: finding.retryCanHelp,
            missingFields: finding.missingFields, atUnixMs: finding.atMilliseconds ?? 0, attemptsLeft: UInt32(clamping: finding.attemptsLeft ?? 0))
    }

    static func testClock(_ clock: TestClock) -> BillingV1.TestClock {
        BillingV1.TestClock(id: clock.id, name: clock.name, frozenTimeUnixMs: clock.frozenTimeMilliseconds, createdAtUnixMs: clock.createdAtMilliseconds)
    }

    static func wallet(_ view: WalletView) -> BillingV1.Wallet {
        BillingV1.Wallet(
            accountID: view.accountID, balance: money(view.balance),
            autoRecharge: BillingV1.AutoRecharge(
                enabled: view.autoRecharge.isEnabled, rechargeAmount: money(view.autoRecharge.amount), threshold: money(view.autoRecharge.threshold)),
            serviceStatus: view.serviceStatus == .active ? .active : .suspended, suspensionReason: view.suspensionReason,
            lastRechargeAtUnixMs: view.lastRechargeAtMilliseconds ?? 0, lastRechargeChargeID: view.lastRechargeChargeID ?? "",
            pendingRecharge: view.pendingRecharge.map(money), consecutiveRechargeFailures: UInt32(clamping: view.consecutiveRechargeFailures),
            rechargeRetryAfterUnixMs: view.rechargeRetryAfterMilliseconds ?? 0,
            creditsThisMonth: money(view.creditsThisMonth), debitsThisMonth: money(view.debitsThisMonth))
    }

    static func walletTransaction(_ transaction: WalletTransaction) -> BillingV1.WalletTransaction {
        let source: BillingV1.WalletTransactionSource =
            switch transaction.source {
            case .topUp: .topUp
            case .autoRecharge: .autoRecharge
            case .usage: .usage
            case .adjustment: .adjustment
            }
        return BillingV1.WalletTransaction(
            id: transaction.id, amount: money(transaction.amount), balanceAfter: money(transaction.balanceAfter),
            category: transaction.category, description: transaction.description, source: source,
            chargeID: transaction.chargeID ?? "", usageID: transaction.usageID ?? "", createdAtUnixMs: transaction.createdAtMilliseconds)
    }

    static func walletEvent(_ event: WalletEvent) -> BillingV1.WalletEvent {
        switch event {
        case .balanceChanged(let transaction):
            BillingV1.WalletEvent(kind: .balanceChanged, transaction: walletTransaction(transaction))
        case .rechargeStarted(let amount):
            BillingV1.WalletEvent(kind: .rechargeStarted, amount: money(amount))
        case .rechargeSucceeded(let chargeID, let amount):
            BillingV1.WalletEvent(kind: .rechargeSucceeded, amount: money(amount), chargeID: chargeID)
        case .rechargeFailed(let reason, let retryAfter):
            BillingV1.WalletEvent(kind: .rechargeFailed, reason: reason, retryAfterUnixMs: retryAfter ?? 0)
        case .suspended(let reason):
            BillingV1.WalletEvent(kind: .suspended, reason: reason)
        case .restored:
            BillingV1.WalletEvent(kind: .restored)
        }
    }

    /// The domain's (and the database's) name of a wire status, for filters.
    static func invoiceStatusName(_ status: BillingV1.InvoiceStatus) -> String {
        Invoice.Status.allCases.first { invoiceStatus($0) == status }?.rawValue ?? ""
    }

    static func chargeStatusName(_ status: BillingV1.ChargeStatus) -> String {
        Charge.Status.allCases.first { chargeStatus($0) == status }?.rawValue ?? ""
    }

    static func invoiceStatus(_ status: Invoice.Status) -> BillingV1.InvoiceStatus {
        switch status {
        case .draft: .draft
        case .open: .open
        case .paid: .paid
        case .void: .void
        case .uncollectible: .uncollectible
        }
    }
}

/// `billing.v1` messages → domain values, with the checks only the wire needs (unspecified enums,
/// zero meaning "no bound").
enum Request {
    static func money(_ money: BillingV1.Money?, field: String) throws -> Money {
        guard let money else { throw BillingError.invalidArgument("\(field) is required", field: field) }
        return Money(amountMinor: money.amountMinor, currency: try Currency(code: money.currency, field: "\(field).currency"))
    }

    static func billingInformation(_ request: BillingV1.UpdateBillingInformationRequest) -> BillingInformation {
        let address = request.address ?? BillingV1.BillingAddress()
        return BillingInformation(
            fullName: request.fullName, countryCode: request.countryCode,
            address: BillingAddress(lines: address.lines, city: address.city, region: address.region, postalCode: address.postalCode))
    }

    static func filter<Status: Equatable>(
        statuses: [Status], unspecified: Status, name: (Status) -> String, from: Int64, before: Int64
    ) throws -> HistoryFilter {
        guard !statuses.contains(unspecified) else {
            throw BillingError.invalidArgument("statuses must not contain the UNSPECIFIED value", field: "statuses")
        }
        return try HistoryFilter(
            statuses: statuses.map(name), createdFromMilliseconds: from == 0 ? nil : from, createdBeforeMilliseconds: before == 0 ? nil : before)
    }

    /// Unspecified means every kind; an unknown value is refused.
    static func planKind(_ kind: BillingV1.PlanKind, field: String) throws -> Plan.Kind? {
        switch kind {
        case .unspecified: return nil
        case .saasPlan: return .saasPlan
        case .resellingProduct: return .resellingProduct
        case .marketplaceApp: return .marketplaceApp
        @unknown default: throw BillingError.invalidArgument("\(field) is not a known plan kind", field: field)
        }
    }
}
