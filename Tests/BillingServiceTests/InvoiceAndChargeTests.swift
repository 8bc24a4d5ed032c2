import BillingClient
import Foundation
import Testing

@Suite("Invoices, charges and payment history, end to end")
struct InvoiceAndChargeTests {
    @Test func invoicesGoFromDraftToPaidWithGaplessNumbers() async throws {
        let service = try await BillingHarness()
        let client = service.client()
        let accountID = try await client.readyAccount()
        let draft = try await client.createInvoice(.init(
            idempotencyKey: key(), accountID: accountID,
            lines: [
                .init(description: "Pro plan", quantity: 1, unitAmount: .init(amountMinor: 4_900, currency: "USD")),
                .init(description: "Extra seats", quantity: 3, unitAmount: .init(amountMinor: 1_000, currency: "USD")),
            ],
            memo: "Thank you", daysUntilDue: 30)).invoice!
        #expect(draft.status == .draft)
        #expect(draft.number == "")
        #expect(draft.total == BillingV1.Money(amountMinor: 7_900, currency: "USD"))
        #expect(draft.lines.map(\.amount?.amountMinor) == [4_900, 3_000])

        let open = try await client.finalizeInvoice(.init(idempotencyKey: key(), accountID: accountID, invoiceID: draft.id)).invoice!
        #expect(open.status == .open)
        #expect(open.number == "INV-000001")
        #expect(open.billedTo?.fullName == "Ada Lovelace")
        #expect(open.dueAtUnixMs - open.finalizedAtUnixMs == 30 * 86_400_000)
        let second = try await client.openInvoice(accountID)
        #expect(second.number == "INV-000002")

        let payRequest = BillingV1.InvoiceActionRequest(idempotencyKey: key(), accountID: accountID, invoiceID: open.id)
        let paid = try await client.payInvoice(payRequest)
        #expect(paid.invoice?.status == .paid)
        #expect(paid.invoice?.amountDue?.amountMinor == 0)
        #expect(paid.charge?.status == .succeeded)
        #expect(paid.charge?.amount == BillingV1.Money(amountMinor: 7_900, currency: "USD"))
        #expect(paid.charge?.description == "Invoice INV-000001")

        // A retry returns the same charge and charges nothing more.
        #expect(try await client.payInvoice(payRequest) == paid)
        #expect(await service.gateway.chargeCalls == 1)
        let charges = try await client.listCharges(.init(accountID: accountID)).charges
        #expect(charges.map(\.id) == [paid.charge!.id])

        let byNumber = try await client.getInvoice(.init(accountID: accountID, number: "INV-000001")).invoice
        #expect(byNumber == paid.invoice)
        let again = await rpcError { _ = try await client.payInvoice(.init(idempotencyKey: key(), accountID: accountID, invoiceID: open.id)) }
        #expect(again?.code == .failedPrecondition)
        let voidPaid = await rpcError { _ = try await client.voidInvoice(.init(idempotencyKey: key(), accountID: accountID, invoiceID: open.id)) }
        #expect(voidPaid?.code == .failedPrecondition)

        #expect(try await client.voidInvoice(.init(idempotencyKey: key(), accountID: accountID, invoiceID: second.id)).invoice?.status == .void)
        let third = try await client.openInvoice(accountID)
        #expect(third.number == "INV-000003")
        #expect(try await client.markInvoiceUncollectible(.init(idempotencyKey: key(), accountID: accountID, invoiceID: third.id)).invoice?.status == .uncollectible)
        await service.finish()
    }

    @Test func declinedCardsAreRecordedAndSaySo() async throws {
        let service = try await BillingHarness()
        let client = service.client()
        for (card, code) in [(TestCard.declined, "card_declined"), (TestCard.insufficientFunds, "insufficient_funds")] {
            let accountID = try await client.readyAccount(card: card)
            let invoice = try await client.openInvoice(accountID)
            let request = BillingV1.InvoiceActionRequest(idempotencyKey: key(), accountID: accountID, invoiceID: invoice.id)
            let error = await rpcError { _ = try await client.payInvoice(request) }
            #expect(error?.code == .failedPrecondition)
            #expect(error?.message.contains(code) == true, "\(error?.message ?? "")")
            // The retry gives the same answer without a second attempt.
            #expect(await rpcError { _ = try await client.payInvoice(request) } == error)
            let charges = try await client.listCharges(.init(accountID: accountID)).charges
            #expect(charges.count == 1)
            #expect(charges.first?.status == .failed)
            #expect(charges.first?.failureCode == code)
            #expect(try await client.getInvoice(.init(accountID: accountID, invoiceID: invoice.id)).invoice?.status == .open)
        }
        await service.finish()
    }

    @Test func payingNeedsAPrimaryCardAndCompleteBillingInformation() async throws {
        let service = try await BillingHarness()
        let client = service.client()
        let accountID = try await client.readyAccount()
        let invoice = try await client.openInvoice(accountID)
        let card = try await client.listPaymentMethods(.init(accountID: accountID)).paymentMethods[0]
        _ = try await client.removePaymentMethod(.init(idempotencyKey: key(), accountID: accountID, paymentMethodID: card.id))
        let noCard = await rpcError { _ = try await client.payInvoice(.init(idempotencyKey: key(), accountID: accountID, invoiceID: invoice.id)) }
        #expect(noCard?.code == .failedPrecondition)
        #expect(noCard?.message.contains("no primary card") == true)

        let bare = try await client.createAccount(.init(idempotencyKey: key(), displayName: "Bare", currency: "USD")).account!
        let draft = try await client.createInvoice(.init(
            idempotencyKey: key(), accountID: bare.id, lines: [.init(description: "x", quantity: 1, unitAmount: .init(amountMinor: 100, currency: "USD"))])).invoice!
        let incomplete = await rpcError { _ = try await client.finalizeInvoice(.init(idempotencyKey: key(), accountID: bare.id, invoiceID: draft.id)) }
        #expect(incomplete?.code == .failedPrecondition)
        #expect(incomplete?.message.contains("billing address is incomplete") == true)
        #expect(try await client.listCharges(.init(accountID: accountID)).charges.isEmpty)
        await service.finish()
    }

    @Test func badAmountsAreRefusedAndChangeNothing() async throws {
        let service = try await BillingHarness()
        let client = service.client()
        let accountID = try await client.readyAccount()
        func create(_ line: BillingV1.InvoiceLineInput) async -> RPCError? {
            await rpcError { _ = try await client.createInvoice(.init(idempotencyKey: key(), accountID: accountID, lines: [line])) }
        }
        #expect(await create(.init(description: "x", quantity: 1, unitAmount: .init(amountMinor: -5, currency: "USD")))?.detail("field") == "lines[0].unit_amount")
        #expect(await create(.init(description: "x", quantity: 1, unitAmount: .init(amountMinor: 0, currency: "USD")))?.detail("field") == "lines[0].unit_amount")
        #expect(await create(.init(description: "x", quantity: 0, unitAmount: .init(amountMinor: 5, currency: "USD")))?.detail("field") == "lines[0].quantity")
        #expect(await create(.init(description: "x", quantity: 1, unitAmount: .init(amountMinor: 5, currency: "EUR")))?.code == .invalidArgument)
        #expect(await create(.init(description: "x", quantity: 1, unitAmount: .init(amountMinor: 5, currency: "???")))?.code == .invalidArgument)
        let overflow = await create(.init(description: "x", quantity: 1_000_000, unitAmount: .init(amountMinor: Int64.max / 10, currency: "USD")))
        #expect(overflow?.code == .invalidArgument)
        #expect(overflow?.reason == "amount_too_large")
        #expect(overflow?.detail("field") == "lines[0].unit_amount")
        #expect(await create(.init(description: "", quantity: 1, unitAmount: .init(amountMinor: 5, currency: "USD")))?.detail("field") == "lines[0].description")
        #expect(try await client.listInvoices(.init(accountID: accountID)).invoices.isEmpty)
        await service.finish()
    }

    @Test func historyIsPagedNewestFirstAndFiltered() async throws {
        let service = try await BillingHarness()
        let client = service.client()
        let accountID = try await client.readyAccount()
        var created: [String] = []
        for amount in 1...5 { created.append(try await client.openInvoice(accountID, amountMinor: Int64(amount * 100)).id) }
        _ = try await client.payInvoice(.init(idempotencyKey: key(), accountID: accountID, invoiceID: created[0]))
        var seen: [String] = []
        var token = ""
        repeat {
            let page = try await client.listInvoices(.init(accountID: accountID, pageSize: 2, pageToken: token))
            #expect(page.invoices.count <= 2)
            seen += page.invoices.map(\.id)
            token = page.nextPageToken
        } while !token.isEmpty
        #expect(seen == created.reversed())

        let paid = try await client.listInvoices(.init(accountID: accountID, statuses: [.paid])).invoices
        #expect(paid.map(\.id) == [created[0]])
        let future = try await client.listInvoices(.init(accountID: accountID, createdFromUnixMs: Int64(service.clock.now.timeIntervalSince1970 * 1000) + 1)).invoices
        #expect(future.isEmpty)
        let succeeded = try await client.listCharges(.init(accountID: accountID, statuses: [.succeeded])).charges
        #expect(succeeded.count == 1)

        #expect(await rpcError { _ = try await client.listInvoices(.init(accountID: accountID, pageSize: 500)) }?.detail("field") == "page_size")
        #expect(await rpcError { _ = try await client.listInvoices(.init(accountID: accountID, pageToken: "garbage")) }?.detail("field") == "page_token")
        #expect(await rpcError { _ = try await client.listCharges(.init(accountID: accountID, statuses: [.unspecified])) }?.code == .invalidArgument)
        #expect(await rpcError { _ = try await client.listCharges(.init(accountID: accountID, createdFromUnixMs: 10, createdBeforeUnixMs: 5)) }?.code == .invalidArgument)
        await service.finish()
    }

    @Test func invoicePDFReadsBackTheNumberAndTotal() async throws {
        let service = try await BillingHarness()
        let client = service.client()
        let accountID = try await client.readyAccount()
        let invoice = try await client.openInvoice(accountID, amountMinor: 123_456)
        let download = try await client.downloadInvoicePdf(.init(accountID: accountID, invoiceID: invoice.id))
        #expect(download.fileName == "INV-000001.pdf")
        #expect(download.pdf.starts(with: Array("%PDF-".utf8)))
        let text = try await pdfText(download.pdf)
        #expect(text.contains("INV-000001"))
        #expect(text.contains("1,234.56"))
        #expect(text.contains("Ada Lovelace"))

        let draft = try await client.createInvoice(.init(
            idempotencyKey: key(), accountID: accountID, lines: [.init(description: "x", quantity: 1, unitAmount: .init(amountMinor: 1, currency: "USD"))])).invoice!
        #expect(await rpcError { _ = try await client.downloadInvoicePdf(.init(accountID: accountID, invoiceID: draft.id)) }?.code == .failedPrecondition)
        await service.finish()
    }

    /// Issue 9: Cyrillic and Greek buyers, a street in Kyiv, the configured seller, the memo, the country
    /// spelled out and the card that paid, read back from DownloadInvoicePdf with pdftotext.
    @Test(arguments: [
        ("Анна Каренина", "UA", "вулиця Хрещатик, 22", "Київ", "01001", "Ukraine"),
        ("Γιώργος Παπαδόπουλος", "GR", "Οδός Ερμού 12", "Αθήνα", "10563", "Greece"),
    ])
    func invoicePDFPrintsTheBuyersLanguage(
        name: String, country: String, street: String, city: String, postalCode: String, countryName: String
    ) async throws {
        let service = try await BillingHarness()
        let client = service.client()
        let accountID = try await client.readyAccount(currency: "EUR")
        _ = try await client.updateBillingInformation(BillingV1.UpdateBillingInformationRequest(
            idempotencyKey: key(), accountID: accountID, fullName: name, countryCode: country,
            address: BillingV1.BillingAddress(lines: [street], city: city, postalCode: postalCode)))
        let draft = try await client.createInvoice(BillingV1.CreateInvoiceRequest(
            idempotencyKey: key(), accountID: accountID,
            lines: [BillingV1.InvoiceLineInput(description: "Συνδρομή / Підписка", quantity: 1, unitAmount: BillingV1.Money(amountMinor: 4_990, currency: "EUR"))],
            memo: "PO 7781 — \(name)", daysUntilDue: 14)).invoice!
        _ = try await client.finalizeInvoice(BillingV1.InvoiceActionRequest(idempotencyKey: key(), accountID: accountID, invoiceID: draft.id))
        _ = try await client.payInvoice(BillingV1.InvoiceActionRequest(idempotencyKey: key(), accountID: accountID, invoiceID: draft.id))

        let download = try await client.downloadInvoicePdf(.init(accountID: accountID, invoiceID: draft.id))
        let text = try await pdfText(download.pdf)
        for expected in [name, street, "\(city), \(postalCode)", countryName, "Συνδρομή / Підписка", "PO 7781 — \(name)",
                         "Acme Cloud Ltd", "Tax ID: GB123456789", "Paid by Visa card ending in 4242", "EUR 49.90"] {
            #expect(text.contains(expected), "\(expected) in\n\(text)")
        }
        #expect(!text.contains("?"))
        #expect(!text.contains("Billing Service Ltd"))
        #expect(!text.contains("4242 4242"))
        await service.finish()
    }

    @Test func aRestartWithTheSameDatabaseLosesNothing() async throws {
        let service = try await BillingHarness()
        var client = service.client()
        let accountID = try await client.readyAccount()
        let invoice = try await client.openInvoice(accountID)
        let payRequest = BillingV1.InvoiceActionRequest(idempotencyKey: key(), accountID: accountID, invoiceID: invoice.id)
        let paid = try await client.payInvoice(payRequest)
        let before = (
            try await client.getAccount(.init(accountID: accountID)),
            try await client.getBillingInformation(.init(accountID: accountID)),
            try await client.listPaymentMethods(.init(accountID: accountID)),
            try await client.listInvoices(.init(accountID: accountID)),
            try await client.listCharges(.init(accountID: accountID)))

        _ = try await service.restart()
        client = service.client()
        #expect(try await client.getAccount(.init(accountID: accountID)) == before.0)
        #expect(try await client.getBillingInformation(.init(accountID: accountID)) == before.1)
        #expect(try await client.listPaymentMethods(.init(accountID: accountID)) == before.2)
        #expect(try await client.listInvoices(.init(accountID: accountID)) == before.3)
        #expect(try await client.listCharges(.init(accountID: accountID)) == before.4)
        // Idempotency keys survive too, and numbering goes on without a gap.
        #expect(try await client.payInvoice(payRequest) == paid)
        #expect(try await client.openInvoice(accountID).number == "INV-000002")
        await service.finish()
    }

    @Test func aChargeWhoseAnswerWasLostIsReconciledAtStartUp() async throws {
        let service = try await BillingHarness()
        var client = service.client()
        let accountID = try await client.readyAccount()
        let invoice = try await client.openInvoice(accountID)
        await service.gateway.setMode(.chargesThenGoesDark)
        let request = BillingV1.InvoiceActionRequest(idempotencyKey: key(), accountID: accountID, invoiceID: invoice.id)
        let lost = await rpcError { _ = try await client.payInvoice(request) }
        #expect(lost?.code == .unavailable)
        #expect(lost?.message.contains("pending") == true)
        let pending = try await client.listCharges(.init(accountID: accountID)).charges
        #expect(pending.map(\.status) == [.pending])
        // Another attempt on the invoice is refused while the first one is unsettled.
        #expect(await rpcError { _ = try await client.payInvoice(.init(idempotencyKey: key(), accountID: accountID, invoiceID: invoice.id)) }?.code == .failedPrecondition)

        // The money was taken at the gateway; a restart asks the gateway and records it.
        let prepared = try await service.restart()
        #expect(prepared.reconciledCharges == 1)
        client = service.client()
        let settled = try await client.listCharges(.init(accountID: accountID)).charges
        #expect(settled.map(\.id) == pending.map(\.id))
        #expect(settled.first?.status == .succeeded)
        #expect(try await client.getInvoice(.init(accountID: accountID, invoiceID: invoice.id)).invoice?.status == .paid)
        // The caller's retry with its key now sees the outcome; nothing is charged again.
        let retried = try await client.payInvoice(request)
        #expect(retried.charge?.id == pending.first?.id)
        #expect(await service.gateway.chargeCalls == 0)
        await service.finish()
    }
}

/// The text of a PDF as `pdftotext` (poppler-utils) reads it.
func pdfText(_ pdf: [UInt8]) async throws -> String {
    try await offPool { try pdfTextBlocking(pdf) }
}

/// Runs blocking work (a child process) on a Dispatch thread, never on Swift's cooperative pool: on two
/// cores, two tests waiting for poppler would otherwise stall every other test's tasks.
func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        // A queue of its own: the global queue is as wide as the cores, and blocking it stalls the server's queues too.
        DispatchQueue(label: "off-pool").async { continuation.resume(with: Result { try body() }) }
    }
}

private func pdfTextBlocking(_ pdf: [UInt8]) throws -> String {
    let file = FileManager.default.temporaryDirectory.appendingPathComponent("invoice-\(UUID().uuidString).pdf")
    try Data(pdf).write(to: file)
    defer { try? FileManager.default.removeItem(at: file) }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/pdftotext")
    process.arguments = ["-layout", file.path, "-"]
    let output = Pipe()
    process.standardOutput = output
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return String(decoding: data, as: UTF8.self)
}
