/*
 * tests/engine/test_model_config.c — model descriptions: defaults, the two
 * shipped descriptions, and clear errors for every kind of wrong sidecar.
 */
#include "engine/model_config.h"
#include "../test.h"

static int parse(const char *json, struct model_config *c, struct pxs_err *err) {
    pxs_err_clear(err);
    return model_config_parse(json, strlen(json), "test.json", c, err);
}

PXS_TEST(model_config_defaults) {
    struct model_config c;
    struct pxs_err err;
    CHECK_OK(parse("{\"name\":\"m\",\"input\":{\"width\":224,\"height\":200}}", &c, &err), &err);
    CHECK_EQ_INT(c.resize, MODEL_RESIZE_SHORTER_THEN_CROP);
    CHECK_EQ_INT(c.resize_shorter, 224);
    CHECK_EQ_INT(c.bgr, 0);
    CHECK_NEAR(c.scale, 1.0 / 255.0, 1e-9);
    CHECK_NEAR(c.std[2], 1.0, 0);
    CHECK_EQ_INT(c.pooling, MODEL_POOL_NONE);
    CHECK_EQ_INT(c.normalize, 1);
    CHECK_EQ_INT(c.apply_exif, 1);
    CHECK_EQ_INT(c.metric, PXS_METRIC_COSINE);
    CHECK_STR(c.output, "");
}

PXS_TEST(model_config_shipped_descriptions) {
    const char *files[] = {"models/mobilenet_v2_embed.onnx.json", "models/vgg16_notop.onnx.json"};
    for (int i = 0; i < 2; i++) {
        char *json;
        size_t len;
        struct pxs_err err;
        pxs_err_clear(&err);
        CHECK_OK(pxs_file_read_all(files[i], 1 << 20, &json, &len, &err), &err);
        struct model_config c;
        int rc = model_config_parse(json, len, files[i], &c, &err);
        pxs_free(json);
        CHECK_OK(rc, &err);
        if (i == 1) {
            CHECK_EQ_INT(c.bgr, 1);
            CHECK_EQ_INT(c.pooling, MODEL_POOL_MAX);
            CHECK_EQ_INT(c.resize, MODEL_RESIZE_SQUASH);
            CHECK_NEAR(c.mean[0], 103.939, 1e-4);
            CHECK_NEAR(c.scale, 1.0, 0);
        } else {
            CHECK_STR(c.output, "embedding");
            CHECK_EQ_INT(c.resize_shorter, 256);
        }
        /* Canonical JSON parses back to the same description. */
        struct pxs_buf b;
        pxs_buf_init(&b, 4096);
        CHECK_EQ_INT(model_config_to_json(&c, &b), PXS_OK);
        struct model_config back;
        CHECK_OK(model_config_parse(b.data, b.len, "canonical", &back, &err), &err);
        CHECK(memcmp(&back, &c, sizeof c) == 0);
        pxs_buf_free(&b);
    }
}

PXS_TEST(model_config_errors_are_clear) {
    static const struct {
        const char *json;
        const char *expect;
    } cases[] = {
        {"", "not valid JSON"},
        {"[1,2]", "JSON object"},
        {"{\"input\":{\"width\":1,\"height\":1}}", "\"name\""},
        {"{\"name\":\"bad name\",\"input\":{\"width\":1,\"height\":1}}", "\"name\""},
        {"{\"name\":\"m\"}", "\"input\" is required"},
        {"{\"name\":\"m\",\"input\":{\"width\":0,\"height\":1}}", "\"width\""},
        {"{\"name\":\"m\",\"input\":{\"width\":1.5,\"height\":1}}", "\"width\""},
        {"{\"name\":\"m\",\"input\":{\"width\":224,\"height\":224,\"std_dev\":[1,1,1]}}", "unknown key \"std_dev\""},
        {"{\"name\":\"m\",\"input\":{\"width\":2,\"height\":2,\"std\":[1,0,1]}}", "must not be 0"},
        {"{\"name\":\"m\",\"input\":{\"width\":2,\"height\":2,\"mean\":[1,1]}}", "3 numbers"},
        {"{\"name\":\"m\",\"input\":{\"width\":2,\"height\":2,\"color\":\"RGBA\"}}", "RGB, BGR"},
        {"{\"name\":\"m\",\"input\":{\"width\":224,\"height\":224,\"resize_shorter\":100}}", "smaller than the crop"},
        {"{\"name\":\"m\",\"input\":{\"width\":2,\"height\":2},\"pooling\":\"median\"}", "none, avg, max, gem"},
        {"{\"name\":\"m\",\"input\":{\"width\":2,\"height\":2},\"normalize\":1}", "true or false"},
        {"{\"name\":\"m\",\"input\":{\"width\":2,\"height\":2},\"output\":\"a\\\"b\"}", "output name"},
        {"{\"name\":\"m\",\"input\":{\"width\":2,\"height\":2},\"metric\":\"HAMMING\"}", "L2, IP, COSINE"},
        {"{\"name\":\"m\",\"input\":{\"width\":2,\"height\":2},\"gem_p\":-1}", "gem_p"},
        {"{\"name\":\"m\",\"input\":{\"width\":2,\"height\":2},\"extra\":1}", "unknown key \"extra\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct model_config c;
        struct pxs_err err;
        int rc = parse(cases[i].json, &c, &err);
        CHECK_MSG(rc == PXS_EINVAL, "case %zu accepted: %s", i, cases[i].json);
        CHECK_MSG(strstr(err.msg, cases[i].expect) != NULL, "case %zu: message \"%s\" lacks \"%s\"",
                  i, err.msg, cases[i].expect);
        CHECK_MSG(strstr(err.msg, "test.json") != NULL, "case %zu: message names no file", i);
    }
}
