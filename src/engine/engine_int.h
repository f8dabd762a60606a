/*
 * engine_int.h — private declarations shared by the engine's files: the
 * engine struct, the record codec for the store tables and the directory
 * walker. Only src/engine/ includes this.
 */
#ifndef PIXSEEK_ENGINE_INT_H
#define PIXSEEK_ENGINE_INT_H

#include <pthread.h>

#include "embedder_int.h"
#include "pixseek/engine.h"
#include "pixseek/image.h"
#include "pixseek/index.h"
#include "pixseek/store.h"

/* Store tables (see record.c for the value formats). */
#define TABLE_META "meta"
#define TABLE_IMAGES "images"
#define TABLE_VECTORS "vectors"
#define TABLE_THUMBS "thumbs"
#define TABLE_DESC "desc"
#define TABLE_COPIES "copies"
#define TABLE_BY_HASH "by_hash"
#define TABLE_BY_PATH "by_path"
#define TABLE_TAGS "tags"
#define TAGS_MAX_BYTES 4096

#define DATA_FORMAT "pixseek-data-v1"
#define THUMB_SIDE 256
#define THUMB_QUALITY 80

/* The image collection's index choice (image_index.c). */
enum image_index_kind { IMAGE_INDEX_AUTO = 0, IMAGE_INDEX_FLAT, IMAGE_INDEX_HNSW, IMAGE_INDEX_IVF_SQ8 };
/* AUTO: exact FLAT up to this many vectors, HNSW above. */
#define IMAGE_INDEX_AUTO_HNSW 10000

struct embed_batcher;

struct pxs_engine {
    char data_dir[4096];
    char uploads_dir[4200];     /* <data_dir>/uploads (ops.c) */
    int read_only;
    pxs_store *store;

    /* What the embeddings in this data directory are made with. */
    pxs_embedder *emb;
    size_t dim;
    enum pxs_metric metric;

    /* In-memory vector index, rebuilt from the store at open and refreshed
     * when the store's generation moves (another process wrote). */
    pthread_rwlock_t index_lock;
    pxs_index *index;
    pxs_index *desc_index;      /* built-in descriptors beside CNN vectors (near-duplicate
                                   search); NULL when the embedder is the built-in one */
    uint64_t loaded_generation; /* meta "generation" the index reflects */
    uint64_t loaded_next_id;    /* ids below this are in the index */
    uint64_t loaded_deletes;    /* meta "deletes" the index reflects */

    struct coll_db *colls;      /* vector collections (coll_int.h) */

    /* Image index choice and file (image_index.c). */
    enum image_index_kind index_kind;
    uint64_t saved_generation, saved_next_id, saved_deletes; /* what images.pxi holds */
    int index_from_file;        /* the index was loaded from images.pxi at open */
    struct embed_batcher *batcher; /* coalesces concurrent query embeddings (embed_batch.c) */

    /* Inference precision (precision.c): requested, and what meta holds. */
    char precision[8], precision_stored[8]; /* "" = none stored */
};

/* ---- records (record.c) ---- */

/* Decoded image record; path points into the record bytes (borrowed). */
struct image_record {
    uint64_t size;
    int64_t mtime;
    int32_t width;
    int32_t height;
    uint8_t hash[PXS_HASH_BYTES];
    char format[16];
    const char *path;
    size_t path_len;
    uint8_t flags;          /* RECORD_FLAG_* */
    char exif_date[20];     /* "YYYY-MM-DD HH:MM:SS" or "" */
    char camera_make[64];
    char camera_model[64];
};
#define RECORD_FLAG_BLOB 0x01 /* original kept in <data>/blobs/ */

/* "Make Model" without repeating the make ("" if neither is known). */
void record_camera(const struct image_record *rec, char *out, size_t cap);

int record_encode(const struct image_record *rec, struct pxs_buf *out);
int record_decode(const void *data, size_t len, struct image_record *rec, struct pxs_err *err);
/* Read and decode the record of image id (borrowed until the txn ends or
 * its next write). PXS_ENOTFOUND (err untouched) if absent. */
int record_load(pxs_store_txn *txn, int64_t id, struct image_record *rec, struct pxs_err *err);
/* Stored vector (table TABLE_VECTORS or TABLE_DESC) of image id into out:
 * 1 if found, 0 if absent, else a negative PXS_E*. */
int engine_load_vector(pxs_store_txn *txn, const char *table, int64_t id, float *out, size_t dim,
                       struct pxs_err *err);
void record_to_meta(int64_t id, const struct image_record *rec, struct pxs_image_meta *meta);

/* meta table helpers: u64 values stored as 8 bytes big-endian. */
int meta_get_u64(pxs_store_txn *txn, const char *key, uint64_t *out, struct pxs_err *err);
int meta_put_u64(pxs_store_txn *txn, const char *key, uint64_t value, struct pxs_err *err);
int meta_get_str(pxs_store_txn *txn, const char *key, char *out, size_t cap, struct pxs_err *err);
int meta_put_str(pxs_store_txn *txn, const char *key, const char *value, struct pxs_err *err);

/* by_path key: hash of the absolute path (paths may exceed the key limit). */
void path_key(const char *path, uint8_t key[PXS_HASH_BYTES]);

/* ---- index sync (engine.c) ---- */

/* Bring the in-memory index up to date with the store. */
int engine_refresh_index(pxs_engine *engine, struct pxs_err *err);
/* Add freshly committed vectors to the index (called by ingest after commit). */
int engine_index_add(pxs_engine *engine, const int64_t *ids, const float *vecs,
                     const float *descs, size_t n,
                     uint64_t generation, uint64_t next_id, struct pxs_err *err);
/* Remove a durably deleted image from the index. generation and deletes are
 * the store counters the deletion committed (0 = unknown: the next refresh
 * rebuilds). PXS_ENOTFOUND if the index did not hold id. */
int engine_index_remove(pxs_engine *engine, int64_t id, uint64_t generation, uint64_t deletes);

/* Search the index with a query vector (engine->dim floats), applying
 * opts->filter, offset and threshold as the public searches do. */
int engine_search_vector(pxs_engine *e, const float *vec, const struct pxs_search_opts *opts,
                         struct pxs_match **matches, size_t *n_matches, struct pxs_err *err);

/* ---- inference precision (precision.c) ---- */
/* Read the remembered precision into e->precision; a non-empty choice
 * ("fp32", "bf16") replaces it. Before the embedder opens. */
int precision_resolve(pxs_engine *e, const char *choice, struct pxs_err *err);
/* Remember e->precision as the default (unless read-only or unchanged). */
int precision_remember(pxs_engine *e, struct pxs_err *err);

/* ---- image index choice and file (image_index.c) ---- */

const char *image_index_kind_name(enum image_index_kind kind);
int image_index_kind_parse(const char *name, enum image_index_kind *out);
/* Read the remembered choice; a non-empty choice ("AUTO", "FLAT", "HNSW",
 * "IVF_SQ8") replaces it (and is remembered unless read-only). */
int image_index_configure(pxs_engine *e, const char *choice, struct pxs_err *err);
/* A new empty image index of the configured choice for about count vectors. */
int image_index_new(const pxs_engine *e, size_t count, pxs_index **out, struct pxs_err *err);
/* 1 if the current index is not of the type the choice wants for its size
 * (caller holds index_lock). */
int image_index_want_rebuild(const pxs_engine *e);
void image_index_path(const pxs_engine *e, char *out, size_t cap);
/* Replace the index with <data>/indexes/images.pxi and set loaded_* from
 * it: PXS_OK, PXS_ENOTFOUND (no file), or why the file was not usable. */
int image_index_load(pxs_engine *e, struct pxs_err *err);
/* Write the index file if the index moved since it was last written (or
 * force). No-op when read-only. */
int image_index_save(pxs_engine *e, int force, struct pxs_err *err);

/* ---- query embedding (embed_batch.c) ---- */

/* Set up engine->batcher for an ONNX embedder (lanes = CPUs / inference
 * threads, so concurrent queries never oversubscribe the cores). */
int engine_start_batcher(pxs_engine *e, const struct pxs_engine_opts *opts, struct pxs_err *err);
/* Embed an uploaded query image through the batcher (or directly). */
int engine_embed_query(pxs_engine *e, const void *data, size_t len, float *vec, struct pxs_err *err);

/* ---- ingest internals (ingest.c) ---- */

/* Index the given files (absolute paths) through the ingest pipeline, as
 * pxs_engine_ingest does for the files its walk finds. */
int engine_ingest_paths(pxs_engine *engine, char *const *paths, size_t count,
                        const struct pxs_ingest_opts *opts, struct pxs_ingest_summary *summary,
                        struct pxs_err *err);

/* Copy of the value of u64 key id in table, NUL-terminated beyond *len
 * (caller frees with pxs_free). PXS_ENOTFOUND (err untouched) if absent. */
int engine_get_value(pxs_engine *e, const char *table, int64_t id, void **out, size_t *len,
                     struct pxs_err *err);

/* ---- tags (tags.c) and blobs (blob.c) ---- */

/* Merge "key=value" tags into image id's tags in txn. */
int engine_tags_merge(pxs_store_txn *txn, int64_t id, const char *const *kv, size_t n,
                      struct pxs_err *err);
/* Give image to the tags of image from (none is fine). */
int engine_tags_move(pxs_store_txn *txn, int64_t from, int64_t to, struct pxs_err *err);
/* Store the original bytes under their content hash (not yet durable). */
int engine_blob_write(pxs_engine *e, const uint8_t hash[PXS_HASH_BYTES], const void *data,
                      size_t len, struct pxs_err *err);
/* Make every blob written so far durable (one syncfs of the blob store's
 * file system); call before committing records that point to them. */
int engine_blob_sync(pxs_engine *e, struct pxs_err *err);
/* Delete a blob (after the commit that dropped its record); logs failures. */
void engine_blob_remove(pxs_engine *e, const uint8_t hash[PXS_HASH_BYTES]);
/* Remove image id from every table in txn (record, vector, descriptor,
 * thumbnail, hash and path entries, tags). *had_blob says whether its
 * original was in the blob store (hash receives its content hash). */
int engine_remove_image(pxs_store_txn *txn, int64_t id, uint8_t hash[PXS_HASH_BYTES],
                        int *had_blob, struct pxs_err *err);

/* ---- search filters (filter.c) ---- */

/* The ids a filter expression allows, sorted; active = 0: no filter. */
struct image_filter {
    int active;
    int64_t *ids;
    size_t n;
};
/* Compile text (NULL = no filter) over the image fields and collect the
 * allowed ids. PXS_EINVAL with a message for a bad expression. */
int engine_filter_build(pxs_engine *e, const char *text, struct image_filter *f,
                        struct pxs_err *err);
/* pxs_index_allow_fn over a struct image_filter. */
int engine_filter_allows(int64_t id, void *user);
void engine_filter_free(struct image_filter *f);
/* Index search parameters for a filter (allow callback and exact count). */
void engine_filter_params(const struct image_filter *f, struct pxs_search_params *sp);

/* ---- near-duplicate search (neardup.c) ---- */

#define NEARDUP_FUSION_WEIGHT 3.5f

/* Filtered by f; exclude_id (0 = none) is never returned ("more like this"). */
int engine_search_near_duplicate(pxs_engine *engine, const void *data, size_t len,
                                 const struct pxs_search_opts *opts,
                                 const struct image_filter *f, int64_t exclude_id,
                                 struct pxs_match **matches, size_t *n_matches,
                                 struct pxs_err *err);
/* Keep the hits (best first) that pass exclude_id and min_similarity,
 * skip the first offset of those, fill up to k matches from the store. */
struct ranked_hit {
    int64_t id;
    float distance, similarity;
};
int engine_page_matches(pxs_engine *e, const struct ranked_hit *hits, size_t n_hits,
                        const struct pxs_search_opts *opts, int64_t exclude_id,
                        struct pxs_match **matches, size_t *n_matches, struct pxs_err *err);
/* Top-k, offset and min_similarity of opts with defaults and limits checked. */
int engine_search_limits(const struct pxs_search_opts *opts, size_t *k, size_t *offset,
                         struct pxs_err *err);
/* Fill meta of image id from the store (PXS_ENOTFOUND if gone). */
int engine_read_meta(pxs_store_txn *txn, int64_t id, struct pxs_image_meta *out,
                     struct pxs_err *err);

/* ---- directory walk (walk.c) ---- */

/* Recursively visit regular files under dir (or dir itself if it is a
 * file), in name order within each directory, calling on_file with the
 * absolute path (borrowed for the call); a non-zero return stops the walk
 * with PXS_ECANCELED. Symlinks are skipped unless follow_symlinks;
 * directory cycles are detected by (device, inode). Unreadable directories
 * are reported through on_error and skipped. */
typedef int (*walk_file_fn)(const char *path, void *user);
typedef void (*walk_error_fn)(const char *path, int code, const char *reason, void *user);
int walk_stream(const char *dir, int follow_symlinks, walk_file_fn on_file,
                walk_error_fn on_error, void *user, struct pxs_err *err);

#endif
