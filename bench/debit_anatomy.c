/*
 * debit_anatomy: what each part of billingd's usage debit costs its store's writer, measured in C.
 *
 *   debit_anatomy SCHEMA_DB DIR [--seconds S] [--batch-size B] [--rounds R]
 *
 * SCHEMA_DB is a database billingd created (`make bench-debit` starts billingd once to make one); the
 * program copies its whole schema, so the tables, indexes, foreign keys and triggers are billingd's own.
 * In DIR it then creates a fresh database per run with the store's settings (WAL, synchronous=FULL,
 * foreign_keys=ON, wal_autocheckpoint=0 and a thread checkpointing PASSIVE every 100 ms, as
 * `Checkpointer` does), 1000 accounts with wallets, and debits them in turn, in the order their ids
 * sort (as `load_client` and `sqlite_baseline` do, whose accounts are made in id order), for S seconds
 * (default 4) in transactions of B debits (default 28: what billingd's writer commits at 64 calls in
 * flight over 1,000 accounts).
 *
 * The first step runs the debit as the store runs it on SQLite (WalletLedger.debit and append; keep the
 * statements below in step with them), one savepoint per debit as `Writer` does:
 *   SAVEPOINT; UPDATE wallets ... WHERE balance suffices AND the account is active RETURNING ...;
 *   INSERT INTO wallet_transactions ... RETURNING seq; upsert of wallet_month_totals; RELEASE.
 * Each later step takes one more part away, cumulatively:
 *   2. the ledger's indexes by account and by category (which pages of the ledger stand on),
 *   3. the monthly totals (which a wallet's load and a summary stand on),
 *   4. the suspension check (the subquery on accounts),
 *   5. the savepoint per debit (which keeps one failing body from failing its batch).
 * What is left beside `sqlite_baseline --mode batch` with the same batch size is the wider rows and
 * the wallets table's text key.
 * A last row is not cumulative: billingd's whole debit again, but with the ledger lines of a batch
 * written by one multi-row INSERT after its debits (issue 14's proposal), which bounds what that change
 * could gain. It gives up what the savepoint per debit keeps (a failing line fails only its debit), so
 * it is an upper bound, not a design. Each round runs every step once, alternating, so that the machine's
 * other work falls on all of them alike; the summary gives each step's median over the rounds.
 *
 * Per run: debits per second, the writer thread's CPU time per debit (CLOCK_THREAD_CPUTIME_ID), its
 * wall time per debit, and the COMMIT's own latency (p50, p99): the part of a batch spent writing
 * its pages to the WAL and waiting for the fsync.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "latency.h"

#define ACCOUNT_COUNT 1000
#define STEP_COUNT 6
#define STEP_MULTI_ROW_INSERT 5
#define MAX_ROUNDS 50
#define MAX_BATCH_SIZE 10000
#define MAX_PATH_BYTES 4000

static const char *const STEP_NAMES[STEP_COUNT] = {
    "billingd's debit",
    "- ledger indexes by account, category",
    "- monthly totals",
    "- suspension check",
    "- savepoint per debit",
    "billingd's debit, one INSERT per batch",
};

/* Whether a step leaves out a part, for the cumulative steps 1-4; the last step keeps every part. */
static bool without(int step, int from_step) { return step != STEP_MULTI_ROW_INSERT && step >= from_step; }

struct step_result {
    double debits_per_second, writer_cpu_us, wall_us, commit_p50_ms, commit_p99_ms;
};

static void fail(const char *what, const char *detail)
{
    fprintf(stderr, "debit_anatomy: %s: %s\n", what, detail);
    exit(1);
}

static void execute(sqlite3 *db, const char *sql)
{
    char *message = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &message) != SQLITE_OK) fail(sql, message ? message : "failed");
}

static sqlite3_stmt *prepare(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *statement = NULL;
    if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &statement, NULL) != SQLITE_OK)
        fail(sql, sqlite3_errmsg(db));
    return statement;
}

/* Steps a statement to its end; the first row's first column, if it returned one, goes to *value. */
static void run(sqlite3 *db, sqlite3_stmt *statement, int64_t *value)
{
    int result;
    bool first = true;
    while ((result = sqlite3_step(statement)) == SQLITE_ROW) {
        if (first && value) *value = sqlite3_column_int64(statement, 0);
        first = false;
    }
    if (result != SQLITE_DONE) fail(sqlite3_sql(statement), sqlite3_errmsg(db));
    sqlite3_reset(statement);
    sqlite3_clear_bindings(statement);
}

static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The store's checkpointer: PASSIVE every 100 ms on a connection of its own. */
struct checkpointer {
    const char *path;
    atomic_bool stop;
};

static void *checkpoint_loop(void *argument)
{
    struct checkpointer *c = argument;
    sqlite3 *db = NULL;
    if (sqlite3_open(c->path, &db) != SQLITE_OK) fail("open the checkpointer's connection", c->path);
    const struct timespec interval = {.tv_sec = 0, .tv_nsec = 100000000};
    while (!atomic_load(&c->stop)) {
        nanosleep(&interval, NULL);
        sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    }
    sqlite3_close(db);
    return NULL;
}

/* billingd's whole schema, in the order it was created, as one script. */
static char *read_schema(const char *schema_path)
{
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(schema_path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) fail("open", schema_path);
    sqlite3_stmt *statement = prepare(db,
        "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' ORDER BY rowid");
    size_t length = 0, capacity = 1 << 16;
    char *script = malloc(capacity);
    if (!script) fail("read the schema", "out of memory");
    script[0] = '\0';
    while (sqlite3_step(statement) == SQLITE_ROW) {
        const char *sql = (const char *)sqlite3_column_text(statement, 0);
        size_t needed = length + strlen(sql) + 3;
        if (needed > capacity) {
            while (needed > capacity) capacity *= 2;
            if (!(script = realloc(script, capacity))) fail("read the schema", "out of memory");
        }
        length += (size_t)sprintf(script + length, "%s;\n", sql);
    }
    sqlite3_finalize(statement);
    sqlite3_close(db);
    if (!strstr(script, "wallet_transactions_by_account") || !strstr(script, "wallet_month_totals"))
        fail(schema_path, "is not a billingd database (no wallet ledger in its schema)");
    return script;
}

static struct step_result measure(int step, const char *schema, const char *dir, double seconds, int batch_size)
{
    char path[MAX_PATH_BYTES], side[MAX_PATH_BYTES + 8];
    snprintf(path, sizeof path, "%s/debit-anatomy.sqlite3", dir);
    sqlite3 *db = NULL;
    if (sqlite3_open(path, &db) != SQLITE_OK) fail("create", path);
    execute(db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA wal_autocheckpoint = 0");
    execute(db, "BEGIN");
    execute(db, schema);
    if (without(step, 1)) execute(db, "DROP INDEX wallet_transactions_by_account; DROP INDEX wallet_transactions_by_category");
    static char accounts[ACCOUNT_COUNT][32];
    sqlite3_stmt *account = prepare(db, "INSERT INTO accounts(id, display_name, currency, created_at_ms) VALUES (?, 'Anatomy', 'USD', 1)");
    sqlite3_stmt *wallet = prepare(db, "INSERT INTO wallets(account_id, currency, balance_minor) VALUES (?, 'USD', 1000000000000)");
    for (int i = 0; i < ACCOUNT_COUNT; i++) {
        snprintf(accounts[i], sizeof accounts[i], "acct_01a22e01f259%08x", (unsigned)i);
        sqlite3_bind_text(account, 1, accounts[i], -1, SQLITE_STATIC);
        run(db, account, NULL);
        sqlite3_bind_text(wallet, 1, accounts[i], -1, SQLITE_STATIC);
        run(db, wallet, NULL);
    }
    sqlite3_finalize(account);
    sqlite3_finalize(wallet);
    execute(db, "COMMIT");

    /* WalletLedger.debit's UPDATE (with the suspension check until step 4), append's INSERT and upsert. */
    sqlite3_stmt *debit = prepare(db, without(step, 3)
        ? "UPDATE wallets SET balance_minor = balance_minor - ?1, last_entry_at_ms = CASE WHEN last_entry_at_ms > ?3 THEN last_entry_at_ms ELSE ?3 END"
          " WHERE account_id = ?2 AND balance_minor >= ?1"
          " RETURNING balance_minor, last_entry_at_ms, auto_recharge_enabled, recharge_amount_minor, recharge_threshold_minor"
        : "UPDATE wallets SET balance_minor = balance_minor - ?1, last_entry_at_ms = CASE WHEN last_entry_at_ms > ?3 THEN last_entry_at_ms ELSE ?3 END"
          " WHERE account_id = ?2 AND balance_minor >= ?1 AND (SELECT service_status FROM accounts WHERE id = ?2) = 'active'"
          " RETURNING balance_minor, last_entry_at_ms, auto_recharge_enabled, recharge_amount_minor, recharge_threshold_minor");
    /* One line per statement, or (the last step) every line of a batch in one statement. */
    int lines_per_insert = step == STEP_MULTI_ROW_INSERT ? batch_size : 1;
    size_t insert_bytes = 256 + (size_t)lines_per_insert * 40;
    char *insert_sql = malloc(insert_bytes);
    if (!insert_sql) fail("prepare the INSERT", "out of memory");
    size_t used = (size_t)snprintf(insert_sql, insert_bytes,
        "INSERT INTO wallet_transactions(id, account_id, amount_minor, balance_after_minor, currency, category, description, source, charge_id, usage_id, created_at_ms) VALUES ");
    for (int i = 0; i < lines_per_insert; i++)
        used += (size_t)snprintf(insert_sql + used, insert_bytes - used, "%s(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", i ? ", " : "");
    snprintf(insert_sql + used, insert_bytes - used, " RETURNING seq");
    sqlite3_stmt *line = prepare(db, insert_sql);
    free(insert_sql);
    static char line_ids[MAX_BATCH_SIZE][40], usage_ids[MAX_BATCH_SIZE][48];
    static int64_t balances_after[MAX_BATCH_SIZE];
    sqlite3_stmt *totals = prepare(db,
        "INSERT INTO wallet_month_totals(account_id, month, category, credits_minor, debits_minor, transaction_count) VALUES (?, ?, ?, ?, ?, 1)"
        " ON CONFLICT(account_id, month, category) DO UPDATE SET credits_minor = wallet_month_totals.credits_minor + excluded.credits_minor,"
        " debits_minor = wallet_month_totals.debits_minor + excluded.debits_minor, transaction_count = wallet_month_totals.transaction_count + 1");
    sqlite3_stmt *begin = prepare(db, "BEGIN IMMEDIATE"), *commit = prepare(db, "COMMIT");
    sqlite3_stmt *savepoint = prepare(db, "SAVEPOINT batched_write"), *release = prepare(db, "RELEASE batched_write");

    struct checkpointer checkpointer = {.path = path, .stop = false};
    pthread_t thread;
    if (pthread_create(&thread, NULL, checkpoint_loop, &checkpointer) != 0) fail("start the checkpointer", "pthread_create");
    struct recorder commits;
    if (!recorder_init(&commits, 1 << 16)) fail("allocate latency samples", "out of memory");

    int64_t debits = 0, now_ms = 1796068219882LL;
    double cpu_start = cpu_seconds();
    uint64_t start = monotonic_ns(), deadline = start + (uint64_t)(seconds * 1e9);
    while (monotonic_ns() < deadline) {
        run(db, begin, NULL);
        for (int i = 0; i < batch_size; i++, debits++, now_ms++) {
            const char *account_id = accounts[debits % ACCOUNT_COUNT];
            int slot = i % lines_per_insert, first = slot * 11;
            snprintf(line_ids[i], sizeof line_ids[i], "wtx_01a22e021bf0%012llx", (unsigned long long)debits);
            snprintf(usage_ids[i], sizeof usage_ids[i], "debit-anatomy-%lld", (long long)debits);
            if (!without(step, 4)) run(db, savepoint, NULL);
            int64_t sequence = 0;
            sqlite3_bind_int64(debit, 1, 1);
            sqlite3_bind_text(debit, 2, account_id, -1, SQLITE_STATIC);
            sqlite3_bind_int64(debit, 3, now_ms);
            run(db, debit, &balances_after[i]);
            sqlite3_bind_text(line, first + 1, line_ids[i], -1, SQLITE_STATIC);
            sqlite3_bind_text(line, first + 2, account_id, -1, SQLITE_STATIC);
            sqlite3_bind_int64(line, first + 3, -1);
            sqlite3_bind_int64(line, first + 4, balances_after[i]);
            sqlite3_bind_text(line, first + 5, "USD", -1, SQLITE_STATIC);
            sqlite3_bind_text(line, first + 6, "sms", -1, SQLITE_STATIC);
            sqlite3_bind_text(line, first + 7, "anatomy", -1, SQLITE_STATIC);
            sqlite3_bind_text(line, first + 8, "usage", -1, SQLITE_STATIC);
            sqlite3_bind_null(line, first + 9);
            sqlite3_bind_text(line, first + 10, usage_ids[i], -1, SQLITE_STATIC);
            sqlite3_bind_int64(line, first + 11, now_ms);
            if (slot == lines_per_insert - 1) run(db, line, &sequence);
            if (!without(step, 2)) {
                sqlite3_bind_text(totals, 1, account_id, -1, SQLITE_STATIC);
                sqlite3_bind_text(totals, 2, "2026-11", -1, SQLITE_STATIC);
                sqlite3_bind_text(totals, 3, "sms", -1, SQLITE_STATIC);
                sqlite3_bind_int64(totals, 4, 0);
                sqlite3_bind_int64(totals, 5, 1);
                run(db, totals, NULL);
            }
            if (!without(step, 4)) run(db, release, NULL);
        }
        uint64_t commit_start = monotonic_ns();
        run(db, commit, NULL);
        recorder_add(&commits, monotonic_ns() - commit_start);
    }
    double elapsed = (double)(monotonic_ns() - start) / 1e9, cpu = cpu_seconds() - cpu_start;
    atomic_store(&checkpointer.stop, true);
    pthread_join(thread, NULL);
    int64_t lines = 0;
    sqlite3_stmt *count = prepare(db, "SELECT count(*) FROM wallet_transactions");
    run(db, count, &lines);
    sqlite3_finalize(count);
    if (lines != debits) fail(STEP_NAMES[step], "wrote a ledger line count other than its debits'");

    struct percentiles p = recorder_percentiles(&commits);
    struct step_result result = {
        .debits_per_second = (double)debits / elapsed, .writer_cpu_us = cpu / (double)debits * 1e6,
        .wall_us = elapsed / (double)debits * 1e6, .commit_p50_ms = p.p50 / 1000, .commit_p99_ms = p.p99 / 1000};
    recorder_free(&commits);
    sqlite3_stmt *statements[] = {debit, line, totals, begin, commit, savepoint, release};
    for (size_t i = 0; i < sizeof statements / sizeof statements[0]; i++) sqlite3_finalize(statements[i]);
    sqlite3_close(db);
    unlink(path);
    snprintf(side, sizeof side, "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", path);
    unlink(side);
    return result;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *values, int count)
{
    qsort(values, (size_t)count, sizeof *values, by_value);
    return count % 2 ? values[count / 2] : (values[count / 2 - 1] + values[count / 2]) / 2;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: debit_anatomy SCHEMA_DB DIR [--seconds S] [--batch-size B] [--rounds R]\n");
        return 2;
    }
    double seconds = 4;
    int batch_size = 28, rounds = 3;
    for (int i = 3; i < argc; i++) {
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (!value) fail(argv[i], "needs a value");
        if (!strcmp(argv[i], "--seconds")) seconds = atof(value);
        else if (!strcmp(argv[i], "--batch-size")) batch_size = atoi(value);
        else if (!strcmp(argv[i], "--rounds")) rounds = atoi(value);
        else fail(argv[i], "unknown option");
        i++;
    }
    if (!(seconds > 0 && seconds <= 600)) fail("--seconds", "must be in (0, 600]");
    if (batch_size < 1 || batch_size > MAX_BATCH_SIZE) fail("--batch-size", "must be 1 to 10000");
    if (rounds < 1 || rounds > MAX_ROUNDS) fail("--rounds", "must be 1 to 50");
    if (strlen(argv[2]) > MAX_PATH_BYTES - 64) fail(argv[2], "path too long");
    char *schema = read_schema(argv[1]);

    static struct step_result results[MAX_ROUNDS][STEP_COUNT];
    printf("%-40s %9s %12s %10s %11s %11s\n", "step (cumulative)", "debits/s", "writer CPU", "wall", "commit p50", "commit p99");
    for (int round = 0; round < rounds; round++) {
        for (int step = 0; step < STEP_COUNT; step++) {
            struct step_result r = results[round][step] = measure(step, schema, argv[2], seconds, batch_size);
            printf("%-40s %9.0f %9.1f us %7.1f us %8.2f ms %8.2f ms   round %d\n", STEP_NAMES[step],
                r.debits_per_second, r.writer_cpu_us, r.wall_us, r.commit_p50_ms, r.commit_p99_ms, round + 1);
            fflush(stdout);
        }
    }
    printf("-- median of %d rounds, %d debits per transaction over %d accounts, %g s each\n", rounds, batch_size, ACCOUNT_COUNT, seconds);
    for (int step = 0; step < STEP_COUNT; step++) {
        double columns[5][MAX_ROUNDS];
        for (int round = 0; round < rounds; round++) {
            struct step_result r = results[round][step];
            columns[0][round] = r.debits_per_second;
            columns[1][round] = r.writer_cpu_us;
            columns[2][round] = r.wall_us;
            columns[3][round] = r.commit_p50_ms;
            columns[4][round] = r.commit_p99_ms;
        }
        printf("%-40s %9.0f %9.1f us %7.1f us %8.2f ms %8.2f ms\n", STEP_NAMES[step], median(columns[0], rounds),
            median(columns[1], rounds), median(columns[2], rounds), median(columns[3], rounds), median(columns[4], rounds));
    }
    free(schema);
    return 0;
}
