import BillingDomain
import BillingStore
import Foundation

/// The subscriptions of the run: a few made through the domain's API as a customer would (account,
/// billing information, card, subscribe), and the rest written as rows in a few large transactions,
/// with the same columns and values the API writes (checked by `compareWithAPI`).
///
/// Through the API each card is tokenized by the sandbox, which commits each token with an fsync, and
/// each first payment is a charge: too slow for 100,000 accounts. The rows share one token instead,
/// and their first-period charge is recorded as succeeded without the sandbox recording it (nothing
/// asks the sandbox about it again: the reconciler looks at pending charges only). What the rows leave out is the
/// idempotency keys of the requests that made them, which expire after 7 days, long before a renewal.
struct Setup {
    static let planID = "starter-monthly-usd-v1"
    static let holderName = "Ada Lovelace"
    static let card = CardDetails(number: "4242424242424242", expiryMonth: 12, expiryYear: 2030, cvc: "123", holderName: holderName)
    static let billingInformation = BillingInformation(
        fullName: holderName, countryCode: "US", address: BillingAddress(lines: ["1 Main St"], city: "Springfield", region: "IL", postalCode: "62701"))
    /// Rows per write transaction.
    static let chunk = 10_000

    /// One subscription and the ids of what it owns.
    struct Made: Sendable {
        var accountID: String
        var subscriptionID: String
    }

    /// What the bulk rows copy from a subscription made through the API: the texts whose format the
    /// domain owns (JSON, the invoice line), and the period.
    struct Template: Sendable {
        var billingInformationJSON: String
        var billedToJSON: String
        var lineDescription: String
        var unitAmountMinor: Int64
        var currency: String
        var amountMinor: Int64
        var quantity: Int64
        var anchor: Int64
        var periodEnd: Int64
    }

    let billing: Billing
    let store: Store
    let invoicePrefix: String

    /// A subscription made as a customer would, with a card that the sandbox tokenizes and charges.
    func subscribeThroughAPI(_ index: Int) async throws -> Made {
        let account = try await billing.accounts.createAccount(
            displayName: "Renewal bench \(index)", currencyCode: "USD", idempotencyKey: "bench-account-\(index)")
        _ = try await billing.accounts.updateBillingInformation(
            accountID: account.id, information: Self.billingInformation, idempotencyKey: "bench-billing-\(index)")
        _ = try await billing.addPaymentMethod(accountID: account.id, card: Self.card, makePrimary: true, idempotencyKey: "bench-card-\(index)")
        let outcome = try await billing.subscriptions.create(
            accountID: account.id, planID: Self.planID, quantity: 0, trialDays: 0, alignToAccountBillingDate: false,
            idempotencyKey: "bench-subscribe-\(index)")
        guard outcome.subscription.status == .active, outcome.charge?.status == .succeeded else {
            throw BenchFailure("a subscription made through the API is \(outcome.subscription.status.rawValue), not active")
        }
        return Made(accountID: account.id, subscriptionID: outcome.subscription.id)
    }

    /// Reads what the bulk rows copy from `made`.
    func template(from made: Made) async throws -> Template {
        try await store.read { tx in
            guard let subscription = try tx.queryOne("SELECT * FROM subscriptions WHERE id = ?", .text(made.subscriptionID)),
                let invoice = try tx.queryOne("SELECT * FROM invoices WHERE id = ?", .text(try subscription.string("latest_invoice_id"))),
                let line = try tx.queryOne("SELECT description, unit_amount_minor FROM invoice_lines WHERE invoice_id = ?", .text(try invoice.string("id"))),
                let account = try tx.queryOne("SELECT billing_information FROM accounts WHERE id = ?", .text(made.accountID))
            else { throw BenchFailure("the subscription made through the API is missing rows") }
            return Template(
                billingInformationJSON: try account.string("billing_information"), billedToJSON: try invoice.string("billed_to"),
                lineDescription: try line.string("description"), unitAmountMinor: try line.int64("unit_amount_minor"), currency: try invoice.string("currency"),
                amountMinor: try invoice.int64("total_minor"), quantity: try subscription.int64("quantity"),
                anchor: try subscription.int64("anchor_ms"), periodEnd: try subscription.int64("period_end_ms"))
        }
    }

    /// Writes `count` subscriptions as rows, `chunk` per transaction: each an account with its wallet,
    /// complete billing information and a primary card (all sharing `token`), a subscription active on
    /// the plan since `template.anchor`, its paid first invoice with its line and succeeded charge, and
    /// its renewal scheduled at the period end.
    /// Accounts are named "Renewal bench <n>" from `firstNumber` on.
    /// Returns the first and the last of them (nil when `count` is 0): the rest is not kept in memory.
    func writeRows(count: Int, firstNumber: Int, token: GatewayCard, template: Template) async throws -> (first: Made, last: Made)? {
        let millisecondsHex = hex(UInt64(Date().unixMilliseconds) & 0xFFFF_FFFF_FFFF, digits: 12)
        let prefix = invoicePrefix
        var first: Made?
        var last: Made?
        var start = 0
        while start < count {
            let range = start..<min(count, start + Self.chunk)
            let ids = range.map { index in
                // The domain's id format (prefix, 12 hex digits of milliseconds, 8 more), with a counter
                // instead of random digits so that no two collide.
                let suffix = millisecondsHex + hex(UInt64(index), digits: 8)
                return RowIDs(account: "acct_" + suffix, paymentMethod: "pm_" + suffix, subscription: "sub_" + suffix, invoice: "inv_" + suffix, charge: "ch_" + suffix)
            }
            try await store.write { tx in
                var sequence = try tx.queryOne("SELECT last_value FROM invoice_number_sequences WHERE prefix = ?", .text(prefix))?.int64("last_value") ?? 0
                for (offset, id) in ids.enumerated() {
                    sequence += 1
                    try Self.insert(id, name: "Renewal bench \(firstNumber + range.lowerBound + offset)", number: Self.invoiceNumber(sequence, prefix: prefix),
                                    token: token, template: template, in: tx)
                }
                try tx.execute(
                    "INSERT INTO invoice_number_sequences(prefix, last_value) VALUES (?1, ?2) ON CONFLICT(prefix) DO UPDATE SET last_value = ?2",
                    .text(prefix), .integer(sequence))
            }
            if first == nil, let id = ids.first { first = Made(accountID: id.account, subscriptionID: id.subscription) }
            if let id = ids.last { last = Made(accountID: id.account, subscriptionID: id.subscription) }
            start = range.upperBound
        }
        guard let first, let last else { return nil }
        return (first, last)
    }

    struct RowIDs: Sendable {
        var account, paymentMethod, subscription, invoice, charge: String
    }

    private static func insert(_ id: RowIDs, name: String, number: String, token: GatewayCard, template: Template, in tx: WriteTransaction) throws {
        let t0 = template.anchor
        let amount = template.amountMinor
        // AccountRecords.insert, then saveBillingInformation and setPrimaryPaymentMethod.
        try tx.execute("""
            INSERT INTO accounts(id, display_name, currency, created_at_ms, primary_payment_method_id, billing_information)
            VALUES (?, ?, ?, ?, ?, ?)
            """, .text(id.account), .text(name), .text(template.currency), .integer(t0), .text(id.paymentMethod), .text(template.billingInformationJSON))
        try tx.execute("INSERT INTO wallets(account_id, currency) VALUES (?, ?)", .text(id.account), .text(template.currency))
        // PaymentMethodRecords.insert.
        try tx.execute("""
            INSERT INTO payment_methods(id, account_id, brand, last4, expiry_month, expiry_year, holder_name, gateway_token, created_at_ms)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, .text(id.paymentMethod), .text(id.account), .text(token.brand.rawValue), .text(token.last4), .int(token.expiryMonth),
            .int(token.expiryYear), .text(holderName), .text(token.token), .integer(t0))
        // The first period: SubscriptionRecords.insert and update after the payment settled (active,
        // latest invoice, dunning cleared), and the renewal at the period end.
        try tx.execute("""
            INSERT INTO subscriptions(id, account_id, plan_id, quantity, status, anchor_ms, period_index, period_start_ms, period_end_ms,
                                      segment_start_ms, segment_amount_minor, latest_invoice_id, fulfilment_state, created_at_ms)
            VALUES (?1, ?2, ?3, ?4, 'active', ?5, 0, ?5, ?6, ?5, ?7, ?8, 'not_applicable', ?5)
            """, .text(id.subscription), .text(id.account), .text(planID), .integer(template.quantity), .integer(t0), .integer(template.periodEnd),
            .integer(amount), .text(id.invoice))
        try tx.execute(
            "INSERT INTO subscription_schedule(subscription_id, action, due_at_ms) VALUES (?, 'renew', ?)",
            .text(id.subscription), .integer(template.periodEnd))
        // SubscriptionBilling.issueInvoice, then InvoiceRecords.markPaid.
        try tx.execute("""
            INSERT INTO invoices(id, account_id, number, status, currency, subtotal_minor, tax_minor, total_minor, amount_paid_minor, billed_to,
                                 created_at_ms, finalized_at_ms, due_at_ms, paid_at_ms, subscription_id, period_start_ms, period_end_ms, billing_reason)
            VALUES (?1, ?2, ?3, 'paid', ?4, ?5, 0, ?5, ?5, ?6, ?7, ?7, ?7, ?7, ?8, ?7, ?9, 'subscription_create')
            """, .text(id.invoice), .text(id.account), .text(number), .text(template.currency), .integer(amount), .text(template.billedToJSON),
            .integer(t0), .text(id.subscription), .integer(template.periodEnd))
        try tx.execute("""
            INSERT INTO invoice_lines(invoice_id, position, description, quantity, unit_amount_minor, amount_minor) VALUES (?, 0, ?, ?, ?, ?)
            """, .text(id.invoice), .text(template.lineDescription), .integer(template.quantity), .integer(template.unitAmountMinor), .integer(amount))
        // ChargeLifecycle.recordPending, then settle with the gateway's success.
        try tx.execute("""
            INSERT INTO charges(id, account_id, amount_minor, currency, status, payment_method_id, card_brand, card_last4, gateway_reference,
                                description, purpose, invoice_id, created_at_ms, recorded_at_ms, settled_at_ms)
            VALUES (?1, ?2, ?3, ?4, 'succeeded', ?5, ?6, ?7, ?8, ?9, 'invoice_payment', ?10, ?11, ?11, ?11)
            """, .text(id.charge), .text(id.account), .integer(amount), .text(template.currency), .text(id.paymentMethod), .text(token.brand.rawValue),
            .text(token.last4), .text("ch_sandbox_" + hex(UInt64.random(in: .min ... .max), digits: 16) + hex(UInt64.random(in: .min ... .max), digits: 16)),
            .text("Invoice \(number)"), .text(id.invoice), .integer(t0))
    }

    /// InvoiceRecords.number: the prefix, a dash and at least six digits.
    static func invoiceNumber(_ sequence: Int64, prefix: String) -> String {
        let digits = String(sequence)
        return "\(prefix)-\(String(repeating: "0", count: max(0, 6 - digits.count)))\(digits)"
    }
}

func hex(_ value: UInt64, digits: Int) -> String {
    let text = String(value, radix: 16)
    return String(repeating: "0", count: max(0, digits - text.count)) + text
}

// MARK: - Rows made by the API against rows written in bulk

/// The rows one subscription owns, table by table, with what differs by nature between two
/// subscriptions (ids, invoice numbers, names, tokens, gateway references) reduced to whether it is set.
func rowsOwned(by made: Setup.Made, in store: Store) async throws -> [String: [[String: String]]] {
    let masked: Set<String> = [
        "seq", "id", "account_id", "subscription_id", "invoice_id", "payment_method_id", "primary_payment_method_id", "latest_invoice_id",
        "dunning_charge_id", "display_name", "number", "gateway_token", "gateway_reference",
    ]
    let queries: [(table: String, sql: String, key: String)] = [
        ("accounts", "SELECT * FROM accounts WHERE id = ?", made.accountID),
        ("wallets", "SELECT * FROM wallets WHERE account_id = ?", made.accountID),
        ("payment_methods", "SELECT * FROM payment_methods WHERE account_id = ? ORDER BY seq", made.accountID),
        ("wallet_transactions", "SELECT * FROM wallet_transactions WHERE account_id = ? ORDER BY seq", made.accountID),
        ("subscriptions", "SELECT * FROM subscriptions WHERE id = ?", made.subscriptionID),
        ("subscription_schedule", "SELECT * FROM subscription_schedule WHERE subscription_id = ? ORDER BY action", made.subscriptionID),
        ("invoices", "SELECT * FROM invoices WHERE account_id = ? ORDER BY period_start_ms, seq", made.accountID),
        ("invoice_lines", """
            SELECT l.* FROM invoice_lines l JOIN invoices i ON i.id = l.invoice_id WHERE i.account_id = ? ORDER BY i.period_start_ms, l.position
            """, made.accountID),
        ("charges", """
            SELECT c.* FROM charges c JOIN invoices i ON i.id = c.invoice_id WHERE c.account_id = ? ORDER BY i.period_start_ms, c.seq
            """, made.accountID),
        ("subscription_changes", "SELECT * FROM subscription_changes WHERE subscription_id = ?", made.subscriptionID),
        ("fulfilment_outbox", "SELECT * FROM fulfilment_outbox WHERE subscription_id = ?", made.subscriptionID),
    ]
    return try await store.read { tx in
        var tables: [String: [[String: String]]] = [:]
        for query in queries {
            tables[query.table] = try tx.query(query.sql, .text(query.key)).map { row in
                var shape: [String: String] = [:]
                for (name, value) in zip(row.columnNames, row.values) {
                    let isCharge = query.table == "charges"
                    if masked.contains(name) || (isCharge && name == "description") {
                        shape[name] = value == .null ? "NULL" : "(set)"
                    } else {
                        switch value {
                        case .null: shape[name] = "NULL"
                        case .integer(let integer): shape[name] = "\(integer)"
                        case .real(let real): shape[name] = "\(real)"
                        case .text(let text): shape[name] = "'\(canonicalJSON(text) ?? text)'"
                        case .blob(let bytes): shape[name] = "blob \(bytes.count) bytes"
                        }
                    }
                }
                return shape
            }
        }
        return tables
    }
}

/// JSON text with its keys sorted: Foundation's JSONEncoder writes keys in no fixed order, so two
/// accounts with the same billing information may store it with its keys in different orders.
func canonicalJSON(_ text: String) -> String? {
    guard text.hasPrefix("{") || text.hasPrefix("["),
        let value = try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed]),
        let data = try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .fragmentsAllowed])
    else { return nil }
    return String(decoding: data, as: UTF8.self)
}

/// Fails naming every table and column where a bulk subscription's rows differ from one made through
/// the API (or a table where they own a different number of rows).
func compareWithAPI(_ apiMade: Setup.Made, _ bulkMade: Setup.Made, in store: Store, when: String) async throws {
    let api = try await rowsOwned(by: apiMade, in: store)
    let bulk = try await rowsOwned(by: bulkMade, in: store)
    var differences: [String] = []
    for table in api.keys.sorted() {
        let apiRows = api[table] ?? []
        let bulkRows = bulk[table] ?? []
        guard apiRows.count == bulkRows.count else {
            differences.append("\(table): \(apiRows.count) rows through the API, \(bulkRows.count) in bulk")
            continue
        }
        for (index, (apiRow, bulkRow)) in zip(apiRows, bulkRows).enumerated() {
            for column in apiRow.keys.sorted() where apiRow[column] != bulkRow[column] {
                differences.append("\(table)[\(index)].\(column): \(apiRow[column] ?? "-") through the API, \(bulkRow[column] ?? "-") in bulk")
            }
        }
    }
    guard differences.isEmpty else {
        throw BenchFailure("\(when), the bulk rows differ from those the API writes:\n  " + differences.joined(separator: "\n  "))
    }
}
