"""reference.attribution against captum 0.9.0 on the same small models, and against the properties
that define each method (completeness, summation-to-delta, Grad-CAM = CAM on a GAP network, ...)."""
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from reference import attribution as A

captum_attr = pytest.importorskip("captum.attr")
from captum._utils.models.linear_model import SkLearnLinearRegression  # noqa: E402

FAST = settings(max_examples=25, deadline=None, derandomize=True, database=None)
D = torch.float64


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)   # captum: "Setting backward hooks on ReLU activations ..."
        yield


def close(got, want, atol=1e-7, **kw):
    as_np = lambda t: t.detach().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)  # noqa: E731
    np.testing.assert_allclose(as_np(got), as_np(want), atol=atol, **kw)


def mlp(seed, sizes=(5, 7, 6, 3), activation=torch.nn.ReLU, first=None):
    torch.manual_seed(seed)
    layers = [] if first is None else [first()]
    for i, (j, k) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(torch.nn.Linear(j, k))
        if i < len(sizes) - 2:
            layers.append(activation())
    return torch.nn.Sequential(*layers).to(D)


def batch(seed, shape, scale=1.0):
    g = torch.Generator().manual_seed(seed)
    return scale * torch.randn(*shape, generator=g, dtype=D)


def cnn(seed, classes=4):
    return A.small_cnn(1, channels=(3, 4, 5), classes=classes, seed=seed).to(D).eval()


# --- gradients -------------------------------------------------------------------------------

def test_saliency_and_input_x_gradient_match_captum():
    net, x = mlp(0), batch(1, (4, 5))
    close(A.saliency(net, x, 1), captum_attr.Saliency(net).attribute(x, target=1), atol=1e-12)
    close(A.gradient(net, x, 2), captum_attr.Saliency(net).attribute(x, target=2, abs=False),
                               atol=1e-12)
    close(A.gradient_x_input(net, x, 0), captum_attr.InputXGradient(net).attribute(x, target=0),
                               atol=1e-12)
    close(A.sensitivity(net, x, 1), A.gradient(net, x, 1) ** 2)


@FAST
@given(st.integers(0, 100), st.integers(1, 6))
def test_sensitivity_of_a_linear_model_is_w_squared_whatever_x(seed, dim):
    net = mlp(seed, (dim, 1))
    w = net[0].weight.detach()[0]
    for x in (batch(seed, (3, dim)), 10 * batch(seed + 1, (3, dim))):
        close(A.sensitivity(net, x), (w ** 2).expand(3, dim), atol=1e-12)
        R = A.gradient_x_input(net, x)
        close(R, w * x, atol=1e-12)   # the natural decomposition w_d x_d
        close(R.sum(1), A.score(net, x) - net[0].bias.detach(), atol=1e-12)


# --- integrated gradients --------------------------------------------------------------------

@pytest.mark.parametrize("method", A.QUADRATURES)
def test_integrated_gradients_match_captum(method):
    net, x, base = mlp(0), batch(1, (4, 5)), batch(2, (4, 5))
    for steps in (7, 20):
        got = A.integrated_gradients(net, x, base, target=1, steps=steps, method=method).attributions
        want = captum_attr.IntegratedGradients(net).attribute(x, base, target=1, n_steps=steps, method=method)
        if method == "riemann_trapezoid":   # captum's trapezoid weights sum to (m - 1)/m, ours to 1
            got = got * (steps - 1) / steps
        close(got, want, atol=1e-9)


def test_integrated_gradients_gap_is_captums_convergence_delta():
    net, x, base = mlp(3, activation=torch.nn.Tanh), batch(4, (3, 5)), batch(5, (3, 5))
    res = A.integrated_gradients(net, x, base, target=0, steps=9, method="riemann_middle")
    _, delta = captum_attr.IntegratedGradients(net).attribute(x, base, target=0, n_steps=9, method="riemann_middle",
                                                             return_convergence_delta=True)
    close(res.gap, -delta, atol=1e-8)   # captum reports sum(R) - (f(x) - f(x'))


@pytest.mark.parametrize("method", A.QUADRATURES)
def test_quadrature_weights_sum_to_one_and_integrate_what_they_should(method):
    for m in (2, 3, 6, 11):
        a, w = A.quadrature(method, m)
        assert a.shape == w.shape == (m,) and np.isclose(w.sum(), 1) and (0 <= a).all() and (a <= 1).all()
        exact_degree = {"riemann_left": 0, "riemann_right": 0, "riemann_middle": 1, "riemann_trapezoid": 1,
                        "gausslegendre": 2 * m - 1}[method]
        for deg in range(exact_degree + 1):
            assert np.isclose(w @ a ** deg, 1 / (deg + 1)), (method, m, deg)
        if method != "gausslegendre":
            assert not np.isclose(w @ a ** (exact_degree + 1), 1 / (exact_degree + 2))


def test_completeness_gap_closes_as_steps_grow_and_gauss_legendre_fastest():
    net, x, base = mlp(7, (6, 16, 16, 1), torch.nn.Tanh), batch(8, (1, 6), 2.0), torch.zeros(1, 6, dtype=D)
    gaps = {m: {meth: abs(float(A.integrated_gradients(net, x, base, steps=m, method=meth).gap))
                for meth in A.QUADRATURES} for m in (4, 16, 64)}
    for meth in A.QUADRATURES:
        assert gaps[64][meth] < gaps[16][meth] < gaps[4][meth] or gaps[64][meth] < 1e-12
    # orders of convergence: about 1/m for left/right, 1/m^2 for middle/trapezoid
    for meth in ("riemann_left", "riemann_right"):
        assert 2.5 < gaps[16][meth] / gaps[64][meth] < 6
    for meth in ("riemann_middle", "riemann_trapezoid"):
        assert 10 < gaps[16][meth] / gaps[64][meth] < 25
    assert gaps[16]["gausslegendre"] < 1e-10 < min(g for k, g in gaps[64].items() if k != "gausslegendre")


@FAST
@given(st.integers(0, 200), st.integers(1, 5), st.sampled_from([torch.nn.Tanh, torch.nn.Softplus]))
def test_completeness_on_smooth_networks(seed, dim, act):
    net = mlp(seed, (dim, 4, 4, 2), act)
    x, base = batch(seed, (2, dim), 2.0), batch(seed + 1, (2, dim))
    res = A.integrated_gradients(net, x, base, target=1, steps=32, method="gausslegendre")
    close(res.gap, 0, atol=1e-9)


@FAST
@given(st.integers(0, 200), st.integers(1, 5), st.sampled_from(A.QUADRATURES))
def test_integrated_gradients_are_exact_on_a_linear_model(seed, dim, method):
    net = mlp(seed, (dim, 1))
    x, base = batch(seed, (2, dim)), batch(seed + 1, (2, dim))
    res = A.integrated_gradients(net, x, base, steps=3, method=method)
    close(res.attributions, net[0].weight.detach() * (x - base), atol=1e-12)
    close(res.gap, 0, atol=1e-12)


def test_integrated_gradients_with_explicit_nodes_and_bad_input():
    net, x = mlp(0), batch(1, (2, 5))
    nodes = A.quadrature("riemann_right", 5)
    close(A.integrated_gradients(net, x, target=0, nodes=nodes).attributions,
                               A.integrated_gradients(net, x, target=0, steps=5, method="riemann_right").attributions)
    with pytest.raises(ValueError, match="method"):
        A.quadrature("simpson", 4)
    with pytest.raises(ValueError, match=">= 2"):
        A.quadrature("riemann_trapezoid", 1)
    with pytest.raises(ValueError, match="say which one"):
        A.integrated_gradients(net, x)
    with pytest.raises(ValueError, match="class index"):
        A.integrated_gradients(net, x, target=3)
    with pytest.raises(ValueError, match="broadcasts"):
        A.integrated_gradients(net, x, torch.zeros(3, 5, dtype=D), target=0)
    with pytest.raises(TypeError, match="None"):
        A.integrated_gradients(net, None, target=0)


# --- DeepLIFT --------------------------------------------------------------------------------

def test_the_recitations_rescale_example():
    m = A.rescale_multiplier(-2.0, 2.0)             # z' = 2 -> z = -2: Delta y = -2, Delta x = -4
    assert float(m) == 0.5 and float(-4 * m) == -2.0
    assert float(A.rescale_multiplier(3.0, 3.0)) == 1.0 and float(A.rescale_multiplier(-1.0, -1.0)) == 0.0


@pytest.mark.parametrize("seed", range(4))
def test_deeplift_matches_captum_on_mlps(seed):
    net, x, base = mlp(seed), batch(10 + seed, (4, 5)), batch(20 + seed, (4, 5))
    want = captum_attr.DeepLift(net).attribute(x, base, target=seed % 3)
    for fn in (A.deeplift_rescale, A.deeplift_rescale_override):
        res = fn(net, x, base, target=seed % 3)
        close(res.attributions, want, atol=1e-12)
        close(res.gap, 0, atol=1e-12)


def test_deeplift_matches_captum_on_a_cnn():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 3, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(3, 4, 3, stride=2),
                              torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(4 * 3 * 3, 5)).to(D)
    x, base = batch(1, (2, 1, 8, 8)), batch(2, (2, 1, 8, 8), 0.1)
    want = captum_attr.DeepLift(net).attribute(x, base, target=3)
    close(A.deeplift_rescale(net, x, base, 3).attributions, want, atol=1e-12)
    close(A.deeplift_rescale_override(net, x, base, 3).attributions, want, atol=1e-12)


@FAST
@given(st.integers(0, 300), st.integers(1, 5), st.integers(1, 5), st.integers(0, 2), st.floats(0, 3))
def test_summation_to_delta(seed, dim, hidden, target, scale):
    net = mlp(seed, (dim, hidden, hidden, 3))
    x, base = batch(seed, (3, dim), 2.0), batch(seed + 1, (3, dim), scale)
    res = A.deeplift_rescale(net, x, base, target)
    delta = A.score(net, x, target) - A.score(net, base, target)
    close(res.attributions.sum(1), delta, atol=1e-10)
    close(A.deeplift_rescale_override(net, x, base, target).attributions, res.attributions,
                               atol=1e-12)


def test_deeplift_equals_gradient_times_delta_on_linear_networks_and_handles_x_equal_baseline():
    net = mlp(0, (4, 3))
    x, base = batch(1, (2, 4)), batch(2, (2, 4))
    close(A.deeplift_rescale(net, x, base, 1).attributions,
                               A.gradient(net, x, 1) * (x - base), atol=1e-12)
    deep = mlp(1)
    R = A.deeplift_rescale(deep, x[:, :5].repeat(1, 2)[:, :5], x[:, :5].repeat(1, 2)[:, :5], 0).attributions
    assert torch.isfinite(R).all() and (R == 0).all()
    with pytest.raises(TypeError, match="not supported"):
        A.deeplift_rescale(torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Tanh()), torch.zeros(1, 2))
    with pytest.raises(TypeError, match="Sequential"):
        A.deeplift_rescale(cnn(0), torch.zeros(1, 1, 8, 8))


# --- guided backprop -------------------------------------------------------------------------

@pytest.mark.parametrize("seed", range(3))
def test_guided_backprop_and_deconvnet_match_captum(seed):
    net, x = mlp(seed), batch(seed, (4, 5))
    close(A.guided_backprop(net, x, 1), captum_attr.GuidedBackprop(net).attribute(x, target=1),
                               atol=1e-12)
    close(A.deconvnet(net, x, 1), captum_attr.Deconvolution(net).attribute(x, target=1),
                               atol=1e-12)
    net2, img = cnn(seed), batch(seed, (2, 1, 12, 12))
    close(A.guided_backprop(net2, img, 2),
                               captum_attr.GuidedBackprop(net2).attribute(img, target=2), atol=1e-12)


def test_rule_one_alone_is_the_gradient():
    net, x = mlp(5), batch(5, (3, 5))
    close(A.modified_relu_backprop(net, x, 2, zero_negative_gradient=False),
                               A.gradient(net, x, 2), atol=1e-12)


@FAST
@given(st.integers(0, 300), st.integers(1, 5), st.integers(0, 2))
def test_what_guided_backprop_makes_non_negative(seed, dim, target):
    """True: every ReLU passes a non-negative gradient down; hence the map is >= 0 when the input enters a
    ReLU directly, or when the first layer's weights are >= 0. Not true in general (next test)."""
    net = mlp(seed, (dim, 4, 4, 3))
    x = batch(seed, (3, dim), 2.0)
    passed_down = []
    hooks = [m.register_forward_pre_hook(lambda mod, inp: [inp[0].register_hook(passed_down.append)] and None)
             for m in net if isinstance(m, torch.nn.ReLU)]
    try:
        A.guided_backprop(net, x, target)
    finally:
        for h in hooks:
            h.remove()
    assert len(passed_down) == 2 and all((g >= 0).all() for g in passed_down)
    # the input map is >= 0 when the input passes a ReLU first ...
    net_relu_first = mlp(seed, (dim, 4, 3), first=torch.nn.ReLU)
    assert (A.guided_backprop(net_relu_first, x, target) >= 0).all()
    # ... or when the first layer's weights are >= 0
    with torch.no_grad():
        net[0].weight.abs_()
    assert (A.guided_backprop(net, x, target) >= 0).all()


def test_guided_backprop_map_is_not_sign_definite_in_general():
    neg = 0
    for seed in range(5):
        net, x = mlp(seed), batch(seed, (8, 5))
        R = A.guided_backprop(net, x, 0)
        neg += int((R < 0).sum())
        assert not np.allclose(R.sum(1), A.score(net, x, 0), atol=1e-3)   # no completeness either
    assert neg > 0


# --- CAM and Grad-CAM ------------------------------------------------------------------------

@pytest.mark.parametrize("seed", range(3))
def test_grad_cam_matches_captum_layer_grad_cam(seed):
    net, x = cnn(seed), batch(seed, (3, 1, 12, 12)).abs()
    for split in (2, 4, 6):   # after each convolution's ReLU
        features = net.features[:split]
        head = torch.nn.Sequential(*net.features[split:], net.head)
        got = A.grad_cam(features, head, x, 1)
        want = captum_attr.LayerGradCam(net, net.features[split - 1]).attribute(x, target=1, relu_attributions=True)
        close(got, want[:, 0], atol=1e-12)


@FAST
@given(st.integers(0, 100), st.integers(0, 3), st.sampled_from([8, 12, 16, 20]))
def test_grad_cam_is_relu_cam_over_hw_on_a_gap_network(seed, target, size):
    net, x = cnn(seed), batch(seed, (2, 1, size, size))
    cam = A.cam(net, x, target)
    h, w = cam.shape[1:]
    close(A.grad_cam(net.features, net.head, x, target), torch.relu(cam) / (h * w), atol=1e-12)
    # and CAM decomposes the score: f_c = mean_ij CAM_c + b_c
    close(cam.mean((1, 2)) + net.classifier.bias.detach()[target], A.score(net, x, target),
                               atol=1e-12)


def test_grad_cam_differs_from_cam_without_gap_and_validates():
    net, x = cnn(0), batch(0, (1, 1, 12, 12))
    torch.manual_seed(1)
    head = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(5 * 3 * 3, 4)).to(D)
    assert not torch.allclose(A.grad_cam(net.features, head, x, 0), torch.relu(A.cam(net, x, 0)) / 9)
    with pytest.raises(TypeError, match="GapCNN"):
        A.cam(mlp(0), batch(0, (1, 5)), 0)
    with pytest.raises(ValueError, match="class index"):
        A.cam(net, x, 7)
    with pytest.raises(ValueError, match=r"\(B, K, h, w\)"):
        A.grad_cam(torch.nn.Flatten(), torch.nn.Identity(), x, 0)
    assert A.upsample(torch.rand(2, 7, 7)).shape == (2, 28, 28)


def test_the_digit_cnn_trains_quickly_to_a_useful_accuracy():
    model, accuracy = A.train_digit_cnn(epochs=2)
    assert accuracy > 0.5
    assert model.features(torch.zeros(1, 1, 28, 28)).shape == (1, 32, 7, 7)


# --- LIME ------------------------------------------------------------------------------------

def _captum_lime(f, x0, Z, width, degree):
    """captum's LimeBase on our samples: interpretable features = the polynomial features of z - x0,
    similarity = the exponential kernel, interpretable model = sklearn's LinearRegression."""
    samples = iter(torch.as_tensor(Z))

    def perturb(inputs, **kwargs):
        while True:
            yield next(samples)[None]

    def to_interp(sample, inputs, **kwargs):
        return torch.as_tensor(A.polynomial_features((sample - inputs).numpy(), degree)[:, 1:])

    def similarity(inputs, sample, interp, **kwargs):
        return torch.exp(-((sample - inputs) ** 2).sum() / (2 * width ** 2))

    lime = captum_attr.LimeBase(lambda t: torch.as_tensor(f(t.numpy())), SkLearnLinearRegression(), similarity,
                                perturb, False, None, to_interp)
    coef = lime.attribute(torch.as_tensor(x0)[None], n_samples=len(Z))
    return float(lime.interpretable_model.bias()), coef.numpy().reshape(-1)


@pytest.mark.parametrize("degree", [1, 2])
def test_lime_matches_captums_lime_base(degree):
    x0 = np.array([0.0, -0.3])
    Z = A.sample_ball(x0, 300, 1.0, seed=3)
    fit = A.lime(A.curved_black_box, x0, degree=degree, kernel_width=0.5, samples=Z)
    bias, coef = _captum_lime(A.curved_black_box, x0, Z, 0.5, degree)
    close(fit.coef, np.r_[bias, coef], atol=2e-4)   # captum fits in float32


@FAST
@given(st.integers(0, 100), st.sampled_from([1, 2]), st.floats(0.2, 3), st.lists(st.floats(-2, 2), min_size=6, max_size=6))
def test_lime_recovers_a_polynomial_black_box_exactly(seed, degree, width, c):
    x0 = np.array([0.3, -0.7])
    coef = np.array(c[:3 if degree == 1 else 6])
    f = lambda Z: A.polynomial_features(Z - x0, degree) @ coef  # noqa: E731
    fit = A.lime(f, x0, degree=degree, n_samples=50, radius=1.0, kernel_width=width, seed=seed)
    close(fit.coef, coef, atol=1e-8)


def test_quadratic_surrogate_is_more_faithful_on_the_curved_boundary():
    x0 = np.array([0.0, -0.3])
    lin = A.lime(A.curved_black_box, x0, degree=1, radius=1.0, kernel_width=0.5, seed=0)
    quad = A.lime(A.curved_black_box, x0, degree=2, radius=1.0, kernel_width=0.5, seed=0)
    assert quad.fidelity > 0.95 > 0.85 > lin.fidelity > 0.5
    for fit in (lin, quad):   # out of sample too
        assert abs(A.holdout_fidelity(fit, A.curved_black_box, kernel_width=0.5) - fit.fidelity) < 0.05
    # same samples: the nested quadratic model can only fit better (weighted least squares)
    for seed in range(5):
        kw = dict(radius=1.5, kernel_width=1.0, seed=seed, n_samples=40)
        assert A.lime(A.curved_black_box, x0, degree=2, **kw).fidelity >= A.lime(A.curved_black_box, x0, degree=1,
                                                                                  **kw).fidelity - 1e-12
    # SUTD's linear explanation R_d = w_d x_d
    close(lin.contributions, lin.gradient * x0)


def test_lime_is_reproducible_by_seed_and_unstable_across_seeds_with_few_samples():
    x0 = np.array([0.0, -0.3])
    a = A.lime(A.curved_black_box, x0, n_samples=15, seed=1)
    np.testing.assert_array_equal(a.coef, A.lime(A.curved_black_box, x0, n_samples=15, seed=1).coef)
    spread = np.std([A.lime(A.curved_black_box, x0, n_samples=15, seed=s).gradient for s in range(10)], axis=0)
    assert spread.max() > 0.03


@FAST
@given(st.integers(1, 4), st.floats(0.1, 5), st.integers(0, 100))
def test_sample_ball_stays_within_the_radius(dim, radius, seed):
    x0 = np.arange(dim, dtype=float)
    Z = A.sample_ball(x0, 200, radius, seed)
    r = np.linalg.norm(Z - x0, axis=1)
    assert Z.shape == (200, dim) and (r <= radius + 1e-12).all()
    assert abs(r.mean() / radius - dim / (dim + 1)) < 0.08      # uniform in the ball: E r = d/(d+1) R


def test_kernel_and_weighted_r2_conventions():
    d = np.array([0.0, 1.0, 2.0])
    close(A.exponential_kernel(d, 0.7), np.sqrt(np.exp(-d ** 2 / 0.7 ** 2)))  # lime package
    y = np.array([0.0, 1.0, 3.0])
    assert A.weighted_r2(y, y, np.ones(3)) == 1.0
    assert np.isclose(A.weighted_r2(y, np.full(3, y.mean()), np.ones(3)), 0.0)


@pytest.mark.parametrize("call, fragment", [
    (lambda: A.sample_ball([0.0, 0.0], 10, -1.0), "positive"),
    (lambda: A.sample_ball([0.0, 0.0], 0, 1.0), "positive integer"),
    (lambda: A.polynomial_features(np.zeros((3, 2)), 3), "degree"),
    (lambda: A.weighted_least_squares(np.ones((3, 2)), np.ones(3), -np.ones(3)), "non-negative"),
    (lambda: A.weighted_r2(np.ones(3), np.ones(3), np.ones(3)), "constant"),
    (lambda: A.lime(A.curved_black_box, [0.0, 0.0], samples=np.zeros((4, 3))), "columns"),
    (lambda: A.curved_black_box(np.zeros((3, 3))), "2 columns"),
    (lambda: A.exponential_kernel([1.0], 0.0), "positive"),
])
def test_lime_bad_input_is_named(call, fragment):
    with pytest.raises((ValueError, TypeError), match=fragment):
        call()
