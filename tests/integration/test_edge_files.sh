# tests/integration/test_edge_files.sh — awkward inputs during ingest:
# a symlink loop (skipped by default, detected with --follow-symlinks), a
# PNG whose header claims 60000x60000 pixels (refused before decoding, no
# huge allocation), and an EXIF-rotated copy (stored sideways with an
# orientation tag) that must find its original.
source "$(dirname "$0")/lib.sh"
need_shared data/corel1k_wang/images/0.jpg
src=$PXS_SHARED/data/corel1k_wang/images
dir=$WORK/photos
mkdir -p "$dir/sub"
cp "$src/0.jpg" "$src/101.jpg" "$dir/"
cp "$src/202.jpg" "$dir/sub/"
ln -s .. "$dir/sub/loop"
ln -s "$dir/sub" "$dir/again"

"$PY" - "$dir/bomb.png" <<'PYEOF'
import struct, sys, zlib
def chunk(t, d):
    return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
ihdr = struct.pack(">IIBBBBB", 60000, 60000, 8, 2, 0, 0, 0)
data = zlib.compress(b"\0" * 1000)
open(sys.argv[1], "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", data) + chunk(b"IEND", b""))
PYEOF

# Stored rotated 90 degrees counter-clockwise, tagged "rotate 90 clockwise to
# display" (EXIF orientation 6): shown upright it is 300.jpg.
"$PY" - "$src/300.jpg" "$WORK/rotated_300.jpg" <<'PYEOF'
import sys
from PIL import Image
img = Image.open(sys.argv[1]).convert("RGB").transpose(Image.Transpose.ROTATE_90)
exif = Image.Exif()
exif[0x0112] = 6
img.save(sys.argv[2], quality=95, exif=exif.tobytes())
PYEOF

# Default: symlinks are not followed.
/usr/bin/time -f "%M" -o "$WORK/rss.txt" "$PXS_BIN" index --json --data "$WORK/d1" "$dir" >"$WORK/a.jsonl" 2>/dev/null
status=$?
[[ $status -eq 3 ]] || fail "exit $status (expected 3: the bomb fails)"
[[ $(json_eval "$WORK/a.jsonl" "sum(1 for r in rows if r['event']=='added')") -eq 3 ]] || fail "added count"
reason=$(json_eval "$WORK/a.jsonl" "[r['reason'] for r in rows if r['event']=='failed'][0]")
[[ "$reason" == *"60000x60000"*"limit"* ]] || fail "bomb reason: $reason"
rss_kb=$(tail -n 1 "$WORK/rss.txt")
[[ $rss_kb -lt 400000 ]] || fail "peak RSS ${rss_kb} kB: the bomb was decoded?"
pass "symlinks skipped; 60000x60000 PNG refused ($reason), peak RSS ${rss_kb} kB"

# --follow-symlinks: the loop is detected and reported, nothing indexed twice.
"$PXS_BIN" index --json --follow-symlinks --data "$WORK/d2" "$dir" >"$WORK/b.jsonl" 2>/dev/null
[[ $? -eq 3 ]] || fail "follow-symlinks exit"
[[ $(json_eval "$WORK/b.jsonl" "sum(1 for r in rows if r['event']=='added')") -eq 3 ]] || fail "follow: added count"
json_eval "$WORK/b.jsonl" "[r['reason'] for r in rows if r['event']=='failed']" | grep -q "symlink loop" \
  || fail "loop not reported: $(json_eval "$WORK/b.jsonl" "[r for r in rows if r['event']=='failed']")"
pass "--follow-symlinks: loop detected and reported"

# EXIF orientation is applied: the sideways-stored copy finds 300.jpg first.
cp "$src/300.jpg" "$dir/"
"$PXS_BIN" index --quiet --data "$WORK/d1" "$dir" 2>/dev/null
"$PXS_BIN" search --json -k 1 --data "$WORK/d1" "$WORK/rotated_300.jpg" >"$WORK/s.jsonl" || fail "search"
top=$(json_eval "$WORK/s.jsonl" "rows[0]['results'][0]['path'].rsplit('/',1)[1]")
sim=$(json_eval "$WORK/s.jsonl" "rows[0]['results'][0]['similarity']")
[[ $top == 300.jpg ]] || fail "EXIF-rotated copy found $top"
"$PY" -c "import sys; sys.exit(0 if $sim > 0.97 else 1)" || fail "similarity $sim"
pass "EXIF-rotated copy finds its original (similarity $sim)"

# The same through the CNN, whose preprocessing decodes on its own path.
if [[ -f "$PXS_SHARED/models/mobilenet_v2_embed.onnx" ]]; then
  CFG=$(cd "$(dirname "$0")/../.." && pwd)/models/mobilenet_v2_embed.onnx.json
  "$PXS_BIN" index --quiet --data "$WORK/d3" --model "$PXS_SHARED/models/mobilenet_v2_embed.onnx" \
    --model-config "$CFG" "$dir" 2>/dev/null
  "$PXS_BIN" search --json -k 1 --data "$WORK/d3" "$WORK/rotated_300.jpg" >"$WORK/s3.jsonl" || fail "cnn search"
  top=$(json_eval "$WORK/s3.jsonl" "rows[0]['results'][0]['path'].rsplit('/',1)[1]")
  sim=$(json_eval "$WORK/s3.jsonl" "rows[0]['results'][0]['similarity']")
  [[ $top == 300.jpg ]] && "$PY" -c "import sys; sys.exit(0 if $sim > 0.97 else 1)" \
    || fail "CNN: EXIF-rotated copy found $top ($sim)"
  pass "CNN: EXIF-rotated copy finds its original (similarity $sim)"
fi
