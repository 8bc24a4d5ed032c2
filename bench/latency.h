/*
 * latency.h: per-event latencies and their percentiles, for the baselines and the load client.
 *
 * Latencies go into a preallocated array. Up to its capacity every event is kept and the percentiles
 * are exact; past it, reservoir sampling keeps a uniform sample of all events, so memory stays fixed
 * however long the run. The count and the maximum are always exact. (socket_baseline.c keeps its
 * own copy of the same code, from before this header.)
 *
 * Header-only, `static inline` so that a program using part of it compiles without warnings.
 */
#ifndef BENCH_LATENCY_H
#define BENCH_LATENCY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

struct recorder {
    uint32_t *samples;  /* nanoseconds, saturated at ~4.29 s */
    size_t capacity, kept;
    uint64_t count;
    uint64_t max_ns;
    uint64_t random_state;
};

/* The percentiles a program prints, in microseconds. */
struct percentiles {
    double p50, p90, p99, p999, max;
};

static inline uint64_t monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Returns false when the memory for `capacity` samples cannot be had. */
static inline bool recorder_init(struct recorder *r, size_t capacity)
{
    r->samples = malloc(capacity * sizeof *r->samples);
    r->capacity = r->samples ? capacity : 0;
    r->kept = 0;
    r->count = 0;
    r->max_ns = 0;
    r->random_state = 0x9E3779B97F4A7C15ULL;
    return r->samples != NULL;
}

static inline void recorder_free(struct recorder *r)
{
    free(r->samples);
    r->samples = NULL;
    r->capacity = r->kept = 0;
}

static inline uint64_t recorder_next_random(uint64_t *state) /* xorshift64* */
{
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    return *state * 0x2545F4914F6CDD1DULL;
}

static inline void recorder_add(struct recorder *r, uint64_t latency_ns)
{
    r->count++;
    if (latency_ns > r->max_ns) r->max_ns = latency_ns;
    uint32_t sample = latency_ns > UINT32_MAX ? UINT32_MAX : (uint32_t)latency_ns;
    if (r->kept < r->capacity) {
        r->samples[r->kept++] = sample;
    } else {
        uint64_t slot = recorder_next_random(&r->random_state) % r->count;
        if (slot < r->capacity) r->samples[slot] = sample;
    }
}

static inline int recorder_compare_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted samples, in microseconds: the value at rank ceil(count × parts /
 * whole), in integers so that no rounding moves it. 0 when there are no samples. */
static inline double recorder_sorted_percentile_us(const struct recorder *r, size_t parts, size_t whole)
{
    if (r->kept == 0) return 0;
    size_t rank = (r->kept * parts + whole - 1) / whole;
    if (rank < 1) rank = 1;
    return r->samples[rank - 1] / 1000.0;
}

/* Sorts the samples (so call it once, at the end) and reads the percentiles. */
static inline struct percentiles recorder_percentiles(struct recorder *r)
{
    qsort(r->samples, r->kept, sizeof *r->samples, recorder_compare_u32);
    struct percentiles p = {
        .p50 = recorder_sorted_percentile_us(r, 50, 100),
        .p90 = recorder_sorted_percentile_us(r, 90, 100),
        .p99 = recorder_sorted_percentile_us(r, 99, 100),
        .p999 = recorder_sorted_percentile_us(r, 999, 1000),
        .max = (double)r->max_ns / 1000.0,
    };
    return p;
}

#endif
