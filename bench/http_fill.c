/*
 * bench/http_fill.c — grow a pixseek collection to N vectors for
 * bench/http.sh, honestly: the collection first holds real images indexed
 * with a CNN (Corel-1k with MobileNetV2); every further vector is a real
 * embedding plus Gaussian noise (sigma per dimension), renormalised to
 * unit length, added with pxs_engine_add_vectors under the path
 * "synthetic/<source id>/<n>". So the extra 99k vectors have the
 * distribution of real embeddings (clustered around real images) without
 * decoding 99k images. It also writes every vector in id order (float32,
 * little-endian) and their paths, one per line, so the Python peer can be
 * loaded with exactly the same data.
 *
 *   http_fill --data DIR --total N [--sigma S] --vectors OUT.f32 --paths OUT.txt
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pixseek/engine.h"

static double gauss(unsigned long long *s) {
    double u1, u2;
    do {
        *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
        u1 = (double)(*s >> 11) / 9007199254740992.0;
    } while (u1 <= 0);
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    u2 = (double)(*s >> 11) / 9007199254740992.0;
    return sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2);
}

int main(int argc, char **argv) {
    const char *data = NULL, *vec_out = NULL, *path_out = NULL;
    long total = 100000;
    double sigma = 0.0125;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--data")) data = argv[i + 1];
        else if (!strcmp(argv[i], "--total")) total = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--sigma")) sigma = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--vectors")) vec_out = argv[i + 1];
        else if (!strcmp(argv[i], "--paths")) path_out = argv[i + 1];
    }
    if (!data || !vec_out || !path_out || total < 1) {
        fprintf(stderr, "usage: http_fill --data DIR --total N [--sigma S] --vectors F --paths F\n");
        return 2;
    }
    struct pxs_err err;
    pxs_err_clear(&err);
    struct pxs_engine_opts eo = {.data_dir = data};
    pxs_engine *e;
    if (pxs_engine_open(&eo, &e, &err) != PXS_OK) {
        fprintf(stderr, "http_fill: %s\n", err.msg);
        return 1;
    }
    struct pxs_engine_stats st;
    if (pxs_engine_stats(e, &st, &err) != PXS_OK || st.images == 0) {
        fprintf(stderr, "http_fill: empty collection (index some images first)\n");
        return 1;
    }
    size_t dim = st.dim, n_base = 0;
    float *base = malloc(st.images * dim * sizeof(float));
    int64_t *base_ids = malloc(st.images * sizeof(int64_t));
    FILE *fv = fopen(vec_out, "wb"), *fp = fopen(path_out, "w");
    if (!base || !base_ids || !fv || !fp) return 1;
    for (int64_t id = 1; n_base < st.images && id < (int64_t)st.images * 4 + 100; id++) {
        struct pxs_image_meta meta;
        if (pxs_engine_get_meta(e, id, &meta, &err) != PXS_OK) continue;
        if (pxs_engine_get_vector(e, id, base + n_base * dim, dim, &err) != PXS_OK) continue;
        base_ids[n_base++] = id;
        fwrite(base + (n_base - 1) * dim, sizeof(float), dim, fv);
        fprintf(fp, "%s\n", meta.path);
    }
    unsigned long long seed = 42;
    size_t batch = 5000;
    float *vecs = malloc(batch * dim * sizeof(float));
    char **paths = malloc(batch * sizeof(char *));
    for (size_t i = 0; i < batch; i++) paths[i] = malloc(64);
    long have = (long)n_base;
    while (have < total) {
        size_t n = (size_t)(total - have) < batch ? (size_t)(total - have) : batch;
        for (size_t i = 0; i < n; i++) {
            size_t b = (size_t)(have + (long)i) % n_base;
            double norm = 0;
            float *v = vecs + i * dim;
            for (size_t k = 0; k < dim; k++) {
                v[k] = base[b * dim + k] + (float)(sigma * gauss(&seed));
                norm += (double)v[k] * v[k];
            }
            float inv = (float)(1.0 / sqrt(norm));
            for (size_t k = 0; k < dim; k++) v[k] *= inv;
            snprintf(paths[i], 64, "synthetic/%lld/%ld", (long long)base_ids[b], have + (long)i);
            fprintf(fp, "%s\n", paths[i]);
        }
        fwrite(vecs, sizeof(float), n * dim, fv);
        if (pxs_engine_add_vectors(e, (const char *const *)paths, vecs, n, NULL, &err) != PXS_OK) {
            fprintf(stderr, "http_fill: %s\n", err.msg);
            return 1;
        }
        have += (long)n;
        fprintf(stderr, "\rhttp_fill: %ld / %ld vectors", have, total);
    }
    fprintf(stderr, "\nhttp_fill: %zu real + %ld jittered (sigma %.4f) vectors of dim %zu\n",
            n_base, total - (long)n_base, sigma, dim);
    fclose(fv);
    fclose(fp);
    pxs_engine_close(e);
    return 0;
}
