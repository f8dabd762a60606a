/*
 * jpeg_fast.c — the common JPEG case decoded with libjpeg(-turbo) directly,
 * for the CNN input path (preprocess.c): YCbCr, RGB or greyscale baseline
 * or progressive JPEGs decoded at full size to packed 8-bit RGB. libjpeg is
 * set up as libvips' jpegload sets it up at full size (default islow DCT,
 * fancy upsampling), so the pixels are the same (checked byte for byte on
 * Corel-1k with bench/ingest_stages.c DUMP=); DCT-scaled decodes are left
 * to libvips, whose shrunk pixels this setup does not reproduce. It
 * skips libvips' per-image pipeline (operation objects, regions, a
 * worker thread), which cost about as much as the decoding itself on small
 * photos.
 * Anything else — CMYK/YCCK, a libjpeg warning (truncated or damaged data),
 * an error, an unexpected size — returns "not handled" and the caller
 * decodes with libvips, which gives the canonical pixels or error message.
 */
#include "image_int.h"

#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include <jpeglib.h>

struct fast_fail {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
};

static void on_error(j_common_ptr c) { longjmp(((struct fast_fail *)(void *)c->err)->jump, 1); }

/* Warnings (msg_level -1) end the attempt: libvips decides what they mean. */
static void on_emit(j_common_ptr c, int msg_level) {
    if (msg_level < 0) on_error(c);
}

static int decode(const void *data, size_t len, int want_w, int want_h,
                  uint8_t *out) {
    struct jpeg_decompress_struct c;
    struct fast_fail fail;
    memset(&fail, 0, sizeof fail);
    c.err = jpeg_std_error(&fail.pub);
    fail.pub.error_exit = on_error;
    fail.pub.emit_message = on_emit;
    if (setjmp(fail.jump)) {
        jpeg_destroy_decompress(&c);
        return -1;
    }
    jpeg_create_decompress(&c);
    jpeg_mem_src(&c, (const unsigned char *)data, (unsigned long)len);
    if (jpeg_read_header(&c, TRUE) != JPEG_HEADER_OK ||
        (c.jpeg_color_space != JCS_YCbCr && c.jpeg_color_space != JCS_RGB &&
         c.jpeg_color_space != JCS_GRAYSCALE) ||
        (c.num_components != 3 && c.num_components != 1)) {
        jpeg_destroy_decompress(&c);
        return -1;
    }
    c.out_color_space = JCS_RGB; /* greyscale is replicated into R, G, B */
    jpeg_start_decompress(&c);
    if ((int)c.output_width != want_w || (int)c.output_height != want_h || c.output_components != 3) {
        jpeg_destroy_decompress(&c);
        return -1;
    }
    const size_t stride = (size_t)want_w * 3;
    while (c.output_scanline < c.output_height) {
        JSAMPROW row = out + (size_t)c.output_scanline * stride;
        jpeg_read_scanlines(&c, &row, 1);
    }
    jpeg_finish_decompress(&c);
    jpeg_destroy_decompress(&c);
    return 0;
}

int pxs__image_jpeg_fast(const void *data, size_t len, int shrink, int w, int h, uint8_t **pixels,
                         int *out_w, int *out_h) {
    *pixels = NULL;
    if (shrink != 1) return -1;
    int sw = w, sh = h;
    size_t n;
    if (pxs_size_mul((size_t)sw * 3, (size_t)sh, &n) != 0) return -1;
    uint8_t *px = pxs_malloc(n);
    if (!px) return -1;
    if (decode(data, len, sw, sh, px) != 0) {
        pxs_free(px);
        return -1;
    }
    *pixels = px;
    *out_w = sw;
    *out_h = sh;
    return 0;
}
