/*
 * tests/image/test_jpeg_fast.c — the JPEG fast path of query preprocessing
 * (pxs_image_jpeg_to_tensor): bit-identical tensors to pxs_image_to_tensor
 * on generated JPEGs (4:2:0 and 4:4:4, grey, progressive, sizes that take
 * DCT shrink-on-load 1, 2, 4 and 8, odd sizes, squash) and on Corel-1k photos
 * when ../shared is there; and it declines (PXS_EUNSUPPORTED, output left
 * alone) what it leaves to libvips: EXIF orientation, truncated data, other
 * formats, too many pixels.
 */
#include "pixseek/core.h"
#include "pixseek/image.h"
#include "../test.h"

#include <stdio.h>
#include <string.h>
#include <vips/vips.h>

static uint8_t *pattern(int w, int h, int bands) {
    uint8_t *p = pxs_malloc((size_t)w * h * bands);
    if (!p) return NULL;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < bands; c++)
                p[((size_t)y * w + x) * bands + c] = (uint8_t)((x * 7 + y * 3 + c * 85 + (x ^ y) * 5) % 256);
    return p;
}

/* A JPEG of a w x h pattern through libvips' saver; options as in
 * vips_jpegsave_buffer ("Q", "strip": no EXIF block, "subsample_mode", "interlace");
 * orientation 0 = none. */
static void *jpeg_of(int w, int h, int bands, int orientation, size_t *len, const char *suffix) {
    uint8_t *pix = pattern(w, h, bands);
    if (!pix) return NULL;
    VipsImage *m = vips_image_new_from_memory_copy(pix, (size_t)w * h * bands, w, h, bands, VIPS_FORMAT_UCHAR);
    pxs_free(pix);
    if (!m) return NULL;
    VipsImage *im = NULL;
    int rc = vips_copy(m, &im, "interpretation", bands == 1 ? VIPS_INTERPRETATION_B_W : VIPS_INTERPRETATION_sRGB,
                       NULL);
    g_object_unref(m);
    if (rc) return NULL;
    if (orientation) vips_image_set_int(im, VIPS_META_ORIENTATION, orientation);
    void *buf = NULL;
    rc = vips_image_write_to_buffer(im, suffix, &buf, len, NULL);
    g_object_unref(im);
    return rc ? NULL : buf;
}

/* Both paths on data; the fast one must agree exactly. Returns 1 when it did. */
static int same_tensor(const void *data, size_t len, const struct pxs_preprocess *pp) {
    size_t n = pxs_preprocess_tensor_floats(pp);
    float *fast = pxs_mallocarray(n, sizeof(float)), *slow = pxs_mallocarray(n, sizeof(float));
    struct pxs_err err = {0};
    int ok = fast && slow && pxs_image_jpeg_to_tensor(data, len, pp, fast, &err) == PXS_OK &&
             pxs_image_to_tensor(data, len, pp, slow, NULL, &err) == PXS_OK &&
             memcmp(fast, slow, n * sizeof(float)) == 0;
    if (!ok) printf("    fast path differs or failed: %s\n", err.msg);
    pxs_free(fast);
    pxs_free(slow);
    return ok;
}

PXS_TEST(jpeg_fast_matches_libvips_path) {
    struct pxs_err err = {0};
    CHECK_OK(pxs_image_global_init(&err), &err);
    struct pxs_preprocess pp;
    pxs_preprocess_init_imagenet(&pp);
    pp.apply_orientation = 1;
    static const struct { int w, h, bands; const char *suffix; } cases[] = {
        {384, 256, 3, ".jpg[Q=90,strip]"},                 /* Corel-like, no shrink */
        {1200, 900, 3, ".jpg[Q=85,strip]"},                /* shrink 2 */
        {2400, 1100, 3, ".jpg[Q=80,strip,subsample_mode=off]"},  /* shrink 2 on the short side, 4:4:4 */
        {4200, 4300, 3, ".jpg[Q=80,strip]"},               /* shrink 8 */
        {2100, 2100, 3, ".jpg[Q=80,strip,interlace]"},     /* shrink 4, progressive */
        {333, 517, 1, ".jpg[Q=75,strip]"},                 /* grey, odd sizes */
        {17, 9, 3, ".jpg[Q=75,strip]"},                    /* smaller than the crop: black padding */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len = 0;
        void *jpg = jpeg_of(cases[i].w, cases[i].h, cases[i].bands, 0, &len, cases[i].suffix);
        CHECK(jpg != NULL);
        CHECK_MSG(same_tensor(jpg, len, &pp), "case %zu (%dx%d)", i, cases[i].w, cases[i].h);
        g_free(jpg);
    }
    /* squash, BGR and no shrink-on-load take the same road */
    size_t len = 0;
    void *jpg = jpeg_of(1500, 1000, 3, 0, &len, ".jpg[Q=85,strip]");
    CHECK(jpg != NULL);
    pp.policy = PXS_RESIZE_SQUASH;
    pp.bgr = 1;
    CHECK(same_tensor(jpg, len, &pp));
    pp.no_shrink_on_load = 1;
    CHECK(same_tensor(jpg, len, &pp));
    g_free(jpg);
}

PXS_TEST(jpeg_fast_matches_on_corel_photos) {
    const char *dir = pxs_test_shared("data/corel1k_wang/images/0.jpg");
    SKIP_IF(!dir, "shared/data/corel1k_wang not found");
    struct pxs_err err = {0};
    CHECK_OK(pxs_image_global_init(&err), &err);
    struct pxs_preprocess pp;
    pxs_preprocess_init_imagenet(&pp);
    pp.apply_orientation = 1;
    for (int i = 0; i < 1000; i += 50) {
        char rel[64];
        snprintf(rel, sizeof rel, "data/corel1k_wang/images/%d.jpg", i);
        char *data = NULL;
        size_t len = 0;
        CHECK_OK(pxs_file_read_all(pxs_test_shared(rel), 1u << 24, &data, &len, &err), &err);
        CHECK_MSG(same_tensor(data, len, &pp), "%s", rel);
        pxs_free(data);
    }
}

PXS_TEST(jpeg_fast_declines_what_libvips_handles) {
    struct pxs_err err = {0};
    CHECK_OK(pxs_image_global_init(&err), &err);
    struct pxs_preprocess pp;
    pxs_preprocess_init_imagenet(&pp);
    pp.apply_orientation = 1;
    size_t n = pxs_preprocess_tensor_floats(&pp);
    float *out = pxs_mallocarray(n, sizeof(float));
    CHECK(out != NULL);
    out[0] = 42.0f;
    size_t len = 0;
    /* EXIF orientation: the fast path does not rotate, so it must not take these */
    void *jpg = jpeg_of(300, 200, 3, 6, &len, ".jpg[Q=90]");
    CHECK(jpg != NULL);
    CHECK_EQ_INT(pxs_image_jpeg_to_tensor(jpg, len, &pp, out, &err), PXS_EUNSUPPORTED);
    g_free(jpg);
    /* truncated: libvips reports it (fail_on truncated) */
    jpg = jpeg_of(300, 200, 3, 0, &len, ".jpg[Q=90]");
    CHECK(jpg != NULL);
    CHECK_EQ_INT(pxs_image_jpeg_to_tensor(jpg, len / 2, &pp, out, &err), PXS_EUNSUPPORTED);
    CHECK(pxs_image_to_tensor(jpg, len / 2, &pp, out, NULL, &err) != PXS_OK);
    /* too many pixels for the limit: libvips gives the error message */
    pp.max_pixels = 1000;
    CHECK_EQ_INT(pxs_image_jpeg_to_tensor(jpg, len, &pp, out, &err), PXS_EUNSUPPORTED);
    pp.max_pixels = 0;
    g_free(jpg);
    /* other formats, garbage, nothing */
    jpg = jpeg_of(30, 20, 3, 0, &len, ".png");
    CHECK(jpg != NULL);
    CHECK_EQ_INT(pxs_image_jpeg_to_tensor(jpg, len, &pp, out, &err), PXS_EUNSUPPORTED);
    g_free(jpg);
    static const unsigned char junk[] = {0xFF, 0xD8, 0xFF, 0xE0, 0, 3, 'x', 0xFF, 0xD9};
    CHECK_EQ_INT(pxs_image_jpeg_to_tensor(junk, sizeof junk, &pp, out, &err), PXS_EUNSUPPORTED);
    CHECK_EQ_INT(pxs_image_jpeg_to_tensor(junk, 0, &pp, out, &err), PXS_EUNSUPPORTED);
    CHECK(out[0] == 42.0f); /* never written when declining */
    /* a bad recipe is the caller's error, not a decline */
    pp.width = 0;
    CHECK_EQ_INT(pxs_image_jpeg_to_tensor(junk, sizeof junk, &pp, out, &err), PXS_EINVAL);
    pxs_free(out);
}
