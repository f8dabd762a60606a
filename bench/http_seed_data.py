#!/usr/bin/python3
"""bench/http_seed_data.py — load the Python peer (shared/baselines/seed_replica) with the same vectors
pixseek holds, in the peer's own on-disk formats (stores.py): DATA/<table>.faiss (IndexFlatIP, ids 0..N-1
in order) and DATA/meta.db (sqlite table <table>(milvus_id, image_path)).

usage: http_seed_data.py VECTORS.f32 PATHS.txt DIM DATA_DIR [TABLE]"""
import os
import sqlite3
import sys

import faiss
import numpy as np

vec_file, path_file, dim, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
table = sys.argv[5] if len(sys.argv) > 5 else "milvus_img_search"
x = np.fromfile(vec_file, dtype="<f4").reshape(-1, dim)
paths = [l.rstrip("\n") for l in open(path_file)]
assert len(paths) == x.shape[0], (len(paths), x.shape)
os.makedirs(out, exist_ok=True)
idx = faiss.IndexFlatIP(dim)
idx.add(np.ascontiguousarray(x))
faiss.write_index(idx, os.path.join(out, table + ".faiss"))
db = sqlite3.connect(os.path.join(out, "meta.db"))
db.execute("DROP TABLE IF EXISTS %s" % table)
db.execute("CREATE TABLE %s (milvus_id INTEGER PRIMARY KEY, image_path TEXT)" % table)
db.executemany("INSERT INTO %s VALUES (?, ?)" % table, list(enumerate(paths)))
db.commit()
print("seed data: %d vectors of dim %d in %s" % (x.shape[0], dim, out))
