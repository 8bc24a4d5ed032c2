import Foundation

/// What one round's checks found: how many assertions ran and which failed.
struct CheckReport: Sendable {
    var checks = 0
    var failures: [String] = []

    /// Counts one assertion; records `message` when it does not hold.
    mutating func expect(_ condition: Bool, _ message: @autoclosure () -> String) {
        checks += 1
        if !condition { failures.append(message()) }
    }
}

/// The invariants of billingd's database after a restart, read with plain SQL in one read
/// transaction, and compared with the acknowledged-operations log and the sandbox gateway's record (its own SQLite database).
/// The SQL is the dialect SQLite and PostgreSQL share, so the same checks run on both engines.
///
/// Run when nothing is in flight (the load has stopped, resends are answered, no charge is pending):
/// start-up reconciliation has then settled every charge the sandbox knows, so "pending" can only
/// mean a charge this process started after the restart.
struct Checker {
    let database: any DatabaseReader
    let gatewayRecordPath: String
    /// When billingd was restarted (Unix ms): a charge created before then and still pending is one
    /// that reconciliation failed to settle.
    let restartedAtMilliseconds: Int64

    func check(_ acknowledged: [AcknowledgedOperation]) throws -> CheckReport {
        var report = CheckReport()
        // The gateway's record first: billingd records a charge pending before it calls the gateway, so
        // every charge in this read of the gateway's record is in the later database snapshot.
        let journal = try readGatewayRecord()
        try checkStorage(&report)
        try database.snapshot {
            let tables = try Tables(database)
            checkAcknowledged(acknowledged, tables, &report)
            checkLedgers(tables, &report)
            checkRechargeCrossings(tables, &report)
            checkCharges(tables, journal: journal, &report)
            checkSubscriptions(tables, &report)
            try checkInvoiceNumbers(tables, &report)
            try checkIdempotencyRecords(&report)
        }
        return report
    }

    /// The rows the checks compare, read once per round: the log grows with every round, and a query
    /// per operation (or a correlated subquery per charge, on columns billingd does not index) would
    /// make long runs quadratic.
    private struct Tables {
        struct Line { var id: String; var account: String; var amount: Int64; var balanceAfter: Int64; var source: String; var chargeID: String?; var usageID: String? }
        struct Charge { var id: String; var account: String; var status: String; var amount: Int64; var purpose: String; var failureCode: String; var createdAt: Int64; var invoiceID: String? }
        struct Invoice { var status: String; var number: String?; var total: Int64 }
        /// An invoice of a subscription's period (billing_reason subscription_create or subscription_cycle).
        struct PeriodInvoice {
            var id: String; var subscription: String; var start: Int64; var end: Int64; var status: String; var total: Int64; var amountPaid: Int64
        }
        struct Subscription {
            var id: String; var account: String; var status: String; var anchor: Int64; var periodStart: Int64; var periodEnd: Int64
            var latestInvoice: String?; var cancelAtPeriodEnd: Bool
            var isLive: Bool { ["active", "past_due", "unpaid"].contains(status) }
        }

        /// Ledger lines by account, in ledger order.
        var ledgers: [String: [Line]] = [:]
        var usageLines: [String: [Line]] = [:]
        var creditsByCharge: [String: [Line]] = [:]
        var charges: [String: Charge] = [:]
        var invoices: [String: Invoice] = [:]
        var cards: [String: (account: String, removed: Bool)] = [:]
        var wallets: [(account: String, balance: Int64, pendingRecharge: String?, threshold: Int64)] = []
        var subscriptions: [String: Subscription] = [:]
        /// By subscription, in period order (then invoice order).
        var periodInvoices: [String: [PeriodInvoice]] = [:]
        var chargesByInvoice: [String: [Charge]] = [:]
        /// The test clock of each account on one, and where it stands.
        var clocks: [String: (clock: String, time: Int64)] = [:]
        /// Where each test clock stands.
        var clockTimes: [String: Int64] = [:]
        /// The scheduled renewal of each subscription: when, and on which clock.
        var renewals: [String: (due: Int64, clock: String?)] = [:]

        init(_ database: any DatabaseReader) throws {
            for row in try database.rows(
                "SELECT id, account_id, amount_minor, balance_after_minor, source, charge_id, usage_id FROM wallet_transactions ORDER BY account_id, seq")
            {
                let line = Line(id: row[0] ?? "", account: row[1] ?? "", amount: Int64(row[2] ?? "") ?? 0, balanceAfter: Int64(row[3] ?? "") ?? -1,
                                source: row[4] ?? "", chargeID: row[5], usageID: row[6])
                ledgers[line.account, default: []].append(line)
                if let usage = line.usageID { usageLines[line.account + "/" + usage, default: []].append(line) }
                if let charge = line.chargeID { creditsByCharge[charge, default: []].append(line) }
            }
            for row in try database.rows("SELECT id, account_id, status, amount_minor, purpose, failure_code, created_at_ms, invoice_id FROM charges") {
                charges[row[0] ?? ""] = Charge(
                    id: row[0] ?? "", account: row[1] ?? "", status: row[2] ?? "", amount: Int64(row[3] ?? "") ?? 0, purpose: row[4] ?? "",
                    failureCode: row[5] ?? "", createdAt: Int64(row[6] ?? "") ?? 0, invoiceID: row[7])
            }
            for charge in charges.values { if let invoice = charge.invoiceID { chargesByInvoice[invoice, default: []].append(charge) } }
            for row in try database.rows(
                "SELECT id, status, number, total_minor, billing_reason, subscription_id, period_start_ms, period_end_ms, amount_paid_minor FROM invoices ORDER BY seq")
            {
                invoices[row[0] ?? ""] = Invoice(status: row[1] ?? "", number: row[2], total: Int64(row[3] ?? "") ?? 0)
                guard row[4] == "subscription_create" || row[4] == "subscription_cycle" else { continue }
                let invoice = PeriodInvoice(
                    id: row[0] ?? "", subscription: row[5] ?? "", start: Int64(row[6] ?? "") ?? -1, end: Int64(row[7] ?? "") ?? -1,
                    status: row[1] ?? "", total: Int64(row[3] ?? "") ?? 0, amountPaid: Int64(row[8] ?? "") ?? 0)
                periodInvoices[invoice.subscription, default: []].append(invoice)
            }
            for (subscription, list) in periodInvoices {
                // Stable: two invoices of one period stay in invoice order.
                periodInvoices[subscription] = list.enumerated().sorted { ($0.element.start, $0.offset) < ($1.element.start, $1.offset) }.map(\.element)
            }
            for row in try database.rows(
                "SELECT id, account_id, status, anchor_ms, period_start_ms, period_end_ms, latest_invoice_id, cancel_at_period_end FROM subscriptions")
            {
                subscriptions[row[0] ?? ""] = Subscription(
                    id: row[0] ?? "", account: row[1] ?? "", status: row[2] ?? "", anchor: Int64(row[3] ?? "") ?? -1,
                    periodStart: Int64(row[4] ?? "") ?? -1, periodEnd: Int64(row[5] ?? "") ?? -1, latestInvoice: row[6], cancelAtPeriodEnd: row[7] == "1")
            }
            for row in try database.rows("SELECT id, frozen_time_ms FROM test_clocks") {
                clockTimes[row[0] ?? ""] = Int64(row[1] ?? "") ?? -1
            }
            for row in try database.rows("SELECT a.id, t.id, t.frozen_time_ms FROM accounts a JOIN test_clocks t ON t.id = a.test_clock_id") {
                clocks[row[0] ?? ""] = (row[1] ?? "", Int64(row[2] ?? "") ?? -1)
            }
            for row in try database.rows("SELECT subscription_id, due_at_ms, test_clock_id FROM subscription_schedule WHERE action = 'renew'") {
                renewals[row[0] ?? ""] = (Int64(row[1] ?? "") ?? -1, row[2])
            }
            for row in try database.rows("SELECT id, account_id, CASE WHEN removed_at_ms IS NULL THEN 0 ELSE 1 END FROM payment_methods") {
                cards[row[0] ?? ""] = (row[1] ?? "", row[2] == "1")
            }
            wallets = try database.rows("SELECT account_id, balance_minor, pending_recharge_charge_id, recharge_threshold_minor FROM wallets").map {
                ($0[0] ?? "", Int64($0[1] ?? "") ?? -1, $0[2], Int64($0[3] ?? "") ?? 0)
            }
        }
    }

    // MARK: The checks

    /// The engine's own check of its storage (SQLite: PRAGMA integrity_check; PostgreSQL: amcheck, if
    /// installed; the run says at its start when there is none).
    private func checkStorage(_ report: inout CheckReport) throws {
        guard let result = try database.storageCheck() else { return }
        report.expect(result.problems.isEmpty, "\(result.name): \(result.problems.prefix(5).joined(separator: "; "))")
    }

    /// Every acknowledged operation is there exactly once with the ids its reply gave; every refused
    /// one left nothing behind.
    private func checkAcknowledged(_ acknowledged: [AcknowledgedOperation], _ tables: Tables, _ report: inout CheckReport) {
        for record in acknowledged {
            let operation = record.operation
            let outcome = record.outcome
            let label = "#\(record.sequence) \(operation.kind.rawValue) \(operation.key) (round \(record.round))"
            switch operation.kind {
            case .debit:
                let lines = tables.usageLines[operation.account + "/" + operation.key] ?? []
                if outcome.isOK {
                    report.expect(lines.count == 1, "\(label): acknowledged debit has \(lines.count) ledger lines, expected 1")
                    if let line = lines.first {
                        report.expect(line.id == outcome.transactionID && line.amount == -operation.amountMinor && line.source == "usage",
                                      "\(label): ledger line \(line.id) \(line.amount) \(line.source) is not the acknowledged \(outcome.transactionID) of \(-operation.amountMinor)")
                    }
                } else {
                    report.expect(lines.isEmpty, "\(label): refused debit (\(outcome.result)) has \(lines.count) ledger lines, expected 0")
                }
            case .topUp where outcome.isOK:
                // The charge succeeded for this amount, credited once (the acknowledged line), and its invoice is paid.
                let charge = tables.charges[outcome.chargeID]
                report.expect(
                    charge?.account == operation.account && charge?.status == "succeeded" && charge?.amount == operation.amountMinor
                        && charge?.purpose == "wallet_top_up",
                    "\(label): charge \(outcome.chargeID) is \(charge.map { "\($0.status) \($0.amount) \($0.purpose)" } ?? "missing"), expected a succeeded top-up of \(operation.amountMinor)")
                let credits = (tables.creditsByCharge[outcome.chargeID] ?? []).map(\.id)
                report.expect(credits == [outcome.transactionID], "\(label): charge \(outcome.chargeID) has credit lines \(credits), expected exactly [\(outcome.transactionID)]")
                let invoice = tables.invoices[outcome.invoiceID]
                report.expect(charge?.invoiceID == outcome.invoiceID && invoice?.status == "paid" && invoice?.number == outcome.invoiceNumber,
                              "\(label): invoice \(outcome.invoiceID) (\(outcome.invoiceNumber)) is not the charge's paid invoice")
            case .topUp:
                checkRefusedTopUp(label, operation, outcome, tables, &report)
            case .subscribe:
                guard outcome.isOK else { continue }
                checkAcknowledgedSubscription(label, operation, outcome, tables, &report)
            case .advanceClock:
                guard outcome.isOK, let clock = operation.clock, let target = operation.targetMs else { continue }
                let now = tables.clockTimes[clock]
                report.expect(outcome.clockMs == target && (now ?? -1) >= target,
                              "\(label): acknowledged advance to \(target) answered \(outcome.clockMs ?? -1), and the clock stands at \(now.map(String.init) ?? "nothing")")
            case .setPrimaryCard, .addCard, .removeCard:
                guard outcome.isOK else { continue }
                let card = tables.cards[outcome.paymentMethodID]
                report.expect(card?.account == operation.account, "\(label): payment method \(outcome.paymentMethodID) is not the account's")
                if operation.kind == .removeCard {
                    report.expect(card?.removed == true, "\(label): acknowledged removal, but card \(outcome.paymentMethodID) is still active")
                }
            }
        }
    }

    /// A refused top-up credited nothing: if its key recorded a charge, that charge failed. A declined
    /// card's key always records its failed charge (a retry gets the decline back).
    private func checkRefusedTopUp(_ label: String, _ operation: Operation, _ outcome: Outcome, _ tables: Tables, _ report: inout CheckReport) {
        let recorded: [String?]?
        do {
            recorded = try database.rows("SELECT state, charge_id FROM idempotency_keys WHERE scope = ? AND key = ?", operation.account, operation.key).first
        } catch {
            report.expect(false, "\(label): cannot read its idempotency record: \(error)")
            return
        }
        if outcome.result == "card_declined" {
            report.expect(recorded != nil, "\(label): declined top-up left no idempotency record")
        }
        guard let recorded else { return }
        let charge = recorded[1].flatMap { tables.charges[$0] }
        let credits = recorded[1].flatMap { tables.creditsByCharge[$0] }?.count ?? 0
        report.expect(recorded[0] == "done" && charge?.status == "failed" && credits == 0,
                      "\(label): refused top-up (\(outcome.result)) has key \(recorded[0] ?? "-"), charge \(charge?.status ?? "-"), \(credits) credits")
    }

    /// Every wallet's balance is the sum of its ledger and its last line's balance_after, and every
    /// line's balance_after is the one before plus its amount.
    private func checkLedgers(_ tables: Tables, _ report: inout CheckReport) {
        for wallet in tables.wallets {
            let ledger = tables.ledgers[wallet.account] ?? []
            var running: Int64 = 0
            var chainBreaks = 0
            for line in ledger {
                running += line.amount
                if line.balanceAfter != running { chainBreaks += 1 }
            }
            report.expect(wallet.balance == running, "wallet \(wallet.account): balance \(wallet.balance) != sum of its ledger \(running)")
            report.expect(wallet.balance == (ledger.last?.balanceAfter ?? 0), "wallet \(wallet.account): balance \(wallet.balance) != last balance_after \(ledger.last?.balanceAfter ?? 0)")
            report.expect(chainBreaks == 0, "wallet \(wallet.account): \(chainBreaks) ledger lines whose balance_after is not the running sum")
            // The recharge marker names a charge still in flight, or nothing.
            if let marker = wallet.pendingRecharge {
                report.expect(tables.charges[marker]?.status == "pending", "wallet \(wallet.account) is marked recharging by \(marker), which is \(tables.charges[marker]?.status ?? "missing")")
            }
        }
    }

    /// One auto-recharge per crossing of the threshold: a recharge starts when a debit leaves the
    /// balance at or below the threshold (or falls short, which with debits no larger than the
    /// threshold, as in this test, also means a balance below it), and only once the previous one is
    /// settled. So between two recharge credits of a wallet, in ledger order, the balance must have been
    /// at or below the threshold again, at the earlier credit or after it; a second credit without that
    /// is a second recharge for the same crossing (two daemons, say, each starting one). Assumes the
    /// threshold stays what it is now, as the load never changes it.
    private func checkRechargeCrossings(_ tables: Tables, _ report: inout CheckReport) {
        for wallet in tables.wallets {
            var low = true  // a new wallet is empty, at or below any threshold
            for line in tables.ledgers[wallet.account] ?? [] {
                if line.source == "auto_recharge" {
                    report.expect(
                        low,
                        "wallet \(wallet.account): auto-recharge \(line.chargeID ?? line.id) credited with the balance above the threshold \(wallet.threshold) "
                            + "ever since the previous recharge (\(line.balanceAfter - line.amount) before it): a second recharge for one crossing")
                    low = line.balanceAfter <= wallet.threshold
                } else if line.balanceAfter <= wallet.threshold {
                    low = true
                }
            }
        }
    }

    /// Charges against their credits and against what the gateway journaled: nothing pending from
    /// before the restart, nothing charged twice, no money taken without its credit, no credit without
    /// money taken.
    private func checkCharges(_ tables: Tables, journal: GatewayJournal, _ report: inout CheckReport) {
        for charge in tables.charges.values {
            let id = charge.id
            let credits = tables.creditsByCharge[id] ?? []
            // A charge of an account on a test clock is stamped with the clock's time, not the wall's: it
            // was made by a subscription call or a renewal run, all answered before the checks run, so
            // nothing of it can be in flight, whatever its time says.
            let onTestClock = tables.clocks[charge.account] != nil
            let recent = charge.status == "pending" && charge.createdAt >= restartedAtMilliseconds && !onTestClock
            report.expect(charge.status != "pending" || recent, "charge \(id) (\(charge.purpose)) is still pending after start-up reconciliation")
            if charge.purpose == "wallet_top_up" || charge.purpose == "wallet_auto_recharge" {
                if charge.status == "succeeded" {
                    let source = charge.purpose == "wallet_top_up" ? "top_up" : "auto_recharge"
                    report.expect(credits.count == 1 && credits[0].amount == charge.amount && credits[0].source == source,
                                  "charge \(id) (\(charge.purpose)) succeeded for \(charge.amount) with credit lines \(credits.map { "\($0.source) \($0.amount)" })")
                    let invoice = charge.invoiceID.flatMap { tables.invoices[$0] }
                    report.expect(invoice?.status == "paid" && invoice?.total == charge.amount,
                                  "charge \(id) (\(charge.purpose)) succeeded but its invoice \(charge.invoiceID ?? "none") is \(invoice.map { "\($0.status) \($0.total)" } ?? "missing")")
                } else {
                    report.expect(credits.isEmpty, "charge \(id) (\(charge.purpose)) is \(charge.status) but has \(credits.count) credit lines")
                }
            }
            // The gateway's side of the same charge (its idempotency key is the charge id), for charges
            // made before the restart: the journal is read before the database, so a recharge that a
            // resent debit started since may be settled in the snapshot yet missing from the journal
            // read. The next round compares it.
            guard charge.createdAt < restartedAtMilliseconds || onTestClock else { continue }
            let atGateway = journal.charges[id]
            switch charge.status {
            case "succeeded":
                report.expect(atGateway?.status == "succeeded" && atGateway?.amountMinor == charge.amount,
                              "charge \(id) succeeded in the database but the gateway journaled \(atGateway.map { "\($0.status) \($0.amountMinor)" } ?? "nothing")")
            case "failed" where charge.failureCode == "not_charged":
                report.expect(atGateway == nil, "charge \(id) was declared not charged but the gateway journaled \(atGateway?.status ?? "")")
            case "failed":
                report.expect(atGateway?.status == "failed", "charge \(id) failed in the database but the gateway journaled \(atGateway?.status ?? "nothing")")
            default:
                break
            }
        }
        // One charge per key is the gateway's primary key: the check is that the key still is one.
        report.expect(journal.keyedByIdempotencyKey, "the gateway's record does not key its charges by idempotency key alone, so a key could be charged twice")
        let unknownToDatabase = journal.charges.keys.filter { tables.charges[$0] == nil }
        report.expect(unknownToDatabase.isEmpty, "the gateway charged \(unknownToDatabase.count) charges the database has no record of: \(Array(unknownToDatabase.prefix(3)))")
        // Every credit line of a top-up or recharge belongs to a succeeded charge of its kind.
        var orphans: [String] = []
        for lines in tables.ledgers.values {
            for line in lines where line.source == "top_up" || line.source == "auto_recharge" {
                let charge = line.chargeID.flatMap { tables.charges[$0] }
                let purpose = line.source == "top_up" ? "wallet_top_up" : "wallet_auto_recharge"
                if charge?.status != "succeeded" || charge?.purpose != purpose || charge?.account != line.account { orphans.append(line.id) }
            }
        }
        report.expect(orphans.isEmpty, "credit lines without a succeeded charge of their kind: \(orphans.prefix(3))")
    }

    /// An acknowledged CreateSubscription: the subscription is the account's, and its first invoice
    /// (the answered one, with the answered number) is a subscription_create invoice of it, paid by the
    /// answered charge.
    private func checkAcknowledgedSubscription(_ label: String, _ operation: Operation, _ outcome: Outcome, _ tables: Tables, _ report: inout CheckReport) {
        let subscription = outcome.subscriptionID.flatMap { tables.subscriptions[$0] }
        report.expect(subscription?.account == operation.account, "\(label): acknowledged subscription \(outcome.subscriptionID ?? "-") is not the account's")
        let first = outcome.subscriptionID.flatMap { tables.periodInvoices[$0] }?.first
        let charge = tables.charges[outcome.chargeID]
        report.expect(
            first?.id == outcome.invoiceID && tables.invoices[outcome.invoiceID]?.number == outcome.invoiceNumber && charge?.invoiceID == outcome.invoiceID
                && charge?.status == "succeeded" && first?.status == "paid",
            "\(label): the answered invoice \(outcome.invoiceID) (\(outcome.invoiceNumber)) and charge \(outcome.chargeID) are not its first period's, paid: "
                + "first period invoice \(first.map { "\($0.id) \($0.status)" } ?? "none"), charge \(charge.map { "\($0.status) for \($0.invoiceID ?? "-")" } ?? "missing")")
    }

    /// The periods of every subscription: each invoiced once, one after another from the anchor with no
    /// gap or overlap, each paid by exactly one succeeded charge of its total (a failed attempt beside it
    /// is allowed, a pending one is not: the test's subscribers pay with a card that always succeeds, so
    /// an unpaid period is one that a crash left unpaid); for a live subscription on a test clock, every period that
    /// starts at or before the clock's time is invoiced and none after it, the subscription row agrees
    /// with its latest period, it is active once that period is paid, and its next renewal is scheduled
    /// at the period's end on its clock. (A live subscription on the wall clock is renewed within about
    /// a second of its period end, so only its invoices are checked.)
    private func checkSubscriptions(_ tables: Tables, _ report: inout CheckReport) {
        for subscription in tables.subscriptions.values.sorted(by: { $0.id < $1.id }) {
            let label = "subscription \(subscription.id)"
            let periods = tables.periodInvoices[subscription.id] ?? []
            var invoicedTwice: [String] = []
            for (start, count) in Dictionary(grouping: periods, by: \.start).mapValues(\.count) where count > 1 {
                invoicedTwice.append("\(start) \(count) times")
            }
            report.expect(invoicedTwice.isEmpty, "\(label): a period invoiced more than once (period start \(invoicedTwice.sorted().joined(separator: ", ")))")
            if let first = periods.first {
                report.expect(first.start == subscription.anchor, "\(label): its first period invoice starts at \(first.start), not at its anchor \(subscription.anchor)")
            }
            var breaks: [String] = []
            for (earlier, later) in zip(periods, periods.dropFirst()) where earlier.end != later.start && earlier.start != later.start {
                breaks.append("\(earlier.id) ends at \(earlier.end), \(later.id) starts at \(later.start)")
            }
            report.expect(breaks.isEmpty, "\(label): its periods are not contiguous: \(breaks.prefix(3).joined(separator: "; "))")
            for invoice in periods {
                let charges = tables.chargesByInvoice[invoice.id] ?? []
                let succeeded = charges.filter { $0.status == "succeeded" }
                let pending = charges.filter { $0.status == "pending" }
                report.expect(
                    invoice.status == "paid" && succeeded.count == 1 && succeeded[0].amount == invoice.total && invoice.amountPaid == invoice.total
                        && succeeded[0].purpose == "invoice_payment" && pending.isEmpty,
                    "\(label): period invoice \(invoice.id) (\(invoice.start)–\(invoice.end), total \(invoice.total)) is \(invoice.status), paid \(invoice.amountPaid), "
                        + "with \(succeeded.count) succeeded charges \(succeeded.map { "\($0.id) \($0.amount)" }), \(pending.count) pending, "
                        + "failed: \(charges.filter { $0.status == "failed" }.map { "\($0.id) \($0.failureCode)" })")
            }
            guard subscription.isLive, let clock = tables.clocks[subscription.account] else { continue }
            let latest = periods.last
            report.expect(
                (latest?.end ?? .min) > clock.time && (latest?.start ?? .max) <= clock.time,
                "\(label): not invoiced up to the clock's time \(clock.time): its latest period invoice is \(latest.map { "\($0.start)–\($0.end)" } ?? "none")")
            report.expect(
                latest.map { $0.id == subscription.latestInvoice && $0.start == subscription.periodStart && $0.end == subscription.periodEnd } ?? false,
                "\(label): the row says period \(subscription.periodStart)–\(subscription.periodEnd) with latest invoice \(subscription.latestInvoice ?? "none"), "
                    + "its invoices end with \(latest.map { "\($0.id) \($0.start)–\($0.end)" } ?? "none")")
            if latest?.status == "paid" {
                report.expect(subscription.status == "active", "\(label): its latest period is paid but it is \(subscription.status)")
            }
            if !subscription.cancelAtPeriodEnd {
                let renewal = tables.renewals[subscription.id]
                report.expect(
                    renewal?.due == subscription.periodEnd && renewal?.clock == clock.clock,
                    "\(label): no renewal scheduled at its period end \(subscription.periodEnd) on clock \(clock.clock): \(renewal.map { "due \($0.due) on \($0.clock ?? "the wall clock")" } ?? "nothing")")
            }
        }
    }

    /// The numbers of each prefix are 1...N without a gap or a repeat, and the sequence row says N.
    private func checkInvoiceNumbers(_ tables: Tables, _ report: inout CheckReport) throws {
        var byPrefix: [String: [Int]] = [:]
        for number in tables.invoices.values.compactMap(\.number) {
            guard let dash = number.lastIndex(of: "-"), let sequence = Int(number[number.index(after: dash)...]) else {
                report.expect(false, "invoice number \(number) is not PREFIX-NNNNNN")
                continue
            }
            byPrefix[String(number[..<dash]), default: []].append(sequence)
        }
        for (prefix, sequences) in byPrefix {
            let sorted = sequences.sorted()
            report.expect(sorted == Array(1...sorted.count), "invoice numbers of \(prefix) are not 1...\(sorted.count) without gaps (first gap or repeat near \(Self.firstBreak(sorted)))")
            let last = try database.value("SELECT last_value FROM invoice_number_sequences WHERE prefix = ?", prefix)
            report.expect(last == "\(sorted.count)", "invoice_number_sequences says \(prefix) is at \(last ?? "nothing"), but \(sorted.count) numbers exist")
        }
    }

    /// A key still pending waits on a charge still pending; any other is a request that can never be answered.
    private func checkIdempotencyRecords(_ report: inout CheckReport) throws {
        let stuck = try database.rows(
            """
            SELECT k.key, c.status FROM idempotency_keys k LEFT JOIN charges c ON c.id = k.charge_id
            WHERE k.state = 'pending' AND (c.status IS NULL OR c.status <> 'pending')
            """)
        report.expect(stuck.isEmpty, "pending idempotency keys whose charge is settled or missing: \(stuck.prefix(3).map { $0.compactMap { $0 } })")
    }

    private static func firstBreak(_ sorted: [Int]) -> Int {
        for (index, value) in sorted.enumerated() where value != index + 1 { return index + 1 }
        return sorted.count
    }

    // MARK: The gateway's record

    /// The sandbox's charges by idempotency key (billingd uses the charge id), and whether its table
    /// still has the idempotency key alone as primary key: that is what keeps a key from being charged
    /// twice, so a record without it would be money that could be taken twice.
    struct GatewayJournal {
        struct Charge {
            var status: String
            var amountMinor: Int64
        }
        var charges: [String: Charge] = [:]
        var keyedByIdempotencyKey = true
    }

    /// Reads the sandbox gateway's SQLite database with plain SQL, read-only, like billingd's. None yet
    /// (billingd never started) is no charge. A crash mid-commit leaves nothing to cut off: SQLite
    /// rolls a torn transaction back when the file is next opened.
    private func readGatewayRecord() throws -> GatewayJournal {
        var journal = GatewayJournal()
        guard FileManager.default.fileExists(atPath: gatewayRecordPath) else { return journal }
        let record = try SQLiteReader(path: gatewayRecordPath)
        let primaryKey = try record.rows("SELECT name FROM pragma_table_info('charges') WHERE pk > 0")
        journal.keyedByIdempotencyKey = primaryKey.count == 1 && primaryKey[0].first == "idempotency_key"
        for row in try record.rows("SELECT idempotency_key, status, amount_minor FROM charges") {
            guard let key = row[0], let status = row[1], let amount = row[2].flatMap({ Int64($0) }) else {
                throw CrashTestError("the sandbox gateway's record has a charge without its key, status or amount")
            }
            journal.charges[key] = .init(status: status, amountMinor: amount)
        }
        return journal
    }
}
