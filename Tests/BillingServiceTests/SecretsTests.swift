import BillingClient
import BillingDomain
import BillingStore
import Foundation
import Testing

/// Card numbers, CVCs and gateway tokens never reach a log line or an error, in a scenario that makes
/// the server log and refuse as much as it can.
@Suite("Secrets stay secret")
struct SecretsTests {
    /// Whether `token` stands in `text` with no letter or digit on either side.
    static func contains(token: String, in text: String) -> Bool {
        var searchRange = text.startIndex..<text.endIndex
        while let found = text.range(of: token, range: searchRange) {
            let before = found.lowerBound > text.startIndex ? text[text.index(before: found.lowerBound)] : " "
            let after = found.upperBound < text.endIndex ? text[found.upperBound] : " "
            if !before.isLetter && !before.isNumber && !after.isLetter && !after.isNumber { return true }
            searchRange = found.upperBound..<text.endIndex
        }
        return false
    }

    @Test func noCardNumberCVCOrTokenReachesALogLineOrAnError() async throws {
        let logs = LogCapture()
        let service = try await BillingHarness(logLines: logs)
        let client = service.client()
        var seen: [String] = []
        func record(_ body: () async throws -> Void) async {
            if let error = await rpcError(body) { seen.append("\(error) \(error.details)") }
        }
        // CVCs with a leading zero: printed numbers (amounts, durations, counts) never have one, so a
        // CVC found as a token of its own in a line can only be the CVC.
        let cards = [
            (number: TestCard.succeeds, cvc: "042"), (number: TestCard.declined, cvc: "071"),
            (number: TestCard.declinedOnAttach, cvc: "083"), (number: TestCard.insufficientFunds, cvc: "096"),
            (number: "4242 4242 4242 4241", cvc: "057"),  // fails the Luhn check
        ]
        let accountID = try await client.readyAccount(card: nil)
        for card in cards {
            await record {
                _ = try await client.addPaymentMethod(.init(
                    idempotencyKey: key(), accountID: accountID, card: TestCard.input(card.number, cvc: card.cvc), makePrimary: true))
            }
            // A second try of a card with a wrong CVC shape and an expired date.
            await record {
                _ = try await client.addPaymentMethod(.init(
                    idempotencyKey: key(), accountID: accountID, card: TestCard.input(card.number, expiryYear: 2020, cvc: card.cvc + "9")))
            }
        }
        for _ in 0..<2 {
            await record { _ = try await client.addBalance(.init(idempotencyKey: key(), accountID: accountID, amount: .init(amountMinor: 500, currency: "USD"))) }
            let invoice = try await client.openInvoice(accountID)
            await record { _ = try await client.payInvoice(.init(idempotencyKey: key(), accountID: accountID, invoiceID: invoice.id)) }
        }
        _ = try await client.configureAutoRecharge(.init(
            idempotencyKey: key(), accountID: accountID, enabled: true, rechargeAmount: .init(amountMinor: 1_000, currency: "USD"),
            threshold: .init(amountMinor: 100, currency: "USD")))
        await record { _ = try await client.recordUsage(.init(accountID: accountID, usageID: key(), category: "sms", amount: .init(amountMinor: 50_000, currency: "USD"))) }
        for method in try await client.listPaymentMethods(.init(accountID: accountID)).paymentMethods {
            await record { _ = try await client.setPrimaryPaymentMethod(.init(idempotencyKey: key(), accountID: accountID, paymentMethodID: method.id)) }
            await record { _ = try await client.removePaymentMethod(.init(idempotencyKey: key(), accountID: accountID, paymentMethodID: method.id)) }
        }
        let charges = try await client.listCharges(.init(accountID: accountID, pageSize: 100)).charges
        seen += charges.map { "\($0.failureCode) \($0.failureMessage) \($0.description)" }
        await service.stop()

        let store = try await service.openStore()
        let tokens = try await store.read { tx in try tx.query("SELECT gateway_token FROM payment_methods").map { try $0.string("gateway_token") } }
        await store.close()
        #expect(!tokens.isEmpty)
        #expect(logs.all.count > 20, "the scenario logged \(logs.all.count) lines")
        #expect(seen.count > 10, "the scenario saw \(seen.count) refusals")
        let secrets = cards.flatMap { [$0.number, $0.number.filter(\.isNumber)] } + tokens
        for text in logs.all + seen {
            for secret in secrets {
                #expect(!text.contains(secret), "a secret reached: \(text)")
            }
            for cvc in cards.map(\.cvc) + cards.map({ $0.cvc + "9" }) {
                #expect(!Self.contains(token: cvc, in: text), "a CVC reached: \(text)")
            }
        }
        await service.finish()
    }
}
