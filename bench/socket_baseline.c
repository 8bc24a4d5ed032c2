/*
 * socket_baseline: the raw limit of a Unix stream socket carrying billingd's framing.
 *
 * It speaks the transport of docs/PROTOCOL.md and nothing above it: the 8-byte preface each way
 * ("BRPC", u16 BE version 1, u16 0), then frames of a 10-byte header (payload length u32 BE,
 * stream id u32 BE, type u8, flags u8) and an opaque payload. No protobuf, no routing, no handlers,
 * so whatever billingd costs beyond these figures is the cost of the service itself.
 *
 *   socket_baseline server PATH [--reply-bytes R]
 *       Listens on PATH and answers every REQUEST frame with a RESPONSE frame of R payload bytes
 *       (default 32) on the same stream id. Exits on SIGTERM or SIGINT and removes PATH.
 *
 *   socket_baseline client PATH --connections C --in-flight N --request-bytes Q --reply-bytes R
 *                              --seconds S [--warmup W] [--json]
 *       Opens C connections and keeps N requests of Q payload bytes in flight on each, then reports
 *       completed calls per second and round-trip latency percentiles over S seconds, after W seconds
 *       of warm-up (default 1). R must match the server's --reply-bytes; every reply is checked.
 *
 * Both sides are one thread around epoll, with non-blocking sockets, and work in batches as a
 * well-written server would: read all that is available, handle every complete frame, and send
 * everything that resulted in one send(). Memory is fixed per connection whatever the peer does.
 *
 * Layout: helpers · wire format (shared) · server · latency statistics · client · command line.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define PREFACE_BYTES 8
#define HEADER_BYTES 10
#define TYPE_REQUEST 0x01
#define TYPE_RESPONSE 0x02

/* Limits: billingd's defaults where it has one (docs/PROTOCOL.md §9), so the baseline accepts what
 * billingd accepts and no more. */
#define MAX_PAYLOAD_BYTES (4u << 20)       /* frame payload limit */
#define MAX_CONNECTIONS 4096               /* open connections */
#define MAX_IN_FLIGHT 256                  /* calls in flight per connection */
#define MAX_SECONDS 3600.0

#define READ_CHUNK (64 * 1024)             /* bytes per read() */
#define READS_PER_WAKE 16                  /* then let other connections have a turn */
#define SERVER_OUT_BYTES (256 * 1024)      /* replies buffered per connection before backpressure */
#define MAX_EVENTS 256
#define MAX_LATENCY_SAMPLES (8u << 20)     /* 32 MiB of samples; reservoir-sampled beyond that */
#define CONNECT_RETRY_SECONDS 5.0          /* lets a script start the server and the client at once */

static const uint8_t PREFACE[PREFACE_BYTES] = {'B', 'R', 'P', 'C', 0x00, 0x01, 0x00, 0x00};

/* ------------------------------------------------------------------------------------------------
 * Small helpers
 * --------------------------------------------------------------------------------------------- */

static void die(const char *format, ...)
{
    va_list args;
    va_start(args, format);
    fputs("socket_baseline: ", stderr);
    vfprintf(stderr, format, args);
    fputc('\n', stderr);
    va_end(args);
    exit(1);
}

static void warn(const char *format, ...)
{
    va_list args;
    va_start(args, format);
    fputs("socket_baseline: ", stderr);
    vfprintf(stderr, format, args);
    fputc('\n', stderr);
    va_end(args);
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

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

static void *xmalloc(size_t size)
{
    void *p = malloc(size);
    if (p == NULL) die("out of memory (%zu bytes)", size);
    return p;
}

static void *xcalloc(size_t count, size_t size)
{
    void *p = calloc(count, size);
    if (p == NULL) die("out of memory (%zu × %zu bytes)", count, size);
    return p;
}

/* Every connection is a file descriptor, so C connections need C descriptors plus a few. */
static void ensure_fd_limit(size_t needed)
{
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= needed) return;
    limit.rlim_cur = needed <= limit.rlim_max ? needed : limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur < needed)
        warn("could only raise the open-file limit to %llu; %zu are wanted",
             (unsigned long long)limit.rlim_cur, needed);
}

static void socket_address(const char *path, struct sockaddr_un *address)
{
    memset(address, 0, sizeof *address);
    address->sun_family = AF_UNIX;
    if (strlen(path) >= sizeof address->sun_path)
        die("socket path is %zu bytes; at most %zu fit", strlen(path), sizeof address->sun_path - 1);
    strcpy(address->sun_path, path);
}

/* ------------------------------------------------------------------------------------------------
 * Wire format, shared by both sides
 * --------------------------------------------------------------------------------------------- */

struct frame {
    uint32_t length;
    uint32_t stream_id;
    uint8_t type;
    uint8_t flags;
};

static void encode_header(uint8_t *p, uint32_t length, uint32_t stream_id, uint8_t type)
{
    put_u32be(p, length);
    put_u32be(p + 4, stream_id);
    p[8] = type;
    p[9] = 0; /* flags: version 1 defines none */
}

/*
 * Reads one direction of a connection incrementally: the peer's preface, then frames, in whatever
 * pieces read() returns them. Payload bytes are counted and skipped, never stored: neither side looks
 * inside them, and skipping keeps memory per connection fixed whatever the frame size. They are still
 * copied out of the kernel, which is the cost the baseline is about.
 */
struct reader {
    bool preface_done;
    uint8_t head[HEADER_BYTES]; /* preface or header bytes gathered so far */
    size_t head_length;
    uint32_t payload_left;      /* > 0 while skipping the payload of `frame` */
    struct frame frame;
};

enum read_result { READ_MORE, READ_FRAME, READ_BAD_PREFACE, READ_TOO_LARGE };

/* Consumes input from data[*position..length) until one frame is complete (READ_FRAME, with the frame
 * in *out), the input runs out (READ_MORE) or the peer breaks the protocol. */
static enum read_result reader_next(struct reader *r, const uint8_t *data, size_t length,
                                    size_t *position, struct frame *out)
{
    while (*position < length) {
        size_t available = length - *position;

        if (r->payload_left > 0) {
            size_t skip = available < r->payload_left ? available : r->payload_left;
            *position += skip;
            r->payload_left -= (uint32_t)skip;
            if (r->payload_left == 0) {
                *out = r->frame;
                return READ_FRAME;
            }
            continue;
        }

        size_t wanted = r->preface_done ? HEADER_BYTES : PREFACE_BYTES;
        size_t take = wanted - r->head_length < available ? wanted - r->head_length : available;
        memcpy(r->head + r->head_length, data + *position, take);
        r->head_length += take;
        *position += take;
        if (r->head_length < wanted) break;
        r->head_length = 0;

        if (!r->preface_done) {
            /* Magic and version only: billingd ignores the reserved half too. */
            if (memcmp(r->head, PREFACE, 6) != 0) return READ_BAD_PREFACE;
            r->preface_done = true;
            continue;
        }
        r->frame.length = get_u32be(r->head);
        r->frame.stream_id = get_u32be(r->head + 4);
        r->frame.type = r->head[8];
        r->frame.flags = r->head[9];
        if (r->frame.length > MAX_PAYLOAD_BYTES) return READ_TOO_LARGE;
        if (r->frame.length == 0) {
            *out = r->frame;
            return READ_FRAME;
        }
        r->payload_left = r->frame.length;
    }
    return READ_MORE;
}

/* Bytes waiting to be sent: data[start..end). Fixed capacity; the owner decides what happens when
 * it is full. */
struct outbuf {
    uint8_t *data;
    size_t capacity, start, end;
};

static size_t outbuf_pending(const struct outbuf *b) { return b->end - b->start; }

/* Room for `size` more bytes at the end, or NULL if they do not fit even after compaction. */
static uint8_t *outbuf_reserve(struct outbuf *b, size_t size)
{
    if (b->capacity - b->end < size && b->start > 0) {
        memmove(b->data, b->data + b->start, b->end - b->start);
        b->end -= b->start;
        b->start = 0;
    }
    if (b->capacity - b->end < size) return NULL;
    uint8_t *p = b->data + b->end;
    b->end += size;
    return p;
}

/* Sends the pending bytes with one send(). What the socket does not take stays buffered for EPOLLOUT:
 * a short send means its buffer is full, and trying again at once would only fail. Returns false on a
 * broken connection. */
static bool outbuf_flush(struct outbuf *b, int fd)
{
    while (b->start < b->end) {
        ssize_t n = send(fd, b->data + b->start, b->end - b->start, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
        if (n <= 0) return false;
        b->start += (size_t)n;
        if (b->start < b->end) return true;
    }
    b->start = b->end = 0;
    return true;
}

/* Switches a connection's epoll interest, with a syscall only when it changes. */
static void set_interest(int epoll_fd, int fd, void *owner, uint32_t *current, uint32_t wanted)
{
    if (*current == wanted) return;
    struct epoll_event event = {.events = wanted, .data.ptr = owner};
    if (epoll_ctl(epoll_fd, EPOLL_CTL_MOD, fd, &event) != 0) die("epoll_ctl: %s", strerror(errno));
    *current = wanted;
}

/* ------------------------------------------------------------------------------------------------
 * Server
 * --------------------------------------------------------------------------------------------- */

struct server_connection {
    int fd;
    uint32_t interest;
    struct reader reader;
    /* Input read but not yet answered: non-empty only while backpressure holds it (see answer()). */
    size_t in_position, in_length;
    bool reply_pending;         /* a frame is complete but its reply did not fit yet */
    uint32_t reply_stream_id;
    struct outbuf out;
    struct server_connection *previous, *next;
    uint8_t in[READ_CHUNK];
};

struct server {
    int epoll_fd, listen_fd, signal_fd;
    uint32_t reply_bytes;
    uint8_t *reply_payload;     /* the same R bytes for every reply */
    size_t connection_count;
    struct server_connection *connections;
};

/* epoll user data for the two descriptors that are not connections. */
static char listener_tag, signal_tag;

enum answer_result { ANSWER_DONE, ANSWER_BLOCKED, ANSWER_BROKEN };

/*
 * Queues a reply for every complete frame in the unparsed input. When the output buffer is full and
 * the socket takes no more, it stops with the rest of the input unparsed (ANSWER_BLOCKED); the caller
 * then stops reading until the client has read its replies. That is what bounds the memory of a
 * connection whose client sends without reading.
 */
static enum answer_result answer(struct server *s, struct server_connection *c)
{
    size_t reply_size = HEADER_BYTES + (size_t)s->reply_bytes;
    for (;;) {
        if (c->reply_pending) {
            uint8_t *p = outbuf_reserve(&c->out, reply_size);
            if (p == NULL) {
                if (!outbuf_flush(&c->out, c->fd)) return ANSWER_BROKEN;
                p = outbuf_reserve(&c->out, reply_size);
                if (p == NULL) return ANSWER_BLOCKED;
            }
            encode_header(p, s->reply_bytes, c->reply_stream_id, TYPE_RESPONSE);
            memcpy(p + HEADER_BYTES, s->reply_payload, s->reply_bytes);
            c->reply_pending = false;
        }

        struct frame frame;
        switch (reader_next(&c->reader, c->in, c->in_length, &c->in_position, &frame)) {
        case READ_MORE:
            c->in_position = c->in_length = 0;
            return ANSWER_DONE;
        case READ_BAD_PREFACE:
            warn("closing a connection: it did not start with the BRPC version 1 preface");
            return ANSWER_BROKEN;
        case READ_TOO_LARGE:
            warn("closing a connection: a frame is over the %u-byte limit", MAX_PAYLOAD_BYTES);
            return ANSWER_BROKEN;
        case READ_FRAME:
            /* billingd would answer some of these with GOAWAY; the baseline only needs to refuse them. */
            if (frame.type != TYPE_REQUEST || frame.flags != 0 || frame.stream_id % 2 == 0) {
                warn("closing a connection: frame type %u, flags %u, stream %u is not a valid REQUEST",
                     frame.type, frame.flags, frame.stream_id);
                return ANSWER_BROKEN;
            }
            c->reply_pending = true;
            c->reply_stream_id = frame.stream_id;
            break;
        }
    }
}

static bool is_blocked(const struct server_connection *c)
{
    return c->reply_pending || c->in_position < c->in_length;
}

/* Reading while blocked would buffer without bound, so a blocked connection waits for EPOLLOUT only.
 * Blocked always comes with unsent output (answer() reports it only then, see server_drain()), so
 * there is always something to wait for. */
static void update_server_interest(struct server *s, struct server_connection *c)
{
    uint32_t wanted = (is_blocked(c) ? 0 : EPOLLIN) | (outbuf_pending(&c->out) > 0 ? EPOLLOUT : 0);
    if (wanted == 0) die("internal error: a connection would wait for nothing");
    set_interest(s->epoll_fd, c->fd, c, &c->interest, wanted);
}

/* Sends what the socket takes and, while that makes room, answers the frames held back. Returns false
 * on a broken connection. It stops only when everything is answered or answer() is blocked again, which
 * answer() reports right after a send that left output pending. */
static bool server_drain(struct server *s, struct server_connection *c)
{
    for (;;) {
        if (!outbuf_flush(&c->out, c->fd)) return false;
        if (!is_blocked(c)) return true;
        enum answer_result result = answer(s, c);
        if (result == ANSWER_BROKEN) return false;
        if (result == ANSWER_BLOCKED) return true;
        /* ANSWER_DONE: send the replies it just queued. */
    }
}

static void close_server_connection(struct server *s, struct server_connection *c)
{
    close(c->fd); /* also removes it from the epoll set */
    if (c->previous) c->previous->next = c->next;
    else s->connections = c->next;
    if (c->next) c->next->previous = c->previous;
    s->connection_count--;
    free(c->out.data);
    free(c);
}

/* Returns false if the connection was closed. */
static bool server_readable(struct server *s, struct server_connection *c)
{
    bool blocked = false;
    for (int reads = 0; reads < READS_PER_WAKE; reads++) {
        ssize_t n = read(c->fd, c->in, sizeof c->in);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        if (n <= 0) { /* EOF: the client is done; or a socket error */
            close_server_connection(s, c);
            return false;
        }
        c->in_position = 0;
        c->in_length = (size_t)n;
        enum answer_result result = answer(s, c);
        if (result == ANSWER_BROKEN) {
            close_server_connection(s, c);
            return false;
        }
        if (result == ANSWER_BLOCKED) {
            blocked = true;
            break;
        }
        if ((size_t)n < sizeof c->in) break; /* a short read means the socket is drained */
    }
    /* Blocked means answer() has just found the socket full; sending again now would only fail. */
    if (!blocked && !server_drain(s, c)) {
        close_server_connection(s, c);
        return false;
    }
    update_server_interest(s, c);
    return true;
}

/* Returns false if the connection was closed. */
static bool server_writable(struct server *s, struct server_connection *c)
{
    if (!server_drain(s, c)) {
        close_server_connection(s, c);
        return false;
    }
    update_server_interest(s, c);
    return true;
}

static void server_accept(struct server *s)
{
    for (;;) {
        int fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK) warn("accept: %s", strerror(errno));
            return;
        }
        if (s->connection_count >= MAX_CONNECTIONS) {
            warn("refusing a connection: already %d open", MAX_CONNECTIONS);
            close(fd);
            continue;
        }
        struct server_connection *c = xcalloc(1, sizeof *c);
        c->fd = fd;
        c->out.capacity = SERVER_OUT_BYTES > HEADER_BYTES + s->reply_bytes
                              ? SERVER_OUT_BYTES : HEADER_BYTES + s->reply_bytes;
        c->out.data = xmalloc(c->out.capacity);
        c->next = s->connections;
        if (s->connections) s->connections->previous = c;
        s->connections = c;
        s->connection_count++;

        /* Like billingd: send the preface at once, before reading anything. */
        memcpy(outbuf_reserve(&c->out, PREFACE_BYTES), PREFACE, PREFACE_BYTES);
        c->interest = EPOLLIN;
        struct epoll_event event = {.events = c->interest, .data.ptr = c};
        if (epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, fd, &event) != 0) die("epoll_ctl: %s", strerror(errno));
        if (!outbuf_flush(&c->out, fd)) close_server_connection(s, c);
        else update_server_interest(s, c);
    }
}

/* Binds PATH. A socket file left behind by a server that died is replaced; a live one is not. */
static int listen_on(const char *path)
{
    struct sockaddr_un address;
    socket_address(path, &address);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) die("socket: %s", strerror(errno));
    if (bind(fd, (struct sockaddr *)&address, sizeof address) != 0) {
        if (errno != EADDRINUSE) die("bind %s: %s", path, strerror(errno));
        int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        bool live = probe >= 0 && connect(probe, (struct sockaddr *)&address, sizeof address) == 0;
        int probe_errno = errno;
        if (probe >= 0) close(probe);
        if (live || probe_errno != ECONNREFUSED) die("%s is in use; is another server running?", path);
        if (unlink(path) != 0) die("removing the stale socket %s: %s", path, strerror(errno));
        if (bind(fd, (struct sockaddr *)&address, sizeof address) != 0)
            die("bind %s: %s", path, strerror(errno));
    }
    if (listen(fd, SOMAXCONN) != 0) die("listen: %s", strerror(errno));
    return fd;
}

static int server_run(const char *path, uint32_t reply_bytes)
{
    struct server s = {.reply_bytes = reply_bytes};
    s.reply_payload = xmalloc(reply_bytes > 0 ? reply_bytes : 1);
    memset(s.reply_payload, 0x5a, reply_bytes);
    ensure_fd_limit(MAX_CONNECTIONS + 16);

    /* Signals arrive through a descriptor so that shutdown is one more epoll event, not a handler
     * racing the loop. */
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    if (sigprocmask(SIG_BLOCK, &signals, NULL) != 0) die("sigprocmask: %s", strerror(errno));
    s.signal_fd = signalfd(-1, &signals, SFD_NONBLOCK | SFD_CLOEXEC);
    if (s.signal_fd < 0) die("signalfd: %s", strerror(errno));

    s.listen_fd = listen_on(path);
    s.epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    if (s.epoll_fd < 0) die("epoll_create1: %s", strerror(errno));
    struct epoll_event listen_event = {.events = EPOLLIN, .data.ptr = &listener_tag};
    struct epoll_event signal_event = {.events = EPOLLIN, .data.ptr = &signal_tag};
    if (epoll_ctl(s.epoll_fd, EPOLL_CTL_ADD, s.listen_fd, &listen_event) != 0 ||
        epoll_ctl(s.epoll_fd, EPOLL_CTL_ADD, s.signal_fd, &signal_event) != 0)
        die("epoll_ctl: %s", strerror(errno));
    fprintf(stderr, "socket_baseline: listening on %s, replies of %u bytes\n", path, reply_bytes);

    bool running = true;
    struct epoll_event events[MAX_EVENTS];
    while (running) {
        int count = epoll_wait(s.epoll_fd, events, MAX_EVENTS, -1);
        if (count < 0) {
            if (errno == EINTR) continue;
            die("epoll_wait: %s", strerror(errno));
        }
        for (int i = 0; i < count; i++) {
            void *owner = events[i].data.ptr;
            uint32_t ready = events[i].events;
            if (owner == &signal_tag) {
                running = false; /* the rest of this batch does not matter any more */
                break;
            }
            if (owner == &listener_tag) {
                server_accept(&s);
                continue;
            }
            struct server_connection *c = owner;
            if (ready & EPOLLERR) {
                close_server_connection(&s, c);
                continue;
            }
            if ((ready & EPOLLOUT) && !server_writable(&s, c)) continue;
            if (ready & (EPOLLIN | EPOLLHUP)) {
                if (!is_blocked(c)) server_readable(&s, c);
                else if (ready & EPOLLHUP) close_server_connection(&s, c);
            }
        }
    }

    close(s.listen_fd);
    if (unlink(path) != 0) warn("removing %s: %s", path, strerror(errno));
    while (s.connections) close_server_connection(&s, s.connections);
    close(s.epoll_fd);
    close(s.signal_fd);
    free(s.reply_payload);
    fprintf(stderr, "socket_baseline: stopped; removed %s\n", path);
    return 0;
}

/* ------------------------------------------------------------------------------------------------
 * Latency statistics
 * --------------------------------------------------------------------------------------------- */

/*
 * Per-call latencies in a preallocated array. Up to its capacity every call is kept and the
 * percentiles are exact; past it, reservoir sampling keeps a uniform sample of all calls, so memory
 * stays fixed however long the run. The maximum is always exact.
 */
struct recorder {
    uint32_t *samples;  /* nanoseconds, saturated at ~4.29 s */
    size_t capacity, kept;
    uint64_t calls;
    uint64_t max_ns;
    uint64_t random_state;
};

static uint64_t next_random(uint64_t *state) /* xorshift64* */
{
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    return *state * 0x2545F4914F6CDD1DULL;
}

static void record(struct recorder *r, uint64_t latency_ns)
{
    r->calls++;
    if (latency_ns > r->max_ns) r->max_ns = latency_ns;
    uint32_t sample = latency_ns > UINT32_MAX ? UINT32_MAX : (uint32_t)latency_ns;
    if (r->kept < r->capacity) {
        r->samples[r->kept++] = sample;
    } else {
        uint64_t slot = next_random(&r->random_state) % r->calls;
        if (slot < r->capacity) r->samples[slot] = sample;
    }
}

static int compare_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted samples, in microseconds: the value at rank ceil(count × parts /
 * whole), in integers so that no rounding moves it. */
static double percentile_us(const uint32_t *sorted, size_t count, size_t parts, size_t whole)
{
    size_t rank = (count * parts + whole - 1) / whole;
    if (rank < 1) rank = 1;
    return sorted[rank - 1] / 1000.0;
}

/* ------------------------------------------------------------------------------------------------
 * Client
 * --------------------------------------------------------------------------------------------- */

struct client_options {
    const char *path;
    uint32_t connections, in_flight, request_bytes, reply_bytes;
    double seconds, warmup;
    bool json;
};

/*
 * A slot holds one call in flight. Slot s uses the stream ids 2(kN + s) + 1 for k = 0, 1, 2, …, so
 * the ids are odd, distinct among the calls in flight, and a reply finds its slot by arithmetic.
 */
struct slot {
    uint32_t stream_id;
    bool busy;
    uint64_t sent_ns;
};

struct client_connection {
    int fd;
    uint32_t interest;
    struct reader reader;
    struct outbuf out;        /* sized for the preface and N requests, so it cannot overflow */
    struct slot *slots;
    uint32_t *unstamped;      /* slots queued since the last send(); stamped just before it */
    size_t unstamped_count;
};

struct client {
    const struct client_options *options;
    int epoll_fd;
    uint8_t *request_payload;
    uint64_t measure_from_ns, measure_until_ns;
    struct recorder recorder;
    uint8_t in[READ_CHUNK];   /* one thread, and replies are handled as soon as they are read */
};

static void queue_request(struct client *cl, struct client_connection *c, uint32_t index)
{
    uint32_t n = cl->options->in_flight, q = cl->options->request_bytes;
    struct slot *slot = &c->slots[index];
    if (slot->stream_id == 0 || slot->stream_id > 0xFFFFFFFBu - 2 * n)
        slot->stream_id = 2 * index + 1; /* first call, or wrap before the protocol's highest id */
    else
        slot->stream_id += 2 * n;
    uint8_t *p = outbuf_reserve(&c->out, HEADER_BYTES + (size_t)q);
    if (p == NULL) die("internal error: request buffer overflow"); /* impossible by sizing */
    encode_header(p, q, slot->stream_id, TYPE_REQUEST);
    memcpy(p + HEADER_BYTES, cl->request_payload, q);
    slot->busy = true;
    c->unstamped[c->unstamped_count++] = index;
}

/* Latency runs from just before the send() that carries a request to just after the read() that
 * returns its reply. */
static void client_flush(struct client *cl, struct client_connection *c)
{
    if (c->unstamped_count > 0) {
        uint64_t now = now_ns();
        for (size_t i = 0; i < c->unstamped_count; i++) c->slots[c->unstamped[i]].sent_ns = now;
        c->unstamped_count = 0;
    }
    if (!outbuf_flush(&c->out, c->fd)) die("send: %s", strerror(errno));
    set_interest(cl->epoll_fd, c->fd, c, &c->interest,
                 EPOLLIN | (outbuf_pending(&c->out) > 0 ? EPOLLOUT : 0));
}

static void handle_reply(struct client *cl, struct client_connection *c, const struct frame *frame,
                         uint64_t received_ns)
{
    const struct client_options *o = cl->options;
    if (frame->type != TYPE_RESPONSE || frame->flags != 0)
        die("the server sent frame type %u with flags %u; expected RESPONSE", frame->type, frame->flags);
    if (frame->length != o->reply_bytes)
        die("the server replies with %u bytes, not %u: start it with --reply-bytes %u",
            frame->length, o->reply_bytes, o->reply_bytes);
    uint32_t index = (frame->stream_id >> 1) % o->in_flight;
    struct slot *slot = &c->slots[index];
    if (!slot->busy || slot->stream_id != frame->stream_id)
        die("the server answered stream %u, which has no call in flight", frame->stream_id);
    slot->busy = false;

    /* Count the calls sent and answered inside the window: warm-up calls and the calls still in flight
     * at the end are left out alike. */
    if (slot->sent_ns >= cl->measure_from_ns && received_ns <= cl->measure_until_ns)
        record(&cl->recorder, received_ns - slot->sent_ns);
    if (received_ns < cl->measure_until_ns) queue_request(cl, c, index);
}

static void client_readable(struct client *cl, struct client_connection *c)
{
    for (int reads = 0; reads < READS_PER_WAKE; reads++) {
        ssize_t n = read(c->fd, cl->in, sizeof cl->in);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        if (n == 0) die("the server closed a connection");
        if (n < 0) die("read: %s", strerror(errno));
        uint64_t received_ns = now_ns();
        size_t position = 0;
        struct frame frame;
        for (;;) {
            enum read_result result = reader_next(&c->reader, cl->in, (size_t)n, &position, &frame);
            if (result == READ_MORE) break;
            if (result == READ_BAD_PREFACE) die("the server did not send the BRPC version 1 preface");
            if (result == READ_TOO_LARGE) die("the server sent a frame over %u bytes", MAX_PAYLOAD_BYTES);
            handle_reply(cl, c, &frame, received_ns);
        }
        if ((size_t)n < sizeof cl->in) break;
    }
    client_flush(cl, c);
}

static int connect_to(const char *path)
{
    struct sockaddr_un address;
    socket_address(path, &address);
    uint64_t give_up = now_ns() + (uint64_t)(CONNECT_RETRY_SECONDS * 1e9);
    for (;;) {
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) die("socket: %s", strerror(errno));
        if (connect(fd, (struct sockaddr *)&address, sizeof address) == 0) return fd;
        int error = errno;
        close(fd);
        bool not_up_yet = error == ENOENT || error == ECONNREFUSED || error == EAGAIN;
        if (!not_up_yet || now_ns() > give_up) die("connect %s: %s", path, strerror(error));
        usleep(10000);
    }
}

static void open_connection(struct client *cl, struct client_connection *c)
{
    const struct client_options *o = cl->options;
    c->fd = connect_to(o->path);
    int flags = fcntl(c->fd, F_GETFL);
    if (flags < 0 || fcntl(c->fd, F_SETFL, flags | O_NONBLOCK) != 0) die("fcntl: %s", strerror(errno));

    /* Each slot has at most one request waiting to be sent, so this never fills up. */
    c->out.capacity = PREFACE_BYTES + (size_t)o->in_flight * (HEADER_BYTES + (size_t)o->request_bytes);
    c->out.data = xmalloc(c->out.capacity);
    c->slots = xcalloc(o->in_flight, sizeof *c->slots);
    c->unstamped = xcalloc(o->in_flight, sizeof *c->unstamped);

    /* Like the reference client: the preface and the first requests go out together, without waiting
     * for the server's preface. */
    memcpy(outbuf_reserve(&c->out, PREFACE_BYTES), PREFACE, PREFACE_BYTES);
    for (uint32_t i = 0; i < o->in_flight; i++) queue_request(cl, c, i);
    c->interest = EPOLLIN;
    struct epoll_event event = {.events = c->interest, .data.ptr = c};
    if (epoll_ctl(cl->epoll_fd, EPOLL_CTL_ADD, c->fd, &event) != 0) die("epoll_ctl: %s", strerror(errno));
    client_flush(cl, c);
}

static void report(const struct client *cl)
{
    const struct client_options *o = cl->options;
    const struct recorder *r = &cl->recorder;
    double calls_per_second = (double)r->calls / o->seconds;
    double p50 = percentile_us(r->samples, r->kept, 50, 100);
    double p90 = percentile_us(r->samples, r->kept, 90, 100);
    double p99 = percentile_us(r->samples, r->kept, 99, 100);
    double p999 = percentile_us(r->samples, r->kept, 999, 1000);
    double max = (double)r->max_ns / 1000.0;
    if (o->json) {
        printf("{\"name\":\"socket\",\"connections\":%u,\"in_flight\":%u,\"calls_per_second\":%.1f,"
               "\"p50_us\":%.1f,\"p90_us\":%.1f,\"p99_us\":%.1f,\"p999_us\":%.1f,\"max_us\":%.1f}\n",
               o->connections, o->in_flight, calls_per_second, p50, p90, p99, p999, max);
    } else {
        printf("socket: %u connection%s x %u in flight, request %u B, reply %u B: %.0f calls/s over %.1f s;"
               " latency p50 %.1f us, p90 %.1f us, p99 %.1f us, p99.9 %.1f us, max %.1f us%s\n",
               o->connections, o->connections == 1 ? "" : "s", o->in_flight, o->request_bytes,
               o->reply_bytes, calls_per_second, o->seconds, p50, p90, p99, p999, max,
               r->calls > r->kept ? " (percentiles from a uniform sample)" : "");
    }
}

static int client_run(const struct client_options *o)
{
    size_t request_bytes_in_flight = (size_t)o->connections * o->in_flight * (HEADER_BYTES + (size_t)o->request_bytes);
    if (request_bytes_in_flight > (1u << 30))
        die("connections x in-flight x request size is over 1 GiB; choose a smaller case");

    struct client *cl = xcalloc(1, sizeof *cl);
    cl->options = o;
    cl->request_payload = xmalloc(o->request_bytes > 0 ? o->request_bytes : 1);
    memset(cl->request_payload, 0xa5, o->request_bytes);
    cl->recorder.capacity = MAX_LATENCY_SAMPLES;
    cl->recorder.samples = xmalloc(MAX_LATENCY_SAMPLES * sizeof *cl->recorder.samples);
    cl->recorder.random_state = 0x9E3779B97F4A7C15ULL;
    ensure_fd_limit((size_t)o->connections + 16);
    cl->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    if (cl->epoll_fd < 0) die("epoll_create1: %s", strerror(errno));

    struct client_connection *connections = xcalloc(o->connections, sizeof *connections);
    for (uint32_t i = 0; i < o->connections; i++) open_connection(cl, &connections[i]);

    uint64_t start_ns = now_ns();
    cl->measure_from_ns = start_ns + (uint64_t)(o->warmup * 1e9);
    cl->measure_until_ns = cl->measure_from_ns + (uint64_t)(o->seconds * 1e9);

    struct epoll_event events[MAX_EVENTS];
    for (;;) {
        uint64_t now = now_ns();
        if (now >= cl->measure_until_ns) break;
        int timeout_ms = (int)((cl->measure_until_ns - now + 999999) / 1000000);
        int count = epoll_wait(cl->epoll_fd, events, MAX_EVENTS, timeout_ms);
        if (count < 0) {
            if (errno == EINTR) continue;
            die("epoll_wait: %s", strerror(errno));
        }
        for (int i = 0; i < count; i++) {
            struct client_connection *c = events[i].data.ptr;
            if (events[i].events & EPOLLERR) die("a connection failed");
            if (events[i].events & EPOLLOUT) client_flush(cl, c);
            if (events[i].events & (EPOLLIN | EPOLLHUP)) client_readable(cl, c);
        }
    }

    if (cl->recorder.calls == 0) die("no call completed in the measured %.1f s", o->seconds);
    qsort(cl->recorder.samples, cl->recorder.kept, sizeof *cl->recorder.samples, compare_u32);
    report(cl);

    for (uint32_t i = 0; i < o->connections; i++) {
        close(connections[i].fd);
        free(connections[i].out.data);
        free(connections[i].slots);
        free(connections[i].unstamped);
    }
    free(connections);
    close(cl->epoll_fd);
    free(cl->recorder.samples);
    free(cl->request_payload);
    free(cl);
    return 0;
}

/* ------------------------------------------------------------------------------------------------
 * Command line
 * --------------------------------------------------------------------------------------------- */

static void usage(FILE *to)
{
    fprintf(to,
            "usage: socket_baseline server PATH [--reply-bytes R]\n"
            "       socket_baseline client PATH [--connections C] [--in-flight N] [--request-bytes Q]\n"
            "                                   [--reply-bytes R] [--seconds S] [--warmup W] [--json]\n"
            "\n"
            "defaults: C=1, N=1, Q=64, R=32, S=3, W=1. Limits as billingd's: C <= %d, N <= %d,\n"
            "Q and R <= %u bytes. The client's R must equal the server's.\n",
            MAX_CONNECTIONS, MAX_IN_FLIGHT, MAX_PAYLOAD_BYTES);
}

static const char *option_value(int argc, char **argv, int *i)
{
    if (*i + 1 >= argc) {
        fprintf(stderr, "socket_baseline: %s needs a value\n", argv[*i]);
        usage(stderr);
        exit(2);
    }
    return argv[++*i];
}

static uint32_t parse_count(const char *name, const char *text, uint32_t min, uint32_t max)
{
    char *end;
    errno = 0;
    unsigned long value = strtoul(text, &end, 10);
    if (text[0] == '-' || end == text || *end != '\0' || errno != 0 || value < min || value > max) {
        fprintf(stderr, "socket_baseline: %s must be a whole number from %u to %u, not \"%s\"\n",
                name, min, max, text);
        exit(2);
    }
    return (uint32_t)value;
}

static double parse_seconds(const char *name, const char *text, double min, double max)
{
    char *end;
    double value = strtod(text, &end);
    if (end == text || *end != '\0' || !(value >= min && value <= max)) {
        fprintf(stderr, "socket_baseline: %s must be a number of seconds from %g to %g, not \"%s\"\n",
                name, min, max, text);
        exit(2);
    }
    return value;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        usage(stdout);
        return 0;
    }
    if (argc < 3 || (strcmp(argv[1], "server") != 0 && strcmp(argv[1], "client") != 0)) {
        usage(stderr);
        return 2;
    }
    bool server = strcmp(argv[1], "server") == 0;
    struct client_options o = {
        .path = argv[2], .connections = 1, .in_flight = 1, .request_bytes = 64, .reply_bytes = 32,
        .seconds = 3, .warmup = 1, .json = false,
    };
    for (int i = 3; i < argc; i++) {
        const char *name = argv[i];
        if (strcmp(name, "--reply-bytes") == 0) {
            o.reply_bytes = parse_count(name, option_value(argc, argv, &i), 0, MAX_PAYLOAD_BYTES);
        } else if (server) {
            fprintf(stderr, "socket_baseline: unknown server option %s\n", name);
            usage(stderr);
            return 2;
        } else if (strcmp(name, "--connections") == 0) {
            o.connections = parse_count(name, option_value(argc, argv, &i), 1, MAX_CONNECTIONS);
        } else if (strcmp(name, "--in-flight") == 0) {
            o.in_flight = parse_count(name, option_value(argc, argv, &i), 1, MAX_IN_FLIGHT);
        } else if (strcmp(name, "--request-bytes") == 0) {
            o.request_bytes = parse_count(name, option_value(argc, argv, &i), 0, MAX_PAYLOAD_BYTES);
        } else if (strcmp(name, "--seconds") == 0) {
            o.seconds = parse_seconds(name, option_value(argc, argv, &i), 0.001, MAX_SECONDS);
        } else if (strcmp(name, "--warmup") == 0) {
            o.warmup = parse_seconds(name, option_value(argc, argv, &i), 0, MAX_SECONDS);
        } else if (strcmp(name, "--json") == 0) {
            o.json = true;
        } else {
            fprintf(stderr, "socket_baseline: unknown client option %s\n", name);
            usage(stderr);
            return 2;
        }
    }
    return server ? server_run(o.path, o.reply_bytes) : client_run(&o);
}
