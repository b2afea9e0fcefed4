"""reference.thesis: data, the four cells (Table 4.3), LRP through time, training and the report."""
import gzip

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from reference import lrp
from reference import propagation as P
from reference.thesis import TABLE_4_3, build_model, count_parameters
from reference.thesis import data as D
from reference.thesis.explain import (
    PIXEL_RULES,
    conservation_gap,
    explain,
    flipping_area,
    pixel_flipping,
    pixels_and_recurrent,
    step_distribution,
    wasserstein_steps,
    zbeta_zplus,
)
from reference.thesis.train import TrainConfig, load_checkpoint, train

FAST = settings(max_examples=15, deadline=None, derandomize=True, database=None)


# --- data ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("seq, width", [(1, 28), (4, 7), (7, 4), (14, 2)])
def test_sequences_follow_table_4_1_and_invert(seq, width):
    images = np.random.default_rng(0).random((3, 28, 28)).astype(np.float32)
    chunks = D.to_sequence(images, seq)
    assert chunks.shape == (3, seq, 28, width)
    np.testing.assert_array_equal(chunks[:, 1 % seq, :, 0], images[:, :, (1 % seq) * width])
    np.testing.assert_array_equal(D.from_sequence(chunks), images)
    torch.testing.assert_close(D.from_sequence(D.to_sequence(torch.as_tensor(images), seq)), torch.as_tensor(images))


def test_embedded_mnist_split():
    s = D.load("mnist5k")
    assert s["train"].images.shape == (4000, 28, 28) and s["test"].images.shape == (1000, 28, 28)
    assert 0 <= s["train"].images.min() and s["train"].images.max() <= 1
    assert set(np.unique(s["test"].labels)) == set(range(10))


def write_idx(path, array, *, gz=True):
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    raw = header + array.astype(np.uint8).tobytes()
    (gzip.open if gz else open)(path, "wb").write(raw)


def test_idx_loader_reads_gzipped_and_plain(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    for split, n in (("train", 6), ("t10k", 4)):
        write_idx(tmp_path / f"{split}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28)))
        write_idx(tmp_path / f"{split}-labels-idx1-ubyte", rng.integers(0, 10, n), gz=False)
    monkeypatch.setenv("XAI_COURSE_MNIST", str(tmp_path))
    s = D.load("mnist")
    assert s["train"].images.shape == (6, 28, 28) and s["test"].labels.shape == (4,)


@pytest.mark.parametrize("style", ["train-images-idx3-ubyte", "train-images.idx3-ubyte"])
@pytest.mark.parametrize("gz", [True, False])
def test_idx_loader_accepts_both_naming_styles(tmp_path, style, gz):
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (5, 28, 28))
    labels = rng.integers(0, 10, 5)
    dotted = "." in style
    for split in ("train", "t10k"):
        for kind, arr, nd in (("images", images, 3), ("labels", labels, 1)):
            name = f"{split}-{kind}{'.' if dotted else '-'}idx{nd}-ubyte" + (".gz" if gz else "")
            write_idx(tmp_path / name, arr, gz=gz)
    s = D.load("mnist", tmp_path)
    np.testing.assert_allclose(s["train"].images, images / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(s["test"].labels, labels)


def test_missing_idx_file_lists_both_styles(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"train-images\.idx3-ubyte\.gz"):
        D.load("mnist", tmp_path)


@pytest.mark.parametrize("content, fragment", [
    (b"\x00\x00\x08\x03" + (2).to_bytes(4, "big") + (28).to_bytes(4, "big") + (28).to_bytes(4, "big") + b"\x00" * 10,
     "truncated or corrupt"),
    (b"PK\x03\x04garbage", "not an IDX file"),
])
def test_corrupt_idx_names_the_file(tmp_path, content, fragment):
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=fragment) as info:
        D.read_idx(path)
    assert "train-images-idx3-ubyte" in str(info.value)


def test_missing_data_is_explained(tmp_path, monkeypatch):
    monkeypatch.delenv("XAI_COURSE_MNIST", raising=False)
    with pytest.raises(FileNotFoundError, match="XAI_COURSE_MNIST"):
        D.load("mnist")
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte"):
        D.load("fashion-mnist", tmp_path)


@pytest.mark.skipif(not D.DEBIAN_FASHION.is_dir(), reason="Debian's dataset-fashion-mnist is not installed")
def test_debian_fashion_mnist_is_found():
    s = D.load("fashion-mnist")
    assert s["train"].images.shape == (60000, 28, 28) and s["test"].images.shape == (10000, 28, 28)


# --- the cells -------------------------------------------------------------------------------------

@pytest.mark.parametrize("cell", list(TABLE_4_3))
@pytest.mark.parametrize("seq", [1, 4, 7, 14])
def test_parameter_counts_equal_table_4_3(cell, seq):
    model = build_model(cell, seq)
    assert count_parameters(model) == TABLE_4_3[cell][seq]
    assert model(torch.rand(2, 28, 28)).shape == (2, 10)


def test_biases_are_never_positive_and_start_at_minus_001():
    model = build_model("convdeep", 4)
    layers = [m for m in model.modules() if hasattr(m, "effective_bias")]
    assert layers
    for m in layers:
        torch.testing.assert_close(m.effective_bias, torch.full_like(m.b, -0.01))
        assert m.weight.abs().max() <= 0.2 + 1e-6   # truncated at 2 sigma
    with torch.no_grad():
        layers[0].b.fill_(50.0)
    assert (layers[0].effective_bias < 0).all()


@pytest.mark.parametrize("call, fragment", [
    (lambda: build_model("transformer", 4), "cell"), (lambda: build_model("deep", 5), "Table 4.1"),
    (lambda: build_model("deep", 4)(torch.rand(2, 28, 27)), "expected shape"),
    (lambda: D.to_sequence(np.zeros((2, 28, 28)), 3), "seq_len"),
])
def test_bad_input_is_named(call, fragment):
    with pytest.raises(ValueError, match=fragment):
        call()


@pytest.mark.parametrize("cell, dropouts", [("shallow", 0), ("deep", 2), ("deepv2", 2), ("convdeep", 1)])
def test_dropout_sits_where_the_thesis_puts_it(cell, dropouts):
    """Sec. 4.3.2: Deep on a1 and a4_T; DeepV2 between 1' and 1'' and on a4_T; Shallow (thesis code) on a4_t
    into layer 5 only; never on the layer that computes h."""
    model = build_model(cell, 7)
    inside = [m for m in [*model.features, *model.head] if isinstance(m, torch.nn.Dropout)]
    assert len(inside) == dropouts
    assert model.dropout5.p == model.recur_dropout == (0.5 if cell == "shallow" else 0.0)
    torch.manual_seed(0)
    x = torch.rand(4, 28, 28)
    model.train()
    assert not torch.equal(model(x), model(x)), "dropout acts in training mode"
    model.eval()
    torch.testing.assert_close(model(x), model(x))


# --- explanation through time ----------------------------------------------------------------------

@pytest.mark.parametrize("cell", list(TABLE_4_3))
@pytest.mark.parametrize("seq", [1, 4, 7])
def test_relevance_is_conserved_through_time(cell, seq):
    torch.manual_seed(seq)
    model = build_model(cell, seq).eval()
    x = torch.rand(5, 28, 28)
    e = explain(model, x)
    assert e.heatmap.shape == (5, 28, 28) and e.per_step.shape == (5, seq)
    torch.testing.assert_close(e.f, model(x).max(1).values)
    # z+ and z^beta keep the non-positive biases out of their denominators: nothing is absorbed
    torch.testing.assert_close(conservation_gap(e), torch.zeros(5), atol=1e-4, rtol=0)
    torch.testing.assert_close(e.per_step.sum(1), e.f, atol=1e-4, rtol=1e-4)
    assert (e.heatmap >= -1e-6).all() or (e.f <= 0).any()
    for t in range(1, seq):   # what reaches r_t is what the steps before t receive in total
        torch.testing.assert_close(e.recurrent[t], e.per_step[:, :t].sum(1), atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("cell", list(TABLE_4_3))
@pytest.mark.parametrize("rule", list(PIXEL_RULES))
def test_every_pixel_rule_conserves_relevance(cell, rule):
    torch.manual_seed(3)
    model = build_model(cell, 4).eval()
    x = torch.rand(4, 28, 28) * (torch.rand(4, 28, 28) > 0.5)   # half the pixels exactly 0
    e = explain(model, x, pixel_rule=rule)
    assert e.explained.all()
    torch.testing.assert_close(conservation_gap(e), torch.zeros(4), atol=1e-4, rtol=0)
    assert (e.heatmap >= -1e-6).all(), "with R >= 0 every pixel rule gives R_j >= 0 on pixels in [0, 1]"
    on_zero = e.heatmap[x == 0].abs().sum()
    if rule == "zplus":   # z+ gives nothing to a pixel that is 0
        assert on_zero == 0
    else:                 # z^beta and w^2 can put relevance on black pixels
        assert on_zero > 0


def test_the_rules_differ_and_unknown_rules_are_named():
    torch.manual_seed(0)
    model = build_model("shallow", 7).eval()
    x = torch.rand(3, 28, 28)
    maps = {r: explain(model, x, pixel_rule=r).heatmap for r in PIXEL_RULES}
    for a in PIXEL_RULES:
        for b in PIXEL_RULES:
            if a < b and {a, b} != {"zbeta", "zbeta-pm1"}:
                assert not torch.allclose(maps[a], maps[b], atol=1e-5), (a, b)
    with pytest.raises(ValueError, match="pixel_rule: expected one of"):
        explain(model, x, pixel_rule="alpha2beta1")


def test_zbeta_is_invariant_to_rescaling_the_box():
    """z^beta on 2x - 1 in [-1, 1] with w/2 equals z^beta on x in [0, 1] with w: the [-1, 1] variant differs only
    through the model that was trained on it."""
    g = torch.Generator().manual_seed(0)
    x, w, R = torch.rand(3, 6, generator=g).double(), torch.randn(6, 2, generator=g).double(), torch.rand(3, 2).double()
    torch.testing.assert_close(lrp.zbeta(x, w, R, 0.0, 1.0), lrp.zbeta(2 * x - 1, w / 2, R, -1.0, 1.0))


def test_dead_untrained_units_give_a_zero_explanation_not_nan():
    """An untrained model whose layer 4 is dead: h = -softplus(b) < 0, no positive evidence; f is 0."""
    torch.manual_seed(0)
    for cell in ("shallow", "deep"):
        model = build_model(cell, 7).eval()
        with torch.no_grad():
            model.combine.b.fill_(1e3)       # bias -1000: every a4 is 0
        x = torch.rand(3, 28, 28)
        assert (model(x) < 0).all()
        e = explain(model, x)
        assert not e.explained.any()
        assert torch.isfinite(e.heatmap).all() and (e.heatmap == 0).all()
        torch.testing.assert_close(conservation_gap(e), torch.zeros(3))


@FAST
@given(st.integers(1, 4), st.integers(1, 4), st.integers(1, 3), st.integers(0, 10 ** 6))
def test_mixed_shallow_rule_is_the_pixel_rule_and_zplus_in_one(n_box, n_relu, K, seed):
    g = torch.Generator().manual_seed(seed)
    a = torch.cat([torch.rand(2, n_box, generator=g), 3 * torch.rand(2, n_relu, generator=g)], 1).double()
    w = torch.randn(n_box + n_relu, K, generator=g).double()
    R = torch.rand(2, K, generator=g).double()
    Rj = zbeta_zplus(a, w, R, n_box, 0.0, 1.0)
    assert (Rj >= -1e-12).all()
    torch.testing.assert_close(Rj.sum(1), R.sum(1))
    if n_relu and not n_box:
        torch.testing.assert_close(Rj, lrp.zplus(a, w, R))
    # with no ReLU part it is exactly z^beta
    torch.testing.assert_close(zbeta_zplus(a[:, :n_box], w[:n_box], R, n_box, 0.0, 1.0),
                               lrp.zbeta(a[:, :n_box], w[:n_box], R, 0.0, 1.0))
    # the other pixel rules: z+ on pixels and r is plain z+; w^2 conserves and is plain w^2 without r
    torch.testing.assert_close(pixels_and_recurrent(a, w, R, n_box, P.ZPlus()), lrp.zplus(a, w, R))
    torch.testing.assert_close(pixels_and_recurrent(a, w, R, n_box, P.W2()).sum(1), R.sum(1))
    torch.testing.assert_close(pixels_and_recurrent(a[:, :n_box], w[:n_box], R, n_box, P.W2()), lrp.w2(w[:n_box], R))


def test_measures():
    p, q = torch.tensor([0.0, 0.0, 1.0]), torch.tensor([1.0, 0.0, 0.0])
    assert wasserstein_steps(p, q) == pytest.approx(2.0)
    assert wasserstein_steps(p, p) == 0
    x = torch.zeros(2, 28, 28)
    x[:, :, 24:] = 1
    torch.testing.assert_close(step_distribution(x, 7), torch.tensor([0, 0, 0, 0, 0, 0, 1.0]))
    assert flipping_area(torch.tensor([1.0, 0.0, 0.0])) == pytest.approx(0.25)


# --- training ---------------------------------------------------------------------------------------

def test_training_improves_saves_and_resumes(tmp_path):
    config = TrainConfig(cell="deep", seq_len=7, epochs=1, max_train=1000, lr=3e-3)
    ckpt = tmp_path / "deep7.pt"
    model, result = train(config, ckpt, progress=False)
    assert result.accuracy > 0.3, "one epoch on 1,000 digits beats chance (0.1)"
    loaded, info = load_checkpoint(ckpt)
    assert info.config == config and info.epochs_done == 1
    x = torch.rand(3, 28, 28)
    torch.testing.assert_close(loaded(x), model(x))
    _, resumed = train(TrainConfig(cell="deep", seq_len=7, epochs=2, max_train=1000, lr=3e-3), ckpt, progress=False)
    assert [h[0] for h in resumed.history] == [1, 2]
    assert resumed.history[0] == result.history[0]
    with pytest.raises(ValueError, match="different configuration"):
        train(TrainConfig(cell="shallow", seq_len=7, epochs=2, max_train=1000, lr=3e-3), ckpt, progress=False)


def test_a_learning_rate_step_extends_a_checkpoint_as_if_trained_in_one_go(tmp_path):
    """20 epochs at lr then 3 at lr/10 (the full-MNIST budget) may resume a checkpoint of the first 20,
    even one written before the schedule existed; it must not resume one that trained past the step."""
    step = TrainConfig(cell="shallow", seq_len=4, epochs=2, max_train=200, lr=3e-3, milestones=(1,))
    assert [step.lr_at(e) for e in range(3)] == pytest.approx([3e-3, 3e-4, 3e-4])
    straight, _ = train(step, tmp_path / "straight.pt", progress=False)

    first = tmp_path / "first.pt"
    train(TrainConfig(cell="shallow", seq_len=4, epochs=1, max_train=200, lr=3e-3), first, progress=False)
    state = torch.load(first, weights_only=False)
    for key in ("milestones", "gamma"):   # as a checkpoint of an older version has it
        del state["config"][key]
    torch.save(state, first)
    extended, result = train(step, first, progress=False)
    assert result.epochs_done == 2
    assert torch.load(first, weights_only=False)["optimizer"]["param_groups"][0]["lr"] == pytest.approx(3e-4)
    for a, b in zip(straight.parameters(), extended.parameters()):
        torch.testing.assert_close(a, b)

    with pytest.raises(ValueError, match="different configuration"):   # epoch 2 was trained at 3e-4
        train(TrainConfig(cell="shallow", seq_len=4, epochs=3, max_train=200, lr=3e-3, milestones=(2,)),
              tmp_path / "straight.pt", progress=False)
    for bad in ((2, 1), (0,), (1.5,)):
        with pytest.raises(ValueError, match="milestones must be increasing"):
            TrainConfig(milestones=bad)
    with pytest.raises(ValueError, match="gamma"):
        TrainConfig(gamma=0)


def test_pixel_flipping_drops_faster_for_a_faithful_ranking():
    torch.manual_seed(0)
    model = build_model("deep", 4).eval()
    x = torch.rand(8, 28, 28)
    e = explain(model, x)
    curve = pixel_flipping(model, x, e)
    assert curve.shape == (5,) and curve[0] == pytest.approx(1.0)
    reversed_e = type(e)(e.heatmap, -e.per_step, e.f, e.target, e.recurrent)   # least relevant first
    assert flipping_area(curve) <= flipping_area(pixel_flipping(model, x, reversed_e)) + 1e-6


@pytest.mark.slow
@pytest.mark.skipif(not D.DEBIAN_FASHION.is_dir(), reason="Debian's dataset-fashion-mnist is not installed")
def test_full_fashion_mnist_one_epoch_learns_and_explains(tmp_path):
    """A full-data run (minutes): Deep-7 on 60,000 Fashion-MNIST images for one epoch."""
    model, result = train(TrainConfig(cell="deep", seq_len=7, dataset="fashion-mnist", epochs=1),
                          tmp_path / "deep7-fashion.pt", progress=False)
    assert result.accuracy > 0.75
    test = D.load("fashion-mnist")["test"]
    e = explain(model, torch.as_tensor(test.images[:200]))
    torch.testing.assert_close(conservation_gap(e), torch.zeros(200), atol=1e-3, rtol=0)


# --- the study's statistics ---------------------------------------------------------------------------

def test_variance_shares_find_the_factor_that_matters():
    from reference.thesis.report import variance_shares
    rows = [{"cell": c, "rule": r, "trained": t, "y": (3.0 if c == "shallow" else 0.0) + 0.01 * s}
            for c in ("shallow", "deep") for r in ("zbeta", "zplus") for t in (True, False) for s in range(3)]
    v = variance_shares(rows, ("cell", "rule", "trained"), "y")
    assert v["cell"] > 0.99 and v["rule"] < 0.01 and v["trained"] < 0.01
    assert sum(v.values()) == pytest.approx(1.0)


def test_a_difference_counts_only_beyond_its_spread_over_three_seeds():
    from reference.thesis.report import clearly_positive, fmt, paired_difference
    a, b = {0: 1.0, 1: 1.1, 2: 0.9}, {0: 0.2, 1: 0.1, 2: 0.3}
    assert clearly_positive(paired_difference(a, b))
    assert not clearly_positive(paired_difference(b, a))
    assert not clearly_positive(paired_difference({0: 1.0, 1: 1.0}, {0: 0.0, 1: 0.0})), "two seeds are not enough"
    assert not clearly_positive(paired_difference({0: 1.0, 1: -0.9, 2: 1.2}, {0: 0.0, 1: 0.0, 2: 0.0}))
    assert fmt([1.0, 2.0, 3.0]) == "2.00 ± 1.00" and fmt([0.5]) == "0.50" and fmt([]) == "-"
