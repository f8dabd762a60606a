/*
 * bench/descriptor_eval.c — measures the built-in image descriptor:
 * leave-one-out mAP and P@10 on Corel-1k (cosine, the query excluded, all
 * 999 others ranked), and near-duplicate recall@1 (each edited copy must
 * find its original among the 1000 Corel originals) overall and per edit.
 * With --tune it also runs a small coordinate search over block weights.
 *
 * Build by hand against the core + image objects of a module build:
 *   make module-test M=image BUILD=build/h-image
 *   cc -std=c11 -D_GNU_SOURCE -O2 -Iinclude -Isrc $(pkg-config --cflags vips) \\
 *      bench/descriptor_eval.c build/h-image/obj/src/core/[a-z]*.o \
 *      build/h-image/obj/src/image/[a-z]*.o \
 *      $(pkg-config --libs vips libxxhash) -lm -pthread -o build/h-image/descriptor_eval
 *   build/h-image/descriptor_eval [--corel DIR] [--neardup DIR] [--tune]
 *                                 [--nd-weight X] [--weights w1,w2,...]
 */
#include "pixseek/core.h"
#include "pixseek/image.h"
#include "image/image_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DIM PXS_IMAGE_DESCRIPTOR_DIM
#define NB PXS__DESC_N_BLOCKS
#define MAX_EDITS 64

struct item {
    char name[64];  /* file name, e.g. "12.jpg" */
    char edit[64];  /* near-dup: transform name */
    int label;      /* corel: class; near-dup: index of the original */
    float raw[DIM]; /* per-block Hellinger, before weights */
};

static int raw_descriptor(const char *path, float *raw) {
    char *data;
    size_t len;
    struct pxs_err err = {0};
    if (pxs_file_read_all(path, 64u << 20, &data, &len, &err) != PXS_OK) {
        fprintf(stderr, "%s: %s\n", path, err.msg);
        return -1;
    }
    struct pxs_image img;
    struct pxs_image_decode_opts opts = {.max_side = 256};
    int rc = pxs_image_decode(data, len, &opts, &img, NULL, &err);
    pxs_free(data);
    if (rc == PXS_OK) rc = pxs__image_descriptor_blocks(&img, raw, &err);
    pxs_image_free(&img);
    if (rc != PXS_OK) fprintf(stderr, "%s: %s\n", path, err.msg);
    return rc == PXS_OK ? 0 : -1;
}

static void finish(const float *raw, const float *w, float *out) {
    memcpy(out, raw, sizeof(float) * DIM);
    if (pxs__image_descriptor_finish(out, w, NULL) != PXS_OK) memset(out, 0, sizeof(float) * DIM);
}

static float dot(const float *a, const float *b) {
    float s = 0;
    for (int i = 0; i < DIM; i++) s += a[i] * b[i];
    return s;
}

struct scored {
    float s;
    int label;
};

static int by_score_desc(const void *a, const void *b) {
    float x = ((const struct scored *)a)->s, y = ((const struct scored *)b)->s;
    return x < y ? 1 : x > y ? -1 : 0;
}

struct result {
    double map, p10, nd_r1;
    int n_edits;
    char edit_name[MAX_EDITS][64];
    int edit_hit[MAX_EDITS], edit_n[MAX_EDITS];
};

static void evaluate(const struct item *db, int n, const struct item *nd, int m, const float *w,
                     struct result *r) {
    float *v = malloc(sizeof(float) * DIM * (size_t)n);
    float q[DIM];
    struct scored *sc = malloc(sizeof *sc * (size_t)n);
    for (int i = 0; i < n; i++) finish(db[i].raw, w, v + (size_t)i * DIM);
    double sum_ap = 0, sum_p10 = 0;
    for (int i = 0; i < n; i++) {
        int k = 0, relevant = 0;
        for (int j = 0; j < n; j++) {
            if (j == i) continue;
            sc[k].s = dot(v + (size_t)i * DIM, v + (size_t)j * DIM);
            sc[k].label = db[j].label;
            relevant += db[j].label == db[i].label;
            k++;
        }
        qsort(sc, (size_t)k, sizeof *sc, by_score_desc);
        int hits = 0;
        double ap = 0;
        for (int j = 0; j < k; j++)
            if (sc[j].label == db[i].label) {
                hits++;
                ap += (double)hits / (j + 1);
                if (j < 10) sum_p10 += 0.1;
            }
        sum_ap += relevant ? ap / relevant : 0;
    }
    r->map = sum_ap / n;
    r->p10 = sum_p10 / n;
    r->n_edits = 0;
    int total_hit = 0;
    for (int i = 0; i < m; i++) {
        finish(nd[i].raw, w, q);
        int best = -1;
        float bs = -2;
        for (int j = 0; j < n; j++) {
            float s = dot(q, v + (size_t)j * DIM);
            if (s > bs) bs = s, best = j;
        }
        int e;
        for (e = 0; e < r->n_edits; e++)
            if (strcmp(r->edit_name[e], nd[i].edit) == 0) break;
        if (e == r->n_edits && e < MAX_EDITS) {
            snprintf(r->edit_name[e], sizeof r->edit_name[e], "%s", nd[i].edit);
            r->edit_hit[e] = r->edit_n[e] = 0;
            r->n_edits++;
        }
        int hit = best == nd[i].label;
        total_hit += hit;
        if (e < MAX_EDITS) r->edit_hit[e] += hit, r->edit_n[e]++;
    }
    r->nd_r1 = m ? (double)total_hit / m : 0;
    free(v);
    free(sc);
}

static void print_result(const struct result *r, const float *w, int per_edit) {
    printf("weights");
    for (int b = 0; b < NB; b++) printf(" %s=%.3g", pxs__desc_blocks[b].name, w[b]);
    printf("\n  corel mAP %.4f  P@10 %.4f  near-dup R@1 %.4f\n", r->map, r->p10, r->nd_r1);
    if (per_edit)
        for (int e = 0; e < r->n_edits; e++)
            printf("    %-28s %.2f\n", r->edit_name[e], (double)r->edit_hit[e] / r->edit_n[e]);
}

/* Reads "a<TAB>b<TAB>c..." lines (header skipped) into fields. */
static int split_tsv(char *line, char **f, int max) {
    int n = 0;
    f[n++] = line;
    for (char *p = line; *p; p++) {
        if (*p == '\t' && n < max) {
            *p = 0;
            f[n++] = p + 1;
        } else if (*p == '\n' || *p == '\r') {
            *p = 0;
            break;
        }
    }
    return n;
}

int main(int argc, char **argv) {
    const char *corel = "/work/shared/data/corel1k_wang";
    const char *ndir = "/work/shared/data/nearduplicate_generated_corel";
    int tune = 0;
    double nd_weight = 0.1; /* tuning objective: mAP + nd_weight * near-dup R@1 */
    float w[NB];
    for (int b = 0; b < NB; b++) w[b] = pxs__desc_blocks[b].weight;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--corel") && i + 1 < argc) corel = argv[++i];
        else if (!strcmp(argv[i], "--neardup") && i + 1 < argc) ndir = argv[++i];
        else if (!strcmp(argv[i], "--tune")) tune = 1;
        else if (!strcmp(argv[i], "--nd-weight") && i + 1 < argc) nd_weight = atof(argv[++i]);
        else if (!strcmp(argv[i], "--weights") && i + 1 < argc) {
            char *p = argv[++i];
            for (int b = 0; b < NB && p && *p; b++) {
                w[b] = strtof(p, &p);
                if (*p == ',') p++;
            }
        } else {
            fprintf(stderr,
                    "usage: %s [--corel DIR] [--neardup DIR] [--tune] [--nd-weight X]"
                    " [--weights a,b,..]\n",
                    argv[0]);
            return 2;
        }
    }
    struct pxs_err err = {0};
    if (pxs_image_global_init(&err) != PXS_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }

    char path[4096], line[4096];
    snprintf(path, sizeof path, "%s/labels.tsv", corel);
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        return 1;
    }
    struct item *db = calloc(2000, sizeof *db);
    int n = 0;
    double t0 = pxs_now_seconds();
    while (fgets(line, sizeof line, f) && n < 2000) {
        char *fld[4];
        if (split_tsv(line, fld, 4) < 2 || !strcmp(fld[0], "path")) continue;
        const char *base = strrchr(fld[0], '/');
        snprintf(db[n].name, sizeof db[n].name, "%s", base ? base + 1 : fld[0]);
        db[n].label = atoi(fld[1]);
        snprintf(path, sizeof path, "%s/%s", corel, fld[0]);
        if (raw_descriptor(path, db[n].raw) == 0) n++;
    }
    fclose(f);
    double t1 = pxs_now_seconds();
    printf("corel: %d images, %.2f ms/image (decode max_side 256 + descriptor)\n", n,
           1000 * (t1 - t0) / (n ? n : 1));

    struct item *nd = calloc(4000, sizeof *nd);
    int m = 0;
    snprintf(path, sizeof path, "%s/groundtruth.tsv", ndir);
    f = fopen(path, "r");
    if (f) {
        while (fgets(line, sizeof line, f) && m < 4000) {
            char *fld[5];
            if (split_tsv(line, fld, 5) < 3 || !strcmp(fld[0], "copy_path")) continue;
            int orig = -1;
            for (int j = 0; j < n; j++)
                if (!strcmp(db[j].name, fld[1])) orig = j;
            if (orig < 0) continue;
            nd[m].label = orig;
            snprintf(nd[m].edit, sizeof nd[m].edit, "%s", fld[2]);
            snprintf(path, sizeof path, "%s/%s", ndir, fld[0]);
            if (raw_descriptor(path, nd[m].raw) == 0) m++;
        }
        fclose(f);
    }
    printf("near-dup: %d edited copies\n", m);

    struct result r;
    evaluate(db, n, nd, m, w, &r);
    print_result(&r, w, 1);
    if (tune) {
        
        double best = r.map + nd_weight * r.nd_r1;
        static const float mult[] = {0.0f, 0.5f, 0.75f, 1.33f, 2.0f};
        for (int round = 0; round < 3; round++) {
            int improved = 0;
            for (int b = 1; b < NB; b++) /* block 0 fixes the scale */
                for (size_t k = 0; k < sizeof mult / sizeof mult[0]; k++) {
                    float saved = w[b];
                    w[b] = saved * mult[k];
                    if (w[b] == 0 && saved == 0) w[b] = 0.25f;
                    struct result t;
                    evaluate(db, n, nd, m, w, &t);
                    double obj = t.map + nd_weight * t.nd_r1;
                    if (obj > best + 1e-4) {
                        best = obj;
                        improved = 1;
                        print_result(&t, w, 0);
                    } else {
                        w[b] = saved;
                    }
                }
            if (!improved) break;
        }
        evaluate(db, n, nd, m, w, &r);
        printf("best:\n");
        print_result(&r, w, 1);
    }
    free(db);
    free(nd);
    return 0;
}
