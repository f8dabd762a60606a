/*
 * tests/image/test_preprocess.c — CNN preprocessing (pxs_image_to_tensor,
 * pxs_image_pixels_to_tensor): the shared dog test vector, PIL-exact
 * bilinear resampling (expected bytes generated once with Pillow 9.4, see
 * the comment above pil_cases), torchvision crop offsets (round half to
 * even, padding), channel order and caffe-style normalisation, squash,
 * tiny and extreme aspect ratios, EXIF handling, alpha, shrink-on-load,
 * parameter validation and bad input. Fixtures other than the dog are
 * generated at run time.
 */
#include "pixseek/core.h"
#include "pixseek/image.h"
#include "../test.h"

#include <stdlib.h>
#include <vips/vips.h>

#define INIT_OR_FAIL()                                               \
    do {                                                             \
        struct pxs_err ierr_ = {0};                                  \
        CHECK_OK(pxs_image_global_init(&ierr_), &ierr_);             \
    } while (0)

/* Raw bytes out: scale 1, mean 0, std 1, RGB. */
static void pp_raw(struct pxs_preprocess *pp, int w, int h, int shorter,
                   enum pxs_resize_policy policy) {
    pxs_preprocess_init_imagenet(pp);
    pp->width = w;
    pp->height = h;
    pp->resize_shorter = shorter;
    pp->policy = policy;
    pp->scale = 1.0f;
    for (int c = 0; c < 3; c++) pp->mean[c] = 0.0f, pp->std[c] = 1.0f;
}

/* The pattern the Pillow expectations were made from. */
static uint8_t *make_pattern(int w, int h) {
    uint8_t *p = pxs_malloc((size_t)w * h * 3);
    if (!p) return NULL;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < 3; c++)
                p[((size_t)y * w + x) * 3 + c] = (uint8_t)((x * 37 + y * 91 + c * 53 + x * y * 13) % 256);
    return p;
}

/* Encode packed RGB (or grey/RGBA by bands) with a libvips saver. */
static void *encode(const uint8_t *pix, int w, int h, int bands, const char *suffix, int orientation,
                    size_t *len) {
    VipsImage *m = vips_image_new_from_memory_copy(pix, (size_t)w * h * bands, w, h, bands,
                                                   VIPS_FORMAT_UCHAR);
    if (!m) return NULL;
    VipsImage *im = NULL;
    VipsInterpretation interp = bands < 3 ? VIPS_INTERPRETATION_B_W : VIPS_INTERPRETATION_sRGB;
    int rc = vips_copy(m, &im, "interpretation", interp, NULL);
    g_object_unref(m);
    if (rc) return NULL;
    if (orientation) vips_image_set_int(im, VIPS_META_ORIENTATION, orientation);
    void *buf = NULL;
    rc = vips_image_write_to_buffer(im, suffix, &buf, len, NULL);
    g_object_unref(im);
    if (rc) {
        vips_error_clear();
        return NULL;
    }
    return buf;
}

static int hexval(char c) {
    return c <= '9' ? c - '0' : c - 'a' + 10;
}

/* Tensor (raw recipe) vs packed RGB bytes given as hex; returns max |diff|. */
static double diff_hex(const float *t, int w, int h, const char *hex) {
    double m = 0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < 3; c++) {
                size_t i = ((size_t)y * w + x) * 3 + c;
                int v = hexval(hex[2 * i]) * 16 + hexval(hex[2 * i + 1]);
                double d = fabs(t[(size_t)c * w * h + (size_t)y * w + x] - v);
                if (d > m) m = d;
            }
    return m;
}

/* ---- the shared dog vector ---------------------------------------------- */

PXS_TEST(preprocess_dog_test_vector) {
    const char *ppm = pxs_test_shared("models/testvectors/dog_224.ppm");
    SKIP_IF(!ppm, "shared/models/testvectors/dog_224.ppm not found");
    const char *f32 = pxs_test_shared("models/testvectors/dog_input_1x3x224x224.f32");
    SKIP_IF(!f32, "shared/models/testvectors/dog_input_1x3x224x224.f32 not found");
    INIT_OR_FAIL();
    struct pxs_err err = {0};
    char *want;
    size_t want_len;
    CHECK_OK(pxs_file_read_all(f32, 1u << 20, &want, &want_len, &err), &err);
    char *data;
    size_t len;
    int rc = pxs_file_read_all(pxs_test_shared("models/testvectors/dog_224.ppm"), 1u << 20, &data,
                               &len, &err);
    if (rc != PXS_OK) pxs_free(want);
    CHECK_OK(rc, &err);

    struct pxs_preprocess pp;
    pxs_preprocess_init_imagenet(&pp);
    pp.resize_shorter = 224; /* the vector is the crop already: identity resize */
    const size_t n = pxs_preprocess_tensor_floats(&pp);
    float *got = pxs_malloc(n * sizeof(float));
    struct pxs_image_info info;
    rc = got ? pxs_image_to_tensor(data, len, &pp, got, &info, &err) : PXS_ENOMEM;
    double m = 0;
    if (rc == PXS_OK && want_len == n * sizeof(float)) {
        const float *w = (const float *)(const void *)want;
        for (size_t i = 0; i < n; i++) m = fmax(m, fabs((double)got[i] - w[i]));
    }
    /* the same through decoded pixels */
    struct pxs_image img = {0};
    double m2 = 0;
    int rc2 = rc == PXS_OK ? pxs_image_decode(data, len, NULL, &img, NULL, &err) : rc;
    if (rc2 == PXS_OK) rc2 = pxs_image_pixels_to_tensor(&img, &pp, got, &err);
    if (rc2 == PXS_OK && want_len == n * sizeof(float)) {
        const float *w = (const float *)(const void *)want;
        for (size_t i = 0; i < n; i++) m2 = fmax(m2, fabs((double)got[i] - w[i]));
    }
    pxs_image_free(&img);
    pxs_free(got);
    pxs_free(data);
    pxs_free(want);
    CHECK_OK(rc, &err);
    CHECK_OK(rc2, &err);
    CHECK_EQ_INT(want_len, n * sizeof(float));
    CHECK_EQ_INT(info.format, PXS_IMAGE_PNM);
    CHECK_EQ_INT(info.width, 224);
    CHECK_MSG(m <= 1e-5, "max |diff| vs dog_input_1x3x224x224.f32 = %g", m);
    CHECK_MSG(m2 <= 1e-5, "pixels path: max |diff| = %g", m2);
}

/* ---- PIL-exact resampling ----------------------------------------------- */

/* Expected bytes from Pillow 9.4 (python3-pil), for make_pattern(w, h):
 *   Image.fromarray(pattern).resize((ow, oh), Image.BILINEAR)
 * and for "crop": pattern(20, 15).resize((13, 10)) then crop((2, 1, 10, 9)),
 * which is Resize(10) + CenterCrop(8) (offset round(2.5) = 2, round(1) = 1). */
static const struct {
    const char *name;
    int w, h, ow, oh;
    const char *hex;
} pil_cases[] = {
    {"down", 13, 9, 5, 4,
     "6f8894898f938885826e718385b77980917c917d83856f92838780729576779b99977699897a91928a8873928b9e"
     "6da298739a917d819c75839d729b"},
    {"up", 3, 2, 7, 5,
     "00356a053a6f154a7f255a8f356a9f457aaf4a7fb4093e730e43781f54892f649940759f5085a5568ba62e6398"
     "34699e477cb1598ec36ca19f7fb47b85ba6f5287bc598ec36ea3d883b8ed97cc9fade250b3e8375b90c56297cc78"
     "ade28dc2f7a2d79fb8ed46bff429"},
    {"vonly", 13, 9, 13, 4,
     "4b80827b7db278ad74a86fa46a9fa0999b71966ca1679c63965e5f585a8f558abf85ba90b5ea1f5b907a9f8f8c6c"
     "a159b6689d7d7a6a8f7fae8e598e6e6b8d809c8db1a26c4d4978588dc2a2d7137db27d7b9d9a5388b7bb6da2a058"
     "8d8bad78766095937db2b07a6b698bbab8b43b395b908ec3b98d6398b077ac91679cb47bb06a6ba0b980566e70a5"
     "bd845a73a8a9c22a5f77acaec62e637bb0e5"},
    {"honly", 13, 9, 6, 9,
     "1d52876499ceb1ab70464071588dab9fd43883b8beb07c645d85b5b1a2675e60958bc092b98052789699ab70627a"
     "9d8f9a666978ad7f4d8288ad79608e7bb06c668e6ea36f659a6b84b980747795705e9394588d9077ac8086587bb0"
     "82aa75aa89b0759384b59698806da2a84f84b97174a9a1588d857f71699e53598e94b47bb0bd72a7be71a6be71a6"
     "bd72a7b47bb0ab4e838970a5598e4e759d5d91467ba1689d"},
};
static const char crop_hex[] =
    "918b7e9473837291a0a9915a6d5b8172a7a3c3763b555f949d66848178a58b5186749199838171638783c2753a6f"
    "7998a664998295797c7daa9e6d9298a183638788c073838c8e87ac6ea3a76e93995c909b9c7e88927275788cbf72"
    "a7a674a27b77a18483608b87768378889d6087b7578c6770a47989ae547f7c7864637e668d5c8b6c62867497696c"
    "3a6f976ea3575d8b86797e896f6188869b9e775a8997ab5b386c948baf63697d9a66846988b199516fa48e475288"
    "9cb0375f93a55867";

PXS_TEST(preprocess_resample_matches_pillow) {
    INIT_OR_FAIL();
    struct pxs_err err = {0};
    float t[3 * 13 * 9];
    for (size_t k = 0; k < sizeof pil_cases / sizeof pil_cases[0]; k++) {
        uint8_t *pix = make_pattern(pil_cases[k].w, pil_cases[k].h);
        CHECK(pix);
        struct pxs_image img = {pil_cases[k].w, pil_cases[k].h, pix};
        struct pxs_preprocess pp;
        pp_raw(&pp, pil_cases[k].ow, pil_cases[k].oh, 1, PXS_RESIZE_SQUASH);
        int rc = pxs_image_pixels_to_tensor(&img, &pp, t, &err);
        pxs_free(pix);
        CHECK_OK(rc, &err);
        double m = diff_hex(t, pil_cases[k].ow, pil_cases[k].oh, pil_cases[k].hex);
        CHECK_MSG(m == 0, "case %s: max |diff| vs Pillow = %g", pil_cases[k].name, m);
    }
    /* shorter-then-crop through encoded bytes (lossless PNG) */
    uint8_t *pix = make_pattern(20, 15);
    CHECK(pix);
    size_t len = 0;
    void *png = encode(pix, 20, 15, 3, ".png", 0, &len);
    pxs_free(pix);
    CHECK(png);
    struct pxs_preprocess pp;
    pp_raw(&pp, 8, 8, 10, PXS_RESIZE_SHORTER_THEN_CROP);
    struct pxs_image_info info;
    int rc = pxs_image_to_tensor(png, len, &pp, t, &info, &err);
    g_free(png);
    CHECK_OK(rc, &err);
    CHECK_EQ_INT(info.format, PXS_IMAGE_PNG);
    CHECK_EQ_INT(info.width, 20);
    CHECK_EQ_INT(info.height, 15);
    double m = diff_hex(t, 8, 8, crop_hex);
    CHECK_MSG(m == 0, "resize 10 + crop 8: max |diff| vs Pillow = %g", m);
}

/* ---- geometry ------------------------------------------------------------- */

/* R = x & 255, G = y & 255, B = 7: reading the output tells where it came from. */
static uint8_t *make_coords(int w, int h) {
    uint8_t *p = pxs_malloc((size_t)w * h * 3);
    if (!p) return NULL;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *q = p + ((size_t)y * w + x) * 3;
            q[0] = (uint8_t)(x & 255), q[1] = (uint8_t)(y & 255), q[2] = 7;
        }
    return p;
}

PXS_TEST(preprocess_crop_offsets_round_half_even) {
    /* identity resize (shorter side == resize_shorter), crop 224: offsets
     * are int(round(d / 2.0)) in Python 3, so 16.5 -> 16 and 17.5 -> 18 */
    static const struct {
        int w, h, ox, oy;
    } cases[] = {
        {257, 300, 16, 38},  /* 33/2 = 16.5 -> 16, 76/2 = 38 */
        {259, 301, 18, 38},  /* 35/2 = 17.5 -> 18, 77/2 = 38.5 -> 38 */
        {303, 225, 40, 0},   /* 79/2 = 39.5 -> 40, 1/2 = 0.5 -> 0 */
        {224, 227, 0, 2},    /* 3/2 = 1.5 -> 2 */
    };
    struct pxs_err err = {0};
    float *t = pxs_malloc(sizeof(float) * 3 * 224 * 224);
    CHECK(t);
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        int w = cases[k].w, h = cases[k].h;
        uint8_t *pix = make_coords(w, h);
        if (!pix) break;
        struct pxs_image img = {w, h, pix};
        struct pxs_preprocess pp;
        pp_raw(&pp, 224, 224, w < h ? w : h, PXS_RESIZE_SHORTER_THEN_CROP);
        int rc = pxs_image_pixels_to_tensor(&img, &pp, t, &err);
        pxs_free(pix);
        if (rc != PXS_OK) pxs_free(t);
        CHECK_OK(rc, &err);
        const size_t plane = 224 * 224;
        int ok = t[0] == (float)cases[k].ox && t[plane] == (float)cases[k].oy &&
                 t[223] == (float)((cases[k].ox + 223) & 255) &&
                 t[plane + 223 * 224] == (float)((cases[k].oy + 223) & 255) && t[2 * plane] == 7;
        if (!ok) pxs_free(t);
        CHECK_MSG(ok, "%dx%d: first pixel from (%g, %g), want (%d, %d)", w, h, t[0], t[plane],
                  cases[k].ox, cases[k].oy);
    }
    pxs_free(t);
}

PXS_TEST(preprocess_crop_larger_than_image_pads_black) {
    /* 100x100 -> resize_shorter 100 (identity) -> crop 110x105: torchvision
     * pads left (110-100)//2 = 5 and top (105-100)//2 = 2 with black */
    uint8_t *pix = make_coords(100, 100);
    CHECK(pix);
    for (int i = 0; i < 100 * 100; i++) pix[i * 3 + 2] = 200;
    struct pxs_image img = {100, 100, pix};
    struct pxs_preprocess pp;
    pp_raw(&pp, 110, 105, 100, PXS_RESIZE_SHORTER_THEN_CROP);
    pp.mean[2] = 50.0f; /* black must come out as (0 - mean) / std */
    float *t = pxs_malloc(sizeof(float) * 3 * 110 * 105);
    struct pxs_err err = {0};
    int rc = t ? pxs_image_pixels_to_tensor(&img, &pp, t, &err) : PXS_ENOMEM;
    pxs_free(pix);
    if (rc != PXS_OK) pxs_free(t);
    CHECK_OK(rc, &err);
    const size_t plane = 110 * 105;
    float b00 = t[2 * plane], b_in = t[2 * plane + 2 * 110 + 5], b_last = t[2 * plane + 2 * 110 + 104],
          b_pad = t[2 * plane + 2 * 110 + 105], r_in = t[2 * 110 + 5 + 1], g_in = t[plane + 3 * 110 + 5];
    float b_bottom = t[2 * plane + 101 * 110 + 50], b_bottom_pad = t[2 * plane + 102 * 110 + 50];
    pxs_free(t);
    CHECK_EQ_INT((int)b00, -50);
    CHECK_EQ_INT((int)b_in, 150);
    CHECK_EQ_INT((int)b_last, 150);
    CHECK_EQ_INT((int)b_pad, -50);
    CHECK_EQ_INT((int)r_in, 1);
    CHECK_EQ_INT((int)g_in, 1);
    CHECK_EQ_INT((int)b_bottom, 150);
    CHECK_EQ_INT((int)b_bottom_pad, -50);
}

PXS_TEST(preprocess_squash_output_size) {
    INIT_OR_FAIL();
    /* uniform colour: every output pixel is that colour whatever the scaling */
    const int w = 300, h = 100;
    uint8_t *pix = pxs_malloc((size_t)w * h * 3);
    CHECK(pix);
    for (int i = 0; i < w * h; i++) pix[i * 3] = 10, pix[i * 3 + 1] = 120, pix[i * 3 + 2] = 250;
    size_t len;
    void *png = encode(pix, w, h, 3, ".png", 0, &len);
    pxs_free(pix);
    CHECK(png);
    struct pxs_preprocess pp;
    pp_raw(&pp, 64, 32, 0, PXS_RESIZE_SQUASH); /* resize_shorter unused */
    CHECK_EQ_INT(pxs_preprocess_tensor_floats(&pp), 3 * 64 * 32);
    float *t = pxs_malloc(sizeof(float) * (3 * 64 * 32 + 1));
    struct pxs_err err = {0};
    int rc = t ? pxs_image_to_tensor(png, len, &pp, t, NULL, &err) : PXS_ENOMEM;
    g_free(png);
    if (rc != PXS_OK) pxs_free(t);
    CHECK_OK(rc, &err);
    int bad = 0;
    for (int i = 0; i < 64 * 32; i++)
        bad += t[i] != 10 || t[64 * 32 + i] != 120 || t[2 * 64 * 32 + i] != 250;
    pxs_free(t);
    CHECK_EQ_INT(bad, 0);
}

/* ---- channel order and normalisation -------------------------------------- */

PXS_TEST(preprocess_bgr_caffe_and_imagenet_values) {
    INIT_OR_FAIL();
    const int w = 4, h = 3;
    uint8_t pix[4 * 3 * 3];
    for (int i = 0; i < w * h; i++)
        pix[i * 3] = (uint8_t)(10 * i), pix[i * 3 + 1] = (uint8_t)(100 + i), pix[i * 3 + 2] = (uint8_t)(250 - i);
    size_t len;
    void *png = encode(pix, w, h, 3, ".png", 0, &len);
    CHECK(png);
    struct pxs_err err = {0};

    /* caffe: BGR, 0..255 minus the mean, std 1 */
    struct pxs_preprocess pp;
    pxs_preprocess_init_imagenet(&pp);
    pp.width = w, pp.height = h, pp.policy = PXS_RESIZE_SQUASH, pp.bgr = 1, pp.scale = 1.0f;
    pp.mean[0] = 103.939f, pp.mean[1] = 116.779f, pp.mean[2] = 123.68f;
    pp.std[0] = pp.std[1] = pp.std[2] = 1.0f;
    float t[3 * 4 * 3];
    int rc = pxs_image_to_tensor(png, len, &pp, t, NULL, &err);
    if (rc != PXS_OK) g_free(png);
    CHECK_OK(rc, &err);
    for (int i = 0; i < w * h; i++) {
        CHECK_NEAR(t[i], pix[i * 3 + 2] - 103.939, 1e-4);          /* B */
        CHECK_NEAR(t[w * h + i], pix[i * 3 + 1] - 116.779, 1e-4);  /* G */
        CHECK_NEAR(t[2 * w * h + i], pix[i * 3] - 123.68, 1e-4);   /* R */
    }

    /* torchvision: RGB, /255, ImageNet mean/std, float32 like ToTensor+Normalize */
    pxs_preprocess_init_imagenet(&pp);
    pp.width = w, pp.height = h, pp.policy = PXS_RESIZE_SQUASH;
    rc = pxs_image_to_tensor(png, len, &pp, t, NULL, &err);
    g_free(png);
    CHECK_OK(rc, &err);
    static const float mean[3] = {0.485f, 0.456f, 0.406f}, std[3] = {0.229f, 0.224f, 0.225f};
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < w * h; i++) {
            float want = ((float)pix[i * 3 + c] / 255.0f - mean[c]) / std[c];
            CHECK_MSG(t[c * w * h + i] == want, "c%d i%d: %.9g vs %.9g", c, i, t[c * w * h + i],
                      want);
        }
}

/* ---- odd inputs ------------------------------------------------------------- */

PXS_TEST(preprocess_tiny_and_extreme_images) {
    INIT_OR_FAIL();
    struct pxs_preprocess pp;
    pxs_preprocess_init_imagenet(&pp);
    const size_t n = pxs_preprocess_tensor_floats(&pp);
    float *t = pxs_malloc(n * sizeof(float));
    CHECK(t);
    struct pxs_err err = {0};
    static const int sizes[][2] = {{1, 1}, {3, 500}, {500, 3}, {2, 2}, {1, 4000}, {257, 1}};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        int w = sizes[k][0], h = sizes[k][1];
        uint8_t *pix = make_pattern(w, h);
        size_t len = 0;
        void *png = pix ? encode(pix, w, h, 3, ".png", 0, &len) : NULL;
        pxs_free(pix);
        if (!png) pxs_free(t);
        CHECK(png);
        pxs_err_clear(&err);
        int rc = pxs_image_to_tensor(png, len, &pp, t, NULL, &err);
        g_free(png);
        if (rc != PXS_OK) pxs_free(t);
        CHECK_OK(rc, &err);
        int finite = 1;
        for (size_t i = 0; i < n; i++) finite &= isfinite(t[i]) && t[i] > -2.2f && t[i] < 2.7f;
        if (!finite) pxs_free(t);
        CHECK_MSG(finite, "%dx%d: values out of range", w, h);
    }
    /* 1x1: every output is that pixel (0, 53, 106 in the pattern) */
    uint8_t one[3] = {0, 53, 106};
    struct pxs_image img = {1, 1, one};
    int rc = pxs_image_pixels_to_tensor(&img, &pp, t, &err);
    float r = t[0], g = t[224 * 224 + 5000], b = t[2 * 224 * 224 + 224 * 224 - 1];
    pxs_free(t);
    CHECK_OK(rc, &err);
    CHECK_NEAR(r, (0 / 255.0 - 0.485) / 0.229, 1e-5);
    CHECK_NEAR(g, (53 / 255.0 - 0.456) / 0.224, 1e-5);
    CHECK_NEAR(b, (106 / 255.0 - 0.406) / 0.225, 1e-5);
}

PXS_TEST(preprocess_grey_and_alpha_like_pil) {
    INIT_OR_FAIL();
    struct pxs_err err = {0};
    struct pxs_preprocess pp;
    pp_raw(&pp, 4, 4, 1, PXS_RESIZE_SQUASH);
    float t[3 * 16];
    /* grey is replicated */
    uint8_t grey[16];
    for (int i = 0; i < 16; i++) grey[i] = (uint8_t)(i * 16);
    size_t len;
    void *png = encode(grey, 4, 4, 1, ".png", 0, &len);
    CHECK(png);
    int rc = pxs_image_to_tensor(png, len, &pp, t, NULL, &err);
    g_free(png);
    CHECK_OK(rc, &err);
    for (int i = 0; i < 16; i++) {
        CHECK_EQ_INT((int)t[i], i * 16);
        CHECK_EQ_INT((int)t[16 + i], i * 16);
        CHECK_EQ_INT((int)t[32 + i], i * 16);
    }
    /* alpha is dropped (PIL convert('RGB')), not flattened onto white */
    uint8_t rgba[16 * 4];
    for (int i = 0; i < 16; i++) rgba[i * 4] = 200, rgba[i * 4 + 1] = 10, rgba[i * 4 + 2] = 20, rgba[i * 4 + 3] = 0;
    png = encode(rgba, 4, 4, 4, ".png", 0, &len);
    CHECK(png);
    rc = pxs_image_to_tensor(png, len, &pp, t, NULL, &err);
    g_free(png);
    CHECK_OK(rc, &err);
    CHECK_EQ_INT((int)t[0], 200);
    CHECK_EQ_INT((int)t[16], 10);
    CHECK_EQ_INT((int)t[32], 20);
}

/* Full-size JPEGs are decoded by libjpeg directly (jpeg_fast.c), the rest
 * by libvips: both must give libvips' pixels, for RGB, grey, progressive
 * and 4:4:4 files and for odd sizes (partial MCUs). */
PXS_TEST(preprocess_jpeg_fast_path_matches_libvips) {
    INIT_OR_FAIL();
    static const struct {
        int w, h, bands;
        const char *suffix;
    } cases[] = {
        {37, 23, 3, ".jpg[Q=85]"}, {40, 33, 3, ".jpg[Q=95,interlace]"},
        {19, 50, 1, ".jpg[Q=80]"}, {64, 48, 3, ".jpg[Q=75,subsample-mode=on]"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        int w = cases[k].w, h = cases[k].h;
        uint8_t *rgb = make_pattern(w, h);
        CHECK(rgb);
        uint8_t *pix = rgb;
        uint8_t grey[64 * 64];
        if (cases[k].bands == 1) {
            for (int i = 0; i < w * h; i++) grey[i] = rgb[3 * i];
            pix = grey;
        }
        size_t len;
        void *jpg = encode(pix, w, h, cases[k].bands, cases[k].suffix, 0, &len);
        pxs_free(rgb);
        CHECK(jpg);
        /* libvips' own decode */
        VipsImage *im = vips_image_new_from_buffer(jpg, len, "", NULL);
        CHECK(im);
        size_t size = 0;
        uint8_t *ref = vips_image_write_to_memory(im, &size);
        int bands = im->Bands;
        g_object_unref(im);
        CHECK(ref && size == (size_t)w * h * bands);
        struct pxs_preprocess pp;
        pp_raw(&pp, w, h, 1, PXS_RESIZE_SQUASH); /* same size: no resampling */
        float *t = pxs_malloc((size_t)3 * w * h * sizeof(float));
        CHECK(t);
        struct pxs_err err = {0};
        int rc = pxs_image_to_tensor(jpg, len, &pp, t, NULL, &err);
        g_free(jpg);
        CHECK_OK(rc, &err);
        int bad = 0;
        for (int i = 0; i < w * h; i++)
            for (int c = 0; c < 3; c++)
                bad += t[(size_t)c * w * h + i] != (float)ref[(size_t)i * bands + (bands == 1 ? 0 : c)];
        CHECK_MSG(bad == 0, "case %zu (%s): %d samples differ from libvips", k, cases[k].suffix, bad);
        g_free(ref);
        pxs_free(t);
    }
}

PXS_TEST(preprocess_exif_orientation_ignored_unless_asked) {
    INIT_OR_FAIL();
    /* 60x40 landscape, left half dark, right half bright, stored with
     * orientation 6 (display = rotated 90 cw: top dark, bottom bright) */
    const int w = 60, h = 40;
    uint8_t *pix = pxs_malloc((size_t)w * h * 3);
    CHECK(pix);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) memset(pix + ((size_t)y * w + x) * 3, x < w / 2 ? 20 : 230, 3);
    size_t len;
    void *jpg = encode(pix, w, h, 3, ".jpg[Q=95]", 6, &len);
    pxs_free(pix);
    CHECK(jpg);
    struct pxs_preprocess pp;
    pp_raw(&pp, 20, 20, 20, PXS_RESIZE_SHORTER_THEN_CROP);
    float t[3 * 20 * 20];
    struct pxs_err err = {0};
    struct pxs_image_info info;
    int rc = pxs_image_to_tensor(jpg, len, &pp, t, &info, &err);
    if (rc != PXS_OK) g_free(jpg);
    CHECK_OK(rc, &err);
    CHECK_EQ_INT(info.orientation, 6);
    CHECK_EQ_INT(info.width, h); /* info reports the displayed size */
    CHECK_EQ_INT(info.height, w);
    /* as stored (PIL): dark on the left, bright on the right */
    float left = t[10 * 20 + 1], right = t[10 * 20 + 18], top = t[1 * 20 + 10], bottom = t[18 * 20 + 10];
    int stored_ok = left < 60 && right > 190;
    pp.apply_orientation = 1;
    rc = pxs_image_to_tensor(jpg, len, &pp, t, NULL, &err);
    g_free(jpg);
    CHECK_OK(rc, &err);
    CHECK_MSG(stored_ok, "orientation ignored: left %g right %g (top %g bottom %g)", left, right,
              top, bottom);
    top = t[1 * 20 + 10], bottom = t[18 * 20 + 10];
    CHECK_MSG(top < 60 && bottom > 190, "orientation applied: top %g bottom %g", top, bottom);
}

PXS_TEST(preprocess_shrink_on_load_stays_close) {
    INIT_OR_FAIL();
    /* 2400x1600 smooth JPEG: the shorter side allows shrink-on-load by 2
     * (800 >= 2 * 256, 400 is not), compared with the full decode */
    const int w = 2400, h = 1600;
    uint8_t *pix = pxs_malloc((size_t)w * h * 3);
    CHECK(pix);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *q = pix + ((size_t)y * w + x) * 3;
            q[0] = (uint8_t)(128 + 100 * sin(x * 0.01)), q[1] = (uint8_t)(y * 255 / h),
            q[2] = (uint8_t)(128 + 90 * cos((x + y) * 0.007));
        }
    size_t len;
    void *jpg = encode(pix, w, h, 3, ".jpg[Q=92]", 0, &len);
    pxs_free(pix);
    CHECK(jpg);
    struct pxs_preprocess pp;
    pxs_preprocess_init_imagenet(&pp);
    const size_t n = pxs_preprocess_tensor_floats(&pp);
    float *a = pxs_malloc(n * sizeof(float)), *b = pxs_malloc(n * sizeof(float));
    struct pxs_err err = {0};
    int rc = a && b ? pxs_image_to_tensor(jpg, len, &pp, a, NULL, &err) : PXS_ENOMEM;
    pp.no_shrink_on_load = 1;
    if (rc == PXS_OK) rc = pxs_image_to_tensor(jpg, len, &pp, b, NULL, &err);
    g_free(jpg);
    double s = 0, m = 0;
    if (rc == PXS_OK)
        for (size_t i = 0; i < n; i++) {
            double d = fabs((double)a[i] - b[i]);
            s += d;
            m = fmax(m, d);
        }
    pxs_free(a);
    pxs_free(b);
    CHECK_OK(rc, &err);
    CHECK_MSG(s / n < 0.01 && m < 0.2, "shrink-on-load vs full decode: mean %g max %g", s / n, m);
}

/* ---- validation and bad input ---------------------------------------------- */

PXS_TEST(preprocess_rejects_bad_parameters) {
    INIT_OR_FAIL();
    uint8_t px[3] = {1, 2, 3};
    struct pxs_image img = {1, 1, px};
    float t[3 * 4 * 4];
    struct pxs_preprocess good;
    pp_raw(&good, 4, 4, 4, PXS_RESIZE_SHORTER_THEN_CROP);
    struct pxs_err err = {0};
    CHECK_OK(pxs_preprocess_validate(&good, &err), &err);
    CHECK_OK(pxs_image_pixels_to_tensor(&img, &good, t, &err), &err);

    struct pxs_preprocess bad[12];
    for (int i = 0; i < 12; i++) bad[i] = good;
    bad[0].width = 0;
    bad[1].height = 4097;
    bad[2].resize_shorter = 0;
    bad[3].resize_shorter = 5000;
    bad[4].std[1] = 0.0f;
    bad[5].std[2] = NAN;
    bad[6].scale = 0.0f;
    bad[7].scale = INFINITY;
    bad[8].policy = (enum pxs_resize_policy)7;
    bad[9].bgr = 2;
    bad[10].mean[0] = NAN;
    bad[11].width = -3;
    for (int i = 0; i < 12; i++) {
        pxs_err_clear(&err);
        CHECK_EQ_INT(pxs_preprocess_validate(&bad[i], &err), PXS_EINVAL);
        CHECK(err.msg[0] != '\0');
        pxs_err_clear(&err);
        CHECK_EQ_INT(pxs_image_pixels_to_tensor(&img, &bad[i], t, &err), PXS_EINVAL);
        pxs_err_clear(&err);
        CHECK_EQ_INT(pxs_image_to_tensor("P6 1 1 255 abc", 14, &bad[i], t, NULL, &err),
                     PXS_EINVAL);
    }
    CHECK_EQ_INT(pxs_preprocess_validate(NULL, NULL), PXS_EINVAL);
    CHECK_EQ_INT(pxs_preprocess_tensor_floats(NULL), 0);
    CHECK_EQ_INT(pxs_image_to_tensor("x", 1, NULL, t, NULL, NULL), PXS_EINVAL);
    CHECK_EQ_INT(pxs_image_to_tensor("x", 1, &good, NULL, NULL, NULL), PXS_EINVAL);
    CHECK_EQ_INT(pxs_image_pixels_to_tensor(NULL, &good, t, NULL), PXS_EINVAL);
    struct pxs_image empty = {0, 0, NULL};
    CHECK_EQ_INT(pxs_image_pixels_to_tensor(&empty, &good, t, NULL), PXS_EINVAL);
    /* squash ignores resize_shorter */
    struct pxs_preprocess sq = good;
    sq.policy = PXS_RESIZE_SQUASH;
    sq.resize_shorter = 0;
    CHECK_OK(pxs_preprocess_validate(&sq, &err), &err);
}

PXS_TEST(preprocess_rejects_bad_input) {
    INIT_OR_FAIL();
    struct pxs_preprocess pp;
    pxs_preprocess_init_imagenet(&pp);
    float *t = pxs_malloc(pxs_preprocess_tensor_floats(&pp) * sizeof(float));
    CHECK(t);
    struct pxs_err err = {0};
    struct pxs_image_info info;
    int r_text = pxs_image_to_tensor("hello, this is not an image", 27, &pp, t, &info, &err);
    enum pxs_image_format f_text = info.format;
    pxs_err_clear(&err);
    int r_empty = pxs_image_to_tensor("", 0, &pp, t, NULL, &err);
    pxs_err_clear(&err);
    int r_null = pxs_image_to_tensor(NULL, 10, &pp, t, NULL, &err);

    /* truncated JPEG and a JPEG header with garbage after it */
    uint8_t *pix = make_pattern(300, 200);
    size_t len = 0;
    void *jpg = pix ? encode(pix, 300, 200, 3, ".jpg[Q=90]", 0, &len) : NULL;
    pxs_free(pix);
    int r_trunc = PXS_OK, r_garbage = PXS_OK, r_ok = PXS_EINTERNAL;
    if (jpg) {
        pxs_err_clear(&err);
        r_ok = pxs_image_to_tensor(jpg, len, &pp, t, NULL, &err);
        pxs_err_clear(&err);
        r_trunc = pxs_image_to_tensor(jpg, len / 2, &pp, t, NULL, &err);
        memset((uint8_t *)jpg + 20, 0xAB, len - 20);
        pxs_err_clear(&err);
        r_garbage = pxs_image_to_tensor(jpg, len, &pp, t, NULL, &err);
        g_free(jpg);
    }
    /* PNM with a zero size */
    pxs_err_clear(&err);
    int r_pnm = pxs_image_to_tensor("P6 0 5 255\n", 11, &pp, t, NULL, &err);
    /* over the pixel limit */
    pp.max_pixels = 100;
    pix = make_pattern(20, 20);
    void *png = pix ? encode(pix, 20, 20, 3, ".png", 0, &len) : NULL;
    pxs_free(pix);
    int r_limit = PXS_OK;
    if (png) {
        pxs_err_clear(&err);
        r_limit = pxs_image_to_tensor(png, len, &pp, t, NULL, &err);
        g_free(png);
    }
    pxs_free(t);
    CHECK_EQ_INT(r_text, PXS_EUNSUPPORTED);
    CHECK_EQ_INT(f_text, PXS_IMAGE_UNKNOWN);
    CHECK_EQ_INT(r_empty, PXS_EINVAL);
    CHECK_EQ_INT(r_null, PXS_EINVAL);
    CHECK(jpg != NULL);
    CHECK_EQ_INT(r_ok, PXS_OK);
    CHECK_EQ_INT(r_trunc, PXS_ECORRUPT);
    CHECK(r_garbage < 0);
    CHECK_EQ_INT(r_pnm, PXS_ECORRUPT);
    CHECK_EQ_INT(r_limit, PXS_ELIMIT);
}

PXS_TEST(preprocess_allocation_failures) {
    INIT_OR_FAIL();
    uint8_t *pix = make_pattern(300, 200);
    CHECK(pix);
    size_t len = 0;
    void *png = encode(pix, 300, 200, 3, ".png", 0, &len);
    CHECK(png);
    struct pxs_image img = {300, 200, pix};
    struct pxs_preprocess pp;
    pxs_preprocess_init_imagenet(&pp);
    float *t = pxs_malloc(pxs_preprocess_tensor_floats(&pp) * sizeof(float));
    int bad = 0, saw_ok = 0;
    for (long n = 1; t && n <= 12; n++) {
        struct pxs_err err = {0};
        pxs_alloc_fail_after(n);
        int r1 = pxs_image_pixels_to_tensor(&img, &pp, t, &err);
        pxs_alloc_fail_after(n);
        int r2 = pxs_image_to_tensor(png, len, &pp, t, NULL, NULL);
        pxs_alloc_fail_after(0);
        bad += (r1 != PXS_OK && r1 != PXS_ENOMEM) || (r2 != PXS_OK && r2 != PXS_ENOMEM);
        saw_ok += r1 == PXS_OK && r2 == PXS_OK;
    }
    g_free(png);
    pxs_free(pix);
    pxs_free(t);
    CHECK(t != NULL);
    CHECK_EQ_INT(bad, 0);
    CHECK(saw_ok > 0);
}

/* The preview (one decode for tensor + thumbnail) must look like what
 * pxs_image_decode gives for the same bounding side, for every EXIF
 * orientation, with and without JPEG shrink-on-load. */
PXS_TEST(preprocess_preview_matches_decode_all_orientations) {
    INIT_OR_FAIL();
    const int sizes[2][2] = {{300, 200}, {1400, 900}};
    for (int si = 0; si < 2; si++) {
        int w = sizes[si][0], h = sizes[si][1];
        uint8_t *pix = pxs_malloc((size_t)w * h * 3);
        CHECK(pix);
        for (int y = 0; y < h; y++) /* smooth, asymmetric: a wrong flip shows */
            for (int x = 0; x < w; x++) {
                uint8_t *p = pix + ((size_t)y * w + x) * 3;
                p[0] = (uint8_t)(255 * x / w), p[1] = (uint8_t)(255 * y / h);
                p[2] = (uint8_t)(x < w / 4 && y < h / 3 ? 250 : 30);
            }
        for (int o = 1; o <= 8; o++) {
            size_t len;
            void *jpg = encode(pix, w, h, 3, ".jpg[Q=95]", o, &len);
            CHECK(jpg);
            struct pxs_preprocess pp;
            pxs_preprocess_init_imagenet(&pp);
            float *t = pxs_malloc(pxs_preprocess_tensor_floats(&pp) * sizeof(float));
            struct pxs_image prev = {0}, ref = {0};
            struct pxs_err err = {0};
            struct pxs_image_info info;
            int rc = t ? pxs_image_to_tensor_preview(jpg, len, &pp, t, 128, &prev, &info, &err)
                       : PXS_ENOMEM;
            struct pxs_image_decode_opts o128 = {.max_side = 128};
            if (rc == PXS_OK) rc = pxs_image_decode(jpg, len, &o128, &ref, NULL, &err);
            g_free(jpg);
            pxs_free(t);
            double sum = 0;
            int same_size = rc == PXS_OK && prev.width == ref.width && prev.height == ref.height;
            if (same_size)
                for (size_t i = 0; i < (size_t)ref.width * ref.height * 3; i++)
                    sum += fabs((double)prev.pixels[i] - ref.pixels[i]);
            double mean = same_size ? sum / ((double)ref.width * ref.height * 3) : 999;
            int pw = prev.width, ph = prev.height, rw = ref.width, rh = ref.height;
            pxs_image_free(&prev);
            pxs_image_free(&ref);
            if (rc != PXS_OK) pxs_free(pix);
            CHECK_OK(rc, &err);
            CHECK_EQ_INT(info.orientation, o);
            CHECK_MSG(same_size, "%dx%d orientation %d: preview %dx%d, decode %dx%d", w, h, o, pw,
                      ph, rw, rh);
            CHECK_MSG(mean < 4.0, "%dx%d orientation %d: mean abs difference %.2f", w, h, o, mean);
        }
        pxs_free(pix);
    }
    struct pxs_preprocess pp;
    pxs_preprocess_init_imagenet(&pp);
    float t[3];
    struct pxs_image prev;
    struct pxs_err err = {0};
    CHECK_EQ_INT(pxs_image_to_tensor_preview("x", 1, &pp, t, 0, &prev, NULL, &err), PXS_EINVAL);
}
