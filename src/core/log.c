/*
 * log.c — levelled logging with a replaceable sink. The level and sink are
 * process-wide policy set once by the program; library code only calls
 * pxs_log. Messages are formatted into a stack buffer (no allocation).
 */
#include "pixseek/core.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

static _Atomic int log_level = PXS_LOG_WARN;
static pxs_log_sink_fn log_sink;
static void *log_sink_user;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void pxs_log_set_level(enum pxs_log_level level) { atomic_store(&log_level, (int)level); }

enum pxs_log_level pxs_log_get_level(void) { return (enum pxs_log_level)atomic_load(&log_level); }

void pxs_log_set_sink(pxs_log_sink_fn sink, void *user) {
    log_sink = sink;
    log_sink_user = user;
}

int pxs_log_parse_level(const char *name, enum pxs_log_level *out) {
    for (int i = 0; i < 4; i++) {
        if (strcmp(name, level_names[i]) == 0) {
            *out = (enum pxs_log_level)i;
            return PXS_OK;
        }
    }
    return PXS_EINVAL;
}

void pxs_log(enum pxs_log_level level, const char *fmt, ...) {
    if ((int)level > atomic_load(&log_level)) return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (log_sink) {
        log_sink(level, msg, log_sink_user);
        return;
    }
    fprintf(stderr, "pixseek: %s: %s\n", level_names[level], msg);
}
