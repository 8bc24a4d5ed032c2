/*
 * load_client: billingd's throughput and latency measured without the Swift client's cost.
 *
 *   load_client PATH --mix health|get-wallet|record-usage [--connections C] [--in-flight N]
 *               [--accounts K] [--seconds S] [--warmup W] [--rate R] [--server-pid PID] [--json]
 *
 * It speaks docs/PROTOCOL.md with the protobuf-c code billingd itself is built with
 * (Sources/BillingProtos): the 8-byte preface each way, REQUEST frames carrying a billing.rpc.v1.Request
 * envelope with the method's message, RESPONSE frames whose billing.rpc.v1.Response is decoded and
 * checked. One thread around epoll, like bench/socket_baseline.c, so that the ratio of the two is the
 * cost of the service and not of its client: each of C connections keeps N calls in flight (a closed
 * loop), and whatever a turn of the loop queued goes out in one send().
 *
 * With --rate R, calls start at R per second over all connections, evenly spaced, with at most N in
 * flight per connection (an open loop: the latency at a given load, such as half of the peak). Besides
 * the latency from send to reply, it then reports the latency from the moment the schedule wanted the
 * call started, which also counts any wait for a free slot.
 *
 * The mixes are billing-load's (Sources/billing-load), with the same messages:
 *   health        grpc.health.v1.Health/Check for the whole server; the reply must say SERVING.
 *   get-wallet    BillingService/GetWallet of the K accounts in turn; the reply must be that wallet.
 *   record-usage  BillingService/RecordUsage of 1 minor unit (category "sms", a new usage id each) over
 *                 the K accounts in turn; the reply must be a new debit of 1.
 * Before measuring, the wallet mixes set up K accounts through the same protocol as billing-load does,
 * 64 at a time: CreateAccount, UpdateBillingInformation, AddPaymentMethod, and for record-usage
 * AddBalance of 99,999,999 minor units. A set-up call that fails stops the program.
 *
 * Every reply is checked. A call that fails, or whose reply is not what was asked for, counts as an
 * error under its status code (BAD_REPLY for a wrong reply, NO_REPLY for one that never came); the first
 * of each kind is printed to stderr, and the output lists them all. Errors are counted over every call
 * after the set-up (warm-up, measured window, and the calls in flight at the end, which are waited for).
 * Latency percentiles and calls per second count the calls sent and answered inside the measured
 * window of S seconds, after W seconds of warm-up (default 1), as socket_baseline does.
 *
 * CPU per call: utime + stime of this process (/proc/self/stat) and, with --server-pid, of the server
 * (/proc/PID/stat), read when the measured window opens and when it closes, divided by the calls
 * measured. Both programs share the machine's cores, so the server's figure is its own cost per call.
 *
 * Layout: helpers · wire format · accounts and calls · replies · the loop · report · command line.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "BillingProtos.h"
#include "latency.h"

#define PREFACE_BYTES 8
#define HEADER_BYTES 10
#define TYPE_REQUEST 0x01
#define TYPE_RESPONSE 0x02
#define TYPE_GOAWAY 0x05

/* Limits: billingd's defaults where it has one (docs/PROTOCOL.md §9). */
#define MAX_PAYLOAD_BYTES (4u << 20)       /* frame payload limit, the reference client's too */
#define MAX_CONNECTIONS 1024
#define MAX_IN_FLIGHT 256                  /* calls in flight per connection */
#define MAX_ACCOUNTS 100000
#define MAX_SECONDS 3600.0
#define MAX_RATE 10000000.0
#define MAX_STREAM_ID 0xFFFFFFFBu          /* the highest id the reference client uses */

#define CALL_TIMEOUT_NS 10000000000LL      /* timeout_nano of every call: the reference client's default */
#define SETUP_AT_ONCE 64                   /* accounts set up at once, as billing-load */
#define FUNDS_MINOR 99999999               /* the largest single amount billingd takes by default */
#define DRAIN_NS 15000000000ull            /* waiting for the last replies: past the call timeout */
#define STALL_NS 30000000000ull            /* no reply for this long with calls in flight: give up */
#define READ_CHUNK (64 * 1024)             /* bytes per read() */
#define READS_PER_WAKE 16                  /* then let other connections have a turn */
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
    fputs("load_client: ", stderr);
    vfprintf(stderr, format, args);
    fputc('\n', stderr);
    va_end(args);
    exit(1);
}

static void warn(const char *format, ...)
{
    va_list args;
    va_start(args, format);
    fputs("load_client: ", stderr);
    vfprintf(stderr, format, args);
    fputc('\n', stderr);
    va_end(args);
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

static void *xrealloc(void *p, size_t size)
{
    p = realloc(p, size);
    if (p == NULL) die("out of memory (%zu bytes)", size);
    return p;
}

static void *xcalloc(size_t count, size_t size)
{
    void *p = calloc(count, size);
    if (p == NULL) die("out of memory (%zu × %zu bytes)", count, size);
    return p;
}

static char *xstrdup(const char *s)
{
    char *copy = strdup(s);
    if (copy == NULL) die("out of memory");
    return copy;
}

/* utime + stime of a process in seconds, from /proc/PID/stat (pid 0: this process). Fields 14 and 15,
 * counted after the command name, which is in parentheses and may itself hold spaces or ')'. */
static double process_cpu_seconds(pid_t pid)
{
    char path[64], text[1024];
    if (pid == 0) snprintf(path, sizeof path, "/proc/self/stat");
    else snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *file = fopen(path, "r");
    if (file == NULL) die("reading %s: %s", path, strerror(errno));
    size_t length = fread(text, 1, sizeof text - 1, file);
    fclose(file);
    text[length] = '\0';
    const char *p = strrchr(text, ')');
    unsigned long long utime, stime;
    /* after ')': state (3), ppid, pgrp, session, tty_nr, tpgid, flags, minflt, cminflt, majflt, cmajflt (13) */
    if (p == NULL || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2)
        die("%s does not read as /proc/PID/stat", path);
    return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

/* ------------------------------------------------------------------------------------------------
 * Wire format: byte buffers, frames, the envelope
 * --------------------------------------------------------------------------------------------- */

/* Bytes in data[start..end), growing as needed. A connection's input: read() appends at the end and
 * frames are decoded in place from the start. Its output: requests are appended, send() takes from
 * the start. Each is bounded by what the protocol allows: a frame of at most 4 MiB in, and at most N
 * requests out. */
struct buffer {
    uint8_t *data;
    size_t capacity, start, end;
};

/* Room for `size` more bytes at data + end (the caller advances end by what it writes). */
static uint8_t *buffer_room(struct buffer *b, size_t size)
{
    if (b->start == b->end) b->start = b->end = 0;
    if (b->capacity - b->end < size && b->start > 0) {
        memmove(b->data, b->data + b->start, b->end - b->start);
        b->end -= b->start;
        b->start = 0;
    }
    if (b->capacity - b->end < size) {
        size_t capacity = b->capacity ? b->capacity : READ_CHUNK;
        while (capacity - b->end < size) capacity *= 2;
        b->data = xrealloc(b->data, capacity);
        b->capacity = capacity;
    }
    return b->data + b->end;
}

static void encode_header(uint8_t *p, uint32_t length, uint32_t stream_id, uint8_t type)
{
    put_u32be(p, length);
    put_u32be(p + 4, stream_id);
    p[8] = type;
    p[9] = 0; /* flags: version 1 defines none */
}

/* A call's outcome as the RESPONSE envelope gives it: no status means OK (docs/PROTOCOL.md §7). */
struct reply {
    int32_t code;
    const char *message;
    const uint8_t *payload;
    size_t length;
};

static const char *const STATUS_NAMES[] = {
    "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",
    "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
    "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
};
#define STATUS_CODES 17

/* What errors are counted under: a status code, or one of the client's own findings. */
enum { ERROR_OTHER_CODE = STATUS_CODES, ERROR_BAD_REPLY, ERROR_NO_REPLY, ERROR_KINDS };

static const char *error_name(int kind)
{
    if (kind < STATUS_CODES) return STATUS_NAMES[kind];
    if (kind == ERROR_OTHER_CODE) return "OTHER_CODE";
    return kind == ERROR_BAD_REPLY ? "BAD_REPLY" : "NO_REPLY";
}

/* ------------------------------------------------------------------------------------------------
 * Accounts and calls
 * --------------------------------------------------------------------------------------------- */

enum mix { MIX_HEALTH, MIX_GET_WALLET, MIX_RECORD_USAGE };
static const char *const MIX_NAMES[] = {"health", "get-wallet", "record-usage"};

/* The operations: the three mixes, then the set-up of an account, in the order they are made. */
enum operation {
    OP_HEALTH, OP_GET_WALLET, OP_RECORD_USAGE,
    OP_CREATE_ACCOUNT, OP_UPDATE_BILLING, OP_ADD_CARD, OP_ADD_FUNDS,
};
static const char *const METHOD_NAMES[] = {
    "Check", "GetWallet", "RecordUsage", "CreateAccount", "UpdateBillingInformation", "AddPaymentMethod", "AddBalance",
};

struct options {
    const char *path;
    enum mix mix;
    uint32_t connections, in_flight, accounts;
    double seconds, warmup, rate;
    pid_t server_pid;
    bool json;
};

struct connection;

/* One call slot of a connection; it holds at most one call at a time. */
struct call {
    struct connection *connection;
    uint32_t stream_id;        /* 0 while the slot is free */
    enum operation operation;
    size_t account;            /* the account it is about, for the wallet mixes and the set-up */
    uint64_t scheduled_ns;     /* with --rate: when the schedule wanted it started */
    uint64_t sent_ns;          /* just before the send() that carried it */
    struct call *next_free;    /* with --rate: the free slots */
};

struct connection {
    int fd;
    uint32_t interest;
    bool preface_seen;
    uint32_t next_stream_id;   /* odd and increasing, never reused (docs/PROTOCOL.md §5) */
    struct buffer in, out;
    struct call *calls;        /* N slots */
    uint32_t call_count;
    struct call **unstamped;   /* calls queued since the last send(); stamped just before it */
    size_t unstamped_count;
};

enum phase { PHASE_SETUP, PHASE_MEASURE, PHASE_DRAIN, PHASE_DONE };

struct load {
    const struct options *o;
    int epoll_fd;
    struct connection *connections;
    enum phase phase;
    size_t busy;                         /* calls in flight, all connections */
    uint64_t last_reply_ns;

    char nonce[17];                      /* makes this run's keys and usage ids its own */
    char **account_ids;
    size_t accounts_started, accounts_ready;
    uint64_t setup_started_ns, setup_ended_ns;
    uint64_t sequence;                   /* numbers the measured calls: accounts in turn, usage ids */

    uint64_t measure_from_ns, measure_until_ns, drain_until_ns;
    bool window_open;
    double client_cpu_from, client_cpu_until, server_cpu_from, server_cpu_until;
    struct recorder latency, from_schedule;
    uint64_t errors[ERROR_KINDS];

    uint64_t rate_start_ns, rate_started; /* with --rate: call k is due at start + k / R */
    struct call *free_calls;

    uint8_t *scratch;                    /* the method message, packed before its envelope */
    size_t scratch_capacity;
};

/* Queues the REQUEST frame of `message` for `call`; it goes out with the connection's next send(). */
static void queue_request(struct load *l, struct call *call, const char *service, const ProtobufCMessage *message)
{
    struct connection *c = call->connection;
    size_t size = protobuf_c_message_get_packed_size(message);
    if (size > l->scratch_capacity) {
        l->scratch = xrealloc(l->scratch, size);
        l->scratch_capacity = size;
    }
    protobuf_c_message_pack(message, l->scratch);

    Billing__Rpc__V1__Request request = BILLING__RPC__V1__REQUEST__INIT;
    request.service = (char *)service;
    request.method = (char *)METHOD_NAMES[call->operation];
    request.payload.data = l->scratch;
    request.payload.len = size;
    request.timeout_nano = CALL_TIMEOUT_NS;
    size_t envelope_size = billing__rpc__v1__request__get_packed_size(&request);

    if (c->next_stream_id > MAX_STREAM_ID) die("a connection used up its stream ids; use more connections");
    call->stream_id = c->next_stream_id;
    c->next_stream_id += 2;
    uint8_t *p = buffer_room(&c->out, HEADER_BYTES + envelope_size);
    encode_header(p, (uint32_t)envelope_size, call->stream_id, TYPE_REQUEST);
    billing__rpc__v1__request__pack(&request, p + HEADER_BYTES);
    c->out.end += HEADER_BYTES + envelope_size;
    c->unstamped[c->unstamped_count++] = call;
    l->busy++;
}

/* Starts `operation` on a free slot, with the request billing-load sends for it. */
static void start_call(struct load *l, struct call *call, enum operation operation, size_t account)
{
    static const char BILLING[] = "billing.v1.BillingService";
    char key[64], text[64];
    call->operation = operation;
    call->account = account;
    char *account_id = operation == OP_HEALTH || operation == OP_CREATE_ACCOUNT ? "" : l->account_ids[account];
    Billing__V1__Money money = BILLING__V1__MONEY__INIT;
    money.currency = "USD";

    switch (operation) {
    case OP_HEALTH: {
        Grpc__Health__V1__HealthCheckRequest check = GRPC__HEALTH__V1__HEALTH_CHECK_REQUEST__INIT;
        queue_request(l, call, "grpc.health.v1.Health", &check.base);
        break;
    }
    case OP_GET_WALLET: {
        Billing__V1__GetWalletRequest get = BILLING__V1__GET_WALLET_REQUEST__INIT;
        get.account_id = account_id;
        queue_request(l, call, BILLING, &get.base);
        break;
    }
    case OP_RECORD_USAGE: {
        Billing__V1__RecordUsageRequest usage = BILLING__V1__RECORD_USAGE_REQUEST__INIT;
        snprintf(text, sizeof text, "load-client-%s-%" PRIu64, l->nonce, l->sequence);
        usage.account_id = account_id;
        usage.usage_id = text;
        usage.category = "sms";
        money.amount_minor = 1;
        usage.amount = &money;
        usage.description = "load";
        queue_request(l, call, BILLING, &usage.base);
        break;
    }
    case OP_CREATE_ACCOUNT: {
        Billing__V1__CreateAccountRequest create = BILLING__V1__CREATE_ACCOUNT_REQUEST__INIT;
        snprintf(key, sizeof key, "load-client-%s-%zu-a", l->nonce, account);
        snprintf(text, sizeof text, "Load %zu", account);
        create.idempotency_key = key;
        create.display_name = text;
        create.currency = "USD";
        queue_request(l, call, BILLING, &create.base);
        break;
    }
    case OP_UPDATE_BILLING: {
        Billing__V1__UpdateBillingInformationRequest update = BILLING__V1__UPDATE_BILLING_INFORMATION_REQUEST__INIT;
        Billing__V1__BillingAddress address = BILLING__V1__BILLING_ADDRESS__INIT;
        char *lines[] = {"1 Main St"};
        address.n_lines = 1;
        address.lines = lines;
        address.city = "Springfield";
        address.region = "IL";
        address.postal_code = "62701";
        snprintf(key, sizeof key, "load-client-%s-%zu-b", l->nonce, account);
        update.idempotency_key = key;
        update.account_id = account_id;
        update.full_name = "Load Test";
        update.country_code = "US";
        update.address = &address;
        queue_request(l, call, BILLING, &update.base);
        break;
    }
    case OP_ADD_CARD: {
        Billing__V1__AddPaymentMethodRequest add = BILLING__V1__ADD_PAYMENT_METHOD_REQUEST__INIT;
        Billing__V1__CardInput card = BILLING__V1__CARD_INPUT__INIT;
        card.number = "4242424242424242";
        card.expiry_month = 12;
        card.expiry_year = 2040;
        card.cvc = "123";
        card.holder_name = "Load Test";
        snprintf(key, sizeof key, "load-client-%s-%zu-c", l->nonce, account);
        add.idempotency_key = key;
        add.account_id = account_id;
        add.card = &card;
        queue_request(l, call, BILLING, &add.base);
        break;
    }
    case OP_ADD_FUNDS: {
        Billing__V1__AddBalanceRequest add = BILLING__V1__ADD_BALANCE_REQUEST__INIT;
        snprintf(key, sizeof key, "load-client-%s-%zu-d", l->nonce, account);
        money.amount_minor = FUNDS_MINOR;
        add.idempotency_key = key;
        add.account_id = account_id;
        add.amount = &money;
        queue_request(l, call, BILLING, &add.base);
        break;
    }
    }
}

/* The next call of the measured mix: the accounts in turn, a new usage id each. */
static void start_measured_call(struct load *l, struct call *call)
{
    static const enum operation OPERATIONS[] = {OP_HEALTH, OP_GET_WALLET, OP_RECORD_USAGE};
    size_t account = l->o->accounts > 0 ? (size_t)(l->sequence % l->o->accounts) : 0;
    start_call(l, call, OPERATIONS[l->o->mix], account);
    l->sequence++;
}

/* ------------------------------------------------------------------------------------------------
 * Replies
 * --------------------------------------------------------------------------------------------- */

/* What a measured call's reply says: 0 for a correct reply, otherwise the kind of error. The reply
 * message is decoded and compared with what was asked, so a server that answered OK with the wrong
 * thing is caught, and so that the client does the decoding work a real caller does. */
static int check_reply(const struct load *l, const struct call *call, const struct reply *reply)
{
    if (reply->code != 0) return reply->code > 0 && reply->code < STATUS_CODES ? reply->code : ERROR_OTHER_CODE;
    bool good = false;
    switch (call->operation) {
    case OP_HEALTH: {
        Grpc__Health__V1__HealthCheckResponse *r =
            grpc__health__v1__health_check_response__unpack(NULL, reply->length, reply->payload);
        good = r && r->status == GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING;
        if (r) grpc__health__v1__health_check_response__free_unpacked(r, NULL);
        break;
    }
    case OP_GET_WALLET: {
        Billing__V1__WalletResponse *r = billing__v1__wallet_response__unpack(NULL, reply->length, reply->payload);
        good = r && r->wallet && r->wallet->balance &&
               strcmp(r->wallet->account_id, l->account_ids[call->account]) == 0;
        if (r) billing__v1__wallet_response__free_unpacked(r, NULL);
        break;
    }
    case OP_RECORD_USAGE: {
        Billing__V1__RecordUsageResponse *r =
            billing__v1__record_usage_response__unpack(NULL, reply->length, reply->payload);
        good = r && !r->replayed && r->transaction && r->transaction->amount &&
               r->transaction->amount->amount_minor == -1;
        if (r) billing__v1__record_usage_response__free_unpacked(r, NULL);
        break;
    }
    default:
        die("internal error: a set-up call was checked as a measured one");
    }
    return good ? 0 : ERROR_BAD_REPLY;
}

static void count_error(struct load *l, const struct call *call, int kind, const struct reply *reply)
{
    if (l->errors[kind]++ > 0) return;
    warn("a %s call failed: %s%s%s (further errors of this kind are counted, not printed)",
         METHOD_NAMES[call->operation], error_name(kind), reply && reply->message[0] ? ": " : "",
         reply ? reply->message : "");
}

/* The next step of an account's set-up, or the next account's first. */
static void continue_setup(struct load *l, struct call *call, enum operation done, size_t account,
                           const struct reply *reply)
{
    if (reply->code != 0)
        die("setting up account %zu: %s failed: %s: %s", account, METHOD_NAMES[done],
            reply->code >= 0 && reply->code < STATUS_CODES ? STATUS_NAMES[reply->code] : "OTHER_CODE", reply->message);
    if (done == OP_CREATE_ACCOUNT) {
        Billing__V1__AccountResponse *r = billing__v1__account_response__unpack(NULL, reply->length, reply->payload);
        if (r == NULL || r->account == NULL || r->account->id[0] == '\0')
            die("setting up account %zu: CreateAccount answered without an account", account);
        l->account_ids[account] = xstrdup(r->account->id);
        billing__v1__account_response__free_unpacked(r, NULL);
    }
    bool funded = l->o->mix == MIX_RECORD_USAGE;
    if (done == OP_CREATE_ACCOUNT || done == OP_UPDATE_BILLING || (done == OP_ADD_CARD && funded)) {
        start_call(l, call, (enum operation)(done + 1), account); /* the set-up's operations are in order */
        return;
    }
    l->accounts_ready++;
    if (l->accounts_started < l->o->accounts) start_call(l, call, OP_CREATE_ACCOUNT, l->accounts_started++);
}

static void finish_call(struct load *l, struct call *call, const struct reply *reply, uint64_t received_ns)
{
    call->stream_id = 0;
    l->busy--;
    l->last_reply_ns = received_ns;
    if (l->phase == PHASE_SETUP) {
        continue_setup(l, call, call->operation, call->account, reply);
        return;
    }
    int kind = check_reply(l, call, reply);
    if (kind != 0) count_error(l, call, kind, reply);
    /* Count the calls sent and answered inside the window: warm-up calls and the calls still in flight
     * at the end are left out alike. */
    if (call->sent_ns >= l->measure_from_ns && received_ns <= l->measure_until_ns) {
        recorder_add(&l->latency, received_ns - call->sent_ns);
        if (l->o->rate > 0) recorder_add(&l->from_schedule, received_ns - call->scheduled_ns);
    }
    if (l->phase != PHASE_MEASURE || received_ns >= l->measure_until_ns) return;
    if (l->o->rate > 0) {
        call->next_free = l->free_calls;
        l->free_calls = call;
    } else {
        start_measured_call(l, call);
    }
}

static struct call *find_call(struct connection *c, uint32_t stream_id)
{
    /* A linear search: at most 256 slots, and far cheaper than the system calls around it. */
    for (uint32_t i = 0; i < c->call_count; i++)
        if (c->calls[i].stream_id == stream_id) return &c->calls[i];
    return NULL;
}

static void handle_frame(struct load *l, struct connection *c, uint8_t type, uint32_t stream_id,
                         const uint8_t *payload, uint32_t length, uint64_t received_ns)
{
    if (type == TYPE_GOAWAY) {
        Billing__Rpc__V1__GoAway *g = billing__rpc__v1__go_away__unpack(NULL, length, payload);
        die("billingd sent GOAWAY: %s", g && g->status ? g->status->message : "(undecodable)");
    }
    if (type != TYPE_RESPONSE)
        die("billingd sent a frame of type %u on stream %u; only unary calls were made", type, stream_id);
    struct call *call = stream_id != 0 ? find_call(c, stream_id) : NULL;
    if (call == NULL) die("billingd answered stream %u, which has no call in flight", stream_id);

    Billing__Rpc__V1__Response *response = billing__rpc__v1__response__unpack(NULL, length, payload);
    if (response == NULL) die("the RESPONSE on stream %u is not a valid Response envelope", stream_id);
    struct reply reply = {
        .code = response->status ? response->status->code : 0,
        .message = response->status ? response->status->message : "",
        .payload = response->payload.data,
        .length = response->payload.len,
    };
    finish_call(l, call, &reply, received_ns);
    billing__rpc__v1__response__free_unpacked(response, NULL);
}

/* Handles every complete frame in the connection's input, in place. */
static void handle_input(struct load *l, struct connection *c, uint64_t received_ns)
{
    struct buffer *in = &c->in;
    for (;;) {
        size_t available = in->end - in->start;
        const uint8_t *p = in->data + in->start;
        if (!c->preface_seen) {
            if (available < PREFACE_BYTES) return;
            if (memcmp(p, PREFACE, 6) != 0) die("the server did not send the BRPC version 1 preface");
            in->start += PREFACE_BYTES;
            c->preface_seen = true;
            continue;
        }
        if (available < HEADER_BYTES) return;
        uint32_t length = get_u32be(p), stream_id = get_u32be(p + 4);
        uint8_t type = p[8], flags = p[9];
        if (type == 0 || flags != 0) die("billingd sent a malformed frame header (type %u, flags %u)", type, flags);
        if (length > MAX_PAYLOAD_BYTES) die("billingd sent a frame of %u bytes, over the %u-byte limit", length, MAX_PAYLOAD_BYTES);
        if (available < HEADER_BYTES + (size_t)length) return; /* readable() makes room for the rest */
        in->start += HEADER_BYTES + (size_t)length;
        /* Handling queues requests into c->out only, so the payload stays where it is meanwhile. */
        handle_frame(l, c, type, stream_id, p + HEADER_BYTES, length, received_ns);
    }
}

/* ------------------------------------------------------------------------------------------------
 * The loop
 * --------------------------------------------------------------------------------------------- */

/* Switches a connection's epoll interest, with a syscall only when it changes. */
static void set_interest(struct load *l, struct connection *c, uint32_t wanted)
{
    if (c->interest == wanted) return;
    struct epoll_event event = {.events = wanted, .data.ptr = c};
    if (epoll_ctl(l->epoll_fd, EPOLL_CTL_MOD, c->fd, &event) != 0) die("epoll_ctl: %s", strerror(errno));
    c->interest = wanted;
}

/* Sends what is queued with one send(). Latency runs from just before the send() that carries a
 * request to just after the read() that returns its reply. What the socket does not take waits for
 * EPOLLOUT. */
static void flush(struct load *l, struct connection *c)
{
    if (c->unstamped_count > 0) {
        uint64_t now = monotonic_ns();
        for (size_t i = 0; i < c->unstamped_count; i++) c->unstamped[i]->sent_ns = now;
        c->unstamped_count = 0;
    }
    struct buffer *out = &c->out;
    while (out->start < out->end) {
        ssize_t n = send(c->fd, out->data + out->start, out->end - out->start, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        if (n <= 0) die("send: %s", n < 0 ? strerror(errno) : "sent nothing");
        out->start += (size_t)n;
    }
    set_interest(l, c, EPOLLIN | (out->start < out->end ? EPOLLOUT : 0));
}

static void readable(struct load *l, struct connection *c)
{
    for (int reads = 0; reads < READS_PER_WAKE; reads++) {
        uint8_t *room = buffer_room(&c->in, READ_CHUNK);
        ssize_t n = read(c->fd, room, READ_CHUNK);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        if (n == 0) die("billingd closed a connection");
        if (n < 0) die("read: %s", strerror(errno));
        c->in.end += (size_t)n;
        handle_input(l, c, monotonic_ns());
        if (n < READ_CHUNK) break; /* a short read means the socket is drained */
    }
    flush(l, c);
}

static int connect_to(const char *path)
{
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof address.sun_path)
        die("socket path is %zu bytes; at most %zu fit", strlen(path), sizeof address.sun_path - 1);
    strcpy(address.sun_path, path);
    uint64_t give_up = monotonic_ns() + (uint64_t)(CONNECT_RETRY_SECONDS * 1e9);
    for (;;) {
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) die("socket: %s", strerror(errno));
        if (connect(fd, (struct sockaddr *)&address, sizeof address) == 0) return fd;
        int error = errno;
        close(fd);
        bool not_up_yet = error == ENOENT || error == ECONNREFUSED || error == EAGAIN;
        if (!not_up_yet || monotonic_ns() > give_up) die("connect %s: %s", path, strerror(error));
        usleep(10000);
    }
}

static void open_connection(struct load *l, struct connection *c)
{
    c->fd = connect_to(l->o->path);
    int flags = fcntl(c->fd, F_GETFL);
    if (flags < 0 || fcntl(c->fd, F_SETFL, flags | O_NONBLOCK) != 0) die("fcntl: %s", strerror(errno));
    c->next_stream_id = 1;
    c->call_count = l->o->in_flight;
    c->calls = xcalloc(c->call_count, sizeof *c->calls);
    for (uint32_t i = 0; i < c->call_count; i++) c->calls[i].connection = c;
    c->unstamped = xcalloc(l->o->in_flight, sizeof *c->unstamped);
    memcpy(buffer_room(&c->out, PREFACE_BYTES), PREFACE, PREFACE_BYTES);
    c->out.end += PREFACE_BYTES;
    c->interest = EPOLLIN;
    struct epoll_event event = {.events = c->interest, .data.ptr = c};
    if (epoll_ctl(l->epoll_fd, EPOLL_CTL_ADD, c->fd, &event) != 0) die("epoll_ctl: %s", strerror(errno));
    flush(l, c);
}

/* Slot i of all C × N, spread over the connections: slot 0 on the first, 1 on the second, … */
static struct call *slot(struct load *l, size_t i)
{
    return &l->connections[i % l->o->connections].calls[i / l->o->connections];
}

static void begin_setup(struct load *l)
{
    l->phase = PHASE_SETUP;
    l->setup_started_ns = monotonic_ns();
    l->account_ids = xcalloc(l->o->accounts, sizeof *l->account_ids);
    size_t slots = (size_t)l->o->connections * l->o->in_flight, at_once = SETUP_AT_ONCE;
    if (at_once > slots) at_once = slots;
    if (at_once > l->o->accounts) at_once = l->o->accounts;
    for (size_t i = 0; i < at_once; i++) start_call(l, slot(l, i), OP_CREATE_ACCOUNT, l->accounts_started++);
}

static void begin_measuring(struct load *l, uint64_t now)
{
    l->phase = PHASE_MEASURE;
    l->setup_ended_ns = now;
    l->measure_from_ns = now + (uint64_t)(l->o->warmup * 1e9);
    l->measure_until_ns = l->measure_from_ns + (uint64_t)(l->o->seconds * 1e9);
    size_t slots = (size_t)l->o->connections * l->o->in_flight;
    for (size_t i = slots; i-- > 0;) {
        struct call *call = slot(l, i);
        if (l->o->rate > 0) {
            call->next_free = l->free_calls;
            l->free_calls = call;
        } else {
            start_measured_call(l, call);
        }
    }
    l->rate_start_ns = now;
}

/* Moves the run along at `now`: phase changes, the CPU samples at the window's edges, calls due on the
 * --rate schedule. Returns when it next needs to run, whatever the sockets do. */
static uint64_t advance(struct load *l, uint64_t now)
{
    if (l->busy > 0 && now - l->last_reply_ns > STALL_NS)
        die("no reply for %.0f s with %zu calls in flight", STALL_NS / 1e9, l->busy);
    if (l->phase == PHASE_SETUP) {
        if (l->accounts_ready < l->o->accounts) return now + 1000000000u;
        begin_measuring(l, now);
    }
    if (l->phase == PHASE_MEASURE) {
        if (!l->window_open && now >= l->measure_from_ns) {
            l->window_open = true;
            l->client_cpu_from = process_cpu_seconds(0);
            if (l->o->server_pid) l->server_cpu_from = process_cpu_seconds(l->o->server_pid);
        }
        if (now >= l->measure_until_ns) {
            l->client_cpu_until = process_cpu_seconds(0);
            if (l->o->server_pid) l->server_cpu_until = process_cpu_seconds(l->o->server_pid);
            l->phase = PHASE_DRAIN;
            l->drain_until_ns = now + DRAIN_NS;
        }
    }
    if (l->phase == PHASE_MEASURE) {
        uint64_t wake = l->window_open ? l->measure_until_ns : l->measure_from_ns;
        if (l->o->rate > 0) {
            for (;;) {
                uint64_t due = l->rate_start_ns + (uint64_t)((double)l->rate_started * 1e9 / l->o->rate);
                if (due > now) {
                    if (l->free_calls && due < wake) wake = due;
                    break;
                }
                struct call *call = l->free_calls;
                if (call == NULL) break; /* behind schedule: the next free slot takes it, late */
                l->free_calls = call->next_free;
                call->scheduled_ns = due;
                start_measured_call(l, call);
                l->rate_started++;
            }
        }
        return wake;
    }
    if (l->busy == 0) {
        l->phase = PHASE_DONE;
    } else if (now >= l->drain_until_ns) {
        for (size_t i = 0; i < (size_t)l->o->connections * l->o->in_flight; i++)
            if (slot(l, i)->stream_id != 0) count_error(l, slot(l, i), ERROR_NO_REPLY, NULL);
        l->phase = PHASE_DONE;
    }
    return l->drain_until_ns;
}

static void run(struct load *l)
{
    if (l->o->accounts > 0 && l->o->mix != MIX_HEALTH) begin_setup(l);
    else begin_measuring(l, monotonic_ns());
    l->last_reply_ns = monotonic_ns();

    struct epoll_event events[MAX_EVENTS];
    for (;;) {
        uint64_t now = monotonic_ns();
        uint64_t wake = advance(l, now);
        if (l->phase == PHASE_DONE) break;
        for (uint32_t i = 0; i < l->o->connections; i++)
            if (l->connections[i].unstamped_count > 0) flush(l, &l->connections[i]);

        uint64_t wait_ns = wake > now ? wake - now : 0;
        struct timespec timeout = {.tv_sec = (time_t)(wait_ns / 1000000000u), .tv_nsec = (long)(wait_ns % 1000000000u)};
        int count = epoll_pwait2(l->epoll_fd, events, MAX_EVENTS, &timeout, NULL);
        if (count < 0) {
            if (errno == EINTR) continue;
            die("epoll_pwait2: %s", strerror(errno));
        }
        for (int i = 0; i < count; i++) {
            struct connection *c = events[i].data.ptr;
            if (events[i].events & EPOLLERR) die("a connection to billingd failed");
            if (events[i].events & EPOLLOUT) flush(l, c);
            if (events[i].events & (EPOLLIN | EPOLLHUP)) readable(l, c);
        }
    }
}

/* ------------------------------------------------------------------------------------------------
 * Report
 * --------------------------------------------------------------------------------------------- */

/* The errors by kind, as "NAME=n NAME=n" or as the members of a JSON object. */
static void format_errors(const struct load *l, char *text, size_t size, bool json)
{
    size_t used = 0;
    text[0] = '\0';
    for (int kind = 0; kind < ERROR_KINDS && used < size; kind++) {
        if (l->errors[kind] == 0) continue;
        used += (size_t)snprintf(text + used, size - used, json ? "%s\"%s\":%" PRIu64 : "%s%s=%" PRIu64,
                                 used == 0 ? "" : json ? "," : " ", error_name(kind), l->errors[kind]);
    }
}

static void report(struct load *l)
{
    const struct options *o = l->o;
    uint64_t calls = l->latency.count, error_count = 0;
    for (int kind = 0; kind < ERROR_KINDS; kind++) error_count += l->errors[kind];
    double per_second = (double)calls / o->seconds;
    double setup_seconds = (double)(l->setup_ended_ns - (l->setup_started_ns ? l->setup_started_ns : l->setup_ended_ns)) / 1e9;
    double client_cpu = l->client_cpu_until - l->client_cpu_from;
    double server_cpu = l->server_cpu_until - l->server_cpu_from;
    double client_us = calls ? client_cpu * 1e6 / (double)calls : 0;
    double server_us = calls ? server_cpu * 1e6 / (double)calls : 0;
    struct percentiles p = recorder_percentiles(&l->latency);
    struct percentiles s = recorder_percentiles(&l->from_schedule);

    char errors[ERROR_KINDS * 64], errors_json[ERROR_KINDS * 64];
    format_errors(l, errors, sizeof errors, false);
    format_errors(l, errors_json, sizeof errors_json, true);
    if (o->json) {
        printf("{\"name\":\"load_client\",\"mix\":\"%s\",\"connections\":%u,\"in_flight\":%u,\"accounts\":%u,"
               "\"rate\":%.1f,\"calls\":%" PRIu64 ",\"seconds\":%.3f,\"calls_per_second\":%.1f,"
               "\"p50_us\":%.1f,\"p90_us\":%.1f,\"p99_us\":%.1f,\"p999_us\":%.1f,\"max_us\":%.1f,",
               MIX_NAMES[o->mix], o->connections, o->in_flight, o->accounts, o->rate, calls, o->seconds,
               per_second, p.p50, p.p90, p.p99, p.p999, p.max);
        if (o->rate > 0)
            printf("\"from_schedule_p50_us\":%.1f,\"from_schedule_p99_us\":%.1f,\"from_schedule_max_us\":%.1f,",
                   s.p50, s.p99, s.max);
        printf("\"setup_seconds\":%.2f,\"client_cpu_s\":%.2f,\"client_cpu_us_per_call\":%.1f,", setup_seconds,
               client_cpu, client_us);
        if (o->server_pid) printf("\"server_cpu_s\":%.2f,\"server_cpu_us_per_call\":%.1f,", server_cpu, server_us);
        printf("\"error_count\":%" PRIu64 ",\"errors\":{%s}}\n", error_count, errors_json);
    } else {
        printf("load_client: mix %s · %u connection(s) × %u in flight · %u account(s)", MIX_NAMES[o->mix],
               o->connections, o->in_flight, o->accounts);
        if (o->rate > 0) printf(" · at %.0f calls/s", o->rate);
        printf("\ncalls        %" PRIu64 " in %.1f s (set-up %.1f s)\ncalls/s      %.0f\n", calls, o->seconds,
               setup_seconds, per_second);
        printf("latency µs   p50 %.0f  p90 %.0f  p99 %.0f  p99.9 %.0f  max %.0f%s\n", p.p50, p.p90, p.p99, p.p999,
               p.max, l->latency.count > l->latency.kept ? " (from a uniform sample)" : "");
        if (o->rate > 0)
            printf("from schedule p50 %.0f  p99 %.0f  max %.0f (including waits for a free slot)\n", s.p50, s.p99, s.max);
        printf("CPU µs/call  load_client %.1f", client_us);
        if (o->server_pid) printf(", server (pid %d) %.1f", (int)o->server_pid, server_us);
        printf("\nerrors       %s\n", error_count ? errors : "none");
    }
    if (error_count > 0) warn("%" PRIu64 " calls failed or were answered wrongly: %s", error_count, errors);
}

/* ------------------------------------------------------------------------------------------------
 * Command line
 * --------------------------------------------------------------------------------------------- */

static void usage(FILE *to)
{
    fprintf(to,
            "usage: load_client PATH --mix health|get-wallet|record-usage [--connections C] [--in-flight N]\n"
            "                   [--accounts K] [--seconds S] [--warmup W] [--rate R] [--server-pid PID] [--json]\n"
            "\n"
            "defaults: C=1, N=1, K=1 (the wallet mixes set up K accounts first), S=5, W=1, no rate (closed loop).\n"
            "Limits: C <= %d, N <= %d (billingd's calls per connection), K <= %d.\n",
            MAX_CONNECTIONS, MAX_IN_FLIGHT, MAX_ACCOUNTS);
}

static const char *option_value(int argc, char **argv, int *i)
{
    if (*i + 1 >= argc) {
        fprintf(stderr, "load_client: %s needs a value\n", argv[*i]);
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
        fprintf(stderr, "load_client: %s must be a whole number from %u to %u, not \"%s\"\n", name, min, max, text);
        exit(2);
    }
    return (uint32_t)value;
}

static double parse_number(const char *name, const char *text, double min, double max)
{
    char *end;
    double value = strtod(text, &end);
    if (end == text || *end != '\0' || !(value >= min && value <= max)) {
        fprintf(stderr, "load_client: %s must be a number from %g to %g, not \"%s\"\n", name, min, max, text);
        exit(2);
    }
    return value;
}

int main(int argc, char **argv)
{
    struct options o = {.connections = 1, .in_flight = 1, .accounts = 1, .seconds = 5, .warmup = 1};
    bool mix_given = false;
    for (int i = 1; i < argc; i++) {
        const char *name = argv[i];
        if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(name, "--mix") == 0) {
            const char *value = option_value(argc, argv, &i);
            for (size_t m = 0; m < sizeof MIX_NAMES / sizeof MIX_NAMES[0]; m++)
                if (strcmp(value, MIX_NAMES[m]) == 0) {
                    o.mix = (enum mix)m;
                    mix_given = true;
                }
            if (!mix_given) {
                fprintf(stderr, "load_client: --mix is health, get-wallet or record-usage, not \"%s\"\n", value);
                return 2;
            }
        } else if (strcmp(name, "--connections") == 0) {
            o.connections = parse_count(name, option_value(argc, argv, &i), 1, MAX_CONNECTIONS);
        } else if (strcmp(name, "--in-flight") == 0) {
            o.in_flight = parse_count(name, option_value(argc, argv, &i), 1, MAX_IN_FLIGHT);
        } else if (strcmp(name, "--accounts") == 0) {
            o.accounts = parse_count(name, option_value(argc, argv, &i), 1, MAX_ACCOUNTS);
        } else if (strcmp(name, "--seconds") == 0) {
            o.seconds = parse_number(name, option_value(argc, argv, &i), 0.001, MAX_SECONDS);
        } else if (strcmp(name, "--warmup") == 0) {
            o.warmup = parse_number(name, option_value(argc, argv, &i), 0, MAX_SECONDS);
        } else if (strcmp(name, "--rate") == 0) {
            o.rate = parse_number(name, option_value(argc, argv, &i), 1, MAX_RATE);
        } else if (strcmp(name, "--server-pid") == 0) {
            o.server_pid = (pid_t)parse_count(name, option_value(argc, argv, &i), 1, INT32_MAX);
        } else if (strcmp(name, "--json") == 0) {
            o.json = true;
        } else if (name[0] == '-' || o.path != NULL) {
            fprintf(stderr, "load_client: unexpected argument %s\n", name);
            usage(stderr);
            return 2;
        } else {
            o.path = name;
        }
    }
    if (o.path == NULL || !mix_given) {
        usage(stderr);
        return 2;
    }
    if (o.mix == MIX_HEALTH) o.accounts = 0;
    if (o.server_pid) process_cpu_seconds(o.server_pid); /* fail now, not after the set-up */

    struct load *l = xcalloc(1, sizeof *l);
    l->o = &o;
    uint64_t random;
    if (getrandom(&random, sizeof random, 0) != sizeof random) die("getrandom: %s", strerror(errno));
    snprintf(l->nonce, sizeof l->nonce, "%016" PRIx64, random);
    if (!recorder_init(&l->latency, MAX_LATENCY_SAMPLES) ||
        !recorder_init(&l->from_schedule, o.rate > 0 ? MAX_LATENCY_SAMPLES : 1))
        die("out of memory for the latency samples");

    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < o.connections + 16u) {
        limit.rlim_cur = o.connections + 16u <= limit.rlim_max ? o.connections + 16u : limit.rlim_max;
        setrlimit(RLIMIT_NOFILE, &limit);
    }
    l->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    if (l->epoll_fd < 0) die("epoll_create1: %s", strerror(errno));
    l->connections = xcalloc(o.connections, sizeof *l->connections);
    for (uint32_t i = 0; i < o.connections; i++) open_connection(l, &l->connections[i]);

    run(l);
    if (l->latency.count == 0) die("no call completed in the measured %.1f s", o.seconds);
    report(l);
    return 0; /* the kernel closes the connections and frees the rest */
}
