"""reference.thesis.gated and explain_gated: LSTM / GRU cells sized like Deep, LRP through time for them.

The batched torch explanation is checked against two independent formulations of the same rules:
a per-sample numpy implementation written from Arras et al. (2017) (``tests/lrp_lstm_numpy.py``)
and the gradient-trick formulation (input x gradient of a modified forward pass, in autograd here).
"""
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from autograder.cli import main as cli
from reference.thesis import TABLE_4_3, build_model, count_parameters
from reference.thesis.cells import CELLS, GATED_CELLS
from reference.thesis.data import from_sequence
from reference.thesis.explain import conservation_gap, explain
from reference.thesis.explain_gated import explain_gated, signal_take_all
from reference.thesis.gated import GatedClassifier
from reference.thesis.train import load_checkpoint

sys.path.insert(0, str(Path(__file__).parent))
import lrp_lstm_numpy as per_sample

FAST = settings(max_examples=30, deadline=None, derandomize=True, database=None)


def small_model(cell, seq, seed, n1=6, hidden=5):
    """A random small gated classifier (float64): every weight and bias drawn from N(0, 0.7^2)."""
    torch.manual_seed(seed)
    model = GatedClassifier(cell, seq, n1, hidden=hidden).double().eval()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.7)
    return model


def images(n, seed, dtype=torch.float64):
    return torch.rand(n, 28, 28, generator=torch.Generator().manual_seed(seed), dtype=dtype)


# --- the cells --------------------------------------------------------------------------------------

@pytest.mark.parametrize("cell", GATED_CELLS)
@pytest.mark.parametrize("seq", [1, 4, 7, 14])
def test_parameter_count_is_within_2_percent_of_deep(cell, seq):
    model = build_model(cell, seq)
    assert abs(count_parameters(model) / TABLE_4_3["deep"][seq] - 1) < 0.02
    assert model.hidden == 128 and model(torch.rand(2, 28, 28)).shape == (2, 10)
    assert (model.recurrent_map is None) == (seq == 1)


def test_gated_cells_are_registered_for_the_study():
    assert set(GATED_CELLS) <= set(CELLS)
    with pytest.raises(ValueError, match="cell"):
        GatedClassifier("transformer", 7, 8)


def test_the_cli_trains_a_gated_cell(tmp_path):
    ckpt = tmp_path / "lstm-7.pt"
    assert cli(["thesis", "train", "--cell", "lstm", "--seq", "7", "--epochs", "1", "--max-train", "200",
                "--checkpoint", str(ckpt)]) == 0
    loaded, info = load_checkpoint(ckpt)
    assert info.config.cell == "lstm" and info.config.max_train == 200 and isinstance(loaded, GatedClassifier)
    assert 0 <= info.accuracy <= 1 and info.epochs_done == 1


def test_the_cli_steps_the_learning_rate_and_refuses_a_bad_step(tmp_path, capsys):
    ckpt = tmp_path / "shallow-4.pt"
    assert cli(["thesis", "train", "--cell", "shallow", "--seq", "4", "--epochs", "2", "--lr-step", "1",
                "--max-train", "100", "--checkpoint", str(ckpt)]) == 0
    _, info = load_checkpoint(ckpt)
    assert info.config.milestones == (1,) and info.config.lr_at(1) == pytest.approx(1e-4)
    assert cli(["thesis", "train", "--lr-step", "0", "--checkpoint", str(tmp_path / "bad.pt")]) == 2
    assert "milestones must be increasing epochs >= 1" in capsys.readouterr().err
    assert not (tmp_path / "bad.pt").exists()


# --- conservation -----------------------------------------------------------------------------------

@pytest.mark.parametrize("cell", GATED_CELLS)
@pytest.mark.parametrize("seq", [1, 4, 7])
@pytest.mark.parametrize("pixels", ["zbeta", "zplus"])
def test_pixels_plus_absorbed_equal_f(cell, seq, pixels):
    torch.manual_seed(seq)
    model = build_model(cell, seq).eval()   # untrained, full size, float32
    x = images(6, seq, torch.float32)
    e = explain_gated(model, x, pixels=pixels)
    assert e.heatmap.shape == (6, 28, 28) and e.per_step.shape == (6, seq) and e.absorbed.shape == (6,)
    torch.testing.assert_close(e.f, model(x).max(1).values)
    torch.testing.assert_close(e.heatmap.sum((1, 2)) + e.absorbed, e.f, rtol=1e-5, atol=0)
    torch.testing.assert_close(conservation_gap(e), torch.zeros(6), atol=1e-5 * float(e.f.abs().max()), rtol=0)
    assert (e.absorbed != 0).all(), "the head's bias and the epsilons keep some relevance"
    assert [r is None for r in e.recurrent] == [True] + [False] * (seq - 1)


@pytest.mark.parametrize("cell", GATED_CELLS)
def test_explain_dispatches_and_a_given_target_is_explained(cell):
    model = small_model(cell, 4, 0)
    x = images(3, 1)
    target = torch.tensor([0, 3, 9])
    e = explain(model, x, target)
    assert torch.equal(e.target, target)
    torch.testing.assert_close(e.f, model(x)[torch.arange(3), target])
    torch.testing.assert_close(e.heatmap.sum((1, 2)) + e.absorbed, e.f, rtol=1e-10, atol=1e-12)


@FAST
@given(st.lists(st.tuples(st.floats(-3, 3), st.floats(-3, 3), st.floats(-2, 2)), min_size=1, max_size=6))
def test_signal_take_all_conserves_and_is_proportional(units):
    first, second, R = (torch.tensor(v, dtype=torch.float64)[None] for v in zip(*units))
    R_first, R_second, absorbed = signal_take_all(first, second, R, 1e-3)
    torch.testing.assert_close(R_first.sum() + R_second.sum() + absorbed.sum(), R.sum())
    # proportional: R_first / first == R_second / second, unit by unit
    torch.testing.assert_close(R_first * second, R_second * first)


# --- against the per-sample numpy implementation of Arras et al.'s rules ----------------------------

@pytest.mark.parametrize("cell", GATED_CELLS)
@pytest.mark.parametrize("seq", [1, 4, 7])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_batched_equals_per_sample_numpy(cell, seq, seed):
    model = small_model(cell, seq, seed)
    x = images(4, seed)
    for pixels in ("zbeta", "zplus"):
        e = explain_gated(model, x, pixels=pixels)
        want = per_sample.explain_batch(model, x.numpy(), rule=pixels)
        np.testing.assert_array_equal(e.target.numpy(), want["target"])
        np.testing.assert_allclose(e.f.numpy(), want["f"], rtol=1e-12)
        np.testing.assert_allclose(e.heatmap.numpy(), want["heatmap"], rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(e.absorbed.numpy(), want["absorbed"], rtol=1e-9, atol=1e-12)


def test_numpy_reference_is_not_trivially_equal():
    """The cross-check can fail: the numpy code tells apart a model whose gate weights changed."""
    model = small_model("lstm", 4, 0)
    x = images(2, 0)
    e = explain_gated(model, x)
    with torch.no_grad():
        model.input_map.weight[:5] += 1.0   # the input gate i only: the relevance path changes through i * g
    assert not np.allclose(per_sample.explain_batch(model, x.numpy())["heatmap"], e.heatmap.numpy())


# --- against the gradient-trick formulation ---------------------------------------------------------

def keep_value(value, linear, factor):
    """``value`` in the forward pass; in the backward pass the gradient of ``linear`` times ``factor``."""
    return value.detach() + (linear - linear.detach()) * factor.detach()


def ratio(num, den):
    return torch.where(den == 0, torch.zeros_like(den), num / torch.where(den == 0, torch.ones_like(den), den))


def gradient_lrp(model, images, pixels="zbeta", eps=1e-3, low=0.0, high=1.0):
    """LRP as ``x * d f / d x`` of a modified forward pass: gates detached, every linear map's gradient
    rescaled by ``z / (z + eps sign z)`` (epsilon rule with absorbing bias), every signal term's
    activation replaced by its ratio ``tanh(z) / z`` (identity pass), the pixel layer's gradient by
    z^beta's (leaves ``low`` and ``high``) or z+'s contributions."""
    def stab(z):
        return z + eps * torch.where(z >= 0, 1.0, -1.0)

    P = {k: v.detach() for k, v in model.named_parameters()}
    W1, b1 = P["features.0.weight"], model.features[0].effective_bias.detach()
    Wx, bx = P["input_map.weight"], P["input_map.bias"]
    Wh = P.get("recurrent_map.weight")
    H = model.hidden
    x = model.chunks(images).clone().requires_grad_(True)
    lo, hi = torch.full_like(x, low).requires_grad_(True), torch.full_like(x, high).requires_grad_(True)
    h = x.new_zeros(x.shape[0], H)
    c = torch.zeros_like(h)
    for t in range(model.seq_len):
        xt = x[:, t]
        a_val = torch.relu(xt.detach() @ W1.T + b1)
        if pixels == "zbeta":
            lin = xt @ W1.T - lo[:, t] @ W1.clamp(min=0).T - hi[:, t] @ W1.clamp(max=0).T
        else:
            lin = xt @ W1.clamp(min=0).T
        a = keep_value(a_val, lin, ratio(a_val, lin.detach()))
        zh = h @ Wh.T if Wh is not None else torch.zeros(h.shape[0], Wx.shape[0], dtype=h.dtype)
        z = (a @ Wx.T + bx + zh).detach()
        if model.cell == "lstm":
            i, f, o = torch.sigmoid(z[:, :H]), torch.sigmoid(z[:, H:2 * H]), torch.sigmoid(z[:, 3 * H:])
            lin_g = a @ Wx[2 * H:3 * H].T + zh[:, 2 * H:3 * H]
            z_g = keep_value(z[:, 2 * H:3 * H], lin_g, z[:, 2 * H:3 * H] / stab(z[:, 2 * H:3 * H]))
            g = z_g * ratio(torch.tanh(z_g), z_g).detach()
            c_val = (f * c + i * g).detach()
            c = keep_value(c_val, f * c + i * g, c_val / stab(c_val))
            h = o * c * ratio(torch.tanh(c), c).detach()
        else:
            r, u = torch.sigmoid(z[:, :H]), torch.sigmoid(z[:, H:2 * H])
            hn = zh[:, 2 * H:] + P.get("b_hn", 0)
            z_n_val = (a @ Wx[2 * H:].T + bx[2 * H:] + r * hn).detach()
            z_n = keep_value(z_n_val, a @ Wx[2 * H:].T + r * zh[:, 2 * H:], z_n_val / stab(z_n_val))
            n = z_n * ratio(torch.tanh(z_n), z_n).detach()
            h_val = ((1 - u) * h + u * n).detach()
            h = keep_value(h_val, (1 - u) * h + u * n, h_val / stab(h_val))
    y_val = (h @ P["head.1.weight"].T + P["head.1.bias"]).detach()
    y = keep_value(y_val, h @ P["head.1.weight"].T, y_val / stab(y_val))
    target = y_val.argmax(1)
    gx, gl, gh = torch.autograd.grad(y.gather(1, target[:, None]).sum(), (x, lo, hi), allow_unused=True)
    R = x * gx + (lo * gl + hi * gh if pixels == "zbeta" else 0)
    return from_sequence(R.detach().reshape(x.shape[0], model.seq_len, 28, model.width))


@pytest.mark.parametrize("cell", GATED_CELLS)
@pytest.mark.parametrize("seq", [1, 4, 7])
@pytest.mark.parametrize("pixels", ["zbeta", "zplus"])
def test_batched_equals_gradient_trick(cell, seq, pixels):
    for seed in (3, 4):
        model = small_model(cell, seq, seed)
        x = images(5, seed)
        got, want = explain_gated(model, x, pixels=pixels).heatmap, gradient_lrp(model, x, pixels)
        # float64 rounding, amplified where two signal terms nearly cancel: relative to the map's scale
        torch.testing.assert_close(got, want, rtol=1e-7, atol=1e-9 * float(want.abs().max()))
        assert want.abs().max() > 1e-3


# --- bad input --------------------------------------------------------------------------------------

@pytest.mark.parametrize("call, error, fragment", [
    (lambda m: explain_gated(m, images(1, 0), pixels="w3"), ValueError, "pixels"),
    (lambda m: explain_gated(m, images(1, 0), eps=0.0), ValueError, "eps"),
    (lambda m: explain_gated(build_model("deep", 4), images(1, 0)), TypeError, "GatedClassifier"),
    (lambda m: explain_gated(m, torch.rand(1, 28, 27)), ValueError, "expected shape"),
])
def test_bad_input_is_named(call, error, fragment):
    with pytest.raises(error, match=fragment):
        call(small_model("gru", 4, 0))


@pytest.mark.slow
@pytest.mark.parametrize("cell", GATED_CELLS)
def test_trained_gated_cell_conserves_and_passes_most_relevance_to_the_pixels(cell):
    """Trained gates saturate (f, i near 0 or 1) and states grow: conservation must still hold (minutes)."""
    from reference.thesis import data as D
    from reference.thesis.train import TrainConfig, train

    model, result = train(TrainConfig(cell=cell, seq_len=7, epochs=2), progress=False)
    assert result.accuracy > 0.8
    x = torch.as_tensor(D.load("mnist5k")["test"].images[:200])
    e = explain(model, x)
    torch.testing.assert_close(e.heatmap.sum((1, 2)) + e.absorbed, e.f, rtol=1e-5, atol=0)
    assert float((e.absorbed.abs() / e.f.abs()).mean()) < 0.2
