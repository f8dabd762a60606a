/*
 * import_int.h — private pieces of the bulk import readers (the "bulk
 * import files" section of pixseek/engine.h): the byte source (file or
 * memory, optionally gunzipped) and the per-format header parsers that
 * import.c dispatches to.
 */
#ifndef PIXSEEK_ENGINE_IMPORT_INT_H
#define PIXSEEK_ENGINE_IMPORT_INT_H

#include <stdbool.h>
#include <zlib.h>

#include "pixseek/engine.h"

/* Bytes of a file or of memory, gunzipped when they start with the gzip
 * magic. The first bytes are kept in head so formats can be sniffed. */
struct imp_src {
    int fd;                  /* -1 for memory */
    const uint8_t *mem;
    size_t mem_len, mem_pos;
    uint64_t raw_size;       /* bytes of the file or memory */
    bool gz;
    z_stream z;
    bool z_init, z_member_done, raw_eof;
    uint8_t *zin;            /* compressed input buffer (files) */
    uint64_t out_bytes;      /* decompressed bytes produced so far */
    uint64_t max_bytes;      /* cap on out_bytes (0 = none) */
    uint8_t head[16];
    size_t head_len, head_pos;
};

struct pxs_import_file {
    struct imp_src src;
    char name[512];          /* for messages */
    struct pxs_import_info info;
    size_t esz;              /* bytes per element */
    bool big_endian;
    size_t prefix;           /* bytes before each row (4 for vecs files) */
    size_t row_bytes;        /* data bytes per row */
    uint64_t row;            /* rows consumed */
    bool ended;              /* end of data checked */
    uint8_t *scratch;
    size_t scratch_cap;
    /* JSON lines */
    char *line;
    size_t line_cap;
    uint8_t *buf;
    size_t buf_len, buf_pos;
    uint64_t line_no;        /* 1-based line number of the last line returned */
};

/* Read up to n bytes (fewer only at the end). */
int imp_src_read(struct pxs_import_file *f, void *out, size_t n, size_t *got,
                 struct pxs_err *err);
/* Exactly n bytes; a short read is PXS_ECORRUPT "... ends inside <what>". */
int imp_read_exact(struct pxs_import_file *f, void *out, size_t n, const char *what,
                   struct pxs_err *err);
/* An error whose message starts with the file name. */
int imp_err(const struct pxs_import_file *f, struct pxs_err *err, int code, const char *fmt, ...)
    PXS_PRINTF(4, 5);
size_t imp_elem_size(enum pxs_import_elem e);

/* Header parsers: read the header from the source (positioned at the
 * start) and fill info, esz, big_endian, prefix, row_bytes. */
int imp_npy_open(struct pxs_import_file *f, struct pxs_err *err);
int imp_idx_open(struct pxs_import_file *f, struct pxs_err *err);
int imp_vecs_open(struct pxs_import_file *f, struct pxs_err *err);

/* Does the first bytes look like an IDX header? */
bool imp_idx_sniff(const uint8_t *head, size_t len);
/* Rows and shape text from a dimension list (checks overflow and limits):
 * rows = dims[0]; dim = product of the others (1 for 1-D). */
int imp_set_shape(struct pxs_import_file *f, const uint64_t *dims, size_t ndims,
                  struct pxs_err *err);
/* For known row counts on uncompressed files: header + rows * row size
 * must be the file size exactly. */
int imp_check_size(struct pxs_import_file *f, uint64_t header_bytes, struct pxs_err *err);

#endif
