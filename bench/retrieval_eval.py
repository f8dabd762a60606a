#!/usr/bin/env python3
"""bench/retrieval_eval.py — class-level retrieval quality from pixseek's own
search output: leave-one-out (the query itself is excluded), exhaustive
ranking, relevant = same class. Reads `pixseek search --json -k N` lines
(N >= collection size) and a labels.tsv (path, class_id, class_name).

  pixseek index --data D ../shared/data/corel1k_wang/images
  pixseek search --data D --json -k 1000 ../shared/data/corel1k_wang/images/*.jpg > s.jsonl
  /usr/bin/python3 bench/retrieval_eval.py ../shared/data/corel1k_wang/labels.tsv s.jsonl
"""
import json
import os
import sys


def main():
    labels_path, results_path = sys.argv[1], sys.argv[2]
    labels = {}
    rows = open(labels_path).read().splitlines()
    header = rows[0].split("\t")
    col = header.index("class_name") if "class_name" in header else 1
    for line in rows[1:]:
        fields = line.split("\t")
        labels[os.path.basename(fields[0])] = fields[col]
    aps, p10s = [], []
    for line in open(results_path):
        r = json.loads(line)
        q = os.path.basename(r["query"])
        if q not in labels or "results" not in r:
            continue
        ranked = [os.path.basename(m["path"]) for m in r["results"]]
        ranked = [h for h in ranked if h != q and h in labels]
        n_rel = sum(1 for k, v in labels.items() if v == labels[q] and k != q)
        hits, ap = 0, 0.0
        for i, h in enumerate(ranked):
            if labels[h] == labels[q]:
                hits += 1
                ap += hits / (i + 1)
        aps.append(ap / n_rel if n_rel else 0.0)
        p10s.append(sum(labels[h] == labels[q] for h in ranked[:10]) / 10)
    print(f"queries {len(aps)}  mAP {sum(aps) / len(aps):.4f}  P@10 {sum(p10s) / len(p10s):.4f}")


if __name__ == "__main__":
    main()
