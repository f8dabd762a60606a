/*
 * model_config.h — the model description (sidecar JSON) that tells the
 * engine how to feed a CNN and turn its output into an embedding. Private
 * to the engine.
 */
#ifndef PIXSEEK_ENGINE_MODEL_CONFIG_H
#define PIXSEEK_ENGINE_MODEL_CONFIG_H

#include "pixseek/core.h"
#include "pixseek/index.h"

enum model_resize {
    MODEL_RESIZE_SHORTER_THEN_CROP = 0, /* shorter side to resize_shorter, centre crop */
    MODEL_RESIZE_SQUASH,                /* straight to width x height */
};

enum model_pooling {
    MODEL_POOL_NONE = 0, /* the output is already a vector per item */
    MODEL_POOL_AVG,      /* global average over H x W of an N,C,H,W feature map */
    MODEL_POOL_MAX,      /* global max */
    MODEL_POOL_GEM,      /* generalised mean, (mean x^p)^(1/p), x clamped at 1e-6 */
};

struct model_config {
    char name[64];
    int width, height;
    enum model_resize resize;
    int resize_shorter;
    int bgr;
    int apply_exif;      /* rotate per EXIF orientation before resizing */
    float scale;
    float mean[3];
    float std[3];
    char output[128];    /* "" = the model's first output */
    enum model_pooling pooling;
    float gem_p;
    int normalize;
    enum pxs_metric metric;
};

/* Parse a model description. source names the file in error messages.
 * Unknown keys, wrong types and out-of-range values are PXS_EINVAL. */
int model_config_parse(const char *json, size_t len, const char *source,
                       struct model_config *out, struct pxs_err *err);
/* Compact canonical JSON of the config (for the data directory's meta). */
int model_config_to_json(const struct model_config *cfg, struct pxs_buf *out);
const char *model_pooling_name(enum model_pooling p);

#endif
