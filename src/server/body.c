/*
 * body.c — request bodies: the Content-Type decides how a whole, already
 * size-capped body is read into a struct pxs__form:
 *
 *   multipart/form-data; boundary=B   RFC 7578 parts: name, filename,
 *                                     Content-Type, bytes (borrowed from
 *                                     the body buffer)
 *   application/x-www-form-urlencoded name=value&...; a body that looks
 *                                     binary is taken as a raw image
 *                                     (`curl --data-binary @a.jpg` sends
 *                                     images with this type)
 *   application/json                  cJSON document (must be an object)
 *   image types, octet-stream, none   the raw image
 *
 * plus base64 decoding (standard and URL-safe alphabets, an optional
 * "data:...;base64," prefix, whitespace ignored) and typed field access
 * for handlers (form field, JSON member). Everything here is a pure
 * function of its input and is fuzzed by fuzz/fuzz_http_request.c.
 *
 * Strictness: a multipart body must start with the boundary (a preamble is
 * allowed), every part needs a Content-Disposition with a name, header
 * lines need a colon, and the closing "--B--" must be present; anything
 * else is PXS_EINVAL with a message for the 400 answer.
 */
#include "server/server_int.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define MAX_BOUNDARY 70 /* RFC 2046 */
#define MAX_PART_HEADERS 8192

static int has_prefix_ci(const char *s, const char *prefix) {
    return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

static int fail(char *msg, size_t cap, const char *text) {
    snprintf(msg, cap, "%s", text);
    return PXS_EINVAL;
}

/* memmem without relying on the GNU extension's availability flags. */
static const unsigned char *find(const unsigned char *hay, size_t n, const void *needle,
                                 size_t m) {
    if (m == 0 || n < m) return NULL;
    const unsigned char *nd = needle;
    for (size_t i = 0; i + m <= n; i++) {
        const unsigned char *p = memchr(hay + i, nd[0], n - m - i + 1);
        if (!p) return NULL;
        if (memcmp(p, nd, m) == 0) return p;
        i = (size_t)(p - hay);
    }
    return NULL;
}

/* Value of parameter `name` in a header value like
 * `form-data; name="image"; filename="a.jpg"` (quoted or token).
 * Returns 1 and sets *v and *vlen when present, 0 when absent, -1 malformed. */
static int header_param(const char *s, size_t n, const char *name, const char **v,
                        size_t *vlen) {
    size_t nlen = strlen(name);
    size_t i = 0;
    while (i < n && s[i] != ';') i++; /* skip the main value */
    while (i < n) {
        i++; /* the ';' */
        while (i < n && (s[i] == ' ' || s[i] == '\t')) i++;
        size_t k = i;
        while (k < n && s[k] != '=' && s[k] != ';') k++;
        size_t key_end = k;
        while (key_end > i && (s[key_end - 1] == ' ' || s[key_end - 1] == '\t')) key_end--;
        int match = key_end - i == nlen && strncasecmp(s + i, name, nlen) == 0;
        if (k >= n || s[k] == ';') { /* a flag without value */
            i = k;
            continue;
        }
        k++; /* '=' */
        while (k < n && (s[k] == ' ' || s[k] == '\t')) k++;
        const char *val;
        size_t len;
        if (k < n && s[k] == '"') {
            size_t e = k + 1;
            while (e < n && s[e] != '"') {
                if (s[e] == '\\' && e + 1 < n) e++;
                e++;
            }
            if (e >= n) return -1; /* unterminated quote */
            val = s + k + 1;
            len = e - k - 1;
            k = e + 1;
            while (k < n && s[k] != ';') k++;
        } else {
            size_t e = k;
            while (e < n && s[e] != ';') e++;
            val = s + k;
            len = e - k;
            while (len > 0 && (val[len - 1] == ' ' || val[len - 1] == '\t')) len--;
            k = e;
        }
        if (match) {
            *v = val;
            *vlen = len;
            return 1;
        }
        i = k;
    }
    return 0;
}

/* The boundary of a multipart Content-Type into out (NUL-terminated). */
static int boundary_of(const char *content_type, char *out, size_t cap) {
    const char *v;
    size_t len;
    if (header_param(content_type, strlen(content_type), "boundary", &v, &len) != 1)
        return PXS_EINVAL;
    if (len == 0 || len > MAX_BOUNDARY || len + 1 > cap) return PXS_EINVAL;
    memcpy(out, v, len);
    out[len] = '\0';
    return PXS_OK;
}

/* Parse the header block of one part [h, h + n). */
static int part_headers(const char *h, size_t n, struct pxs__part *part, char *msg, size_t cap) {
    int have_disposition = 0;
    size_t i = 0;
    while (i < n) {
        const char *line = h + i;
        const char *eol = NULL;
        for (size_t k = i; k + 1 < n; k++)
            if (h[k] == '\r' && h[k + 1] == '\n') {
                eol = h + k;
                break;
            }
        size_t line_len = eol ? (size_t)(eol - line) : n - i;
        i += line_len + (eol ? 2 : 0);
        if (line_len == 0) continue;
        const char *colon = memchr(line, ':', line_len);
        if (!colon) return fail(msg, cap, "malformed multipart body: part header without a colon");
        size_t name_len = (size_t)(colon - line);
        const char *val = colon + 1;
        size_t val_len = line_len - name_len - 1;
        while (val_len > 0 && (*val == ' ' || *val == '\t')) {
            val++;
            val_len--;
        }
        if (name_len == 19 && strncasecmp(line, "Content-Disposition", 19) == 0) {
            if (val_len < 9 || strncasecmp(val, "form-data", 9) != 0)
                return fail(msg, cap, "malformed multipart body: Content-Disposition is not form-data");
            const char *v;
            size_t vlen;
            int r = header_param(val, val_len, "name", &v, &vlen);
            if (r != 1) return fail(msg, cap, "malformed multipart body: a part has no name");
            part->name = v;
            part->name_len = vlen;
            r = header_param(val, val_len, "filename", &v, &vlen);
            if (r < 0) return fail(msg, cap, "malformed multipart body: bad filename parameter");
            if (r == 1) {
                part->filename = v;
                part->filename_len = vlen;
                part->is_file = 1;
            }
            have_disposition = 1;
        } else if (name_len == 12 && strncasecmp(line, "Content-Type", 12) == 0) {
            part->ctype = val;
            part->ctype_len = val_len;
        }
    }
    if (!have_disposition)
        return fail(msg, cap, "malformed multipart body: a part has no Content-Disposition");
    return PXS_OK;
}

static int parse_multipart(const char *content_type, const unsigned char *body, size_t len,
                           struct pxs__form *f, char *msg, size_t cap) {
    char boundary[MAX_BOUNDARY + 1];
    if (boundary_of(content_type, boundary, sizeof boundary) != PXS_OK)
        return fail(msg, cap, "multipart/form-data without a valid boundary parameter");
    char delim[MAX_BOUNDARY + 5]; /* "\r\n--" + boundary */
    size_t blen = strlen(boundary);
    memcpy(delim, "\r\n--", 4);
    memcpy(delim + 4, boundary, blen);
    size_t dlen = blen + 4;

    /* The first delimiter may start the body (no leading CRLF). */
    size_t pos;
    if (len >= dlen - 2 && memcmp(body, delim + 2, dlen - 2) == 0) {
        pos = dlen - 2;
    } else {
        const unsigned char *p = find(body, len, delim, dlen);
        if (!p) return fail(msg, cap, "malformed multipart body: boundary not found");
        pos = (size_t)(p - body) + dlen;
    }
    for (;;) {
        /* after a delimiter: "--" ends the body, CRLF starts a part */
        if (len - pos >= 2 && body[pos] == '-' && body[pos + 1] == '-') return PXS_OK;
        while (pos < len && (body[pos] == ' ' || body[pos] == '\t')) pos++; /* transport padding */
        if (len - pos < 2 || body[pos] != '\r' || body[pos + 1] != '\n')
            return fail(msg, cap, "malformed multipart body: bad delimiter line");
        pos += 2;
        const unsigned char *hend;
        if (len - pos >= 2 && body[pos] == '\r' && body[pos + 1] == '\n') {
            hend = body + pos; /* no headers at all */
        } else {
            hend = find(body + pos, len - pos, "\r\n\r\n", 4);
            if (!hend) return fail(msg, cap, "malformed multipart body: part headers never end");
            hend += 2;
        }
        size_t hlen = (size_t)(hend - (body + pos));
        if (hlen > MAX_PART_HEADERS)
            return fail(msg, cap, "malformed multipart body: part headers too long");
        if (f->n_parts == PXS__MAX_PARTS)
            return fail(msg, cap, "multipart body has too many parts");
        struct pxs__part *part = &f->parts[f->n_parts];
        memset(part, 0, sizeof *part);
        int rc = part_headers((const char *)body + pos, hlen, part, msg, cap);
        if (rc != PXS_OK) return rc;
        pos += hlen + 2;
        const unsigned char *end = find(body + pos, len - pos, delim, dlen);
        if (!end)
            return fail(msg, cap, "malformed multipart body: the closing boundary is missing");
        part->data = body + pos;
        part->len = (size_t)(end - (body + pos));
        f->n_parts++;
        pos = (size_t)(end - body) + dlen;
    }
}

static int hex_val(unsigned char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Decode %XX and '+' in place over [s, s + n); returns the new length, or
 * (size_t)-1 for a bad escape. */
static size_t url_decode(char *s, size_t n) {
    size_t w = 0;
    for (size_t r = 0; r < n; r++) {
        if (s[r] == '+') {
            s[w++] = ' ';
        } else if (s[r] == '%') {
            int hi, lo;
            if (r + 2 >= n) return (size_t)-1;
            if ((hi = hex_val((unsigned char)s[r + 1])) < 0 ||
                (lo = hex_val((unsigned char)s[r + 2])) < 0)
                return (size_t)-1;
            s[w++] = (char)(hi * 16 + lo);
            r += 2;
        } else {
            s[w++] = s[r];
        }
    }
    return w;
}

static int parse_urlencoded(const unsigned char *body, size_t len, struct pxs__form *f, char *msg,
                            size_t cap) {
    f->decoded = pxs_malloc(len + 1);
    if (!f->decoded) return PXS_ENOMEM;
    memcpy(f->decoded, body, len);
    f->decoded[len] = '\0';
    char *s = f->decoded;
    size_t i = 0;
    while (i < len) {
        size_t e = i;
        while (e < len && s[e] != '&') e++;
        if (e > i) {
            char *eq = memchr(s + i, '=', e - i);
            size_t nlen = eq ? (size_t)(eq - (s + i)) : e - i;
            size_t vstart = eq ? (size_t)(eq - s) + 1 : e;
            if (f->n_parts == PXS__MAX_PARTS) return fail(msg, cap, "form body has too many fields");
            size_t dn = url_decode(s + i, nlen);
            size_t dv = url_decode(s + vstart, e - vstart);
            if (dn == (size_t)-1 || dv == (size_t)-1)
                return fail(msg, cap, "malformed urlencoded body: bad %-escape");
            struct pxs__part *p = &f->parts[f->n_parts++];
            memset(p, 0, sizeof *p);
            p->name = s + i;
            p->name_len = dn;
            p->data = (const unsigned char *)s + vstart;
            p->len = dv;
        }
        i = e + 1;
    }
    return PXS_OK;
}

/* A raw image rather than name=value text (control or 8-bit bytes). */
static int looks_binary(const unsigned char *data, size_t n) {
    if (n > 512) n = 512;
    for (size_t i = 0; i < n; i++)
        if (data[i] < 0x20 || data[i] >= 0x7F) return 1;
    return 0;
}

int pxs__body_parse(const char *content_type, const unsigned char *body, size_t len,
                    struct pxs__form *f, char *msg, size_t cap) {
    memset(f, 0, sizeof *f);
    if (!content_type) content_type = "";
    while (*content_type == ' ') content_type++;
    if (!*content_type || has_prefix_ci(content_type, "image/") ||
        has_prefix_ci(content_type, "application/octet-stream")) {
        f->kind = PXS__FORM_RAW;
        f->raw = body;
        f->raw_len = len;
        return PXS_OK;
    }
    if (has_prefix_ci(content_type, "multipart/form-data")) {
        f->kind = PXS__FORM_MULTIPART;
        return parse_multipart(content_type, body, len, f, msg, cap);
    }
    if (has_prefix_ci(content_type, "application/x-www-form-urlencoded")) {
        if (looks_binary(body, len)) {
            f->kind = PXS__FORM_RAW;
            f->raw = body;
            f->raw_len = len;
            return PXS_OK;
        }
        f->kind = PXS__FORM_URLENCODED;
        return parse_urlencoded(body, len, f, msg, cap);
    }
    if (has_prefix_ci(content_type, "application/json")) {
        f->kind = PXS__FORM_JSON;
        if (len == 0) return fail(msg, cap, "empty JSON body");
        const char *end = NULL;
        f->json = cJSON_ParseWithLengthOpts((const char *)body, len, &end, 0);
        if (!f->json) {
            size_t at = end ? (size_t)(end - (const char *)body) : 0;
            snprintf(msg, cap, "malformed JSON body (near byte %zu)", at);
            return PXS_EINVAL;
        }
        /* nothing but blanks may follow the document */
        for (size_t i = (size_t)(end - (const char *)body); i < len; i++) {
            char c = (char)body[i];
            if (c != ' ' && c != '\t' && c != '\r' && c != '\n')
                return fail(msg, cap, "malformed JSON body: data after the document");
        }
        if (!cJSON_IsObject(f->json)) return fail(msg, cap, "the JSON body must be an object");
        return PXS_OK;
    }
    char shown[64];
    size_t n = 0;
    for (const char *p = content_type; *p && n + 1 < sizeof shown; p++)
        shown[n++] = (*p >= 0x20 && *p < 0x7F) ? *p : '?';
    shown[n] = '\0';
    snprintf(msg, cap,
             "unsupported Content-Type \"%s\": send multipart/form-data, "
             "application/x-www-form-urlencoded, application/json, or the raw image as "
             "image/* or application/octet-stream",
             shown);
    return PXS_EUNSUPPORTED;
}

void pxs__form_free(struct pxs__form *f) {
    if (!f) return;
    pxs_free(f->decoded);
    cJSON_Delete(f->json);
    memset(f, 0, sizeof *f);
}

static const struct pxs__part *find_part(const struct pxs__form *f, const char *name) {
    size_t n = strlen(name);
    for (size_t i = 0; i < f->n_parts; i++)
        if (f->parts[i].name_len == n && memcmp(f->parts[i].name, name, n) == 0)
            return &f->parts[i];
    return NULL;
}

int pxs__form_file(const struct pxs__form *f, const char *name, const unsigned char **data,
                   size_t *len) {
    if (f->kind == PXS__FORM_RAW) {
        if (f->raw_len == 0) return 0;
        *data = f->raw;
        *len = f->raw_len;
        return 1;
    }
    if (f->kind != PXS__FORM_MULTIPART) return 0;
    const struct pxs__part *p = find_part(f, name);
    if (!p) return 0;
    *data = p->data;
    *len = p->len;
    return 1;
}

int pxs__form_text(const struct pxs__form *f, const char *name, char *out, size_t cap) {
    if (cap == 0) return -1;
    if (f->kind == PXS__FORM_JSON) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(f->json, name);
        if (!v || cJSON_IsNull(v)) return 0;
        int n;
        if (cJSON_IsString(v)) {
            n = snprintf(out, cap, "%s", v->valuestring);
        } else if (cJSON_IsNumber(v)) {
            double d = v->valuedouble;
            if (d >= -9.0e15 && d <= 9.0e15 && d == (double)(long long)d)
                n = snprintf(out, cap, "%lld", (long long)d);
            else
                n = snprintf(out, cap, "%.9f", d);
        } else {
            return -1; /* wrong type */
        }
        return n < 0 || (size_t)n >= cap ? -1 : 1;
    }
    if (f->kind != PXS__FORM_MULTIPART && f->kind != PXS__FORM_URLENCODED) return 0;
    const struct pxs__part *p = find_part(f, name);
    if (!p) return 0;
    if (p->len >= cap || memchr(p->data, '\0', p->len)) return -1;
    memcpy(out, p->data, p->len);
    out[p->len] = '\0';
    return 1;
}

/* ---- base64 ------------------------------------------------------------ */

static int b64_val(unsigned char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
}

int pxs__base64_decode(const char *text, size_t len, size_t max_out, unsigned char **out,
                       size_t *out_len) {
    *out = NULL;
    *out_len = 0;
    /* data:image/png;base64,.... */
    if (len >= 5 && strncmp(text, "data:", 5) == 0) {
        const char *comma = memchr(text, ',', len);
        if (!comma) return PXS_EINVAL;
        size_t head = (size_t)(comma - text);
        if (head < 12 || strncmp(comma - 7, ";base64", 7) != 0) return PXS_EINVAL;
        len -= head + 1;
        text = comma + 1;
    }
    size_t cap = len / 4 * 3 + 3;
    if (cap > max_out + 3) return PXS_ELIMIT;
    unsigned char *buf = pxs_malloc(cap ? cap : 1);
    if (!buf) return PXS_ENOMEM;
    uint32_t acc = 0;
    int bits = 0, pad = 0;
    size_t n = 0, symbols = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') continue;
        if (c == '=') {
            pad++;
            continue;
        }
        int v = b64_val(c);
        if (v < 0 || pad) { /* bad symbol, or data after padding */
            pxs_free(buf);
            return PXS_EINVAL;
        }
        symbols++;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            buf[n++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    /* a lone trailing symbol carries no byte; padding must complete a quantum */
    if (symbols % 4 == 1 || pad > 2 || (pad && (symbols + (size_t)pad) % 4 != 0) || n == 0) {
        pxs_free(buf);
        return PXS_EINVAL;
    }
    if (n > max_out) {
        pxs_free(buf);
        return PXS_ELIMIT;
    }
    *out = buf;
    *out_len = n;
    return PXS_OK;
}
