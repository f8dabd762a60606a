/*
 * tests/index/index_test_util.h — helpers shared by the index tests: a
 * fixed-seed RNG (splitmix64), random vectors, and a double-precision brute
 * force that ranks like the index contract (best first, ties by smaller id).
 */
#ifndef PIXSEEK_TESTS_INDEX_UTIL_H
#define PIXSEEK_TESTS_INDEX_UTIL_H

#include "pixseek/index.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

struct trng {
    uint64_t s;
};

static inline uint64_t trng_next(struct trng *r) {
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Uniform in [-1, 1). */
static inline float trng_float(struct trng *r) {
    return (float)((double)(trng_next(r) >> 11) * (1.0 / 9007199254740992.0) * 2.0 - 1.0);
}

static inline void trng_vec(struct trng *r, float *v, size_t dim) {
    for (size_t i = 0; i < dim; i++) v[i] = trng_float(r);
}

/* Raw metric score in double precision (cosine of the raw vectors). */
static inline double ref_score(enum pxs_metric m, const float *a, const float *b, size_t dim) {
    double s = 0, na = 0, nb = 0;
    for (size_t i = 0; i < dim; i++) {
        double x = a[i], y = b[i];
        if (m == PXS_METRIC_L2)
            s += (x - y) * (x - y);
        else
            s += x * y;
        na += x * x;
        nb += y * y;
    }
    if (m == PXS_METRIC_COSINE) return (na > 0 && nb > 0) ? s / (sqrt(na) * sqrt(nb)) : 0.0;
    return s;
}

struct ref_hit {
    int64_t id;
    double score;
    int higher; /* 1 if larger scores are closer */
};

static inline int ref_hit_cmp(const void *pa, const void *pb) {
    const struct ref_hit *a = pa, *b = pb;
    if (a->score != b->score) {
        int a_better = a->higher ? a->score > b->score : a->score < b->score;
        return a_better ? -1 : 1;
    }
    return a->id < b->id ? -1 : (a->id > b->id);
}

#endif
