/*
 * fsync_baseline: the disk's own latency for one durable append, the unit of a WAL commit.
 *
 *   fsync_baseline PATH [--bytes B] [--seconds S] [--json]
 *
 * Creates PATH (it must not exist), then for S seconds (default 3) appends B bytes (default 4096, a
 * WAL frame of a 4 KiB page) with write() and makes them durable with fsync(), one after another,
 * timing each append + fsync. Prints appends per second and the latency percentiles, then deletes
 * PATH. Put PATH on the disk the store uses (the bench puts it beside billingd's database), or the
 * figure is another disk's.
 *
 * This is the floor under every durable commit: SQLite in WAL mode with synchronous=FULL appends its
 * frames and syncs the WAL once per transaction. A service whose commit p99 is near this p99 waits for
 * the disk, not for itself.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "latency.h"

#define MAX_BYTES (1u << 20)
#define MAX_SECONDS 3600.0
#define MAX_LATENCY_SAMPLES (1u << 20) /* 4 MiB of samples; reservoir-sampled beyond that */

static const char *file_path; /* set once PATH is ours, so that every exit removes it */

static void die(const char *format, ...)
{
    va_list args;
    va_start(args, format);
    fputs("fsync_baseline: ", stderr);
    vfprintf(stderr, format, args);
    fputc('\n', stderr);
    va_end(args);
    if (file_path) unlink(file_path);
    exit(1);
}

/* Ctrl-C ends the run early but still reports and removes the file. */
static volatile sig_atomic_t stop_requested;

static void request_stop(int signal_number)
{
    (void)signal_number;
    stop_requested = 1;
}

static void usage(FILE *to)
{
    fprintf(to, "usage: fsync_baseline PATH [--bytes B] [--seconds S] [--json]\n"
                "\n"
                "PATH must not exist; it is deleted at the end. defaults: --bytes 4096, --seconds 3\n");
}

static void usage_error(const char *format, ...)
{
    va_list args;
    va_start(args, format);
    fputs("fsync_baseline: ", stderr);
    vfprintf(stderr, format, args);
    fputc('\n', stderr);
    va_end(args);
    usage(stderr);
    exit(2);
}

/* write() the whole block: a regular file takes it in one call, but nothing promises that. */
static void append(int fd, const uint8_t *block, size_t size)
{
    size_t written = 0;
    while (written < size) {
        ssize_t n = write(fd, block + written, size - written);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) die("write %s: %s", file_path, n < 0 ? strerror(errno) : "wrote nothing");
        written += (size_t)n;
    }
}

int main(int argc, char **argv)
{
    const char *path = NULL;
    bool json = false;
    long bytes = 4096;
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
        } else if (strcmp(argument, "--bytes") == 0) {
            bytes = value ? strtol(value, &end, 10) : 0;
            if (!value || end == value || *end != '\0' || bytes < 1 || bytes > (long)MAX_BYTES)
                usage_error("--bytes must be a whole number from 1 to %u", MAX_BYTES);
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
    if (path == NULL) usage_error("the file PATH is missing");

    struct sigaction action = {.sa_handler = request_stop};
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGTERM, &action, NULL);

    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) {
        fprintf(stderr, "fsync_baseline: creating %s: %s (it must not exist yet)\n", path, strerror(errno));
        return 1;
    }
    file_path = path;
    /* The file's own creation is made durable before the clock starts, so the first sync is an append's. */
    if (fsync(fd) != 0) die("fsync %s: %s", path, strerror(errno));

    uint8_t *block = malloc((size_t)bytes);
    if (block == NULL) die("out of memory");
    memset(block, 0x5a, (size_t)bytes);
    struct recorder latency;
    if (!recorder_init(&latency, MAX_LATENCY_SAMPLES)) die("out of memory for the latency samples");

    uint64_t start_ns = monotonic_ns(), now = start_ns;
    uint64_t stop_ns = start_ns + (uint64_t)(seconds * 1e9);
    while (now < stop_ns && !stop_requested) {
        uint64_t begun_ns = now;
        append(fd, block, (size_t)bytes);
        if (fsync(fd) != 0) die("fsync %s: %s", path, strerror(errno));
        now = monotonic_ns();
        recorder_add(&latency, now - begun_ns);
    }
    double elapsed = (double)(now - start_ns) / 1e9;

    struct percentiles p = recorder_percentiles(&latency);
    double per_second = (double)latency.count / elapsed;
    if (json)
        printf("{\"name\":\"fsync\",\"bytes\":%ld,\"syncs_per_second\":%.1f,\"p50_us\":%.1f,\"p90_us\":%.1f,"
               "\"p99_us\":%.1f,\"p999_us\":%.1f,\"max_us\":%.1f}\n",
               bytes, per_second, p.p50, p.p90, p.p99, p.p999, p.max);
    else
        printf("fsync: %ld-byte append + fsync, %.0f per second over %.2f s (%llu; %s): p50 %.1f us, p90 %.1f us,"
               " p99 %.1f us, p99.9 %.1f us, max %.1f us%s\n",
               bytes, per_second, elapsed, (unsigned long long)latency.count, path, p.p50, p.p90, p.p99, p.p999,
               p.max, stop_requested ? " [interrupted]" : "");

    recorder_free(&latency);
    free(block);
    close(fd);
    if (unlink(path) != 0) fprintf(stderr, "fsync_baseline: removing %s: %s\n", path, strerror(errno));
    return 0;
}
