/*
 * coll_search.c — entities/search on a collection: batches of query
 * vectors, offset paging, output fields, filter expressions and partitions
 * (evaluated over the stored rows into an allow set handed to the index,
 * which switches to an exact scan of the survivors when few pass), range
 * search and group-by a scalar field.
 */
#include "engine/coll_int.h"

#include <cjson/cJSON.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

struct allow_set {
    uint8_t *bits;
    uint64_t nbits;
    size_t count;
};

static int allow_fn(int64_t id, void *user) {
    const struct allow_set *a = user;
    return id >= 0 && (uint64_t)id < a->nbits && (a->bits[id >> 3] >> (id & 7) & 1);
}

struct allow_ctx {
    struct allow_set *set;
    const struct row_filter *f;
    const uint32_t *parts;
    size_t nparts;
    struct pxs_err *err;
};

static int allow_row(uint64_t rowid, const struct row_view *rv, void *user) {
    struct allow_ctx *ac = user;
    if (rowid >= ac->set->nbits || !coll_part_allowed(ac->parts, ac->nparts, rv->part)) return 0;
    bool match;
    int rc = row_filter_match(ac->f, rv, &match, ac->err);
    if (rc != PXS_OK) return rc;
    if (match) {
        ac->set->bits[rowid >> 3] |= (uint8_t)(1u << (rowid & 7));
        ac->set->count++;
    }
    return 0;
}

/* Query vectors of the request, packed (float or bytes). */
static int parse_queries(const struct coll_schema *s, const cJSON *data, void **out, size_t *nq,
                         struct pxs_err *err) {
    const struct coll_field *f = &s->fields[s->vec];
    bool bin = f->type == DT_BINARY_VECTOR;
    if (!cJSON_IsArray(data) || !data->child)
        return pxs_errf(err, PXS_EINVAL, "data must be a non-empty array of query vectors");
    size_t n = (size_t)cJSON_GetArraySize(data);
    if (n > PXS_COLL_MAX_NQ)
        return pxs_errf(err, PXS_ELIMIT, "%zu query vectors is over the limit of %d", n, PXS_COLL_MAX_NQ);
    size_t vb = schema_vector_bytes(s), dim = bin ? vb : f->dim;
    uint8_t *buf = pxs_mallocarray(n, vb);
    if (!buf) return pxs_errf(err, PXS_ENOMEM, "out of memory");
    size_t q = 0;
    for (const cJSON *v = data->child; v; v = v->next, q++) {
        if (!cJSON_IsArray(v) || (size_t)cJSON_GetArraySize(v) != dim) {
            pxs_free(buf);
            return pxs_errf(err, PXS_EINVAL, "data[%zu]: expected a vector of %zu %s (dim %u)", q, dim,
                            bin ? "bytes" : "numbers", f->dim);
        }
        size_t i = 0;
        for (const cJSON *c = v->child; c; c = c->next, i++) {
            double d = cJSON_IsNumber(c) ? c->valuedouble : NAN;
            bool ok = bin ? (d >= 0 && d <= 255 && d == floor(d)) : (isfinite(d) && fabs(d) <= FLT_MAX);
            if (!ok) {
                pxs_free(buf);
                return pxs_errf(err, PXS_EINVAL, "data[%zu][%zu]: %s", q, i,
                                bin ? "not a byte 0..255" : "not a finite number");
            }
            if (bin) {
                buf[q * vb + i] = (uint8_t)d;
            } else {
                float x = (float)d;
                memcpy(buf + q * vb + 4 * i, &x, 4);
            }
        }
    }
    *out = buf;
    *nq = n;
    return PXS_OK;
}

struct search_req {
    int64_t limit, offset, group_size;
    const char *filter, *group_field;
    bool strict_group;
    int group_fi;
    struct pxs_search_params sp;
    struct out_fields of;
    uint32_t *parts;
    size_t nparts;
};

static int parse_search_params(const struct coll_schema *s, const pxs_index *ix, const cJSON *req,
                               struct search_req *r, struct pxs_err *err) {
    const cJSON *sp = cj_get(req, "searchParams");
    if (sp && !cJSON_IsObject(sp)) return pxs_errf(err, PXS_EINVAL, "searchParams must be an object");
    const char *metric = NULL;
    int rc = sp ? cj_string(sp, "metricType", &metric, err) : PXS_OK;
    if (rc != PXS_OK) return rc;
    if (metric) {
        enum pxs_metric m;
        if (pxs_metric_parse(metric, &m) != PXS_OK)
            return pxs_errf(err, PXS_EINVAL, "searchParams.metricType \"%s\" is not supported", metric);
        if (m != pxs_index_metric(ix))
            return pxs_errf(err, PXS_EINVAL, "metric type %s does not match the index's %s", metric,
                            pxs_metric_name(pxs_index_metric(ix)));
    }
    const cJSON *params = sp ? cj_get(sp, "params") : NULL;
    if (params && !cJSON_IsObject(params)) return pxs_errf(err, PXS_EINVAL, "searchParams.params must be an object");
    int64_t ef = 0, nprobe = 0;
    if (params && ((rc = cj_int(params, "ef", 1, 100000, &ef, err)) ||
                   (rc = cj_int(params, "nprobe", 1, 65536, &nprobe, err))))
        return rc;
    r->sp.ef = (int)ef;
    r->sp.nprobe = (int)nprobe;
    const cJSON *radius = params ? cj_get(params, "radius") : NULL;
    const cJSON *rf = params ? cj_get(params, "range_filter") : NULL;
    if ((radius && !cJSON_IsNumber(radius)) || (rf && !cJSON_IsNumber(rf)))
        return pxs_errf(err, PXS_EINVAL, "radius and range_filter must be numbers");
    if (rf && !radius) return pxs_errf(err, PXS_EINVAL, "range_filter needs radius");
    if (radius) {
        r->sp.range = 1;
        r->sp.radius = (float)radius->valuedouble;
        if (rf) {
            r->sp.has_range_filter = 1;
            r->sp.range_filter = (float)rf->valuedouble;
        }
    }
    (void)s;
    return PXS_OK;
}

static int parse_search(const struct coll_schema *s, const pxs_index *ix, const cJSON *req, struct search_req *r,
                        struct pxs_err *err) {
    memset(r, 0, sizeof *r);
    r->limit = 100;
    r->group_size = 1;
    r->group_fi = -1;
    const char *anns = NULL;
    int rc;
    if ((rc = cj_int(req, "limit", 1, PXS_COLL_MAX_TOPK, &r->limit, err)) ||
        (rc = cj_int(req, "offset", 0, PXS_COLL_MAX_TOPK, &r->offset, err)) ||
        (rc = cj_string(req, "filter", &r->filter, err)) || (rc = cj_string(req, "annsField", &anns, err)) ||
        (rc = cj_string(req, "groupingField", &r->group_field, err)) ||
        (rc = cj_int(req, "groupSize", 1, PXS_COLL_MAX_TOPK, &r->group_size, err)) ||
        (rc = cj_bool(req, "strictGroupSize", &r->strict_group, err)))
        return rc;
    if (r->limit + r->offset > PXS_COLL_MAX_TOPK)
        return pxs_errf(err, PXS_ELIMIT, "offset + limit is %lld, over the limit of %d",
                        (long long)(r->limit + r->offset), PXS_COLL_MAX_TOPK);
    if (anns && strcmp(anns, s->fields[s->vec].name))
        return pxs_errf(err, PXS_EINVAL, "annsField %s is not the vector field of %s (%s)", anns, s->name,
                        s->fields[s->vec].name);
    if (r->group_field) {
        r->group_fi = schema_field_index(s, r->group_field);
        int t = r->group_fi >= 0 ? s->fields[r->group_fi].type : 0;
        if (t != DT_BOOL && t != DT_INT8 && t != DT_INT16 && t != DT_INT32 && t != DT_INT64 && t != DT_VARCHAR)
            return pxs_errf(err, PXS_EINVAL, "groupingField %s must be a Bool, Int or VarChar field of %s",
                            r->group_field, s->name);
        if (r->group_size * (r->limit + r->offset) > PXS_COLL_MAX_TOPK)
            return pxs_errf(err, PXS_ELIMIT, "groupSize * (offset + limit) is over the limit of %d",
                            PXS_COLL_MAX_TOPK);
    }
    rc = parse_search_params(s, ix, req, r, err);
    if (rc == PXS_OK) rc = out_fields_parse(s, cj_get(req, "outputFields"), &r->of, err);
    if (rc == PXS_OK && r->of.count) rc = pxs_errf(err, PXS_EINVAL, "count(*) is for query, not search");
    if (rc == PXS_OK) rc = coll_parts_resolve(s, req, &r->parts, &r->nparts, err);
    return rc;
}

struct hitrow {
    struct pxs_hit hit;
    uint32_t group; /* index of its group */
};

static int search_one(const pxs_index *ix, const void *q, size_t k, const struct pxs_search_params *sp,
                      struct pxs_hit *hits, size_t *n, struct pxs_err *err) {
    if (pxs_index_is_binary(ix)) return pxs_index_search_binary(ix, q, k, sp, hits, n, err);
    return pxs_index_search_ex(ix, q, k, sp, hits, n, err);
}

/* ---- parallel index searches for a batch of query vectors ----------------
 * The index searches of a multi-vector request run on all cores (the index
 * allows concurrent searches; the allow set is read-only); the rows are then
 * read and written out in query order by the calling thread, which owns the
 * store transaction. */

#define PARALLEL_MAX_HITS (4u << 20) /* hits buffered for one request (64 MiB) */

struct batch_search {
    const pxs_index *ix;
    const void *queries;
    size_t vb, nq, k;
    const struct pxs_search_params *sp;
    struct pxs_hit *hits; /* nq * k */
    size_t *n_hits;       /* nq */
    size_t next;          /* next query to take (under mu) */
    int rc;               /* first error (under mu) */
    struct pxs_err err;
    pthread_mutex_t mu;
};

static void *batch_worker(void *arg) {
    struct batch_search *b = arg;
    for (;;) {
        pthread_mutex_lock(&b->mu);
        size_t qi = b->rc == PXS_OK ? b->next++ : b->nq;
        pthread_mutex_unlock(&b->mu);
        if (qi >= b->nq) return NULL;
        struct pxs_err e;
        pxs_err_clear(&e);
        int rc = search_one(b->ix, (const char *)b->queries + qi * b->vb, b->k, b->sp,
                            b->hits + qi * b->k, &b->n_hits[qi], &e);
        if (rc != PXS_OK) {
            pthread_mutex_lock(&b->mu);
            if (b->rc == PXS_OK) {
                b->rc = rc;
                b->err = e;
            }
            pthread_mutex_unlock(&b->mu);
        }
    }
}

/* Search every query; *hits (nq * k) and *n_hits (nq): caller frees with
 * pxs_free. *hits stays NULL when there is nothing to gain or the batch is
 * too large to buffer: the caller then searches query by query. */
static int search_batch(const pxs_index *ix, const void *queries, size_t vb, size_t nq, size_t k,
                        const struct pxs_search_params *sp, struct pxs_hit **hits,
                        size_t **n_hits, struct pxs_err *err) {
    *hits = NULL;
    *n_hits = NULL;
    if (nq < 2 || k == 0 || nq > PARALLEL_MAX_HITS / k) return PXS_OK;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    size_t n_threads = cpus < 1 ? 1 : cpus > 64 ? 64 : (size_t)cpus;
    if (n_threads > nq) n_threads = nq;
    if (n_threads < 2) return PXS_OK;
    struct batch_search b = {ix, queries, vb, nq, k, sp, NULL, NULL, 0, PXS_OK, {0}, PTHREAD_MUTEX_INITIALIZER};
    b.hits = pxs_mallocarray(nq * k, sizeof *b.hits);
    b.n_hits = pxs_calloc(nq, sizeof *b.n_hits);
    if (!b.hits || !b.n_hits) {
        pxs_free(b.hits);
        pxs_free(b.n_hits);
        return PXS_OK; /* search query by query instead */
    }
    pthread_t threads[64];
    size_t started = 0;
    for (size_t i = 1; i < n_threads; i++)
        if (pthread_create(&threads[started], NULL, batch_worker, &b) == 0) started++;
    batch_worker(&b); /* the calling thread works too */
    for (size_t i = 0; i < started; i++) pthread_join(threads[i], NULL);
    pthread_mutex_destroy(&b.mu);
    if (b.rc != PXS_OK) {
        pxs_free(b.hits);
        pxs_free(b.n_hits);
        *err = b.err;
        return b.rc;
    }
    *hits = b.hits;
    *n_hits = b.n_hits;
    return PXS_OK;
}

static int write_hit(struct pxs_buf *out, const struct coll_schema *s, const struct row_view *rv,
                     const struct search_req *r, float score, unsigned flags, bool comma) {
    bool first = true;
    int rc = pxs_buf_append(out, comma ? ",{" : "{", comma ? 2 : 1);
    if (rc == PXS_OK) rc = row_write_fields(s, rv, &r->of, flags, &first, out);
    if (rc == PXS_OK) rc = pxs_buf_appendf(out, ",\"distance\":%.9g}", score);
    return rc;
}

/* Group of a row: a 64-bit hash of its grouping value (the field's type is
 * fixed, so values of one search are all ints, bools or strings). */
static uint64_t group_hash(const struct cell *c) {
    if (c->tag == CELL_STRING) return pxs_hash64(c->s, c->len);
    uint8_t b[9] = {c->tag};
    pxs_put_le(b + 1, (uint64_t)c->i, 8);
    return pxs_hash64(b, sizeof b);
}

struct group {
    uint64_t hash;
    size_t n;
};

/* Search with grouping: widen k until enough groups (and full groups when
 * strict) are found or every row was seen. Writes hits best group first. */
static int search_grouped(const struct coll_schema *s, const pxs_index *ix, pxs_store_txn *txn, const void *q,
                          const struct search_req *r, struct row_view *rv, unsigned flags, struct pxs_buf *out,
                          bool *comma, struct pxs_err *err) {
    size_t want = (size_t)(r->offset + r->limit), total = pxs_index_count(ix);
    size_t k = want * (size_t)r->group_size * 4 + 16;
    struct pxs_hit *hits = NULL;
    struct group *groups = NULL;
    uint32_t *hit_group = NULL;
    size_t ng = 0, n = 0;
    int rc = PXS_OK;
    for (;;) {
        if (k > total) k = total ? total : 1;
        pxs_free(hits);
        pxs_free(hit_group);
        hits = pxs_mallocarray(k, sizeof *hits);
        hit_group = pxs_mallocarray(k, sizeof *hit_group);
        if (!groups) groups = pxs_calloc(want, sizeof *groups);
        if (!hits || !hit_group || !groups) {
            rc = pxs_errf(err, PXS_ENOMEM, "out of memory");
            break;
        }
        rc = search_one(ix, q, k, &r->sp, hits, &n, err);
        if (rc != PXS_OK) break;
        ng = 0;
        bool all_full = true;
        for (size_t i = 0; i < n && rc == PXS_OK; i++) {
            hit_group[i] = UINT32_MAX;
            int gr = coll_get_row(txn, s, (uint64_t)hits[i].id, rv, err);
            if (gr == PXS_ENOTFOUND) continue;
            if ((rc = gr) != PXS_OK) break;
            uint64_t h = group_hash(&rv->cells[r->group_fi]);
            size_t g = 0;
            while (g < ng && groups[g].hash != h) g++;
            if (g == ng) {
                if (ng == want) continue;
                groups[ng].hash = h;
                groups[ng++].n = 0;
            }
            if (groups[g].n < (size_t)r->group_size) {
                groups[g].n++;
                hit_group[i] = (uint32_t)g;
            }
        }
        for (size_t g = 0; g < ng; g++)
            if (groups[g].n < (size_t)r->group_size) all_full = false;
        if (rc != PXS_OK || k >= total || (ng == want && (!r->strict_group || all_full))) break;
        k *= 4;
    }
    for (size_t g = (size_t)r->offset; rc == PXS_OK && g < ng; g++) {
        for (size_t i = 0; rc == PXS_OK && i < n; i++) {
            if (hit_group[i] != g) continue;
            rc = coll_get_row(txn, s, (uint64_t)hits[i].id, rv, err);
            if (rc == PXS_OK) rc = write_hit(out, s, rv, r, hits[i].score, flags, *comma);
            *comma = true;
        }
    }
    pxs_free(hits);
    pxs_free(hit_group);
    pxs_free(groups);
    return rc;
}

int pxs_coll_search(pxs_engine *engine, const char *json, unsigned flags, char **out_json, struct pxs_err *err) {
    API_OUT_INIT(out_json);
    struct api a;
    int rc = coll_read_begin(engine, json, &a, err);
    bool locked = rc == PXS_OK;
    const struct coll_schema *s = locked ? a.c->schema : NULL;
    const pxs_index *ix = locked ? a.c->index : NULL;
    if (rc == PXS_OK && !ix)
        rc = pxs_errf(err, PXS_EINVAL, "collection %s has no index on %s: create one (indexes/create)", s->name,
                      s->fields[s->vec].name);
    struct search_req r = {0};
    if (rc == PXS_OK) rc = parse_search(s, ix, a.req, &r, err);
    void *queries = NULL;
    size_t nq = 0;
    if (rc == PXS_OK) rc = parse_queries(s, cj_get(a.req, "data"), &queries, &nq, err);
    struct row_filter f = {0};
    if (rc == PXS_OK) rc = row_filter_compile(s, r.filter, &f, err);
    pxs_store_txn *txn = NULL;
    if (rc == PXS_OK) rc = pxs_store_begin(a.db->store, 0, &txn, err);
    struct allow_set allow = {0};
    if (rc == PXS_OK && !f.constant_false && (f.expr || r.nparts)) {
        allow.nbits = a.c->covered_rowid;
        allow.bits = pxs_calloc(allow.nbits / 8 + 1, 1);
        if (!allow.bits) rc = pxs_errf(err, PXS_ENOMEM, "out of memory");
        struct allow_ctx ac = {&allow, &f, r.parts, r.nparts, err};
        if (rc == PXS_OK) rc = coll_scan_rows(txn, s, allow_row, &ac, err);
        r.sp.allow = allow_fn;
        r.sp.allow_user = &allow;
        r.sp.allow_count = allow.count;
    }
    size_t k = (size_t)(r.offset + r.limit);
    struct pxs_hit *hits = rc == PXS_OK ? pxs_mallocarray(k, sizeof *hits) : NULL;
    struct row_view rv = {0};
    rv.cells = rc == PXS_OK ? pxs_calloc(s->nfields, sizeof *rv.cells) : NULL;
    if (rc == PXS_OK && (!hits || !rv.cells)) rc = pxs_errf(err, PXS_ENOMEM, "out of memory");
    bool flat = flags & PXS_COLL_FLAT_SEARCH, comma = false;
    size_t vb = s ? schema_vector_bytes(s) : 0;
    if (rc == PXS_OK) rc = pxs_buf_append(&a.out, "[", 1);
    bool none = f.constant_false || (r.sp.allow && allow.count == 0);
    struct pxs_hit *batch_hits = NULL;
    size_t *batch_n = NULL;
    if (rc == PXS_OK && !none && r.group_fi < 0)
        rc = search_batch(ix, queries, vb, nq, k, &r.sp, &batch_hits, &batch_n, err);
    for (size_t qi = 0; rc == PXS_OK && qi < nq; qi++) {
        const void *q = (const char *)queries + qi * vb;
        if (!flat) {
            rc = pxs_buf_append(&a.out, qi ? ",[" : "[", qi ? 2 : 1);
            comma = false;
        }
        if (rc == PXS_OK && !none && r.group_fi >= 0) {
            rc = search_grouped(s, ix, txn, q, &r, &rv, flags, &a.out, &comma, err);
        } else if (rc == PXS_OK && !none) {
            size_t n = 0;
            const struct pxs_hit *qh = hits;
            if (batch_hits) {
                qh = batch_hits + qi * k;
                n = batch_n[qi];
            } else {
                rc = search_one(ix, q, k, &r.sp, hits, &n, err);
            }
            for (size_t i = (size_t)r.offset; rc == PXS_OK && i < n; i++) {
                int gr = coll_get_row(txn, s, (uint64_t)qh[i].id, &rv, err);
                if (gr == PXS_ENOTFOUND) continue; /* deleted since the index was read */
                rc = gr;
                if (rc == PXS_OK) rc = write_hit(&a.out, s, &rv, &r, qh[i].score, flags, comma);
                comma = true;
            }
        }
        if (rc == PXS_OK && !flat) rc = pxs_buf_append(&a.out, "]", 1);
    }
    if (rc == PXS_OK) rc = pxs_buf_append(&a.out, "]", 1);
    if (rc == PXS_ELIMIT) rc = pxs_errf(err, rc, "search result too large");
    pxs_store_abort(txn);
    pxs_free(allow.bits);
    pxs_free(batch_hits);
    pxs_free(batch_n);
    pxs_free(hits);
    pxs_free(rv.cells);
    pxs_free(queries);
    pxs_free(r.parts);
    out_fields_free(&r.of);
    row_filter_free(&f);
    return coll_read_end(&a, rc, locked, out_json, err);
}
