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
# # Prototypes by activation maximization
#
# *Machine Learning 2, exercise sheet 11, exercise 1 — and Montavon, Samek & Müller (2018),
# "Methods for interpreting and understanding deep neural networks", Section 3.*
#
# A **prototype** of a class is an input that the model finds maximally typical of it. Activation
# maximization finds one by optimising the input instead of the weights:
#
# | formulation | objective to maximise over the input |
# |---|---|
# | 3.1 L2 regulariser | $\log p(\omega_c \mid \mathbf{x}) - \lambda \lVert \mathbf{x} \rVert^2$ |
# | 3.2 expert $p(\mathbf{x})$ | $\log p(\omega_c \mid \mathbf{x}) + \log p(\mathbf{x})$ |
# | 3.3 generator $\mathbf{x} = g(\mathbf{z})$ | $\log p(\omega_c \mid g(\mathbf{z})) - \lambda \lVert \mathbf{z} \rVert^2$, then $\mathbf{x}^\star = g(\mathbf{z}^\star)$ |
#
# We first solve all three in closed form for the **linear model** $y = \mathbf{w}^\top \mathbf{x} + b$,
# read as $\log p(\omega_c \mid \mathbf{x})$, then run the numeric version on a trained digit
# classifier.
#
# **How to work.** Fill in every cell that says `YOUR CODE HERE` (or `YOUR ANSWER HERE`), run it,
# then run the check below it. A check prints ✓ when your answer is right and otherwise says what is
# wrong. Answers are SymPy expressions in the symbols defined below: any equivalent form is accepted.

# %%
import numpy as np
import sympy as sp
import torch
import matplotlib.pyplot as plt

from autograder.questions import prototypes as check

n, d = sp.symbols("n d", integer=True, positive=True)   # input and code dimensions
w  = sp.MatrixSymbol("w", n, 1)        # weights of the linear model
mu = sp.MatrixSymbol("mu", n, 1)       # mean of the Gaussian expert
Sigma = sp.MatrixSymbol("Sigma", n, n) # its covariance (symmetric positive definite)
A  = sp.MatrixSymbol("A", n, d)        # generator x = A z + c
c  = sp.MatrixSymbol("c", n, 1)
lam = sp.Symbol("lam", positive=True)  # regularisation strength
x = sp.MatrixSymbol("x", n, 1)

# %% [markdown]
# SymPy matrix expressions work like the math: `w.T * x` is $\mathbf{w}^\top\mathbf{x}$ (a 1x1
# matrix), `Sigma.I` is $\Sigma^{-1}$, `A * A.T` is $AA^\top$, `sp.Identity(n)` is $I_n$ and
# `sp.ZeroMatrix(n, 1)` the zero vector.
#
# ## 1. The L2 regulariser (Section 3.1)
#
# Maximise $L(\mathbf{x}) = \mathbf{w}^\top\mathbf{x} + b - \lambda\lVert\mathbf{x}\rVert^2$. Set the
# gradient $\nabla_{\mathbf{x}} L$ to zero and solve for $\mathbf{x}$.
#
# **Q1 ({points:l2-check}).** Write the prototype $\mathbf{x}^\star_{L2}$ as `x_star_l2`.

# %% nbgrader={"grade": false, "grade_id": "l2-answer", "locked": false, "solution": true}
x_star_l2 = None
### BEGIN SOLUTION
x_star_l2 = w / (2 * lam)
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "l2-check", "locked": true, "points": 2, "solution": false}
check.l2_prototype(x_star_l2)
### BEGIN HIDDEN TESTS
check.l2_prototype_optimal(x_star_l2)
### END HIDDEN TESTS

# %% [markdown]
# ## 2. A Gaussian expert (Section 3.2)
#
# Now the data density is the expert $p(\mathbf{x}) = \mathcal{N}(\boldsymbol\mu, \Sigma)$, so
#
# $$L(\mathbf{x}) = \mathbf{w}^\top\mathbf{x} + b - \tfrac12(\mathbf{x}-\boldsymbol\mu)^\top\Sigma^{-1}(\mathbf{x}-\boldsymbol\mu) + \text{const}.$$
#
# Use $\nabla_{\mathbf{x}}\, \tfrac12 (\mathbf{x}-\boldsymbol\mu)^\top\Sigma^{-1}(\mathbf{x}-\boldsymbol\mu)
# = \Sigma^{-1}(\mathbf{x}-\boldsymbol\mu)$ for symmetric $\Sigma$.
#
# **Q2 ({points:gauss-check}).** Write the prototype $\mathbf{x}^\star_{\mathcal{N}}$ as `x_star_gauss`.

# %% nbgrader={"grade": false, "grade_id": "gauss-answer", "locked": false, "solution": true}
x_star_gauss = None
### BEGIN SOLUTION
x_star_gauss = mu + Sigma * w
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "gauss-check", "locked": true, "points": 3, "solution": false}
check.gaussian_prototype(x_star_gauss)
### BEGIN HIDDEN TESTS
check.gaussian_prototype_optimal(x_star_gauss)
### END HIDDEN TESTS

# %% [markdown]
# ## 3. A generator (Section 3.3)
#
# The data are generated as $\mathbf{z} \sim \mathcal{N}(0, I)$, $\mathbf{x} = A\mathbf{z} + \mathbf{c}$
# with $A \in \mathbb{R}^{n\times d}$. We optimise in **code space**:
# $\max_{\mathbf{z}}\; \mathbf{w}^\top(A\mathbf{z} + \mathbf{c}) + b - \lambda\lVert\mathbf{z}\rVert^2$.
#
# **Q3 ({points:gen-code-check}).** The optimal code $\mathbf{z}^\star$ as `z_star` (mind the shapes: $\mathbf{z}$ has
# $d$ entries).
#
# **Q4 ({points:gen-proto-check}).** The prototype in input space, $\mathbf{x}^\star_{g} = g(\mathbf{z}^\star)$, as `x_star_gen`.

# %% nbgrader={"grade": false, "grade_id": "gen-answer", "locked": false, "solution": true}
z_star = None
x_star_gen = None
### BEGIN SOLUTION
z_star = A.T * w / (2 * lam)
x_star_gen = A * z_star + c
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "gen-code-check", "locked": true, "points": 2, "solution": false}
check.generator_code(z_star)

# %% nbgrader={"grade": true, "grade_id": "gen-proto-check", "locked": true, "points": 2, "solution": false}
check.generator_prototype(x_star_gen)

# %% [markdown]
# ## 4. When do the three coincide?
#
# All three prototypes are "a mean plus a covariance times $\mathbf{w}$". Compare them with
# $\mathbf{x}^\star_{\mathcal{N}} = \boldsymbol\mu + \Sigma\mathbf{w}$.
#
# **Q5 ({points:coincide-l2-check}).** Which Gaussian expert $(\boldsymbol\mu, \Sigma)$ gives exactly the L2 prototype?
# Answer as `mu_l2`, `Sigma_l2` (in terms of `lam` and `n`).
#
# **Q6 ({points:coincide-gen-check}).** Which Gaussian expert gives exactly the generator's prototype? Answer as
# `mu_gen`, `Sigma_gen`. (Hint: what is the distribution of $A\mathbf{z} + \mathbf{c}$ when
# $\mathbf{z}\sim\mathcal N(0, I)$, and what does $\lambda$ change?)

# %% nbgrader={"grade": false, "grade_id": "coincide-answer", "locked": false, "solution": true}
mu_l2, Sigma_l2 = None, None
mu_gen, Sigma_gen = None, None
### BEGIN SOLUTION
mu_l2, Sigma_l2 = sp.ZeroMatrix(n, 1), sp.Identity(n) / (2 * lam)
mu_gen, Sigma_gen = c, A * A.T / (2 * lam)
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "coincide-l2-check", "locked": true, "points": 2, "solution": false}
check.coincide_with_l2(mu_l2, Sigma_l2)

# %% nbgrader={"grade": true, "grade_id": "coincide-gen-check", "locked": true, "points": 3, "solution": false}
check.coincide_with_generator(mu_gen, Sigma_gen)


# %% [markdown]
# **Q7 ({points:coincide-written}, graded by hand).** In two or three sentences: what does each choice assume about the
# data, and when is the generator's prototype equal to the L2 prototype? Why is the L2 prototype of a
# linear model a poor picture of a class?

# %% [markdown] nbgrader={"grade": true, "grade_id": "coincide-written", "locked": false, "points": 3, "solution": true}
# **Model answer.** The L2 regulariser is a Gaussian expert centred at 0 with isotropic covariance
# $I/(2\lambda)$: it assumes nothing about the data except "small inputs are likely". The generator
# implies the Gaussian $\mathcal N(\mathbf c, AA^\top)$ on inputs; its prototype equals the Gaussian
# expert's with $\boldsymbol\mu=\mathbf c$, $\Sigma = AA^\top/(2\lambda)$ ($\lambda = 1/2$ is exactly
# the generator's prior), and it equals the L2 prototype when $\mathbf c = 0$ and $AA^\top = I$
# (an orthogonal $A$, no reduction of dimension). The L2 prototype of a linear model is just the
# weight vector rescaled: it points to where the *model* responds, e.g. with negative pixel values and
# no resemblance to real data, because nothing ties it to the data distribution.
#
# **Rubric.** 1 point: L2 = isotropic Gaussian at 0 with covariance $I/(2\lambda)$; 1 point: generator
# = Gaussian $\mathcal N(\mathbf c, AA^\top)$ up to the $2\lambda$ scaling, equal to L2 when
# $\mathbf c=0$, $AA^\top = I$; 1 point: the L2 prototype is $\propto \mathbf w$ and ignores the data.

# %% [markdown]
# ## 5. Activation maximization of a trained network
#
# For a neural network there is no closed form: we climb the gradient of
# $\log p(\omega_c\mid\mathbf{x}) - \lambda\lVert\mathbf{x}\rVert^2$. Here $\log p(\omega_c\mid\mathbf{x})$
# is `torch.log_softmax(model(x), -1)[..., c]`.
#
# **Q8 ({points:am-check}).** Implement `activation_maximization(model, target, x0, lam, steps, lr)`: start at
# `x0` (a tensor of shape `(n,)`), take `steps` steps of gradient *ascent* on the objective with
# learning rate `lr` (plain gradient steps or `torch.optim.Adam` on `-objective` both work), and
# return the final `x` as a tensor of shape `(n,)`, detached. The check runs it on small logistic
# regression models, whose objective is concave, and compares with the true maximiser.

# %% nbgrader={"grade": false, "grade_id": "am-answer", "locked": false, "solution": true}
def activation_maximization(model, target, x0, lam, steps, lr):
    ### BEGIN SOLUTION
    x = x0.clone().reshape(1, -1).requires_grad_(True)
    opt = torch.optim.Adam([x], lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        objective = torch.log_softmax(model(x), dim=-1)[0, target] - lam * (x ** 2).sum()
        (-objective).backward()
        opt.step()
    return x.detach()[0]
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "am-check", "locked": true, "points": 4, "solution": false}
check.activation_maximization(activation_maximization)

# %% [markdown]
# Now the real thing: a small ReLU network trained on the 5,000 MNIST digits that ship with this
# course (it trains in a few seconds). We start every digit from a grey image and keep pixels in
# $[0, 1]$ by clipping after the ascent.

# %%
from reference.digits import train_digit_classifier, class_means

torch.manual_seed(0)
model, accuracy = train_digit_classifier(epochs=5, progress=False)
print(f"test accuracy of the digit classifier: {accuracy:.3f}")

means = class_means()
prototypes = []
for digit in range(10):
    x = activation_maximization(model, digit, torch.full((784,), 0.2), 0.05, 150, 0.05)  # your Q8
    prototypes.append(x.clamp(0, 1).reshape(28, 28).numpy())

fig, axes = plt.subplots(2, 10, figsize=(12, 2.8))
for digit in range(10):
    axes[0, digit].imshow(prototypes[digit], cmap="gray")
    axes[1, digit].imshow(means[digit].reshape(28, 28), cmap="gray")
    axes[0, digit].set_title(str(digit))
for ax in axes.flat:
    ax.axis("off")
axes[0, 0].text(-8, 14, "prototype", rotation=90, va="center")
axes[1, 0].text(-8, 14, "class mean", rotation=90, va="center")
plt.tight_layout()
plt.show()

# %% [markdown]
# **Q9 ({points:am-written}, graded by hand).** Compare the prototypes with the class means. Which strokes does
# the network find decisive? How would a stronger $\lambda$, or an expert fitted to the data
# (Section 3.2), change the pictures?

# %% [markdown] nbgrader={"grade": true, "grade_id": "am-written", "locked": false, "points": 3, "solution": true}
# **Model answer.** The prototypes are recognisable but noisy, speckled digits: the network
# responds to a few decisive strokes (the closed loop of a 0, the vertical bar of a 1, the open left
# side that separates a 3 from an 8) and to "negative evidence", dark where other classes have ink.
# They look less like digits than the class means because L2 only keeps the input small; it does not
# ask it to look like data, so isolated pixels the network happens to like survive.
# A larger $\lambda$ shrinks the prototype towards 0 (fainter, only the most decisive pixels survive);
# a data expert (Gaussian fitted to the digits, or a generator) pulls it towards realistic digits, at
# the price of showing more of the data and less of the model.
#
# **Rubric.** 1 point: a concrete observation about the pictures; 1 point: explains why they are
# not data-like (the L2 term is not a data prior); 1 point: the effect of $\lambda$ and of an expert.
