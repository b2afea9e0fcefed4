# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Vanishing and exploding gradients
#
# *NUS CS3244 tutorial 9, question 1 — MIT recitation "Recurrent neural networks" (exploding/vanishing
# gradients, LSTM) — Pascanu, Mikolov & Bengio (2013), "On the difficulty of training recurrent neural
# networks".*
#
# The forward pass of a vanilla RNN (NUS, eq. 1) is
#
# $$\mathbf{h}_k = g\big(\underbrace{(\mathbf{W}^{[xh]})^\top \mathbf{x}_k + (\mathbf{W}^{[hh]})^\top \mathbf{h}_{k-1}}_{\mathbf{a}_k}\big),\qquad k = 1, \dots, T,$$
#
# with $\mathbf{x}_k\in\mathbb{R}^D$, $\mathbf{h}_k, \mathbf{a}_k\in\mathbb{R}^H$,
# $\mathbf{W}^{[xh]}\in\mathbb{R}^{D\times H}$ and $\mathbf{W}^{[hh]}\in\mathbb{R}^{H\times H}$ (weights
# go *from* the row *to* the column, as everywhere in this course: in numpy
# `a_k = x_k @ W_xh + h_prev @ W_hh`). A loss at the last step reaches a weight used $T - t$ steps
# earlier only through the **Jacobian chain** $\partial\mathbf{h}_T/\partial\mathbf{h}_t$. In this
# notebook you compute that chain, bound its norm, watch it vanish or explode, clip exploding
# gradients, see why the LSTM's cell state keeps the gradient alive, and follow relevance along the same
# cell path.
#
# **How to work.** Fill in every cell that says `YOUR CODE HERE` (or `YOUR ANSWER HERE`), run it,
# then run the check below it. A check prints ✓ when your answer is right and otherwise says what is
# wrong, with the smallest example it found. The whole notebook runs in a few seconds.

# %%
import numpy as np
import sympy as sp
import torch
import matplotlib.pyplot as plt

from autograder.questions import vanishing as check

def sigmoid(a):
    return 1 / (1 + np.exp(-a))

# the activations g and their derivatives g' (elementwise, numpy); relu'(0) = 0 as in torch
G = {"tanh": np.tanh, "sigmoid": sigmoid, "relu": lambda a: np.maximum(a, 0), "identity": lambda a: a}
G_PRIME = {"tanh": lambda a: 1 - np.tanh(a) ** 2,
           "sigmoid": lambda a: sigmoid(a) * (1 - sigmoid(a)),
           "relu": lambda a: (a > 0).astype(float),
           "identity": lambda a: np.ones_like(a)}

def rnn_forward(W_xh, W_hh, xs, h0, activation="tanh"):
    # the forward pass: returns hs (T+1, H) with hs[k] = h_k, and pre (T, H) with pre[k-1] = a_k
    T, H = len(xs), len(h0)
    hs, pre = np.zeros((T + 1, H)), np.zeros((T, H))
    hs[0] = h0
    for k in range(1, T + 1):
        pre[k - 1] = xs[k - 1] @ W_xh + hs[k - 1] @ W_hh
        hs[k] = G[activation](pre[k - 1])
    return hs, pre


# %% [markdown]
# ## 1. The Jacobian chain
#
# One step of the chain comes from the chain rule through $\mathbf{a}_k$ (MIT:
# $\frac{\partial h_t}{\partial h_{t-1}} = \frac{\partial z_t}{\partial h_{t-1}}\cdot\frac{\partial h_t}{\partial z_t}$).
# With the Jacobian written in numerator layout, $\big(\partial\mathbf{h}_k/\partial\mathbf{h}_{k-1}\big)_{ij}
# = \partial h_k[i] / \partial h_{k-1}[j]$:
#
# $$a_k[i] = \sum_j W^{[hh]}_{ji}\, h_{k-1}[j] + \dots
# \quad\Longrightarrow\quad
# \frac{\partial h_k[i]}{\partial h_{k-1}[j]} = g'(a_k[i])\, W^{[hh]}_{ji}
# \quad\Longrightarrow\quad
# \frac{\partial\mathbf{h}_k}{\partial\mathbf{h}_{k-1}} = \operatorname{diag}\big(g'(\mathbf{a}_k)\big)\,(\mathbf{W}^{[hh]})^\top .$$
#
# Chaining the steps from $t$ to $T$, **later steps on the left**:
#
# $$\frac{\partial\mathbf{h}_T}{\partial\mathbf{h}_t} = \frac{\partial\mathbf{h}_T}{\partial\mathbf{h}_{T-1}}\cdots\frac{\partial\mathbf{h}_{t+1}}{\partial\mathbf{h}_t}
# = \prod_{k=T}^{t+1} \operatorname{diag}\big(g'(\mathbf{a}_k)\big)\,(\mathbf{W}^{[hh]})^\top \qquad (H\times H),$$
#
# $T - t$ factors; for $t = T$ the empty product is the identity.
#
# **Q1 ({points:chain-check}).** Implement `jacobian_chain(W_xh, W_hh, xs, h0, t, activation)`: `W_xh` (D, H),
# `W_hh` (H, H), `xs` (T, D) with `xs[k-1]` $=\mathbf{x}_k$, `h0` (H,), an integer `0 <= t <= T`, and
# `activation` one of `"tanh"`, `"sigmoid"`, `"relu"`, `"identity"`. Return $\partial\mathbf{h}_T/\partial\mathbf{h}_t$
# as an (H, H) numpy array. Use `rnn_forward` and `G_PRIME` from above. The check compares with torch
# autograd on small random networks.

# %% nbgrader={"grade": false, "grade_id": "chain-answer", "locked": false, "solution": true}
def jacobian_chain(W_xh, W_hh, xs, h0, t, activation="tanh"):
    ### BEGIN SOLUTION
    _, pre = rnn_forward(W_xh, W_hh, xs, h0, activation)
    J = np.eye(W_hh.shape[0])
    for k in range(t + 1, len(xs) + 1):
        J = G_PRIME[activation](pre[k - 1])[:, None] * W_hh.T @ J   # diag(g'(a_k)) W_hh^T, then the rest
    return J
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "chain-check", "locked": true, "points": 5, "solution": false}
check.jacobian_chain(jacobian_chain)
### BEGIN HIDDEN TESTS
check.jacobian_chain(jacobian_chain, thorough=True)
### END HIDDEN TESTS

# %% [markdown]
# ## 2. How fast can it shrink? A bound
#
# Two facts about the spectral norm $\lVert A\rVert_2$ (the largest singular value
# $\sigma_{\max}(A)$): it is submultiplicative, $\lVert AB\rVert_2\le\lVert A\rVert_2\lVert B\rVert_2$,
# and for a diagonal matrix it is the largest absolute entry. Let $\gamma = \sup_a |g'(a)|$ bound the
# activation's slope:
#
# | $g$ | tanh | sigmoid | ReLU | identity |
# |---|---|---|---|---|
# | $\gamma$ | 1 | 1/4 | 1 | 1 |
#
# and write $\sigma = \sigma_{\max}(\mathbf{W}^{[hh]}) = \lVert(\mathbf{W}^{[hh]})^\top\rVert_2$ and
# $n = T - t$ for the distance in time.
#
# **Q2 ({points:bound-check}).** Bound $\lVert\partial\mathbf{h}_T/\partial\mathbf{h}_t\rVert_2$ from above: give
# the bound as a SymPy expression `bound` in `gamma`, `sigma` and `n`.

# %%
gamma, sigma = sp.symbols("gamma sigma", positive=True)
n = sp.Symbol("n", integer=True, nonnegative=True)   # the distance T - t

# %% nbgrader={"grade": false, "grade_id": "bound-answer", "locked": false, "solution": true}
bound = None
### BEGIN SOLUTION
bound = (gamma * sigma) ** n
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "bound-check", "locked": true, "points": 3, "solution": false}
check.bound(bound)

# %% [markdown]
# So $\gamma\sigma < 1$ is **sufficient** for the gradient to vanish exponentially fast in $T - t$,
# and $\gamma\sigma > 1$ is **necessary** for it to explode (Pascanu et al., 2013). The figure uses
# your `jacobian_chain` on random networks with $\mathbf{W}^{[hh]} = \rho\,Q$, $Q$ orthogonal, so that
# every singular value is $\rho$: solid lines are $\lVert\partial\mathbf{h}_T/\partial\mathbf{h}_{T-n}\rVert_2$,
# dashed lines the bound $(\gamma\rho)^n$.

# %%
from reference.vanishing import random_rnn   # random W_xh, W_hh = rho * orthogonal, xs ~ N(0, 1), h0 = 0

GAMMA = {"tanh": 1.0, "sigmoid": 0.25, "relu": 1.0, "identity": 1.0}
T = 30
fig, axes = plt.subplots(1, 4, figsize=(14, 3.3), sharey=True)
for ax, act in zip(axes, G):
    for rho, color in zip([0.5, 1.0, 2.0], ["C0", "C1", "C3"]):
        net_ = random_rnn(hidden=16, inputs=4, steps=T, rho=rho, seed=1)
        norms = [np.linalg.norm(jacobian_chain(net_["W_xh"], net_["W_hh"], net_["xs"], net_["h0"], T - d, act), 2)
                 for d in range(T + 1)]
        ax.semilogy(np.maximum(norms, 1e-30), color=color, label=f"rho = {rho}")
        ax.semilogy((GAMMA[act] * rho) ** np.arange(T + 1), color=color, ls="--", lw=0.8)
    ax.set_ylim(1e-15, 1e9)
    ax.set_title(f"{act} (gamma = {GAMMA[act]:g})")
    ax.set_xlabel("distance n = T - t")
axes[0].set_ylabel("||dh_T / dh_(T-n)||")
axes[0].legend()
plt.tight_layout()
plt.show()

# %% [markdown]
# The identity with an orthogonal $\mathbf{W}^{[hh]}$ sits exactly on its bound: $\rho^n$ vanishes for
# $\rho < 1$ and explodes for $\rho > 1$. The sigmoid vanishes even at $\rho = 2$ ($\gamma\rho = 1/2$).
# tanh and ReLU stay below their bounds: saturated units ($g'\approx 0$) and dead ReLUs cut the chain.
#
# Back to the NUS tutorial. For the loss $E_T$ at the last step it writes
#
# $$\frac{\partial E_T}{\partial \mathbf{W}^{[hh]}} = \frac{\partial E_T}{\partial \hat{\mathbf{o}}_T} \times \frac{\partial \hat{\mathbf{o}}_T}{\partial \hat{\mathbf{y}}_T} \times \frac{\partial \hat{\mathbf{y}}_T}{\partial \mathbf{h}_T} \times \frac{\partial \mathbf{h}_T}{\partial \mathbf{W}^{[hh]}}, \qquad
# \frac{\partial \mathbf{h}_T}{\partial \mathbf{W}^{[hh]}} = \frac{\partial g^{[h]}(\mathbf{x}_T, \mathbf{h}_{T-1})}{\partial \mathbf{W}^{[hh]}} + \frac{\partial g^{[h]}(\mathbf{x}_T, \mathbf{h}_{T-1})}{\partial \mathbf{h}_{T-1}} \times \frac{\partial \mathbf{h}_{T-1}}{\partial \mathbf{W}^{[hh]}} .$$
#
# **Q3 ({points:mc-vanishing-check}, multiple choice; NUS Q1(b)).** Which term is responsible for the vanishing gradient
# problem? Answer with one letter, `mc_vanishing = "A"`, say.
#
# {choices:vanishing_term}

# %% nbgrader={"grade": false, "grade_id": "mc-vanishing-answer", "locked": false, "solution": true}
mc_vanishing = None
### BEGIN SOLUTION
mc_vanishing = "D"
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "mc-vanishing-check", "locked": true, "points": 2, "solution": false}
check.vanishing_term(mc_vanishing)

# %% [markdown]
# ## 3. Predicted and measured decay on one network
#
# Here is a network whose $\mathbf{W}^{[hh]}$ is a Gaussian random matrix (not orthogonal: its
# eigenvalues and its singular values differ).

# %%
net = check.EXPERIMENT_NETWORK    # dict with W_xh (4, 16), W_hh (16, 16), xs (30, 4), h0 (16,)
W_xh, W_hh, xs, h0 = net["W_xh"], net["W_hh"], net["xs"], net["h0"]
print("spectral radius max|lambda(W_hh)| =", round(float(np.max(np.abs(np.linalg.eigvals(W_hh)))), 3))

# %% [markdown]
# **Q4 ({points:rate-check}).** Evaluate the per-step factor $\gamma\,\sigma_{\max}(\mathbf{W}^{[hh]})$ of the
# bound for this network with the tanh activation (`rate_tanh`) and with the sigmoid (`rate_sigmoid`).

# %% nbgrader={"grade": false, "grade_id": "rate-answer", "locked": false, "solution": true}
rate_tanh, rate_sigmoid = None, None
### BEGIN SOLUTION
s_max = np.linalg.norm(W_hh, 2)          # the largest singular value
rate_tanh, rate_sigmoid = 1.0 * s_max, 0.25 * s_max
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "rate-check", "locked": true, "points": 2, "solution": false}
check.predicted_rates(rate_tanh, rate_sigmoid)

# %% [markdown]
# **Q5 ({points:slope-check}).** Now measure. For both activations compute the norms
# $\lVert\partial\mathbf{h}_T/\partial\mathbf{h}_{T-n}\rVert_2$ for **every** distance $n = 0, \dots, T$
# with your `jacobian_chain` (spectral norm: `np.linalg.norm(J, 2)`), fit a straight line to
# $(n, \ln\lVert\cdot\rVert)$ with `np.polyfit(n, np.log(norms), 1)` and report its slope as
# `slope_tanh` and `slope_sigmoid`. $e^{\text{slope}}$ is the measured factor per step; the bound
# predicts a slope of at most $\ln(\gamma\sigma_{\max})$.

# %% nbgrader={"grade": false, "grade_id": "slope-answer", "locked": false, "solution": true}
slope_tanh, slope_sigmoid = None, None
### BEGIN SOLUTION
def log_slope(activation):
    T = len(xs)
    distances = np.arange(T + 1)
    norms = [np.linalg.norm(jacobian_chain(W_xh, W_hh, xs, h0, T - d, activation), 2) for d in distances]
    return np.polyfit(distances, np.log(norms), 1)[0]

slope_tanh, slope_sigmoid = log_slope("tanh"), log_slope("sigmoid")
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "slope-check", "locked": true, "points": 3, "solution": false}
check.fitted_slopes(slope_tanh, slope_sigmoid)
### BEGIN HIDDEN TESTS
check.fit_below_bound(slope_tanh, slope_sigmoid, rate_tanh, rate_sigmoid)
### END HIDDEN TESTS

# %%
if None not in (slope_tanh, slope_sigmoid, rate_tanh, rate_sigmoid):
    for act, slope, rate in [("tanh", slope_tanh, rate_tanh), ("sigmoid", slope_sigmoid, rate_sigmoid)]:
        print(f"{act:8s} predicted factor <= {rate:.3f} (log {np.log(rate):+.3f}),  "
              f"measured {np.exp(slope):.3f} (slope {slope:+.3f})")

# %% [markdown]
# With tanh the bound allows growth ($\gamma\sigma_{\max} > 1$), yet the gradient vanishes: the
# bound is an upper bound, and saturated units shrink every factor. The sigmoid's $\gamma = 1/4$
# guarantees vanishing here.
#
# What does this mean for learning? $\partial L/\partial\mathbf{W}^{[hh]}$ is a sum over the steps
# $k$ at which $\mathbf{W}^{[hh]}$ was used, $\sum_k \mathbf{h}_{k-1}\boldsymbol\delta_k^\top$ with
# $\boldsymbol\delta_k = \operatorname{diag}(g'(\mathbf{a}_k))\,(\partial\mathbf{h}_T/\partial\mathbf{h}_k)^\top\,\partial L/\partial\mathbf{h}_T$:
# every term carries the chain from its own step to $T$. The share of the gradient that comes from more
# than $k$ steps back:

# %%
from reference.vanishing import gradient_contributions, long_range_share

dL_dhT = np.ones(16)               # a loss at the last step with dL/dh_T = (1, ..., 1)
for act in ["identity", "tanh", "sigmoid"]:
    terms = gradient_contributions(W_xh, W_hh, xs, dL_dhT, h0, act)   # one (H, H) term per step
    shares = ", ".join(f"> {k:2d} steps: {long_range_share(terms, k):6.1%}" for k in (1, 5, 10, 20))
    print(f"{act:8s} {shares}")


# %% [markdown]
# With tanh or the sigmoid, hardly anything of the gradient comes from more than a few steps back: the
# network learns short-term dependencies only (NUS: the *short-term dependency problem*).
#
# ## 4. Exploding gradients and clipping
#
# With $\gamma\sigma_{\max} > 1$ the chain *can* explode (the identity with $\rho = 2$ above grows like
# $2^n$). One huge gradient step then throws the weights far away. The usual fix is **clipping by the
# global norm** (Pascanu et al., 2013): treat all gradients $\mathbf{g}_1, \dots, \mathbf{g}_m$ (one
# per parameter tensor) as one long vector and shrink it when it is too long,
#
# $$\lVert\mathbf{g}\rVert = \sqrt{\textstyle\sum_i \lVert\mathbf{g}_i\rVert^2}, \qquad
# \mathbf{g}_i \leftarrow \mathbf{g}_i\cdot\min\Big(1, \frac{c}{\lVert\mathbf{g}\rVert}\Big).$$
#
# It keeps the direction and only caps the length. `torch.nn.utils.clip_grad_norm_` does this (it adds
# $10^{-6}$ to the norm in the denominator; you may too).
#
# **Q6 ({points:clip-check}).** Implement `clip_by_global_norm(grads, max_norm)`: `grads` is a list of numpy
# arrays of any shapes, `max_norm` $= c > 0$. Return a **new** list of arrays (same shapes; do not
# modify the inputs). The check tests the properties above and compares with torch.

# %% nbgrader={"grade": false, "grade_id": "clip-answer", "locked": false, "solution": true}
def clip_by_global_norm(grads, max_norm):
    ### BEGIN SOLUTION
    total = np.sqrt(sum(np.sum(np.asarray(g) ** 2) for g in grads))
    scale = min(1.0, max_norm / (total + 1e-6))
    return [np.asarray(g) * scale for g in grads]
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "clip-check", "locked": true, "points": 4, "solution": false}
check.clip_by_global_norm(clip_by_global_norm)
### BEGIN HIDDEN TESTS
check.clip_by_global_norm(clip_by_global_norm, thorough=True)
### END HIDDEN TESTS

# %%
# an exploding network: identity activation, W_hh = 1.5 * orthogonal; the gradient of W_hh and W_xh
exploding = random_rnn(hidden=16, inputs=4, steps=30, rho=1.5, seed=1)
terms = gradient_contributions(exploding["W_xh"], exploding["W_hh"], exploding["xs"], np.ones(16),
                               exploding["h0"], "identity")
grads = [terms.sum(0), np.random.default_rng(0).normal(size=(4, 16))]
clipped = clip_by_global_norm(grads, 5.0)
norm = lambda gs: np.sqrt(sum(np.sum(g ** 2) for g in gs))
print(f"global norm before: {norm(grads):.3g}, after: {norm(clipped):.3g}")

# %% [markdown]
# Clipping tames exploding gradients. It does nothing for vanishing ones: a gradient that is already
# tiny is left as it is. For those we need a different architecture.
#
# ## 5. The LSTM's additive cell path
#
# The LSTM (MIT recitation) keeps a cell state $c_t$ next to its output $h_t$:
#
# $$f_t = \sigma(W_f\cdot[h_{t-1}, x_t] + b_f),\quad i_t = \sigma(W_i\cdot[h_{t-1}, x_t] + b_i),\quad
# \tilde c_t = \tanh(W_c\cdot[h_{t-1}, x_t] + b_c),$$
# $$c_t = f_t * c_{t-1} + i_t * \tilde c_t, \qquad o_t = \sigma(W_o\cdot[h_{t-1}, x_t] + b_o),\quad h_t = o_t * \tanh(c_t).$$
#
# The old cell is *multiplied by a gate and added*, not squashed through a weight matrix and an
# activation. Take a scalar cell ($H = D = 1$, candidate weights named `w_g, u_g, b_g`); the previous
# output follows the previous cell, $h_{t-1} = o_{t-1}\tanh(c_{t-1})$:

# %%
c_prev, o_prev, x = sp.symbols("c_prev o_prev x", real=True)
w_f, u_f, b_f, w_i, u_i, b_i, w_g, u_g, b_g = sp.symbols("w_f u_f b_f w_i u_i b_i w_g u_g b_g", real=True)
sig = lambda z: 1 / (1 + sp.exp(-z))

h_prev = o_prev * sp.tanh(c_prev)
f_t = sig(w_f * h_prev + u_f * x + b_f)       # forget gate
i_t = sig(w_i * h_prev + u_i * x + b_i)       # input gate
g_t = sp.tanh(w_g * h_prev + u_g * x + b_g)   # candidate (MIT: C~_t)
c_t = f_t * c_prev + i_t * g_t

# %% [markdown]
# The recitation splits $\partial c_t/\partial c_{t-1} = A_t + B_t + C_t + D_t$: $B_t$ is the
# **direct path**, through the $c_{t-1}$ that appears explicitly in $c_t = f_t c_{t-1} + \dots$ with
# every gate held fixed; $A_t$, $C_t$, $D_t$ are the indirect paths through $h_{t-1}$ into the forget
# gate, the input gate and the candidate.
#
# **Q7 ({points:lstm-direct-check}).** Give the direct path $B_t$ as `dc_direct` (an expression in the symbols above;
# you may use `f_t`, `i_t`, `g_t`).
#
# **Q8 ({points:lstm-full-check}).** Give the full derivative $\partial c_t/\partial c_{t-1}$, all four paths, as
# `dc_full`. Let SymPy do it: `sp.diff`.

# %% nbgrader={"grade": false, "grade_id": "lstm-answer", "locked": false, "solution": true}
dc_direct, dc_full = None, None
### BEGIN SOLUTION
f_fixed, i_fixed, g_fixed = sp.symbols("f_fixed i_fixed g_fixed")     # the gates, held fixed
dc_direct = sp.diff(f_fixed * c_prev + i_fixed * g_fixed, c_prev).subs(f_fixed, f_t)
dc_full = sp.diff(c_t, c_prev)
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "lstm-direct-check", "locked": true, "points": 2, "solution": false}
check.lstm_direct(dc_direct)

# %% nbgrader={"grade": true, "grade_id": "lstm-full-check", "locked": true, "points": 3, "solution": false}
check.lstm_full(dc_full)

# %% [markdown]
# Over many steps the direct path gives $\prod_k \operatorname{diag}(f_k)$: no weight matrix, no
# $\tanh'$, just the forget gates. The figure runs a random 8-unit LSTM and shows the norm of the full
# $\partial c_T/\partial c_{T-n}$ (solid, by torch autograd) and of its direct path (dotted) for three
# forget-gate biases, next to a vanilla tanh RNN ($\rho = 0.9$, your `jacobian_chain`).

# %%
from reference.vanishing import lstm_params, lstm_cell_jacobian_norms

T = 30
lstm_xs = np.random.default_rng(0).normal(size=(T, 4))
plt.figure(figsize=(6.5, 3.8))
for bias, color in zip([0.0, 2.0, 5.0], ["C0", "C1", "C2"]):
    norms = lstm_cell_jacobian_norms(lstm_params(8, 4, forget_bias=bias, seed=0), lstm_xs)
    plt.semilogy(norms["full"], color=color, label=f"LSTM, forget bias {bias:g}")
    plt.semilogy(norms["direct"], color=color, ls=":")
vanilla = random_rnn(hidden=8, inputs=4, steps=T, rho=0.9, seed=0)
plt.semilogy([np.linalg.norm(jacobian_chain(vanilla["W_xh"], vanilla["W_hh"], vanilla["xs"], vanilla["h0"], T - d),
                             2) for d in range(T + 1)], color="k", label="vanilla tanh RNN, rho = 0.9")
plt.xlabel("distance n = T - t")
plt.ylabel("||dc_T / dc_(T-n)||  (RNN: ||dh_T / dh_(T-n)||)")
plt.legend(fontsize=8)
plt.tight_layout()
plt.show()

# %% [markdown]
# **Q9 ({points:lstm-written}, graded by hand).** Why does the LSTM keep gradients alive over long distances
# where the vanilla RNN loses them? Refer to your `dc_direct`, to the figure, and to what the forget
# gate's bias does. Does the LSTM also rule out exploding gradients?

# %% [markdown] nbgrader={"grade": true, "grade_id": "lstm-written", "locked": false, "points": 3, "solution": true}
# **Model answer.** In the vanilla RNN every step multiplies the gradient by
# $\operatorname{diag}(g'(\mathbf{a}_k))\mathbf{W}_{hh}^\top$, whose norm is at most
# $\gamma\sigma_{\max}$ and in practice smaller (saturation), so the product shrinks exponentially. The
# LSTM's cell is updated additively, $c_t = f_t c_{t-1} + i_t\tilde c_t$: along the direct path
# $\partial c_t/\partial c_{t-1} = \operatorname{diag}(f_t)$, with no weight matrix and no squashing
# derivative, so over $n$ steps the gradient is scaled by $\prod_k f_k$. The network *learns* when to
# keep it (f near 1) and when to forget; a high forget-gate bias starts every $f_k$ near 1
# ($\sigma(5)\approx 0.993$), and the figure shows the cell gradient staying near 1 (or above) for 30
# steps while the vanilla chain falls by orders of magnitude. With bias 0, $f\approx 1/2$ and the
# cell forgets too. The indirect paths through $h_{t-1}$ add to the direct one (additive, not
# multiplicative), and they can even make the gradient grow: the LSTM does not prevent exploding
# gradients, which is why LSTMs are still trained with gradient clipping.
#
# **Rubric.** 1 point: vanilla chain = product of $\operatorname{diag}(g')\mathbf{W}_{hh}^\top$,
# bounded by $(\gamma\sigma)^n$; 1 point: the direct cell path is $\operatorname{diag}(f_t)$, additive
# update, controlled by the forget gate (bias near 1 keeps it alive); 1 point: the LSTM can still
# explode (indirect paths, growth in the figure), so clipping is still needed.

# %% [markdown]
# ### Relevance on the cell path
#
# The additive cell path that carries the gradient back also carries *relevance* back when an
# LSTM's prediction is explained by layer-wise relevance propagation (Arras et al. 2017, "Explaining
# recurrent neural network predictions in sentiment analysis"). In $f_t * c_{t-1}$ and
# $i_t * \tilde c_t$ one factor is a gate, a switch between 0 and 1, and the other carries the signal.
# The **signal-take-all** rule gives the relevance to the signals only: the gates receive none, and
# the relevance $R_{c_t}$ of $c_t = f_t c_{t-1} + i_t \tilde c_t$ is split between the two terms in
# proportion to their (signed) values, unit by unit:
#
# $$R_{c_{t-1}} = \frac{f_t c_{t-1}}{c_t}\,R_{c_t}, \qquad R_{\tilde c_t} = \frac{i_t \tilde c_t}{c_t}\,R_{c_t}.$$
#
# (Explaining a whole LSTM, one adds a small stabiliser $\epsilon\,\mathrm{sign}(c_t)$ to the
# denominator and keeps account of what it absorbs; here $c_t \neq 0$ and no stabiliser is needed.)
#
# **Q10 ({points:take-all-check}).** Implement `signal_take_all(R_c, fc_prev, ig)` for one LSTM step
# with $H$ units: `R_c` is $R_{c_t}$, `fc_prev` is $f_t * c_{t-1}$ and `ig` is $i_t * \tilde c_t$,
# numpy arrays of shape (H,). Return the pair `(R_prev, R_g)` = $(R_{c_{t-1}}, R_{\tilde c_t})$. The
# check tests conservation ($R_{c_{t-1}} + R_{\tilde c_t} = R_{c_t}$) and the proportional split on
# generated examples.

# %% nbgrader={"grade": false, "grade_id": "take-all-answer", "locked": false, "solution": true}
def signal_take_all(R_c, fc_prev, ig):
    ### BEGIN SOLUTION
    c = fc_prev + ig
    return fc_prev / c * R_c, ig / c * R_c
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "take-all-check", "locked": true, "points": 2, "solution": false}
check.signal_take_all(signal_take_all)
### BEGIN HIDDEN TESTS
check.signal_take_all(signal_take_all, thorough=True)
### END HIDDEN TESTS

# %% [markdown]
# Walk the relevance of the last cell state $c_T$ of the random 8-unit LSTM above back along the cell
# path, step by step: at each step $k$ the share $R_{\tilde c_k}$ goes to that step's new input, the
# rest stays on the old cell. With $c_0 = 0$ nothing is left at the start, so the inputs' shares add up
# to the relevance of $c_T$: conservation over the whole sequence. Like the gradient, the relevance
# reaches far back only when the forget gates stay open.

# %%
from reference.vanishing import lstm_forward

for bias in [0.0, 2.0, 5.0]:
    run = lstm_forward(lstm_params(8, 4, forget_bias=bias, seed=0), lstm_xs)
    R = run["c"][T].copy()                 # explain c_T: each unit starts with its own value
    to_inputs = np.zeros((T, 8))           # relevance given to the inputs g_1 .. g_T
    for k in range(T, 0, -1):              # c_k = f_k c_(k-1) + i_k g_k; gates of step k at index k - 1
        R, to_inputs[k - 1] = signal_take_all(R, run["f"][k - 1] * run["c"][k - 1],
                                              run["i"][k - 1] * run["g"][k - 1])
    far = np.abs(to_inputs[:T - 10]).sum() / np.abs(to_inputs).sum()
    print(f"forget bias {bias:g}: c_T sums to {run['c'][T].sum():+.4f}, the inputs get {to_inputs.sum():+.4f}, "
          f"c_0 keeps {R.sum():+.4f}; |relevance| more than 10 steps back: {far:.1%}")

# %% [markdown]
# ## 6. A task with a long lag
#
# Does it matter for learning? The network sees one of 4 symbols (one-hot) at the first step,
# then `lag` steps of Gaussian noise, and must report the symbol at the end (chance: 25 %). A vanilla
# tanh RNN and an LSTM (forget bias 3), each with 16 units, are trained with Adam and clipping (global
# norm 1) for 300 steps at lags 5 and 20. (`reference.vanishing.LARGE` runs lags 5, 10, 20, 40 with
# more training; about a minute.)

# %%
from reference.vanishing import SMALL, long_lag_experiment

results = long_lag_experiment(SMALL, progress=False)
fig, axes = plt.subplots(1, len(SMALL.lags), figsize=(10, 3.2), sharey=True)
smooth = lambda v: np.convolve(v, np.ones(20) / 20, mode="valid")
for ax, lag in zip(axes, SMALL.lags):
    for cell in results:
        r = results[cell][lag]
        ax.plot(smooth(r["accuracy"]), label=f"{cell} (test accuracy {r['test_accuracy']:.2f})")
    ax.axhline(1 / SMALL.symbols, color="gray", ls=":")
    ax.set_title(f"lag {lag}")
    ax.set_xlabel("training step")
    ax.legend(fontsize=8)
axes[0].set_ylabel("training accuracy (smoothed)")
plt.tight_layout()
plt.show()

# %% [markdown]
# **Q11 ({points:mc-statements-check}, multiple choice).** Which statements are true? Answer with a set of letters, e.g.
# `mc_statements = {"A", "C"}`.
#
# {choices:statements}

# %% nbgrader={"grade": false, "grade_id": "mc-statements-answer", "locked": false, "solution": true}
mc_statements = None
### BEGIN SOLUTION
mc_statements = {"A", "D", "E"}
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "mc-statements-check", "locked": true, "points": 2, "solution": false}
check.statements(mc_statements)

# %% tags=["scratch"]
# Scratch space (not graded)
