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
# # Explaining one decision: gradients, integrated gradients, DeepLIFT, Grad-CAM and LIME
#
# *MIT 6.874 recitation 3 ("CNNs, RNNs, and interpretability"), NUS CS3244 tutorial 9 (Q2 LIME,
# Q3 class activation maps) and SUTD 50.039 week 10 (gradients, guided backprop, LIME).*
#
# A trained network has made a decision. Which parts of the input made it? This notebook builds the
# standard answers one by one and checks each against the property that defines it:
#
# | part | method | defining property | points |
# |---|---|---|---|
# | 1 | convolution arithmetic (the recitation's examples) | agrees with `torch`'s `conv2d` | {n_points:conv2d-check..mc-equivariance-check} |
# | 2 | gradients of a linear model | what sensitivity does and does not explain | {n_points:mc-linear-check..written-linear} |
# | 3 | integrated gradients | completeness: $\sum_i R_i = f(x) - f(x')$ | {n_points:nodes-check..mc-ig-check} |
# | 4 | DeepLIFT (rescale rule), guided backprop | summation-to-delta; the two zeroing rules | {n_points:slope-check..mc-guided-check} |
# | 5 | CAM and Grad-CAM on a small CNN | Grad-CAM = CAM on a global-average-pooling net | {n_points:cam-check..written-layers} |
# | 6 | LIME, linear vs quadratic surrogate | weighted least squares; fidelity | {n_points:lime-check..written-lime} |
#
# **How to work.** Fill in every cell that says `YOUR CODE HERE` (or `YOUR ANSWER HERE`), run it,
# then run the check below it. A check prints ✓ when your answer is right and otherwise says what is
# wrong, usually with the smallest example that shows it. The whole notebook runs in well under a
# minute.

# %%
import numpy as np
import sympy as sp
import torch
import matplotlib.pyplot as plt

from autograder.questions import attribution as check

torch.set_num_threads(1)   # the models here are tiny: one thread is fastest, also on a shared machine
n, k, s, p, d = sp.symbols("n k s p d", positive=True, integer=True)   # for the output-size formula


# %% [markdown]
# ## 1. Convolution arithmetic (MIT recitation)
#
# The recitation's discrete convolution slides a kernel $W$ over the image $I$:
#
# $$S(i, j) = (W * I)(i, j) = \sum_m \sum_n I(i + m,\, j + n)\, W(m, n).$$
#
# Strictly this is a *cross-correlation* (the textbook convolution flips the kernel), and it is what
# every deep-learning library calls convolution. With $C$ input channels, $K$ kernels $w_k$ of shape
# $(C, k_h, k_w)$, a bias $b_k$ per kernel, stride $s$ (the window jumps $s$ pixels) and zero padding
# $p$ (a border of $p$ zeros around the image):
#
# $$\mathrm{out}[k, i, j] = b_k + \sum_{c=1}^{C} \sum_{m, n} x_{\mathrm{pad}}[c,\, s\,i + m,\, s\,j + n]\; w[k, c, m, n].$$
#
# **Q1 ({points:conv2d-check}).** Implement `conv2d(x, w, b, stride, padding)` in numpy: `x` of shape `(C, H, W)`,
# `w` of shape `(K, C, kh, kw)`, `b` of shape `(K,)`; return `(K, H_out, W_out)`. Loops over the output
# positions are fine (`np.pad` pads, `np.tensordot(w, patch, axes=3)` contracts a window with all $K$
# kernels at once). The check compares with `torch.nn.functional.conv2d` on generated examples.

# %% nbgrader={"grade": false, "grade_id": "conv2d-answer", "locked": false, "solution": true}
def conv2d(x, w, b, stride=1, padding=0):
    '''x (C, H, W), w (K, C, kh, kw), b (K,) -> (K, H_out, W_out), like torch's conv2d.'''
    ### BEGIN SOLUTION
    C, H, W = x.shape
    K, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (padding, padding), (padding, padding)))
    H_out = (H + 2 * padding - kh) // stride + 1
    W_out = (W + 2 * padding - kw) // stride + 1
    out = np.zeros((K, H_out, W_out))
    for i in range(H_out):
        for j in range(W_out):
            patch = xp[:, i * stride:i * stride + kh, j * stride:j * stride + kw]
            out[:, i, j] = np.tensordot(w, patch, axes=3) + b
    return out
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "conv2d-check", "locked": true, "points": 2, "solution": false}
check.conv2d(conv2d)

# %% [markdown]
# **The recitation's two worked examples.** The first slides the 3x3 "X" kernel over a 5x5 binary
# image (no padding, stride 1). The second is a colour image: the slide prints the top-left 5x5 pixels
# of each channel inside a border of zeros (padding 1), one kernel with three channels, and bias 1.
# It shows the kernel at output position $(0, 1)$, where the three channels contribute 310, -170 and
# 325, so that output $(0, 1)$ is $310 - 170 + 325 + 1 = 466$; output $(0, 0)$ is $-25$.

# %%
image_5x5 = np.array([[1, 1, 1, 0, 0],
                      [0, 1, 1, 1, 0],
                      [0, 0, 1, 1, 1],
                      [0, 0, 1, 1, 0],
                      [0, 1, 1, 0, 0]], dtype=float)
kernel_x = np.array([[1, 0, 1],
                     [0, 1, 0],
                     [1, 0, 1]], dtype=float)

rgb = np.array([                                   # (3, 5, 5): red, green, blue (without the zero border)
    [[156, 155, 156, 158, 158], [153, 154, 157, 159, 159], [149, 151, 155, 158, 159],
     [146, 146, 149, 153, 158], [145, 143, 143, 148, 158]],
    [[167, 166, 167, 169, 169], [164, 165, 168, 170, 170], [160, 162, 166, 169, 170],
     [156, 156, 159, 163, 168], [155, 153, 153, 158, 168]],
    [[163, 162, 163, 165, 165], [160, 161, 164, 166, 166], [156, 158, 162, 165, 166],
     [155, 155, 158, 162, 167], [154, 152, 152, 157, 167]]], dtype=float)
rgb_kernel = np.array([                            # (3, 3, 3): one kernel, one 3x3 slice per channel
    [[-1, -1, 1], [0, 1, -1], [0, 1, 1]],
    [[1, 0, 0], [1, -1, -1], [1, 0, -1]],
    [[0, 1, 1], [0, 1, 0], [1, -1, 1]]], dtype=float)
rgb_bias = 1.0

# %% [markdown]
# **Q2 ({points:worked-check}).** With your `conv2d` (mind the shapes it expects) compute `feature_5x5`, the 3x3
# convolved feature of the first example, and for the colour image `rgb_channel_sums`, the three
# per-channel sums at output $(0, 0)$ (before the bias), and `rgb_output`, the top-left $2 \times 2$
# block of the output map. Check your method against the slide's numbers at $(0, 1)$ first.

# %% nbgrader={"grade": false, "grade_id": "worked-answer", "locked": false, "solution": true}
feature_5x5 = None
rgb_channel_sums = None
rgb_output = None
### BEGIN SOLUTION
feature_5x5 = conv2d(image_5x5[None], kernel_x[None, None], np.zeros(1))[0]
padded = np.pad(rgb, ((0, 0), (1, 1), (1, 1)))
rgb_channel_sums = [float((padded[c, 0:3, 0:3] * rgb_kernel[c]).sum()) for c in range(3)]
rgb_output = conv2d(rgb, rgb_kernel[None], np.array([rgb_bias]), padding=1)[0, :2, :2]
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "worked-check", "locked": true, "points": 2, "solution": false}
check.worked_examples(feature_5x5, rgb_channel_sums, rgb_output)

# %% [markdown]
# ### Output sizes
#
# Along one side of length $n$, a kernel of size $k$ with **dilation** $d$ (its taps $d$ pixels
# apart, so it spans $d(k-1)+1$ pixels), stride $s$ and padding $p$ fits at
# $\lfloor\,\cdot\,\rfloor + 1$ positions; pooling windows follow the same arithmetic.
#
# **Q3 ({points:size-formula-check}).** Derive the number of output positions as a SymPy expression `out_size` in the
# symbols `n, k, s, p, d`, assuming $s$ divides the distance the window can travel (so no floor is
# needed; a `sp.floor(...)` around the fraction is accepted too). Hint: the first window starts at
# 0; the last must end by the last padded pixel.

# %% nbgrader={"grade": false, "grade_id": "size-formula-answer", "locked": false, "solution": true}
out_size = None
### BEGIN SOLUTION
out_size = (n + 2 * p - d * (k - 1) - 1) / s + 1
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "size-formula-check", "locked": true, "points": 2, "solution": false}
check.output_size_formula(out_size)

# %% [markdown]
# **Q4 ({points:sizes-check}).** Use the formula with the floor (integer division `//` in Python):
#
# - `shape_conv`, `shape_pool`: the recitation's "tracking dimensions": a $28\times28\times1$ image,
#   a convolution with $k = 5$, $s = 1$ and $m = 3$ kernels, then max pooling with $b = 2$, $s = 2$.
#   Answer as (height, width, channels).
# - `cnn_sizes`: the side lengths after each of the three convolutions of the digit CNN of part 5,
#   with (kernel, stride, padding) = (5, 2, 2), (3, 2, 1), (3, 1, 1), starting from 28.
# - `dilated_size`: $n = 28$, $k = 3$, $s = 2$, $p = 1$, $d = 2$.

# %% nbgrader={"grade": false, "grade_id": "sizes-answer", "locked": false, "solution": true}
shape_conv = None
shape_pool = None
cnn_sizes = None
dilated_size = None
### BEGIN SOLUTION
def size(n, k, s=1, p=0, d=1):
    return (n + 2 * p - d * (k - 1) - 1) // s + 1

shape_conv = (size(28, 5), size(28, 5), 3)
shape_pool = (size(24, 2, 2), size(24, 2, 2), 3)
side1 = size(28, 5, 2, 2)
side2 = size(side1, 3, 2, 1)
cnn_sizes = (side1, side2, size(side2, 3, 1, 1))
dilated_size = size(28, 3, 2, 1, 2)
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "sizes-check", "locked": true, "points": 1, "solution": false}
check.tracking_sizes(shape_conv, shape_pool, cnn_sizes, dilated_size)

# %% [markdown]
# ### Translation equivariance
#
# The recitation: if $g$ shifts an image, $I'(i, j) = I(i - 1, j)$, then convolving the shifted image
# gives the shifted convolution, $(W * I') = g(W * I)$. With zero padding this holds away from the
# border (what leaves the image on one side is replaced by zeros). Your `conv2d` on a digit:

# %%
from reference.data import load_mnist_5k

digits_X, digits_y = load_mnist_5k()          # 5,000 digits, (5000, 784) in [0, 1], sorted by label
img = digits_X[7].reshape(1, 28, 28).astype(float)
edge = np.array([[[[1, 0, -1], [2, 0, -2], [1, 0, -1]]]], dtype=float)     # a vertical-edge (Sobel) kernel

def shift(a, dy, dx):
    '''The recitation's g: move the content down by dy and right by dx (dy, dx >= 0), filling with zeros.'''
    out = np.zeros_like(a)
    out[..., dy:, dx:] = a[..., :a.shape[-2] - dy, :a.shape[-1] - dx]
    return out

try:
    left = conv2d(shift(img, 2, 3), edge, np.zeros(1), padding=1)[0]     # convolve the shifted image
    right = shift(conv2d(img, edge, np.zeros(1), padding=1), 2, 3)[0]    # shift the convolved image
    print("max |conv(shift(I)) - shift(conv(I))| =", np.abs(left - right).max())
    fig, axes = plt.subplots(1, 4, figsize=(10, 2.8))
    for ax, pic, title in zip(axes, [img[0], shift(img, 2, 3)[0], left, right],
                              ["I", "shifted I", "conv(shift(I))", "shift(conv(I))"]):
        ax.imshow(pic, cmap="gray" if "conv" not in title else "RdBu"); ax.set_title(title); ax.axis("off")
    plt.tight_layout(); plt.show()
except Exception as err:
    print(f"implement conv2d (Q1) to see the figure ({type(err).__name__})")

# %% [markdown]
# (The digit keeps a black border after the shift, so no ink leaves the image and the difference is
# exactly 0; shift further, e.g. by `(2, 8)`, and the two differ where the ink reaches the edge.)
#
# **Q5 ({points:mc-equivariance-check}).** Which statements are true? Answer with the set of their letters, e.g. `{"A", "B"}`.
#
# {choices:equivariance_statements}

# %% nbgrader={"grade": false, "grade_id": "mc-equivariance-answer", "locked": false, "solution": true}
equivariance_true = None
### BEGIN SOLUTION
equivariance_true = {"A", "C", "E"}
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "mc-equivariance-check", "locked": true, "points": 1, "solution": false}
check.equivariance_statements(equivariance_true)

# %% [markdown]
# ## 2. What the gradient explains (SUTD)
#
# *Sensitivity analysis* scores input dimension $d$ by the squared gradient,
# $r_d(x) = \left(\frac{\partial f}{\partial x_d}(x)\right)^2$: easy and fast. Now take the simplest
# classifier, $f(x) = \sum_d w_d x_d$ (predict 1 if $f(x) > 0$). Here the natural explanation is
# $R_d = w_d x_d$: dimension $d$ supports the decision if $w_d x_d > 0$, opposes it if $w_d x_d < 0$,
# and $\sum_d R_d = f(x)$. The gradient gives
#
# $$\frac{\partial f}{\partial x_d} = w_d, \qquad \left(\frac{\partial f}{\partial x_d}\right)^2 = w_d^2 .$$
#
# **Q6 ({points:mc-linear-check}).** Which statements are true for this linear model? Answer with the set of their letters, e.g. `{"A", "B"}`.
#
# {choices:linear_statements}

# %% nbgrader={"grade": false, "grade_id": "mc-linear-answer", "locked": false, "solution": true}
linear_true = None
### BEGIN SOLUTION
linear_true = {"A", "C", "E"}
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "mc-linear-check", "locked": true, "points": 1, "solution": false}
check.linear_statements(linear_true)


# %% [markdown]
# **Q7 ({points:written-linear}, graded by hand).** Which question does sensitivity analysis answer, and why is it
# not the question "how much does $x_d$ contribute to $f(x)$"? Give a two-dimensional example
# ($w$ and $x$) in which sensitivity ranks the two dimensions the other way round from their
# contributions $w_d x_d$.

# %% [markdown] nbgrader={"grade": true, "grade_id": "written-linear", "locked": false, "points": 2, "solution": true}
# **Model answer.** Sensitivity answers "which input would change $f$ most if it were changed a
# little": it measures the local slope, $w_d^2$ for a linear model, independent of $x$. It ignores
# whether $\mathrm{sign}(x_d) = \mathrm{sign}(w_d)$ and the scale of $x_d$, so it cannot say what
# *makes up* $f(x)$; the contribution is $w_d x_d$. Example: $w = (2, 1)$, $x = (0.1, 5)$: sensitivity
# $(4, 1)$ ranks $x_1$ first, but the contributions are $(0.2, 5)$: $x_2$ makes the decision. (With
# $x = (-1, 3)$ and $w = (2, 1)$ dimension 1 even opposes the decision, $-2$, yet has the larger
# sensitivity.)
#
# **Rubric.** 1 point: sensitivity = local rate of change ("what would change $f$"), independent of
# $x$'s value / sign for a linear model; 1 point: a correct numeric example where the rankings differ.

# %% [markdown]
# ## 3. Integrated gradients (MIT recitation)
#
# Gradients *saturate*: for $y = \mathrm{ReLU}(x)$ at $x < 0$ the output has changed relative to a
# positive reference, but the gradient is 0. Integrated gradients compares $x$ with a **baseline**
# $x'$ (for MNIST a black image) and averages the gradient along the straight path between them:
#
# $$\mathrm{IG}_i(x) = (x_i - x'_i) \int_0^1 \frac{\partial F\big(x' + \alpha (x - x')\big)}{\partial x_i}\, d\alpha .$$
#
# By the fundamental theorem of calculus along the path, the attributions are **complete**:
# $\sum_i \mathrm{IG}_i(x) = F(x) - F(x')$. The recitation approximates the integral by a right
# Riemann sum, $\frac1m \sum_{k=1}^m \partial_i F\big(x' + \tfrac{k}{m}(x - x')\big)$. Any
# **quadrature rule** $\int_0^1 g(\alpha)\,d\alpha \approx \sum_k w_k\, g(\alpha_k)$ works:
#
# | rule | nodes $\alpha_k$ | weights $w_k$ |
# |---|---|---|
# | `riemann_left` | $0, \frac1m, \dots, \frac{m-1}{m}$ | $\frac1m$ |
# | `riemann_right` | $\frac1m, \frac2m, \dots, 1$ | $\frac1m$ |
# | `riemann_middle` | $\frac{1}{2m}, \frac{3}{2m}, \dots, \frac{2m-1}{2m}$ | $\frac1m$ |
# | `riemann_trapezoid` | $0, \frac{1}{m-1}, \dots, 1$ ($m$ nodes) | $\frac{1}{m-1}$, halved at both ends |
# | `gausslegendre` | numpy's `np.polynomial.legendre.leggauss(m)` nodes $t_k \in [-1, 1]$, mapped to $\frac{t_k+1}{2}$ | numpy's weights, halved |
#
# **Q8 ({points:nodes-check}).** Implement `quadrature_nodes(method, m)` returning `(alphas, weights)`, two arrays
# of length `m`, for the five rules (method names as in the table). captum's `IntegratedGradients`
# uses the same names; only its trapezoid differs: the same nodes with weights
# $(\tfrac12, 1, \dots, 1, \tfrac12)/m$, which sum to $(m-1)/m$ instead of 1.

# %% nbgrader={"grade": false, "grade_id": "nodes-answer", "locked": false, "solution": true}
def quadrature_nodes(method, m):
    ### BEGIN SOLUTION
    k = np.arange(m)
    if method == "riemann_left":
        return k / m, np.full(m, 1 / m)
    if method == "riemann_right":
        return (k + 1) / m, np.full(m, 1 / m)
    if method == "riemann_middle":
        return (k + 0.5) / m, np.full(m, 1 / m)
    if method == "riemann_trapezoid":
        w = np.full(m, 1 / (m - 1))
        w[[0, -1]] /= 2
        return k / (m - 1), w
    if method == "gausslegendre":
        t, w = np.polynomial.legendre.leggauss(m)
        return (t + 1) / 2, w / 2
    raise ValueError(f"unknown method {method!r}")
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "nodes-check", "locked": true, "points": 2, "solution": false}
check.quadrature_nodes(quadrature_nodes)


# %% [markdown]
# **Q9 ({points:ig-check}).** Implement `integrated_gradients(f, x, baseline, alphas, weights)`: `f` maps a
# batch of shape `(N, d)` to scores of shape `(N,)`; `x` and `baseline` are tensors of shape `(d,)`;
# `alphas`, `weights` are tensors of shape `(m,)`. Build all $m$ points of the path as one batch
# `(m, d)`, get the gradients with one `torch.autograd.grad`, and return the attributions, shape `(d,)`.
# The check compares with the formula on small tanh, softplus and ReLU networks and tests
# completeness on linear models, where every rule is exact.

# %% nbgrader={"grade": false, "grade_id": "ig-answer", "locked": false, "solution": true}
def integrated_gradients(f, x, baseline, alphas, weights):
    ### BEGIN SOLUTION
    path = (baseline + alphas[:, None] * (x - baseline)).detach().requires_grad_(True)   # (m, d)
    (grads,) = torch.autograd.grad(f(path).sum(), path)                                  # (m, d)
    return ((x - baseline) * (weights[:, None] * grads).sum(0)).detach()
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ig-check", "locked": true, "points": 3, "solution": false}
check.integrated_gradients(integrated_gradients)
### BEGIN HIDDEN TESTS
check.integrated_gradients_completeness(integrated_gradients)
### END HIDDEN TESTS

# %% [markdown]
# How fast does the completeness gap $F(x) - F(x') - \sum_i \mathrm{IG}_i$ close as $m$ grows? Left:
# a smooth (tanh) network; right: a ReLU network of the same shape. Both use your Q8 and Q9.

# %%
def ig(f, x, baseline, method, m):
    alphas, weights = quadrature_nodes(method, m)
    return integrated_gradients(f, x, baseline, torch.as_tensor(alphas, dtype=x.dtype),
                                torch.as_tensor(weights, dtype=x.dtype))

def toy_net(activation, seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(8, 32), activation(), torch.nn.Linear(32, 32), activation(),
                               torch.nn.Linear(32, 1)).double()

methods = ["riemann_left", "riemann_right", "riemann_middle", "riemann_trapezoid", "gausslegendre"]
steps = [2, 4, 8, 16, 32, 64, 128]
gen = torch.Generator().manual_seed(1)
x_toy, base_toy = 2 * torch.randn(8, generator=gen, dtype=torch.float64), torch.zeros(8, dtype=torch.float64)
try:
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), sharey=True)
    for ax, (name, act) in zip(axes, [("tanh network", torch.nn.Tanh), ("ReLU network", torch.nn.ReLU)]):
        net = toy_net(act)
        f = lambda X: net(X)[:, 0]
        with torch.no_grad():
            delta = float(f(x_toy[None]) - f(base_toy[None]))
        for method in methods:
            gaps = [abs(delta - float(ig(f, x_toy, base_toy, method, m).sum())) + 1e-17 for m in steps]
            ax.loglog(steps, gaps, "o-", label=method)
        ax.set_title(f"{name}: |F(x) - F(x') - sum IG|"); ax.set_xlabel("m (number of gradient evaluations)")
    axes[0].legend(fontsize=8)
    plt.tight_layout(); plt.show()
except Exception as err:
    print(f"implement quadrature_nodes (Q8) and integrated_gradients (Q9) to see the figure ({type(err).__name__})")

# %% [markdown]
# **Q10 ({points:mc-ig-check}).** Which statements are true? Answer with the set of their letters, e.g. `{"A", "B"}`.
#
# {choices:ig_statements}

# %% nbgrader={"grade": false, "grade_id": "mc-ig-answer", "locked": false, "solution": true}
ig_true = None
### BEGIN SOLUTION
ig_true = {"A", "B", "C"}
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "mc-ig-check", "locked": true, "points": 1, "solution": false}
check.ig_statements(ig_true)

# %% [markdown]
# ## 4. DeepLIFT: the rescale rule (MIT recitation)
#
# DeepLIFT also explains the *difference* from a reference: $\Delta x = x - x'$, $\Delta y = y - y'$.
# Instead of integrating gradients it replaces each ReLU's derivative by the **slope of the secant**
# between reference and input, the *multiplier*
#
# $$m = \frac{\Delta y}{\Delta x} = \frac{\mathrm{relu}(z) - \mathrm{relu}(z')}{z - z'},$$
#
# and chains multipliers like derivatives. The recitation's example: a ReLU whose input falls from
# the reference $z' = 2$ to $z = -2$.
#
# **Q11 ({points:slope-check}).** Compute the multiplier `slope` $= \Delta y / \Delta x$, the input's contribution
# `contribution` $= \Delta x \cdot m$, and `gradient_contribution`, what the gradient at $z = -2$
# times $\Delta x$ would give.

# %% nbgrader={"grade": false, "grade_id": "slope-answer", "locked": false, "solution": true}
slope = None
contribution = None
gradient_contribution = None
### BEGIN SOLUTION
dx = -2 - 2
dy = max(0, -2) - max(0, 2)
slope = dy / dx
contribution = dx * slope
gradient_contribution = 0.0 * dx
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "slope-check", "locked": true, "points": 1, "solution": false}
check.rescale_example(slope, contribution, gradient_contribution)


# %% [markdown]
# **DeepLIFT through a network.** For `model = Sequential(Linear, ReLU, Linear, ..., Linear)`:
#
# 1. run $x$ and the baseline $x'$ through the network and keep every layer's input, $a^{(l)}$ and $a'^{(l)}$;
# 2. start at the output with the multiplier $e_t$ (1 for the explained class `target`, 0 elsewhere);
# 3. go back layer by layer: a `Linear` with weight $W$ (torch stores it as `(out, in)`) passes
#    $m \mapsto W^\top m$ (its bias cancels in the differences); a `ReLU` with inputs $z$ (for $x$)
#    and $z'$ (for $x'$) multiplies $m$ elementwise by $\frac{\mathrm{relu}(z) - \mathrm{relu}(z')}{z - z'}$,
#    and by its gradient $\mathbb{1}[z > 0]$ where $z = z'$ (where the slope is $0/0$);
# 4. the attributions are $R = (x - x') \odot m$.
#
# The chain rule for multipliers makes them exact: **summation-to-delta**,
# $\sum_i R_i = f_t(x) - f_t(x')$, holds for every input, with no approximation.
#
# **Q12 ({points:deeplift-check}).** Implement `deeplift_rescale(model, x, baseline, target)` for `x`, `baseline`
# of shape `(d,)` (a `Linear` layer accepts a 1-D input); return `R` of shape `(d,)`.

# %% nbgrader={"grade": false, "grade_id": "deeplift-answer", "locked": false, "solution": true}
def deeplift_rescale(model, x, baseline, target):
    ### BEGIN SOLUTION
    acts, refs = [x], [baseline]
    with torch.no_grad():
        for layer in model:
            acts.append(layer(acts[-1]))
            refs.append(layer(refs[-1]))
        m = torch.zeros_like(acts[-1])
        m[target] = 1.0
        for layer, z, z_ref in zip(reversed(model), reversed(acts[:-1]), reversed(refs[:-1])):
            if isinstance(layer, torch.nn.Linear):
                m = layer.weight.T @ m
            elif isinstance(layer, torch.nn.ReLU):
                dz = z - z_ref
                moved = dz.abs() > 1e-10
                secant = (torch.relu(z) - torch.relu(z_ref)) / torch.where(moved, dz, torch.ones_like(dz))
                m = m * torch.where(moved, secant, (z > 0).to(z.dtype))
            else:
                raise TypeError(f"unsupported layer {layer}")
    return (x - baseline) * m
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "deeplift-check", "locked": true, "points": 3, "solution": false}
check.deeplift_rescale(deeplift_rescale)
### BEGIN HIDDEN TESTS
check.deeplift_edge_cases(deeplift_rescale)
### END HIDDEN TESTS

# %% [markdown]
# ## Guided backprop (SUTD)
#
# Guided backpropagation is backprop with two zeroing rules at every ReLU $g = \mathrm{relu}(z)$:
# the gradient $\partial E / \partial g$ arriving from above is set to zero
#
# 1. where the neuron's forward input is negative, $z < 0$ (ignore suppressed neurons; this rule alone
#    is the ordinary derivative of the ReLU), and
# 2. where the arriving gradient itself is negative (ignore signals that would decrease the output).
#
# A heuristic without theory, but "looking only at one sign of signals and gradients often gives
# clean heatmaps". Below, five explanations of the digit classifier's decision for three test digits
# (a $784 \to 100 \to 10$ ReLU network trained in a few seconds): the sensitivity
# $(\partial f_c/\partial x)^2$, gradient × input, your integrated gradients and your DeepLIFT (both
# against a black baseline), and guided backprop (from the course's reference). Red is positive,
# blue negative.

# %%
from reference.digits import train_digit_classifier
from reference.attribution import guided_backprop

mlp, mlp_accuracy = train_digit_classifier(epochs=3, progress=False)
print(f"test accuracy of the digit MLP: {mlp_accuracy:.3f}")
test_images = torch.as_tensor(digits_X[[np.flatnonzero(digits_y == c)[-3] for c in (2, 4, 7)]])
black = torch.zeros(784)

def grad_of(model, x, c):
    x = x.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(model(x[None])[0, c], x)
    return g

rows, titles = [], ["digit", "sensitivity", "gradient x input", "integrated gradients", "DeepLIFT", "guided backprop"]
for x in test_images:
    c = int(mlp(x[None]).argmax())
    g = grad_of(mlp, x, c)
    row = [x, g ** 2, g * x]
    with torch.no_grad():
        delta = float(mlp(x[None])[0, c] - mlp(black[None])[0, c])
    try:
        R = ig(lambda X: mlp(X)[:, c], x, black, "gausslegendre", 32)
        row.append(R)
        print(f"class {c}: f(x) - f(black) = {delta:.3f}; sum IG = {float(R.sum()):.3f}", end="")
    except Exception as err:
        row.append(None); print(f"class {c}: (integrated gradients: Q8/Q9 missing, {type(err).__name__})", end="")
    try:
        R = deeplift_rescale(mlp, x, black, c)
        row.append(R)
        print(f"; sum DeepLIFT = {float(R.sum()):.3f}")
    except Exception as err:
        row.append(None); print(f"; (DeepLIFT: Q12 missing, {type(err).__name__})")
    gb = guided_backprop(mlp, x[None], c)[0]
    row.append(gb)
    rows.append(row)
    print(f"   guided backprop: {float((gb < 0).float().mean()):.0%} of the pixels negative")

fig, axes = plt.subplots(len(rows), len(titles), figsize=(12, 6.5))
for r, row in enumerate(rows):
    for col, (ax, R) in enumerate(zip(axes[r], row)):
        ax.axis("off")
        if r == 0:
            ax.set_title(titles[col], fontsize=9)
        if R is None:
            continue
        R = R.detach().reshape(28, 28).numpy()
        if col == 0:
            ax.imshow(R, cmap="gray")
        else:
            v = np.abs(R).max() + 1e-12
            ax.imshow(R, cmap="bwr", vmin=-v, vmax=v)
plt.tight_layout(); plt.show()

# %% [markdown]
# **Q13 ({points:mc-guided-check}).** Which statements about guided backprop are true? Answer with the set of their letters, e.g. `{"A", "B"}`.
#
# {choices:guided_statements}

# %% nbgrader={"grade": false, "grade_id": "mc-guided-answer", "locked": false, "solution": true}
guided_true = None
### BEGIN SOLUTION
guided_true = {"A", "B", "D"}
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "mc-guided-check", "locked": true, "points": 1, "solution": false}
check.guided_statements(guided_true)

# %% [markdown]
# ## 5. Class activation maps (NUS Q3)
#
# A CNN's last convolution produces $K$ feature maps $A^k$ (each $h \times w$). In a **global average
# pooling** (GAP) network the classifier sees only their means: $f_c = \sum_k w^c_k \frac{1}{hw}
# \sum_{ij} A^k_{ij} + b_c$. Moving the sum outside gives the **class activation map**
#
# $$\mathrm{CAM}_c(i, j) = \sum_k w^c_k A^k_{ij}, \qquad f_c = \frac{1}{hw}\sum_{ij} \mathrm{CAM}_c(i, j) + b_c,$$
#
# which says where on the $h \times w$ grid the evidence for class $c$ lies. **Grad-CAM** needs no GAP:
# it weighs each map by its mean gradient,
#
# $$\alpha^c_k = \frac{1}{hw}\sum_{ij} \frac{\partial f_c}{\partial A^k_{ij}}, \qquad
# \text{Grad-CAM}_c = \mathrm{relu}\Big(\sum_k \alpha^c_k A^k\Big),$$
#
# so it works at any layer of any network. Our CNN (trained below in a few seconds on the same
# digits): three convolutions with ReLUs, $1 \times 28 \times 28 \to 16 \times 14 \times 14 \to
# 32 \times 7 \times 7 \to 32 \times 7 \times 7$ (your `cnn_sizes`), then GAP and one `Linear`.
# `cnn.features` is the convolutional part, `cnn.head` is GAP + `Linear`, and `cnn.classifier` is
# that `Linear` (weight of shape `(10, 32)`).

# %%
from reference.attribution import train_digit_cnn, upsample

cnn, cnn_accuracy = train_digit_cnn()
print(f"test accuracy of the GAP CNN: {cnn_accuracy:.3f}")
print(cnn)


# %% [markdown]
# **Q14 ({points:cam-check}).** Implement `cam(model, x, target)`: `x` is one image of shape `(1, 28, 28)`;
# return $\mathrm{CAM}_{\text{target}}$ of shape `(h, w)` (no bias, no ReLU).
#
# **Q15 ({points:gradcam-check}).** Implement `grad_cam(features, head, x, target)` for a network split as
# `head(features(x))`: the feature maps are `A = features(x[None])`, shape `(1, K, h, w)`; return
# Grad-CAM of shape `(h, w)`. The check runs it on heads where Grad-CAM is *not* CAM too.

# %% nbgrader={"grade": false, "grade_id": "cam-answer", "locked": false, "solution": true}
def cam(model, x, target):
    ### BEGIN SOLUTION
    with torch.no_grad():
        A = model.features(x[None])[0]                 # (K, h, w)
        return torch.einsum("khw,k->hw", A, model.classifier.weight[target])
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "cam-check", "locked": true, "points": 1, "solution": false}
check.cam(cam)


# %% nbgrader={"grade": false, "grade_id": "gradcam-answer", "locked": false, "solution": true}
def grad_cam(features, head, x, target):
    ### BEGIN SOLUTION
    A = features(x[None]).detach().requires_grad_(True)    # (1, K, h, w)
    (g,) = torch.autograd.grad(head(A)[0, target], A)
    alpha = g.mean(dim=(2, 3), keepdim=True)                # (1, K, 1, 1)
    return torch.relu((alpha * A).sum(1))[0].detach()       # (h, w)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "gradcam-check", "locked": true, "points": 2, "solution": false}
check.grad_cam(grad_cam)
### BEGIN HIDDEN TESTS
check.grad_cam_equals_cam(grad_cam)
### END HIDDEN TESTS

# %% [markdown]
# On a GAP network $\partial f_c / \partial A^k_{ij} = w^c_k / hw$ for every position, so
# $\alpha^c_k = w^c_k / hw$ and Grad-CAM $= \mathrm{relu}(\mathrm{CAM}) / hw$: Grad-CAM generalises CAM.
# Your two functions on the trained CNN, then Grad-CAM at the three convolutional layers (splitting
# the network after each one), upsampled to $28 \times 28$ and laid over the digits:

# %%
cnn_images = torch.as_tensor(digits_X[[np.flatnonzero(digits_y == c)[-2] for c in (0, 2, 3, 5, 6, 7)]])
cnn_images = cnn_images.reshape(-1, 1, 28, 28)
try:
    x, c = cnn_images[0], int(cnn(cnn_images[:1]).argmax())
    h, w = cam(cnn, x, c).shape
    gap = (grad_cam(cnn.features, cnn.head, x, c) - torch.relu(cam(cnn, x, c)) / (h * w)).abs().max()
    print(f"max |Grad-CAM - relu(CAM) / hw| = {float(gap):.2e} on a {h} x {w} map")

    splits = {"after conv 1 (14x14)": 2, "after conv 2 (7x7)": 4, "after conv 3 (7x7)": 6}
    fig, axes = plt.subplots(len(splits), len(cnn_images), figsize=(11, 6))
    for col, x in enumerate(cnn_images):
        c = int(cnn(x[None]).argmax())
        for row, (name, i) in enumerate(splits.items()):
            features, head = cnn.features[:i], torch.nn.Sequential(*cnn.features[i:], cnn.head)
            heat = upsample(grad_cam(features, head, x, c)[None])[0]
            ax = axes[row, col]
            ax.imshow(x[0], cmap="gray")
            ax.imshow(heat, cmap="jet", alpha=0.45)
            ax.set_xticks([]); ax.set_yticks([])
            if row == 0:
                ax.set_title(f"predicted {c}")
            if col == 0:
                ax.set_ylabel(name, fontsize=8)
    plt.tight_layout(); plt.show()
except Exception as err:
    print(f"implement cam (Q14) and grad_cam (Q15) to see the figure ({type(err).__name__})")

# %% [markdown]
# **Q16 ({points:written-layers}, graded by hand).** NUS Q3 shows the heatmaps of VGG16 (five blocks of
# convolutions) for an image of an elephant at several convolutional layers. (a) What do heatmaps of
# a classification network tell us about the image? (b) Why are different parts of the image
# activated at different layers, and why do we look at the last convolutional layer (*Block5 Conv3*)
# for the decision? Use what you see in our CNN's three rows.

# %% [markdown] nbgrader={"grade": true, "grade_id": "written-layers", "locked": false, "points": 2, "solution": true}
# **Model answer.** (a) Although trained only to classify, the network localises the object: the
# heatmap of the decision layer is high on the elephant (for VGG16 mostly on its face and ears), i.e.
# on the parts whose features drove the class score. Our small CNN's last-layer maps are coarse
# (7 x 7) and sometimes point at places where ink is *absent* (evidence by absence, e.g. an empty
# region next to a misread digit), which is worth noticing before trusting a heatmap. (b) Early
# layers have small receptive fields and generic filters (edges, strokes, textures) that respond all
# over the image, wherever their pattern occurs, so their Grad-CAM is fine-grained and tied to
# low-level structure (our conv 1 row follows pieces of the strokes). Deeper layers combine them into larger, class-specific parts,
# and the classifier reads only the last convolutional layer, so its maps, weighted by the class's
# gradients, show which regions the decision was based on; the earlier maps are only indirectly
# related to the prediction.
#
# **Rubric.** 1 point: heatmaps localise the class evidence (object / discriminative parts) though the
# network only classifies; 1 point: early layers = local generic features, the last layer = class-level
# features that directly feed the prediction (receptive field / hierarchy argument).

# %% [markdown]
# ## 6. LIME: a local surrogate, linear or quadratic (SUTD, NUS Q2)
#
# LIME explains a black box $f$ at a point $x_0$ without looking inside:
#
# 1. sample points $z_n$ around $x_0$; here uniformly in a disc of **radius** $r$ ("sample data points by radius");
# 2. weight them by proximity, $\pi_n = \exp\!\big(-\lVert z_n - x_0\rVert^2 / (2\sigma^2)\big)$ with **kernel width** $\sigma$;
# 3. fit a simple surrogate $g$ by **weighted least squares**, $\min \sum_n \pi_n \big(f(z_n) - g(z_n)\big)^2$;
# 4. read the explanation off $g$ (for a linear $g$, its coefficients).
#
# In the offsets $u = z - x_0$ the **linear** surrogate is $g(z) = c_0 + c_1 u_1 + c_2 u_2$ and the
# **quadratic** one adds $c_3 u_1^2 + c_4 u_1 u_2 + c_5 u_2^2$. Weighted least squares is ordinary
# least squares after multiplying each row of the design matrix $\Phi$ (columns
# $1, u_1, u_2[, u_1^2, u_1 u_2, u_2^2]$) and of $y = f(Z)$ by $\sqrt{\pi_n}$.
#
# The black box is a 2-D classifier with a curved boundary (the parabola $x_2 = x_1^2 - \tfrac12$);
# we explain it at $x_0 = (0, -0.3)$, just inside class 1.

# %%
from reference.attribution import curved_black_box as black_box, sample_ball

x0 = np.array([0.0, -0.3])
radius, kernel_width = 1.0, 0.5
Z = sample_ball(x0, 500, radius, seed=0)          # (500, 2), uniform in the disc of radius 1 around x0

def surrogate_predict(coef, x0, Z):
    '''Evaluate a fitted surrogate (3 coefficients: linear, 6: quadratic) at the rows of Z.'''
    U = np.asarray(Z) - x0
    cols = [np.ones(len(U)), U[:, 0], U[:, 1]] + ([U[:, 0] ** 2, U[:, 0] * U[:, 1], U[:, 1] ** 2]
                                                  if len(coef) == 6 else [])
    return np.stack(cols, axis=1) @ np.asarray(coef)

print("f(x0) =", black_box(x0[None])[0])


# %% [markdown]
# **Q17 ({points:lime-check}).** Implement `lime_surrogate(f, x0, Z, kernel_width, degree)`: the samples `Z`
# (shape `(N, 2)`) are given; return the coefficients `[c0, c1, c2]` (degree 1) or
# `[c0, ..., c5]` (degree 2) in the order above (`np.linalg.lstsq` solves least squares).

# %% nbgrader={"grade": false, "grade_id": "lime-answer", "locked": false, "solution": true}
def lime_surrogate(f, x0, Z, kernel_width, degree):
    ### BEGIN SOLUTION
    U = Z - x0
    pi = np.exp(-(U ** 2).sum(1) / (2 * kernel_width ** 2))
    cols = [np.ones(len(U)), U[:, 0], U[:, 1]]
    if degree == 2:
        cols += [U[:, 0] ** 2, U[:, 0] * U[:, 1], U[:, 1] ** 2]
    Phi = np.stack(cols, axis=1)
    root = np.sqrt(pi)
    coef, *_ = np.linalg.lstsq(Phi * root[:, None], f(Z) * root, rcond=None)
    return coef
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "lime-check", "locked": true, "points": 2, "solution": false}
check.lime_surrogate(lime_surrogate)

# %% [markdown]
# **Fidelity.** How well does the surrogate mimic $f$ where it claims to? The weighted $R^2$ on the
# samples,
#
# $$\text{fidelity} = 1 - \frac{\sum_n \pi_n \big(f(z_n) - g(z_n)\big)^2}{\sum_n \pi_n \big(f(z_n) - \bar f_\pi\big)^2},
# \qquad \bar f_\pi = \frac{\sum_n \pi_n f(z_n)}{\sum_n \pi_n},$$
#
# is 1 for a perfect local fit and 0 for a fit no better than a constant.
#
# **Q18 ({points:fidelity-check}).** Fit both surrogates on `Z` with `kernel_width` and compute `fidelity_linear`
# and `fidelity_quadratic` (use `surrogate_predict` for $g(z_n)$).

# %% nbgrader={"grade": false, "grade_id": "fidelity-answer", "locked": false, "solution": true}
fidelity_linear = None
fidelity_quadratic = None
### BEGIN SOLUTION
def weighted_r2(coef):
    y, y_hat = black_box(Z), surrogate_predict(coef, x0, Z)
    pi = np.exp(-((Z - x0) ** 2).sum(1) / (2 * kernel_width ** 2))
    ybar = (pi * y).sum() / pi.sum()
    return 1 - (pi * (y - y_hat) ** 2).sum() / (pi * (y - ybar) ** 2).sum()

fidelity_linear = weighted_r2(lime_surrogate(black_box, x0, Z, kernel_width, 1))
fidelity_quadratic = weighted_r2(lime_surrogate(black_box, x0, Z, kernel_width, 2))
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "fidelity-check", "locked": true, "points": 1, "solution": false}
check.lime_fidelity(fidelity_linear, fidelity_quadratic)

# %% [markdown]
# The picture of NUS Q2(a): the black box's classes (background), the samples (darker = more
# weight), and where each surrogate crosses $0.5$, its decision boundary. In the middle, fidelity as
# the sampling radius grows (kernel width = radius / 2); on the right, LIME's linear explanation (the
# surrogate's gradient at $x_0$) refitted with 15 samples and ten different seeds.

# %%
try:
    fits = {deg: lime_surrogate(black_box, x0, Z, kernel_width, deg) for deg in (1, 2)}
    g1, g2 = np.meshgrid(np.linspace(-1.4, 1.4, 141), np.linspace(-1.6, 1.0, 131))
    grid = np.stack([g1.ravel(), g2.ravel()], axis=1)
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.4))
    ax = axes[0]
    ax.contourf(g1, g2, black_box(grid).reshape(g1.shape), levels=20, cmap="RdBu_r", alpha=0.5)
    ax.contour(g1, g2, black_box(grid).reshape(g1.shape), levels=[0.5], colors="k", linewidths=2)
    pi = np.exp(-((Z - x0) ** 2).sum(1) / (2 * kernel_width ** 2))
    ax.scatter(Z[:, 0], Z[:, 1], c=pi, cmap="Greys", s=8, vmin=0, vmax=1)
    for deg, color in [(1, "tab:green"), (2, "tab:orange")]:
        ax.contour(g1, g2, surrogate_predict(fits[deg], x0, grid).reshape(g1.shape), levels=[0.5],
                   colors=color, linewidths=2, linestyles="--")
        ax.plot([], [], "--", color=color, label=f"{'linear' if deg == 1 else 'quadratic'} surrogate")
    ax.plot([], [], "k-", label="black box"); ax.plot(*x0, "k*", ms=14)
    ax.set_aspect("equal"); ax.legend(fontsize=8, loc="lower left"); ax.set_title("boundaries at f = 0.5")

    radii = [0.25, 0.5, 0.75, 1.0, 1.5, 2.0]
    for deg, color in [(1, "tab:green"), (2, "tab:orange")]:
        fid = []
        for r in radii:
            Zr = sample_ball(x0, 500, r, seed=0)
            coef = lime_surrogate(black_box, x0, Zr, r / 2, deg)
            w = np.exp(-((Zr - x0) ** 2).sum(1) / (2 * (r / 2) ** 2))
            y, yh = black_box(Zr), surrogate_predict(coef, x0, Zr)
            yb = (w * y).sum() / w.sum()
            fid.append(1 - (w * (y - yh) ** 2).sum() / (w * (y - yb) ** 2).sum())
        axes[1].plot(radii, fid, "o-", color=color, label="linear" if deg == 1 else "quadratic")
    axes[1].set_xlabel("sampling radius (kernel width = radius / 2)"); axes[1].set_ylabel("weighted R^2")
    axes[1].legend(); axes[1].set_title("fidelity")

    for seed in range(10):
        c = lime_surrogate(black_box, x0, sample_ball(x0, 15, radius, seed=seed), kernel_width, 1)
        axes[2].arrow(0, 0, c[1], c[2], head_width=0.03, color="tab:green", alpha=0.6)
    c = fits[1]
    axes[2].arrow(0, 0, c[1], c[2], head_width=0.04, color="k", label="500 samples")
    axes[2].set_xlim(-0.6, 0.6); axes[2].set_ylim(-0.1, 1.0); axes[2].set_aspect("equal")
    axes[2].set_xlabel("coefficient of $u_1$"); axes[2].set_ylabel("coefficient of $u_2$")
    axes[2].set_title("linear explanation, 15 samples, 10 seeds")
    plt.tight_layout(); plt.show()
except Exception as err:
    print(f"implement lime_surrogate (Q17) to see the figure ({type(err).__name__})")

# %% [markdown]
# **Q19 ({points:mc-lime-check}).** Which statements are true? Answer with the set of their letters, e.g. `{"A", "B"}`.
#
# {choices:lime_statements}

# %% nbgrader={"grade": false, "grade_id": "mc-lime-answer", "locked": false, "solution": true}
lime_true = None
### BEGIN SOLUTION
lime_true = {"A", "C", "D"}
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "mc-lime-check", "locked": true, "points": 1, "solution": false}
check.lime_statements(lime_true)

# %% [markdown]
# **Q20 ({points:written-lime}, graded by hand).** NUS Q2: (a) how do you sample points around the decision
# boundary, and how does a quadratic surrogate improve on a linear one (use your figure and
# fidelities)? (b) What are the disadvantages of LIME as an explanation method? Name at least three.

# %% [markdown] nbgrader={"grade": true, "grade_id": "written-lime", "locked": false, "points": 2, "solution": true}
# **Model answer.** (a) Sample by radius (uniformly in a ball around $x_0$, or with a priority that
# favours nearby points) and weight the samples by a proximity kernel. A curved boundary cannot be
# matched by a line: the linear surrogate's boundary is a straight line through the neighbourhood, so
# its fidelity is low (weighted $R^2 \approx 0.78$ here) and it drops as the radius grows. The
# quadratic surrogate bends with the parabola ($\approx 0.98$) and stays faithful over a larger
# region, at the price of an explanation with more terms. (b) (1) Finding a proper neighbourhood is
# hard: the result depends on the kernel width and the sampling radius, which may have to be tuned
# anew for every region; (2) the sampling is random, so repeating it can give a different
# explanation (our arrows with 15 samples); (3) locally perturbed samples may not be realistic data,
# so the surrogate is fitted to the model's behaviour off the data manifold. Also: it needs a new fit
# (many model calls) for every input, and a simple surrogate can be unfaithful where the model is
# strongly non-linear.
#
# **Rubric.** 1 point: sampling by radius/priority with proximity weights, and the quadratic fits the
# curved boundary better (higher fidelity); 1 point: at least three disadvantages, including the
# neighbourhood/kernel-width choice, instability under resampling, unrealistic perturbed samples.

# %% [markdown]
# A free cell: try other kernel widths or points $x_0$ (e.g. $x_0 = (1, 0.5)$, on the parabola's
# steep flank) and see when the linear surrogate is good enough.

# %% tags=["scratch"]
