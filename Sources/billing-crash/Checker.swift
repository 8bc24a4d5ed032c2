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
/// transaction, and compared with the acknowledged-operations log and the sandbox gateway's journal.
///
/// Run when nothing is in flight (the load has stopped, resends are answered, no charge is pending):
/// start-up reconciliation has then settled every charge the sandbox knows, so "pending" can only
/// mean a charge this process started after the restart.
struct Checker {
    let database: DatabaseReader
    let gatewayJournalPath: String
    /// When billingd was restarted (Unix ms): a charge created before then and still pending is one
    /// that reconciliation failed to settle.
    let restartedAtMilliseconds: Int64

    func check(_ acknowledged: [AcknowledgedOperation]) throws -> CheckReport {
        var report = CheckReport()
        // The journal first: billingd records a charge pending before it calls the gateway, so every
        // charge in this read of the journal is in the later database snapshot.
        let journal = try readGatewayJournal()
        try database.snapshot {
            try checkIntegrity(&report)
            let tables = try Tables(database)
            checkAcknowledged(acknowledged, tables, &report)
            checkLedgers(tables, &report)
            checkCharges(tables, journal: journal, &report)
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

        /// Ledger lines by account, in ledger order.
        var ledgers: [String: [Line]] = [:]
        var usageLines: [String: [Line]] = [:]
        var creditsByCharge: [String: [Line]] = [:]
        var charges: [String: Charge] = [:]
        var invoices: [String: Invoice] = [:]
        var cards: [String: (account: String, removed: Bool)] = [:]
        var wallets: [(account: String, balance: Int64, pendingRecharge: String?)] = []

        init(_ database: DatabaseReader) throws {
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
            for row in try database.rows("SELECT id, status, number, total_minor FROM invoices") {
                invoices[row[0] ?? ""] = Invoice(status: row[1] ?? "", number: row[2], total: Int64(row[3] ?? "") ?? 0)
            }
            for row in try database.rows("SELECT id, account_id, removed_at_ms IS NOT NULL FROM payment_methods") {
                cards[row[0] ?? ""] = (row[1] ?? "", row[2] == "1")
            }
            wallets = try database.rows("SELECT account_id, balance_minor, pending_recharge_charge_id FROM wallets").map {
                ($0[0] ?? "", Int64($0[1] ?? "") ?? -1, $0[2])
            }
        }
    }

    // MARK: The checks

    private func checkIntegrity(_ report: inout CheckReport) throws {
        let result = try database.rows("PRAGMA integrity_check").compactMap { $0.first ?? nil }
        report.expect(result == ["ok"], "PRAGMA integrity_check: \(result.prefix(5).joined(separator: "; "))")
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

    /// Charges against their credits and against what the gateway journaled: nothing pending from
    /// before the restart, nothing charged twice, no money taken without its credit, no credit without
    /// money taken.
    private func checkCharges(_ tables: Tables, journal: GatewayJournal, _ report: inout CheckReport) {
        for charge in tables.charges.values {
            let id = charge.id
            let credits = tables.creditsByCharge[id] ?? []
            let recent = charge.status == "pending" && charge.createdAt >= restartedAtMilliseconds
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
            guard charge.createdAt < restartedAtMilliseconds else { continue }
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
        let doubled = journal.chargesPerKey.filter { $0.value > 1 }
        report.expect(doubled.isEmpty, "the gateway journaled more than one charge under keys \(Array(doubled.keys.prefix(3)))")
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

    // MARK: The gateway's journal

    /// The sandbox's charges by idempotency key (billingd uses the charge id), and how often each key
    /// was journaled: a key twice would be money taken twice.
    struct GatewayJournal {
        struct Charge {
            var status: String
            var amountMinor: Int64
        }
        var charges: [String: Charge] = [:]
        var chargesPerKey: [String: Int] = [:]
    }

    /// The journal lines this checker needs; tokens and everything else are ignored.
    private struct JournalLine: Decodable {
        struct ChargeRecord: Decodable {
            struct Result: Decodable {
                struct Amount: Decodable { var amountMinor: Int64 }
                var status: String
                var amount: Amount
            }
            var idempotencyKey: String
            var charge: Result
        }
        var charge: ChargeRecord?
    }

    private func readGatewayJournal() throws -> GatewayJournal {
        var journal = GatewayJournal()
        guard let data = FileManager.default.contents(atPath: gatewayJournalPath) else { return journal }
        let decoder = JSONDecoder()
        // billingd cuts off a torn last line when it opens the journal; one left by the latest kill has
        // no newline yet, and is not a charge anybody was told about.
        for line in data.split(separator: UInt8(ascii: "\n")) where !line.isEmpty {
            let entry: JournalLine
            do {
                entry = try decoder.decode(JournalLine.self, from: Data(line))
            } catch {
                if line.endIndex == data.endIndex && data.last != UInt8(ascii: "\n") { continue }
                throw CrashTestError("the sandbox gateway's journal has a line that is not JSON: \(error)")
            }
            guard let charge = entry.charge else { continue }
            journal.charges[charge.idempotencyKey] = .init(status: charge.charge.status, amountMinor: charge.charge.amount.amountMinor)
            journal.chargesPerKey[charge.idempotencyKey, default: 0] += 1
        }
        return journal
    }
}
