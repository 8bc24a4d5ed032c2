import BillingStore
import Foundation
import InvoiceRendering
import Testing

@testable import BillingDomain
import BillingSandbox

/// The seller identity tests use: what billingd would get from its flags.
func testInvoicing(prefix: String = "INV") throws -> InvoiceSettings {
    try InvoiceSettings(
        seller: .init(legalName: "Acme Cloud Ltd", addressLines: ["1 Dock Road", "London E1 1AA", "United Kingdom"],
                      taxID: "GB123456789"),
        numberPrefix: prefix, renderer: try InvoiceRenderer(fonts: .dejaVuSans))
}

/// The domain's side of invoice PDFs: the document built from an invoice, its billing information,
/// the configured seller and the paying card; then the PDF read back with pdftotext.
@Suite("Invoice PDFs from the domain")
struct InvoicePDFTests {
    func usd(_ amountMinor: Int64) -> Money { Money(amountMinor: amountMinor, currency: .usd) }

    func makeInvoice(status: Invoice.Status = .paid, memo: String = "Thank you for your business.",
                     billedTo: BillingInformation? = nil) -> Invoice {
        let lines = [
            Invoice.Line(description: "Pro plan, March 2025", quantity: 1, unitAmount: usd(99_900), amount: usd(99_900)),
            Invoice.Line(description: "Extra seats", quantity: 3, unitAmount: usd(4_500), amount: usd(13_500)),
        ]
        let total = usd(113_400)
        return Invoice(
            id: "inv_0193c1f2a4b7e91d2f3c", accountID: "acct_0193c1f2a4b7e91d2f3c", number: "INV-000042", status: status,
            lines: lines, subtotal: total, tax: usd(0), total: total,
            amountPaid: status == .paid ? total : usd(0), amountDue: status == .paid ? usd(0) : total,
            billedTo: billedTo ?? BillingInformation(
                fullName: "Анна Каренина", countryCode: "UA",
                address: BillingAddress(lines: ["вул. Хрещатик, 22"], city: "Київ", postalCode: "01001")),
            memo: memo, createdAtMilliseconds: utcDate(2025, 3, 1).unixMilliseconds,
            finalizedAtMilliseconds: utcDate(2025, 3, 1).unixMilliseconds, dueAtMilliseconds: utcDate(2025, 3, 31).unixMilliseconds,
            paidAtMilliseconds: status == .paid ? utcDate(2025, 3, 10).unixMilliseconds : nil)
    }

    func pdfText(_ invoice: Invoice, payingCard: (brand: String, last4: String)? = ("visa", "4242")) async throws -> String {
        let invoicing = try testInvoicing()
        let document = try InvoiceDocument.make(for: invoice, seller: invoicing.seller, payingCard: payingCard)
        return try await extractedText(of: try invoicing.renderer.render(document))
    }

    @Test("the seller from the configuration, the buyer in Cyrillic, the country spelled out, memo and card")
    func legalContent() async throws {
        let text = try await pdfText(makeInvoice())
        #expect(text.contains("Acme Cloud Ltd"))
        #expect(text.contains("1 Dock Road"))
        #expect(text.contains("Tax ID: GB123456789"))
        #expect(!text.contains("Billing Service Ltd"))
        #expect(!text.contains("Example Street"))
        #expect(text.contains("Анна Каренина"))
        #expect(text.contains("вул. Хрещатик, 22"))
        #expect(text.contains("Київ, 01001"))
        #expect(text.contains("Ukraine"))
        #expect(text.contains("Thank you for your business."))
        #expect(text.contains("Paid by Visa card ending in 4242"))
        #expect(text.contains("USD 1,134.00"))
    }

    @Test("an open invoice names no card, even if one is given")
    func openInvoiceHasNoCard() async throws {
        let text = try await pdfText(makeInvoice(status: .open))
        #expect(!text.contains("Paid by"))
        #expect(!text.contains("4242"))
        #expect(text.contains("USD 1,134.00 due 2025-03-31"))
    }

    @Test("an unknown card brand prints as just the card")
    func unknownBrand() async throws {
        let text = try await pdfText(makeInvoice(), payingCard: ("unknown", "0005"))
        #expect(text.contains("Paid by card ending in 0005"))
    }

    @Test("Greek buyer, street and country", arguments: [
        ("GR", "Ελλάδα οδός Ερμού 12", "Greece"), ("CY", "Λεωφόρος Μακαρίου 3", "Cyprus"),
    ])
    func greekBuyer(countryCode: String, street: String, country: String) async throws {
        let information = BillingInformation(
            fullName: "Γιώργος Παπαδόπουλος", countryCode: countryCode,
            address: BillingAddress(lines: [street], city: "Αθήνα", postalCode: "10563"))
        let text = try await pdfText(makeInvoice(billedTo: information))
        #expect(text.contains("Γιώργος Παπαδόπουλος"))
        #expect(text.contains(street))
        #expect(text.contains("Αθήνα, 10563"))
        #expect(text.contains(country))
    }

    @Test("every assigned country has a printed name, spelled out")
    func countryNames() {
        for code in Country.assignedCodes {
            let name = Country.englishName(ofCode: code)
            #expect(name != nil, "\(code)")
            #expect((name?.count ?? 0) > 2, "\(code): \(name ?? "")")
            #expect(name?.contains("&") == false, "\(code): \(name ?? "")")
        }
        #expect(Country.englishName(ofCode: " ua ") == "Ukraine")
        #expect(Country.englishName(ofCode: "CD") == "Democratic Republic of the Congo")
        #expect(Country.englishName(ofCode: "ZZ") == nil)
        #expect(InvoiceDocument.buyer(BillingInformation(
            fullName: "Ada", countryCode: "US",
            address: BillingAddress(lines: ["1 Main St"], city: "Springfield", region: "IL", postalCode: "62701"))).country
                == "United States")
    }

    @Test("amounts in another currency are refused, naming the field")
    func currencyMismatch() async throws {
        let seller = try testInvoicing().seller
        var invoice = makeInvoice()
        invoice.lines[1].amount = Money(amountMinor: 13_500, currency: .eur)
        let error = expectBillingError(.invalidArgument, field: "lines[1].amount") {
            _ = try InvoiceDocument.make(for: invoice, seller: seller, payingCard: nil)
        }
        #expect(error?.message == "lines[1].amount is in EUR but the invoice is in USD")

        invoice = makeInvoice()
        invoice.tax = Money(amountMinor: 0, currency: .gbp)
        expectBillingError(.invalidArgument, field: "tax") { _ = try InvoiceDocument.make(for: invoice, seller: seller, payingCard: nil) }

        invoice = makeInvoice()
        invoice.number = nil
        expectBillingError(.failedPrecondition, field: "invoice_id") { _ = try InvoiceDocument.make(for: invoice, seller: seller, payingCard: nil) }
    }

    @Test("rendering failures become BillingErrors: a bad document names its field, server paths stay out of replies")
    func renderingErrors() {
        let font = InvoiceRenderingError(code: .fontUnavailable, message: "the font file /srv/fonts/Sans.ttf cannot be read")
        #expect(font.billingError.kind == .internal)
        #expect(font.billingError.message == "the invoice PDF could not be rendered (font_unavailable)")
        let document = InvoiceRenderingError(code: .invalidDocument, message: "memo is too long", field: "memo")
        #expect(document.billingError.kind == .invalidArgument)
        #expect(document.billingError.field == "memo")
        #expect(document.billingError.message == "memo is too long")
    }

    @Test("the seller identity is checked, naming the setting")
    func sellerSettings() async throws {
        let renderer = try InvoiceRenderer(fonts: .dejaVuSans)
        let seller = InvoiceDocument.Seller(legalName: " Acme Cloud Ltd ", addressLines: ["1 Dock Road", " "], taxID: "GB123456789")
        let settings = try InvoiceSettings(seller: seller, numberPrefix: "ACME", renderer: renderer)
        #expect(settings.seller.legalName == "Acme Cloud Ltd")
        #expect(settings.seller.addressLines == ["1 Dock Road"])

        func refusal(_ seller: InvoiceDocument.Seller, prefix: String = "INV") -> String? {
            do {
                _ = try InvoiceSettings(seller: seller, numberPrefix: prefix, renderer: renderer)
                return nil
            } catch {
                return error.field
            }
        }
        #expect(refusal(.init(legalName: "  ", addressLines: ["x"], taxID: "t")) == "seller.legal_name")
        #expect(refusal(.init(legalName: "A", addressLines: [" "], taxID: "t")) == "seller.address")
        #expect(refusal(.init(legalName: "A", addressLines: ["x"], taxID: "")) == "seller.tax_id")
        #expect(refusal(seller, prefix: "") == "invoice_number_prefix")
        #expect(refusal(seller, prefix: "IN V") == "invoice_number_prefix")
        #expect(refusal(seller, prefix: "ΣΑ") == "invoice_number_prefix")
        #expect(refusal(seller, prefix: "INV") == nil)
    }

    @Test("InvoiceService prints the configured seller and prefix, the memo and the paying card")
    func throughTheService() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let context = try await makeContext(in: directory, invoicePrefix: "ACME", now: { utcDate(2026, 11, 20) })
        let store = context.store
        let account = try await AccountService(context: context).createAccount(displayName: "Anna", currencyCode: "EUR", idempotencyKey: "a")
        _ = try await AccountService(context: context).updateBillingInformation(
            accountID: account.id,
            information: BillingInformation(fullName: "Анна Каренина", countryCode: "UA", address: BillingAddress(lines: ["вулиця Хрещатик, 22"], city: "Київ", postalCode: "01001")),
            idempotencyKey: "b")
        _ = try await PaymentMethodService(context: context).add(
            accountID: account.id, card: CardDetails(number: "4242424242424242", expiryMonth: 12, expiryYear: 2030, cvc: "123"), makePrimary: true, idempotencyKey: "c")
        let invoices = InvoiceService(context: context)
        let draft = try await invoices.create(
            accountID: account.id, lines: [InvoiceLineRequest(description: "Консультація", quantity: 2, unitAmount: Money(amountMinor: 12_345, currency: .eur))],
            memo: "PO 7781\nПлатіж протягом 30 днів", daysUntilDue: 30, idempotencyKey: "d")
        let open = try await invoices.finalize(accountID: account.id, invoiceID: draft.id, idempotencyKey: "e")
        #expect(open.number == "ACME-000001")

        let unpaid = try await invoices.pdf(accountID: account.id, invoiceID: draft.id)
        #expect(unpaid.fileName == "ACME-000001.pdf")
        let unpaidText = try await extractedText(of: unpaid.bytes)
        #expect(!unpaidText.contains("Paid by"))
        #expect(unpaidText.contains("EUR 246.90 due"))

        _ = try await invoices.pay(accountID: account.id, invoiceID: draft.id, idempotencyKey: "f")
        let paid = try await invoices.pdf(accountID: account.id, invoiceID: draft.id)
        let text = try await extractedText(of: paid.bytes)
        for expected in ["ACME-000001", "Acme Cloud Ltd", "Tax ID: GB123456789", "Анна Каренина", "вулиця Хрещатик, 22", "Київ, 01001",
                         "Ukraine", "Консультація", "PO 7781", "Платіж протягом 30 днів", "Paid by Visa card ending in 4242", "PAID",
                         "EUR 246.90"] {
            #expect(text.contains(expected), "\(expected) in\n\(text)")
        }
        // Only brand and last four: the PDF's text holds no full card number.
        #expect(!text.contains("4242424242424242"))
        #expect(!text.contains("4242 4242"))
        await store.close()
    }

    @Test("invoice numbers are padded to six digits")
    func invoiceNumbers() {
        #expect(InvoiceRecords.number(sequence: 42, prefix: "INV") == "INV-000042")
        #expect(InvoiceRecords.number(sequence: 1_234_567, prefix: "INV") == "INV-1234567")
        #expect(InvoiceRecords.number(sequence: 7, prefix: "ACME") == "ACME-000007")
    }
}
