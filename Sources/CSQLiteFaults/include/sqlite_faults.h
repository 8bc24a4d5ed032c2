#ifndef SQLITE_FAULTS_H
#define SQLITE_FAULTS_H

/*
 * A SQLite VFS for tests that fails writes, fsyncs or truncations at chosen points, the way SQLite's own
 * test suite injects I/O errors. It wraps the default VFS (the unix VFS) and forwards every call to it
 * until a fault is armed. Register one per test under a unique name, open the store with that name
 * (Store.Configuration.vfsName), and arm faults while the store runs.
 *
 * Only tests link this target; billingd never does.
 */

/* The file operations a fault can be armed on. */
typedef enum {
    SQLITE_FAULTS_WRITE = 0,
    SQLITE_FAULTS_SYNC = 1,
    SQLITE_FAULTS_TRUNCATE = 2,
} sqlite_faults_operation;

/* One registered fault-injecting VFS; its state is shared by every file it opens. */
typedef struct sqlite_faults sqlite_faults;

/* Registers a VFS named `name` over the default VFS (never as the default). NULL if SQLite refused. */
sqlite_faults *sqlite_faults_register(const char *name);

/* Unregisters and frees it; every connection opened through it must be closed first. */
void sqlite_faults_unregister(sqlite_faults *faults);

/*
 * Arms a fault on `operation`: the next `succeeding_calls` calls go through, the one after returns
 * `result_code` (SQLITE_FULL, SQLITE_IOERR_WRITE, SQLITE_IOERR_FSYNC, ...) without touching the file,
 * and, if `persistent` is non-zero, so does every later call until sqlite_faults_clear.
 */
void sqlite_faults_arm(sqlite_faults *faults, sqlite_faults_operation operation, long succeeding_calls,
                       int result_code, int persistent);

/* Disarms every fault: calls go through again. */
void sqlite_faults_clear(sqlite_faults *faults);

/* Calls of `operation` made through this VFS since it was registered, failed ones included. */
long sqlite_faults_calls(sqlite_faults *faults, sqlite_faults_operation operation);

/* Calls this VFS has failed on purpose since it was registered. */
long sqlite_faults_injected(sqlite_faults *faults);

#endif
