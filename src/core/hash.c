/*
 * hash.c — content hashes (XXH3-128 for file identity, XXH3-64 for tables
 * and checksums) and their hex form.
 */
#include "pixseek/core.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

void pxs_hash128(const void *data, size_t len, uint8_t out[PXS_HASH_BYTES]) {
    XXH128_hash_t h = XXH3_128bits(data, len);
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, h);
    for (int i = 0; i < PXS_HASH_BYTES; i++) out[i] = c.digest[i];
}

uint64_t pxs_hash64(const void *data, size_t len) { return XXH3_64bits(data, len); }

void pxs_hash_to_hex(const uint8_t hash[PXS_HASH_BYTES], char *hex) {
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < PXS_HASH_BYTES; i++) {
        hex[2 * i] = digits[hash[i] >> 4];
        hex[2 * i + 1] = digits[hash[i] & 15];
    }
    hex[PXS_HASH_HEX_LEN] = '\0';
}

static int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int pxs_hash_from_hex(const char *hex, uint8_t hash[PXS_HASH_BYTES]) {
    for (int i = 0; i < PXS_HASH_BYTES; i++) {
        int hi = hex_value(hex[2 * i]);
        if (hi < 0) return PXS_EINVAL;
        int lo = hex_value(hex[2 * i + 1]);
        if (lo < 0) return PXS_EINVAL;
        hash[i] = (uint8_t)(hi << 4 | lo);
    }
    return hex[2 * PXS_HASH_BYTES] == '\0' ? PXS_OK : PXS_EINVAL;
}
