/*
 * fuzz/fuzz_import.c — the bulk import readers (src/engine/import*.c) on
 * arbitrary bytes. The first byte picks the file name the reader sees
 * (which selects fvecs / ivecs / bvecs / IDX / JSON lines when the content
 * does not; npy, IDX and gzip are told by content) and the conversion and
 * batch size; the rest is the file. Every row is read; row counts must
 * agree with the header when it declares them, and failures must explain
 * themselves. Decompression is capped at 4 MiB.
 */
#include <stdint.h>
#include <string.h>

#include "pixseek/engine.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const names[] = {"a.npy",   "a.fvecs", "a.ivecs",     "a.bvecs",
                                    "a-ubyte", "a.jsonl", "a.fvecs.gz",  "a"};
static const enum pxs_import_elem as_types[] = {PXS_ELEM_F32, PXS_ELEM_F64, PXS_ELEM_I64, PXS_ELEM_U8};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    uint8_t sel = data[0];
    const char *name = names[sel & 7];
    enum pxs_import_elem as = as_types[(sel >> 3) & 3];
    size_t batch = 1 + (sel >> 5);
    pxs_import_file *f = NULL;
    struct pxs_err err = {0};
    int rc = pxs_import_open_mem(data + 1, size - 1, name, PXS_IMPORT_AUTO, 4u << 20, &f, &err);
    if (rc != PXS_OK) {
        if (f || !err.msg[0]) __builtin_trap();
        return 0;
    }
    const struct pxs_import_info *in = pxs_import_get_info(f);
    if (in->format == PXS_IMPORT_JSONL) {
        const char *line;
        size_t len;
        do rc = pxs_import_read_line(f, &line, &len, &err);
        while (rc == PXS_OK && line);
    } else {
        if (in->dim == 0 || in->dim > PXS_IMPORT_MAX_DIM) __builtin_trap();
        void *buf = pxs_mallocarray(batch * in->dim, 8);
        uint64_t total = 0;
        size_t n = 0;
        if (buf) {
            do {
                rc = pxs_import_read(f, as, buf, batch, &n, &err);
                total += n;
                if (n > batch) __builtin_trap();
            } while (rc == PXS_OK && n);
            if (rc == PXS_OK && in->rows_known && total != in->rows) __builtin_trap(); /* checked end */
            if (in->rows_known && total > in->rows) __builtin_trap();
            if (total != pxs_import_rows_read(f)) __builtin_trap();
        }
        pxs_free(buf);
    }
    if (rc != PXS_OK && !err.msg[0]) __builtin_trap();
    pxs_import_close(f);
    return 0;
}
