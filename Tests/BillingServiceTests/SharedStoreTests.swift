import BillingClient
import Foundation
import Testing

/// Two billingd on one PostgreSQL database (each with its own socket, server, wallet actors and gateway
/// client; one schema and one sandbox processor between them): what one daemon keeps in memory
/// serializes nothing in the other, so these prove that the database decides.
@Suite("Two daemons on one PostgreSQL database", .enabled(if: BillingHarness.postgresURL != nil, "BILLING_TEST_POSTGRES names no database"))
struct SharedStoreTests {
    private func usd(_ minor: Int64) -> BillingV1.Money { BillingV1.Money(amountMinor: minor, currency: "USD") }

    private func twoDaemons() async throws -> (BillingHarness, BillingHarness) {
        let first = try await BillingHarness()
        return (first, try await BillingHarness(clock: first.clock, sharingStoreWith: first))
    }

    private func executedCharges(_ daemons: (BillingHarness, BillingHarness)) async -> Int {
        await daemons.0.gateway.executedCharges + daemons.1.gateway.executedCharges
    }

    @Test("debits from both daemons across the threshold make exactly one recharge, and every balance equals its ledger")
    func oneRechargePerCrossingAcrossDaemons() async throws {
        let daemons = try await twoDaemons()
        let clients = [daemons.0.client(), daemons.1.client()]
        let accountID = try await clients[0].readyAccount()
        _ = try await clients[0].addBalance(.init(idempotencyKey: key(), accountID: accountID, amount: usd(10_000)))
        // Configured through the other daemon, whose wallet actor the first never hears from.
        _ = try await clients[1].configureAutoRecharge(.init(
            idempotencyKey: key(), accountID: accountID, enabled: true, rechargeAmount: usd(5_000), threshold: usd(2_000)))
        let chargesBefore = await executedCharges(daemons)
        // 300 debits of 30, alternating daemons: the balance falls from 10,000 through 2,000 once.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<300 {
                group.addTask {
                    _ = try await clients[index % 2].recordUsage(.init(
                        accountID: accountID, usageID: "u-\(index)", category: "sms", amount: self.usd(30), description: "test usage"))
                }
            }
            try await group.waitForAll()
        }
        for client in clients { try await waitForNoRechargeInFlight(client, accountID) }
        #expect(await executedCharges(daemons) - chargesBefore == 1)
        let recharges = try await clients[1].listWalletTransactions(.init(accountID: accountID, pageSize: 100, categories: ["top-up"]))
            .transactions.filter { $0.source == .autoRecharge }
        #expect(recharges.count == 1)
        for client in clients {
            #expect(try await client.getWallet(.init(accountID: accountID)).wallet?.balance == usd(10_000 - 300 * 30 + 5_000))
            try await expectLedgerMatchesBalance(client, accountID)
        }
        await daemons.1.finish()
        await daemons.0.finish()
    }

    @Test("one idempotency key sent to both daemons at once charges once, and both answer with the same credit")
    func oneKeyOnBothDaemonsChargesOnce() async throws {
        let daemons = try await twoDaemons()
        let clients = [daemons.0.client(), daemons.1.client()]
        let accountID = try await clients[0].readyAccount()
        let chargesBefore = await executedCharges(daemons)
        let request = BillingV1.AddBalanceRequest(idempotencyKey: key(), accountID: accountID, amount: usd(2_500))
        let replies = try await withThrowingTaskGroup(of: BillingV1.AddBalanceResponse.self) { group in
            for index in 0..<8 { group.addTask { try await clients[index % 2].addBalance(request) } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(Set(replies.map { $0.transaction?.id ?? "" }).count == 1)
        #expect(Set(replies.map { $0.charge?.id ?? "" }).count == 1)
        #expect(await executedCharges(daemons) - chargesBefore == 1)
        let charges = try await clients[1].listCharges(.init(accountID: accountID)).charges
        #expect(charges.count == 1)
        for client in clients {
            #expect(try await client.getWallet(.init(accountID: accountID)).wallet?.balance == usd(2_500))
            try await expectLedgerMatchesBalance(client, accountID)
        }
        await daemons.1.finish()
        await daemons.0.finish()
    }

    /// Every top-up issues an invoice, and every invoice bumps the one row of invoice numbers: the hottest
    /// row two daemons share. Retried whole, a batch of them once lost to the other daemon ten times running.
    @Test("top-ups through both daemons at once, all bumping the one invoice-number row, all succeed, numbered without gaps")
    func topUpsContendingForInvoiceNumbers() async throws {
        let daemons = try await twoDaemons()
        let clients = [daemons.0.client(), daemons.1.client()]
        var accounts: [String] = []
        for _ in 0..<10 { accounts.append(try await clients[0].readyAccount()) }
        let accountIDs = accounts
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<100 {
                group.addTask {
                    _ = try await clients[index % 2].addBalance(.init(
                        idempotencyKey: key(), accountID: accountIDs[index % accountIDs.count], amount: self.usd(100)))
                }
            }
            try await group.waitForAll()
        }
        var numbers: [String] = []
        for accountID in accountIDs {
            numbers += try await clients[1].listInvoices(.init(accountID: accountID, pageSize: 100)).invoices.map(\.number)
            #expect(try await clients[0].getWallet(.init(accountID: accountID)).wallet?.balance == usd(1_000))
        }
        #expect(numbers.sorted() == (1...100).map { String(format: "INV-%06d", $0) })
        await daemons.1.finish()
        await daemons.0.finish()
    }

    @Test("a wallet suspended on one daemon is suspended on the other, and funds added on either restore it for both")
    func suspensionAndRestoreCrossDaemons() async throws {
        let daemons = try await twoDaemons()
        let clients = [daemons.0.client(), daemons.1.client()]
        let accountID = try await clients[0].readyAccount()
        _ = try await clients[0].addBalance(.init(idempotencyKey: key(), accountID: accountID, amount: usd(100)))
        // The second daemon loads the wallet while it is active, then the first debits it to zero.
        #expect(try await clients[1].getWallet(.init(accountID: accountID)).wallet?.serviceStatus == .active)
        _ = try await clients[0].recordUsage(.init(accountID: accountID, usageID: key(), category: "sms", amount: usd(100), description: "all of it"))
        #expect(try await clients[0].getWallet(.init(accountID: accountID)).wallet?.serviceStatus == .suspended)
        #expect(try await clients[1].getWallet(.init(accountID: accountID)).wallet?.serviceStatus == .suspended)
        let refused = await rpcError {
            _ = try await clients[1].recordUsage(.init(accountID: accountID, usageID: key(), category: "sms", amount: usd(1), description: "more"))
        }
        #expect(refused?.detail("reason") == "wallet_suspended")
        _ = try await clients[1].addBalance(.init(idempotencyKey: key(), accountID: accountID, amount: usd(500)))
        for client in clients {
            let wallet = try await client.getWallet(.init(accountID: accountID)).wallet
            #expect(wallet?.serviceStatus == .active)
            #expect(wallet?.balance == usd(500))
        }
        _ = try await clients[0].recordUsage(.init(accountID: accountID, usageID: key(), category: "sms", amount: usd(1), description: "again"))
        await daemons.1.finish()
        await daemons.0.finish()
    }

    @Test("a watcher on one daemon hears of the debits, the suspension and the restore made through the other")
    func watchersHearOfTheOtherDaemonsChanges() async throws {
        let daemons = try await twoDaemons()
        let clients = [daemons.0.client(), daemons.1.client()]
        let accountID = try await clients[0].readyAccount()
        _ = try await clients[0].addBalance(.init(idempotencyKey: key(), accountID: accountID, amount: usd(100)))
        // Collected on a task of its own; each step waits (at most five seconds) for the events it causes
        // before the next step, since a catch-up that runs late sums up what happened meanwhile (a
        // suspension undone before it ran would not be announced).
        let watch = clients[1].watchWallet(.init(accountID: accountID))
        let heard = SharedList()
        let collector = Task {
            for try await event in watch { heard.append("\(event.kind) \(event.transaction?.usageID ?? "")") }
        }
        func waitFor(_ count: Int) async throws {
            for _ in 0..<500 where heard.values.count < count { try await Task.sleep(for: .milliseconds(10)) }
        }
        try await waitFor(1)
        _ = try await clients[0].recordUsage(.init(accountID: accountID, usageID: "first", category: "sms", amount: usd(40), description: "one"))
        try await waitFor(2)
        _ = try await clients[0].recordUsage(.init(accountID: accountID, usageID: "second", category: "sms", amount: usd(60), description: "the rest"))
        try await waitFor(4)
        _ = try await clients[0].addBalance(.init(idempotencyKey: key(), accountID: accountID, amount: usd(500)))
        try await waitFor(6)
        collector.cancel()
        #expect(heard.values == [
            "KIND_SNAPSHOT ", "KIND_BALANCE_CHANGED first", "KIND_BALANCE_CHANGED second", "KIND_SUSPENDED ", "KIND_BALANCE_CHANGED ",
            "KIND_RESTORED ",
        ])
        await daemons.1.finish()
        await daemons.0.finish()
    }

    @Test("both daemons running the renewal schedule at once bill each period once, with gapless invoice numbers")
    func renewalsRunOnceAcrossDaemons() async throws {
        let daemons = try await twoDaemons()
        let clients = [daemons.0.client(), daemons.1.client()]
        // Subscriptions on the wall clock, due now: the harness's clock is moved a month on.
        var accounts: [String] = []
        for _ in 0..<6 {
            let accountID = try await clients[0].readyAccount()
            _ = try await clients[0].createSubscription(.init(idempotencyKey: key(), accountID: accountID, planID: "starter-monthly-usd-v1", quantity: 1))
            accounts.append(accountID)
        }
        daemons.0.clock.advance(by: 32 * 86_400)
        async let first = daemons.0.billing.scheduler.runDue()
        async let second = daemons.1.billing.scheduler.runDue()
        let ran = try await first + second
        #expect(ran >= accounts.count)
        var numbers: [String] = []
        for accountID in accounts {
            let invoices = try await clients[1].listInvoices(.init(accountID: accountID)).invoices
            #expect(invoices.count == 2, "one invoice at creation and one renewal")
            numbers += invoices.map(\.number)
        }
        #expect(Set(numbers).count == numbers.count)
        #expect(numbers.sorted() == (1...numbers.count).map { String(format: "INV-%06d", $0) })
        await daemons.1.finish()
        await daemons.0.finish()
    }

    /// A daemon starting up cannot know whether another daemon is sending one of its pending charges
    /// right now: declaring that charge not charged would free its key, and the other daemon's call,
    /// landing later, would take money without its credit. It settles as abandoned only its own.
    @Test("at start-up a daemon declares not charged only the pending charges an earlier run of itself left, never another daemon's")
    func startUpLeavesAnotherDaemonsChargesInFlightAlone() async throws {
        let daemons = try await twoDaemons()
        var client = daemons.0.client()
        let accountID = try await client.readyAccount()
        let card = try #require(try await client.listPaymentMethods(.init(accountID: accountID)).paymentMethods.first)
        // Recorded on each daemon, neither sent yet.
        try await daemons.0.insertUnsentTopUp(id: "ch_first_daemons", accountID: accountID, card: card, recordedBy: daemons.0.socketPath)
        try await daemons.0.insertUnsentTopUp(id: "ch_second_daemons", accountID: accountID, card: card, recordedBy: daemons.1.socketPath)

        #expect(try await daemons.0.restart().reconciledCharges == 1)
        client = daemons.0.client()
        let charges = try await client.listCharges(.init(accountID: accountID)).charges
        #expect(Dictionary(uniqueKeysWithValues: charges.map { ($0.id, $0.status) })
                == ["ch_first_daemons": .failed, "ch_second_daemons": .pending])
        // An hour on, no live call can still make it: the running upkeep settles it.
        daemons.0.clock.advance(by: 3_601)
        #expect(try await daemons.0.maintain().reconciledCharges == 1)
        #expect(try await client.listCharges(.init(accountID: accountID, statuses: [.pending])).charges.isEmpty)
        try await expectLedgerMatchesBalance(client, accountID)
        await daemons.1.finish()
        await daemons.0.finish()
    }

    /// Fulfilment is delivered under a claim per subscription: two daemons' upkeep passes running at
    /// once send each action once between them, never twice (each daemon here has its own provider
    /// client, so a doubled delivery would show in the sum).
    @Test("two daemons delivering fulfilment at once send each action once between them")
    func fulfilmentIsDeliveredOnceAcrossDaemons() async throws {
        let daemons = try await twoDaemons()
        let clients = [daemons.0.client(), daemons.1.client()]
        var subscriptions: [String] = []
        // Undelivered at first: the provider is unreachable when each subscription is created.
        await daemons.0.provider.failNextCalls(8)
        for _ in 0..<8 {
            let (_, account) = try await clients[0].clockAccount(at: utcMilliseconds(2027, 1, 1))
            subscriptions.append(try #require(try await clients[0].subscribe(account, plan: "managed-postgres-small-usd-v1").subscription?.id))
        }
        for id in subscriptions { #expect(await daemons.0.provider.actions(for: id) == []) }

        daemons.0.clock.advance(by: 5)  // past the first backoff
        async let first = daemons.0.maintain()
        async let second = daemons.1.maintain()
        _ = try await (first, second)
        for id in subscriptions {
            let delivered = await daemons.0.provider.actions(for: id) + daemons.1.provider.actions(for: id)
            #expect(delivered == [.provision], "subscription \(id)")
        }
        await daemons.1.finish()
        await daemons.0.finish()
    }
}
