/*
 * encode.c — pixels to baseline JPEG bytes (thumbnails), with libjpeg(-turbo)
 * directly: a JFIF header, no other metadata, YCbCr 4:2:0 below quality 90
 * (4:4:4 from 90, as libvips' jpegsave does), standard Huffman tables (on
 * 256-px thumbnails optimising them halves the encode speed for 4 % fewer
 * bytes). libvips' jpegsave gave the same bytes but spent more time in its
 * own pipeline than libjpeg spent encoding. The result is built in
 * pxs_malloc'd memory that grows as libjpeg fills it.
 */
#include "image_int.h"

#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include <jpeglib.h>

struct jpeg_fail {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    int out_of_memory;
};

static void on_jpeg_error(j_common_ptr c) {
    longjmp(((struct jpeg_fail *)(void *)c->err)->jump, 1);
}

static void on_jpeg_message(j_common_ptr c) { (void)c; } /* warnings are not printed */

/* Destination: a pxs_malloc'd buffer that doubles when full. */
struct jpeg_sink {
    struct jpeg_destination_mgr pub;
    uint8_t *buf;
    size_t cap;
};

static void sink_init(j_compress_ptr c) {
    struct jpeg_sink *s = (struct jpeg_sink *)(void *)c->dest;
    s->pub.next_output_byte = s->buf;
    s->pub.free_in_buffer = s->cap;
}

static boolean sink_grow(j_compress_ptr c) {
    struct jpeg_sink *s = (struct jpeg_sink *)(void *)c->dest;
    uint8_t *bigger = s->cap <= SIZE_MAX / 2 ? pxs_realloc(s->buf, s->cap * 2) : NULL;
    if (!bigger) {
        ((struct jpeg_fail *)(void *)c->err)->out_of_memory = 1;
        c->err->error_exit((j_common_ptr)c); /* does not return */
    }
    s->pub.next_output_byte = bigger + s->cap; /* libjpeg's contract: the whole buffer was used */
    s->pub.free_in_buffer = s->cap;
    s->buf = bigger;
    s->cap *= 2;
    return TRUE;
}

static void sink_term(j_compress_ptr c) { (void)c; }

/* The encode itself; kept apart so no local of the caller lives across
 * setjmp. */
static int encode(const struct pxs_image *img, int quality, struct jpeg_sink *sink,
                  size_t *len, struct pxs_err *err) {
    struct jpeg_compress_struct c;
    struct jpeg_fail fail;
    memset(&fail, 0, sizeof fail);
    c.err = jpeg_std_error(&fail.pub);
    fail.pub.error_exit = on_jpeg_error;
    fail.pub.output_message = on_jpeg_message;
    if (setjmp(fail.jump)) {
        char msg[JMSG_LENGTH_MAX] = "";
        if (!fail.out_of_memory) fail.pub.format_message((j_common_ptr)&c, msg);
        jpeg_destroy_compress(&c);
        if (fail.out_of_memory) return pxs_errf(err, PXS_ENOMEM, "out of memory for a JPEG");
        return pxs_errf(err, PXS_EINTERNAL, "JPEG encode failed: %s", msg);
    }
    jpeg_create_compress(&c);
    sink->pub.init_destination = sink_init;
    sink->pub.empty_output_buffer = sink_grow;
    sink->pub.term_destination = sink_term;
    c.dest = &sink->pub;
    c.image_width = (JDIMENSION)img->width;
    c.image_height = (JDIMENSION)img->height;
    c.input_components = 3;
    c.in_color_space = JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, quality, TRUE);
    if (quality >= 90) /* no chroma subsampling, as libvips */
        for (int i = 0; i < c.num_components; i++) c.comp_info[i].h_samp_factor = c.comp_info[i].v_samp_factor = 1;
    jpeg_start_compress(&c, TRUE);
    const size_t stride = (size_t)img->width * 3;
    while (c.next_scanline < c.image_height) {
        JSAMPROW row = (JSAMPROW)(img->pixels + (size_t)c.next_scanline * stride);
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    *len = sink->cap - sink->pub.free_in_buffer;
    jpeg_destroy_compress(&c);
    return PXS_OK;
}

int pxs_image_encode_jpeg(const struct pxs_image *img, int quality, void **out, size_t *out_len,
                          struct pxs_err *err) {
    if (out) *out = NULL;
    if (out_len) *out_len = 0;
    if (!img || !out || !out_len)
        return pxs_errf(err, PXS_EINVAL, "pxs_image_encode_jpeg: NULL argument");
    if (!img->pixels || img->width <= 0 || img->height <= 0)
        return pxs_errf(err, PXS_EINVAL, "pxs_image_encode_jpeg: empty image %dx%d", img->width,
                        img->height);
    if (quality < 1 || quality > 100)
        return pxs_errf(err, PXS_EINVAL, "JPEG quality %d is outside 1..100", quality);
    /* libjpeg cannot store more than 65500 pixels per side. */
    if (img->width > 65500 || img->height > 65500)
        return pxs_errf(err, PXS_ELIMIT, "%dx%d is too large for JPEG", img->width, img->height);
    size_t size;
    if (pxs_size_mul((size_t)img->width * 3, (size_t)img->height, &size) != 0)
        return pxs_errf(err, PXS_ELIMIT, "image size overflows");
    struct jpeg_sink sink = {.cap = size / 8 + 4096};
    sink.buf = pxs_malloc(sink.cap);
    if (!sink.buf) return pxs_errf(err, PXS_ENOMEM, "out of memory for a JPEG");
    size_t len = 0;
    int rc = encode(img, quality, &sink, &len, err);
    if (rc != PXS_OK) {
        pxs_free(sink.buf);
        return rc;
    }
    *out = sink.buf;
    *out_len = len;
    return PXS_OK;
}
