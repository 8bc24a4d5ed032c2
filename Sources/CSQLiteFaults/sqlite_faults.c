#include "sqlite_faults.h"

#include <sqlite3.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* One operation's fault: armed or not, how many calls still go through, what to return, for how long. */
struct fault {
    atomic_int armed;
    atomic_long remaining;
    atomic_int result_code;
    atomic_int persistent;
    atomic_long calls;
};

struct sqlite_faults {
    sqlite3_vfs vfs;          /* what SQLite sees; vfs.pAppData points back here */
    sqlite3_vfs *real;        /* the default VFS every call is forwarded to */
    char *name;
    struct fault faults[3];
    atomic_long injected;
};

/* A file opened through the wrapper: our methods first, the real VFS's file right after. */
typedef struct {
    sqlite3_file base;
    sqlite3_file *real;
    sqlite_faults *owner;
} faults_file;

/* SQLITE_OK to go through, or the code to fail with. Counts the call either way. */
static int fault_check(sqlite_faults *owner, sqlite_faults_operation operation) {
    struct fault *fault = &owner->faults[operation];
    atomic_fetch_add(&fault->calls, 1);
    if (!atomic_load(&fault->armed)) return SQLITE_OK;
    long before = atomic_fetch_sub(&fault->remaining, 1);
    if (before > 0) return SQLITE_OK;
    if (before < 0 && !atomic_load(&fault->persistent)) return SQLITE_OK;
    if (before == 0 && !atomic_load(&fault->persistent)) atomic_store(&fault->armed, 0);
    atomic_fetch_add(&owner->injected, 1);
    return atomic_load(&fault->result_code);
}

#define REAL(file) (((faults_file *)(file))->real)
#define OWNER(file) (((faults_file *)(file))->owner)

static int f_close(sqlite3_file *file) {
    int rc = REAL(file)->pMethods ? REAL(file)->pMethods->xClose(REAL(file)) : SQLITE_OK;
    file->pMethods = NULL;
    return rc;
}
static int f_read(sqlite3_file *file, void *buffer, int amount, sqlite3_int64 offset) {
    return REAL(file)->pMethods->xRead(REAL(file), buffer, amount, offset);
}
static int f_write(sqlite3_file *file, const void *buffer, int amount, sqlite3_int64 offset) {
    int rc = fault_check(OWNER(file), SQLITE_FAULTS_WRITE);
    return rc != SQLITE_OK ? rc : REAL(file)->pMethods->xWrite(REAL(file), buffer, amount, offset);
}
static int f_truncate(sqlite3_file *file, sqlite3_int64 size) {
    int rc = fault_check(OWNER(file), SQLITE_FAULTS_TRUNCATE);
    return rc != SQLITE_OK ? rc : REAL(file)->pMethods->xTruncate(REAL(file), size);
}
static int f_sync(sqlite3_file *file, int flags) {
    int rc = fault_check(OWNER(file), SQLITE_FAULTS_SYNC);
    return rc != SQLITE_OK ? rc : REAL(file)->pMethods->xSync(REAL(file), flags);
}
static int f_file_size(sqlite3_file *file, sqlite3_int64 *size) {
    return REAL(file)->pMethods->xFileSize(REAL(file), size);
}
static int f_lock(sqlite3_file *file, int level) { return REAL(file)->pMethods->xLock(REAL(file), level); }
static int f_unlock(sqlite3_file *file, int level) { return REAL(file)->pMethods->xUnlock(REAL(file), level); }
static int f_check_reserved_lock(sqlite3_file *file, int *out) {
    return REAL(file)->pMethods->xCheckReservedLock(REAL(file), out);
}
static int f_file_control(sqlite3_file *file, int op, void *argument) {
    return REAL(file)->pMethods->xFileControl(REAL(file), op, argument);
}
static int f_sector_size(sqlite3_file *file) { return REAL(file)->pMethods->xSectorSize(REAL(file)); }
static int f_device_characteristics(sqlite3_file *file) {
    return REAL(file)->pMethods->xDeviceCharacteristics(REAL(file));
}
static int f_shm_map(sqlite3_file *file, int page, int size, int extend, void volatile **out) {
    return REAL(file)->pMethods->xShmMap(REAL(file), page, size, extend, out);
}
static int f_shm_lock(sqlite3_file *file, int offset, int n, int flags) {
    return REAL(file)->pMethods->xShmLock(REAL(file), offset, n, flags);
}
static void f_shm_barrier(sqlite3_file *file) { REAL(file)->pMethods->xShmBarrier(REAL(file)); }
static int f_shm_unmap(sqlite3_file *file, int delete_flag) {
    return REAL(file)->pMethods->xShmUnmap(REAL(file), delete_flag);
}
static int f_fetch(sqlite3_file *file, sqlite3_int64 offset, int amount, void **out) {
    return REAL(file)->pMethods->xFetch(REAL(file), offset, amount, out);
}
static int f_unfetch(sqlite3_file *file, sqlite3_int64 offset, void *page) {
    return REAL(file)->pMethods->xUnfetch(REAL(file), offset, page);
}

/* Version 3 methods; a real file with an older version gets ours with the same version (see f_open). */
static const sqlite3_io_methods faults_methods[4] = {
    [1] = {1, f_close, f_read, f_write, f_truncate, f_sync, f_file_size, f_lock, f_unlock, f_check_reserved_lock,
           f_file_control, f_sector_size, f_device_characteristics, 0, 0, 0, 0, 0, 0},
    [2] = {2, f_close, f_read, f_write, f_truncate, f_sync, f_file_size, f_lock, f_unlock, f_check_reserved_lock,
           f_file_control, f_sector_size, f_device_characteristics, f_shm_map, f_shm_lock, f_shm_barrier,
           f_shm_unmap, 0, 0},
    [3] = {3, f_close, f_read, f_write, f_truncate, f_sync, f_file_size, f_lock, f_unlock, f_check_reserved_lock,
           f_file_control, f_sector_size, f_device_characteristics, f_shm_map, f_shm_lock, f_shm_barrier,
           f_shm_unmap, f_fetch, f_unfetch},
};

static sqlite_faults *owner_of(sqlite3_vfs *vfs) { return (sqlite_faults *)vfs->pAppData; }

static int f_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *file, int flags, int *out_flags) {
    sqlite_faults *owner = owner_of(vfs);
    faults_file *wrapper = (faults_file *)file;
    wrapper->real = (sqlite3_file *)&wrapper[1];
    wrapper->owner = owner;
    int rc = owner->real->xOpen(owner->real, name, wrapper->real, flags, out_flags);
    /* SQLite calls xClose whenever pMethods is set, even after a failed open; mirror the real file. */
    const sqlite3_io_methods *real_methods = wrapper->real->pMethods;
    if (real_methods == NULL) {
        file->pMethods = NULL;
    } else {
        int version = real_methods->iVersion < 1 ? 1 : (real_methods->iVersion > 3 ? 3 : real_methods->iVersion);
        file->pMethods = &faults_methods[version];
    }
    return rc;
}

/* Everything but xOpen goes straight to the real VFS, called with its own pointer. */
static int f_delete(sqlite3_vfs *vfs, const char *name, int sync_dir) {
    return owner_of(vfs)->real->xDelete(owner_of(vfs)->real, name, sync_dir);
}
static int f_access(sqlite3_vfs *vfs, const char *name, int flags, int *out) {
    return owner_of(vfs)->real->xAccess(owner_of(vfs)->real, name, flags, out);
}
static int f_full_pathname(sqlite3_vfs *vfs, const char *name, int size, char *out) {
    return owner_of(vfs)->real->xFullPathname(owner_of(vfs)->real, name, size, out);
}
static void *f_dl_open(sqlite3_vfs *vfs, const char *name) {
    return owner_of(vfs)->real->xDlOpen(owner_of(vfs)->real, name);
}
static void f_dl_error(sqlite3_vfs *vfs, int size, char *out) {
    owner_of(vfs)->real->xDlError(owner_of(vfs)->real, size, out);
}
static void (*f_dl_sym(sqlite3_vfs *vfs, void *library, const char *symbol))(void) {
    return owner_of(vfs)->real->xDlSym(owner_of(vfs)->real, library, symbol);
}
static void f_dl_close(sqlite3_vfs *vfs, void *library) { owner_of(vfs)->real->xDlClose(owner_of(vfs)->real, library); }
static int f_randomness(sqlite3_vfs *vfs, int size, char *out) {
    return owner_of(vfs)->real->xRandomness(owner_of(vfs)->real, size, out);
}
static int f_sleep(sqlite3_vfs *vfs, int microseconds) {
    return owner_of(vfs)->real->xSleep(owner_of(vfs)->real, microseconds);
}
static int f_current_time(sqlite3_vfs *vfs, double *out) {
    return owner_of(vfs)->real->xCurrentTime(owner_of(vfs)->real, out);
}
static int f_get_last_error(sqlite3_vfs *vfs, int size, char *out) {
    return owner_of(vfs)->real->xGetLastError(owner_of(vfs)->real, size, out);
}
static int f_current_time_int64(sqlite3_vfs *vfs, sqlite3_int64 *out) {
    return owner_of(vfs)->real->xCurrentTimeInt64(owner_of(vfs)->real, out);
}

sqlite_faults *sqlite_faults_register(const char *name) {
    if (sqlite3_initialize() != SQLITE_OK) return NULL;
    sqlite3_vfs *real = sqlite3_vfs_find(NULL);
    if (real == NULL || real->iVersion < 2) return NULL;
    sqlite_faults *faults = calloc(1, sizeof *faults);
    if (faults == NULL) return NULL;
    faults->name = strdup(name);
    faults->real = real;
    faults->vfs = (sqlite3_vfs){
        .iVersion = 2,
        .szOsFile = (int)sizeof(faults_file) + real->szOsFile,
        .mxPathname = real->mxPathname,
        .zName = faults->name,
        .pAppData = faults,
        .xOpen = f_open,
        .xDelete = f_delete,
        .xAccess = f_access,
        .xFullPathname = f_full_pathname,
        .xDlOpen = f_dl_open,
        .xDlError = f_dl_error,
        .xDlSym = f_dl_sym,
        .xDlClose = f_dl_close,
        .xRandomness = f_randomness,
        .xSleep = f_sleep,
        .xCurrentTime = f_current_time,
        .xGetLastError = f_get_last_error,
        .xCurrentTimeInt64 = f_current_time_int64,
    };
    if (faults->name == NULL || sqlite3_vfs_register(&faults->vfs, 0) != SQLITE_OK) {
        free(faults->name);
        free(faults);
        return NULL;
    }
    return faults;
}

void sqlite_faults_unregister(sqlite_faults *faults) {
    sqlite3_vfs_unregister(&faults->vfs);
    free(faults->name);
    free(faults);
}

void sqlite_faults_arm(sqlite_faults *faults, sqlite_faults_operation operation, long succeeding_calls,
                       int result_code, int persistent) {
    struct fault *fault = &faults->faults[operation];
    atomic_store(&fault->armed, 0);
    atomic_store(&fault->remaining, succeeding_calls);
    atomic_store(&fault->result_code, result_code);
    atomic_store(&fault->persistent, persistent);
    atomic_store(&fault->armed, 1);
}

void sqlite_faults_clear(sqlite_faults *faults) {
    for (int operation = 0; operation < 3; operation++) atomic_store(&faults->faults[operation].armed, 0);
}

long sqlite_faults_calls(sqlite_faults *faults, sqlite_faults_operation operation) {
    return atomic_load(&faults->faults[operation].calls);
}

long sqlite_faults_injected(sqlite_faults *faults) { return atomic_load(&faults->injected); }
