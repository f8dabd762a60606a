/*
 * tests/image/test_image.c — the image module: sniffing, decoding (formats,
 * bit depths, alpha, orientation, shrink-on-load, truncation, size limits),
 * JPEG encoding and the built-in descriptor. Every fixture is generated
 * here at run time with libvips; the repository holds no binary images.
 * HEIF is covered through AVIF only: libvips' HEVC (.heic) saver goes
 * through x265, which leaks a little memory that LeakSanitizer reports.
 */
#include "pixseek/core.h"
#include "pixseek/image.h"
#include "../test.h"

#include <pthread.h>
#include <stdlib.h>
#include <vips/vips.h>

/* ---- fixtures --------------------------------------------------------- */

#define INIT_OR_FAIL()                                               \
    do {                                                             \
        struct pxs_err ierr_ = {0};                                  \
        CHECK_OK(pxs_image_global_init(&ierr_), &ierr_);             \
    } while (0)

/* A colourful test card: horizontal red ramp, vertical green ramp, blue
 * waves, and a pure red 8x8 marker in the top-left corner. */
static uint8_t *make_card(int w, int h) {
    uint8_t *p = pxs_malloc((size_t)w * h * 3);
    if (!p) return NULL;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *px = p + ((size_t)y * w + x) * 3;
            px[0] = (uint8_t)(x * 255 / (w > 1 ? w - 1 : 1));
            px[1] = (uint8_t)(y * 255 / (h > 1 ? h - 1 : 1));
            px[2] = (uint8_t)(128 + 100 * sin(x * 0.2) * cos(y * 0.13));
            if (x < 8 && y < 8) px[0] = 255, px[1] = 0, px[2] = 0;
        }
    return p;
}

/* A "scene": sky-blue top, textured green-brown ground, a yellow sun. */
static uint8_t *make_scene(int w, int h, unsigned seed) {
    uint8_t *p = pxs_malloc((size_t)w * h * 3);
    if (!p) return NULL;
    unsigned s = seed * 2654435761u + 1;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *px = p + ((size_t)y * w + x) * 3;
            s = s * 1103515245u + 12345u;
            int noise = (int)((s >> 16) & 31) - 16;
            double fx = (double)x / w, fy = (double)y / h;
            int r, g, b;
            if (fy < 0.45) {
                r = 90 + (int)(60 * fy), g = 150 + (int)(50 * fy), b = 230;
            } else {
                double t = sin(fx * 40) * sin(fy * 33) * 40;
                r = 110 + (int)t + noise, g = 140 + (int)(t / 2) + noise, b = 50 + noise / 2;
            }
            double dx = fx - 0.75, dy = fy - 0.2;
            if (dx * dx + dy * dy < 0.008) r = 250, g = 220, b = 40;
            px[0] = (uint8_t)(r < 0 ? 0 : r > 255 ? 255 : r);
            px[1] = (uint8_t)(g < 0 ? 0 : g > 255 ? 255 : g);
            px[2] = (uint8_t)(b < 0 ? 0 : b > 255 ? 255 : b);
        }
    return p;
}

/* Dark, noisy, mostly green texture: nothing like the card or the scene. */
static uint8_t *make_moss(int w, int h) {
    uint8_t *p = pxs_malloc((size_t)w * h * 3);
    if (!p) return NULL;
    unsigned s = 7;
    for (int i = 0; i < w * h; i++) {
        s = s * 1103515245u + 12345u;
        int n = (int)((s >> 16) & 63);
        p[i * 3 + 0] = (uint8_t)(10 + n / 4);
        p[i * 3 + 1] = (uint8_t)(40 + n);
        p[i * 3 + 2] = (uint8_t)(15 + n / 8);
    }
    return p;
}

static VipsImage *wrap(const void *pix, int w, int h, int bands, VipsBandFormat fmt,
                       VipsInterpretation interp) {
    size_t bpp = fmt == VIPS_FORMAT_USHORT ? 2 : 1;
    VipsImage *m = vips_image_new_from_memory_copy(pix, (size_t)w * h * bands * bpp, w, h,
                                                   bands, fmt);
    if (!m) return NULL;
    VipsImage *out = NULL;
    int rc = vips_copy(m, &out, "interpretation", interp, NULL);
    g_object_unref(m);
    return rc ? NULL : out;
}

/* Save im with the libvips saver chosen by suffix (e.g. ".png", ".jpg[Q=90]"). */
static int save(VipsImage *im, const char *suffix, void **buf, size_t *len) {
    *buf = NULL;
    *len = 0;
    int rc = vips_image_write_to_buffer(im, suffix, buf, len, NULL);
    if (rc) vips_error_clear();
    return rc;
}

static VipsImage *card_image(int w, int h) {
    uint8_t *pix = make_card(w, h);
    if (!pix) return NULL;
    VipsImage *im = wrap(pix, w, h, 3, VIPS_FORMAT_UCHAR, VIPS_INTERPRETATION_sRGB);
    pxs_free(pix);
    return im;
}

/* Encode the card as `suffix` and return the bytes (g_free). */
static void *card_bytes(int w, int h, const char *suffix, size_t *len) {
    VipsImage *im = card_image(w, h);
    if (!im) return NULL;
    void *buf;
    int rc = save(im, suffix, &buf, len);
    g_object_unref(im);
    return rc ? NULL : buf;
}

static double mean_abs_diff(const uint8_t *a, const uint8_t *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += abs((int)a[i] - (int)b[i]);
    return n ? s / (double)n : 0;
}

static float dotf(const float *a, const float *b) {
    float s = 0;
    for (int i = 0; i < PXS_IMAGE_DESCRIPTOR_DIM; i++) s += a[i] * b[i];
    return s;
}

/* ---- sniffing --------------------------------------------------------- */

PXS_TEST(image_sniff_magic_bytes) {
    static const struct {
        const char *bytes;
        size_t len;
        enum pxs_image_format want;
    } cases[] = {
        {"\xFF\xD8\xFF\xE0\0\x10JFIF", 10, PXS_IMAGE_JPEG},
        {"\x89PNG\r\n\x1A\n\0\0\0\rIHDR", 16, PXS_IMAGE_PNG},
        {"GIF87a\1\0\1\0", 10, PXS_IMAGE_GIF},
        {"GIF89a\1\0\1\0", 10, PXS_IMAGE_GIF},
        {"RIFF\x24\0\0\0WEBPVP8 ", 16, PXS_IMAGE_WEBP},
        {"II*\0\x08\0\0\0", 8, PXS_IMAGE_TIFF},
        {"MM\0*\0\0\0\x08", 8, PXS_IMAGE_TIFF},
        {"BM\x46\0\0\0\0\0\0\0\x36\0\0\0\x28\0\0\0\1\0", 20, PXS_IMAGE_BMP},
        {"\0\0\0\x1c" "ftypavif\0\0\0\0avifmif1", 24, PXS_IMAGE_HEIF},
        {"\0\0\0\x18" "ftypheic\0\0\0\0mif1heic", 24, PXS_IMAGE_HEIF},
        {"\0\0\0\x18" "ftypmif1\0\0\0\0mif1heic", 24, PXS_IMAGE_HEIF},
        {"\0\0\0\x18" "ftypisom\0\0\0\0isomavif", 24, PXS_IMAGE_HEIF}, /* compatible brand */
        {"P6\n4 4\n255\n", 11, PXS_IMAGE_PNM},
        {"P1 # comment\n", 13, PXS_IMAGE_PNM},
        {"P5\t\t12 1\n255\n", 13, PXS_IMAGE_PNM},
        /* garbage and near misses */
        {"", 0, PXS_IMAGE_UNKNOWN},
        {"\xFF", 1, PXS_IMAGE_UNKNOWN},
        {"\xFF\xD8", 2, PXS_IMAGE_UNKNOWN},
        {"\x89PNG\r\n", 6, PXS_IMAGE_UNKNOWN},
        {"GIF88a", 6, PXS_IMAGE_UNKNOWN},
        {"RIFF\x24\0\0\0WAVEfmt ", 16, PXS_IMAGE_UNKNOWN},
        {"BM is not a bitmap header", 25, PXS_IMAGE_UNKNOWN},
        {"\0\0\0\x18" "ftypmp42\0\0\0\0isommp42", 24, PXS_IMAGE_UNKNOWN},
        {"P7 is not pnm", 13, PXS_IMAGE_UNKNOWN},
        {"P6 is not pnm", 13, PXS_IMAGE_UNKNOWN},
        {"hello, world\n", 13, PXS_IMAGE_UNKNOWN},
        {"<svg xmlns='http://www.w3.org/2000/svg'/>", 41, PXS_IMAGE_UNKNOWN},
        {"%PDF-1.7\n", 9, PXS_IMAGE_UNKNOWN},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        CHECK_MSG(pxs_image_sniff(cases[i].bytes, cases[i].len) == cases[i].want,
                  "case %zu: got %s want %s", i,
                  pxs_image_format_name(pxs_image_sniff(cases[i].bytes, cases[i].len)),
                  pxs_image_format_name(cases[i].want));
    CHECK(pxs_image_sniff(NULL, 100) == PXS_IMAGE_UNKNOWN);
    /* Magic bytes beyond the 32-byte window are not consulted. */
    char heif[40] = "\0\0\0\x28" "ftypmp42\0\0\0\0isomiso2mp41dash";
    memcpy(heif + 32, "avif", 4);
    CHECK(pxs_image_sniff(heif, sizeof heif) == PXS_IMAGE_UNKNOWN);
}

PXS_TEST(image_format_names_and_mime) {
    CHECK_STR(pxs_image_format_name(PXS_IMAGE_JPEG), "jpeg");
    CHECK_STR(pxs_image_format_name(PXS_IMAGE_PNM), "pnm");
    CHECK_STR(pxs_image_format_name(PXS_IMAGE_UNKNOWN), "unknown");
    CHECK_STR(pxs_image_format_name((enum pxs_image_format)99), "unknown");
    CHECK_STR(pxs_image_format_mime(PXS_IMAGE_PNG), "image/png");
    CHECK_STR(pxs_image_format_mime(PXS_IMAGE_WEBP), "image/webp");
    CHECK_STR(pxs_image_format_mime(PXS_IMAGE_UNKNOWN), "application/octet-stream");
    CHECK_STR(pxs_image_format_mime((enum pxs_image_format)-3), "application/octet-stream");
    for (int f = PXS_IMAGE_UNKNOWN; f <= PXS_IMAGE_PNM; f++) {
        CHECK(pxs_image_format_name((enum pxs_image_format)f)[0] != '\0');
        CHECK(pxs_image_format_mime((enum pxs_image_format)f)[0] != '\0');
    }
}

PXS_TEST(image_sniff_generated_files) {
    INIT_OR_FAIL();
    static const struct {
        const char *suffix;
        enum pxs_image_format want;
        int optional; /* saver may be missing from this libvips */
    } cases[] = {
        {".jpg", PXS_IMAGE_JPEG, 0}, {".png", PXS_IMAGE_PNG, 0},   {".gif", PXS_IMAGE_GIF, 1},
        {".webp", PXS_IMAGE_WEBP, 0}, {".tif", PXS_IMAGE_TIFF, 0}, {".ppm", PXS_IMAGE_PNM, 0},
        {".pgm", PXS_IMAGE_PNM, 0},   {".avif", PXS_IMAGE_HEIF, 1}, {".bmp", PXS_IMAGE_BMP, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        VipsImage *im = card_image(24, 16);
        CHECK(im);
        VipsImage *x = im;
        if (!strcmp(cases[i].suffix, ".pgm")) {
            CHECK(vips_extract_band(im, &x, 1, NULL) == 0);
            g_object_unref(im);
        }
        void *buf;
        size_t len;
        int rc = save(x, cases[i].suffix, &buf, &len);
        g_object_unref(x);
        if (rc && cases[i].optional) continue;
        CHECK_MSG(rc == 0, "cannot save %s", cases[i].suffix);
        enum pxs_image_format got = pxs_image_sniff(buf, len);
        g_free(buf);
        CHECK_MSG(got == cases[i].want, "%s sniffed as %s", cases[i].suffix,
                  pxs_image_format_name(got));
    }
}

/* ---- decoding --------------------------------------------------------- */

/* Round-trip the card through each saver and check size and content. */
PXS_TEST(image_decode_formats) {
    INIT_OR_FAIL();
    static const struct {
        const char *suffix;
        enum pxs_image_format fmt;
        double tol; /* mean abs difference allowed, 0..255 */
        int optional;
    } cases[] = {
        {".jpg[Q=95]", PXS_IMAGE_JPEG, 6, 0},   {".png", PXS_IMAGE_PNG, 0, 0},
        {".webp[lossless]", PXS_IMAGE_WEBP, 0, 0}, {".webp[Q=90]", PXS_IMAGE_WEBP, 8, 0},
        {".tif", PXS_IMAGE_TIFF, 0, 0},         {".ppm", PXS_IMAGE_PNM, 0, 0},
        {".gif", PXS_IMAGE_GIF, 12, 1},         {".bmp", PXS_IMAGE_BMP, 0, 1},
        {".avif[Q=95]", PXS_IMAGE_HEIF, 12, 1},
    };
    const int w = 64, h = 48;
    uint8_t *ref = make_card(w, h);
    CHECK(ref);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len;
        void *buf = card_bytes(w, h, cases[i].suffix, &len);
        if (!buf && cases[i].optional) {
            printf("    note: no libvips saver for %s, not tested\n", cases[i].suffix);
            continue;
        }
        CHECK_MSG(buf, "cannot save %s", cases[i].suffix);
        struct pxs_err err = {0};
        struct pxs_image img = {0};
        struct pxs_image_info info;
        int rc = pxs_image_decode(buf, len, NULL, &img, &info, &err);
        g_free(buf);
        if (rc == PXS_EUNSUPPORTED && cases[i].optional) {
            printf("    note: %s: %s\n", cases[i].suffix, err.msg);
            continue;
        }
        CHECK_MSG(rc == PXS_OK, "%s: %d %s", cases[i].suffix, rc, err.msg);
        CHECK_EQ_INT(img.width, w);
        CHECK_EQ_INT(img.height, h);
        CHECK_EQ_INT(info.format, cases[i].fmt);
        CHECK_EQ_INT(info.width, w);
        CHECK_EQ_INT(info.height, h);
        CHECK_EQ_INT(info.orientation, 1);
        double d = mean_abs_diff(img.pixels, ref, (size_t)w * h * 3);
        pxs_image_free(&img);
        CHECK_MSG(d <= cases[i].tol + 0.5, "%s: mean abs diff %.2f", cases[i].suffix, d);
    }
    pxs_free(ref);
}

PXS_TEST(image_decode_png_variants_become_rgb8) {
    INIT_OR_FAIL();
    const int w = 20, h = 10;
    struct pxs_err err = {0};
    struct pxs_image img = {0};
    void *buf;
    size_t len;

    /* 16-bit RGB: 65535 -> 255, 0x8080 -> 128. */
    uint16_t *p16 = pxs_malloc((size_t)w * h * 3 * 2);
    CHECK(p16);
    for (int i = 0; i < w * h; i++) p16[i * 3] = 65535, p16[i * 3 + 1] = 0x8080, p16[i * 3 + 2] = 0;
    VipsImage *im = wrap(p16, w, h, 3, VIPS_FORMAT_USHORT, VIPS_INTERPRETATION_RGB16);
    pxs_free(p16);
    CHECK(im);
    CHECK(save(im, ".png", &buf, &len) == 0);
    g_object_unref(im);
    int rc = pxs_image_decode(buf, len, NULL, &img, NULL, &err);
    g_free(buf);
    CHECK_OK(rc, &err);
    CHECK_EQ_INT(img.width, w);
    CHECK(abs(img.pixels[0] - 255) <= 1 && abs(img.pixels[1] - 128) <= 1 && img.pixels[2] <= 1);
    pxs_image_free(&img);

    /* RGBA: left half opaque blue, right half fully transparent -> white. */
    uint8_t *p4 = pxs_malloc((size_t)w * h * 4);
    CHECK(p4);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *px = p4 + ((size_t)y * w + x) * 4;
            px[0] = 0, px[1] = 0, px[2] = 255, px[3] = x < w / 2 ? 255 : 0;
        }
    im = wrap(p4, w, h, 4, VIPS_FORMAT_UCHAR, VIPS_INTERPRETATION_sRGB);
    pxs_free(p4);
    CHECK(im);
    CHECK(save(im, ".png", &buf, &len) == 0);
    g_object_unref(im);
    rc = pxs_image_decode(buf, len, NULL, &img, NULL, &err);
    g_free(buf);
    CHECK_OK(rc, &err);
    const uint8_t *l = img.pixels + (5 * w + 2) * 3, *r = img.pixels + (5 * w + w - 2) * 3;
    CHECK(l[0] == 0 && l[1] == 0 && l[2] == 255);
    CHECK(r[0] == 255 && r[1] == 255 && r[2] == 255);
    pxs_image_free(&img);

    /* Greyscale 8-bit and grey + alpha. */
    uint8_t *g = pxs_malloc((size_t)w * h * 2);
    CHECK(g);
    for (int i = 0; i < w * h; i++) g[i * 2] = (uint8_t)(i % 200), g[i * 2 + 1] = 255;
    VipsImage *ga = wrap(g, w, h, 2, VIPS_FORMAT_UCHAR, VIPS_INTERPRETATION_B_W);
    pxs_free(g);
    CHECK(ga);
    VipsImage *grey = NULL;
    CHECK(vips_extract_band(ga, &grey, 0, NULL) == 0);
    VipsImage *pair[2] = {grey, ga};
    for (int k = 0; k < 2; k++) {
        CHECK(save(pair[k], ".png", &buf, &len) == 0);
        rc = pxs_image_decode(buf, len, NULL, &img, NULL, &err);
        g_free(buf);
        if (rc != PXS_OK) break;
        CHECK(img.width == w && img.height == h);
        for (int i = 0; i < w * h; i++)
            CHECK(img.pixels[i * 3] == i % 200 && img.pixels[i * 3 + 1] == i % 200 &&
                  img.pixels[i * 3 + 2] == i % 200);
        pxs_image_free(&img);
    }
    g_object_unref(grey);
    g_object_unref(ga);
    CHECK_OK(rc, &err);

    /* Palette PNG. */
    im = card_image(w, h);
    CHECK(im);
    rc = vips_pngsave_buffer(im, &buf, &len, "palette", TRUE, NULL);
    g_object_unref(im);
    CHECK(rc == 0);
    rc = pxs_image_decode(buf, len, NULL, &img, NULL, &err);
    g_free(buf);
    CHECK_OK(rc, &err);
    CHECK(img.width == w && img.height == h);
    CHECK(img.pixels[0] > 200 && img.pixels[1] < 50 && img.pixels[2] < 50); /* red marker */
    pxs_image_free(&img);
}

PXS_TEST(image_decode_cmyk_jpeg) {
    INIT_OR_FAIL();
    VipsImage *im = card_image(32, 32), *cmyk = NULL;
    CHECK(im);
    int rc = vips_colourspace(im, &cmyk, VIPS_INTERPRETATION_CMYK, NULL);
    g_object_unref(im);
    if (rc) vips_error_clear();
    SKIP_IF(rc, "this libvips cannot convert to CMYK");
    CHECK(cmyk->Bands == 4);
    void *buf;
    size_t len;
    rc = save(cmyk, ".jpg[Q=95]", &buf, &len);
    g_object_unref(cmyk);
    CHECK(rc == 0);
    struct pxs_err err = {0};
    struct pxs_image img = {0};
    rc = pxs_image_decode(buf, len, NULL, &img, NULL, &err);
    g_free(buf);
    CHECK_OK(rc, &err);
    CHECK(img.width == 32 && img.height == 32);
    /* The red marker survives CMYK and back (roughly). */
    CHECK_MSG(img.pixels[0] > 180 && img.pixels[1] < 90 && img.pixels[2] < 90,
              "marker came back as %d,%d,%d", img.pixels[0], img.pixels[1], img.pixels[2]);
    pxs_image_free(&img);
}

PXS_TEST(image_decode_animated_gif_first_frame) {
    INIT_OR_FAIL();
    const int w = 16, h = 16;
    uint8_t *p = pxs_malloc((size_t)w * h * 2 * 3);
    CHECK(p);
    for (int i = 0; i < w * h * 2; i++) {
        int first = i < w * h;
        p[i * 3] = first ? 255 : 0, p[i * 3 + 1] = 0, p[i * 3 + 2] = first ? 0 : 255;
    }
    VipsImage *strip = wrap(p, w, h * 2, 3, VIPS_FORMAT_UCHAR, VIPS_INTERPRETATION_sRGB);
    pxs_free(p);
    CHECK(strip);
    vips_image_set_int(strip, "page-height", h);
    void *buf;
    size_t len;
    int rc = save(strip, ".gif", &buf, &len);
    g_object_unref(strip);
    SKIP_IF(rc, "no GIF saver");
    struct pxs_err err = {0};
    struct pxs_image img = {0};
    rc = pxs_image_decode(buf, len, NULL, &img, NULL, &err);
    g_free(buf);
    CHECK_OK(rc, &err);
    CHECK_EQ_INT(img.width, w);
    CHECK_EQ_INT(img.height, h); /* one frame, not the strip */
    CHECK(img.pixels[0] > 200 && img.pixels[2] < 50); /* red: the first frame */
    pxs_image_free(&img);
}

PXS_TEST(image_decode_max_side_shrinks) {
    INIT_OR_FAIL();
    static const char *const suffixes[] = {".jpg", ".png", ".webp"};
    for (size_t i = 0; i < 3; i++) {
        size_t len;
        void *buf = card_bytes(400, 200, suffixes[i], &len);
        CHECK(buf);
        struct pxs_err err = {0};
        struct pxs_image img = {0};
        struct pxs_image_info info;
        struct pxs_image_decode_opts opts = {.max_side = 100};
        int rc = pxs_image_decode(buf, len, &opts, &img, &info, &err);
        if (rc == PXS_OK) {
            CHECK_MSG(img.width == 100 && img.height == 50, "%s: %dx%d", suffixes[i],
                      img.width, img.height);
            CHECK(info.width == 400 && info.height == 200); /* the source, not the output */
            pxs_image_free(&img);
            /* never enlarge */
            opts.max_side = 1000;
            rc = pxs_image_decode(buf, len, &opts, &img, NULL, &err);
            if (rc == PXS_OK) CHECK(img.width == 400 && img.height == 200);
            pxs_image_free(&img);
        }
        g_free(buf);
        CHECK_OK(rc, &err);
    }
    size_t len;
    void *buf = card_bytes(10, 10, ".png", &len);
    CHECK(buf);
    struct pxs_err err = {0};
    struct pxs_image img = {0};
    struct pxs_image_decode_opts bad = {.max_side = -1};
    CHECK_EQ_INT(pxs_image_decode(buf, len, &bad, &img, NULL, &err), PXS_EINVAL);
    g_free(buf);
}

PXS_TEST(image_decode_rejects_bad_input) {
    INIT_OR_FAIL();
    struct pxs_err err = {0};
    struct pxs_image img = {.width = 5, .height = 5};
    struct pxs_image_info info;

    CHECK_EQ_INT(pxs_image_decode("", 0, NULL, &img, &info, &err), PXS_EINVAL);
    CHECK_STR(err.msg, "empty file");
    CHECK(img.pixels == NULL && img.width == 0);
    pxs_err_clear(&err);

    const char *text = "name,price\nwidget,3\n";
    CHECK_EQ_INT(pxs_image_decode(text, strlen(text), NULL, &img, &info, &err),
                 PXS_EUNSUPPORTED);
    CHECK_STR(err.msg, "not an image (unrecognised file signature)");
    CHECK_EQ_INT(info.format, PXS_IMAGE_UNKNOWN);
    pxs_err_clear(&err);

    CHECK_EQ_INT(pxs_image_decode(NULL, 10, NULL, &img, NULL, &err), PXS_EINVAL);
    pxs_err_clear(&err);
    CHECK_EQ_INT(pxs_image_decode(text, strlen(text), NULL, NULL, NULL, &err), PXS_EINVAL);
    pxs_err_clear(&err);

    /* Right magic, nothing after it. */
    CHECK_EQ_INT(pxs_image_decode("\xFF\xD8\xFF", 3, NULL, &img, NULL, &err), PXS_ECORRUPT);
    CHECK(err.msg[0] != '\0');
    pxs_err_clear(&err);
    CHECK_EQ_INT(pxs_image_decode("\x89PNG\r\n\x1A\n garbage garbage", 24, NULL, &img, NULL,
                                  &err),
                 PXS_ECORRUPT);
    pxs_err_clear(&err);
    CHECK_EQ_INT(pxs_image_decode("P6\n4 4\n255\nabc", 14, NULL, &img, NULL, &err), PXS_ECORRUPT);
    pxs_err_clear(&err);
    /* libvips would turn a zero height into a GLib warning and one row. */
    CHECK_EQ_INT(pxs_image_decode("P3\n# c\n255 0\n255\n1 2 3\n", 23, NULL, &img, NULL, &err),
                 PXS_ECORRUPT);
    pxs_err_clear(&err);
    CHECK_EQ_INT(pxs_image_decode("P2 3", 4, NULL, &img, NULL, &err), PXS_ECORRUPT);
    pxs_err_clear(&err);
    CHECK_EQ_INT(pxs_image_decode("P5 3 1000000000 255 abc", 23, NULL, &img, NULL, &err),
                 PXS_ELIMIT);
    pxs_err_clear(&err);
    CHECK_EQ_INT(pxs_image_decode("II*\0\x08\0\0\0\xff\xff", 10, NULL, &img, NULL, &err),
                 PXS_ECORRUPT);
    CHECK(img.pixels == NULL);
    pxs_image_free(&img);
    pxs_image_free(NULL);
}

/* Truncated files must fail, not decode with grey fill. */
PXS_TEST(image_decode_truncated_is_corrupt) {
    INIT_OR_FAIL();
    /* Noise does not compress, so the truncated part is most of the pixels. */
    VipsImage *noise = NULL, *rgb = NULL;
    CHECK(vips_gaussnoise(&noise, 200, 150, "mean", 128.0, "sigma", 40.0, NULL) == 0);
    VipsImage *bands[3] = {noise, noise, noise};
    CHECK(vips_bandjoin(bands, &rgb, 3, NULL) == 0);
    g_object_unref(noise);
    VipsImage *u8 = NULL;
    CHECK(vips_cast(rgb, &u8, VIPS_FORMAT_UCHAR, NULL) == 0);
    g_object_unref(rgb);
    static const char *const suffixes[] = {".jpg", ".png", ".webp", ".gif", ".tif"};
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        void *buf;
        size_t len;
        if (save(u8, suffixes[i], &buf, &len) != 0) continue;
        struct pxs_err err = {0};
        struct pxs_image img = {0};
        int rc = pxs_image_decode(buf, len, NULL, &img, NULL, &err);
        pxs_image_free(&img);
        if (rc != PXS_OK) {
            g_free(buf);
            CHECK_MSG(0, "%s: full file does not decode: %s", suffixes[i], err.msg);
        }
        size_t cuts[] = {len / 2, len * 9 / 10, len - 16};
        for (size_t c = 0; c < 3; c++) {
            pxs_err_clear(&err);
            struct pxs_image_decode_opts opts = {.max_side = c == 1 ? 64 : 0};
            rc = pxs_image_decode(buf, cuts[c], &opts, &img, NULL, &err);
            pxs_image_free(&img);
            if (rc != PXS_ECORRUPT) {
                g_free(buf);
                g_object_unref(u8);
                CHECK_MSG(0, "%s cut at %zu/%zu: rc %d (%s)", suffixes[i], cuts[c], len, rc,
                          err.msg);
            }
            CHECK(err.msg[0] != '\0');
        }
        g_free(buf);
    }
    g_object_unref(u8);
}

/* ---- size limits ------------------------------------------------------ */

static uint32_t crc32_bytes(const uint8_t *p, size_t n) {
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
    }
    return ~c;
}

static void put_be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* A PNG whose IHDR claims w x h RGB, with a tiny (bogus) IDAT and IEND. */
static size_t craft_png(uint8_t *out, uint32_t w, uint32_t h) {
    size_t n = 0;
    memcpy(out, "\x89PNG\r\n\x1A\n", 8);
    n = 8;
    put_be32(out + n, 13);
    memcpy(out + n + 4, "IHDR", 4);
    put_be32(out + n + 8, w);
    put_be32(out + n + 12, h);
    out[n + 16] = 8, out[n + 17] = 2, out[n + 18] = 0, out[n + 19] = 0, out[n + 20] = 0;
    put_be32(out + n + 21, crc32_bytes(out + n + 4, 17));
    n += 25;
    static const uint8_t idat[] = {0x78, 0x9c, 0x63, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01};
    put_be32(out + n, sizeof idat);
    memcpy(out + n + 4, "IDAT", 4);
    memcpy(out + n + 8, idat, sizeof idat);
    put_be32(out + n + 8 + sizeof idat, crc32_bytes(out + n + 4, 4 + sizeof idat));
    n += 12 + sizeof idat;
    put_be32(out + n, 0);
    memcpy(out + n + 4, "IEND", 4);
    put_be32(out + n + 8, crc32_bytes(out + n + 4, 4));
    return n + 12;
}

PXS_TEST(image_decode_refuses_huge_header) {
    INIT_OR_FAIL();
    uint8_t png[128];
    size_t len = craft_png(png, 60000, 60000);
    struct pxs_err err = {0};
    struct pxs_image img = {0};
    struct pxs_image_info info;
    CHECK_EQ_INT(pxs_image_decode(png, len, NULL, &img, &info, &err), PXS_ELIMIT);
    CHECK(strstr(err.msg, "60000x60000") != NULL);
    CHECK(img.pixels == NULL);
    CHECK_EQ_INT(info.format, PXS_IMAGE_PNG);
    /* Even with max_side set: the limit is on the source. */
    pxs_err_clear(&err);
    struct pxs_image_decode_opts opts = {.max_side = 64};
    CHECK_EQ_INT(pxs_image_decode(png, len, &opts, &img, NULL, &err), PXS_ELIMIT);

    /* A caller limit applies to a real image too. */
    size_t jlen;
    void *jpg = card_bytes(100, 80, ".jpg", &jlen);
    CHECK(jpg);
    pxs_err_clear(&err);
    opts.max_pixels = 100 * 80 - 1;
    int rc = pxs_image_decode(jpg, jlen, &opts, &img, NULL, &err);
    opts.max_pixels = 100 * 80;
    int rc2 = pxs_image_decode(jpg, jlen, &opts, &img, NULL, NULL);
    pxs_image_free(&img);
    g_free(jpg);
    CHECK_EQ_INT(rc, PXS_ELIMIT);
    CHECK_EQ_INT(rc2, PXS_OK);
}

/* ---- orientation ------------------------------------------------------ */

PXS_TEST(image_decode_applies_exif_orientation) {
    INIT_OR_FAIL();
    const int w = 60, h = 40;
    VipsImage *im = card_image(w, h); /* red marker at the stored top-left */
    CHECK(im);
    vips_image_set_int(im, VIPS_META_ORIENTATION, 6); /* display = stored rotated 90 cw */
    void *buf;
    size_t len;
    int rc = vips_jpegsave_buffer(im, &buf, &len, "Q", 95, NULL);
    g_object_unref(im);
    CHECK(rc == 0);
    struct pxs_err err = {0};
    struct pxs_image img = {0};
    struct pxs_image_info info;
    rc = pxs_image_decode(buf, len, NULL, &img, &info, &err);
    CHECK_OK(rc, &err);
    CHECK_EQ_INT(info.orientation, 6);
    CHECK_EQ_INT(info.width, h);
    CHECK_EQ_INT(info.height, w);
    CHECK_EQ_INT(img.width, h);
    CHECK_EQ_INT(img.height, w);
    /* Rotating 90 degrees clockwise moves the top-left corner to the top-right. */
    const uint8_t *tr = img.pixels + (size_t)(2 * img.width + img.width - 3) * 3;
    const uint8_t *tl = img.pixels + (size_t)(2 * img.width + 2) * 3;
    CHECK_MSG(tr[0] > 200 && tr[1] < 60 && tr[2] < 60, "top-right %d,%d,%d", tr[0], tr[1], tr[2]);
    CHECK(!(tl[0] > 200 && tl[1] < 60 && tl[2] < 60));
    pxs_image_free(&img);

    /* Shrink-on-load and orientation together. */
    struct pxs_image_decode_opts opts = {.max_side = 30};
    rc = pxs_image_decode(buf, len, &opts, &img, &info, &err);
    g_free(buf);
    CHECK_OK(rc, &err);
    CHECK_EQ_INT(img.width, 20);
    CHECK_EQ_INT(img.height, 30);
    pxs_image_free(&img);
}

/* ---- failure injection and threads ------------------------------------ */

PXS_TEST(image_decode_allocation_failure) {
    INIT_OR_FAIL();
    size_t len;
    void *buf = card_bytes(50, 40, ".png", &len);
    CHECK(buf);
    struct pxs_err err = {0};
    struct pxs_image img = {0};
    pxs_alloc_fail_after(1);
    int rc = pxs_image_decode(buf, len, NULL, &img, NULL, &err);
    pxs_alloc_fail_after(0);
    g_free(buf);
    CHECK_EQ_INT(rc, PXS_ENOMEM);
    CHECK(img.pixels == NULL);
}

struct thread_job {
    const void *buf;
    size_t len;
    int ok;
};

static void *decode_many(void *arg) {
    struct thread_job *job = arg;
    job->ok = 1;
    for (int i = 0; i < 20; i++) {
        struct pxs_image img = {0};
        struct pxs_image_decode_opts opts = {.max_side = 32};
        float d[PXS_IMAGE_DESCRIPTOR_DIM];
        if (pxs_image_decode(job->buf, job->len, &opts, &img, NULL, NULL) != PXS_OK ||
            img.width != 32 || pxs_image_descriptor(&img, d, NULL) != PXS_OK)
            job->ok = 0;
        pxs_image_free(&img);
    }
    return NULL;
}

PXS_TEST(image_decode_from_many_threads) {
    INIT_OR_FAIL();
    size_t len;
    void *buf = card_bytes(96, 64, ".jpg", &len);
    CHECK(buf);
    pthread_t th[4];
    struct thread_job jobs[4];
    for (int i = 0; i < 4; i++) {
        jobs[i] = (struct thread_job){buf, len, 0};
        CHECK(pthread_create(&th[i], NULL, decode_many, &jobs[i]) == 0);
    }
    for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
    g_free(buf);
    for (int i = 0; i < 4; i++) CHECK(jobs[i].ok);
}

/* ---- JPEG encoding ---------------------------------------------------- */

PXS_TEST(image_encode_jpeg_round_trip) {
    INIT_OR_FAIL();
    const int w = 80, h = 60;
    struct pxs_image src = {w, h, make_card(w, h)};
    CHECK(src.pixels);
    struct pxs_err err = {0};
    void *jpg = NULL;
    size_t len = 0;
    int rc = pxs_image_encode_jpeg(&src, 90, &jpg, &len, &err);
    if (rc != PXS_OK) pxs_image_free(&src);
    CHECK_OK(rc, &err);
    CHECK(len > 100 && pxs_image_sniff(jpg, len) == PXS_IMAGE_JPEG);
    struct pxs_image back = {0};
    rc = pxs_image_decode(jpg, len, NULL, &back, NULL, &err);
    pxs_free(jpg);
    if (rc == PXS_OK) {
        CHECK(back.width == w && back.height == h);
        CHECK(mean_abs_diff(back.pixels, src.pixels, (size_t)w * h * 3) < 6);
    }
    pxs_image_free(&back);
    CHECK_OK(rc, &err);

    /* Bad arguments. */
    pxs_err_clear(&err);
    CHECK_EQ_INT(pxs_image_encode_jpeg(&src, 0, &jpg, &len, &err), PXS_EINVAL);
    CHECK(jpg == NULL && len == 0);
    CHECK_EQ_INT(pxs_image_encode_jpeg(&src, 101, &jpg, &len, NULL), PXS_EINVAL);
    CHECK_EQ_INT(pxs_image_encode_jpeg(NULL, 80, &jpg, &len, NULL), PXS_EINVAL);
    CHECK_EQ_INT(pxs_image_encode_jpeg(&src, 80, NULL, &len, NULL), PXS_EINVAL);
    struct pxs_image empty = {0};
    CHECK_EQ_INT(pxs_image_encode_jpeg(&empty, 80, &jpg, &len, NULL), PXS_EINVAL);
    pxs_image_free(&src);
}

/* ---- descriptor ------------------------------------------------------- */

static int descriptor_of(const struct pxs_image *img, float *d) {
    struct pxs_err err = {0};
    return pxs_image_descriptor(img, d, &err);
}

PXS_TEST(image_descriptor_basic_properties) {
    const int w = 120, h = 90;
    struct pxs_image img = {w, h, make_scene(w, h, 1)};
    CHECK(img.pixels);
    float a[PXS_IMAGE_DESCRIPTOR_DIM], b[PXS_IMAGE_DESCRIPTOR_DIM];
    int rc = descriptor_of(&img, a);
    int rc2 = descriptor_of(&img, b);
    pxs_image_free(&img);
    CHECK_EQ_INT(rc, PXS_OK);
    CHECK_EQ_INT(rc2, PXS_OK);
    CHECK(memcmp(a, b, sizeof a) == 0); /* deterministic */
    double ss = 0;
    for (int i = 0; i < PXS_IMAGE_DESCRIPTOR_DIM; i++) {
        CHECK(isfinite(a[i]) && a[i] >= 0);
        ss += (double)a[i] * a[i];
    }
    CHECK_NEAR(ss, 1.0, 1e-4);

    /* Degenerate sizes still work and stay unit-norm. */
    static const int sizes[][2] = {{1, 1}, {2, 1}, {1, 300}, {3, 3}, {1000, 2}};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        struct pxs_image t = {sizes[k][0], sizes[k][1], make_card(sizes[k][0], sizes[k][1])};
        CHECK(t.pixels);
        rc = descriptor_of(&t, a);
        pxs_image_free(&t);
        CHECK_EQ_INT(rc, PXS_OK);
        CHECK_NEAR(dotf(a, a), 1.0, 1e-4);
    }

    struct pxs_err err = {0};
    struct pxs_image empty = {0};
    CHECK_EQ_INT(pxs_image_descriptor(&empty, a, &err), PXS_EINVAL);
    CHECK_EQ_INT(pxs_image_descriptor(NULL, a, NULL), PXS_EINVAL);
}

/* Rotate 90 degrees clockwise. */
static uint8_t *rotate90(const uint8_t *p, int w, int h) {
    uint8_t *r = pxs_malloc((size_t)w * h * 3);
    if (!r) return NULL;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) /* (x, y) -> (h-1-y, x) in an h x w image */
            memcpy(r + ((size_t)x * h + (h - 1 - y)) * 3, p + ((size_t)y * w + x) * 3, 3);
    return r;
}

PXS_TEST(image_descriptor_similarity) {
    INIT_OR_FAIL();
    const int w = 320, h = 240;
    uint8_t *scene = make_scene(w, h, 1);
    CHECK(scene);
    float d_full[PXS_IMAGE_DESCRIPTOR_DIM], d_small[PXS_IMAGE_DESCRIPTOR_DIM],
        d_rot[PXS_IMAGE_DESCRIPTOR_DIM], d_jpeg[PXS_IMAGE_DESCRIPTOR_DIM],
        d_other[PXS_IMAGE_DESCRIPTOR_DIM], d_moss[PXS_IMAGE_DESCRIPTOR_DIM];
    struct pxs_image img = {w, h, scene};
    CHECK_EQ_INT(descriptor_of(&img, d_full), PXS_OK);

    /* Same picture, decoded small from a JPEG (shrink-on-load path). */
    struct pxs_err err = {0};
    void *jpg;
    size_t len;
    CHECK_OK(pxs_image_encode_jpeg(&img, 75, &jpg, &len, &err), &err);
    struct pxs_image small = {0};
    struct pxs_image_decode_opts opts = {.max_side = 100};
    int rc = pxs_image_decode(jpg, len, &opts, &small, NULL, &err);
    struct pxs_image full_jpeg = {0};
    int rc2 = pxs_image_decode(jpg, len, NULL, &full_jpeg, NULL, &err);
    pxs_free(jpg);
    CHECK_OK(rc, &err);
    CHECK_OK(rc2, &err);
    CHECK(small.width == 100);
    rc = descriptor_of(&small, d_small);
    rc2 = descriptor_of(&full_jpeg, d_jpeg);
    pxs_image_free(&small);
    pxs_image_free(&full_jpeg);
    CHECK(rc == PXS_OK && rc2 == PXS_OK);

    struct pxs_image rot = {h, w, rotate90(scene, w, h)};
    CHECK(rot.pixels);
    rc = descriptor_of(&rot, d_rot);
    pxs_image_free(&rot);
    CHECK_EQ_INT(rc, PXS_OK);

    struct pxs_image moss = {w, h, make_moss(w, h)};
    CHECK(moss.pixels);
    rc = descriptor_of(&moss, d_moss);
    pxs_image_free(&moss);
    CHECK_EQ_INT(rc, PXS_OK);
    struct pxs_image card = {w, h, make_card(w, h)};
    CHECK(card.pixels);
    rc = descriptor_of(&card, d_other);
    pxs_image_free(&card);
    pxs_image_free(&img);
    CHECK_EQ_INT(rc, PXS_OK);

    float s_small = dotf(d_full, d_small), s_jpeg = dotf(d_full, d_jpeg),
          s_rot = dotf(d_full, d_rot), s_moss = dotf(d_full, d_moss),
          s_card = dotf(d_full, d_other);
    CHECK_MSG(s_small > 0.95f, "same image at two sizes: cos %.3f", s_small);
    CHECK_MSG(s_jpeg > 0.95f, "same image after JPEG q75: cos %.3f", s_jpeg);
    CHECK_MSG(s_rot > 0.95f, "rotated 90 degrees: cos %.3f", s_rot);
    CHECK_MSG(s_moss < 0.75f && s_moss < s_small - 0.2f, "scene vs moss: cos %.3f", s_moss);
    CHECK_MSG(s_card < 0.85f && s_card < s_small - 0.1f, "scene vs card: cos %.3f", s_card);
}

/* ---- EXIF fields ------------------------------------------------------- */

/* A JPEG whose EXIF libvips writes from exif-* strings set on the image. */
static void *jpeg_with_exif(const char *date, const char *make, const char *model, size_t *len) {
    uint8_t pix[32 * 24 * 3];
    for (size_t i = 0; i < sizeof pix; i++) pix[i] = (uint8_t)(i * 7);
    VipsImage *m = vips_image_new_from_memory_copy(pix, sizeof pix, 32, 24, 3, VIPS_FORMAT_UCHAR);
    if (!m) return NULL;
    VipsImage *im = NULL;
    int rc = vips_copy(m, &im, "interpretation", VIPS_INTERPRETATION_sRGB, NULL);
    g_object_unref(m);
    if (rc) return NULL;
    if (date) vips_image_set_string(im, "exif-ifd2-DateTimeOriginal", date);
    if (make) vips_image_set_string(im, "exif-ifd0-Make", make);
    if (model) vips_image_set_string(im, "exif-ifd0-Model", model);
    void *buf = NULL;
    rc = vips_image_write_to_buffer(im, ".jpg", &buf, len, NULL);
    g_object_unref(im);
    if (rc) vips_error_clear();
    return rc ? NULL : buf;
}

PXS_TEST(image_exif_date_and_camera) {
    struct pxs_err err = {0};
    CHECK_OK(pxs_image_global_init(&err), &err);
    size_t len;
    void *jpg = jpeg_with_exif("2019:07:14 10:22:01", "Canon", "Canon EOS 5D", &len);
    CHECK(jpg);
    struct pxs_image img = {0};
    struct pxs_image_info info;
    int rc = pxs_image_decode(jpg, len, NULL, &img, &info, &err);
    pxs_image_free(&img);
    struct pxs_preprocess pp;
    pxs_preprocess_init_imagenet(&pp);
    float *t = pxs_malloc(pxs_preprocess_tensor_floats(&pp) * sizeof(float));
    struct pxs_image_info info2;
    int rc2 = t ? pxs_image_to_tensor(jpg, len, &pp, t, &info2, &err) : PXS_ENOMEM;
    pxs_free(t);
    g_free(jpg);
    CHECK_OK(rc, &err);
    CHECK_OK(rc2, &err);
    CHECK_STR(info.exif_date, "2019-07-14 10:22:01");
    CHECK_STR(info.camera_make, "Canon");
    CHECK_STR(info.camera_model, "Canon EOS 5D");
    CHECK_STR(info2.exif_date, "2019-07-14 10:22:01");
    CHECK_STR(info2.camera_model, "Canon EOS 5D");

    /* A malformed date is dropped; absent fields stay empty. */
    jpg = jpeg_with_exif("    :  :     :  :  ", NULL, NULL, &len);
    CHECK(jpg);
    rc = pxs_image_decode(jpg, len, NULL, &img, &info, &err);
    pxs_image_free(&img);
    g_free(jpg);
    CHECK_OK(rc, &err);
    CHECK_STR(info.exif_date, "");
    CHECK_STR(info.camera_make, "");
    CHECK_STR(info.camera_model, "");
}
