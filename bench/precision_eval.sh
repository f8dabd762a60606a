#!/bin/sh
# bench/precision_eval.sh — what the bf16 mode costs in quality, measured
# through the CLI on Corel-1k (../shared/data/corel1k_wang, 1000 photos in
# 10 classes) with the reference MobileNetV2:
#   1. embedding agreement: `pixseek embed --precision fp32|bf16` of every
#      photo (C preprocessing + model), cosine of each bf16 vector to its
#      fp32 one (mean, minimum, 1st percentile);
#   2. retrieval: a data directory indexed at each precision, every photo
#      searched (`pixseek search --json -k 1000`), leave-one-out mAP and P@10
#      by class (bench/retrieval_eval.py), plus bf16 queries against the
#      fp32-indexed directory (a query precision other than the collection's).
#
#   sh bench/precision_eval.sh            (~1-2 minutes on 2 cores)
# Needs a built pixseek (make); PIXSEEK=path overrides it. Scratch in
# $SCRATCH (default /tmp/pxs_precision_eval), removed and rebuilt each run.
set -e
cd "$(dirname "$0")/.."
PIXSEEK=${PIXSEEK:-build/release-cc/pixseek}
SCRATCH=${SCRATCH:-/tmp/pxs_precision_eval}
COREL=../shared/data/corel1k_wang
MODEL=../shared/models/mobilenet_v2_embed.onnx
PY=/usr/bin/python3
[ -x "$PIXSEEK" ] || { echo "no $PIXSEEK: run make first" >&2; exit 1; }
[ -d "$COREL/images" ] && [ -f "$MODEL" ] || { echo "needs $COREL and $MODEL" >&2; exit 1; }
rm -rf "$SCRATCH"
mkdir -p "$SCRATCH"
M="--model $MODEL --model-config models/mobilenet_v2_embed.onnx.json"
echo "# $(date -u +%FT%TZ) $(nproc) cpus, load: $(cut -d' ' -f1-3 /proc/loadavg)"
for p in fp32 bf16; do
    # shellcheck disable=SC2086
    "$PIXSEEK" embed $M --precision "$p" --format f32 -o "$SCRATCH/$p.f32" "$COREL"/images/*.jpg
    # shellcheck disable=SC2086
    "$PIXSEEK" index --data "$SCRATCH/data-$p" $M --precision "$p" "$COREL/images" >/dev/null
    "$PIXSEEK" stats --data "$SCRATCH/data-$p" | grep "^precision" | sed "s/^/# data-$p: /"
    "$PIXSEEK" search --data "$SCRATCH/data-$p" --json -k 1000 "$COREL"/images/*.jpg >"$SCRATCH/$p.jsonl"
done
"$PIXSEEK" search --data "$SCRATCH/data-fp32" --precision bf16 --json -k 1000 "$COREL"/images/*.jpg \
    >"$SCRATCH/bf16-on-fp32.jsonl"
$PY - "$SCRATCH/fp32.f32" "$SCRATCH/bf16.f32" <<'PYEOF'
import sys
import numpy as np
a = np.fromfile(sys.argv[1], "<f4").reshape(-1, 1280)
b = np.fromfile(sys.argv[2], "<f4").reshape(-1, 1280)
c = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
print(f"embedding cosine bf16 vs fp32 over {len(c)} images: mean {c.mean():.6f}  "
      f"min {c.min():.6f}  1st percentile {np.percentile(c, 1):.6f}")
PYEOF
for r in fp32 bf16 bf16-on-fp32; do
    printf 'retrieval %-13s ' "$r:"
    $PY bench/retrieval_eval.py "$COREL/labels.tsv" "$SCRATCH/$r.jsonl"
done
