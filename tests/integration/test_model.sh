# tests/integration/test_model.sh — CNN embeddings through the binary:
# `pixseek embed --tensor` on the reference model matches the reference
# embedding and logits; indexing and searching with --model; the data
# directory remembers its model; mismatches and bad descriptions are refused
# with clear messages.
source "$(dirname "$0")/lib.sh"
need_shared models/mobilenet_v2_embed.onnx
M=$PXS_SHARED/models
CFG=$(cd "$(dirname "$0")/../.." && pwd)/models/mobilenet_v2_embed.onnx.json
compare() { # compare A.f32 B.f32 N -> "maxdiff cosine"
  "$PY" - "$1" "$2" "$3" <<'PYEOF'
import math, struct, sys
n = int(sys.argv[3])
a = struct.unpack(f"{n}f", open(sys.argv[1], "rb").read())
b = struct.unpack(f"{n}f", open(sys.argv[2], "rb").read())
dot = sum(x * y for x, y in zip(a, b))
print(max(abs(x - y) for x, y in zip(a, b)), dot / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b)))
PYEOF
}

"$PXS_BIN" embed --model "$M/mobilenet_v2_embed.onnx" --model-config "$CFG" --raw --format f32 \
  --tensor "$M/testvectors/dog_input_1x3x224x224.f32" -o "$WORK/dog_raw.f32" || fail "embed --tensor"
read -r diff cos < <(compare "$WORK/dog_raw.f32" "$M/testvectors/dog_mobilenet_v2_embedding_1280.f32" 1280)
"$PY" -c "import sys; sys.exit(0 if $diff <= 1e-4 and $cos >= 0.99999 else 1)" \
  || fail "dog embedding: max abs diff $diff, cosine $cos"
pass "dog embedding: max abs diff $diff, cosine $cos"

"$PXS_BIN" embed --model "$M/mobilenet_v2_embed.onnx" --model-config "$CFG" --format f32 \
  --tensor "$M/testvectors/dog_input_1x3x224x224.f32" -o "$WORK/dog_norm.f32" || fail "embed normalised"
norm=$("$PY" -c "import struct,math; v=struct.unpack('1280f',open('$WORK/dog_norm.f32','rb').read()); print(math.sqrt(sum(x*x for x in v)))")
"$PY" -c "import sys; sys.exit(0 if abs($norm - 1) < 1e-5 else 1)" || fail "normalised norm $norm"
read -r diff cos < <(compare "$WORK/dog_norm.f32" "$M/testvectors/dog_mobilenet_v2_embedding_1280.f32" 1280)
"$PY" -c "import sys; sys.exit(0 if $cos >= 0.99999 else 1)" || fail "normalised cosine $cos"
pass "normalised dog embedding: unit norm, cosine $cos"

# The classifier's logits through --output (the description of the embed model
# fits the classifier's input; a different output is returned raw).
"$PXS_BIN" embed --model "$M/mobilenet_v2_classifier.onnx" --model-config "$CFG" --output logits \
  --format f32 --tensor "$M/testvectors/dog_input_1x3x224x224.f32" -o "$WORK/logits.f32" 2>"$WORK/e.txt" \
  && fail "the embed description names output 'embedding', which the classifier lacks: must be refused"
grep -q 'no output named "embedding"' "$WORK/e.txt" || fail "missing-output message: $(cat "$WORK/e.txt")"
sed 's/"output": "embedding"/"output": "logits"/; s/"normalize": true/"normalize": false/' "$CFG" >"$WORK/cls.json"
"$PXS_BIN" embed --model "$M/mobilenet_v2_classifier.onnx" --model-config "$WORK/cls.json" --output logits \
  --format f32 --tensor "$M/testvectors/dog_input_1x3x224x224.f32" -o "$WORK/logits.f32" || fail "logits"
read -r diff cos < <(compare "$WORK/logits.f32" "$M/testvectors/dog_mobilenet_v2_logits_1000.f32" 1000)
"$PY" -c "import sys; sys.exit(0 if $diff <= 1e-4 else 1)" || fail "logits diff $diff"
pass "classifier logits: max abs diff $diff"

# Index and search with the model; later commands need no --model.
mkdir -p "$WORK/photos"
for i in 0 1 100 101 400 401 700 701; do cp "$PXS_SHARED/data/corel1k_wang/images/$i.jpg" "$WORK/photos/"; done
"$PXS_BIN" index --quiet --model "$M/mobilenet_v2_embed.onnx" --model-config "$CFG" \
  --data "$WORK/data" "$WORK/photos" || fail "index with model"
"$PXS_BIN" stats --json --data "$WORK/data" >"$WORK/s.json" || fail "stats"
json_eval "$WORK/s.json" "rows[0]['embedder']" | grep -q '^onnx:mobilenet_v2_embed:' || fail "embedder $(cat "$WORK/s.json")"
[[ $(json_eval "$WORK/s.json" "rows[0]['dim']") -eq 1280 ]] || fail "dim"
"$PXS_BIN" search --json -k 3 --data "$WORK/data" "$PXS_SHARED/data/corel1k_wang/images/400.jpg" \
  "$PXS_SHARED/data/corel1k_wang/images/402.jpg" >"$WORK/q.jsonl" || fail "search without --model"
[[ $(json_eval "$WORK/q.jsonl" "rows[0]['results'][0]['path'].rsplit('/',1)[1]") == 400.jpg ]] || fail "self not first"
# 402.jpg is not indexed; its two best matches are the other dinosaurs (class 4).
[[ $(json_eval "$WORK/q.jsonl" "sorted(r['path'].rsplit('/',1)[1] for r in rows[1]['results'][:2])") == "['400.jpg', '401.jpg']" ]] \
  || fail "unindexed dinosaur does not find the dinosaurs: $(json_eval "$WORK/q.jsonl" "rows[1]")"
pass "index/search with MobileNetV2; the data directory remembers the model"

# Mismatch: a directory built with the built-in descriptor refuses a model.
"$PXS_BIN" index --quiet --data "$WORK/builtin" "$WORK/photos" || fail "builtin index"
"$PXS_BIN" search --model "$M/mobilenet_v2_embed.onnx" --model-config "$CFG" --data "$WORK/builtin" \
  "$WORK/photos/0.jpg" 2>"$WORK/e.txt"
[[ $? -eq 1 ]] || fail "mismatch should exit 1"
grep -q 'was indexed with embedder builtin-colortexture-v1' "$WORK/e.txt" || fail "mismatch message: $(cat "$WORK/e.txt")"
pass "embedder mismatch refused"

# Bad descriptions and models.
echo '{"name":"m","input":{"width":224,"height":224,"stdev":[1,1,1]}}' >"$WORK/bad.json"
"$PXS_BIN" embed --model "$M/mobilenet_v2_embed.onnx" --model-config "$WORK/bad.json" "$WORK/photos/0.jpg" 2>"$WORK/e.txt"
[[ $? -eq 1 ]] && grep -q 'unknown key "stdev"' "$WORK/e.txt" || fail "bad sidecar: $(cat "$WORK/e.txt")"
echo '{"name":"m","input":{"width":299,"height":299}}' >"$WORK/size.json"
"$PXS_BIN" embed --model "$M/mobilenet_v2_embed.onnx" --model-config "$WORK/size.json" "$WORK/photos/0.jpg" 2>"$WORK/e.txt"
[[ $? -eq 1 ]] && grep -q '224x224 images but its description says 299x299' "$WORK/e.txt" || fail "size mismatch: $(cat "$WORK/e.txt")"
"$PXS_BIN" embed --model "$M/mobilenet_v2_embed.onnx" "$WORK/photos/0.jpg" 2>"$WORK/e.txt"
[[ $? -eq 1 ]] && grep -q 'no model description' "$WORK/e.txt" || fail "missing sidecar: $(cat "$WORK/e.txt")"
head -c 100000 "$M/mobilenet_v2_embed.onnx" >"$WORK/cut.onnx"
"$PXS_BIN" embed --model "$WORK/cut.onnx" --model-config "$CFG" "$WORK/photos/0.jpg" 2>"$WORK/e.txt"
[[ $? -eq 1 ]] && [[ -s "$WORK/e.txt" ]] || fail "truncated model"
echo "  truncated model -> $(cat "$WORK/e.txt")"
pass "bad descriptions and models give clear errors"

# Near-duplicate mode: rotated and heavily recompressed copies find their
# original first among 30 Corel photos (bench/neardup_eval.sh measures all
# 2200 copies).
ND=$PXS_SHARED/data/nearduplicate_generated_corel
mkdir -p "$WORK/orig"
for i in $(seq 0 33 990); do cp "$PXS_SHARED/data/corel1k_wang/images/$i.jpg" "$WORK/orig/"; done
"$PXS_BIN" index --quiet --model "$M/mobilenet_v2_embed.onnx" --model-config "$CFG" \
  --data "$WORK/nd" "$WORK/orig" 2>/dev/null || fail "index originals"
queries=()
for i in 0 99 198 297 396 495 594 693 792 891 990; do
  for edit in rot_90 jpeg_q5 gray scale_0.25; do
    [[ -f "$ND/$edit/$i.jpg" ]] && queries+=("$ND/$edit/$i.jpg")
  done
done
[[ ${#queries[@]} -ge 8 ]] || fail "too few near-duplicate queries (${#queries[@]})"
"$PXS_BIN" search --near-duplicates --json -k 1 --data "$WORK/nd" "${queries[@]}" >"$WORK/nd.jsonl" || fail "near-duplicate search"
wrong=$(json_eval "$WORK/nd.jsonl" "[r['query'] for r in rows if r['results'][0]['path'].rsplit('/',1)[1] != r['query'].rsplit('/',1)[1]]")
[[ "$wrong" == "[]" ]] || fail "near-duplicate misses: $wrong"
pass "--near-duplicates: ${#queries[@]} rotated/recompressed/grey/rescaled copies all find their original"

# pixseek dups: an exact copy is its own group; recompressed and cropped
# copies join their original; unrelated photos stay out.
mkdir -p "$WORK/dups"
for i in 0 10 101 303 505 707; do cp "$PXS_SHARED/data/corel1k_wang/images/$i.jpg" "$WORK/dups/"; done
cp "$PXS_SHARED/data/corel1k_wang/images/0.jpg" "$WORK/dups/copy_of_0.jpg"
cp "$ND/jpeg_q30/0.jpg" "$WORK/dups/0_q30.jpg"
cp "$ND/crop_center_80/0.jpg" "$WORK/dups/0_crop80.jpg"
cp "$ND/jpeg_q30/10.jpg" "$WORK/dups/10_q30.jpg"
"$PXS_BIN" index --quiet --model "$M/mobilenet_v2_embed.onnx" --model-config "$CFG" \
  --data "$WORK/dd" "$WORK/dups" 2>/dev/null || fail "index for dups"
"$PXS_BIN" dups --json --data "$WORK/dd" >"$WORK/dups.json" || fail "dups"
exact=$(json_eval "$WORK/dups.json" "[sorted(i['path'].rsplit('/',1)[1] for i in g['images']) for g in rows[0]['exact']]")
[[ "$exact" == "[['0.jpg', 'copy_of_0.jpg']]" ]] || fail "exact groups $exact"
near=$(json_eval "$WORK/dups.json" "sorted(sorted(i['path'].rsplit('/',1)[1] for i in g['images']) for g in rows[0]['near'])")
[[ "$near" == "[['0.jpg', '0_crop80.jpg', '0_q30.jpg'], ['10.jpg', '10_q30.jpg']]" ]] || fail "near groups $near"
pass "dups: exact copies and near-duplicate groups"
