/*
 * gemm.c — blocked single-precision GEMM: C = A*B (+ bias per row of C),
 * clamped, as used by Conv (A = weights, packed once at load), Gemm and
 * MatMul (A packed per call).
 *
 * Blocking (BLIS style): K is cut in blocks of NN_GEMM_KC and N in blocks of
 * NN_GEMM_NC. For each (N block, K block) a thread packs B into NR-wide
 * panels in its own buffer, then sweeps the MR-row panels of A, calling the
 * micro-kernel on MR x NR tiles. The first K block starts from the bias, later
 * blocks accumulate into C, the last one applies the clamp. Work is split
 * into (N block x M chunk) tasks over the thread pool; tasks write disjoint
 * parts of C, so the result does not depend on the thread count.
 *
 * The generic micro-kernel here is the scalar twin of arch/gemm_avx2.c and
 * arch/gemm_avx512.c; tests compare them.
 */
#include <stdlib.h>
#include <string.h>

#include "nn/nn_int.h"

#define GEN_MR 4
#define GEN_NR 16

void nn_ukr_generic(size_t kc, const float *a, const float *b, size_t ldb, const uint32_t *boff, float *c,
                    size_t ldc, int m, int n, int flags, const float *bias, const float *r, float lo, float hi) {
    float acc[GEN_MR][GEN_NR];
    memset(acc, 0, sizeof acc);
    for (size_t p = 0; p < kc; p++) {
        const float *ap = a + p * GEN_MR, *bp = boff ? b + boff[p] : b + p * ldb;
        for (int i = 0; i < GEN_MR; i++) {
            float av = ap[i];
            for (int j = 0; j < GEN_NR; j++) acc[i][j] += av * bp[j];
        }
    }
    for (int i = 0; i < m; i++) {
        float *cr = c + (size_t)i * ldc;
        float base = (flags & NN_UKR_FIRST) && bias ? bias[i] : 0.f;
        for (int j = 0; j < n; j++) {
            float v = acc[i][j] + ((flags & NN_UKR_FIRST) ? base : cr[j]);
            if (flags & NN_UKR_LAST) {
                if (r) v += r[(size_t)i * ldc + j];
                v = v < lo ? lo : v;
                v = v > hi ? hi : v;
            }
            cr[j] = v;
        }
    }
}

static const struct nn_gemm_kernel k_generic = {"generic", GEN_MR, GEN_NR, nn_ukr_generic};
#if defined(__x86_64__)
static const struct nn_gemm_kernel k_avx2 = {"avx2", 6, 16, nn_ukr_avx2};
static const struct nn_gemm_kernel k_avx512 = {"avx512", 12, 32, nn_ukr_avx512};
#endif

const struct nn_gemm_kernel *nn_gemm_kernel_for(int isa) {
    unsigned f = pxs_cpu_features();
    (void)f;
    switch (isa) {
    case NN_ISA_GENERIC: return &k_generic;
#if defined(__x86_64__)
    case NN_ISA_AVX2: return (f & PXS_CPU_AVX2) ? &k_avx2 : NULL;
    case NN_ISA_AVX512: return (f & PXS_CPU_AVX512F) ? &k_avx512 : NULL;
#endif
    default: return NULL;
    }
}

/* PXS_NN_ISA=avx2|generic caps the kernel choice (benchmarks, debugging);
 * PXS_FORCE_GENERIC=1 (core) masks every ISA. */
const struct nn_gemm_kernel *nn_gemm_kernel_best(void) {
    const char *cap = getenv("PXS_NN_ISA");
    if (cap && !strcmp(cap, "generic")) return &k_generic;
    if (cap && !strcmp(cap, "avx2")) {
        const struct nn_gemm_kernel *k2 = nn_gemm_kernel_for(NN_ISA_AVX2);
        return k2 ? k2 : &k_generic;
    }
    const struct nn_gemm_kernel *k = nn_gemm_kernel_for(NN_ISA_AVX512);
    if (!k) k = nn_gemm_kernel_for(NN_ISA_AVX2);
    return k ? k : &k_generic;
}

size_t nn_gemm_packed_a_floats(const struct nn_gemm_kernel *k, size_t M, size_t K) {
    size_t panels = (M + (size_t)k->mr - 1) / (size_t)k->mr;
    return panels * (size_t)k->mr * K;
}

void nn_gemm_pack_a(const struct nn_gemm_kernel *k, size_t M, size_t K, const float *a, size_t rs,
                    size_t cs, float *out) {
    size_t mr = (size_t)k->mr;
    for (size_t q = 0; q * mr < M; q++) {
        float *dst = out + q * mr * K;
        for (size_t p = 0; p < K; p++)
            for (size_t i = 0; i < mr; i++) {
                size_t row = q * mr + i;
                dst[p * mr + i] = row < M ? a[row * rs + p * cs] : 0.f;
            }
    }
}

static void pack_b(size_t nr, size_t kc, size_t nc, const float *b, size_t rs, size_t cs, float *out) {
    for (size_t j0 = 0; j0 < nc; j0 += nr) {
        size_t w = nc - j0 < nr ? nc - j0 : nr;
        float *dst = out + (j0 / nr) * kc * nr;
        if (cs == 1 && w == nr) {
            for (size_t p = 0; p < kc; p++) memcpy(dst + p * nr, b + p * rs + j0, nr * sizeof(float));
        } else {
            for (size_t p = 0; p < kc; p++) {
                size_t j = 0;
                for (; j < w; j++) dst[p * nr + j] = b[p * rs + (j0 + j) * cs];
                for (; j < nr; j++) dst[p * nr + j] = 0.f;
            }
        }
    }
}

struct gemm_ctx {
    const struct nn_gemm_call *c;
    float **packb;
    size_t n_nblk, n_mchunk, panels_per_chunk, n_panels;
};

/* One micro-kernel call: A panel q, K block at k0, B tile at column jj of
 * the N block. */
struct tile_src {
    const struct nn_gemm_call *c;
    const float *A, *B, *bias;
    float *C;
    const float *R;
    const float *bp;     /* packed B (ragged panel, or all panels) */
    size_t j0, nc, nfull;
    int k_inner;
};

static inline void run_tile(const struct tile_src *t, size_t q, size_t k0, size_t jj) {
    const struct nn_gemm_call *c = t->c;
    const struct nn_gemm_kernel *k = c->k;
    size_t mr = (size_t)k->mr, nr = (size_t)k->nr;
    size_t kc = c->K - k0 < NN_GEMM_KC ? c->K - k0 : NN_GEMM_KC;
    int flags = (k0 == 0 ? NN_UKR_FIRST : 0) | (k0 + kc == c->K ? NN_UKR_LAST : 0);
    size_t i0 = q * mr;
    int m = (int)(c->M - i0 < mr ? c->M - i0 : mr);
    int n = (int)(t->nc - jj < nr ? t->nc - jj : nr);
    const float *bpan;
    size_t ldb;
    if (jj < t->nfull) {
        bpan = c->boff ? t->B + t->j0 + jj : t->B + k0 * c->b_rs + t->j0 + jj;
        ldb = c->b_rs;
    } else if (t->k_inner) {
        bpan = t->bp + k0 * nr; /* one panel, all of K */
        ldb = nr;
    } else {
        bpan = t->bp + ((jj - t->nfull) / nr) * kc * nr;
        ldb = nr;
    }
    size_t co = i0 * c->ldc + t->j0 + jj;
    k->ukr(kc, t->A + q * mr * c->K + k0 * mr, bpan, ldb, jj < t->nfull && c->boff ? c->boff + k0 : NULL, t->C + co,
           c->ldc, m, n, flags, t->bias ? t->bias + i0 : NULL, t->R ? t->R + co : NULL, c->lo, c->hi);
}

static void gemm_task(void *vctx, size_t t, int tid) {
    const struct gemm_ctx *g = vctx;
    const struct nn_gemm_call *c = g->c;
    const struct nn_gemm_kernel *k = c->k;
    size_t nr = (size_t)k->nr;
    size_t per_call = g->n_nblk * g->n_mchunk;
    size_t bi = t / per_call;
    t %= per_call;
    size_t ai = c->a_mod ? bi % c->a_mod : 0;
    const float *A = c->ap + ai * c->a_stride, *B = c->b ? c->b + bi * c->b_stride : NULL;
    const float *bias0 = c->bias ? c->bias + ai * c->bias_stride : NULL;
    float *C = c->c + bi * c->c_stride;
    const float *R = c->res ? c->res + bi * c->c_stride : NULL;
    size_t nb = t % g->n_nblk, mch = t / g->n_nblk;
    size_t j0 = nb * NN_GEMM_NC, nc = c->N - j0 < NN_GEMM_NC ? c->N - j0 : NN_GEMM_NC;
    size_t q0 = mch * g->panels_per_chunk, q1 = q0 + g->panels_per_chunk;
    if (q1 > g->n_panels) q1 = g->n_panels;
    /* Row-contiguous B is read in place for full NR-wide panels (no copy);
     * only a ragged last panel is packed. */
    int direct = (c->b_cs == 1 || c->boff) && !c->pack;
    /* boff mode: the caller guarantees nr columns of slack past every row,
     * so even the ragged last panel is read in place */
    size_t nfull = !direct ? 0 : c->boff ? nc : nc / nr * nr;
    float *bp = g->packb[tid];
    /* k_inner: B (read in place) stays in L2 for the whole N block, so each
     * A panel is streamed once, front to back, over all of K: the better
     * order when A (the weights) is the big operand. The ragged panel is
     * then packed over all of K at once (it fits the buffer, see run). */
    int k_inner = direct && c->k_inner && (nfull == nc || c->K * nr <= NN_GEMM_KC * NN_GEMM_NC);
    if (k_inner && nfull < nc) pack_b(nr, c->K, nc - nfull, B + j0 + nfull * c->b_cs, c->b_rs, c->b_cs, bp);
    size_t nk = (c->K + NN_GEMM_KC - 1) / NN_GEMM_KC;
    struct tile_src ts = {c, A, B, bias0, C, R, bp, j0, nc, nfull, k_inner};
    if (k_inner) {
        for (size_t q = q0; q < q1; q++)
            for (size_t kb = 0; kb < nk; kb++)
                for (size_t jj = 0; jj < nc; jj += nr) run_tile(&ts, q, kb * NN_GEMM_KC, jj);
        return;
    }
    for (size_t kb = 0; kb < nk; kb++) {
        size_t k0 = kb * NN_GEMM_KC, kc = c->K - k0 < NN_GEMM_KC ? c->K - k0 : NN_GEMM_KC;
        if (c->pack)
            c->pack(c->pack_ctx, bi, k0, kc, j0, nc, nr, bp);
        else if (nfull < nc)
            pack_b(nr, kc, nc - nfull, B + k0 * c->b_rs + (j0 + nfull) * c->b_cs, c->b_rs, c->b_cs, bp);
        /* each A panel stays in L1 for the row of B tiles */
        for (size_t q = q0; q < q1; q++)
            for (size_t jj = 0; jj < nc; jj += nr) run_tile(&ts, q, k0, jj);
    }
}

void nn_gemm_run(struct nn_pool *pool, float **packb, const struct nn_gemm_call *c) {
    size_t batch = c->batch ? c->batch : 1;
    if (c->M == 0 || c->N == 0) return;
    if (c->K == 0) {
        for (size_t b = 0; b < batch; b++) {
            size_t ai = c->a_mod ? b % c->a_mod : 0;
            for (size_t i = 0; i < c->M; i++)
                for (size_t j = 0; j < c->N; j++) {
                    float v = c->bias ? c->bias[ai * c->bias_stride + i] : 0.f;
                    if (c->res) v += c->res[b * c->c_stride + i * c->ldc + j];
                    v = v < c->lo ? c->lo : v;
                    c->c[b * c->c_stride + i * c->ldc + j] = v > c->hi ? c->hi : v;
                }
        }
        return;
    }
    struct gemm_ctx g;
    g.c = c;
    g.packb = packb;
    g.n_nblk = (c->N + NN_GEMM_NC - 1) / NN_GEMM_NC;
    g.n_panels = (c->M + (size_t)c->k->mr - 1) / (size_t)c->k->mr;
    int threads = pool ? nn_pool_threads(pool) : 1;
    size_t want = threads > 1 ? (size_t)threads * 3 : 1;
    size_t have = g.n_nblk * batch;
    size_t chunks = have >= want ? 1 : (want + have - 1) / have;
    if (chunks > g.n_panels) chunks = g.n_panels;
    g.panels_per_chunk = (g.n_panels + chunks - 1) / chunks;
    g.n_mchunk = (g.n_panels + g.panels_per_chunk - 1) / g.panels_per_chunk;
    nn_pool_run(threads > 1 ? pool : NULL, batch * g.n_nblk * g.n_mchunk, gemm_task, &g);
}

void nn_gemm_ref(size_t M, size_t N, size_t K, const float *a, const float *b, float *c,
                 const float *bias) {
    for (size_t i = 0; i < M; i++)
        for (size_t j = 0; j < N; j++) {
            double s = bias ? bias[i] : 0.0;
            for (size_t p = 0; p < K; p++) s += (double)a[i * K + p] * b[p * N + j];
            c[i * N + j] = (float)s;
        }
}
