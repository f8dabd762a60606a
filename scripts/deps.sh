#!/usr/bin/env bash
# scripts/deps.sh — install every Debian package pixseek's build, tests and
# benchmarks need. Idempotent; prints nothing when everything is present.
#   scripts/deps.sh            build + test packages
#   scripts/deps.sh --bench    also the benchmark peers
set -euo pipefail

packages=(
  build-essential clang libclang-rt-14-dev pkg-config make
  libvips-dev libvips-tools liblmdb-dev lmdb-utils libmicrohttpd-dev libcjson-dev libxxhash-dev
  curl util-linux time python3 python3-pil zlib1g-dev python3-numpy
  libjpeg62-turbo-dev                              # libjpeg: thumbnails and the JPEG fast paths (src/image/encode.c, jpeg_fast.c)
  libdnnl-dev                                      # oneDNN: fp32 conv backend of src/nn (no .pc file: -ldnnl)
  python3-torch python3-torchvision python3-onnx   # reference outputs for the nn zoo test
)
if [[ "${1:-}" == "--bench" ]]; then
  packages+=(hyperfine wrk python3-numpy python3-pil python3-hnswlib dataset-fashion-mnist)
fi

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "scripts/deps.sh: installing ${missing[*]}" >&2
SUDO=""
[[ $(id -u) -eq 0 ]] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
