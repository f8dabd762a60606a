/*
 * coll_schema.c — collection schemas: parsing and validating a Milvus REST
 * v2 collections/create request (quick setup or full schema, index
 * parameters), the stored schema record, and the describe output.
 *
 * Stored schema record (table "c_schemas", JSON text): the create request
 * in its full-schema form, plus
 *   "collectionID": u64, "partitions": [{"name":..,"id":u32}..],
 *   "nextPartitionId": u32, and "indexParams": [] when there is no index.
 * It is read back with the same parser as a create request, so a stored
 * schema is validated exactly like a new one.
 */
#include "engine/coll_int.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <strings.h>
#include <string.h>

static const struct {
    const char *name;
    int type;
} dtype_names[] = {
    {"Bool", DT_BOOL},     {"Int8", DT_INT8},       {"Int16", DT_INT16},
    {"Int32", DT_INT32},   {"Int64", DT_INT64},     {"Float", DT_FLOAT},
    {"Double", DT_DOUBLE}, {"VarChar", DT_VARCHAR}, {"JSON", DT_JSON},
    {"Array", DT_ARRAY},   {"FloatVector", DT_FLOAT_VECTOR}, {"BinaryVector", DT_BINARY_VECTOR},
};

static const char *dtype_name(int t) {
    for (size_t i = 0; i < sizeof dtype_names / sizeof dtype_names[0]; i++)
        if (dtype_names[i].type == t) return dtype_names[i].name;
    return "?";
}

static int dtype_parse(const char *s) {
    for (size_t i = 0; i < sizeof dtype_names / sizeof dtype_names[0]; i++)
        if (!strcasecmp(dtype_names[i].name, s)) return dtype_names[i].type;
    if (!strcasecmp(s, "String")) return DT_VARCHAR;
    return 0;
}

bool coll_name_valid(const char *name) {
    size_t n = strlen(name);
    if (n == 0 || n > COLL_NAME_MAX) return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
        if (!alpha && (i == 0 || c < '0' || c > '9')) return false;
    }
    return true;
}

void index_spec_free(struct coll_index_spec *spec) {
    pxs_free(spec->params_json);
    memset(spec, 0, sizeof *spec);
}

int index_spec_copy(struct coll_index_spec *dst, const struct coll_index_spec *src) {
    *dst = *src;
    dst->params_json = NULL;
    if (src->params_json && !(dst->params_json = pxs_strdup(src->params_json))) return PXS_ENOMEM;
    return PXS_OK;
}

void schema_free(struct coll_schema *s) {
    if (!s) return;
    for (size_t i = 0; i < s->nfields; i++) {
        pxs_free(s->fields[i].def_text);
        pxs_free(s->fields[i].def_json);
    }
    pxs_free(s->fields);
    pxs_free(s->parts);
    pxs_free(s->xfields);
    pxs_free(s->x_to_field);
    pxs_free(s->description);
    index_spec_free(&s->index);
    pxs_free(s);
}

int schema_field_index(const struct coll_schema *s, const char *name) {
    for (size_t i = 0; i < s->nfields; i++)
        if (!strcmp(s->fields[i].name, name)) return (int)i;
    return -1;
}

const struct coll_partition *schema_partition(const struct coll_schema *s, const char *name) {
    for (size_t i = 0; i < s->nparts; i++)
        if (!strcmp(s->parts[i].name, name)) return &s->parts[i];
    return NULL;
}

const struct coll_partition *schema_partition_by_id(const struct coll_schema *s, uint32_t id) {
    for (size_t i = 0; i < s->nparts; i++)
        if (s->parts[i].id == id) return &s->parts[i];
    return NULL;
}

size_t schema_vector_bytes(const struct coll_schema *s) {
    const struct coll_field *f = &s->fields[s->vec];
    return f->type == DT_FLOAT_VECTOR ? (size_t)f->dim * sizeof(float) : f->dim / 8;
}

/* A type parameter given as a number or a decimal string. */
static int type_param(const cJSON *params, const char *key, const char *field, int64_t lo,
                      int64_t hi, uint32_t *out, bool *given, struct pxs_err *err) {
    const cJSON *v = params ? cj_get(params, key) : NULL;
    if (given) *given = v != NULL;
    if (!v) return PXS_OK;
    int64_t x;
    if (cj_to_int64(v, &x) != 0 || x < lo || x > hi)
        return pxs_errf(err, PXS_EINVAL, "field %s: %s must be an integer in %lld..%lld", field, key,
                        (long long)lo, (long long)hi);
    *out = (uint32_t)x;
    return PXS_OK;
}

static int add_field(struct coll_schema *s, struct pxs_err *err, struct coll_field **out) {
    if (s->nfields >= COLL_MAX_FIELDS)
        return pxs_errf(err, PXS_EINVAL, "a collection has at most %d fields", COLL_MAX_FIELDS);
    struct coll_field *nf = pxs_realloc(s->fields, (s->nfields + 1) * sizeof *nf);
    if (!nf) return pxs_errf(err, PXS_ENOMEM, "out of memory");
    s->fields = nf;
    *out = &nf[s->nfields++];
    memset(*out, 0, sizeof **out);
    return PXS_OK;
}

static int set_name(char *dst, const char *src, const char *what, struct pxs_err *err) {
    if (!src || !coll_name_valid(src))
        return pxs_errf(err, PXS_EINVAL,
                        "%s \"%s\" is invalid: use 1..255 characters [A-Za-z0-9_], not starting "
                        "with a digit", what, src ? src : "");
    snprintf(dst, COLL_NAME_MAX + 1, "%s", src);
    return PXS_OK;
}

static int parse_field(struct coll_schema *s, const cJSON *jf, size_t idx, struct pxs_err *err) {
    if (!cJSON_IsObject(jf)) return pxs_errf(err, PXS_EINVAL, "schema.fields[%zu] must be an object", idx);
    struct coll_field *f;
    int rc = add_field(s, err, &f);
    if (rc != PXS_OK) return rc;
    const char *name = NULL, *dt = NULL, *et = NULL;
    if ((rc = cj_string(jf, "fieldName", &name, err)) != PXS_OK) return rc;
    if ((rc = set_name(f->name, name, "field name", err)) != PXS_OK) return rc;
    if ((rc = cj_string(jf, "dataType", &dt, err)) != PXS_OK) return rc;
    if (!dt || !(f->type = dtype_parse(dt)))
        return pxs_errf(err, PXS_EINVAL, "field %s: dataType \"%s\" is not supported (Bool, Int8, "
                        "Int16, Int32, Int64, Float, Double, VarChar, JSON, Array, FloatVector, "
                        "BinaryVector)", f->name, dt ? dt : "");
    if ((rc = cj_bool(jf, "isPrimary", &f->is_primary, err)) != PXS_OK) return rc;
    if ((rc = cj_bool(jf, "nullable", &f->nullable, err)) != PXS_OK) return rc;
    const cJSON *tp = cj_get(jf, "elementTypeParams");
    if (tp && !cJSON_IsObject(tp))
        return pxs_errf(err, PXS_EINVAL, "field %s: elementTypeParams must be an object", f->name);
    bool has_len = false, has_cap = false, has_dim = false;
    if ((rc = type_param(tp, "max_length", f->name, 1, COLL_MAX_VARCHAR, &f->max_length, &has_len, err)) ||
        (rc = type_param(tp, "max_capacity", f->name, 1, COLL_MAX_CAPACITY, &f->max_capacity, &has_cap, err)) ||
        (rc = type_param(tp, "dim", f->name, 1, COLL_MAX_DIM, &f->dim, &has_dim, err)))
        return rc;
    if (f->type == DT_ARRAY) {
        if ((rc = cj_string(jf, "elementDataType", &et, err)) != PXS_OK) return rc;
        f->elem_type = et ? dtype_parse(et) : 0;
        if (!f->elem_type || f->elem_type == DT_JSON || f->elem_type == DT_ARRAY ||
            f->elem_type >= DT_FLOAT_VECTOR)
            return pxs_errf(err, PXS_EINVAL, "field %s: Array needs elementDataType of a scalar type "
                            "(Bool, Int8..Int64, Float, Double, VarChar)", f->name);
        if (!has_cap)
            return pxs_errf(err, PXS_EINVAL, "field %s: Array needs elementTypeParams.max_capacity",
                            f->name);
    }
    if ((f->type == DT_VARCHAR || f->elem_type == DT_VARCHAR) && !has_len)
        return pxs_errf(err, PXS_EINVAL, "field %s: VarChar needs elementTypeParams.max_length "
                        "(1..%d)", f->name, COLL_MAX_VARCHAR);
    if (f->type == DT_FLOAT_VECTOR || f->type == DT_BINARY_VECTOR) {
        if (!has_dim)
            return pxs_errf(err, PXS_EINVAL, "field %s: a vector field needs elementTypeParams.dim",
                            f->name);
        if (f->type == DT_BINARY_VECTOR && f->dim % 8)
            return pxs_errf(err, PXS_EINVAL, "field %s: BinaryVector dim %u is not a multiple of 8",
                            f->name, f->dim);
        if (f->nullable)
            return pxs_errf(err, PXS_EINVAL, "field %s: a vector field cannot be nullable", f->name);
    }
    if (f->is_primary) {
        if (f->type != DT_INT64 && f->type != DT_VARCHAR)
            return pxs_errf(err, PXS_EINVAL, "field %s: the primary key must be Int64 or VarChar",
                            f->name);
        if (f->nullable)
            return pxs_errf(err, PXS_EINVAL, "field %s: the primary key cannot be nullable", f->name);
    }
    const cJSON *dv = cj_get(jf, "defaultValue");
    if (dv) {
        if (f->is_primary || f->type == DT_JSON || f->type == DT_ARRAY || f->type >= DT_FLOAT_VECTOR)
            return pxs_errf(err, PXS_EINVAL, "field %s: %s fields take no defaultValue", f->name,
                            f->is_primary ? "primary key" : dtype_name(f->type));
        struct cell c;
        rc = cell_parse(f, dv, 0, &c, err);
        if (rc != PXS_OK) {
            /* cell_parse names "row 0"; say it was the default */
            return rc;
        }
        f->def = c;
        f->has_default = true;
        if (!(f->def_json = cJSON_PrintUnformatted(dv)))
            return pxs_errf(err, PXS_ENOMEM, "out of memory");
        char *copy = pxs_strdup(f->def_json);
        cJSON_free(f->def_json);
        f->def_json = copy;
        if (!copy) return pxs_errf(err, PXS_ENOMEM, "out of memory");
        if (c.tag == CELL_STRING) {
            if (!(f->def_text = pxs_strndup(c.s, c.len))) return pxs_errf(err, PXS_ENOMEM, "out of memory");
            f->def.s = f->def_text;
        }
    }
    return PXS_OK;
}

static int quick_setup(struct coll_schema *s, const cJSON *req, struct pxs_err *err) {
    int64_t dim = 0;
    int rc = cj_int(req, "dimension", 1, COLL_MAX_DIM, &dim, err);
    if (rc != PXS_OK) return rc;
    if (!dim) return pxs_errf(err, PXS_EINVAL, "dimension is required (or give a schema)");
    const char *id_type = "Int64", *pk_name = "id", *vec_name = "vector";
    if ((rc = cj_string(req, "idType", &id_type, err)) || (rc = cj_string(req, "primaryFieldName", &pk_name, err)) ||
        (rc = cj_string(req, "vectorFieldName", &vec_name, err)))
        return rc;
    s->dynamic = true;
    if ((rc = cj_bool(req, "autoId", &s->auto_id, err)) != PXS_OK) return rc;
    if ((rc = cj_bool(req, "enableDynamicField", &s->dynamic, err)) != PXS_OK) return rc;
    struct coll_field *f;
    if ((rc = add_field(s, err, &f)) != PXS_OK) return rc;
    if ((rc = set_name(f->name, pk_name, "primaryFieldName", err)) != PXS_OK) return rc;
    f->is_primary = true;
    f->type = dtype_parse(id_type);
    if (f->type != DT_INT64 && f->type != DT_VARCHAR)
        return pxs_errf(err, PXS_EINVAL, "idType must be Int64 or VarChar");
    if (f->type == DT_VARCHAR) {
        const cJSON *params = cj_get(req, "params");
        bool given = false;
        f->max_length = 0;
        if ((rc = type_param(params, "max_length", f->name, 1, COLL_MAX_VARCHAR, &f->max_length, &given, err)))
            return rc;
        if (!given)
            return pxs_errf(err, PXS_EINVAL, "idType VarChar needs params.max_length");
    }
    if ((rc = add_field(s, err, &f)) != PXS_OK) return rc;
    if ((rc = set_name(f->name, vec_name, "vectorFieldName", err)) != PXS_OK) return rc;
    f->type = DT_FLOAT_VECTOR;
    f->dim = (uint32_t)dim;
    return PXS_OK;
}

/* Fill pk, vec and the expression schema; check the whole schema. */
static int schema_finish(struct coll_schema *s, struct pxs_err *err) {
    s->pk = s->vec = -1;
    for (size_t i = 0; i < s->nfields; i++) {
        const struct coll_field *f = &s->fields[i];
        for (size_t j = 0; j < i; j++)
            if (!strcmp(s->fields[j].name, f->name))
                return pxs_errf(err, PXS_EINVAL, "field name %s is used twice", f->name);
        if (!strcmp(f->name, "$meta") || (s->dynamic && !strcmp(f->name, "count")))
            return pxs_errf(err, PXS_EINVAL, "field name %s is reserved", f->name);
        if (f->is_primary) {
            if (s->pk >= 0) return pxs_errf(err, PXS_EINVAL, "more than one primary key field");
            s->pk = (int)i;
        }
        if (f->type >= DT_FLOAT_VECTOR) {
            if (s->vec >= 0)
                return pxs_errf(err, PXS_EINVAL, "more than one vector field (pixseek supports one "
                                "per collection)");
            s->vec = (int)i;
        }
    }
    if (s->pk < 0) return pxs_errf(err, PXS_EINVAL, "the schema has no primary key field (isPrimary)");
    if (s->vec < 0) return pxs_errf(err, PXS_EINVAL, "the schema has no vector field");
    if (s->auto_id && s->fields[s->pk].type != DT_INT64)
        return pxs_errf(err, PXS_EINVAL, "autoId needs an Int64 primary key");
    s->nx = s->nfields - 1 + (s->dynamic ? 1 : 0);
    s->xfields = pxs_calloc(s->nx, sizeof *s->xfields);
    s->x_to_field = pxs_calloc(s->nx, sizeof *s->x_to_field);
    if (!s->xfields || !s->x_to_field) return pxs_errf(err, PXS_ENOMEM, "out of memory");
    size_t k = 0;
    for (size_t i = 0; i < s->nfields; i++) {
        const struct coll_field *f = &s->fields[i];
        if ((int)i == s->vec) continue;
        s->xfields[k] = (struct expr_field){f->name, (enum expr_ftype)f->type,
                                            (enum expr_ftype)f->elem_type, f->nullable};
        s->x_to_field[k++] = (int)i;
    }
    s->x_dynamic = -1;
    if (s->dynamic) {
        s->xfields[k] = (struct expr_field){"$meta", EXPR_JSON, 0, false};
        s->x_to_field[k] = -1;
        s->x_dynamic = (int)k;
    }
    return PXS_OK;
}

static const struct {
    const char *key;
    size_t off;
    int64_t lo, hi;
} index_param_keys[] = {
    {"M", offsetof(struct pxs_index_params, hnsw_m), 2, 128},
    {"efConstruction", offsetof(struct pxs_index_params, hnsw_ef_construction), 1, 10000},
    {"ef", offsetof(struct pxs_index_params, hnsw_ef_search), 1, 100000},
    {"nlist", offsetof(struct pxs_index_params, ivf_nlist), 1, 65536},
    {"m", offsetof(struct pxs_index_params, pq_m), 1, 32768},
    {"nbits", offsetof(struct pxs_index_params, pq_nbits), 1, 16},
};

int schema_parse_index(const struct coll_schema *s, const cJSON *entry, struct coll_index_spec *out,
                       struct pxs_err *err) {
    memset(out, 0, sizeof *out);
    if (!cJSON_IsObject(entry)) return pxs_errf(err, PXS_EINVAL, "indexParams entries must be objects");
    const struct coll_field *vf = &s->fields[s->vec];
    const char *field = vf->name, *name = NULL, *type = "AUTOINDEX";
    const char *metric = vf->type == DT_BINARY_VECTOR ? "HAMMING" : "COSINE";
    int rc;
    if ((rc = cj_string(entry, "fieldName", &field, err)) || (rc = cj_string(entry, "indexName", &name, err)) ||
        (rc = cj_string(entry, "indexType", &type, err)) || (rc = cj_string(entry, "metricType", &metric, err)))
        return rc;
    const cJSON *params = cj_get(entry, "params");
    if (params && !cJSON_IsObject(params)) return pxs_errf(err, PXS_EINVAL, "indexParams.params must be an object");
    if (params) { /* some clients put the type and metric inside params */
        if ((rc = cj_string(params, "index_type", &type, err)) || (rc = cj_string(params, "metric_type", &metric, err)))
            return rc;
    }
    int fi = schema_field_index(s, field);
    if (fi < 0) return pxs_errf(err, PXS_EINVAL, "index on field %s: no such field", field);
    if (fi != s->vec)
        return pxs_errf(err, PXS_EINVAL, "index on field %s: pixseek indexes only the vector field "
                        "(%s)", field, vf->name);
    if ((rc = set_name(out->name, name ? name : field, "indexName", err)) != PXS_OK) return rc;
    snprintf(out->type_name, sizeof out->type_name, "%s", type);
    struct pxs_index_params *ip = &out->params;
    if (!strcasecmp(type, "AUTOINDEX")) {
        ip->type = vf->type == DT_BINARY_VECTOR ? PXS_INDEX_BIN_FLAT : PXS_INDEX_HNSW;
        snprintf(out->type_name, sizeof out->type_name, "AUTOINDEX");
    } else if (pxs_index_type_parse(type, &ip->type) != PXS_OK) {
        return pxs_errf(err, PXS_EINVAL, "indexType \"%s\" is not supported (AUTOINDEX, FLAT, HNSW, "
                        "IVF_FLAT, IVF_SQ8, IVF_PQ, BIN_FLAT, BIN_IVF_FLAT)", type);
    }
    if (pxs_metric_parse(metric, &ip->metric) != PXS_OK)
        return pxs_errf(err, PXS_EINVAL, "metricType \"%s\" is not supported (L2, IP, COSINE, "
                        "HAMMING, JACCARD)", metric);
    ip->dim = vf->dim;
    for (size_t i = 0; params && i < sizeof index_param_keys / sizeof index_param_keys[0]; i++) {
        int64_t v = 0;
        rc = cj_int(params, index_param_keys[i].key, index_param_keys[i].lo, index_param_keys[i].hi, &v, err);
        if (rc != PXS_OK) return rc;
        if (v) *(int *)((char *)ip + index_param_keys[i].off) = (int)v;
    }
    pxs_index *probe;
    struct pxs_err perr = {0};
    rc = pxs_index_new(ip, &probe, &perr);
    if (rc != PXS_OK)
        return pxs_errf(err, PXS_EINVAL, "index %s (%s, %s) on field %s: %s", out->name, type, metric,
                        field, pxs_err_message(&perr, rc));
    pxs_index_free(probe);
    char *pj = params ? cJSON_PrintUnformatted(params) : NULL;
    out->params_json = pxs_strdup(pj ? pj : "{}");
    if (pj) cJSON_free(pj);
    if (!out->params_json) return pxs_errf(err, PXS_ENOMEM, "out of memory");
    out->present = true;
    return PXS_OK;
}

int schema_default_index(const struct coll_schema *s, const char *metric, struct coll_index_spec *out,
                         struct pxs_err *err) {
    cJSON *entry = cJSON_CreateObject();
    if (!entry) return pxs_errf(err, PXS_ENOMEM, "out of memory");
    if (metric && !cJSON_AddStringToObject(entry, "metricType", metric)) {
        cJSON_Delete(entry);
        return pxs_errf(err, PXS_ENOMEM, "out of memory");
    }
    int rc = schema_parse_index(s, entry, out, err);
    cJSON_Delete(entry);
    return rc;
}

int schema_from_request(const cJSON *req, bool stored, struct coll_schema **out, struct pxs_err *err) {
    *out = NULL;
    struct coll_schema *s = pxs_calloc(1, sizeof *s);
    if (!s) return pxs_errf(err, PXS_ENOMEM, "out of memory");
    const char *name = NULL, *desc = "";
    int rc = cj_collection_name(req, &name, err);
    if (rc == PXS_OK) rc = set_name(s->name, name, "collectionName", err);
    if (rc == PXS_OK) rc = cj_string(req, "description", &desc, err);
    if (rc == PXS_OK && !(s->description = pxs_strdup(desc))) rc = pxs_errf(err, PXS_ENOMEM, "out of memory");
    const cJSON *js = cj_get(req, "schema");
    if (rc == PXS_OK && js) {
        if (!cJSON_IsObject(js)) rc = pxs_errf(err, PXS_EINVAL, "schema must be an object");
        if (rc == PXS_OK) rc = cj_bool(js, "autoId", &s->auto_id, err);
        if (rc == PXS_OK) rc = cj_bool(js, "enableDynamicField", &s->dynamic, err);
        const cJSON *fields = rc == PXS_OK ? cj_get(js, "fields") : NULL;
        if (rc == PXS_OK && !cJSON_IsArray(fields))
            rc = pxs_errf(err, PXS_EINVAL, "schema.fields must be an array of fields");
        size_t i = 0;
        for (const cJSON *jf = fields ? fields->child : NULL; rc == PXS_OK && jf; jf = jf->next, i++)
            rc = parse_field(s, jf, i, err);
    } else if (rc == PXS_OK) {
        rc = quick_setup(s, req, err);
    }
    if (rc == PXS_OK) rc = schema_finish(s, err);
    /* partitions: stored ones, or the default */
    const cJSON *parts = stored ? cj_get(req, "partitions") : NULL;
    if (rc == PXS_OK) {
        size_t np = parts ? (size_t)cJSON_GetArraySize(parts) : 1;
        s->parts = pxs_calloc(np ? np : 1, sizeof *s->parts);
        if (!s->parts) rc = pxs_errf(err, PXS_ENOMEM, "out of memory");
        if (!parts) {
            snprintf(s->parts[0].name, sizeof s->parts[0].name, COLL_DEFAULT_PARTITION);
            s->nparts = 1;
            s->next_part_id = 1;
        }
        for (const cJSON *p = parts ? parts->child : NULL; rc == PXS_OK && p; p = p->next) {
            const char *pn = NULL;
            int64_t pid = -1;
            rc = cj_string(p, "name", &pn, err);
            if (rc == PXS_OK) rc = cj_int(p, "id", 0, UINT32_MAX, &pid, err);
            if (rc == PXS_OK && (!pn || pid < 0)) rc = PXS_CORRUPT_BKPT(err, "stored partition");
            if (rc == PXS_OK) rc = set_name(s->parts[s->nparts].name, pn, "partition name", err);
            if (rc == PXS_OK) s->parts[s->nparts++].id = (uint32_t)pid;
        }
        if (stored && rc == PXS_OK) {
            int64_t v = 0;
            rc = cj_int(req, "collectionID", 1, INT64_MAX, &v, err);
            s->id = (uint64_t)v;
            v = 1;
            if (rc == PXS_OK) rc = cj_int(req, "nextPartitionId", 1, UINT32_MAX, &v, err);
            s->next_part_id = (uint32_t)v;
        }
    }
    const cJSON *ips = rc == PXS_OK ? cj_get(req, "indexParams") : NULL;
    if (ips && !cJSON_IsArray(ips)) rc = pxs_errf(err, PXS_EINVAL, "indexParams must be an array");
    if (rc == PXS_OK && ips && cJSON_GetArraySize(ips) > 1)
        rc = pxs_errf(err, PXS_EINVAL, "indexParams: one index per collection (on its vector field)");
    if (rc == PXS_OK && ips && ips->child) {
        rc = schema_parse_index(s, ips->child, &s->index, err);
    } else if (rc == PXS_OK && !ips && !stored) {
        const char *metric = NULL;
        rc = cj_string(req, "metricType", &metric, err);
        if (rc == PXS_OK) rc = schema_default_index(s, metric, &s->index, err);
    }
    if (rc != PXS_OK) {
        schema_free(s);
        return rc;
    }
    *out = s;
    return PXS_OK;
}

struct coll_schema *schema_clone(const struct coll_schema *s, struct pxs_err *err) {
    struct pxs_buf b;
    pxs_buf_init(&b, COLL_MAX_REQUEST);
    struct coll_schema *copy = NULL;
    cJSON *j = NULL;
    if (schema_to_record(s, &b) != PXS_OK || cj_parse(b.data, &j, err) != PXS_OK) {
        pxs_errf(err, PXS_ENOMEM, "out of memory");
    } else if (schema_from_request(j, true, &copy, err) != PXS_OK) {
        copy = NULL;
    }
    cJSON_Delete(j);
    pxs_buf_free(&b);
    return copy;
}

static int write_field(const struct coll_field *f, bool stored_form, struct pxs_buf *b) {
    int rc = pxs_buf_appendf(b, "{\"%s\":", stored_form ? "fieldName" : "name");
    if (rc == PXS_OK) rc = jw_cstr(b, f->name);
    if (rc == PXS_OK) rc = pxs_buf_appendf(b, ",\"%s\":\"%s\"", stored_form ? "dataType" : "type",
                                           dtype_name(f->type));
    if (rc == PXS_OK && f->type == DT_ARRAY)
        rc = pxs_buf_appendf(b, ",\"elementDataType\":\"%s\"", dtype_name(f->elem_type));
    if (rc == PXS_OK) rc = pxs_buf_appendf(b, ",\"%s\":%s,\"nullable\":%s", stored_form ? "isPrimary" : "primaryKey",
                                           f->is_primary ? "true" : "false", f->nullable ? "true" : "false");
    if (rc == PXS_OK && f->def_json) rc = pxs_buf_appendf(b, ",\"defaultValue\":%s", f->def_json);
    const char *pk = stored_form ? "elementTypeParams\":{" : "params\":[";
    bool any = f->dim || f->max_length || f->max_capacity;
    if (rc == PXS_OK && any) rc = pxs_buf_appendf(b, ",\"%s", pk);
    bool first = true;
    const struct { const char *k; uint32_t v; } tp[] = {
        {"dim", f->dim}, {"max_length", f->max_length}, {"max_capacity", f->max_capacity}};
    for (size_t i = 0; rc == PXS_OK && i < 3; i++) {
        if (!tp[i].v) continue;
        if (stored_form)
            rc = pxs_buf_appendf(b, "%s\"%s\":%u", first ? "" : ",", tp[i].k, tp[i].v);
        else
            rc = pxs_buf_appendf(b, "%s{\"key\":\"%s\",\"value\":\"%u\"}", first ? "" : ",", tp[i].k, tp[i].v);
        first = false;
    }
    if (rc == PXS_OK && any) rc = pxs_buf_append(b, stored_form ? "}" : "]", 1);
    return rc == PXS_OK ? pxs_buf_append(b, "}", 1) : rc;
}

static int write_index_entry(const struct coll_schema *s, const struct coll_index_spec *ix, struct pxs_buf *b) {
    int rc = pxs_buf_appendf(b, "{\"fieldName\":");
    if (rc == PXS_OK) rc = jw_cstr(b, s->fields[s->vec].name);
    if (rc == PXS_OK) rc = pxs_buf_appendf(b, ",\"indexName\":");
    if (rc == PXS_OK) rc = jw_cstr(b, ix->name);
    if (rc == PXS_OK)
        rc = pxs_buf_appendf(b, ",\"indexType\":\"%s\",\"metricType\":\"%s\",\"params\":%s}", ix->type_name,
                             pxs_metric_name(ix->params.metric), ix->params_json ? ix->params_json : "{}");
    return rc;
}

int schema_to_record(const struct coll_schema *s, struct pxs_buf *b) {
    int rc = pxs_buf_appendf(b, "{\"collectionName\":");
    if (rc == PXS_OK) rc = jw_cstr(b, s->name);
    if (rc == PXS_OK) rc = pxs_buf_appendf(b, ",\"collectionID\":%llu,\"description\":", (unsigned long long)s->id);
    if (rc == PXS_OK) rc = jw_cstr(b, s->description ? s->description : "");
    if (rc == PXS_OK)
        rc = pxs_buf_appendf(b, ",\"schema\":{\"autoId\":%s,\"enableDynamicField\":%s,\"fields\":[",
                             s->auto_id ? "true" : "false", s->dynamic ? "true" : "false");
    for (size_t i = 0; rc == PXS_OK && i < s->nfields; i++) {
        if (i) rc = pxs_buf_append(b, ",", 1);
        if (rc == PXS_OK) rc = write_field(&s->fields[i], true, b);
    }
    if (rc == PXS_OK) rc = pxs_buf_appendf(b, "]},\"indexParams\":[");
    if (rc == PXS_OK && s->index.present) rc = write_index_entry(s, &s->index, b);
    if (rc == PXS_OK) rc = pxs_buf_appendf(b, "],\"nextPartitionId\":%u,\"partitions\":[", s->next_part_id);
    for (size_t i = 0; rc == PXS_OK && i < s->nparts; i++) {
        rc = pxs_buf_appendf(b, "%s{\"name\":", i ? "," : "");
        if (rc == PXS_OK) rc = jw_cstr(b, s->parts[i].name);
        if (rc == PXS_OK) rc = pxs_buf_appendf(b, ",\"id\":%u}", s->parts[i].id);
    }
    return rc == PXS_OK ? pxs_buf_append(b, "]}", 2) : rc;
}

int index_spec_describe(const struct coll_schema *s, struct pxs_buf *b) {
    return write_index_entry(s, &s->index, b);
}

int schema_describe(const struct coll_schema *s, struct pxs_buf *b) {
    int rc = pxs_buf_appendf(b, "{\"collectionName\":");
    if (rc == PXS_OK) rc = jw_cstr(b, s->name);
    if (rc == PXS_OK) rc = pxs_buf_appendf(b, ",\"collectionID\":%llu,\"description\":", (unsigned long long)s->id);
    if (rc == PXS_OK) rc = jw_cstr(b, s->description ? s->description : "");
    if (rc == PXS_OK)
        rc = pxs_buf_appendf(b, ",\"autoId\":%s,\"enableDynamicField\":%s,\"fields\":[",
                             s->auto_id ? "true" : "false", s->dynamic ? "true" : "false");
    for (size_t i = 0; rc == PXS_OK && i < s->nfields; i++) {
        if (i) rc = pxs_buf_append(b, ",", 1);
        if (rc == PXS_OK) rc = write_field(&s->fields[i], false, b);
        if (rc == PXS_OK && s->fields[i].is_primary && s->auto_id) { /* add "autoId":true inside */
            b->len--;
            rc = pxs_buf_appendf(b, ",\"autoId\":true}");
        }
    }
    if (rc == PXS_OK) rc = pxs_buf_appendf(b, "],\"indexes\":[");
    if (rc == PXS_OK && s->index.present) rc = write_index_entry(s, &s->index, b);
    if (rc == PXS_OK)
        rc = pxs_buf_appendf(b, "],\"load\":\"LoadStateLoaded\",\"partitionsNum\":%zu,\"shardsNum\":1,"
                             "\"consistencyLevel\":\"Strong\",\"properties\":[]}", s->nparts);
    return rc;
}
