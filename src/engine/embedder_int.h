/*
 * embedder_int.h — the embedder's struct and the batch entry points the
 * ingest pipeline uses (preprocess in worker threads, run the model once
 * per batch). Private to the engine.
 */
#ifndef PIXSEEK_ENGINE_EMBEDDER_INT_H
#define PIXSEEK_ENGINE_EMBEDDER_INT_H

#include <errno.h>
#include <pthread.h>

#include "model_config.h"
#include "pixseek/engine.h"
#include "pixseek/image.h"
#include "pixseek/index.h"
#include "pixseek/nn.h"

#define BUILTIN_DECODE_SIDE 256

struct pxs_embedder {
    int builtin;
    char name[128];
    size_t dim;
    struct model_config cfg;
    char model_path[4096];
    char config_json[1024]; /* canonical description, "" for the built-in */
    int threads;
    int precision;              /* requested: enum pxs_nn_precision */
    const char *precision_run;  /* what runs: "fp32" / "bf16" (static) */
    const char *precision_note; /* why a requested bf16 runs fp32, or NULL (static) */
    size_t out_item_len;  /* floats per item in the model's output */
    size_t out_channels;  /* C of an N,C,H,W output (or the vector size) */
    size_t out_spatial;   /* H*W (1 without pooling) */
    pthread_mutex_t lock;
    pthread_cond_t available;
    pxs_nn_model *models[4]; /* MODEL_INSTANCES_MAX */
    pxs_nn_model *free_models[4];
    int n_models, n_free, n_loading;
};

/* Floats in one preprocessed input item (0 for the built-in descriptor). */
size_t embedder_tensor_floats(const pxs_embedder *emb);
/* Image bytes → one input item (ONNX embedders only). info may be NULL. */
int embedder_preprocess(const pxs_embedder *emb, const void *data, size_t len, float *tensor,
                        struct pxs_image_info *info, struct pxs_err *err);
/* The same, plus from the same decode an oriented preview whose longer
 * side is at most preview_side (see pxs_image_to_tensor_preview). */
int embedder_preprocess_preview(const pxs_embedder *emb, const void *data, size_t len,
                                float *tensor, int preview_side, struct pxs_image *preview,
                                struct pxs_image_info *info, struct pxs_err *err);
/* The image module's preprocessing recipe for this model. */
void embedder_fill_preprocess(const pxs_embedder *emb, struct pxs_preprocess *pp);
/* n preprocessed items → n vectors of emb->dim floats (pooled, normalised). */
int embedder_run_batch(pxs_embedder *emb, const float *tensors, int n, float *vecs,
                       struct pxs_err *err);

#endif
