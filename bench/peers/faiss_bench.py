#!/usr/bin/python3
"""bench/peers/faiss_bench.py -- the FAISS side of bench/ann.sh: the same
Fashion-MNIST protocol as bench/ann_bench.c (L2, one query at a time, one
thread, k = 10, recall@10 against the shared ground truth) for IndexHNSWFlat,
IndexIVFFlat and IndexIVFPQ (Debian python3-faiss), plus the exact
IndexFlatL2 scan for the memory-bandwidth line.

  /usr/bin/python3 bench/peers/faiss_bench.py DATA_DIR GT N_QUERIES

Prints the same BUILD / RESULT / FLATSCAN lines as ann_bench (wall-clock and
thread CPU time, time.thread_time). Memory is the
size of the serialized index. Each query is a separate index.search() call
from Python, which adds a few microseconds per query (measured and printed
as "python call overhead").
"""
import gzip
import struct
import sys
import time

import faiss
import numpy as np


def load_idx3(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic, n, rows, cols = struct.unpack(">IIII", data[:16])
    assert magic == 0x803
    return np.frombuffer(data, dtype=np.uint8, offset=16).reshape(n, rows * cols).astype(np.float32)


def load_ivecs(path):
    a = np.fromfile(path, dtype=np.int32)
    k = a[0]
    return a.reshape(-1, k + 1)[:, 1:]


def sweep(name, index, queries, gt, pname, values, setter):
    for v in values:
        setter(v)
        for i in range(min(100, len(queries))):
            index.search(queries[i:i + 1], 10)
        t, tc = 1e30, 1e30
        for run in range(3):  # best of 3 passes, as ann_bench.c
            found = 0
            t0, c0 = time.perf_counter(), time.thread_time()
            for i in range(len(queries)):
                _, ids = index.search(queries[i:i + 1], 10)
                found += len(np.intersect1d(ids[0], gt[i, :10]))
            t, tc = min(t, time.perf_counter() - t0), min(tc, time.thread_time() - c0)
        print("RESULT %s %s=%d %.4f %.1f %.1f" % (name, pname, v, found / (10.0 * len(queries)),
                                                  len(queries) / t, len(queries) / tc), flush=True)


def build(name, index, base, train=False):
    t0, c0 = time.perf_counter(), time.thread_time()
    if train:
        index.train(base)
    index.add(base)
    t, tc = time.perf_counter() - t0, time.thread_time() - c0
    mem = len(faiss.serialize_index(index))
    print("%s: build %.1f s (%.1f s CPU, 1 thread), memory %.1f MiB (serialized)"
          % (name, t, tc, mem / 1048576.0))
    print("BUILD %s %.2f %d %.2f" % (name, t, mem, tc), flush=True)


def main():
    data_dir, gt_path, nq = sys.argv[1], sys.argv[2], int(sys.argv[3])
    faiss.omp_set_num_threads(1)
    base = load_idx3(data_dir + "/train-images-idx3-ubyte.gz")
    queries = np.ascontiguousarray(load_idx3(data_dir + "/t10k-images-idx3-ubyte.gz")[:nq])
    gt = load_ivecs(gt_path)[:nq]
    d = base.shape[1]
    print("faiss %s, %d base x %d-d, %d queries" % (faiss.__version__, len(base), d, nq))

    # Per-call Python overhead, for reading the QPS numbers.
    idx = faiss.IndexFlatL2(d)
    t0 = time.perf_counter()
    for i in range(2000):
        idx.search(queries[:1], 10)
    print("python call overhead: %.1f us/query (empty index)" % ((time.perf_counter() - t0) / 2000 * 1e6))

    name = "faiss-hnsw(M=16,efC=200)"
    h = faiss.IndexHNSWFlat(d, 16)
    h.hnsw.efConstruction = 200
    build(name, h, base)
    sweep(name, h, queries, gt, "ef", [10, 12, 14, 16, 20, 24, 32, 48, 64, 96, 128, 256],
          lambda v: setattr(h.hnsw, "efSearch", v))
    del h

    name = "faiss-ivf_flat(nlist=256)"
    q = faiss.IndexFlatL2(d)
    ivf = faiss.IndexIVFFlat(q, d, 256)
    build(name, ivf, base, train=True)
    sweep(name, ivf, queries, gt, "nprobe", [1, 2, 4, 8, 16, 32, 64],
          lambda v: setattr(ivf, "nprobe", v))
    del ivf

    name = "faiss-ivf_pq(nlist=256,m=56,nbits=8)"
    q2 = faiss.IndexFlatL2(d)
    pq = faiss.IndexIVFPQ(q2, d, 256, 56, 8)
    build(name, pq, base, train=True)
    sweep(name, pq, queries, gt, "nprobe", [1, 2, 4, 8, 16, 32, 64],
          lambda v: setattr(pq, "nprobe", v))
    del pq

    flat = faiss.IndexFlatL2(d)
    flat.add(base)
    n = min(200, nq)
    t0, c0 = time.perf_counter(), time.thread_time()
    for i in range(n):
        flat.search(queries[i:i + 1], 10)
    t, tc = time.perf_counter() - t0, time.thread_time() - c0
    gbs = n * base.nbytes / t / 1e9
    print("FLATSCAN faiss-flat %.3f %.2f %.2f" % (t * 1e3 / n, gbs, n * base.nbytes / tc / 1e9),
          flush=True)


if __name__ == "__main__":
    main()
