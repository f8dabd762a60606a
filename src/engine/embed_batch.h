/*
 * embed_batch.h — coalescing concurrent query embeddings into batched model
 * runs (embed_batch.c). Private to src/engine/.
 */
#ifndef PIXSEEK_ENGINE_EMBED_BATCH_H
#define PIXSEEK_ENGINE_EMBED_BATCH_H

#include "embedder_int.h"

struct embed_batcher;

struct embed_batcher_opts {
    int lanes;       /* model runs at once (each on its own model instance); 1..4 */
    int max_batch;   /* items per model run; 1..64 */
    int max_wait_us; /* how long a run waits for queries still being decoded; 0..100000 */
};

int embed_batcher_new(pxs_embedder *emb, const struct embed_batcher_opts *opts,
                      struct embed_batcher **out, struct pxs_err *err);
/* NULL is a no-op. No call may be in flight. */
void embed_batcher_free(struct embed_batcher *b);

/* Say that a query is being decoded and will be submitted soon (a run then
 * waits up to max_wait_us for it); every announce is followed by exactly one
 * embed_batcher_embed(..., announced = 1) or embed_batcher_withdraw. */
void embed_batcher_announce(struct embed_batcher *b);
void embed_batcher_withdraw(struct embed_batcher *b);
/* One preprocessed item (embedder_tensor_floats floats) -> vec[dim]; blocks
 * until its batch has run. Thread-safe; results equal embedder_run_batch on
 * the item alone up to the model's batch invariance (exact for pixseek's
 * runtime, which computes each item independently). */
int embed_batcher_embed(struct embed_batcher *b, const float *tensor, float *vec, int announced,
                        struct pxs_err *err);

struct embed_batcher_stats {
    uint64_t items, batches, max_seen;
    uint64_t decode_ns; /* wall time decoding + preprocessing (embed_batcher_note_decode) */
    uint64_t wait_ns;       /* summed over items: submit -> their batch starts (wall) */
    uint64_t model_ns;      /* summed over batches: model run + finishing (wall) */
};
/* Count ns of decoding/preprocessing a query (for the stats). */
void embed_batcher_note_decode(struct embed_batcher *b, uint64_t ns);
void embed_batcher_stats(struct embed_batcher *b, struct embed_batcher_stats *out);

#endif
