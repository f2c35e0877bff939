#!/usr/bin/env python3
"""Train the bnn-gen example networks on scikit-learn's 8x8 digits and export them as net.toml + .npy.

Plain numpy, deterministic for a given seed (BLAS is pinned to one thread so that every float sum is
done in the same order). Nothing is downloaded: `load_digits` ships inside scikit-learn.

Data
  1,797 images of 8x8 pixels with values 0..16. Split: stratified 80/20 with
  sklearn.model_selection.train_test_split(test_size=0.2, stratify=y, random_state=<seed>), which
  gives 1,437 training and 360 test images. Pixels become uint4 integers as min(v, 15) (only the
  value 16 changes, to 15); the network input IS these integers.

Models (BinaryNet style: latent float weights clipped to [-1, 1], sign(w) in the forward pass with a
straight-through gradient; sign activations with the hardtanh STE gradient 1{|y| <= 1}; batch-norm
with batch statistics while training and population statistics at inference)
  mlp : 64 -> 256 -> 256 -> 10, W1A1, BN+sign after the hidden layers, raw accumulators out, argmax.
  cnn : 8x8x1 -> conv3x3 p1 (16) -> BN+sign -> conv3x3 p1 pad +1 (32) -> BN+sign -> maxpool 2x2
        -> flatten (CHW, PyTorch order) -> dense 64 -> BN+sign -> dense 10 (raw) -> argmax.

After training, the BN running statistics are replaced by the exact population mean/variance of the
training set computed with the final binarized weights, layer by layer ("precise BN"), so they match
the weights that are exported. The training loss uses the raw integer logits times a learned positive
scalar (softmax temperature); a positive scale does not change the argmax, so it is not exported.

Exported per net: net.toml (docs/net-format.md), weights as float32 +-1.0, BN gamma/beta/mean/var as
float32, and test_x.npy, test_y.npy, float_pred.npy, float_logits.npy. float_pred/float_logits are
computed from the files re-read from disk, in float64, exactly per docs/net-format.md: integer dot
products, y = (acc - mean)/sqrt(var + eps)*gamma + beta, +1 iff y >= 0, argmax ties to the lower index.

Usage:
  python3 scripts/train_digits.py --model mlp --out examples/digits-mlp
  python3 scripts/train_digits.py --model cnn --out examples/digits-cnn
"""

import os

# Deterministic float sums: one BLAS thread. Must be set before numpy is imported.
for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS"):
    os.environ[_v] = "1"

import argparse
import math
import sys
import time

import numpy as np

EPS = 1e-5
BN_MOMENTUM = 0.1


# ----------------------------------------------------------------------------------------------
# data


def load_data(seed):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    x = np.minimum(d.data.astype(np.int64), 15).astype(np.uint8)  # [1797, 64], uint4 values
    y = d.target.astype(np.int64)
    xtr, xte, ytr, yte = train_test_split(x, y, test_size=0.2, stratify=y, random_state=seed)
    return xtr, ytr, xte, yte


def sign(a):
    """Bipolar sign with sign(0) = +1."""
    return np.where(a >= 0, 1.0, -1.0)


# ----------------------------------------------------------------------------------------------
# layers (float64 training graph)


class Dense:
    def __init__(self, rng, fan_in, fan_out):
        lim = math.sqrt(6.0 / (fan_in + fan_out))
        self.W = rng.uniform(-lim, lim, size=(fan_out, fan_in))
        self.params = {"W": self.W}
        self.clip = {"W"}

    def forward(self, x, mode):
        self.x = x
        self.Wb = sign(self.W)
        return x @ self.Wb.T

    def backward(self, dz):
        self.grads = {"W": dz.T @ self.x}  # STE: d/dW_latent = d/dW_binary
        return dz @ self.Wb


class Conv3x3:
    """3x3 conv, stride 1, padding 1 with a constant pad value, NCHW, weights OIHW."""

    def __init__(self, rng, cin, cout, pad_value):
        fan_in, fan_out = cin * 9, cout * 9
        lim = math.sqrt(6.0 / (fan_in + fan_out))
        self.W = rng.uniform(-lim, lim, size=(cout, cin, 3, 3))
        self.pad_value = float(pad_value)
        self.params = {"W": self.W}
        self.clip = {"W"}

    def forward(self, x, mode):
        B, C, H, W = x.shape
        xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)), constant_values=self.pad_value)
        cols = np.empty((B, H, W, C, 3, 3))
        for kh in range(3):
            for kw in range(3):
                cols[:, :, :, :, kh, kw] = xp[:, :, kh:kh + H, kw:kw + W].transpose(0, 2, 3, 1)
        self.cols = cols.reshape(B * H * W, C * 9)
        self.shape = x.shape
        self.Wb = sign(self.W).reshape(self.W.shape[0], -1)
        out = self.cols @ self.Wb.T  # [B*H*W, O]
        return out.reshape(B, H, W, -1).transpose(0, 3, 1, 2)

    def backward(self, dz):
        B, C, H, W = self.shape
        dzm = dz.transpose(0, 2, 3, 1).reshape(B * H * W, -1)
        self.grads = {"W": (dzm.T @ self.cols).reshape(self.W.shape)}
        dcols = (dzm @ self.Wb).reshape(B, H, W, C, 3, 3)
        dxp = np.zeros((B, C, H + 2, W + 2))
        for kh in range(3):
            for kw in range(3):
                dxp[:, :, kh:kh + H, kw:kw + W] += dcols[:, :, :, :, kh, kw].transpose(0, 3, 1, 2)
        return dxp[:, :, 1:-1, 1:-1]


class BatchNorm:
    """BN over axis 1 of [B, C] or [B, C, H, W]. mode: 'train' (batch stats, update running),
    'eval' (running stats), 'calib' (population stats of this whole batch become the running stats)."""

    def __init__(self, c):
        self.gamma = np.ones(c)
        self.beta = np.zeros(c)
        self.mean = np.zeros(c)
        self.var = np.ones(c)
        self.params = {"gamma": self.gamma, "beta": self.beta}
        self.clip = set()

    def _axes(self, x):
        return (0,) if x.ndim == 2 else (0, 2, 3)

    def _bc(self, v, x):
        return v if x.ndim == 2 else v[None, :, None, None]

    def forward(self, x, mode):
        ax = self._axes(x)
        if mode == "train":
            mu = x.mean(axis=ax)
            var = x.var(axis=ax)
            self.mean *= 1 - BN_MOMENTUM
            self.mean += BN_MOMENTUM * mu
            self.var *= 1 - BN_MOMENTUM
            self.var += BN_MOMENTUM * var
        else:
            if mode == "calib":
                self.mean[...] = x.mean(axis=ax)
                self.var[...] = x.var(axis=ax)
            mu, var = self.mean, self.var
        self.inv = 1.0 / np.sqrt(var + EPS)
        self.xhat = (x - self._bc(mu, x)) * self._bc(self.inv, x)
        self.ax = ax
        return self.xhat * self._bc(self.gamma, x) + self._bc(self.beta, x)

    def backward(self, dy):
        x = self.xhat
        ax = self.ax
        m = dy.size // dy.shape[1]
        dbeta = dy.sum(axis=ax)
        dgamma = (dy * x).sum(axis=ax)
        self.grads = {"gamma": dgamma, "beta": dbeta}
        dxhat = dy * self._bc(self.gamma, x)
        dx = (self._bc(self.inv, x) / m) * (
            m * dxhat - self._bc(dxhat.sum(axis=ax), x) - x * self._bc((dxhat * x).sum(axis=ax), x)
        )
        return dx


class SignAct:
    params = {}
    clip = set()

    def forward(self, y, mode):
        self.y = y
        return sign(y)

    def backward(self, dh):
        return dh * (np.abs(self.y) <= 1.0)


class MaxPool2:
    """2x2 stride-2 max pool on NCHW. Placed on the BN output before the sign in training: sign is
    monotone, so sign(max(y)) == max(sign(y)), i.e. identical to the exported conv->BN->sign->pool."""

    params = {}
    clip = set()

    def forward(self, x, mode):
        B, C, H, W = x.shape
        w = x.reshape(B, C, H // 2, 2, W // 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(B, C, H // 2, W // 2, 4)
        self.idx = w.argmax(axis=-1)
        self.shape = x.shape
        return w.max(axis=-1)

    def backward(self, dz):
        B, C, H, W = self.shape
        dw = np.zeros((B, C, H // 2, W // 2, 4))
        np.put_along_axis(dw, self.idx[..., None], dz[..., None], axis=-1)
        return dw.reshape(B, C, H // 2, W // 2, 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(B, C, H, W)


class Flatten:
    params = {}
    clip = set()

    def forward(self, x, mode):
        self.shape = x.shape
        return x.reshape(x.shape[0], -1)  # NCHW -> C,H,W order (PyTorch flatten)

    def backward(self, dz):
        return dz.reshape(self.shape)


def build(model, rng):
    if model == "mlp":
        return [
            Dense(rng, 64, 256), BatchNorm(256), SignAct(),
            Dense(rng, 256, 256), BatchNorm(256), SignAct(),
            Dense(rng, 256, 10),
        ]
    if model == "cnn":
        return [
            Conv3x3(rng, 1, 16, pad_value=0), BatchNorm(16), SignAct(),
            Conv3x3(rng, 16, 32, pad_value=1), BatchNorm(32), MaxPool2(), SignAct(),
            Flatten(),
            Dense(rng, 512, 64), BatchNorm(64), SignAct(),
            Dense(rng, 64, 10),
        ]
    raise ValueError(model)


def prep_input(model, x):
    x = x.astype(np.float64)
    if model == "cnn":
        return x.reshape(-1, 1, 8, 8)  # NCHW, C = 1
    return x


def forward(layers, x, mode):
    for l in layers:
        x = l.forward(x, mode)
    return x


# ----------------------------------------------------------------------------------------------
# training


def train(model, seed, epochs, batch, lr0, lr1, log):
    rng = np.random.default_rng(seed)
    xtr, ytr, xte, yte = load_data(seed)
    layers = build(model, rng)
    log_scale = np.array([math.log(0.25)])  # softmax temperature on the raw logits (not exported)

    params = [(l, k) for l in layers for k in l.params]
    m1 = {id(l.params[k]): np.zeros_like(l.params[k]) for l, k in params}
    m2 = {id(l.params[k]): np.zeros_like(l.params[k]) for l, k in params}
    sm1, sm2 = np.zeros(1), np.zeros(1)
    b1, b2, aeps = 0.9, 0.999, 1e-8
    X = prep_input(model, xtr)
    n = len(ytr)
    step = 0
    for ep in range(epochs):
        lr = lr0 * (lr1 / lr0) ** (ep / max(1, epochs - 1))  # exponential decay lr0 -> lr1
        perm = rng.permutation(n)
        tot_loss, tot_ok = 0.0, 0
        for s in range(0, n, batch):
            bi = perm[s:s + batch]
            if len(bi) < 2:
                continue
            logits = forward(layers, X[bi], "train")
            sc = math.exp(log_scale[0])
            z = logits * sc
            z = z - z.max(axis=1, keepdims=True)
            p = np.exp(z)
            p /= p.sum(axis=1, keepdims=True)
            yb = ytr[bi]
            B = len(bi)
            tot_loss += -np.log(p[np.arange(B), yb] + 1e-300).sum()
            tot_ok += int((logits.argmax(axis=1) == yb).sum())
            dz = p.copy()
            dz[np.arange(B), yb] -= 1.0
            dz /= B
            g_scale = np.array([(dz * logits).sum() * sc])
            d = dz * sc
            for l in reversed(layers):
                d = l.backward(d)
            step += 1
            c1, c2 = 1 - b1 ** step, 1 - b2 ** step
            for l, k in params:
                P, G = l.params[k], l.grads[k]
                a, v = m1[id(P)], m2[id(P)]
                a *= b1
                a += (1 - b1) * G
                v *= b2
                v += (1 - b2) * G * G
                P -= lr * (a / c1) / (np.sqrt(v / c2) + aeps)
                if k in l.clip:
                    np.clip(P, -1.0, 1.0, out=P)
            sm1[:] = b1 * sm1 + (1 - b1) * g_scale
            sm2[:] = b2 * sm2 + (1 - b2) * g_scale ** 2
            log_scale -= lr * (sm1 / c1) / (np.sqrt(sm2 / c2) + aeps)
        if log and (ep % 10 == 0 or ep == epochs - 1):
            te = forward(layers, prep_input(model, xte), "eval").argmax(axis=1)
            print(f"epoch {ep:3d} lr {lr:.5f} loss {tot_loss / n:.4f} train(batch) {tot_ok / n:.4f} "
                  f"test(running BN) {(te == yte).mean():.4f}", flush=True)

    # precise BN: population statistics of the training set with the final binarized weights
    forward(layers, X, "calib")
    return layers, (xtr, ytr, xte, yte)


# ----------------------------------------------------------------------------------------------
# export


def f32(a):
    return np.ascontiguousarray(a, dtype=np.float32)


def toml_layer(lines, kind, name, extra, act):
    lines.append("[[layer]]")
    lines.append(f'kind = "{kind}"')
    if name:
        lines.append(f'name = "{name}"')
    for k, v in extra:
        lines.append(f"{k} = {v}")
    lines.append("")
    lines.append("[layer.activation]")
    for k, v in act:
        lines.append(f"{k} = {v}")
    lines.append("")


def bn_act(out, name, bn):
    np.save(os.path.join(out, f"{name}_gamma.npy"), f32(bn.gamma))
    np.save(os.path.join(out, f"{name}_beta.npy"), f32(bn.beta))
    np.save(os.path.join(out, f"{name}_mean.npy"), f32(bn.mean))
    np.save(os.path.join(out, f"{name}_var.npy"), f32(bn.var))
    return [
        ("kind", '"batchnorm"'),
        ("gamma", f'"{name}_gamma.npy"'),
        ("beta", f'"{name}_beta.npy"'),
        ("mean", f'"{name}_mean.npy"'),
        ("var", f'"{name}_var.npy"'),
        ("eps", "1e-5"),
        ("quantizer", '{ kind = "sign" }'),
    ]


def export(model, layers, out, name):
    os.makedirs(out, exist_ok=True)
    L = ['# Generated by scripts/train_digits.py; see README.md in this directory.',
         f'name = "{name}"', ""]
    if model == "mlp":
        fc0, bn0, _, fc1, bn1, _, fc2 = layers
        L += ["[input]", "shape = [64]", 'dtype = "uint4"', ""]
        specs = [("fc0", fc0, bn0, 256, 16, 32), ("fc1", fc1, bn1, 256, 16, 64), ("fc2", fc2, None, 10, 2, 32)]
        for nm, d, bn, nout, pe, simd in specs:
            np.save(os.path.join(out, f"{nm}_w.npy"), f32(sign(d.W)))
            act = bn_act(out, nm, bn) if bn else [("kind", '"none"')]
            toml_layer(L, "dense", nm, [("out_features", nout), ("weights", f'"{nm}_w.npy"'),
                                        ("weight_layout", '"oi"'), ("weight_dtype", '"bipolar"'),
                                        ("pe", pe), ("simd", simd)], act)
    else:
        c0, bn0, _, c1, bn1, _, _, _, fc0, bn2, _, fc1 = layers
        L += ["[input]", "shape = [8, 8, 1]", 'dtype = "uint4"', ""]
        for nm, c, bn, cout, pe, simd, padv in [("conv0", c0, bn0, 16, 16, 1, 0), ("conv1", c1, bn1, 32, 16, 16, 1)]:
            np.save(os.path.join(out, f"{nm}_w.npy"), f32(sign(c.W)))
            toml_layer(L, "conv2d", nm, [("out_channels", cout), ("kernel", 3), ("stride", 1), ("padding", 1),
                                         ("pad_value", padv), ("weights", f'"{nm}_w.npy"'),
                                         ("weight_layout", '"oihw"'), ("weight_dtype", '"bipolar"'),
                                         ("pe", pe), ("simd", simd)], bn_act(out, nm, bn))
        L += ["[[layer]]", 'kind = "maxpool"', 'name = "pool0"', "kernel = 2", "stride = 2", ""]
        for nm, d, bn, nout, pe, simd, order in [("fc0", fc0, bn2, 64, 16, 32, True), ("fc1", fc1, None, 10, 5, 16, False)]:
            np.save(os.path.join(out, f"{nm}_w.npy"), f32(sign(d.W)))
            extra = [("out_features", nout), ("weights", f'"{nm}_w.npy"'), ("weight_layout", '"oi"'),
                     ("weight_dtype", '"bipolar"')]
            if order:
                extra.append(("input_order", '"chw"'))
            extra += [("pe", pe), ("simd", simd)]
            toml_layer(L, "dense", nm, extra, bn_act(out, nm, bn) if bn else [("kind", '"none"')])
    L += ["[head]", 'kind = "argmax"', ""]
    with open(os.path.join(out, "net.toml"), "w") as f:
        f.write("\n".join(L))


def load64(out, fname):
    return np.load(os.path.join(out, fname)).astype(np.float64)


def bn_sign_from_disk(acc, out, nm, axis_c):
    """acc: int64 with channels on axis axis_c. float64 BN in the documented order, then sign."""
    g, b, mu, var = (load64(out, f"{nm}_{p}.npy") for p in ("gamma", "beta", "mean", "var"))
    shp = [1] * acc.ndim
    shp[axis_c] = -1
    g, b, mu, var = (v.reshape(shp) for v in (g, b, mu, var))
    y = (acc.astype(np.float64) - mu) / np.sqrt(var + EPS) * g + b
    return np.where(y >= 0, 1, -1).astype(np.int64), y


def conv_int(x_nhwc, w_oihw, pad_value):
    """Integer 3x3 stride-1 pad-1 conv on NHWC int64, weights OIHW int64 -> NHWC int64."""
    N, H, W, C = x_nhwc.shape
    xp = np.full((N, H + 2, W + 2, C), pad_value, dtype=np.int64)
    xp[:, 1:-1, 1:-1, :] = x_nhwc
    acc = np.zeros((N, H, W, w_oihw.shape[0]), dtype=np.int64)
    for kh in range(3):
        for kw in range(3):
            acc += xp[:, kh:kh + H, kw:kw + W, :] @ w_oihw[:, :, kh, kw].T
    return acc


def infer_from_disk(model, out, x):
    """Integer inference from the exported files. x: uint8 [N, 64] (mlp) or [N, 8, 8, 1] (cnn).
    Returns (logits int64 [N, 10], min |y| over all BN outputs)."""
    wi = lambda nm: np.load(os.path.join(out, f"{nm}_w.npy")).astype(np.int64)
    ymin = np.inf
    h = x.astype(np.int64)
    if model == "mlp":
        for nm in ("fc0", "fc1"):
            h, y = bn_sign_from_disk(h @ wi(nm).T, out, nm, 1)
            ymin = min(ymin, np.abs(y).min())
        return h @ wi("fc2").T, ymin
    h, y = bn_sign_from_disk(conv_int(h, wi("conv0"), 0), out, "conv0", 3)
    ymin = min(ymin, np.abs(y).min())
    h, y = bn_sign_from_disk(conv_int(h, wi("conv1"), 1), out, "conv1", 3)
    ymin = min(ymin, np.abs(y).min())
    N, H, W, C = h.shape
    h = h.reshape(N, H // 2, 2, W // 2, 2, C).max(axis=(2, 4))
    h = h.transpose(0, 3, 1, 2).reshape(N, -1)  # CHW flatten, as in training
    h, y = bn_sign_from_disk(h @ wi("fc0").T, out, "fc0", 1)
    ymin = min(ymin, np.abs(y).min())
    return h @ wi("fc1").T, ymin


def to_net_input(model, x):
    return x.reshape(-1, 8, 8, 1) if model == "cnn" else x


def write_readme(out, model, name, seed, epochs, stats):
    if model == "mlp":
        what = ("A W1A1 multilayer perceptron 64-256-256-10 for scikit-learn's 8x8 digits. Input: the 64 "
                "pixels as uint4 integers. fc0 and fc1: bipolar weights, float batch-norm and a sign "
                "quantizer (bipolar outputs). fc2: bipolar weights, raw integer accumulators (logits), then "
                "an argmax head.")
        layers_md = ("| layer | shape | folding (pe, simd) | activation |\n|---|---|---|---|\n"
                     "| fc0 | 64 -> 256 (uint4 x bipolar) | 16, 32 | batchnorm + sign |\n"
                     "| fc1 | 256 -> 256 | 16, 64 | batchnorm + sign |\n"
                     "| fc2 | 256 -> 10 | 2, 32 | none (logits) |\n")
        xshape = "[360, 64]"
    else:
        what = ("A small W1A1 convolutional net for scikit-learn's 8x8 digits. Input: an 8x8x1 image (NHWC) "
                "of uint4 integers. Two 3x3 convolutions with padding 1 (conv0 pads its uint4 input with 0; "
                "conv1 pads its bipolar input with +1, `pad_value = 1`, as in training), a 2x2 max-pool, a "
                "dense layer whose input was flattened in PyTorch's CHW order (`input_order = \"chw\"`), and "
                "a raw-logit dense layer followed by an argmax head.")
        layers_md = ("| layer | shape | folding (pe, simd) | activation |\n|---|---|---|---|\n"
                     "| conv0 | 8x8x1 -> 8x8x16, 3x3, pad 1 (value 0) | 16, 1 | batchnorm + sign |\n"
                     "| conv1 | 8x8x16 -> 8x8x32, 3x3, pad 1 (value +1) | 16, 16 | batchnorm + sign |\n"
                     "| pool0 | maxpool 2x2 -> 4x4x32 | - | - |\n"
                     "| fc0 | 512 (CHW flatten) -> 64 | 16, 32 | batchnorm + sign |\n"
                     "| fc1 | 64 -> 10 | 5, 16 | none (logits) |\n")
        xshape = "[360, 8, 8, 1]"
    neg = "\n".join(f"| {nm} | {n} of {c} |" for nm, n, c in stats["neg_gamma"])
    txt = f"""# {name}

{what}

Generated by `scripts/train_digits.py`; regenerate with

```
python3 scripts/train_digits.py --model {model} --out examples/{name} --seed {seed} --epochs {epochs}
```

(deterministic: same files on the same machine and library versions, `scripts/requirements.txt`).

## Data

- scikit-learn `load_digits` (1,797 images, 8x8, pixels 0..16), shipped inside the package.
- Split: `train_test_split(test_size=0.2, stratify=y, random_state={seed})` -> 1,437 train, 360 test.
- Input preprocessing: pixel `v` -> `min(v, 15)`, a uint4 integer. The network input is that integer.
- Seed {seed} also drives the weight initialisation and the minibatch order.

## Layers

{layers_md}
## Training

BinaryNet-style straight-through estimator in plain numpy: latent float weights clipped to [-1, 1],
sign(w) in the forward pass; sign activations with the hardtanh STE gradient; batch-norm with batch
statistics in training. Adam, batch 64, {epochs} epochs, learning rate decaying exponentially
from {stats['lr0']} to {stats['lr1']}; softmax cross-entropy on the integer logits times a learned
positive temperature (not exported: it does not change the argmax). After training, the batch-norm
mean/var are set to the exact population statistics of the training set under the final binarized
weights (biased variance). Training takes {stats['time_txt']} on one core (one BLAS thread).

## Accuracy of the exported model

Measured on the exported files (float32 on disk, evaluated in float64 with integer dot products,
`y = (acc - mean)/sqrt(var + eps)*gamma + beta`, `+1` iff `y >= 0`, argmax with ties to the lower
index), i.e. exactly what `bnn-gen` is given:

| set | images | accuracy |
|---|---|---|
| train | 1437 | {stats['train_acc']:.4f} ({stats['train_ok']}/1437) |
| test | 360 | {stats['test_acc']:.4f} ({stats['test_ok']}/360) |

Smallest |y| of any batch-norm output over the test set: {stats['ymin_test']:.3g}; test images whose
top logit is tied: {stats['ties']} (argmax takes the lower index).

## Batch-norm gammas

Exported as float parameters (gamma, beta, mean, var, eps = 1e-5), not folded thresholds. Negative
gammas (channels whose output falls as the accumulator rises):

| layer | negative gammas |
|---|---|
{neg}

## Files

- `net.toml`: the network, docs/net-format.md.
- `*_w.npy`: float32 weights, every value -1.0 or +1.0, PyTorch layout (`oi` / `oihw`).
- `*_gamma.npy`, `*_beta.npy`, `*_mean.npy`, `*_var.npy`: float32 batch-norm parameters.
- `test_x.npy`: uint8 {xshape}, the test images as uint4 values.
- `test_y.npy`: int64 [360], labels.
- `float_pred.npy`: int64 [360], the reference prediction of each test image (as above).
- `float_logits.npy`: int64 [360, 10], the last layer's raw integer accumulators.

`python3 scripts/check_digits_export.py examples/{name}` recomputes the reference independently from
net.toml and the arrays and compares it with `float_pred.npy` and `float_logits.npy`.
"""
    with open(os.path.join(out, "README.md"), "w") as f:
        f.write(txt)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", choices=["mlp", "cnn"], required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr0", type=float, default=1e-2)
    ap.add_argument("--lr1", type=float, default=1e-4)
    ap.add_argument("--name", default=None)
    ap.add_argument("--quiet", action="store_true")
    a = ap.parse_args()
    epochs = a.epochs if a.epochs is not None else 100
    name = a.name or os.path.basename(os.path.normpath(a.out))

    t0 = time.time()
    layers, (xtr, ytr, xte, yte) = train(a.model, a.seed, epochs, a.batch, a.lr0, a.lr1, not a.quiet)
    t_train = time.time() - t0

    export(a.model, layers, a.out, name)
    tr_logits, _ = infer_from_disk(a.model, a.out, to_net_input(a.model, xtr))
    te_logits, ymin = infer_from_disk(a.model, a.out, to_net_input(a.model, xte))
    tr_pred, te_pred = tr_logits.argmax(axis=1), te_logits.argmax(axis=1)
    srt = np.sort(te_logits, axis=1)
    ties = int((srt[:, -1] == srt[:, -2]).sum())

    # cross-check against the float64 training graph in eval mode (unrounded parameters)
    g_pred = forward(layers, prep_input(a.model, xte), "eval").argmax(axis=1)
    if (g_pred != te_pred).any():
        print(f"note: {int((g_pred != te_pred).sum())} test predictions differ between the float64 graph "
              "and the float32-exported model", file=sys.stderr)

    np.save(os.path.join(a.out, "test_x.npy"), np.ascontiguousarray(to_net_input(a.model, xte), dtype=np.uint8))
    np.save(os.path.join(a.out, "test_y.npy"), yte.astype(np.int64))
    np.save(os.path.join(a.out, "float_pred.npy"), te_pred.astype(np.int64))
    np.save(os.path.join(a.out, "float_logits.npy"), te_logits.astype(np.int64))

    neg = [(l_name, int((bn.gamma.astype(np.float32) < 0).sum()), bn.gamma.size)
           for l_name, bn in zip(["conv0", "conv1", "fc0"] if a.model == "cnn" else ["fc0", "fc1"],
                                 [l for l in layers if isinstance(l, BatchNorm)])]
    stats = dict(lr0=a.lr0, lr1=a.lr1, time=t_train, train_ok=int((tr_pred == ytr).sum()),
                 test_ok=int((te_pred == yte).sum()), ymin_test=float(ymin), ties=ties, neg_gamma=neg)
    stats["time_txt"] = ("under 10 s" if t_train < 10 else "under a minute" if t_train < 60
                         else "a few minutes")
    stats["train_acc"] = stats["train_ok"] / len(ytr)
    stats["test_acc"] = stats["test_ok"] / len(yte)
    write_readme(a.out, a.model, name, a.seed, epochs, stats)
    print(f"{name}: train {stats['train_acc']:.4f} test {stats['test_acc']:.4f} ({stats['test_ok']}/{len(yte)}) "
          f"time {t_train:.1f}s negative gammas {neg} min|y| {ymin:.3g} ties {ties}")


if __name__ == "__main__":
    main()
