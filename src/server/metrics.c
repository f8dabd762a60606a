/*
 * metrics.c — request counters and latency histograms per route, kept in
 * lock-free atomics (one slot per route-table entry, plus one for requests
 * that matched no route), rendered by GET /metrics (routes_meta.c).
 */
#include "server/server_int.h"

const double pxs__bucket_seconds[PXS__N_BUCKETS] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                    0.1,   0.25,   0.5,   1.0,  2.5,   10.0};

void pxs__metrics_observe(struct pxs__server *srv, size_t ri, int status, uint64_t ns) {
    if (!srv || !srv->metrics) return;
    if (ri > pxs__n_routes) ri = pxs__n_routes;
    struct pxs__route_metrics *m = &srv->metrics[ri];
    int cls = status >= 100 && status < 600 ? status / 100 : 0;
    atomic_fetch_add(&m->by_class[cls], 1);
    double s = (double)ns / 1e9;
    size_t b = 0;
    while (b < PXS__N_BUCKETS && s > pxs__bucket_seconds[b]) b++;
    atomic_fetch_add(&m->buckets[b], 1);
    atomic_fetch_add(&m->sum_us, ns / 1000);
}
