#!/usr/bin/python3
"""bench/peers/hnswlib_import.py — the hnswlib side of bench/import.sh:
load Fashion-MNIST from the Debian IDX files, build an HNSW index (L2, same
M and efConstruction as pixseek), run the 10k test queries at each ef with
knn_query, and print recall@10 against the shared ground truth.

usage: hnswlib_import.py DATA_DIR GT.ivecs M EFC BUILD_THREADS QUERY_THREADS EF[,EF...]
prints: BUILD hnswlib <wall s> <cpu s>
        RESULT hnswlib ef=<ef> <recall@10> <qps> <cpu s>
"""
import gzip, sys, time
import numpy as np
import hnswlib


def idx(path):
    raw = gzip.open(path).read()
    nd = raw[3]
    dims = np.frombuffer(raw[4:4 + 4 * nd], dtype=">u4")
    return np.frombuffer(raw[4 + 4 * nd:], dtype=np.uint8).reshape(int(dims[0]), -1)


def main():
    data, gt_path, m, efc, bthreads, qthreads, efs = sys.argv[1:8]
    t0, c0 = time.time(), time.process_time()
    train = idx(data + "/train-images-idx3-ubyte.gz").astype(np.float32)
    test = idx(data + "/t10k-images-idx3-ubyte.gz").astype(np.float32)
    p = hnswlib.Index(space="l2", dim=train.shape[1])
    p.init_index(max_elements=len(train), M=int(m), ef_construction=int(efc), random_seed=100)
    p.add_items(train, np.arange(len(train)), num_threads=int(bthreads))
    print("BUILD hnswlib %.3f %.3f" % (time.time() - t0, time.process_time() - c0), flush=True)
    gt = np.fromfile(gt_path, dtype=np.int32).reshape(-1, 101)[:, 1:11]
    for ef in efs.split(","):
        p.set_ef(int(ef))
        t0, c0 = time.time(), time.process_time()
        labels, _ = p.knn_query(test, k=10, num_threads=int(qthreads))
        wall, cpu = time.time() - t0, time.process_time() - c0
        recall = np.mean([len(set(labels[i]) & set(gt[i])) / 10.0 for i in range(len(test))])
        print("RESULT hnswlib ef=%s %.4f %.1f %.3f" % (ef, recall, len(test) / wall, cpu), flush=True)


main()
