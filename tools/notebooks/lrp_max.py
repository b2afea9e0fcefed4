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
# # Does the explanation depend on the wiring? LRP on three networks that compute max
#
# *Machine Learning 2, exercise sheet 11, exercise 3 — and the thesis "Designing Recurrent Neural
# Networks for Explainability", Section 3.2.3 (Layer-wise Relevance Propagation).*
#
# The function $y = \max(a_1, a_2)$ with $a_1, a_2 \ge 0$ can be written as a small ReLU network in
# many ways. All of them compute exactly the same function. Do they also get the same *explanation*?
#
# We take three bias-free wirings, explain them with **LRP-$\alpha_1\beta_0$** (the rule the sheet
# recommends because all activations are positive), and compare with **gradient × input**, which only
# sees the function. You will
#
# 1. derive the relevances $R_1, R_2$ of the two inputs **by hand**, for each network ({points:test_network_a..test_network_c});
# 2. implement the rule for a dense layer and propagate through the networks ({points:test_zplus..test_relevance});
# 3. compute gradient × input ({points:test_gradient_x_input});
# 4. answer a few multiple-choice questions ({points:test_mc_wiring..test_mc_statements}) and
# 5. discuss which wiring explains best ({points:answer_discussion}, graded by hand).
#
# **How to work.** Fill in every cell that says `YOUR CODE HERE` (or `YOUR ANSWER HERE`), run it, then
# run the check below it. A check prints ✓ when your answer is right and otherwise says what is wrong
# and where. Symbolic answers are SymPy expressions in the symbols `a1, a2` defined below; any
# equivalent form is accepted (`Piecewise`, `Max`, `Min`, `Abs`, `Heaviside`, ...).

# %%
import numpy as np
import sympy
import matplotlib.pyplot as plt
from sympy import Abs, Heaviside, Max, Min, Piecewise

from reference.maxnets import NETWORKS          # the weights of the three networks (nothing else)
from autograder.questions import lrp_max as check

a1, a2 = sympy.symbols("a1 a2", nonnegative=True)


# %% [markdown]
# ## 1. Three wirings of max
#
# With $\mathrm{relu}(x) = \max(0, x)$ and $a_1, a_2 \ge 0$:
#
# | net | hidden neurons | output |
# |---|---|---|
# | (a) | $h_1 = \mathrm{relu}(a_1)$, $h_2 = \mathrm{relu}(a_2 - a_1)$ | $y = h_1 + h_2$ |
# | (b) | $h_1 = \mathrm{relu}(a_1 - a_2)$, $h_2 = \mathrm{relu}(a_2)$ | $y = h_1 + h_2$ |
# | (c) | $h_1 = a_1$, $h_2 = a_2$, $h_3 = \mathrm{relu}(a_1 - a_2)$, $h_4 = \mathrm{relu}(a_2 - a_1)$ | $y = \tfrac12(h_1 + h_2 + h_3 + h_4)$ |
#
# Network (c) is the symmetric formula $\max(a_1, a_2) = \tfrac12\,(a_1 + a_2 + |a_1 - a_2|)$. Its
# skip connections from the inputs to $y$ are drawn as two pass-through hidden neurons
# ($\mathrm{relu}(a) = a$ for $a \ge 0$), so that LRP treats them like any other neuron.
#
# Each network is two dense layers in the thesis's orientation: `h = relu(a @ w1)`, `y = h @ w2`, with
# `w1` of shape $(J, K) = (2, H)$ (row $j$ = input, column $k$ = hidden neuron) and `w2` of shape $(H, 1)$.
# The sheet's figure is lost, so here is ours (red dashed: weight $-1$):

# %%
def draw(ax, name, net):
    H = net.w1.shape[1]
    xin = {j: (0.0, 0.75 - 0.5 * j) for j in range(2)}
    xhid = {k: (1.0, 0.5 + 0.45 * (H - 1) / 2 - 0.45 * k) for k in range(H)}
    xout = (2.0, 0.5)
    def edge(p, q, w, frac=0.3):
        if w == 0:
            return
        ax.plot([p[0], q[0]], [p[1], q[1]], color="tab:red" if w < 0 else "tab:blue",
                ls="--" if w < 0 else "-", lw=1.2, zorder=1)
        m = (p[0] + frac * (q[0] - p[0]), p[1] + frac * (q[1] - p[1]))
        ax.text(*m, f"{w:g}", fontsize=8, ha="center", va="center", zorder=3,
                bbox=dict(boxstyle="round,pad=0.1", fc="white", ec="none"))
    for j in range(2):
        for k in range(H):
            edge(xin[j], xhid[k], net.w1[j, k], 0.35 if j == 0 else 0.25)
    for k in range(H):
        edge(xhid[k], xout, net.w2[k, 0], 0.55)
    def node(p, label):
        ax.add_patch(plt.Circle(p, 0.11, fc="white", ec="black", zorder=2))
        ax.text(*p, label, ha="center", va="center", fontsize=9, zorder=4)
    for j in range(2):
        node(xin[j], f"$a_{j + 1}$")
    for k in range(H):
        pos = [f"a{j + 1}" for j in range(2) if net.w1[j, k] > 0]
        neg = [f" - a{j + 1}" for j in range(2) if net.w1[j, k] < 0]
        node(xhid[k], f"$h_{k + 1}$")
        ax.text(xhid[k][0], xhid[k][1] + 0.14, "relu(" + "".join(pos + neg) + ")", ha="center", fontsize=7,
                zorder=5, bbox=dict(boxstyle="round,pad=0.05", fc="white", ec="none", alpha=0.8))
    node(xout, "$y$")
    ax.set_title(f"network ({name})")
    ax.set_xlim(-0.25, 2.25); ax.set_ylim(-0.45, 1.5); ax.set_aspect("equal"); ax.axis("off")

fig, axes = plt.subplots(1, 3, figsize=(12, 4))
for ax, (name, net) in zip(axes, NETWORKS.items()):
    draw(ax, name, net)
plt.tight_layout()
plt.show()

rng = np.random.default_rng(0)
a = rng.uniform(0, 5, size=(1000, 2))
for name, net in NETWORKS.items():
    h, y = net.forward(a)
    print(f"network ({name}): w1 = {net.w1.tolist()}, w2 = {net.w2[:, 0].tolist()}; "
          f"y == max(a1, a2) on 1000 random inputs: {np.allclose(y, a.max(axis=1))}")

# %% [markdown]
# ## 2. The $\alpha\beta$ rule
#
# LRP sends the output $y$ back through the network, layer by layer, as *relevance*. For a neuron $k$
# with inputs $a_j$ and weights $w_{jk}$, the thesis (eq. 3.3, after Bach et al.) redistributes
#
# $$R_j = \sum_k \left( \alpha\, \frac{a_j w_{jk}^+}{\sum_{j'} a_{j'} w_{j'k}^+}
#         \;-\; \beta\, \frac{a_j w_{jk}^-}{\sum_{j'} a_{j'} w_{j'k}^-} \right) R_k,
# \qquad \alpha - \beta = 1,$$
#
# with $w^+ = \max(0, w)$ and $w^- = \min(0, w)$: relevance goes to the inputs in proportion to their
# *excitatory* contributions, counter-relevance in proportion to their *inhibitory* ones. With
# $\alpha = 1, \beta = 0$ only the positive contributions count (the **z+ rule**):
#
# $$R_j = \sum_k \frac{a_j w_{jk}^+}{\sum_{j'} a_{j'} w_{j'k}^+}\, R_k .$$
#
# Each output $k$ splits its whole $R_k$ among the inputs that push it up, so relevance is conserved:
# $\sum_j R_j = \sum_k R_k$, and ultimately $R_1 + R_2 = y$. If no input pushes output $k$ up
# (the denominator is 0), the convention here is that its share is 0.
#
# **A worked example (one layer).** Inputs $a = (1, 2)$, weights $w = \begin{pmatrix}1 & -1\\ 1 & 2\end{pmatrix}$
# (two outputs), relevances $R = (3, 4)$ of the outputs. Output 1 gets positive contributions
# $1\cdot 1$ and $2\cdot 1$, so $R_1$ splits $1:2$, giving $1$ and $2$. Output 2 gets $1\cdot(-1)$,
# which the rule ignores, and $2\cdot 2$: all of its $4$ goes to input 2. Hence $R = (1, 2 + 4) = (1, 6)$,
# and $1 + 6 = 3 + 4$.
#
# ## 3. Derive the relevances by hand ({points:test_network_a..test_network_c})
#
# For each network, do the two cases separately:
#
# - **$a_1 \ge a_2$** and **$a_2 > a_1$**: which hidden neurons are active, and with which value?
# - **top layer:** split $y$ among the hidden neurons ($R_k = h_k w_k^+ / \sum_{k'} h_{k'} w_{k'}^+ \cdot y$);
# - **bottom layer:** split each $R_k$ among the inputs with a *positive* weight into neuron $k$.
#
# Write the results as SymPy expressions in `a1, a2`. A case distinction is
# `Piecewise((expr_if, a1 >= a2), (expr_else, True))`, or use `Max`, `Min`, `Abs`, `Heaviside`.
# Check your result against conservation, $R_1 + R_2 = \max(a_1, a_2)$, before you run the check.
#
# **Q1 ({points:test_network_a}).** Network (a): `R1_a`, `R2_a`.

# %% nbgrader={"grade": false, "grade_id": "answer_network_a", "locked": false, "solution": true}
R1_a = None
R2_a = None
### BEGIN SOLUTION
# a1 >= a2: h = (a1, 0), all of y = a1 goes to h1 and from there to a1.
# a2 > a1:  h = (a1, a2 - a1); h1 -> a1, and h2 = relu(a2 - a1) has a positive weight from a2 only.
R1_a = a1
R2_a = Max(a2 - a1, 0)
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "test_network_a", "locked": true, "points": 3, "solution": false}
check.network_a(R1_a, R2_a)

# %% [markdown]
# **Q2 ({points:test_network_b}).** Network (b): `R1_b`, `R2_b`.

# %% nbgrader={"grade": false, "grade_id": "answer_network_b", "locked": false, "solution": true}
R1_b = None
R2_b = None
### BEGIN SOLUTION
R1_b = Piecewise((a1 - a2, a1 >= a2), (0, True))
R2_b = a2
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "test_network_b", "locked": true, "points": 3, "solution": false}
check.network_b(R1_b, R2_b)

# %% [markdown]
# **Q3 ({points:test_network_c}).** Network (c): `R1_c`, `R2_c`. (The four hidden neurons each get half of their
# value as relevance; then follow each one down.)

# %% nbgrader={"grade": false, "grade_id": "answer_network_c", "locked": false, "solution": true}
R1_c = None
R2_c = None
### BEGIN SOLUTION
R1_c = Piecewise((a1 - a2 / 2, a1 >= a2), (a1 / 2, True))
R2_c = Piecewise((a2 / 2, a1 >= a2), (a2 - a1 / 2, True))
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "test_network_c", "locked": true, "points": 3, "solution": false}
check.network_c(R1_c, R2_c)


# %% [markdown]
# A free cell to try things, e.g. `sympy.simplify(R1_c + R2_c - Max(a1, a2))` or
# `(R1_a, R2_a)` at a point: `[r.subs({a1: 1, a2: 3}) for r in (R1_a, R2_a)]`.

# %% tags=["scratch"]

# %% [markdown]
# ## 4. Implement the rule ({points:test_zplus..test_relevance})
#
# Following Montavon's LRP tutorial, one layer of the z+ rule is four lines (for a batch: `a` of shape
# `(B, J)` or `(J,)`, `w` of shape `(J, K)`, `R` of shape `(B, K)` or `(K,)`):
#
# 1. `z`: the positive contributions summed per output, $z_k = \sum_j a_j w_{jk}^+$;
# 2. `s`: $s_k = R_k / z_k$, and $s_k = 0$ where $z_k = 0$ (no `NaN`!);
# 3. `c`: sent back along the positive weights, $c_j = \sum_k w_{jk}^+ s_k$;
# 4. `R`: $R_j = a_j c_j$.
#
# **Q4 ({points:test_zplus}).** Implement `zplus(a, w, R)`. Don't change the arrays you are given (no `w[w < 0] = 0`).
# The check runs it on generated layers and reports the smallest example that breaks a property
# (shape, no NaN, positivity, conservation, agreement with the rule, batch dimension).

# %% nbgrader={"grade": false, "grade_id": "answer_zplus", "locked": false, "solution": true}
def zplus(a, w, R):
    '''LRP-alpha1-beta0 for one dense layer: a (..., J) >= 0, w (J, K), R (..., K) -> R_j (..., J).'''
    ### BEGIN SOLUTION
    wp = np.maximum(w, 0)
    z = a @ wp
    s = np.where(z > 0, R / np.where(z > 0, z, 1.0), 0.0)
    c = s @ wp.T
    return a * c
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_zplus", "locked": true, "points": 5, "solution": false}
check.zplus(zplus)
### BEGIN HIDDEN TESTS
check.zplus_edge_cases(zplus)
### END HIDDEN TESTS

# %% [markdown]
# **Q5 ({points:test_relevance}).** Now explain the networks with your `zplus`: `relevance(net, a1, a2)` takes one
# of the networks (`net.w1`, `net.w2` are its weights; `net.forward(a)` returns `(h, y)` with `y` of shape
# `(N,)`) and two arrays `a1, a2` of shape `(N,)`, runs the forward pass on `a = (a1, a2)` (shape `(N, 2)`),
# starts with $R = y$ at the output and applies `zplus` to the top layer, then to the bottom layer. `zplus`
# takes one relevance per output neuron, so give it $y$ as a column of shape `(N, 1)`: `y[:, None]`, or
# `h @ net.w2`. Return the pair `(R1, R2)` of arrays of shape `(N,)`.

# %% nbgrader={"grade": false, "grade_id": "answer_relevance", "locked": false, "solution": true}
def relevance(net, a1, a2):
    '''LRP-alpha1-beta0 relevances (R1, R2) of y = max(a1, a2) computed by `net`.'''
    ### BEGIN SOLUTION
    a = np.stack([np.asarray(a1, dtype=float), np.asarray(a2, dtype=float)], axis=-1)
    h = np.maximum(0, a @ net.w1)
    y = h @ net.w2                      # (N, 1): the relevance at the output
    R_h = zplus(h, net.w2, y)           # top layer
    R_a = zplus(a, net.w1, R_h)         # bottom layer
    return R_a[..., 0], R_a[..., 1]
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_relevance", "locked": true, "points": 3, "solution": false}
check.relevance(relevance)
### BEGIN HIDDEN TESTS
check.relevance_table(relevance)
### END HIDDEN TESTS

# %% [markdown]
# Does your implementation agree with your hand derivation? The next cell compares them at a few
# points (it needs Q1 to Q5).

# %%
points = [(2.0, 1.0), (1.0, 3.0), (2.0, 2.0), (0.0, 1.5)]
answers = {"a": (R1_a, R2_a), "b": (R1_b, R2_b), "c": (R1_c, R2_c)}
for name, (R1, R2) in answers.items():
    for x, z in points:
        try:
            by_hand = tuple(float(sympy.sympify(r).subs({a1: x, a2: z})) for r in (R1, R2))
            by_code = tuple(float(r[0]) for r in relevance(NETWORKS[name], np.array([x]), np.array([z])))
        except Exception as err:
            print(f"network ({name}): answer Q1-Q3 and Q5 first ({type(err).__name__})")
            break
        flag = "" if np.allclose(by_hand, by_code) else "   <-- they differ"
        print(f"network ({name}) at a1={x:g}, a2={z:g}: by hand {by_hand}, by code {by_code}{flag}")

# %% [markdown]
# ## 5. Gradient × input ({points:test_gradient_x_input})
#
# Gradient × input explains with $R_i = a_i\, \partial y / \partial a_i$. For a bias-free ReLU
# network $y$ is positively homogeneous, so (Euler) $\sum_i a_i \partial y/\partial a_i = y$: it
# conserves too.
#
# **Q6 ({points:test_gradient_x_input}).** Derive $\partial y / \partial a_i$ for $y = \max(a_1, a_2)$ (away from the
# diagonal $a_1 = a_2$) and write gradient × input as `R1_gxi`, `R2_gxi`. Do you need to know the
# network?

# %% nbgrader={"grade": false, "grade_id": "answer_gradient_x_input", "locked": false, "solution": true}
R1_gxi = None
R2_gxi = None
### BEGIN SOLUTION
R1_gxi = Piecewise((a1, a1 >= a2), (0, True))
R2_gxi = Piecewise((0, a1 >= a2), (a2, True))
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "test_gradient_x_input", "locked": true, "points": 2, "solution": false}
check.gradient_x_input(R1_gxi, R2_gxi)

# %% [markdown]
# Autograd agrees, and it gives the same numbers for the three networks: the gradient only sees the
# function. (On the diagonal $a_1 = a_2$ the gradient is not defined; autograd takes
# $\mathrm{relu}'(0) = 0$ there, and then the networks do differ.)

# %%
import torch

def grad_times_input(net, a1, a2):
    '''R_i = a_i dy/da_i by autograd through the network as a torch module.'''
    a = torch.tensor(np.stack([a1, a2], axis=-1), dtype=torch.float32, requires_grad=True)
    y = net.torch_module()(a).sum()
    (g,) = torch.autograd.grad(y, a)
    R = (a * g).detach().numpy().astype(float)
    return R[..., 0], R[..., 1]

rng = np.random.default_rng(1)
x, z = rng.uniform(0, 5, size=(2, 1000))
gxi = {name: np.stack(grad_times_input(net, x, z)) for name, net in NETWORKS.items()}
print("gradient x input identical for (a), (b), (c):",
      np.allclose(gxi["a"], gxi["b"], atol=1e-5) and np.allclose(gxi["a"], gxi["c"], atol=1e-5))
print("and equal to (a1 [a1 > a2], a2 [a2 > a1]):",
      np.allclose(gxi["a"], np.stack([x * (x > z), z * (z > x)]), atol=1e-5))

# %% [markdown]
# ## 6. What the explanations look like
#
# Top: the relevance $R_1$ of input $a_1$ and $R_2$ of $a_2$ over $(a_1, a_2) \in [0, 3]^2$ (the white
# line is the diagonal $a_1 = a_2$). Bottom: a cut at $a_1 = 1$ as $a_2$ grows from 0 to 3; for
# $a_2 > 1$ input 2 wins. The LRP panels need your `relevance` (Q5).

# %%
grid = np.linspace(0, 3, 61)
A1, A2 = np.meshgrid(grid, grid)                      # a1 along x, a2 along y
cut = np.linspace(0, 3, 121)
methods = {}
for name, net in NETWORKS.items():
    explain = lambda x, z, net=net: tuple(np.asarray(r, dtype=float) for r in relevance(net, x, z))
    try:   # the panels need (R1, R2) of shape (N,) each: one line that names the question otherwise
        R = explain(np.array([1.0, 2.0, 0.5]), np.array([2.0, 0.5, 0.5]))
        if len(R) != 2 or any(r.shape != (3,) or not np.all(np.isfinite(r)) for r in R):
            raise ValueError(f"it returned shapes {[r.shape for r in R]} for N = 3; expected two arrays of shape (3,)")
        methods[f"LRP-α1β0, network ({name})"] = explain
    except Exception as err:
        print(f"network ({name}): fix relevance (Q5) to see its panels ({type(err).__name__}: {err})"[:200])
methods["gradient × input (all networks)"] = lambda x, z: grad_times_input(NETWORKS["a"], x, z)

fig, axes = plt.subplots(3, len(methods), figsize=(3.2 * len(methods) + 1, 9.5), squeeze=False,
                         layout="constrained")
for col, (title, explain) in enumerate(methods.items()):
    R1, R2 = (r.reshape(A1.shape) for r in explain(A1.ravel(), A2.ravel()))
    for row, (R, label) in enumerate([(R1, "$R_1$"), (R2, "$R_2$")]):
        ax = axes[row, col]
        im = ax.imshow(R, origin="lower", extent=(0, 3, 0, 3), vmin=0, vmax=3, cmap="viridis")
        ax.plot([0, 3], [0, 3], color="white", lw=0.8)
        ax.set_title(f"{label}: {title}", fontsize=9)
        ax.set_xlabel("$a_1$"); ax.set_ylabel("$a_2$")
    c1, c2 = explain(np.ones_like(cut), cut)
    ax = axes[2, col]
    ax.plot(cut, c1, label="$R_1$"); ax.plot(cut, c2, label="$R_2$")
    ax.plot(cut, np.maximum(1, cut), "k:", label="$y$")
    ax.axvline(1, color="grey", lw=0.5)
    ax.set_xlabel("$a_2$ (with $a_1 = 1$)"); ax.set_ylim(-0.1, 3.1); ax.legend(fontsize=8)
fig.colorbar(im, ax=axes[:2, -1], shrink=0.8, label="relevance")
plt.show()

# %% [markdown]
# ## 7. Multiple choice ({points:test_mc_wiring..test_mc_statements})
#
# **Q7 ({points:test_mc_wiring}).** Answer each with a set of network letters, e.g. `{"a", "b"}`, or `set()` for none.
#
# - `symmetric_nets`: for which network(s) is the LRP-$\alpha_1\beta_0$ explanation symmetric under
#   swapping the inputs, i.e. $R_1(a_1, a_2) = R_2(a_2, a_1)$ for all $a_1, a_2 \ge 0$?
# - `winner_nets`: for which network(s) does the winning input receive *all* the relevance
#   ($R_\text{winner} = \max(a_1, a_2)$, $R_\text{loser} = 0$) whichever input wins?

# %% nbgrader={"grade": false, "grade_id": "answer_mc_wiring", "locked": false, "solution": true}
symmetric_nets = None
winner_nets = None
### BEGIN SOLUTION
symmetric_nets = {"c"}
winner_nets = set()
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "test_mc_wiring", "locked": true, "points": 2, "solution": false}
check.symmetric_wiring(symmetric_nets)
check.winner_takes_all(winner_nets)

# %% [markdown]
# **Q8 ({points:test_mc_statements}).** Which statements are true? Answer with the set of their numbers, e.g. `{1, 2}`.
#
# {choices:true_statements}
#
# (Statement 5 you can test: change `np.maximum(w, 0)` to `w` in a copy of your `zplus`.)

# %% nbgrader={"grade": false, "grade_id": "answer_mc_statements", "locked": false, "solution": true}
true_statements = None
### BEGIN SOLUTION
true_statements = {1, 3, 4, 5}
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "test_mc_statements", "locked": true, "points": 2, "solution": false}
check.true_statements(true_statements)

# %% [markdown]
# ## 8. Discussion ({points:answer_discussion}, graded by hand)
#
# **Q9.** Which implementation of max — (a), (b) or (c) — gives the most intuitive explanation? Say
# what you take "intuitive" to mean (e.g. symmetry, the winner gets the most, continuity), support
# your choice with your formulas or the figure, and say what the comparison with gradient × input
# teaches about LRP. (5 to 8 sentences.)

# %% [markdown] nbgrader={"grade": true, "grade_id": "answer_discussion", "locked": false, "points": 4, "solution": true}
# **Model answer.** Network (c) gives the most intuitive explanation. Max is symmetric in its
# inputs, and (c) is the only wiring whose explanation is too: $R_1(a_1, a_2) = R_2(a_2, a_1)$. The
# winner always gets the larger share ($a_w - a_l/2 \ge a_l/2$), the loser keeps half of its own
# value, and both relevances are continuous across the diagonal, conserve $y$ and are non-negative.
# (a) and (b) explain the *wiring*, not the function: in (a), $a_1$ keeps $R_1 = a_1$ even when it
# loses, and the winner $a_2$ only gets the excess $a_2 - a_1$; at $a_1 = 1, a_2 = 1.1$ the loser gets
# about 90% of the relevance although $a_2$ alone determines $y$. (b) is the mirror image.
# If "intuitive" means winner-takes-all (only the argmax matters), none of the three LRP wirings
# achieves it; gradient × input does, but it is blind to how much the loser's value was "used" and
# jumps on the diagonal. Lesson: LRP depends on the implementation of a function, not only on the
# function (it is not implementation invariant), while gradient × input sees only the function
# locally; to get sensible LRP explanations the architecture matters.
#
# **Rubric** (4 points).
# 1 point: names a wiring and says what "intuitive" means (symmetry, winner gets most, continuity, ...).
# 1 point: uses the formulas correctly for (a)/(b): asymmetric, the loser can keep its whole value
# (e.g. $R_1 = a_1$ in (a) when $a_2 > a_1$).
# 1 point: for (c): symmetric, winner gets the larger share, loser keeps half of its value.
# 1 point: contrast with gradient × input: LRP depends on the wiring, gradient × input only on the
# function (same for all three), winner-takes-all but discontinuous.
# Other well-argued choices (e.g. preferring winner-takes-all) get full marks if supported by correct
# formulas.
