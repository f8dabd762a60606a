/*
 * tests/index/test_ivf.c — the IVF family (IVF_FLAT, IVF_SQ8, IVF_PQ) and
 * the binary indexes (BIN_FLAT, BIN_IVF_FLAT) against their oracles: FLAT
 * for float data (recall@10 on fixed-seed clustered data, every metric),
 * a brute-force popcount loop for BIN_FLAT, BIN_FLAT for BIN_IVF_FLAT.
 * Also training (automatic and explicit), removal before and after
 * training, SQ8 memory, parameter validation with Milvus names, allocation
 * failure, and the IVF invariants (pxs__ivf_check) after every phase.
 */
#include "index/index_int.h"
#include "../test.h"
#include "index_test_util.h"

#include <stdlib.h>

enum { CL_DIM = 32, CL_N = 5000, CL_NQ = 200, CL_C = 40 };

/* Clustered float data: CL_C centres, points at Gaussian-ish offsets. */
static float *clustered(uint64_t seed, size_t n, size_t dim) {
    struct trng r = {seed};
    float *centres = malloc(CL_C * dim * sizeof(float));
    float *x = malloc(n * dim * sizeof(float));
    trng_vec(&r, centres, CL_C * dim);
    for (size_t i = 0; i < n; i++) {
        const float *c = centres + (trng_next(&r) % CL_C) * dim;
        for (size_t d = 0; d < dim; d++)
            x[i * dim + d] = c[d] + 0.4f * (trng_float(&r) + trng_float(&r) + trng_float(&r));
    }
    free(centres);
    return x;
}

static int mk(enum pxs_index_type type, enum pxs_metric metric, size_t dim, int nlist, int m,
              int nbits, size_t train, pxs_index **out) {
    struct pxs_index_params p = {.type = type,
                                 .metric = metric,
                                 .dim = dim,
                                 .ivf_nlist = nlist,
                                 .pq_m = m,
                                 .pq_nbits = nbits,
                                 .ivf_train_size = train};
    return pxs_index_new(&p, out, NULL);
}

/* Mean recall@k of ann against flat over nq queries (rows of q). */
static double recall(const pxs_index *ann, const pxs_index *flat, const float *q, size_t nq,
                     size_t dim, size_t k, int nprobe) {
    struct pxs_hit a[64], f[64];
    struct pxs_search_params sp = {.nprobe = nprobe};
    size_t found = 0, total = 0;
    for (size_t i = 0; i < nq; i++) {
        size_t na = 0, nf = 0;
        if (pxs_index_search_ex(ann, q + i * dim, k, &sp, a, &na, NULL) != PXS_OK) return -1;
        if (pxs_index_search(flat, q + i * dim, k, f, &nf, NULL) != PXS_OK) return -1;
        for (size_t x = 0; x < nf; x++)
            for (size_t y = 0; y < na; y++)
                if (a[y].id == f[x].id) {
                    found++;
                    break;
                }
        total += nf;
    }
    return total ? (double)found / (double)total : 1.0;
}

/* Build ann and flat over the same clustered data. */
static int build_pair(pxs_index *ann, pxs_index *flat, const float *x, size_t n, size_t dim) {
    for (size_t i = 0; i < n; i++) {
        if (pxs_index_add(ann, (int64_t)i * 3 + 1, x + i * dim, NULL) != PXS_OK) return -1;
        if (pxs_index_add(flat, (int64_t)i * 3 + 1, x + i * dim, NULL) != PXS_OK) return -1;
    }
    return 0;
}

PXS_TEST(index_ivf_flat_recall_and_training) {
    float *x = clustered(71, CL_N + CL_NQ, CL_DIM);
    const float *q = x + CL_N * CL_DIM;
    pxs_index *ivf, *flat;
    CHECK_OK(mk(PXS_INDEX_IVF_FLAT, PXS_METRIC_L2, CL_DIM, 64, 0, 0, 0, &ivf), NULL);
    CHECK_OK(mk(PXS_INDEX_FLAT, PXS_METRIC_L2, CL_DIM, 0, 0, 0, 0, &flat), NULL);
    CHECK_EQ_INT(pxs_index_is_trained(ivf), 0);
    /* Untrained: an exact scan, same answers as FLAT. */
    CHECK_EQ_INT(build_pair(ivf, flat, x, 1000, CL_DIM), 0);
    CHECK_EQ_INT(pxs_index_is_trained(ivf), 0);
    CHECK_NEAR(recall(ivf, flat, q, 50, CL_DIM, 10, 1), 1.0, 0);
    /* Default ivf_train_size = 40 * nlist = 2560 trains automatically. */
    for (size_t i = 1000; i < CL_N; i++) {
        CHECK_OK(pxs_index_add(ivf, (int64_t)i * 3 + 1, x + i * CL_DIM, NULL), NULL);
        CHECK_OK(pxs_index_add(flat, (int64_t)i * 3 + 1, x + i * CL_DIM, NULL), NULL);
        if (i == 2558) CHECK_EQ_INT(pxs_index_is_trained(ivf), 0);
        if (i == 2559) CHECK_EQ_INT(pxs_index_is_trained(ivf), 1);
    }
    struct pxs_err err = {0};
    CHECK_OK(pxs__ivf_check(ivf, &err), &err);
    CHECK_EQ_INT(pxs_index_count(ivf), CL_N);
    double r1 = recall(ivf, flat, q, CL_NQ, CL_DIM, 10, 1);
    double r8 = recall(ivf, flat, q, CL_NQ, CL_DIM, 10, 8);
    double r16 = recall(ivf, flat, q, CL_NQ, CL_DIM, 10, 16);
    double rall = recall(ivf, flat, q, CL_NQ, CL_DIM, 10, 64);
    printf("    IVF_FLAT L2 nlist=64 recall@10: nprobe=1 %.4f, 8 %.4f, 16 %.4f, 64 %.4f\n", r1,
           r8, r16, rall);
    CHECK(r8 >= 0.9);
    CHECK(r16 >= 0.97);
    CHECK(rall >= 0.999);
    /* Explicit train on a trained index is a no-op. */
    CHECK_OK(pxs_index_train(ivf, NULL), NULL);
    pxs_index_free(ivf);
    pxs_index_free(flat);
    free(x);
}

PXS_TEST(index_ivf_every_metric) {
    float *x = clustered(72, CL_N + CL_NQ, CL_DIM);
    const float *q = x + CL_N * CL_DIM;
    const enum pxs_metric metrics[] = {PXS_METRIC_L2, PXS_METRIC_IP, PXS_METRIC_COSINE};
    const enum pxs_index_type types[] = {PXS_INDEX_IVF_FLAT, PXS_INDEX_IVF_SQ8, PXS_INDEX_IVF_PQ};
    /* Floors at nprobe = 16 of 32 lists: IVF_FLAT is exact inside its lists,
     * SQ8 loses a little to quantisation, PQ (m=16, 2-d sub-vectors, 8 bits)
     * more. Measured values are printed. */
    const double floor_[3] = {0.97, 0.85, 0.6};
    for (int mi = 0; mi < 3; mi++) {
        pxs_index *flat;
        CHECK_OK(mk(PXS_INDEX_FLAT, metrics[mi], CL_DIM, 0, 0, 0, 0, &flat), NULL);
        for (int i = 0; i < CL_N; i++) CHECK_OK(pxs_index_add(flat, i, x + i * CL_DIM, NULL), NULL);
        for (int ti = 0; ti < 3; ti++) {
            pxs_index *ix;
            CHECK_OK(mk(types[ti], metrics[mi], CL_DIM, 32, 16, 8, CL_N, &ix), NULL);
            for (int i = 0; i < CL_N; i++)
                CHECK_OK(pxs_index_add(ix, i, x + i * CL_DIM, NULL), NULL);
            CHECK_EQ_INT(pxs_index_is_trained(ix), 1);
            CHECK_OK(pxs__ivf_check(ix, NULL), NULL);
            double r = recall(ix, flat, q, CL_NQ, CL_DIM, 10, 16);
            printf("    %-8s %-6s nlist=32 nprobe=16 recall@10 %.4f\n",
                   pxs_index_type_name(types[ti]), pxs_metric_name(metrics[mi]), r);
            CHECK_MSG(r >= floor_[ti], "%s %s recall %.4f", pxs_index_type_name(types[ti]),
                      pxs_metric_name(metrics[mi]), r);
            /* Scores are the metric's raw values, best first. */
            struct pxs_hit h[10];
            size_t n;
            struct pxs_search_params sp = {.nprobe = 32};
            CHECK_OK(pxs_index_search_ex(ix, q, 10, &sp, h, &n, NULL), NULL);
            CHECK_EQ_INT(n, 10);
            for (size_t j = 1; j < n; j++)
                CHECK(pxs_metric_higher_is_closer(metrics[mi]) ? h[j - 1].score >= h[j].score
                                                              : h[j - 1].score <= h[j].score);
            double want = ref_score(metrics[mi], q, x + h[0].id * CL_DIM, CL_DIM);
            double tol = types[ti] == PXS_INDEX_IVF_FLAT ? 1e-4 * (fabs(want) + 1)
                         : types[ti] == PXS_INDEX_IVF_SQ8 ? 0.05 * (fabs(want) + 1)
                                                          : 0.3 * (fabs(want) + 1);
            CHECK_NEAR(h[0].score, want, tol);
            pxs_index_free(ix);
        }
        pxs_index_free(flat);
    }
    free(x);
}

PXS_TEST(index_ivf_sq8_memory_and_pq4) {
    enum { DIM = 128, N = 3000 };
    float *x = clustered(73, N + 100, DIM);
    pxs_index *sq, *fl, *flat, *pq4;
    CHECK_OK(mk(PXS_INDEX_IVF_SQ8, PXS_METRIC_L2, DIM, 16, 0, 0, 1000, &sq), NULL);
    CHECK_OK(mk(PXS_INDEX_IVF_FLAT, PXS_METRIC_L2, DIM, 16, 0, 0, 1000, &fl), NULL);
    CHECK_OK(mk(PXS_INDEX_IVF_PQ, PXS_METRIC_L2, DIM, 16, 32, 4, 1000, &pq4), NULL);
    CHECK_OK(mk(PXS_INDEX_FLAT, PXS_METRIC_L2, DIM, 0, 0, 0, 0, &flat), NULL);
    for (int i = 0; i < N; i++) {
        CHECK_OK(pxs_index_add(sq, i, x + i * DIM, NULL), NULL);
        CHECK_OK(pxs_index_add(fl, i, x + i * DIM, NULL), NULL);
        CHECK_OK(pxs_index_add(pq4, i, x + i * DIM, NULL), NULL);
        CHECK_OK(pxs_index_add(flat, i, x + i * DIM, NULL), NULL);
    }
    CHECK_EQ_INT(pxs__ivf_vector_bytes(sq), (size_t)N * DIM);
    CHECK_EQ_INT(pxs__ivf_vector_bytes(fl), (size_t)N * DIM * 4);
    CHECK_EQ_INT(pxs__ivf_vector_bytes(pq4), (size_t)N * 16);
    double ratio = (double)pxs_index_memory(fl) / (double)pxs_index_memory(sq);
    printf("    memory IVF_FLAT %zu B, IVF_SQ8 %zu B (%.2fx less), IVF_PQ m=32 nbits=4 %zu B, "
           "FLAT %zu B\n",
           pxs_index_memory(fl), pxs_index_memory(sq), ratio, pxs_index_memory(pq4),
           pxs_index_memory(flat));
    CHECK(ratio > 2.5);
    double rs = recall(sq, flat, x + N * DIM, 100, DIM, 10, 16);
    double rp = recall(pq4, flat, x + N * DIM, 100, DIM, 10, 16);
    printf("    dim 128, nprobe=all: IVF_SQ8 recall@10 %.4f, IVF_PQ m=32 nbits=4 %.4f\n", rs, rp);
    CHECK(rs >= 0.9);
    CHECK(rp >= 0.3);
    pxs_index_free(sq);
    pxs_index_free(fl);
    pxs_index_free(pq4);
    pxs_index_free(flat);
    free(x);
}

PXS_TEST(index_ivf_remove_and_replace) {
    enum { DIM = 8, N = 600 };
    float *x = clustered(74, N, DIM);
    const enum pxs_index_type types[] = {PXS_INDEX_IVF_FLAT, PXS_INDEX_IVF_SQ8, PXS_INDEX_IVF_PQ};
    for (int ti = 0; ti < 3; ti++) {
        pxs_index *ix;
        CHECK_OK(mk(types[ti], PXS_METRIC_L2, DIM, 4, 4, 4, 300, &ix), NULL);
        for (int i = 0; i < N; i++) {
            CHECK_OK(pxs_index_add(ix, i, x + i * DIM, NULL), NULL);
            /* Remove every third id at once, before and after training. */
            if (i % 3 == 0) CHECK_OK(pxs_index_remove(ix, i, NULL), NULL);
        }
        CHECK_EQ_INT(pxs_index_is_trained(ix), 1);
        CHECK_OK(pxs__ivf_check(ix, NULL), NULL);
        CHECK_EQ_INT(pxs_index_count(ix), N - N / 3);
        CHECK_EQ_INT(pxs_index_remove(ix, 0, NULL), PXS_ENOTFOUND);
        struct pxs_hit h[50];
        size_t n;
        struct pxs_search_params sp = {.nprobe = 4};
        for (int i = 0; i < N; i += 7) {
            CHECK_OK(pxs_index_search_ex(ix, x + i * DIM, 50, &sp, h, &n, NULL), NULL);
            CHECK_EQ_INT(n, 50);
            for (size_t j = 0; j < n; j++) CHECK_MSG(h[j].id % 3 != 0, "removed id returned");
        }
        /* Replace: id 1 moves to a far vector and is found there only. */
        float far[DIM];
        for (int d = 0; d < DIM; d++) far[d] = 9.0f;
        CHECK_OK(pxs_index_add(ix, 1, far, NULL), NULL);
        CHECK_EQ_INT(pxs_index_count(ix), N - N / 3);
        CHECK_OK(pxs_index_search_ex(ix, far, 1, &sp, h, &n, NULL), NULL);
        CHECK_EQ_INT(h[0].id, 1);
        CHECK_OK(pxs__ivf_check(ix, NULL), NULL);
        for (int i = 0; i < N; i++) {
            int rc = pxs_index_remove(ix, i, NULL);
            CHECK(rc == PXS_OK || rc == PXS_ENOTFOUND);
        }
        CHECK_EQ_INT(pxs_index_count(ix), 0);
        CHECK_OK(pxs_index_search_ex(ix, far, 5, &sp, h, &n, NULL), NULL);
        CHECK_EQ_INT(n, 0);
        CHECK_OK(pxs__ivf_check(ix, NULL), NULL);
        pxs_index_free(ix);
    }
    free(x);
}

PXS_TEST(index_ivf_params_validated) {
    pxs_index *ix = NULL;
    struct pxs_err err = {0};
    struct pxs_index_params p = {.type = PXS_INDEX_IVF_PQ, .metric = PXS_METRIC_L2, .dim = 30};
    CHECK_EQ_INT(pxs_index_new(&p, &ix, &err), PXS_EINVAL);
    CHECK(strstr(err.msg, "pq_m") != NULL);
    pxs_err_clear(&err);
    p.pq_m = 7;
    CHECK_EQ_INT(pxs_index_new(&p, &ix, &err), PXS_EINVAL);
    CHECK(strstr(err.msg, "not a multiple of pq_m") != NULL);
    pxs_err_clear(&err);
    p.pq_m = 6;
    p.pq_nbits = 5;
    CHECK_EQ_INT(pxs_index_new(&p, &ix, &err), PXS_EINVAL);
    CHECK(strstr(err.msg, "nbits") != NULL);
    p.pq_nbits = 0;
    p.ivf_nlist = 70000;
    pxs_err_clear(&err);
    CHECK_EQ_INT(pxs_index_new(&p, &ix, &err), PXS_EINVAL);
    CHECK(strstr(err.msg, "nlist") != NULL);
    p.ivf_nlist = -1;
    CHECK_EQ_INT(pxs_index_new(&p, &ix, NULL), PXS_EINVAL);
    p.ivf_nlist = 16;
    p.ivf_train_size = 100; /* below 2^8 codewords */
    pxs_err_clear(&err);
    CHECK_EQ_INT(pxs_index_new(&p, &ix, &err), PXS_EINVAL);
    CHECK(strstr(err.msg, "ivf_train_size") != NULL);
    p.ivf_train_size = 0;
    CHECK_OK(pxs_index_new(&p, &ix, NULL), NULL);
    CHECK_EQ_INT(pxs_index_get_type(ix), PXS_INDEX_IVF_PQ);
    pxs_index_free(ix);
    /* Metric / type families must match. */
    struct pxs_index_params b = {.type = PXS_INDEX_IVF_FLAT, .metric = PXS_METRIC_HAMMING, .dim = 64};
    CHECK_EQ_INT(pxs_index_new(&b, &ix, NULL), PXS_EUNSUPPORTED);
    b.type = PXS_INDEX_BIN_FLAT;
    b.metric = PXS_METRIC_L2;
    CHECK_EQ_INT(pxs_index_new(&b, &ix, NULL), PXS_EUNSUPPORTED);
    b.metric = PXS_METRIC_JACCARD;
    b.dim = 12;
    pxs_err_clear(&err);
    CHECK_EQ_INT(pxs_index_new(&b, &ix, &err), PXS_EINVAL);
    CHECK(strstr(err.msg, "multiple of 8") != NULL);
    CHECK(ix == NULL);
    /* Float calls on a binary index and the reverse. */
    b.dim = 16;
    CHECK_OK(pxs_index_new(&b, &ix, NULL), NULL);
    float fv[16] = {0};
    uint8_t bv[2] = {1, 2};
    struct pxs_hit h[1];
    size_t n;
    CHECK_EQ_INT(pxs_index_add(ix, 1, fv, NULL), PXS_EINVAL);
    CHECK_EQ_INT(pxs_index_search(ix, fv, 1, h, &n, NULL), PXS_EINVAL);
    CHECK_OK(pxs_index_add_binary(ix, 1, bv, NULL), NULL);
    CHECK_EQ_INT(pxs_index_is_binary(ix), 1);
    pxs_index_free(ix);
    struct pxs_index_params f = {.type = PXS_INDEX_FLAT, .metric = PXS_METRIC_L2, .dim = 16};
    CHECK_OK(pxs_index_new(&f, &ix, NULL), NULL);
    CHECK_EQ_INT(pxs_index_add_binary(ix, 1, bv, NULL), PXS_EINVAL);
    CHECK_EQ_INT(pxs_index_search_binary(ix, bv, 1, NULL, h, &n, NULL), PXS_EINVAL);
    struct pxs_search_params sp = {.nprobe = -1};
    CHECK_EQ_INT(pxs_index_search_ex(ix, fv, 1, &sp, h, &n, NULL), PXS_EINVAL);
    pxs_index_free(ix);
    /* Names round-trip. */
    for (int t = 0; t <= PXS_INDEX_BIN_IVF_FLAT; t++) {
        enum pxs_index_type back;
        CHECK_OK(pxs_index_type_parse(pxs_index_type_name((enum pxs_index_type)t), &back), NULL);
        CHECK_EQ_INT(back, t);
    }
    enum pxs_index_type back;
    CHECK_OK(pxs_index_type_parse("ivf_sq8", &back), NULL);
    CHECK_EQ_INT(back, PXS_INDEX_IVF_SQ8);
    CHECK_EQ_INT(pxs_index_type_parse("IVF", &back), PXS_EINVAL);
}

PXS_TEST(index_ivf_explicit_train_and_alloc_failure) {
    enum { DIM = 16, N = 400 };
    float *x = clustered(75, N, DIM);
    pxs_index *ix;
    CHECK_OK(mk(PXS_INDEX_IVF_PQ, PXS_METRIC_L2, DIM, 8, 4, 4, 100000, &ix), NULL);
    for (int i = 0; i < 10; i++) CHECK_OK(pxs_index_add(ix, i, x + i * DIM, NULL), NULL);
    struct pxs_err err = {0};
    CHECK_EQ_INT(pxs_index_train(ix, &err), PXS_EINVAL);
    CHECK(strstr(err.msg, "at least 16") != NULL);
    CHECK_EQ_INT(pxs_index_is_trained(ix), 0);
    for (int i = 10; i < N / 2; i++) CHECK_OK(pxs_index_add(ix, i, x + i * DIM, NULL), NULL);
    /* Training under allocation failure: either trains or leaves the index
     * untrained and intact. */
    for (long fail = 1; !pxs_index_is_trained(ix); fail++) {
        pxs_alloc_fail_after(fail);
        int rc = pxs_index_train(ix, NULL);
        pxs_alloc_fail_after(0);
        CHECK(rc == PXS_OK || rc == PXS_ENOMEM);
        CHECK_OK(pxs__ivf_check(ix, NULL), NULL);
        CHECK_EQ_INT(pxs_index_count(ix), N / 2);
    }
    size_t added = N / 2;
    for (int i = N / 2; i < N; i++) {
        pxs_alloc_fail_after(1 + i % 3);
        int rc = pxs_index_add(ix, i, x + i * DIM, NULL);
        pxs_alloc_fail_after(0);
        CHECK(rc == PXS_OK || rc == PXS_ENOMEM);
        added += rc == PXS_OK;
        CHECK_EQ_INT(pxs_index_count(ix), added);
    }
    CHECK_OK(pxs__ivf_check(ix, NULL), NULL);
    struct pxs_hit h[5];
    size_t n;
    CHECK_OK(pxs_index_search(ix, x, 5, h, &n, NULL), NULL);
    CHECK_EQ_INT(n, 5);
    pxs_index_free(ix);
    free(x);
}

/* ---- binary ------------------------------------------------------------------ */

static double ref_bin(enum pxs_metric m, const uint8_t *a, const uint8_t *b, size_t nbytes) {
    uint64_t x = 0, in = 0, un = 0;
    for (size_t i = 0; i < nbytes; i++) {
        x += (uint64_t)__builtin_popcount((unsigned)(a[i] ^ b[i]));
        in += (uint64_t)__builtin_popcount((unsigned)(a[i] & b[i]));
        un += (uint64_t)__builtin_popcount((unsigned)(a[i] | b[i]));
    }
    if (m == PXS_METRIC_HAMMING) return (double)x;
    return un ? 1.0 - (double)in / (double)un : 0.0;
}

/* n binary vectors of nbytes around np prototypes with ~flip/256 bits flipped. */
static uint8_t *binary_data(uint64_t seed, size_t n, size_t nbytes, size_t np, unsigned flip) {
    struct trng r = {seed};
    uint8_t *proto = malloc(np * nbytes), *x = malloc(n * nbytes);
    for (size_t i = 0; i < np * nbytes; i++) proto[i] = (uint8_t)trng_next(&r);
    for (size_t i = 0; i < n; i++) {
        const uint8_t *p = proto + (trng_next(&r) % np) * nbytes;
        for (size_t b = 0; b < nbytes; b++) {
            uint8_t v = p[b];
            for (int bit = 0; bit < 8; bit++)
                if ((trng_next(&r) & 255) < flip) v ^= (uint8_t)(1u << bit);
            x[i * nbytes + b] = v;
        }
    }
    free(proto);
    return x;
}

PXS_TEST(index_bin_flat_exact) {
    enum { BITS = 200, NB = BITS / 8, N = 700 };
    uint8_t *x = binary_data(81, N + 20, NB, 10, 40);
    const enum pxs_metric metrics[] = {PXS_METRIC_HAMMING, PXS_METRIC_JACCARD};
    for (int mi = 0; mi < 2; mi++) {
        pxs_index *ix;
        struct pxs_index_params p = {.type = PXS_INDEX_BIN_FLAT, .metric = metrics[mi], .dim = BITS};
        CHECK_OK(pxs_index_new(&p, &ix, NULL), NULL);
        for (int i = 0; i < N; i++) CHECK_OK(pxs_index_add_binary(ix, i, x + i * NB, NULL), NULL);
        CHECK_OK(pxs_index_remove(ix, 5, NULL), NULL);
        CHECK_EQ_INT(pxs_index_count(ix), N - 1);
        CHECK_EQ_INT(pxs_index_is_trained(ix), 1);
        static struct ref_hit ref[N];
        struct pxs_hit h[20];
        for (int qi = 0; qi < 20; qi++) {
            const uint8_t *q = x + (N + qi) * NB;
            size_t nr = 0;
            for (int i = 0; i < N; i++) {
                if (i == 5) continue;
                ref[nr++] = (struct ref_hit){i, ref_bin(metrics[mi], q, x + i * NB, NB), 0};
            }
            qsort(ref, nr, sizeof ref[0], ref_hit_cmp);
            size_t n;
            CHECK_OK(pxs_index_search_binary(ix, q, 20, NULL, h, &n, NULL), NULL);
            CHECK_EQ_INT(n, 20);
            for (size_t j = 0; j < n; j++) {
                CHECK_EQ_INT(h[j].id, ref[j].id);
                CHECK_NEAR(h[j].score, ref[j].score, 1e-6);
            }
        }
        pxs_index_free(ix);
    }
    /* All-zero vectors: Jaccard distance 0 by definition. */
    pxs_index *ix;
    struct pxs_index_params p = {.type = PXS_INDEX_BIN_FLAT, .metric = PXS_METRIC_JACCARD, .dim = 8};
    CHECK_OK(pxs_index_new(&p, &ix, NULL), NULL);
    uint8_t z = 0;
    CHECK_OK(pxs_index_add_binary(ix, 3, &z, NULL), NULL);
    struct pxs_hit h;
    size_t n;
    CHECK_OK(pxs_index_search_binary(ix, &z, 1, NULL, &h, &n, NULL), NULL);
    CHECK_EQ_INT(n, 1);
    CHECK_NEAR(h.score, 0.0, 0);
    pxs_index_free(ix);
    free(x);
}

PXS_TEST(index_bin_ivf_recall) {
    enum { BITS = 256, NB = BITS / 8, N = 4000, NQ = 100 };
    uint8_t *x = binary_data(82, N + NQ, NB, 40, 25);
    const enum pxs_metric metrics[] = {PXS_METRIC_HAMMING, PXS_METRIC_JACCARD};
    for (int mi = 0; mi < 2; mi++) {
        pxs_index *ivf, *flat;
        struct pxs_index_params p = {.type = PXS_INDEX_BIN_IVF_FLAT,
                                     .metric = metrics[mi],
                                     .dim = BITS,
                                     .ivf_nlist = 32};
        CHECK_OK(pxs_index_new(&p, &ivf, NULL), NULL);
        p.type = PXS_INDEX_BIN_FLAT;
        CHECK_OK(pxs_index_new(&p, &flat, NULL), NULL);
        for (int i = 0; i < N; i++) {
            CHECK_OK(pxs_index_add_binary(ivf, i, x + i * NB, NULL), NULL);
            CHECK_OK(pxs_index_add_binary(flat, i, x + i * NB, NULL), NULL);
        }
        CHECK_EQ_INT(pxs_index_is_trained(ivf), 1);
        CHECK_OK(pxs__ivf_check(ivf, NULL), NULL);
        const int probes[] = {4, 32};
        for (int pi = 0; pi < 2; pi++) {
            struct pxs_search_params sp = {.nprobe = probes[pi]};
            size_t found = 0, total = 0;
            for (int qi = 0; qi < NQ; qi++) {
                struct pxs_hit a[10], b[10];
                size_t na, nb;
                const uint8_t *q = x + (N + qi) * NB;
                CHECK_OK(pxs_index_search_binary(ivf, q, 10, &sp, a, &na, NULL), NULL);
                CHECK_OK(pxs_index_search_binary(flat, q, 10, NULL, b, &nb, NULL), NULL);
                /* Count by score: binary distances tie a lot, so an equally
                 * close hit counts as found. */
                for (size_t j = 0; j < nb && j < na; j++) found += a[j].score <= b[nb - 1].score;
                total += nb;
            }
            double r = (double)found / (double)total;
            printf("    BIN_IVF_FLAT %s nlist=32 nprobe=%d recall@10 %.4f\n",
                   pxs_metric_name(metrics[mi]), probes[pi], r);
            CHECK(r >= (probes[pi] == 32 ? 0.999 : 0.9));
        }
        pxs_index_free(ivf);
        pxs_index_free(flat);
    }
    free(x);
}

/* IVF_PQ L2 with precomputed tables (|cw|^2 + 2 <centroid, cw> per list,
 * -2 <q, cw> per query) against the per-list residual tables they replace:
 * the same hits and the same scores up to float rounding, 8 and 4 bits. */
PXS_TEST(index_ivf_pq_precomputed_tables_match_residual_tables) {
    const size_t dim = CL_DIM, n = 3000, nq = 60, k = 10;
    float *x = clustered(91, n, dim), *q = clustered(92, nq, dim);
    for (int nbits = 4; nbits <= 8; nbits += 4) {
        pxs_index *pq;
        CHECK_EQ_INT(mk(PXS_INDEX_IVF_PQ, PXS_METRIC_L2, dim, 16, 8, nbits, 2000, &pq), PXS_OK);
        for (size_t i = 0; i < n; i++)
            CHECK_EQ_INT(pxs_index_add(pq, (int64_t)i, x + i * dim, NULL), PXS_OK);
        CHECK_EQ_INT(pxs_index_train(pq, NULL), PXS_OK);
        CHECK_EQ_INT(pxs__ivf_pq_tables(pq, 1), 1);
        struct pxs_search_params sp = {.nprobe = 4};
        struct pxs_hit a[10 * 60], b[10 * 60];
        size_t same = 0, total = 0;
        for (size_t i = 0; i < nq; i++) {
            size_t na = 0;
            CHECK_EQ_INT(pxs_index_search_ex(pq, q + i * dim, k, &sp, a + i * k, &na, NULL), PXS_OK);
            CHECK_EQ_INT(na, k);
        }
        CHECK_EQ_INT(pxs__ivf_pq_tables(pq, 0), 0);
        for (size_t i = 0; i < nq; i++) {
            size_t nb = 0;
            CHECK_EQ_INT(pxs_index_search_ex(pq, q + i * dim, k, &sp, b + i * k, &nb, NULL), PXS_OK);
            CHECK_EQ_INT(nb, k);
            for (size_t j = 0; j < k; j++) {
                const struct pxs_hit *ha = &a[i * k + j], *hb = &b[i * k + j];
                CHECK_NEAR(ha->score, hb->score, 1e-4 * fabs(hb->score) + 1e-3);
                same += ha->id == hb->id;
                total++;
            }
        }
        printf("    IVF_PQ nbits=%d: %zu of %zu ranks agree with per-list tables\n", nbits, same, total);
        CHECK(same >= total * 98 / 100);
        pxs_index_free(pq);
    }
    free(x);
    free(q);
}
