import BillingStore

/// The tables of the billing domain, as versioned migrations the store applies at start-up.
///
/// Amounts are `*_minor` integers with the account's currency beside them; times are `*_ms`, Unix
/// milliseconds. Every table that is listed newest first has an integer `seq` (the rowid), which is
/// what keyset pagination walks. Money tables are append-only or change status only.
public enum BillingSchema {
    public static let migrations: [Migration] = [
        Migration(version: 1, name: "accounts, payment methods, charges, invoices, idempotency keys", sql: """
            CREATE TABLE accounts (
                seq INTEGER PRIMARY KEY,
                id TEXT NOT NULL UNIQUE,
                display_name TEXT NOT NULL,
                currency TEXT NOT NULL,
                created_at_ms INTEGER NOT NULL,
                service_status TEXT NOT NULL DEFAULT 'active' CHECK (service_status IN ('active', 'suspended')),
                suspension_reason TEXT NOT NULL DEFAULT '',
                primary_payment_method_id TEXT,
                billing_information TEXT
            );

            CREATE TABLE payment_methods (
                seq INTEGER PRIMARY KEY,
                id TEXT NOT NULL UNIQUE,
                account_id TEXT NOT NULL REFERENCES accounts(id),
                brand TEXT NOT NULL,
                last4 TEXT NOT NULL,
                expiry_month INTEGER NOT NULL,
                expiry_year INTEGER NOT NULL,
                holder_name TEXT NOT NULL,
                gateway_token TEXT NOT NULL,
                created_at_ms INTEGER NOT NULL,
                removed_at_ms INTEGER
            );
            CREATE INDEX payment_methods_by_account ON payment_methods(account_id, seq);

            CREATE TABLE invoices (
                seq INTEGER PRIMARY KEY,
                id TEXT NOT NULL UNIQUE,
                account_id TEXT NOT NULL REFERENCES accounts(id),
                number TEXT UNIQUE,
                status TEXT NOT NULL CHECK (status IN ('draft', 'open', 'paid', 'void', 'uncollectible')),
                currency TEXT NOT NULL,
                subtotal_minor INTEGER NOT NULL,
                tax_minor INTEGER NOT NULL,
                total_minor INTEGER NOT NULL,
                amount_paid_minor INTEGER NOT NULL DEFAULT 0,
                memo TEXT NOT NULL DEFAULT '',
                days_until_due INTEGER NOT NULL DEFAULT 0,
                billed_to TEXT,
                created_at_ms INTEGER NOT NULL,
                finalized_at_ms INTEGER,
                due_at_ms INTEGER,
                paid_at_ms INTEGER
            );
            CREATE INDEX invoices_by_account ON invoices(account_id, seq);

            CREATE TABLE invoice_lines (
                invoice_id TEXT NOT NULL REFERENCES invoices(id),
                position INTEGER NOT NULL,
                description TEXT NOT NULL,
                quantity INTEGER NOT NULL,
                unit_amount_minor INTEGER NOT NULL,
                amount_minor INTEGER NOT NULL,
                PRIMARY KEY (invoice_id, position)
            );

            -- Invoice numbers: one row per prefix, bumped inside the finalizing transaction, so a
            -- rolled-back finalization leaves no gap.
            CREATE TABLE invoice_number_sequences (
                prefix TEXT PRIMARY KEY,
                last_value INTEGER NOT NULL
            );

            CREATE TABLE charges (
                seq INTEGER PRIMARY KEY,
                id TEXT NOT NULL UNIQUE,
                account_id TEXT NOT NULL REFERENCES accounts(id),
                amount_minor INTEGER NOT NULL CHECK (amount_minor > 0),
                currency TEXT NOT NULL,
                status TEXT NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
                payment_method_id TEXT,
                card_brand TEXT NOT NULL DEFAULT '',
                card_last4 TEXT NOT NULL DEFAULT '',
                failure_code TEXT NOT NULL DEFAULT '',
                failure_message TEXT NOT NULL DEFAULT '',
                gateway_reference TEXT NOT NULL DEFAULT '',
                description TEXT NOT NULL,
                -- What settling the charge completes: 'invoice_payment' (and, with the wallet, 'wallet_top_up').
                purpose TEXT NOT NULL,
                invoice_id TEXT REFERENCES invoices(id),
                created_at_ms INTEGER NOT NULL,
                settled_at_ms INTEGER
            );
            CREATE INDEX charges_by_account ON charges(account_id, seq);
            CREATE INDEX charges_pending ON charges(status) WHERE status = 'pending';

            -- The first outcome of every mutating request, replayed to retries with the same key.
            -- state 'pending' marks a request that called the payment gateway and has not settled yet.
            CREATE TABLE idempotency_keys (
                scope TEXT NOT NULL,
                key TEXT NOT NULL,
                fingerprint TEXT NOT NULL,
                state TEXT NOT NULL CHECK (state IN ('pending', 'done')),
                result TEXT,
                charge_id TEXT,
                created_at_ms INTEGER NOT NULL,
                PRIMARY KEY (scope, key)
            );
            CREATE INDEX idempotency_keys_by_age ON idempotency_keys(created_at_ms);
            """),
        Migration(version: 2, name: "wallets and their append-only ledger", sql: """
            CREATE TABLE wallets (
                account_id TEXT PRIMARY KEY REFERENCES accounts(id),
                currency TEXT NOT NULL,
                -- Always the sum of the account's wallet_transactions; never below zero.
                balance_minor INTEGER NOT NULL DEFAULT 0 CHECK (balance_minor >= 0),
                auto_recharge_enabled INTEGER NOT NULL DEFAULT 0,
                recharge_amount_minor INTEGER NOT NULL DEFAULT 0,
                recharge_threshold_minor INTEGER NOT NULL DEFAULT 0,
                -- The recharge charge in flight, if any: at most one per wallet.
                pending_recharge_charge_id TEXT,
                last_recharge_charge_id TEXT,
                last_recharge_at_ms INTEGER
            );
            INSERT INTO wallets(account_id, currency) SELECT id, currency FROM accounts;

            CREATE TABLE wallet_transactions (
                seq INTEGER PRIMARY KEY,
                id TEXT NOT NULL UNIQUE,
                account_id TEXT NOT NULL REFERENCES accounts(id),
                -- Positive for credits, negative for debits.
                amount_minor INTEGER NOT NULL CHECK (amount_minor <> 0),
                balance_after_minor INTEGER NOT NULL CHECK (balance_after_minor >= 0),
                currency TEXT NOT NULL,
                category TEXT NOT NULL,
                description TEXT NOT NULL,
                source TEXT NOT NULL CHECK (source IN ('top_up', 'auto_recharge', 'usage', 'adjustment')),
                charge_id TEXT,
                usage_id TEXT,
                created_at_ms INTEGER NOT NULL,
                UNIQUE (account_id, usage_id)
            );
            CREATE INDEX wallet_transactions_by_account ON wallet_transactions(account_id, seq);
            CREATE INDEX wallet_transactions_by_category ON wallet_transactions(account_id, category, seq);

            -- The ledger is append-only.
            CREATE TRIGGER wallet_transactions_no_update BEFORE UPDATE ON wallet_transactions
            BEGIN SELECT RAISE(ABORT, 'wallet transactions are append-only'); END;
            CREATE TRIGGER wallet_transactions_no_delete BEFORE DELETE ON wallet_transactions
            BEGIN SELECT RAISE(ABORT, 'wallet transactions are append-only'); END;
            """),
        Migration(version: 3, name: "ledger times never run backwards", sql: """
            -- The created_at_ms of the wallet's latest ledger line: the next line is stamped no earlier,
            -- so that timestamps never contradict ledger order.
            ALTER TABLE wallets ADD COLUMN last_entry_at_ms INTEGER NOT NULL DEFAULT 0;
            UPDATE wallets SET last_entry_at_ms =
                coalesce((SELECT max(created_at_ms) FROM wallet_transactions t WHERE t.account_id = wallets.account_id), 0);
            """),
    ]
}
