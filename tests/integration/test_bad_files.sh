# tests/integration/test_bad_files.sh — a folder mixing good images with a
# truncated JPEG, a text file named .jpg, a zero-byte file and an unreadable
# file: every good image is indexed, every bad file is reported by path with
# a reason, the exit status is 3 (partial failure), and a re-run skips what
# is already indexed.
source "$(dirname "$0")/lib.sh"
need_shared data/corel1k_wang/images/0.jpg
src=$PXS_SHARED/data/corel1k_wang/images
dir=$WORK/photos
mkdir -p "$dir/sub/deeper"
cp "$src/0.jpg" "$dir/a.jpg"
cp "$src/101.jpg" "$dir/sub/b.JPG"
cp "$src/205.jpg" "$dir/sub/deeper/no_extension"
vips copy "$src/310.jpg" "$dir/c.png" || fail "vips could not make a PNG fixture"
vips copy "$src/420.jpg" "$dir/sub/d.webp" || fail "vips could not make a WebP fixture"
head -c 9000 "$src/512.jpg" >"$dir/truncated.jpg"
echo "this is not an image" >"$dir/text.jpg"
: >"$dir/empty.jpg"
cp "$src/600.jpg" "$dir/unreadable.jpg"
chmod 000 "$dir/unreadable.jpg"
data=$WORK/data
mkdir -p "$data"

run=("$PXS_BIN")
if [[ $(id -u) -eq 0 ]]; then
  # root reads anything: run as nobody so the unreadable file really is.
  chown -R 65534:65534 "$data"
  chmod -R a+rX "$dir"; chmod 000 "$dir/unreadable.jpg"
  run=(setpriv --reuid=65534 --regid=65534 --clear-groups "$PXS_BIN")
fi

"${run[@]}" index --json --data "$data" "$dir" >"$WORK/out.jsonl" 2>"$WORK/err.txt"
status=$?
[[ $status -eq 3 ]] || { cat "$WORK/err.txt"; fail "exit status $status, expected 3 (partial failure)"; }

added=$(json_eval "$WORK/out.jsonl" "sorted(r['path'].split('/photos/')[1] for r in rows if r['event']=='added')")
[[ "$added" == "['a.jpg', 'c.png', 'sub/b.JPG', 'sub/d.webp', 'sub/deeper/no_extension']" ]] \
  || fail "added files: $added"
for bad in truncated.jpg text.jpg empty.jpg unreadable.jpg; do
  reason=$(json_eval "$WORK/out.jsonl" "[r['reason'] for r in rows if r['event']=='failed' and r.get('path','').endswith('/$bad')]")
  [[ "$reason" != "[]" && "$reason" != "['']" ]] || fail "$bad not reported with a reason"
  echo "  $bad -> $reason"
done
json_eval "$WORK/out.jsonl" "[r['reason'] for r in rows if r.get('path','').endswith('/text.jpg')][0]" | grep -qi "not an image" \
  || fail "text file reason should say it is not an image"
json_eval "$WORK/out.jsonl" "[r['reason'] for r in rows if r.get('path','').endswith('/empty.jpg')][0]" | grep -qi "empty" \
  || fail "zero-byte file reason should say empty"
json_eval "$WORK/out.jsonl" "[r['reason'] for r in rows if r.get('path','').endswith('/unreadable.jpg')][0]" | grep -qi "permission" \
  || fail "unreadable file reason should say permission denied"
summary=$(json_eval "$WORK/out.jsonl" "[(r['added'], r['failed'], r['exit']) for r in rows if r['event']=='summary']")
[[ "$summary" == "[(5, 4, 3)]" ]] || fail "summary $summary"
pass "first run: 5 added, 4 failed with reasons, exit 3"

# Human-readable output lists every failure with its path.
"${run[@]}" index --data "$data" "$dir" >"$WORK/out2.txt" 2>"$WORK/err2.txt"
status=$?
[[ $status -eq 3 ]] || fail "second run exit $status"
for bad in truncated.jpg text.jpg empty.jpg unreadable.jpg; do
  grep -q "$dir/$bad: " "$WORK/err2.txt" || { cat "$WORK/err2.txt"; fail "human output misses $bad"; }
done
grep -q "indexed 0 new image(s), 5 unchanged" "$WORK/err2.txt" || { cat "$WORK/err2.txt"; fail "re-run should skip the 5 indexed images"; }
pass "second run: 5 unchanged, failures listed"

# Everything indexed is searchable, and the best match for a file is itself.
"$PXS_BIN" search --json -k 1 --data "$data" "$src/0.jpg" "$dir/c.png" >"$WORK/s.jsonl" || fail "search failed"
top=$(json_eval "$WORK/s.jsonl" "[r['results'][0]['path'].split('/photos/')[1] for r in rows]")
[[ "$top" == "['a.jpg', 'c.png']" ]] || fail "top matches $top"
pass "search finds the indexed images"

# A missing folder is an error with a clear message.
"$PXS_BIN" index --data "$data" "$WORK/nope" 2>"$WORK/err3.txt"
[[ $? -eq 1 ]] || fail "missing folder should exit 1"
grep -q "nope" "$WORK/err3.txt" || fail "missing folder message"
pass "missing folder reported"
