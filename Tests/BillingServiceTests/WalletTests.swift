import BillingClient
import BillingLocking
import Foundation
import Synchronization
import Testing

@Suite("Wallet, end to end")
struct WalletTests {
    private func usd(_ minor: Int64) -> BillingV1.Money { BillingV1.Money(amountMinor: minor, currency: "USD") }

    private func debit(_ client: BillingServiceClient, _ accountID: String, _ minor: Int64, usageID: String = UUID().uuidString, category: String = "sms") async throws -> BillingV1.RecordUsageResponse {
        try await client.recordUsage(.init(accountID: accountID, usageID: usageID, category: category, amount: usd(minor), description: "test usage"))
    }

    private func configure(_ client: BillingServiceClient, _ accountID: String, amount: Int64, threshold: Int64, enabled: Bool = true) async throws {
        _ = try await client.configureAutoRecharge(.init(
            idempotencyKey: key(), accountID: accountID, enabled: enabled, rechargeAmount: usd(amount), threshold: usd(threshold)))
    }

    /// An account with 1,000 in its wallet and auto-recharge of 5,000 below 500, whose debit of 600 started
    /// a recharge while the gateway was in `mode`: the recharge charge is left pending.
    private func rechargeLeftPending(_ service: BillingHarness, _ client: BillingServiceClient, gateway mode: FlakyGateway.Mode) async throws -> String {
        let accountID = try await client.readyAccount()
        _ = try await client.addBalance(.init(idempotencyKey: key(), accountID: accountID, amount: usd(1_000)))
        try await configure(client, accountID, amount: 5_000, threshold: 500)
        await service.gateway.setMode(mode)
        _ = try await debit(client, accountID, 600)
        return accountID
    }

    @Test func addingFundsChargesTheCardAndRecordsAnInvoice() async throws {
        let service = try await BillingHarness()
        let client = service.client()
        let accountID = try await client.readyAccount()
        let empty = try await client.getWallet(.init(accountID: accountID)).wallet!
        #expect(empty.balance == usd(0))
        #expect(empty.autoRecharge?.enabled == false)

        let request = BillingV1.AddBalanceRequest(idempotencyKey: key(), accountID: accountID, amount: usd(5_000))
        let added = try await client.addBalance(request)
        #expect(added.wallet?.balance == usd(5_000))
        #expect(added.transaction?.source == .topUp)
        #expect(added.charge?.status == .succeeded)
        #expect(added.invoice?.status == .paid)
        #expect(added.invoice?.number == "INV-000001")
        let retried = try await client.addBalance(request)
        #expect(retried.transaction == added.transaction)
        #expect(try await client.getWallet(.init(accountID: accountID)).wallet?.balance == usd(5_000))
        #expect(await service.gateway.chargeCalls == 1)
        #expect(try await client.listCharges(.init(accountID: accountID)).charges.map(\.id) == [added.charge!.id])
        #expect(try await client.listInvoices(.init(accountID: accountID)).invoices.map(\.id) == [added.invoice!.id])
        try await expectLedgerMatchesBalance(client, accountID)
        await service.finish()
    }

    @Test func addingFundsFailsClearlyAndCreditsNothing() async throws {
        let service = try await BillingHarness()
        let client = service.client()
        let declined = try await client.readyAccount(card: TestCard.declined)
        let error = await rpcError { _ = try await client.addBalance(.init(idempotencyKey: key(), accountID: declined, amount: usd(1_000))) }
        #expect(error?.code == .failedPrecondition)
        #expect(error?.message.contains("declined") == true)

        let noCard = try await client.readyAccount(card: nil)
        let noCardError = await rpcError { _ = try await client.addBalance(.init(idempotencyKey: key(), accountID: noCard, amount: usd(1_000))) }
        #expect(noCardError?.message.contains("no primary card") == true)

        let bare = try await client.createAccount(.init(idempotencyKey: key(), displayName: "Bare", currency: "USD")).account!
        _ = try await client.addPaymentMethod(.init(idempotencyKey: key(), accountID: bare.id, card: TestCard.input(TestCard.succeeds)))
        let incomplete = await rpcError { _ = try await client.addBalance(.init(idempotencyKey: key(), accountID: bare.id, amount: usd(1_000))) }
        #expect(incomplete?.message.contains("billing address is incomplete") == true)

        for accountID in [declined, noCard, bare.id] {
            #expect(try await client.getWallet(.init(accountID: accountID)).wallet?.balance == usd(0))
            try await expectLedgerMatchesBalance(client, accountID)
        }
        #expect(await rpcError { _ = try await client.addBalance(.init(idempotencyKey: key(), accountID: declined, amount: usd(-5))) }?.code == .invalidArgument)
        #expect(await rpcError { _ = try await client.addBalance(.init(idempotencyKey: key(), accountID: declined, amount: .init(amountMinor: 5, currency: "EUR"))) }?.code == .invalidArgument)
        await service.finish()
    }

    @Test func usageIsDebitedOncePerUsageIDAndNeverBelowZero() async throws {
        let service = try await BillingHarness()
        let client = service.client()
        let accountID = try await client.readyAccount()
        _ = try await client.addBalance(.init(idempotencyKey: key(), accountID: accountID, amount: usd(1_000)))
        let first = try await debit(client, accountID, 300, usageID: "usage-1")
        #expect(first.transaction?.balanceAfter == usd(700))
        #expect(!first.replayed)
        let again = try await debit(client, accountID, 300, usageID: "usage-1")
        #expect(again.replayed)
        #expect(again.transaction == first.transaction)
        #expect(await rpcError { _ = try await debit(client, accountID, 999, usageID: "usage-1") }?.detail("field") == "usage_id")

        let tooMuch = await rpcError { _ = try await debit(client, accountID, 701) }
        #expect(tooMuch?.code == .failedPrecondition)
        #expect(tooMuch?.message.contains("insufficient wallet balance") == true)
        #expect(await rpcError { _ = try await debit(client, accountID, 0) }?.detail("field") == "amount")
        #expect(await rpcError { _ = try await debit(client, accountID, -1) }?.detail("field") == "amount")
        #expect(await rpcError { _ = try await debit(client, accountID, 1, category: "SMS!") }?.detail("field") == "category")
        #expect(await rpcError { _ = try await debit(client, accountID, 1, usageID: "") }?.detail("field") == "usage_id")
        #expect(try await client.getWallet(.init(accountID: accountID)).wallet?.balance == usd(700))
        try await expectLedgerMatchesBalance(client, accountID)
        await service.finish()
    }

    @Test func hundredsOfConcurrentDebitsAcrossTheThresholdMakeExactlyOneRecharge() async throws {
        let service = try await BillingHarness()
        let client = service.client()
        let accountID = try await client.readyAccount()
        _ = try await client.addBalance(.init(idempotencyKey: key(), accountID: accountID, amount: usd(10_000)))
        try await configure(client, accountID, amount: 5_000, threshold: 2_000)
        let chargesBefore = await service.gateway.chargeCalls
        // 300 debits of 30 over two connections (each takes 256 calls at once): the balance falls from
        // 10,000 through the 2,000 threshold once.
        let clients = [client, service.client()]
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<300 {
                group.addTask { _ = try await debit(clients[index % 2], accountID, 30, usageID: "u-\(index)") }
            }
            try await group.waitForAll()
        }
        try await waitForNoRechargeInFlight(client, accountID)
        #expect(await service.gateway.chargeCalls - chargesBefore == 1)
        let wallet = try await client.getWallet(.init(accountID: accountID)).wallet!
        #expect(wallet.balance == usd(10_000 - 300 * 30 + 5_000))
        let recharges = try await client.listWalletTransactions(.init(accountID: accountID, categories: ["top-up"])).transactions.filter { $0.source == .autoRecharge }
        #expect(recharges.count == 1)
        try await expectLedgerMatchesBalance(client, accountID)
        await service.finish()
    }

    @Test func debitsRacingAddBalanceLoseNoUpdate() async throws {
        let service = try await BillingHarness()
        let client = service.client()
        let accountID = try await client.readyAccount()
        _ = try await client.addBalance(.init(idempotencyKey: key(), accountID: accountID, amount: usd(20_000)))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<200 {
                group.addTask { _ = try await debit(client, accountID, 50, usageID: "race-\(index)") }
                if index % 40 == 0 {
                    group.addTask { _ = try await client.addBalance(.init(idempotencyKey: key(), accountID: accountID, amount: usd(1_000))) }
                }
            }
            try await group.waitForAll()
        }
        #expect(try await client.getWallet(.init(accountID: accountID)).wallet?.balance == usd(20_000 + 5 * 1_000 - 200 * 50))
        try await expectLedgerMatchesBalance(client, accountID)
        await service.finish()
    }

    @Test func aRechargeTooSmallForTheThresholdChargesTheSmallestMultiple() async throws {
        let service = try await BillingHarness()
        let client = service.client()
        let accountID = try await client.readyAccount()
        _ = try await client.addBalance(.init(idempotencyKey: key(), accountID: accountID, amount: usd(1_000)))
        try await configure(client, accountID, amount: 100, threshold: 1_000)
        // 1,000 - 100 = 900 ≤ 1,000: the smallest multiple of 100 lifting 900 above 1,000 is 2 × 100.
        _ = try await debit(client, accountID, 100)
        try await waitForNoRechargeInFlight(client, accountID)
        #expect(try await client.getWallet(.init(accountID: accountID)).wallet?.balance == usd(1_100))
        // A debit larger than the balance waits for a recharge that covers it and leaves the balance
        // above the threshold: 1,100 + 20 × 100 - 2,000 = 1,100.
        let covered = try await debit(client, accountID, 2_000)
        #expect(covered.transaction?.balanceAfter == usd(1_100))
        try await waitForNoRechargeInFlight(client, accountID)
        #expect(try await client.getWallet(.init(accountID: accountID)).wallet?.balance == usd(1_100))
        try await expectLedgerMatchesBalance(client, accountID)
        await service.finish()
    }

    @Test func aDecliningCardBacksOffUntilTimePassesOrTheCardChanges() async throws {
        let service = try await BillingHarness()
        let client = service.client()
        let accountID = try await client.readyAccount()
        _ = try await client.addBalance(.init(idempotencyKey: key(), accountID: accountID, amount: usd(10_000)))
        let declining = try await client.addPaymentMethod(.init(idempotencyKey: key(), accountID: accountID, card: TestCard.input(TestCard.declined), makePrimary: true)).paymentMethod!
        try await configure(client, accountID, amount: 1_000, threshold: 9_000)
        let before = await service.gateway.chargeCalls
        for _ in 0..<10 { _ = try await debit(client, accountID, 100) }
        try await waitForNoRechargeInFlight(client, accountID)
        #expect(await service.gateway.chargeCalls - before == 1, "retried into a declining card")
        var wallet = try await client.getWallet(.init(accountID: accountID)).wallet!
        #expect(wallet.consecutiveRechargeFailures == 1)
        #expect(wallet.rechargeRetryAfterUnixMs > 0)
        let failed = try await client.listCharges(.init(accountID: accountID, statuses: [.failed])).charges
        #expect(failed.count == 1)

        // After the backoff, one more attempt, then a longer wait.
        service.clock.advance(by: 61)
        _ = try await debit(client, accountID, 100)
        try await waitForNoRechargeInFlight(client, accountID)
        #expect(await service.gateway.chargeCalls - before == 2)
        wallet = try await client.getWallet(.init(accountID: accountID)).wallet!
        #expect(wallet.consecutiveRechargeFailures == 2)

        // A new primary card ends the backoff at once.
        let good = try await client.listPaymentMethods(.init(accountID: accountID)).paymentMethods.first { $0.id != declining.id }!
        _ = try await client.setPrimaryPaymentMethod(.init(idempotencyKey: key(), accountID: accountID, paymentMethodID: good.id))
        _ = try await debit(client, accountID, 100)
        try await waitForNoRechargeInFlight(client, accountID)
        wallet = try await client.getWallet(.init(accountID: accountID)).wallet!
        #expect(wallet.consecutiveRechargeFailures == 0)
        #expect(wallet.balance == usd(10_000 - 12 * 100 + 1_000))
        try await expectLedgerMatchesBalance(client, accountID)
        await service.finish()
    }

    @Test func anEmptyWalletSuspendsServicesUntilFundsArrive() async throws {
        let service = try await BillingHarness()
        let client = service.client()
        let accountID = try await client.readyAccount()
        _ = try await client.addBalance(.init(idempotencyKey: key(), accountID: accountID, amount: usd(500)))
        var events = client.watchWallet(.init(accountID: accountID)).makeAsyncIterator()
        #expect(try await events.next()?.kind == .snapshot)

        _ = try await debit(client, accountID, 500)
        #expect(try await events.next()?.kind == .balanceChanged)
        let suspended = try await events.next()
        #expect(suspended?.kind == .suspended)
        let account = try await client.getAccount(.init(accountID: accountID)).account!
        #expect(account.serviceStatus == .suspended)
        #expect(account.suspensionReason.contains("balance is zero"))
        let refused = await rpcError { _ = try await debit(client, accountID, 1) }
        #expect(refused?.code == .failedPrecondition)
        #expect(refused?.message.contains("suspended") == true)

        _ = try await client.addBalance(.init(idempotencyKey: key(), accountID: accountID, amount: usd(1_000)))
        #expect(try await events.next()?.kind == .balanceChanged)
        #expect(try await events.next()?.kind == .restored)
        #expect(try await client.getAccount(.init(accountID: accountID)).account?.serviceStatus == .active)
        #expect(try await debit(client, accountID, 1).transaction?.balanceAfter == usd(999))
        try await expectLedgerMatchesBalance(client, accountID)
        await service.finish()
    }

    @Test func aRechargeWhoseAnswerWasLostIsCreditedOnceAfterARestart() async throws {
        let service = try await BillingHarness()
        var client = service.client()
        let accountID = try await rechargeLeftPending(service, client, gateway: .chargesThenGoesDark)
        // The gateway took the money but its answer was lost: the charge stays pending, nothing is credited,
        // and no second recharge starts while it is pending.
        try await waitForNoRechargeInFlight(client, accountID)
        _ = try await debit(client, accountID, 10)
        #expect(try await client.listCharges(.init(accountID: accountID, statuses: [.pending])).charges.count == 1)
        #expect(try await client.getWallet(.init(accountID: accountID)).wallet?.balance == usd(390))

        let prepared = try await service.restart()
        #expect(prepared.reconciledCharges == 1)
        client = service.client()
        #expect(try await client.listCharges(.init(accountID: accountID, statuses: [.pending])).charges.isEmpty)
        #expect(try await client.getWallet(.init(accountID: accountID)).wallet?.balance == usd(5_390))
        let recharges = try await client.listWalletTransactions(.init(accountID: accountID)).transactions.filter { $0.source == .autoRecharge }
        #expect(recharges.count == 1)
        try await expectLedgerMatchesBalance(client, accountID)
        await service.finish()
    }

    @Test func aRechargeLostToAnOutageIsSettledWhileRunning() async throws {
        let service = try await BillingHarness()
        let client = service.client()
        let accountID = try await rechargeLeftPending(service, client, gateway: .chargesThenGoesDark)
        try await waitForNoRechargeInFlight(client, accountID)
        #expect(try await client.getWallet(.init(accountID: accountID)).wallet?.balance == usd(400))

        // The gateway comes back; a pending charge younger than a minute is left to its live path.
        await service.gateway.setMode(.healthy)
        #expect(try await service.maintain().reconciledCharges == 0)
        service.clock.advance(by: 61)
        #expect(try await service.maintain().reconciledCharges == 1)
        let wallet = try await client.getWallet(.init(accountID: accountID)).wallet!
        #expect(wallet.balance == usd(5_400))
        #expect(wallet.consecutiveRechargeFailures == 0)
        #expect(try await service.maintain().reconciledCharges == 0)
        try await expectLedgerMatchesBalance(client, accountID)
        await service.finish()
    }

    @Test func aChargeTheGatewayNeverMadeIsDeclaredFailedOnlyAfterAnHour() async throws {
        let service = try await BillingHarness()
        let client = service.client()
        let accountID = try await rechargeLeftPending(service, client, gateway: .down)
        try await waitForNoRechargeInFlight(client, accountID)
        await service.gateway.setMode(.healthy)
        // The gateway does not know the charge, but a slow live call could still make it: wait.
        service.clock.advance(by: 61)
        #expect(try await service.maintain().reconciledCharges == 0)
        #expect(try await client.listCharges(.init(accountID: accountID, statuses: [.pending])).charges.count == 1)
        service.clock.advance(by: 3_600)
        #expect(try await service.maintain().reconciledCharges == 1)
        let failed = try await client.listCharges(.init(accountID: accountID, statuses: [.failed])).charges
        #expect(failed.map(\.failureCode) == ["not_charged"])
        #expect(failed.first?.failureMessage.contains("could not be reached when this charge was sent") == true)
        #expect(try await client.getWallet(.init(accountID: accountID)).wallet?.balance == usd(400))
        #expect(await service.gateway.chargeCalls == 1)
        try await expectLedgerMatchesBalance(client, accountID)
        await service.finish()
    }

    /// A stop between recording a charge and sending it leaves a pending charge the gateway never saw;
    /// its failure says so rather than blaming the gateway.
    @Test func aChargeTheServiceNeverSentSaysSoWhenReconciled() async throws {
        let service = try await BillingHarness()
        var client = service.client()
        let accountID = try await client.readyAccount()
        let card = try #require(try await client.listPaymentMethods(.init(accountID: accountID)).paymentMethods.first)
        await service.stop()
        try await service.insertUnsentTopUp(id: "ch_never_sent", accountID: accountID, card: card, recordedBy: service.socketPath)

        #expect(try await service.restart().reconciledCharges == 1)
        client = service.client()
        let failed = try await client.listCharges(.init(accountID: accountID, statuses: [.failed])).charges
        #expect(failed.map(\.id) == ["ch_never_sent"])
        #expect(failed.first?.failureCode == "not_charged")
        #expect(failed.first?.failureMessage.contains("never reached the payment gateway") == true)
        #expect(await service.gateway.chargeCalls == 0)
        #expect(try await client.getWallet(.init(accountID: accountID)).wallet?.balance == usd(0))
        try await expectLedgerMatchesBalance(client, accountID)
        await service.finish()
    }

    @Test func transactionsArePagedFilteredAndSummarized() async throws {
        let service = try await BillingHarness()
        let client = service.client()
        let accountID = try await client.readyAccount()
        _ = try await client.addBalance(.init(idempotencyKey: key(), accountID: accountID, amount: usd(10_000)))
        for index in 0..<7 { _ = try await debit(client, accountID, 100, category: index % 2 == 0 ? "sms" : "ai-tokens") }
        var seen: [BillingV1.WalletTransaction] = []
        var token = ""
        repeat {
            let page = try await client.listWalletTransactions(.init(accountID: accountID, pageSize: 3, pageToken: token))
            seen += page.transactions
            token = page.nextPageToken
        } while !token.isEmpty
        #expect(seen.count == 8)
        #expect(seen.map(\.createdAtUnixMs) == seen.map(\.createdAtUnixMs).sorted(by: >))
        let sms = try await client.listWalletTransactions(.init(accountID: accountID, categories: ["sms"])).transactions
        #expect(sms.count == 4)

        let now = Int64(service.clock.now.timeIntervalSince1970 * 1000)
        let summary = try await client.summarizeWalletTransactions(.init(accountID: accountID, fromUnixMs: now - 86_400_000, beforeUnixMs: now + 1)).months
        let byCategory = Dictionary(uniqueKeysWithValues: summary.map { ($0.category, $0) })
        #expect(byCategory["sms"]?.debits == usd(400))
        #expect(byCategory["ai-tokens"]?.debits == usd(300))
        #expect(byCategory["top-up"]?.credits == usd(10_000))
        #expect(summary.allSatisfy { $0.month == "2026-11" })
        let tooLong = await rpcError { _ = try await client.summarizeWalletTransactions(.init(accountID: accountID, fromUnixMs: 0, beforeUnixMs: now)) }
        #expect(tooLong?.code == .invalidArgument)
        await service.finish()
    }

    @Test func aRestartDuringAStreamOfDebitsLosesNoAcknowledgedDebit() async throws {
        let service = try await BillingHarness()
        let client = service.client()
        let accountID = try await client.readyAccount()
        _ = try await client.addBalance(.init(idempotencyKey: key(), accountID: accountID, amount: usd(100_000)))
        let acknowledged = SharedList()
        let stop = SharedFlag()
        var writers: [Task<Void, Never>] = []
        for writer in 0..<8 {
            writers.append(Task {
                var index = 0
                while !stop.isSet, index < 2_000 {
                    let usageID = "w\(writer)-\(index)"
                    if (try? await debit(client, accountID, 1, usageID: usageID)) != nil {
                        acknowledged.append(usageID)
                    }
                    index += 1
                }
            })
        }
        try await Task.sleep(for: .milliseconds(300))
        _ = try await service.restart()
        try await Task.sleep(for: .milliseconds(300))
        stop.set()
        for writer in writers { await writer.value }

        let reader = service.client()
        var ledger: Set<String> = []
        var token = ""
        repeat {
            let page = try await reader.listWalletTransactions(.init(accountID: accountID, pageSize: 100, pageToken: token, categories: ["sms"]))
            ledger.formUnion(page.transactions.map(\.usageID))
            token = page.nextPageToken
        } while !token.isEmpty
        let acked = acknowledged.values
        #expect(acked.count > 0)
        #expect(Set(acked).isSubset(of: ledger), "an acknowledged debit is missing after the restart")
        try await expectLedgerMatchesBalance(reader, accountID)
        await service.finish()
    }
}

/// The wallet's balance equals the sum of its ledger: checked after every scenario.
func expectLedgerMatchesBalance(_ client: BillingServiceClient, _ accountID: String, sourceLocation: SourceLocation = #_sourceLocation) async throws {
    var sum: Int64 = 0
    var token = ""
    repeat {
        let page = try await client.listWalletTransactions(.init(accountID: accountID, pageSize: 100, pageToken: token))
        sum += page.transactions.reduce(0) { $0 + ($1.amount?.amountMinor ?? 0) }
        token = page.nextPageToken
    } while !token.isEmpty
    let balance = try await client.getWallet(.init(accountID: accountID)).wallet?.balance?.amountMinor
    #expect(balance == sum, "balance \(balance ?? -1) ≠ ledger sum \(sum)", sourceLocation: sourceLocation)
}

/// Waits until the wallet reports no recharge in flight.
func waitForNoRechargeInFlight(_ client: BillingServiceClient, _ accountID: String) async throws {
    for _ in 0..<300 {
        if try await client.getWallet(.init(accountID: accountID)).wallet?.pendingRecharge == nil { return }
        try await Task.sleep(for: .milliseconds(10))
    }
    Issue.record("a recharge was still in flight after 3 s")
}

/// A list many tasks append to.
final class SharedList: Sendable {
    private let storage = Locked<[String]>([])
    func append(_ value: String) { storage.withLock { $0.append(value) } }
    var values: [String] { storage.withLock { $0 } }
}

/// A flag one task raises and others read.
final class SharedFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    func set() { flag.store(true, ordering: .relaxed) }
    var isSet: Bool { flag.load(ordering: .relaxed) }
}
