/*
 * alloc.c — the only place pixseek calls the C allocator. Every allocation
 * can be made to fail on demand (pxs_alloc_fail_after) so tests can check
 * that out-of-memory is reported, not crashed on.
 */
#include "pixseek/core.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static _Atomic long fail_countdown;

void pxs_alloc_fail_after(long n) { atomic_store(&fail_countdown, n); }

static int should_fail(void) {
    long n = atomic_load(&fail_countdown);
    if (n <= 0) return 0;
    /* Count down; the allocation that takes it from 1 to 0 fails. */
    return atomic_fetch_sub(&fail_countdown, 1) == 1;
}

int pxs_size_mul(size_t a, size_t b, size_t *out) {
    if (b != 0 && a > SIZE_MAX / b) return -1;
    *out = a * b;
    return 0;
}

int pxs_size_add(size_t a, size_t b, size_t *out) {
    if (a > SIZE_MAX - b) return -1;
    *out = a + b;
    return 0;
}

void *pxs_malloc(size_t size) {
    if (should_fail()) return NULL;
    return malloc(size ? size : 1);
}

void *pxs_calloc(size_t count, size_t size) {
    size_t total;
    if (pxs_size_mul(count, size, &total) != 0 || should_fail()) return NULL;
    return calloc(total ? total : 1, 1);
}

void *pxs_mallocarray(size_t count, size_t size) {
    size_t total;
    if (pxs_size_mul(count, size, &total) != 0) return NULL;
    return pxs_malloc(total);
}

void *pxs_realloc(void *ptr, size_t size) {
    if (should_fail()) return NULL;
    return realloc(ptr, size ? size : 1);
}

void *pxs_aligned_alloc(size_t alignment, size_t size) {
    if (should_fail()) return NULL;
    void *p = NULL;
    if (posix_memalign(&p, alignment < sizeof(void *) ? sizeof(void *) : alignment,
                       size ? size : 1) != 0)
        return NULL;
    return p;
}

char *pxs_strdup(const char *s) { return pxs_strndup(s, strlen(s)); }

char *pxs_strndup(const char *s, size_t n) {
    size_t len = strnlen(s, n);
    char *p = pxs_malloc(len + 1);
    if (!p) return NULL;
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

void pxs_free(void *ptr) { free(ptr); }
