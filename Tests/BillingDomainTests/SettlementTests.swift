@testable import BillingDomain
@testable import BillingSandbox
import BillingStore
import Foundation
import Testing

@Suite("Settling charges")
struct SettlementTests {
    /// Only the call that settles a charge acts on it: settling a top-up again (a reconciliation racing
    /// the live path, say) reports the credit it made and adds nothing.
    @Test func settlingATopUpTwiceCreditsOnce() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let context = try await makeContext(in: directory, now: { utcDate(2026, 11, 20) })
        let store = context.store
        let account = try await readyAccount(in: context)
        let wallets = WalletService(context: context)
        let added = try await wallets.addFunds(accountID: account.id, amount: Money(amountMinor: 5_000, currency: .usd), idempotencyKey: "d")

        let gatewayCharge = try #require(try await context.gateway.lookUpCharge(idempotencyKey: added.charge.id))
        let again = try await store.write { tx in
            try Settlement.settle(added.charge.id, with: .settled(gatewayCharge), context: context, in: tx, nowMilliseconds: 0)
        }
        guard case .walletCredit(let credit) = again else { Issue.record("a top-up settled as \(again)"); return }
        #expect(credit.transaction == added.transaction)
        #expect(!credit.credited)
        let (balance, lines, invoices) = try await store.read { tx in
            (try tx.queryOne("SELECT balance_minor FROM wallets WHERE account_id = ?", .text(account.id))!.int64("balance_minor"),
             try tx.queryOne("SELECT count(*) AS n FROM wallet_transactions WHERE account_id = ?", .text(account.id))!.int("n"),
             try tx.queryOne("SELECT count(*) AS n FROM invoices WHERE account_id = ?", .text(account.id))!.int("n"))
        }
        #expect(balance == 5_000)
        #expect(lines == 1)
        #expect(invoices == 1)
        await store.close()
    }
}
