#!/usr/bin/env bash
# tests/integration/test_import.sh — the raw-vector command line end to end:
# small .npy, .fvecs, IDX (gzip'd) and JSON-lines fixtures made with numpy,
# imported with `pixseek import`, then checked exactly with query (counts,
# filters), vsearch (every vector finds itself first at distance 0; filters
# honoured), get and delete; bad files (truncated .npy header, shape larger
# than the file, fvecs with mixed dimensions, IDX with a wrong magic, NaN,
# column row counts that disagree) fail with a clear message and import
# nothing; a batch refused by the engine leaves the earlier batches and
# says which --from-row resumes.
source "$(dirname "$0")/lib.sh"
export PIXSEEK_DATA=$WORK/data
P() { "$PXS_BIN" "$@"; }
cd "$WORK" || fail "no work dir"

"$PY" - <<'EOF' || fail "cannot make fixtures (python3-numpy)"
import numpy as np, struct, gzip, json
rng = np.random.default_rng(7)
v = rng.random((200, 8), dtype=np.float32)
np.save("v.npy", v)
np.save("lab.npy", (np.arange(200) % 5).astype(np.int64))
np.save("lab_short.npy", np.zeros(150, dtype=np.int64))
np.save("v16.npy", rng.random((10, 16), dtype=np.float32))
with open("v.fvecs", "wb") as f:
    for r in v: f.write(struct.pack("<i", 8) + r.tobytes())
with open("mixed.fvecs", "wb") as f:
    f.write(struct.pack("<i", 8) + v[0].tobytes()); f.write(struct.pack("<i", 7) + v[1][:7].tobytes())
    f.write(struct.pack("<i", 8) + v[2].tobytes())
imgs = rng.integers(0, 256, (50, 4, 4), dtype=np.uint8)
labels = (np.arange(50) % 10).astype(np.uint8)
gzip.open("imgs-idx3-ubyte.gz", "wb").write(bytes([0, 0, 8, 3]) + struct.pack(">III", 50, 4, 4) + imgs.tobytes())
gzip.open("labels-idx1-ubyte.gz", "wb").write(bytes([0, 0, 8, 1]) + struct.pack(">I", 50) + labels.tobytes())
open("badmagic-idx3-ubyte", "wb").write(bytes([0, 1, 8, 3]) + struct.pack(">III", 50, 4, 4) + imgs.tobytes())
np.save("imgs.npy", imgs.reshape(50, 16).astype(np.float32))
raw = open("v.npy", "rb").read()
open("trunc_header.npy", "wb").write(raw[:40])
open("short_data.npy", "wb").write(raw[:-100])
n = v.copy(); n[3, 2] = np.nan; np.save("nan.npy", n)
with open("rows.jsonl", "w") as f:
    for i in range(20):
        f.write(json.dumps({"id": 1000 + i, "vector": [float(x) for x in v[i]], "color": "red" if i % 2 else "blue"}) + "\n")
EOF

# --help everywhere
for c in collection import query vsearch get delete; do
  P "$c" --help >/dev/null || fail "$c --help"
done
P collection create --help | grep -q -- '--field' || fail "collection create --help"

# .npy with a label column, collection created on the fly
P import --create --metric L2 --index HNSW --param M=16 --field label=lab.npy c1 v.npy 2>err.txt || { cat err.txt; fail "import npy"; }
[[ $(P query c1 --count) == 200 ]] || fail "c1 count"
P collection describe c1 | grep -q 'label .*Int64' || fail "label field created"
P vsearch c1 --vectors v.npy --limit 1 --json >self.jsonl 2>/dev/null || fail "vsearch self"
[[ $(json_eval self.jsonl 'sum(1 for r in rows if r["hits"][0]["id"] == r["query"] and r["hits"][0]["distance"] == 0)') == 200 ]] ||
  fail "every vector is its own nearest neighbour at distance 0"
[[ $(P query c1 --filter 'label == 3' --count) == 40 ]] || fail "filtered count"
P query c1 --filter 'label == 3' --output-fields label --limit 1000 --json >q.jsonl || fail "query json"
[[ $(json_eval q.jsonl 'len(rows) == 40 and all(r["label"] == 3 and r["id"] % 5 == 3 for r in rows)') == True ]] || fail "query rows"
P vsearch c1 --vectors v.npy --row 10..20 --limit 5 --filter 'label == 2' --output-fields label --json >f.jsonl 2>/dev/null
[[ $(json_eval f.jsonl 'len(rows) == 10 and rows[0]["query"] == 10 and all(h["label"] == 2 for r in rows for h in r["hits"])') == True ]] ||
  fail "vsearch filter honoured"
P vsearch c1 --vectors v.npy --row 12 --limit 3 | grep -q '^query 12: 3 hit' || fail "vsearch table"
P get c1 --id 7 --json | grep -q '"label":2' || fail "get"
P collection stats c1 --json | grep -q '"rowCount":200' || fail "stats"
pass "npy import, query, vsearch, get"

# bad files: clear message, nothing imported (c1 keeps 200 rows; no collection created)
bad() { # bad FILE EXPECTED-MESSAGE [import options...] (CREATE=0: the file alone is fine)
  local file=$1 msg=$2; shift 2
  if P import "$@" c1 "$file" >out.txt 2>err.txt; then fail "$file was accepted"; fi
  grep -q -- "$msg" err.txt || { cat err.txt; fail "$file: expected \"$msg\""; }
  grep -q 'nothing was imported\|error' err.txt || fail "$file: no error line"
  [[ $(P query c1 --count) == 200 ]] || fail "$file changed the collection"
  [[ ${CREATE:-1} == 1 ]] || return 0
  if P import --create --metric L2 "$@" newcoll "$file" >/dev/null 2>&1; then fail "$file accepted with --create"; fi
  P collection list | grep -q newcoll && fail "$file created a collection"
  true
}
bad trunc_header.npy "ends inside the .npy header"
bad short_data.npy "truncated"
bad mixed.fvecs "not a multiple of the row size"
bad badmagic-idx3-ubyte "not an IDX file"
bad nan.npy "row 3, column 2: not a finite number" --ids seq --id-start 1000
bad v.npy "lab_short.npy has 150 rows but the vectors have 200" --id-start 1000 --field label=lab_short.npy
CREATE=0 bad v16.npy "16 values per row but collection c1 has float vectors of dim 8"
P import nosuch v.npy 2>err.txt && fail "missing collection accepted"
grep -q 'collection nosuch does not exist' err.txt || fail "missing collection message"
pass "bad files rejected, nothing imported"

# a refused batch: earlier batches stay, the message says how to resume
P collection create c3 --dim 8 --metric L2 --index FLAT >/dev/null || fail "create c3"
P import c3 v.npy --from-row 150 --quiet || fail "import tail"
[[ $(P query c3 --count) == 50 ]] || fail "tail count"
P import c3 v.npy --batch 50 >out.txt 2>err.txt && fail "duplicate keys accepted"
grep -q 'already exists' err.txt && grep -q 'resume with --from-row 150' err.txt || { cat err.txt; fail "resume message"; }
[[ $(P query c3 --count) == 200 ]] || fail "batches before the failure are kept"
P import c3 v.npy --from-row 150 --upsert --json >sum.json || fail "resume with upsert"
[[ $(json_eval sum.json 'rows[0]["rows"]') == 50 ]] || fail "json summary"
[[ $(P query c3 --count) == 200 ]] || fail "upsert count"
pass "batches atomic, resumable"

# .fvecs into an existing collection; an inline query vector
P collection create c2 --dim 8 --metric L2 --index FLAT >/dev/null || fail "create c2"
P import c2 v.fvecs --id-start 100 --quiet || fail "import fvecs"
vec=$("$PY" -c 'import numpy as np; print(",".join(repr(float(x)) for x in np.load("v.npy")[5]))')
P vsearch c2 --vector "[$vec]" --limit 2 --json >i.jsonl 2>/dev/null || fail "inline vsearch"
[[ $(json_eval i.jsonl 'rows[0]["hits"][0]["id"] == 105 and rows[0]["hits"][0]["distance"] == 0') == True ]] || fail "fvecs row 5 -> id 105"
P vsearch c2 --vector "[1,2,3]" 2>err.txt && fail "bad dim accepted"
grep -q 'has 3 values but' err.txt || fail "vsearch dim message"
pass "fvecs import"

# gzip'd IDX images + labels (as Fashion-MNIST ships)
P import --create --metric L2 --index FLAT --field label=labels-idx1-ubyte.gz imgs imgs-idx3-ubyte.gz --quiet || fail "import idx"
[[ $(P query imgs --count) == 50 ]] || fail "idx count"
[[ $(P query imgs --filter 'label == 7' --count) == 5 ]] || fail "idx labels"
P vsearch imgs --vectors imgs.npy --limit 1 --json >idx.jsonl 2>/dev/null || fail "vsearch idx"
[[ $(json_eval idx.jsonl 'all(r["hits"][0]["id"] == r["query"] and r["hits"][0]["distance"] == 0 for r in rows)') == True ]] ||
  fail "idx pixels imported exactly"
pass "IDX import"

# JSON lines (Milvus rows, dynamic field)
P import --create --metric L2 --index HNSW jj rows.jsonl --batch 7 --quiet || fail "import jsonl"
[[ $(P query jj --count) == 20 ]] || fail "jsonl count"
[[ $(P query jj --filter 'color == "red"' --count) == 10 ]] || fail "dynamic field filter"
P get jj --id 1005 --output-fields color --json | grep -q '"color":"red"' || fail "jsonl get"
pass "JSON lines import"

# delete by key and by filter
P delete c1 --id 0,1,2 --json | grep -q '"deleteCount":3' || fail "delete ids"
P delete c1 --filter 'label == 4' | grep -q 'deleted 40' || fail "delete filter"
[[ $(P query c1 --count) == 157 ]] || fail "count after deletes"
P delete c1 2>/dev/null && fail "delete without --id/--filter"
P collection drop jj >/dev/null && ! P collection list | grep -q '^jj ' || fail "drop"
pass "delete, drop"
