# tests/integration/test_corel_search.sh — index Corel-1k with the built-in
# descriptor and check retrieval is well above chance: mean precision@10
# (query excluded) over 100 queries, one in ten images. Chance is 0.10.
source "$(dirname "$0")/lib.sh"
need_shared data/corel1k_wang/labels.tsv
corel=$PXS_SHARED/data/corel1k_wang
"$PXS_BIN" index --quiet --data "$WORK/data" "$corel/images" 2>"$WORK/index.txt" || { cat "$WORK/index.txt"; fail "index exit $?"; }
cat "$WORK/index.txt"
queries=()
for i in $(seq 0 10 999); do queries+=("$corel/images/$i.jpg"); done
"$PXS_BIN" search --json -k 11 --data "$WORK/data" "${queries[@]}" >"$WORK/s.jsonl" || fail "search exit $?"
"$PY" - "$corel/labels.tsv" "$WORK/s.jsonl" <<'PYEOF' || fail "precision too low"
import json, os, sys
labels = {}
for line in open(sys.argv[1]).read().splitlines()[1:]:
    path, cid, _ = line.split("\t")
    labels[os.path.basename(path)] = cid
precisions = []
for line in open(sys.argv[2]):
    r = json.loads(line)
    q = os.path.basename(r["query"])
    hits = [os.path.basename(m["path"]) for m in r["results"] if os.path.basename(m["path"]) != q][:10]
    precisions.append(sum(labels[h] == labels[q] for h in hits) / 10)
p10 = sum(precisions) / len(precisions)
print(f"built-in descriptor on Corel-1k: mean P@10 = {p10:.3f} over {len(precisions)} queries (chance 0.100)")
sys.exit(0 if p10 >= 0.5 else 1)
PYEOF
pass "Corel-1k retrieval well above chance"
