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
        let journal = try readGatewayJournal()
        try database.snapshot {
            try checkIntegrity(&report)
            try checkAcknowledged(acknowledged, &report)
            try checkLedgers(&report)
            try checkCharges(journal: journal, &report)
            try checkInvoiceNumbers(&report)
            try checkIdempotencyRecords(&report)
        }
        return report
    }

    // MARK: The checks

    private func checkIntegrity(_ report: inout CheckReport) throws {
        let result = try database.rows("PRAGMA integrity_check").compactMap { $0.first ?? nil }
        report.expect(result == ["ok"], "PRAGMA integrity_check: \(result.prefix(5).joined(separator: "; "))")
    }

    /// Every acknowledged operation is there exactly once with the ids its reply gave; every refused
    /// one left nothing behind. The tables are read once into maps: the log grows with every round,
    /// and a query per operation would make long runs slow.
    private func checkAcknowledged(_ acknowledged: [AcknowledgedOperation], _ report: inout CheckReport) throws {
        var usageLines: [String: [[String?]]] = [:]
        for line in try database.rows("SELECT account_id, usage_id, id, amount_minor, source FROM wallet_transactions WHERE usage_id IS NOT NULL") {
            usageLines[(line[0] ?? "") + "/" + (line[1] ?? ""), default: []].append(Array(line[2...]))
        }
        var creditsByCharge: [String: [String]] = [:]
        for line in try database.rows("SELECT charge_id, id FROM wallet_transactions WHERE charge_id IS NOT NULL") {
            creditsByCharge[line[0] ?? "", default: []].append(line[1] ?? "")
        }
        var charges: [String: [String?]] = [:]
        for row in try database.rows("SELECT id, account_id, status, amount_minor, purpose, invoice_id FROM charges") { charges[row[0] ?? ""] = Array(row[1...]) }
        var invoices: [String: [String?]] = [:]
        for row in try database.rows("SELECT id, status, number FROM invoices") { invoices[row[0] ?? ""] = Array(row[1...]) }
        var paymentMethods: [String: String] = [:]
        for row in try database.rows("SELECT id, account_id FROM payment_methods") { paymentMethods[row[0] ?? ""] = row[1] ?? "" }

        for record in acknowledged {
            let operation = record.operation
            let outcome = record.outcome
            let label = "#\(record.sequence) \(operation.kind.rawValue) \(operation.key) (round \(record.round))"
            switch operation.kind {
            case .debit:
                let lines = usageLines[operation.account + "/" + operation.key] ?? []
                if outcome.isOK {
                    report.expect(lines.count == 1, "\(label): acknowledged debit has \(lines.count) ledger lines, expected 1")
                    if let line = lines.first {
                        report.expect(line[0] == outcome.transactionID, "\(label): ledger line \(line[0] ?? "") is not the acknowledged \(outcome.transactionID)")
                        report.expect(line[1] == "\(-operation.amountMinor)" && line[2] == "usage", "\(label): ledger line amount/source \(line[1] ?? "")/\(line[2] ?? "")")
                    }
                } else {
                    report.expect(lines.isEmpty, "\(label): refused debit (\(outcome.result)) has \(lines.count) ledger lines, expected 0")
                }
            case .topUp where outcome.isOK:
                // The charge succeeded for this amount, credited once (the acknowledged line), and its invoice is paid.
                let charge = charges[outcome.chargeID]
                report.expect(charge?[0] == operation.account && charge?[1] == "succeeded" && charge?[2] == "\(operation.amountMinor)" && charge?[3] == "wallet_top_up",
                              "\(label): charge \(outcome.chargeID) is \(charge.map { $0.map { $0 ?? "-" } } ?? ["missing"]), expected succeeded/\(operation.amountMinor)/wallet_top_up")
                let credits = creditsByCharge[outcome.chargeID] ?? []
                report.expect(credits == [outcome.transactionID], "\(label): charge \(outcome.chargeID) has credit lines \(credits), expected exactly [\(outcome.transactionID)]")
                let invoice = invoices[outcome.invoiceID]
                report.expect(charge?[4] == outcome.invoiceID && invoice?[0] == "paid" && invoice?[1] == outcome.invoiceNumber,
                              "\(label): invoice \(outcome.invoiceID) (\(outcome.invoiceNumber)) is not the charge's paid invoice")
            case .topUp:
                try checkRefusedTopUp(label, operation, outcome, &report)
            case .setPrimaryCard, .addCard:
                guard outcome.isOK else { continue }
                report.expect(paymentMethods[outcome.paymentMethodID] == operation.account,
                              "\(label): payment method \(outcome.paymentMethodID) is not the account's")
            }
        }
    }

    /// A refused top-up took nothing, or took nothing it did not answer for: when its key recorded a
    /// charge, that charge failed and credited nothing. A declined card's key always records one.
    private func checkRefusedTopUp(_ label: String, _ operation: Operation, _ outcome: Outcome, _ report: inout CheckReport) throws {
        let key = try database.rows(
            """
            SELECT k.state, c.status, (SELECT count(*) FROM wallet_transactions t WHERE t.charge_id = c.id)
            FROM idempotency_keys k LEFT JOIN charges c ON c.id = k.charge_id WHERE k.scope = ? AND k.key = ?
            """, operation.account, operation.key)
        if outcome.result == "card_declined" {
            report.expect(key.count == 1, "\(label): declined top-up left no idempotency record")
        }
        if let row = key.first {
            report.expect(row[0] == "done" && row[1] == "failed" && row[2] == "0",
                          "\(label): refused top-up (\(outcome.result)) has key \(row[0] ?? "-"), charge \(row[1] ?? "-"), \(row[2] ?? "-") credits")
        }
    }

    /// Every wallet's balance is the sum of its ledger and its last line's balance_after, and every
    /// line's balance_after is the one before plus its amount.
    private func checkLedgers(_ report: inout CheckReport) throws {
        let wallets = try database.rows("SELECT account_id, balance_minor FROM wallets ORDER BY account_id")
        let lines = try database.rows("SELECT account_id, amount_minor, balance_after_minor FROM wallet_transactions ORDER BY account_id, seq")
        var byAccount: [String: [(amount: Int64, after: Int64)]] = [:]
        for line in lines {
            byAccount[line[0] ?? "", default: []].append((Int64(line[1] ?? "") ?? 0, Int64(line[2] ?? "") ?? -1))
        }
        for wallet in wallets {
            let account = wallet[0] ?? ""
            let balance = Int64(wallet[1] ?? "") ?? -1
            let ledger = byAccount[account] ?? []
            var running: Int64 = 0
            var chainBreaks = 0
            for line in ledger {
                running += line.amount
                if line.after != running { chainBreaks += 1 }
            }
            report.expect(balance == running, "wallet \(account): balance \(balance) != sum of its ledger \(running)")
            report.expect(balance == (ledger.last?.after ?? 0), "wallet \(account): balance \(balance) != last balance_after \(ledger.last?.after ?? 0)")
            report.expect(chainBreaks == 0, "wallet \(account): \(chainBreaks) ledger lines whose balance_after is not the running sum")
        }
    }

    /// Charges against their credits and against what the gateway journaled: nothing pending from
    /// before the restart, nothing charged twice, no money taken without its credit, no credit without
    /// money taken.
    private func checkCharges(journal: GatewayJournal, _ report: inout CheckReport) throws {
        let charges = try database.rows(
            """
            SELECT c.id, c.status, c.amount_minor, c.purpose, c.failure_code, c.created_at_ms, c.invoice_id,
                   (SELECT count(*) FROM wallet_transactions t WHERE t.charge_id = c.id),
                   (SELECT sum(amount_minor) FROM wallet_transactions t WHERE t.charge_id = c.id),
                   (SELECT status || ':' || total_minor FROM invoices i WHERE i.id = c.invoice_id)
            FROM charges c
            """)
        var known: Set<String> = []
        for row in charges {
            let id = row[0] ?? "", status = row[1] ?? "", amount = row[2] ?? "", purpose = row[3] ?? ""
            let createdAt = Int64(row[5] ?? "") ?? 0
            let credits = row[7] ?? "0"
            known.insert(id)
            let recent = status == "pending" && createdAt >= restartedAtMilliseconds
            report.expect(status != "pending" || recent, "charge \(id) (\(purpose)) is still pending after start-up reconciliation")
            if purpose == "wallet_top_up" || purpose == "wallet_auto_recharge" {
                if status == "succeeded" {
                    report.expect(credits == "1" && row[8] == amount, "charge \(id) (\(purpose)) succeeded for \(amount) with \(credits) credit lines totalling \(row[8] ?? "0")")
                    report.expect(row[9] == "paid:\(amount)", "charge \(id) (\(purpose)) succeeded but its invoice \(row[6] ?? "none") is \(row[9] ?? "missing")")
                } else {
                    report.expect(credits == "0", "charge \(id) (\(purpose)) is \(status) but has \(credits) credit lines")
                }
            }
            // The gateway's side of the same charge (its idempotency key is the charge id).
            guard !recent else { continue }
            let atGateway = journal.charges[id]
            switch status {
            case "succeeded":
                report.expect(atGateway?.status == "succeeded" && atGateway?.amountMinor == Int64(amount),
                              "charge \(id) succeeded in the database but the gateway journaled \(atGateway.map { "\($0.status) \($0.amountMinor)" } ?? "nothing")")
            case "failed" where row[4] == "not_charged":
                report.expect(atGateway == nil, "charge \(id) was declared not charged but the gateway journaled \(atGateway?.status ?? "")")
            case "failed":
                report.expect(atGateway?.status == "failed", "charge \(id) failed in the database but the gateway journaled \(atGateway?.status ?? "nothing")")
            default:
                break
            }
        }
        let doubled = journal.chargesPerKey.filter { $0.value > 1 }
        report.expect(doubled.isEmpty, "the gateway journaled more than one charge under keys \(doubled.keys.prefix(3))")
        let unknownToDatabase = journal.charges.keys.filter { !known.contains($0) }
        report.expect(unknownToDatabase.isEmpty, "the gateway charged \(unknownToDatabase.count) charges the database has no record of: \(unknownToDatabase.prefix(3))")
        let orphans = try database.rows(
            """
            SELECT t.id, t.source, c.status, c.purpose FROM wallet_transactions t LEFT JOIN charges c ON c.id = t.charge_id
            WHERE t.source IN ('top_up', 'auto_recharge')
              AND (c.id IS NULL OR c.status <> 'succeeded'
                   OR c.purpose <> CASE t.source WHEN 'top_up' THEN 'wallet_top_up' ELSE 'wallet_auto_recharge' END)
            """)
        report.expect(orphans.isEmpty, "credit lines without a succeeded charge of their kind: \(orphans.prefix(3).map { $0.compactMap { $0 } })")
        let recharges = try database.rows(
            """
            SELECT w.account_id, c.status FROM wallets w LEFT JOIN charges c ON c.id = w.pending_recharge_charge_id
            WHERE w.pending_recharge_charge_id IS NOT NULL AND (c.status IS NULL OR c.status <> 'pending')
            """)
        report.expect(recharges.isEmpty, "wallets marked as recharging by a charge that is not pending: \(recharges.prefix(3).map { $0.compactMap { $0 } })")
    }

    /// The numbers of each prefix are 1...N without a gap or a repeat, and the sequence row says N.
    private func checkInvoiceNumbers(_ report: inout CheckReport) throws {
        var byPrefix: [String: [Int]] = [:]
        for row in try database.rows("SELECT number FROM invoices WHERE number IS NOT NULL") {
            let number = row[0] ?? ""
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
