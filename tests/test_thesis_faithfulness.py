"""reference.thesis.faithfulness: each measure on models small enough to know the right answer."""
import pytest
import torch

from reference.thesis import faithfulness as F
from reference.thesis.explain import explain
from reference.thesis.train import TrainConfig, train


class Linear(torch.nn.Module):
    """``h_c(x) = sum_ij x_ij W_cij``: the exact contribution of pixel ij to class c is ``x_ij W_cij``."""

    def __init__(self, seed=0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.W = torch.nn.Parameter(torch.rand(10, 28, 28, generator=g) ** 4)   # a few pixels matter a lot

    def forward(self, x):
        return torch.einsum("bij,cij->bc", x, self.W)

    def contributions(self, x, target):
        return x * self.W.detach()[target]


@pytest.fixture(scope="module")
def linear():
    g = torch.Generator().manual_seed(1)
    model = Linear()
    x = torch.rand(16, 28, 28, generator=g)
    target = torch.arange(16) % 10
    return model, x, target, model.contributions(x, target)


def run(model, x, target, heat, measure, order, seed=0, fill="zero"):
    h, w, steps = F.MEASURES[measure]
    w = 4 if w == "chunk" else w     # seven chunks of width 4
    g = torch.Generator().manual_seed(seed)
    o = F.patch_order(heat, h, w, order, g)
    return F.perturbation(model, x, target, o, h, w, F.fill_image(fill, x, x.mean(0), g), steps)


def test_patches_partition_the_image():
    ids, n = F.patch_ids(4, 4)
    assert n == 49 and torch.equal(torch.bincount(ids.reshape(-1)), torch.full((49,), 16))
    heat = torch.rand(2, 28, 28)
    torch.testing.assert_close(F.patch_sums(heat, 7, 7).sum(1), heat.sum((1, 2)))
    with pytest.raises(ValueError, match="divide 28"):
        F.patch_ids(5, 5)


@pytest.mark.parametrize("fill", F.FILLS)
def test_aopc_of_the_exact_ordering_beats_random_and_least_relevant_first(linear, fill):
    model, x, target, _ = linear
    reference = {"zero": 0.0, "mean": x.mean(0), "uniform": 0.5}[fill]   # what the fill replaces x by (on average)
    heat = model.contributions(x - reference, target)                     # the exact effect of removing each pixel
    most, rnd, least = (F.aopc(run(model, x, target, heat, "aopc", o, fill=fill)[0]) for o in ("most", "random", "least"))
    assert most > rnd > least


def test_random_order_ratio_is_one_in_expectation(linear):
    model, x, target, heat = linear
    a = [F.aopc(run(model, x, target, heat, "aopc", "random", seed=s)[0]) for s in range(8)]
    b = [F.aopc(run(model, x, target, heat, "aopc", "random", seed=100 + s)[0]) for s in range(8)]
    assert sum(a) / sum(b) == pytest.approx(1.0, abs=0.05)
    assert len(set(a)) == len(a), "different seeds give different random orders"


def test_chunk_curve_of_the_exact_ordering_drops_fastest(linear):
    model, x, target, heat = linear
    areas = {o: F.curve_area(F.chunk_curve(run(model, x, target, heat, "chunks", o)[0])) for o in F.ORDERS}
    assert areas["most"] < areas["random"] < areas["least"]
    curve = F.chunk_curve(run(model, x, target, heat, "chunks", "most")[0])
    assert curve.shape == (8,) and curve[0] == 1 and curve[-1] == pytest.approx(0, abs=1e-6)


def test_flip_count_counts_until_the_label_changes():
    labels = torch.tensor([[3, 3, 3, 5, 3], [1, 2, 2, 2, 2], [0, 0, 0, 0, 0]])
    assert F.flip_count(labels) == pytest.approx((3 + 1 + 5) / 3)   # never changes: n + 1 = 5


def test_flip_count_of_the_exact_ordering_is_lower_than_random(linear):
    model, x, target, heat = linear
    target = model(x).argmax(1)   # the flip count asks when the *predicted* label changes
    heat = model.contributions(x, target)
    flips = {o: F.flip_count(run(model, x, target, heat, "flips", o)[1]) for o in ("most", "random")}
    assert flips["most"] < flips["random"]


def test_ties_are_broken_at_random_not_by_position():
    g = torch.Generator().manual_seed(0)
    order = F.patch_order(torch.zeros(3, 28, 28), 4, 4, "most", g)
    assert not torch.equal(order[0], torch.arange(49)) and not torch.equal(order[0], order[1])
    heat = torch.zeros(1, 28, 28)
    heat[0, 24:, 24:] = 1.0   # the last patch is the only relevant one
    assert F.patch_order(heat, 4, 4, "most", g)[0, 0] == 48 and F.patch_order(heat, 4, 4, "least", g)[0, -1] == 48
    with pytest.raises(ValueError, match="order: expected"):
        F.patch_order(heat, 4, 4, "best", g)
    with pytest.raises(ValueError, match="fill: expected"):
        F.fill_image("gray", heat, heat[0], g)


def test_occlusion_and_integrated_gradients_recover_a_linear_model(linear):
    model, x, target, heat = linear
    occ = F.occlusion(model, x, target, seq_len=7)
    torch.testing.assert_close(F.patch_sums(occ, 4, 4), F.patch_sums(heat, 4, 4), rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(F.integrated_gradients(model, x, target), heat, rtol=1e-4, atol=1e-5)


def test_lag_curve_and_zero_pixel_share():
    heat = torch.zeros(2, 28, 28)
    heat[:, :, 24:] = 1.0
    torch.testing.assert_close(F.lag_curve(heat, 7), torch.tensor([1.0, 0, 0, 0, 0, 0, 0]))
    torch.testing.assert_close(F.lag_curve(torch.ones(2, 28, 28), 7), torch.arange(7, 0, -1) / 7.0)
    images = torch.zeros(2, 28, 28)
    images[:, :, :14] = 0.5
    assert F.zero_pixel_share(torch.ones(2, 28, 28), images) == pytest.approx(0.5)
    assert F.zero_pixel_share(torch.zeros(2, 28, 28), images) == 0.0


def test_randomized_model_is_where_training_starts(tmp_path):
    model, _ = train(TrainConfig(cell="deep", seq_len=7, epochs=0, seed=4, max_train=50), progress=False)
    untrained = F.randomized_model("deep", 7, seed=4)
    for (k, a), (_, b) in zip(model.state_dict().items(), untrained.state_dict().items()):
        torch.testing.assert_close(a, b, msg=k)


def test_faithfulness_of_a_tiny_recurrent_model():
    torch.manual_seed(0)
    model = F.randomized_model("deep", 7, seed=0)
    x = torch.rand(4, 28, 28)
    target = torch.arange(4)
    e = explain(model, x, target)
    got = F.faithfulness(model, x, target, e.heatmap, 7, fills=("zero", "uniform"))
    base = F.faithfulness(model, x, target, None, 7, fills=("zero", "uniform"), random_repeats=2)
    for measure in F.MEASURES:
        for fill in ("zero", "uniform"):
            assert {(measure, fill, o) for o in ("most", "least")} <= set(got)
            assert (measure, fill, "random") in base
    assert got[("chunks", "zero", "most", "curve")].shape == (8,)
    assert 0 <= got[("flips", "zero", "most")] <= 17
