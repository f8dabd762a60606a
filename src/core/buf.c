/*
 * buf.c — a growable byte buffer with a hard ceiling (curl's dynbuf idea):
 * every buffer fed by untrusted input states how large it may grow.
 */
#include "pixseek/core.h"

#include <stdio.h>
#include <string.h>

void pxs_buf_init(struct pxs_buf *b, size_t max) {
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

void pxs_buf_free(struct pxs_buf *b) {
    pxs_free(b->data);
    pxs_buf_init(b, b->max);
}

void pxs_buf_reset(struct pxs_buf *b) {
    b->len = 0;
    if (b->data) b->data[0] = '\0';
}

int pxs_buf_reserve(struct pxs_buf *b, size_t extra) {
    size_t need;
    if (pxs_size_add(b->len, extra, &need) != 0 || need > b->max) return PXS_ELIMIT;
    if (need + 1 <= b->cap) return PXS_OK;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need + 1) cap = cap > SIZE_MAX / 2 ? need + 1 : cap * 2;
    if (b->max < SIZE_MAX && cap > b->max + 1) cap = b->max + 1; /* max + 1 would wrap */
    char *p = pxs_realloc(b->data, cap);
    if (!p) return PXS_ENOMEM;
    b->data = p;
    b->cap = cap;
    return PXS_OK;
}

int pxs_buf_append(struct pxs_buf *b, const void *data, size_t len) {
    int rc = pxs_buf_reserve(b, len);
    if (rc != PXS_OK) return rc;
    if (len) memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return PXS_OK;
}

int pxs_buf_appendf(struct pxs_buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return PXS_EINVAL;
    int rc = pxs_buf_reserve(b, (size_t)n);
    if (rc != PXS_OK) return rc;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return PXS_OK;
}

char *pxs_buf_detach(struct pxs_buf *b, size_t *len) {
    char *p = b->data;
    if (len) *len = b->len;
    if (!p) p = pxs_strdup("");
    pxs_buf_init(b, b->max);
    return p;
}
