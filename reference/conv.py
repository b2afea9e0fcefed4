"""Convolution and pooling arithmetic (MIT 6.874 recitation 3, "CNNs, RNNs, and interpretability").

The recitation's discrete 2-D convolution is, as in every deep-learning library, a
*cross-correlation* (the kernel is not flipped)::

    S(i, j) = (W * I)(i, j) = sum_m sum_n I(i + m, j + n) W(m, n)

With ``C`` input channels, ``K`` kernels of shape ``(C, kh, kw)``, stride ``s``, zero padding ``p``
and dilation ``d`` (the kernel's taps ``d`` pixels apart), output channel ``k`` at ``(i, j)`` is::

    out[k, i, j] = b[k] + sum_c sum_m sum_n  x_pad[c, s*i + d*m, s*j + d*n] * w[k, c, m, n]

and each spatial side of length ``n`` becomes (the floor formula; torch's ``Conv2d`` and
``MaxPool2d`` documentation)::

    n_out = floor((n + 2p - d (k - 1) - 1) / s) + 1

``d (k - 1) + 1`` is the *effective* kernel size; when ``s`` divides ``n + 2p - d(k - 1) - 1`` the
floor is exact. Pooling uses the same arithmetic (a window of size ``k``, by default ``s = k``).

The recitation's worked examples are kept as constants (:data:`WORKED_5X5`, :data:`WORKED_RGB`) and
reproduced by :func:`conv2d`. Translation equivariance, ``conv(shift(I)) = shift(conv(I))``, holds
exactly for circular padding and circular shifts (:func:`shift`), and for zero padding away from
the border; with stride ``s`` only for shifts by multiples of ``s``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .validate import as_float_array


# --- the output size -------------------------------------------------------------------------

def _int(value, name: str, *, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name}: expected an integer, got {type(value).__name__} ({value!r})")
    if value < low:
        raise ValueError(f"{name}: expected an integer >= {low}, got {value}")
    return int(value)


def _pair(value, name: str, *, low: int) -> tuple[int, int]:
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{name}: expected an int or a pair (height, width), got {value!r}")
        return _int(value[0], name, low=low), _int(value[1], name, low=low)
    v = _int(value, name, low=low)
    return v, v


def output_size(n: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    """Length of one spatial side after a convolution or pooling window.

    ``floor((n + 2 padding - dilation (kernel - 1) - 1) / stride) + 1``, all arguments integers
    (``n, kernel, stride, dilation >= 1``, ``padding >= 0``). Raises ``ValueError`` when the
    (dilated) kernel does not fit into the padded input.

    >>> output_size(28, 5), output_size(24, 2, stride=2)     # the recitation: 28 -> 24 -> 12
    (24, 12)
    """
    n, kernel = _int(n, "n", low=1), _int(kernel, "kernel", low=1)
    stride, padding, dilation = _int(stride, "stride", low=1), _int(padding, "padding", low=0), \
        _int(dilation, "dilation", low=1)
    span = dilation * (kernel - 1) + 1
    if n + 2 * padding < span:
        raise ValueError(f"the effective kernel size dilation*(kernel-1)+1 = {span} is larger than the padded "
                         f"input n + 2*padding = {n + 2 * padding}: expected a kernel that fits")
    return (n + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def output_size_expr(n, k, s, p, d):
    """The output size as an expression (SymPy or numbers) when ``s`` divides ``n + 2p - d(k-1) - 1``:
    ``(n + 2p - d (k - 1) - 1) / s + 1`` (the floor formula without its floor)."""
    return (n + 2 * p - d * (k - 1) - 1) / s + 1


def conv_output_shape(shape, out_channels: int, kernel, stride=1, padding=0, dilation=1) -> tuple[int, int, int]:
    """``(H, W, C) -> (H_out, W_out, out_channels)`` in the recitation's "28 x 28 x 1" notation."""
    if len(shape) != 3:
        raise ValueError(f"shape: expected (height, width, channels), got {shape!r}")
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = (_pair(v, nm, low=lo) for v, nm, lo in
                                              ((kernel, "kernel", 1), (stride, "stride", 1),
                                               (padding, "padding", 0), (dilation, "dilation", 1)))
    return (output_size(shape[0], kh, sh, ph, dh), output_size(shape[1], kw, sw, pw, dw),
            _int(out_channels, "out_channels", low=1))


# --- direct convolution and pooling ----------------------------------------------------------

def _batched(x, name: str, ndim_single: int) -> tuple[np.ndarray, bool]:
    arr = as_float_array(x, name, ndim=(ndim_single, ndim_single + 1))
    return (arr[None], True) if arr.ndim == ndim_single else (arr, False)


def pad(x, padding, mode: str = "zeros") -> np.ndarray:
    """Pad the last two axes of ``x`` by ``padding`` (int or (ph, pw)) with zeros or circularly."""
    ph, pw = _pair(padding, "padding", low=0)
    if mode not in ("zeros", "circular"):
        raise ValueError(f"mode: expected 'zeros' or 'circular', got {mode!r}")
    widths = [(0, 0)] * (np.ndim(x) - 2) + [(ph, ph), (pw, pw)]
    return np.pad(x, widths, mode="constant" if mode == "zeros" else "wrap")


def conv2d(x, w, b=None, stride=1, padding=0, dilation=1, padding_mode: str = "zeros") -> np.ndarray:
    """Direct 2-D convolution (cross-correlation, as ``torch.nn.functional.conv2d``).

    x: (C, H, W) or (B, C, H, W); w: (K, C, kh, kw); b: (K,) or None.
    Returns (K, H_out, W_out) or (B, K, H_out, W_out), with ``H_out = output_size(H, kh, ...)``::

        out[., k, i, j] = b[k] + sum_{c, m, n} x_pad[., c, s i + d m, s j + d n] w[k, c, m, n]

    Written as a loop over the kernel taps ``(m, n)``: each tap adds a strided slice of the padded
    input times ``w[:, :, m, n]`` (no unfold, no FFT), so the formula above is the code.
    """
    xb, single = _batched(x, "x", 3)
    w = as_float_array(w, "w", ndim=4)
    K, C, kh, kw = w.shape
    if xb.shape[1] != C:
        raise ValueError(f"x has {xb.shape[1]} channels but w expects {C} (w has shape {w.shape}: (K, C, kh, kw))")
    if b is not None:
        b = as_float_array(b, "b", ndim=1)
        if b.shape != (K,):
            raise ValueError(f"b: expected shape ({K},) (one bias per kernel), got {b.shape}")
    (sh, sw), (ph, pw), (dh, dw) = (_pair(stride, "stride", low=1), _pair(padding, "padding", low=0),
                                    _pair(dilation, "dilation", low=1))
    H_out = output_size(xb.shape[2], kh, sh, ph, dh)
    W_out = output_size(xb.shape[3], kw, sw, pw, dw)
    xp = pad(xb, (ph, pw), padding_mode)
    out = np.zeros((xb.shape[0], K, H_out, W_out))
    for m in range(kh):
        for n in range(kw):
            patch = xp[:, :, dh * m: dh * m + sh * (H_out - 1) + 1: sh, dw * n: dw * n + sw * (W_out - 1) + 1: sw]
            out += np.einsum("bchw,kc->bkhw", patch, w[:, :, m, n])
    if b is not None:
        out += b[None, :, None, None]
    return out[0] if single else out


def pool2d(x, size, stride=None, padding=0, mode: str = "max") -> np.ndarray:
    """Max or average pooling of the last two axes: x (..., H, W) -> (..., H_out, W_out).

    Window ``size`` (int or pair), ``stride`` defaulting to ``size`` (non-overlapping tiles, the
    recitation's ``b = 2, s = 2``); padding pads with -inf for max (as torch) and 0 for average.
    """
    x = as_float_array(x, "x")
    if x.ndim < 2:
        raise ValueError(f"x: expected at least 2 dimensions (..., H, W), got shape {x.shape}")
    if mode not in ("max", "avg"):
        raise ValueError(f"mode: expected 'max' or 'avg', got {mode!r}")
    (kh, kw) = _pair(size, "size", low=1)
    (sh, sw) = _pair(size if stride is None else stride, "stride", low=1)
    (ph, pw) = _pair(padding, "padding", low=0)
    H_out, W_out = output_size(x.shape[-2], kh, sh, ph), output_size(x.shape[-1], kw, sw, pw)
    widths = [(0, 0)] * (x.ndim - 2) + [(ph, ph), (pw, pw)]
    xp = np.pad(x, widths, constant_values=-np.inf if mode == "max" else 0.0)
    taps = [xp[..., m: m + sh * (H_out - 1) + 1: sh, n: n + sw * (W_out - 1) + 1: sw]
            for m in range(kh) for n in range(kw)]
    stacked = np.stack(taps)
    return stacked.max(0) if mode == "max" else stacked.mean(0)


def shift(x, dy: int, dx: int, *, circular: bool = True) -> np.ndarray:
    """Translate the last two axes: ``shift(I)(i, j) = I(i - dy, j - dx)`` (the recitation's ``g``
    is ``shift(I, 0, 1)``). Circular wraps around; otherwise the vacated border is 0."""
    x = as_float_array(x, "x")
    if x.ndim < 2:
        raise ValueError(f"x: expected at least 2 dimensions (..., H, W), got shape {x.shape}")
    dy, dx = int(dy), int(dx)
    out = np.roll(x, (dy, dx), axis=(-2, -1))
    if not circular:
        if dy > 0:
            out[..., :dy, :] = 0
        elif dy < 0:
            out[..., dy:, :] = 0
        if dx > 0:
            out[..., :, :dx] = 0
        elif dx < 0:
            out[..., :, dx:] = 0
    return out


def equivariance_gap(x, w, dy: int, dx: int, stride: int = 1) -> float:
    """``max |conv(shift(x)) - shift(conv(x))|`` with circular padding (``padding = kernel // 2``, odd
    kernels) and circular shifts; the output is shifted by ``(dy/stride, dx/stride)``.

    Zero for every shift when ``stride = 1`` (translation equivariance), and for shifts by multiples
    of the stride otherwise. x: (C, H, W) with H, W divisible by ``stride``; w: (K, C, k, k), k odd.
    """
    w = as_float_array(w, "w", ndim=4)
    k = w.shape[-1]
    if k % 2 == 0 or w.shape[-2] != k:
        raise ValueError(f"w: expected square kernels of odd size, got shape {w.shape}")
    x = as_float_array(x, "x", ndim=3)
    stride = _int(stride, "stride", low=1)
    if x.shape[1] % stride or x.shape[2] % stride:
        raise ValueError(f"x: expected height and width divisible by the stride {stride}, got {x.shape}")
    if dy % stride or dx % stride:
        raise ValueError(f"the shift ({dy}, {dx}) must be a multiple of the stride {stride}: a strided "
                         f"convolution is only equivariant to such shifts")
    conv = lambda v: conv2d(v, w, stride=stride, padding=k // 2, padding_mode="circular")  # noqa: E731
    return float(np.abs(conv(shift(x, dy, dx)) - shift(conv(x), dy // stride, dx // stride)).max())


# --- the recitation's worked examples --------------------------------------------------------

@dataclass(frozen=True)
class WorkedExample:
    image: np.ndarray       # (C, H, W) as given on the slide (no padding added)
    kernel: np.ndarray      # (C, kh, kw): one kernel with one channel per input channel
    bias: float
    padding: int
    expected: dict          # (i, j) -> the output printed on the slide


#: Slide "2D convolution": 5x5 binary image, 3x3 "X" kernel, no padding, stride 1 -> 3x3 feature.
#: The OCR of the slide is consistent: conv2d reproduces all nine printed outputs.
WORKED_5X5 = WorkedExample(
    image=np.array([[[1, 1, 1, 0, 0],
                     [0, 1, 1, 1, 0],
                     [0, 0, 1, 1, 1],
                     [0, 0, 1, 1, 0],
                     [0, 1, 1, 0, 0]]], dtype=float),
    kernel=np.array([[[1, 0, 1],
                      [0, 1, 0],
                      [1, 0, 1]]], dtype=float),
    bias=0.0, padding=0,
    expected={(0, 0): 4, (0, 1): 3, (0, 2): 4, (1, 0): 2, (1, 1): 4, (1, 2): 3, (2, 0): 2, (2, 1): 3, (2, 2): 4},
)
WORKED_5X5_FEATURE = np.array([[4, 3, 4], [2, 4, 3], [2, 3, 4]], dtype=float)

#: Slide "multi-channel inputs": the top-left 5x5 pixels of an RGB image (the slide shows them
#: inside a zero border, i.e. padding 1, and continues with "..."), one 3-channel 3x3 kernel and
#: bias 1. Printed: output (0, 0) = -25 and output (0, 1) = 466, whose channel sums 310, -170 and
#: 325 the slide shows (310 - 170 + 325 + 1 = 466). The OCR'd numbers are consistent: conv2d gives
#: exactly these values (and 308, -498, 164 for the channels at (0, 0): 308 - 498 + 164 + 1 = -25).
#: Only outputs whose window lies inside the printed pixels are defined; with padding 1 these are
#: the 4 x 4 outputs (i, j) with i, j <= 3 (the slide prints the first two).
WORKED_RGB = WorkedExample(
    image=np.array([
        [[156, 155, 156, 158, 158],
         [153, 154, 157, 159, 159],
         [149, 151, 155, 158, 159],
         [146, 146, 149, 153, 158],
         [145, 143, 143, 148, 158]],
        [[167, 166, 167, 169, 169],
         [164, 165, 168, 170, 170],
         [160, 162, 166, 169, 170],
         [156, 156, 159, 163, 168],
         [155, 153, 153, 158, 168]],
        [[163, 162, 163, 165, 165],
         [160, 161, 164, 166, 166],
         [156, 158, 162, 165, 166],
         [155, 155, 158, 162, 167],
         [154, 152, 152, 157, 167]]], dtype=float),
    kernel=np.array([
        [[-1, -1, 1], [0, 1, -1], [0, 1, 1]],
        [[1, 0, 0], [1, -1, -1], [1, 0, -1]],
        [[0, 1, 1], [0, 1, 0], [1, -1, 1]]], dtype=float),
    bias=1.0, padding=1,
    expected={(0, 0): -25, (0, 1): 466},
)
WORKED_RGB_CHANNEL_SUMS = {(0, 0): (308.0, -498.0, 164.0), (0, 1): (310.0, -170.0, 325.0)}


def worked_output(example: WorkedExample) -> np.ndarray:
    """The example's output map (H_out, W_out) by :func:`conv2d` (for RGB: only the rows and columns
    whose windows lie inside the printed pixels, a 4 x 4 block)."""
    out = conv2d(example.image, example.kernel[None], np.array([example.bias]), padding=example.padding)[0]
    if example.padding:
        C, H, W = example.image.shape
        out = out[:H - example.padding, :W - example.padding]  # drop windows that need the unseen "..."
    return out


def channel_sums(example: WorkedExample, i: int, j: int) -> np.ndarray:
    """The per-channel contributions ``sum_{m,n} x_pad[c, i+m, j+n] w[c, m, n]`` at output (i, j): (C,)."""
    xp = pad(example.image, example.padding)
    kh, kw = example.kernel.shape[1:]
    return np.einsum("cmn,cmn->c", xp[:, i:i + kh, j:j + kw], example.kernel)


#: The recitation's "tracking dimensions": 28x28x1 -> conv k=5, s=1, m=3 kernels -> 24x24x3 ->
#: max-pool b=2, s=2 -> 12x12x3.
TRACKING = {"input": (28, 28, 1), "conv": (24, 24, 3), "pool": (12, 12, 3)}


def receptive_field(kernels, strides, dilations=None) -> int:
    """Receptive field of a stack of layers (kernel ``k_l``, stride ``s_l``, dilation ``d_l``):
    ``1 + sum_l d_l (k_l - 1) prod_{i<l} s_i``."""
    kernels, strides = list(kernels), list(strides)
    dilations = [1] * len(kernels) if dilations is None else list(dilations)
    if not (len(kernels) == len(strides) == len(dilations)):
        raise ValueError(f"expected as many kernels, strides and dilations, got {len(kernels)}, {len(strides)}, "
                         f"{len(dilations)}")
    rf, jump = 1, 1
    for k, s, d in zip(kernels, strides, dilations):
        rf += _int(d, "dilation", low=1) * (_int(k, "kernel", low=1) - 1) * jump
        jump *= _int(s, "stride", low=1)
    return rf


__all__ = ["output_size", "output_size_expr", "conv_output_shape", "pad", "conv2d", "pool2d", "shift",
           "equivariance_gap", "WorkedExample", "WORKED_5X5", "WORKED_5X5_FEATURE", "WORKED_RGB",
           "WORKED_RGB_CHANNEL_SUMS", "worked_output", "channel_sums", "TRACKING", "receptive_field"]
