/*
 * loader.c — the checks every decode path makes before libvips touches
 * pixels: sniff the format, sanity-check PNM headers, make sure libvips would
 * use the loader we expect for that format (so a damaged file cannot fall
 * through to another loader), then check the header's size, orientation and
 * pixel limit, and read the EXIF fields the engine keeps (date, camera).
 * Shared by pxs_image_decode and pxs_image_to_tensor.
 */
#include "image_int.h"

#include <stdio.h>
#include <string.h>

#include <vips/vips.h>

/* The libvips loader class expected for each sniffed format. libvips has no
 * buffer/source loader of its own for BMP, only ImageMagick's; PNM has only a
 * source loader (its buffer path would also fall through to ImageMagick). */
static const struct {
    const char *loader_prefix; /* class name prefix, e.g. VipsForeignLoadJpegSource */
    int use_buffer;            /* 1: *_buffer API, 0: VipsSource API */
} format_loader[] = {
    [PXS_IMAGE_UNKNOWN] = {NULL, 0},
    [PXS_IMAGE_JPEG] = {"VipsForeignLoadJpeg", 0},
    [PXS_IMAGE_PNG] = {"VipsForeignLoadPng", 0},
    [PXS_IMAGE_GIF] = {"VipsForeignLoadNsgif", 0},
    [PXS_IMAGE_WEBP] = {"VipsForeignLoadWebp", 0},
    [PXS_IMAGE_TIFF] = {"VipsForeignLoadTiff", 0},
    [PXS_IMAGE_BMP] = {"VipsForeignLoadMagick", 1},
    [PXS_IMAGE_HEIF] = {"VipsForeignLoadHeif", 0},
    [PXS_IMAGE_PNM] = {"VipsForeignLoadPpm", 0},
};

int pxs__image_loader_uses_buffer(enum pxs_image_format fmt) { return format_loader[fmt].use_buffer; }

/* Is a loader class with this prefix compiled into (and loaded by) libvips? */
static int loader_available(const char *prefix) {
    static const char *const suffixes[] = {"Source", "Buffer"};
    for (size_t i = 0; i < 2; i++) {
        char name[64];
        snprintf(name, sizeof name, "%s%s", prefix, suffixes[i]);
        if (g_type_from_name(name) != 0) return 1;
    }
    return 0;
}

/* Step 2: which loader would libvips use, and is it the one we expect? */
static int check_loader(enum pxs_image_format fmt, const void *data, size_t len,
                        struct pxs_err *err) {
    const char *want = format_loader[fmt].loader_prefix;
    const char *name;
    if (format_loader[fmt].use_buffer) {
        name = vips_foreign_find_load_buffer(data, len);
    } else {
        VipsSource *src = vips_source_new_from_memory(data, len);
        if (!src) return pxs__image_vips_fail(err, PXS_ENOMEM, "libvips source");
        name = vips_foreign_find_load_source(src);
        g_object_unref(src);
    }
    if (name && strncmp(name, want, strlen(want)) == 0) {
        pxs__image_vips_discard(); /* probes may log harmless messages */
        return PXS_OK;
    }
    if (!loader_available(want)) {
        pxs__image_vips_discard();
        return pxs_errf(err, PXS_EUNSUPPORTED, "no %s loader in this libvips build",
                        pxs_image_format_name(fmt));
    }
    if (name) {
        pxs__image_vips_discard();
        return pxs_errf(err, PXS_ECORRUPT, "damaged %s: the %s loader rejected it",
                        pxs_image_format_name(fmt), pxs_image_format_name(fmt));
    }
    /* The loader's own probe refused the bytes. */
    char what[64];
    snprintf(what, sizeof what, "damaged %s", pxs_image_format_name(fmt));
    return pxs__image_vips_fail(err, PXS_ECORRUPT, what);
}

/* libvips' PNM loader turns a width or height of 0 or above VIPS_MAX_COORD
 * into a GLib warning and a 1-pixel dimension, so check those here. Parses
 * the magic and the first two numbers (comments allowed) in the first 1 KB;
 * a missing number reads as 0. */
static void pnm_dims(const uint8_t *p, size_t len, uint64_t dims[2]) {
    size_t i = 2, end = len < 1024 ? len : 1024;
    for (int field = 0; field < 2; field++) {
        for (;;) { /* whitespace and comments */
            while (i < end && (p[i] == ' ' || (p[i] >= '\t' && p[i] <= '\r'))) i++;
            if (i < end && p[i] == '#') {
                while (i < end && p[i] != '\n' && p[i] != '\r') i++;
                continue;
            }
            break;
        }
        uint64_t v = 0;
        while (i < end && p[i] >= '0' && p[i] <= '9' && v <= 0xFFFFFFFFu)
            v = v * 10 + (uint64_t)(p[i++] - '0');
        dims[field] = v;
    }
}

int pxs__image_precheck(const void *data, size_t len, enum pxs_image_format *fmt,
                        struct pxs_err *err) {
    *fmt = pxs_image_sniff(data, len);
    if (*fmt == PXS_IMAGE_UNKNOWN)
        return pxs_errf(err, PXS_EUNSUPPORTED, "not an image (unrecognised file signature)");
    int rc = pxs_image_global_init(err);
    if (rc != PXS_OK) return rc;
    if (*fmt == PXS_IMAGE_PNM) {
        uint64_t dims[2];
        pnm_dims(data, len, dims);
        if (dims[0] == 0 || dims[1] == 0)
            return pxs_errf(err, PXS_ECORRUPT, "damaged pnm header: missing or zero width/height");
        if (dims[0] > VIPS_MAX_COORD || dims[1] > VIPS_MAX_COORD)
            return pxs_errf(err, PXS_ELIMIT, "image is %llux%llu, the limit is %d per side",
                            (unsigned long long)dims[0], (unsigned long long)dims[1],
                            VIPS_MAX_COORD);
    }
    return check_loader(*fmt, data, len, err);
}

int pxs__image_header_check(VipsImage *header, enum pxs_image_format fmt, uint64_t max_pixels,
                            int *w, int *h, int *orientation, struct pxs_err *err) {
    *w = vips_image_get_width(header);
    *h = vips_image_get_height(header);
    *orientation = 1;
    if (vips_image_get_typeof(header, VIPS_META_ORIENTATION)) {
        int o = 1;
        if (vips_image_get_int(header, VIPS_META_ORIENTATION, &o) == 0 && o >= 1 && o <= 8)
            *orientation = o;
    }
    g_object_unref(header);
    pxs__image_vips_discard();
    if (*w <= 0 || *h <= 0)
        return pxs_errf(err, PXS_ECORRUPT, "damaged %s: size %dx%d", pxs_image_format_name(fmt),
                        *w, *h);
    uint64_t pixels = (uint64_t)*w * (uint64_t)*h;
    if (pixels > max_pixels)
        return pxs_errf(err, PXS_ELIMIT, "image is %dx%d (%llu pixels), the limit is %llu", *w,
                        *h, (unsigned long long)pixels, (unsigned long long)max_pixels);
    return PXS_OK;
}

void pxs__image_info_clear(struct pxs_image_info *info) {
    if (!info) return;
    memset(info, 0, sizeof *info);
    info->format = PXS_IMAGE_UNKNOWN;
    info->orientation = 1;
}

/* libvips renders an EXIF entry as "VALUE (VALUE, ASCII, N components, N
 * bytes)"; keep VALUE: up to the last " (", printable ASCII only, trimmed. */
static void exif_string(VipsImage *im, const char *name, char *out, size_t cap) {
    out[0] = '\0';
    const char *s = NULL;
    if (!vips_image_get_typeof(im, name) || vips_image_get_string(im, name, &s) != 0 || !s) return;
    const char *end = s + strlen(s);
    for (const char *p = end; p-- > s;)
        if (p[0] == ' ' && p[1] == '(') {
            end = p;
            break;
        }
    size_t n = 0;
    for (const char *p = s; p < end && n + 1 < cap; p++)
        if (*p >= 0x20 && *p < 0x7f && !(n == 0 && *p == ' ')) out[n++] = *p;
    while (n > 0 && out[n - 1] == ' ') n--;
    out[n] = '\0';
}

/* "YYYY:MM:DD HH:MM:SS" -> "YYYY-MM-DD HH:MM:SS"; anything else (blank
 * "    :  :     :  :  ", all zeros, other layouts) -> "". */
static void exif_date(const char *in, char out[20]) {
    static const char layout[] = "dddd:dd:dd dd:dd:dd";
    out[0] = '\0';
    for (int i = 0; i < 19; i++) {
        char c = in[i];
        if (layout[i] == 'd' ? !(c >= '0' && c <= '9') : c != layout[i]) return;
    }
    if (strncmp(in, "0000", 4) == 0) return;
    memcpy(out, in, 19);
    out[4] = out[7] = '-';
    out[19] = '\0';
}

void pxs__image_read_exif(VipsImage *header, struct pxs_image_info *info) {
    if (!info) return;
    char raw[64];
    exif_string(header, "exif-ifd2-DateTimeOriginal", raw, sizeof raw);
    if (!raw[0]) exif_string(header, "exif-ifd0-DateTime", raw, sizeof raw);
    exif_date(raw, info->exif_date);
    exif_string(header, "exif-ifd0-Make", info->camera_make, sizeof info->camera_make);
    exif_string(header, "exif-ifd0-Model", info->camera_model, sizeof info->camera_model);
}
