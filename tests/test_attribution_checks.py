"""The checks of the `attribution` assignment: correct answers pass, typical wrong ones fail with the
message that names the mistake."""
import numpy as np
import pytest
import sympy as sp
import torch

from autograder.feedback import CheckFailed
from autograder.questions import attribution as C
from reference import attribution as ref
from reference import conv as ref_conv

# --- correct answers, written as a student would ------------------------------------------------


def conv2d(x, w, b, stride=1, padding=0):
    K, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (padding, padding), (padding, padding)))
    H = (x.shape[1] + 2 * padding - kh) // stride + 1
    W = (x.shape[2] + 2 * padding - kw) // stride + 1
    out = np.zeros((K, H, W))
    for i in range(H):
        for j in range(W):
            out[:, i, j] = np.tensordot(w, xp[:, i * stride:i * stride + kh, j * stride:j * stride + kw], axes=3) + b
    return out


def integrated_gradients(f, x, baseline, alphas, weights):
    path = (baseline + alphas[:, None] * (x - baseline)).detach().requires_grad_(True)
    (g,) = torch.autograd.grad(f(path).sum(), path)
    return (x - baseline) * (weights[:, None] * g).sum(0)


def deeplift(relu_slope):
    def fn(model, x, baseline, target):
        acts, refs = [x], [baseline]
        with torch.no_grad():
            for layer in model:
                acts.append(layer(acts[-1]))
                refs.append(layer(refs[-1]))
            m = torch.zeros_like(acts[-1])
            m[target] = 1.0
            for layer, z, zr in zip(reversed(model), reversed(acts[:-1]), reversed(refs[:-1])):
                m = layer.weight.T @ m if isinstance(layer, torch.nn.Linear) else m * relu_slope(z, zr)
        return (x - baseline) * m
    return fn


def secant(z, zr):
    dz = z - zr
    moved = dz.abs() > 1e-10
    return torch.where(moved, (torch.relu(z) - torch.relu(zr)) / torch.where(moved, dz, torch.ones_like(dz)),
                       (z > 0).to(z.dtype))


def cam(model, x, target):
    with torch.no_grad():
        return torch.einsum("khw,k->hw", model.features(x[None])[0], model.classifier.weight[target])


def grad_cam_with(pool=lambda g: g.mean(dim=(2, 3), keepdim=True), relu=True):
    def fn(features, head, x, target):
        A = features(x[None]).detach().requires_grad_(True)
        (g,) = torch.autograd.grad(head(A)[0, target], A)
        m = (pool(g) * A).sum(1)[0]
        return (torch.relu(m) if relu else m).detach()
    return fn


def lime_with(kernel=lambda d2, w: np.exp(-d2 / (2 * w ** 2)), centred=True, root=True):
    def fn(f, x0, Z, width, degree):
        U = Z - x0 if centred else Z
        pi = kernel(((Z - x0) ** 2).sum(1), width)
        cols = [np.ones(len(U)), U[:, 0], U[:, 1]]
        if degree == 2:
            cols += [U[:, 0] ** 2, U[:, 0] * U[:, 1], U[:, 1] ** 2]
        Phi = np.stack(cols, 1)
        s = np.sqrt(pi) if root else pi
        return np.linalg.lstsq(Phi * s[:, None], f(Z) * s, rcond=None)[0]
    return fn


def rejects(check, *args, match):
    with pytest.raises(CheckFailed, match=match):
        check(*args)


# --- 1. convolution -------------------------------------------------------------------------------

def test_conv2d_check_accepts_a_loop_and_the_reference():
    C.conv2d(conv2d)
    C.conv2d(lambda x, w, b, s, p: ref_conv.conv2d(x, w, b, s, p))


@pytest.mark.parametrize("wrong, fragment", [
    (lambda x, w, b, s=1, p=0: conv2d(x, w[..., ::-1, ::-1].copy(), b, s, p), "flipped the kernel"),
    (lambda x, w, b, s=1, p=0: conv2d(x, w, 0 * b, s, p), "bias is missing"),
    (lambda x, w, b, s=1, p=0: conv2d(x, w, b * x.shape[0], s, p), "once per input channel"),
    (lambda x, w, b, s=1, p=0: conv2d(x, w, b, 1, p), "wrong output shape"),
    (lambda x, w, b, s=1, p=0: conv2d(x, w, b, s, 0), "wrong output shape"),
    (lambda *a: 1 / 0, "ZeroDivisionError"),
    (None, "no answer"),
])
def test_conv2d_check_rejects(wrong, fragment):
    rejects(C.conv2d, wrong, match=fragment)


def test_worked_examples_check():
    block = ref_conv.worked_output(ref_conv.WORKED_RGB)[:2, :2]
    assert block[0].tolist() == [-25, 466]
    good = (ref_conv.WORKED_5X5_FEATURE, [308, -498, 164], block)
    C.worked_examples(*good)
    C.worked_examples(ref_conv.WORKED_5X5_FEATURE.tolist(), (308.0, -498.0, 164.0), block.tolist())
    rejects(C.worked_examples, ref_conv.WORKED_5X5_FEATURE.T + np.eye(3), *good[1:], match="feature_5x5")
    rejects(C.worked_examples, np.zeros((5, 5)), *good[1:], match="no padding")
    rejects(C.worked_examples, good[0], [310, -170, 325], good[2], match="asks for output \\(0, 0\\)")
    rejects(C.worked_examples, good[0], [148, -8, 646], good[2], match="border of zeros")
    rejects(C.worked_examples, good[0], good[1], block - 1, match="add the bias")
    rejects(C.worked_examples, good[0], good[1], block.T, match="transposed")
    rejects(C.worked_examples, good[0], good[1], block[0], match="2 x 2 block")
    rejects(C.worked_examples, good[0], good[1], None, match="no answer")


N, K, S, P, Dl = sp.symbols("n k s p d", positive=True, integer=True)   # as the notebook declares them

EQUIVALENT = [
    (N + 2 * P - Dl * (K - 1) - 1) / S + 1,
    (N + 2 * P - Dl * K + Dl - 1 + S) / S,
    1 + (N - 1 + 2 * P - Dl * (K - 1)) / S,
    (N + 2 * P - (Dl * (K - 1) + 1)) / S + 1,
    sp.floor((N + 2 * P - Dl * (K - 1) - 1) / S) + 1,
    sp.together((N + 2 * P - Dl * (K - 1) - 1) / S + 1),
    "(n + 2*p - d*(k - 1) - 1)/s + 1",
    sp.expand((N + 2 * P - Dl * (K - 1) - 1 + S) / S),
]


@pytest.mark.parametrize("answer", EQUIVALENT)
def test_output_size_formula_accepts_equivalent_forms(answer):
    C.output_size_formula(answer)


@pytest.mark.parametrize("answer, fragment", [
    ((N + 2 * P - K) / S + 1, "without dilation"),
    ((N + 2 * P - Dl * K) / S + 1, "not d k"),
    ((N + P - Dl * (K - 1) - 1) / S + 1, "both sides"),
    ((N + 2 * P - Dl * (K - 1) - 1) / S, "first position"),
    ((N + 2 * P - Dl * (K - 1)) / S + 1, "off by one"),
    ((N - Dl * (K - 1) - 1) / S + 1, "padding is missing"),
    ((N + 2 * P - Dl * (K - 1) - 1) * S + 1, "divide by the stride"),
    (sp.ceiling((N + 2 * P - Dl * (K - 1)) / S), "floor"),
    (2 * ((N + 2 * P - Dl * (K - 1) - 1) / S + 1), "2 times"),
    ((N + 2 * P - Dl * (K - 1) - 1) / S + 1 + sp.Symbol("m"), "does not define"),
    (np.array([1.0, 2.0]), "numpy array"),
    (None, "no answer"),
])
def test_output_size_formula_rejects_wrong_forms(answer, fragment):
    rejects(C.output_size_formula, answer, match=fragment)


def test_tracking_sizes_check():
    C.tracking_sizes((24, 24, 3), (12, 12, 3), (14, 7, 7), 13)
    C.tracking_sizes([24, 24, 3], np.array([12, 12, 3]), [14, 7, 7], 13.0)
    rejects(C.tracking_sizes, (24, 24, 1), (12, 12, 3), (14, 7, 7), 13, match="3 output channels")
    rejects(C.tracking_sizes, (24, 24, 3), (12, 12, 3), (13, 6, 6), 13, match="with padding")
    rejects(C.tracking_sizes, (24, 24, 3), (12, 12, 3), (14, 7, 7), 13.5, match="round down")
    rejects(C.tracking_sizes, (24, 24, 3), (12, 12, 3), (14, 7, 7), 14, match="spans")
    rejects(C.tracking_sizes, None, (12, 12, 3), (14, 7, 7), 13, match="no answer")


@pytest.mark.parametrize("check, right, wrong, fragment", [
    (C.equivariance_statements, {"A", "C", "E"}, {"A", "C", "D", "E"}, r"not \(D\): equivariance means"),
    (C.equivariance_statements, {"A", "C", "E"}, {"A", "E"}, r"you missed one: \(C\)"),
    (C.linear_statements, {"A", "C", "E"}, {"A", "B", "C", "E"}, r"not \(B\)"),
    (C.ig_statements, {"A", "B", "C"}, {"A", "B", "C", "D"}, r"not \(D\): along the path"),
    (C.guided_statements, {"A", "B", "D"}, {"A", "B", "C", "D"}, r"not \(C\)"),
    (C.lime_statements, {"A", "C", "D"}, {"A", "B", "C", "D"}, r"not \(B\): LIME only queries"),
    (C.lime_statements, {"A", "C", "D"}, {"F"}, "unknown option"),
    (C.lime_statements, {"A", "C", "D"}, {1, 3}, "option letters"),
    (C.lime_statements, {"A", "C", "D"}, set(), "you missed one"),
])
def test_multiple_choice_checks(check, right, wrong, fragment):
    check(right)
    check(sorted(right))
    check(", ".join(sorted(right)).lower())
    rejects(check, wrong, match=fragment)
    rejects(check, None, match="no answer")


# --- 3. integrated gradients ---------------------------------------------------------------------

def test_quadrature_check():
    C.quadrature_nodes(ref.quadrature)
    C.quadrature_nodes(lambda meth, m: tuple(v[::-1] for v in ref.quadrature(meth, m)))   # any order

    def captum_trapezoid(meth, m):
        a, w = ref.quadrature(meth, m)
        return (a, w * (m - 1) / m) if meth == "riemann_trapezoid" else (a, w)

    def unmapped_gauss(meth, m):
        return np.polynomial.legendre.leggauss(m) if meth == "gausslegendre" else ref.quadrature(meth, m)

    def swapped(meth, m):
        return ref.quadrature({"riemann_left": "riemann_right"}.get(meth, meth), m)

    def wrong_middle(meth, m):
        a, w = ref.quadrature(meth, m)
        return (a + 0.5 / m if meth == "riemann_middle" else a), w

    rejects(C.quadrature_nodes, captum_trapezoid, match=r"1/\(m-1\) apart")
    rejects(C.quadrature_nodes, unmapped_gauss, match="halve them")
    rejects(C.quadrature_nodes, swapped, match="nodes of riemann_right")
    rejects(C.quadrature_nodes, wrong_middle, match="expected alphas")
    rejects(C.quadrature_nodes, lambda meth, m: ref.quadrature(meth, m)[0], match="pair")
    rejects(C.quadrature_nodes, None, match="no answer")


def test_integrated_gradients_check_accepts_a_correct_implementation():
    C.integrated_gradients(integrated_gradients)
    C.integrated_gradients_completeness(integrated_gradients)


def ig_variant(combine):
    def fn(f, x, baseline, alphas, weights):
        path = (baseline + alphas[:, None] * (x - baseline)).detach().requires_grad_(True)
        (g,) = torch.autograd.grad(f(path).sum(), path)
        return combine(x, baseline, g, weights)
    return fn


def grad_at_x(f, x, baseline, alphas, weights):
    x = x.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(f(x[None]).sum(), x)
    return g * (x - baseline).detach()


@pytest.mark.parametrize("wrong, fragment", [
    (ig_variant(lambda x, b, g, w: (w[:, None] * g).sum(0)), "averaged gradient"),
    (ig_variant(lambda x, b, g, w: (x - b) * g.sum(0)), "weight w_k"),
    (ig_variant(lambda x, b, g, w: (x - b) * g.mean(0)), "quadrature weights|formula"),
    (grad_at_x, "at x alone|completeness"),
    (lambda f, x, b, a, w: integrated_gradients(f, b, x, a, w), "swapped x and the baseline"),
    (lambda f, x, b, a, w: (x - b)[:1], "shape|completeness"),
    (lambda *a: torch.full((3,), float("nan")), "shape|NaN"),
    (None, "no answer"),
])
def test_integrated_gradients_check_rejects(wrong, fragment):
    rejects(C.integrated_gradients, wrong, match=fragment)


def test_completeness_check_rejects_a_crude_rule():
    def few_nodes(f, x, baseline, alphas, weights):
        a, w = (torch.as_tensor(v) for v in ref.quadrature("riemann_right", 2))
        return integrated_gradients(f, x, baseline, a, w)

    rejects(C.integrated_gradients_completeness, few_nodes, match="completeness gap")


# --- 4. DeepLIFT -----------------------------------------------------------------------------------

def test_rescale_example_check():
    C.rescale_example(0.5, -2, 0)
    C.rescale_example(torch.tensor(0.5), np.float64(-2.0), -0.0)
    rejects(C.rescale_example, 2.0, -2, 0, match="Delta x / Delta y")
    rejects(C.rescale_example, 0.0, -2, 0, match="secant slope")
    rejects(C.rescale_example, 0.5, 2, 0, match="must equal Delta y")
    rejects(C.rescale_example, 0.5, -2, -4, match="saturation")
    rejects(C.rescale_example, 0.5, None, 0, match="no answer")


def test_deeplift_checks_accept_the_rescale_rule():
    C.deeplift_rescale(deeplift(secant))
    C.deeplift_edge_cases(deeplift(secant))


def _unsafe_secant(z, zr):
    return (torch.relu(z) - torch.relu(zr)) / (z - zr)


@pytest.mark.parametrize("wrong, fragment", [
    (deeplift(lambda z, zr: (z > 0).to(z.dtype)), "gradient at x"),
    (deeplift(lambda z, zr: (zr > 0).to(z.dtype)), "gradients at the baseline|rescale"),
    (lambda model, x, b, t: deeplift(secant)(model, x, b, t) / torch.where(x == b, torch.ones_like(x), x - b),
     "multiply the multipliers"),
    (lambda model, x, b, t: deeplift(secant)(model, x, torch.zeros_like(b), t), "zero baseline|summation"),
    (lambda model, x, b, t: deeplift(secant)(model, x, b, t)[:1], "shape"),
    (None, "no answer"),
])
def test_deeplift_check_rejects(wrong, fragment):
    rejects(C.deeplift_rescale, wrong, match=fragment)


def test_deeplift_edge_case_check_rejects_a_division_by_zero():
    rejects(C.deeplift_edge_cases, deeplift(_unsafe_secant), match="x equal to the baseline: .*NaN.*gradient there")


# --- 5. CAM and Grad-CAM ---------------------------------------------------------------------------

def test_cam_checks_accept_correct_maps():
    C.cam(cam)
    C.grad_cam(grad_cam_with())
    C.grad_cam_equals_cam(grad_cam_with())
    C.grad_cam_equals_cam(grad_cam_with(), cam)


@pytest.mark.parametrize("wrong, fragment", [
    (lambda m, x, t: cam(m, x, t) + m.classifier.bias[t].detach(), "leave the bias out"),
    (lambda m, x, t: torch.relu(cam(m, x, t)), "no ReLU in CAM"),
    (lambda m, x, t: cam(m, x, t) / 9, "don't divide"),
    (lambda m, x, t: torch.zeros(12, 12), "smaller"),
    (None, "no answer"),
])
def test_cam_check_rejects(wrong, fragment):
    rejects(C.cam, wrong, match=fragment)


@pytest.mark.parametrize("wrong, fragment", [
    (grad_cam_with(pool=lambda g: g.sum(dim=(2, 3), keepdim=True)), "mean"),
    (grad_cam_with(relu=False), "apply the ReLU"),
    (grad_cam_with(pool=lambda g: g.abs().mean(dim=(2, 3), keepdim=True)), "expected"),
    (lambda f, h, x, t: grad_cam_with()(f, h, x, t)[:2], "shape"),
    (None, "no answer"),
])
def test_grad_cam_check_rejects(wrong, fragment):
    rejects(C.grad_cam, wrong, match=fragment)


def test_grad_cam_equals_cam_check_rejects_a_sum():
    rejects(C.grad_cam_equals_cam, grad_cam_with(pool=lambda g: g.sum(dim=(2, 3), keepdim=True)),
            match=r"relu\(CAM\) / \(h w\)")


# --- 6. LIME ---------------------------------------------------------------------------------------

def test_lime_checks_accept_weighted_least_squares():
    C.lime_surrogate(lime_with())
    fits = C._lime_reference_fits()
    C.lime_fidelity(fits[1].fidelity, fits[2].fidelity)
    assert fits[1].fidelity < fits[2].fidelity


@pytest.mark.parametrize("wrong, fragment", [
    (lime_with(kernel=lambda d2, w: np.ones_like(d2)), "ignores the kernel weights"),
    (lime_with(centred=False), "offsets u = z - x0"),
    (lime_with(kernel=lambda d2, w: np.exp(-d2 / w ** 2)), "lost the 2"),
    (lime_with(root=False), "instead of sqrt\\(pi\\)"),
    (lime_with(kernel=lambda d2, w: np.exp(-np.sqrt(d2) / (2 * w ** 2))), "squared distance"),
    (lambda f, x0, Z, w, deg: lime_with()(f, x0, Z, w, 1), "shape"),
    (None, "no answer"),
])
def test_lime_check_rejects(wrong, fragment):
    rejects(C.lime_surrogate, wrong, match=fragment)


def test_lime_fidelity_check_rejects():
    fits = C._lime_reference_fits()
    lin, quad = fits[1], fits[2]
    unweighted = 1 - np.sum((lin.targets - lin.predict(lin.samples)) ** 2) / np.sum(
        (lin.targets - lin.targets.mean()) ** 2)
    rejects(C.lime_fidelity, unweighted, quad.fidelity, match="weight the R\\^2")
    rejects(C.lime_fidelity, 1 - lin.fidelity, quad.fidelity, match="1 - R\\^2")
    rejects(C.lime_fidelity, quad.fidelity, lin.fidelity, match="other surrogate")
    rejects(C.lime_fidelity, None, quad.fidelity, match="no answer")


# --- hints decided on chosen probes, never on a shrunk counterexample ------------------------------

def _reason(check, *args) -> str:
    with pytest.raises(CheckFailed) as err:
        check(*args)
    return err.value.reason


def _named(reason: str, mistakes) -> list[str]:
    return sorted({hint for hint, _ in mistakes if hint in reason})


CONV_STUDENTS = [   # (a student's conv2d, the index of its mistake in C.CONV_MISTAKES)
    (lambda x, w, b, s=1, p=0: conv2d(x, w[..., ::-1, ::-1].copy(), b, s, p), 0),
    (lambda x, w, b, s=1, p=0: conv2d(x, w, 0 * b, s, p), 1),
    (lambda x, w, b, s=1, p=0: conv2d(x, w, b * x.shape[0], s, p), 2),
]


@pytest.mark.parametrize("student, i", CONV_STUDENTS)
def test_conv2d_names_the_mistake_made_and_no_other(student, i):
    assert _named(_reason(C.conv2d, student), C.CONV_MISTAKES) == [C.CONV_MISTAKES[i][0]]


@pytest.mark.parametrize("student", [
    # a transposed kernel: on a 2 x 2 kernel with one non-zero entry off the diagonal (what shrinking
    # finds) it equals the flipped kernel, yet the student flipped nothing
    lambda x, w, b, s=1, p=0: conv2d(x, np.swapaxes(w, -1, -2).copy(), b, s, p),
    lambda x, w, b, s=1, p=0: conv2d(x, w, -b, s, p),          # the bias subtracted: 0 where b = 0
    lambda x, w, b, s=1, p=0: conv2d(x, w, b, s, p) * (np.abs(x).max() < 10),   # right only for small inputs
])
def test_conv2d_other_mistakes_get_no_catalogued_hint(student):
    reason = _reason(C.conv2d, student)
    assert _named(reason, C.CONV_MISTAKES) == [], reason


def test_conv2d_probe_hint_is_kept_when_the_counterexample_is_degenerate():
    """The flipped kernel is named even when Hypothesis's smallest failure has a 1 x 1 kernel (where flipping
    changes nothing) or zero biases: the hint comes from the probes, not from that example."""
    flipped = CONV_STUDENTS[0][0]
    degenerate = dict(x=np.ones((1, 3, 3)), w=np.ones((1, 1, 1, 1)), b=np.zeros(1), stride=1, padding=0)
    assert C.Diagnosis(flipped, C.CONV_MISTAKES, [tuple(degenerate.values())]).hint() == C.CONV_MISTAKES[0][0]
    assert C.Diagnosis(flipped, C.CONV_MISTAKES, [tuple(c.values()) for c in C.CONV_FIXED[1:]]).hint() \
        == C.CONV_MISTAKES[0][0]


CAM_STUDENTS = [
    (lambda m, x, t: cam(m, x, t) + m.classifier.bias[t].detach(), 0),
    (lambda m, x, t: torch.relu(cam(m, x, t)), 1),
    (lambda m, x, t: cam(m, x, t) / 9, 2),
]


@pytest.mark.parametrize("student, i", CAM_STUDENTS)
def test_cam_names_the_mistake_made_and_no_other(student, i):
    assert _named(_reason(C.cam, student), C.CAM_MISTAKES) == [C.CAM_MISTAKES[i][0]]


@pytest.mark.parametrize("student", [
    lambda m, x, t: cam(m, x, t) / cam(m, x, t).abs().max(),   # normalised
    lambda m, x, t: torch.zeros(3, 3),   # all zeros: relu(CAM) where a network's CAM is negative everywhere
])
def test_cam_other_mistakes_get_no_catalogued_hint(student):
    reason = _reason(C.cam, student)
    assert _named(reason, C.CAM_MISTAKES) == [], reason


GRAD_CAM_STUDENTS = [
    (grad_cam_with(pool=lambda g: g.sum(dim=(2, 3), keepdim=True)), 0),
    (grad_cam_with(relu=False), 1),
]


@pytest.mark.parametrize("student, i", GRAD_CAM_STUDENTS)
def test_grad_cam_names_the_mistake_made_and_no_other(student, i):
    assert _named(_reason(C.grad_cam, student), C.GRAD_CAM_MISTAKES) == [C.GRAD_CAM_MISTAKES[i][0]]


@pytest.mark.parametrize("student", [
    grad_cam_with(pool=lambda g: g.abs().mean(dim=(2, 3), keepdim=True)),   # |gradient|: >= 0 like a ReLU's
    lambda f, h, x, t: torch.zeros(3, 3),
])
def test_grad_cam_other_mistakes_get_no_catalogued_hint(student):
    reason = _reason(C.grad_cam, student)
    assert _named(reason, C.GRAD_CAM_MISTAKES) == [], reason


LIME_STUDENTS = [
    (lime_with(kernel=lambda d2, w: np.ones_like(d2)), 0),
    (lime_with(centred=False), 1),
    (lime_with(kernel=lambda d2, w: np.exp(-d2 / w ** 2)), 2),
    (lime_with(root=False), 2),
    (lime_with(kernel=lambda d2, w: np.exp(-np.sqrt(d2) / (2 * w ** 2))), 3),
]


@pytest.mark.parametrize("student, i", LIME_STUDENTS)
def test_lime_names_the_mistake_made_and_no_other(student, i):
    assert _named(_reason(C.lime_surrogate, student), C.LIME_MISTAKES) == [C.LIME_MISTAKES[i][0]]


@pytest.mark.parametrize("student", [
    lime_with(kernel=lambda d2, w: np.exp(-d2 / (8 * w ** 2))),   # a kernel twice as wide: ~1 for a wide w
    lambda f, x0, Z, w, deg: np.zeros(3 if deg == 1 else 6),
])
def test_lime_other_mistakes_get_no_catalogued_hint(student):
    reason = _reason(C.lime_surrogate, student)
    assert _named(reason, C.LIME_MISTAKES) == [], reason


# --- the hints are decided on fixed probes -----------------------------------------------------------

@pytest.mark.parametrize("mistakes, probes, reference", [
    (C.IG_MISTAKES, [C._ig_probe(**ex) for ex in C.IG_PROBES],
     lambda net, x, b, a, w: ref.integrated_gradients(net, torch.tensor(x)[None], torch.tensor(b)[None], 0,
                                                      nodes=(a, w)).attributions.numpy()[0]),
    (C.DL_MISTAKES, [C._dl_probe(**ex) for ex in C.DL_PROBES], C._dl_reference),
], ids=["integrated-gradients", "deeplift"])
def test_every_catalogued_mistake_is_told_apart_on_the_probes(mistakes, probes, reference):
    """A mistake is named only when a function matches it on every probe: it must differ from the right
    answer on some probe (else a right-on-the-probes function would be told it made it), and from every
    other mistake (else the hint would name the first of two)."""
    outs = [[np.asarray(wrong(*args)) for args in probes] for _, wrong in mistakes]
    right = [reference(*args) for args in probes]
    for (hint, _), out in zip(mistakes, outs):
        assert not all(np.allclose(o, r, atol=1e-7) for o, r in zip(out, right)), hint
    for i, j in [(i, j) for i in range(len(outs)) for j in range(i)]:
        assert not all(np.allclose(a, b, atol=1e-7) for a, b in zip(outs[i], outs[j])), (mistakes[i][0], mistakes[j][0])


def test_a_hint_comes_from_the_probes_not_from_the_failing_example():
    """Right on the probes, zeros for a single input: the shrunk counterexample (x = 0, a one-unit network) is
    one where "DeepLIFT against the zero baseline" also gives 0, but the function does not make that mistake,
    so the hint must not name it (it did when hints were decided on the failing example)."""
    def zeros_in_1d(model, x, baseline, target):
        return torch.zeros_like(x) if len(x) == 1 else deeplift(secant)(model, x, baseline, target)

    with pytest.raises(CheckFailed) as err:
        C.deeplift_rescale(zeros_in_1d)
    message = str(err.value)
    assert "summation-to-delta fails" in message and "x = [0.]" in message and "zero baseline" not in message
