#!/bin/sh
# bench/top5_eval.sh — ImageNet top-5 of pixseek's CNN runtime against ONNX
# Runtime on real photographs, with the shared MobileNetV2 classifier
# (../shared/models/mobilenet_v2_classifier.onnx, output "logits").
#
#   sh bench/top5_eval.sh              ~360 photos (Corel-1k, flowers, near-dups)
#   sh bench/top5_eval.sh --fixture    regenerate tests/integration/top5_ort.txt
#
# For every photo: PIL preprocessing (bench/reference/pil_preprocess.py, the
# torchvision recipe: shorter side 256 bilinear, centre crop 224) gives the
# tensor; ONNX Runtime (onnxruntime-node, the peer) computes its logits;
# pixseek computes logits (1) on the very same tensor (`embed --tensor`:
# inference only) and (2) from the image file with its own decoding and
# preprocessing (`embed IMAGE`: end to end). bench/top5_compare.py prints
# exact top-5 agreement (same labels, same order), same top-5 set, top-1
# agreement and the largest logit difference.
# Needs /usr/bin/python3 with python3-pil and python3-numpy (apt-get install),
# node, and onnxruntime-node (taken from $ORT_NODE, else npm-installed with
# --ignore-scripts into $SCRATCH/ort). The binary: $PIXSEEK (default
# build/release-cc/pixseek, built with make if missing).
set -e
cd "$(dirname "$0")/.."
SHARED=${PXS_SHARED:-../shared}
SCRATCH=${SCRATCH:-/tmp/pxs_top5}
BIN=${PIXSEEK:-build/release-cc/pixseek}
PY=/usr/bin/python3
MODEL=$SHARED/models/mobilenet_v2_classifier.onnx
CFG=models/mobilenet_v2_classifier.onnx.json
FIXTURE=tests/integration/top5_ort.txt
mkdir -p "$SCRATCH"
[ -f "$MODEL" ] || { echo "missing $MODEL" >&2; exit 1; }
$PY -c 'import PIL, numpy' 2>/dev/null || apt-get install -y python3-pil python3-numpy >"$SCRATCH/apt.log" 2>&1
[ -x "$BIN" ] || make -s -j2 >/dev/null
if [ -z "$ORT_NODE" ]; then
    ORT_NODE=$SCRATCH/ort/node_modules/onnxruntime-node
    if [ ! -d "$ORT_NODE" ]; then
        echo "# installing onnxruntime-node into $SCRATCH/ort"
        mkdir -p "$SCRATCH/ort"
        (cd "$SCRATCH/ort" && npm install --ignore-scripts --no-audit --no-fund onnxruntime-node >"$SCRATCH/npm.log" 2>&1)
    fi
fi
export ORT_NODE
echo "# onnxruntime-node $(node -p "require('$ORT_NODE/package.json').version"), $(nproc) cpus, load $(cut -d' ' -f1-3 /proc/loadavg)"

# ---- the photos (paths relative to $SHARED/data) ---------------------------------
D=$SHARED/data
list=$SCRATCH/list.txt
if [ "$1" = "--fixture" ]; then
    # candidates for the fixture: Corel photos, flowers, near-duplicate variants;
    # the first 8 without near ties among their six best logits are kept
    (cd "$D" && for i in 0 300 600 900; do echo "corel1k_wang/images/$i.jpg"; done
     ls oxford17flowers_12class_subset/test/*/*.jpg | head -2
     ls nearduplicate_generated_corel/jpeg_q30/*.jpg | head -1
     ls nearduplicate_generated_corel/rot_10/*.jpg | head -1
     for i in 100 200 400 500 700 800; do echo "corel1k_wang/images/$i.jpg"; done) >"$list"
else
    (cd "$D" && ls corel1k_wang/images/*.jpg | sort -t/ -k3 -n | awk 'NR % 4 == 1') >"$list"
    (cd "$D" && for c in oxford17flowers_12class_subset/train/*/; do ls "$c"*.jpg | head -5; done) >>"$list"
    (cd "$D" && for t in jpeg_q30 rot_10 crop_center_50 gray scale_0.5; do
        ls nearduplicate_generated_corel/$t/*.jpg | head -10; done) >>"$list"
fi
n=$(wc -l <"$list")
echo "# $n photos"

# ---- reference: PIL tensors, ONNX Runtime logits -------------------------------------
ref=$SCRATCH/ref
rm -rf "$ref"
$PY bench/reference/pil_preprocess.py "$D" "$ref" --list "$list" >"$SCRATCH/pil.log"
node bench/reference/ort_embed.js "$ref" "$MODEL" logits 16 >"$SCRATCH/ort.log"
tensor=$ref/input_${n}x3x224x224.f32
ort=$ref/embeddings_${n}x1000.f32

if [ "$1" = "--fixture" ]; then
    $PY bench/top5_compare.py "$ref/names.txt" "$ort" "$ort" --fixture "$FIXTURE" --fixture-count 8 \
        --fixture-header "# Written by sh bench/top5_eval.sh --fixture (ONNX Runtime $(node -p "require('$ORT_NODE/package.json').version"), PIL preprocessing) - do not edit.
# Top-5 ImageNet classes of ../shared/models/mobilenet_v2_classifier.onnx: photo path (under ../shared/data), 5 class indices.
"
    exit 0
fi

# ---- pixseek: same tensors, then the image files -------------------------------------------
t0=$(date +%s.%N)
# embed --tensor takes at most 256 items per file: run chunks of 100
rm -f "$SCRATCH"/chunk_* "$SCRATCH/ours_tensor.f32"
split -b $((3 * 224 * 224 * 4 * 100)) -d -a 3 "$tensor" "$SCRATCH/chunk_"
for c in "$SCRATCH"/chunk_[0-9][0-9][0-9]; do
    "$BIN" embed --model "$MODEL" --model-config "$CFG" --tensor "$c" --format f32 -o "$c.out"
    cat "$c.out" >>"$SCRATCH/ours_tensor.f32"
done
rm -f "$SCRATCH"/chunk_*
t1=$(date +%s.%N)
# shellcheck disable=SC2046
"$BIN" embed --model "$MODEL" --model-config "$CFG" --format f32 -o "$SCRATCH/ours_files.f32" \
    $(sed "s|^|$D/|" "$list")
t2=$(date +%s.%N)
echo "# pixseek: $(awk -v a="$t0" -v b="$t1" -v n="$n" 'BEGIN { printf "%.1f", (b - a) * 1000 / n }') ms/photo" \
     "on tensors, $(awk -v a="$t1" -v b="$t2" -v n="$n" 'BEGIN { printf "%.1f", (b - a) * 1000 / n }') ms/photo from files"
echo "== inference only (pixseek embed --tensor on the PIL tensors ONNX Runtime ran on)"
$PY bench/top5_compare.py "$ref/names.txt" "$ort" "$SCRATCH/ours_tensor.f32" --labels "$SHARED/models/imagenet1k_labels.tsv"
echo "== end to end (pixseek decodes and preprocesses the files itself; ONNX Runtime on PIL tensors)"
$PY bench/top5_compare.py "$ref/names.txt" "$ort" "$SCRATCH/ours_files.f32" --labels "$SHARED/models/imagenet1k_labels.tsv"
