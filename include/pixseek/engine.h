/*
 * pixseek/engine.h — the application: a data directory holding indexed
 * images, their embeddings, thumbnails and metadata; folder ingest; search
 * by image. The engine composes image (decode, descriptor), store (durable
 * records), index (vector search) and later nn (CNN embeddings). The CLI and
 * the HTTP server see only this header and core.h.
 *
 * Data directory layout:
 *   <data>/store/      LMDB environment (the store of record; see record.c
 *                      for the tables and their record formats) of the
 *                      "default" image collection
 *   <data>/indexes/images.pxi  the image index (image_index.c), a cache
 *   <data>/blobs/      originals kept with --store-originals (see blob.c)
 *   <data>/collections/<NAME>/store/, .../blobs/, .../indexes/
 *                      other named image collections, each with its own
 *                      model and preprocessing (remembered in its store)
 * The in-memory index is loaded from its file (or rebuilt from the store)
 * when the engine opens and refreshed before each search if another
 * process (pixseek index) added images meanwhile.
 *
 * Thread-safety: searches and reads may run concurrently from many threads;
 * ingest may run alongside them (writers serialise in the store).
 */
#ifndef PIXSEEK_ENGINE_H
#define PIXSEEK_ENGINE_H

#include "pixseek/core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pxs_engine pxs_engine;

struct pxs_engine_opts {
    const char *data_dir;     /* required; created if missing (unless read_only) */
    int read_only;
    const char *model_path;   /* ONNX model for embeddings; NULL = what the data directory
                                 was built with (the built-in descriptor for a new one) */
    const char *model_config; /* model description JSON; NULL = MODEL.json beside the
                                 model, then $PIXSEEK_MODELS/<model file name>.json */
    int threads;              /* inference threads; 0 = number of CPUs */
    /* -- added with image collections (keep new fields at the end) -- */
    const char *collection;   /* image collection name: NULL or "default" = the data
                                 directory itself (<data>/store, as before collections);
                                 NAME = <data>/collections/NAME/ (own store, blobs, model) */

    /* ---- image index and query embedding (image_index.c, embed_batch.c) ---- */
    const char *image_index;  /* "AUTO" (exact FLAT up to 10k images, HNSW above), "FLAT",
                                 "HNSW", "IVF_SQ8"; remembered in the data directory;
                                 NULL = what it remembers (AUTO for a new one) */
    int query_batch;          /* concurrent query embeddings run as one batch of at most
                                 this many; 0 = 4, 1 = no batching */
    int query_wait_us;        /* how long a batch waits for queries still being decoded;
                                 0 = 1000, negative = never */

    /* ---- inference precision (precision.c, embedder.c) ---- */
    const char *precision;    /* "fp32" or "bf16" (convolutions in bfloat16 where the CPU
                                 has AVX512-BF16/AMX, else fp32 with a logged notice);
                                 remembered as the collection's default; NULL = what it
                                 remembers (fp32 for a new one). Another precision than
                                 the one a collection was indexed at is allowed: bf16
                                 embeddings stay within cosine 0.999 of fp32 */
};

int pxs_engine_open(const struct pxs_engine_opts *opts, pxs_engine **out,
                    struct pxs_err *err) PXS_MUST_CHECK;
/* NULL is a no-op. */
void pxs_engine_close(pxs_engine *engine);

/* ---- image collections -------------------------------------------------- */

#define PXS_COLLECTION_DEFAULT "default"
#define PXS_COLLECTION_NAME_MAX 64

struct pxs_collection_info {
    char name[PXS_COLLECTION_NAME_MAX + 1];
    uint64_t images;
    size_t dim;
    char embedder[128];    /* e.g. "onnx:mobilenet_v2_embed:..." */
    char model_path[4096]; /* "" for the built-in descriptor */
    char metric[16];
};

/* PXS_OK if name can name a collection: 1..64 of [A-Za-z0-9_.-], not
 * starting with '.' or '-'. */
int pxs_collection_name_check(const char *name, struct pxs_err *err) PXS_MUST_CHECK;
/* The image collections of a data directory (default first, then by name),
 * read without loading models. *out: caller frees with pxs_free. */
int pxs_engine_list_collections(const char *data_dir, struct pxs_collection_info **out,
                                size_t *n, struct pxs_err *err) PXS_MUST_CHECK;

/* ---- embedders ---------------------------------------------------------- */

/* An embedder turns images into vectors: the built-in descriptor, or an
 * ONNX CNN described by a model description (sidecar JSON, see
 * models/README.md): input size, resize policy, colour order, scale,
 * mean/std, which output, pooling of feature maps (avg, max, gem) and L2
 * normalisation. Thread-safe: concurrent calls use separate model
 * instances from a small pool. */
typedef struct pxs_embedder pxs_embedder;

struct pxs_embedder_opts {
    const char *model_path;   /* NULL = the built-in descriptor */
    const char *model_config; /* as in pxs_engine_opts */
    const char *model_config_json; /* the description itself, instead of a file */
    int threads;              /* inference threads per call; 0 = number of CPUs */
    /* ---- inference precision ---- */
    const char *precision;    /* "fp32" (NULL) or "bf16", as in pxs_engine_opts */
};

int pxs_embedder_open(const struct pxs_embedder_opts *opts, pxs_embedder **out,
                      struct pxs_err *err) PXS_MUST_CHECK;
/* NULL is a no-op. */
void pxs_embedder_close(pxs_embedder *emb);
/* Identity of the embedder ("builtin-colortexture-v1" or
 * "onnx:<name>:<model hash>"), borrowed until close. */
const char *pxs_embedder_name(const pxs_embedder *emb);
size_t pxs_embedder_dim(const pxs_embedder *emb);
/* ---- inference precision ---- */
/* The precision that actually runs ("fp32" or "bf16"; "fp32" for the
 * built-in), and why a requested bf16 runs fp32 (NULL when it does not). */
const char *pxs_embedder_precision(const pxs_embedder *emb);
const char *pxs_embedder_precision_note(const pxs_embedder *emb);
/* The model description as canonical JSON ("" for the built-in), borrowed. */
const char *pxs_embedder_config_json(const pxs_embedder *emb);
/* Absolute model path ("" for the built-in), borrowed. */
const char *pxs_embedder_model_path(const pxs_embedder *emb);
/* Embed one encoded image (any supported format) into out[dim]. */
int pxs_embedder_embed_image(pxs_embedder *emb, const void *data, size_t len, float *out,
                             struct pxs_err *err) PXS_MUST_CHECK;
/* Run the model on a preprocessed NCHW float32 tensor of n_items items
 * (bypasses image decoding). output = NULL for the configured output.
 * raw = 1 returns the output tensor as is; raw = 0 applies the configured
 * pooling and normalisation. *out: caller frees with pxs_free; *item_len
 * floats per item. PXS_EUNSUPPORTED for the built-in embedder. */
int pxs_embedder_embed_tensor(pxs_embedder *emb, const float *tensor, size_t n_floats,
                              const char *output, int raw, float **out, size_t *n_items,
                              size_t *item_len, struct pxs_err *err) PXS_MUST_CHECK;

/* ---- ingest ------------------------------------------------------------ */

enum pxs_ingest_kind {
    PXS_INGEST_ADDED = 0,    /* decoded, embedded and durably stored */
    PXS_INGEST_UNCHANGED,    /* this path was indexed before with the same content */
    PXS_INGEST_DUPLICATE,    /* same content as an already indexed file at another path */
    PXS_INGEST_FAILED,       /* not indexed; code and reason say why */
};

struct pxs_ingest_event {
    enum pxs_ingest_kind kind;
    const char *path;   /* borrowed for the callback */
    int64_t id;         /* image id (ADDED, UNCHANGED, DUPLICATE: the existing one) */
    int code;           /* PXS_E* for FAILED */
    const char *reason; /* human reason for FAILED, else NULL */
    uint64_t done;      /* files handled so far, this one included */
    uint64_t total;     /* files found so far by the walk */
};

/* Called for each file after its outcome is final. ADDED events are
 * reported only after the write is durable (an acknowledged image survives
 * a crash). Return non-zero to cancel the ingest. */
typedef int (*pxs_ingest_fn)(const struct pxs_ingest_event *event, void *user);

struct pxs_ingest_opts {
    int follow_symlinks;  /* default 0: symlinks are not followed */
    int batch_size;       /* images per durable commit; 0 = 32 */
    pxs_ingest_fn on_event;
    void *user;
    /* -- added with per-image fields (keep new fields at the end) -- */
    const char *const *tags; /* "key=value" tags merged into every image this run
                                adds or finds (unchanged, duplicate); see pxs_engine_set_tags */
    size_t n_tags;
    int store_originals;     /* copy new images' files into <data>/blobs/ (content-
                                addressed, durable before the record commits) */
};

struct pxs_ingest_summary {
    uint64_t files;      /* regular files visited */
    uint64_t added;
    uint64_t unchanged;
    uint64_t duplicates;
    uint64_t failed;
    double seconds;
};

/* Walk dir recursively and index every image found. Bad files are reported
 * through on_event and skipped; the return value is PXS_OK even if some
 * files failed (see summary->failed). Errors that stop the whole run (dir
 * missing, store failure, cancel) are returned. */
int pxs_engine_ingest(pxs_engine *engine, const char *dir, const struct pxs_ingest_opts *opts,
                      struct pxs_ingest_summary *summary, struct pxs_err *err) PXS_MUST_CHECK;

/* ---- images ------------------------------------------------------------ */

struct pxs_image_meta {
    int64_t id;
    char path[4096];    /* absolute path at index time */
    char hash[33];      /* content hash, hex */
    char format[16];    /* "jpeg", ... */
    int width;
    int height;
    uint64_t size;      /* bytes */
    int64_t mtime;      /* seconds since the epoch */
    /* EXIF, "" when the file had none (or was indexed by an older pixseek) */
    char date[20];          /* DateTimeOriginal as "YYYY-MM-DD HH:MM:SS" */
    char camera_make[64];
    char camera_model[64];
    char camera[130];       /* "Make Model" without repeating the make */
    int original_stored;    /* 1: a copy of the file is in the data directory's blob store */
};

/* PXS_ENOTFOUND if no such image. */
int pxs_engine_get_meta(pxs_engine *engine, int64_t id, struct pxs_image_meta *out,
                        struct pxs_err *err) PXS_MUST_CHECK;
/* The stored JPEG thumbnail (longer side 256). *jpeg: caller frees with pxs_free. */
int pxs_engine_get_thumbnail(pxs_engine *engine, int64_t id, void **jpeg, size_t *len,
                             struct pxs_err *err) PXS_MUST_CHECK;

/* ---- per-image fields, tags, originals, prune ---------------------------- */

/* User tags: each "key=value" sets key (an identifier, <= 64 bytes) to
 * value (a JSON number if it is a whole decimal number, else a string);
 * "key=" removes key. Tags are usable in search filters (`key == "v"` or
 * tags["key"]). PXS_ENOTFOUND if there is no such image. */
int pxs_engine_set_tags(pxs_engine *engine, int64_t id, const char *const *kv, size_t n,
                        struct pxs_err *err) PXS_MUST_CHECK;
/* Check "key=value" strings without storing them (PXS_EINVAL + message). */
int pxs_engine_check_tags(const char *const *kv, size_t n, struct pxs_err *err) PXS_MUST_CHECK;
/* The image's tags as a JSON object ("{}" if none). *json: caller frees with pxs_free. */
int pxs_engine_get_tags(pxs_engine *engine, int64_t id, char **json,
                        struct pxs_err *err) PXS_MUST_CHECK;
/* The original file's bytes: the blob-store copy when the image was indexed
 * with store_originals, else the file at its path. PXS_ENOTFOUND when the
 * image or the file is gone, PXS_EMISMATCH when the file at the path has
 * changed since indexing. meta (may be NULL) receives the image's metadata.
 * *data: caller frees with pxs_free. */
int pxs_engine_get_original(pxs_engine *engine, int64_t id, void **data, size_t *len,
                            struct pxs_image_meta *meta, struct pxs_err *err) PXS_MUST_CHECK;

struct pxs_prune_summary {
    uint64_t checked;  /* images (and recorded exact copies) looked at */
    uint64_t removed;  /* indexed images removed (with thumbnails, vectors, tags, blobs) */
    uint64_t copies_removed; /* recorded exact copies whose files are gone */
};
/* Remove every indexed image whose file no longer exists (stat says ENOENT),
 * limited to paths under dir when dir is not NULL: its record, vector,
 * descriptor, thumbnail, hash/path entries, tags and blob, in durable
 * batches, and from the in-memory index. Recorded exact copies whose files
 * are gone, or whose indexed original was removed, are forgotten too (the
 * next `index` run of their folder indexes a surviving copy afresh).
 * on_removed (may be NULL) is called for each removed image once its
 * removal is durable. */
typedef void (*pxs_prune_fn)(int64_t id, const char *path, void *user);
int pxs_engine_prune(pxs_engine *engine, const char *dir, pxs_prune_fn on_removed, void *user,
                     struct pxs_prune_summary *summary, struct pxs_err *err) PXS_MUST_CHECK;

/* ---- search ------------------------------------------------------------ */

struct pxs_match {
    struct pxs_image_meta meta;
    float distance;   /* the metric's raw value (cosine distance 1 - cos for the built-in embedder) */
    float similarity; /* 0..1, 1 = identical */
};

struct pxs_search_opts {
    size_t k;             /* top-k, 0 = 10 */
    float min_similarity; /* drop matches below this (0 = keep all) */
    int near_duplicate;   /* find copies of the query rather than similar content: the
                             query is also embedded rotated by 90/180/270 degrees and CNN
                             scores are fused with the built-in colour/texture descriptor
                             (see neardup.c); similarity is then the fused score */
    /* -- added for paging and filters (keep new fields at the end) -- */
    size_t offset;        /* skip this many matches first (paging); at most 1000000 */
    const char *filter;   /* Milvus filter expression over the per-image fields, NULL =
                             none; e.g. 'format == "png" and width > 1000 and camera like
                             "Canon%"'. Fields: id path name size width height mtime format
                             hash date camera make model tags; an unknown name k means
                             tags["k"] (see src/engine/filter.c). Bad expressions give
                             PXS_EINVAL with the position in the message. */
};

/* Search with an image given as bytes (any supported format). *matches:
 * caller frees with pxs_free; *n_matches <= k. */
int pxs_engine_search_image(pxs_engine *engine, const void *data, size_t len,
                            const struct pxs_search_opts *opts, struct pxs_match **matches,
                            size_t *n_matches, struct pxs_err *err) PXS_MUST_CHECK;
/* Same, reading the image from a file. */
int pxs_engine_search_file(pxs_engine *engine, const char *path,
                           const struct pxs_search_opts *opts, struct pxs_match **matches,
                           size_t *n_matches, struct pxs_err *err) PXS_MUST_CHECK;

/* Compile a filter expression without searching: PXS_EINVAL (message with
 * the position) for syntax and type errors, PXS_ELIMIT for oversized ones. */
int pxs_engine_check_filter(const char *filter, struct pxs_err *err) PXS_MUST_CHECK;

/* "More like this": search with the stored embedding of indexed image id
 * (the image itself is not returned). With near_duplicate and a CNN the
 * original file (or its blob-store copy) is read and searched as a query.
 * PXS_ENOTFOUND if there is no such image. */
int pxs_engine_search_id(pxs_engine *engine, int64_t id, const struct pxs_search_opts *opts,
                         struct pxs_match **matches, size_t *n_matches,
                         struct pxs_err *err) PXS_MUST_CHECK;

/* ---- duplicates ----------------------------------------------------------- */

struct pxs_dups_opts {
    float threshold;      /* near-duplicate similarity (0..1) to join two images; 0 = 0.95.
                             With a CNN it is the fused score of near-duplicate search
                             (CNN and built-in descriptor), else the descriptor's cosine. */
    size_t max_neighbors; /* neighbours examined per image; 0 = 32 */
};

struct pxs_dup_member {
    int64_t id;          /* image id; for exact copies that were not indexed, the id of
                            the indexed image with the same content */
    char path[4096];
    float similarity;    /* to the group's first member (1 for exact copies) */
};

struct pxs_dup_group {
    int exact;           /* 1: byte-identical files; 0: near-duplicates */
    size_t n;
    struct pxs_dup_member *members;
};

/* Group the collection: exact copies (same content hash; only the first was
 * indexed, the others were reported as duplicates during ingest) and
 * near-duplicate groups (connected components of pairs at or above the
 * threshold, found by a range search around every image — O(n) searches).
 * *groups: free with pxs_engine_dup_groups_free. */
int pxs_engine_find_duplicates(pxs_engine *engine, const struct pxs_dups_opts *opts,
                               struct pxs_dup_group **groups, size_t *n_groups,
                               struct pxs_err *err) PXS_MUST_CHECK;
void pxs_engine_dup_groups_free(struct pxs_dup_group *groups, size_t n_groups);

/* ---- statistics --------------------------------------------------------- */

struct pxs_engine_stats {
    uint64_t images;      /* live images in the store */
    size_t dim;           /* embedding dimension */
    char embedder[128];   /* e.g. "builtin-colortexture-v1" */
    char metric[16];      /* e.g. "COSINE" */
    char kernel[16];      /* distance kernel in use */
    size_t index_bytes;   /* memory held by the vector index */
    char index_type[16];  /* "FLAT", "HNSW", "IVF_SQ8" */
    uint64_t query_embeddings; /* search-by-image queries embedded through the batch queue */
    uint64_t query_batches;    /* model runs they took (equal: no query was batched) */
    /* where those queries' time went (see embed_batch.c), all in nanoseconds: */
    uint64_t query_decode_ns; /* wall time decoding + preprocessing the images */
    uint64_t query_wait_ns;       /* wall time queued for a model run (summed per query) */
    uint64_t query_model_ns;      /* wall time of the model runs (summed per run) */
    /* ---- inference precision ---- */
    char precision[8];         /* what the model runs at: "fp32" or "bf16" */
    char precision_default[8]; /* the collection's default (precision.c) */
};

int pxs_engine_stats(pxs_engine *engine, struct pxs_engine_stats *out,
                     struct pxs_err *err) PXS_MUST_CHECK;

/* ---- writes and lookups for the HTTP API (ops.c) ------------------------ */

/* Where uploaded images are kept: "<data>/uploads" (borrowed). Files there
 * are named <content hash hex>.<format>, written durably (temp file, fsync,
 * rename, fsync dir) before they are indexed. */
const char *pxs_engine_uploads_dir(const pxs_engine *engine);

/* "added", "unchanged", "duplicate", "failed". */
const char *pxs_ingest_kind_name(enum pxs_ingest_kind kind);

struct pxs_add_result {
    int64_t id;                /* the new image, or the indexed one with the same content */
    enum pxs_ingest_kind kind; /* ADDED, UNCHANGED (same upload again) or DUPLICATE */
    char path[4096];           /* where the image is stored */
};

/* Store one uploaded image and index it. Content already indexed (from any
 * path) is not stored twice: kind = DUPLICATE with the existing id.
 * PXS_EUNSUPPORTED if the bytes are not an image, PXS_EINVAL if they
 * cannot be decoded (nothing is kept then). */
int pxs_engine_add_image(pxs_engine *engine, const void *data, size_t len,
                         struct pxs_add_result *out, struct pxs_err *err) PXS_MUST_CHECK;

/* Remove image id from the collection (record, vector, thumbnail, and the
 * copies that pointed at it); an upload's file is deleted too, other files
 * are never touched. PXS_ENOTFOUND if there is no such image. */
int pxs_engine_delete_image(pxs_engine *engine, int64_t id, struct pxs_err *err) PXS_MUST_CHECK;

/* Remove every image (one durable transaction) and the upload files.
 * *removed: how many images there were. The data directory keeps its
 * embedder; ids keep growing (never reused). */
int pxs_engine_drop_all(pxs_engine *engine, uint64_t *removed, struct pxs_err *err) PXS_MUST_CHECK;

/* The stored embedding of image id into out[dim] (dim must equal the
 * engine's). PXS_ENOTFOUND if absent. */
int pxs_engine_get_vector(pxs_engine *engine, int64_t id, float *out, size_t dim,
                          struct pxs_err *err) PXS_MUST_CHECK;

/* Search with a query embedding of the engine's dimension. */
int pxs_engine_search_vector(pxs_engine *engine, const float *vec, size_t dim,
                             const struct pxs_search_opts *opts, struct pxs_match **matches,
                             size_t *n_matches, struct pxs_err *err) PXS_MUST_CHECK;

/* Add precomputed embeddings (n x dim floats, finite) with a path each, in
 * one durable transaction; no image is read (format "vector", size 0, no
 * thumbnail, content hash of the vector bytes). Paths must be non-empty and
 * not indexed yet. ids (may be NULL) receives the new ids. Used to build
 * large benchmark collections from real embeddings. */
int pxs_engine_add_vectors(pxs_engine *engine, const char *const *paths, const float *vecs,
                           size_t n, int64_t *ids, struct pxs_err *err) PXS_MUST_CHECK;

/* Largest accepted image file (ingest and upload), bytes. */
#define PXS_ENGINE_MAX_FILE_BYTES (256u * 1024 * 1024)

/* ---- vector collections (Milvus-like) ------------------------------------
 *
 * A general-purpose vector database beside the image collection: named
 * collections with a schema (one primary key, scalar fields, one vector
 * field), partitions, one vector index per collection, filtered / range /
 * grouped search. Stored in <data>/vectordb/ (an LMDB environment, record
 * formats at the top of src/engine/coll_store.c); index files in
 * <data>/indexes/ (format at the top of src/engine/coll_index.c).
 *
 * Every operation is JSON in, JSON out, with the request and response
 * bodies of the Milvus REST API v2 (/v2/vectordb/<group>/<action>), so the
 * HTTP layer passes bodies through and the CLI prints results:
 *   - request_json: the request body, e.g. for entities/search
 *       {"collectionName":"c","data":[[0.1,0.2]],"annsField":"vec","limit":10,
 *        "offset":0,"filter":"price > 3","outputFields":["price"],
 *        "searchParams":{"metricType":"L2","params":{"ef":64,"nprobe":8,
 *        "radius":1.0,"range_filter":0.0}},"groupingField":"cat","groupSize":1,
 *        "strictGroupSize":false,"partitionNames":["p1"]}
 *   - *out_json: what Milvus returns in the response's "data" member
 *       (caller frees with pxs_free; may be NULL when only the code matters).
 * Errors: PXS_EINVAL (bad request, schema, row, filter; message names the
 * row index and field, or the filter position), PXS_ENOTFOUND (no such
 * collection / partition / index; message names it), PXS_EEXIST (name taken,
 * primary key already present on insert), PXS_ELIMIT (limit + offset over
 * 16384, nq over 16384). A failed call applied nothing.
 *
 * Writes (insert, upsert, delete, partitions/drop) are atomic (one store
 * transaction, all rows or none), durable when they return (survive kill -9)
 * and visible to the next read (read-your-writes). Reads run concurrently;
 * writes to one collection serialise. Index builds (indexes/create,
 * compaction) run on a snapshot without blocking inserts or searches, then
 * catch up with rows written meanwhile and swap in.
 *
 * Operations (name = the REST path after /v2/vectordb/; "data" returned):
 *   collections/create   {collectionName, dimension, metricType, idType,
 *                         autoId, primaryFieldName, vectorFieldName,
 *                         params:{max_length}, enableDynamicField} (quick
 *                         setup) or {collectionName, schema:{autoId,
 *                         enableDynamicField, fields:[{fieldName, dataType,
 *                         isPrimary, elementDataType, elementTypeParams:{dim,
 *                         max_length, max_capacity}, nullable, defaultValue}]},
 *                         indexParams:[{fieldName, indexName, metricType,
 *                         indexType, params:{M, efConstruction, nlist, m,
 *                         nbits}}]}                                     -> {}
 *   collections/drop, collections/has ({"has":bool}), collections/list
 *   (["name",..]), collections/describe, collections/rename
 *   ({collectionName, newCollectionName}), collections/get_stats
 *   ({"rowCount":N}, exact live rows), collections/load and
 *   collections/get_load_state (collections are always loaded)
 *   partitions/create, partitions/drop (deletes its rows), partitions/has,
 *   partitions/list ({collectionName, partitionName})
 *   entities/insert, entities/upsert {collectionName, data:[{row}..],
 *                         partitionName} -> {"insertCount":n,"insertIds":[..]}
 *                         ({"upsertCount","upsertIds"} for upsert)
 *   entities/delete      {collectionName, filter | ids:[..], partitionName}
 *                         -> {"deleteCount":n}
 *   entities/get         {collectionName, id:[..], outputFields} -> [{row}..]
 *   entities/query       {collectionName, filter, outputFields, limit, offset,
 *                         partitionNames} -> [{row}..]; outputFields
 *                         ["count(*)"] -> [{"count(*)":N}]
 *   entities/search      see above -> [{"id":..,"distance":..,fields..}..]
 *                         for each query vector: [[hits of query 0],[..]]
 *                         (PXS_COLL_FLAT_SEARCH: one flat list, as Milvus)
 *   indexes/create       {collectionName, indexParams:[..]} (replaces the
 *                         collection's index), indexes/describe, indexes/list,
 *                         indexes/drop ({collectionName, indexName})
 *
 * Output fields: none = the primary key only; "*" = every field (dynamic
 * keys merged into the row, as Milvus does). Int64 values are JSON numbers,
 * or strings with PXS_COLL_INT64_AS_STRING (what Milvus REST sends unless
 * the client allows int64). JSON input numbers beyond +-2^53 lose precision
 * in JSON parsers: give such int64 values as decimal strings ("123..."),
 * which are accepted wherever an Int64 is expected.
 */

enum pxs_coll_flags {
    PXS_COLL_INT64_AS_STRING = 1u << 0, /* Int64 values (ids, fields) as JSON strings */
    PXS_COLL_FLAT_SEARCH = 1u << 1,     /* search: hits of all queries in one flat list */
};

#define PXS_COLL_MAX_TOPK 16384 /* limit + offset of search and query */
#define PXS_COLL_MAX_NQ 16384   /* query vectors per search */

/* One operation: JSON request in, JSON "data" out (see above). */
typedef int (*pxs_coll_op_fn)(pxs_engine *engine, const char *request_json, unsigned flags,
                              char **out_json, struct pxs_err *err);

int pxs_coll_create(pxs_engine *engine, const char *request_json, unsigned flags,
                    char **out_json, struct pxs_err *err) PXS_MUST_CHECK;
int pxs_coll_drop(pxs_engine *engine, const char *request_json, unsigned flags,
                  char **out_json, struct pxs_err *err) PXS_MUST_CHECK;
int pxs_coll_has(pxs_engine *engine, const char *request_json, unsigned flags, char **out_json,
                 struct pxs_err *err) PXS_MUST_CHECK;
int pxs_coll_list(pxs_engine *engine, const char *request_json, unsigned flags,
                  char **out_json, struct pxs_err *err) PXS_MUST_CHECK;
int pxs_coll_describe(pxs_engine *engine, const char *request_json, unsigned flags,
                      char **out_json, struct pxs_err *err) PXS_MUST_CHECK;
int pxs_coll_rename(pxs_engine *engine, const char *request_json, unsigned flags,
                    char **out_json, struct pxs_err *err) PXS_MUST_CHECK;
int pxs_coll_get_stats(pxs_engine *engine, const char *request_json, unsigned flags,
                       char **out_json, struct pxs_err *err) PXS_MUST_CHECK;
int pxs_coll_partition_create(pxs_engine *engine, const char *request_json, unsigned flags,
                              char **out_json, struct pxs_err *err) PXS_MUST_CHECK;
int pxs_coll_partition_drop(pxs_engine *engine, const char *request_json, unsigned flags,
                            char **out_json, struct pxs_err *err) PXS_MUST_CHECK;
int pxs_coll_partition_has(pxs_engine *engine, const char *request_json, unsigned flags,
                           char **out_json, struct pxs_err *err) PXS_MUST_CHECK;
int pxs_coll_partition_list(pxs_engine *engine, const char *request_json, unsigned flags,
                            char **out_json, struct pxs_err *err) PXS_MUST_CHECK;
int pxs_coll_insert(pxs_engine *engine, const char *request_json, unsigned flags,
                    char **out_json, struct pxs_err *err) PXS_MUST_CHECK;
int pxs_coll_upsert(pxs_engine *engine, const char *request_json, unsigned flags,
                    char **out_json, struct pxs_err *err) PXS_MUST_CHECK;
int pxs_coll_delete(pxs_engine *engine, const char *request_json, unsigned flags,
                    char **out_json, struct pxs_err *err) PXS_MUST_CHECK;
int pxs_coll_get(pxs_engine *engine, const char *request_json, unsigned flags, char **out_json,
                 struct pxs_err *err) PXS_MUST_CHECK;
int pxs_coll_query(pxs_engine *engine, const char *request_json, unsigned flags,
                   char **out_json, struct pxs_err *err) PXS_MUST_CHECK;
int pxs_coll_search(pxs_engine *engine, const char *request_json, unsigned flags,
                    char **out_json, struct pxs_err *err) PXS_MUST_CHECK;
int pxs_coll_index_create(pxs_engine *engine, const char *request_json, unsigned flags,
                          char **out_json, struct pxs_err *err) PXS_MUST_CHECK;
int pxs_coll_index_describe(pxs_engine *engine, const char *request_json, unsigned flags,
                            char **out_json, struct pxs_err *err) PXS_MUST_CHECK;
int pxs_coll_index_list(pxs_engine *engine, const char *request_json, unsigned flags,
                        char **out_json, struct pxs_err *err) PXS_MUST_CHECK;
int pxs_coll_index_drop(pxs_engine *engine, const char *request_json, unsigned flags,
                        char **out_json, struct pxs_err *err) PXS_MUST_CHECK;

/* The operation for a REST v2 path ("collections/create", also with a
 * leading "/v2/vectordb/"), or NULL: lets the HTTP layer route by table. */
pxs_coll_op_fn pxs_coll_find_op(const char *path);

/* Bulk import without JSON for the vectors: n rows into collection `name`
 * (partition NULL = "_default"). ids: n primary keys (Int64 collections
 * without autoId), or NULL (autoId; or the key comes from scalar_rows_json).
 * vectors: n * dim floats (FloatVector) or n * dim/8 bytes (BinaryVector).
 * scalar_rows_json: NULL, or n JSON objects with the other fields (NULL
 * entries = no fields). upsert = 1 replaces rows with the same key. Same
 * checks and atomicity as entities/insert; *out_json as entities/insert. */
int pxs_coll_insert_columns(pxs_engine *engine, const char *name, const char *partition,
                            size_t n, const int64_t *ids, const void *vectors,
                            const char *const *scalar_rows_json, int upsert, unsigned flags,
                            char **out_json, struct pxs_err *err) PXS_MUST_CHECK;

/* Index statistics of a collection's vector index (also in indexes/describe):
 * memory in bytes, rows indexed, HNSW tombstones, and whether the index was
 * loaded from its file at open (1) or built from the stored rows (0). */
struct pxs_coll_index_stats {
    char index_type[16];
    char metric[16];
    uint64_t rows;
    uint64_t tombstones;
    size_t memory_bytes;
    int loaded_from_file;
    uint64_t builds;       /* full builds since open (creates, rebuilds, compactions) */
};
int pxs_coll_index_stats(pxs_engine *engine, const char *name, struct pxs_coll_index_stats *out,
                         struct pxs_err *err) PXS_MUST_CHECK;
/* Write every collection's index file now if it is behind the store
 * (also done by pxs_engine_close and after builds). */
int pxs_coll_checkpoint(pxs_engine *engine, struct pxs_err *err) PXS_MUST_CHECK;


/* ---- bulk import files (src/engine/import*.c) ----------------------------
 *
 * Streaming readers for `pixseek import` and `pixseek vsearch --vectors`:
 *   npy    NumPy format v1/v2/v3: 1-D or N-D C-order arrays (N-D rows are
 *          flattened), dtypes f4 f8 u1 i1 i2 i4 i8 in either byte order
 *   fvecs, ivecs, bvecs  TEXMEX: per row an int32 dimension, then that many
 *          float32 / int32 / uint8 values (all rows the same dimension)
 *   idx    MNIST/Fashion-MNIST IDX (big-endian; u8 i8 i16 i32 f32 f64);
 *          idx1 files are 1-D columns (labels), idx3 rows are flattened
 *   jsonl  one JSON row object per line (Milvus row format)
 * Any of them may be gzip-compressed (detected by content). The format
 * comes from the content (npy, idx, gzip magics) and the name (.fvecs,
 * .ivecs, .bvecs, *-ubyte or .idx, .jsonl/.ndjson/.json, a leading '{');
 * PXS_IMPORT_AUTO picks it.
 *
 * Files are untrusted: headers are parsed strictly, shapes are checked
 * against the file size when it is known (uncompressed files), and while
 * streaming otherwise (a short or overlong stream is PXS_ECORRUPT naming
 * the row); every message starts with the file name. Memory is bounded by
 * the batch the caller reads (plus one JSON line of at most
 * PXS_IMPORT_MAX_LINE bytes).
 */
enum pxs_import_format {
    PXS_IMPORT_AUTO = 0,
    PXS_IMPORT_NPY,
    PXS_IMPORT_FVECS,
    PXS_IMPORT_IVECS,
    PXS_IMPORT_BVECS,
    PXS_IMPORT_IDX,
    PXS_IMPORT_JSONL,
};

/* Element types (stored in the file, or asked for by a read). */
enum pxs_import_elem {
    PXS_ELEM_NONE = 0, /* JSON lines */
    PXS_ELEM_U8,
    PXS_ELEM_I8,
    PXS_ELEM_I16,
    PXS_ELEM_I32,
    PXS_ELEM_I64,
    PXS_ELEM_F32,
    PXS_ELEM_F64,
};

#define PXS_IMPORT_MAX_DIM 65536         /* values per row */
#define PXS_IMPORT_MAX_LINE (64u << 20) /* bytes per JSON line */

struct pxs_import_info {
    enum pxs_import_format format;
    enum pxs_import_elem elem;
    uint64_t rows;      /* rows in the file, if rows_known */
    int rows_known;     /* 0 for JSON lines and compressed vecs files */
    size_t dim;         /* values per row (1 for 1-D columns); 0 for JSON lines */
    int one_d;          /* a 1-D array (npy shape (n,), idx1) */
    int compressed;     /* gzip */
    char shape[64];     /* the declared shape, e.g. "(60000, 28, 28)" */
};

typedef struct pxs_import_file pxs_import_file;

/* Open path (format PXS_IMPORT_AUTO to detect). PXS_EUNSUPPORTED if the
 * format cannot be told, PXS_ECORRUPT / PXS_EINVAL for a bad header. */
int pxs_import_open(const char *path, enum pxs_import_format format, pxs_import_file **out,
                    struct pxs_err *err) PXS_MUST_CHECK;
/* The same over bytes in memory (borrowed until close); name stands for the
 * file name (detection, messages). max_bytes caps the decompressed stream
 * (0 = no cap; PXS_ELIMIT beyond). For tests and fuzzing. */
int pxs_import_open_mem(const void *data, size_t len, const char *name,
                        enum pxs_import_format format, uint64_t max_bytes,
                        pxs_import_file **out, struct pxs_err *err) PXS_MUST_CHECK;
/* NULL is a no-op. */
void pxs_import_close(pxs_import_file *f);
const struct pxs_import_info *pxs_import_get_info(const pxs_import_file *f);
/* "npy", "fvecs", ... ; and "uint8", "float32", ... */
const char *pxs_import_format_name(enum pxs_import_format format);
const char *pxs_import_elem_name(enum pxs_import_elem elem);
/* Rows read (or skipped) so far. */
uint64_t pxs_import_rows_read(const pxs_import_file *f);

/* Read the next rows of a numeric file into out (max_rows * dim values of
 * type as): PXS_ELEM_F32 (any element type; values must be finite and fit
 * float32), PXS_ELEM_F64, PXS_ELEM_I64 (integer elements, or integral
 * floats within range) or PXS_ELEM_U8 (raw bytes of u8/i8 files, e.g.
 * packed binary vectors). *n_rows = 0 at the end of the file, after the
 * end was checked (nothing missing, nothing trailing). A bad value is
 * PXS_EINVAL naming its row (0-based) and column. */
int pxs_import_read(pxs_import_file *f, enum pxs_import_elem as, void *out, size_t max_rows,
                    size_t *n_rows, struct pxs_err *err) PXS_MUST_CHECK;
/* Skip n rows (numeric files and JSON lines); PXS_ECORRUPT if the file
 * has fewer. */
int pxs_import_skip(pxs_import_file *f, uint64_t n, struct pxs_err *err) PXS_MUST_CHECK;
/* JSON lines: the next non-blank line, checked to be one JSON object
 * (borrowed until the next call; NUL-terminated). *line = NULL at the end. */
int pxs_import_read_line(pxs_import_file *f, const char **line, size_t *len,
                         struct pxs_err *err) PXS_MUST_CHECK;

#ifdef __cplusplus
}
#endif
#endif
