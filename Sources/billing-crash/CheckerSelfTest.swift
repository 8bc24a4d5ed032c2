import Foundation

/// Proves that the checker can fail: each corruption, applied to a copy of a database that passed
/// (or to a copy of the log or the gateway's record), must be reported. A checker that passes
/// everything would pass every crash too; this keeps it honest. The corruptions are SQL both engines
/// run; the copies are the engine's (`CrashDatabase.copy`).
struct CheckerSelfTest {
    let database: CrashDatabase
    let gatewayRecordPath: String
    let directory: URL
    let acknowledged: [AcknowledgedOperation]

    /// One way the data could be wrong after a crash.
    struct Corruption {
        var name: String
        /// Run on the copy of the database (with the append-only triggers off, see `DatabaseCopy.corrupt`).
        var sql: String = ""
        /// Run on the copy of the gateway's record (its SQLite database).
        var gatewaySQL: String?
        /// Applied to the acknowledged-operations log given to the checker.
        var changeLog: (@Sendable ([AcknowledgedOperation]) -> [AcknowledgedOperation])?
        /// Bytes overwritten in the middle of the copied file.
        var damageFile = false
        /// Text the report must contain, naming the check meant to catch this corruption (nil: any
        /// failure will do). Other checks may fire too; this one must.
        var expecting: String?
    }

    /// Runs every corruption; returns the names of those the checker did not report.
    func run() throws -> (detected: Int, missed: [String]) {
        let corruptions = try self.corruptions()
        var missed: [String] = []
        for (index, corruption) in corruptions.enumerated() {
            let copy = try database.copy(index, in: directory, forDamage: corruption.damageFile)
            let journal = directory.appendingPathComponent("self-test-\(index)-gateway.sqlite3").path
            defer {
                copy.remove()
                try? FileManager.default.removeItem(atPath: journal)
            }
            _ = try SQLiteReader(path: gatewayRecordPath).rows("VACUUM INTO ?", journal)
            if !corruption.sql.isEmpty { try copy.corrupt(corruption.sql) }
            if let sql = corruption.gatewaySQL { try SQLiteCopy.execute(sql, on: journal) }
            if corruption.damageFile { try copy.damage() }
            let log = corruption.changeLog?(acknowledged) ?? acknowledged
            let reported: Bool
            do {
                let checker = Checker(
                    database: try copy.reader(), gatewayRecordPath: journal,
                    restartedAtMilliseconds: Int64(Date().timeIntervalSince1970 * 1000))
                let failures = try checker.check(log).failures
                reported = corruption.expecting.map { text in failures.contains { $0.contains(text) } } ?? !failures.isEmpty
            } catch {
                reported = true  // a check that cannot even read the data fails the round
            }
            if !reported { missed.append(corruption.name) }
        }
        return (corruptions.count - missed.count, missed)
    }

    private func corruptions() throws -> [Corruption] {
        guard let debit = acknowledged.first(where: { $0.operation.kind == .debit && $0.outcome.isOK }),
              let topUp = acknowledged.last(where: { $0.operation.kind == .topUp && $0.outcome.isOK })
        else { throw CrashTestError("the checker self-test needs an acknowledged debit and top-up") }
        let account = Self.quoted(debit.operation.account)
        return [
            Corruption(name: "an acknowledged debit lost", sql: "DELETE FROM wallet_transactions WHERE account_id = \(account) AND usage_id = \(Self.quoted(debit.operation.key))"),
            Corruption(name: "a top-up credited twice", sql: """
                INSERT INTO wallet_transactions(id, account_id, amount_minor, balance_after_minor, currency, category, description, source, charge_id, created_at_ms)
                SELECT id || '-again', account_id, amount_minor, balance_after_minor, currency, category, description, source, charge_id, created_at_ms
                FROM wallet_transactions WHERE id = \(Self.quoted(topUp.outcome.transactionID))
                """),
            Corruption(name: "a balance that is not its ledger", sql: "UPDATE wallets SET balance_minor = balance_minor + 1 WHERE account_id = \(account)"),
            Corruption(name: "a charge reconciliation left pending", sql: """
                UPDATE charges SET status = 'pending' WHERE id = (SELECT id FROM charges ORDER BY status = 'failed' DESC, seq LIMIT 1)
                """),
            // A wallet charge: a run too short for a recharge falls back on a top-up (set-up makes one),
            // rather than on an invoice payment, which has no credit to lose.
            Corruption(name: "a recharge charged without its credit", sql: """
                DELETE FROM wallet_transactions WHERE charge_id = (
                    SELECT id FROM charges WHERE status = 'succeeded' AND purpose IN ('wallet_auto_recharge', 'wallet_top_up')
                    ORDER BY purpose = 'wallet_auto_recharge' DESC, seq DESC LIMIT 1)
                """),
            Corruption(name: "an invoice number skipped", sql: """
                UPDATE invoices SET number = substr(number, 1, length(number) - 6) || '999999' WHERE seq = (SELECT max(seq) FROM invoices WHERE number IS NOT NULL)
                """),
            Corruption(name: "a key left pending after its charge settled", sql: """
                UPDATE idempotency_keys SET state = 'pending' WHERE (scope, key) IN (SELECT scope, key FROM idempotency_keys WHERE charge_id IS NOT NULL LIMIT 1)
                """),
            // Two recharge credits in a row, the balance above the threshold in between: what two daemons
            // each starting a recharge for one crossing would leave.
            Corruption(name: "a second recharge for one crossing", sql: """
                INSERT INTO wallet_transactions(id, account_id, amount_minor, balance_after_minor, currency, category, description, source, created_at_ms)
                SELECT id || '-recharge-1', account_id, 1000, balance_after_minor + 1000, currency, category, description, 'auto_recharge', created_at_ms
                FROM wallet_transactions WHERE account_id = \(account) ORDER BY seq DESC LIMIT 1;
                INSERT INTO wallet_transactions(id, account_id, amount_minor, balance_after_minor, currency, category, description, source, created_at_ms)
                SELECT id || '-recharge-2', account_id, 1000, balance_after_minor + 1000, currency, category, description, 'auto_recharge', created_at_ms
                FROM wallet_transactions WHERE account_id = \(account) ORDER BY seq DESC LIMIT 1
                """, expecting: "a second recharge for one crossing"),
            Corruption(name: "money taken at the gateway under a charge the database never recorded", gatewaySQL: """
                INSERT INTO charges (idempotency_key, token, description, reference, status, amount_minor, currency)
                VALUES ('ch_self_test', 'tok_self_test', 'self-test', 'ch_self_test', 'succeeded', 100, 'USD')
                """),
            Corruption(name: "a gateway record that could charge one key twice", gatewaySQL: """
                CREATE TABLE unkeyed AS SELECT * FROM charges; DROP TABLE charges; ALTER TABLE unkeyed RENAME TO charges;
                INSERT INTO charges SELECT * FROM charges LIMIT 1
                """, expecting: "does not key its charges"),
            Corruption(name: "a reply the database contradicts", changeLog: { log in
                log.map { record in
                    var record = record
                    if record.sequence == topUp.sequence { record.outcome.transactionID = "wtx_forged" }
                    return record
                }
            }),
            Corruption(name: "a refused debit recorded anyway", changeLog: { log in
                log.map { record in
                    var record = record
                    if record.sequence == debit.sequence { record.outcome = Outcome(result: "insufficient_funds") }
                    return record
                }
            }),
            Corruption(name: "a damaged database file", damageFile: true),
        ] + (try subscriptionCorruptions())
    }

    /// Corruptions of the subscriptions' periods, each caught by a check of its own; those the data
    /// cannot show (no subscription, no renewal yet) are left out.
    private func subscriptionCorruptions() throws -> [Corruption] {
        let database = try self.database.reader()
        let periods = "billing_reason IN ('subscription_create', 'subscription_cycle')"
        // The latest period of a subscription, and the latest period invoice paid by a succeeded charge
        // (not the same one when a run left the latest periods unpaid).
        guard let latest = try database.value("""
            SELECT i.id FROM invoices i WHERE i.\(periods)
            AND i.period_start_ms = (SELECT max(j.period_start_ms) FROM invoices j WHERE j.subscription_id = i.subscription_id AND j.\(periods))
            ORDER BY i.seq DESC LIMIT 1
            """),
            let paid = try database.value("""
                SELECT i.id FROM invoices i WHERE i.\(periods) AND i.status = 'paid'
                AND EXISTS (SELECT 1 FROM charges c WHERE c.invoice_id = i.id AND c.status = 'succeeded') ORDER BY i.seq DESC LIMIT 1
                """)
        else { return [] }
        let invoice = Self.quoted(latest)
        let paidInvoice = Self.quoted(paid)
        var corruptions = [
            // What the unique index invoices_one_per_period prevents: dropped, a renewal run twice.
            Corruption(name: "a period invoiced twice", sql: """
                DROP INDEX invoices_one_per_period;
                INSERT INTO invoices(id, account_id, number, status, currency, subtotal_minor, tax_minor, total_minor, amount_paid_minor, billed_to,
                                     created_at_ms, finalized_at_ms, due_at_ms, paid_at_ms, subscription_id, period_start_ms, period_end_ms, billing_reason)
                SELECT id || '_again', account_id, NULL, 'open', currency, subtotal_minor, tax_minor, total_minor, 0, billed_to,
                       created_at_ms, finalized_at_ms, due_at_ms, NULL, subscription_id, period_start_ms, period_end_ms, billing_reason
                FROM invoices WHERE id = \(invoice)
                """, expecting: "a period invoiced more than once"),
            // A renewal whose invoice and charge never happened, and whose row moved on as if they had.
            Corruption(name: "the latest period of a subscription never invoiced", sql: """
                DELETE FROM charges WHERE invoice_id = \(invoice); DELETE FROM invoice_lines WHERE invoice_id = \(invoice);
                DELETE FROM invoices WHERE id = \(invoice)
                """, expecting: "not invoiced up to the clock's time"),
            Corruption(name: "a period invoice paid twice", sql: """
                INSERT INTO charges(id, account_id, amount_minor, currency, status, payment_method_id, card_brand, card_last4, failure_code,
                                    failure_message, gateway_reference, description, purpose, invoice_id, created_at_ms, settled_at_ms)
                SELECT id || '_again', account_id, amount_minor, currency, status, payment_method_id, card_brand, card_last4, failure_code,
                       failure_message, gateway_reference, description, purpose, invoice_id, created_at_ms, settled_at_ms
                FROM charges WHERE invoice_id = \(paidInvoice) AND status = 'succeeded'
                """, expecting: "with 2 succeeded charges"),
            // Stamped with the test clock's time, ahead of the wall clock: it must not pass as a charge made after the restart.
            Corruption(name: "a renewal charge left pending", sql: """
                UPDATE charges SET status = 'pending', settled_at_ms = NULL WHERE invoice_id = \(paidInvoice) AND status = 'succeeded';
                UPDATE invoices SET status = 'open', amount_paid_minor = 0, paid_at_ms = NULL WHERE id = \(paidInvoice)
                """, expecting: "still pending after start-up reconciliation"),
            Corruption(name: "a renewal lost from the schedule", sql: """
                DELETE FROM subscription_schedule WHERE action = 'renew' AND subscription_id = (SELECT subscription_id FROM invoices WHERE id = \(invoice))
                """, expecting: "no renewal scheduled"),
        ]
        // A period in the middle gone: one with an earlier and a later period of its subscription.
        if let middle = try database.value("""
            SELECT i.id FROM invoices i WHERE i.\(periods)
            AND EXISTS (SELECT 1 FROM invoices j WHERE j.subscription_id = i.subscription_id AND j.period_start_ms > i.period_start_ms)
            AND EXISTS (SELECT 1 FROM invoices j WHERE j.subscription_id = i.subscription_id AND j.period_start_ms < i.period_start_ms)
            ORDER BY i.seq DESC LIMIT 1
            """)
        {
            corruptions.append(Corruption(name: "a period skipped", sql: """
                DELETE FROM charges WHERE invoice_id = \(Self.quoted(middle)); DELETE FROM invoice_lines WHERE invoice_id = \(Self.quoted(middle));
                DELETE FROM invoices WHERE id = \(Self.quoted(middle))
                """, expecting: "its periods are not contiguous"))
        }
        if let advance = acknowledged.last(where: { $0.operation.kind == .advanceClock && $0.outcome.isOK }), let clock = advance.operation.clock {
            corruptions.append(Corruption(name: "an acknowledged advance undone", sql: """
                UPDATE test_clocks SET frozen_time_ms = frozen_time_ms - 1 WHERE id = \(Self.quoted(clock))
                """, expecting: "acknowledged advance"))
        }
        return corruptions
    }

    /// An SQL string literal.
    private static func quoted(_ text: String) -> String { "'" + text.replacingOccurrences(of: "'", with: "''") + "'" }
}
