/*
 * ingest_stages.c — per-image CPU time of each non-model ingest stage, one
 * thread, the same calls as the ingest workers make (src/engine/ingest.c):
 * read, hash, decode + model input + preview (shrink-on-load, EXIF),
 * built-in descriptor, thumbnail JPEG encode. The model itself is measured
 * by bench/infer.sh. Usage: [DUMP=FILE] ingest_stages DIR [ROUNDS] (ImageNet 224/256
 * preprocessing, 256-px preview as the engine's THUMB_SIDE)
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pixseek/core.h"
#include "pixseek/image.h"

static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts); /* libvips decodes in its own worker thread */
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

enum { READ, HASH, DECODE, DESCRIPTOR, THUMBNAIL, N_STAGES };
static const char *const names[N_STAGES] = {"read", "hash", "decode+tensor+preview", "descriptor", "thumbnail"};

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s DIR [ROUNDS]\n", argv[0]);
        return 2;
    }
    int rounds = argc > 2 ? atoi(argv[2]) : 1;
    struct pxs_err err;
    pxs_err_clear(&err);
    if (pxs_image_global_init(&err) != PXS_OK) return 1;
    struct pxs_preprocess pp;
    pxs_preprocess_init_imagenet(&pp);
    pp.apply_orientation = 1; /* as models/mobilenet_v2_embed.onnx.json */
    float *tensor = malloc(pxs_preprocess_tensor_floats(&pp) * sizeof(float));
    double t[N_STAGES] = {0};
    /* DUMP=FILE: also write every descriptor, preview and model input (to check
     * that a faster implementation gives the same bytes). */
    FILE *dump = getenv("DUMP") ? fopen(getenv("DUMP"), "wb") : NULL;
    long n = 0;
    double thumb_bytes = 0;
    for (int r = 0; r < rounds; r++) {
        DIR *d = opendir(argv[1]);
        if (!d) return 1;
        struct dirent *de;
        while ((de = readdir(d))) {
            if (de->d_name[0] == '.') continue;
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", argv[1], de->d_name);
            double c0 = cpu_now();
            char *data;
            size_t len;
            if (pxs_file_read_all(path, (size_t)1 << 30, &data, &len, &err) != PXS_OK) continue;
            double c1 = cpu_now();
            uint8_t hash[PXS_HASH_BYTES];
            pxs_hash128(data, len, hash);
            double c2 = cpu_now();
            struct pxs_image prev = {0};
            struct pxs_image_info info;
            if (pxs_image_to_tensor_preview(data, len, &pp, tensor, 256, &prev, &info, &err) != PXS_OK) {
                fprintf(stderr, "%s: %s\n", path, err.msg);
                pxs_free(data);
                continue;
            }
            double c3 = cpu_now();
            float desc[PXS_IMAGE_DESCRIPTOR_DIM];
            if (pxs_image_descriptor(&prev, desc, &err) != PXS_OK) return 1;
            double c4 = cpu_now();
            void *jpg;
            size_t jlen;
            if (pxs_image_encode_jpeg(&prev, 80, &jpg, &jlen, &err) != PXS_OK) return 1;
            double c5 = cpu_now();
            if (dump) {
                fwrite(desc, sizeof desc, 1, dump);
                fwrite(prev.pixels, 3, (size_t)prev.width * (size_t)prev.height, dump);
                fwrite(tensor, sizeof(float), pxs_preprocess_tensor_floats(&pp), dump);
            }
            t[READ] += c1 - c0, t[HASH] += c2 - c1, t[DECODE] += c3 - c2;
            t[DESCRIPTOR] += c4 - c3, t[THUMBNAIL] += c5 - c4;
            thumb_bytes += (double)jlen;
            pxs_free(jpg);
            pxs_image_free(&prev);
            pxs_free(data);
            n++;
        }
        closedir(d);
    }
    double total = 0;
    for (int s = 0; s < N_STAGES; s++) {
        printf("%-22s %6.3f ms/img\n", names[s], 1000 * t[s] / (double)n);
        total += t[s];
    }
    printf("%-22s %6.3f ms/img (%ld images)\n", "total", 1000 * total / (double)n, n);
    printf("thumbnail size         %6.0f bytes/img\n", thumb_bytes / (double)n);
    if (dump) fclose(dump);
    free(tensor);
    return 0;
}
