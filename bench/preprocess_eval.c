/*
 * bench/preprocess_eval.c — checks pixseek's CNN preprocessing against the
 * PIL + ONNX Runtime reference made by bench/reference/ (see
 * make_reference.sh there). For every image of a reference cache:
 *   our preprocessing (pxs_image_to_tensor) -> tensor, compared with PIL's
 *   tensor (mean / max |diff|, number of bit-identical tensors);
 *   tensor -> our nn runtime (mobilenet_v2_embed.onnx, output "embedding")
 *   -> L2-normalised vector, compared with the ORT reference embedding of
 *   PIL's tensor (cosine: mean and worst). The PIL tensor is also run through
 *   our runtime, which separates runtime error from preprocessing error.
 * It also reports the preprocessing time per image (decode included, file
 * reading excluded, one thread).
 *
 * --method selects the resampler, to compare with plain libvips:
 *   pxs          pxs_image_to_tensor (default; --exact disables shrink-on-load)
 *   vips-reduce  same JPEG shrink-on-load, then vips_reduce(kernel=linear)
 *                to the exact torchvision size, crop, normalise
 *   vips-resize  vips_resize(kernel=linear) on the full-size decode
 *
 * Build and run (from the repository root):
 *   sh bench/reference/make_reference.sh      # once: /tmp/pxs-ref/corel1k
 *   sh bench/preprocess_eval.sh [BUILD]       # builds BUILD/preprocess_eval
 *   build/h-prep/preprocess_eval [--ref /tmp/pxs-ref/corel1k]
 *       [--model ../shared/models/mobilenet_v2_embed.onnx] [--no-nn]
 *       [--method pxs|vips-reduce|vips-resize] [--exact] [--limit N]
 *       [--threads T] [--verbose]
 * preprocess_eval.sh compiles the core, image and nn objects through the
 * Makefile (make BUILD=... <objects>) and links this file against them.
 * Other reference sets: make_reference.sh DIR CACHE, e.g. the near-duplicate
 * set, or the large JPEGs from bench/reference/make_large_set.py.
 *
 * Results (libvips 8.14.1, Pillow 9.4, onnxruntime-node 1.30, 2-core VM):
 *   Corel-1k (all 384x256, so Resize(256) is the identity):
 *     tensors bit-identical 1000/1000 (max |d| 0); cosine vs PIL+ORT mean
 *     1.00000000, worst 0.99999990 (= our nn runtime vs ORT on the same
 *     tensor); 1.6-1.7 ms/image on a quiet machine (JPEG decode dominates).
 *   near-duplicate Corel (2200, 160x107 .. 480x352, up- and downscales):
 *     bit-identical 2200/2200.
 *   large (400 Corel upscales, shorter side 435..2048, JPEG q90):
 *     default (shrink-on-load 2x/4x on 200 of them): mean |d| 0.0032, max
 *     0.17, cosine mean 0.99974, worst 0.99827, 7.8 ms/image;
 *     --exact: bit-identical 400/400, 15.2 ms/image (3072x2048: 35 vs 15 ms).
 *   libvips alternatives on the same sets: vips_reduce(kernel=linear) after
 *   the same shrink-on-load: mean |d| 0.0088, cosine worst 0.9977 (large),
 *   and it cannot upscale; vips_resize(kernel=linear): mean |d| 0.025, max
 *   2.1 on the near-duplicates (upscaling uses a different pixel-centre
 *   convention), 34 ms/image on large.
 *   Choice: libvips only decodes (JPEG shrink-on-load kept to >= 2x the
 *   resized size); the resize is a C port of Pillow's bilinear resampler
 *   computed for the crop only. It is exact where libvips' reduce is not
 *   (different centre/support and fixed-point rounding) and costs well
 *   under a millisecond at these sizes.
 */
#include "pixseek/core.h"
#include "pixseek/image.h"
#include "pixseek/nn.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vips/vips.h>

#define MAX_NAMES 100000

static char *read_text(const char *dir, const char *name, size_t *len) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    struct pxs_err err = {0};
    char *data = NULL;
    size_t n = 0;
    if (pxs_file_read_all(path, (size_t)4 << 30, &data, &n, &err) != PXS_OK) {
        fprintf(stderr, "%s: %s\n", path, err.msg);
        return NULL;
    }
    if (len) *len = n;
    return data;
}

/* The string value of "key" in a flat JSON object (no escapes needed here). */
static int json_str(const char *json, const char *key, char *out, size_t cap) {
    char pat[128];
    snprintf(pat, sizeof pat, "\"%s\"", key);
    const char *p = strstr(json, pat);
    if (!p) return -1;
    p = strchr(p + strlen(pat), '"');
    if (!p) return -1;
    const char *e = strchr(++p, '"');
    if (!e || (size_t)(e - p) >= cap) return -1;
    memcpy(out, p, (size_t)(e - p));
    out[e - p] = '\0';
    return 0;
}

static long json_int(const char *json, const char *key) {
    char pat[128];
    snprintf(pat, sizeof pat, "\"%s\"", key);
    const char *p = strstr(json, pat);
    if (!p) return -1;
    p = strchr(p + strlen(pat), ':');
    return p ? strtol(p + 1, NULL, 10) : -1;
}

static void l2norm(float *v, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)v[i] * v[i];
    float inv = s > 0 ? (float)(1.0 / sqrt(s)) : 0.0f;
    for (size_t i = 0; i < n; i++) v[i] *= inv;
}

static double dotd(const float *a, const float *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

/* ---- plain-libvips alternatives (for the comparison only) -------------- */

static int vips_method(const char *method, const void *data, size_t len,
                       const struct pxs_preprocess *pp, float *out) {
    VipsImage *hdr = vips_image_new_from_buffer(data, len, "", NULL);
    if (!hdr) return -1;
    int w = hdr->Xsize, h = hdr->Ysize;
    g_object_unref(hdr);
    int64_t r = pp->resize_shorter, rw, rh;
    if (w <= h) rw = r, rh = r * h / w;
    else rh = r, rw = r * w / h;
    int shrink = 1;
    int is_jpeg = pxs_image_sniff(data, len) == PXS_IMAGE_JPEG;
    if (!strcmp(method, "vips-reduce") && is_jpeg) {
        int shorter = w < h ? w : h;
        shrink = 8;
        while (shrink > 1 && shorter / shrink < 2 * pp->resize_shorter) shrink /= 2;
    }
    VipsImage *ctx = vips_image_new();
    VipsImage **t = (VipsImage **)vips_object_local_array(VIPS_OBJECT(ctx), 8);
    int rc = -1;
    if (shrink > 1) {
        if (vips_jpegload_buffer((void *)data, len, &t[0], "shrink", shrink, NULL)) goto out;
    } else {
        if (!(t[0] = vips_image_new_from_buffer(data, len, "", NULL))) goto out;
    }
    VipsImage *x = t[0];
    if (x->Bands < 3) {
        VipsImage *three[3] = {x, x, x};
        if (vips_bandjoin(three, &t[1], 3, NULL)) goto out;
        x = t[1];
    } else if (x->Bands > 3) {
        if (vips_extract_band(x, &t[1], 0, "n", 3, NULL)) goto out;
        x = t[1];
    }
    double hs = (double)w / shrink / (double)rw, vs = (double)h / shrink / (double)rh;
    if (!strcmp(method, "vips-reduce") && hs >= 1.0 && vs >= 1.0) {
        /* vips_reduce only shrinks; upscales go through vips_resize below */
        if (hs == 1.0 && vs == 1.0) {
            t[2] = g_object_ref(x);
        } else if (vips_reduce(x, &t[2], hs, vs, "kernel", VIPS_KERNEL_LINEAR, NULL)) {
            goto out;
        }
    } else {
        if (vips_resize(x, &t[2], 1.0 / hs, "vscale", 1.0 / vs, "kernel", VIPS_KERNEL_LINEAR,
                        NULL))
            goto out;
    }
    x = t[2];
    /* torchvision crop offsets (round half to even) on the resized size */
    int64_t dx = rw - pp->width, dy = rh - pp->height;
    int64_t ox = dx / 2 + ((dx % 2) && ((dx / 2) % 2)), oy = dy / 2 + ((dy % 2) && ((dy / 2) % 2));
    if (ox + pp->width > x->Xsize) ox = x->Xsize - pp->width;
    if (oy + pp->height > x->Ysize) oy = x->Ysize - pp->height;
    if (ox < 0 || oy < 0) goto out;
    if (vips_extract_area(x, &t[3], (int)ox, (int)oy, pp->width, pp->height, NULL)) goto out;
    if (vips_cast(t[3], &t[4], VIPS_FORMAT_UCHAR, NULL)) goto out;
    size_t size;
    void *mem = vips_image_write_to_memory(t[4], &size);
    if (!mem) goto out;
    struct pxs_image img = {pp->width, pp->height, mem};
    struct pxs_preprocess sq = *pp;
    sq.policy = PXS_RESIZE_SQUASH; /* identity resize: normalisation only */
    rc = pxs_image_pixels_to_tensor(&img, &sq, out, NULL) == PXS_OK ? 0 : -1;
    g_free(mem);
out:
    g_object_unref(ctx);
    if (rc) vips_error_clear();
    return rc;
}

/* ---- main ---------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    const char *ref = "/tmp/pxs-ref/corel1k";
    const char *model_path = NULL;
    const char *method = "pxs";
    int use_nn = 1, exact = 0, verbose = 0, threads = 2;
    long limit = -1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--ref") && i + 1 < argc) ref = argv[++i];
        else if (!strcmp(argv[i], "--model") && i + 1 < argc) model_path = argv[++i];
        else if (!strcmp(argv[i], "--method") && i + 1 < argc) method = argv[++i];
        else if (!strcmp(argv[i], "--limit") && i + 1 < argc) limit = atol(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--no-nn")) use_nn = 0;
        else if (!strcmp(argv[i], "--exact")) exact = 1;
        else if (!strcmp(argv[i], "--verbose")) verbose = 1;
        else {
            fprintf(stderr,
                    "usage: %s [--ref DIR] [--model ONNX] [--no-nn] [--method "
                    "pxs|vips-reduce|vips-resize] [--exact] [--limit N] [--threads T] "
                    "[--verbose]\n",
                    argv[0]);
            return 2;
        }
    }
    if (strcmp(method, "pxs") && strcmp(method, "vips-reduce") && strcmp(method, "vips-resize")) {
        fprintf(stderr, "unknown method %s\n", method);
        return 2;
    }
    struct pxs_err err = {0};
    if (pxs_image_global_init(&err) != PXS_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }

    /* reference cache */
    char *meta = read_text(ref, "meta.json", NULL);
    if (!meta) return 1;
    char image_dir[2048], tensor_file[256];
    if (json_str(meta, "image_dir", image_dir, sizeof image_dir) ||
        json_str(meta, "tensor_file", tensor_file, sizeof tensor_file)) {
        fprintf(stderr, "%s/meta.json: missing image_dir or tensor_file\n", ref);
        return 1;
    }
    long n = json_int(meta, "n"), crop = json_int(meta, "crop"),
         resize = json_int(meta, "resize_shorter");
    pxs_free(meta);
    size_t names_len;
    char *names_txt = read_text(ref, "names.txt", &names_len);
    if (!names_txt || n <= 0 || crop <= 0 || resize <= 0) return 1;
    char **names = calloc((size_t)n, sizeof *names);
    long got = 0;
    for (char *s = strtok(names_txt, "\n"); s && got < n; s = strtok(NULL, "\n")) names[got++] = s;
    if (got != n) {
        fprintf(stderr, "names.txt has %ld names, meta.json says %ld\n", got, n);
        return 1;
    }
    if (limit > 0 && limit < n) n = limit;
    size_t tlen;
    char *tensors = read_text(ref, tensor_file, &tlen);
    const size_t per = (size_t)3 * crop * crop;
    if (!tensors || tlen < (size_t)n * per * sizeof(float)) {
        fprintf(stderr, "reference tensors missing or short\n");
        return 1;
    }
    const float *ref_t = (const float *)(void *)tensors;

    float *ref_e = NULL;
    long dim = 0;
    pxs_nn_model *model = NULL;
    if (use_nn) {
        char *ej = read_text(ref, "embeddings.json", NULL);
        char efile[256];
        if (!ej || json_str(ej, "file", efile, sizeof efile)) {
            fprintf(stderr, "no reference embeddings in %s (run ort_embed.js); try --no-nn\n", ref);
            return 1;
        }
        dim = json_int(ej, "dim");
        pxs_free(ej);
        size_t elen;
        ref_e = (float *)(void *)read_text(ref, efile, &elen);
        if (!ref_e || dim <= 0 || elen < (size_t)n * dim * sizeof(float)) return 1;
        char defmodel[4096];
        if (!model_path) {
            const char *sh = getenv("PXS_SHARED");
            snprintf(defmodel, sizeof defmodel, "%s/models/mobilenet_v2_embed.onnx",
                     sh ? sh : "../shared");
            model_path = defmodel;
        }
        struct pxs_nn_load_opts o;
        pxs_nn_load_opts_init(&o);
        o.threads = threads;
        if (pxs_nn_model_load(model_path, &o, &model, &err) != PXS_OK) {
            fprintf(stderr, "%s: %s\n", model_path, err.msg);
            return 1;
        }
    }

    struct pxs_preprocess pp;
    pxs_preprocess_init_imagenet(&pp);
    pp.width = pp.height = (int)crop;
    pp.resize_shorter = (int)resize;
    pp.no_shrink_on_load = exact;

    float *mine = malloc(per * sizeof(float));
    float *emb = use_nn ? malloc((size_t)dim * sizeof(float)) : NULL;
    float *emb_ref_nn = use_nn ? malloc((size_t)dim * sizeof(float)) : NULL;
    double *ms = malloc((size_t)n * sizeof(double));
    double sum_mean_abs = 0, max_abs = 0, sum_cos = 0, worst_cos = 2, sum_cos_rt = 0,
           worst_cos_rt = 2, worst_img_mean = 0;
    long n_exact = 0, n_ok = 0, worst_i = -1, worst_t_i = -1, worst_rt_i = -1, n_fail = 0;

    for (long i = 0; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", image_dir, names[i]);
        char *data;
        size_t len;
        pxs_err_clear(&err);
        if (pxs_file_read_all(path, (size_t)256 << 20, &data, &len, &err) != PXS_OK) {
            fprintf(stderr, "%s: %s\n", path, err.msg);
            n_fail++;
            continue;
        }
        double t0 = pxs_now_seconds();
        int rc;
        if (!strcmp(method, "pxs"))
            rc = pxs_image_to_tensor(data, len, &pp, mine, NULL, &err);
        else
            rc = vips_method(method, data, len, &pp, mine) == 0 ? PXS_OK : PXS_EINTERNAL;
        ms[n_ok] = (pxs_now_seconds() - t0) * 1e3;
        pxs_free(data);
        if (rc != PXS_OK) {
            if (n_fail < 5) fprintf(stderr, "%s: preprocessing failed: %s\n", path, err.msg);
            n_fail++;
            continue;
        }
        const float *r = ref_t + (size_t)i * per;
        double s = 0, m = 0;
        for (size_t k = 0; k < per; k++) {
            double d = fabs((double)mine[k] - r[k]);
            s += d;
            if (d > m) m = d;
        }
        sum_mean_abs += s / per;
        if (s / per > worst_img_mean) worst_img_mean = s / per, worst_t_i = i;
        if (m > max_abs) max_abs = m;
        if (m == 0) n_exact++;
        double cos = 1, cos_rt = 1;
        if (use_nn) {
            size_t outn;
            if (pxs_nn_run(model, mine, 1, "embedding", emb, (size_t)dim, &outn, &err) != PXS_OK ||
                pxs_nn_run(model, r, 1, "embedding", emb_ref_nn, (size_t)dim, &outn, &err) !=
                    PXS_OK) {
                fprintf(stderr, "nn: %s\n", err.msg);
                return 1;
            }
            float *re = ref_e + (size_t)i * dim;
            l2norm(emb, (size_t)dim);
            l2norm(emb_ref_nn, (size_t)dim);
            l2norm(re, (size_t)dim);
            cos = dotd(emb, re, (size_t)dim);
            cos_rt = dotd(emb_ref_nn, re, (size_t)dim);
            sum_cos += cos;
            sum_cos_rt += cos_rt;
            if (cos < worst_cos) worst_cos = cos, worst_i = i;
            if (cos_rt < worst_cos_rt) worst_cos_rt = cos_rt, worst_rt_i = i;
        }
        if (verbose)
            printf("%-40s tensor mean %.3g max %.3g  cos %.6f  (runtime-only %.6f)  %.2f ms\n",
                   names[i], s / per, m, cos, cos_rt, ms[n_ok]);
        n_ok++;
    }
    if (n_ok == 0) {
        fprintf(stderr, "no image processed\n");
        return 1;
    }
    double tot = 0;
    for (long i = 0; i < n_ok; i++) tot += ms[i];
    qsort(ms, (size_t)n_ok, sizeof *ms, cmp_double);

    printf("reference     %s (%ld images, %s)\n", ref, n, image_dir);
    printf("method        %s%s, resize %ld -> crop %ld\n", method,
           exact ? " (no shrink-on-load)" : "", resize, crop);
    printf("processed     %ld ok, %ld failed\n", n_ok, n_fail);
    printf("tensor diff   mean |d| %.3g (worst image %.3g: %s), max |d| %.3g, bit-identical %ld/%ld\n",
           sum_mean_abs / n_ok, worst_img_mean, worst_t_i >= 0 ? names[worst_t_i] : "-", max_abs,
           n_exact, n_ok);
    if (use_nn) {
        printf("cosine        mean %.8f, worst %.8f (%s)   [ours vs PIL+ORT]\n", sum_cos / n_ok,
               worst_cos, worst_i >= 0 ? names[worst_i] : "-");
        printf("runtime only  mean %.8f, worst %.8f (%s)   [PIL tensor: our nn vs ORT]\n",
               sum_cos_rt / n_ok, worst_cos_rt, worst_rt_i >= 0 ? names[worst_rt_i] : "-");
    } else {
        printf("cosine        (not computed: --no-nn)\n");
    }
    printf("preprocess    %.2f ms/image mean, %.2f median, %.2f p95 (1 thread, decode included)\n",
           tot / n_ok, ms[n_ok / 2], ms[(long)(n_ok * 0.95)]);

    pxs_nn_model_free(model);
    free(mine);
    free(emb);
    free(emb_ref_nn);
    free(ms);
    free(names);
    pxs_free(names_txt);
    pxs_free(tensors);
    pxs_free(ref_e);
    return 0;
}
