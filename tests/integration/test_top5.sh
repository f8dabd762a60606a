# tests/integration/test_top5.sh — regression guard for the CNN runtime on
# real photos, without ONNX Runtime: pixseek's top-5 ImageNet classes (its own
# decoding, preprocessing and inference of the shared MobileNetV2 classifier)
# must equal, label for label and in order, the top-5 that ONNX Runtime gave
# on the same photos, stored in top5_ort.txt by `sh bench/top5_eval.sh
# --fixture` (photos without near ties among their six best classes).
source "$(dirname "$0")/lib.sh"
need_shared models/mobilenet_v2_classifier.onnx
here=$(cd "$(dirname "$0")" && pwd)
CFG=$here/../../models/mobilenet_v2_classifier.onnx.json
mapfile -t rows < <(grep -v '^#' "$here/top5_ort.txt")
(( ${#rows[@]} >= 8 )) || fail "fixture has ${#rows[@]} photos"
files=()
for r in "${rows[@]}"; do
  files+=("$PXS_SHARED/data/${r%% *}")
  need_shared "data/${r%% *}"
done
"$PXS_BIN" embed --model "$PXS_SHARED/models/mobilenet_v2_classifier.onnx" --model-config "$CFG" \
  --format f32 -o "$WORK/logits.f32" "${files[@]}" || fail "embed"
"$PY" - "$WORK/logits.f32" "$here/top5_ort.txt" <<'PYEOF' || fail "top-5 differs from ONNX Runtime's"
import struct, sys
rows = [l.split() for l in open(sys.argv[2]) if l.strip() and not l.startswith('#')]
data = open(sys.argv[1], 'rb').read()
assert len(data) == 4000 * len(rows), f'{len(data)} bytes of logits for {len(rows)} photos'
bad = 0
for i, r in enumerate(rows):
    v = struct.unpack_from('1000f', data, 4000 * i)
    top = sorted(range(1000), key=lambda c: -v[c])[:5]
    want = [int(c) for c in r[1:6]]
    if top != want:
        bad += 1
        print(f'{r[0]}: pixseek {top}, onnxruntime {want}')
sys.exit(1 if bad else 0)
PYEOF
pass "top-5 of ${#rows[@]} photos equals ONNX Runtime's (corel, flowers, near-duplicates)"
