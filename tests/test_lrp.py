"""reference.lrp, reference.roots and reference.propagation: the properties that define the rules."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from autograder.properties import arrays, bounded_inputs, layers, nonpositive_biases
from reference import lrp, roots
from reference import propagation as P

FAST = settings(max_examples=40, deadline=None, derandomize=True, database=None)


def receives(a, w):
    """Outputs that get some positive contribution (only they can pass relevance down under z+)."""
    return (a @ np.maximum(w, 0)) > 0


# --- conservation and positivity -----------------------------------------------------------------

@FAST
@given(layers())
def test_zplus_conserves_and_is_positive(ex):
    a, w, R = ex["a"], ex["w"], ex["R"]
    Rj = lrp.zplus(a, w, R)
    assert Rj.shape == a.shape
    np.testing.assert_allclose(Rj.sum(-1), (R * receives(a, w)).sum(-1), atol=1e-9)
    assert (Rj >= 0).all()


@FAST
@given(layers())
def test_zplus_is_alphabeta_1_0(ex):
    np.testing.assert_allclose(lrp.zplus(ex["a"], ex["w"], ex["R"]), lrp.alphabeta(ex["a"], ex["w"], ex["R"], 1, 0))


@FAST
@given(layers())
def test_alphabeta_conserves_where_both_signs_contribute(ex):
    a, w, R = ex["a"], ex["w"], ex["R"]
    both = ((a @ np.maximum(w, 0)) > 0) & ((a @ np.minimum(w, 0)) < 0)
    Rj = lrp.alphabeta(a, w, R * both, 2, 1)
    np.testing.assert_allclose(Rj.sum(-1), (R * both).sum(-1), atol=1e-9)


@FAST
@given(st.integers(1, 5).flatmap(lambda J: st.integers(1, 4).flatmap(lambda K: st.fixed_dictionaries({
    "a1": arrays((2, J)), "a2": arrays((2, J)), "w": arrays((J, K), -2, 2), "R": arrays((2, K), 0, 5)}))))
def test_w2_conserves_and_ignores_the_input(ex):
    w, R = ex["w"], ex["R"]
    Rj = lrp.w2(w, R)
    nonzero = (w ** 2).sum(0) > 0
    np.testing.assert_allclose(Rj.sum(-1), (R * nonzero).sum(-1), atol=1e-9)
    assert (Rj >= 0).all()
    # no `a` in the signature at all; the propagation layer passes the same R for any input
    layer = torch.nn.Linear(*w.shape).double()
    with torch.no_grad():
        layer.weight.copy_(torch.tensor(w.T))
    g1 = P.W2().gradient(layer, torch.tensor(ex["a1"]), torch.tensor(R))
    g2 = P.W2().gradient(layer, torch.tensor(ex["a2"]), torch.tensor(R))
    np.testing.assert_allclose(g1.numpy(), g2.numpy())
    np.testing.assert_allclose(g1.numpy(), Rj, atol=1e-9)


def box_layers():
    return st.integers(1, 5).flatmap(lambda J: st.integers(1, 4).flatmap(lambda K: st.fixed_dictionaries({
        "a": bounded_inputs((3, J), -1, 1), "w": arrays((J, K), -2, 2), "R": arrays((3, K), 0, 5)})))


@FAST
@given(box_layers())
def test_zbeta_conserves_and_is_positive(ex):
    a, w, R = ex["a"], ex["w"], ex["R"]
    Rj = lrp.zbeta(a, w, R, -1.0, 1.0)
    z = a @ w - (-1.0) * np.maximum(w, 0).sum(0) - 1.0 * np.minimum(w, 0).sum(0)
    np.testing.assert_allclose(Rj.sum(-1), (R * (z != 0)).sum(-1), atol=1e-9)
    assert (Rj >= -1e-12).all(), "each term a_j w_jk - l_j w+ - h_j w- is >= 0 inside the box"


@FAST
@given(layers().flatmap(lambda ex: st.fixed_dictionaries({**{k: st.just(v) for k, v in ex.items()},
                                                         "b": nonpositive_biases(ex["w"].shape[1]),
                                                         "eps": st.sampled_from([0.0, 1e-3, 0.5])})))
def test_epsilon_absorbs_exactly_the_stated_amount(ex):
    a, w, b, R, eps = ex["a"], ex["w"], ex["b"], ex["R"], ex["eps"]
    Rj = lrp.epsilon(a, w, b, R, eps)
    absorbed = lrp.epsilon_absorbed(a, w, b, R, eps)
    z = a @ w + b
    passed_on = (R * ((z + eps * np.where(z >= 0, 1, -1)) != 0)).sum(-1)
    np.testing.assert_allclose(passed_on - Rj.sum(-1), absorbed, atol=1e-8)
    if eps == 0 and not b.any():
        np.testing.assert_allclose(absorbed, 0, atol=1e-12)


# --- numpy, torch and the gradient trick agree ----------------------------------------------------

RULES = {
    "w2": (P.W2(), lambda a, w, b, R: lrp.w2(w, R)),
    "zplus": (P.ZPlus(), lambda a, w, b, R: lrp.zplus(a, w, R)),
    "zbeta": (P.ZBeta(0.0, 5.0), lambda a, w, b, R: lrp.zbeta(a, w, R, 0.0, 5.0)),
    "alphabeta": (P.AlphaBeta(2, 1), lambda a, w, b, R: lrp.alphabeta(a, w, R, 2, 1)),
    "epsilon": (P.Epsilon(0.01), lambda a, w, b, R: lrp.epsilon(a, w, b, R, 0.01)),
}


@pytest.mark.parametrize("name", RULES)
@FAST
@given(ex=layers().flatmap(lambda ex: st.fixed_dictionaries({**{k: st.just(v) for k, v in ex.items()},
                                                            "b": nonpositive_biases(ex["w"].shape[1])})))
def test_four_line_rule_equals_gradient_trick_and_torch(name, ex):
    rule, four_line = RULES[name]
    a, w, b, R = ex["a"], ex["w"], ex["b"], ex["R"]
    layer = torch.nn.Linear(*w.shape).double()
    with torch.no_grad():
        layer.weight.copy_(torch.tensor(w.T))   # torch's (K, J)
        layer.bias.copy_(torch.tensor(b))
    expected = four_line(a, w, b, R)
    via_torch = four_line(*(torch.tensor(v) for v in (a, w, b, R)))
    via_gradient = rule.gradient(layer, torch.tensor(a), torch.tensor(R))
    assert isinstance(via_torch, torch.Tensor)
    np.testing.assert_allclose(via_torch.numpy(), expected, atol=1e-9)
    np.testing.assert_allclose(via_gradient.numpy(), expected, atol=1e-9)


# --- root points (Deep Taylor, one neuron) --------------------------------------------------------

def neuron(low=-5.0, high=5.0):
    return st.integers(1, 6).flatmap(lambda J: st.fixed_dictionaries({
        "a": arrays((J,), low, high), "w_k": arrays((J,), -2, 2), "b_k": st.sampled_from([0.0, -0.5, -1.0])}))


@pytest.mark.parametrize("rule, low, high", [("w2", -5.0, 5.0), ("zplus", 0.0, 5.0), ("zbeta", -1.0, 1.0)])
@FAST
@given(data=st.data())
def test_root_point_is_a_root_in_the_domain_and_gives_the_rule(rule, low, high, data):
    ex = data.draw(neuron(low, high))
    a, w_k, b_k = ex["a"], ex["w_k"], ex["b_k"]
    rp = roots.root_point(rule, a, w_k, b_k, low=low, high=high)
    R_k = max(0.0, a @ w_k + b_k)
    assert rp.root @ w_k + b_k == pytest.approx(0.0, abs=1e-9) or R_k == 0 or rp.direction @ w_k == 0
    assert roots.in_domain(rule, rp.root, low, high)
    if R_k > 0 and rp.direction @ w_k != 0:
        np.testing.assert_allclose(rp.relevance.sum(), R_k, atol=1e-9)
        rule_fn = {"w2": lambda: lrp.w2(w_k[:, None], np.array([R_k])),
                   "zplus": lambda: lrp.zplus(a, w_k[:, None], np.array([R_k])),
                   "zbeta": lambda: lrp.zbeta(a, w_k[:, None], np.array([R_k]), low, high)}[rule]
        np.testing.assert_allclose(rp.relevance, rule_fn(), atol=1e-9)
        if rule != "w2":
            assert -1e-12 <= rp.t <= 1 + 1e-12


def test_inactive_neuron_is_its_own_root():
    rp = roots.root_point("zplus", [1.0, 2.0], [-1.0, -1.0])
    assert rp.t == 0 and (rp.relevance == 0).all() and (rp.root == [1.0, 2.0]).all()


# --- networks: composites, convolutions and pooling ----------------------------------------------

def conv_net(seed=0):
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                                torch.nn.Flatten(), torch.nn.Linear(64, 16), torch.nn.ReLU(),
                                torch.nn.Linear(16, 3)).double()
    with torch.no_grad():
        for m in model:
            if getattr(m, "bias", None) is not None:
                m.bias.copy_(-m.bias.abs())   # the thesis's non-positive biases
    return model


@pytest.mark.parametrize("composite", [P.deep_taylor(0, 1), P.deep_taylor(0, 1, P.Proportional()),
                                       P.uniform(P.ZPlus()), P.layered(P.W2(), P.ZPlus()),
                                       P.layered(P.ZBeta(0, 1), P.AlphaBeta(1, 0))],
                         ids=["deep_taylor", "proportional_pooling", "zplus", "w2_first", "alphabeta"])
def test_relevance_is_conserved_through_a_conv_net(composite):
    model = conv_net()
    x = torch.rand(6, 1, 8, 8, dtype=torch.float64)
    out = model(x).detach()
    R_out = out.abs() * torch.nn.functional.one_hot(out.argmax(1), 3)
    R, per_layer = P.propagate(model, x, composite, R_out, return_all=True)
    assert R.shape == x.shape
    for r in per_layer:
        torch.testing.assert_close(r.flatten(1).sum(1), R_out.sum(1))
    R_grad = P.propagate(model, x, composite, R_out, via_gradient=True)
    torch.testing.assert_close(R, R_grad)


def test_pooling_winner_take_all_and_proportional():
    a = torch.tensor([[[[1.0, 3.0], [0.0, 4.0]]]])
    pool = torch.nn.MaxPool2d(2)
    R = torch.tensor([[[[8.0]]]])
    wta = P.WinnerTakeAll().relevance(pool, a, R)
    prop = P.Proportional().relevance(pool, a, R)
    torch.testing.assert_close(wta, torch.tensor([[[[0.0, 0.0], [0.0, 8.0]]]]))
    torch.testing.assert_close(prop, torch.tensor([[[[1.0, 3.0], [0.0, 4.0]]]]))


def test_a_composite_maps_layer_types_along_the_class_hierarchy():
    class MyLinear(torch.nn.Linear):
        pass

    composite = P.layered(P.W2(), P.ZPlus(), P.Proportional())
    assert isinstance(composite.rule_for(MyLinear(2, 2)), P.ZPlus)
    assert isinstance(composite.rule_for(MyLinear(2, 2), first=True), P.W2)
    assert isinstance(composite.rule_for(torch.nn.MaxPool2d(2)), P.Proportional)
    assert isinstance(composite.rule_for(torch.nn.MaxPool2d(2), first=True), P.Proportional)


def test_epsilon_keeps_the_bias_of_a_layer_that_stores_it_elsewhere():
    """The thesis's NegBias* layers have ``bias = None`` and add ``effective_bias = -softplus(b)``:
    the epsilon rule must see that bias (it absorbs its share), in both implementations."""
    from reference.thesis.cells import NegBiasLinear

    torch.manual_seed(0)
    layer = NegBiasLinear(5, 3).double()
    with torch.no_grad():
        layer.b.fill_(1.0)   # softplus(1) = 1.31: a bias that matters
    a = torch.rand(4, 5, dtype=torch.float64)
    z = layer(a).detach()
    R = z.clone()
    dense = P.Epsilon(1e-9).relevance(layer, a, R)
    grad = P.Epsilon(1e-9).relevance(layer, a, R, via_gradient=True)
    torch.testing.assert_close(dense, grad)
    # R_j = a_j w_jk R_k / z_k: the inputs get z - b, the bias keeps b
    torch.testing.assert_close(dense.sum(1), (z - layer.effective_bias.detach()).sum(1))


# --- bad input gets a clear error -------------------------------------------------------------------

@pytest.mark.parametrize("call, fragment", [
    (lambda: lrp.zplus(np.ones((2, 3)), np.ones((4, 2)), np.ones((2, 2))), "rows"),
    (lambda: lrp.zplus(np.ones(3), np.ones((3, 2)), np.ones(3)), "columns"),
    (lambda: lrp.zplus(-np.ones(3), np.ones((3, 2)), np.ones(2)), "non-negative"),
    (lambda: lrp.alphabeta(np.ones(3), np.ones((3, 2)), np.ones(2), 2, 0), "alpha - beta = 1"),
    (lambda: lrp.zbeta(np.ones(3), np.ones((3, 2)), np.ones(2), 0.5, 2), "contain 0"),
    (lambda: lrp.zbeta(np.full(3, 3.0), np.ones((3, 2)), np.ones(2), 0, 1), "box"),
    (lambda: lrp.epsilon(np.ones(3), np.ones((3, 2)), None, np.ones(2), -1), "eps >= 0"),
    (lambda: lrp.w2(np.ones(3), np.ones(2)), "(J, K)"),
    (lambda: roots.root_point("zplus", [1.0], [1.0], b_k=1.0), "non-positive"),
    (lambda: roots.direction("gamma", [1.0], [1.0]), "rule"),
    (lambda: P.AlphaBeta(1, 1), "alpha - beta = 1"),
    (lambda: P.propagate(torch.nn.Sequential(torch.nn.Tanh()), torch.ones(1, 2), P.uniform(P.ZPlus())), "Tanh"),
])
def test_bad_input_is_named(call, fragment):
    with pytest.raises((ValueError, TypeError)) as info:
        call()
    assert fragment in str(info.value)
