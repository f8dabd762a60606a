/*
 * sniff.c — identifies an image container from its first bytes (never the
 * file name) and names formats and MIME types. Pure byte checks: no libvips,
 * no allocation, looks at most at the first 32 bytes.
 */
#include "pixseek/image.h"

#include <string.h>

#define SNIFF_MAX 32 /* the contract: at most 32 bytes are looked at */

static int has_prefix(const uint8_t *p, size_t len, const char *magic, size_t n) {
    return len >= n && memcmp(p, magic, n) == 0;
}

static uint32_t be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}


/* "BM" alone is too weak (plain text can start with it), so also require a
 * known DIB header size and a pixel-data offset that lies past the headers. */
static int looks_like_bmp(const uint8_t *p, size_t len) {
    if (len < 18 || p[0] != 'B' || p[1] != 'M') return 0;
    uint32_t offset = (uint32_t)pxs_get_le(p + 10, 4);
    uint32_t dib = (uint32_t)pxs_get_le(p + 14, 4);
    static const uint32_t dib_sizes[] = {12, 16, 40, 52, 56, 64, 108, 124};
    int known = 0;
    for (size_t i = 0; i < sizeof dib_sizes / sizeof dib_sizes[0]; i++)
        if (dib == dib_sizes[i]) known = 1;
    return known && offset >= 14 + dib;
}

/* ISO-BMFF: [size:4 BE]["ftyp"][major brand:4][minor version:4][compatible
 * brands:4 each ...]. Accept if the major brand or any compatible brand
 * that fits in the sniff window is a HEIF/AVIF still-image brand. */
static int is_heif_brand(const uint8_t *b) {
    static const char brands[][5] = {"heic", "heix", "hevc", "hevx", "heim", "heis",
                                     "mif1", "msf1", "avif", "avis"};
    for (size_t i = 0; i < sizeof brands / sizeof brands[0]; i++)
        if (memcmp(b, brands[i], 4) == 0) return 1;
    return 0;
}

static int looks_like_heif(const uint8_t *p, size_t len) {
    if (len < 12 || memcmp(p + 4, "ftyp", 4) != 0) return 0;
    uint32_t box = be32(p);
    if (box < 16) return 0;
    if (is_heif_brand(p + 8)) return 1;
    size_t end = box < len ? box : len;
    for (size_t off = 16; off + 4 <= end; off += 4)
        if (is_heif_brand(p + off)) return 1;
    return 0;
}

static int is_pnm_space(uint8_t c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* "P1".."P6", whitespace, then a comment or the width's first digit. */
static int looks_like_pnm(const uint8_t *p, size_t len) {
    if (len < 4 || p[0] != 'P' || p[1] < '1' || p[1] > '6' || !is_pnm_space(p[2])) return 0;
    size_t i = 3;
    while (i < len && is_pnm_space(p[i])) i++;
    return i < len && (p[i] == '#' || (p[i] >= '0' && p[i] <= '9'));
}

enum pxs_image_format pxs_image_sniff(const void *data, size_t len) {
    if (!data) return PXS_IMAGE_UNKNOWN;
    const uint8_t *p = data;
    if (len > SNIFF_MAX) len = SNIFF_MAX;

    if (has_prefix(p, len, "\xFF\xD8\xFF", 3)) return PXS_IMAGE_JPEG;
    if (has_prefix(p, len, "\x89PNG\r\n\x1A\n", 8)) return PXS_IMAGE_PNG;
    if (has_prefix(p, len, "GIF87a", 6) || has_prefix(p, len, "GIF89a", 6)) return PXS_IMAGE_GIF;
    if (len >= 12 && memcmp(p, "RIFF", 4) == 0 && memcmp(p + 8, "WEBP", 4) == 0)
        return PXS_IMAGE_WEBP;
    /* Classic TIFF (42) and BigTIFF (43), both byte orders. */
    if (has_prefix(p, len, "II*\0", 4) || has_prefix(p, len, "MM\0*", 4) ||
        has_prefix(p, len, "II+\0", 4) || has_prefix(p, len, "MM\0+", 4))
        return PXS_IMAGE_TIFF;
    if (looks_like_bmp(p, len)) return PXS_IMAGE_BMP;
    if (looks_like_heif(p, len)) return PXS_IMAGE_HEIF;
    if (looks_like_pnm(p, len)) return PXS_IMAGE_PNM;
    return PXS_IMAGE_UNKNOWN;
}

static const struct {
    const char *name;
    const char *mime;
} format_table[] = {
    [PXS_IMAGE_UNKNOWN] = {"unknown", "application/octet-stream"},
    [PXS_IMAGE_JPEG] = {"jpeg", "image/jpeg"},
    [PXS_IMAGE_PNG] = {"png", "image/png"},
    [PXS_IMAGE_GIF] = {"gif", "image/gif"},
    [PXS_IMAGE_WEBP] = {"webp", "image/webp"},
    [PXS_IMAGE_TIFF] = {"tiff", "image/tiff"},
    [PXS_IMAGE_BMP] = {"bmp", "image/bmp"},
    [PXS_IMAGE_HEIF] = {"heif", "image/heif"},
    [PXS_IMAGE_PNM] = {"pnm", "image/x-portable-anymap"},
};

const char *pxs_image_format_name(enum pxs_image_format format) {
    size_t i = (size_t)format;
    if (i >= sizeof format_table / sizeof format_table[0]) i = PXS_IMAGE_UNKNOWN;
    return format_table[i].name;
}

const char *pxs_image_format_mime(enum pxs_image_format format) {
    size_t i = (size_t)format;
    if (i >= sizeof format_table / sizeof format_table[0]) i = PXS_IMAGE_UNKNOWN;
    return format_table[i].mime;
}
