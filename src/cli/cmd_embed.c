/*
 * cmd_embed.c — `pixseek embed`: print or write embeddings of images, or run
 * a model on a raw preprocessed tensor (to validate any ONNX model against
 * reference outputs without image decoding in the way).
 */
#include "cli.h"

#include <getopt.h>
#include <string.h>
#include <unistd.h>

static const char embed_help[] =
    "usage: pixseek embed [options] IMAGE...\n"
    "       pixseek embed --model FILE --tensor FILE.f32 [options]\n"
    "\n"
    "Print the embedding of each image (or of each item of a raw NCHW float32\n"
    "tensor file, little-endian, batch = file size / item size).\n"
    "\n"
    "options:\n"
    "  --model FILE        ONNX model (default: the built-in descriptor)\n"
    "  --model-config F    model description JSON (see models/README.md)\n"
    "  --threads N         inference threads (default: number of CPUs)\n"
    "  --precision P       fp32 (default) or bf16: bf16 runs the convolutions in\n"
    "                      bfloat16 (about 2x faster, cosine >= 0.999 to fp32)\n"
    "                      where the CPU has AVX512-BF16/AMX, else fp32 with a notice\n"
    "  --tensor FILE       run the model on this preprocessed tensor file\n"
    "  --output NAME       model output to return (default: the configured one);\n"
    "                      another output is returned raw\n"
    "  --raw               skip pooling and L2 normalisation\n"
    "  --format F          json (default: one object per input) or f32 (raw floats)\n"
    "  -o, --out FILE      write there instead of stdout\n"
    "  -h, --help          this help\n";

static int write_vectors(FILE *f, int f32, const char *input, const float *v, size_t n_items,
                         size_t item_len) {
    for (size_t i = 0; i < n_items; i++) {
        const float *x = v + i * item_len;
        if (f32) {
            if (fwrite(x, sizeof *x, item_len, f) != item_len) return -1;
            continue;
        }
        fprintf(f, "{\"input\":");
        cli_json_string(f, input);
        if (n_items > 1) fprintf(f, ",\"item\":%zu", i);
        fprintf(f, ",\"dim\":%zu,\"vector\":[", item_len);
        for (size_t j = 0; j < item_len; j++) fprintf(f, "%s%.9g", j ? "," : "", x[j]);
        fprintf(f, "]}\n");
    }
    return ferror(f) ? -1 : 0;
}

int cmd_embed(int argc, char **argv) {
    static const struct option long_opts[] = {CLI_MODEL_OPTIONS,
                                              {"tensor", required_argument, 0, 'T'},
                                              {"output", required_argument, 0, 'O'},
                                              {"raw", no_argument, 0, 'r'},
                                              {"format", required_argument, 0, 'f'},
                                              {"out", required_argument, 0, 'o'},
                                              {"help", no_argument, 0, 'h'},
                                              {0, 0, 0, 0}};
    struct cli_model_args model = {0};
    const char *tensor_path = NULL, *output = NULL, *out_path = NULL;
    int raw = 0, f32 = 0, c, m;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:h", long_opts, NULL)) != -1) {
        if ((m = cli_model_option(c, optarg, &model)) != 0) {
            if (m < 0) return EXIT_USAGE;
            continue;
        }
        switch (c) {
        case 'T': tensor_path = optarg; break;
        case 'O': output = optarg; break;
        case 'r': raw = 1; break;
        case 'f':
            if (strcmp(optarg, "json") == 0) f32 = 0;
            else if (strcmp(optarg, "f32") == 0) f32 = 1;
            else {
                cli_error("--format expects json or f32, got \"%s\"", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'o': out_path = optarg; break;
        case 'h': fputs(embed_help, stdout); return EXIT_OK;
        default: fputs(embed_help, stderr); return EXIT_USAGE;
        }
    }
    if (!tensor_path && optind >= argc) {
        cli_error("embed needs images or --tensor FILE (see 'pixseek embed --help')");
        return EXIT_USAGE;
    }
    if (tensor_path && optind < argc) {
        cli_error("give either images or --tensor, not both");
        return EXIT_USAGE;
    }
    if (f32 && !out_path && isatty(STDOUT_FILENO)) {
        cli_error("refusing to write binary floats to a terminal (use -o FILE)");
        return EXIT_USAGE;
    }
    FILE *out = stdout;
    if (out_path && !(out = fopen(out_path, "wb"))) {
        cli_error("cannot write %s", out_path);
        return EXIT_FAILURE_FATAL;
    }
    struct pxs_err err;
    pxs_err_clear(&err);
    struct pxs_embedder_opts eo = {model.model, model.model_config, NULL, model.threads, model.precision};
    pxs_embedder *emb;
    int rc = pxs_embedder_open(&eo, &emb, &err);
    if (rc != PXS_OK) {
        cli_error("%s", pxs_err_message(&err, rc));
        if (out != stdout) fclose(out);
        return EXIT_FAILURE_FATAL;
    }
    int status = EXIT_OK;
    if (tensor_path) {
        char *data;
        size_t len;
        float *vecs = NULL;
        size_t n_items = 0, item_len = 0;
        rc = pxs_file_read_all(tensor_path, (size_t)4 << 30, &data, &len, &err);
        if (rc == PXS_OK && len % sizeof(float) != 0)
            rc = pxs_errf(&err, PXS_EINVAL, "%s: %zu bytes is not a whole number of floats",
                          tensor_path, len);
        if (rc == PXS_OK)
            rc = pxs_embedder_embed_tensor(emb, (const float *)data, len / sizeof(float), output,
                                           raw, &vecs, &n_items, &item_len, &err);
        if (rc == PXS_OK && write_vectors(out, f32, tensor_path, vecs, n_items, item_len) != 0)
            rc = pxs_errf(&err, PXS_EIO, "cannot write the output");
        if (rc != PXS_OK) {
            cli_error("%s", pxs_err_message(&err, rc));
            status = EXIT_FAILURE_FATAL;
        }
        pxs_free(data);
        pxs_free(vecs);
    } else {
        if (output || raw)
            cli_error("--output and --raw apply to --tensor only; images get the configured embedding");
        size_t dim = pxs_embedder_dim(emb);
        float *vec = pxs_mallocarray(dim, sizeof *vec);
        for (int i = optind; vec && i < argc; i++) {
            char *data;
            size_t len;
            pxs_err_clear(&err);
            rc = pxs_file_read_all(argv[i], PXS_ENGINE_MAX_FILE_BYTES, &data, &len, &err);
            if (rc == PXS_OK) {
                rc = pxs_embedder_embed_image(emb, data, len, vec, &err);
                pxs_free(data);
            }
            if (rc != PXS_OK) {
                cli_error("%s: %s", argv[i], pxs_err_message(&err, rc));
                status = EXIT_PARTIAL;
                continue;
            }
            if (write_vectors(out, f32, argv[i], vec, 1, dim) != 0) {
                cli_error("cannot write the output");
                status = EXIT_FAILURE_FATAL;
                break;
            }
        }
        if (!vec) status = EXIT_FAILURE_FATAL;
        pxs_free(vec);
    }
    pxs_embedder_close(emb);
    if (out != stdout && fclose(out) != 0) status = EXIT_FAILURE_FATAL;
    return status;
}
