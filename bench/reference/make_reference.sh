#!/bin/sh
# bench/reference/make_reference.sh — reference embeddings (PIL + ONNX
# Runtime) for a directory of images, cached under /tmp. Benchmark tooling
# only: the test suite never needs it.
#
#   sh bench/reference/make_reference.sh [IMAGE_DIR] [CACHE_DIR]
# defaults: ../shared/data/corel1k_wang/images -> /tmp/pxs-ref/corel1k
# Needs /usr/bin/python3 with python3-pil and python3-numpy, node, and
# onnxruntime-node in /tmp/ortnode (or $ORT_NODE):
#   apt-get install -y python3-pil python3-numpy
#   mkdir -p /tmp/ortnode && cd /tmp/ortnode && npm install --ignore-scripts onnxruntime-node
# Environment: PXS_SHARED (default ../shared), MODEL (default the shared
# mobilenet_v2_embed.onnx), CHECK_TV=K to cross-check K tensors against
# torchvision.
set -e
here=$(cd "$(dirname "$0")" && pwd)
shared=${PXS_SHARED:-$here/../../../shared}
dir=${1:-$shared/data/corel1k_wang/images}
cache=${2:-/tmp/pxs-ref/corel1k}
model=${MODEL:-$shared/models/mobilenet_v2_embed.onnx}
if [ -f "$cache/embeddings.json" ] && [ -z "$FORCE" ]; then
    echo "cached: $cache (FORCE=1 to rebuild)"
    exit 0
fi
/usr/bin/python3 "$here/pil_preprocess.py" "$dir" "$cache" --check-torchvision "${CHECK_TV:-0}"
node "$here/ort_embed.js" "$cache" "$model" embedding 16
