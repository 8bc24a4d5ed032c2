import BillingStore
import Foundation
import InvoiceRendering

/// An invoice: lines and totals in the account's currency, and the billing information as it was
/// when the invoice was finalized.
public struct Invoice: Sendable, Hashable, Codable {
    public enum Status: String, Sendable, Hashable, Codable, CaseIterable {
        case draft, open, paid, void, uncollectible
    }

    public struct Line: Sendable, Hashable, Codable {
        public var description: String
        public var quantity: Int64
        public var unitAmount: Money
        public var amount: Money
    }

    public var id: String
    public var accountID: String
    /// Nil until finalized.
    public var number: String?
    public var status: Status
    public var lines: [Line]
    public var subtotal: Money
    public var tax: Money
    public var total: Money
    public var amountPaid: Money
    public var amountDue: Money
    public var billedTo: BillingInformation?
    public var memo: String
    public var createdAtMilliseconds: Int64
    public var finalizedAtMilliseconds: Int64?
    public var dueAtMilliseconds: Int64?
    public var paidAtMilliseconds: Int64?
    /// Why the invoice exists.
    public var billingReason: BillingReason = .manual
    /// Set on invoices a subscription made: which, and the period (or rest of the period) billed.
    public var subscriptionID: String?
    public var periodStartMilliseconds: Int64?
    public var periodEndMilliseconds: Int64?

    public enum BillingReason: String, Sendable, Hashable, Codable {
        case manual
        case walletFunds = "wallet_funds"
        /// The first period of a subscription (at once, or at the end of its trial).
        case subscriptionCreate = "subscription_create"
        case subscriptionCycle = "subscription_cycle"
        /// The prorated difference of an upgrade.
        case subscriptionUpdate = "subscription_update"
    }
}

/// A line as a caller asks for it.
public struct InvoiceLineRequest: Sendable, Hashable {
    public var description: String
    public var quantity: Int64
    public var unitAmount: Money

    public init(description: String, quantity: Int64, unitAmount: Money) {
        self.description = description
        self.quantity = quantity
        self.unitAmount = unitAmount
    }
}

/// What PayInvoice did: the invoice after the attempt, and the charge that was the attempt.
public struct InvoicePayment: Sendable, Hashable, Codable {
    public var invoice: Invoice
    public var charge: Charge
    /// For an invoice a subscription made: the subscription after the payment settled.
    public var subscription: Subscription?
}

/// Invoices from draft to paid, void or uncollectible, their PDFs, and the charges that pay them.
///
/// `draft → open` (finalize: numbered without gaps, billing information copied in) `→ paid` (pay: the
/// primary card is charged) `| void | uncollectible`.
public struct InvoiceService: Sendable {
    public static let maxLines = 100
    public static let maxLineDescriptionLength = 500
    public static let maxQuantity: Int64 = 1_000_000
    public static let maxMemoLength = 1_000
    public static let maxDaysUntilDue = 365

    let context: BillingContext
    let gatewayRequests: KeyedSerialQueue

    public init(context: BillingContext) {
        self.context = context
        self.gatewayRequests = KeyedSerialQueue()
    }

    public func create(accountID: String, lines: [InvoiceLineRequest], memo: String, daysUntilDue: Int, idempotencyKey: String) async throws -> Invoice {
        try Identifier.validate(accountID, prefix: "acct", field: "account_id")
        guard !lines.isEmpty else { throw BillingError.invalidArgument("an invoice needs at least one line", field: "lines") }
        guard lines.count <= Self.maxLines else {
            throw BillingError.invalidArgument("the invoice has \(lines.count) lines; the limit is \(Self.maxLines)", field: "lines")
        }
        guard memo.count <= Self.maxMemoLength else {
            throw BillingError.invalidArgument("memo is \(memo.count) characters; the limit is \(Self.maxMemoLength)", field: "memo")
        }
        guard (0...Self.maxDaysUntilDue).contains(daysUntilDue) else {
            throw BillingError.invalidArgument("days_until_due must be between 0 and \(Self.maxDaysUntilDue)", field: "days_until_due")
        }
        for (index, line) in lines.enumerated() {
            let field = "lines[\(index)]"
            let description = line.description.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !description.isEmpty, description.count <= Self.maxLineDescriptionLength else {
                throw BillingError.invalidArgument("\(field).description must be 1 to \(Self.maxLineDescriptionLength) characters", field: "\(field).description")
            }
            guard (1...Self.maxQuantity).contains(line.quantity) else {
                throw BillingError.invalidArgument("\(field).quantity must be between 1 and \(Self.maxQuantity)", field: "\(field).quantity")
            }
            try context.limits.require(line.unitAmount, field: "\(field).unit_amount")
            // Both factors are bounded (quantity ≤ 10^6, unit ≤ 2^40), so the product fits; it is checked all the same.
            try context.limits.require(try line.unitAmount.multiplied(by: line.quantity), field: "\(field).amount")
        }
        let key = try IdempotencyKey(idempotencyKey, scope: accountID, method: "CreateInvoice", parameters: [memo, "\(daysUntilDue)"] + lines.flatMap {
            [$0.description, "\($0.quantity)", "\($0.unitAmount.amountMinor)", $0.unitAmount.currency.code]
        })
        return try await IdempotencyRecords.once(key, in: context.store, nowMilliseconds: context.nowMilliseconds) { [context] tx in
            let account = try AccountRecords.account(accountID, in: tx)
            var priced: [Invoice.Line] = []
            for (index, line) in lines.enumerated() {
                try line.unitAmount.requireCurrency(account.currency, field: "lines[\(index)].unit_amount")
                let amount = try line.unitAmount.multiplied(by: line.quantity)
                priced.append(Invoice.Line(
                    description: line.description.trimmingCharacters(in: .whitespacesAndNewlines), quantity: line.quantity,
                    unitAmount: line.unitAmount, amount: amount))
            }
            let subtotal = try Money.sum(priced.map(\.amount), in: account.currency)
            // Paying an invoice is one charge, so its total is one amount under the limit.
            try context.limits.require(subtotal, field: "lines", name: "the invoice total")
            let id = try InvoiceRecords.insertDraft(
                accountID: accountID, lines: priced, subtotal: subtotal, memo: memo, daysUntilDue: daysUntilDue, in: tx,
                nowMilliseconds: context.nowMilliseconds)
            return try InvoiceRecords.invoice(id, accountID: accountID, in: tx)
        }
    }

    /// draft → open: takes the next number of the sequence and copies the billing information in.
    public func finalize(accountID: String, invoiceID: String, idempotencyKey: String) async throws -> Invoice {
        let prefix = context.invoiceNumberPrefix
        return try await transition(accountID, invoiceID, idempotencyKey, method: "FinalizeInvoice") { invoice, tx, now in
            guard invoice.status == .draft else {
                throw BillingError.failedPrecondition("invoice \(invoice.id) is \(invoice.status.rawValue); only a draft can be finalized", field: "invoice_id", reason: .invoiceStateConflict)
            }
            try ChargeLifecycle.requireCompleteBillingInformation(accountID, in: tx)
            let billedTo = try AccountRecords.billingInformation(accountID, in: tx).information
            try InvoiceRecords.finalize(invoice.id, number: try InvoiceRecords.nextNumber(prefix: prefix, in: tx), billedTo: billedTo, in: tx, nowMilliseconds: now)
        }
    }

    /// draft or open → void. A paid invoice cannot be voided.
    public func void(accountID: String, invoiceID: String, idempotencyKey: String) async throws -> Invoice {
        try await transition(accountID, invoiceID, idempotencyKey, method: "VoidInvoice") { invoice, tx, _ in
            guard invoice.status == .draft || invoice.status == .open else {
                throw BillingError.failedPrecondition("invoice \(invoice.id) is \(invoice.status.rawValue); only draft or open invoices can be voided", field: "invoice_id", reason: .invoiceStateConflict)
            }
            try InvoiceRecords.requireNoPaymentInFlight(invoice.id, in: tx)
            try InvoiceRecords.setStatus(.void, of: invoice.id, in: tx)
        }
    }

    /// open → uncollectible: the money is written off; the invoice stays on record.
    public func markUncollectible(accountID: String, invoiceID: String, idempotencyKey: String) async throws -> Invoice {
        try await transition(accountID, invoiceID, idempotencyKey, method: "MarkInvoiceUncollectible") { invoice, tx, _ in
            guard invoice.status == .open else {
                throw BillingError.failedPrecondition("invoice \(invoice.id) is \(invoice.status.rawValue); only an open invoice can be marked uncollectible", field: "invoice_id", reason: .invoiceStateConflict)
            }
            try InvoiceRecords.requireNoPaymentInFlight(invoice.id, in: tx)
            try InvoiceRecords.setStatus(.uncollectible, of: invoice.id, in: tx)
        }
    }

    /// open → paid: charges the amount due to the primary card. A declined card is FAILED_PRECONDITION
    /// (the failed charge stays in the history and the invoice stays open); a retry with the same key
    /// returns the first outcome and never charges twice.
    public func pay(accountID: String, invoiceID: String, idempotencyKey: String) async throws -> InvoicePayment {
        try Identifier.validate(accountID, prefix: "acct", field: "account_id")
        try Identifier.validate(invoiceID, prefix: "inv", field: "invoice_id")
        let key = try IdempotencyKey(idempotencyKey, scope: accountID, method: "PayInvoice", parameters: [invoiceID])
        let context = context
        return try await gatewayRequests.run(key.scope + "\u{0}" + key.key) {
            let once = try await Settlement.chargeOnce(key: key, context: context, replaying: InvoicePayment.self) { tx, now in
                let account = try AccountRecords.account(accountID, in: tx)
                let invoice = try InvoiceRecords.invoice(invoiceID, accountID: accountID, in: tx)
                guard invoice.status == .open else {
                    throw BillingError.failedPrecondition(
                        "invoice \(invoice.id) is \(invoice.status.rawValue); only an open invoice can be paid"
                            + (invoice.status == .draft ? " (finalize it first)" : ""), field: "invoice_id", reason: .invoiceNotPayable)
                }
                guard invoice.amountDue.isPositive else {
                    throw BillingError.failedPrecondition("invoice \(invoice.id) has nothing due", field: "invoice_id", reason: .invoiceNotPayable)
                }
                try InvoiceRecords.requireNoPaymentInFlight(invoice.id, in: tx)
                try ChargeLifecycle.requireCompleteBillingInformation(accountID, in: tx)
                let (card, token) = try ChargeLifecycle.primaryCard(of: account, in: tx, now: context.now())
                let description = "Invoice \(invoice.number ?? invoice.id)"
                let chargeID = try ChargeLifecycle.recordPending(
                    accountID: accountID, amount: invoice.amountDue, card: card, description: description,
                    purpose: .invoicePayment, invoiceID: invoice.id, recordedBy: context.instanceName, in: tx, nowMilliseconds: now)
                return PendingCharge(chargeID: chargeID, token: token, amount: invoice.amountDue, description: description)
            }
            switch once {
            case .replayed(let payment), .completed(let payment):
                return payment
            case .settled(.invoicePayment(let payment)):
                guard payment.charge.status == .succeeded else { throw ChargeLifecycle.failure(of: payment.charge) }
                return payment
            case .settled(.walletCredit):
                throw BillingError.internalError("an invoice payment settled as a wallet credit")
            }
        }
    }

    public func invoice(accountID: String, invoiceID: String?, number: String?) async throws -> Invoice {
        try Identifier.validate(accountID, prefix: "acct", field: "account_id")
        if let invoiceID { try Identifier.validate(invoiceID, prefix: "inv", field: "invoice_id") }
        guard invoiceID != nil || number != nil else {
            throw BillingError.invalidArgument("give invoice_id or number", field: "invoice_id")
        }
        return try await context.store.read { tx in
            _ = try AccountRecords.account(accountID, in: tx)
            let id: String
            if let invoiceID {
                id = invoiceID
            } else {
                guard let found = try InvoiceRecords.id(ofNumber: number!, accountID: accountID, in: tx) else {
                    throw BillingError.notFound("no invoice numbered \(number!) on account \(accountID)", field: "number")
                }
                id = found
            }
            return try InvoiceRecords.invoice(id, accountID: accountID, in: tx)
        }
    }

    public func list(accountID: String, filter: HistoryFilter, page: PageRequest) async throws -> Page<Invoice> {
        try Identifier.validate(accountID, prefix: "acct", field: "account_id")
        return try await context.store.read { tx in
            _ = try AccountRecords.account(accountID, in: tx)
            return try Paging.page(of: "invoices", accountID: accountID, filter: filter, page: page, in: tx) { try InvoiceRecords.invoice(from: $0, in: tx) }
        }
    }

    /// Every attempt to take money from the account, newest first.
    public func listCharges(accountID: String, filter: HistoryFilter, page: PageRequest) async throws -> Page<Charge> {
        try Identifier.validate(accountID, prefix: "acct", field: "account_id")
        return try await context.store.read { tx in
            _ = try AccountRecords.account(accountID, in: tx)
            return try Paging.page(of: "charges", accountID: accountID, filter: filter, page: page, in: tx, decode: ChargeLifecycle.charge(from:))
        }
    }

    /// The invoice as a PDF a person would file; drafts have no number yet and are refused. A paid
    /// invoice shows the card that paid it (brand and last four), from its succeeded charge.
    public func pdf(accountID: String, invoiceID: String) async throws -> (fileName: String, bytes: [UInt8]) {
        try Identifier.validate(accountID, prefix: "acct", field: "account_id")
        try Identifier.validate(invoiceID, prefix: "inv", field: "invoice_id")
        let (invoice, payingCard) = try await context.store.read { tx in
            _ = try AccountRecords.account(accountID, in: tx)
            let invoice = try InvoiceRecords.invoice(invoiceID, accountID: accountID, in: tx)
            return (invoice, try ChargeLifecycle.payingCard(ofInvoice: invoice.id, in: tx))
        }
        let document = try InvoiceDocument.make(for: invoice, seller: context.seller, payingCard: payingCard)
        do {
            return ("\(document.number).pdf", try context.invoicing.renderer.render(document))
        } catch {
            throw error.billingError
        }
    }

    // MARK: Shared steps

    /// Runs one status change of an invoice inside one transaction, idempotently.
    private func transition(
        _ accountID: String, _ invoiceID: String, _ idempotencyKey: String, method: String,
        _ change: @escaping @Sendable (Invoice, WriteTransaction, Int64) throws -> Void
    ) async throws -> Invoice {
        try Identifier.validate(accountID, prefix: "acct", field: "account_id")
        try Identifier.validate(invoiceID, prefix: "inv", field: "invoice_id")
        let key = try IdempotencyKey(idempotencyKey, scope: accountID, method: method, parameters: [invoiceID])
        let now = context.nowMilliseconds
        return try await IdempotencyRecords.once(key, in: context.store, nowMilliseconds: now) { tx in
            _ = try AccountRecords.account(accountID, in: tx)
            try change(try InvoiceRecords.invoice(invoiceID, accountID: accountID, in: tx), tx, now)
            return try InvoiceRecords.invoice(invoiceID, accountID: accountID, in: tx)
        }
    }
}
