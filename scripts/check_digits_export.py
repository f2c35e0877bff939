#!/usr/bin/env python3
"""Independent cross-check of an exported example network (not part of CI).

Reloads net.toml with tomllib and the .npy arrays with numpy, re-implements the reference semantics of
docs/net-format.md from scratch (integer dot products; batch-norm in float64 in the documented order;
sign(y >= 0) = +1; uniform quantizers; explicit thresholds; maxpool; argmax/topk head with ties to the
lower index) and asserts that it reproduces float_pred.npy and float_logits.npy bit for bit.

Usage: python3 scripts/check_digits_export.py examples/digits-mlp [examples/digits-cnn ...]
"""

import os
import re
import sys
import tomllib

import numpy as np

TOP_KEYS = {"name", "input", "layer", "head"}
INPUT_KEYS = {"shape", "dtype"}
DENSE_KEYS = {"kind", "name", "out_features", "weights", "weight_layout", "weight_dtype", "input_order",
              "pe", "simd", "activation"}
CONV_KEYS = {"kind", "name", "out_channels", "kernel", "stride", "padding", "pad_value", "weights",
             "weight_layout", "weight_dtype", "pe", "simd", "activation"}
POOL_KEYS = {"kind", "name", "kernel", "stride"}
BN_KEYS = {"kind", "gamma", "beta", "mean", "var", "eps", "alpha", "bias", "quantizer"}
THR_KEYS = {"kind", "thresholds", "out_dtype", "out_bias"}
HEAD_KEYS = {"kind", "k"}


def keys_ok(tbl, allowed, where):
    extra = set(tbl) - allowed
    assert not extra, f"{where}: unknown keys {sorted(extra)}"


def dtype_values(dt):
    """(lo, hi, is_bipolar) of a datatype; ternary only as weights."""
    if dt == "bipolar":
        return -1, 1, True
    if dt == "binary":
        return 0, 1, False
    if dt == "ternary":
        return -1, 1, False
    m = re.fullmatch(r"(u?)int([0-9]+)", dt)
    assert m, f"bad datatype {dt}"
    n = int(m.group(2))
    if m.group(1):
        assert 1 <= n <= 8
        return 0, 2 ** n - 1, False
    assert 2 <= n <= 8
    return -(2 ** (n - 1)), 2 ** (n - 1) - 1, False


def as_int(arr, dt, what):
    """Check every value is exactly a value of dt; return int64."""
    a = np.asarray(arr)
    if a.dtype.kind == "f":
        assert np.all(np.isfinite(a)) and np.all(a == np.round(a)), f"{what}: non-integer values"
    ai = a.astype(np.int64)
    lo, hi, bip = dtype_values(dt)
    if bip:
        bad = ~np.isin(ai, [-1, 1])
    else:
        bad = (ai < lo) | (ai > hi)
    assert not bad.any(), f"{what}: value outside {dt} at {np.argwhere(bad)[0]}"
    return ai


def pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def activation(acc, act, C, base, lname):
    """acc: int64 [..., C]. Returns (int64 output, output datatype)."""
    kind = act["kind"]
    if kind == "none":
        return acc, None
    if kind == "batchnorm":
        keys_ok(act, BN_KEYS, f"{lname}.activation")
        ld = lambda k: np.load(os.path.join(base, act[k])).astype(np.float64).reshape(C)
        gamma, beta, mean, var = ld("gamma"), ld("beta"), ld("mean"), ld("var")
        alpha = ld("alpha") if "alpha" in act else np.ones(C)
        bias = ld("bias") if "bias" in act else np.zeros(C)
        eps = float(act["eps"])
        assert eps > 0 and np.all(var >= 0)
        x = alpha * acc.astype(np.float64) + bias
        y = (x - mean) / np.sqrt(var + eps) * gamma + beta
        q = act["quantizer"]
        if q["kind"] == "sign":
            return np.where(y >= 0, 1, -1).astype(np.int64), "bipolar"
        assert q["kind"] == "uniform"
        n, s = int(q["bits"]), float(q["scale"])
        r = np.round(y / s)  # numpy rounds half to even
        if q["signed"]:
            return np.clip(r, -(2 ** (n - 1)), 2 ** (n - 1) - 1).astype(np.int64), f"int{n}"
        return np.clip(r, 0, 2 ** n - 1).astype(np.int64), f"uint{n}"
    assert kind == "thresholds"
    keys_ok(act, THR_KEYS, f"{lname}.activation")
    T = np.load(os.path.join(base, act["thresholds"]))
    assert np.all(T == np.round(T))
    T = T.astype(np.int64)
    if T.shape[0] == 1:
        T = np.broadcast_to(T, (C, T.shape[1]))
    cnt = (acc[..., None] >= T).sum(axis=-1)
    dt = act["out_dtype"]
    if dt == "bipolar":
        return 2 * cnt - 1, dt
    return act.get("out_bias", 0) + cnt, dt


def run(net, base, x):
    """x: int array [N, *input.shape]. Returns the last layer's output (int64) and the per-layer shapes."""
    keys_ok(net, TOP_KEYS, "top level")
    keys_ok(net["input"], INPUT_KEYS, "input")
    shape = list(net["input"]["shape"])
    dt = net["input"]["dtype"]
    h = as_int(x, dt, "input").reshape([x.shape[0]] + shape)
    N = h.shape[0]
    for i, L in enumerate(net["layer"]):
        kind = L["kind"]
        lname = L.get("name", f"{kind}{i}")
        if kind == "dense":
            keys_ok(L, DENSE_KEYS, lname)
            W = as_int(np.load(os.path.join(base, L["weights"])), L["weight_dtype"], L["weights"])
            if L.get("weight_layout", "oi") == "io":
                W = W.T
            O = L["out_features"]
            assert W.shape[0] == O
            if h.ndim == 4 and h.shape[1] * h.shape[2] > 1:
                order = L["input_order"]
                if order == "chw":
                    h = h.transpose(0, 3, 1, 2)
                else:
                    assert order == "hwc"
            v = h.reshape(N, -1)
            assert W.shape[1] == v.shape[1], f"{lname}: {W.shape} vs input {v.shape}"
            assert 1 <= L["pe"] <= O and 1 <= L["simd"] <= v.shape[1]
            acc = np.einsum("ni,oi->no", v, W)  # int64
            h, dt = activation(acc, L["activation"], O, base, lname)
            last_acc = acc
        elif kind == "conv2d":
            keys_ok(L, CONV_KEYS, lname)
            assert h.ndim == 4
            W = as_int(np.load(os.path.join(base, L["weights"])), L["weight_dtype"], L["weights"])
            if L.get("weight_layout", "oihw") == "hwio":
                W = W.transpose(3, 2, 0, 1)
            O, Ci, kh, kw = W.shape
            assert (kh, kw) == pair(L["kernel"]) and O == L["out_channels"] and Ci == h.shape[3]
            sh, sw = pair(L.get("stride", 1))
            ph, pw = pair(L.get("padding", 0))
            if (ph or pw) and dt == "bipolar":
                pv = L["pad_value"]
                assert pv in (-1, 1)
            else:
                pv = L.get("pad_value", 0)
            _, H, Wd, _ = h.shape
            xp = np.full((N, H + 2 * ph, Wd + 2 * pw, Ci), pv, dtype=np.int64)
            xp[:, ph:ph + H, pw:pw + Wd, :] = h
            OH, OW = (H + 2 * ph - kh) // sh + 1, (Wd + 2 * pw - kw) // sw + 1
            acc = np.zeros((N, OH, OW, O), dtype=np.int64)
            for oy in range(OH):  # direct convolution, one output pixel at a time
                for ox in range(OW):
                    win = xp[:, oy * sh:oy * sh + kh, ox * sw:ox * sw + kw, :]  # [N, kh, kw, Ci]
                    acc[:, oy, ox, :] = np.einsum("nhwc,ochw->no", win, W)
            h, dt = activation(acc, L["activation"], O, base, lname)
            last_acc = acc
        elif kind == "maxpool":
            keys_ok(L, POOL_KEYS, lname)
            kh, kw = pair(L["kernel"])
            sh, sw = pair(L.get("stride", L["kernel"]))
            _, H, Wd, C = h.shape
            OH, OW = (H - kh) // sh + 1, (Wd - kw) // sw + 1
            out = np.empty((N, OH, OW, C), dtype=np.int64)
            for oy in range(OH):
                for ox in range(OW):
                    out[:, oy, ox, :] = h[:, oy * sh:oy * sh + kh, ox * sw:ox * sw + kw, :].max(axis=(1, 2))
            h = out
        else:
            raise AssertionError(f"unknown layer kind {kind}")
    return h, last_acc


def head(net, out):
    flat = out.reshape(out.shape[0], -1)
    hd = net.get("head")
    k = 1
    if hd is not None:
        keys_ok(hd, HEAD_KEYS, "head")
        k = hd.get("k", 1) if hd["kind"] == "topk" else 1
    # stable sort on -value: equal values keep index order, so the lower index wins
    return np.argsort(-flat, axis=1, kind="stable")[:, :k]


def check(base):
    with open(os.path.join(base, "net.toml"), "rb") as f:
        net = tomllib.load(f)
    x = np.load(os.path.join(base, "test_x.npy"))
    y = np.load(os.path.join(base, "test_y.npy"))
    pred = np.load(os.path.join(base, "float_pred.npy"))
    logits = np.load(os.path.join(base, "float_logits.npy"))
    assert x.dtype.kind in "iu" and y.dtype == np.int64 and pred.dtype == np.int64 and logits.dtype == np.int64
    assert x.shape == (len(y), *net["input"]["shape"]), x.shape
    out, _ = run(net, base, x)
    assert net["layer"][-1]["activation"]["kind"] == "none"
    top = head(net, out)
    assert out.shape == logits.shape, (out.shape, logits.shape)
    assert np.array_equal(out, logits), f"{base}: logits differ in {int((out != logits).any(axis=1).sum())} rows"
    assert np.array_equal(top[:, 0], pred), f"{base}: predictions differ in {int((top[:, 0] != pred).sum())} rows"
    assert np.array_equal(top[:, 0], out.argmax(axis=1))
    acc = (pred == y).mean()
    print(f"OK {base}: {net['name']}: {len(y)} images, logits and predictions match; "
          f"accuracy {acc:.4f} ({int((pred == y).sum())}/{len(y)})")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    for d in sys.argv[1:]:
        check(d)
