/*
 * assets.c — the web page (web/index.html, web/app.js, web/style.css)
 * and the OpenAPI document (src/server/openapi.json) embedded into the
 * binary, so `pixseek serve` needs no files next to it.
 *
 * How: the GNU assembler's `.incbin` directive, in a top-level __asm__
 * block, copies each file into .rodata at build time. Why this and not a
 * generated C array: there is no code generator in the build (xxd is not a
 * build dependency and generated files must not be hand-edited), and C11
 * has no #embed. Both gcc (via GNU as) and clang (integrated assembler)
 * support .incbin.
 *
 * Build facts this relies on (keep them true):
 *   - .incbin paths are resolved against the assembler's working directory,
 *     not the -I list; the Makefile compiles from the repository root, so
 *     the paths below are "web/<file>".
 *   - -MMD does not record .incbin inputs. The __has_include probes below
 *     make clang list the web files in the .d file (so clang builds rebuild
 *     this object when they change); gcc does not record __has_include, so
 *     with gcc, `touch src/server/assets.c` after editing a web file (or
 *     serve with --web-dir while working on the page: it reads the files on
 *     every request). tests/server checks the embedded copies are current.
 *
 * Each blob is followed by a NUL byte (not counted) and its length as a
 * 64-bit value computed by the assembler, so no C pointer arithmetic spans
 * two objects.
 */
#include "server/server_int.h"

#include <string.h>

/* Dependency hints only (see above); the results are not used. */
#if __has_include("../../web/index.html") && __has_include("../../web/app.js") && \
    __has_include("../../web/style.css") && __has_include("openapi.json")
#endif

#define PXS_INCBIN(sym, file)                                  \
    __asm__(".section .rodata\n"                               \
            ".balign 16\n"                                     \
            ".globl " #sym "\n"                                \
            ".hidden " #sym "\n"                               \
            ".type " #sym ", %object\n" #sym ":\n"             \
            ".incbin \"" file "\"\n" #sym "_end:\n"            \
            ".byte 0\n"                                        \
            ".balign 8\n"                                      \
            ".globl " #sym "_len\n"                            \
            ".hidden " #sym "_len\n"                           \
            ".type " #sym "_len, %object\n" #sym "_len:\n"     \
            ".quad " #sym "_end - " #sym "\n"                  \
            ".previous\n")

PXS_INCBIN(pxs__web_index_html, "web/index.html");
PXS_INCBIN(pxs__web_app_js, "web/app.js");
PXS_INCBIN(pxs__web_style_css, "web/style.css");
PXS_INCBIN(pxs__openapi_json, "src/server/openapi.json");

#define PXS_HIDDEN __attribute__((visibility("hidden")))
extern const unsigned char pxs__web_index_html[] PXS_HIDDEN;
extern const uint64_t pxs__web_index_html_len PXS_HIDDEN;
extern const unsigned char pxs__web_app_js[] PXS_HIDDEN;
extern const uint64_t pxs__web_app_js_len PXS_HIDDEN;
extern const unsigned char pxs__web_style_css[] PXS_HIDDEN;
extern const uint64_t pxs__web_style_css_len PXS_HIDDEN;
extern const unsigned char pxs__openapi_json[] PXS_HIDDEN;
extern const uint64_t pxs__openapi_json_len PXS_HIDDEN;

void pxs__server_openapi(const unsigned char **data, size_t *len) {
    *data = pxs__openapi_json;
    *len = (size_t)pxs__openapi_json_len;
}

int pxs__server_asset(const char *name, struct pxs__asset *out) {
    /* Filled per call rather than from a static table: the lengths are
     * link-time data, not C constant expressions. */
    if (!name) return PXS_ENOTFOUND;
    if (strcmp(name, "index.html") == 0) {
        *out = (struct pxs__asset){"index.html", "text/html; charset=utf-8", pxs__web_index_html,
                                   (size_t)pxs__web_index_html_len};
    } else if (strcmp(name, "app.js") == 0) {
        *out = (struct pxs__asset){"app.js", "text/javascript; charset=utf-8", pxs__web_app_js,
                                   (size_t)pxs__web_app_js_len};
    } else if (strcmp(name, "style.css") == 0) {
        *out = (struct pxs__asset){"style.css", "text/css; charset=utf-8", pxs__web_style_css,
                                   (size_t)pxs__web_style_css_len};
    } else {
        return PXS_ENOTFOUND;
    }
    return PXS_OK;
}
