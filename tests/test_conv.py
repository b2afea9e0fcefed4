"""reference.conv against torch: output sizes, the direct convolution, pooling, the recitation's worked
examples, and translation equivariance as a property."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from reference import conv

FAST = settings(max_examples=40, deadline=None, derandomize=True, database=None)

configs = st.fixed_dictionaries({"n": st.integers(1, 40), "k": st.integers(1, 7), "s": st.integers(1, 4),
                                 "p": st.integers(0, 3), "d": st.integers(1, 3)})


@FAST
@given(configs)
def test_output_size_matches_torch_conv_and_pool(c):
    assume(c["n"] + 2 * c["p"] >= c["d"] * (c["k"] - 1) + 1)
    x = torch.zeros(1, 1, c["n"], c["n"])
    out = F.conv2d(x, torch.zeros(1, 1, c["k"], c["k"]), stride=c["s"], padding=c["p"], dilation=c["d"])
    assert conv.output_size(c["n"], c["k"], c["s"], c["p"], c["d"]) == out.shape[-1]
    if 2 * c["p"] <= c["k"]:  # torch's pooling allows padding up to half the window
        pooled = F.max_pool2d(x, c["k"], c["s"], c["p"], c["d"])
        assert conv.output_size(c["n"], c["k"], c["s"], c["p"], c["d"]) == pooled.shape[-1]


@FAST
@given(configs)
def test_the_formula_without_floor_is_exact_when_the_stride_divides(c):
    span = c["n"] + 2 * c["p"] - c["d"] * (c["k"] - 1) - 1
    assume(span >= 0 and span % c["s"] == 0)
    assert conv.output_size_expr(c["n"], c["k"], c["s"], c["p"], c["d"]) == conv.output_size(
        c["n"], c["k"], c["s"], c["p"], c["d"])


def test_output_size_rejects_a_kernel_that_does_not_fit_and_bad_types():
    with pytest.raises(ValueError, match="effective kernel size"):
        conv.output_size(4, 3, dilation=3)
    with pytest.raises(TypeError, match="integer"):
        conv.output_size(28.0, 5)
    with pytest.raises(ValueError, match=">= 1"):
        conv.output_size(28, 5, stride=0)


def _case(draw_dims):
    C, K, kh, kw, H, W, sh, sw, ph, pw, dh, dw, seed = draw_dims
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(2, C, H, W)), rng.normal(size=(K, C, kh, kw)), rng.normal(size=K),
            (sh, sw), (ph, pw), (dh, dw))


conv_cases = st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), st.integers(1, 3),
                       st.integers(5, 9), st.integers(5, 9), st.integers(1, 3), st.integers(1, 3),
                       st.integers(0, 2), st.integers(0, 2), st.integers(1, 2), st.integers(1, 2),
                       st.integers(0, 10_000))


@FAST
@given(conv_cases)
def test_direct_convolution_matches_torch(dims):
    x, w, b, stride, padding, dilation = _case(dims)
    want = F.conv2d(torch.tensor(x), torch.tensor(w), torch.tensor(b), stride, padding, dilation).numpy()
    got = conv.conv2d(x, w, b, stride, padding, dilation)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, atol=1e-10)
    np.testing.assert_allclose(conv.conv2d(x[0], w, b, stride, padding, dilation), want[0], atol=1e-10)


@FAST
@given(st.integers(1, 3), st.integers(1, 3), st.integers(0, 1), st.sampled_from(["max", "avg"]), st.integers(0, 999))
def test_pooling_matches_torch(size, stride, padding, mode, seed):
    assume(2 * padding <= size)
    x = torch.tensor(np.random.default_rng(seed).normal(size=(2, 3, 7, 8)))
    if mode == "max":
        want = F.max_pool2d(x, size, stride, padding)
    else:
        want = F.avg_pool2d(x, size, stride, padding, count_include_pad=True)
    np.testing.assert_allclose(conv.pool2d(x.numpy(), size, stride, padding, mode), want.numpy(), atol=1e-12)


def test_circular_padding_matches_torch():
    rng = np.random.default_rng(0)
    x, w = rng.normal(size=(1, 2, 6, 7)), rng.normal(size=(3, 2, 3, 3))
    want = F.conv2d(F.pad(torch.tensor(x), (1, 1, 1, 1), mode="circular"), torch.tensor(w)).numpy()
    np.testing.assert_allclose(conv.conv2d(x, w, padding=1, padding_mode="circular"), want, atol=1e-12)


# --- the recitation's worked examples ----------------------------------------------------------

def test_the_5x5_example_is_reproduced_exactly():
    out = conv.worked_output(conv.WORKED_5X5)
    np.testing.assert_array_equal(out, conv.WORKED_5X5_FEATURE)
    for (i, j), v in conv.WORKED_5X5.expected.items():
        assert out[i, j] == v
    # the slide's X kernel is symmetric, so flipping it (a true convolution) gives the same feature
    flipped = conv.conv2d(conv.WORKED_5X5.image, conv.WORKED_5X5.kernel[None, :, ::-1, ::-1])[0]
    np.testing.assert_array_equal(flipped, out)


def test_the_rgb_example_is_reproduced_exactly():
    ex = conv.WORKED_RGB
    out = conv.worked_output(ex)
    assert out.shape == (4, 4)
    assert out[0, 0] == -25 and out[0, 1] == 466
    for (i, j), sums in conv.WORKED_RGB_CHANNEL_SUMS.items():
        np.testing.assert_array_equal(conv.channel_sums(ex, i, j), sums)
        assert sum(sums) + ex.bias == ex.expected[(i, j)]
    # torch agrees on the block whose windows lie inside the printed pixels
    full = F.conv2d(torch.tensor(ex.image)[None], torch.tensor(ex.kernel)[None], torch.tensor([ex.bias], dtype=torch.float64), padding=1)
    np.testing.assert_array_equal(full[0, 0, :4, :4].numpy(), out)


def test_tracking_dimensions_of_the_recitation():
    assert conv.conv_output_shape(conv.TRACKING["input"], 3, 5) == conv.TRACKING["conv"]
    h, w, c = conv.TRACKING["conv"]
    assert (conv.output_size(h, 2, 2), conv.output_size(w, 2, 2), c) == conv.TRACKING["pool"]
    np.testing.assert_array_equal(conv.pool2d(np.zeros((3, 24, 24)), 2).shape, (3, 12, 12))


def test_receptive_field():
    assert conv.receptive_field([3, 3], [1, 1]) == 5
    assert conv.receptive_field([5, 3, 3], [2, 2, 1]) == 1 + 4 + 2 * 2 + 2 * 4   # the digit CNN: 17 pixels
    assert conv.receptive_field([3], [1], [2]) == 5


# --- translation equivariance ------------------------------------------------------------------

equivariance_cases = st.tuples(st.integers(1, 3), st.integers(1, 3), st.sampled_from([1, 3, 5]),
                               st.integers(-6, 6), st.integers(-6, 6), st.integers(0, 999))


@FAST
@given(equivariance_cases)
def test_stride_one_convolution_is_translation_equivariant(case):
    C, K, k, dy, dx, seed = case
    rng = np.random.default_rng(seed)
    assert conv.equivariance_gap(rng.normal(size=(C, 8, 10)), rng.normal(size=(K, C, k, k)), dy, dx) < 1e-10


@FAST
@given(equivariance_cases)
def test_strided_convolution_is_equivariant_to_shifts_by_the_stride(case):
    C, K, k, dy, dx, seed = case
    rng = np.random.default_rng(seed)
    x, w = rng.normal(size=(C, 8, 10)), rng.normal(size=(K, C, k, k))
    assert conv.equivariance_gap(x, w, 2 * dy, 2 * dx, stride=2) < 1e-10
    with pytest.raises(ValueError, match="multiple of the stride"):
        conv.equivariance_gap(x, w, 2 * dy + 1, 0, stride=2)


def test_zero_padding_is_equivariant_away_from_the_border_and_pooling_is_not():
    rng = np.random.default_rng(0)
    x = np.zeros((1, 16, 16))
    x[0, 5:10, 5:10] = rng.normal(size=(5, 5))        # content away from the border
    w = rng.normal(size=(2, 1, 3, 3))
    shifted = conv.conv2d(conv.shift(x, 2, 3, circular=False), w, padding=1)
    np.testing.assert_allclose(shifted, conv.shift(conv.conv2d(x, w, padding=1), 2, 3, circular=False), atol=1e-12)
    # 2x2 max pooling with stride 2: a one-pixel shift is not a shift of the pooled map
    pooled, pooled_shift = conv.pool2d(x, 2), conv.pool2d(conv.shift(x, 0, 1), 2)
    assert not any(np.allclose(pooled_shift, conv.shift(pooled, 0, t)) for t in (0, 1))
    np.testing.assert_allclose(conv.pool2d(conv.shift(x, 0, 2), 2), conv.shift(pooled, 0, 1))


@pytest.mark.parametrize("call, fragment", [
    (lambda: conv.conv2d(np.zeros((2, 5, 5)), np.zeros((1, 3, 3, 3))), "channels"),
    (lambda: conv.conv2d(np.zeros((5, 5)), np.zeros((1, 1, 3, 3))), "dimension"),
    (lambda: conv.conv2d(np.zeros((1, 5, 5)), np.zeros((2, 1, 3, 3)), np.zeros(3)), "one bias per kernel"),
    (lambda: conv.conv2d(np.zeros((1, 2, 2)), np.zeros((1, 1, 3, 3))), "effective kernel size"),
    (lambda: conv.pool2d(np.zeros((4, 4)), 2, mode="median"), "'max' or 'avg'"),
    (lambda: conv.pad(np.zeros((2, 2)), 1, mode="reflect"), "circular"),
    (lambda: conv.conv2d(np.full((1, 3, 3), np.nan), np.zeros((1, 1, 1, 1))), "finite"),
])
def test_bad_input_is_named(call, fragment):
    with pytest.raises((ValueError, TypeError), match=fragment):
        call()
