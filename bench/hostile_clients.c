/*
 * hostile_clients: a well-behaved client's latency while other clients attack billingd, side by side
 * in one run (issue 15; docs/RELIABILITY.md, "A good client beside hostile ones"; `make bench-hostile`).
 *
 *   hostile_clients --billingd PATH [options]    starts PATH on a fresh temporary folder, stops it at the end
 *   hostile_clients --socket PATH [options]      uses a billingd already listening on PATH
 *
 * A good client keeps one connection and sends grpc.health.v1.Health/Check at a fixed, modest rate
 * (--rate, one call at a time), timing each from its write to its reply. It does so with nothing else
 * running (the baseline), beside a process that only burns a core (the control: what any busy
 * neighbour costs on a small machine), and beside each attack in turn; and once more at the end, to
 * show how far the baseline itself drifts. With --rounds N the whole sequence runs N times and each
 * phase's percentiles pool its calls from every round. For every phase it prints the good client's p50
 * and p99, the p99's ratio to the baseline's, the server's resident memory peak (VmHWM, reset before
 * the phase) and thread count peak, the server's and the attacker's CPU, and whether a new connection
 * is still answered afterwards (and whether any of the attack's sockets were left open on the server's
 * side once the attackers had gone).
 *
 * Each attacker is one process with one thread around epoll, like the control burner: at most one
 * core of its own. (That does not make the burner a fair control: an attack's sockets also cost the
 * kernel work, and serving it costs a server CPU; --decoy, below, measures that share.) Every attack
 * is bounded: a fixed number of connections (slots), each reconnected when the server closes it,
 * until the phase ends.
 *
 * With --decoy (and --billingd) a second billingd runs beside the first, and every attack runs twice a
 * round: once at the server under test, and once at the decoy while the good client still calls the
 * server under test. The server under test sees nothing of the second run, so the good client's p99
 * there is what the attack costs the machine (the kernel's work for the attacker's sockets, the
 * scheduler), which no server can take back; the first run's excess over it is the server's doing.
 *
 * The server is found by the good client's connection (SO_PEERCRED gives its pid), so its memory,
 * threads, CPU and sockets are read from /proc whether this program started it or not.
 *
 * Layout: helpers · wire format · server under test · the good client · attacks · phases · main.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PREFACE_BYTES 8
#define HEADER_BYTES 10
#define TYPE_REQUEST 0x01
#define TYPE_RESPONSE 0x02
#define TYPE_GOAWAY 0x05

#define MAX_FRAME_BYTES (4u << 20)          /* billingd's default frame limit */
#define GOOD_CALL_TIMEOUT_NS 2000000000ull  /* a good call slower than this counts as failed */
#define MAX_SLOTS 4096                      /* connections one attacker holds at most */
#define SCRATCH_BYTES (24 * 1024)           /* per slot: frames built for it (256 requests fit) */
#define RANDOM_BYTES (1u << 20)             /* garbage and skipped payloads come from here */
#define SAMPLE_EVERY_NS 10000000ull         /* /proc is read every 10 ms during a phase */
#define SETTLE_SECONDS 10.0                 /* after an attack, how long sockets may take to close */

static const uint8_t PREFACE[PREFACE_BYTES] = {'B', 'R', 'P', 'C', 0x00, 0x01, 0x00, 0x00};

/* ------------------------------------------------------------------------------------------------
 * Small helpers
 * --------------------------------------------------------------------------------------------- */

static void die(const char *format, ...)
{
    va_list args;
    va_start(args, format);
    fputs("hostile_clients: ", stderr);
    vfprintf(stderr, format, args);
    fputc('\n', stderr);
    va_end(args);
    exit(1);
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void sleep_until(uint64_t deadline_ns)
{
    struct timespec ts = {.tv_sec = (time_t)(deadline_ns / 1000000000u), .tv_nsec = (long)(deadline_ns % 1000000000u)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {}
}

static void sleep_seconds(double seconds) { sleep_until(now_ns() + (uint64_t)(seconds * 1e9)); }

static void put_u32be(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t get_u32be(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static uint64_t next_random(uint64_t *state) /* xorshift64* */
{
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    return *state * 0x2545F4914F6CDD1DULL;
}

static void ensure_fd_limit(rlim_t needed)
{
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= needed) return;
    limit.rlim_cur = needed <= limit.rlim_max ? needed : limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
}

/* A non-blocking connection to PATH, or -1 with errno (EAGAIN when the server's backlog is full). */
static int connect_to(const char *path, bool blocking)
{
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof address.sun_path) die("socket path too long: %s", path);
    strcpy(address.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | (blocking ? 0 : SOCK_NONBLOCK), 0);
    if (fd < 0) return -1;
    if (connect(fd, (struct sockaddr *)&address, sizeof address) != 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

/* ------------------------------------------------------------------------------------------------
 * Wire format (docs/PROTOCOL.md §2–§7): just what the good client and the attacks send and read
 * --------------------------------------------------------------------------------------------- */

static void encode_header(uint8_t *p, uint32_t length, uint32_t stream_id, uint8_t type)
{
    put_u32be(p, length);
    put_u32be(p + 4, stream_id);
    p[8] = type;
    p[9] = 0;
}

static size_t put_varint(uint8_t *p, uint64_t value)
{
    size_t n = 0;
    while (value >= 0x80) {
        p[n++] = (uint8_t)(value | 0x80);
        value >>= 7;
    }
    p[n++] = (uint8_t)value;
    return n;
}

static size_t put_string_field(uint8_t *p, uint32_t field, const char *text)
{
    size_t length = strlen(text), n = put_varint(p, (uint64_t)field << 3 | 2);
    n += put_varint(p + n, length);
    memcpy(p + n, text, length);
    return n + length;
}

/* A REQUEST frame (header and `Request` envelope) into p; returns its size. p needs 64 bytes plus
 * the service and method names. */
static size_t encode_request(uint8_t *p, uint32_t stream_id, const char *service, const char *method,
                             uint64_t timeout_ns, uint32_t stream_window)
{
    uint8_t *body = p + HEADER_BYTES;
    size_t n = put_string_field(body, 1, service);
    n += put_string_field(body + n, 2, method);
    body[n++] = 4 << 3; /* timeout_nano, varint */
    n += put_varint(body + n, timeout_ns);
    if (stream_window > 0) {
        body[n++] = 6 << 3; /* stream_window, varint */
        n += put_varint(body + n, stream_window);
    }
    encode_header(p, (uint32_t)n, stream_id, TYPE_REQUEST);
    return HEADER_BYTES + n;
}

static bool get_varint(const uint8_t *p, size_t length, size_t *at, uint64_t *value)
{
    *value = 0;
    for (int shift = 0; shift < 64 && *at < length; shift += 7) {
        uint8_t byte = p[(*at)++];
        *value |= (uint64_t)(byte & 0x7F) << shift;
        if (byte < 0x80) return true;
    }
    return false;
}

/* What a RESPONSE to Health/Check says: its status code (0 when the status is absent) and whether its
 * payload is HealthCheckResponse{SERVING} (`08 01`). False when the bytes are not a Response. */
static bool read_check_response(const uint8_t *p, size_t length, uint64_t *code, bool *serving)
{
    *code = 0;
    *serving = false;
    size_t at = 0;
    while (at < length) {
        uint64_t tag, size;
        if (!get_varint(p, length, &at, &tag) || (tag & 7) != 2) return false;
        if (!get_varint(p, length, &at, &size) || size > length - at) return false;
        if (tag >> 3 == 1) { /* status */
            size_t inner = at;
            uint64_t inner_tag;
            if (get_varint(p, at + size, &inner, &inner_tag) && inner_tag == (1 << 3))
                get_varint(p, at + size, &inner, code);
        } else if (tag >> 3 == 2) { /* payload */
            *serving = size == 2 && p[at] == 0x08 && p[at + 1] == 0x01;
        }
        at += size;
    }
    return true;
}

/* The frames in a byte stream, payloads skipped, for attackers that only count the answers. */
struct frame_counter {
    uint8_t head[HEADER_BYTES];
    size_t head_length;
    size_t preface_left;
    uint64_t payload_left;
    uint8_t type;
};

/* Feeds bytes; returns how many RESPONSE frames ended in them. */
static uint32_t count_responses(struct frame_counter *c, const uint8_t *data, size_t length)
{
    uint32_t responses = 0;
    size_t at = 0;
    while (at < length) {
        if (c->preface_left > 0) {
            size_t take = length - at < c->preface_left ? length - at : c->preface_left;
            c->preface_left -= take;
            at += take;
        } else if (c->payload_left > 0) {
            size_t take = length - at < c->payload_left ? length - at : (size_t)c->payload_left;
            c->payload_left -= take;
            at += take;
            if (c->payload_left == 0 && c->type == TYPE_RESPONSE) responses++;
        } else {
            size_t take = HEADER_BYTES - c->head_length;
            if (take > length - at) take = length - at;
            memcpy(c->head + c->head_length, data + at, take);
            c->head_length += take;
            at += take;
            if (c->head_length < HEADER_BYTES) break;
            c->head_length = 0;
            c->type = c->head[8];
            c->payload_left = get_u32be(c->head);
            if (c->payload_left == 0 && c->type == TYPE_RESPONSE) responses++;
        }
    }
    return responses;
}

/* ------------------------------------------------------------------------------------------------
 * The server under test: started here or found by its socket; read from /proc
 * --------------------------------------------------------------------------------------------- */

struct server {
    const char *socket_path;
    pid_t pid;             /* from SO_PEERCRED */
    pid_t child;           /* > 0 when this program started it */
    char folder[64];       /* its temporary folder, when started here */
};

static pid_t start_billingd(const char *binary, const char *folder, uint32_t max_connections, const char *log_level,
                            char **extra, int extra_count)
{
    char socket_path[128], database[128], log_path[128], connections[16];
    snprintf(socket_path, sizeof socket_path, "%s/billingd.sock", folder);
    snprintf(database, sizeof database, "%s/billing.sqlite3", folder);
    snprintf(log_path, sizeof log_path, "%s/billingd.log", folder);
    snprintf(connections, sizeof connections, "%u", max_connections);
    pid_t pid = fork();
    if (pid < 0) die("fork: %s", strerror(errno));
    if (pid == 0) {
        int log = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
        if (log < 0 || null < 0) _exit(127);
        dup2(null, STDOUT_FILENO);
        dup2(log, STDERR_FILENO);
        char *fixed[] = {(char *)binary, "--socket", socket_path, "--database", database, "--metrics-socket", "",
                         "--seller-name", "Hostile clients benchmark (not a real seller)", "--seller-address",
                         "1 Benchmark Road", "--seller-tax-id", "NONE", "--invoice-number-prefix", "HOSTILE",
                         "--log-level", (char *)log_level, "--max-connections", connections};
        size_t fixed_count = sizeof fixed / sizeof fixed[0];
        char **arguments = calloc(fixed_count + (size_t)extra_count + 1, sizeof *arguments);
        if (arguments == NULL) _exit(127);
        memcpy(arguments, fixed, sizeof fixed);
        for (int i = 0; i < extra_count; i++) arguments[fixed_count + (size_t)i] = extra[i];
        execv(binary, arguments);
        _exit(127);
    }
    return pid;
}

/* A line of /proc/PID/status, as a number ("VmRSS:", "VmHWM:", "Threads:"); -1 if unreadable. */
static long proc_status(pid_t pid, const char *key)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *file = fopen(path, "r");
    if (file == NULL) return -1;
    long value = -1;
    size_t key_length = strlen(key);
    while (fgets(line, sizeof line, file) != NULL) {
        if (strncmp(line, key, key_length) == 0) {
            value = strtol(line + key_length, NULL, 10);
            break;
        }
    }
    fclose(file);
    return value;
}

/* CPU time the process has used, user and system, in seconds. */
static double proc_cpu_seconds(pid_t pid)
{
    char path[64], text[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *file = fopen(path, "r");
    if (file == NULL) return 0;
    size_t n = fread(text, 1, sizeof text - 1, file);
    fclose(file);
    text[n] = '\0';
    char *after_name = strrchr(text, ')'); /* the command name may hold spaces */
    if (after_name == NULL) return 0;
    unsigned long user = 0, system = 0;
    /* Fields 3..13 skipped, then utime (14) and stime (15). */
    sscanf(after_name + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &user, &system);
    return (double)(user + system) / (double)sysconf(_SC_CLK_TCK);
}

/* The server's open sockets: its listener and its connections (not its files and event descriptors). */
static int proc_open_sockets(pid_t pid)
{
    char path[64], entry_path[320], target[64];
    snprintf(path, sizeof path, "/proc/%d/fd", pid);
    DIR *folder = opendir(path);
    if (folder == NULL) return -1;
    int sockets = 0;
    struct dirent *entry;
    while ((entry = readdir(folder)) != NULL) {
        snprintf(entry_path, sizeof entry_path, "%s/%s", path, entry->d_name);
        ssize_t n = readlink(entry_path, target, sizeof target - 1);
        if (n > 7 && strncmp(target, "socket:", 7) == 0) sockets++;
    }
    closedir(folder);
    return sockets;
}

/* The machine's load average over the last minute: other work running beside the benchmark. */
static double load_average(void)
{
    double load = -1;
    FILE *file = fopen("/proc/loadavg", "r");
    if (file == NULL) return load;
    if (fscanf(file, "%lf", &load) != 1) load = -1;
    fclose(file);
    return load;
}

/* Resets the kernel's resident high-water mark, so that VmHWM is this phase's peak (Linux ≥ 4.0). */
static bool reset_peak_rss(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/clear_refs", pid);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return false;
    bool done = write(fd, "5", 1) == 1;
    close(fd);
    return done;
}

/* Peaks read every 10 ms while a phase runs, beside VmHWM (exact) when the kernel lets it be reset. */
struct sampler {
    pid_t pid;
    atomic_bool sampling;
    atomic_bool stop;
    atomic_long peak_rss_kib;
    atomic_long peak_threads;
};

static void *sample_server(void *argument)
{
    struct sampler *s = argument;
    while (!atomic_load(&s->stop)) {
        if (atomic_load(&s->sampling)) {
            long rss = proc_status(s->pid, "VmRSS:"), threads = proc_status(s->pid, "Threads:");
            if (rss > atomic_load(&s->peak_rss_kib)) atomic_store(&s->peak_rss_kib, rss);
            if (threads > atomic_load(&s->peak_threads)) atomic_store(&s->peak_threads, threads);
        }
        sleep_until(now_ns() + SAMPLE_EVERY_NS);
    }
    return NULL;
}

/* ------------------------------------------------------------------------------------------------
 * The good client: one connection, one Health/Check at a time, at a fixed rate
 * --------------------------------------------------------------------------------------------- */

struct good_client {
    const char *socket_path;
    int fd;
    uint32_t next_stream;
    uint8_t in[16 * 1024];
    size_t in_length;
    bool preface_seen;
    uint32_t reconnects;
};

struct latencies {
    uint32_t *microseconds;
    size_t count, capacity;
    uint32_t failed;     /* timed out, cut off, or not SERVING */
    uint32_t skipped;    /* slots missed because a call took longer than the interval */
};

static bool good_connect(struct good_client *g)
{
    g->fd = connect_to(g->socket_path, true);
    if (g->fd < 0) return false;
    g->next_stream = 1;
    g->in_length = 0;
    g->preface_seen = false;
    return send(g->fd, PREFACE, PREFACE_BYTES, MSG_NOSIGNAL) == PREFACE_BYTES;
}

static void good_reconnect(struct good_client *g)
{
    if (g->fd >= 0) close(g->fd);
    g->reconnects++;
    for (int attempt = 0; attempt < 100 && !good_connect(g); attempt++) sleep_seconds(0.01);
}

/* One Check; its latency from just before the write to just after the read that completes its reply,
 * or 0 when it failed (the connection is then replaced). */
static uint64_t good_call(struct good_client *g)
{
    uint8_t request[128];
    uint32_t stream = g->next_stream;
    g->next_stream += 2;
    size_t size = encode_request(request, stream, "grpc.health.v1.Health", "Check", GOOD_CALL_TIMEOUT_NS, 0);
    uint64_t sent = now_ns(), deadline = sent + GOOD_CALL_TIMEOUT_NS;
    if (g->fd < 0 || send(g->fd, request, size, MSG_NOSIGNAL) != (ssize_t)size) goto failed;
    for (;;) {
        /* Frames already read first: the preface, then any answers. */
        if (!g->preface_seen && g->in_length >= PREFACE_BYTES) {
            if (memcmp(g->in, PREFACE, PREFACE_BYTES) != 0) goto failed;
            memmove(g->in, g->in + PREFACE_BYTES, g->in_length - PREFACE_BYTES);
            g->in_length -= PREFACE_BYTES;
            g->preface_seen = true;
        }
        while (g->preface_seen && g->in_length >= HEADER_BYTES) {
            uint32_t length = get_u32be(g->in);
            if (length > sizeof g->in - HEADER_BYTES) goto failed;
            if (g->in_length < HEADER_BYTES + length) break;
            uint32_t frame_stream = get_u32be(g->in + 4);
            uint8_t type = g->in[8];
            uint64_t code = 0;
            bool serving = false, mine = type == TYPE_RESPONSE && frame_stream == stream;
            if (mine && !read_check_response(g->in + HEADER_BYTES, length, &code, &serving)) goto failed;
            memmove(g->in, g->in + HEADER_BYTES + length, g->in_length - HEADER_BYTES - length);
            g->in_length -= HEADER_BYTES + length;
            if (type == TYPE_GOAWAY) goto failed;
            if (mine) {
                uint64_t latency = now_ns() - sent;
                return code == 0 && serving ? (latency > 0 ? latency : 1) : 0;
            }
        }
        uint64_t now = now_ns();
        if (now >= deadline) goto failed;
        struct pollfd wait = {.fd = g->fd, .events = POLLIN};
        if (poll(&wait, 1, (int)((deadline - now) / 1000000u) + 1) <= 0) continue;
        ssize_t n = read(g->fd, g->in + g->in_length, sizeof g->in - g->in_length);
        if (n <= 0) goto failed;
        g->in_length += (size_t)n;
    }
failed:
    good_reconnect(g);
    return 0;
}

/* Calls at `rate` per second until `until`; records the calls from `measure_from` on. A call that
 * overruns its slot makes the next one go at once, and the slots it overran are skipped, not sent in a
 * burst: the latency is that of a health checker, each call timed from its own write. */
static void good_run(struct good_client *g, double rate, uint64_t measure_from, uint64_t until, struct latencies *out)
{
    uint64_t interval = (uint64_t)(1e9 / rate), next = now_ns();
    while (next < until) {
        sleep_until(next);
        uint64_t latency = good_call(g);
        if (next >= measure_from) {
            if (latency == 0) {
                out->failed++;
                latency = GOOD_CALL_TIMEOUT_NS;
            }
            if (out->count < out->capacity) out->microseconds[out->count++] = (uint32_t)(latency / 1000u);
        }
        next += interval;
        uint64_t now = now_ns();
        while (next < now) {
            next += interval;
            if (next >= measure_from) out->skipped++;
        }
    }
}

static int compare_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* Nearest rank: the value at rank ceil(count × parts / whole). */
static uint32_t percentile(const struct latencies *l, size_t parts, size_t whole)
{
    if (l->count == 0) return 0;
    size_t rank = (l->count * parts + whole - 1) / whole;
    return l->microseconds[(rank < 1 ? 1 : rank) - 1];
}

/* A new connection, one Check, SERVING within two seconds: the server still answers. */
static bool answers_a_new_connection(const char *socket_path)
{
    struct good_client probe = {.socket_path = socket_path, .fd = -1};
    if (!good_connect(&probe)) return false;
    uint64_t latency = good_call(&probe);
    if (probe.fd >= 0) close(probe.fd);
    return latency > 0 && probe.reconnects == 0;
}

/* ------------------------------------------------------------------------------------------------
 * Attacks: one process, one thread, up to MAX_SLOTS connections around epoll
 *
 * Every attack is a few callbacks on a slot (one connection): what to send once connected, what to
 * do once everything queued has left (send more, fall silent, or close and start again), and whether
 * to read what the server says. A slot the server closes is reconnected after the attack's delay.
 * --------------------------------------------------------------------------------------------- */

enum next_step { SEND_MORE, GO_QUIET, CLOSE_AND_RECONNECT };

struct slot {
    int fd;
    uint64_t reconnect_at;
    uint32_t index;
    uint32_t sends;                 /* batches queued on this connection so far */
    uint32_t outstanding;           /* calls sent and not yet answered, for attacks that count */
    uint32_t next_stream;
    uint8_t *scratch;               /* frames built for this slot, sent first */
    size_t scratch_length, scratch_sent;
    const uint8_t *shared;          /* then bytes shared by all slots (garbage, big payloads) */
    size_t shared_length, shared_sent;
    struct frame_counter counter;
    bool waits_for_writable;        /* EPOLLOUT is in the interest set */
};

struct attack {
    const char *name;
    const char *what;               /* one line for the table's legend */
    uint32_t slots;
    uint64_t reconnect_delay_ns;
    bool reads;                     /* false: never reads a byte the server sends */
    void (*opened)(struct slot *s);
    enum next_step (*sent)(struct slot *s);
    void (*received)(struct slot *s, const uint8_t *data, size_t length);
};

struct attack_totals {
    uint64_t connections, connect_failures, closed_by_server, bytes_sent, bytes_received, responses;
};

static uint8_t *random_bytes;       /* RANDOM_BYTES of garbage, filled once */
static uint8_t *big_payload;        /* MAX_FRAME_BYTES + 1 bytes, for the frames at and over the limit */
static struct attack_totals totals;
static uint64_t attack_random = 0x9E3779B97F4A7C15ull;
static uint32_t flood_connections = 1024;

static void queue(struct slot *s, const void *bytes, size_t length)
{
    if (s->scratch_length + length > SCRATCH_BYTES) die("internal error: slot scratch overflow");
    memcpy(s->scratch + s->scratch_length, bytes, length);
    s->scratch_length += length;
}

static void queue_shared(struct slot *s, const uint8_t *bytes, size_t length)
{
    s->shared = bytes;
    s->shared_length = length;
    s->shared_sent = 0;
}

static void queue_request(struct slot *s, const char *method, uint32_t stream_window)
{
    uint8_t frame[128];
    uint32_t stream = s->next_stream;
    s->next_stream += 2;
    queue(s, frame, encode_request(frame, stream, "grpc.health.v1.Health", method, 60000000000ull, stream_window));
}

static void queue_garbage(struct slot *s, size_t length)
{
    size_t offset = next_random(&attack_random) % (RANDOM_BYTES - length);
    queue_shared(s, random_bytes + offset, length);
}

static void count_replies(struct slot *s, const uint8_t *data, size_t length)
{
    uint32_t answered = count_responses(&s->counter, data, length);
    totals.responses += answered;
    s->outstanding = answered > s->outstanding ? 0 : s->outstanding - answered;
}

static void discard(struct slot *s, const uint8_t *data, size_t length) { count_replies(s, data, length); }

/* Garbage: random bytes; every other connection sends a valid preface first, so that the bytes reach
 * the frame decoder rather than the preface check. 64 KiB at most per connection, then a new one. */
static void garbage_opened(struct slot *s)
{
    if (s->index % 2 == 0) queue(s, PREFACE, PREFACE_BYTES);
    queue_garbage(s, 4096);
}
static enum next_step garbage_sent(struct slot *s)
{
    if (s->sends >= 16) return CLOSE_AND_RECONNECT;
    queue_garbage(s, 4096);
    return SEND_MORE;
}

/* Half frames then silence: the 100 peers, each declaring a frame at the 4 MiB limit and sending
 * all but its last byte; beside them 100 that send half a frame header. Then nothing. */
static void half_frame_opened(struct slot *s)
{
    uint8_t header[HEADER_BYTES];
    queue(s, PREFACE, PREFACE_BYTES);
    encode_header(header, MAX_FRAME_BYTES, 1, TYPE_REQUEST);
    if (s->index % 2 == 0) {
        queue(s, header, HEADER_BYTES);
        queue_shared(s, big_payload, MAX_FRAME_BYTES - 1);
    } else {
        queue(s, header, HEADER_BYTES / 2);
    }
}
static enum next_step go_quiet(struct slot *s)
{
    (void)s;
    return GO_QUIET;
}

/* Huge declared lengths: half the connections declare a 4 GiB REQUEST and stream garbage into it for
 * good (the server skips it); the others send whole REQUESTs one byte over the limit, one after
 * another, each answered RESOURCE_EXHAUSTED. */
static void huge_opened(struct slot *s)
{
    uint8_t header[HEADER_BYTES];
    queue(s, PREFACE, PREFACE_BYTES);
    if (s->index % 2 == 0) {
        encode_header(header, UINT32_MAX, 1, TYPE_REQUEST);
        queue(s, header, HEADER_BYTES);
        queue_garbage(s, 64 * 1024);
    } else {
        encode_header(header, MAX_FRAME_BYTES + 1, 1, TYPE_REQUEST);
        queue(s, header, HEADER_BYTES);
        queue_shared(s, big_payload, MAX_FRAME_BYTES + 1);
    }
}
static enum next_step huge_sent(struct slot *s)
{
    uint8_t header[HEADER_BYTES];
    if (s->index % 2 == 0) {
        queue_garbage(s, 64 * 1024);
    } else {
        encode_header(header, MAX_FRAME_BYTES + 1, 1, TYPE_REQUEST);
        queue(s, header, HEADER_BYTES);
        queue_shared(s, big_payload, MAX_FRAME_BYTES + 1);
    }
    return SEND_MORE;
}

/* Stream-id reuse: a Watch on stream 1 (it stays in flight), then a Check on stream 1 again — a
 * protocol violation, answered GOAWAY, then a new connection. */
static void reuse_opened(struct slot *s)
{
    queue(s, PREFACE, PREFACE_BYTES);
    s->next_stream = 1;
    queue_request(s, "Watch", 1);
    s->next_stream = 1;
    queue_request(s, "Check", 0);
}

/* Thousands of calls in flight: half the connections hold 256 Watches each (the per-connection limit),
 * the others keep 512 Checks outstanding each, half of which the limit refuses. */
static void in_flight_opened(struct slot *s)
{
    queue(s, PREFACE, PREFACE_BYTES);
    s->next_stream = 1;
    if (s->index % 2 == 0) {
        for (int i = 0; i < 256; i++) queue_request(s, "Watch", 1);
    } else {
        for (int i = 0; i < 256; i++) queue_request(s, "Check", 0);
        s->outstanding = 256;
    }
}
static enum next_step in_flight_sent(struct slot *s)
{
    if (s->index % 2 == 0 || s->outstanding > 512 - 64) return GO_QUIET;
    for (int i = 0; i < 64; i++) queue_request(s, "Check", 0);
    s->outstanding += 64;
    return SEND_MORE;
}

/* Never reads: calls with long made-up method names (each answered UNIMPLEMENTED, naming it) sent as
 * fast as the socket takes them; not one byte of the answers is read. */
static void never_reads_opened(struct slot *s)
{
    queue(s, PREFACE, PREFACE_BYTES);
    s->next_stream = 1;
}
static enum next_step never_reads_sent(struct slot *s)
{
    static char method[201];
    if (method[0] == '\0') memset(method, 'M', 200);
    uint8_t frame[300];
    for (int i = 0; i < 64; i++) {
        uint32_t stream = s->next_stream;
        s->next_stream += 2;
        queue(s, frame, encode_request(frame, stream, "grpc.health.v1.Health", method, 60000000000ull, 0));
    }
    return SEND_MORE;
}

/* Connection flood: more connections than --max-connections, each sends the preface and waits; those
 * the server refuses (GOAWAY, closed) come straight back. */
static void preface_opened(struct slot *s) { queue(s, PREFACE, PREFACE_BYTES); }

/* Churn: connect, ask for a Check, close without reading the answer; again. */
static void churn_opened(struct slot *s)
{
    queue(s, PREFACE, PREFACE_BYTES);
    s->next_stream = 1;
    queue_request(s, "Check", 0);
}
static enum next_step close_at_once(struct slot *s)
{
    (void)s;
    return CLOSE_AND_RECONNECT;
}

static struct attack attacks[] = {
    {"garbage", "random bytes, half after a valid preface; 64 KiB a connection, 16 at a time", 16, 0, true,
     garbage_opened, garbage_sent, discard},
    {"half-frames", "100 peers send 4 MiB - 1 of a 4 MiB frame, 100 half a header; then silence", 200, 100000000, true,
     half_frame_opened, go_quiet, discard},
    {"huge-lengths", "8 stream into a declared 4 GiB frame, 8 send frames 1 byte over the limit", 16, 0, true,
     huge_opened, huge_sent, discard},
    {"stream-id-reuse", "a Watch and a Check on stream 1 (GOAWAY), 16 connections at a time", 16, 0, true,
     reuse_opened, go_quiet, discard},
    {"calls-in-flight", "8 x 256 Watches held, 8 x 512 Checks outstanding (half over the limit)", 16, 0, true,
     in_flight_opened, in_flight_sent, discard},
    {"never-reads", "32 connections send calls as fast as taken and never read the answers", 32, 0, false,
     never_reads_opened, never_reads_sent, discard},
    {"connection-flood", "--flood-connections connections hold the preface; the refused come back", 0, 0, true,
     preface_opened, go_quiet, discard},
    {"churn", "connect, preface and a Check, close without reading; 8 at a time", 8, 0, false,
     churn_opened, close_at_once, discard},
    {"preface-close", "connect, preface, close at once; 8 at a time", 8, 0, false,
     preface_opened, close_at_once, discard},
};
#define ATTACK_COUNT (sizeof attacks / sizeof attacks[0])

static void slot_close(int epoll_fd, struct slot *s, uint64_t delay_ns)
{
    if (s->fd >= 0) {
        epoll_ctl(epoll_fd, EPOLL_CTL_DEL, s->fd, NULL);
        close(s->fd);
    }
    s->fd = -1;
    s->reconnect_at = now_ns() + delay_ns;
}

static void watch_writable(const struct attack *a, int epoll_fd, struct slot *s, bool wanted)
{
    if (s->waits_for_writable == wanted) return;
    struct epoll_event event = {.events = (wanted ? EPOLLOUT : 0) | (a->reads ? EPOLLIN : 0) | EPOLLRDHUP, .data.ptr = s};
    epoll_ctl(epoll_fd, EPOLL_CTL_MOD, s->fd, &event);
    s->waits_for_writable = wanted;
}

static void slot_open(const struct attack *a, const char *socket_path, int epoll_fd, struct slot *s)
{
    s->fd = connect_to(socket_path, false);
    if (s->fd < 0) {
        totals.connect_failures++;
        s->reconnect_at = now_ns() + 1000000; /* the backlog is full: 1 ms */
        return;
    }
    totals.connections++;
    s->sends = 0;
    s->outstanding = 0;
    s->scratch_length = s->scratch_sent = 0;
    s->shared = NULL;
    s->shared_length = s->shared_sent = 0;
    memset(&s->counter, 0, sizeof s->counter);
    s->counter.preface_left = PREFACE_BYTES;
    a->opened(s);
    struct epoll_event event = {.events = (a->reads ? EPOLLIN : 0) | EPOLLRDHUP, .data.ptr = s};
    epoll_ctl(epoll_fd, EPOLL_CTL_ADD, s->fd, &event);
    s->waits_for_writable = false;
}

/* Writes what the slot has queued, asking the attack for more each time it has all left, until the
 * socket is full (then waits for it to be writable), the attack falls quiet, or it closes. */
static void slot_write(const struct attack *a, int epoll_fd, struct slot *s)
{
    for (;;) {
        const uint8_t *bytes;
        size_t *sent, length;
        if (s->scratch_sent < s->scratch_length) {
            bytes = s->scratch + s->scratch_sent, length = s->scratch_length - s->scratch_sent, sent = &s->scratch_sent;
        } else if (s->shared_sent < s->shared_length) {
            bytes = s->shared + s->shared_sent, length = s->shared_length - s->shared_sent, sent = &s->shared_sent;
        } else {
            s->scratch_length = s->scratch_sent = 0;
            s->shared_length = s->shared_sent = 0;
            s->sends++;
            enum next_step next = a->sent(s);
            if (next == CLOSE_AND_RECONNECT) return slot_close(epoll_fd, s, a->reconnect_delay_ns);
            if (next == GO_QUIET && s->scratch_length == 0 && s->shared_length == 0)
                return watch_writable(a, epoll_fd, s, false);
            continue;
        }
        ssize_t n = send(s->fd, bytes, length, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) return watch_writable(a, epoll_fd, s, true);
            totals.closed_by_server++;
            return slot_close(epoll_fd, s, a->reconnect_delay_ns);
        }
        *sent += (size_t)n;
        totals.bytes_sent += (uint64_t)n;
    }
}

/* Runs attack `a` until `until` (or SIGTERM); writes its totals to `report_fd`. Runs in its own process. */
static volatile sig_atomic_t attack_stop;
static void stop_attack(int signal_number)
{
    (void)signal_number;
    attack_stop = 1;
}

static void attack_run(const struct attack *a, const char *socket_path, uint64_t until, int report_fd)
{
    signal(SIGPIPE, SIG_IGN);
    signal(SIGINT, SIG_IGN); /* the parent stops it (SIGTERM), or its deadline */
    signal(SIGTERM, stop_attack);
    uint32_t slot_count = a->slots > 0 ? a->slots : flood_connections;
    if (slot_count > MAX_SLOTS) slot_count = MAX_SLOTS;
    ensure_fd_limit(slot_count + 64);
    struct slot *slots = calloc(slot_count, sizeof *slots);
    uint8_t *scratch = malloc((size_t)slot_count * SCRATCH_BYTES);
    if (slots == NULL || scratch == NULL) die("out of memory for %u slots", slot_count);
    int epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    for (uint32_t i = 0; i < slot_count; i++) {
        slots[i] = (struct slot){.fd = -1, .index = i, .scratch = scratch + (size_t)i * SCRATCH_BYTES};
    }
    uint8_t in[64 * 1024];
    struct epoll_event events[256];
    while (!attack_stop && now_ns() < until) {
        uint64_t now = now_ns(), wake = until;
        for (uint32_t i = 0; i < slot_count; i++) {
            struct slot *s = &slots[i];
            if (s->fd >= 0) continue;
            if (s->reconnect_at <= now) {
                slot_open(a, socket_path, epoll_fd, s);
                if (s->fd >= 0) slot_write(a, epoll_fd, s);
            }
            if (s->fd < 0 && s->reconnect_at < wake) wake = s->reconnect_at;
        }
        now = now_ns();
        int timeout_ms = wake > now ? (int)((wake - now) / 1000000u) : 0;
        if (timeout_ms > 50) timeout_ms = 50;
        int ready = epoll_wait(epoll_fd, events, 256, timeout_ms);
        for (int e = 0; e < ready; e++) {
            struct slot *s = events[e].data.ptr;
            if (s->fd < 0) continue;
            if (events[e].events & EPOLLIN) {
                ssize_t n = read(s->fd, in, sizeof in);
                if (n > 0) {
                    totals.bytes_received += (uint64_t)n;
                    a->received(s, in, (size_t)n);
                } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
                    totals.closed_by_server++;
                    slot_close(epoll_fd, s, a->reconnect_delay_ns);
                    continue;
                }
            } else if (events[e].events & (EPOLLHUP | EPOLLERR | EPOLLRDHUP)) {
                totals.closed_by_server++;
                slot_close(epoll_fd, s, a->reconnect_delay_ns);
                continue;
            }
            /* Writable, or an answer that may let the attack send more (calls-in-flight). */
            if ((events[e].events & EPOLLOUT) || !s->waits_for_writable) slot_write(a, epoll_fd, s);
        }
    }
    if (write(report_fd, &totals, sizeof totals) != sizeof totals) _exit(1);
    _exit(0);
}

/* The control: one process that only burns a core until `until`. */
static void burn_run(uint64_t until, int report_fd)
{
    volatile uint64_t spin = 0;
    while (now_ns() < until) {
        for (int i = 0; i < 100000; i++) spin++;
    }
    struct attack_totals none = {0};
    if (write(report_fd, &none, sizeof none) != sizeof none) _exit(1);
    _exit(0);
}

/* ------------------------------------------------------------------------------------------------
 * Phases: the good client beside nothing, the burner, or one attack
 * --------------------------------------------------------------------------------------------- */

struct options {
    const char *billingd, *socket_path, *log_level;
    char **billingd_flags;      /* after "--": passed to the billingd started here */
    int billingd_flag_count;
    double seconds, warmup, rate;
    uint32_t max_connections, rounds;
    const char *only;           /* comma-separated attack names, or NULL for all */
    bool decoy, json, keep;
};

/* One phase's figures, pooled over the rounds: every good call's latency, the peaks, the sums. */
struct phase_result {
    const char *name;
    struct latencies latencies;         /* all rounds' calls; sorted once they are all in */
    uint32_t p50_us, p99_us, max_us;
    uint32_t reconnects, runs;
    long peak_rss_kib, rss_after_kib, peak_threads;
    double server_cpu, attacker_cpu;    /* cores, summed over the runs (divided by `runs` to print) */
    struct attack_totals attack;
    bool not_answered_after;            /* in any round */
    int sockets_left;                   /* the most attack sockets any round left open on the server */
};

enum phase_kind { PHASE_QUIET, PHASE_BURNER, PHASE_ATTACK, PHASE_ATTACK_ON_DECOY };

/* What atexit stops: the billingds this program started (never in an attacker's process). */
static struct server *cleanup_server, *cleanup_decoy;
static const struct options *cleanup_options;

/* Runs one phase once and adds what it measured to `r`. */
static void run_phase(const struct options *o, struct server *server, const struct server *decoy, struct sampler *sampler,
                      struct good_client *good, enum phase_kind kind, const struct attack *a, struct phase_result *r)
{
    int sockets_before = proc_open_sockets(server->pid);
    bool exact_peak = reset_peak_rss(server->pid);
    atomic_store(&sampler->peak_rss_kib, 0);
    atomic_store(&sampler->peak_threads, 0);
    atomic_store(&sampler->sampling, true);
    double cpu_before = proc_cpu_seconds(server->pid);
    uint64_t started = now_ns(), measure_from = started + (uint64_t)(o->warmup * 1e9),
             until = measure_from + (uint64_t)(o->seconds * 1e9);

    int report[2] = {-1, -1};
    pid_t attacker = -1;
    if (kind != PHASE_QUIET) {
        if (pipe2(report, O_CLOEXEC) != 0) die("pipe: %s", strerror(errno));
        fflush(stdout);
        attacker = fork();
        if (attacker < 0) die("fork: %s", strerror(errno));
        if (attacker == 0) {
            cleanup_server = cleanup_decoy = NULL; /* the servers are the parent's to stop */
            close(good->fd);
            close(report[0]);
            if (kind == PHASE_BURNER) burn_run(until, report[1]);
            attack_run(a, kind == PHASE_ATTACK_ON_DECOY ? decoy->socket_path : server->socket_path, until, report[1]);
        }
        close(report[1]);
    }

    uint32_t reconnects_before = good->reconnects;
    good_run(good, o->rate, measure_from, until, &r->latencies);
    double elapsed = (double)(now_ns() - started) / 1e9;

    if (attacker > 0) {
        struct rusage usage;
        struct attack_totals totals_of_run = {0};
        int status;
        kill(attacker, SIGTERM); /* it stops at the same deadline anyway */
        if (read(report[0], &totals_of_run, sizeof totals_of_run) != sizeof totals_of_run) memset(&totals_of_run, 0, sizeof totals_of_run);
        close(report[0]);
        wait4(attacker, &status, 0, &usage);
        r->attacker_cpu += ((double)usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6 + (double)usage.ru_stime.tv_sec
                            + usage.ru_stime.tv_usec / 1e6) / elapsed;
        r->attack.connections += totals_of_run.connections;
        r->attack.connect_failures += totals_of_run.connect_failures;
        r->attack.closed_by_server += totals_of_run.closed_by_server;
        r->attack.bytes_sent += totals_of_run.bytes_sent;
        r->attack.bytes_received += totals_of_run.bytes_received;
        r->attack.responses += totals_of_run.responses;
    }
    r->server_cpu += (proc_cpu_seconds(server->pid) - cpu_before) / elapsed;
    atomic_store(&sampler->sampling, false);
    long sampled = atomic_load(&sampler->peak_rss_kib), hwm = exact_peak ? proc_status(server->pid, "VmHWM:") : -1;
    if (hwm > r->peak_rss_kib) r->peak_rss_kib = hwm;
    if (sampled > r->peak_rss_kib) r->peak_rss_kib = sampled;
    if (atomic_load(&sampler->peak_threads) > r->peak_threads) r->peak_threads = atomic_load(&sampler->peak_threads);
    r->reconnects += good->reconnects - reconnects_before;
    r->runs++;

    /* Afterwards: a new connection is answered; the attackers' connections are all closed on the
     * server's side too (none left for the idle timeout); memory comes back. */
    if (!answers_a_new_connection(server->socket_path)) r->not_answered_after = true;
    uint64_t settle_until = now_ns() + (uint64_t)(SETTLE_SECONDS * 1e9);
    int sockets_after;
    while ((sockets_after = proc_open_sockets(server->pid)) > sockets_before && now_ns() < settle_until) sleep_seconds(0.05);
    if (sockets_after - sockets_before > r->sockets_left) r->sockets_left = sockets_after - sockets_before;
    sleep_seconds(1);
    r->rss_after_kib = proc_status(server->pid, "VmRSS:");
}

/* The percentiles of all the rounds' calls together. */
static void finish_phase(struct phase_result *r)
{
    struct latencies *l = &r->latencies;
    qsort(l->microseconds, l->count, sizeof *l->microseconds, compare_u32);
    r->p50_us = percentile(l, 50, 100);
    r->p99_us = percentile(l, 99, 100);
    r->max_us = l->count > 0 ? l->microseconds[l->count - 1] : 0;
}

static void print_header(void)
{
    printf("%-24s %7s %8s %6s %8s %9s %9s %7s %6s %6s %8s %9s %s\n", "phase", "p50 us", "p99 us", "p99 x", "max us",
           "RSS peak", "RSS after", "threads", "srv", "atk", "conns", "sent MiB", "after");
}

static void print_row(const struct phase_result *r, uint32_t baseline_p99)
{
    char answered[64];
    snprintf(answered, sizeof answered, "%s%s", r->not_answered_after ? "NOT ANSWERED" : "answered",
             r->sockets_left > 0 ? " SOCKETS LEFT" : "");
    printf("%-24s %7u %8u %6.2f %8u %8.1fM %8.1fM %7ld %5.0f%% %5.0f%% %8llu %9.1f %s", r->name, r->p50_us, r->p99_us,
           baseline_p99 > 0 ? (double)r->p99_us / baseline_p99 : 1.0, r->max_us, r->peak_rss_kib / 1024.0,
           r->rss_after_kib / 1024.0, r->peak_threads, r->server_cpu / r->runs * 100, r->attacker_cpu / r->runs * 100,
           (unsigned long long)r->attack.connections, r->attack.bytes_sent / 1048576.0, answered);
    if (r->latencies.failed > 0 || r->reconnects > 0)
        printf(" (good calls failed: %u, reconnects: %u)", r->latencies.failed, r->reconnects);
    printf("\n");
    fflush(stdout);
}

static void print_json(const struct phase_result *r, uint32_t baseline_p99)
{
    printf("{\"phase\":\"%s\",\"calls\":%zu,\"p50_us\":%u,\"p99_us\":%u,\"max_us\":%u,\"p99_ratio\":%.3f,"
           "\"failed\":%u,\"skipped\":%u,\"reconnects\":%u,\"peak_rss_kib\":%ld,\"rss_after_kib\":%ld,\"peak_threads\":%ld,"
           "\"server_cpu\":%.3f,\"attacker_cpu\":%.3f,\"attack_connections\":%llu,\"attack_connect_failures\":%llu,"
           "\"attack_closed_by_server\":%llu,\"attack_bytes_sent\":%llu,\"attack_bytes_received\":%llu,"
           "\"attack_responses\":%llu,\"answered_after\":%s,\"rounds\":%u,\"sockets_left\":%d}\n",
           r->name, r->latencies.count, r->p50_us, r->p99_us, r->max_us, baseline_p99 > 0 ? (double)r->p99_us / baseline_p99 : 1.0,
           r->latencies.failed, r->latencies.skipped, r->reconnects, r->peak_rss_kib, r->rss_after_kib, r->peak_threads,
           r->server_cpu / r->runs, r->attacker_cpu / r->runs, (unsigned long long)r->attack.connections,
           (unsigned long long)r->attack.connect_failures, (unsigned long long)r->attack.closed_by_server,
           (unsigned long long)r->attack.bytes_sent, (unsigned long long)r->attack.bytes_received,
           (unsigned long long)r->attack.responses, r->not_answered_after ? "false" : "true", r->runs, r->sockets_left);
    fflush(stdout);
}

static bool selected(const struct options *o, const char *name)
{
    if (o->only == NULL) return true;
    size_t length = strlen(name);
    for (const char *p = o->only; (p = strstr(p, name)) != NULL; p += length) {
        bool starts = p == o->only || p[-1] == ',', ends = p[length] == '\0' || p[length] == ',';
        if (starts && ends) return true;
    }
    return false;
}

/* ------------------------------------------------------------------------------------------------
 * Command line
 * --------------------------------------------------------------------------------------------- */

static void usage(FILE *to)
{
    fprintf(to,
            "usage: hostile_clients (--billingd PATH | --socket PATH) [--seconds S] [--rounds N] [--warmup W] [--rate R]\n"
            "                       [--max-connections N] [--flood-connections F] [--log-level L]\n"
            "                       [--attacks a,b,...] [--decoy] [--json] [--keep] [-- BILLINGD-FLAGS...]\n"
            "\n"
            "--billingd PATH  start this billingd on a temporary folder (--max-connections N, default 512,\n"
            "                 --log-level L, default warning, and any flags after --) and stop it at the end;\n"
            "                 --keep keeps the folder (its log, the database)\n"
            "--socket PATH    use the billingd listening there instead\n"
            "--decoy          (with --billingd) start a second billingd, and run every attack once more at it while\n"
            "                 the good client calls the first: what the attack costs the machine, not the server\n"
            "S seconds measured per phase (default 10) after W of warm-up (default 1), each phase once per round\n"
            "(N rounds, default 1; percentiles over all rounds' calls); R good calls a second\n"
            "(default 200); F connections in the flood (default 2 x N; with --socket, set it above the\n"
            "server's --max-connections). Attacks:");
    for (size_t i = 0; i < ATTACK_COUNT; i++) fprintf(to, " %s", attacks[i].name);
    fprintf(to, "\n");
}

static const char *option_value(int argc, char **argv, int *i)
{
    if (*i + 1 >= argc) {
        fprintf(stderr, "hostile_clients: %s needs a value\n", argv[*i]);
        exit(2);
    }
    return argv[++*i];
}

static double parse_number(const char *name, const char *text, double min, double max)
{
    char *end;
    double value = strtod(text, &end);
    if (end == text || *end != '\0' || !(value >= min && value <= max)) {
        fprintf(stderr, "hostile_clients: %s must be a number from %g to %g, not \"%s\"\n", name, min, max, text);
        exit(2);
    }
    return value;
}

static void stop_one_server(struct server *s)
{
    if (s == NULL || s->child <= 0) return;
    kill(s->child, SIGTERM);
    waitpid(s->child, NULL, 0);
    s->child = 0;
    if (!cleanup_options->keep) {
        char command[128];
        snprintf(command, sizeof command, "rm -rf '%s'", s->folder);
        if (system(command) != 0) fprintf(stderr, "hostile_clients: could not remove %s\n", s->folder);
    } else {
        fprintf(stderr, "hostile_clients: kept %s (billingd.log, the database)\n", s->folder);
    }
}

static void stop_server(void)
{
    stop_one_server(cleanup_server);
    stop_one_server(cleanup_decoy);
}

/* Starts a billingd on a temporary folder of its own; `socket_path` (128 bytes) receives its socket's path. */
static void start_server_here(const struct options *o, struct server *s, char *socket_path)
{
    strcpy(s->folder, "/tmp/billing-hostile-XXXXXX");
    if (mkdtemp(s->folder) == NULL) die("mkdtemp: %s", strerror(errno));
    snprintf(socket_path, 128, "%s/billingd.sock", s->folder);
    s->socket_path = socket_path;
    s->child = start_billingd(o->billingd, s->folder, o->max_connections, o->log_level, o->billingd_flags, o->billingd_flag_count);
}

static void on_signal(int signal_number)
{
    (void)signal_number;
    exit(130); /* runs stop_server through atexit */
}

int main(int argc, char **argv)
{
    struct options o = {.seconds = 10, .warmup = 1, .rate = 200, .max_connections = 512, .rounds = 1, .log_level = "warning"};
    bool flood_given = false;
    for (int i = 1; i < argc; i++) {
        const char *name = argv[i];
        if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(name, "--billingd") == 0) {
            o.billingd = option_value(argc, argv, &i);
        } else if (strcmp(name, "--socket") == 0) {
            o.socket_path = option_value(argc, argv, &i);
        } else if (strcmp(name, "--seconds") == 0) {
            o.seconds = parse_number(name, option_value(argc, argv, &i), 0.5, 600);
        } else if (strcmp(name, "--rounds") == 0) {
            o.rounds = (uint32_t)parse_number(name, option_value(argc, argv, &i), 1, 100);
        } else if (strcmp(name, "--warmup") == 0) {
            o.warmup = parse_number(name, option_value(argc, argv, &i), 0, 60);
        } else if (strcmp(name, "--rate") == 0) {
            o.rate = parse_number(name, option_value(argc, argv, &i), 1, 5000);
        } else if (strcmp(name, "--max-connections") == 0) {
            o.max_connections = (uint32_t)parse_number(name, option_value(argc, argv, &i), 16, 100000);
        } else if (strcmp(name, "--flood-connections") == 0) {
            flood_connections = (uint32_t)parse_number(name, option_value(argc, argv, &i), 1, MAX_SLOTS);
            flood_given = true;
        } else if (strcmp(name, "--log-level") == 0) {
            o.log_level = option_value(argc, argv, &i);
        } else if (strcmp(name, "--attacks") == 0) {
            o.only = option_value(argc, argv, &i);
        } else if (strcmp(name, "--decoy") == 0) {
            o.decoy = true;
        } else if (strcmp(name, "--json") == 0) {
            o.json = true;
        } else if (strcmp(name, "--keep") == 0) {
            o.keep = true;
        } else if (strcmp(name, "--") == 0) {
            o.billingd_flags = argv + i + 1;
            o.billingd_flag_count = argc - i - 1;
            break;
        } else {
            fprintf(stderr, "hostile_clients: unknown option %s\n", name);
            usage(stderr);
            return 2;
        }
    }
    if ((o.billingd == NULL) == (o.socket_path == NULL) || (o.decoy && o.billingd == NULL)) {
        usage(stderr);
        return 2;
    }
    if (!flood_given) flood_connections = 2 * o.max_connections > MAX_SLOTS ? MAX_SLOTS : 2 * o.max_connections;
    signal(SIGPIPE, SIG_IGN);
    ensure_fd_limit(MAX_SLOTS + 1024);

    struct server server = {.socket_path = o.socket_path}, decoy = {0};
    static char socket_path[128], decoy_socket_path[128];
    if (o.billingd != NULL) {
        cleanup_options = &o;
        atexit(stop_server);
        signal(SIGINT, on_signal);
        signal(SIGTERM, on_signal);
        start_server_here(&o, &server, socket_path);
        cleanup_server = &server;
        if (o.decoy) {
            start_server_here(&o, &decoy, decoy_socket_path);
            cleanup_decoy = &decoy;
        }
    }

    /* The good client connects first (it waits up to 30 s for a server starting here); its peer's pid is
     * the server's. */
    struct good_client good = {.socket_path = server.socket_path, .fd = -1};
    for (int attempt = 0; !good_connect(&good); attempt++) {
        if (attempt >= 300 || (server.child > 0 && waitpid(server.child, NULL, WNOHANG) != 0))
            die("no billingd answers on %s%s", server.socket_path, server.child > 0 ? " (see its log with --keep)" : "");
        sleep_seconds(0.1);
    }
    struct ucred peer;
    socklen_t peer_size = sizeof peer;
    if (getsockopt(good.fd, SOL_SOCKET, SO_PEERCRED, &peer, &peer_size) != 0) die("SO_PEERCRED: %s", strerror(errno));
    server.pid = peer.pid;
    if (good_call(&good) == 0) die("billingd on %s does not answer Health/Check SERVING", server.socket_path);
    for (int attempt = 0; o.decoy && !answers_a_new_connection(decoy.socket_path); attempt++) {
        if (attempt >= 300 || waitpid(decoy.child, NULL, WNOHANG) != 0)
            die("the decoy billingd does not answer on %s (see its log with --keep)", decoy.socket_path);
        sleep_seconds(0.1);
    }

    random_bytes = malloc(RANDOM_BYTES);
    big_payload = calloc(1, MAX_FRAME_BYTES + 1);
    if (random_bytes == NULL || big_payload == NULL) die("out of memory");
    uint64_t fill = 0x243F6A8885A308D3ull;
    for (size_t i = 0; i < RANDOM_BYTES; i += 8) {
        uint64_t value = next_random(&fill);
        memcpy(random_bytes + i, &value, 8);
    }
    memset(big_payload, 'A', MAX_FRAME_BYTES + 1);

    struct sampler sampler = {.pid = server.pid};
    pthread_t sampling_thread;
    if (pthread_create(&sampling_thread, NULL, sample_server, &sampler) != 0) die("pthread_create failed");

    fprintf(stderr, "billingd pid %d on %s; %u round(s), %g s per phase after %g s of warm-up, good client %g calls/s\n",
            server.pid, server.socket_path, o.rounds, o.seconds, o.warmup, o.rate);
    double load_before = load_average();
    /* Warm-up, not measured: the server's first calls and its start-up upkeep pass. */
    struct latencies warmup = {.capacity = 0};
    good_run(&good, o.rate, UINT64_MAX, now_ns() + 2000000000ull, &warmup);

    /* The phases in their order: a round runs each once; the rounds' calls are pooled, so that what
     * else the machine was doing meanwhile falls on every phase alike. */
    struct phase_result phases[2 * ATTACK_COUNT + 3];
    const struct attack *phase_attack[2 * ATTACK_COUNT + 3];
    enum phase_kind phase_kind[2 * ATTACK_COUNT + 3];
    static char decoy_names[ATTACK_COUNT][40];
    size_t phase_count = 0;
    phases[phase_count] = (struct phase_result){.name = "baseline"}, phase_kind[phase_count++] = PHASE_QUIET;
    phases[phase_count] = (struct phase_result){.name = "cpu-burner"}, phase_kind[phase_count++] = PHASE_BURNER;
    for (size_t i = 0; i < ATTACK_COUNT; i++) {
        if (!selected(&o, attacks[i].name)) continue;
        phase_attack[phase_count] = &attacks[i];
        phases[phase_count] = (struct phase_result){.name = attacks[i].name}, phase_kind[phase_count++] = PHASE_ATTACK;
        if (!o.decoy) continue;
        snprintf(decoy_names[i], sizeof decoy_names[i], "%s at decoy", attacks[i].name);
        phase_attack[phase_count] = &attacks[i];
        phases[phase_count] = (struct phase_result){.name = decoy_names[i]}, phase_kind[phase_count++] = PHASE_ATTACK_ON_DECOY;
    }
    phases[phase_count] = (struct phase_result){.name = "baseline-again"}, phase_kind[phase_count++] = PHASE_QUIET;
    for (size_t p = 0; p < phase_count; p++) {
        struct latencies *l = &phases[p].latencies;
        l->capacity = (size_t)o.rounds * ((size_t)(o.rate * o.seconds) + 16);
        l->microseconds = calloc(l->capacity, sizeof *l->microseconds);
        if (l->microseconds == NULL) die("out of memory");
    }
    for (uint32_t round = 1; round <= o.rounds; round++) {
        for (size_t p = 0; p < phase_count; p++) {
            fprintf(stderr, "\rround %u of %u: %-24s", round, o.rounds, phases[p].name);
            run_phase(&o, &server, &decoy, &sampler, &good, phase_kind[p], phase_attack[p], &phases[p]);
        }
    }
    fprintf(stderr, "\n");
    double load_after = load_average();
    for (size_t p = 0; p < phase_count; p++) finish_phase(&phases[p]);

    uint32_t reference = phases[0].p99_us;
    double worst = 0;
    const char *worst_name = "none";
    if (!o.json) print_header();
    for (size_t p = 0; p < phase_count; p++) {
        o.json ? print_json(&phases[p], reference) : print_row(&phases[p], reference);
        double ratio = reference > 0 ? (double)phases[p].p99_us / reference : 0;
        if (phase_kind[p] == PHASE_ATTACK && ratio > worst) worst = ratio, worst_name = phases[p].name;
    }
    struct phase_result *burner = &phases[1], *again = &phases[phase_count - 1];

    atomic_store(&sampler.stop, true);
    pthread_join(sampling_thread, NULL);
    if (o.json) printf("{\"load_average_before\":%.2f,\"load_average_after\":%.2f,\"cores\":%ld}\n", load_before, load_after,
                       sysconf(_SC_NPROCESSORS_ONLN));
    if (!o.json) {
        printf("\nworst attack: %s at %.2fx the baseline p99 (the burner: %.2fx; the baseline again: %.2fx)\n", worst_name,
               worst, reference > 0 ? (double)burner->p99_us / reference : 0, reference > 0 ? (double)again->p99_us / reference : 0);
        printf("machine load average (1 min, %ld cores): %.2f before, %.2f after; anything above what this\n"
               "  run adds (about 1 to 2) is other work, and noise in the figures\n",
               sysconf(_SC_NPROCESSORS_ONLN), load_before, load_after);
        if (o.decoy) {
            printf("\neach attack's p99 against the same attack's at the decoy (what it costs beyond the machine's share):\n");
            for (size_t p = 0; p + 1 < phase_count; p++)
                if (phase_kind[p] == PHASE_ATTACK && phase_kind[p + 1] == PHASE_ATTACK_ON_DECOY && phases[p + 1].p99_us > 0)
                    printf("  %-17s %.2fx\n", phases[p].name, (double)phases[p].p99_us / phases[p + 1].p99_us);
        }
        printf("\nattacks:\n");
        for (size_t i = 0; i < ATTACK_COUNT; i++)
            if (selected(&o, attacks[i].name)) printf("  %-17s %s\n", attacks[i].name, attacks[i].what);
        printf("columns: good client p50/p99/max over %u round(s) of %g s (one Check at a time, %g/s, each timed from its\n"
               "  write to its reply); p99 x = ratio to the baseline's p99; RSS peak = server VmHWM, reset before each\n"
               "  phase; RSS after = once the attack's sockets closed, plus 1 s (last round); threads = peak;\n"
               "  srv/atk = CPU of server/attacker (100%% = a core); conns = connections the attacker opened (all\n"
               "  rounds); after = a new connection answered SERVING after every round. \"at decoy\": the attack went to a\n"
               "  second billingd (--decoy) while the good client called the first, whose figures these are.\n",
               o.rounds, o.seconds, o.rate);
    }
    return 0;
}
