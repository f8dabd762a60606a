/*
 * embedder.c — images to vectors. Two kinds:
 *   built-in  the image module's colour/texture descriptor (no model file);
 *   onnx      a CNN run by the nn module, fed by the image module's
 *             preprocessing and finished here: pooling of feature maps
 *             (avg, max, GeM) and L2 normalisation, per the model description.
 * A pxs_nn_model serves one thread at a time, so the embedder keeps a small
 * pool of model instances; a caller waits when all are busy.
 */
#include "embedder_int.h"

#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MODEL_INSTANCES_MAX 4
#define MODEL_CONFIG_MAX_BYTES (1u << 20)
#define MODEL_MAX_BYTES (4ull << 30)

static int cpu_count(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 64 ? 64 : (int)n;
}

const char *pxs_embedder_name(const pxs_embedder *emb) { return emb->name; }
const char *pxs_embedder_config_json(const pxs_embedder *emb) { return emb->config_json; }
const char *pxs_embedder_model_path(const pxs_embedder *emb) { return emb->builtin ? "" : emb->model_path; }
size_t pxs_embedder_dim(const pxs_embedder *emb) { return emb->dim; }
const char *pxs_embedder_precision(const pxs_embedder *emb) { return emb->precision_run; }
const char *pxs_embedder_precision_note(const pxs_embedder *emb) { return emb->precision_note; }

/* Where is the description of model_path? Explicit path, then MODEL.json
 * beside the model, then $PIXSEEK_MODELS/<file name>.json. */
static int find_config(const char *model_path, const char *explicit_path, char *out, size_t cap,
                       struct pxs_err *err) {
    struct stat st;
    if (explicit_path) {
        snprintf(out, cap, "%s", explicit_path);
        return PXS_OK;
    }
    snprintf(out, cap, "%s.json", model_path);
    if (stat(out, &st) == 0) return PXS_OK;
    const char *dir = getenv("PIXSEEK_MODELS");
    if (dir && dir[0]) {
        const char *base = strrchr(model_path, '/');
        snprintf(out, cap, "%s/%s.json", dir, base ? base + 1 : model_path);
        if (stat(out, &st) == 0) return PXS_OK;
    }
    return pxs_errf(err, PXS_ENOTFOUND,
                    "no model description for %s: write %s.json beside it, pass "
                    "--model-config FILE, or set PIXSEEK_MODELS to a folder of descriptions "
                    "(examples in models/)",
                    model_path, model_path);
}

static int load_instance(pxs_embedder *emb, pxs_nn_model **out, struct pxs_err *err) {
    struct pxs_nn_load_opts o;
    pxs_nn_load_opts_init(&o);
    o.threads = emb->threads;
    o.precision = emb->precision;
    return pxs_nn_model_load(emb->model_path, &o, out, err);
}

/* Check the model against its description and work out the vector size. */
static int inspect_model(pxs_embedder *emb, pxs_nn_model *m, struct pxs_err *err) {
    const struct model_config *c = &emb->cfg;
    int64_t in[PXS_NN_MAX_DIMS];
    int rank = pxs_nn_model_input_shape(m, in, PXS_NN_MAX_DIMS);
    if (rank != 4 || in[1] != 3)
        return pxs_errf(err, PXS_EMISMATCH, "%s: input is not an N x 3 x H x W image tensor",
                        emb->model_path);
    if (in[2] > 0 && in[3] > 0 && (in[2] != c->height || in[3] != c->width))
        return pxs_errf(err, PXS_EMISMATCH,
                        "%s takes %lldx%lld images but its description says %dx%d",
                        emb->model_path, (long long)in[3], (long long)in[2], c->width, c->height);
    if (c->output[0]) {
        int found = 0;
        for (int i = 0; i < pxs_nn_model_output_count(m); i++)
            if (strcmp(pxs_nn_model_output_name(m, i), c->output) == 0) found = 1;
        if (!found)
            return pxs_errf(err, PXS_EMISMATCH, "%s has no output named \"%s\" (first output: %s)",
                            emb->model_path, c->output, pxs_nn_model_output_name(m, 0));
    }
    int ndim = 0;
    int64_t d[PXS_NN_MAX_DIMS];
    int rc = pxs_nn_model_output_shape(m, c->output[0] ? c->output : NULL, 1, d, PXS_NN_MAX_DIMS,
                                       &ndim, err);
    if (rc != PXS_OK) return rc;
    size_t item = 1;
    for (int i = 1; i < ndim; i++) item *= (size_t)d[i];
    emb->out_item_len = item;
    if (c->pooling == MODEL_POOL_NONE) {
        emb->dim = item;
        emb->out_channels = item;
        emb->out_spatial = 1;
    } else {
        if (ndim != 4)
            return pxs_errf(err, PXS_EMISMATCH,
                            "%s: pooling \"%s\" needs an N x C x H x W output, got rank %d",
                            emb->model_path, model_pooling_name(c->pooling), ndim);
        emb->dim = (size_t)d[1];
        emb->out_channels = (size_t)d[1];
        emb->out_spatial = (size_t)(d[2] * d[3]);
    }
    if (emb->dim == 0 || emb->dim > 32768)
        return pxs_errf(err, PXS_EMISMATCH, "%s: embedding size %zu is out of range (1..32768)",
                        emb->model_path, emb->dim);
    return PXS_OK;
}

int pxs_embedder_open(const struct pxs_embedder_opts *opts, pxs_embedder **out,
                      struct pxs_err *err) {
    *out = NULL;
    int rc = pxs_image_global_init(err);
    if (rc != PXS_OK) return rc;
    pxs_embedder *emb = pxs_calloc(1, sizeof *emb);
    if (!emb) return pxs_errf(err, PXS_ENOMEM, "out of memory");
    pthread_mutex_init(&emb->lock, NULL);
    pthread_cond_init(&emb->available, NULL);
    emb->threads = opts && opts->threads > 0 ? opts->threads : cpu_count();
    emb->precision_run = "fp32";
    if (opts && opts->precision && pxs_nn_precision_parse(opts->precision, &emb->precision, err) != PXS_OK) {
        pxs_embedder_close(emb);
        return PXS_EINVAL;
    }
    if (!opts || !opts->model_path) {
        if (emb->precision != PXS_NN_FP32) {
            emb->precision_note = "the built-in descriptor has no model";
            pxs_log(PXS_LOG_WARN, "bf16 unavailable (%s): running fp32", emb->precision_note);
        }
        emb->builtin = 1;
        snprintf(emb->name, sizeof emb->name, "%s", PXS_IMAGE_DESCRIPTOR_NAME);
        emb->dim = PXS_IMAGE_DESCRIPTOR_DIM;
        emb->cfg.metric = PXS_METRIC_COSINE;
        *out = emb;
        return PXS_OK;
    }
    if (!realpath(opts->model_path, emb->model_path)) {
        rc = pxs_errf_sys(err, PXS_ENOTFOUND, errno, "cannot open model %s", opts->model_path);
        goto fail;
    }
    if (opts->model_config_json) {
        rc = model_config_parse(opts->model_config_json, strlen(opts->model_config_json),
                                "stored model description", &emb->cfg, err);
    } else {
        char cfg_path[4200];
        rc = find_config(emb->model_path, opts->model_config, cfg_path, sizeof cfg_path, err);
        char *json = NULL;
        size_t json_len = 0;
        if (rc == PXS_OK)
            rc = pxs_file_read_all(cfg_path, MODEL_CONFIG_MAX_BYTES, &json, &json_len, err);
        if (rc == PXS_OK) rc = model_config_parse(json, json_len, cfg_path, &emb->cfg, err);
        pxs_free(json);
    }
    if (rc != PXS_OK) goto fail;
    struct pxs_buf cj;
    pxs_buf_init(&cj, sizeof emb->config_json - 1);
    rc = model_config_to_json(&emb->cfg, &cj);
    if (rc == PXS_OK) memcpy(emb->config_json, cj.data, cj.len + 1);
    pxs_buf_free(&cj);
    if (rc != PXS_OK) {
        rc = pxs_errf(err, rc, "model description too long");
        goto fail;
    }

    /* Identity: description name + hash of the model bytes, so a changed
     * model file is noticed even under the same name. */
    char *bytes = NULL;
    size_t n_bytes = 0;
    rc = pxs_file_read_all(emb->model_path, MODEL_MAX_BYTES, &bytes, &n_bytes, err);
    if (rc != PXS_OK) goto fail;
    uint64_t h = pxs_hash64(bytes, n_bytes);
    struct pxs_nn_load_opts lo;
    pxs_nn_load_opts_init(&lo);
    lo.threads = emb->threads;
    lo.precision = emb->precision;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", emb->model_path);
    pxs_nn_model *first = NULL;
    struct pxs_err load_err;
    pxs_err_clear(&load_err);
    rc = pxs_nn_model_load_buffer(bytes, n_bytes, dirname(dir), &lo, &first, &load_err);
    pxs_free(bytes);
    if (rc != PXS_OK) {
        pxs_errf(err, rc, "cannot load model %s: %s", emb->model_path, pxs_err_message(&load_err, rc));
        goto fail;
    }
    emb->models[emb->n_models++] = first;
    emb->free_models[emb->n_free++] = first;
    rc = inspect_model(emb, first, err);
    if (rc != PXS_OK) goto fail;
    struct pxs_nn_stats st;
    pxs_nn_model_stats(first, &st);
    emb->precision_run = st.precision;
    emb->precision_note = st.precision_note;
    if (emb->precision_note)
        pxs_log(PXS_LOG_WARN, "bf16 unavailable (%s): running fp32", emb->precision_note);
    snprintf(emb->name, sizeof emb->name, "onnx:%s:%016llx", emb->cfg.name, (unsigned long long)h);
    *out = emb;
    return PXS_OK;
fail:
    pxs_embedder_close(emb);
    return rc;
}

void pxs_embedder_close(pxs_embedder *emb) {
    if (!emb) return;
    for (int i = 0; i < emb->n_models; i++) pxs_nn_model_free(emb->models[i]);
    pthread_mutex_destroy(&emb->lock);
    pthread_cond_destroy(&emb->available);
    pxs_free(emb);
}

static int acquire_model(pxs_embedder *emb, pxs_nn_model **out, struct pxs_err *err) {
    pthread_mutex_lock(&emb->lock);
    for (;;) {
        if (emb->n_free > 0) {
            *out = emb->free_models[--emb->n_free];
            pthread_mutex_unlock(&emb->lock);
            return PXS_OK;
        }
        if (emb->n_models + emb->n_loading < MODEL_INSTANCES_MAX) break;
        pthread_cond_wait(&emb->available, &emb->lock);
    }
    emb->n_loading++;
    pthread_mutex_unlock(&emb->lock);
    pxs_nn_model *m = NULL;
    int rc = load_instance(emb, &m, err);
    pthread_mutex_lock(&emb->lock);
    emb->n_loading--;
    if (rc == PXS_OK) emb->models[emb->n_models++] = m;
    pthread_cond_signal(&emb->available);
    pthread_mutex_unlock(&emb->lock);
    *out = m;
    return rc;
}

static void release_model(pxs_embedder *emb, pxs_nn_model *m) {
    pthread_mutex_lock(&emb->lock);
    emb->free_models[emb->n_free++] = m;
    pthread_cond_signal(&emb->available);
    pthread_mutex_unlock(&emb->lock);
}

/* Pool (if configured) and normalise one item's output into vec[dim]. */
static void finish_vector(const pxs_embedder *emb, const float *raw, float *vec) {
    const struct model_config *c = &emb->cfg;
    size_t C = emb->out_channels, S = emb->out_spatial;
    switch (c->pooling) {
    case MODEL_POOL_NONE: memcpy(vec, raw, emb->dim * sizeof *vec); break;
    case MODEL_POOL_AVG:
        for (size_t ch = 0; ch < C; ch++) {
            double s = 0;
            for (size_t i = 0; i < S; i++) s += raw[ch * S + i];
            vec[ch] = (float)(s / (double)S);
        }
        break;
    case MODEL_POOL_MAX:
        for (size_t ch = 0; ch < C; ch++) {
            float m = raw[ch * S];
            for (size_t i = 1; i < S; i++)
                if (raw[ch * S + i] > m) m = raw[ch * S + i];
            vec[ch] = m;
        }
        break;
    case MODEL_POOL_GEM:
        for (size_t ch = 0; ch < C; ch++) {
            double s = 0;
            for (size_t i = 0; i < S; i++) {
                float x = raw[ch * S + i];
                s += pow(x > 1e-6f ? x : 1e-6f, c->gem_p);
            }
            vec[ch] = (float)pow(s / (double)S, 1.0 / c->gem_p);
        }
        break;
    }
    if (c->normalize) pxs_vec_normalize(vec, emb->dim);
}

void embedder_fill_preprocess(const pxs_embedder *emb, struct pxs_preprocess *pp) {
    const struct model_config *c = &emb->cfg;
    memset(pp, 0, sizeof *pp);
    pp->width = c->width;
    pp->height = c->height;
    pp->policy = c->resize == MODEL_RESIZE_SQUASH ? PXS_RESIZE_SQUASH : PXS_RESIZE_SHORTER_THEN_CROP;
    pp->resize_shorter = c->resize_shorter;
    pp->bgr = c->bgr;
    pp->apply_orientation = c->apply_exif;
    pp->scale = c->scale;
    for (int i = 0; i < 3; i++) {
        pp->mean[i] = c->mean[i];
        pp->std[i] = c->std[i];
    }
}

size_t embedder_tensor_floats(const pxs_embedder *emb) {
    return emb->builtin ? 0 : (size_t)3 * (size_t)emb->cfg.width * (size_t)emb->cfg.height;
}

int embedder_preprocess(const pxs_embedder *emb, const void *data, size_t len, float *tensor,
                        struct pxs_image_info *info, struct pxs_err *err) {
    struct pxs_preprocess pp;
    embedder_fill_preprocess(emb, &pp);
    if (!info) { /* plain JPEGs (most queries) skip libvips; same tensor */
        struct pxs_err declined = {0};
        int rc = pxs_image_jpeg_to_tensor(data, len, &pp, tensor, &declined);
        if (rc != PXS_EUNSUPPORTED) {
            if (rc != PXS_OK && err) *err = declined;
            return rc;
        }
    }
    return pxs_image_to_tensor(data, len, &pp, tensor, info, err);
}

int embedder_preprocess_preview(const pxs_embedder *emb, const void *data, size_t len,
                                float *tensor, int preview_side, struct pxs_image *preview,
                                struct pxs_image_info *info, struct pxs_err *err) {
    struct pxs_preprocess pp;
    embedder_fill_preprocess(emb, &pp);
    return pxs_image_to_tensor_preview(data, len, &pp, tensor, preview_side, preview, info, err);
}

int embedder_run_batch(pxs_embedder *emb, const float *tensors, int n, float *vecs,
                       struct pxs_err *err) {
    if (n <= 0) return PXS_OK;
    size_t cap = (size_t)n * emb->out_item_len, got = 0;
    float *raw = pxs_mallocarray(cap, sizeof *raw);
    if (!raw) return pxs_errf(err, PXS_ENOMEM, "out of memory for %d model outputs", n);
    pxs_nn_model *m;
    int rc = acquire_model(emb, &m, err);
    if (rc == PXS_OK) {
        rc = pxs_nn_run(m, tensors, n, emb->cfg.output[0] ? emb->cfg.output : NULL, raw, cap,
                        &got, err);
        release_model(emb, m);
    }
    if (rc == PXS_OK && got != cap)
        rc = pxs_errf(err, PXS_EINTERNAL, "model produced %zu floats, expected %zu", got, cap);
    for (int i = 0; rc == PXS_OK && i < n; i++)
        finish_vector(emb, raw + (size_t)i * emb->out_item_len, vecs + (size_t)i * emb->dim);
    pxs_free(raw);
    return rc;
}

int pxs_embedder_embed_image(pxs_embedder *emb, const void *data, size_t len, float *out,
                             struct pxs_err *err) {
    if (!data || len == 0) return pxs_errf(err, PXS_EINVAL, "empty image");
    if (emb->builtin) {
        struct pxs_image img = {0};
        struct pxs_image_decode_opts o = {.max_side = BUILTIN_DECODE_SIDE};
        int rc = pxs_image_decode(data, len, &o, &img, NULL, err);
        if (rc == PXS_OK) rc = pxs_image_descriptor(&img, out, err);
        pxs_image_free(&img);
        return rc;
    }
    float *tensor = pxs_mallocarray(embedder_tensor_floats(emb), sizeof(float));
    if (!tensor) return pxs_errf(err, PXS_ENOMEM, "out of memory");
    int rc = embedder_preprocess(emb, data, len, tensor, NULL, err);
    if (rc == PXS_OK) rc = embedder_run_batch(emb, tensor, 1, out, err);
    pxs_free(tensor);
    return rc;
}

int pxs_embedder_embed_tensor(pxs_embedder *emb, const float *tensor, size_t n_floats,
                              const char *output, int raw, float **out, size_t *n_items,
                              size_t *item_len, struct pxs_err *err) {
    *out = NULL;
    *n_items = *item_len = 0;
    if (emb->builtin)
        return pxs_errf(err, PXS_EUNSUPPORTED,
                        "the built-in descriptor works on images, not tensors (give --model)");
    size_t per_item = embedder_tensor_floats(emb);
    if (n_floats == 0 || n_floats % per_item != 0)
        return pxs_errf(err, PXS_EINVAL,
                        "tensor holds %zu floats, not a whole number of 3x%dx%d items", n_floats,
                        emb->cfg.height, emb->cfg.width);
    int n = (int)(n_floats / per_item);
    const char *name = output ? output : emb->cfg.output[0] ? emb->cfg.output : NULL;
    /* Pooling and normalisation apply only to the configured output. */
    int configured = !output || strcmp(output, emb->cfg.output) == 0;
    pxs_nn_model *m;
    int rc = acquire_model(emb, &m, err);
    if (rc != PXS_OK) return rc;
    int64_t d[PXS_NN_MAX_DIMS];
    int ndim = 0;
    rc = pxs_nn_model_output_shape(m, name, n, d, PXS_NN_MAX_DIMS, &ndim, err);
    size_t len = 1;
    for (int i = 1; i < ndim; i++) len *= (size_t)d[i];
    float *buf = NULL;
    if (rc == PXS_OK && !(buf = pxs_mallocarray((size_t)n * len, sizeof *buf)))
        rc = pxs_errf(err, PXS_ENOMEM, "out of memory");
    size_t got = 0;
    if (rc == PXS_OK) rc = pxs_nn_run(m, tensor, n, name, buf, (size_t)n * len, &got, err);
    release_model(emb, m);
    if (rc != PXS_OK) {
        pxs_free(buf);
        return rc;
    }
    if (!raw && configured) {
        /* Pool and normalise in place: the vector is never longer than the output. */
        float *vec = pxs_mallocarray(emb->dim, sizeof *vec);
        if (!vec) {
            pxs_free(buf);
            return pxs_errf(err, PXS_ENOMEM, "out of memory");
        }
        for (int i = 0; i < n; i++) {
            finish_vector(emb, buf + (size_t)i * len, vec);
            memcpy(buf + (size_t)i * emb->dim, vec, emb->dim * sizeof *vec);
        }
        pxs_free(vec);
        len = emb->dim;
    }
    *out = buf;
    *n_items = (size_t)n;
    *item_len = len;
    return PXS_OK;
}
