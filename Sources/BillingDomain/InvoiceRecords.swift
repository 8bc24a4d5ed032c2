import BillingStore
import Foundation

/// The invoice rows, read and changed inside the caller's transaction: the SQL of invoices and their
/// lines, and the number sequence.
enum InvoiceRecords {
    /// Inserts a draft and its lines; returns its id. Tax is not computed yet: it is recorded as zero
    /// and printed as such.
    static func insertDraft(
        accountID: String, lines: [Invoice.Line], subtotal: Money, memo: String, daysUntilDue: Int, in tx: WriteTransaction,
        nowMilliseconds now: Int64
    ) throws -> String {
        let id = Identifier.make("inv")
        try tx.execute("""
            INSERT INTO invoices(id, account_id, status, currency, subtotal_minor, tax_minor, total_minor, memo, days_until_due, created_at_ms)
            VALUES (?, ?, 'draft', ?, ?, 0, ?, ?, ?, ?)
            """, .text(id), .text(accountID), .text(subtotal.currency.code), .integer(subtotal.amountMinor),
            .integer(subtotal.amountMinor), .text(memo), .int(daysUntilDue), .integer(now))
        for (position, line) in lines.enumerated() {
            try tx.execute(
                "INSERT INTO invoice_lines(invoice_id, position, description, quantity, unit_amount_minor, amount_minor) VALUES (?, ?, ?, ?, ?, ?)",
                .text(id), .int(position), .text(line.description), .integer(line.quantity),
                .integer(line.unitAmount.amountMinor), .integer(line.amount.amountMinor))
        }
        return id
    }

    /// draft → open: numbered, the billing information copied in, due `days_until_due` days later.
    static func finalize(_ id: String, number: String, billedTo: BillingInformation?, in tx: WriteTransaction, nowMilliseconds now: Int64) throws {
        // days_until_due is at most 365, checked when the draft was made.
        try tx.execute("""
            UPDATE invoices SET status = 'open', number = ?1, billed_to = ?2, finalized_at_ms = ?3, due_at_ms = ?3 + days_until_due * 86400000
            WHERE id = ?4
            """, .text(number), .text(String(decoding: try JSONEncoder().encode(billedTo), as: UTF8.self)), .integer(now), .text(id))
    }

    /// The invoice number for a sequence number: `number(sequence: 42, prefix: "INV")` is `"INV-000042"`.
    /// Six digits at least, so numbers sort as text until the millionth invoice.
    static func number(sequence: Int, prefix: String) -> String {
        let digits = String(sequence)
        let padding = String(repeating: "0", count: max(0, 6 - digits.count))
        return "\(prefix)-\(padding)\(digits)"
    }

    static func id(ofNumber number: String, accountID: String, in tx: some Querying) throws -> String? {
        try tx.queryOne("SELECT id FROM invoices WHERE number = ? AND account_id = ?", .text(number), .text(accountID))?.string("id")
    }

    static func setStatus(_ status: Invoice.Status, of id: String, in tx: WriteTransaction) throws {
        try tx.execute("UPDATE invoices SET status = ? WHERE id = ?", .text(status.rawValue), .text(id))
    }

    /// open → `status` (void, uncollectible); an invoice no longer open is left as it is.
    static func close(_ id: String, as status: Invoice.Status, in tx: WriteTransaction) throws {
        try tx.execute("UPDATE invoices SET status = ? WHERE id = ? AND status = 'open'", .text(status.rawValue), .text(id))
    }

    /// The next invoice number of the sequence, taken inside the caller's transaction: a rollback returns it.
    static func nextNumber(prefix: String, in tx: WriteTransaction) throws -> String {
        try tx.execute("INSERT INTO invoice_number_sequences(prefix, last_value) VALUES (?, 0) ON CONFLICT(prefix) DO NOTHING", .text(prefix))
        let sequence = try tx.queryOne(
            "UPDATE invoice_number_sequences SET last_value = last_value + 1 WHERE prefix = ? RETURNING last_value", .text(prefix)
        )!.int("last_value")
        return number(sequence: sequence, prefix: prefix)
    }

    /// Issues an invoice that a charge already paid (wallet top-ups): one line, numbered, paid at once.
    static func issuePaidInvoice(for charge: Charge, line description: String, prefix: String, in tx: WriteTransaction, nowMilliseconds now: Int64) throws -> Invoice {
        let id = Identifier.make("inv")
        let billedTo = try AccountRecords.billingInformation(charge.accountID, in: tx).information
        let amount = charge.amount.amountMinor
        try tx.execute("""
            INSERT INTO invoices(id, account_id, number, status, currency, subtotal_minor, tax_minor, total_minor, amount_paid_minor,
                                 billed_to, created_at_ms, finalized_at_ms, due_at_ms, paid_at_ms, billing_reason)
            VALUES (?, ?, ?, 'paid', ?, ?, 0, ?, ?, ?, ?, ?, ?, ?, 'wallet_funds')
            """, .text(id), .text(charge.accountID), .text(try nextNumber(prefix: prefix, in: tx)), .text(charge.amount.currency.code),
            .integer(amount), .integer(amount), .integer(amount), .text(String(decoding: try JSONEncoder().encode(billedTo), as: UTF8.self)),
            .integer(now), .integer(now), .integer(now), .integer(now))
        try tx.execute(
            "INSERT INTO invoice_lines(invoice_id, position, description, quantity, unit_amount_minor, amount_minor) VALUES (?, 0, ?, 1, ?, ?)",
            .text(id), .text(description), .integer(amount), .integer(amount))
        try tx.execute("UPDATE charges SET invoice_id = ? WHERE id = ?", .text(id), .text(charge.id))
        return try invoice(id, accountID: charge.accountID, in: tx)
    }

    static func requireNoPaymentInFlight(_ invoiceID: String, in tx: some Querying) throws {
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
            paidAtMilliseconds: try row.optionalInt64("paid_at_ms"),
            billingReason: Invoice.BillingReason(rawValue: try row.string("billing_reason")) ?? .manual,
            subscriptionID: try row.optionalString("subscription_id"), periodStartMilliseconds: try row.optionalInt64("period_start_ms"),
            periodEndMilliseconds: try row.optionalInt64("period_end_ms"))
    }

    /// open → paid by `charge` (a no-op if the invoice is no longer open).
    static func markPaid(_ invoiceID: String, by charge: Charge, in tx: WriteTransaction, nowMilliseconds: Int64) throws {
        try tx.execute(
            "UPDATE invoices SET status = 'paid', amount_paid_minor = amount_paid_minor + ?, paid_at_ms = ? WHERE id = ? AND status = 'open'",
            .integer(charge.amount.amountMinor), .integer(nowMilliseconds), .text(invoiceID))
    }
}
