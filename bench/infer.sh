#!/bin/sh
# bench/infer.sh — CNN inference throughput: pixseek nn vs ONNX Runtime
# (onnxruntime-node) vs PyTorch 1.13, on the same ONNX files, thread counts
# and batch sizes.
#
#   sh bench/infer.sh                      everything (~3-4 minutes)
#   SECS=1 MODELS=mobilenet_v2 PEERS=ort THREADS="1 2" BATCHES="1 16" sh bench/infer.sh
#
# Models: mobilenet_v2 = ../shared/models/mobilenet_v2_embed.onnx (the real
# model); resnet50, resnet18, vgg16_features (VGG16's convolutional part) =
# torchvision models with seeded random weights exported by
# bench/peers/torch_infer.py into $SCRATCH (never committed). Default
# MODELS="mobilenet_v2 resnet50"; add the others with MODELS=.... Each point
# runs for about $SECS seconds after warm-up and reports its best round
# (img/s), the process's peak RSS and its CPU time per image (all threads,
# averaged over the timed runs: a load-independent cost measure; the
# machine is often shared, so img/s is best-of-rounds and the load average
# is printed). Ends with one line per configuration:
#   model threads batch: pixseek X img/s, onnxruntime Y img/s, ratio X/Y
# and, with bf16 in PRECISIONS (default "fp32 bf16"), one more per
# configuration for pixseek's reduced-precision mode against the same
# ONNX Runtime fp32 run:
#   model threads batch: pixseek-bf16 X img/s, onnxruntime Y img/s (fp32), ratio X/Y
# (on a CPU without AVX512-BF16/AMX the bf16 row runs fp32 and says so).
# Installs what it lacks: python3-torch/torchvision/onnx (apt-get) and
# onnxruntime-node (npm --ignore-scripts into $SCRATCH/ort). The peers are
# yardsticks, not dependencies of pixseek.
set -e
cd "$(dirname "$0")/.."
echo "\$ SECS=${SECS:-2} MODELS=\"${MODELS:-mobilenet_v2 resnet50}\" THREADS=\"${THREADS:-1 2}\"" \
     "BATCHES=\"${BATCHES:-1 16}\" PEERS=\"${PEERS:-ort torch}\" PRECISIONS=\"${PRECISIONS:-fp32 bf16}\" sh bench/infer.sh"
SECS=${SECS:-2}
MODELS=${MODELS:-mobilenet_v2 resnet50}
THREADS=${THREADS:-1 2}
BATCHES=${BATCHES:-1 16}
PEERS=${PEERS:-ort torch}
PRECISIONS=${PRECISIONS:-fp32 bf16}
SCRATCH=${SCRATCH:-/tmp/pxs_infer_bench}
BUILD=${BUILD:-build/bench-infer}
PY=/usr/bin/python3
mkdir -p "$SCRATCH"
echo "# $(date -u +%FT%TZ) $(nproc) cpus, load: $(cut -d' ' -f1-3 /proc/loadavg)"

# ---- dependencies --------------------------------------------------------
if ! $PY -c 'import torch, torchvision, onnx' 2>/dev/null; then
    echo "# installing python3-torch python3-torchvision python3-onnx"
    apt-get install -y python3-torch python3-torchvision python3-onnx >"$SCRATCH/apt.log" 2>&1 || {
        apt-get update >>"$SCRATCH/apt.log" 2>&1
        apt-get install -y python3-torch python3-torchvision python3-onnx >>"$SCRATCH/apt.log" 2>&1
    }
fi
ORT_NODE="$SCRATCH/ort/node_modules/onnxruntime-node"
case " $PEERS " in *" ort "*)
    if [ ! -d "$ORT_NODE" ]; then
        echo "# installing onnxruntime-node into $SCRATCH/ort"
        mkdir -p "$SCRATCH/ort"
        (cd "$SCRATCH/ort" && npm install --ignore-scripts --no-audit --no-fund onnxruntime-node \
            >"$SCRATCH/npm.log" 2>&1)
    fi
    echo "# onnxruntime-node $(node -p "require('$ORT_NODE/package.json').version")";;
esac
export ORT_NODE

# ---- pixseek benchmark: core + nn objects only (other modules may be mid-change)
SRCS=$(find src/core src/nn -name '*.c' | sort)
OBJS=$(for s in $SRCS; do printf '%s ' "$BUILD/obj/${s%.c}.o"; done)
# shellcheck disable=SC2086
make -s -j"$(nproc)" BUILD="$BUILD" $OBJS
# shellcheck disable=SC2086
${CC:-cc} -std=c11 -D_GNU_SOURCE -Iinclude -Isrc -O2 -g -pthread -Wall -Wextra -Werror \
    bench/infer_bench.c $OBJS $(pkg-config --libs libxxhash 2>/dev/null) -ldnnl -lgomp -lm -o "$BUILD/infer_bench"

# ---- models ----------------------------------------------------------------
model_path() {
    case $1 in
    mobilenet_v2) echo ../shared/models/mobilenet_v2_embed.onnx ;;
    resnet50|resnet18|vgg16_features) echo "$SCRATCH/$1.onnx" ;;
    *) echo "unknown model $1" >&2; exit 2 ;;
    esac
}
torch_arch() {
    case $1 in mobilenet_v2) echo mobilenet_v2_embed ;; *) echo "$1" ;; esac
}
for model in $MODELS; do
    case $model in resnet50|resnet18|vgg16_features)
        [ -f "$SCRATCH/$model.onnx" ] || $PY bench/peers/torch_infer.py --export "$model" "$SCRATCH/$model.onnx" \
            >"$SCRATCH/export.log" 2>&1 || { cat "$SCRATCH/export.log"; exit 1; } ;;
    esac
done

# ---- run -----------------------------------------------------------------------
SUM="$SCRATCH/summary.txt"
: >"$SUM"
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p"; }
for model in $MODELS; do
    path=$(model_path "$model")
    for t in $THREADS; do
        for b in $BATCHES; do
            echo "== $model threads=$t batch=$b"
            # as the pixseek binary runs (src/cli/main.c): OpenMP threads sleep when idle
            px=""; pb=""
            for prec in $PRECISIONS; do
                out=$(OMP_WAIT_POLICY=passive "$BUILD/infer_bench" "$path" "$t" "$b" "$SECS" "$prec" 2>&1) || true
                echo "$out"; r=$(echo "$out" | grep '^RESULT') || r=""
                if [ "$prec" = bf16 ]; then pb=$r; else px=$r; fi
            done
            ox=""; tx=""
            case " $PEERS " in *" ort "*)
                out=$(node bench/peers/ort_infer.js "$path" "$t" "$b" "$SECS" 2>&1) || true
                echo "$out"; ox=$(echo "$out" | grep '^RESULT') || ox="" ;;
            esac
            case " $PEERS " in *" torch "*)
                out=$($PY bench/peers/torch_infer.py "$(torch_arch "$model")" "$t" "$b" "$SECS" 2>/dev/null) || true
                echo "$out"; tx=$(echo "$out" | grep '^RESULT') || tx="" ;;
            esac
            pv=$(echo "$px" | field img_s); ov=$(echo "$ox" | field img_s); tv=$(echo "$tx" | field img_s)
            ratio=$(awk -v a="${pv:-0}" -v b="${ov:-0}" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }')
            line="$model $t $b: pixseek ${pv:-n/a} img/s, onnxruntime ${ov:-n/a} img/s, ratio $ratio"
            [ -n "$tv" ] && line="$line (torch $tv img/s)"
            line="$line [rss MB: pixseek $(echo "$px" | field rss_mb), ort $(echo "$ox" | field rss_mb)"
            [ -n "$tx" ] && line="$line, torch $(echo "$tx" | field rss_mb)"
            line="$line; cpu ms/img: pixseek $(echo "$px" | field cpu_ms_img), ort $(echo "$ox" | field cpu_ms_img)"
            [ -n "$tx" ] && line="$line, torch $(echo "$tx" | field cpu_ms_img)"
            case " $PRECISIONS " in *" fp32 "*) echo "$line]" >>"$SUM" ;; esac
            if [ -n "$pb" ]; then
                bv=$(echo "$pb" | field img_s)
                ratio=$(awk -v a="${bv:-0}" -v b="${ov:-0}" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }')
                echo "$model $t $b: pixseek-$(echo "$pb" | field precision) ${bv:-n/a} img/s, onnxruntime ${ov:-n/a}" \
                     "img/s (fp32), ratio $ratio [rss MB: $(echo "$pb" | field rss_mb);" \
                     "cpu ms/img: pixseek-bf16 $(echo "$pb" | field cpu_ms_img), ort $(echo "$ox" | field cpu_ms_img)]" >>"$SUM"
            fi
        done
    done
done
echo "== summary (load at end: $(cut -d' ' -f1-3 /proc/loadavg))"
cat "$SUM"
