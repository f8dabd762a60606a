#!/usr/bin/python3
"""Export small torchvision CNNs with random weights to ONNX, plus torch reference
outputs, for the nn module's zoo test (tests/nn/test_nn_zoo.c).

Usage: /usr/bin/python3 scripts/export_test_models.py [OUT_DIR]   (default /tmp/pxs_nn_models)
Needs Debian's python3-torch, python3-torchvision, python3-onnx (no downloads:
weights are random, seeded). For each model it writes OUT_DIR/<name>/:
  model.onnx   dynamic batch, float32; every model at opsets 11 and 13
               (directories <name>_op11 and <name>_op13)
  input.f32    little-endian float32 NCHW, batch 2
  output.f32   torch's output for input.f32
  shape.txt    "N C H W OUT" (input dims, output floats per item)
BatchNorm running statistics and affine parameters are randomised so that
folding BN into Conv is actually exercised.
"""
import os
import sys

import numpy as np
import torch
import torchvision.models as tvm

OUT = sys.argv[1] if len(sys.argv) > 1 else "/tmp/pxs_nn_models"
OPSETS = (11, 13)


def randomise_bn(model, gen):
    for m in model.modules():
        if isinstance(m, (torch.nn.BatchNorm2d, torch.nn.BatchNorm1d)):
            c = m.num_features
            m.running_mean.copy_((torch.rand(c, generator=gen) - 0.5) * 0.2)
            m.running_var.copy_(torch.rand(c, generator=gen) + 0.5)
            if m.weight is not None:
                m.weight.data.copy_(torch.rand(c, generator=gen) + 0.5)
                m.bias.data.copy_((torch.rand(c, generator=gen) - 0.5) * 0.2)


def vgg16_features():
    return torch.nn.Sequential(tvm.vgg16().features, torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten())


MODELS = [
    # name, constructor, input size
    ("resnet18", lambda: tvm.resnet18(num_classes=100), 224),
    ("resnet50", lambda: tvm.resnet50(num_classes=100), 112),
    ("mobilenet_v2", lambda: tvm.mobilenet_v2(num_classes=100), 224),
    ("mobilenet_v3_large", lambda: tvm.mobilenet_v3_large(num_classes=100), 224),
    ("mobilenet_v3_small", lambda: tvm.mobilenet_v3_small(num_classes=100), 224),
    ("squeezenet1_1", lambda: tvm.squeezenet1_1(num_classes=100), 224),
    ("shufflenet_v2_x0_5", lambda: tvm.shufflenet_v2_x0_5(num_classes=100), 224),
    ("efficientnet_b0", lambda: tvm.efficientnet_b0(num_classes=100), 224),
    ("densenet121", lambda: tvm.densenet121(num_classes=100), 112),
    ("googlenet", lambda: tvm.googlenet(num_classes=100, aux_logits=False, init_weights=True), 224),
    ("vgg16_features", vgg16_features, 112),
]


def main():
    only = set(os.environ.get("PXS_EXPORT_ONLY", "").split(",")) - {""}
    for name, ctor, size in MODELS:
        if only and name not in only:
            continue
        torch.manual_seed(1234)
        gen = torch.Generator().manual_seed(99)
        model = ctor().eval()
        with torch.no_grad():
            randomise_bn(model, gen)
        x = torch.randn(2, 3, size, size, generator=gen)
        with torch.no_grad():
            y = model(x)
        for opset in OPSETS:
            d = os.path.join(OUT, "%s_op%d" % (name, opset))
            os.makedirs(d, exist_ok=True)
            torch.onnx.export(model, x, os.path.join(d, "model.onnx"), opset_version=opset,
                              input_names=["input"], output_names=["output"],
                              dynamic_axes={"input": {0: "N"}, "output": {0: "N"}})
            x.numpy().astype("<f4").tofile(os.path.join(d, "input.f32"))
            y.numpy().astype("<f4").tofile(os.path.join(d, "output.f32"))
            with open(os.path.join(d, "shape.txt"), "w") as f:
                f.write("2 3 %d %d %d\n" % (size, size, int(np.prod(y.shape[1:]))))
            print("%-24s opset %d %s -> %s" % (name, opset, tuple(x.shape), tuple(y.shape)))


if __name__ == "__main__":
    main()
