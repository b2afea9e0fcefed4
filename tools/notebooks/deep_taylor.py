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
# # Deep Taylor decomposition: root points, rules, heatmaps
#
# *Thesis "Designing Recurrent Neural Networks for Explainability", Section 3.3 and Table 3.1 —
# Montavon et al. (2017), "Explaining nonlinear classification decisions with deep Taylor
# decomposition" — SUTD 50.039, week 10 (LRP as a decomposition with constraints).*
#
# Layer-wise relevance propagation hands the output $f(\mathbf{x})$ down the network, layer by layer,
# with a *rule* per layer. **Deep Taylor decomposition (DTD)** says where good rules come from: expand
# each neuron's relevance $R_k$ to first order around a **root point** $\tilde{\mathbf{a}}$ where
# $R_k = 0$,
#
# $$R_k = \underbrace{R_k\big\rvert_{\tilde{\mathbf a}}}_{=\,0} + \sum_j \underbrace{\frac{\partial R_k}{\partial a_j}\Big\rvert_{\tilde{\mathbf a}} (a_j - \tilde a_j)}_{R_{j\leftarrow k}} + \underbrace{\zeta_k}_{=\,0} \qquad \text{(thesis eqs. 3.4-3.5)},$$
#
# and give input $j$ the relevance $R_j = \sum_k R_{j\leftarrow k}$ (eq. 3.6). Then
# $\sum_j R_j = \sum_k R_k$: relevance is **conserved** from layer to layer (eqs. 3.7-3.8). The art is
# to pick a root point that lies in the **domain** of the inputs: real numbers, ReLU activations
# $a_j \ge 0$, or pixels in a box $l_j \le a_j \le h_j$. Each domain gives one rule of Table 3.1.
#
# You will
#
# 1. derive the root point and the rule for one neuron with SymPy: the line search, the $z^+$ rule,
#    the $z^\beta$ rule — and read Table 3.1 of the thesis as a careful reader ({points:tstep-check..table-check});
# 2. implement the $w^2$, $z^+$ and $z^\beta$ rules for a dense layer ({points:w2-check..zbeta-check});
# 3. explain a trained digit classifier with your rules and compare the heatmaps with sensitivity
#    analysis and gradient × input ({points:network-check..heatmaps-written}).
#
# **How to work.** Fill in every cell that says `YOUR CODE HERE` (or `YOUR ANSWER HERE`), run it, then
# run the check below it. A check prints ✓ when your answer is right and otherwise says what is wrong.
# Symbolic answers are SymPy expressions in the symbols defined below; any equivalent form is accepted.
# **Derive with SymPy** (solve, differentiate, substitute) rather than typing the result: the
# derivation is the point.

# %%
import numpy as np
import sympy as sp
import torch
import matplotlib.pyplot as plt

from autograder.questions import deep_taylor as check

J = 3                                          # inputs of the neuron, written out one by one
a = sp.Matrix(sp.symbols("a1:4", real=True))   # activations a_j of the layer below
w = sp.Matrix(sp.symbols("w1:4", real=True))   # weights w_jk into neuron k (k is fixed: we drop it)
v = sp.Matrix(sp.symbols("v1:4", real=True))   # a search direction
l = sp.Matrix(sp.symbols("l1:4", real=True))   # lower bounds l_j of the input box
h = sp.Matrix(sp.symbols("h1:4", real=True))   # upper bounds h_j
b = sp.Symbol("b", real=True)                  # the bias b_k (DTD assumes b_k <= 0)
t = sp.Symbol("t", real=True)                  # the step of the line search

z_k = a.dot(w) + b    # pre-activation; we explain an active neuron, so R_k = max(0, z_k) = z_k


def ind_ge0(x):
    "1{x >= 0}"
    return sp.Piecewise((1, x >= 0), (0, True))


def ind_lt0(x):
    "1{x < 0}"
    return sp.Piecewise((1, x < 0), (0, True))


def pos(x):
    "x^+ = max(0, x)"
    return sp.Max(x, 0)


def neg(x):
    "x^- = min(0, x)"
    return sp.Min(x, 0)


z_k

# %% [markdown]
# SymPy, briefly: `sp.solve(sp.Eq(lhs, rhs), t)` returns a list of solutions; `z_k.diff(a[0])` is
# $\partial z_k/\partial a_1$; `sp.Matrix([... for j in range(J)])` builds a column vector component by
# component; `u.multiply_elementwise(x)` is $(u_j x_j)_j$ and `u.dot(x)` is $\sum_j u_j x_j$;
# `expr.subs(dict(zip(v, v_new)))` replaces the three components of `v` at once.
#
# ## 1. One neuron, one line search
#
# Take one ReLU neuron with a non-positive bias (thesis eq. 3.9):
#
# $$R_k = \max\Big(0,\ \sum_j a_j w_{jk} + b_k\Big), \qquad b_k \le 0 .$$
#
# If $R_k = 0$, $\mathbf a$ is already a root point and there is nothing to pass down. Otherwise search
# from $\mathbf a$ along a direction $\mathbf v$ (eq. 3.10),
#
# $$\tilde a_j = a_j - t\, v_j ,$$
#
# for the step $t$ where the line meets the hyperplane $z_k = \sum_j \tilde a_j w_{jk} + b_k = 0$ (eq. 3.11).
#
# **Q1 ({points:tstep-check}).** Solve for the step: `t_step`, an expression in `a`, `w`, `b` and `v`.

# %% nbgrader={"grade": false, "grade_id": "tstep-answer", "locked": false, "solution": true}
t_step = None
### BEGIN SOLUTION
a_tilde = a - t * v
t_step = sp.solve(sp.Eq(a_tilde.dot(w) + b, 0), t)[0]     # z_k / sum_j v_j w_j
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "tstep-check", "locked": true, "points": 2, "solution": false}
check.step_length(t_step)

# %% [markdown]
# Along the segment from $\mathbf a$ to the root the neuron is active, so $\partial R_k/\partial a_j = w_{jk}$
# there. The first-order Taylor term of input $j$ is (eqs. 3.15-3.17)
#
# $$R_{j\leftarrow k} = \frac{\partial R_k}{\partial a_j}\Big\rvert_{\tilde{\mathbf a}} (a_j - \tilde a_j).$$
#
# **Q2 ({points:generic-check}).** Compute these relevances for the root $\tilde{\mathbf a} = \mathbf a - t\,\mathbf v$
# with your step: `R_generic`, a $3\times1$ column vector in `a`, `w`, `b`, `v`. Simplify it until you
# can read it as "a share of $R_k$" — and check that the shares add up to $R_k = z_k$.

# %% nbgrader={"grade": false, "grade_id": "generic-answer", "locked": false, "solution": true}
R_generic = None
### BEGIN SOLUTION
a_root = a - t_step * v
gradient = sp.Matrix([z_k.diff(a_j) for a_j in a])          # dR_k/da_j = w_j on the active side
R_generic = sp.simplify(gradient.multiply_elementwise(a - a_root))
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "generic-check", "locked": true, "points": 2, "solution": false}
check.relevance_generic(R_generic)

# %% tags=["scratch"]
# Scratch space (not graded): e.g. sp.simplify(sum(R_generic) - z_k)

# %% [markdown]
# Every direction gives a conserving rule,
# $R_j = \sum_k \dfrac{v_j w_{jk}}{\sum_{j'} v_{j'} w_{j'k}}\, R_k$. What singles one out is where its
# root point lands. The thesis (Figs. 3.4-3.6) chooses the direction by the **domain** of the inputs:
#
# | rule | domain of $a_j$ | direction $v_j$ | the root lies on the segment from $\mathbf a$ to |
# |---|---|---|---|
# | $w^2$ | $\mathbb R$ | $w_{jk}$ | (anywhere on the line: the nearest root) |
# | $z^+$ | $a_j \ge 0$ (ReLU) | ? (Q3) | $a_j\,\mathbb 1\{w_{jk} < 0\}$ |
# | $z^\beta$ | $l_j \le a_j \le h_j$, $l_j \le 0 \le h_j$ (pixels) | ? (Q6) | $l_j\,\mathbb 1\{w_{jk} \ge 0\} + h_j\,\mathbb 1\{w_{jk} < 0\}$ |
#
# With $v_j = w_{jk}$ you get the **$w^2$ rule** $R_j = \sum_k w_{jk}^2 / \sum_{j'} w_{j'k}^2\; R_k$: the
# nearest root point of the previous exercise, applied to one neuron. It ignores $\mathbf a$ entirely,
# and its root can leave $a_j \ge 0$.
#
# ## 2. The $z^+$ rule: ReLU activations, $a_j \ge 0$
#
# At the point $a_j\,\mathbb 1\{w_{jk} < 0\}$ (keep the inputs with negative weights, switch off the
# others) the neuron is off: $\sum_j a_j w_{jk}^- + b_k \le 0$ because $a_j \ge 0$ and $b_k \le 0$
# (eqs. 3.18-3.21). So search on the segment from $\mathbf a$ to that point: the direction is
# $\mathbf v = \mathbf a - (\text{that point})$.
#
# **Q3 ({points:vzplus-check}).** The $z^+$ direction `v_zplus` (a column vector in `a` and `w`; use `ind_ge0` /
# `ind_lt0`).
#
# **Q4 ({points:rootzplus-check}).** The $z^+$ root point `root_zplus` $= \mathbf a - t\,\mathbf v$ with your step and
# your direction (a column vector in `a`, `w`, `b`).
#
# **Q5 ({points:rzplus-check}).** The $z^+$ rule for one neuron, `R_zplus` (a column vector in `a`, `w`, `b`): put
# your direction into `R_generic`. Write $a_j\,\mathbb 1\{w_j \ge 0\}\,w_j$ as $a_j w_j^+$ and compare
# with the $\alpha\beta$-rule (eq. 3.3).

# %% nbgrader={"grade": false, "grade_id": "zplus-sym-answer", "locked": false, "solution": true}
v_zplus = None
root_zplus = None
R_zplus = None
### BEGIN SOLUTION
v_zplus = sp.Matrix([a[j] - a[j] * ind_lt0(w[j]) for j in range(J)])     # = a_j 1{w_j >= 0}
to_zplus = dict(zip(v, v_zplus))
root_zplus = a - t_step.subs(to_zplus) * v_zplus
R_zplus = R_generic.subs(to_zplus)                      # a_j w_j^+ / sum_j a_j w_j^+ * z_k
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "vzplus-check", "locked": true, "points": 1, "solution": false}
check.zplus_direction(v_zplus)

# %% nbgrader={"grade": true, "grade_id": "rootzplus-check", "locked": true, "points": 2, "solution": false}
check.zplus_root(root_zplus)

# %% nbgrader={"grade": true, "grade_id": "rzplus-check", "locked": true, "points": 2, "solution": false}
check.zplus_relevance(R_zplus)

# %% [markdown]
# ## 3. The $z^\beta$ rule: pixels in a box, $l_j \le a_j \le h_j$
#
# For inputs in a box (pixel intensities, $l_j \le 0 \le h_j$) the thesis searches towards the corner
# $l_j\,\mathbb 1\{w_{jk} \ge 0\} + h_j\,\mathbb 1\{w_{jk} \le 0\}$ (eqs. 3.22-3.25): each input moves
# to the bound that *lowers* $z_k$ the most. At a weight of exactly 0 either bound will do (it is
# multiplied by $w_{jk} = 0$); use `ind_lt0` for $h_j$.
#
# **Q6 ({points:vzbeta-check}).** The $z^\beta$ direction `v_zbeta` (a column vector in `a`, `w`, `l`, `h`).
#
# **Q7 ({points:rzbeta-check}).** The $z^\beta$ rule for one neuron, `R_zbeta` (a column vector in `a`, `w`, `l`,
# `h`, `b`), from `R_generic`. Then write its numerator with $w_j^+$ and $w_j^-$ (`pos`, `neg`) on paper
# or in the scratch cell: which bound goes with which part of the weight?

# %% nbgrader={"grade": false, "grade_id": "zbeta-sym-answer", "locked": false, "solution": true}
v_zbeta = None
R_zbeta = None
### BEGIN SOLUTION
v_zbeta = sp.Matrix([a[j] - l[j] * ind_ge0(w[j]) - h[j] * ind_lt0(w[j]) for j in range(J)])
R_zbeta = R_generic.subs(dict(zip(v, v_zbeta)))   # (a_j w_j - l_j w_j^+ - h_j w_j^-) / sum(...) * z_k
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "vzbeta-check", "locked": true, "points": 2, "solution": false}
check.zbeta_direction(v_zbeta)

# %% nbgrader={"grade": true, "grade_id": "rzbeta-check", "locked": true, "points": 2, "solution": false}
check.zbeta_relevance(R_zbeta)

# %% tags=["scratch"]
# Scratch space (not graded): e.g. sp.simplify(R_zbeta[0] * sum(...)) or numbers via .subs

# %% [markdown]
# ## 4. The picture in two dimensions
#
# The thesis draws the root points of each rule in Figs. 3.4-3.6. The next cell draws them for three
# neurons with two inputs, **from your answers** `t_step`, `v_zplus` and `v_zbeta` (the third
# component set to 0; a rule whose answer does not work yet is left out). The shaded area is the input
# domain, the black line is $z_k = 0$ (the neuron is active on its coloured side), the dashed line is
# the segment the rule searches, the arrow goes from $\mathbf a$ to the root point $\tilde{\mathbf a}$.

# %%
not_ready = set()


def attempt(fn, *args):
    # Call something built from your answers; None if it does not work yet (the figures leave it out).
    try:
        return fn(*args)
    except Exception as err:
        name = getattr(fn, "__name__", str(fn))
        if name not in not_ready:
            print(f"({name} does not work yet: {type(err).__name__}; the figures leave its part out)")
            not_ready.add(name)
        return None


def root_from_your_answers(direction, a_2d, w_2d, b_2d, low=0.0, high=1.0):
    # a~ = a - t v for a neuron with two inputs, evaluated from your symbolic t_step and direction
    values = {**dict(zip(a, [*a_2d, 0])), **dict(zip(w, [*w_2d, 0])), b: b_2d,
              **dict(zip(l, [low, low, 0])), **dict(zip(h, [high, high, 0]))}
    v_num = sp.Matrix(direction).subs(values)
    t_num = float(sp.sympify(t_step).subs(values).subs(dict(zip(v, v_num))))
    v_num = np.array([float(v_num[0]), float(v_num[1])])
    return np.asarray(a_2d) - t_num * v_num


neurons = [  # (rule, direction, a, w, b, domain, the segment's end or None)
    ("$w^2$ rule: $a \\in \\mathbb{R}^2$", w, (0.1, 0.9), (1.0, 0.5), -0.1, None, None),
    ("$z^+$ rule: $a \\geq 0$", v_zplus, (0.8, 0.6), (1.0, -0.5), -0.1, (0.0, 3.0), (0.0, 0.6)),
    ("$z^\\beta$ rule: $-1 \\leq a \\leq 1$", v_zbeta, (0.5, -0.6), (1.0, -0.5), -0.1, (-1.0, 1.0), (-1.0, 1.0)),
]
fig, axes = plt.subplots(1, 3, figsize=(14, 4.6))
g1, g2 = np.meshgrid(np.linspace(-1.5, 1.5, 200), np.linspace(-1.5, 1.5, 200))
for ax, (title, direction, a_2d, w_2d, b_2d, box, end) in zip(axes, neurons):
    R_k = np.maximum(0, w_2d[0] * g1 + w_2d[1] * g2 + b_2d)
    ax.contourf(g1, g2, R_k, levels=12, cmap="Oranges", alpha=0.45)
    if box is None:   # the whole plane is the domain; the quadrant a >= 0 only for comparison
        ax.add_patch(plt.Rectangle((0, 0), 3, 3, fill=False, ls=":", color="tab:green", lw=1.5,
                                   label="$a \\geq 0$ (for comparison)"))
    else:
        ax.add_patch(plt.Rectangle((box[0], box[0]), box[1] - box[0], box[1] - box[0], color="tab:green",
                                   alpha=0.15, label="input domain"))
    x_line = np.linspace(-1.5, 1.5, 2)
    ax.plot(x_line, -(w_2d[0] * x_line + b_2d) / w_2d[1], "k-", lw=2, label="$z_k = 0$")
    ax.plot(*a_2d, "ko", ms=8)
    ax.annotate("a", a_2d, xytext=(6, 6), textcoords="offset points", fontsize=12)
    if end is not None:
        ax.plot([a_2d[0], end[0]], [a_2d[1], end[1]], "--", color="tab:blue", label="search segment")
        ax.plot(*end, "s", color="tab:blue", ms=6)
    low, high = (box if box is not None else (0.0, 1.0))
    root = None if direction is None else attempt(root_from_your_answers, direction, a_2d, w_2d, b_2d, low, high)
    if root is not None:
        ax.annotate("", xy=root, xytext=a_2d, arrowprops=dict(arrowstyle="->", color="tab:red", lw=2))
        ax.plot(*root, "o", color="tab:red", ms=8, label=f"root ({root[0]:.2f}, {root[1]:.2f})")
    ax.set(xlim=(-1.5, 1.5), ylim=(-1.5, 1.5), aspect="equal", xlabel="$a_1$", ylabel="$a_2$",
           title=f"{title}\n$w = {w_2d}$, $b = {b_2d}$")
    ax.legend(loc="lower left", fontsize=7)
plt.tight_layout()
plt.show()

# %% [markdown]
# The $w^2$ root (left) is the nearest point of the line, but it has a negative coordinate: as a
# "reference activation" of ReLU neurons it is impossible. The $z^+$ root stays in $a \ge 0$ because
# it only dims the inputs with positive weights; the $z^\beta$ root stays in the box because it
# moves towards the corner where $z_k$ is smallest. For $z^+$ and $z^\beta$ the step is $0 \le t \le 1$
# as long as $b_k \le 0$.
#
# ## 5. A careful reader: Table 3.1
#
# The thesis summarises its rules in Table 3.1. Its $z^\beta$ row reads
#
# $$R_j = \sum_k \frac{a_j w_{jk} - l_j w_{jk}^- - h_j w_{jk}^+}{\sum_{j'} a_{j'} w_{j'k} - l_{j'} w_{j'k}^- - h_{j'} w_{j'k}^+}\, R_k \qquad\text{(Table 3.1, as printed)}.$$
#
# Compare it with what you derived in Q7. (Try numbers: `a = (0.9, 0.1)`, `w = (1, 1)`, `b = 0`,
# `l = 0`, `h = 1` in both formulas, and find the root point each formula implies.)
#
# **Q8 ({points:table-check}, multiple select).** Which statements are true? Answer with a set of letters, e.g.
# `table_statements = {"A", "B"}`.
#
# {choices:table_typo}

# %% nbgrader={"grade": false, "grade_id": "table-answer", "locked": false, "solution": true}
table_statements = None
### BEGIN SOLUTION
table_statements = {"A", "C", "D"}
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "table-check", "locked": true, "points": 2, "solution": false}
check.table_typo(table_statements)


# %% [markdown]
# So Table 3.1 swaps $l_j$ and $h_j$; its own derivation (and Montavon et al. 2017) gives
# $a_j w_{jk} - l_j w_{jk}^+ - h_j w_{jk}^-$. The typo is hard to catch by testing alone: the table's
# rule conserves and is positive too. Only the root point gives it away.
#
# ## 6. The rules for a dense layer
#
# A layer has many neurons $k$ and we process a batch of examples at once: `a` has shape `(..., J)`,
# `w` has shape `(J, K)` (from neuron $j$ below to neuron $k$ above), `R` has shape `(..., K)`, and a
# rule returns the relevance of the inputs, shape `(..., J)`. Every rule fits in four lines (Montavon's
# tutorial style):
#
# ```python
# z = ...          # z_k = sum_j v_j w_jk: the contributions per output neuron, shape (..., K)
# s = R / z        # s_k = R_k / z_k, with s_k = 0 where z_k = 0 (that output has nothing to pass down)
# c = s @ V.T      # sent back along the (modified) weights, shape (..., J)
# R_j = ...        # multiply by the input-side factor of the rule
# ```
#
# Where $z_k = 0$ the output received no contribution of the kind the rule uses; dividing would give
# NaN, so set $s_k = 0$: `np.where(z != 0, R / np.where(z != 0, z, 1), 0)`. Do not modify the
# arguments in place.
#
# **Q9 ({points:w2-check}).** `w2(w, R)`: $R_j = \sum_k \dfrac{w_{jk}^2}{\sum_{j'} w_{j'k}^2} R_k$ (zennit calls it
# `WSquare`).
#
# **Q10 ({points:zplus-check}).** `zplus(a, w, R)`: $R_j = \sum_k \dfrac{a_j w_{jk}^+}{\sum_{j'} a_{j'} w_{j'k}^+} R_k$
# for $a \ge 0$ (zennit: `ZPlus`).
#
# **Q11 ({points:zbeta-check}).** `zbeta(a, w, R, low, high)`: your Q7 for a layer,
# $R_j = \sum_k \dfrac{a_j w_{jk} - l_j w_{jk}^+ - h_j w_{jk}^-}{\sum_{j'} (a_{j'} w_{j'k} - l_{j'} w_{j'k}^+ - h_{j'} w_{j'k}^-)} R_k$
# (zennit: `ZBox`). `low` and `high` are numbers or arrays that broadcast to `a` (one bound per input):
# `np.broadcast_to(low, a.shape)` gives an array of the shape of `a`.
#
# The checks run your functions on many generated layers (Hypothesis) and test conservation,
# positivity, agreement with the rule, and the batch dimension; a failure shows the smallest example
# that breaks a property.

# %% nbgrader={"grade": false, "grade_id": "w2-answer", "locked": false, "solution": true}
def w2(w, R):
    """w^2 rule: w (J, K), R (..., K) -> (..., J)."""
    ### BEGIN SOLUTION
    v = w * w
    z = v.sum(0)                                         # z_k = sum_j w_jk^2
    s = np.where(z != 0, R / np.where(z != 0, z, 1), 0)  # s_k = R_k / z_k
    return s @ v.T                                       # R_j = sum_k w_jk^2 s_k
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "w2-check", "locked": true, "points": 2, "solution": false}
check.w2(w2)
### BEGIN HIDDEN TESTS
check.w2_edge_cases(w2)
### END HIDDEN TESTS

# %% nbgrader={"grade": false, "grade_id": "zplus-answer", "locked": false, "solution": true}
def zplus(a, w, R):
    """z+ rule: a (..., J) >= 0, w (J, K), R (..., K) -> (..., J)."""
    ### BEGIN SOLUTION
    wp = np.maximum(w, 0)
    z = a @ wp                                           # z_k = sum_j a_j w_jk^+
    s = np.where(z != 0, R / np.where(z != 0, z, 1), 0)
    c = s @ wp.T                                         # c_j = sum_k w_jk^+ s_k
    return a * c                                         # R_j = a_j c_j
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "zplus-check", "locked": true, "points": 2, "solution": false}
check.zplus(zplus)
### BEGIN HIDDEN TESTS
check.zplus_edge_cases(zplus)
### END HIDDEN TESTS

# %% nbgrader={"grade": false, "grade_id": "zbeta-answer", "locked": false, "solution": true}
def zbeta(a, w, R, low, high):
    """z^beta rule: low <= a (..., J) <= high, w (J, K), R (..., K) -> (..., J)."""
    ### BEGIN SOLUTION
    wp, wn = np.maximum(w, 0), np.minimum(w, 0)
    low, high = np.broadcast_to(low, np.shape(a)), np.broadcast_to(high, np.shape(a))
    z = a @ w - low @ wp - high @ wn                     # z_k = sum_j a_j w_jk - l_j w_jk^+ - h_j w_jk^-
    s = np.where(z != 0, R / np.where(z != 0, z, 1), 0)
    return a * (s @ w.T) - low * (s @ wp.T) - high * (s @ wn.T)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "zbeta-check", "locked": true, "points": 3, "solution": false}
check.zbeta(zbeta)
### BEGIN HIDDEN TESTS
check.zbeta_edge_cases(zbeta)
### END HIDDEN TESTS

# %% [markdown]
# ## 7. Explaining a digit classifier
#
# Now a real network: a ReLU classifier $784 \to 100 \to 10$ trained for two epochs on the 5,000 MNIST
# digits that ship with this course (a few seconds). Pixels lie in $[0, 1]$, so the first layer gets
# $z^\beta$ with $l = 0$, $h = 1$; the hidden layer holds ReLU activations, so the output layer gets
# $z^+$ (the **deep Taylor** composite of Table 3.1). We explain the **logit of the predicted class**
# $c$: start with $R = f_c(\mathbf x)$ at output $c$ and $0$ at the other outputs.
#
# torch stores a `Linear` layer's weight as $(K, J)$; the next cell converts it to the thesis's
# $(J, K)$ in one place.

# %%
from reference.data import load_mnist_5k, train_test_split
from reference.digits import train_digit_classifier

model, accuracy = train_digit_classifier(epochs=2, progress=False)
print(f"test accuracy of the digit classifier: {accuracy:.3f}")

layers = [(layer.weight.detach().double().numpy().T, layer.bias.detach().double().numpy())
          for layer in model if isinstance(layer, torch.nn.Linear)]      # [(w (J, K), b (K,)), ...]
print("layer shapes:", [w_.shape for w_, _ in layers])

X, y = load_mnist_5k()
_, X_test, _, y_test = train_test_split(X, y, seed=0)
with torch.no_grad():
    predicted = model(torch.as_tensor(X_test)).argmax(1).numpy()
picks = [int(np.flatnonzero((y_test == d) & (predicted == d))[0]) for d in (0, 2, 3, 7, 8)]  # classified right
x_show = X_test[picks].astype(np.float64)                                # (5, 784), pixels in [0, 1]


# %% [markdown]
# **Q12 ({points:network-check}).** Implement `deep_taylor(layers, x, target, low=0.0, high=1.0)`:
#
# - `layers` is a list `[(w, b), ...]` with `w` of shape `(J, K)`; there is a ReLU after every layer
#   but the last (the last layer outputs the logits);
# - `x` has shape `(B, J0)` with pixels in `[low, high]`; `target` has shape `(B,)`, the class whose
#   logit to explain for each example;
# - return the pixel relevances, shape `(B, J0)`.
#
# Run the forward pass and keep every layer's input; set the output relevance to the target logit (0
# elsewhere); go back through the layers with **your** `zbeta` for the first layer and **your** `zplus`
# for the others. The check runs it on small random networks (biases of both signs) and on this
# classifier.

# %% nbgrader={"grade": false, "grade_id": "network-answer", "locked": false, "solution": true}
def deep_taylor(layers, x, target, low=0.0, high=1.0):
    """Deep Taylor relevance (B, J0) of the pixels for the logit of `target` (B,)."""
    ### BEGIN SOLUTION
    activations = [x]
    for i, (w_, b_) in enumerate(layers):
        z = activations[-1] @ w_ + b_
        activations.append(np.maximum(z, 0) if i < len(layers) - 1 else z)
    logits = activations[-1]
    rows = np.arange(len(x))
    R = np.zeros_like(logits)
    R[rows, target] = logits[rows, target]
    for i in reversed(range(len(layers))):
        w_, _ = layers[i]
        R = zbeta(activations[i], w_, R, low, high) if i == 0 else zplus(activations[i], w_, R)
    return R
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "network-check", "locked": true, "points": 3, "solution": false}
check.network(deep_taylor, model, x_show)

# %% [markdown]
# Now the heatmaps. For the predicted class $c$ of each digit the next cell compares
#
# - **sensitivity analysis**, $R_i = (\partial f_c/\partial x_i)^2$ (thesis 3.2.1),
# - **gradient × input**, $R_i = x_i\,\partial f_c/\partial x_i$ (Taylor at the root $0$, thesis 3.2.2;
#   on a ReLU network it equals LRP-0),
# - **deep Taylor** with your rules.
#
# Red is positive relevance, blue negative; each map has its own scale. Look at the strokes *and* at
# the black background.

# %%
x_t = torch.tensor(x_show, dtype=torch.float32, requires_grad=True)
logits = model(x_t)
target = logits.argmax(1)                                   # explain the predicted class
explained = logits[torch.arange(len(x_show)), target]       # f_c(x), one per digit
(grad,) = torch.autograd.grad(explained.sum(), x_t)         # df_c/dx_i
grad, target, explained = grad.double().numpy(), target.numpy(), explained.detach().double().numpy()
maps = {"sensitivity": grad ** 2, "gradient × input": grad * x_show,
        "deep Taylor": attempt(deep_taylor, layers, x_show, target)}

fig, axes = plt.subplots(len(x_show), 4, figsize=(9, 2.3 * len(x_show)))
for row, image, c, f_c in zip(range(len(x_show)), x_show, target, explained):
    axes[row, 0].imshow(image.reshape(28, 28), cmap="gray_r")
    axes[row, 0].set_title(f"predicted {c}, $f_c$ = {f_c:.2f}", fontsize=9)
    for col, (name, R) in enumerate(maps.items(), start=1):
        ax = axes[row, col]
        if R is None:
            ax.text(0.5, 0.5, "implement\ndeep_taylor", ha="center", va="center", fontsize=8)
            continue
        R_img = np.asarray(R[row], dtype=float).reshape(28, 28)
        limit = np.abs(R_img).max() or 1.0
        cmap, vmin = ("Reds", 0) if name == "sensitivity" else ("bwr", -limit)
        ax.imshow(R_img, cmap=cmap, vmin=vmin, vmax=limit)
        ax.set_title(f"{name}\nsum = {R_img.sum():.2f}", fontsize=9)
for ax in axes.flat:
    ax.set_xticks([])
    ax.set_yticks([])
plt.tight_layout()
plt.show()

# %% [markdown]
# **What is conserved here, honestly.** $z^\beta$ and $z^+$ leave the bias out of their denominators,
# so each layer passes *all* of its relevance down: the deep Taylor map adds up to the explained logit
# (up to outputs with a zero denominator, which drop theirs). Gradient × input does not: for a ReLU
# network $f_c(\mathbf x) = \sum_i x_i\,\partial f_c/\partial x_i + (\text{what the biases add along
# the active paths})$, and the biases' share is simply missing from its map. But DTD's derivation
# assumed $b_k \le 0$, and this classifier was trained without that constraint: many of its biases are
# positive. For such a neuron part of $z_k$ is produced by the bias itself, the line search needs a
# step $t > 1$ and its root point leaves the domain; $z^+$ still hands all of $R_k$ to the inputs. The
# deep Taylor map conserves the logit by crediting the inputs with what the positive biases
# contributed (and, for negative biases, by giving them more than their net contribution). The next
# cell measures how much is at stake: the last column is the biases' share of each logit.

# %%
positive_biases = [float((b_ > 0).mean()) for _, b_ in layers]
print("share of positive biases per layer:", [f"{p:.0%}" for p in positive_biases])
print(f"{'digit':>5} {'logit f_c':>10} {'sum deep Taylor':>16} {'sum grad x input':>17} {'biases share':>13}")
for i, c in enumerate(target):
    dt = maps["deep Taylor"]
    dt_sum = "-" if dt is None else f"{dt[i].sum():.4f}"
    gxi = maps["gradient × input"][i].sum()
    print(f"{c:>5} {explained[i]:>10.4f} {dt_sum:>16} {gxi:>17.4f} {explained[i] - gxi:>13.4f}")

# %% [markdown]
# ## 8. What did we learn?
#
# **Q13 ({points:rules-mc-check}, multiple select).** Which statements are true? Answer with a set of letters,
# `rule_statements = {...}`.
#
# {choices:rule_statements}

# %% nbgrader={"grade": false, "grade_id": "rules-mc-answer", "locked": false, "solution": true}
rule_statements = None
### BEGIN SOLUTION
rule_statements = {"A", "D", "F"}
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "rules-mc-check", "locked": true, "points": 2, "solution": false}
check.rule_statements(rule_statements)

# %% [markdown]
# **Q14 ({points:heatmaps-written}, graded by hand).** Compare the three heatmaps in a few sentences each:
#
# 1. What does each map show about the digit (where is it red, where blue, where zero)? Which one
#    depends least on the particular image?
# 2. Which maps add up to the explained logit, and what does the table of sums say about the biases?
# 3. Which explanation would you show someone who asks "why did the network call this a 3?", and what
#    would you warn them about?

# %% [markdown] nbgrader={"grade": true, "grade_id": "heatmaps-written", "locked": false, "points": 3, "solution": true}
# **Model answer.**
#
# 1. Sensitivity, $(\partial f_c/\partial x_i)^2$, is spread over the whole frame, also over the
#    background: it shows where a *change* of a pixel would move the logit, is never negative and says
#    nothing about whether the pixel's actual value helped; it depends on the image only through the
#    active ReLU pattern. Gradient × input is zero on the black background and noisy on the strokes,
#    with red and blue pixels mixed: it is the linear contribution of each inked pixel, and for ReLU
#    networks the gradient is noisy ("shattered"). Deep Taylor is positive everywhere (for a positive
#    logit), strongest on the strokes that make the digit its class (the loop of a 0, the bar of a 7),
#    but it also spreads relevance over the black background: $z^\beta$ with $l = 0$, $h = 1$ credits a
#    black pixel with $-h_j w_{jk}^-\,s_k > 0$ wherever its weight is negative ("no ink where ink would
#    have spoken against this neuron"). Sensitivity depends least on the image (only through the
#    pattern of active ReLUs); deep Taylor and gradient × input follow the strokes of this image.
# 2. Deep Taylor adds up to the logit exactly (the rules leave the biases out of their denominators);
#    gradient × input adds up to the logit minus the biases' share (the last column of the table:
#    small for this network, a few percent, but not zero); sensitivity adds up to
#    $\lVert\nabla f_c\rVert^2$, which has nothing to do with the logit. With positive biases, DTD's
#    assumption $b_k \le 0$ is violated, so the exact conservation of deep Taylor is partly bought by
#    crediting the pixels with what the biases contributed.
# 3. Deep Taylor: positive, conservative, on the strokes, readable as "these pixels made it a 3".
#    Warnings: it explains the logit, not the probability or the decision against other classes; with
#    positive biases its root points leave the domain; and $z^\beta$'s relevance depends on the chosen
#    box $[l, h]$ (the background gets relevance for missing ink).
#
# **Rubric.** 1 point: a correct, concrete description of each map (sensitivity = variation, also in
# the background; gradient × input = noisy, signed, zero on black; deep Taylor = positive, strongest on
# the strokes, some relevance on the background). 1 point: conservation — deep Taylor sums to the logit, gradient × input misses the
# biases' share (with the table), sensitivity does not sum to the logit. 1 point: a justified choice
# with at least one honest caveat (positive biases / logit not probability / box dependence).

# %% [markdown]
# ## Where this goes next
#
# Deep Taylor decomposition turns "a Taylor expansion of the whole network" (hard: where is a good
# root?) into one easy expansion per neuron, with the root point chosen by the domain of the neuron's
# inputs. The same rules explain recurrent networks once the relevance is propagated through time
# (thesis Chapter 4): the next exercises do exactly that.
