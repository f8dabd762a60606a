#!/usr/bin/python3
"""bench/top5_compare.py — top-5 agreement between two sets of ImageNet logits.

  top5_compare.py NAMES.txt REFERENCE.f32 OURS.f32 [--labels imagenet1k_labels.tsv]
                  [--fixture OUT.txt --fixture-count K]

NAMES.txt has one image per line; the .f32 files hold one row of 1000
float32 logits per image (little-endian), REFERENCE from ONNX Runtime, OURS
from pixseek. Prints, over all images: exact top-5 agreement (same 5 labels
in the same order), same top-5 set, top-1 agreement, worst max |logit diff|,
and the disagreeing images. Ties (logits equal to float precision) cannot
change the order of distinct values, so an order difference is reported as a
disagreement.

--fixture writes the reference top-5 of the first K images whose six best
logits are all at least 0.01 apart (no near ties) as the test fixture read
by tests/integration/test_top5.sh ("path i1 i2 i3 i4 i5" per line, class
indices in the standard order). Generated, never edited by hand.
"""
import argparse
import sys

import numpy as np


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('names')
    ap.add_argument('reference')
    ap.add_argument('ours')
    ap.add_argument('--labels')
    ap.add_argument('--fixture')
    ap.add_argument('--fixture-count', type=int, default=8)
    ap.add_argument('--fixture-header', default='')
    a = ap.parse_args()
    names = [l.strip() for l in open(a.names) if l.strip()]
    ref = np.fromfile(a.reference, dtype='<f4').reshape(len(names), -1)
    labels = [l.rstrip('\n').split('\t')[1] for l in open(a.labels)] if a.labels else None
    top_ref = np.argsort(-ref, axis=1, kind='stable')[:, :5]
    if a.fixture:
        with open(a.fixture, 'w') as f:
            f.write(a.fixture_header)
            kept = 0
            for i in range(len(names)):
                top6 = -np.sort(-ref[i])[:6]
                if np.diff(-top6).min() < 0.01 or kept == a.fixture_count:
                    continue  # a near tie could flip on rounding: not a stable fixture
                f.write(names[i] + ' ' + ' '.join(str(int(c)) for c in top_ref[i]) + '\n')
                kept += 1
        print(f'wrote {a.fixture}')
        return
    ours = np.fromfile(a.ours, dtype='<f4').reshape(len(names), -1)
    if ours.shape != ref.shape:
        sys.exit(f'shape mismatch: {ours.shape} vs {ref.shape}')
    top_ours = np.argsort(-ours, axis=1, kind='stable')[:, :5]
    exact = (top_ref == top_ours).all(axis=1)
    same_set = np.array([set(r) == set(o) for r, o in zip(top_ref, top_ours)])
    top1 = top_ref[:, 0] == top_ours[:, 0]
    diff = np.abs(ref - ours).max(axis=1)
    n = len(names)
    print(f'images {n}: top-5 exact (same labels, same order) {exact.sum()}/{n}, '
          f'same top-5 set {same_set.sum()}/{n}, top-1 {top1.sum()}/{n}, '
          f'max |logit diff| {diff.max():.3g} (median {np.median(diff):.3g})')
    for i in np.nonzero(~exact)[0]:
        lr = [labels[c] if labels else str(c) for c in top_ref[i]]
        lo = [labels[c] if labels else str(c) for c in top_ours[i]]
        gaps = np.diff(-np.sort(-ref[i])[:6])
        print(f'  differs: {names[i]}: ort {lr} / pixseek {lo} (ort gaps between ranks {np.abs(gaps).round(5).tolist()})')
    if labels:
        print('examples:', '; '.join(f'{names[i].rsplit("/", 1)[-1]}={labels[top_ref[i][0]]}' for i in range(0, n, max(1, n // 6))))


if __name__ == '__main__':
    main()
