"""LRP for the gated thesis classifiers, one sample at a time in plain numpy: the cross-check.

Written from Arras et al. (2017), "Explaining recurrent neural network predictions in sentiment
analysis" (Sec. 2-3), independently of ``reference.thesis.explain_gated``: the way their
``LRP_for_LSTM`` code works: one sequence at a time, a loop over time steps, each linear map as its
matrix of messages ``R_{j<-k}`` (the sums of signal terms too, as maps ``[I I]`` without bias). It
shares nothing with the torch code but the parameter names of the model's ``state_dict``.

Also the per-sample baseline of ``benchmarks/lrp_gated.py`` (which adds ``tests/`` to its path).
"""
from __future__ import annotations

import numpy as np


def sign(v):
    return np.where(v >= 0, 1.0, -1.0)


def sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def relu(v):
    return np.maximum(v, 0.0)


def parameters(model) -> dict:
    """The model's weights as float64 numpy arrays, in torch's (out, in) orientation."""
    sd = {k: v.detach().cpu().double().numpy() for k, v in model.state_dict().items()}
    p = {"cell": model.cell, "T": model.seq_len, "w": 28 // model.seq_len,
         "W1": sd["features.0.weight"], "b1": -np.logaddexp(0.0, sd["features.0.b"]),   # -softplus(b)
         "Wx": sd["input_map.weight"], "bx": sd["input_map.bias"],
         "Wh": sd.get("recurrent_map.weight"), "b_hn": sd.get("b_hn"),
         "Wy": sd["head.1.weight"], "by": sd["head.1.bias"]}
    p["H"] = p["Wy"].shape[1]
    return p


def lrp_linear(a, W, b, z, R, eps):
    """Epsilon rule for ``z = W a + b`` (W: (K, J)); the bias and stabiliser keep their share.

    Returns ``(R_in (J,), absorbed)``; message ``R_{j<-k} = a_j W_kj / (z_k + eps sign z_k) R_k``.
    """
    denom = z + eps * sign(z)
    messages = W * a[None, :] / denom[:, None] * R[:, None]        # (K, J)
    absorbed = np.sum((b + eps * sign(z)) / denom * R)
    return messages.sum(0), absorbed


def lrp_pixels(x, W, R, rule, low, high):
    """z^beta (box [low, high]) or z+ from the features ``relu(W x + b)`` (W: (K, J)) to the pixels."""
    Wp, Wn = np.maximum(W, 0), np.minimum(W, 0)
    if rule == "zbeta":
        contributions = W * x[None, :] - low * Wp - high * Wn       # (K, J)
    elif rule == "zplus":
        contributions = Wp * x[None, :]
    else:
        raise ValueError(rule)
    z = contributions.sum(1)
    share = np.where(z[:, None] == 0, 0.0, contributions / np.where(z == 0, 1.0, z)[:, None])
    return (share * R[:, None]).sum(0)


def split(first, second, R, eps):
    """Signal-take-all at ``total = first + second`` (H,): the sum as a linear map ``[I I]`` with no bias
    (as ``LRP_for_LSTM`` does it); returns (R_first, R_second, absorbed by the stabiliser)."""
    H = len(R)
    R_in, absorbed = lrp_linear(np.concatenate([first, second]), np.hstack([np.eye(H), np.eye(H)]), np.zeros(H),
                                first + second, R, eps)
    return R_in[:H], R_in[H:], absorbed


def explain_one(p: dict, image: np.ndarray, target: int | None = None, *, rule="zbeta", low=0.0, high=1.0,
                eps=1e-3) -> dict:
    """LRP of one image (28, 28): ``heatmap`` (28, 28), ``f``, ``target``, ``absorbed``."""
    T, w, H = p["T"], p["w"], p["H"]
    xs = [image[:, t * w:(t + 1) * w].reshape(-1) for t in range(T)]
    # forward, keeping what the backward pass needs
    h, c = np.zeros(H), np.zeros(H)
    steps = []
    for x in xs:
        a = relu(p["W1"] @ x + p["b1"])
        zx = p["Wx"] @ a + p["bx"]
        zh = p["Wh"] @ h if p["Wh"] is not None else np.zeros_like(zx)
        s = {"x": x, "a": a, "h_prev": h, "c_prev": c}
        if p["cell"] == "lstm":
            z = zx + zh
            i, f, g, o = sigmoid(z[:H]), sigmoid(z[H:2 * H]), np.tanh(z[2 * H:3 * H]), sigmoid(z[3 * H:])
            c = f * c + i * g
            h = o * np.tanh(c)
            s.update(i=i, f=f, g=g, z_g=z[2 * H:3 * H])
        else:
            r = sigmoid(zx[:H] + zh[:H])
            u = sigmoid(zx[H:2 * H] + zh[H:2 * H])
            hn = zh[2 * H:] + (p["b_hn"] if p["b_hn"] is not None else 0.0)
            z_n = zx[2 * H:] + r * hn
            n = np.tanh(z_n)
            h = (1 - u) * h + u * n
            s.update(r=r, u=u, n=n, z_n=z_n)
        steps.append(s)
    y = p["Wy"] @ h + p["by"]
    k = int(np.argmax(y)) if target is None else int(target)
    R_y = np.zeros_like(y)
    R_y[k] = y[k]

    R_h, absorbed = lrp_linear(h, p["Wy"], p["by"], y, R_y, eps)
    R_c = np.zeros(H)
    heatmap = np.zeros((28, 28))
    for t in reversed(range(T)):
        s = steps[t]
        n_a = len(s["a"])
        if p["cell"] == "lstm":
            R_c = R_c + R_h                                   # o_t is a gate: R_h goes to c_t whole
            R_c, R_g, ab = split(s["f"] * s["c_prev"], s["i"] * s["g"], R_c, eps)
            W = p["Wx"][2 * H:3 * H]
            if p["Wh"] is not None:
                W = np.concatenate([W, p["Wh"][2 * H:3 * H]], axis=1)
            R_in, ab_lin = lrp_linear(np.concatenate([s["a"], s["h_prev"]])[:W.shape[1]], W, p["bx"][2 * H:3 * H],
                                      s["z_g"], R_g, eps)
            R_h = R_in[n_a:] if p["Wh"] is not None else np.zeros(H)
        else:
            R_direct, R_n, ab = split((1 - s["u"]) * s["h_prev"], s["u"] * s["n"], R_h, eps)
            W, bias = p["Wx"][2 * H:], p["bx"][2 * H:].copy()
            if p["Wh"] is not None:   # the reset gate is a constant factor on W_hn and b_hn
                W = np.concatenate([W, s["r"][:, None] * p["Wh"][2 * H:]], axis=1)
                bias = bias + s["r"] * p["b_hn"]
            R_in, ab_lin = lrp_linear(np.concatenate([s["a"], s["h_prev"]])[:W.shape[1]], W, bias, s["z_n"], R_n, eps)
            R_h = R_direct + (R_in[n_a:] if p["Wh"] is not None else 0.0)
        absorbed += ab + ab_lin
        R_x = lrp_pixels(s["x"], p["W1"], R_in[:n_a], rule, low, high)
        heatmap[:, t * w:(t + 1) * w] = R_x.reshape(28, w)
    return {"heatmap": heatmap, "f": y[k], "target": k, "absorbed": absorbed}


def explain_batch(model, images: np.ndarray, **options) -> dict:
    """:func:`explain_one` for each image (N, 28, 28), stacked."""
    p = parameters(model)
    out = [explain_one(p, np.asarray(im, dtype=np.float64), **options) for im in images]
    return {key: np.stack([o[key] for o in out]) for key in out[0]}
