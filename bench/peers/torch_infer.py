#!/usr/bin/python3
"""bench/peers/torch_infer.py — PyTorch (Debian python3-torch 1.13) throughput peer
for bench/infer.sh, and the exporter of the random-weight ResNet50 it compares on.

  torch_infer.py ARCH THREADS BATCH [SECONDS]     benchmark
  torch_infer.py --export ARCH OUT.onnx           export ARCH (seeded random weights)

ARCH is mobilenet_v2_embed (torchvision MobileNetV2 without its classifier:
[N,1280] like ../shared/models/mobilenet_v2_embed.onnx; random weights, same
architecture and cost), resnet50, resnet18 or vgg16_features (VGG16's
convolutional part, [N,512,7,7], as image-search embedders use it); seed
1234: the same weights as the exported ONNX. The model runs under torch.inference_mode with
torch.set_num_threads(THREADS), one inter-op thread, after
torch.jit.freeze + optimize_for_inference (conv/BN folding, as ONNX Runtime
does) when that works, else eager. Warm-up, then rounds of ~0.25 s for about
SECONDS, best round reported:
  RESULT torch threads=T batch=B img_s=X ms_per_batch=Y rss_mb=Z cpu_ms_img=C runs=R
"""
import resource
import sys
import time

import torch
import torchvision.models as tvm


def build(arch):
    torch.manual_seed(1234)
    if arch == "mobilenet_v2_embed":
        m = tvm.mobilenet_v2()
        m.classifier = torch.nn.Identity()
    elif arch == "resnet50":
        m = tvm.resnet50()
    elif arch == "resnet18":
        m = tvm.resnet18()
    elif arch == "vgg16_features":  # VGG16 without its classifier: [N,512,7,7]
        m = tvm.vgg16().features
    else:
        raise SystemExit("unknown arch %s" % arch)
    return m.eval()


def export(arch, path):
    m = build(arch)
    x = torch.randn(1, 3, 224, 224)
    torch.onnx.export(m, x, path, opset_version=13, input_names=["input"], output_names=["output"],
                      dynamic_axes={"input": {0: "N"}, "output": {0: "N"}})
    print("exported %s -> %s" % (arch, path))


def bench(arch, threads, batch, budget):
    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    m = build(arch)
    x = torch.rand(batch, 3, 224, 224) * 4 - 2
    mode = "eager"
    with torch.inference_mode():
        run = m
        try:
            with torch.no_grad():
                tm = torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.trace(m, x)))
                tm(x)
            run, mode = tm, "jit-frozen"
        except Exception as e:  # noqa: BLE001 - fall back to eager
            print("# torch: optimize_for_inference failed (%s), eager" % e)
        t0 = time.perf_counter()
        for _ in range(2):
            run(x)
        one = (time.perf_counter() - t0) / 2
        per_round = max(1, int(0.25 / max(one, 1e-9)))
        best, runs = float("inf"), 0
        t_end = time.perf_counter() + budget
        c0 = time.process_time()
        while True:
            r0 = time.perf_counter()
            for _ in range(per_round):
                run(x)
            best = min(best, (time.perf_counter() - r0) / per_round)
            runs += per_round
            if time.perf_counter() >= t_end:
                break
        cpu = time.process_time() - c0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print("# torch %s: %s, %d threads" % (torch.__version__, mode, torch.get_num_threads()))
    print("RESULT torch threads=%d batch=%d img_s=%.1f ms_per_batch=%.3f rss_mb=%.1f cpu_ms_img=%.3f runs=%d"
          % (threads, batch, batch / best, best * 1e3, rss, cpu * 1e3 / (runs * batch), runs))


def main():
    a = sys.argv[1:]
    if len(a) == 3 and a[0] == "--export":
        export(a[1], a[2])
    elif len(a) >= 3:
        bench(a[0], int(a[1]), int(a[2]), float(a[3]) if len(a) > 3 else 2.0)
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
