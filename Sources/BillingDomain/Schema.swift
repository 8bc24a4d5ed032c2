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
            """, postgresql: PostgreSQLSchema.version1),
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
            """, postgresql: PostgreSQLSchema.version2),
        Migration(version: 3, name: "ledger times never run backwards", sql: """
            -- The created_at_ms of the wallet's latest ledger line: the next line is stamped no earlier,
            -- so that timestamps never contradict ledger order.
            ALTER TABLE wallets ADD COLUMN last_entry_at_ms INTEGER NOT NULL DEFAULT 0;
            UPDATE wallets SET last_entry_at_ms =
                coalesce((SELECT max(created_at_ms) FROM wallet_transactions t WHERE t.account_id = wallets.account_id), 0);
            """, postgresql: PostgreSQLSchema.version3),
        Migration(version: 4, name: "plans in use, subscriptions and their schedule, test clocks, fulfilment outbox", sql: """
            -- Clocks that stand still until AdvanceTestClock moves them (sandbox gateway only).
            CREATE TABLE test_clocks (
                seq INTEGER PRIMARY KEY,
                id TEXT NOT NULL UNIQUE,
                name TEXT NOT NULL,
                frozen_time_ms INTEGER NOT NULL,
                created_at_ms INTEGER NOT NULL
            );
            ALTER TABLE accounts ADD COLUMN test_clock_id TEXT REFERENCES test_clocks(id);

            -- Every catalog plan that had a subscriber, with the terms it had then: billingd refuses to
            -- start on a catalog that changed them.
            CREATE TABLE plans_in_use (
                plan_id TEXT PRIMARY KEY,
                terms TEXT NOT NULL,
                first_used_at_ms INTEGER NOT NULL
            );

            CREATE TABLE subscriptions (
                seq INTEGER PRIMARY KEY,
                id TEXT NOT NULL UNIQUE,
                account_id TEXT NOT NULL REFERENCES accounts(id),
                plan_id TEXT NOT NULL,
                quantity INTEGER NOT NULL CHECK (quantity > 0),
                status TEXT NOT NULL CHECK (status IN ('incomplete', 'incomplete_expired', 'trialing', 'active', 'past_due', 'unpaid', 'canceled')),
                -- Period n runs from the anchor plus n intervals to the anchor plus n + 1 (BillingCycle).
                anchor_ms INTEGER NOT NULL,
                period_index INTEGER NOT NULL,
                period_start_ms INTEGER NOT NULL,
                period_end_ms INTEGER NOT NULL,
                -- Since when the current plan and quantity run in this period, and what was billed for
                -- that: the base of the credit of the next change (proration).
                segment_start_ms INTEGER NOT NULL,
                segment_amount_minor INTEGER NOT NULL,
                trial_end_ms INTEGER,
                cancel_at_period_end INTEGER NOT NULL DEFAULT 0,
                canceled_at_ms INTEGER,
                ended_at_ms INTEGER,
                -- A downgrade waiting for the period end.
                pending_plan_id TEXT,
                pending_quantity INTEGER,
                latest_invoice_id TEXT,
                -- Dunning of the latest period invoice: when its first attempt failed, how many
                -- scheduled retries ran, the charge whose failure advances the schedule, and whether
                -- retries wait for a new card (a hard decline).
                dunning_started_at_ms INTEGER,
                payment_attempts INTEGER NOT NULL DEFAULT 0,
                dunning_charge_id TEXT,
                awaiting_new_card INTEGER NOT NULL DEFAULT 0,
                incomplete_expires_at_ms INTEGER,
                fulfilment_state TEXT NOT NULL CHECK (fulfilment_state IN ('not_applicable', 'pending', 'provisioned', 'suspended', 'terminated')),
                created_at_ms INTEGER NOT NULL
            );
            CREATE INDEX subscriptions_by_account ON subscriptions(account_id, seq);

            -- What falls due next for each subscription: at most one row per action, written in the
            -- transaction that makes it due (the next renewal in the one that bills the current period).
            -- A runner claims a row by replacing or deleting it in the transaction that acts on it.
            CREATE TABLE subscription_schedule (
                subscription_id TEXT NOT NULL REFERENCES subscriptions(id),
                action TEXT NOT NULL CHECK (action IN ('renew', 'retry_payment', 'end_trial', 'expire_incomplete')),
                due_at_ms INTEGER NOT NULL,
                -- The test clock whose time decides; NULL for the wall clock.
                test_clock_id TEXT,
                PRIMARY KEY (subscription_id, action)
            );
            -- In the runner's order (due time, then subscription), so a page of a large backlog is read
            -- from the index instead of sorting the whole backlog.
            CREATE INDEX subscription_schedule_due ON subscription_schedule(test_clock_id, due_at_ms, subscription_id);

            -- When the charge row was written, on the wall clock: a charge of an account on a test clock
            -- is dated on that clock (created_at_ms), and the reconciler judges a pending charge's age
            -- by this instead.
            ALTER TABLE charges ADD COLUMN recorded_at_ms INTEGER;

            ALTER TABLE invoices ADD COLUMN subscription_id TEXT;
            ALTER TABLE invoices ADD COLUMN period_start_ms INTEGER;
            ALTER TABLE invoices ADD COLUMN period_end_ms INTEGER;
            ALTER TABLE invoices ADD COLUMN billing_reason TEXT NOT NULL DEFAULT 'manual'
                CHECK (billing_reason IN ('manual', 'wallet_funds', 'subscription_create', 'subscription_cycle', 'subscription_update'));
            UPDATE invoices SET billing_reason = 'wallet_funds'
                WHERE id IN (SELECT invoice_id FROM charges WHERE purpose IN ('wallet_top_up', 'wallet_auto_recharge'));
            -- One invoice per subscription and period, whatever runs the renewal and however often.
            CREATE UNIQUE INDEX invoices_one_per_period ON invoices(subscription_id, period_start_ms)
                WHERE billing_reason IN ('subscription_create', 'subscription_cycle');

            -- An upgrade waiting for its invoice to be paid: applied when it is, dropped when it is not.
            CREATE TABLE subscription_changes (
                invoice_id TEXT PRIMARY KEY REFERENCES invoices(id),
                subscription_id TEXT NOT NULL REFERENCES subscriptions(id),
                plan_id TEXT NOT NULL,
                quantity INTEGER NOT NULL,
                effective_at_ms INTEGER NOT NULL,
                period_start_ms INTEGER NOT NULL,
                charge_line_minor INTEGER NOT NULL
            );

            -- What providers of reselling products and marketplace apps must be told, written in the
            -- transaction of the state change, delivered in order per subscription with retries; the
            -- row id is the provider's idempotency key.
            CREATE TABLE fulfilment_outbox (
                seq INTEGER PRIMARY KEY,
                id TEXT NOT NULL UNIQUE,
                subscription_id TEXT NOT NULL REFERENCES subscriptions(id),
                account_id TEXT NOT NULL,
                provider TEXT NOT NULL,
                action TEXT NOT NULL CHECK (action IN ('provision', 'suspend', 'resume', 'change', 'terminate')),
                plan_id TEXT NOT NULL,
                quantity INTEGER NOT NULL,
                created_at_ms INTEGER NOT NULL,
                attempts INTEGER NOT NULL DEFAULT 0,
                next_attempt_at_ms INTEGER NOT NULL,
                delivered_at_ms INTEGER,
                last_error TEXT NOT NULL DEFAULT ''
            );
            CREATE INDEX fulfilment_outbox_undelivered ON fulfilment_outbox(next_attempt_at_ms) WHERE delivered_at_ms IS NULL;
            CREATE INDEX fulfilment_outbox_by_subscription ON fulfilment_outbox(subscription_id, seq);
            """, postgresql: PostgreSQLSchema.version4),
        Migration(version: 5, name: "monthly totals per wallet and category, kept with each ledger line", sql: """
            -- Derived from wallet_transactions, updated in the transaction of every ledger line, so that
            -- a wallet's load and its monthly summary cost the same after ten years as on day one.
            CREATE TABLE wallet_month_totals (
                account_id TEXT NOT NULL REFERENCES accounts(id),
                -- "2026-11" (UTC).
                month TEXT NOT NULL,
                category TEXT NOT NULL,
                credits_minor INTEGER NOT NULL,
                debits_minor INTEGER NOT NULL,
                transaction_count INTEGER NOT NULL,
                PRIMARY KEY (account_id, month, category)
            ) WITHOUT ROWID;
            INSERT INTO wallet_month_totals(account_id, month, category, credits_minor, debits_minor, transaction_count)
                SELECT account_id, strftime('%Y-%m', created_at_ms / 1000, 'unixepoch'), category,
                       coalesce(sum(CASE WHEN amount_minor > 0 THEN amount_minor END), 0),
                       coalesce(sum(CASE WHEN amount_minor < 0 THEN -amount_minor END), 0), count(*)
                FROM wallet_transactions GROUP BY 1, 2, 3;
            """, postgresql: PostgreSQLSchema.version5),
        Migration(version: 6, name: "idempotency records found by the charge they wait on", sql: """
            -- Settling a charge completes the record waiting on it: without this, every settlement
            -- scanned the table.
            CREATE INDEX idempotency_keys_by_charge ON idempotency_keys(charge_id) WHERE charge_id IS NOT NULL;
            """, postgresql: PostgreSQLSchema.version6),
        Migration(version: 7, name: "work claimed by one daemon at a time; who recorded each charge, whether its call went unanswered", sql: """
            -- Claims.swift: a test clock's advance, a subscription's fulfilment delivery, a charge's
            -- reconciliation, each run by one holder at a time, until it releases or the claim expires.
            CREATE TABLE work_claims (
                kind TEXT NOT NULL,
                id TEXT NOT NULL,
                holder TEXT NOT NULL,
                expires_at_ms INTEGER NOT NULL,
                PRIMARY KEY (kind, id)
            );
            CREATE INDEX work_claims_by_holder ON work_claims(holder);
            -- The daemon that recorded the charge (BillingContext.instanceName): with several daemons
            -- on one database, one starting up settles as abandoned only the charges an earlier run of
            -- itself left; another daemon's may still be in flight.
            ALTER TABLE charges ADD COLUMN recorded_by TEXT;
            -- Set when this service sent a charge and got no answer (and its look-up did not tell):
            -- reconciliation then knows a charge it finds unknown to the gateway was sent, and one
            -- without it never reached the gateway before the service stopped.
            ALTER TABLE charges ADD COLUMN unanswered_at_ms INTEGER;
            """, postgresql: PostgreSQLSchema.version7),
    ]
}
