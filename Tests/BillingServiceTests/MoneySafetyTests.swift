import BillingClient
import BillingDomain
import Foundation
import Testing

/// Regression tests for the money-safety issue: each failed on the code before its fix, over the real
/// socket. Sweeps of every request field live in HostileInputTests.
@Suite("Money safety, end to end")
struct MoneySafetyTests {
    private func usd(_ minor: Int64) -> BillingV1.Money { BillingV1.Money(amountMinor: minor, currency: "USD") }

    private func debit(_ client: BillingServiceClient, _ accountID: String, _ minor: Int64, usageID: String = UUID().uuidString) async throws -> BillingV1.RecordUsageResponse {
        try await client.recordUsage(.init(accountID: accountID, usageID: usageID, category: "sms", amount: usd(minor), description: "usage"))
    }

    private func configure(_ client: BillingServiceClient, _ accountID: String, amount: Int64, threshold: Int64) async throws {
        _ = try await client.configureAutoRecharge(.init(
            idempotencyKey: key(), accountID: accountID, enabled: true, rechargeAmount: usd(amount), threshold: usd(threshold)))
    }

    // MARK: Overflow

    @Test func aSummaryOverTheWidestRangeIsRefusedAndTheServerLives() async throws {
        let service = try await BillingHarness()
        let client = service.client()
        let accountID = try await client.readyAccount()
        for (from, before) in [(Int64(-1), Int64.max), (-(1 << 62), 1 << 62), (Int64.min, Int64.max), (Int64.min, 0)] {
            let error = await rpcError { _ = try await client.summarizeWalletTransactions(.init(accountID: accountID, fromUnixMs: from, beforeUnixMs: before)) }
            #expect(error?.code == .invalidArgument, "\(from)..<\(before)")
            #expect(error?.field == "before_unix_ms")
        }
        #expect(try await client.summarizeWalletTransactions(.init(accountID: accountID, fromUnixMs: 0, beforeUnixMs: 86_400_000)).months.isEmpty)
        await service.finish()
    }

    @Test func aHugeDebitOnAWalletWithAutoRechargeIsRefusedAndTheServerLives() async throws {
        let service = try await BillingHarness()
        let client = service.client()
        let accountID = try await client.readyAccount()
        _ = try await client.addBalance(.init(idempotencyKey: key(), accountID: accountID, amount: usd(1_000)))
        try await configure(client, accountID, amount: 1_000, threshold: 500)
        let huge = await rpcError { _ = try await debit(client, accountID, Int64.max) }
        #expect(huge?.code == .invalidArgument)
        #expect(huge?.billingReason == .amountTooLarge)
        #expect(huge?.message.contains("USD 999,999.99") == true, "\(huge?.message ?? "")")

        // Within the limit of one amount but beyond what one recharge may charge (100 × USD 10.00):
        // refused, saying so, without telling the owner to turn on what is on.
        let tooMuch = await rpcError { _ = try await debit(client, accountID, 5_000_000) }
        #expect(tooMuch?.code == .failedPrecondition)
        #expect(tooMuch?.billingReason == .rechargeLimitExceeded)
        #expect(tooMuch?.message.contains("USD 1,000.00") == true, "\(tooMuch?.message ?? "")")
        #expect(tooMuch?.message.contains("enable auto-recharge") == false)
        #expect(try await client.getWallet(.init(accountID: accountID)).wallet?.balance == usd(1_000))
        #expect(try await debit(client, accountID, 10).transaction?.balanceAfter == usd(990))
        try await expectLedgerMatchesBalance(client, accountID)
        await service.finish()
    }

    @Test func everySingleAmountHasAConfigurableLimit() async throws {
        let service = try await BillingHarness(limits: MoneyLimits(maxAmountMinor: 50_000))
        let client = service.client()
        let accountID = try await client.readyAccount()
        func expectTooLarge(_ field: String, _ body: () async throws -> Void) async {
            let error = await rpcError(body)
            #expect(error?.code == .invalidArgument, "\(field)")
            #expect(error?.billingReason == .amountTooLarge, "\(field)")
            #expect(error?.field == field)
            #expect(error?.message.contains("USD 500.00") == true, "\(error?.message ?? "")")
        }
        await expectTooLarge("amount") { _ = try await client.addBalance(.init(idempotencyKey: key(), accountID: accountID, amount: self.usd(50_001))) }
        await expectTooLarge("amount") { _ = try await self.debit(client, accountID, 50_001) }
        await expectTooLarge("recharge_amount") {
            _ = try await client.configureAutoRecharge(.init(idempotencyKey: key(), accountID: accountID, enabled: true, rechargeAmount: self.usd(50_001), threshold: self.usd(0)))
        }
        await expectTooLarge("threshold") {
            _ = try await client.configureAutoRecharge(.init(idempotencyKey: key(), accountID: accountID, enabled: false, rechargeAmount: self.usd(0), threshold: self.usd(50_001)))
        }
        func invoice(_ lines: [(quantity: Int64, unit: Int64)]) async -> RPCError? {
            await rpcError {
                _ = try await client.createInvoice(.init(idempotencyKey: key(), accountID: accountID, lines: lines.map {
                    .init(description: "Seat", quantity: $0.quantity, unitAmount: self.usd($0.unit))
                }))
            }
        }
        #expect(await invoice([(1, 50_001)])?.field == "lines[0].unit_amount")
        #expect(await invoice([(2, 30_000)])?.field == "lines[0].amount")
        let total = await invoice([(1, 30_000), (1, 30_000)])
        #expect(total?.billingReason == .amountTooLarge)
        #expect(total?.message.contains("invoice total") == true)
        // At the limit, everything is taken.
        _ = try await client.addBalance(.init(idempotencyKey: key(), accountID: accountID, amount: usd(50_000)))
        #expect(try await debit(client, accountID, 50_000).transaction?.balanceAfter == usd(0))
        #expect(await invoice([(1, 25_000), (2, 12_500)]) == nil)
        try await expectLedgerMatchesBalance(client, accountID)
        await service.finish()
    }

    // MARK: NUL bytes

    @Test func keysThatDifferAfterANulByteAreRefusedNotMerged() async throws {
        let service = try await BillingHarness()
        let client = service.client()
        let accountID = try await client.readyAccount()
        for suffix in ["A", "B"] {
            let error = await rpcError { _ = try await client.addBalance(.init(idempotencyKey: "K\u{0}\(suffix)", accountID: accountID, amount: self.usd(100))) }
            #expect(error?.code == .invalidArgument)
            #expect(error?.billingReason == .invalidString)
            #expect(error?.field == "idempotency_key")
        }
        for suffix in ["a", "b"] {
            let error = await rpcError { _ = try await debit(client, accountID, 1, usageID: "u\u{0}\(suffix)") }
            #expect(error?.field == "usage_id")
        }
        let named = await rpcError {
            _ = try await client.createAccount(.init(idempotencyKey: key(), displayName: "Acme\u{0}Evil", currency: "USD"))
        }
        #expect(named?.field == "display_name")
        #expect(try await client.getWallet(.init(accountID: accountID)).wallet?.balance == usd(0))
        #expect(try await client.listCharges(.init(accountID: accountID)).charges.isEmpty)
        await service.finish()
    }

    // MARK: A fixed card restores a suspended wallet

    @Test func aNewPrimaryCardRestoresAWalletSuspendedByDeclines() async throws {
        let service = try await BillingHarness()
        let client = service.client()
        let accountID = try await client.readyAccount(card: TestCard.declined)
        try await configure(client, accountID, amount: 1_000, threshold: 0)
        var events = client.watchWallet(.init(accountID: accountID)).makeAsyncIterator()
        #expect(try await events.next()?.kind == .snapshot)

        // Nothing in the wallet and a declining card: the debit's recharge fails, services are suspended.
        let refused = await rpcError { _ = try await debit(client, accountID, 100) }
        #expect(refused?.billingReason == .walletSuspended)
        #expect(refused?.message.contains("declined") == true, "\(refused?.message ?? "")")
        var account = try await client.getAccount(.init(accountID: accountID)).account!
        #expect(account.serviceStatus == .suspended)
        #expect(await rpcError { _ = try await debit(client, accountID, 100) }?.billingReason == .walletSuspended)

        // Following the advice, "update the card", is enough: the wallet recharges and services return.
        let good = try await client.addPaymentMethod(.init(idempotencyKey: key(), accountID: accountID, card: TestCard.input(TestCard.succeeds), makePrimary: true))
        #expect(good.paymentMethod?.primary == true)
        var kinds: [BillingV1.WalletEvent.Kind] = []
        while kinds.last != .restored, let event = try await events.next() { kinds.append(event.kind) }
        #expect(kinds.contains(.rechargeSucceeded), "\(kinds)")
        #expect(kinds.last == .restored, "\(kinds)")
        account = try await client.getAccount(.init(accountID: accountID)).account!
        #expect(account.serviceStatus == .active)
        #expect(account.suspensionReason.isEmpty)
        #expect(try await debit(client, accountID, 100).transaction?.balanceAfter == usd(900))
        try await expectLedgerMatchesBalance(client, accountID)
        await service.finish()
    }

    // MARK: Lost gateway answers

    @Test func aLostAnswerThatTheGatewayCannotFindYetIsNeverChargedTwice() async throws {
        let service = try await BillingHarness(gatewayLookUpLag: .seconds(3600))
        let client = service.client()
        let accountID = try await client.readyAccount()
        await service.gateway.setMode(.losesAnswersLooksUpLate)
        let request = BillingV1.AddBalanceRequest(idempotencyKey: key(), accountID: accountID, amount: usd(2_500))
        let first = await rpcError { _ = try await client.addBalance(request) }
        #expect(first?.code == .unavailable)
        #expect(first?.billingReason == .chargePending)
        // The charge stays pending with its key held: a retry re-sends it under the same gateway key.
        #expect(try await client.listCharges(.init(accountID: accountID)).charges.map(\.status) == [.pending])
        #expect(await rpcError { _ = try await client.addBalance(request) }?.billingReason == .chargePending)
        // Reconciliation while the gateway still cannot find it keeps it pending: it is not old enough.
        #expect(try await service.maintain().reconciledCharges == 0)

        // The gateway answers again: the retry gets the first charge back and credits it once.
        await service.gateway.setMode(.healthy)
        let added = try await client.addBalance(request)
        #expect(added.wallet?.balance == usd(2_500))
        #expect(await service.gateway.executedCharges == 1)
        #expect(try await client.addBalance(request).transaction?.id == added.transaction?.id)
        let charges = try await client.listCharges(.init(accountID: accountID)).charges
        #expect(charges.map(\.status) == [.succeeded])
        try await expectLedgerMatchesBalance(client, accountID)
        await service.finish()
    }

    @Test func aCallWhoseDeadlinePassesStillRecordsItsCharge() async throws {
        let service = try await BillingHarness()
        let client = service.client()
        let accountID = try await client.readyAccount()
        await service.gateway.setLatency(.milliseconds(400))
        let request = BillingV1.AddBalanceRequest(idempotencyKey: key(), accountID: accountID, amount: usd(700))
        let late = await rpcError { _ = try await client.addBalance(request, options: CallOptions(timeout: .milliseconds(150))) }
        #expect(late?.code == .deadlineExceeded)
        await service.gateway.setLatency(.zero)
        // The charge went through and its settlement completed without the caller, and without a reconciler.
        var balance: BillingV1.Money?
        for _ in 0..<200 {
            balance = try await client.getWallet(.init(accountID: accountID)).wallet?.balance
            if balance == usd(700) { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(balance == usd(700))
        #expect(try await client.listCharges(.init(accountID: accountID)).charges.map(\.status) == [.succeeded])
        #expect(try await client.addBalance(request).wallet?.balance == usd(700))
        #expect(await service.gateway.executedCharges == 1)
        await service.finish()
    }

    // MARK: One actor per wallet

    @Test func aWatchedWalletIsNeverEvictedForAnother() async throws {
        var policy = WalletPolicy()
        policy.maxLoadedWallets = 3
        let service = try await BillingHarness(walletPolicy: policy)
        let client = service.client()
        let watched = try await client.readyAccount()
        _ = try await client.addBalance(.init(idempotencyKey: key(), accountID: watched, amount: usd(1_000)))
        var events = client.watchWallet(.init(accountID: watched)).makeAsyncIterator()
        #expect(try await events.next()?.kind == .snapshot)
        for _ in 0..<6 {
            let other = try await client.readyAccount(card: nil)
            _ = try await client.getWallet(.init(accountID: other))
        }
        _ = try await debit(client, watched, 10)
        let event = try await events.next()
        #expect(event?.kind == .balanceChanged)
        #expect(event?.transaction?.balanceAfter == usd(990))
        await service.finish()
    }

    @Test func underLoadWithFewSlotsEveryWalletMatchesItsLedger() async throws {
        var policy = WalletPolicy()
        policy.maxLoadedWallets = 3
        let service = try await BillingHarness(walletPolicy: policy)
        let client = service.client()
        var accounts: [String] = []
        for _ in 0..<9 {
            let accountID = try await client.readyAccount()
            _ = try await client.addBalance(.init(idempotencyKey: key(), accountID: accountID, amount: usd(100_000)))
            accounts.append(accountID)
        }
        let accepted = SharedList()
        let busy = SharedList()
        let loaded = accounts
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<6 {
                group.addTask {
                    for index in 0..<40 {
                        let accountID = loaded[(worker * 7 + index * 5) % loaded.count]
                        do {
                            _ = try await self.debit(client, accountID, 3)
                            accepted.append(accountID)
                        } catch let error as RPCError where error.billingReason == .walletsBusy {
                            busy.append(accountID)
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(accepted.values.count + busy.values.count == 240)
        for accountID in accounts {
            let debited = Int64(accepted.values.filter { $0 == accountID }.count) * 3
            #expect(try await client.getWallet(.init(accountID: accountID)).wallet?.balance == usd(100_000 - debited))
            try await expectLedgerMatchesBalance(client, accountID)
        }
        await service.finish()
    }

    // MARK: Smaller defects

    @Test func ledgerTimesNeverRunBackwardsEvenWhenTheClockDoes() async throws {
        let service = try await BillingHarness()
        let client = service.client()
        let accountID = try await client.readyAccount()
        _ = try await client.addBalance(.init(idempotencyKey: key(), accountID: accountID, amount: usd(1_000)))
        let first = try await debit(client, accountID, 10).transaction!
        service.clock.advance(by: -5)
        let second = try await debit(client, accountID, 10).transaction!
        _ = try await client.addBalance(.init(idempotencyKey: key(), accountID: accountID, amount: usd(1_000)))
        #expect(second.createdAtUnixMs >= first.createdAtUnixMs)
        let ledger = try await client.listWalletTransactions(.init(accountID: accountID, pageSize: 100)).transactions
        let times = ledger.reversed().map(\.createdAtUnixMs)
        #expect(times == times.sorted(), "\(times)")
        await service.finish()
    }

    @Test func stripesTestCardsBehaveOnAttachAndOnCharge() async throws {
        let service = try await BillingHarness()
        let client = service.client()
        let accountID = try await client.readyAccount(card: nil)
        let declined = await rpcError {
            _ = try await client.addPaymentMethod(.init(idempotencyKey: key(), accountID: accountID, card: TestCard.input(TestCard.declinedOnAttach)))
        }
        #expect(declined?.code == .failedPrecondition)
        #expect(declined?.billingReason == .cardDeclined)
        #expect(declined?.declineCode == "card_declined")
        #expect(declined?.message.contains("4000000000000002") == false)
        #expect(try await client.listPaymentMethods(.init(accountID: accountID)).paymentMethods.isEmpty)

        _ = try await client.addPaymentMethod(.init(idempotencyKey: key(), accountID: accountID, card: TestCard.input(TestCard.declined)))
        for _ in 0..<2 {
            let invoice = try await client.openInvoice(accountID)
            let refused = await rpcError { _ = try await client.payInvoice(.init(idempotencyKey: key(), accountID: accountID, invoiceID: invoice.id)) }
            #expect(refused?.billingReason == .cardDeclined)
            #expect(refused?.declineCode == "card_declined")
        }
        await service.finish()
    }

    @Test func everyReasonTheServiceGivesIsListedInTheProto() {
        let listed = Set(BillingV1.ErrorReason.allCases.filter { $0 != .unspecified }.map(\.wireName))
        let domain = Set(BillingDomain.BillingError.Reason.allCases.map(\.rawValue))
        let transport = Set(TransportReason.allCases.map(\.rawValue))
        let generic = Set((0...16).map { StatusCode(rawValue: Int32($0)).description.lowercased() }.filter { $0 != "ok" })
        #expect(domain.subtracting(listed).isEmpty, "not in billing.proto: \(domain.subtracting(listed))")
        #expect(transport.subtracting(listed).isEmpty, "not in billing.proto: \(transport.subtracting(listed))")
        #expect(generic.subtracting(listed).isEmpty, "not in billing.proto: \(generic.subtracting(listed))")
        #expect(listed.subtracting(domain).subtracting(transport).subtracting(generic).isEmpty, "listed but never given: \(listed.subtracting(domain).subtracting(transport).subtracting(generic))")
        #expect(BillingV1.ErrorReason(wireName: "card_declined") == .cardDeclined)
        #expect(BillingV1.ErrorReason(wireName: "no_such_reason") == .unspecified)
    }
}
