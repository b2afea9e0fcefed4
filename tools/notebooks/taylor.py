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
# # Sensitivity analysis and Taylor decomposition
#
# *Machine Learning 2, exercise sheet 11, exercise 2 — Montavon, Samek & Müller (2018), "Methods for
# interpreting and understanding deep neural networks", Section 4; thesis "Designing Recurrent Neural
# Networks for Explainability", Section 3.2.*
#
# Activation maximization asked a *global* question: what does a typical "3" look like? Here we ask a
# *local* one: the model looked at **this** input $\mathbf{x}$ and answered $f(\mathbf{x})$; how much
# did each input variable $x_i$ contribute? An explanation is a vector of **relevances**
# $\mathbf{R} = (R_1, \dots, R_n)$, one per input (one per pixel for an image: a heatmap). A property we
# would like (thesis, Definition 3.2.1) is
#
# $$\textbf{conservation:}\qquad \sum_i R_i = f(\mathbf{x}),$$
#
# the relevances share out the output itself. Two classic methods:
#
# | method | relevance of $x_i$ |
# |---|---|
# | sensitivity analysis (Section 4.1; thesis 3.2.1) | $R_i = \left(\dfrac{\partial f}{\partial x_i}\Big\rvert_{\mathbf{x}}\right)^2$ |
# | Taylor decomposition (Section 4.2; thesis 3.2.2) | $R_i = \dfrac{\partial f}{\partial x_i}\Big\rvert_{\tilde{\mathbf{x}}} \,(x_i - \tilde x_i)$ at a **root point** $\tilde{\mathbf{x}}$, $f(\tilde{\mathbf{x}}) = 0$ |
#
# The second comes from the first-order Taylor expansion of $f$ around $\tilde{\mathbf{x}}$:
#
# $$f(\mathbf{x}) = \underbrace{f(\tilde{\mathbf{x}})}_{=\,0} + \sum_i \underbrace{\frac{\partial f}{\partial x_i}\Big\rvert_{\tilde{\mathbf{x}}} (x_i - \tilde x_i)}_{R_i} + \zeta,$$
#
# where $\zeta$ collects the second- and higher-order terms. We work everything out for the
# **homogeneous linear model** $f(\mathbf{x}) = \mathbf{w}^\top\mathbf{x}$ of the exercise sheet (no
# bias, so $\zeta = 0$), with $n = 3$ inputs written out component by component. Then we implement
# both methods numerically and look at what they say about handwritten digits.
#
# **How to work.** Fill in every cell that says `YOUR CODE HERE` (or `YOUR ANSWER HERE`), run it,
# then run the check below it. A check prints ✓ when your answer is right and otherwise says what is
# wrong. Symbolic answers are SymPy expressions in the symbols defined below: any equivalent form is
# accepted. **Derive with SymPy** (differentiate, solve, substitute) rather than typing a result you
# looked up: the derivation is the point.

# %%
import numpy as np
import sympy as sp
import torch
import matplotlib.pyplot as plt

from autograder.questions import taylor as check

w1, w2, w3 = sp.symbols("w1:4", real=True)
x1, x2, x3 = sp.symbols("x1:4", real=True)
w = sp.Matrix([w1, w2, w3])          # the weights, a column vector
x = sp.Matrix([x1, x2, x3])          # the input we explain, a column vector
lam = sp.Symbol("lam", real=True)    # a Lagrange multiplier (part 3)

f = w.dot(x)                         # f(x) = w^T x, a scalar expression
f

# %% [markdown]
# SymPy, briefly: `f.diff(x1)` is $\partial f/\partial x_1$; `sp.Matrix([g(xi) for xi in x])`
# builds a column vector component by component; `a.multiply_elementwise(b)` is the component-wise
# product $(a_i b_i)_i$; `w.dot(x)` is $\mathbf{w}^\top\mathbf{x}$ as a scalar (`w.T * x` is the same
# number as a $1\times 1$ matrix). `expr.subs({x1: 0, x2: 0, x3: 0})` evaluates at a point and
# `sp.simplify(expr)` tidies up.

# %% tags=["scratch"]
# Scratch space (not graded): try SymPy here, e.g. f.diff(x2)

# %% [markdown]
# ## 1. Sensitivity analysis
#
# Sensitivity analysis explains with the squared partial derivatives,
#
# $$R_i = \left(\frac{\partial f}{\partial x_i}\right)^2, \qquad\text{so}\qquad \sum_i R_i = \lVert \nabla f(\mathbf{x}) \rVert^2 .$$
#
# It is easy to compute with automatic differentiation for any network, but note what it measures:
# how strongly $f$ *reacts* to a change of $x_i$, not how much $x_i$ *contributed* to the value
# $f(\mathbf{x})$.
#
# **Q1 ({points:sens-check}).** Compute the sensitivity relevances of $f(\mathbf{x}) = \mathbf{w}^\top\mathbf{x}$
# as a $3\times1$ column vector `R_sens`. Get the gradient by differentiating `f`.

# %% nbgrader={"grade": false, "grade_id": "sens-answer", "locked": false, "solution": true}
R_sens = None
### BEGIN SOLUTION
grad = sp.Matrix([f.diff(xi) for xi in x])      # the gradient of f: (w1, w2, w3)
R_sens = grad.multiply_elementwise(grad)
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "sens-check", "locked": true, "points": 2, "solution": false}
check.sensitivity(R_sens)

# %% [markdown]
# ## 2. Taylor decomposition at the root $\tilde{\mathbf{x}} = \mathbf{0}$
#
# The model has no bias, so $f(\mathbf{0}) = 0$: the origin is a root point and a valid place to
# expand around.
#
# **Q2 ({points:taylor0-check}).** Compute the Taylor relevances at the root $\tilde{\mathbf{x}} = \mathbf{0}$ as a
# column vector `R_taylor0`: evaluate the gradient at the root (`.subs`) and multiply it
# component-wise by $\mathbf{x} - \tilde{\mathbf{x}}$.

# %% nbgrader={"grade": false, "grade_id": "taylor0-answer", "locked": false, "solution": true}
R_taylor0 = None
### BEGIN SOLUTION
root0 = sp.zeros(3, 1)
grad_at_root = sp.Matrix([f.diff(xi) for xi in x]).subs(dict(zip(x, root0)))
R_taylor0 = grad_at_root.multiply_elementwise(x - root0)
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "taylor0-check", "locked": true, "points": 2, "solution": false}
check.taylor_at_zero(R_taylor0)
### BEGIN HIDDEN TESTS
check.conserves(R_taylor0, "R_taylor0")
### END HIDDEN TESTS

# %% [markdown]
# This is **gradient × input**, $R_i = x_i\, \partial f / \partial x_i$. The thesis shows why it
# reaches beyond linear models: for a ReLU network without biases, $f(t\mathbf{x}) = t f(\mathbf{x})$
# for $t \ge 0$, so the root $\tilde{\mathbf{x}} = \lim_{\varepsilon\to 0}\varepsilon\mathbf{x}$ lies
# in the same linear region as $\mathbf{x}$ and Taylor at that root is exactly gradient × input.
#
# ## 3. The nearest root point (Lagrange multipliers)
#
# The origin is *a* root, but it can be far from $\mathbf{x}$; a first-order expansion is most
# trustworthy close to the point it explains. The root point nearest to $\mathbf{x}$ (Euclidean) solves
#
# $$\tilde{\mathbf{x}} = \arg\min_{\boldsymbol\xi}\; \lVert \boldsymbol\xi - \mathbf{x} \rVert^2 \quad\text{such that}\quad f(\boldsymbol\xi) = \mathbf{w}^\top\boldsymbol\xi = 0 .$$
#
# Solve it with a Lagrange multiplier, using **this** Lagrangian (the sign convention fixes the sign of
# $\lambda$):
#
# $$L(\boldsymbol\xi, \lambda) = \lVert \boldsymbol\xi - \mathbf{x} \rVert^2 + \lambda\, \mathbf{w}^\top \boldsymbol\xi .$$
#
# Three steps, one answer each:
#
# 1. **Stationarity.** Set $\nabla_{\boldsymbol\xi} L = 0$ and solve for $\boldsymbol\xi$ as a function of
#    $\lambda$. **Q3 ({points:stationarity-check}):** `xi_of_lam`, a column vector in `x`, `w` and `lam`.
# 2. **The constraint.** Insert $\boldsymbol\xi(\lambda)$ into $\mathbf{w}^\top\boldsymbol\xi = 0$ and
#    solve for the multiplier. **Q4 ({points:multiplier-check}):** `lam_star`, a scalar in `w` and `x`.
# 3. **The root point.** $\tilde{\mathbf{x}} = \boldsymbol\xi(\lambda^\star)$. **Q5 ({points:root-check}):**
#    `x_root`, a column vector in `w` and `x`.
#
# Useful: `sp.Matrix(sp.symbols("xi1:4", real=True))` for the unknown $\boldsymbol\xi$;
# `sp.solve(equations, unknowns, dict=True)` returns a list of solutions, each a dict;
# `expr.subs(lam, value)` substitutes.

# %% nbgrader={"grade": false, "grade_id": "stationarity-answer", "locked": false, "solution": true}
xi_of_lam = None
### BEGIN SOLUTION
xi = sp.Matrix(sp.symbols("xi1:4", real=True))
L = (xi - x).dot(xi - x) + lam * w.dot(xi)
grad_L = [L.diff(v) for v in xi]                 # 2 (xi - x) + lam w
solution_xi = sp.solve(grad_L, list(xi), dict=True)[0]
xi_of_lam = xi.subs(solution_xi)                 # x - lam w / 2
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "stationarity-check", "locked": true, "points": 2, "solution": false}
check.stationarity(xi_of_lam)

# %% nbgrader={"grade": false, "grade_id": "multiplier-answer", "locked": false, "solution": true}
lam_star = None
### BEGIN SOLUTION
lam_star = sp.solve(w.dot(xi_of_lam), lam)[0]    # 2 w^T x / ||w||^2
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "multiplier-check", "locked": true, "points": 2, "solution": false}
check.multiplier(lam_star)

# %% nbgrader={"grade": false, "grade_id": "root-answer", "locked": false, "solution": true}
x_root = None
### BEGIN SOLUTION
x_root = sp.simplify(xi_of_lam.subs(lam, lam_star))   # x - (w^T x) w / ||w||^2
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "root-check", "locked": true, "points": 3, "solution": false}
check.root_point(x_root)
### BEGIN HIDDEN TESTS
check.root_point_properties(x_root)
### END HIDDEN TESTS

# %% [markdown]
# Read your answer geometrically: $\tilde{\mathbf{x}}$ is $\mathbf{x}$ minus its component along
# $\mathbf{w}$, the **orthogonal projection** of $\mathbf{x}$ onto the hyperplane $\mathbf{w}^\top\boldsymbol\xi = 0$.
# The step $\mathbf{x} - \tilde{\mathbf{x}}$ is parallel to $\mathbf{w}$, the normal of that hyperplane.
#
# ## 4. Taylor decomposition at the nearest root
#
# **Q6 ({points:nearest-check}).** Compute the Taylor relevances at the nearest root, `R_nearest` (a column vector in
# `w` and `x`). The gradient of a linear model is the same everywhere, so only
# $\mathbf{x} - \tilde{\mathbf{x}}$ changes. Simplify until you can read off how $R_i$ depends on
# $w_i$.

# %% nbgrader={"grade": false, "grade_id": "nearest-answer", "locked": false, "solution": true}
R_nearest = None
### BEGIN SOLUTION
grad_at_root = sp.Matrix([f.diff(xi) for xi in x]).subs(dict(zip(x, x_root)))
R_nearest = sp.simplify(grad_at_root.multiply_elementwise(x - x_root))   # w_i^2 (w^T x) / ||w||^2
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "nearest-check", "locked": true, "points": 3, "solution": false}
check.taylor_at_nearest_root(R_nearest)
### BEGIN HIDDEN TESTS
check.conserves(R_nearest, "R_nearest")
### END HIDDEN TESTS

# %% [markdown]
# Before the multiple-choice questions below, look at the totals of your three explanations
# (this cell only reads your answers):

# %%
for name, R in [("sensitivity", R_sens), ("Taylor at root 0", R_taylor0), ("Taylor at nearest root", R_nearest)]:
    try:
        print(f"{name:<24} sum_i R_i = {sp.factor(sp.simplify(sum(R)))}")
    except Exception:
        print(f"{name:<24} (no answer yet)")
print(f"{'the output':<24} f(x)      = {f}")


# %% [markdown]
# ## 5. The nearest root, numerically
#
# Real models have a bias: $f(\mathbf{x}) = \mathbf{w}^\top\mathbf{x} + b$. Redo the derivation of
# part 3 with the constraint $\mathbf{w}^\top\boldsymbol\xi + b = 0$ (on paper, or in the scratch cell
# above): only the constraint step changes.
#
# **Q7 ({points:nearest-root-fn-check}).** Implement `nearest_root(w, x, b=0.0)` with numpy: `w` and `x` are arrays of shape
# `(n,)`, `b` a number, `w` is not zero. Return the root of $f$ nearest to `x`, an array of shape
# `(n,)`, without modifying `w` or `x`. The check tests the properties that define the answer on many
# generated examples: $f(\tilde{\mathbf{x}}) = 0$, and $\mathbf{x} - \tilde{\mathbf{x}}$ is parallel to
# $\mathbf{w}$ (otherwise sliding $\tilde{\mathbf{x}}$ along the hyperplane would bring it closer).

# %% nbgrader={"grade": false, "grade_id": "nearest-root-fn-answer", "locked": false, "solution": true}
def nearest_root(w, x, b=0.0):
    """The root of f(x) = w @ x + b nearest to x (Euclidean). w, x: arrays of shape (n,)."""
    ### BEGIN SOLUTION
    w = np.asarray(w, dtype=float)
    x = np.asarray(x, dtype=float)
    return x - (w @ x + b) / (w @ w) * w
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "nearest-root-fn-check", "locked": true, "points": 3, "solution": false}
check.nearest_root(nearest_root)
### BEGIN HIDDEN TESTS
check.nearest_root(nearest_root, thorough=True)
### END HIDDEN TESTS

# %% [markdown]
# ## 6. Taylor relevances of any differentiable model
#
# For a non-linear model there is no closed form, but automatic differentiation gives
# $\partial f/\partial x_i$ at any point, in particular at a root point.
#
# **Q8 ({points:taylor-fn-check}).** Implement `taylor_relevances(f, x, root)` with torch: `x` and `root` are float32
# tensors of shape `(n,)`, `f` maps such a tensor to a scalar tensor. Return the tensor
# $R_i = \frac{\partial f}{\partial x_i}\big\rvert_{\text{root}} (x_i - \text{root}_i)$ of shape `(n,)`.
# Take the gradient with `torch.autograd.grad` on a copy of the root that requires gradients
# (`root.clone().requires_grad_(True)`). The check runs it on linear models, where the relevances must
# sum to $f(\mathbf{x}) - f(\text{root})$ exactly, and on a small $\tanh$ model, where the gradient
# must be taken at the root and not at $\mathbf{x}$.

# %% nbgrader={"grade": false, "grade_id": "taylor-fn-answer", "locked": false, "solution": true}
def taylor_relevances(f, x, root):
    """First-order Taylor relevances of f at x around root: df/dx_i(root) * (x_i - root_i)."""
    ### BEGIN SOLUTION
    r = root.detach().clone().requires_grad_(True)
    (gradient,) = torch.autograd.grad(f(r), r)
    return gradient * (x - root.detach())
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "taylor-fn-check", "locked": true, "points": 3, "solution": false}
check.taylor_relevances(taylor_relevances)
### BEGIN HIDDEN TESTS
check.taylor_relevances(taylor_relevances, thorough=True)
### END HIDDEN TESTS

# %% [markdown]
# ## 7. The picture in two dimensions
#
# Take $\mathbf{w} = (1, 2)$ and $\mathbf{x} = (2.5, 0.5)$, so $f(\mathbf{x}) = 3.5$. The next cell
# uses **your** `nearest_root` and `taylor_relevances` (parts it cannot draw yet are left out). On the
# left: the level sets of $f$, the line of roots $f = 0$, the two root points and the step
# $\mathbf{x} - \tilde{\mathbf{x}}$ that each Taylor decomposition explains. The circle around
# $\mathbf{x}$ through the nearest root touches the line: no root is closer. On the right: the three
# explanations.

# %%
not_ready = set()


def attempt(fn, *args):
    # Call a function you wrote above; None if it does not work yet (the figure then leaves it out).
    try:
        return fn(*args)
    except Exception as err:
        name = getattr(fn, "__name__", str(fn))
        if name not in not_ready:
            print(f"({name} does not work yet: {type(err).__name__}; the figures leave its part out)")
            not_ready.add(name)
        return None


def gradient(f, x):
    x = x.detach().clone().requires_grad_(True)
    (g,) = torch.autograd.grad(f(x), x)
    return g


w_2d, x_2d = np.array([1.0, 2.0]), np.array([2.5, 0.5])
f_2d = lambda z: z @ torch.tensor(w_2d, dtype=torch.float32)
x_t = torch.tensor(x_2d, dtype=torch.float32)
root_near = attempt(nearest_root, w_2d, x_2d)
roots = {"root 0": (np.zeros(2), "tab:blue"),
         "nearest root": (None if root_near is None else np.asarray(root_near, dtype=float), "tab:red")}
explanations = {"sensitivity": (gradient(f_2d, x_t) ** 2).numpy(),
                "Taylor at root 0": attempt(taylor_relevances, f_2d, x_t, torch.zeros(2))}
if root_near is not None:
    explanations["Taylor at nearest root"] = attempt(taylor_relevances, f_2d, x_t,
                                                     torch.tensor(roots["nearest root"][0], dtype=torch.float32))

fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4.5))
g1, g2 = np.meshgrid(np.linspace(-1.5, 4, 200), np.linspace(-2, 2.5, 200))
levels = ax.contourf(g1, g2, w_2d[0] * g1 + w_2d[1] * g2, levels=20, cmap="RdBu_r", alpha=0.5)
fig.colorbar(levels, ax=ax, label=r"$f(x) = w^\top x$")
line = np.linspace(-1.5, 4, 2)
ax.plot(line, -w_2d[0] / w_2d[1] * line, "k-", lw=2, label="roots: f = 0")
ax.plot(*x_2d, "ko", ms=8)
ax.annotate("x", x_2d, xytext=(6, 6), textcoords="offset points", fontsize=12)
for name, (r, colour) in roots.items():
    if r is None:
        continue
    ax.plot(*r, "o", color=colour, ms=8, label=name)
    ax.annotate("", xy=x_2d, xytext=r, arrowprops=dict(arrowstyle="->", color=colour, lw=2))
if roots["nearest root"][0] is not None:
    radius = np.linalg.norm(x_2d - roots["nearest root"][0])
    ax.add_patch(plt.Circle(x_2d, radius, fill=False, ls="--", color="tab:red"))
ax.quiver(0, 0, *w_2d, angles="xy", scale_units="xy", scale=1, color="tab:green", width=0.008)
ax.annotate("w", w_2d, xytext=(4, -12), textcoords="offset points", color="tab:green", fontsize=12)
ax.set(xlim=(-1.5, 4), ylim=(-2, 2.5), aspect="equal", xlabel="$x_1$", ylabel="$x_2$",
       title=r"root points and the steps $x - \tilde{x}$ they explain")
ax.legend(loc="lower left", fontsize=8)

width = 0.25
for k, (name, R) in enumerate(explanations.items()):
    if R is None:
        continue
    R = np.asarray(R.detach() if hasattr(R, "detach") else R, dtype=float)
    bx.bar(np.arange(2) + (k - 1) * width, R, width, label=f"{name}: sum = {R.sum():.2f}")
bx.axhline(0, color="k", lw=0.8)
bx.set_xticks([0, 1], ["$R_1$", "$R_2$"])
bx.set_title(f"three explanations of f(x) = {w_2d @ x_2d:.2f}")
bx.legend(fontsize=8)
plt.tight_layout()
plt.show()

# %% [markdown]
# Both Taylor decompositions add up to $f(\mathbf{x}) = 3.5$ — yet they disagree about which input
# matters more. Sensitivity does not add up to $f(\mathbf{x})$ at all.
#
# ## 8. Heatmaps of a digit classifier
#
# Now a linear model on real data: the MNIST digits that ship with this course. A simple
# bias-free linear score for "3 rather than 8" is $f(\mathbf{x}) = \mathbf{w}^\top\mathbf{x}$ with
# $\mathbf{w} = \bar{\mathbf{x}}_{3} - \bar{\mathbf{x}}_{8}$, the difference of the class means
# ($f > 0$: more like a 3). The next cell explains it on two 3s and an 8, with your functions. Red is
# positive relevance (evidence for "3"), blue negative.

# %%
from reference.data import load_mnist_5k

images, labels = load_mnist_5k()
w_digits = images[labels == 3].mean(0) - images[labels == 8].mean(0)
w_digits_t = torch.as_tensor(w_digits)
f_digits = lambda z: z @ w_digits_t
examples = [images[labels == 3][0], images[labels == 3][7], images[labels == 8][0]]

columns = ["input", "sensitivity", "Taylor at root 0", "Taylor at nearest root"]
fig, axes = plt.subplots(len(examples), 4, figsize=(10, 7.5))
for row, image in zip(axes, examples):
    x_img = torch.as_tensor(image)
    maps = {"sensitivity": gradient(f_digits, x_img) ** 2,
            "Taylor at root 0": attempt(taylor_relevances, f_digits, x_img, torch.zeros(784))}
    root_img = attempt(nearest_root, w_digits, image)
    maps["Taylor at nearest root"] = None if root_img is None else attempt(
        taylor_relevances, f_digits, x_img, torch.as_tensor(np.asarray(root_img, dtype=np.float32)))
    row[0].imshow(image.reshape(28, 28), cmap="gray_r")
    row[0].set_title(f"f(x) = {float(f_digits(x_img)):.2f}", fontsize=9)
    for ax, name in zip(row[1:], columns[1:]):
        R = maps[name]
        if R is None:
            ax.text(0.5, 0.5, "implement the\nfunctions above", ha="center", va="center", fontsize=8)
        else:
            R = np.asarray(R.detach(), dtype=float).reshape(28, 28)
            limit = np.abs(R).max() or 1.0
            ax.imshow(R, cmap="bwr", vmin=-limit, vmax=limit)
            ax.set_title(f"{name}\nsum = {R.sum():.2f}", fontsize=9)
for ax in axes.flat:
    ax.set_xticks([])
    ax.set_yticks([])
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 9. What did we learn?
#
# **Q9 ({points:mc-conservation-check}, multiple choice, possibly several options).** For the linear model
# $f(\mathbf{x}) = \mathbf{w}^\top\mathbf{x}$, which explanations satisfy conservation,
# $\sum_i R_i = f(\mathbf{x})$ for **every** $\mathbf{w}$ and $\mathbf{x}$?
#
# {choices:conservation_choice}
#
# Answer with a set of letters, e.g. `mc_conservation = {"A"}` or `{"A", "B"}`.

# %% nbgrader={"grade": false, "grade_id": "mc-conservation-answer", "locked": false, "solution": true}
mc_conservation = None
### BEGIN SOLUTION
mc_conservation = {"B", "C"}
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "mc-conservation-check", "locked": true, "points": 2, "solution": false}
check.conservation_choice(mc_conservation)

# %% [markdown]
# **Q10 ({points:mc-pattern-check}, multiple choice).** In the heatmaps of the digit classifier, which explanation's
# **pattern** over the pixels (the map up to its overall scale and sign) changes from one image to
# another? Answer as a set of letters `mc_pattern`.
#
# {choices:pattern_choice}

# %% nbgrader={"grade": false, "grade_id": "mc-pattern-answer", "locked": false, "solution": true}
mc_pattern = None
### BEGIN SOLUTION
mc_pattern = {"B"}
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "mc-pattern-check", "locked": true, "points": 1, "solution": false}
check.pattern_choice(mc_pattern)

# %% [markdown]
# **Q11 ({points:taylor-written}, graded by hand).** Use the 2-D picture and the heatmaps, and answer in a few
# sentences each:
#
# 1. Sensitivity analysis and Taylor at the root 0 can disagree about which input matters most. What
#    question does each of them answer?
# 2. What does the nearest root buy compared with the root 0, and what does it cost for this linear
#    digit model? (Where does the relevance go in the heatmaps? Is the nearest root a plausible image?)
# 3. Which of the three would you show someone who asks "why did the model score *this* image as a 3?",
#    and why?

# %% [markdown] nbgrader={"grade": true, "grade_id": "taylor-written", "locked": false, "points": 3, "solution": true}
# **Model answer.**
#
# 1. Sensitivity, $R_i = w_i^2$, answers "which input would change the output most if it *changed*":
#    it explains the local variation of $f$ (its total is $\lVert\mathbf{w}\rVert^2$, not $f(\mathbf{x})$)
#    and does not depend on $\mathbf{x}$ at all. Taylor at 0, $R_i = w_i x_i$, answers "how much of the
#    *value* $f(\mathbf{x})$ does input $i$ account for": it conserves $f(\mathbf{x})$ and is large only
#    where both the weight and the input are large. In 2-D: sensitivity ranks $x_2$ first ($w_2^2 = 4$),
#    gradient × input ranks $x_1$ first ($w_1 x_1 = 2.5$ vs $w_2 x_2 = 1$).
# 2. The nearest root is the closest input with $f = 0$, so the expansion explains only the smallest
#    change that removes the evidence, $\mathbf{x} - \tilde{\mathbf{x}} \parallel \mathbf{w}$; for a
#    non-linear model a nearby root also keeps the first-order expansion accurate ($\zeta$ small). The
#    cost for a linear model: $R_i = w_i^2 f(\mathbf{x})/\lVert\mathbf{w}\rVert^2$ is the sensitivity map
#    rescaled to sum to $f(\mathbf{x})$, the same pattern for every image; relevance lands on pixels
#    where $\mathbf{w}$ is large even if this image has no ink there. The nearest root also leaves the
#    data domain (pixel values below 0 or above 1): it is not a digit, so the explanation compares the
#    image with an input that no real image could be.
# 3. Gradient × input (Taylor at 0): it conserves $f(\mathbf{x})$, depends on the image and puts
#    relevance on the strokes this image actually has, weighted by how much the model likes them
#    (the root 0, an image without ink, is also a meaningful reference for digits). Sensitivity is the answer
#    to a different question, and the nearest-root map does not depend on the image beyond a scale.
#
# **Rubric.** 1 point: sensitivity = variation / local effect, not a share of $f(\mathbf{x})$, with
# Taylor at 0 = contribution to the value (conservation); 1 point: nearest root = smallest change /
# local accuracy, and for the linear model its map is $w_i^2$ rescaled (same pattern for all inputs) or
# the root is not a valid image; 1 point: a justified choice (gradient × input, or a well-argued
# alternative).

# %% [markdown]
# ## Where this goes next
#
# For a deep network neither choice is perfect: sensitivity still explains the variation, and a root
# point for the whole network is hard to find and may be far away. Layer-wise relevance propagation
# (the next exercise) and Deep Taylor decomposition apply the Taylor idea **layer by layer**, where
# each neuron is simple enough that good root points are known in closed form — e.g. the $w^2$ rule
# is exactly the nearest-root decomposition you derived here, applied to one neuron.
