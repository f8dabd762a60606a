# tests/integration/test_precision.sh — `--precision fp32|bf16` through the
# binary: bf16 embeddings of the dog test vector stay within cosine 0.999 of
# the reference (or, on a CPU without native bf16, fp32 runs with a one-line
# notice); the forced-native fallback says why and gives fp32's numbers; a
# bad value is a usage error; index remembers the precision as the
# collection's default and search runs at either precision without changing it.
source "$(dirname "$0")/lib.sh"
need_shared models/mobilenet_v2_embed.onnx
M=$PXS_SHARED/models
CFG=$(cd "$(dirname "$0")/../.." && pwd)/models/mobilenet_v2_embed.onnx.json
DOG=$M/testvectors/dog_input_1x3x224x224.f32
REF=$M/testvectors/dog_mobilenet_v2_embedding_1280.f32
cosine() { # cosine A.f32 B.f32
  "$PY" - "$1" "$2" <<'PYEOF'
import math, struct, sys
a = struct.unpack("1280f", open(sys.argv[1], "rb").read())
b = struct.unpack("1280f", open(sys.argv[2], "rb").read())
print(sum(x * y for x, y in zip(a, b)) / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b)))
PYEOF
}
at_least() { "$PY" -c "import sys; sys.exit(0 if $1 >= $2 else 1)"; }

for c in embed index search serve; do
  "$PXS_BIN" "$c" --help | grep -q -- '--precision' || fail "$c --help lacks --precision"
done
pass "--precision in the help of embed, index, search, serve"

"$PXS_BIN" embed --model "$M/mobilenet_v2_embed.onnx" --model-config "$CFG" --raw --format f32 \
  --precision bf16 --tensor "$DOG" -o "$WORK/bf16.f32" 2>"$WORK/e.txt" || fail "embed --precision bf16"
cos=$(cosine "$WORK/bf16.f32" "$REF")
if grep -q 'bf16 unavailable' "$WORK/e.txt"; then
  at_least "$cos" 0.99999 || fail "fp32 fallback cosine $cos"
  pass "no native bf16 here ($(cat "$WORK/e.txt")): fp32, cosine $cos"
else
  [[ ! -s $WORK/e.txt ]] || fail "unexpected output: $(cat "$WORK/e.txt")"
  at_least "$cos" 0.999 || fail "bf16 cosine $cos < 0.999"
  at_least 0.99999 "$cos" || fail "bf16 cosine $cos: identical to fp32, bf16 did not run"
  pass "bf16 dog embedding: cosine $cos to the fp32 reference"
fi

PXS_NN_BACKEND=native "$PXS_BIN" embed --model "$M/mobilenet_v2_embed.onnx" --model-config "$CFG" --raw \
  --format f32 --precision bf16 --tensor "$DOG" -o "$WORK/native.f32" 2>"$WORK/e.txt" || fail "native fallback"
grep -q 'bf16 unavailable (PXS_NN_BACKEND=native): running fp32' "$WORK/e.txt" \
  || fail "fallback notice: $(cat "$WORK/e.txt")"
[[ $(wc -l <"$WORK/e.txt") -eq 1 ]] || fail "notice is not one line: $(cat "$WORK/e.txt")"
cos=$(cosine "$WORK/native.f32" "$REF")
at_least "$cos" 0.99999 || fail "fallback cosine $cos"
pass "forced native backend: one-line notice, fp32 result (cosine $cos)"

"$PXS_BIN" embed --precision int8 --tensor "$DOG" 2>"$WORK/e.txt"
[[ $? -eq 2 ]] || fail "--precision int8 must be a usage error"
grep -q -- '--precision must be fp32 or bf16' "$WORK/e.txt" || fail "message: $(cat "$WORK/e.txt")"
pass "--precision int8 refused"

mkdir -p "$WORK/photos"
for i in 0 100 400 401 700; do cp "$PXS_SHARED/data/corel1k_wang/images/$i.jpg" "$WORK/photos/"; done
"$PXS_BIN" index --quiet --model "$M/mobilenet_v2_embed.onnx" --model-config "$CFG" --precision bf16 \
  --data "$WORK/data" "$WORK/photos" 2>/dev/null || fail "index --precision bf16"
"$PXS_BIN" stats --json --data "$WORK/data" >"$WORK/s.json" || fail "stats"
[[ $(json_eval "$WORK/s.json" "rows[0]['precision_default']") == bf16 ]] || fail "default: $(cat "$WORK/s.json")"
for p in "" "--precision fp32"; do
  # shellcheck disable=SC2086
  "$PXS_BIN" search --json -k 2 --data "$WORK/data" $p "$PXS_SHARED/data/corel1k_wang/images/400.jpg" \
    >"$WORK/q.jsonl" 2>/dev/null || fail "search $p"
  [[ $(json_eval "$WORK/q.jsonl" "rows[0]['results'][0]['path'].rsplit('/',1)[1]") == 400.jpg ]] \
    || fail "search $p: self not first"
done
"$PXS_BIN" stats --json --data "$WORK/data" >"$WORK/s.json" || fail "stats"
[[ $(json_eval "$WORK/s.json" "rows[0]['precision_default']") == bf16 ]] || fail "search changed the default"
pass "index remembers bf16; search finds the photo at the default and at fp32 without changing it"
