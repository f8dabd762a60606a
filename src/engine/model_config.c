/*
 * model_config.c — reading and writing model descriptions. The format:
 *
 *   {
 *     "name": "mobilenet_v2_embed",          required, [A-Za-z0-9._-]{1,63}
 *     "description": "...",                  optional, ignored
 *     "input": {
 *       "width": 224, "height": 224,         required, 1..4096
 *       "resize": "shorter-then-crop",       or "squash"; default shorter-then-crop
 *       "resize_shorter": 256,               shorter-then-crop only; default = max(width, height)
 *       "color": "RGB",                      or "BGR"; default RGB
 *       "scale": 0.00392156862745098,        pixel (0..255) multiplier; default 1/255
 *       "mean": [0.485, 0.456, 0.406],       per output channel, after scale; default 0
 *       "std":  [0.229, 0.224, 0.225],       per output channel, non-zero; default 1
 *       "apply_exif": true                   rotate per EXIF orientation first; default true
 *                                            (PIL's Image.open ignores EXIF: false matches it)
 *     },
 *     "output": "embedding",                 output name; default the first output
 *     "pooling": "none",                     none | avg | max | gem; default none
 *     "gem_p": 3.0,                          gem only; > 0; default 3
 *     "normalize": true,                     L2-normalise the vector; default true
 *     "metric": "COSINE"                     COSINE | IP | L2; default COSINE
 *   }
 *
 * Unknown keys are errors, so a typo ("std_dev") cannot silently change the
 * preprocessing.
 */
#include "model_config.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

const char *model_pooling_name(enum model_pooling p) {
    switch (p) {
    case MODEL_POOL_AVG: return "avg";
    case MODEL_POOL_MAX: return "max";
    case MODEL_POOL_GEM: return "gem";
    default: return "none";
    }
}

static int only_keys(const cJSON *obj, const char *const *keys, const char *where,
                     const char *source, struct pxs_err *err) {
    for (const cJSON *it = obj->child; it; it = it->next) {
        int known = 0;
        for (const char *const *k = keys; *k; k++)
            if (it->string && strcmp(it->string, *k) == 0) known = 1;
        if (!known)
            return pxs_errf(err, PXS_EINVAL, "%s: unknown key \"%s\" in %s", source,
                            it->string ? it->string : "?", where);
    }
    return PXS_OK;
}

static int get_int(const cJSON *obj, const char *key, int lo, int hi, int *out, int required,
                   const char *source, struct pxs_err *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v) return required ? pxs_errf(err, PXS_EINVAL, "%s: \"%s\" is required", source, key) : PXS_OK;
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < lo ||
        v->valuedouble > hi)
        return pxs_errf(err, PXS_EINVAL, "%s: \"%s\" must be a whole number from %d to %d", source,
                        key, lo, hi);
    *out = (int)v->valuedouble;
    return PXS_OK;
}

static int get_float(const cJSON *obj, const char *key, float *out, const char *source,
                     struct pxs_err *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v) return PXS_OK;
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
        return pxs_errf(err, PXS_EINVAL, "%s: \"%s\" must be a number", source, key);
    *out = (float)v->valuedouble;
    return PXS_OK;
}

static int get_triple(const cJSON *obj, const char *key, float out[3], const char *source,
                      struct pxs_err *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v) return PXS_OK;
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) != 3)
        return pxs_errf(err, PXS_EINVAL, "%s: \"%s\" must be an array of 3 numbers", source, key);
    for (int i = 0; i < 3; i++) {
        const cJSON *x = cJSON_GetArrayItem(v, i);
        if (!cJSON_IsNumber(x) || !isfinite(x->valuedouble))
            return pxs_errf(err, PXS_EINVAL, "%s: \"%s\" must be an array of 3 numbers", source,
                            key);
        out[i] = (float)x->valuedouble;
    }
    return PXS_OK;
}

/* Returns the index of value in choices, or a PXS_EINVAL error. */
static int get_choice(const cJSON *obj, const char *key, const char *const *choices, int *out,
                      const char *source, struct pxs_err *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v) return PXS_OK;
    if (cJSON_IsString(v)) {
        for (int i = 0; choices[i]; i++) {
            if (strcasecmp(v->valuestring, choices[i]) == 0) {
                *out = i;
                return PXS_OK;
            }
        }
    }
    char list[128] = "";
    for (int i = 0; choices[i]; i++) {
        strncat(list, i ? ", " : "", sizeof list - strlen(list) - 1);
        strncat(list, choices[i], sizeof list - strlen(list) - 1);
    }
    return pxs_errf(err, PXS_EINVAL, "%s: \"%s\" must be one of %s", source, key, list);
}

static int valid_name(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n > 63) return 0;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '.' || *p == '_' || *p == '-'))
            return 0;
    return 1;
}

static int parse_input(const cJSON *in, const char *source, struct model_config *c,
                       struct pxs_err *err) {
    static const char *const keys[] = {"width", "height", "resize", "resize_shorter", "color",
                                       "scale", "mean", "std", "apply_exif", NULL};
    static const char *const resizes[] = {"shorter-then-crop", "squash", NULL};
    static const char *const colors[] = {"RGB", "BGR", NULL};
    if (!cJSON_IsObject(in)) return pxs_errf(err, PXS_EINVAL, "%s: \"input\" must be an object", source);
    int resize = 0, color = 0;
    int rc = only_keys(in, keys, "\"input\"", source, err);
    if (rc == PXS_OK) rc = get_int(in, "width", 1, 4096, &c->width, 1, source, err);
    if (rc == PXS_OK) rc = get_int(in, "height", 1, 4096, &c->height, 1, source, err);
    if (rc == PXS_OK) rc = get_choice(in, "resize", resizes, &resize, source, err);
    c->resize_shorter = c->width > c->height ? c->width : c->height;
    if (rc == PXS_OK) rc = get_int(in, "resize_shorter", 1, 8192, &c->resize_shorter, 0, source, err);
    if (rc == PXS_OK) rc = get_choice(in, "color", colors, &color, source, err);
    if (rc == PXS_OK) rc = get_float(in, "scale", &c->scale, source, err);
    if (rc == PXS_OK) rc = get_triple(in, "mean", c->mean, source, err);
    if (rc == PXS_OK) rc = get_triple(in, "std", c->std, source, err);
    if (rc != PXS_OK) return rc;
    const cJSON *exif = cJSON_GetObjectItemCaseSensitive(in, "apply_exif");
    if (exif && !cJSON_IsBool(exif))
        return pxs_errf(err, PXS_EINVAL, "%s: \"apply_exif\" must be true or false", source);
    c->apply_exif = exif ? cJSON_IsTrue(exif) : 1;
    c->resize = (enum model_resize)resize;
    c->bgr = color == 1;
    if (c->resize == MODEL_RESIZE_SHORTER_THEN_CROP &&
        c->resize_shorter < (c->width > c->height ? c->width : c->height))
        return pxs_errf(err, PXS_EINVAL,
                        "%s: \"resize_shorter\" (%d) is smaller than the crop (%dx%d)", source,
                        c->resize_shorter, c->width, c->height);
    for (int i = 0; i < 3; i++)
        if (c->std[i] == 0) return pxs_errf(err, PXS_EINVAL, "%s: \"std\" values must not be 0", source);
    if (c->scale <= 0) return pxs_errf(err, PXS_EINVAL, "%s: \"scale\" must be positive", source);
    return PXS_OK;
}

int model_config_parse(const char *json, size_t len, const char *source,
                       struct model_config *out, struct pxs_err *err) {
    static const char *const keys[] = {"name", "description", "input", "output", "pooling",
                                       "gem_p", "normalize", "metric", NULL};
    static const char *const poolings[] = {"none", "avg", "max", "gem", NULL};
    static const char *const metrics[] = {"L2", "IP", "COSINE", NULL};
    memset(out, 0, sizeof *out);
    out->scale = 1.0f / 255.0f;
    out->std[0] = out->std[1] = out->std[2] = 1.0f;
    out->gem_p = 3.0f;
    out->normalize = 1;
    out->metric = PXS_METRIC_COSINE;

    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(json, len, &end, 0);
    if (!root) {
        size_t pos = end && end >= json ? (size_t)(end - json) : 0;
        return pxs_errf(err, PXS_EINVAL, "%s: not valid JSON (near byte %zu)", source, pos);
    }
    int rc = PXS_OK;
    if (!cJSON_IsObject(root)) {
        rc = pxs_errf(err, PXS_EINVAL, "%s: a model description is a JSON object", source);
        goto done;
    }
    rc = only_keys(root, keys, "the model description", source, err);
    if (rc != PXS_OK) goto done;
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(root, "name");
    if (!cJSON_IsString(name) || !valid_name(name->valuestring)) {
        rc = pxs_errf(err, PXS_EINVAL,
                      "%s: \"name\" must be 1-63 characters of letters, digits, '.', '_', '-'",
                      source);
        goto done;
    }
    snprintf(out->name, sizeof out->name, "%s", name->valuestring);
    const cJSON *input = cJSON_GetObjectItemCaseSensitive(root, "input");
    if (!input) {
        rc = pxs_errf(err, PXS_EINVAL, "%s: \"input\" is required", source);
        goto done;
    }
    rc = parse_input(input, source, out, err);
    if (rc != PXS_OK) goto done;
    const cJSON *output = cJSON_GetObjectItemCaseSensitive(root, "output");
    if (output && !cJSON_IsNull(output)) {
        if (!cJSON_IsString(output) || strlen(output->valuestring) >= sizeof out->output ||
            strpbrk(output->valuestring, "\"\\\n\r\t")) {
            rc = pxs_errf(err, PXS_EINVAL, "%s: \"output\" must be an output name", source);
            goto done;
        }
        snprintf(out->output, sizeof out->output, "%s", output->valuestring);
    }
    int pooling = 0, metric = 2;
    rc = get_choice(root, "pooling", poolings, &pooling, source, err);
    if (rc == PXS_OK) rc = get_float(root, "gem_p", &out->gem_p, source, err);
    if (rc == PXS_OK) rc = get_choice(root, "metric", metrics, &metric, source, err);
    if (rc != PXS_OK) goto done;
    out->pooling = (enum model_pooling)pooling;
    out->metric = metric == 0 ? PXS_METRIC_L2 : metric == 1 ? PXS_METRIC_IP : PXS_METRIC_COSINE;
    if (out->gem_p <= 0 || out->gem_p > 100) {
        rc = pxs_errf(err, PXS_EINVAL, "%s: \"gem_p\" must be in (0, 100]", source);
        goto done;
    }
    const cJSON *norm = cJSON_GetObjectItemCaseSensitive(root, "normalize");
    if (norm) {
        if (!cJSON_IsBool(norm)) {
            rc = pxs_errf(err, PXS_EINVAL, "%s: \"normalize\" must be true or false", source);
            goto done;
        }
        out->normalize = cJSON_IsTrue(norm);
    }
done:
    cJSON_Delete(root);
    return rc;
}

int model_config_to_json(const struct model_config *c, struct pxs_buf *out) {
    return pxs_buf_appendf(
        out,
        "{\"name\":\"%s\",\"input\":{\"width\":%d,\"height\":%d,\"resize\":\"%s\","
        "\"resize_shorter\":%d,\"color\":\"%s\",\"scale\":%.9g,\"mean\":[%.9g,%.9g,%.9g],"
        "\"std\":[%.9g,%.9g,%.9g],\"apply_exif\":%s},\"output\":\"%s\",\"pooling\":\"%s\",\"gem_p\":%.9g,"
        "\"normalize\":%s,\"metric\":\"%s\"}",
        c->name, c->width, c->height,
        c->resize == MODEL_RESIZE_SQUASH ? "squash" : "shorter-then-crop", c->resize_shorter,
        c->bgr ? "BGR" : "RGB", c->scale, c->mean[0], c->mean[1], c->mean[2], c->std[0],
        c->std[1], c->std[2], c->apply_exif ? "true" : "false", c->output, model_pooling_name(c->pooling), c->gem_p,
        c->normalize ? "true" : "false", pxs_metric_name(c->metric));
}
