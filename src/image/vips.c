/*
 * vips.c — owns pixseek's process-wide libvips state: one-time start-up
 * with the policies below, routing libvips log output into pxs_log, and
 * moving libvips' global error text into a caller's struct pxs_err.
 *
 * Policies chosen at start-up (all process-wide, libvips has no per-call
 * equivalent):
 *   - Operation cache off (max 0 ops, 0 bytes, 0 files). Every decode is of
 *     new bytes, so the cache would only hold memory, and a cached operation
 *     could keep pointing at a caller's buffer after we return.
 *   - One worker thread per pipeline, unless the user set VIPS_CONCURRENCY.
 *     The engine already decodes many images in parallel, one per thread;
 *     libvips' own thread pool on top would oversubscribe the CPUs and
 *     multiply per-thread buffers.
 *   - Every loader is blocked except the eight formats pxs_image_sniff
 *     accepts (ImageMagick only for BMP, which libvips has no native loader
 *     for). This keeps rarely-audited parsers (PDF, SVG, FITS, Matlab, ...)
 *     away from untrusted uploads. decode.c additionally checks that the
 *     loader libvips picks matches the sniffed format.
 */
#include "image_int.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <vips/vips.h>
#include <vips/vector.h> /* vips_vector_set_enabled: not in vips.h */

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_rc = PXS_EINTERNAL;

/* libvips (and the libraries it wraps) report warnings such as "Premature
 * end of JPEG file" through GLib logging. Those are per-image noise: debug. */
static void vips_log_handler(const gchar *domain, GLogLevelFlags level, const gchar *message,
                             gpointer user) {
    (void)user;
    if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL))
        PXS_LOG_WARN("libvips %s: %s", domain ? domain : "", message ? message : "");
    else
        PXS_LOG_DEBUG("libvips %s: %s", domain ? domain : "", message ? message : "");
}

static const char *const allowed_loaders[] = {
    "VipsForeignLoadJpeg", "VipsForeignLoadPng",  "VipsForeignLoadNsgif",
    "VipsForeignLoadWebp", "VipsForeignLoadTiff", "VipsForeignLoadHeif",
    "VipsForeignLoadPpm",  "VipsForeignLoadMagick",
};

static void init_once_fn(void) {
    if (VIPS_INIT("pixseek") != 0) {
        char *text = vips_error_buffer_copy();
        PXS_LOG_ERR("libvips initialisation failed: %s", text ? text : "");
        g_free(text);
        init_rc = PXS_EINTERNAL;
        return;
    }
    g_log_set_handler("VIPS", G_LOG_LEVEL_MASK | G_LOG_FLAG_FATAL | G_LOG_FLAG_RECURSION,
                      vips_log_handler, NULL);

    vips_cache_set_max(0);
    vips_cache_set_max_mem(0);
    vips_cache_set_max_files(0);
    if (!getenv("VIPS_CONCURRENCY")) vips_concurrency_set(1);
    /* No Orc-generated code: freeing Orc programs is not thread-safe
     * (liborc's orc_code_free crashed under ASan when many threads decoded
     * at once, tests/image image_decode_from_many_threads), and our own
     * resamplers do the heavy pixel work anyway. VIPS_NOVECTOR does the
     * same from the environment. */
    vips_vector_set_enabled(FALSE);

    vips_operation_block_set("VipsForeignLoad", TRUE);
    for (size_t i = 0; i < sizeof allowed_loaders / sizeof allowed_loaders[0]; i++)
        vips_operation_block_set(allowed_loaders[i], FALSE);

    init_rc = PXS_OK;
}

int pxs_image_global_init(struct pxs_err *err) {
    if (pthread_once(&init_once, init_once_fn) != 0)
        return pxs_errf(err, PXS_EINTERNAL, "pthread_once failed");
    if (init_rc != PXS_OK)
        return pxs_errf(err, init_rc, "libvips initialisation failed (see log)");
    return PXS_OK;
}

int pxs__image_vips_fail(struct pxs_err *err, int code, const char *what) {
    char *text = vips_error_buffer_copy();
    /* One line per libvips message: join them with "; ", drop the last \n. */
    char clean[240];
    size_t n = 0;
    for (const char *p = text ? text : ""; *p && n + 3 < sizeof clean; p++) {
        if (*p == '\n') {
            if (p[1] == '\0') break;
            clean[n++] = ';';
            clean[n++] = ' ';
        } else {
            clean[n++] = *p;
        }
    }
    clean[n] = '\0';
    g_free(text);
    if (n == 0) return pxs_errf(err, code, "%s", what);
    return pxs_errf(err, code, "%s: %s", what, clean);
}

void pxs__image_vips_discard(void) {
    g_free(vips_error_buffer_copy());
}
