/*
 * pixseek/engine.h — the application: a data directory holding indexed
 * images, their embeddings, thumbnails and metadata; folder ingest; search
 * by image. The engine composes image (decode, descriptor), store (durable
 * records), index (vector search) and later nn (CNN embeddings). The CLI and
 * the HTTP server see only this header and core.h.
 *
 * Data directory layout:
 *   <data>/store/      LMDB environment (the store of record; see engine.c
 *                      for the tables and their record formats)
 * The in-memory index is rebuilt from the store when the engine opens and
 * refreshed before each search if another process (pixseek index) added
 * images meanwhile.
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
    const char *data_dir; /* required; created if missing (unless read_only) */
    int read_only;
};

int pxs_engine_open(const struct pxs_engine_opts *opts, pxs_engine **out,
                    struct pxs_err *err) PXS_MUST_CHECK;
/* NULL is a no-op. */
void pxs_engine_close(pxs_engine *engine);

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
};

/* PXS_ENOTFOUND if no such image. */
int pxs_engine_get_meta(pxs_engine *engine, int64_t id, struct pxs_image_meta *out,
                        struct pxs_err *err) PXS_MUST_CHECK;
/* The stored JPEG thumbnail (longer side 256). *jpeg: caller frees with pxs_free. */
int pxs_engine_get_thumbnail(pxs_engine *engine, int64_t id, void **jpeg, size_t *len,
                             struct pxs_err *err) PXS_MUST_CHECK;

/* ---- search ------------------------------------------------------------ */

struct pxs_match {
    struct pxs_image_meta meta;
    float distance;   /* the metric's raw value (cosine distance 1 - cos for the built-in embedder) */
    float similarity; /* 0..1, 1 = identical */
};

struct pxs_search_opts {
    size_t k;             /* top-k, 0 = 10 */
    float min_similarity; /* drop matches below this (0 = keep all) */
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

/* ---- statistics --------------------------------------------------------- */

struct pxs_engine_stats {
    uint64_t images;      /* live images in the store */
    size_t dim;           /* embedding dimension */
    char embedder[64];    /* e.g. "builtin-colortexture-v1" */
    char metric[16];      /* e.g. "COSINE" */
    char kernel[16];      /* distance kernel in use */
    size_t index_bytes;   /* memory held by the vector index */
};

int pxs_engine_stats(pxs_engine *engine, struct pxs_engine_stats *out,
                     struct pxs_err *err) PXS_MUST_CHECK;

/* Largest accepted image file (ingest and upload), bytes. */
#define PXS_ENGINE_MAX_FILE_BYTES (256u * 1024 * 1024)

#ifdef __cplusplus
}
#endif
#endif
