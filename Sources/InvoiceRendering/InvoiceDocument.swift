import Foundation

/// Everything printed on an invoice, as plain values: the input of ``InvoiceRenderer``.
///
/// It is a snapshot, not the invoice itself. The domain decides every amount and formats it
/// (money stays integer minor units until then), spells out the country, and picks the card;
/// this document prints exactly the text it is given, so the renderer needs to know nothing
/// of the store, of money or of the domain services.
///
/// ```swift
/// let document = InvoiceDocument(
///     seller: .init(legalName: "Acme Cloud Ltd", addressLines: ["1 Dock Road", "London E1 1AA"], taxID: "GB123456789"),
///     buyer: .init(name: "Анна Каренина", addressLines: ["вул. Хрещатик, 1", "Київ 01001"], country: "Ukraine"),
///     number: "INV-000042", status: .paid, issueDate: issued, dueDate: due, paidDate: paid,
///     lines: [.init(description: "Pro plan", quantity: 1, unitAmount: "USD 99.00", amount: "USD 99.00")],
///     totals: .init(subtotal: "USD 99.00", tax: "USD 0.00", total: "USD 99.00",
///                   amountPaid: "USD 99.00", amountDue: "USD 0.00"),
///     memo: "Thank you for your business.",
///     payment: .init(cardBrand: "Visa", last4: "4242"))
/// let pdfBytes = try renderer.render(document)
/// ```
public struct InvoiceDocument: Sendable, Hashable {
    /// The invoice's life cycle: `draft → open → paid | void | uncollectible`.
    public enum Status: String, Sendable, Hashable, Codable, CaseIterable {
        case draft, open, paid, void, uncollectible
    }

    /// Who issues the invoice: printed as the "From" block and in every page's footer.
    public struct Seller: Sendable, Hashable {
        /// The registered legal name, as the tax authority knows it.
        public var legalName: String
        /// Printed one per line under the name.
        public var addressLines: [String]
        /// VAT number or similar; printed as "Tax ID: …" when not empty.
        public var taxID: String

        public init(legalName: String, addressLines: [String], taxID: String) {
            self.legalName = legalName
            self.addressLines = addressLines
            self.taxID = taxID
        }
    }

    /// Who is billed: printed as the "Bill to" block.
    public struct Buyer: Sendable, Hashable {
        public var name: String
        /// Street lines, then "City, Region Postal code", as the domain composed them.
        public var addressLines: [String]
        /// The country spelled out ("Ukraine", not "UA"): a two-letter code is not an address.
        public var country: String

        public init(name: String, addressLines: [String], country: String) {
            self.name = name
            self.addressLines = addressLines
            self.country = country
        }
    }

    /// One row of the invoice table. Amounts arrive formatted ("USD 1,234.56").
    public struct LineItem: Sendable, Hashable {
        public var description: String
        public var quantity: Int64
        public var unitAmount: String
        public var amount: String

        public init(description: String, quantity: Int64, unitAmount: String, amount: String) {
            self.description = description
            self.quantity = quantity
            self.unitAmount = unitAmount
            self.amount = amount
        }
    }

    /// The totals block, formatted by the domain.
    public struct Totals: Sendable, Hashable {
        public var subtotal: String
        public var tax: String
        public var total: String
        public var amountPaid: String
        public var amountDue: String

        public init(subtotal: String, tax: String, total: String, amountPaid: String, amountDue: String) {
            self.subtotal = subtotal
            self.tax = tax
            self.total = total
            self.amountPaid = amountPaid
            self.amountDue = amountDue
        }
    }

    /// How a paid invoice was paid. Only the brand and the last four digits: an invoice is
    /// mailed and filed, so it must never carry anything that could take money again.
    public struct Payment: Sendable, Hashable {
        /// "Visa", "Mastercard", …
        public var cardBrand: String
        /// Exactly four ASCII digits; ``InvoiceDocument/validate()`` refuses anything else.
        public var last4: String

        public init(cardBrand: String, last4: String) {
            self.cardBrand = cardBrand
            self.last4 = last4
        }
    }

    public var seller: Seller
    public var buyer: Buyer
    /// E.g. `"INV-000042"`.
    public var number: String
    public var status: Status
    public var issueDate: Date
    public var dueDate: Date
    public var paidDate: Date?
    public var lines: [LineItem]
    public var totals: Totals
    /// Free text from whoever created the invoice; printed under the totals when not empty.
    public var memo: String
    /// Printed when present, under the summary line ("Paid by Visa ending in 4242").
    public var payment: Payment?

    public init(
        seller: Seller, buyer: Buyer, number: String, status: Status,
        issueDate: Date, dueDate: Date, paidDate: Date?, lines: [LineItem], totals: Totals,
        memo: String = "", payment: Payment? = nil
    ) {
        self.seller = seller
        self.buyer = buyer
        self.number = number
        self.status = status
        self.issueDate = issueDate
        self.dueDate = dueDate
        self.paidDate = paidDate
        self.lines = lines
        self.totals = totals
        self.memo = memo
        self.payment = payment
    }

    /// Documents with more lines are refused: nobody reads them and they would make
    /// rendering unbounded.
    public static let maxLineItems = 5_000
    public static let maxNumberLength = 64
    /// Longer memos are refused rather than cut: a legal document prints all of its text or none.
    public static let maxMemoCharacters = 2_000

    /// Checks that the document can be printed: a number, a seller name, a bounded number of
    /// lines and memo, and a card shown by its last four digits only.
    /// - Throws: ``InvoiceRenderingError`` with code `invalidDocument`, naming the field.
    public func validate() throws(InvoiceRenderingError) {
        let trimmedNumber = number.trimmingWhitespace()
        if trimmedNumber.isEmpty {
            throw .invalidDocument("number is required to print an invoice", field: "number")
        }
        if trimmedNumber.count > Self.maxNumberLength {
            throw .invalidDocument(
                "number is \(trimmedNumber.count) characters long; at most \(Self.maxNumberLength) are allowed",
                field: "number")
        }
        if seller.legalName.trimmingWhitespace().isEmpty {
            throw .invalidDocument("the seller's legal name is required to print an invoice", field: "seller.legal_name")
        }
        if lines.count > Self.maxLineItems {
            throw .invalidDocument(
                "the invoice has \(lines.count) lines; at most \(Self.maxLineItems) can be printed", field: "lines")
        }
        if memo.count > Self.maxMemoCharacters {
            throw .invalidDocument(
                "memo is \(memo.count) characters long; at most \(Self.maxMemoCharacters) can be printed", field: "memo")
        }
        if let payment, payment.last4.count != 4 || !payment.last4.allSatisfy({ $0.isASCII && $0.isWholeNumber }) {
            // Never echo the value: it may be a whole card number.
            throw .invalidDocument("payment.last4 must be exactly four digits", field: "payment.last4")
        }
    }
}

/// Why an invoice could not be rendered, with a message a person can act on.
public struct InvoiceRenderingError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Code: String, Sendable, Hashable {
        /// The document breaks a rule of ``InvoiceDocument/validate()``; `field` names the value.
        case invalidDocument = "invalid_document"
        /// A configured font file is missing or is not a TrueType font libharu can embed.
        case fontUnavailable = "font_unavailable"
        /// libharu reported an error while writing; `message` carries its error and detail numbers.
        case pdfLibraryFailed = "pdf_library_failed"
    }

    public var code: Code
    public var message: String
    public var field: String?

    public init(code: Code, message: String, field: String? = nil) {
        self.code = code
        self.message = message
        self.field = field
    }

    static func invalidDocument(_ message: String, field: String) -> InvoiceRenderingError {
        InvoiceRenderingError(code: .invalidDocument, message: message, field: field)
    }

    public var description: String { "\(code.rawValue): \(message)" }
}

extension String {
    /// The string without leading and trailing spaces, tabs and newlines.
    func trimmingWhitespace() -> String {
        var view = Substring(self)
        while let first = view.first, first.isWhitespace { view = view.dropFirst() }
        while let last = view.last, last.isWhitespace { view = view.dropLast() }
        return String(view)
    }
}
