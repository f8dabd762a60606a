/*
 * bench/ann_bench.c — recall@10 and single-threaded QPS of a pixseek index
 * on Fashion-MNIST (60000 train x 784-d raw pixel values as float, 10000
 * test queries, L2), against the shared ground truth
 * (../shared/data/fashion-mnist/groundtruth/fashion-mnist_test_top100_l2.ivecs),
 * following the ann-benchmarks protocol: one query at a time, one thread,
 * k = 10, recall = |returned 10 ∩ true top 10| / 10 averaged over queries,
 * QPS = the fastest of 3 passes over the queries (wall and CPU separately).
 *
 *   apt-get install dataset-fashion-mnist     (gzip IDX files in /usr/share/datasets/fashion-mnist)
 *   make module-test M=index BUILD=build/h-index && sh bench/index_bench.sh build/h-index
 *   build/h-index/ann_bench [-index hnsw|ivf_flat|ivf_sq8|ivf_pq|flat] [-m M]
 *       [-efc EF_CONSTRUCTION] [-nlist NLIST] [-pqm M] [-pqnbits B]
 *       [-sweep 10,20,...  (ef for HNSW, nprobe for IVF)] [-q N_QUERIES]
 *       [-data DIR] [-gt FILE]
 *
 * Prints a table and machine-readable lines for bench/ann.sh:
 *   BUILD <name> <seconds> <memory bytes> <CPU seconds>
 *   RESULT <name> <param> <recall@10> <QPS> <QPS by CPU time>
 *   FLATSCAN <name> <ms per query> <GB/s of vectors scanned> <GB/s by CPU time>
 *   MEMORY <name> <index bytes per vector> <vector data bytes per vector>
 *   BANDWIDTH <buffer MiB> <GB/s wall> <GB/s by CPU time>  (with -index flat)
 *
 * -index flat also runs the memory-bandwidth probe: a streaming read and
 * sum over a buffer larger than the last-level cache (1 GiB) and over one
 * the size of the scanned vectors, best of 6 passes.
 * -cache FILE (for iterating on search code, not used by bench/ann.sh):
 * load the index from FILE if it exists, else build it and save it there;
 * a loaded index prints no BUILD line.
 * -float-traversal 1 walks an HNSW graph on float vectors instead of its
 * SQ8 codes (A/B of the quantised traversal on the same graph).
 * The .gz files are read through `gzip -dc` so the bench needs no zlib.
 */
#include "pixseek/index.h"
#include "index/index_int.h" /* pxs__index_vector_bytes, pxs__hnsw_set_float_traversal */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* CPU time of this thread: on a machine shared with other jobs it moves far
 * less than wall time, so every line carries both. */
static double cpu_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static unsigned be32(const unsigned char *p) {
    return (unsigned)p[0] << 24 | (unsigned)p[1] << 16 | (unsigned)p[2] << 8 | p[3];
}

/* Read an IDX3 image file (gzip) into n x dim floats. */
static float *load_idx3(const char *path, size_t *n, size_t *dim) {
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "gzip -dc '%s'", path);
    FILE *f = popen(cmd, "r");
    if (!f) return NULL;
    unsigned char hdr[16];
    float *out = NULL;
    if (fread(hdr, 1, 16, f) == 16 && be32(hdr) == 0x803) {
        *n = be32(hdr + 4);
        *dim = (size_t)be32(hdr + 8) * be32(hdr + 12);
        size_t total = *n * *dim;
        unsigned char *raw = malloc(total);
        out = malloc(total * sizeof(float));
        if (raw && out && fread(raw, 1, total, f) == total) {
            for (size_t i = 0; i < total; i++) out[i] = (float)raw[i];
        } else {
            free(out);
            out = NULL;
        }
        free(raw);
    }
    pclose(f);
    return out;
}

/* ivecs: per row int32 k, then k int32. Returns n rows of width *k. */
static int *load_ivecs(const char *path, size_t *n, size_t *k) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    int32_t kk;
    if (fread(&kk, 4, 1, f) != 1 || kk <= 0) {
        fclose(f);
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    long bytes = ftell(f);
    fseek(f, 0, SEEK_SET);
    size_t row = 4 + (size_t)kk * 4;
    *n = (size_t)bytes / row;
    *k = (size_t)kk;
    int *out = malloc(*n * *k * sizeof(int));
    for (size_t i = 0; out && i < *n; i++) {
        if (fread(&kk, 4, 1, f) != 1 || fread(out + i * *k, 4, *k, f) != *k) {
            free(out);
            out = NULL;
        }
    }
    fclose(f);
    return out;
}

/* Streaming read bandwidth: sum a buffer (written first, so every page is
 * real and distinct: a zero-filled buffer reads from one shared page), best
 * of 6 passes alternating a scalar and a vector read loop. */
static void bandwidth_probe(size_t bytes) {
    size_t words = bytes / sizeof(uint64_t);
    uint64_t *buf = malloc(words * sizeof *buf);
    if (!buf) return;
    for (size_t i = 0; i < words; i++) buf[i] = i * 0x9e3779b97f4a7c15ULL;
    double best = 1e30, best_cpu = 1e30;
    volatile uint64_t sink = 0;
    for (int pass = 0; pass < 6; pass++) {
        double t0 = pxs_now_seconds(), c0 = cpu_seconds();
        if (pass % 2 == 0) { /* eight scalar accumulators */
            uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0, a6 = 0, a7 = 0;
            for (size_t i = 0; i + 8 <= words; i += 8) {
                a0 += buf[i];
                a1 += buf[i + 1];
                a2 += buf[i + 2];
                a3 += buf[i + 3];
                a4 += buf[i + 4];
                a5 += buf[i + 5];
                a6 += buf[i + 6];
                a7 += buf[i + 7];
            }
            sink += a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7;
        } else { /* four 64-byte vector accumulators (GCC vector extension) */
            typedef uint64_t line_t __attribute__((vector_size(64), aligned(8)));
            const line_t *v = (const line_t *)(const void *)buf;
            line_t s0 = {0}, s1 = {0}, s2 = {0}, s3 = {0};
            for (size_t i = 0; i + 4 <= words / 8; i += 4) {
                s0 += v[i];
                s1 += v[i + 1];
                s2 += v[i + 2];
                s3 += v[i + 3];
            }
            s0 += s1 + s2 + s3;
            sink += s0[0] + s0[7];
        }
        double t = pxs_now_seconds() - t0, tc = cpu_seconds() - c0;
        if (t < best) best = t;
        if (tc < best_cpu) best_cpu = tc;
    }
    (void)sink;
    double gb = (double)(words * sizeof *buf) / 1e9;
    printf("memory bandwidth probe: %zu MiB buffer, %.2f GB/s (%.2f GB/s by CPU time)\n",
           bytes >> 20, gb / best, gb / best_cpu);
    printf("BANDWIDTH %zu %.2f %.2f\n", bytes >> 20, gb / best, gb / best_cpu);
    free(buf);
}

/* Timed passes over the queries per setting; the fastest is reported. */
#define RUNS 3

/* Comma-separated positive ints into out (at most max); returns count. */
static size_t parse_list(const char *s, int *out, size_t max) {
    size_t n = 0;
    while (*s && n < max) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s) break;
        if (v > 0) out[n++] = (int)v;
        s = *end == ',' ? end + 1 : end;
    }
    return n;
}

int main(int argc, char **argv) {
    int m = 16, efc = 200, nlist = 256, pqm = 56, pqnbits = 8, float_traversal = 0;
    size_t nq_max = 10000;
    const char *type_name = "hnsw", *sweep = NULL, *cache = NULL;
    const char *dir = "/usr/share/datasets/fashion-mnist";
    const char *gt_path = "../shared/data/fashion-mnist/groundtruth/fashion-mnist_test_top100_l2.ivecs";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "-m")) m = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "-efc")) efc = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "-nlist")) nlist = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "-pqm")) pqm = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "-pqnbits")) pqnbits = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "-index")) type_name = argv[i + 1];
        else if (!strcmp(argv[i], "-sweep")) sweep = argv[i + 1];
        else if (!strcmp(argv[i], "-q")) nq_max = (size_t)atol(argv[i + 1]);
        else if (!strcmp(argv[i], "-data")) dir = argv[i + 1];
        else if (!strcmp(argv[i], "-gt")) gt_path = argv[i + 1];
        else if (!strcmp(argv[i], "-cache")) cache = argv[i + 1];
        else if (!strcmp(argv[i], "-float-traversal")) float_traversal = atoi(argv[i + 1]);
    }
    enum pxs_index_type type;
    if (pxs_index_type_parse(type_name, &type) != PXS_OK) {
        fprintf(stderr, "ann_bench: unknown index type %s\n", type_name);
        return 2;
    }
    char path[4096];
    size_t nb, dim, nq, dimq, ngt, kgt;
    snprintf(path, sizeof path, "%s/train-images-idx3-ubyte.gz", dir);
    float *base = load_idx3(path, &nb, &dim);
    snprintf(path, sizeof path, "%s/t10k-images-idx3-ubyte.gz", dir);
    float *queries = load_idx3(path, &nq, &dimq);
    int *gt = load_ivecs(gt_path, &ngt, &kgt);
    if (!base || !queries || !gt || dim != dimq || ngt < nq || kgt < 10) {
        fprintf(stderr, "ann_bench: cannot load data (%s) or ground truth (%s)\n", dir, gt_path);
        return 1;
    }
    if (nq > nq_max) nq = nq_max;
    printf("fashion-mnist: %zu base x %zu-d, %zu queries; kernels %s; cpu %s\n", nb, dim, nq,
           pxs_dist_kernel_name(), pxs_cpu_describe());

    struct pxs_err err = {0};
    struct pxs_index_params p = {.type = type,
                                 .metric = PXS_METRIC_L2,
                                 .dim = dim,
                                 .hnsw_m = m,
                                 .hnsw_ef_construction = efc,
                                 .ivf_nlist = nlist,
                                 .pq_m = pqm,
                                 .pq_nbits = pqnbits,
                                 .ivf_train_size = nb}; /* train on everything, once */
    char name[96];
    if (type == PXS_INDEX_HNSW)
        snprintf(name, sizeof name, "pixseek-hnsw(M=%d,efC=%d)", m, efc);
    else if (type == PXS_INDEX_IVF_PQ)
        snprintf(name, sizeof name, "pixseek-ivf_pq(nlist=%d,m=%d,nbits=%d)", nlist, pqm, pqnbits);
    else if (type == PXS_INDEX_FLAT)
        snprintf(name, sizeof name, "pixseek-flat");
    else
        snprintf(name, sizeof name, "pixseek-%s(nlist=%d)", type_name, nlist);
    if (float_traversal) strcat(name, "-float-traversal");
    pxs_index *ix;
    double t0, c0;
    char *cached = NULL;
    size_t cached_len = 0;
    if (cache && pxs_file_read_all(cache, (size_t)1 << 34, &cached, &cached_len, &err) == PXS_OK) {
        t0 = pxs_now_seconds();
        if (pxs_index_deserialize(cached, cached_len, &ix, &err) != PXS_OK) {
            fprintf(stderr, "ann_bench: %s: %s\n", cache, err.msg);
            return 1;
        }
        pxs_free(cached);
        printf("%s: loaded from %s in %.1f s\n", name, cache, pxs_now_seconds() - t0);
        goto built;
    }
    if (pxs_index_new(&p, &ix, &err) != PXS_OK) {
        fprintf(stderr, "ann_bench: %s\n", err.msg);
        return 1;
    }
    t0 = pxs_now_seconds();
    c0 = cpu_seconds();
    for (size_t i = 0; i < nb; i++)
        if (pxs_index_add(ix, (int64_t)i, base + i * dim, &err) != PXS_OK) {
            fprintf(stderr, "ann_bench: add: %s\n", err.msg);
            return 1;
        }
    if (pxs_index_train(ix, &err) != PXS_OK) {
        fprintf(stderr, "ann_bench: train: %s\n", err.msg);
        return 1;
    }
    double build = pxs_now_seconds() - t0, build_cpu = cpu_seconds() - c0;
    printf("%s: build %.1f s (%.1f s CPU, 1 thread), memory %.1f MiB\n", name, build, build_cpu,
           (double)pxs_index_memory(ix) / (1024.0 * 1024.0));
    printf("BUILD %s %.2f %zu %.2f\n", name, build, pxs_index_memory(ix), build_cpu);
    if (cache) {
        struct pxs_buf buf;
        pxs_buf_init(&buf, (size_t)1 << 40);
        if (pxs_index_serialize(ix, &buf, &err) != PXS_OK ||
            pxs_file_write_atomic(cache, buf.data, buf.len, &err) != PXS_OK)
            fprintf(stderr, "ann_bench: cannot save %s: %s\n", cache, err.msg);
        pxs_buf_free(&buf);
    }
built:;
    size_t count = pxs_index_count(ix);
    printf("%s: %.0f bytes per vector in all, %.0f of them vector data (raw %zu)\n", name,
           (double)pxs_index_memory(ix) / (double)count,
           (double)pxs__index_vector_bytes(ix) / (double)count, dim * sizeof(float));
    printf("MEMORY %s %.1f %.1f\n", name, (double)pxs_index_memory(ix) / (double)count,
           (double)pxs__index_vector_bytes(ix) / (double)count);
    if (float_traversal) pxs__hnsw_set_float_traversal(ix, 1);

    struct pxs_hit hits[10];
    int params[64];
    size_t np;
    if (type == PXS_INDEX_FLAT) {
        /* Exact scan: the memory-bandwidth line (vectors read per second). */
        size_t nfq = nq < 200 ? nq : 200, found = 0, n;
        bandwidth_probe((size_t)1 << 30);
        bandwidth_probe(nb * dim * sizeof(float));
        t0 = pxs_now_seconds();
        c0 = cpu_seconds();
        for (size_t q = 0; q < nfq; q++) {
            if (pxs_index_search(ix, queries + q * dim, 10, hits, &n, &err) != PXS_OK) return 1;
            for (size_t a = 0; a < n; a++)
                for (size_t b = 0; b < 10; b++)
                    if (hits[a].id == gt[q * kgt + b]) {
                        found++;
                        break;
                    }
        }
        double t = pxs_now_seconds() - t0, tc = cpu_seconds() - c0;
        double gbs = (double)nfq * (double)nb * (double)dim * 4.0 / t / 1e9;
        double gbs_cpu = gbs * t / tc;
        printf("FLAT recall %.4f, %.2f ms/query, %.1f GB/s (%.1f GB/s by CPU time; %zu queries)\n",
               (double)found / (double)(nfq * 10), t * 1e3 / (double)nfq, gbs, gbs_cpu, nfq);
        printf("FLATSCAN %s %.3f %.2f %.2f\n", name, t * 1e3 / (double)nfq, gbs, gbs_cpu);
        pxs_index_free(ix);
        free(base);
        free(queries);
        free(gt);
        return 0;
    }
    if (sweep) {
        np = parse_list(sweep, params, 64);
    } else if (type == PXS_INDEX_HNSW) {
        const int d[] = {10, 16, 32, 64, 128, 256, 512};
        np = sizeof d / sizeof d[0];
        memcpy(params, d, sizeof d);
    } else {
        const int d[] = {1, 2, 4, 8, 16, 32, 64};
        np = sizeof d / sizeof d[0];
        memcpy(params, d, sizeof d);
    }
    const char *pname = type == PXS_INDEX_HNSW ? "ef" : "nprobe";
    printf("%8s %10s %10s %10s %10s\n", pname, "recall@10", "QPS", "us/query", "CPU QPS");
    for (size_t e = 0; e < np; e++) {
        struct pxs_search_params sp = {.ef = params[e], .nprobe = params[e]};
        size_t found = 0, n;
        /* Warm-up pass so scratch pools are sized before timing. */
        for (size_t q = 0; q < 100 && q < nq; q++)
            if (pxs_index_search_ex(ix, queries + q * dim, 10, &sp, hits, &n, &err) != PXS_OK)
                return 1;
        /* Best of RUNS passes over the queries (ann-benchmarks keeps the
         * best of its runs too); recall is the same in every pass. */
        double t = 1e30, tc = 1e30;
        for (int run = 0; run < RUNS; run++) {
            found = 0;
            t0 = pxs_now_seconds();
            c0 = cpu_seconds();
            for (size_t q = 0; q < nq; q++) {
                if (pxs_index_search_ex(ix, queries + q * dim, 10, &sp, hits, &n, &err) != PXS_OK)
                    return 1;
                const int *truth = gt + q * kgt;
                for (size_t a = 0; a < n; a++)
                    for (size_t b = 0; b < 10; b++)
                        if (hits[a].id == truth[b]) {
                            found++;
                            break;
                        }
            }
            double tw = pxs_now_seconds() - t0, tcpu = cpu_seconds() - c0;
            if (tw < t) t = tw;
            if (tcpu < tc) tc = tcpu;
        }
        double rec = (double)found / (double)(nq * 10), qps = (double)nq / t;
        printf("%8d %10.4f %10.0f %10.1f %10.0f\n", params[e], rec, qps, t * 1e6 / (double)nq,
               (double)nq / tc);
        printf("RESULT %s %s=%d %.4f %.1f %.1f\n", name, pname, params[e], rec, qps, (double)nq / tc);
    }
    pxs_index_free(ix);
    free(base);
    free(queries);
    free(gt);
    return 0;
}
