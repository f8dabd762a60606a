#!/usr/bin/env bash
# scripts/demo.sh — the main job in one command: install dependencies, build,
# index a folder of photos (default: the Corel-1k sample set in ../shared),
# show search results for a few query photos, then serve the web UI.
#
#   scripts/demo.sh [IMAGES_DIR] [--no-serve] [--builtin]
#
# Embeddings come from MobileNetV2 (../shared/models, described by
# models/mobilenet_v2_embed.onnx.json); --builtin uses the model-free
# colour/texture descriptor instead.
# Environment: PIXSEEK_DATA (default ./pixseek-data, or ./pixseek-data-builtin
# with --builtin), PORT (default 8080).
set -euo pipefail
cd "$(dirname "$0")/.."
images=../shared/data/corel1k_wang/images
queries=../shared/data/corel1k_wang/external_queries
serve=1
model=(--model ../shared/models/mobilenet_v2_embed.onnx --model-config models/mobilenet_v2_embed.onnx.json)
default_data=./pixseek-data
for arg in "$@"; do
  case "$arg" in
    --no-serve) serve=0 ;;
    --builtin) model=(); default_data=./pixseek-data-builtin ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) images=$arg; queries=$arg ;;
  esac
done
[[ -d "$images" ]] || { echo "demo: no folder $images (pass a folder of photos)" >&2; exit 2; }

scripts/deps.sh
make -j"$(nproc)" CC=gcc MODE=release build/release-gcc/pixseek >/dev/null
bin=build/release-gcc/pixseek
data=${PIXSEEK_DATA:-$default_data}
if [[ ${#model[@]} -gt 0 && ! -f ${model[1]} ]]; then
  echo "demo: ${model[1]} not found; using the built-in descriptor" >&2
  model=(); data=${PIXSEEK_DATA:-./pixseek-data-builtin}
fi

echo "== indexing $images into $data"
status=0
"$bin" index --data "$data" "${model[@]}" "$images" || status=$?
[[ $status -eq 0 || $status -eq 3 ]] || exit $status
"$bin" stats --data "$data"

echo
echo "== searching with a few photos from $queries"
mapfile -t q < <(find "$queries" -maxdepth 1 -type f | sort | head -n 4)
"$bin" search --data "$data" -k 5 "${q[@]}"

if [[ $serve -eq 1 ]]; then
  echo
  echo "== web UI: open http://127.0.0.1:${PORT:-8080}/ and drop a photo on it (Ctrl-C stops)"
  # --root: the UI may show the indexed originals (and index more from that folder)
  exec "$bin" serve --data "$data" --port "${PORT:-8080}" --root "$images"
fi
