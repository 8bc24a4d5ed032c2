/*
 * sqlite_baseline: the raw limit of the disk for the wallet's debit, written the way the store writes.
 *
 *   sqlite_baseline PATH [--mode single|batch] [--batch-size B] [--seconds S] [--checkpoint inline|background] [--json]
 *
 * Creates a fresh database at PATH with the store's settings (journal_mode=WAL, synchronous=FULL,
 * foreign_keys=ON, each read back as the store does), a wallet schema with 1000 accounts, and then
 * debits the accounts round-robin for S seconds (default 3):
 *
 *   --mode single   each debit in its own BEGIN IMMEDIATE ... COMMIT: one fsync'ed commit per debit;
 *   --mode batch    B debits (default 64) per transaction: what group commit can reach at best.
 *
 * --checkpoint says who copies the WAL back into the database file: "inline" (the default, SQLite's
 * own: the commit that takes the WAL past 1000 pages checkpoints before it returns, fsyncs included)
 * or "background" (wal_autocheckpoint=0 on the writer; a thread with a connection of its own runs
 * PRAGMA wal_checkpoint(PASSIVE) every 100 ms), to see what the inline checkpoints add to the tail.
 *
 * A debit is two statements, prepared once and reused:
 *   UPDATE accounts SET balance_minor = balance_minor - ? WHERE id = ? AND balance_minor >= ?
 *   INSERT INTO wallet_transactions (...) VALUES (...)
 * It prints debits and transactions per second and the latency of one transaction (BEGIN IMMEDIATE to
 * COMMIT returning, what a caller waiting for its debit to be durable waits at least: with --mode
 * single, the disk's own single-debit commit), then deletes PATH, PATH-wal and PATH-shm. It refuses
 * to start if any of them exists, so it never touches a database it did not create.
 *
 * No RPC, no threads, no allocation of its own per debit: whatever the service's write path costs beyond these
 * figures is the cost of the service itself.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
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
#define ACCOUNT_ID_BYTES 24
#define STARTING_BALANCE_MINOR 1000000000000000LL /* far more than any run can debit */
#define DEBIT_AMOUNT_MINOR 1
#define MAX_BATCH_SIZE 100000
#define MAX_SECONDS 3600.0
#define MAX_PATH_BYTES 4000
#define MAX_LATENCY_SAMPLES (1u << 20)     /* 4 MiB of samples; reservoir-sampled beyond that */

/* The wallet's tables as given for the baseline. No foreign key is declared, so foreign_keys=ON is set
 * (as the store sets it) but costs nothing per debit here. */
static const char SCHEMA[] =
    "CREATE TABLE accounts ("
    "    id TEXT PRIMARY KEY,"
    "    balance_minor INTEGER NOT NULL"
    ");"
    "CREATE TABLE wallet_transactions ("
    "    seq INTEGER PRIMARY KEY,"
    "    id TEXT NOT NULL UNIQUE,"
    "    account_id TEXT NOT NULL,"
    "    amount_minor INTEGER NOT NULL,"
    "    balance_after_minor INTEGER NOT NULL,"
    "    category TEXT NOT NULL,"
    "    description TEXT NOT NULL,"
    "    source TEXT NOT NULL,"
    "    usage_id TEXT,"
    "    created_at_ms INTEGER NOT NULL,"
    "    UNIQUE (account_id, usage_id)"
    ");";

/* A debit that finds too little money changes no row. The balance after the debit, which the ledger
 * line records, comes from the writer's own copy of the balances (struct writer): as the only writer
 * it knows them, and reading them back (RETURNING or a SELECT) would cost time that a lower bound
 * should not include. RETURNING, for one, makes SQLite build an ephemeral table per statement; on the
 * machine this was written on, that cut debits per second by about a quarter at 1000 per batch. */
static const char DEBIT_SQL[] =
    "UPDATE accounts SET balance_minor = balance_minor - ? WHERE id = ? AND balance_minor >= ?";

static const char INSERT_SQL[] =
    "INSERT INTO wallet_transactions (id, account_id, amount_minor, balance_after_minor, category,"
    " description, source, usage_id, created_at_ms) VALUES (?, ?, ?, ?, 'usage', ?, 'metering', ?, ?)";

/* ------------------------------------------------------------------------------------------------
 * Clean-up on every exit: the files are the program's own, so even a failure removes them.
 * --------------------------------------------------------------------------------------------- */

static const char *database_path;
static sqlite3 *database;

static void remove_database(void)
{
    if (database) {
        sqlite3_close_v2(database); /* statements left unfinalized only delay the close until exit */
        database = NULL;
    }
    if (!database_path) return;
    static const char *const suffixes[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        char file[MAX_PATH_BYTES + 8];
        snprintf(file, sizeof file, "%s%s", database_path, suffixes[i]);
        if (unlink(file) != 0 && errno != ENOENT)
            fprintf(stderr, "sqlite_baseline: removing %s: %s\n", file, strerror(errno));
    }
}

static void die(const char *format, ...)
{
    va_list args;
    va_start(args, format);
    fputs("sqlite_baseline: ", stderr);
    vfprintf(stderr, format, args);
    fputc('\n', stderr);
    va_end(args);
    remove_database();
    exit(1);
}

static void check(int result, const char *what)
{
    if (result != SQLITE_OK && result != SQLITE_DONE && result != SQLITE_ROW)
        die("%s: %s (%d)", what, database ? sqlite3_errmsg(database) : sqlite3_errstr(result), result);
}

/* Ctrl-C ends the run early but still reports and removes the files. */
static volatile sig_atomic_t stop_requested;
/* Set when the measured run is over, for the background checkpointer. */
static volatile sig_atomic_t background_done;

static void request_stop(int signal_number)
{
    (void)signal_number;
    stop_requested = 1;
}

static int64_t wall_clock_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------------------------------------------
 * Setting up the database
 * --------------------------------------------------------------------------------------------- */

/* Runs a PRAGMA and puts its first value, lower-cased, in `value` ("" when it returns no row, as
 * setting most pragmas does). */
static void pragma_value(const char *sql, char *value, size_t size)
{
    sqlite3_stmt *statement;
    check(sqlite3_prepare_v2(database, sql, -1, &statement, NULL), sql);
    int result = sqlite3_step(statement);
    check(result, sql);
    const unsigned char *text = result == SQLITE_ROW ? sqlite3_column_text(statement, 0) : NULL;
    snprintf(value, size, "%s", text ? (const char *)text : "");
    for (char *p = value; *p; p++) if (*p >= 'A' && *p <= 'Z') *p = (char)(*p - 'A' + 'a');
    sqlite3_finalize(statement);
}

/* Like the store, sets each pragma that durability depends on and reads it back rather than assuming
 * it took: journal_mode=WAL can fail (on some file systems), and a figure measured without FULL
 * would be meaningless. */
static void require_pragma(const char *set_sql, const char *read_sql, const char *expected)
{
    char value[64];
    pragma_value(set_sql, value, sizeof value);
    pragma_value(read_sql, value, sizeof value);
    if (strcmp(value, expected) != 0) die("`%s` gave \"%s\", expected %s", read_sql, value, expected);
}

static void execute(const char *sql)
{
    char *message = NULL;
    if (sqlite3_exec(database, sql, NULL, NULL, &message) != SQLITE_OK) {
        char copy[512];
        snprintf(copy, sizeof copy, "%s", message ? message : "unknown error");
        sqlite3_free(message);
        die("%.60s...: %s", sql, copy);
    }
}

static void step_to_done(sqlite3_stmt *statement, const char *what)
{
    int result = sqlite3_step(statement);
    if (result != SQLITE_DONE) die("%s: %s (%d)", what, sqlite3_errmsg(database), result);
    sqlite3_reset(statement);
}

static void create_database(const char *path, char account_ids[][ACCOUNT_ID_BYTES])
{
    if (strlen(path) > MAX_PATH_BYTES) die("the path is longer than %d bytes", MAX_PATH_BYTES);
    static const char *const suffixes[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        char file[MAX_PATH_BYTES + 8];
        snprintf(file, sizeof file, "%s%s", path, suffixes[i]);
        if (access(file, F_OK) == 0) {
            fprintf(stderr, "sqlite_baseline: %s exists; this program deletes its database when done, "
                            "so it only runs on a path that does not exist yet\n", file);
            exit(1);
        }
    }
    database_path = path; /* from here on, every exit removes the files */

    int result = sqlite3_open_v2(path, &database, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    if (result != SQLITE_OK) die("opening %s: %s", path, sqlite3_errstr(result));
    sqlite3_extended_result_codes(database, 1);
    require_pragma("PRAGMA journal_mode = WAL", "PRAGMA journal_mode", "wal");
    require_pragma("PRAGMA synchronous = FULL", "PRAGMA synchronous", "2");
    require_pragma("PRAGMA foreign_keys = ON", "PRAGMA foreign_keys", "1");

    execute(SCHEMA);
    sqlite3_stmt *insert_account;
    check(sqlite3_prepare_v2(database, "INSERT INTO accounts (id, balance_minor) VALUES (?, ?)", -1,
                             &insert_account, NULL), "prepare the account insert");
    execute("BEGIN IMMEDIATE");
    for (int i = 0; i < ACCOUNT_COUNT; i++) {
        snprintf(account_ids[i], ACCOUNT_ID_BYTES, "acct-%04d", i);
        sqlite3_bind_text(insert_account, 1, account_ids[i], -1, SQLITE_STATIC);
        sqlite3_bind_int64(insert_account, 2, STARTING_BALANCE_MINOR);
        step_to_done(insert_account, "insert an account");
    }
    execute("COMMIT");
    sqlite3_finalize(insert_account);
    /* Start the measurement with an empty WAL, so the set-up's pages are not checkpointed on its clock. */
    execute("PRAGMA wal_checkpoint(TRUNCATE)");
}

/* ------------------------------------------------------------------------------------------------
 * The measured writes
 * --------------------------------------------------------------------------------------------- */

struct writer {
    sqlite3_stmt *begin, *commit, *debit, *insert;
    char (*account_ids)[ACCOUNT_ID_BYTES];
    int64_t balances[ACCOUNT_COUNT]; /* what accounts.balance_minor holds, kept in step by debit() */
    uint64_t debits, transactions;
    struct recorder commit_latency; /* of each transaction, BEGIN to COMMIT */
};

static void debit(struct writer *w)
{
    uint64_t n = w->debits;
    size_t account = n % ACCOUNT_COUNT;
    const char *account_id = w->account_ids[account];

    sqlite3_bind_int64(w->debit, 1, DEBIT_AMOUNT_MINOR);
    sqlite3_bind_text(w->debit, 2, account_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(w->debit, 3, DEBIT_AMOUNT_MINOR);
    step_to_done(w->debit, "debit");
    if (sqlite3_changes(database) != 1) die("account %s ran out of money", account_id);
    int64_t balance_after = w->balances[account] -= DEBIT_AMOUNT_MINOR;

    /* Unique ids and usage ids, as real debits carry, so both UNIQUE indexes take a new key each time. */
    char id[32], usage_id[32], description[48];
    snprintf(id, sizeof id, "wtx-%012llu", (unsigned long long)n);
    snprintf(usage_id, sizeof usage_id, "usage-%012llu", (unsigned long long)n);
    snprintf(description, sizeof description, "Usage %llu", (unsigned long long)n);
    sqlite3_bind_text(w->insert, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(w->insert, 2, account_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(w->insert, 3, -DEBIT_AMOUNT_MINOR); /* negative: money leaving the wallet */
    sqlite3_bind_int64(w->insert, 4, balance_after);
    sqlite3_bind_text(w->insert, 5, description, -1, SQLITE_STATIC);
    sqlite3_bind_text(w->insert, 6, usage_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(w->insert, 7, wall_clock_ms());
    step_to_done(w->insert, "insert the wallet transaction");
    w->debits++;
}

/* One transaction of `batch_size` debits, timed. COMMIT is where synchronous=FULL waits for the disk. */
static void commit_batch(struct writer *w, uint32_t batch_size)
{
    uint64_t begun_ns = monotonic_ns();
    step_to_done(w->begin, "BEGIN IMMEDIATE");
    for (uint32_t i = 0; i < batch_size; i++) debit(w);
    step_to_done(w->commit, "COMMIT");
    recorder_add(&w->commit_latency, monotonic_ns() - begun_ns);
    w->transactions++;
}

/* ------------------------------------------------------------------------------------------------
 * Command line
 * --------------------------------------------------------------------------------------------- */

static void usage(FILE *to)
{
    fprintf(to, "usage: sqlite_baseline PATH [--mode single|batch] [--batch-size B] [--seconds S] [--checkpoint inline|background] [--json]\n"
                "\n"
                "PATH must not exist; it and its -wal and -shm files are deleted at the end.\n"
                "defaults: --mode single, --batch-size 64 in batch mode (1 in single mode), --seconds 3, --checkpoint inline\n");
}

static void usage_error(const char *format, ...)
{
    va_list args;
    va_start(args, format);
    fputs("sqlite_baseline: ", stderr);
    vfprintf(stderr, format, args);
    fputc('\n', stderr);
    va_end(args);
    usage(stderr);
    exit(2);
}

/* --checkpoint background: checkpoints every 100 ms on a connection of its own until the run ends. */
static void *checkpoint_in_background(void *path)
{
    sqlite3 *connection;
    if (sqlite3_open_v2(path, &connection, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) die("the checkpointer cannot open %s", (char *)path);
    sqlite3_busy_timeout(connection, 1000);
    struct timespec pause = {.tv_sec = 0, .tv_nsec = 100 * 1000 * 1000};
    while (!stop_requested && !background_done) {
        nanosleep(&pause, NULL);
        int log_frames = 0, checkpointed = 0;
        int result = sqlite3_wal_checkpoint_v2(connection, NULL, SQLITE_CHECKPOINT_PASSIVE, &log_frames, &checkpointed);
        if (result != SQLITE_OK && result != SQLITE_BUSY) die("checkpoint: %s", sqlite3_errstr(result));
    }
    sqlite3_close(connection);
    return NULL;
}

int main(int argc, char **argv)
{
    const char *path = NULL;
    bool batch = false, json = false, background_checkpoints = false;
    long batch_size = 0; /* 0: the mode's default */
    double seconds = 3;

    for (int i = 1; i < argc; i++) {
        const char *argument = argv[i];
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        char *end;
        if (strcmp(argument, "--help") == 0 || strcmp(argument, "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(argument, "--json") == 0) {
            json = true;
        } else if (strcmp(argument, "--mode") == 0) {
            if (!value || (strcmp(value, "single") != 0 && strcmp(value, "batch") != 0))
                usage_error("--mode must be single or batch");
            batch = strcmp(value, "batch") == 0;
            i++;
        } else if (strcmp(argument, "--batch-size") == 0) {
            batch_size = value ? strtol(value, &end, 10) : 0;
            if (!value || end == value || *end != '\0' || batch_size < 1 || batch_size > MAX_BATCH_SIZE)
                usage_error("--batch-size must be a whole number from 1 to %d", MAX_BATCH_SIZE);
            i++;
        } else if (strcmp(argument, "--checkpoint") == 0) {
            if (!value || (strcmp(value, "inline") != 0 && strcmp(value, "background") != 0))
                usage_error("--checkpoint must be inline or background");
            background_checkpoints = strcmp(value, "background") == 0;
            i++;
        } else if (strcmp(argument, "--seconds") == 0) {
            seconds = value ? strtod(value, &end) : 0;
            if (!value || end == value || *end != '\0' || !(seconds > 0 && seconds <= MAX_SECONDS))
                usage_error("--seconds must be a number above 0 and at most %g", MAX_SECONDS);
            i++;
        } else if (argument[0] == '-' || path != NULL) {
            usage_error("unexpected argument %s", argument);
        } else {
            path = argument;
        }
    }
    if (path == NULL) usage_error("the database PATH is missing");
    if (!batch && batch_size > 1) usage_error("--mode single commits one debit per transaction; drop --batch-size");
    if (batch_size == 0) batch_size = batch ? 64 : 1;

    char name[32];
    if (batch) snprintf(name, sizeof name, "sqlite-batch-%ld%s", batch_size, background_checkpoints ? "-bgckpt" : "");
    else snprintf(name, sizeof name, "sqlite-single%s", background_checkpoints ? "-bgckpt" : "");

    struct sigaction action = {.sa_handler = request_stop};
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGTERM, &action, NULL);

    static char account_ids[ACCOUNT_COUNT][ACCOUNT_ID_BYTES];
    create_database(path, account_ids);

    static struct writer w = {.account_ids = account_ids};
    for (int i = 0; i < ACCOUNT_COUNT; i++) w.balances[i] = STARTING_BALANCE_MINOR;
    if (!recorder_init(&w.commit_latency, MAX_LATENCY_SAMPLES)) die("out of memory for the latency samples");
    check(sqlite3_prepare_v2(database, "BEGIN IMMEDIATE", -1, &w.begin, NULL), "prepare BEGIN");
    check(sqlite3_prepare_v2(database, "COMMIT", -1, &w.commit, NULL), "prepare COMMIT");
    check(sqlite3_prepare_v2(database, DEBIT_SQL, -1, &w.debit, NULL), "prepare the debit");
    check(sqlite3_prepare_v2(database, INSERT_SQL, -1, &w.insert, NULL), "prepare the insert");

    pthread_t checkpointer;
    if (background_checkpoints) {
        execute("PRAGMA wal_autocheckpoint = 0");
        if (pthread_create(&checkpointer, NULL, checkpoint_in_background, (void *)path) != 0) die("cannot start the checkpointer");
    }

    uint64_t start_ns = monotonic_ns();
    double elapsed;
    do {
        commit_batch(&w, (uint32_t)batch_size);
        elapsed = (double)(monotonic_ns() - start_ns) / 1e9;
    } while (elapsed < seconds && !stop_requested);

    if (background_checkpoints) {
        background_done = 1;
        pthread_join(checkpointer, NULL);
    }
    double debits_per_second = (double)w.debits / elapsed;
    double transactions_per_second = (double)w.transactions / elapsed;
    struct percentiles commit = recorder_percentiles(&w.commit_latency);
    if (json)
        printf("{\"name\":\"%s\",\"debits_per_second\":%.1f,\"transactions_per_second\":%.1f,"
               "\"p50_us\":%.1f,\"p90_us\":%.1f,\"p99_us\":%.1f,\"p999_us\":%.1f,\"max_us\":%.1f}\n",
               name, debits_per_second, transactions_per_second,
               commit.p50, commit.p90, commit.p99, commit.p999, commit.max);
    else
        printf("%s: %.0f debits/s, %.0f transactions/s over %.2f s (%llu debits; WAL, synchronous=FULL; %s);"
               " one transaction p50 %.1f us, p90 %.1f us, p99 %.1f us, p99.9 %.1f us, max %.1f us%s\n",
               name, debits_per_second, transactions_per_second, elapsed, (unsigned long long)w.debits,
               path, commit.p50, commit.p90, commit.p99, commit.p999, commit.max,
               stop_requested ? " [interrupted]" : "");
    recorder_free(&w.commit_latency);

    sqlite3_finalize(w.begin);
    sqlite3_finalize(w.commit);
    sqlite3_finalize(w.debit);
    sqlite3_finalize(w.insert);
    remove_database();
    return 0;
}
