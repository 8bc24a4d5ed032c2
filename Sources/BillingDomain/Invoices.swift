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
        let now = context.nowMilliseconds
        return try await context.store.write { tx in
            if case .done(let invoice) = try IdempotencyRecords.look(key, in: tx, as: Invoice.self) { return invoice }
            let account = try AccountService.account(accountID, in: tx)
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
            let id = Identifier.make("inv")
            // Tax is not computed yet: it is recorded as zero and printed as such.
            try tx.execute("""
                INSERT INTO invoices(id, account_id, status, currency, subtotal_minor, tax_minor, total_minor, memo, days_until_due, created_at_ms)
                VALUES (?, ?, 'draft', ?, ?, 0, ?, ?, ?, ?)
                """, .text(id), .text(accountID), .text(account.currency.code), .integer(subtotal.amountMinor),
                .integer(subtotal.amountMinor), .text(memo), .int(daysUntilDue), .integer(now))
            for (position, line) in priced.enumerated() {
                try tx.execute(
                    "INSERT INTO invoice_lines(invoice_id, position, description, quantity, unit_amount_minor, amount_minor) VALUES (?, ?, ?, ?, ?, ?)",
                    .text(id), .int(position), .text(line.description), .integer(line.quantity),
                    .integer(line.unitAmount.amountMinor), .integer(line.amount.amountMinor))
            }
            let invoice = try Self.invoice(id, accountID: accountID, in: tx)
            try IdempotencyRecords.save(invoice, for: key, in: tx, nowMilliseconds: now)
            return invoice
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
            let billedTo = try AccountService.billingInformation(accountID, in: tx).information
            let days = try tx.queryOne("SELECT days_until_due FROM invoices WHERE id = ?", .text(invoice.id))!.int64("days_until_due")
            try tx.execute(
                "UPDATE invoices SET status = 'open', number = ?, billed_to = ?, finalized_at_ms = ?, due_at_ms = ? WHERE id = ?",
                .text(try Self.nextNumber(prefix: prefix, in: tx)),
                .text(String(decoding: try JSONEncoder().encode(billedTo), as: UTF8.self)),
                .integer(now), .integer(now + days * 86_400_000), .text(invoice.id))
        }
    }

    /// draft or open → void. A paid invoice cannot be voided.
    public func void(accountID: String, invoiceID: String, idempotencyKey: String) async throws -> Invoice {
        try await transition(accountID, invoiceID, idempotencyKey, method: "VoidInvoice") { invoice, tx, _ in
            guard invoice.status == .draft || invoice.status == .open else {
                throw BillingError.failedPrecondition("invoice \(invoice.id) is \(invoice.status.rawValue); only draft or open invoices can be voided", field: "invoice_id", reason: .invoiceStateConflict)
            }
            try Self.requireNoPaymentInFlight(invoice.id, in: tx)
            try tx.execute("UPDATE invoices SET status = 'void' WHERE id = ?", .text(invoice.id))
        }
    }

    /// open → uncollectible: the money is written off; the invoice stays on record.
    public func markUncollectible(accountID: String, invoiceID: String, idempotencyKey: String) async throws -> Invoice {
        try await transition(accountID, invoiceID, idempotencyKey, method: "MarkInvoiceUncollectible") { invoice, tx, _ in
            guard invoice.status == .open else {
                throw BillingError.failedPrecondition("invoice \(invoice.id) is \(invoice.status.rawValue); only an open invoice can be marked uncollectible", field: "invoice_id", reason: .invoiceStateConflict)
            }
            try Self.requireNoPaymentInFlight(invoice.id, in: tx)
            try tx.execute("UPDATE invoices SET status = 'uncollectible' WHERE id = ?", .text(invoice.id))
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
            let once = try await ChargeLifecycle.chargeOnce(key: key, context: context, replaying: InvoicePayment.self) { tx, now in
                let account = try AccountService.account(accountID, in: tx)
                let invoice = try Self.invoice(invoiceID, accountID: accountID, in: tx)
                guard invoice.status == .open else {
                    throw BillingError.failedPrecondition(
                        "invoice \(invoice.id) is \(invoice.status.rawValue); only an open invoice can be paid"
                            + (invoice.status == .draft ? " (finalize it first)" : ""), field: "invoice_id", reason: .invoiceNotPayable)
                }
                guard invoice.amountDue.isPositive else {
                    throw BillingError.failedPrecondition("invoice \(invoice.id) has nothing due", field: "invoice_id", reason: .invoiceNotPayable)
                }
                try Self.requireNoPaymentInFlight(invoice.id, in: tx)
                try ChargeLifecycle.requireCompleteBillingInformation(accountID, in: tx)
                let card = try ChargeLifecycle.primaryCard(of: account, in: tx, now: context.now())
                let description = "Invoice \(invoice.number ?? invoice.id)"
                let chargeID = try ChargeLifecycle.recordPending(
                    accountID: accountID, amount: invoice.amountDue, card: card, description: description,
                    purpose: .invoicePayment, invoiceID: invoice.id, in: tx, nowMilliseconds: now)
                return PendingCharge(chargeID: chargeID, token: card.token, amount: invoice.amountDue, description: description)
            }
            switch once {
            case .replayed(let payment):
                return payment
            case .completed(let completion):
                let payment = completion.payment!
                guard payment.charge.status == .succeeded else { throw ChargeLifecycle.failure(of: payment.charge) }
                return payment
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
            _ = try AccountService.account(accountID, in: tx)
            let id: String
            if let invoiceID {
                id = invoiceID
            } else {
                guard let row = try tx.queryOne("SELECT id FROM invoices WHERE number = ? AND account_id = ?", .text(number!), .text(accountID)) else {
                    throw BillingError.notFound("no invoice numbered \(number!) on account \(accountID)", field: "number")
                }
                id = try row.string("id")
            }
            return try Self.invoice(id, accountID: accountID, in: tx)
        }
    }

    public func list(accountID: String, filter: HistoryFilter, page: PageRequest) async throws -> Page<Invoice> {
        try Identifier.validate(accountID, prefix: "acct", field: "account_id")
        return try await context.store.read { tx in
            _ = try AccountService.account(accountID, in: tx)
            return try Paging.page(of: "invoices", accountID: accountID, filter: filter, page: page, in: tx) { try Self.invoice(from: $0, in: tx) }
        }
    }

    /// Every attempt to take money from the account, newest first.
    public func listCharges(accountID: String, filter: HistoryFilter, page: PageRequest) async throws -> Page<Charge> {
        try Identifier.validate(accountID, prefix: "acct", field: "account_id")
        return try await context.store.read { tx in
            _ = try AccountService.account(accountID, in: tx)
            return try Paging.page(of: "charges", accountID: accountID, filter: filter, page: page, in: tx, decode: ChargeLifecycle.charge(from:))
        }
    }

    /// The invoice as a PDF a person would file; drafts have no number yet and are refused. A paid
    /// invoice shows the card that paid it (brand and last four), from its succeeded charge.
    public func pdf(accountID: String, invoiceID: String) async throws -> (fileName: String, bytes: [UInt8]) {
        try Identifier.validate(accountID, prefix: "acct", field: "account_id")
        try Identifier.validate(invoiceID, prefix: "inv", field: "invoice_id")
        let (invoice, payingCard) = try await context.store.read { tx in
            _ = try AccountService.account(accountID, in: tx)
            let invoice = try Self.invoice(invoiceID, accountID: accountID, in: tx)
            let charge = try tx.queryOne(
                "SELECT card_brand, card_last4 FROM charges WHERE invoice_id = ? AND status = 'succeeded' ORDER BY created_at_ms DESC, id DESC LIMIT 1",
                .text(invoice.id))
            return (invoice, try charge.map { (brand: try $0.string("card_brand"), last4: try $0.string("card_last4")) })
        }
        let document = try InvoiceDocument.make(for: invoice, seller: context.seller, payingCard: payingCard)
        do {
            return ("\(document.number).pdf", try context.invoicing.renderer.render(document))
        } catch {
            throw error.billingError
        }
    }

    /// Drops idempotency keys past their retention; run at start-up and now and then.
    public func purgeExpiredIdempotencyKeys() async throws -> Int {
        let cutoff = context.nowMilliseconds - Int64(IdempotencyKey.retention * 1000)
        return try await context.store.write { tx in try IdempotencyRecords.purge(olderThanMilliseconds: cutoff, in: tx) }
    }

    // MARK: Shared steps

    /// Settles an invoice payment's charge and, if it succeeded, marks the invoice paid; completes the
    /// idempotency record of the request that made it. Used live and by reconciliation alike.
    static func completePayment(chargeID: String, outcome: ChargeLifecycle.GatewayOutcome, in tx: WriteTransaction, nowMilliseconds: Int64) throws -> InvoicePayment {
        let (charge, settledNow) = try ChargeLifecycle.settle(chargeID, with: outcome, in: tx, nowMilliseconds: nowMilliseconds)
        guard let invoiceID = charge.invoiceID else { throw BillingError.internalError("charge \(chargeID) pays no invoice") }
        if settledNow && charge.status == .succeeded {
            try tx.execute(
                "UPDATE invoices SET status = 'paid', amount_paid_minor = amount_paid_minor + ?, paid_at_ms = ? WHERE id = ? AND status = 'open'",
                .integer(charge.amount.amountMinor), .integer(nowMilliseconds), .text(invoiceID))
        }
        let payment = InvoicePayment(invoice: try invoice(invoiceID, accountID: charge.accountID, in: tx), charge: charge)
        try IdempotencyRecords.complete(for: charge, result: payment, in: tx)
        return payment
    }

    /// Runs one status change of an invoice inside one transaction, idempotently.
    private func transition(
        _ accountID: String, _ invoiceID: String, _ idempotencyKey: String, method: String,
        _ change: @escaping @Sendable (Invoice, WriteTransaction, Int64) throws -> Void
    ) async throws -> Invoice {
        try Identifier.validate(accountID, prefix: "acct", field: "account_id")
        try Identifier.validate(invoiceID, prefix: "inv", field: "invoice_id")
        let key = try IdempotencyKey(idempotencyKey, scope: accountID, method: method, parameters: [invoiceID])
        let now = context.nowMilliseconds
        return try await context.store.write { tx in
            if case .done(let invoice) = try IdempotencyRecords.look(key, in: tx, as: Invoice.self) { return invoice }
            _ = try AccountService.account(accountID, in: tx)
            try change(try Self.invoice(invoiceID, accountID: accountID, in: tx), tx, now)
            let invoice = try Self.invoice(invoiceID, accountID: accountID, in: tx)
            try IdempotencyRecords.save(invoice, for: key, in: tx, nowMilliseconds: now)
            return invoice
        }
    }

    /// The next invoice number of the sequence, taken inside the caller's transaction: a rollback returns it.
    static func nextNumber(prefix: String, in tx: WriteTransaction) throws -> String {
        try tx.execute("INSERT INTO invoice_number_sequences(prefix, last_value) VALUES (?, 0) ON CONFLICT(prefix) DO NOTHING", .text(prefix))
        let sequence = try tx.queryOne(
            "UPDATE invoice_number_sequences SET last_value = last_value + 1 WHERE prefix = ? RETURNING last_value", .text(prefix)
        )!.int("last_value")
        return InvoiceDocument.number(sequence: sequence, prefix: prefix)
    }

    /// Issues an invoice that a charge already paid (wallet top-ups): one line, numbered, paid at once.
    static func issuePaidInvoice(for charge: Charge, line description: String, prefix: String, in tx: WriteTransaction, nowMilliseconds now: Int64) throws -> Invoice {
        let id = Identifier.make("inv")
        let billedTo = try AccountService.billingInformation(charge.accountID, in: tx).information
        let amount = charge.amount.amountMinor
        try tx.execute("""
            INSERT INTO invoices(id, account_id, number, status, currency, subtotal_minor, tax_minor, total_minor, amount_paid_minor,
                                 billed_to, created_at_ms, finalized_at_ms, due_at_ms, paid_at_ms)
            VALUES (?, ?, ?, 'paid', ?, ?, 0, ?, ?, ?, ?, ?, ?, ?)
            """, .text(id), .text(charge.accountID), .text(try nextNumber(prefix: prefix, in: tx)), .text(charge.amount.currency.code),
            .integer(amount), .integer(amount), .integer(amount), .text(String(decoding: try JSONEncoder().encode(billedTo), as: UTF8.self)),
            .integer(now), .integer(now), .integer(now), .integer(now))
        try tx.execute(
            "INSERT INTO invoice_lines(invoice_id, position, description, quantity, unit_amount_minor, amount_minor) VALUES (?, 0, ?, 1, ?, ?)",
            .text(id), .text(description), .integer(amount), .integer(amount))
        try tx.execute("UPDATE charges SET invoice_id = ? WHERE id = ?", .text(id), .text(charge.id))
        return try invoice(id, accountID: charge.accountID, in: tx)
    }

    private static func requireNoPaymentInFlight(_ invoiceID: String, in tx: some Querying) throws {
        if try tx.queryOne("SELECT id FROM charges WHERE invoice_id = ? AND status = 'pending' LIMIT 1", .text(invoiceID)) != nil {
            throw BillingError.failedPrecondition("a payment of invoice \(invoiceID) is in progress; try again once it settles", field: "invoice_id", reason: .chargePending)
        }
    }

    static func invoice(_ id: String, accountID: String, in tx: some Querying) throws -> Invoice {
        guard let row = try tx.queryOne("SELECT * FROM invoices WHERE id = ? AND account_id = ?", .text(id), .text(accountID)) else {
            throw BillingError.notFound("no invoice \(id) on account \(accountID)", field: "invoice_id")
        }
        return try invoice(from: row, in: tx)
    }

    static func invoice(from row: Row, in tx: some Querying) throws -> Invoice {
        let id = try row.string("id")
        let currency = try Currency(code: try row.string("currency"))
        func money(_ column: String) throws -> Money { Money(amountMinor: try row.int64(column), currency: currency) }
        let lines = try tx.query(
            "SELECT description, quantity, unit_amount_minor, amount_minor FROM invoice_lines WHERE invoice_id = ? ORDER BY position", .text(id)
        ).map { line in
            Invoice.Line(
                description: try line.string("description"), quantity: try line.int64("quantity"),
                unitAmount: Money(amountMinor: try line.int64("unit_amount_minor"), currency: currency),
                amount: Money(amountMinor: try line.int64("amount_minor"), currency: currency))
        }
        let status = Invoice.Status(rawValue: try row.string("status")) ?? .draft
        let total = try money("total_minor")
        let paid = try money("amount_paid_minor")
        let settled = status == .void || status == .uncollectible
        return Invoice(
            id: id, accountID: try row.string("account_id"), number: try row.optionalString("number"), status: status, lines: lines,
            subtotal: try money("subtotal_minor"), tax: try money("tax_minor"), total: total, amountPaid: paid,
            amountDue: settled ? .zero(in: currency) : try total.subtracting(paid),
            billedTo: try row.optionalString("billed_to").flatMap { try JSONDecoder().decode(BillingInformation?.self, from: Data($0.utf8)) },
            memo: try row.string("memo"), createdAtMilliseconds: try row.int64("created_at_ms"),
            finalizedAtMilliseconds: try row.optionalInt64("finalized_at_ms"), dueAtMilliseconds: try row.optionalInt64("due_at_ms"),
            paidAtMilliseconds: try row.optionalInt64("paid_at_ms"))
    }
}
