"""The rnn_explain assignment: LRP through time against an independent autograd implementation, the
diagnostic variants of the checks, and the checks of autograder.questions.rnn_explain: right answers pass,
wrong ones fail with the message that names the mistake, blank ones fail readably."""
import json

import nbformat
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import REPO
from torch import nn

from autograder.feedback import CheckFailed
from autograder.question import one_torch_thread
from autograder.questions import rnn_explain as Q
from autograder.questions.rnn_explain import swap as SWAP
from reference import lrp as ref_lrp
from reference.thesis import TABLE_4_3
from reference.thesis.cells import NegBiasLinear
from reference.thesis.explain import explain as ref_explain
from reference.thesis.explain import step_distribution, wasserstein_steps, zbeta_zplus


@pytest.fixture(autouse=True)
def one_thread():
    with one_torch_thread():
        yield


def fails(fn, *args, **kwargs):
    with pytest.raises(CheckFailed) as err:
        fn(*args, **kwargs)
    return str(err.value)


# --- an independent oracle: LRP through time by the gradient trick (autograd) -------------------------

def _grad(forward, inputs, R):
    """``c_i = d/d input_i <z, stopgrad(R / z)>`` for ``z = forward(*inputs)``."""
    inputs = [x.detach().clone().requires_grad_(True) for x in inputs]
    with torch.enable_grad():
        z = forward(*inputs)
        s = torch.where(z == 0, torch.zeros_like(z), R / torch.where(z == 0, torch.ones_like(z), z)).detach()
        return torch.autograd.grad(z, inputs, grad_outputs=s)


def forward_trace(model, images, *, all_classes=False):
    """The steps, the head's dense layers with their inputs (last first) and the relevance R_h of h."""
    model.eval()
    with torch.no_grad():
        trace = model.steps(images)
        acts = [trace[-1]["a4"]]
        for layer in model.head:
            acts.append(layer(acts[-1]))
    h = acts[-1]
    f = h.max(1).values
    R = h.clone() if all_classes else torch.zeros_like(h).scatter(1, h.argmax(1, keepdim=True), f[:, None])
    dense = [(layer, a) for layer, a in zip(model.head, acts) if isinstance(layer, nn.Linear)][::-1]
    return trace, dense, R


def autograd_explain(model, images, shallow_pixels="zbeta"):
    """LRP through time with every rule computed by autograd on the layer with modified weights
    (``shallow_pixels="zplus"``: z+ instead of z^beta on the pixels at Shallow's layer 4)."""
    trace, dense, R = forward_trace(model, images)
    for layer, a in dense:
        wp = layer.weight.detach().clamp(min=0)
        R = a * _grad(lambda x: F.linear(x, wp), [a], R)[0]
    W4 = model.combine.weight.detach()
    W5p = model.recur.weight.detach().clamp(min=0)
    shallow = len(model.features) == 0
    chunks = [None] * model.seq_len
    for t in reversed(range(model.seq_len)):
        s = trace[t]
        n = s["features"].shape[1]
        if shallow and shallow_pixels == "zplus":   # z+ on [x; r], one denominator
            a = torch.cat([s["x"], s["r"]], 1)
            R_a = a * _grad(lambda x: F.linear(x, W4.clamp(min=0)), [a], R)[0]
            R_x, R_r = R_a[:, :n], R_a[:, n:]
        elif shallow:   # z^beta on the pixels and z+ on r, one denominator
            Wx, Wrp = W4[:, :n], W4[:, n:].clamp(min=0)
            lo, hi = torch.zeros_like(s["x"]), torch.ones_like(s["x"])
            cx, cl, ch, cr = _grad(lambda x, l_, h_, r: F.linear(x, Wx) - F.linear(l_, Wx.clamp(min=0))
                                   - F.linear(h_, Wx.clamp(max=0)) + F.linear(r, Wrp), [s["x"], lo, hi, s["r"]], R)
            R_x, R_r = s["x"] * cx + lo * cl + hi * ch, s["r"] * cr
        else:
            a = torch.cat([s["features"], s["r"]], 1)
            R_a = a * _grad(lambda x: F.linear(x, W4.clamp(min=0)), [a], R)[0]
            R_f, R_r = R_a[:, :n], R_a[:, n:]
            W1 = model.features[0].weight.detach()
            lo, hi = torch.zeros_like(s["x"]), torch.ones_like(s["x"])
            cx, cl, ch = _grad(lambda x, l_, h_: F.linear(x, W1) - F.linear(l_, W1.clamp(min=0))
                               - F.linear(h_, W1.clamp(max=0)), [s["x"], lo, hi], R_f)
            R_x = s["x"] * cx + lo * cl + hi * ch
        chunks[t] = R_x.reshape(-1, 28, model.width)
        if t > 0:
            a4 = trace[t - 1]["a4"]
            R = a4 * _grad(lambda x: F.linear(x, W5p), [a4], R_r)[0]
    return torch.cat(chunks, 2)


CASES = [("shipped", "deep", 7, None), ("shipped", "shallow", 7, None), ("random", "deep", 4, 0),
         ("random", "shallow", 14, 1), ("random", "deep", 14, 1)]


def _model(kind, cell, seq, seed):
    return Q.models.shipped(cell) if kind == "shipped" else Q.models.random_model(cell, seq, seed)


@pytest.mark.parametrize("kind, cell, seq, seed", CASES)
def test_reference_and_the_checks_variant_agree_with_autograd(kind, cell, seq, seed):
    model = _model(kind, cell, seq, seed)
    images = Q.models.test_digits()[0][[0, 7, 11]]
    want = autograd_explain(model, images)
    e = ref_explain(model, images)
    torch.testing.assert_close(e.heatmap, want, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(Q.lrp._variant_explain(model, images), want, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(want.sum((1, 2)), model(images).max(1).values, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("kind, cell, seq, seed", CASES)
def test_every_mistaken_variant_differs_from_the_right_answer(kind, cell, seq, seed):
    model = _model(kind, cell, seq, seed)
    images = Q.models.test_digits()[0][[2, 5]]
    right = Q.lrp._variant_explain(model, images)
    for flags, _ in Q.lrp.EXPLAIN_MISTAKES:
        assert not torch.allclose(Q.lrp._variant_explain(model, images, **flags), right, rtol=1e-3, atol=1e-5), flags


def test_forward_variants():
    ref = Q.models.shipped("deep")
    images = Q.models.test_digits()[0][:6]
    torch.testing.assert_close(Q.cell._variant_forward(ref, images), ref(images))
    for flags, _ in Q.cell.FORWARD_MISTAKES:
        assert not torch.allclose(Q.cell._variant_forward(ref, images, **flags), ref(images), atol=1e-3), flags


def test_reference_step_is_zplus_on_the_concatenation_and_conserves():
    rng = np.random.default_rng(0)
    a, r, w, R = rng.random((3, 5)), rng.random((3, 2)), rng.normal(size=(7, 4)), rng.random((3, 4))
    R_f, R_r = Q.lrp._reference_step(a, r, w, R)
    assert R_f.shape == (3, 5) and R_r.shape == (3, 2)
    z = np.concatenate([a, r], 1) @ np.maximum(w, 0)
    assert np.allclose(R_f.sum(1) + R_r.sum(1), np.where(z > 0, R, 0).sum(1))


# --- right answers ---------------------------------------------------------------------------------------

class DeepRNN(nn.Module):
    def __init__(self, seq_len=7):
        super().__init__()
        self.seq_len, self.width = seq_len, 28 // seq_len
        self.features = nn.Sequential(NegBiasLinear(28 * self.width, 512), nn.ReLU(), nn.Dropout(0.5))
        self.combine = NegBiasLinear(512 + 128, 256)
        self.recur = NegBiasLinear(256, 128)
        self.head = nn.Sequential(nn.Dropout(0.5), NegBiasLinear(256, 64), nn.ReLU(), NegBiasLinear(64, 10))

    def step_input(self, images, t):
        w = self.width
        return images[:, :, t * w:(t + 1) * w].reshape(images.shape[0], -1)

    def forward(self, images):
        r = images.new_zeros(images.shape[0], 128)
        for t in range(self.seq_len):
            a4 = torch.relu(self.combine(torch.cat([self.features(self.step_input(images, t)), r], 1)))
            r = torch.relu(self.recur(a4))
        return self.head(a4)


class PlainLinearRNN(DeepRNN):
    """The same cell with nn.Linear layers (positive biases allowed): same count, weights transferable."""

    def __init__(self, seq_len=7):
        super().__init__(seq_len)
        self.features = nn.Sequential(nn.Linear(28 * self.width, 512), nn.ReLU(), nn.Dropout(0.5))
        self.combine, self.recur = nn.Linear(640, 256), nn.Linear(256, 128)
        self.head = nn.Sequential(nn.Dropout(0.5), nn.Linear(256, 64), nn.ReLU(), nn.Linear(64, 10))


def zplus(a, w, R):
    wp = w.clamp(min=0)
    z = a @ wp
    s = torch.where(z == 0, torch.zeros_like(z), R / torch.where(z == 0, torch.ones_like(z), z))
    return a * (s @ wp.T)


def lrp_step(a_features, r, w4, R_a4):
    R = zplus(torch.cat([a_features, r], -1), w4, R_a4)
    return R[..., :a_features.shape[-1]], R[..., a_features.shape[-1]:]


def lrp_recurrent(model, a4_prev, R_r):
    return zplus(a4_prev, model.recur.weight.detach().T, R_r)


def shallow_step(x, r, w4, R):
    out = zbeta_zplus(torch.cat([x, r], 1), w4, R, x.shape[1], 0.0, 1.0)
    return out[:, :x.shape[1]], out[:, x.shape[1]:]


def make_explain(*, reverse=False, recurrent=True, hard_width=None, all_classes=False, step=None, chunks_out=False):
    def explain_sequence(model, images, shallow_rule=None):
        trace, dense, R = forward_trace(model, images, all_classes=all_classes)
        with torch.no_grad():
            for layer, a in dense:
                R = zplus(a, layer.weight.T, R)
            w4 = model.combine.weight.T
            rule = step or ((shallow_rule or shallow_step) if len(model.features) == 0 else lrp_step)
            width = hard_width or model.width
            chunks = []
            for t in reversed(range(model.seq_len)):
                s = trace[t]
                R_f, R_r = rule(s["features"], s["r"], w4, R)
                if len(model.features):
                    R_f = ref_lrp.zbeta(s["x"], model.features[0].weight.T, R_f, 0.0, 1.0)
                chunks.append(R_f.reshape(-1, 28, width))
                if t > 0:
                    R = lrp_recurrent(model, trace[t - 1]["a4"], R_r) if recurrent else 0 * trace[t - 1]["a4"]
            if not reverse:
                chunks = chunks[::-1]
            return torch.stack(chunks, 1) if chunks_out else torch.cat(chunks, 2)

    return explain_sequence


def step_shares(values, seq_len):
    per = values.clamp(min=0).reshape(len(values), 28, seq_len, 28 // seq_len).sum((0, 1, 3))
    return per / per.sum()


def reference_emd():
    ones = Q.models.class_digits()
    pix = step_distribution(ones, 7)
    return {c: wasserstein_steps(step_distribution(ref_explain(Q.models.shipped(c), ones).heatmap, 7), pix)
            for c in ("shallow", "deep")}


def test_right_answers_pass():
    Q.xt_shapes({1: (28, 28), 4: (28, 7), 7: (28, 4), 14: (28, 2)})
    Q.xt_shapes({"1": [28, 28], "4": torch.Size([28, 7]), 7: np.array([28, 4]), 14: (28, 2)})
    Q.deep_cell_parameters(DeepRNN)
    Q.deep_cell_parameters(DeepRNN, seq_lens=(4, 14))
    Q.deep_cell_parameters(PlainLinearRNN)
    Q.deep_cell_forward(DeepRNN)
    Q.deep_cell_forward(PlainLinearRNN)
    Q.zplus(zplus)
    Q.lrp_step(lrp_step)
    Q.lrp_recurrent(lrp_recurrent)
    Q.explain_sequence(make_explain())
    Q.step_shares(step_shares)
    Q.emd(reference_emd())
    Q.emd({k: torch.tensor(v) for k, v in reference_emd().items()})
    for answer in ("A", "a", " A ", {"A"}, ["a"]):
        Q.last_steps_model(answer)
    for answer in ({"A", "C", "E"}, ["e", "c", "a"], "A, C, E", ("A", "C", "E"), "ACE"):
        Q.statements(answer)


def test_parameter_counts_of_the_right_cell_are_table_4_3():
    for seq in (4, 7, 14):
        assert sum(p.numel() for p in DeepRNN(seq).parameters()) == TABLE_4_3["deep"][seq]


# --- blank answers ---------------------------------------------------------------------------------------

def _not_implemented(*args, **kwargs):
    raise NotImplementedError()


class Blank(nn.Module):
    def __init__(self, seq_len=7):
        super().__init__()
        raise NotImplementedError()


@pytest.mark.parametrize("fn, blank, fragment", [
    (Q.xt_shapes, None, "no answer yet"),
    (Q.deep_cell_parameters, None, "no answer yet"),
    (Q.deep_cell_parameters, Blank, "not written yet"),
    (Q.deep_cell_forward, Blank, "not written yet"),
    (Q.zplus, _not_implemented, "not implemented yet"),
    (Q.zplus, None, "no answer yet"),
    (Q.lrp_step, _not_implemented, "not implemented yet"),
    (Q.lrp_recurrent, _not_implemented, "not implemented yet"),
    (Q.explain_sequence, _not_implemented, "not implemented yet"),
    (Q.explain_sequence, None, "no answer yet"),
    (Q.step_shares, _not_implemented, "not implemented yet"),
    (Q.emd, None, "no answer yet"),
    (Q.last_steps_model, None, "no answer yet"),
    (Q.statements, None, "no answer yet"),
])
def test_blank_answers_fail_readably(fn, blank, fragment):
    message = fails(fn, blank)
    assert fragment in message and "Traceback" not in message


# --- x_t shapes --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("answer, fragment", [
    ({1: (28, 28), 4: (7, 28), 7: (4, 28), 14: (2, 28)}, "rows and columns are swapped"),
    ({1: (28, 1), 4: (28, 4), 7: (28, 7), 14: (28, 14)}, "the width of a chunk is 28 / SEQ, not SEQ"),
    ({1: 784, 4: 196, 7: 112, 14: 56}, "give the shape (rows, columns)"),
    ({1: (28, 28), 4: (28, 7), 7: (28, 4)}, "[14] missing"),
    ({1: (28, 28), 4: (28, 7), 7: (28, 4), 14: (28, 2), 2: (28, 14)}, "1, 4, 7, 14 only"),
    ([(28, 28), (28, 7)], "expected a dict"),
])
def test_wrong_xt_shapes(answer, fragment):
    assert fragment in fails(Q.xt_shapes, answer)


# --- the Deep cell: parameters -----------------------------------------------------------------------------

class NoRecurrentInput(DeepRNN):
    def __init__(self, seq_len=7):
        super().__init__(seq_len)
        self.combine = NegBiasLinear(512, 256)


class NoBias(DeepRNN):
    def __init__(self, seq_len=7):
        super().__init__(seq_len)
        self.combine = nn.Linear(640, 256, bias=False)
        self.recur = nn.Linear(256, 128, bias=False)


class WidthSeq(DeepRNN):
    def __init__(self, seq_len=7):
        super().__init__(seq_len)
        self.features = nn.Sequential(NegBiasLinear(28 * seq_len, 512), nn.ReLU(), nn.Dropout(0.5))


class WholeImage(DeepRNN):
    def __init__(self, seq_len=7):
        super().__init__(seq_len)
        self.features = nn.Sequential(NegBiasLinear(784, 512), nn.ReLU(), nn.Dropout(0.5))


class HardCoded112(DeepRNN):
    def __init__(self, seq_len=7):
        super().__init__(seq_len)
        self.features = nn.Sequential(NegBiasLinear(112, 512), nn.ReLU(), nn.Dropout(0.5))


class WideHead(DeepRNN):
    def __init__(self, seq_len=7):
        super().__init__(seq_len)
        self.head = nn.Sequential(nn.Dropout(0.5), NegBiasLinear(256, 128), nn.ReLU(), NegBiasLinear(128, 10))


class OtherNames(nn.Module):
    def __init__(self, seq_len=7):
        super().__init__()
        self.layer1 = nn.Linear(112, 512)
        self.layer4 = nn.Linear(640, 256)
        self.layer5 = nn.Linear(256, 128)
        self.out = nn.Sequential(nn.Linear(256, 64), nn.ReLU(), nn.Linear(64, 10))


@pytest.mark.parametrize("cls, seqs, fragments", [
    (NoRecurrentInput, (7,), ["271946", "difference -32768", "did you forget the recurrent input r_t"]),
    (NoBias, (7,), ["layer 4 has no bias", "layer 5 has no bias", "difference -384"]),
    (WidthSeq, (7,), ["the chunk width is 28 / SEQ", "not 28 * 7"]),
    (WholeImage, (7,), ["not the whole image"]),
    (HardCoded112, (4,), ["Deep-4", "314954", "compute the width from seq_len", "28 x 7 = 196 pixels"]),
    (WideHead, (7,), ["layer 4' has 128 units, expected 64", "the output layer 6 has 128 inputs"]),
    (OtherNames, (7,), ["no part named `features`, `combine`, `recur`, `head`"]),
])
def test_wrong_cells_name_the_part_that_is_off(cls, seqs, fragments):
    message = fails(Q.deep_cell_parameters, cls, seq_lens=seqs)
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    assert "Table 4.3, part by part" in message


def test_an_instance_is_accepted_for_seq_7_only():
    Q.deep_cell_parameters(DeepRNN())
    assert "pass the class DeepRNN itself" in fails(Q.deep_cell_parameters, DeepRNN(), seq_lens=(4,))


# --- the Deep cell: forward pass ---------------------------------------------------------------------------

class RowChunks(DeepRNN):
    def step_input(self, images, t):
        w = self.width
        return images[:, t * w:(t + 1) * w, :].reshape(images.shape[0], -1)


class ColumnFlatten(DeepRNN):
    def step_input(self, images, t):
        w = self.width
        return images[:, :, t * w:(t + 1) * w].transpose(1, 2).reshape(images.shape[0], -1)


class NoReluA4(DeepRNN):
    def forward(self, images):
        r = images.new_zeros(images.shape[0], 128)
        for t in range(self.seq_len):
            a4 = self.combine(torch.cat([self.features(self.step_input(images, t)), r], 1))
            r = torch.relu(self.recur(a4))
        return self.head(a4)


class RecurrentFirst(DeepRNN):
    def forward(self, images):
        r = images.new_zeros(images.shape[0], 128)
        for t in range(self.seq_len):
            a4 = torch.relu(self.combine(torch.cat([r, self.features(self.step_input(images, t))], 1)))
            r = torch.relu(self.recur(a4))
        return self.head(a4)


class NotCarried(DeepRNN):
    def forward(self, images):
        for t in range(self.seq_len):
            r = images.new_zeros(images.shape[0], 128)
            a4 = torch.relu(self.combine(torch.cat([self.features(self.step_input(images, t)), r], 1)))
            r = torch.relu(self.recur(a4))
        return self.head(a4)


class LinearRecurrence(DeepRNN):
    def forward(self, images):
        r = images.new_zeros(images.shape[0], 128)
        for t in range(self.seq_len):
            a4 = torch.relu(self.combine(torch.cat([self.features(self.step_input(images, t)), r], 1)))
            r = self.recur(a4)
        return self.head(a4)


class NoDropout(DeepRNN):
    def __init__(self, seq_len=7):
        super().__init__(seq_len)
        self.features = nn.Sequential(NegBiasLinear(28 * self.width, 512), nn.ReLU())
        self.head = nn.Sequential(nn.Identity(), NegBiasLinear(256, 64), nn.ReLU(), NegBiasLinear(64, 10))


class AllSteps(DeepRNN):
    def forward(self, images):
        r, outs = images.new_zeros(images.shape[0], 128), []
        for t in range(self.seq_len):
            a4 = torch.relu(self.combine(torch.cat([self.features(self.step_input(images, t)), r], 1)))
            r = torch.relu(self.recur(a4))
            outs.append(self.head(a4))
        return torch.stack(outs, 1)


class Unknown(DeepRNN):
    def forward(self, images):
        return super().forward(images) + 0.5


@pytest.mark.parametrize("cls, fragment", [
    (RowChunks, "your x_t are rows of the image"),
    (RecurrentFirst, "you concatenate [r_t; a1]"),
    (ColumnFlatten, "your chunks are flattened column by column"),
    (NoReluA4, "a4_t must go through a ReLU"),
    (NotCarried, "r_t never changes from 0"),
    (LinearRecurrence, "r_{t+1} must go through a ReLU"),
    (NoDropout, "applies dropout 0.5"),
    (AllSteps, "expected (B, 10)"),
    (Unknown, "your scores h differ on test digit"),
    (NoRecurrentInput, "fix the layers first"),
])
def test_wrong_forward_passes_are_named(cls, fragment):
    message = fails(Q.deep_cell_forward, cls)
    assert fragment in message, message


# --- z+ --------------------------------------------------------------------------------------------------

def zplus_lrp0(a, w, R):
    z = a @ w
    s = torch.where(z == 0, torch.zeros_like(z), R / torch.where(z == 0, torch.ones_like(z), z))
    return a * (s @ w.T)


def zplus_unsafe(a, w, R):
    wp = w.clamp(min=0)
    return a * ((R / (a @ wp)) @ wp.T)


def zplus_no_a(a, w, R):
    wp = w.clamp(min=0)
    z = a @ wp
    return (torch.where(z == 0, torch.zeros_like(z), R / torch.where(z == 0, torch.ones_like(z), z))) @ wp.T


def zplus_in_place(a, w, R):
    return zplus(a, w.clamp_(min=0), R)


def zplus_numpy(a, w, R):
    wp = np.maximum(w.numpy(), 0)
    z = a.numpy() @ wp
    return a.numpy() * (np.where(z > 0, R.numpy() / np.where(z > 0, z, 1), 0) @ wp.T)


@pytest.mark.parametrize("fn, fragment", [
    (zplus_lrp0, "Did you use w instead of w+"),
    (zplus_unsafe, "must give s_k = 0, not R_k / 0"),
    (zplus_no_a, "relevance is not conserved"),
    (zplus_in_place, "changed its argument `w` in place"),
    (lambda a, w, R: (a @ w.clamp(min=0)), "expected a.shape"),
])
def test_wrong_zplus(fn, fragment):
    assert fragment in fails(Q.zplus, fn)


def test_zplus_may_compute_in_numpy():
    Q.zplus(zplus_numpy)


# --- one time step ---------------------------------------------------------------------------------------

def step_separate(a_features, r, w4, R_a4):
    n = a_features.shape[-1]
    return zplus(a_features, w4[:n], R_a4), zplus(r, w4[n:], R_a4)


def step_features_only(a_features, r, w4, R_a4):
    n = a_features.shape[-1]
    return zplus(a_features, w4[:n], R_a4), torch.zeros_like(r)


def step_swapped(a_features, r, w4, R_a4):
    R = zplus(torch.cat([a_features, r], -1), w4, R_a4)
    m = r.shape[-1]
    return R[..., :m], R[..., m:]


def step_whole(a_features, r, w4, R_a4):
    return zplus(torch.cat([a_features, r], -1), w4, R_a4)


def step_lrp0(a_features, r, w4, R_a4):
    R = zplus_lrp0(torch.cat([a_features, r], -1), w4, R_a4)
    return R[..., :a_features.shape[-1]], R[..., a_features.shape[-1]:]


@pytest.mark.parametrize("fn, fragment", [
    (step_separate, "ONE denominator"),
    (step_features_only, "the recurrent input r_t got no relevance"),
    (step_swapped, "wrong split sizes"),
    (step_whole, "split it, R[:, :1] for the features"),
    (step_lrp0, "negative relevance"),
])
def test_wrong_lrp_step(fn, fragment):
    assert fragment in fails(Q.lrp_step, fn)


@pytest.mark.parametrize("fn, index", [(step_separate, 0), (step_features_only, 1)])
def test_lrp_step_hint_is_decided_on_probes_and_names_only_the_mistake_made(fn, index):
    """A shrunk counterexample (r = 0, one output) makes several step mistakes give the same numbers; the
    hint comes from the fixed probes and names the student's mistake alone."""
    whys = [why for _, why in Q.lrp._step_mistakes(*Q.lrp._step_probes()[0])]
    text = fails(Q.lrp_step, fn)
    assert [why for why in whys if why in text] == [whys[index]], text


def test_swapped_parts_of_equal_size_are_named():
    def swapped_equal(a_features, r, w4, R_a4):
        R = zplus(torch.cat([a_features, r], -1), w4, R_a4)
        n = a_features.shape[-1]
        return (R[..., n:], R[..., :n]) if r.shape[-1] == n else (R[..., :n], R[..., n:])

    assert "the two parts are swapped" in fails(Q.lrp_step, swapped_equal)


# --- the recurrent layer ---------------------------------------------------------------------------------

@pytest.mark.parametrize("fn, fragment", [
    (lambda model, a, R: zplus(a, model.recur.weight.detach(), R), "use model.recur.weight.T"),
    (lambda model, a, R: zplus_lrp0(a, model.recur.weight.detach().T, R), "differs from z+ through layer 5"),
    (lambda model, a, R: R, "expected the shape of a4_prev"),
    (lambda model, a, R: zplus(a, model.combine.weight.detach().T[:a.shape[1], :128], R), "differs from z+"),
])
def test_wrong_lrp_recurrent(fn, fragment):
    assert fragment in fails(Q.lrp_recurrent, fn)


# --- the whole sequence ------------------------------------------------------------------------------------

def step_zplus_everywhere(features, r, w4, R):
    return lrp_step(features, r, w4, R)


@pytest.mark.parametrize("fn, fragment", [
    (make_explain(recurrent=False), "all the relevance stays on the last chunk"),
    (make_explain(reverse=True), "your chunks are in reversed order"),
    (make_explain(all_classes=True), "you explained all ten scores at once"),
    (make_explain(step=step_zplus_everywhere), "the pixels got the z+ rule"),
    (make_explain(step=step_separate), "must add up to f(x)"),
    (make_explain(hard_width=4), "with model.seq_len = 4, model.width = 7"),
    (make_explain(chunks_out=True), "These are the chunks"),
])
def test_wrong_explanations_are_named(fn, fragment):
    assert fragment in fails(Q.explain_sequence, fn)


def test_changing_the_model_in_place_is_named_and_undone():
    model = Q.models.shipped("deep")
    before = model.combine.weight.detach().clone()

    def clamping(model, images):
        model.combine.weight.data.clamp_(min=0)
        return make_explain()(model, images)

    assert "changed its argument `model` in place" in fails(Q.explain_sequence, clamping)
    assert torch.equal(model.combine.weight.detach(), before)

    def in_place_recurrent(model, a, R):
        return zplus(a, model.recur.weight.data.T.clamp_(min=0), R)

    assert "changed its argument `model` in place" in fails(Q.lrp_recurrent, in_place_recurrent)
    Q.explain_sequence(make_explain())


def test_off_by_one_step_is_named():
    def shifted(model, images):
        return Q.lrp._variant_explain(model, images, shift=True)

    assert "off by one step" in fails(Q.explain_sequence, shifted)


# --- relevance per step and the EMD ------------------------------------------------------------------------

def shares_mean(values, seq_len):
    per = values.reshape(len(values), 28, seq_len, 28 // seq_len).sum((1, 3))
    return (per / per.sum(1, keepdim=True)).mean(0)


@pytest.mark.parametrize("fn, fragment", [
    (shares_mean, "you averaged the shares of the single images"),
    (lambda v, s: v.reshape(len(v), 28, s, 28 // s).sum((0, 1, 3)), "must add up to 1"),
    (lambda v, s: step_shares(v.transpose(1, 2), s), "did you cut rows instead of columns"),
    (lambda v, s: step_shares(v, s)[:-1], "shape (7,)"),
])
def test_wrong_step_shares(fn, fragment):
    assert fragment in fails(Q.step_shares, fn)


def test_wrong_emd():
    m = Q.models._reference_class_measures()
    right = reference_emd()
    l1 = {c: float((m[c] - m["pixels"]).abs().sum()) for c in ("shallow", "deep")}
    assert "no cumulative sums" in fails(Q.emd, {"shallow": l1["shallow"], "deep": right["deep"]})
    assert "swapped" in fails(Q.emd, {"shallow": right["deep"], "deep": right["shallow"]})
    assert "class-1 test digits give" in fails(Q.emd, {"shallow": right["shallow"] + 0.5, "deep": right["deep"]})
    assert "expected a dict" in fails(Q.emd, [1.0, 2.0])
    assert "should be one number, got a str" in fails(Q.emd, {"shallow": "big", "deep": 0.1})


def test_the_shipped_models_show_the_thesis_effect():
    """The claims the multiple choice and the model answer rely on."""
    m = Q.models._reference_class_measures()
    right = reference_emd()
    assert right["deep"] < 0.5 < 1.5 < right["shallow"]
    assert float(m["shallow"][-1]) > 0.3 > 0.05 > float(m["deep"][-1])
    assert float(m["shallow"][:-2].sum()) > 0.01    # some relevance does reach earlier chunks (statement 2 false)


# --- multiple choice ------------------------------------------------------------------------------------

@pytest.mark.parametrize("answer, fragment", [
    ("B", "not (B): Deep-7 puts"), ("C", "not (C)"), ("D", "not (D)"), ("E", "unknown option(s) E"),
    ({"A", "B"}, "choose one option"), (1, "should be option letters"),
])
def test_wrong_last_steps_model(answer, fragment):
    assert fragment in fails(Q.last_steps_model, answer)


@pytest.mark.parametrize("answer, fragment", [
    ({"A", "B", "C", "E"}, "not (B): Shallow has the recurrent layer 5 too"), ({"A", "C", "D", "E"}, "not (D)"),
    ({"A", "C", "E", "F"}, "not (F): the two models reach about the same test accuracy"),
    ({"A", "C"}, "you missed one: (E)"), ({"C", "E"}, "you missed one: (A)"), ({"A", "G"}, "unknown option(s) G"),
    (set(), "is empty"), (3.5, "should be option letters"),
])
def test_wrong_statements(answer, fragment):
    assert fragment in fails(Q.statements, answer)


# --- the notebook ------------------------------------------------------------------------------------------

def test_the_notebook_does_not_import_what_the_student_writes():
    nb = nbformat.read(str(REPO / "solutions" / "rnn_explain" / "rnn_explain.ipynb"), as_version=4)
    source = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    for forbidden in ("reference.thesis.explain", "reference.lrp", "from reference import lrp", "build_model",
                      "reference.thesis.cells", "reference.propagation"):
        assert forbidden not in source, forbidden
    assert "load_checkpoint" in source and 'resources.files("reference.thesis")' in source


def test_points_and_sample():
    nb = nbformat.read(str(REPO / "solutions" / "rnn_explain" / "rnn_explain.ipynb"), as_version=4)
    points = {c.metadata.nbgrader.grade_id: c.metadata.nbgrader.points for c in nb.cells
              if c.metadata.get("nbgrader", {}).get("grade")}
    assert 35 <= sum(points.values()) <= 45
    sample = json.loads((REPO / "autograder" / "course" / "samples" / "rnn_explain.json").read_text())
    assert set(sample["failing_tests"]) < set(points)


# --- the rule at Shallow's concatenation (issue 12) ------------------------------------------------------

def shallow_step_zplus(x_t, r, w4, R_a4):
    return lrp_step(x_t, r, w4, R_a4)


def zplus_step_own_denominators(x_t, r, w4, R_a4):
    return step_separate(x_t, r, w4, R_a4)


def zplus_step_r_dropped(x_t, r, w4, R_a4):
    R_x, R_r = lrp_step(x_t, r, w4, R_a4)
    return R_x, torch.zeros_like(R_r)


def zplus_step_pixels_only(x_t, r, w4, R_a4):
    return step_features_only(x_t, r, w4, R_a4)


def zplus_step_unclipped(x_t, r, w4, R_a4):
    return step_lrp0(x_t, r, w4, R_a4)


def zplus_step_negative_weights(x_t, r, w4, R_a4):   # the sign flipped: w- in place of w+
    a = torch.cat([x_t, r], -1)
    wn = w4.clamp(max=0)
    z = a @ wn
    R = a * (torch.where(z == 0, torch.zeros_like(z), R_a4 / torch.where(z == 0, torch.ones_like(z), z)) @ wn.T)
    return R[..., :x_t.shape[-1]], R[..., x_t.shape[-1]:]


def zplus_step_numpy(x_t, r, w4, R_a4):
    R = zplus_numpy(torch.cat([x_t, r], -1), w4, R_a4)
    return R[:, :x_t.shape[-1]], R[:, x_t.shape[-1]:]


def test_reference_zplus_step_is_lrp_zplus_on_the_concatenation_and_agrees_with_autograd():
    model = Q.models.shipped("shallow")
    images = Q.models.test_digits()[0][[0, 7, 11]]
    want = autograd_explain(model, images, shallow_pixels="zplus")
    torch.testing.assert_close(Q.lrp._variant_explain(model, images, pixels="zplus"), want, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(make_explain()(model, images, shallow_rule=SWAP._reference_zplus_step), want,
                               rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(want.sum((1, 2)), model(images).max(1).values, rtol=1e-4, atol=1e-5)
    assert (want >= -1e-7).all()   # z+ everywhere: no negative relevance


def test_every_zplus_step_mistake_differs_from_the_right_answer():
    g = torch.Generator().manual_seed(0)
    ex = dict(x_t=torch.rand(2, 3, generator=g, dtype=torch.float64), r=torch.rand(2, 3, generator=g, dtype=torch.float64),
              w4=torch.randn(6, 4, generator=g, dtype=torch.float64), R_a4=torch.rand(2, 4, generator=g, dtype=torch.float64))
    right = torch.cat(SWAP._reference_zplus_step(**ex), -1)
    for variant, why in SWAP._zplus_step_mistakes(**ex):
        assert not torch.allclose(variant, right, atol=1e-6), why


@pytest.mark.parametrize("fn, fragments", [
    (shallow_step, ["still z^beta on the pixels"]),
    (zplus_step_own_denominators, ["its own denominator", "one denominator"]),
    (zplus_step_r_dropped, ["not conserved", "dropped the relevance of r_t"]),
    (zplus_step_pixels_only, ["r_t got no relevance"]),
    (zplus_step_unclipped, ["negative relevance", "the weights are not clipped"]),
    (zplus_step_negative_weights, ["the sign is flipped"]),
    (step_whole, ["should return the pair (R_pixels, R_r)"]),
    (step_swapped, ["wrong split sizes"]),
])
def test_wrong_zplus_steps_are_named(fn, fragments):
    message = fails(Q.shallow_step_zplus, fn)
    for fragment in fragments:
        assert fragment in message, (fragment, message)


# --- the per-step profile --------------------------------------------------------------------------------

def step_profile(model, images, shallow_rule=None, *, explain=None, emd_fn=None, last=-1, shares=step_shares):
    P = shares((explain or make_explain())(model, images, shallow_rule), model.seq_len)
    pix = shares(images, model.seq_len)
    emd = emd_fn(P, pix) if emd_fn else float((P.cumsum(0) - pix.cumsum(0)).abs().sum())
    return {"emd": emd, "last": float(P[last])}


@pytest.mark.parametrize("fn, fragment", [
    (lambda m, x, rule=None: step_profile(m, x, rule, emd_fn=lambda P, pix: float((P - pix).abs().sum())),
     "without cumulative sums"),
    (lambda m, x, rule=None: step_profile(m, x, rule, last=0), "the share of the first step, P[0]"),
    (lambda m, x, rule=None: step_profile(m, x), "does not use the shallow_rule it is given"),
    (lambda m, x, rule=None: step_profile(m, x, rule, shares=lambda v, n: shares_mean(v.clamp(min=0), n)),
     "you averaged per-image shares"),
    (lambda m, x, rule=None: step_profile(m, x, rule, explain=make_explain(reverse=True)),
     "do the explain_sequence and step_shares checks pass?"),
    (lambda m, x, rule=None: [0.1, 0.2], "expected a dict {'emd': number, 'last': number}"),
    (lambda m, x, rule=None: {"emd": "small", "last": 0.1}, "expected a tensor (or array) of numbers"),
])
def test_wrong_step_profiles_are_named(fn, fragment):
    assert fragment in fails(Q.step_profile, fn)


def test_the_rule_and_the_untrained_models_decide_what_the_multiple_choice_says():
    """The claims of the two multiple-choice questions and the model answer, on the class-1 test digits."""
    ones = Q.models.class_digits()
    heat = {px: Q.lrp._variant_explain(Q.models.shipped("shallow"), ones, pixels=px) for px in ("zbeta", "zplus")}
    reach = {px: float(h[:, :, :-4].sum() / h.sum()) for px, h in heat.items()}
    assert reach["zbeta"] < 0.5 < 0.9 < reach["zplus"]
    zb, zp, deep = (SWAP._reference_profile(m, ones, px)[0] for m, px in
                    ((Q.models.shipped("shallow"), "zbeta"), (Q.models.shipped("shallow"), "zplus"), (Q.models.shipped("deep"), "zbeta")))
    assert zp["emd"] < deep["emd"] < 0.5 < 1.5 < zb["emd"]            # z+ reverses the ranking (statements A, F)
    assert zp["last"] < 0.05 < 0.3 < zb["last"]
    for seed in range(3):                                              # present before training (sanity A, E)
        shallow, deep = (SWAP._reference_profile(Q.models.random_model(c, 7, seed), ones)[0] for c in ("shallow", "deep"))
        assert shallow["last"] > 0.3 > 0.05 > deep["last"] and shallow["emd"] > 1.5 > deep["emd"] + 0.5


def test_right_answers_of_the_new_questions_pass():
    Q.shallow_step_zplus(shallow_step_zplus)
    Q.shallow_step_zplus(zplus_step_numpy)
    Q.step_profile(step_profile)
    Q.step_profile(lambda m, x, rule=None: {k: torch.tensor(v) for k, v in step_profile(m, x, rule).items()})
    for answer in ({"A", "D", "E"}, "A, D, E", ["e", "d", "a"], "ADE"):
        Q.rule_swap(answer)
    for answer in ({"A", "C", "E"}, "A, C, E", ("c", "a", "e")):
        Q.sanity(answer)


@pytest.mark.parametrize("fn, blank, fragment", [
    (Q.shallow_step_zplus, None, "no answer yet"), (Q.shallow_step_zplus, _not_implemented, "not implemented yet"),
    (Q.step_profile, None, "no answer yet"), (Q.step_profile, _not_implemented, "not implemented yet"),
    (Q.rule_swap, None, "no answer yet"), (Q.sanity, None, "no answer yet"),
])
def test_blank_answers_of_the_new_questions_fail_readably(fn, blank, fragment):
    message = fails(fn, blank)
    assert fragment in message and "Traceback" not in message


@pytest.mark.parametrize("answer, fragment", [
    ({"A", "B", "D", "E"}, "not (B): pixels are >= 0"),
    ({"A", "C", "D", "E"}, "not (C): a rule only changes how relevance is sent back"),
    ({"A", "D", "E", "F"}, "not (F): one admissible change of rule reverses the ranking"),
    ({"A", "D"}, "you missed one: (E)"), ({"D", "E"}, "you missed one: (A)"), ({"A", "E"}, "you missed one: (D)"),
    ({"A", "G"}, "unknown option(s) G"), (set(), "is empty"),
])
def test_wrong_rule_swap_answers(answer, fragment):
    assert fragment in fails(Q.rule_swap, answer)


@pytest.mark.parametrize("answer, fragment", [
    ({"A", "B", "C", "E"}, "not (B): a difference that survives randomising the weights"),
    ({"A", "C", "D", "E"}, "not (D): that the random models know nothing is the point of the control"),
    ({"A", "C"}, "you missed one: (E)"), ({"C", "E"}, "you missed one: (A)"), ({"A", "E"}, "you missed one: (C)"),
    ({"B"}, "not (B)"), ("F", "unknown option(s) F"), (2, "should be option letters"),
])
def test_wrong_sanity_answers(answer, fragment):
    assert fragment in fails(Q.sanity, answer)
