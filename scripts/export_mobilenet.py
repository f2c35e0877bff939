#!/usr/bin/env python3
"""Make the MobileNet-style test models of issue 14: a depthwise-separable W4A4 net trained in
Brevitas on scikit-learn's digits, and a magnitude-pruned variant of it, each exported to QONNX
with qonnx `execute_onnx` references.

Developer machines only (CI never runs this; it uses the committed results). Runs in the venv that
scripts/export_brevitas.py creates (.venv-brevitas), plus scikit-learn for the data.

Data: `sklearn.datasets.load_digits()` (1,797 images, 8x8, pixels 0..16). Seeded shuffle; the first
1,400 train, the other 397 are held out; the first 256 held-out images are the committed test
frames. The model input is float32 [N, 1, 8, 8] = pixel / 16.

Model (W4A4, per-output-channel weight scales, per-tensor activation scales):
  8-bit unsigned input quantizer (constant scale 1/255)
  conv 3x3 1->16 pad 1 + BN + QuantReLU 4 bits                         8x8
  depthwise 3x3 16 pad 1 (groups=16) + BN + QuantReLU; pointwise 1x1 16->32 + BN + QuantReLU   8x8
  depthwise 3x3 32 pad 1 stride 2 + BN + QuantReLU; pointwise 1x1 32->32 + BN + QuantReLU     4x4
  depthwise 3x3 32 pad 1 + BN + QuantReLU; pointwise 1x1 32->48 + BN + QuantReLU              4x4
  TruncAdaptiveAvgPool2d(1) (global average pooling, a sum then a rounding shift)            1x1
  flatten, QuantLinear 48->10 (4-bit weights, no bias): the logits.

Pruned variant: the trained net, then per layer the smallest-magnitude fraction `--sparsity` of the
float weights set to zero (masks kept), fine-tuned with the masks re-applied after every step.

Written to tests/models/mobilenet-digits/ and tests/models/mobilenet-digits-pruned/:
raw.onnx (brevitas.export.export_qonnx), clean.onnx (qonnx.util.cleanup), ref_raw.npy and
ref_clean.npy (execute_onnx, float32 [256, 10]), info.json (accuracies, epochs, sparsity, ops);
shared: tests/models/digits256_x.npy (float32 [256, 1, 8, 8]), digits256_y.npy (int64 [256]).

Usage: nice python3 scripts/export_mobilenet.py [--epochs N] [--finetune N] [--sparsity F]
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import export_brevitas as eb  # noqa: E402  (re-executes inside .venv-brevitas)

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import onnx  # noqa: E402

OUT = eb.OUT
N_TEST = 256


def data():
    from sklearn.datasets import load_digits

    d = load_digits()
    rng = np.random.default_rng(0)
    order = rng.permutation(len(d.target))
    x = (d.images[order].astype(np.float32) / 16.0).reshape(-1, 1, 8, 8)
    y = d.target[order].astype(np.int64)
    return (x[:1400], y[:1400]), (x[1400:], y[1400:])


def build():
    import torch
    import torch.nn as nn
    import brevitas.nn as qnn
    from brevitas.core.scaling import ScalingImplType
    from brevitas.quant import Int8WeightPerChannelFloat, Uint8ActPerTensorFloat

    class PixelQuant(Uint8ActPerTensorFloat):
        """uint8 with the constant scale 1/255."""

        scaling_impl_type = ScalingImplType.CONST
        scaling_init = 1.0

    def conv(i, o, k, stride=1, groups=1):
        return qnn.QuantConv2d(i, o, k, stride=stride, padding=k // 2, groups=groups, bias=False,
                               weight_quant=Int8WeightPerChannelFloat, weight_bit_width=4)

    def act():
        return qnn.QuantReLU(bit_width=4, return_quant_tensor=True)

    def separable(i, o, stride):
        return [conv(i, i, 3, stride, groups=i), nn.BatchNorm2d(i), act(),
                conv(i, o, 1), nn.BatchNorm2d(o), act()]

    class MobileNetDigits(nn.Module):
        def __init__(self):
            super().__init__()
            self.inp = qnn.QuantIdentity(act_quant=PixelQuant, return_quant_tensor=True)
            self.features = nn.Sequential(
                conv(1, 16, 3), nn.BatchNorm2d(16), act(),
                *separable(16, 32, 1),
                *separable(32, 32, 2),
                *separable(32, 48, 1),
            )
            self.pool = qnn.TruncAdaptiveAvgPool2d(output_size=1, return_quant_tensor=True)
            self.classifier = qnn.QuantLinear(48, 10, bias=False, weight_quant=Int8WeightPerChannelFloat,
                                              weight_bit_width=4)

        def forward(self, x):
            x = self.pool(self.features(self.inp(x)))
            return self.classifier(torch.flatten(x, 1))

    return MobileNetDigits()


def weight_layers(model):
    import brevitas.nn as qnn

    return [m for m in model.modules() if isinstance(m, (qnn.QuantConv2d, qnn.QuantLinear))]


def train(model, xtr, ytr, epochs, lr, masks=None):
    import torch
    import torch.nn.functional as F

    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(epochs, 1))
    xt, yt = torch.from_numpy(xtr), torch.from_numpy(ytr)
    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(len(yt))
        for i in range(0, len(yt), 50):
            idx = perm[i:i + 50]
            loss = F.cross_entropy(model(xt[idx]), yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            if masks is not None:
                with torch.no_grad():
                    for layer, m in zip(weight_layers(model), masks):
                        layer.weight.mul_(m)
        sched.step()
        print(f"epoch {epoch}: loss {loss.item():.3f}", flush=True)


def accuracy(model, x, y):
    import torch

    model.eval()
    with torch.no_grad():
        logits = model(torch.from_numpy(x)).numpy()
    return logits, float((logits.argmax(1) == y).mean())


def magnitude_masks(model, sparsity):
    """Per layer, zero the `sparsity` fraction of weights with the smallest magnitude."""
    import torch

    masks = []
    for layer in weight_layers(model):
        w = layer.weight.detach().abs().flatten()
        k = int(round(sparsity * w.numel()))
        m = torch.ones_like(layer.weight)
        if k > 0:
            cut = torch.kthvalue(w, k).values
            m = (layer.weight.detach().abs() > cut).float()
        masks.append(m)
        with torch.no_grad():
            layer.weight.mul_(m)
    return masks


def graph_ops(path):
    """The op list of a graph: op type, domain and the attributes that matter for lowering."""
    m = onnx.load(path)
    ops = []
    for n in m.graph.node:
        attrs = {}
        for a in n.attribute:
            v = onnx.helper.get_attribute_value(a)
            attrs[a.name] = v.decode() if isinstance(v, bytes) else (list(v) if isinstance(v, (list, tuple)) else v)
        ops.append({"op": n.op_type, "domain": n.domain, "name": n.name, "attrs": attrs})
    return ops


def export(model, name, xte, yte, torch_logits, extra):
    import torch
    from brevitas.export import export_qonnx
    from qonnx.util.cleanup import cleanup

    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    raw, clean = os.path.join(d, "raw.onnx"), os.path.join(d, "clean.onnx")
    export_qonnx(model, torch.from_numpy(xte[:1]), export_path=raw, dynamo=False)
    cleanup(raw, out_file=clean)
    n = N_TEST
    info = {
        "data": "sklearn load_digits, seeded split (1400 train / 397 held out), 8x8, pixel/16",
        **extra,
        "pytorch_accuracy_256": float((torch_logits[:n].argmax(1) == yte[:n]).mean()),
        "pytorch_accuracy_397": float((torch_logits.argmax(1) == yte).mean()),
    }
    for form, path in (("raw", raw), ("clean", clean)):
        ref = eb.qonnx_run(path, xte[:n])
        np.save(os.path.join(d, f"ref_{form}.npy"), ref)
        info[f"qonnx_{form}_accuracy_256"] = float((ref.argmax(1) == yte[:n]).mean())
        info[f"qonnx_{form}_vs_pytorch_max_abs"] = float(np.abs(ref - torch_logits[:n]).max())
    ops = graph_ops(clean)
    info["clean_ops"] = sorted({o["op"] for o in ops})
    with open(os.path.join(d, "info.json"), "w") as f:
        json.dump(info, f, indent=1)
    with open(os.path.join(d, "ops_clean.txt"), "w") as f:
        for o in ops:
            f.write(f"{o['op']:<20} {o['domain'] or '-':<26} {o['name']:<28} {o['attrs']}\n")
    print(name, json.dumps(info, indent=1), flush=True)


def main():
    import torch

    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=25)
    ap.add_argument("--finetune", type=int, default=10)
    ap.add_argument("--sparsity", type=float, default=0.6)
    args = ap.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(1)
    (xtr, ytr), (xte, yte) = data()
    np.save(os.path.join(OUT, "digits256_x.npy"), xte[:N_TEST])
    np.save(os.path.join(OUT, "digits256_y.npy"), yte[:N_TEST])

    model = build()
    cache = os.path.join(eb.VENV, f"mobilenet-digits-{args.epochs}.pt")
    t0 = time.time()
    if os.path.exists(cache):
        model.load_state_dict(torch.load(cache))
    else:
        train(model, xtr, ytr, args.epochs, 0.01)
        torch.save(model.state_dict(), cache)
    logits, acc = accuracy(model, xte, yte)
    print(f"dense: held-out accuracy {acc:.4f} ({time.time() - t0:.0f} s)", flush=True)
    export(model, "mobilenet-digits", xte, yte, logits, {"epochs": args.epochs})

    masks = magnitude_masks(model, args.sparsity)
    _, acc0 = accuracy(model, xte, yte)
    print(f"pruned {args.sparsity:.0%} before fine-tuning: {acc0:.4f}", flush=True)
    train(model, xtr, ytr, args.finetune, 0.002, masks)
    logits, acc = accuracy(model, xte, yte)
    zeros = sum(int((layer.quant_weight().value == 0).sum()) for layer in weight_layers(model))
    total = sum(layer.weight.numel() for layer in weight_layers(model))
    print(f"pruned: held-out accuracy {acc:.4f}, {zeros}/{total} quantized weights zero", flush=True)
    export(model, "mobilenet-digits-pruned", xte, yte, logits, {
        "epochs": args.epochs,
        "finetune_epochs": args.finetune,
        "magnitude_sparsity_per_layer": args.sparsity,
        "pytorch_accuracy_397_pruned_before_finetune": acc0,
        "quantized_weights_zero": zeros,
        "weights_total": total,
    })


if __name__ == "__main__":
    main()
