import Foundation
import InvoiceRendering

/// Who issues invoices and how they are printed: the seller's legal identity, the invoice
/// number prefix and the renderer with its fonts.
///
/// It comes from `billingd`'s configuration, never from a default in code: an invoice is a legal
/// document, and a made-up seller on it is worse than no invoice.
///
/// ```swift
/// let invoicing = try InvoiceSettings(
///     seller: .init(legalName: "Acme Cloud Ltd", addressLines: ["1 Dock Road", "London E1 1AA", "United Kingdom"],
///                   taxID: "GB123456789"),
///     numberPrefix: "ACME", renderer: try InvoiceRenderer(fonts: .dejaVuSans))
/// ```
public struct InvoiceSettings: Sendable {
    public let seller: InvoiceDocument.Seller
    /// Invoice numbers are this prefix, a dash and a six-digit sequence: "ACME-000042". Each prefix
    /// has its own sequence, so changing it starts numbering again at 1.
    public let numberPrefix: String
    public let renderer: InvoiceRenderer

    public static let maxLegalNameLength = 200
    public static let maxAddressLines = 6
    public static let maxAddressLineLength = 200
    public static let maxTaxIDLength = 64
    public static let maxNumberPrefixLength = 16

    /// Checks the identity a person configured; trims every value.
    /// - Throws: `invalidArgument` naming the setting (`seller.legal_name`, `seller.address`,
    ///   `seller.tax_id`, `invoice_number_prefix`).
    public init(seller: InvoiceDocument.Seller, numberPrefix: String, renderer: InvoiceRenderer) throws(BillingError) {
        let legalName = seller.legalName.trimmingWhitespace()
        let addressLines = seller.addressLines.map { $0.trimmingWhitespace() }.filter { !$0.isEmpty }
        let taxID = seller.taxID.trimmingWhitespace()
        let prefix = numberPrefix.trimmingWhitespace()
        guard (1...Self.maxLegalNameLength).contains(legalName.count) else {
            throw .invalidArgument("the seller's legal name is required (at most \(Self.maxLegalNameLength) characters)", field: "seller.legal_name")
        }
        guard (1...Self.maxAddressLines).contains(addressLines.count),
              addressLines.allSatisfy({ $0.count <= Self.maxAddressLineLength }) else {
            throw .invalidArgument(
                "the seller's address needs 1 to \(Self.maxAddressLines) lines of at most \(Self.maxAddressLineLength) characters",
                field: "seller.address")
        }
        guard (1...Self.maxTaxIDLength).contains(taxID.count) else {
            throw .invalidArgument("the seller's tax or VAT number is required (at most \(Self.maxTaxIDLength) characters)", field: "seller.tax_id")
        }
        // ASCII letters and digits only: the prefix is part of file names and of every number ever issued.
        guard (1...Self.maxNumberPrefixLength).contains(prefix.count), prefix.allSatisfy({ $0.isASCIILetter || $0.isASCIIDigit }) else {
            throw .invalidArgument(
                "the invoice number prefix must be 1 to \(Self.maxNumberPrefixLength) ASCII letters or digits, such as INV",
                field: "invoice_number_prefix")
        }
        self.seller = InvoiceDocument.Seller(legalName: legalName, addressLines: addressLines, taxID: taxID)
        self.numberPrefix = prefix
        self.renderer = renderer
    }
}

extension InvoiceDocument {
    /// The document printed for a finalized `invoice`: amounts formatted from minor units, the
    /// buyer's address as it was at finalization with the country spelled out, the memo, and for a
    /// paid invoice the card that paid it (brand and last four only).
    ///
    /// - Throws: `invalidArgument` naming the field when an amount is not in the invoice's currency
    ///   (a mixed-currency document is a bug, and printing it would be a wrong legal document);
    ///   `failedPrecondition` for a draft, which has no number yet.
    static func make(for invoice: Invoice, seller: InvoiceDocument.Seller, payingCard: (brand: String, last4: String)?) throws -> InvoiceDocument {
        guard let number = invoice.number, let finalized = invoice.finalizedAtMilliseconds, let billedTo = invoice.billedTo else {
            throw BillingError.failedPrecondition("invoice \(invoice.id) is a draft; finalize it to get a PDF", field: "invoice_id", reason: .invoiceStateConflict)
        }
        let currency = invoice.total.currency
        func text(_ amount: Money, field: String) throws -> String {
            guard amount.currency == currency else {
                throw BillingError.invalidArgument("\(field) is in \(amount.currency.code) but the invoice is in \(currency.code)", field: field)
            }
            return amount.formatted
        }
        let lines = try invoice.lines.enumerated().map { index, line in
            LineItem(
                description: line.description, quantity: line.quantity,
                unitAmount: try text(line.unitAmount, field: "lines[\(index)].unit_amount"),
                amount: try text(line.amount, field: "lines[\(index)].amount"))
        }
        let totals = Totals(
            subtotal: try text(invoice.subtotal, field: "subtotal"), tax: try text(invoice.tax, field: "tax"),
            total: try text(invoice.total, field: "total"), amountPaid: try text(invoice.amountPaid, field: "amount_paid"),
            amountDue: try text(invoice.amountDue, field: "amount_due"))
        let status = InvoiceDocument.Status(rawValue: invoice.status.rawValue) ?? .open
        return InvoiceDocument(
            seller: seller, buyer: buyer(billedTo), number: number, status: status,
            issueDate: Date(unixMilliseconds: finalized), dueDate: Date(unixMilliseconds: invoice.dueAtMilliseconds ?? finalized),
            paidDate: invoice.paidAtMilliseconds.map(Date.init(unixMilliseconds:)),
            lines: lines, totals: totals, memo: invoice.memo,
            payment: status == .paid ? payingCard.map { Payment(cardBrand: cardBrandName($0.brand), last4: $0.last4) } : nil)
    }

    /// Name; street lines; "City, Region Postal code"; the country's English name.
    static func buyer(_ information: BillingInformation) -> Buyer {
        let address = information.address
        let regionAndPostalCode = [address.region, address.postalCode]
            .map { $0.trimmingWhitespace() }
            .filter { !$0.isEmpty }
            .joined(separator: " ")
        let cityLine = [address.city.trimmingWhitespace(), regionAndPostalCode]
            .filter { !$0.isEmpty }
            .joined(separator: ", ")
        let streetLines = address.lines.prefix(BillingInformation.maxAddressLineCount).map { $0.trimmingWhitespace() }
        let code = information.countryCode.trimmingWhitespace().uppercased()
        return Buyer(
            name: information.fullName.trimmingWhitespace(),
            addressLines: (streetLines + [cityLine]).filter { !$0.isEmpty },
            country: Country.englishName(ofCode: code) ?? code)
    }

    /// How people write the brand stored with a charge ("visa" → "Visa"); an unknown brand prints
    /// as nothing, so the line reads "Paid by card ending in 1234".
    static func cardBrandName(_ storedBrand: String) -> String {
        switch CardBrand(rawValue: storedBrand) {
        case .visa: return "Visa"
        case .mastercard: return "Mastercard"
        case .amex: return "American Express"
        case .discover: return "Discover"
        case .diners: return "Diners Club"
        case .jcb: return "JCB"
        case .unionpay: return "UnionPay"
        case .unknown, nil: return ""
        }
    }
}

extension InvoiceRenderingError {
    /// The same failure as the domain reports it: a bad document names its field; a missing font or
    /// a libharu failure is the service's fault, not the caller's, and its message (which names
    /// server files) stays out of the reply: only the code goes back.
    var billingError: BillingError {
        switch code {
        case .invalidDocument: return .invalidArgument(message, field: field)
        case .fontUnavailable, .pdfLibraryFailed: return .internalError("the invoice PDF could not be rendered (\(code.rawValue))")
        }
    }
}
