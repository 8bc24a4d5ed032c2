import BillingClient
import BillingDomain
import Foundation
import Testing

/// UTC midnight of a day, in Unix milliseconds.
func utcMilliseconds(_ year: Int, _ month: Int, _ day: Int, hour: Int = 0) -> Int64 {
    var calendar = Calendar(identifier: .gregorian)
    calendar.timeZone = TimeZone(identifier: "UTC")!
    let date = calendar.date(from: DateComponents(year: year, month: month, day: day, hour: hour))!
    return Int64(date.timeIntervalSince1970 * 1000)
}

extension BillingServiceClient {
    /// A test clock at `start`, and an account on it with complete billing information and, unless
    /// `card` is nil, a primary card.
    func clockAccount(at start: Int64, card: String? = TestCard.succeeds) async throws -> (clock: String, account: String) {
        let clock = try await createTestClock(.init(idempotencyKey: key(), name: "test", frozenTimeUnixMs: start)).testClock!.id
        let account = try await createAccount(.init(idempotencyKey: key(), displayName: "Clocked Inc", currency: "USD", testClockID: clock)).account!
        _ = try await updateBillingInformation(.init(
            idempotencyKey: key(), accountID: account.id, fullName: "Ada Lovelace", countryCode: "US",
            address: BillingV1.BillingAddress(lines: ["1 Main St"], city: "Springfield", region: "IL", postalCode: "62701")))
        if let card {
            _ = try await addPaymentMethod(.init(idempotencyKey: key(), accountID: account.id, card: TestCard.input(card)))
        }
        return (clock, account.id)
    }

    func advance(_ clock: String, to time: Int64) async throws -> UInt32 {
        try await advanceTestClock(.init(idempotencyKey: key(), testClockID: clock, frozenTimeUnixMs: time)).actionsRun
    }

    func subscribe(_ account: String, plan: String, quantity: UInt32 = 1, trialDays: UInt32? = 0) async throws -> BillingV1.SubscriptionResponse {
        try await createSubscription(.init(idempotencyKey: key(), accountID: account, planID: plan, quantity: quantity, trialDays: trialDays))
    }

    func subscription(_ account: String, _ id: String) async throws -> BillingV1.Subscription {
        try await getSubscription(.init(accountID: account, subscriptionID: id)).subscription!
    }

    func allInvoices(_ account: String) async throws -> [BillingV1.Invoice] {
        var invoices: [BillingV1.Invoice] = []
        var token = ""
        repeat {
            let page = try await listInvoices(.init(accountID: account, pageSize: 100, pageToken: token))
            invoices += page.invoices
            token = page.nextPageToken
        } while !token.isEmpty
        return invoices.reversed()
    }

    func allCharges(_ account: String) async throws -> [BillingV1.Charge] {
        try await listCharges(.init(accountID: account, pageSize: 100)).charges.reversed()
    }
}

@Suite("Subscriptions, end to end on test clocks")
struct SubscriptionTests {
    static let january1 = utcMilliseconds(2027, 1, 1)

    @Test func theWorkedProrationExampleIsExact() async throws {
        let service = try await BillingHarness()
        let client = service.client()
        let (clock, account) = try await client.clockAccount(at: Self.january1)
        let created = try await client.subscribe(account, plan: "starter-monthly-usd-v1")
        let subscription = try #require(created.subscription)
        #expect(subscription.status == .active)
        #expect(subscription.currentPeriodStartUnixMs == Self.january1)
        #expect(subscription.currentPeriodEndUnixMs == utcMilliseconds(2027, 2, 1))
        #expect(created.latestCharge?.amount?.amountMinor == 1_000)
        #expect(created.latestInvoice?.status == .paid)

        _ = try await client.advance(clock, to: utcMilliseconds(2027, 1, 16))
        let preview = try await client.previewSubscriptionChange(.init(accountID: account, subscriptionID: subscription.id, planID: "pro-monthly-usd-v1"))
        #expect(preview.timing == .immediate)
        #expect(preview.lines.map(\.amount?.amountMinor) == [-516, 1_032])
        #expect(preview.total?.amountMinor == 516)

        let upgraded = try await client.updateSubscription(.init(
            idempotencyKey: key(), accountID: account, subscriptionID: subscription.id, planID: "pro-monthly-usd-v1"))
        #expect(upgraded.subscription?.plan?.id == "pro-monthly-usd-v1")
        #expect(upgraded.latestInvoice?.lines.map(\.amount?.amountMinor) == [-516, 1_032])
        #expect(upgraded.latestInvoice?.total?.amountMinor == 516)
        #expect(upgraded.latestInvoice?.billingReason == "subscription_update")
        #expect(upgraded.latestCharge?.amount?.amountMinor == 516)
        #expect(upgraded.subscription?.nextRenewalAmount?.amountMinor == 2_000)
        // The preview said exactly what the change did.
        #expect(upgraded.latestInvoice?.lines.map(\.amount) == preview.lines.map(\.amount))
        // The invoice of a change, with its credit line, prints like any other.
        let pdf = try await client.downloadInvoicePdf(.init(accountID: account, invoiceID: try #require(upgraded.latestInvoice?.id)))
        #expect(pdf.pdf.starts(with: Array("%PDF".utf8)))
    }

    @Test func aTrialWithACardBecomesActiveWhenItEndsAndIsBilledFromThen() async throws {
        let service = try await BillingHarness()
        let client = service.client()
        let (clock, account) = try await client.clockAccount(at: Self.january1)
        let id = try #require(try await client.subscribe(account, plan: "team-monthly-usd-v1", quantity: 2, trialDays: 10).subscription?.id)
        #expect(try await client.allCharges(account).isEmpty)
        _ = try await client.advance(clock, to: utcMilliseconds(2027, 1, 11))
        let subscription = try await client.subscription(account, id)
        #expect(subscription.status == .active)
        #expect(subscription.billingCycleAnchorUnixMs == utcMilliseconds(2027, 1, 11))
        #expect(subscription.nextRenewalUnixMs == utcMilliseconds(2027, 2, 11))
        #expect(try await client.allInvoices(account).map(\.billingReason) == ["subscription_create"])
        #expect(try await client.allCharges(account).map(\.amount?.amountMinor) == [2_400])
    }

    @Test func aMarketplaceAppCanJoinTheAccountsBillingDateWithAProratedFirstPeriod() async throws {
        let service = try await BillingHarness()
        let client = service.client()
        let (clock, account) = try await client.clockAccount(at: Self.january1)
        _ = try await client.subscribe(account, plan: "pro-monthly-usd-v1")
        _ = try await client.advance(clock, to: utcMilliseconds(2027, 1, 16))
        let app = try await client.createSubscription(.init(
            idempotencyKey: key(), accountID: account, planID: "alerts-app-monthly-usd-v1", alignToAccountBillingDate: true))
        // $5.00 a month, for 16 of January's 31 days.
        #expect(app.latestInvoice?.total?.amountMinor == 258)
        #expect(app.subscription?.currentPeriodEndUnixMs == utcMilliseconds(2027, 2, 1))
        _ = try await client.advance(clock, to: utcMilliseconds(2027, 2, 1))
        let renewed = try await client.subscription(account, try #require(app.subscription?.id))
        #expect(renewed.currentPeriodStartUnixMs == utcMilliseconds(2027, 2, 1))
        #expect(try await client.allInvoices(account).last?.total?.amountMinor == 500)
        let notAnApp = await rpcError {
            _ = try await client.createSubscription(.init(idempotencyKey: key(), accountID: account, planID: "pro-monthly-usd-v1", alignToAccountBillingDate: true))
        }
        #expect(notAnApp?.field == "align_to_account_billing_date")
    }

    @Test func theLiveSubscriptionsOfAnAccountAreBounded() async throws {
        var policy = SubscriptionPolicy()
        policy.maxLiveSubscriptionsPerAccount = 2
        let service = try await BillingHarness(subscriptionPolicy: policy)
        let client = service.client()
        let account = try await client.readyAccount()
        let first = try #require(try await client.subscribe(account, plan: "starter-monthly-usd-v1").subscription?.id)
        _ = try await client.subscribe(account, plan: "pro-monthly-usd-v1")
        let third = await rpcError { _ = try await client.subscribe(account, plan: "business-monthly-usd-v1") }
        #expect(third?.code == .resourceExhausted)
        #expect(third?.reason == "too_many_subscriptions")
        _ = try await client.cancelSubscription(.init(idempotencyKey: key(), accountID: account, subscriptionID: first))
        _ = try await client.subscribe(account, plan: "business-monthly-usd-v1")
    }

    @Test func testClocksAreRefusedWithoutTheSandboxGateway() async throws {
        let service = try await BillingHarness(allowsTestClocks: false)
        let client = service.client()
        let clock = await rpcError { _ = try await client.createTestClock(.init(idempotencyKey: key(), name: "x")) }
        #expect(clock?.code == .failedPrecondition)
        #expect(clock?.reason == "test_clocks_unavailable")
        let account = await rpcError {
            _ = try await client.createAccount(.init(idempotencyKey: key(), displayName: "X", currency: "USD", testClockID: "clock_0000000000000000000a"))
        }
        #expect(account?.reason == "test_clocks_unavailable")
    }

    @Test func twoUpgradesInOnePeriodAreBothExact() async throws {
        let service = try await BillingHarness()
        let client = service.client()
        let (clock, account) = try await client.clockAccount(at: Self.january1)
        let id = try #require(try await client.subscribe(account, plan: "starter-monthly-usd-v1").subscription?.id)
        _ = try await client.advance(clock, to: utcMilliseconds(2027, 1, 16))
        _ = try await client.updateSubscription(.init(idempotencyKey: key(), accountID: account, subscriptionID: id, planID: "pro-monthly-usd-v1"))
        _ = try await client.advance(clock, to: utcMilliseconds(2027, 1, 24))
        let second = try await client.updateSubscription(.init(idempotencyKey: key(), accountID: account, subscriptionID: id, planID: "business-monthly-usd-v1"))
        // Pro was billed 10.32 for Jan 16 – Feb 1; half of that is unused on Jan 24. Business for 8 of 31 days: 7.74.
        #expect(second.latestInvoice?.lines.map(\.amount?.amountMinor) == [-516, 774])
        #expect(second.latestCharge?.amount?.amountMinor == 258)
        // Paid in all: 10.00 + 5.16 + 2.58 = 17.74, within a cent of the exact 15/31 × 10 + 8/31 × 20 + 8/31 × 30.
        let paid = try await client.allCharges(account).filter { $0.status == .succeeded }.map { $0.amount!.amountMinor }
        #expect(paid == [1_000, 516, 258])
        _ = try await client.advance(clock, to: utcMilliseconds(2027, 2, 1))
        let renewal = try await client.allInvoices(account).last
        #expect(renewal?.total?.amountMinor == 3_000)
        #expect(renewal?.billingReason == "subscription_cycle")
    }

    @Test func aDowngradeWaitsForThePeriodEndAndCanBeWithdrawnOrReplaced() async throws {
        let service = try await BillingHarness()
        let client = service.client()
        let (clock, account) = try await client.clockAccount(at: Self.january1)
        let id = try #require(try await client.subscribe(account, plan: "business-monthly-usd-v1").subscription?.id)
        _ = try await client.advance(clock, to: utcMilliseconds(2027, 1, 10))
        let downgrade = try await client.updateSubscription(.init(idempotencyKey: key(), accountID: account, subscriptionID: id, planID: "starter-monthly-usd-v1"))
        #expect(downgrade.subscription?.plan?.id == "business-monthly-usd-v1")
        #expect(downgrade.subscription?.pendingChange?.planID == "starter-monthly-usd-v1")
        #expect(downgrade.subscription?.pendingChange?.effectiveAtUnixMs == utcMilliseconds(2027, 2, 1))
        #expect(downgrade.subscription?.nextRenewalAmount?.amountMinor == 1_000)
        #expect(downgrade.latestInvoice == nil)
        // Withdrawn by asking for what it has, then replaced by another downgrade.
        let withdrawn = try await client.updateSubscription(.init(idempotencyKey: key(), accountID: account, subscriptionID: id, planID: "business-monthly-usd-v1"))
        #expect(withdrawn.subscription?.pendingChange == nil)
        _ = try await client.updateSubscription(.init(idempotencyKey: key(), accountID: account, subscriptionID: id, planID: "starter-monthly-usd-v1"))
        let replaced = try await client.updateSubscription(.init(idempotencyKey: key(), accountID: account, subscriptionID: id, planID: "pro-monthly-usd-v1"))
        #expect(replaced.subscription?.pendingChange?.planID == "pro-monthly-usd-v1")
        #expect(try await client.allCharges(account).count == 1)

        _ = try await client.advance(clock, to: utcMilliseconds(2027, 2, 1))
        let renewed = try await client.subscription(account, id)
        #expect(renewed.plan?.id == "pro-monthly-usd-v1")
        #expect(renewed.pendingChange == nil)
        #expect(try await client.allInvoices(account).last?.total?.amountMinor == 2_000)
    }

    @Test func aYearOfMonthlyRenewalsWithACardThatStartsDecliningInMonthFiveAndIsReplacedInMonthSix() async throws {
        let service = try await BillingHarness()
        let client = service.client()
        let start = utcMilliseconds(2027, 1, 31)
        let (clock, account) = try await client.clockAccount(at: start)
        let id = try #require(try await client.subscribe(account, plan: "team-monthly-usd-v1", quantity: 3).subscription?.id)
        var ends: [Int64] = []
        for month in 2...4 {
            _ = try await client.advance(clock, to: try await client.subscription(account, id).currentPeriodEndUnixMs)
            let subscription = try await client.subscription(account, id)
            #expect(subscription.status == .active, "month \(month)")
            ends.append(subscription.currentPeriodStartUnixMs)
        }
        // The card starts declining: the renewal of May 31 fails and is retried 1, 3, 5 and 7 days later.
        await service.gateway.setMode(.declines(code: "card_declined"))
        _ = try await client.advance(clock, to: utcMilliseconds(2027, 5, 31))
        var subscription = try await client.subscription(account, id)
        #expect(subscription.status == .pastDue)
        #expect(subscription.nextPaymentAttemptUnixMs == utcMilliseconds(2027, 6, 1))
        ends.append(subscription.currentPeriodStartUnixMs)
        _ = try await client.advance(clock, to: utcMilliseconds(2027, 6, 4))
        subscription = try await client.subscription(account, id)
        #expect(subscription.paymentAttempts == 2)
        #expect(subscription.nextPaymentAttemptUnixMs == utcMilliseconds(2027, 6, 5))
        _ = try await client.advance(clock, to: utcMilliseconds(2027, 6, 10))
        subscription = try await client.subscription(account, id)
        #expect(subscription.status == .unpaid)
        #expect(subscription.nextPaymentAttemptUnixMs == 0)

        // Month six: a new card, and the renewal of June 30 is paid.
        await service.gateway.setMode(.healthy)
        _ = try await client.addPaymentMethod(.init(idempotencyKey: key(), accountID: account, card: TestCard.input(TestCard.succeeds), makePrimary: true))
        for _ in 6...13 {
            _ = try await client.advance(clock, to: try await client.subscription(account, id).currentPeriodEndUnixMs)
            subscription = try await client.subscription(account, id)
            #expect(subscription.status == .active)
            ends.append(subscription.currentPeriodStartUnixMs)
        }
        // Jan 31 anchors: the last day of short months, then back to the 31st.
        #expect(ends == [
            utcMilliseconds(2027, 2, 28), utcMilliseconds(2027, 3, 31), utcMilliseconds(2027, 4, 30), utcMilliseconds(2027, 5, 31),
            utcMilliseconds(2027, 6, 30), utcMilliseconds(2027, 7, 31), utcMilliseconds(2027, 8, 31), utcMilliseconds(2027, 9, 30),
            utcMilliseconds(2027, 10, 31), utcMilliseconds(2027, 11, 30), utcMilliseconds(2027, 12, 31), utcMilliseconds(2028, 1, 31),
        ])
        let invoices = try await client.allInvoices(account)
        #expect(invoices.count == 13)
        #expect(invoices.map(\.number) == (1...13).map { String(format: "INV-%06d", $0) })
        #expect(invoices.map(\.status) == Array(repeating: .paid, count: 4) + [.uncollectible] + Array(repeating: .paid, count: 8))
        #expect(invoices.allSatisfy { $0.total?.amountMinor == 3_600 })
        // Every attempt is a charge: 13 periods, 4 retries, 5 of them declined.
        let charges = try await client.allCharges(account)
        #expect(charges.count == 17)
        #expect(charges.filter { $0.status == .failed }.count == 5)
        for invoice in invoices {
            let pdf = try await client.downloadInvoicePdf(.init(accountID: account, invoiceID: invoice.id))
            #expect(pdf.pdf.starts(with: Array("%PDF".utf8)))
            #expect(pdf.fileName == "\(invoice.number).pdf")
        }
    }

    @Test func aTrialEndingWithoutACardGoesPastDueAndANewCardPaysAtOnce() async throws {
        let service = try await BillingHarness()
        let client = service.client()
        let (clock, account) = try await client.clockAccount(at: Self.january1, card: nil)
        let created = try await client.subscribe(account, plan: "team-monthly-usd-v1", quantity: 2, trialDays: nil)
        let id = try #require(created.subscription?.id)
        #expect(created.subscription?.status == .trialing)
        #expect(created.subscription?.trialEndUnixMs == utcMilliseconds(2027, 1, 15))
        #expect(created.subscription?.nextRenewalUnixMs == utcMilliseconds(2027, 1, 15))
        #expect(created.latestInvoice == nil)

        #expect(try await client.advance(clock, to: utcMilliseconds(2027, 1, 15)) == 1)
        var subscription = try await client.subscription(account, id)
        #expect(subscription.status == .pastDue)
        #expect(subscription.currentPeriodStartUnixMs == utcMilliseconds(2027, 1, 15))
        #expect(subscription.currentPeriodEndUnixMs == utcMilliseconds(2027, 2, 15))
        #expect(subscription.nextPaymentAttemptUnixMs == utcMilliseconds(2027, 1, 16))
        let invoice = try #require(try await client.allInvoices(account).last)
        #expect(invoice.status == .open)
        #expect(invoice.total?.amountMinor == 2_400)

        _ = try await client.addPaymentMethod(.init(idempotencyKey: key(), accountID: account, card: TestCard.input(TestCard.succeeds)))
        subscription = try await client.subscription(account, id)
        #expect(subscription.status == .active)
        #expect(subscription.nextPaymentAttemptUnixMs == 0)
        #expect(try await client.allInvoices(account).last?.status == .paid)
        #expect(try await client.allCharges(account).map(\.status) == [.succeeded])
    }

    @Test func aCancellationAtPeriodEndIsUndoneThenDone() async throws {
        let service = try await BillingHarness()
        let client = service.client()
        let (clock, account) = try await client.clockAccount(at: Self.january1)
        let id = try #require(try await client.subscribe(account, plan: "pro-monthly-usd-v1").subscription?.id)
        let canceling = try await client.cancelSubscription(.init(idempotencyKey: key(), accountID: account, subscriptionID: id, atPeriodEnd: true))
        #expect(canceling.subscription?.cancelAtPeriodEnd == true)
        #expect(canceling.subscription?.nextRenewalUnixMs == 0)
        let resumed = try await client.resumeSubscription(.init(idempotencyKey: key(), accountID: account, subscriptionID: id))
        #expect(resumed.subscription?.cancelAtPeriodEnd == false)
        #expect(resumed.subscription?.nextRenewalUnixMs == utcMilliseconds(2027, 2, 1))
        let again = await rpcError { _ = try await client.resumeSubscription(.init(idempotencyKey: key(), accountID: account, subscriptionID: id)) }
        #expect(again?.code == .failedPrecondition)
        #expect(again?.reason == "subscription_not_canceling")

        _ = try await client.cancelSubscription(.init(idempotencyKey: key(), accountID: account, subscriptionID: id, atPeriodEnd: true))
        _ = try await client.advance(clock, to: utcMilliseconds(2027, 3, 1))
        let ended = try await client.subscription(account, id)
        #expect(ended.status == .canceled)
        #expect(ended.endedAtUnixMs == utcMilliseconds(2027, 2, 1))
        #expect(try await client.allInvoices(account).count == 1)
        let change = await rpcError {
            _ = try await client.updateSubscription(.init(idempotencyKey: key(), accountID: account, subscriptionID: id, planID: "business-monthly-usd-v1"))
        }
        #expect(change?.reason == "subscription_ended")
        let cancel = await rpcError { _ = try await client.cancelSubscription(.init(idempotencyKey: key(), accountID: account, subscriptionID: id)) }
        #expect(cancel?.reason == "subscription_ended")
    }

    @Test func cancelingNowCreditsTheUnusedTimeToTheWalletOnlyWhenAsked() async throws {
        let service = try await BillingHarness()
        let client = service.client()
        let (clock, account) = try await client.clockAccount(at: Self.january1)
        let first = try #require(try await client.subscribe(account, plan: "starter-monthly-usd-v1").subscription?.id)
        let second = try #require(try await client.subscribe(account, plan: "pro-monthly-usd-v1").subscription?.id)
        _ = try await client.advance(clock, to: utcMilliseconds(2027, 1, 16))
        let credited = try await client.cancelSubscription(.init(idempotencyKey: key(), accountID: account, subscriptionID: first, creditUnusedTime: true))
        #expect(credited.subscription?.status == .canceled)
        #expect(credited.credit?.amount?.amountMinor == 516)
        #expect(credited.credit?.source == .adjustment)
        let uncredited = try await client.cancelSubscription(.init(idempotencyKey: key(), accountID: account, subscriptionID: second))
        #expect(uncredited.credit == nil)
        let wallet = try await client.getWallet(.init(accountID: account)).wallet
        #expect(wallet?.balance?.amountMinor == 516)
        // Nothing goes back to a card.
        #expect(try await client.allCharges(account).allSatisfy { $0.status == .succeeded && $0.amount!.amountMinor > 0 })
        #expect(try await client.listSubscriptions(.init(accountID: account, statuses: [.canceled])).subscriptions.count == 2)
    }

    @Test func aResellingProductIsProvisionedSuspendedWhenUnpaidAndResumedWhenPaid() async throws {
        let service = try await BillingHarness()
        let client = service.client()
        let (clock, account) = try await client.clockAccount(at: Self.january1)
        let created = try await client.subscribe(account, plan: "managed-postgres-small-usd-v1", quantity: 2)
        let id = try #require(created.subscription?.id)
        #expect(created.subscription?.fulfilmentState == .provisioned)
        #expect(created.subscription?.fulfilmentInProgress == false)
        #expect(await service.provider.actions(for: id) == [.provision])

        await service.gateway.setMode(.declines(code: "insufficient_funds"))
        _ = try await client.advance(clock, to: utcMilliseconds(2027, 2, 1))
        #expect(try await client.subscription(account, id).status == .pastDue)
        #expect(await service.provider.actions(for: id) == [.provision])
        _ = try await client.advance(clock, to: utcMilliseconds(2027, 2, 9))
        var subscription = try await client.subscription(account, id)
        #expect(subscription.status == .unpaid)
        #expect(subscription.fulfilmentState == .suspended)
        #expect(await service.provider.actions(for: id) == [.provision, .suspend])

        await service.gateway.setMode(.healthy)
        _ = try await client.advance(clock, to: utcMilliseconds(2027, 3, 1))
        subscription = try await client.subscription(account, id)
        #expect(subscription.status == .active)
        #expect(subscription.fulfilmentState == .provisioned)
        #expect(await service.provider.actions(for: id) == [.provision, .suspend, .resume])

        _ = try await client.cancelSubscription(.init(idempotencyKey: key(), accountID: account, subscriptionID: id))
        #expect(await service.provider.actions(for: id) == [.provision, .suspend, .resume, .terminate])
    }

    @Test func anUnreachableProviderIsToldLaterInOrderAndOnce() async throws {
        let service = try await BillingHarness()
        let client = service.client()
        let (_, account) = try await client.clockAccount(at: Self.january1)
        await service.provider.failNextCalls(1)
        let created = try await client.subscribe(account, plan: "managed-postgres-small-usd-v1")
        let id = try #require(created.subscription?.id)
        #expect(created.subscription?.fulfilmentInProgress == true)
        #expect(await service.provider.actions(for: id) == [])
        // The outbox survives a restart, and is delivered after its backoff.
        _ = try await service.restart()
        service.clock.advance(by: 5)
        _ = try await service.maintain()
        #expect(await service.provider.actions(for: id) == [.provision])
        #expect(try await client.subscription(account, id).fulfilmentInProgress == false)
        _ = try await service.maintain()
        #expect(await service.provider.actions(for: id) == [.provision])
    }

    /// An advance is claimed in the database (work_claims), not in one daemon's memory: a claim held
    /// elsewhere refuses it until the claim expires, and a daemon starting again drops its own.
    @Test func aTestClocksAdvanceIsClaimedInTheDatabase() async throws {
        let service = try await BillingHarness()
        var client = service.client()
        let (clock, _) = try await client.clockAccount(at: Self.january1)
        let now = Int64(service.clock.now.timeIntervalSince1970 * 1000)
        func claim(by holder: String) async throws {
            await service.stop()
            try await service.writeThroughOwnStore { tx in
                try tx.execute(
                    "INSERT INTO work_claims(kind, id, holder, expires_at_ms) VALUES ('test_clock_advance', ?, ?, ?)",
                    .text(clock), .text(holder), .integer(now + 300_000))
            }
            _ = try await service.start()
            client = service.client()
        }

        // Left by an earlier run of this daemon (a kill mid-advance): dropped at start-up.
        try await claim(by: service.socketPath)
        _ = try await client.advance(clock, to: utcMilliseconds(2027, 1, 2))

        // Held by another daemon: refused, changing nothing, until it expires.
        try await claim(by: "another daemon")
        let refused = await rpcError { _ = try await client.advance(clock, to: utcMilliseconds(2027, 1, 3)) }
        #expect(refused?.code == .aborted)
        #expect(refused?.reason == "test_clock_advancing")
        #expect(try await client.getTestClock(.init(testClockID: clock)).testClock?.frozenTimeUnixMs == utcMilliseconds(2027, 1, 2))
        service.clock.advance(by: 301)
        _ = try await client.advance(clock, to: utcMilliseconds(2027, 1, 3))
        #expect(try await client.getTestClock(.init(testClockID: clock)).testClock?.frozenTimeUnixMs == utcMilliseconds(2027, 1, 3))
        await service.finish()
    }

    @Test func aFirstPaymentThatFailsLeavesAnIncompleteSubscriptionThatExpires() async throws {
        let service = try await BillingHarness()
        let client = service.client()
        let (clock, account) = try await client.clockAccount(at: Self.january1, card: TestCard.declined)
        let request = BillingV1.CreateSubscriptionRequest(idempotencyKey: key(), accountID: account, planID: "pro-monthly-usd-v1", quantity: 1)
        let created = try await client.createSubscription(request)
        #expect(created.subscription?.status == .incomplete)
        #expect(created.latestCharge?.status == .failed)
        #expect(created.latestCharge?.failureCode == "card_declined")
        #expect(created.subscription?.incompleteExpiresAtUnixMs == Self.january1 + 23 * 3_600_000)
        // The retry answers the same, and charges nothing more.
        let retried = try await client.createSubscription(request)
        #expect(retried.subscription?.id == created.subscription?.id)
        #expect(try await client.allCharges(account).count == 1)

        // Canceling another incomplete one voids its invoice: it was never paid for.
        let other = try await client.createSubscription(.init(idempotencyKey: key(), accountID: account, planID: "starter-monthly-usd-v1"))
        let canceled = try await client.cancelSubscription(.init(idempotencyKey: key(), accountID: account, subscriptionID: try #require(other.subscription?.id)))
        #expect(canceled.subscription?.status == .canceled)
        #expect(try await client.getInvoice(.init(accountID: account, invoiceID: try #require(other.latestInvoice?.id))).invoice?.status == .void)

        _ = try await client.advance(clock, to: Self.january1 + 24 * 3_600_000)
        let expired = try await client.subscription(account, try #require(created.subscription?.id))
        #expect(expired.status == .incompleteExpired)
        #expect(expired.nextRenewalUnixMs == 0)
        #expect(try await client.allInvoices(account).map(\.status) == [.void, .void])
        _ = try await client.advance(clock, to: utcMilliseconds(2027, 3, 1))
        #expect(try await client.allInvoices(account).count == 2)
    }

    @Test func aCrashBetweenChargeAndRecordAndTwoRunnersNeverDoubleOrSkipAPeriod() async throws {
        let service = try await BillingHarness()
        let client = service.client()
        let accounts = try await (0..<4).asyncMap { _ in try await client.readyAccount() }
        var subscriptions: [(account: String, id: String)] = []
        for account in accounts {
            for plan in ["starter-monthly-usd-v1", "pro-monthly-usd-v1"] {
                subscriptions.append((account, try #require(try await client.subscribe(account, plan: plan).subscription?.id)))
            }
        }
        // The gateway charges but its answers are lost: the renewals stay pending, as after a crash.
        await service.gateway.setMode(.chargesThenGoesDark)
        service.clock.advance(by: 32 * 86_400)
        _ = try await service.billing.scheduler.runDue()
        await service.gateway.setMode(.healthy)
        // A restart reconciles them from the gateway.
        let prepared = try await service.restart()
        #expect(prepared.reconciledCharges == subscriptions.count)
        // Down for three more periods, then two runners at once.
        service.clock.advance(by: 3 * 31 * 86_400)
        async let first = service.billing.scheduler.runDue()
        async let second = service.billing.scheduler.runDue()
        #expect(try await first + second == 3 * subscriptions.count)
        for (account, id) in subscriptions {
            let invoices = try await client.allInvoices(account).filter { $0.subscriptionID == id }
            #expect(invoices.count == 5)
            #expect(invoices.allSatisfy { $0.status == .paid })
            // Each period once, in order, without a gap.
            for (previous, next) in zip(invoices, invoices.dropFirst()) { #expect(previous.periodEndUnixMs == next.periodStartUnixMs) }
            #expect(try await client.subscription(account, id).status == .active)
        }
        // One charge per period, all settled: none pending, none twice.
        for account in accounts {
            let charges = try await client.allCharges(account)
            #expect(charges.count == 10)
            #expect(charges.allSatisfy { $0.status == .succeeded })
        }
        // The sandbox made each once (it counts since the restart: three renewals each).
        #expect(await service.gateway.executedCharges == 3 * subscriptions.count)
    }

    /// A test clock dates its account's charges years ahead of the wall clock; a renewal whose answer
    /// was lost is still reconciled at the next start, by when it was recorded.
    @Test func aRenewalOnATestClockWhoseAnswerWasLostIsReconciledAtStart() async throws {
        let service = try await BillingHarness()
        let client = service.client()
        let (clock, account) = try await client.clockAccount(at: utcMilliseconds(2030, 1, 1))
        let id = try #require(try await client.subscribe(account, plan: "pro-monthly-usd-v1").subscription?.id)
        await service.gateway.setMode(.chargesThenGoesDark)
        _ = try await client.advance(clock, to: utcMilliseconds(2030, 2, 1))
        #expect(try await client.allCharges(account).last?.status == .pending)
        await service.gateway.setMode(.healthy)
        let prepared = try await service.restart()
        #expect(prepared.reconciledCharges == 1)
        #expect(try await client.allCharges(account).map(\.status) == [.succeeded, .succeeded])
        #expect(try await client.subscription(account, id).status == .active)
        #expect(try await client.allInvoices(account).map(\.status) == [.paid, .paid])
    }

    /// A test clock behind the wall clock dates its charges in the past. The upkeep pass while running
    /// must judge a renewal whose answer was lost by when it was recorded: by its date it looked weeks
    /// old, and was declared not charged though the gateway had made it (RELIABILITY.md, defect 4).
    @Test func aRenewalOnATestClockBehindTheWallIsNotDeclaredNotChargedWhileItsAnswerMayLag() async throws {
        let service = try await BillingHarness()
        let client = service.client()
        let (clock, account) = try await client.clockAccount(at: utcMilliseconds(2026, 9, 1))
        let id = try #require(try await client.subscribe(account, plan: "starter-monthly-usd-v1").subscription?.id)
        await service.gateway.setMode(.losesAnswersLooksUpLate)
        _ = try await client.advance(clock, to: utcMilliseconds(2026, 10, 1))
        #expect(try await client.allCharges(account).map(\.status) == [.succeeded, .pending])

        // Recorded moments ago by the wall clock: too young for the pass, whatever its date.
        #expect(try await service.maintain().reconciledCharges == 0)
        #expect(try await client.allCharges(account).map(\.status) == [.succeeded, .pending])

        // Once the look-up finds it, the pass settles it as made.
        await service.gateway.setMode(.healthy)
        service.clock.advance(by: 120)
        #expect(try await service.maintain().reconciledCharges == 1)
        #expect(try await client.allCharges(account).map(\.status) == [.succeeded, .succeeded])
        #expect(try await client.allInvoices(account).map(\.status) == [.paid, .paid])
        #expect(try await client.subscription(account, id).status == .active)
    }

    /// A renewal recorded but cut off before its gateway call (a kill, an unreachable gateway) has no
    /// caller to retry it: start-up sends it under its own key, instead of counting a failed attempt.
    @Test func aRenewalThatNeverReachedTheGatewayIsSentAtStartNotCountedAsDeclined() async throws {
        let service = try await BillingHarness()
        let client = service.client()
        let (clock, account) = try await client.clockAccount(at: Self.january1)
        let id = try #require(try await client.subscribe(account, plan: "starter-monthly-usd-v1").subscription?.id)
        await service.gateway.setMode(.down)
        _ = try await client.advance(clock, to: utcMilliseconds(2027, 2, 1))
        #expect(try await client.allCharges(account).map(\.status) == [.succeeded, .pending])
        await service.gateway.setMode(.healthy)
        #expect(try await service.restart().reconciledCharges == 1)
        #expect(try await client.allCharges(account).map(\.status) == [.succeeded, .succeeded])
        #expect(try await client.allInvoices(account).map(\.status) == [.paid, .paid])
        let subscription = try await client.subscription(account, id)
        #expect(subscription.status == .active)
        #expect(subscription.paymentAttempts == 0)
    }

    @Test func aRetriedAdvanceGetsItsFirstAnswerAfterTheClockMovedOn() async throws {
        let service = try await BillingHarness()
        let client = service.client()
        let (clock, _) = try await client.clockAccount(at: Self.january1)
        let first = BillingV1.AdvanceTestClockRequest(idempotencyKey: key(), testClockID: clock, frozenTimeUnixMs: utcMilliseconds(2027, 2, 1))
        let answer = try await client.advanceTestClock(first)
        _ = try await client.advance(clock, to: utcMilliseconds(2027, 3, 1))
        // Not test_clock_backwards: the key's first answer.
        #expect(try await client.advanceTestClock(first).testClock == answer.testClock)
        #expect(try await client.getTestClock(.init(testClockID: clock)).testClock?.frozenTimeUnixMs == utcMilliseconds(2027, 3, 1))
    }

    @Test func badRequestsAreRefusedWithTheirReasonsAndChangeNothing() async throws {
        let service = try await BillingHarness()
        let client = service.client()
        let (clock, account) = try await client.clockAccount(at: Self.january1)
        func refusal(_ request: BillingV1.CreateSubscriptionRequest) async -> RPCError? {
            await rpcError { _ = try await client.createSubscription(request) }
        }
        let unknown = await refusal(.init(idempotencyKey: key(), accountID: account, planID: "no-such-plan"))
        #expect(unknown?.code == .notFound)
        #expect(unknown?.reason == "plan_not_found")
        #expect(unknown?.field == "plan_id")
        let retired = await refusal(.init(idempotencyKey: key(), accountID: account, planID: "starter-monthly-usd-v0"))
        #expect(retired?.code == .failedPrecondition)
        #expect(retired?.reason == "plan_retired")
        let euro = await refusal(.init(idempotencyKey: key(), accountID: account, planID: "starter-monthly-eur-v1"))
        #expect(euro?.code == .invalidArgument)
        #expect(euro?.reason == "currency_mismatch")
        let seats = await refusal(.init(idempotencyKey: key(), accountID: account, planID: "team-monthly-usd-v1", quantity: 501))
        #expect(seats?.reason == "quantity_out_of_range")
        #expect(seats?.message.contains("between 1 and 500") == true)
        #expect(try await client.listSubscriptions(.init(accountID: account)).subscriptions.isEmpty)
        #expect(try await client.allCharges(account).isEmpty)

        let id = try #require(try await client.subscribe(account, plan: "team-monthly-usd-v1", quantity: 2).subscription?.id)
        let yearly = await rpcError {
            _ = try await client.updateSubscription(.init(idempotencyKey: key(), accountID: account, subscriptionID: id, planID: "team-yearly-usd-v1"))
        }
        #expect(yearly?.reason == "plan_change_not_allowed")
        let backwards = await rpcError { _ = try await client.advance(clock, to: Self.january1 - 1) }
        #expect(backwards?.code == .invalidArgument)
        #expect(backwards?.reason == "test_clock_backwards")
        let noClock = await rpcError {
            _ = try await client.createAccount(.init(idempotencyKey: key(), displayName: "X", currency: "USD", testClockID: "clock_0000000000000000000"))
        }
        #expect(noClock?.code == .notFound)
        #expect(try await client.subscription(account, id).quantity == 2)
        #expect(try await client.allInvoices(account).count == 1)
    }

    @Test func listsShowLiveSubscriptionsFirstInKeysetPages() async throws {
        let service = try await BillingHarness()
        let client = service.client()
        let (_, account) = try await client.clockAccount(at: Self.january1)
        var ids: [String] = []
        for plan in ["starter-monthly-usd-v1", "pro-monthly-usd-v1", "alerts-app-monthly-usd-v1", "business-monthly-usd-v1"] {
            ids.append(try #require(try await client.subscribe(account, plan: plan).subscription?.id))
        }
        _ = try await client.cancelSubscription(.init(idempotencyKey: key(), accountID: account, subscriptionID: ids[3]))
        var listed: [String] = []
        var token = ""
        repeat {
            let page = try await client.listSubscriptions(.init(accountID: account, pageSize: 1, pageToken: token))
            listed += page.subscriptions.map(\.id)
            token = page.nextPageToken
        } while !token.isEmpty
        #expect(listed == [ids[2], ids[1], ids[0], ids[3]])
        let apps = try await client.listSubscriptions(.init(accountID: account, kind: .marketplaceApp)).subscriptions
        #expect(apps.map(\.id) == [ids[2]])
        let plans = try await client.listPlans(.init(kind: .resellingProduct)).plans
        #expect(plans.map(\.id) == ["managed-postgres-small-usd-v1", "managed-postgres-large-usd-v1"])
        #expect(try await client.listPlans(.init()).plans.contains { $0.retired } == false)
    }
}

extension Sequence {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var results: [T] = []
        for element in self { results.append(try await transform(element)) }
        return results
    }
}
