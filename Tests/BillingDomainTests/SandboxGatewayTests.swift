import Foundation
import Testing

@testable import BillingDomain
@testable import BillingSandbox

@Suite("SandboxGateway")
struct SandboxGatewayTests {
    let now = utcDate(2025, 6, 15)
    let tenDollars = Money(amountMinor: 1_000, currency: .usd)

    func card(_ number: String, month: Int = 12, year: Int = 2030) -> CardDetails {
        CardDetails(number: number, expiryMonth: month, expiryYear: year, cvc: "987", holderName: "Ada Lovelace")
    }

    func makeGateway(directory: URL, maxCachedTokens: Int = 100, maxCachedCharges: Int = 100,
                     now: Date? = nil) throws -> SandboxGateway {
        let fixedNow = now ?? self.now
        return try SandboxGateway(directory: directory, maxCachedTokens: maxCachedTokens,
                                  maxCachedCharges: maxCachedCharges, now: { fixedNow })
    }

    @Test("each Stripe test number behaves as documented", arguments: [
        ("4242 4242 4242 4242", GatewayChargeStatus.succeeded, nil as String?),
        ("4000 0000 0000 9995", .failed, "insufficient_funds"),
        ("4000 0000 0000 0341", .failed, "card_declined"),
        ("5555 5555 5555 4444", .succeeded, nil),
    ])
    func testNumbers(number: String, status: GatewayChargeStatus, failureCode: String?) async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let gateway = try makeGateway(directory: directory)

        let tokenized = try await gateway.tokenize(card(number))
        #expect(tokenized.token.hasPrefix("tok_sandbox_"))
        #expect(tokenized.token.count > "tok_sandbox_".count + 16)
        #expect(tokenized.last4 == String(number.suffix(4)))
        #expect(tokenized.expiryMonth == 12 && tokenized.expiryYear == 2030)

        let charge = try await gateway.charge(token: tokenized.token, amount: tenDollars,
                                              idempotencyKey: "key-1", description: "Invoice INV-000001")
        #expect(charge.status == status)
        #expect(charge.failureCode == failureCode)
        #expect(charge.amount == tenDollars)
        #expect(charge.reference.hasPrefix("ch_sandbox_"))
        #expect((charge.failureMessage == nil) == (status == .succeeded))
        #expect(await gateway.executedChargeCount == 1)
    }

    @Test("0002 is declined when tokenized, as Stripe verifies cards on attach")
    func declinedOnAttach() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let gateway = try makeGateway(directory: directory)
        do {
            _ = try await gateway.tokenize(card("4000 0000 0000 0002"))
            Issue.record("0002 must be declined on attach")
        } catch let error as BillingError {
            #expect(error.reason == .cardDeclined)
            #expect(error.declineCode == "card_declined")
            #expect(!error.message.contains("4000000000000002"))
        }
        #expect(await gateway.executedChargeCount == 0)
    }

    @Test("0341 tokenizes, then every charge is declined by the issuer")
    func declinedOnEveryCharge() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let gateway = try makeGateway(directory: directory)
        let tokenized = try await gateway.tokenize(card("4000000000000341"))
        for attempt in 1...3 {
            let charge = try await gateway.charge(token: tokenized.token, amount: tenDollars,
                                                  idempotencyKey: "attempt-\(attempt)", description: "")
            #expect(charge.status == .failed)
            #expect(charge.failureCode == "card_declined")
            #expect(charge.failureMessage?.contains("declined by its issuer") == true)
        }
        #expect(await gateway.executedChargeCount == 3)
    }

    @Test("tokenize validates the card and never reveals it in errors")
    func tokenizeValidates() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let gateway = try makeGateway(directory: directory)
        let bad = await expectBillingErrorAsync(.invalidArgument, field: "card.number") {
            _ = try await gateway.tokenize(card("4242424242424241"))
        }
        #expect(bad?.message.contains("4242424242424241") == false)
        await expectBillingErrorAsync(.invalidArgument, field: "card.expiry_month") {
            _ = try await gateway.tokenize(card("4242424242424242", month: 5, year: 2025))
        }
    }

    @Test("the same idempotency key charges once and replays the first result")
    func idempotentCharge() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let gateway = try makeGateway(directory: directory)
        let token = try await gateway.tokenize(card("4242424242424242")).token

        let first = try await gateway.charge(token: token, amount: tenDollars, idempotencyKey: "inv-42",
                                             description: "Invoice INV-000042")
        let second = try await gateway.charge(token: token, amount: tenDollars, idempotencyKey: "inv-42",
                                              description: "Invoice INV-000042")
        #expect(first == second)
        #expect(await gateway.executedChargeCount == 1)
        #expect(try await gateway.lookUpCharge(idempotencyKey: "inv-42") == first)
        #expect(try await gateway.lookUpCharge(idempotencyKey: "never-used") == nil)

        let different = await expectBillingErrorAsync(.invalidArgument, field: "idempotency_key") {
            _ = try await gateway.charge(token: token, amount: Money(amountMinor: 2_000, currency: .usd),
                                         idempotencyKey: "inv-42", description: "")
        }
        #expect(different?.message.contains("USD 10.00") == true)
        #expect(await gateway.executedChargeCount == 1)

        let another = try await gateway.charge(token: token, amount: tenDollars, idempotencyKey: "inv-43",
                                               description: "")
        #expect(another.reference != first.reference)
        #expect(await gateway.executedChargeCount == 2)
    }

    @Test("concurrent charges with one key still charge once")
    func concurrentIdempotentCharges() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let gateway = try makeGateway(directory: directory)
        let token = try await gateway.tokenize(card("4242424242424242")).token
        await gateway.setLatency(.milliseconds(20))  // every call suspends, so calls interleave

        let amount = tenDollars
        let references = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    try await gateway.charge(token: token, amount: amount, idempotencyKey: "same-key",
                                             description: "").reference
                }
            }
            var references: Set<String> = []
            for try await reference in group { references.insert(reference) }
            return references
        }
        #expect(references.count == 1)
        #expect(await gateway.executedChargeCount == 1)
    }

    @Test("charge inputs are checked")
    func chargeInputs() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let gateway = try makeGateway(directory: directory)
        let token = try await gateway.tokenize(card("4242424242424242")).token

        await expectBillingErrorAsync(.invalidArgument, field: "amount") {
            _ = try await gateway.charge(token: token, amount: .zero(in: .usd), idempotencyKey: "k", description: "")
        }
        await expectBillingErrorAsync(.invalidArgument, field: "idempotency_key") {
            _ = try await gateway.charge(token: token, amount: tenDollars, idempotencyKey: "", description: "")
        }
        await expectBillingErrorAsync(.invalidArgument, field: "idempotency_key") {
            _ = try await gateway.charge(token: token, amount: tenDollars,
                                         idempotencyKey: String(repeating: "k", count: 256), description: "")
        }
        let unknownToken = "tok_sandbox_does_not_exist"
        let notFound = await expectBillingErrorAsync(.notFound, field: "token") {
            _ = try await gateway.charge(token: unknownToken, amount: tenDollars, idempotencyKey: "k",
                                         description: "")
        }
        #expect(notFound?.message.contains(unknownToken) == false)
        #expect(await gateway.executedChargeCount == 0)
    }

    @Test("after a restart, tokens and charges are still known")
    func survivesRestart() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }

        var gateway: SandboxGateway? = try makeGateway(directory: directory)
        let token = try await gateway!.tokenize(card("4242424242424242")).token
        let declinedToken = try await gateway!.tokenize(card("4000000000009995")).token
        let first = try await gateway!.charge(token: token, amount: tenDollars, idempotencyKey: "inv-1",
                                              description: "Invoice INV-000001")
        gateway = nil  // the old process is gone

        let restarted = try makeGateway(directory: directory)
        #expect(try await restarted.lookUpCharge(idempotencyKey: "inv-1") == first)
        let replayed = try await restarted.charge(token: token, amount: tenDollars, idempotencyKey: "inv-1",
                                                  description: "Invoice INV-000001")
        #expect(replayed == first)
        #expect(await restarted.executedChargeCount == 0)

        #expect(try await restarted.knowsToken(token))
        let second = try await restarted.charge(token: token, amount: tenDollars, idempotencyKey: "inv-2",
                                                description: "")
        #expect(second.succeeded)
        let declined = try await restarted.charge(token: declinedToken, amount: tenDollars, idempotencyKey: "inv-3",
                                                  description: "")
        #expect(declined.failureCode == "insufficient_funds")  // the behaviour survived too
        #expect(await restarted.executedChargeCount == 2)
    }

    @Test("the journal holds no card number or CVC")
    func journalHasNoCardData() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let gateway = try makeGateway(directory: directory)
        let token = try await gateway.tokenize(card("4242 4242 4242 4242")).token
        _ = try await gateway.charge(token: token, amount: tenDollars, idempotencyKey: "k", description: "d")

        let journal = try String(
            contentsOf: directory.appendingPathComponent(SandboxGateway.journalFileName), encoding: .utf8)
        let lines = journal.split(separator: "\n")
        #expect(lines.count == 2)
        #expect(!journal.contains("4242424242424242"))
        #expect(!journal.contains("4242 4242 4242 4242"))
        #expect(!journal.lowercased().contains("cvc"))
        #expect(journal.contains("\"last4\":\"4242\""))
    }

    @Test("a torn last line is dropped; a damaged middle line refuses to load")
    func tornAndDamagedJournal() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let journalURL = directory.appendingPathComponent(SandboxGateway.journalFileName)

        var gateway: SandboxGateway? = try makeGateway(directory: directory)
        let token = try await gateway!.tokenize(card("4242424242424242")).token
        let first = try await gateway!.charge(token: token, amount: tenDollars, idempotencyKey: "k1", description: "")
        gateway = nil

        // A crash in the middle of an append leaves half a line behind.
        let handle = try FileHandle(forWritingTo: journalURL)
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(#"{"charge":{"idempotencyKey":"k2","tok"#.utf8))
        try handle.close()

        let recovered = try makeGateway(directory: directory)
        #expect(try await recovered.lookUpCharge(idempotencyKey: "k1") == first)
        #expect(try await recovered.lookUpCharge(idempotencyKey: "k2") == nil)
        _ = try await recovered.charge(token: token, amount: tenDollars, idempotencyKey: "k2", description: "")
        let reloaded = try makeGateway(directory: directory)
        #expect(try await reloaded.lookUpCharge(idempotencyKey: "k2") != nil)

        // Damage in the middle is not guessed around.
        var contents = try String(contentsOf: journalURL, encoding: .utf8)
        contents = "garbage\n" + contents
        try contents.write(to: journalURL, atomically: true, encoding: .utf8)
        let error = expectBillingError(.internal, field: nil) { _ = try makeGateway(directory: directory) }
        #expect(error?.message.contains("line 1") == true)
    }

    @Test("memory is bounded, yet evicted tokens and charges are still found")
    func boundedMemory() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let gateway = try makeGateway(directory: directory, maxCachedTokens: 2, maxCachedCharges: 2)
        var tokens: [String] = []
        for _ in 0..<5 {
            tokens.append(try await gateway.tokenize(card("4242424242424242")).token)
        }
        var charges: [GatewayCharge] = []
        for (index, token) in tokens.enumerated() {
            charges.append(try await gateway.charge(token: token, amount: tenDollars, idempotencyKey: "k\(index)",
                                                    description: ""))
        }
        #expect(charges.allSatisfy { $0.succeeded })
        let replay = try await gateway.charge(token: tokens[0], amount: tenDollars, idempotencyKey: "k0",
                                              description: "")
        #expect(replay == charges[0])
        #expect(await gateway.executedChargeCount == 5)

        var cache = BoundedCache<Int>(capacity: 3)
        for value in 0..<10 { cache.insert(value, forKey: "\(value)") }
        #expect(cache.count == 3)
        #expect(cache.hasEvicted)
        #expect(cache.value(forKey: "9") == 9 && cache.value(forKey: "6") == nil)
    }

    @Test("injected failures, lost responses and latency")
    func faultInjection() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let gateway = try makeGateway(directory: directory)
        let token = try await gateway.tokenize(card("4242424242424242")).token

        await gateway.failNextCalls(2)
        for _ in 0..<2 {
            let error = await expectBillingErrorAsync(.unavailable, field: nil) {
                _ = try await gateway.charge(token: token, amount: tenDollars, idempotencyKey: "k", description: "")
            }
            #expect(error?.message.contains("unavailable") == true)
        }
        #expect(await gateway.executedChargeCount == 0)
        let charge = try await gateway.charge(token: token, amount: tenDollars, idempotencyKey: "k", description: "")
        #expect(charge.succeeded)

        await gateway.failNextCalls(1, with: .aborted("try again"))
        await expectBillingErrorAsync(.aborted, field: nil) {
            _ = try await gateway.lookUpCharge(idempotencyKey: "k")
        }

        // The processor charged, but the answer was lost: a lookup finds it, a retry replays it.
        await gateway.failNextResponses(1)
        await expectBillingErrorAsync(.unavailable, field: nil) {
            _ = try await gateway.charge(token: token, amount: tenDollars, idempotencyKey: "lost", description: "")
        }
        let found = try #require(try await gateway.lookUpCharge(idempotencyKey: "lost"))
        let retried = try await gateway.charge(token: token, amount: tenDollars, idempotencyKey: "lost",
                                               description: "")
        #expect(retried == found)
        #expect(await gateway.executedChargeCount == 2)

        await gateway.setLatency(.milliseconds(150))
        let clock = ContinuousClock()
        let started = clock.now
        _ = try await gateway.lookUpCharge(idempotencyKey: "k")
        #expect(clock.now - started >= .milliseconds(150))
        await gateway.setLatency(.zero)
    }

    @Test("a card that expired after tokenizing fails with expired_card")
    func expiredAtChargeTime() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        var gateway: SandboxGateway? = try makeGateway(directory: directory, now: utcDate(2025, 6, 15))
        let token = try await gateway!.tokenize(card("4242424242424242", month: 6, year: 2025)).token
        #expect(try await gateway!.charge(token: token, amount: tenDollars, idempotencyKey: "june",
                                          description: "").succeeded)
        gateway = nil

        let inJuly = try makeGateway(directory: directory, now: utcDate(2025, 7, 1))
        let charge = try await inJuly.charge(token: token, amount: tenDollars, idempotencyKey: "july",
                                             description: "")
        #expect(charge.status == .failed)
        #expect(charge.failureCode == "expired_card")
    }
}
