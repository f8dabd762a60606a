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
};

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
int engine_index_remove(pxs_engine *engine, int64_t id);

/* Search the index with a query vector (engine->dim floats). */
int engine_search_vector(pxs_engine *e, const float *vec, const struct pxs_search_opts *opts,
                         struct pxs_match **matches, size_t *n_matches, struct pxs_err *err);

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

/* Index the given files (absolute paths) as pxs_engine_ingest does after
 * its walk; canceled = 1 reports nothing and returns PXS_ECANCELED. */
int engine_ingest_paths(pxs_engine *engine, char *const *paths, size_t count,
                        const struct pxs_ingest_opts *opts, struct pxs_ingest_summary *summary,
                        int canceled, struct pxs_err *err);
/* Delete image id's rows (images, vectors, thumbs, desc, by_hash) in txn;
 * the caller bumps "generation"/"deletes". Absent rows are fine. */
int engine_remove_image(pxs_store_txn *txn, int64_t id, struct pxs_err *err);

/* ---- near-duplicate search (neardup.c) ---- */

#define NEARDUP_FUSION_WEIGHT 3.5f

int engine_search_near_duplicate(pxs_engine *engine, const void *data, size_t len,
                                 const struct pxs_search_opts *opts, struct pxs_match **matches,
                                 size_t *n_matches, struct pxs_err *err);
/* Fill meta of image id from the store (PXS_ENOTFOUND if gone). */
int engine_read_meta(pxs_store_txn *txn, int64_t id, struct pxs_image_meta *out,
                     struct pxs_err *err);

/* ---- directory walk (walk.c) ---- */

struct walk_list {
    char **paths; /* absolute paths of regular files, in walk order */
    size_t count;
    size_t cap;
};

/* Recursively list regular files under dir (sorted per directory). Symlinks
 * are skipped unless follow_symlinks; directory cycles are detected by
 * (device, inode). Unreadable directories are reported through on_error
 * and skipped. */
typedef void (*walk_error_fn)(const char *path, int code, const char *reason, void *user);
int walk_collect(const char *dir, int follow_symlinks, struct walk_list *out,
                 walk_error_fn on_error, void *user, struct pxs_err *err);
void walk_list_free(struct walk_list *list);

#endif
