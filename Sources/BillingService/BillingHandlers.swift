import BillingAPI
import BillingDomain
import BillingServer
import BillingWire

/// `billing.v1.BillingService`: one handler per RPC, each a typed request → domain call → typed reply.
/// Routing comes from the generated `BillingServiceHandlers`; errors map in ErrorMapping.swift.
public struct BillingHandlers: BillingServiceHandlers {
    let billing: Billing
    private var accounts: AccountService { billing.accounts }
    private var paymentMethods: PaymentMethodService { billing.paymentMethods }
    private var invoices: InvoiceService { billing.invoices }
    private var wallets: WalletService { billing.wallets }
    private var subscriptions: SubscriptionService { billing.subscriptions }

    public init(billing: Billing) {
        self.billing = billing
    }

    /// Wallet watches end with the drain (they never finish by themselves).
    public func beginDrain() async {
        await billing.beginDrain()
    }

    /// The methods that only read: a read-only caller (`billingd --read-only-uid`) may call these and no
    /// other. Every other method takes an idempotency key (or a usage id) and changes the account; a test
    /// keeps the two lists apart.
    public static let readOnlyMethods: Set<BillingV1.BillingService.Method> = [
        .getAccount, .getBillingInformation, .listPaymentMethods, .getInvoice, .listInvoices, .downloadInvoicePdf, .listCharges,
        .getWallet, .listWalletTransactions, .summarizeWalletTransactions, .watchWallet,
        .listPlans, .getSubscription, .listSubscriptions, .previewSubscriptionChange, .getTestClock,
        .getBillingOverview, .diagnosePayments,
    ]

    public func isReadOnly(method: String) -> Bool {
        BillingV1.BillingService.Method(rawValue: method).map(Self.readOnlyMethods.contains) ?? false
    }

    // MARK: Accounts

    public func createAccount(_ request: BillingV1.CreateAccountRequest, context: CallContext) async throws -> BillingV1.AccountResponse {
        let account = try await accounts.createAccount(
            displayName: request.displayName, currencyCode: request.currency, testClockID: request.testClockID.isEmpty ? nil : request.testClockID,
            idempotencyKey: request.idempotencyKey)
        return BillingV1.AccountResponse(account: Reply.account(account))
    }

    public func getAccount(_ request: BillingV1.GetAccountRequest, context: CallContext) async throws -> BillingV1.AccountResponse {
        BillingV1.AccountResponse(account: Reply.account(try await accounts.account(id: request.accountID)))
    }

    // MARK: Billing information

    public func getBillingInformation(_ request: BillingV1.GetBillingInformationRequest, context: CallContext) async throws -> BillingV1.BillingInformationResponse {
        let record = try await accounts.billingInformation(accountID: request.accountID)
        return BillingV1.BillingInformationResponse(billingInformation: Reply.billingInformation(record))
    }

    public func updateBillingInformation(_ request: BillingV1.UpdateBillingInformationRequest, context: CallContext) async throws -> BillingV1.BillingInformationResponse {
        let record = try await accounts.updateBillingInformation(
            accountID: request.accountID, information: Request.billingInformation(request), idempotencyKey: request.idempotencyKey)
        return BillingV1.BillingInformationResponse(billingInformation: Reply.billingInformation(record))
    }

    // MARK: Payment methods

    public func addPaymentMethod(_ request: BillingV1.AddPaymentMethodRequest, context: CallContext) async throws -> BillingV1.PaymentMethodResponse {
        guard let card = request.card else { throw BillingError.invalidArgument("card is required", field: "card") }
        let details = CardDetails(
            number: card.number, expiryMonth: Int(card.expiryMonth), expiryYear: Int(card.expiryYear), cvc: card.cvc, holderName: card.holderName)
        let method = try await billing.addPaymentMethod(
            accountID: request.accountID, card: details, makePrimary: request.makePrimary, idempotencyKey: request.idempotencyKey)
        return BillingV1.PaymentMethodResponse(paymentMethod: Reply.paymentMethod(method))
    }

    public func removePaymentMethod(_ request: BillingV1.RemovePaymentMethodRequest, context: CallContext) async throws -> BillingV1.RemovePaymentMethodResponse {
        let removal = try await paymentMethods.remove(
            accountID: request.accountID, paymentMethodID: request.paymentMethodID, idempotencyKey: request.idempotencyKey)
        return BillingV1.RemovePaymentMethodResponse(
            removedPaymentMethodID: removal.removedPaymentMethodID, removedPrimary: removal.removedPrimary,
            hasPrimary: removal.hasPrimary, notice: removal.notice)
    }

    public func setPrimaryPaymentMethod(_ request: BillingV1.SetPrimaryPaymentMethodRequest, context: CallContext) async throws -> BillingV1.PaymentMethodResponse {
        let method = try await billing.setPrimaryPaymentMethod(
            accountID: request.accountID, paymentMethodID: request.paymentMethodID, idempotencyKey: request.idempotencyKey)
        return BillingV1.PaymentMethodResponse(paymentMethod: Reply.paymentMethod(method))
    }

    public func listPaymentMethods(_ request: BillingV1.ListPaymentMethodsRequest, context: CallContext) async throws -> BillingV1.ListPaymentMethodsResponse {
        let methods = try await paymentMethods.list(accountID: request.accountID)
        return BillingV1.ListPaymentMethodsResponse(
            paymentMethods: methods.map(Reply.paymentMethod), primaryPaymentMethodID: methods.first(where: \.isPrimary)?.id ?? "")
    }

    // MARK: Invoices and charges

    public func createInvoice(_ request: BillingV1.CreateInvoiceRequest, context: CallContext) async throws -> BillingV1.InvoiceResponse {
        let lines = try request.lines.enumerated().map { index, line in
            InvoiceLineRequest(
                description: line.description, quantity: line.quantity,
                unitAmount: try Request.money(line.unitAmount, field: "lines[\(index)].unit_amount"))
        }
        let invoice = try await invoices.create(
            accountID: request.accountID, lines: lines, memo: request.memo, daysUntilDue: Int(request.daysUntilDue),
            idempotencyKey: request.idempotencyKey)
        return BillingV1.InvoiceResponse(invoice: Reply.invoice(invoice))
    }

    public func finalizeInvoice(_ request: BillingV1.InvoiceActionRequest, context: CallContext) async throws -> BillingV1.InvoiceResponse {
        let invoice = try await invoices.finalize(accountID: request.accountID, invoiceID: request.invoiceID, idempotencyKey: request.idempotencyKey)
        return BillingV1.InvoiceResponse(invoice: Reply.invoice(invoice))
    }

    public func payInvoice(_ request: BillingV1.InvoiceActionRequest, context: CallContext) async throws -> BillingV1.InvoiceResponse {
        let payment = try await invoices.pay(accountID: request.accountID, invoiceID: request.invoiceID, idempotencyKey: request.idempotencyKey)
        return BillingV1.InvoiceResponse(invoice: Reply.invoice(payment.invoice), charge: Reply.charge(payment.charge))
    }

    public func voidInvoice(_ request: BillingV1.InvoiceActionRequest, context: CallContext) async throws -> BillingV1.InvoiceResponse {
        let invoice = try await invoices.void(accountID: request.accountID, invoiceID: request.invoiceID, idempotencyKey: request.idempotencyKey)
        return BillingV1.InvoiceResponse(invoice: Reply.invoice(invoice))
    }

    public func markInvoiceUncollectible(_ request: BillingV1.InvoiceActionRequest, context: CallContext) async throws -> BillingV1.InvoiceResponse {
        let invoice = try await invoices.markUncollectible(
            accountID: request.accountID, invoiceID: request.invoiceID, idempotencyKey: request.idempotencyKey)
        return BillingV1.InvoiceResponse(invoice: Reply.invoice(invoice))
    }

    public func getInvoice(_ request: BillingV1.GetInvoiceRequest, context: CallContext) async throws -> BillingV1.InvoiceResponse {
        let invoice = try await invoices.invoice(
            accountID: request.accountID, invoiceID: request.invoiceID.isEmpty ? nil : request.invoiceID,
            number: request.number.isEmpty ? nil : request.number)
        return BillingV1.InvoiceResponse(invoice: Reply.invoice(invoice))
    }

    public func listInvoices(_ request: BillingV1.ListInvoicesRequest, context: CallContext) async throws -> BillingV1.ListInvoicesResponse {
        let filter = try Request.filter(
            statuses: request.statuses, unspecified: .unspecified, name: Reply.invoiceStatusName,
            from: request.createdFromUnixMs, before: request.createdBeforeUnixMs)
        let page = try await invoices.list(
            accountID: request.accountID, filter: filter, page: try PageRequest(size: Int(request.pageSize), token: request.pageToken))
        return BillingV1.ListInvoicesResponse(invoices: page.items.map(Reply.invoice), nextPageToken: page.nextPageToken)
    }

    public func downloadInvoicePdf(_ request: BillingV1.DownloadInvoicePdfRequest, context: CallContext) async throws -> BillingV1.DownloadInvoicePdfResponse {
        let (fileName, bytes) = try await invoices.pdf(accountID: request.accountID, invoiceID: request.invoiceID)
        return BillingV1.DownloadInvoicePdfResponse(pdf: bytes, fileName: fileName)
    }

    public func listCharges(_ request: BillingV1.ListChargesRequest, context: CallContext) async throws -> BillingV1.ListChargesResponse {
        let filter = try Request.filter(
            statuses: request.statuses, unspecified: .unspecified, name: Reply.chargeStatusName,
            from: request.createdFromUnixMs, before: request.createdBeforeUnixMs)
        let page = try await invoices.listCharges(
            accountID: request.accountID, filter: filter, page: try PageRequest(size: Int(request.pageSize), token: request.pageToken))
        return BillingV1.ListChargesResponse(charges: page.items.map(Reply.charge), nextPageToken: page.nextPageToken)
    }

    // MARK: Wallet

    public func getWallet(_ request: BillingV1.GetWalletRequest, context: CallContext) async throws -> BillingV1.WalletResponse {
        BillingV1.WalletResponse(wallet: Reply.wallet(try await wallets.view(accountID: request.accountID)))
    }

    public func addBalance(_ request: BillingV1.AddBalanceRequest, context: CallContext) async throws -> BillingV1.AddBalanceResponse {
        let amount = try Request.money(request.amount, field: "amount")
        let added = try await wallets.addFunds(accountID: request.accountID, amount: amount, idempotencyKey: request.idempotencyKey)
        return BillingV1.AddBalanceResponse(
            transaction: Reply.walletTransaction(added.transaction), charge: Reply.charge(added.charge),
            invoice: added.invoice.map(Reply.invoice), wallet: Reply.wallet(try await wallets.view(accountID: request.accountID)))
    }

    public func configureAutoRecharge(_ request: BillingV1.ConfigureAutoRechargeRequest, context: CallContext) async throws -> BillingV1.WalletResponse {
        let settings = AutoRechargeSettings(
            isEnabled: request.enabled,
            amount: try Request.money(request.rechargeAmount, field: "recharge_amount"),
            threshold: try Request.money(request.threshold, field: "threshold"))
        _ = try await wallets.configureAutoRecharge(accountID: request.accountID, settings: settings, idempotencyKey: request.idempotencyKey)
        return BillingV1.WalletResponse(wallet: Reply.wallet(try await wallets.view(accountID: request.accountID)))
    }

    public func recordUsage(_ request: BillingV1.RecordUsageRequest, context: CallContext) async throws -> BillingV1.RecordUsageResponse {
        let usage = try UsageDebit(
            usageID: request.usageID, category: request.category, amount: try Request.money(request.amount, field: "amount"),
            description: request.description)
        let recorded = try await wallets.recordUsage(accountID: request.accountID, usage: usage)
        return BillingV1.RecordUsageResponse(transaction: Reply.walletTransaction(recorded.transaction), replayed: recorded.replayed)
    }

    public func listWalletTransactions(_ request: BillingV1.ListWalletTransactionsRequest, context: CallContext) async throws -> BillingV1.ListWalletTransactionsResponse {
        let filter = try HistoryFilter(
            createdFromMilliseconds: request.createdFromUnixMs == 0 ? nil : request.createdFromUnixMs,
            createdBeforeMilliseconds: request.createdBeforeUnixMs == 0 ? nil : request.createdBeforeUnixMs,
            categories: request.categories)
        let page = try await wallets.transactions(
            accountID: request.accountID, filter: filter, page: try PageRequest(size: Int(request.pageSize), token: request.pageToken))
        return BillingV1.ListWalletTransactionsResponse(transactions: page.items.map(Reply.walletTransaction), nextPageToken: page.nextPageToken)
    }

    public func summarizeWalletTransactions(_ request: BillingV1.SummarizeWalletTransactionsRequest, context: CallContext) async throws -> BillingV1.SummarizeWalletTransactionsResponse {
        let months = try await wallets.summary(accountID: request.accountID, fromMilliseconds: request.fromUnixMs, beforeMilliseconds: request.beforeUnixMs)
        return BillingV1.SummarizeWalletTransactionsResponse(months: months.map {
            BillingV1.WalletMonthSummary(
                month: $0.month, category: $0.category, credits: Reply.money($0.credits), debits: Reply.money($0.debits),
                transactionCount: UInt32(clamping: $0.transactionCount))
        })
    }

    /// A snapshot, then every event until the caller leaves or the deadline passes.
    public func watchWallet(_ request: BillingV1.WatchWalletRequest, context: CallContext, stream: TypedStreamWriter<BillingV1.WalletEvent>) async throws {
        let (view, events) = try await wallets.events(accountID: request.accountID)
        try await stream.send(BillingV1.WalletEvent(kind: .snapshot, wallet: Reply.wallet(view)))
        for await event in events {
            try await stream.send(Reply.walletEvent(event))
        }
    }

    // MARK: Plans and subscriptions

    public func listPlans(_ request: BillingV1.ListPlansRequest, context: CallContext) async throws -> BillingV1.ListPlansResponse {
        let plans = try subscriptions.plans(
            kind: try Request.planKind(request.kind, field: "kind"), includeRetired: request.includeRetired, currencyCode: request.currency)
        return BillingV1.ListPlansResponse(plans: plans.map(Reply.plan))
    }

    public func createSubscription(_ request: BillingV1.CreateSubscriptionRequest, context: CallContext) async throws -> BillingV1.SubscriptionResponse {
        let outcome = try await subscriptions.create(
            accountID: request.accountID, planID: request.planID, quantity: Int64(request.quantity), trialDays: request.trialDays.map(Int.init),
            alignToAccountBillingDate: request.alignToAccountBillingDate, idempotencyKey: request.idempotencyKey)
        return Reply.subscriptionResponse(outcome)
    }

    public func getSubscription(_ request: BillingV1.GetSubscriptionRequest, context: CallContext) async throws -> BillingV1.SubscriptionResponse {
        let subscription = try await subscriptions.subscription(accountID: request.accountID, subscriptionID: request.subscriptionID)
        return BillingV1.SubscriptionResponse(subscription: Reply.subscription(subscription))
    }

    public func listSubscriptions(_ request: BillingV1.ListSubscriptionsRequest, context: CallContext) async throws -> BillingV1.ListSubscriptionsResponse {
        guard !request.statuses.contains(.unspecified) else {
            throw BillingError.invalidArgument("statuses must not contain the UNSPECIFIED value", field: "statuses")
        }
        let page = try await subscriptions.list(
            accountID: request.accountID, statuses: request.statuses.compactMap(Reply.subscriptionStatusValue),
            kind: try Request.planKind(request.kind, field: "kind"), pageSize: Int(request.pageSize), pageToken: request.pageToken)
        return BillingV1.ListSubscriptionsResponse(subscriptions: page.items.map(Reply.subscription), nextPageToken: page.nextPageToken)
    }

    public func previewSubscriptionChange(_ request: BillingV1.PreviewSubscriptionChangeRequest, context: CallContext) async throws -> BillingV1.PreviewSubscriptionChangeResponse {
        let preview = try await subscriptions.preview(
            accountID: request.accountID, subscriptionID: request.subscriptionID, planID: request.planID, quantity: Int64(request.quantity))
        return BillingV1.PreviewSubscriptionChangeResponse(
            timing: Reply.changeTiming(preview.timing), lines: preview.lines.map(Reply.invoiceLine), total: Reply.money(preview.total),
            effectiveAtUnixMs: preview.effectiveAtMilliseconds, nextRenewalAmount: Reply.money(preview.nextRenewalAmount))
    }

    public func updateSubscription(_ request: BillingV1.UpdateSubscriptionRequest, context: CallContext) async throws -> BillingV1.SubscriptionResponse {
        let outcome = try await subscriptions.update(
            accountID: request.accountID, subscriptionID: request.subscriptionID, planID: request.planID, quantity: Int64(request.quantity),
            idempotencyKey: request.idempotencyKey)
        return Reply.subscriptionResponse(outcome)
    }

    public func cancelSubscription(_ request: BillingV1.CancelSubscriptionRequest, context: CallContext) async throws -> BillingV1.SubscriptionResponse {
        let outcome = try await subscriptions.cancel(
            accountID: request.accountID, subscriptionID: request.subscriptionID, atPeriodEnd: request.atPeriodEnd,
            creditUnusedTime: request.creditUnusedTime, idempotencyKey: request.idempotencyKey)
        return Reply.subscriptionResponse(outcome)
    }

    public func resumeSubscription(_ request: BillingV1.ResumeSubscriptionRequest, context: CallContext) async throws -> BillingV1.SubscriptionResponse {
        let outcome = try await subscriptions.resume(accountID: request.accountID, subscriptionID: request.subscriptionID, idempotencyKey: request.idempotencyKey)
        return Reply.subscriptionResponse(outcome)
    }

    // MARK: Test clocks

    public func createTestClock(_ request: BillingV1.CreateTestClockRequest, context: CallContext) async throws -> BillingV1.TestClockResponse {
        let clock = try await billing.scheduler.createTestClock(
            name: request.name, frozenTimeMilliseconds: request.frozenTimeUnixMs, idempotencyKey: request.idempotencyKey)
        return BillingV1.TestClockResponse(testClock: Reply.testClock(clock))
    }

    public func getTestClock(_ request: BillingV1.GetTestClockRequest, context: CallContext) async throws -> BillingV1.TestClockResponse {
        BillingV1.TestClockResponse(testClock: Reply.testClock(try await billing.scheduler.testClock(id: request.testClockID)))
    }

    public func advanceTestClock(_ request: BillingV1.AdvanceTestClockRequest, context: CallContext) async throws -> BillingV1.TestClockResponse {
        let (clock, ran) = try await billing.scheduler.advance(
            clockID: request.testClockID, to: request.frozenTimeUnixMs, idempotencyKey: request.idempotencyKey)
        return BillingV1.TestClockResponse(testClock: Reply.testClock(clock), actionsRun: UInt32(clamping: ran))
    }

    // MARK: Overview and diagnosis

    public func getBillingOverview(_ request: BillingV1.GetBillingOverviewRequest, context: CallContext) async throws -> BillingV1.BillingOverview {
        let overview = try await billing.diagnosis.overview(accountID: request.accountID)
        return BillingV1.BillingOverview(
            account: Reply.account(overview.account), subscriptions: overview.subscriptions.map(Reply.subscription),
            primaryPaymentMethod: overview.primaryPaymentMethod.map(Reply.paymentMethod),
            billingInformation: Reply.billingInformation(overview.billingInformation), wallet: Reply.wallet(overview.wallet),
            latestCharges: overview.latestCharges.map(Reply.charge), openInvoices: overview.openInvoices.map(Reply.invoice),
            findings: overview.findings.map(Reply.finding))
    }

    public func diagnosePayments(_ request: BillingV1.DiagnosePaymentsRequest, context: CallContext) async throws -> BillingV1.DiagnosePaymentsResponse {
        BillingV1.DiagnosePaymentsResponse(findings: try await billing.diagnosis.diagnose(accountID: request.accountID).map(Reply.finding))
    }
}
