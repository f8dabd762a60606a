/*
 * index_file.h — the engine's on-disk index files (a checked header of
 * caller-defined u64 words in front of a pxs_index_serialize payload),
 * shared by the image index (image_index.c) and the vector collections
 * (coll_index.c). The format is specified at the top of index_file.c.
 * Private to src/engine/.
 */
#ifndef PIXSEEK_ENGINE_INDEX_FILE_H
#define PIXSEEK_ENGINE_INDEX_FILE_H

#include "pixseek/core.h"
#include "pixseek/index.h"

#define INDEX_FILE_MAX_WORDS 8
#define INDEX_FILE_MAX_BYTES ((size_t)64 << 30)

/* What a file says about itself besides the index. */
struct index_file_head {
    const char *magic;   /* exactly 8 characters */
    uint32_t version;
    int n_words;         /* 0..INDEX_FILE_MAX_WORDS */
    uint64_t words[INDEX_FILE_MAX_WORDS];
};

/* Append the header and the serialized index to out (initialised; its max
 * bounds the size). Not concurrently with add/remove on ix. */
int index_file_encode(const struct index_file_head *head, const pxs_index *ix, struct pxs_buf *out,
                      struct pxs_err *err);
/* Write bytes made by index_file_encode to path atomically (temp file,
 * fsync, rename, fsync dir), creating the parent directory. */
int index_file_write(const char *path, const struct pxs_buf *bytes, struct pxs_err *err);

/* Called with the header words of a file whose header checks out, before
 * the index is decoded: PXS_OK to go on, else an error saying why not. */
typedef int (*index_file_check_fn)(const char *path, const uint64_t *words, void *user,
                                   struct pxs_err *err);

/* Read path: magic and version must be head->magic / head->version, and
 * head->n_words words are read into head->words. PXS_ENOTFOUND if there is
 * no file, PXS_ECORRUPT / PXS_EUNSUPPORTED / check's error otherwise. */
int index_file_read(const char *path, struct index_file_head *head, index_file_check_fn check,
                    void *user, pxs_index **ix, struct pxs_err *err);
/* The same on len bytes at data (path only names them in messages). */
int index_file_parse(const char *path, const void *data, size_t len, struct index_file_head *head,
                     index_file_check_fn check, void *user, pxs_index **ix, struct pxs_err *err);
/* Recompute the header checksum in place (fuzzing). */
void index_file_fix_checksum(void *data, size_t len, int n_words);

#endif
