import BillingClient
import Foundation
import Testing

/// Each finding of DiagnosePayments, created and seen, then fixed and seen gone.
@Suite("Why payments fail, diagnosed; the billing page in one call")
struct DiagnosisTests {
    func codes(_ client: BillingServiceClient, _ account: String) async throws -> [String] {
        try await client.diagnosePayments(.init(accountID: account)).findings.map(\.code)
    }

    @Test func anAccountWithNoProblemHasNoFindings() async throws {
        let service = try await BillingHarness()
        let client = service.client()
        let account = try await client.readyAccount()
        #expect(try await codes(client, account) == [])
        _ = try await client.addBalance(.init(idempotencyKey: key(), accountID: account, amount: .init(amountMinor: 1_000, currency: "USD")))
        _ = try await client.createSubscription(.init(idempotencyKey: key(), accountID: account, planID: "pro-monthly-usd-v1", trialDays: 0))
        #expect(try await codes(client, account) == [])
    }

    @Test func noPrimaryCardThenACard() async throws {
        let service = try await BillingHarness()
        let client = service.client()
        let account = try await client.readyAccount(card: nil)
        let findings = try await client.diagnosePayments(.init(accountID: account)).findings
        #expect(findings.map(\.code) == ["no_primary_card"])
        #expect(findings.first?.severity == .error)
        #expect(findings.first?.fix.contains("billing cards add") == true)
        _ = try await client.addPaymentMethod(.init(idempotencyKey: key(), accountID: account, card: TestCard.input(TestCard.succeeds)))
        #expect(try await codes(client, account) == [])
    }

    @Test func anExpiredOrExpiringPrimaryCardThenARenewedOne() async throws {
        let service = try await BillingHarness()  // the wall clock stands at 2026-11-19
        let client = service.client()
        let account = try await client.readyAccount(card: nil)
        let card = try await client.addPaymentMethod(.init(
            idempotencyKey: key(), accountID: account, card: BillingV1.CardInput(number: TestCard.succeeds, expiryMonth: 11, expiryYear: 2026, cvc: "123", holderName: "A")))
        let expiring = try await client.diagnosePayments(.init(accountID: account)).findings
        #expect(expiring.map(\.code) == ["primary_card_expiring"])
        #expect(expiring.first?.paymentMethodID == card.paymentMethod?.id)
        #expect(expiring.first?.atUnixMs == utcMilliseconds(2026, 12, 1))
        service.clock.advance(by: 15 * 86_400)
        #expect(try await codes(client, account) == ["primary_card_expired"])
        _ = try await client.addPaymentMethod(.init(idempotencyKey: key(), accountID: account, card: TestCard.input(TestCard.succeeds), makePrimary: true))
        #expect(try await codes(client, account) == [])
    }

    @Test func aDeclinedLastChargeSaysWhetherRetryingCanHelpUntilAChargeSucceeds() async throws {
        let service = try await BillingHarness()
        let client = service.client()
        let account = try await client.readyAccount(card: TestCard.insufficientFunds)
        _ = await rpcError { _ = try await client.addBalance(.init(idempotencyKey: key(), accountID: account, amount: .init(amountMinor: 500, currency: "USD"))) }
        let findings = try await client.diagnosePayments(.init(accountID: account)).findings
        #expect(findings.map(\.code) == ["last_charge_declined"])
        #expect(findings.first?.declineCode == "insufficient_funds")
        #expect(findings.first?.retryCanHelp == true)

        _ = try await client.addPaymentMethod(.init(idempotencyKey: key(), accountID: account, card: TestCard.input("4000 0000 0000 9979"), makePrimary: true))
        _ = await rpcError { _ = try await client.addBalance(.init(idempotencyKey: key(), accountID: account, amount: .init(amountMinor: 500, currency: "USD"))) }
        let stolen = try await client.diagnosePayments(.init(accountID: account)).findings
        #expect(stolen.first?.declineCode == "stolen_card")
        #expect(stolen.first?.retryCanHelp == false)

        _ = try await client.addPaymentMethod(.init(idempotencyKey: key(), accountID: account, card: TestCard.input(TestCard.succeeds), makePrimary: true))
        _ = try await client.addBalance(.init(idempotencyKey: key(), accountID: account, amount: .init(amountMinor: 500, currency: "USD")))
        #expect(try await codes(client, account) == [])
    }

    @Test func anIncompleteAddressNamesTheFieldsUntilCompleted() async throws {
        let service = try await BillingHarness()
        let client = service.client()
        let account = try await client.createAccount(.init(idempotencyKey: key(), displayName: "A", currency: "USD")).account!.id
        _ = try await client.addPaymentMethod(.init(idempotencyKey: key(), accountID: account, card: TestCard.input(TestCard.succeeds)))
        let findings = try await client.diagnosePayments(.init(accountID: account)).findings
        #expect(findings.map(\.code) == ["billing_address_incomplete"])
        #expect(findings.first?.missingFields.contains("billing_address.postal_code") == true)
        _ = try await client.updateBillingInformation(.init(
            idempotencyKey: key(), accountID: account, fullName: "Ada Lovelace", countryCode: "US",
            address: BillingV1.BillingAddress(lines: ["1 Main St"], city: "Springfield", region: "IL", postalCode: "62701")))
        #expect(try await codes(client, account) == [])
    }

    @Test func aWalletAtZeroIsSuspendedWithAutoRechargeOffUntilFundsArrive() async throws {
        let service = try await BillingHarness()
        let client = service.client()
        let account = try await client.readyAccount()
        _ = try await client.addBalance(.init(idempotencyKey: key(), accountID: account, amount: .init(amountMinor: 100, currency: "USD")))
        _ = try await client.recordUsage(.init(accountID: account, usageID: "u1", category: "sms", amount: .init(amountMinor: 100, currency: "USD")))
        #expect(try await codes(client, account) == ["wallet_suspended", "auto_recharge_off"])
        _ = try await client.addBalance(.init(idempotencyKey: key(), accountID: account, amount: .init(amountMinor: 500, currency: "USD")))
        #expect(try await codes(client, account) == [])
    }

    @Test func autoRechargeBackingOffSaysUntilWhenAndEndsWithANewCard() async throws {
        let service = try await BillingHarness()
        let client = service.client()
        let account = try await client.readyAccount()
        _ = try await client.addBalance(.init(idempotencyKey: key(), accountID: account, amount: .init(amountMinor: 1_000, currency: "USD")))
        _ = try await client.addPaymentMethod(.init(idempotencyKey: key(), accountID: account, card: TestCard.input(TestCard.declined), makePrimary: true))
        _ = try await client.configureAutoRecharge(.init(
            idempotencyKey: key(), accountID: account, enabled: true, rechargeAmount: .init(amountMinor: 1_000, currency: "USD"),
            threshold: .init(amountMinor: 500, currency: "USD")))
        _ = try await client.recordUsage(.init(accountID: account, usageID: "u1", category: "sms", amount: .init(amountMinor: 600, currency: "USD")))
        try await waitForNoRechargeInFlight(client, account)
        let findings = try await client.diagnosePayments(.init(accountID: account)).findings
        #expect(findings.map(\.code) == ["last_charge_declined", "auto_recharge_backing_off"])
        #expect(findings.last?.atUnixMs == (try await client.getWallet(.init(accountID: account)).wallet?.rechargeRetryAfterUnixMs))
        _ = try await client.addPaymentMethod(.init(idempotencyKey: key(), accountID: account, card: TestCard.input(TestCard.succeeds), makePrimary: true))
        _ = try await client.recordUsage(.init(accountID: account, usageID: "u2", category: "sms", amount: .init(amountMinor: 10, currency: "USD")))
        try await waitForNoRechargeInFlight(client, account)
        #expect(try await codes(client, account) == [])
    }

    @Test func pastDueIncompleteAndUnpaidSubscriptionsUntilPaid() async throws {
        let service = try await BillingHarness()
        let client = service.client()
        let (clock, account) = try await client.clockAccount(at: utcMilliseconds(2027, 1, 1))
        let id = try #require(try await client.subscribe(account, plan: "pro-monthly-usd-v1").subscription?.id)
        await service.gateway.setMode(.declines(code: "card_declined"))
        _ = try await client.advance(clock, to: utcMilliseconds(2027, 2, 1))
        var findings = try await client.diagnosePayments(.init(accountID: account)).findings
        #expect(findings.map(\.code) == ["last_charge_declined", "subscription_past_due"])
        #expect(findings.last?.subscriptionID == id)
        #expect(findings.last?.attemptsLeft == 4)
        #expect(findings.last?.atUnixMs == utcMilliseconds(2027, 2, 2))
        _ = try await client.advance(clock, to: utcMilliseconds(2027, 2, 9))
        findings = try await client.diagnosePayments(.init(accountID: account)).findings
        #expect(findings.map(\.code) == ["last_charge_declined", "subscription_unpaid"])
        await service.gateway.setMode(.healthy)
        _ = try await client.advance(clock, to: utcMilliseconds(2027, 3, 1))
        #expect(try await codes(client, account) == [])

        let declining = try await client.clockAccount(at: utcMilliseconds(2027, 1, 1), card: TestCard.declined)
        _ = try await client.subscribe(declining.account, plan: "pro-monthly-usd-v1")
        #expect(try await codes(client, declining.account) == ["last_charge_declined", "subscription_incomplete"])
        _ = try await client.addPaymentMethod(.init(idempotencyKey: key(), accountID: declining.account, card: TestCard.input(TestCard.succeeds), makePrimary: true))
        #expect(try await codes(client, declining.account) == [])
    }

    @Test func anOverdueInvoiceUntilPaid() async throws {
        let service = try await BillingHarness()
        let client = service.client()
        let account = try await client.readyAccount()
        let invoice = try await client.openInvoice(account)  // due in 14 days
        #expect(try await codes(client, account) == [])
        service.clock.advance(by: 15 * 86_400)
        let findings = try await client.diagnosePayments(.init(accountID: account)).findings
        #expect(findings.map(\.code) == ["invoice_overdue"])
        #expect(findings.first?.invoiceID == invoice.id)
        _ = try await client.payInvoice(.init(idempotencyKey: key(), accountID: account, invoiceID: invoice.id))
        #expect(try await codes(client, account) == [])
    }

    @Test func theOverviewShowsThePageInOneCall() async throws {
        let service = try await BillingHarness()
        let client = service.client()
        let (_, account) = try await client.clockAccount(at: utcMilliseconds(2027, 1, 1))
        _ = try await client.addBalance(.init(idempotencyKey: key(), accountID: account, amount: .init(amountMinor: 2_500, currency: "USD")))
        let subscription = try #require(try await client.subscribe(account, plan: "team-monthly-usd-v1", quantity: 3).subscription)
        let invoice = try await client.openInvoice(account)
        let overview = try await client.getBillingOverview(.init(accountID: account))
        #expect(overview.account?.id == account)
        #expect(overview.subscriptions.map(\.id) == [subscription.id])
        #expect(overview.subscriptions.first?.nextRenewalUnixMs == utcMilliseconds(2027, 2, 1))
        #expect(overview.subscriptions.first?.nextRenewalAmount?.amountMinor == 3_600)
        #expect(overview.primaryPaymentMethod?.last4 == "4242")
        #expect(overview.billingInformation?.complete == true)
        #expect(overview.wallet?.balance?.amountMinor == 2_500)
        #expect(overview.latestCharges.map(\.amount?.amountMinor) == [3_600, 2_500])
        #expect(overview.openInvoices.map(\.id) == [invoice.id])
        #expect(overview.findings.isEmpty)
        let unknown = await rpcError { _ = try await client.getBillingOverview(.init(accountID: "acct_00000000000000000000")) }
        #expect(unknown?.code == .notFound)
    }
}
