/*
 * json.c — the server's JSON writer and its strict number parsers.
 *
 * The writer appends to a capped pxs_buf (PXS__JSON_MAX) with a sticky
 * error, so handlers write a whole document and check once. Strings are
 * validated as UTF-8 on the way out: file paths are bytes, not text, and a
 * path in Latin-1 must not make the response invalid JSON, so every byte
 * that does not start a well-formed UTF-8 sequence becomes U+FFFD.
 *
 * The parsers accept only what the API documents (no signs, no hex, no
 * trailing junk) because their input comes straight from the network.
 */
#include "server/server_int.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void pxs__server_json_init(struct pxs__json *j) {
    pxs_buf_init(&j->buf, PXS__JSON_MAX);
    j->rc = PXS_OK;
}

void pxs__server_json_free(struct pxs__json *j) { pxs_buf_free(&j->buf); }

static void put(struct pxs__json *j, const void *data, size_t len) {
    if (j->rc != PXS_OK) return;
    j->rc = pxs_buf_append(&j->buf, data, len);
}

void pxs__server_json_raw(struct pxs__json *j, const char *text) { put(j, text, strlen(text)); }

/* Length of the well-formed UTF-8 sequence at s (RFC 3629 table), or 0. */
static size_t utf8_seq_len(const unsigned char *s, size_t avail) {
    unsigned c = s[0];
    size_t n;
    unsigned lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0) lo = 0xA0;      /* no overlongs */
        if (c == 0xED) hi = 0x9F;      /* no surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0) lo = 0x90;      /* no overlongs */
        if (c == 0xF4) hi = 0x8F;      /* <= U+10FFFF */
    } else {
        return 0;
    }
    if (avail < n) return 0;
    if (s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i < n; i++)
        if (s[i] < 0x80 || s[i] > 0xBF) return 0;
    return n;
}

void pxs__server_json_str(struct pxs__json *j, const char *s) {
    if (!s) {
        put(j, "null", 4);
        return;
    }
    const unsigned char *p = (const unsigned char *)s;
    size_t left = strlen(s);
    put(j, "\"", 1);
    while (left > 0 && j->rc == PXS_OK) {
        /* Copy the longest run that needs no escaping in one append. */
        size_t run = 0;
        while (run < left) {
            unsigned c = p[run];
            if (c < 0x20 || c == '"' || c == '\\' || c == 0x7F) break;
            if (c < 0x80) {
                run++;
                continue;
            }
            size_t n = utf8_seq_len(p + run, left - run);
            if (n == 0) break;
            run += n;
        }
        put(j, p, run);
        p += run;
        left -= run;
        if (left == 0) break;
        unsigned c = p[0];
        char esc[8];
        switch (c) {
        case '"': put(j, "\\\"", 2); break;
        case '\\': put(j, "\\\\", 2); break;
        case '\n': put(j, "\\n", 2); break;
        case '\r': put(j, "\\r", 2); break;
        case '\t': put(j, "\\t", 2); break;
        case '\b': put(j, "\\b", 2); break;
        case '\f': put(j, "\\f", 2); break;
        default:
            if (c < 0x20 || c == 0x7F) {
                snprintf(esc, sizeof esc, "\\u%04x", c);
                put(j, esc, 6);
            } else {
                put(j, "\\ufffd", 6); /* a byte that is not valid UTF-8 */
            }
            break;
        }
        p++;
        left--;
    }
    put(j, "\"", 1);
}

void pxs__server_json_key(struct pxs__json *j, const char *key) {
    pxs__server_json_str(j, key);
    put(j, ":", 1);
}

void pxs__server_json_int(struct pxs__json *j, int64_t v) {
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, "%" PRId64, v);
    put(j, tmp, (size_t)n);
}

void pxs__server_json_uint(struct pxs__json *j, uint64_t v) {
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, "%" PRIu64, v);
    put(j, tmp, (size_t)n);
}

void pxs__server_json_num(struct pxs__json *j, double v) {
    if (!isfinite(v)) {
        put(j, "null", 4);
        return;
    }
    char tmp[40];
    int n = snprintf(tmp, sizeof tmp, "%.7g", v);
    put(j, tmp, (size_t)n);
}

/* ---- parsers ----------------------------------------------------------- */

int pxs__server_parse_id(const char *s, int64_t *out) {
    if (!s) return PXS_EINVAL;
    size_t n = strlen(s);
    if (n == 0 || n > 19) return PXS_EINVAL;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return PXS_EINVAL;
        v = v * 10 + (uint64_t)(s[i] - '0'); /* 19 digits cannot overflow uint64 */
    }
    if (v > (uint64_t)INT64_MAX) return PXS_EINVAL;
    *out = (int64_t)v;
    return PXS_OK;
}

/* [begin, end) of s without surrounding blanks. */
static void trim(const char *s, const char **b, const char **e) {
    const char *p = s, *q = s + strlen(s);
    while (p < q && isspace((unsigned char)*p)) p++;
    while (q > p && isspace((unsigned char)q[-1])) q--;
    *b = p;
    *e = q;
}

int pxs__server_parse_range(const char *s, long lo, long hi, long *out) {
    if (!s) return PXS_EINVAL;
    const char *b, *e;
    trim(s, &b, &e);
    if (b == e || e - b > 12) return PXS_EINVAL;
    long v = 0;
    for (const char *p = b; p < e; p++) {
        if (*p < '0' || *p > '9') return PXS_EINVAL;
        v = v * 10 + (*p - '0'); /* <= 12 digits fit in a 64-bit long */
    }
    if (v < lo || v > hi) return PXS_EINVAL;
    *out = v;
    return PXS_OK;
}

int pxs__server_parse_unit(const char *s, float *out) {
    if (!s) return PXS_EINVAL;
    const char *b, *e;
    trim(s, &b, &e);
    if (b == e || e - b > 32) return PXS_EINVAL;
    char tmp[40];
    memcpy(tmp, b, (size_t)(e - b));
    tmp[e - b] = '\0';
    /* Plain decimal only: digits and at most one '.', no sign, exponent,
     * hex or "nan"/"inf" spellings that strtod would accept. */
    int dots = 0, digits = 0;
    for (const char *p = tmp; *p; p++) {
        if (*p == '.') dots++;
        else if (*p >= '0' && *p <= '9') digits++;
        else return PXS_EINVAL;
    }
    if (dots > 1 || digits == 0) return PXS_EINVAL;
    errno = 0;
    char *end = NULL;
    double v = strtod(tmp, &end);
    if (errno != 0 || !end || *end != '\0' || !isfinite(v) || v < 0.0 || v > 1.0)
        return PXS_EINVAL;
    *out = (float)v;
    return PXS_OK;
}
