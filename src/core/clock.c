/*
 * clock.c — monotonic time for rates, ETAs and benchmarks.
 */
#include "pixseek/core.h"

#include <time.h>

uint64_t pxs_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

double pxs_now_seconds(void) { return (double)pxs_now_ns() / 1e9; }
