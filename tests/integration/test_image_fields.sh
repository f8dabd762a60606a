# tests/integration/test_image_fields.sh — the per-image fields through the
# CLI: EXIF date and camera, tags (index --tag, pixseek tag), search
# --filter over them, --id ("more like this"), --offset paging, several
# queries in one call (one JSON line each), --store-originals + show
# --original after the file is gone, index --prune (incremental: add,
# modify, delete), and clear errors for bad filters and tags.
source "$(dirname "$0")/lib.sh"
need_shared data/corel1k_wang/images/0.jpg
src=$PXS_SHARED/data/corel1k_wang/images
dir=$WORK/photos data=$WORK/data
mkdir -p "$dir/sub"
for i in 0 1 2 500 501 700; do cp "$src/$i.jpg" "$dir/p$i.jpg"; done
vips resize "$src/3.jpg" "$dir/sub/big.png" 4 || fail "vips could not make a PNG fixture"
"$PY" - "$src/4.jpg" "$dir/canon.jpg" <<'PYEOF' || fail "PIL could not write EXIF"
import sys
from PIL import Image
ex = Image.Exif()
ex[0x010f] = "Canon"; ex[0x0110] = "Canon EOS 5D"; ex[0x8769] = {0x9003: "2019:07:14 10:22:01"}
Image.open(sys.argv[1]).save(sys.argv[2], exif=ex.tobytes())
PYEOF

"$PXS_BIN" index --json --data "$data" --tag album=rome --tag rating=4 --store-originals "$dir" \
  >"$WORK/idx.jsonl" 2>"$WORK/err.txt" || { cat "$WORK/err.txt"; fail "index failed"; }
[[ $(json_eval "$WORK/idx.jsonl" "rows[-1]['added']") == 8 ]] || fail "expected 8 added"
id_of() { json_eval "$WORK/idx.jsonl" "[r['id'] for r in rows if r.get('path','').endswith('/$1')][0]"; }
canon=$(id_of canon.jpg) big=$(id_of big.png) p0=$(id_of p0.jpg)

s() { "$PXS_BIN" search --data "$data" --json "$@"; }
out=$(s --filter 'camera like "Canon%" and date >= "2019-01-01"' "$src/0.jpg")
[[ $(echo "$out" | "$PY" -c 'import json,sys; r=json.load(sys.stdin)["results"]; print([(x["id"], x["camera"], x["date"]) for x in r])') \
   == "[($canon, 'Canon EOS 5D', '2019-07-14 10:22:01')]" ]] || fail "camera/date filter: $out"
out=$(s --filter 'format == "png" and width > 1000' "$src/0.jpg")
[[ $(echo "$out" | "$PY" -c 'import json,sys; print([x["id"] for x in json.load(sys.stdin)["results"]])') == "[$big]" ]] \
  || fail "format/width filter: $out"
pass "EXIF and format/width filters"

"$PXS_BIN" tag --data "$data" "$p0" rating=1 album= >"$WORK/tag.txt" || fail "tag failed"
[[ $(cat "$WORK/tag.txt") == '{"rating":1}' ]] || fail "tag output: $(cat "$WORK/tag.txt")"
out=$(s -k 20 --filter 'album == "rome" and rating >= 4' "$src/0.jpg")
[[ $(echo "$out" | "$PY" -c 'import json,sys; print(len(json.load(sys.stdin)["results"]))') == 7 ]] || fail "tag filter: $out"
"$PXS_BIN" tag --data "$data" "$p0" 9bad=1 2>"$WORK/err.txt"; [[ $? -eq 2 ]] || fail "bad tag key accepted"
"$PXS_BIN" search --data "$data" --filter 'width >' "$src/0.jpg" 2>"$WORK/err.txt"
[[ $? -eq 2 ]] && grep -q "position" "$WORK/err.txt" || fail "bad filter: $(cat "$WORK/err.txt")"
pass "tags set, removed, filtered; bad tags and filters are usage errors"

# More like this, paging, several queries in one call.
s -k 4 --id "$p0" >"$WORK/all.jsonl" || fail "search --id failed"
s -k 2 --offset 2 --id "$p0" >"$WORK/page.jsonl"
[[ $(json_eval "$WORK/all.jsonl" "[x['id'] for x in rows[0]['results']][2:]") == \
   "$(json_eval "$WORK/page.jsonl" "[x['id'] for x in rows[0]['results']]")" ]] || fail "offset page differs"
[[ $(json_eval "$WORK/all.jsonl" "$p0 in [x['id'] for x in rows[0]['results']]") == False ]] || fail "--id returned itself"
[[ $(json_eval "$WORK/page.jsonl" "rows[0]['results'][0]['rank']") == 3 ]] || fail "ranks do not continue"
s -k 3 --id "$p0" --id "$canon" "$src/500.jpg" >"$WORK/multi.jsonl"
[[ $(json_eval "$WORK/multi.jsonl" "[('query_id' in r, len(r['results'])) for r in rows]") == \
   "[(True, 3), (True, 3), (False, 3)]" ]] || fail "multi-query output: $(cat "$WORK/multi.jsonl")"
[[ $(json_eval "$WORK/multi.jsonl" "all(0 <= x['similarity'] <= 1 and 'distance' in x for r in rows for x in r['results'])") == True ]] \
  || fail "similarity/distance fields"
s --id 99999 >"$WORK/missing.jsonl" 2>/dev/null; [[ $? -eq 3 ]] || fail "missing --id not a partial failure"
pass "--id, --offset, many queries per call"

# Originals from the blob store after the file is gone; prune; incremental.
cp "$dir/sub/big.png" "$WORK/big_copy.png"
rm "$dir/sub/big.png" "$dir/p1.jpg"
"$PXS_BIN" show --data "$data" --original "$WORK/restored.png" "$big" >/dev/null || fail "show --original"
cmp -s "$WORK/restored.png" "$WORK/big_copy.png" || fail "restored original differs"
cp "$src/900.jpg" "$dir/new.jpg"                       # added
cp "$src/901.jpg" "$dir/p2.jpg"                        # modified
"$PXS_BIN" index --json --prune --data "$data" "$dir" >"$WORK/prune.jsonl" 2>/dev/null || fail "index --prune"
[[ $(json_eval "$WORK/prune.jsonl" "sorted(r['path'].rsplit('/',1)[1] for r in rows if r['event']=='pruned')") == \
   "['big.png', 'p1.jpg']" ]] || fail "pruned: $(cat "$WORK/prune.jsonl")"
[[ $(json_eval "$WORK/prune.jsonl" "(rows[-1]['added'], rows[-1]['unchanged'], rows[-1]['pruned'])") == "(2, 5, 2)" ]] \
  || fail "incremental summary: $(tail -n 1 "$WORK/prune.jsonl")"
"$PXS_BIN" show --data "$data" "$big" 2>/dev/null; [[ $? -eq 3 ]] || fail "pruned image still shown"
# 8 stored - 2 pruned - 1 replaced (p2 changed; this run does not store originals)
[[ $(find "$data/blobs" -type f | wc -l) -eq 5 ]] || fail "blobs: $(find "$data/blobs" -type f | wc -l), expected 5"
[[ $("$PXS_BIN" stats --json --data "$data" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["images"])') == 7 ]] \
  || fail "image count after prune"
pass "blob-store originals, --prune, add/modify/delete"

# Image collections: a second collection with its own store, listed with counts.
"$PXS_BIN" index --quiet --data "$data" --collection trips "$src/10.jpg" 2>/dev/null || fail "index --collection"
"$PXS_BIN" collections --json --data "$data" >"$WORK/coll.jsonl" || fail "collections"
[[ $(json_eval "$WORK/coll.jsonl" "[(r['collection'], r['images']) for r in rows]") == "[('default', 7), ('trips', 1)]" ]] \
  || fail "collections: $(cat "$WORK/coll.jsonl")"
out=$("$PXS_BIN" search --json --data "$data" --collection trips -k 5 "$src/0.jpg")
[[ $(echo "$out" | "$PY" -c 'import json,sys; print([x["path"].rsplit("/",1)[1] for x in json.load(sys.stdin)["results"]])') == "['10.jpg']" ]] \
  || fail "search --collection: $out"
"$PXS_BIN" search --data "$data" --collection ../etc "$src/0.jpg" 2>/dev/null; [[ $? -eq 2 ]] || fail "bad collection name accepted"
pass "collections"

# A folder deleted as a whole: --prune forgets its images and is not an error.
mkdir -p "$WORK/gone" && cp "$src/77.jpg" "$WORK/gone/"
"$PXS_BIN" index --quiet --data "$data" "$WORK/gone" 2>/dev/null || fail "index gone/"
rm -rf "$WORK/gone"
"$PXS_BIN" index --json --prune --data "$data" "$WORK/gone" >"$WORK/gone.jsonl" 2>/dev/null || fail "prune of a deleted folder failed"
[[ $(json_eval "$WORK/gone.jsonl" "[r['event'] for r in rows]") == "['pruned', 'summary']" ]] || fail "gone: $(cat "$WORK/gone.jsonl")"
pass "--prune of a deleted folder"
