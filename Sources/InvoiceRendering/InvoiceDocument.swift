import Foundation

/// Everything printed on an invoice, as plain values: the input of ``InvoicePDF``.
///
/// It is a snapshot, not the invoice itself: the invoice logic computes the amounts and
/// this document prints exactly what it is given. It does not recompute totals (discounts
/// and credits are the invoice logic's business), but ``validate()`` checks that every
/// amount is in the invoice's currency, because a mixed-currency document is a bug.
///
/// ```swift
/// let document = InvoiceDocument(
///     seller: .init(name: "Acme Cloud Ltd", addressLines: ["1 Dock Road", "London E1 1AA"], taxID: "GB123456789"),
///     buyer: account.billingInformation,
///     number: InvoiceDocument.number(sequence: 42),         // "INV-000042"
///     status: .open, issueDate: issued, dueDate: due, paidDate: nil,
///     lines: lines, subtotal: subtotal, tax: tax, total: total,
///     amountPaid: .zero(in: .usd), amountDue: total, currency: .usd)
/// let pdfBytes = try InvoicePDF.render(document)
/// ```
public struct InvoiceDocument: Sendable, Hashable {
    /// The invoice's life cycle: `draft → open → paid | void | uncollectible`.
    public enum Status: String, Sendable, Hashable, Codable, CaseIterable {
        case draft, open, paid, void, uncollectible
    }

    /// Who issues the invoice.
    public struct Seller: Sendable, Hashable {
        public var name: String
        /// Printed one per line under the name.
        public var addressLines: [String]
        /// VAT number or similar; printed as "Tax ID: …" when present.
        public var taxID: String?

        public init(name: String, addressLines: [String], taxID: String? = nil) {
            self.name = name
            self.addressLines = addressLines
            self.taxID = taxID
        }
    }

    /// One row of the invoice table.
    public struct LineItem: Sendable, Hashable {
        public var description: String
        public var quantity: Int64
        public var unitAmount: Money
        /// Usually `unitAmount × quantity`, but whatever the invoice logic decided.
        public var amount: Money

        public init(description: String, quantity: Int64, unitAmount: Money, amount: Money) {
            self.description = description
            self.quantity = quantity
            self.unitAmount = unitAmount
            self.amount = amount
        }
    }

    public var seller: Seller
    public var buyer: BillingInformation
    /// E.g. `"INV-000042"`, see ``number(sequence:prefix:)``.
    public var number: String
    public var status: Status
    public var issueDate: Date
    public var dueDate: Date
    public var paidDate: Date?
    public var lines: [LineItem]
    public var subtotal: Money
    public var tax: Money
    public var total: Money
    public var amountPaid: Money
    public var amountDue: Money
    public var currency: Currency

    public init(
        seller: Seller, buyer: BillingInformation, number: String, status: Status,
        issueDate: Date, dueDate: Date, paidDate: Date?, lines: [LineItem],
        subtotal: Money, tax: Money, total: Money, amountPaid: Money, amountDue: Money,
        currency: Currency
    ) {
        self.seller = seller
        self.buyer = buyer
        self.number = number
        self.status = status
        self.issueDate = issueDate
        self.dueDate = dueDate
        self.paidDate = paidDate
        self.lines = lines
        self.subtotal = subtotal
        self.tax = tax
        self.total = total
        self.amountPaid = amountPaid
        self.amountDue = amountDue
        self.currency = currency
    }

    /// Documents with more lines are refused: nobody reads them and they would make
    /// rendering unbounded.
    public static let maxLineItems = 5_000
    public static let maxNumberLength = 64

    /// The invoice number for a sequence number: `number(sequence: 42)` is `"INV-000042"`.
    /// Six digits at least, so numbers sort as text until the millionth invoice.
    public static func number(sequence: Int, prefix: String = "INV") -> String {
        let digits = String(sequence)
        let padding = String(repeating: "0", count: max(0, 6 - digits.count))
        return "\(prefix)-\(padding)\(digits)"
    }

    /// Checks that the document can be printed: a number, a bounded number of lines,
    /// and every amount in `currency`.
    /// - Throws: `invalidArgument` naming the field, e.g. `lines[3].amount`.
    public func validate() throws {
        let trimmedNumber = number.trimmingWhitespace()
        if trimmedNumber.isEmpty {
            throw BillingError.invalidArgument("number is required to print an invoice", field: "number")
        }
        if trimmedNumber.count > InvoiceDocument.maxNumberLength {
            throw BillingError.invalidArgument(
                "number is \(trimmedNumber.count) characters long; at most "
                    + "\(InvoiceDocument.maxNumberLength) are allowed", field: "number")
        }
        if lines.count > InvoiceDocument.maxLineItems {
            throw BillingError.invalidArgument(
                "the invoice has \(lines.count) lines; at most \(InvoiceDocument.maxLineItems) can be printed",
                field: "lines")
        }
        for (index, line) in lines.enumerated() {
            try line.unitAmount.requireInvoiceCurrency(currency, field: "lines[\(index)].unit_amount")
            try line.amount.requireInvoiceCurrency(currency, field: "lines[\(index)].amount")
        }
        try subtotal.requireInvoiceCurrency(currency, field: "subtotal")
        try tax.requireInvoiceCurrency(currency, field: "tax")
        try total.requireInvoiceCurrency(currency, field: "total")
        try amountPaid.requireInvoiceCurrency(currency, field: "amount_paid")
        try amountDue.requireInvoiceCurrency(currency, field: "amount_due")
    }
}

extension Money {
    fileprivate func requireInvoiceCurrency(_ invoiceCurrency: Currency, field: String) throws {
        if currency != invoiceCurrency {
            throw BillingError.invalidArgument(
                "\(field) is in \(currency.code) but the invoice is in \(invoiceCurrency.code)", field: field)
        }
    }
}
