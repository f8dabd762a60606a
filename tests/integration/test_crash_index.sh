# slow
# tests/integration/test_crash_index.sh — kill -9 `pixseek index` at random
# moments (25 rounds, fixed seed, ~2000 photos). After every kill the data directory must
# open, and every image whose "added" line was printed (the acknowledgement,
# written only after the commit is durable) must still be searchable. A final
# uninterrupted run completes the collection with no duplicates. Odd rounds
# run with --store-originals: every stored image's original must then come
# back whole (blob durable before its record commits).
source "$(dirname "$0")/lib.sh"
need_shared data/corel1k_wang/images
need_shared data/oxford17flowers_12class_subset
# ~2000 photos so that every round's kill lands in real work
images=("$PXS_SHARED/data/corel1k_wang/images" "$PXS_SHARED/data/oxford17flowers_12class_subset")
n_files=$(find "${images[@]}" -type f | wc -l)
data=$WORK/data
acked=$WORK/acked.txt
: >"$acked"
RANDOM=4242
rounds=25

for round in $(seq 1 $rounds); do
  out=$WORK/round$round.jsonl
  store=(); (( round % 2 )) && store=(--store-originals)
  "$PXS_BIN" index --json --batch 8 "${store[@]}" --data "$data" "${images[@]}" >"$out" 2>"$WORK/round$round.err" &
  pid=$!
  # between 20 ms and 0.6 s: lands in open, walk, decode and commit phases
  sleep "$(printf '0.%03d' $((20 + RANDOM % 580)))"
  kill -9 $pid 2>/dev/null
  wait $pid 2>/dev/null
  grep '"event":"added"' "$out" | "$PY" -c 'import json,sys
for l in sys.stdin:
    try: print(json.loads(l)["path"])
    except Exception: pass  # a line cut by the kill is not an acknowledgement
' >>"$acked"

  # The store must open and answer after every kill.
  n_acked=$(sort -u "$acked" | wc -l)
  if ! "$PXS_BIN" stats --json --data "$data" >"$WORK/stats.json" 2>"$WORK/stats.err"; then
    # Killed before the first commit: "no data yet" is the right answer then.
    if [[ $n_acked -eq 0 ]] && grep -q 'holds no pixseek data yet' "$WORK/stats.err"; then
      echo "round $round: killed before the first commit"; continue
    fi
    cat "$WORK/stats.err"; fail "round $round: data directory does not open after kill -9"
  fi
  n_stored=$(json_eval "$WORK/stats.json" "rows[0]['images']")
  [[ $n_stored -ge $n_acked ]] || fail "round $round: $n_stored images stored but $n_acked acknowledged"
  echo "round $round: acknowledged so far $n_acked, stored $n_stored"
done

# Every acknowledged image is searchable: it is among its own top matches.
sort -u "$acked" >"$WORK/acked_unique.txt"
n=$(wc -l <"$WORK/acked_unique.txt")
[[ $n -gt 0 ]] || fail "no image was acknowledged in $rounds rounds"
xargs -a "$WORK/acked_unique.txt" "$PXS_BIN" search --json -k 5 --data "$data" >"$WORK/search.jsonl" \
  || fail "search over acknowledged images failed"
missing=$(json_eval "$WORK/search.jsonl" "sum(1 for r in rows if r['query'] not in [m['path'] for m in r['results']])")
[[ $missing -eq 0 ]] || fail "$missing acknowledged images are not found by searching for themselves"
pass "$n acknowledged images all searchable after $rounds kills"

# Every acknowledged image's original comes back whole (checked by hash):
# from the blob store, or from its path for rounds without --store-originals.
ids=$(json_eval "$WORK/search.jsonl" "' '.join(str(m['id']) for r in rows for m in r['results'][:1])")
for id in $ids; do
  "$PXS_BIN" show --data "$data" --original "$WORK/orig.bin" "$id" >/dev/null 2>"$WORK/show.err" \
    || fail "original of image $id: $(cat "$WORK/show.err")"
done
pass "originals of $(echo $ids | wc -w) acknowledged images restored ($(find "$data/blobs" -type f | wc -l) blobs)"

# Resuming finishes the job: every image once, nothing re-added.
"$PXS_BIN" index --json --data "$data" "${images[@]}" >"$WORK/final.jsonl" 2>/dev/null
status=$?
# The flowers folder also holds README.txt and .tsv files: those, and only
# those, fail as "not an image", so the exit status is 3 (partial).
bad=$(json_eval "$WORK/final.jsonl" "sorted(r['path'].rsplit('/',1)[1] for r in rows if r['event']=='failed' and 'not an image' in r['reason'])")
other=$(json_eval "$WORK/final.jsonl" "sum(1 for r in rows if r['event']=='failed' and 'not an image' not in r['reason'])")
[[ $other -eq 0 ]] || fail "final run: $other files failed for other reasons"
[[ $status -eq 3 && "$bad" == "['README.txt', 'augmented_groundtruth.tsv', 'labels.tsv']" ]] \
  || fail "final run exit $status, non-images $bad"
"$PXS_BIN" stats --json --data "$data" >"$WORK/stats.json"
total=$(json_eval "$WORK/stats.json" "rows[0]['images']")
dups=$(json_eval "$WORK/final.jsonl" "[r['duplicates'] for r in rows if r['event']=='summary'][0]")
failed_files=$(json_eval "$WORK/final.jsonl" "[r['failed'] for r in rows if r['event']=='summary'][0]")
[[ $((total + dups + failed_files)) -eq $n_files ]] || fail "after resume: $total images + $dups duplicates + $failed_files failed != $n_files files"
readded=$(json_eval "$WORK/final.jsonl" "sum(1 for r in rows if r['event']=='added' and r['path'] in set(open('$WORK/acked_unique.txt').read().split()))")
[[ $readded -eq 0 ]] || fail "$readded acknowledged images were indexed again"
pass "resume completed: $total images, $dups exact duplicates, none indexed twice"
