#!/usr/bin/env bash
# bench/neardup_eval.sh — near-duplicate recall@1 per edit: index the 1000
# Corel originals, query with the 2200 edited copies of
# ../shared/data/nearduplicate_generated_corel, count how often the original
# comes first. Runs plain search and --near-duplicates side by side.
#
#   bench/neardup_eval.sh [PIXSEEK_BIN] [--builtin]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-build/release-cc/pixseek}
shared=${PXS_SHARED:-../shared}
nd=$shared/data/nearduplicate_generated_corel
model=(--model "$shared/models/mobilenet_v2_embed.onnx" --model-config models/mobilenet_v2_embed.onnx.json)
[[ "${2:-}" == "--builtin" ]] && model=()
work=$(mktemp -d /tmp/pixseek-neardup.XXXXXX)
trap 'rm -rf "$work"' EXIT
"$bin" index --quiet --data "$work/data" "${model[@]}" "$shared/data/corel1k_wang/images" 2>/dev/null
tail -n +2 "$nd/groundtruth.tsv" | cut -f1 >"$work/copies.txt"
for mode in plain near-duplicates; do
  flag=(); [[ $mode == near-duplicates ]] && flag=(--near-duplicates)
  (cd "$nd" && xargs -a "$work/copies.txt" -s 2000000 "$OLDPWD/$bin" search --json -k 1 \
     --data "$work/data" "${flag[@]}") >"$work/$mode.jsonl"
done
/usr/bin/python3 - "$nd/groundtruth.tsv" "$work/plain.jsonl" "$work/near-duplicates.jsonl" <<'PYEOF'
import json, os, sys
gt = {r[0]: (r[1], r[2]) for r in (l.rstrip("\n").split("\t") for l in open(sys.argv[1]).readlines()[1:])}
def recall(path):
    per = {}
    for line in open(path):
        r = json.loads(line)
        orig, edit = gt[r["query"]]
        ok = bool(r.get("results")) and os.path.basename(r["results"][0]["path"]) == orig
        per.setdefault(edit, []).append(ok)
    return per
a, b = recall(sys.argv[2]), recall(sys.argv[3])
print(f"{'edit':28s} {'search':>8s} {'--near-duplicates':>18s}")
for e in sorted(a):
    print(f"{e:28s} {sum(a[e])/len(a[e]):8.2f} {sum(b[e])/len(b[e]):18.2f}")
tot = lambda p: sum(sum(v) for v in p.values()) / sum(len(v) for v in p.values())
print(f"{'overall recall@1':28s} {tot(a):8.4f} {tot(b):18.4f}")
print(f"{'worst edit':28s} {min(sum(v)/len(v) for v in a.values()):8.2f} {min(sum(v)/len(v) for v in b.values()):18.2f}")
PYEOF
