import BillingLocking
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

    func makeGateway(directory: URL, now: Date? = nil) throws -> SandboxGateway {
        let fixedNow = now ?? self.now
        return try SandboxGateway(directory: directory, now: { fixedNow })
    }

    /// A JSON-lines journal as the sandbox wrote it before its database: a token line and a
    /// charge line per key, in the sandbox's own encoding.
    func writeLegacyJournal(in directory: URL, keys: [String], tornTail: String? = nil) throws -> [GatewayCharge] {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var text = ""
        var charges: [GatewayCharge] = []
        for (index, key) in keys.enumerated() {
            let token = SandboxRecord.TokenRecord(
                token: "tok_legacy_\(index)", behaviour: index % 2 == 0 ? .succeeds : .insufficientFunds, brand: .visa,
                last4: "4242", expiryMonth: 12, expiryYear: 2030)
            let charge = GatewayCharge(
                reference: "ch_legacy_\(index)", status: index % 2 == 0 ? .succeeded : .failed, amount: tenDollars,
                failureCode: index % 2 == 0 ? nil : "insufficient_funds",
                failureMessage: index % 2 == 0 ? nil : "The card has insufficient funds to complete the charge.")
            charges.append(charge)
            for entry in [
                SandboxRecord.JournalEntry(token: token),
                SandboxRecord.JournalEntry(charge: .init(idempotencyKey: key, token: token.token,
                                                         description: "Invoice \(index)", charge: charge)),
            ] {
                text += String(decoding: try encoder.encode(entry), as: UTF8.self) + "\n"
            }
        }
        text += tornTail ?? ""
        try text.write(to: directory.appendingPathComponent(SandboxGateway.journalFileName), atomically: true,
                       encoding: .utf8)
        return charges
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

    @Test("the record holds no card number or CVC, and only its owner may read it")
    func recordHasNoCardData() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        var gateway: SandboxGateway? = try makeGateway(directory: directory)
        let token = try await gateway!.tokenize(card("4242 4242 4242 4242")).token
        let reference = try await gateway!.charge(token: token, amount: tenDollars, idempotencyKey: "k", description: "d").reference

        // While it is open the rows may be in the WAL; closed, they are in the database file.
        let database = directory.appendingPathComponent(SandboxGateway.databaseFileName)
        var bytes = Data()
        for suffix in ["", "-wal"] {
            bytes.append((try? Data(contentsOf: URL(fileURLWithPath: database.path + suffix))) ?? Data())
        }
        #expect(bytes.range(of: Data(token.utf8)) != nil)  // the check can see what is there
        // The token and the charge reference are random hex, where a three-digit CVC turns up by chance
        // (about one run in a hundred): they are blanked before the search.
        for random in [token, reference] {
            while let range = bytes.range(of: Data(random.utf8)) { bytes.resetBytes(in: range) }
        }
        for secret in ["4242424242424242", "4242 4242 4242 4242", "987"] {
            #expect(bytes.range(of: Data(secret.utf8)) == nil)
        }
        #expect(bytes.range(of: Data("cvc".utf8)) == nil && bytes.range(of: Data("CVC".utf8)) == nil)
        let mode = try FileManager.default.attributesOfItem(atPath: database.path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        gateway = nil
        #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent(SandboxGateway.journalFileName).path))
    }

    @Test("an existing JSON-lines journal is imported once, then renamed aside; its keys replay without charging")
    func importsLegacyJournal() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let journalURL = directory.appendingPathComponent(SandboxGateway.journalFileName)
        // A crash in the middle of an append left half a line behind: that call never answered.
        let recorded = try writeLegacyJournal(
            in: directory, keys: ["inv-1", "inv-2", "inv-3"], tornTail: #"{"charge":{"idempotencyKey":"inv-4","tok"#)

        var gateway: SandboxGateway? = try makeGateway(directory: directory)
        #expect(await gateway!.recordStatistics.importedEntries == 6)
        #expect(!FileManager.default.fileExists(atPath: journalURL.path))
        let imported = journalURL.path + ".imported"
        #expect(FileManager.default.fileExists(atPath: imported))
        #expect(try String(contentsOfFile: imported, encoding: .utf8).hasSuffix("\"tok"))  // kept as it was

        #expect(try await gateway!.lookUpCharge(idempotencyKey: "inv-1") == recorded[0])
        #expect(try await gateway!.lookUpCharge(idempotencyKey: "inv-2") == recorded[1])
        #expect(try await gateway!.lookUpCharge(idempotencyKey: "inv-4") == nil)
        gateway = nil

        // The next start does not import again, and the imported record behaves like any other.
        let restarted = try makeGateway(directory: directory)
        #expect(await restarted.recordStatistics.importedEntries == 0)
        let replayed = try await restarted.charge(token: "tok_legacy_1", amount: tenDollars, idempotencyKey: "inv-2",
                                                  description: "Invoice 1")
        #expect(replayed == recorded[1])
        #expect(await restarted.executedChargeCount == 0)
        #expect(try await restarted.knowsToken("tok_legacy_0"))
        let declined = try await restarted.charge(token: "tok_legacy_1", amount: tenDollars, idempotencyKey: "inv-4",
                                                  description: "")
        #expect(declined.failureCode == "insufficient_funds")  // the token's behaviour came along
        #expect(await restarted.executedChargeCount == 1)
        await expectBillingErrorAsync(.invalidArgument, field: "idempotency_key") {
            _ = try await restarted.charge(token: "tok_legacy_0", amount: Money(amountMinor: 5, currency: .usd),
                                           idempotencyKey: "inv-1", description: "")
        }
    }

    @Test("a journal imported but not yet renamed (a crash between the two) imports again to the same record")
    func reimportAfterCrashBeforeRename() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let recorded = try writeLegacyJournal(in: directory, keys: ["a", "b"])
        let journalURL = directory.appendingPathComponent(SandboxGateway.journalFileName)
        var gateway: SandboxGateway? = try makeGateway(directory: directory)
        gateway = nil
        // As if the import committed and the process died before the rename.
        try FileManager.default.copyItem(atPath: journalURL.path + ".imported", toPath: journalURL.path)

        gateway = try makeGateway(directory: directory)
        #expect(await gateway!.recordStatistics.importedEntries == 4)
        #expect(FileManager.default.fileExists(atPath: journalURL.path + ".imported.2"))
        #expect(try await gateway!.lookUpCharge(idempotencyKey: "a") == recorded[0])
        #expect(try await gateway!.lookUpCharge(idempotencyKey: "b") == recorded[1])
    }

    @Test("a damaged line in the middle of a journal to import refuses to open, and imports nothing")
    func damagedLegacyJournal() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        _ = try writeLegacyJournal(in: directory, keys: ["k1", "k2"])
        let journalURL = directory.appendingPathComponent(SandboxGateway.journalFileName)
        let contents = try String(contentsOf: journalURL, encoding: .utf8)
        try ("garbage\n" + contents).write(to: journalURL, atomically: true, encoding: .utf8)

        let error = expectBillingError(.internal, field: nil) { _ = try makeGateway(directory: directory) }
        #expect(error?.message.contains("line 1") == true)
        #expect(FileManager.default.fileExists(atPath: journalURL.path))  // left where it was, for a person to look at

        try contents.write(to: journalURL, atomically: true, encoding: .utf8)  // mended
        let gateway = try makeGateway(directory: directory)
        #expect(try await gateway.lookUpCharge(idempotencyKey: "k2") != nil)
    }

    @Test("opening reads no charge and a look-up reads only its own, however many are recorded")
    func noFullScan() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let keys = (0..<2_000).map { "key-\($0)" }
        let recorded = try writeLegacyJournal(in: directory, keys: keys)
        var gateway: SandboxGateway? = try makeGateway(directory: directory)
        #expect(await gateway!.recordStatistics.importedEntries == 4_000)
        gateway = nil

        let reopened = try makeGateway(directory: directory)
        let opened = await reopened.recordStatistics
        #expect(opened.rowsRead == 0 && opened.importedEntries == 0)
        #expect(try await reopened.lookUpCharge(idempotencyKey: "key-1234") == recorded[1234])
        #expect(try await reopened.lookUpCharge(idempotencyKey: "key-2000") == nil)
        #expect(try await reopened.knowsToken("tok_legacy_1999"))
        let replay = try await reopened.charge(token: "tok_legacy_0", amount: tenDollars, idempotencyKey: "key-0",
                                               description: "")
        #expect(replay == recorded[0])
        let token = try await reopened.tokenize(card("4242424242424242")).token
        #expect(try await reopened.charge(token: token, amount: tenDollars, idempotencyKey: "new", description: "").succeeded)
        let afterwards = await reopened.recordStatistics
        #expect(afterwards.rowsRead == 4)  // key-1234, tok_legacy_1999, key-0, then the new charge's token
        #expect(afterwards.fullScanSteps == 0)
        #expect(await reopened.executedChargeCount == 1)
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

    /// Two daemons sharing one sandbox directory (the crash test's set-up) start at the same
    /// moment: each must wait for the other's set-up of the new database, never fail with
    /// "database is locked".
    @Test("several processes opening one new sandbox database at once all succeed")
    func concurrentOpening() async throws {
        for _ in 0..<20 {
            let directory = try makeTemporaryDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            let failures = Locked<[String]>([])
            DispatchQueue.concurrentPerform(iterations: 6) { _ in
                do {
                    _ = try SandboxGateway(directory: directory)
                } catch {
                    failures.withLock { $0.append("\(error)") }
                }
            }
            #expect(failures.withLock { $0 } == [])
        }
    }
}
