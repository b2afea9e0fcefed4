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
# # Backpropagation through time
#
# *NUS CS3244 Tutorial 09, question 1 (RNN and BPTT), and MIT 6.802/6.874 Recitation 3 (the
# future-loss recursion).*
#
# A recurrent network applies **the same weights at every time step**. Its gradient is therefore a
# sum over time steps, and each term of that sum is a product of factors that reaches back through
# time. In this notebook you
#
# 1. write the forward pass of a vanilla RNN (eqs 1-4),
# 2. derive $\partial E_T / \partial W^{[hh]}$ by the chain rule for a scalar RNN, first as in the
#    tutorial (eq 6), then fully unrolled for three steps (eq 7),
# 3. find the term that makes gradients vanish,
# 4. turn the derivation into code: BPTT for the last-step loss $E_T$, then for the whole sequence with
#    the future-loss recursion $F_t$, checked against torch autograd and finite differences,
# 5. look at how much each time step contributes to the gradient.
#
# **How to work.** Fill in every cell that says `YOUR CODE HERE` (or `YOUR ANSWER HERE`), run it,
# then run the check below it. A check prints ✓ when your answer is right and otherwise says what is
# wrong: for code, the smallest RNN on which your function disagrees with torch autograd and, where it
# can tell, the likely mistake.

# %%
import numpy as np
import sympy as sp
import torch
import matplotlib.pyplot as plt

from autograder.questions import bptt as check


def g(z, activation):
    # The hidden activation g^[h] of eq 1, by name.
    if activation == "tanh":
        return np.tanh(z)
    if activation == "sigmoid":
        return 1 / (1 + np.exp(-z))
    if activation == "relu":
        return np.maximum(z, 0)
    raise ValueError(f"activation: expected 'tanh', 'sigmoid' or 'relu', got {activation!r}")


def outer(a, b):
    # sum over all leading axes (batch, time) of the outer products a^T b: shape (a.shape[-1], b.shape[-1])
    return a.reshape(-1, a.shape[-1]).T @ b.reshape(-1, b.shape[-1])


# %% [markdown]
# ## 1. The forward pass (eqs 1-4)
#
# The tutorial's RNN reads an input $\mathbf{x}_t \in \mathbb{R}^D$ at every step $t = 1, \dots, T$:
#
# $$\mathbf{h}_t = g^{[h]}\big((\mathbf{W}^{[xh]})^\top \mathbf{x}_t + (\mathbf{W}^{[hh]})^\top \mathbf{h}_{t-1}\big) \quad (1)$$
#
# $$\hat{\mathbf{y}}_t = g^{[y]}\big((\mathbf{W}^{[hy]})^\top \mathbf{h}_t\big) \quad (2) \qquad
# \hat{\mathbf{o}}_t = \sigma(\hat{\mathbf{y}}_t) \quad (3)$$
#
# $$L = -\sum_{t=1}^T \mathbf{y}_t \cdot \log \hat{\mathbf{o}}_t \quad (4)$$
#
# with $\sigma$ the softmax, $\mathbf{y}_t$ the one-hot target of step $t$, $g^{[y]}$ the identity and
# $\mathbf{h}_0 = \mathbf{0}$. The weights are in the course's orientation (from the unit below to the
# unit above): $\mathbf{W}^{[xh]}$ is $(D, H)$, $\mathbf{W}^{[hh]}$ is $(H, H)$, $\mathbf{W}^{[hy]}$ is
# $(H, C)$. In numpy the vectors are **rows**, so eq 1 reads `h_t = g(x_t @ W_xh + h_prev @ W_hh, activation)`
# and eq 2 `y_t = h_t @ W_hy`.
#
# A batch of sequences adds a leading axis: `x` has shape `(T, D)` or `(B, T, D)`. Indexing with
# `x[..., t, :]` picks step `t` in both cases. The loss of a batch is the **sum** of the sequence losses.
#
# **Q1 ({points:forward-check}).** Implement `rnn_forward(x, W_xh, W_hh, W_hy, activation)`. It returns the hidden
# states `h` of shape `(..., T, H)` and the softmax outputs `o` of shape `(..., T, C)`. Use the
# provided `g`, and subtract the maximum before `np.exp` in the softmax so that it cannot overflow.

# %% nbgrader={"grade": false, "grade_id": "forward-answer", "locked": false, "solution": true}
def rnn_forward(x, W_xh, W_hh, W_hy, activation="tanh"):
    '''x (T, D) or (B, T, D) -> h (..., T, H), o (..., T, C) by eqs 1-3, with h_0 = 0.'''
    ### BEGIN SOLUTION
    x = np.asarray(x, dtype=float)
    h_t = np.zeros(x.shape[:-2] + (W_hh.shape[0],))             # h_0 = 0
    hs = []
    for t in range(x.shape[-2]):
        h_t = g(x[..., t, :] @ W_xh + h_t @ W_hh, activation)  # eq 1
        hs.append(h_t)
    h = np.stack(hs, axis=-2)
    y = h @ W_hy                                                # eq 2, g^[y] = identity
    e = np.exp(y - y.max(axis=-1, keepdims=True))               # eq 3, a stable softmax
    o = e / e.sum(axis=-1, keepdims=True)
    return h, o
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "forward-check", "locked": true, "points": 4, "solution": false}
check.rnn_forward(rnn_forward)
### BEGIN HIDDEN TESTS
check.rnn_forward(rnn_forward, batch=True)
### END HIDDEN TESTS

# %% tags=["scratch"]
# Try it: a sequence of T = 5 steps with D = 3 inputs, H = 4 hidden units and C = 2 classes.
# rng = np.random.default_rng(0)
# h, o = rnn_forward(rng.normal(size=(5, 3)), rng.normal(size=(3, 4)), rng.normal(size=(4, 4)),
#                    rng.normal(size=(4, 2)), "tanh")
# print(h.shape, o.shape, o.sum(axis=-1))

# %% [markdown]
# ## 2. The chain rule for the last step (eqs 5-6)
#
# The tutorial asks for the gradient of the **last step's loss**
# $E_T = -\mathbf{y}_T \cdot \log \hat{\mathbf{o}}_T$ with respect to $\mathbf{W}^{[hh]}$. The chain rule
# goes from the loss down to the hidden state:
#
# $$\frac{\partial E_T}{\partial \mathbf{W}^{[hh]}} = \frac{\partial E_T}{\partial \hat{\mathbf{o}}_T}
# \frac{\partial \hat{\mathbf{o}}_T}{\partial \hat{\mathbf{y}}_T}
# \frac{\partial \hat{\mathbf{y}}_T}{\partial \mathbf{h}_T}
# \frac{\partial \mathbf{h}_T}{\partial \mathbf{W}^{[hh]}} \quad (5)$$
#
# The last factor is where recurrence shows up: $\mathbf{h}_T = g^{[h]}(\mathbf{x}_T, \mathbf{h}_{T-1})$
# depends on $\mathbf{W}^{[hh]}$ **directly**, and **through** $\mathbf{h}_{T-1}$, which was computed
# with the same weights:
#
# $$\frac{\partial E_T}{\partial \mathbf{W}^{[hh]}} = \frac{\partial E_T}{\partial \hat{\mathbf{o}}_T}
# \frac{\partial \hat{\mathbf{o}}_T}{\partial \hat{\mathbf{y}}_T}
# \frac{\partial \hat{\mathbf{y}}_T}{\partial \mathbf{h}_T}
# \left(\frac{\partial g^{[h]}(\mathbf{x}_T, \mathbf{h}_{T-1})}{\partial \mathbf{W}^{[hh]}}
# + \frac{\partial g^{[h]}(\mathbf{x}_T, \mathbf{h}_{T-1})}{\partial \mathbf{h}_{T-1}}
# \frac{\partial \mathbf{h}_{T-1}}{\partial \mathbf{W}^{[hh]}}\right) \quad (6)$$
#
# Make this concrete on a **scalar** RNN, $h_t = g(z_t)$ with $z_t = w_x x_t + w_h h_{t-1}$, where the
# loss $E_T$ depends on $w_h$ only through $h_T$. Write it with these symbols:
#
# | symbol | stands for |
# |---|---|
# | `dE_dh` | $\partial E_T / \partial h_T$ (the first three factors of eq 5) |
# | `g_prime` | $g'(z_T)$, the activation's derivative at $z_T = w_x x_T + w_h h_{T-1}$ |
# | `h_prev` | $h_{T-1}$ |
# | `dhprev_dwh` | $\partial h_{T-1} / \partial w_h$, left unexpanded as in eq 6 |
# | `w_x`, `w_h`, `x_T` | the weights and the last input |

# %%
w_x, w_h, x_T, h_prev = sp.symbols("w_x w_h x_T h_prev", real=True)
dE_dh, g_prime, dhprev_dwh = sp.symbols("dE_dh g_prime dhprev_dwh", real=True)

# %% [markdown]
# **Q2 ({points:eq6-check}).** Write $\partial E_T / \partial w_h$ for the scalar RNN as `dET_dwh`, a SymPy
# expression in the symbols above. Differentiate $z_T = w_x x_T + w_h h_{T-1}$ by hand: which terms
# contain $w_h$, directly or through $h_{T-1}$?

# %% nbgrader={"grade": false, "grade_id": "eq6-answer", "locked": false, "solution": true}
dET_dwh = None
### BEGIN SOLUTION
dET_dwh = dE_dh * g_prime * (h_prev + w_h * dhprev_dwh)
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "eq6-check", "locked": true, "points": 3, "solution": false}
check.eq6(dET_dwh)

# %% [markdown]
# ## 3. Unrolling the recursion (eq 7)
#
# The bracket in eq 6 is itself a recursion. The tutorial calls it eq 7:
#
# $$\frac{\partial \mathbf{h}_T}{\partial \mathbf{W}^{[hh]}} = \frac{\partial g^{[h]}(\mathbf{x}_T, \mathbf{h}_{T-1})}{\partial \mathbf{W}^{[hh]}}
# + \frac{\partial g^{[h]}(\mathbf{x}_T, \mathbf{h}_{T-1})}{\partial \mathbf{h}_{T-1}}
# \frac{\partial \mathbf{h}_{T-1}}{\partial \mathbf{W}^{[hh]}} \quad (7)$$
#
# It reaches "all the way back in time till the first timestep". For the scalar RNN, with
# $d_t = \partial h_t / \partial w_h$:
#
# $$d_t = g'(z_t)\,\big(h_{t-1} + w_h\, d_{t-1}\big), \qquad d_0 = 0 \ (h_0 \text{ is a constant}).$$
#
# **Q3 ({points:unrolled-check}).** Take $T = 3$ and $g = \tanh$, so $g'(z_t) = 1 - \tanh^2(z_t) = 1 - h_t^2$. Build
# $h_1, h_2, h_3$ as SymPy expressions in `h0, x1, x2, x3, w_x, w_h` and apply the recursion step by
# step to get `dh3_dwh` $= \partial h_3 / \partial w_h$. Use the recursion, not `sp.diff`: the check
# compares your result with SymPy's own differentiation of the unrolled $h_3$, so any equivalent form
# passes. Keep the intermediate results in Python variables (`h1 = sp.tanh(...)`), not new symbols.

# %%
h0, x1, x2, x3 = sp.symbols("h0 x1 x2 x3", real=True)

# %% nbgrader={"grade": false, "grade_id": "unrolled-answer", "locked": false, "solution": true}
dh3_dwh = None
### BEGIN SOLUTION
h1 = sp.tanh(w_x * x1 + w_h * h0)
h2 = sp.tanh(w_x * x2 + w_h * h1)
h3 = sp.tanh(w_x * x3 + w_h * h2)
d1 = (1 - h1**2) * h0                 # d_0 = 0: only the direct term
d2 = (1 - h2**2) * (h1 + w_h * d1)
d3 = (1 - h3**2) * (h2 + w_h * d2)
dh3_dwh = d3
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "unrolled-check", "locked": true, "points": 3, "solution": false}
check.unrolled_t3(dh3_dwh)

# %% [markdown]
# Expand $d_3$ and count the factors. The contribution of step 1 is
# $h_0 \cdot g'(z_1)\, w_h\, g'(z_2)\, w_h\, g'(z_3)$: one factor $w_h\, g'(z_t)$ for every step it has
# to travel forward to reach $h_3$.
#
# ## 4. Which term makes gradients vanish?
#
# **Q4 ({points:vanishing-check}).** Which term of eqs 6-7 is responsible for the vanishing gradient problem? Set
# `vanishing_term` to one letter.
#
# {choices:vanishing_term}

# %% nbgrader={"grade": false, "grade_id": "vanishing-answer", "locked": false, "solution": true}
vanishing_term = None
### BEGIN SOLUTION
vanishing_term = "E"
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "vanishing-check", "locked": true, "points": 2, "solution": false}
check.vanishing_term(vanishing_term)


# %% [markdown]
# **Q5 ({points:vanishing-written}, graded by hand).** Explain in three or four sentences *why* that term makes the
# gradient vanish. What is $\partial \mathbf{h}_t / \partial \mathbf{h}_{t-1}$ for the vector RNN of
# eq 1? When is it "small" (think of $g'$ for tanh and sigmoid, and of $\mathbf{W}^{[hh]}$)? What does
# that mean for what an RNN can learn?

# %% [markdown] nbgrader={"grade": true, "grade_id": "vanishing-written", "locked": false, "points": 3, "solution": true}
# **Model answer.** The contribution of step $t$ to $\partial E_T/\partial \mathbf{W}^{[hh]}$ reaches
# $\mathbf{h}_T$ through the product $\prod_{k=t+1}^{T} \partial \mathbf{h}_k/\partial \mathbf{h}_{k-1}$,
# one Jacobian per step. For eq 1 the Jacobian is
# $\partial \mathbf{h}_k/\partial \mathbf{h}_{k-1} = \operatorname{diag}(g'(\mathbf{z}_k))\,(\mathbf{W}^{[hh]})^\top$
# (in the column convention). Its norm is at most $\max|g'| \cdot \lVert \mathbf{W}^{[hh]} \rVert_2$,
# with $|g'| \le 1$ for tanh (much less when a unit saturates) and $\le 1/4$ for sigmoid. When that
# bound is below 1 the product shrinks geometrically, like $\gamma^{T-t}$, and when it is above 1 the
# product can explode instead. So the far past contributes almost nothing to the gradient: the weights
# are updated to serve recent steps only, and the RNN cannot learn long-range dependencies (the
# short-term memory problem).
#
# **Rubric.** 1 point: the gradient from step $t$ is a *product* of $T - t$ Jacobians
# $\partial \mathbf{h}_k / \partial \mathbf{h}_{k-1}$. 1 point: the Jacobian is
# $\operatorname{diag}(g')\,\mathbf{W}^{[hh]\top}$, small when $|g'| < 1$ (saturation; sigmoid
# $\le 1/4$) and/or the largest singular value of $\mathbf{W}^{[hh]}$ is below 1; exploding gradients
# when it is above 1 earns credit too. 1 point: the consequence, that early steps barely influence
# learning, so the RNN has short memory and long-range dependencies are lost.

# %% [markdown]
# ## 5. From eqs 5-7 to code: BPTT for $E_T$
#
# In code we never form the Jacobians $\partial \mathbf{h}_T / \partial \mathbf{W}$ of eq 7 (for
# $\mathbf{W}^{[hh]}$ that would be an $H \times H \times H$ array per step). Instead we push a
# **row vector** $\boldsymbol\delta_t = \partial E_T / \partial \mathbf{h}_t$ backwards, from $t = T$ to
# $t = 1$, and add up the direct terms on the way. With $\mathbf{z}_t = \mathbf{x}_t \mathbf{W}^{[xh]} +
# \mathbf{h}_{t-1} \mathbf{W}^{[hh]}$:
#
# | step | formula | where it comes from |
# |---|---|---|
# | output | $\partial E_T / \partial \hat{\mathbf{y}}_T = \hat{\mathbf{o}}_T - \mathbf{y}_T$ | eq 5's first two factors: softmax + cross-entropy |
# | | $\partial E_T / \partial \mathbf{W}^{[hy]} = \mathbf{h}_T^\top (\hat{\mathbf{o}}_T - \mathbf{y}_T)$ | |
# | start | $\boldsymbol\delta_T = (\hat{\mathbf{o}}_T - \mathbf{y}_T)\, (\mathbf{W}^{[hy]})^\top$ | eq 5's third factor |
# | through $g$ | $\mathbf{dz}_t = \boldsymbol\delta_t \odot g'(\mathbf{z}_t)$ | $g'$ in terms of the output: tanh $1 - \mathbf{h}_t^2$, sigmoid $\mathbf{h}_t(1-\mathbf{h}_t)$, relu $[\mathbf{h}_t > 0]$ |
# | direct terms | $\mathbf{dW}^{[xh]} \mathrel{+}= \mathbf{x}_t^\top \mathbf{dz}_t$, $\;\mathbf{dW}^{[hh]} \mathrel{+}= \mathbf{h}_{t-1}^\top \mathbf{dz}_t$ | the first term of eq 7 at step $t$ |
# | recurrent path | $\boldsymbol\delta_{t-1} = \mathbf{dz}_t\, (\mathbf{W}^{[hh]})^\top$ | the second term of eq 7 |
#
# With a batch, each outer product $\mathbf{a}^\top \mathbf{b}$ is summed over the batch: that is the
# provided `outer(a, b)`.
#
# **Q6 ({points:bptt-last-check}).** Write `dg(h, activation)`, the derivative $g'(z)$ expressed through $h = g(z)$, and
# `bptt_last(x, targets, W_xh, W_hh, W_hy, activation)`, which returns
# `(E_T, dW_xh, dW_hh, dW_hy)`. Here `targets` are one-hot with the shape of `o`, and
# $E_T = -\sum \mathbf{y}_T \cdot \log \hat{\mathbf{o}}_T$ is summed over the batch. You may call your
# `rnn_forward`.

# %% nbgrader={"grade": false, "grade_id": "bptt-last-answer", "locked": false, "solution": true}
def dg(h, activation):
    '''g'(z) elementwise, written with the output h = g(z) ('tanh', 'sigmoid' or 'relu').'''
    ### BEGIN SOLUTION
    if activation == "tanh":
        return 1 - h ** 2
    if activation == "sigmoid":
        return h * (1 - h)
    if activation == "relu":
        return (h > 0).astype(float)
    raise ValueError(f"unknown activation {activation!r}")
    ### END SOLUTION


def bptt_last(x, targets, W_xh, W_hh, W_hy, activation="tanh"):
    '''-> (E_T, dW_xh, dW_hh, dW_hy) for E_T = -y_T . log o_T (summed over the batch).'''
    ### BEGIN SOLUTION
    x, targets = np.asarray(x, dtype=float), np.asarray(targets, dtype=float)
    h, o = rnn_forward(x, W_xh, W_hh, W_hy, activation)
    T = x.shape[-2]
    E_T = -np.sum(targets[..., -1, :] * np.log(o[..., -1, :]))
    dy = o[..., -1, :] - targets[..., -1, :]          # dE_T/dy_T
    dW_hy = outer(h[..., -1, :], dy)
    delta = dy @ W_hy.T                               # dE_T/dh_T
    dW_xh, dW_hh = np.zeros_like(W_xh), np.zeros_like(W_hh)
    for t in reversed(range(T)):
        dz = delta * dg(h[..., t, :], activation)
        h_prev = h[..., t - 1, :] if t > 0 else np.zeros_like(h[..., 0, :])
        dW_xh += outer(x[..., t, :], dz)              # direct terms of eq 7
        dW_hh += outer(h_prev, dz)
        delta = dz @ W_hh.T                           # recurrent path: dE_T/dh_{t-1}
    return E_T, dW_xh, dW_hh, dW_hy
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "bptt-last-check", "locked": true, "points": 4, "solution": false}
check.bptt_last(bptt_last)
### BEGIN HIDDEN TESTS
check.bptt_last(bptt_last, batch=True)
### END HIDDEN TESTS

# %% [markdown]
# ## 6. The whole sequence: the future-loss recursion $F_t$
#
# Training uses the sequence loss $L = \sum_t E_t$ (eq 4). Every step now has a loss of its own, and
# $\mathbf{h}_t$ influences its own loss and all later ones. The MIT recitation names the later ones
#
# $$F_t = \sum_{u=t+1}^{T} \text{Loss}(\hat{\mathbf{o}}_u, \mathbf{y}_u), \qquad
# \frac{\partial L}{\partial \mathbf{h}_t} = \frac{\partial \text{Loss}(\hat{\mathbf{o}}_t, \mathbf{y}_t)}{\partial \mathbf{h}_t}
# + \frac{\partial F_t}{\partial \mathbf{h}_t},$$
#
# and computes $\partial F_t / \partial \mathbf{h}_t$ backwards. It starts at $\partial F_T / \partial \mathbf{h}_T = 0$,
# since no loss comes after the last step:
#
# $$\frac{\partial F_{t-1}}{\partial \mathbf{h}_{t-1}} = \frac{\partial \mathbf{h}_t}{\partial \mathbf{h}_{t-1}}
# \left[\frac{\partial \text{Loss}(\hat{\mathbf{o}}_t, \mathbf{y}_t)}{\partial \mathbf{h}_t} + \frac{\partial F_t}{\partial \mathbf{h}_t}\right].$$
#
# In the code of Q6 this changes one line. The delta at step $t$ is the local gradient
# $(\hat{\mathbf{o}}_t - \mathbf{y}_t)(\mathbf{W}^{[hy]})^\top$ **plus** what came back from step $t+1$,
# $\mathbf{dz}_{t+1} (\mathbf{W}^{[hh]})^\top$. Also, $\partial L / \partial \mathbf{W}^{[hy]}$ now sums
# $\mathbf{h}_t^\top(\hat{\mathbf{o}}_t - \mathbf{y}_t)$ over all steps.
#
# **Q7 ({points:bptt-check}).** Implement `bptt(x, targets, W_xh, W_hh, W_hy, activation)`, which returns
# `(L, dW_xh, dW_hh, dW_hy)` for the sequence loss of eq 4, summed over the batch.

# %% nbgrader={"grade": false, "grade_id": "bptt-answer", "locked": false, "solution": true}
def bptt(x, targets, W_xh, W_hh, W_hy, activation="tanh"):
    '''-> (L, dW_xh, dW_hh, dW_hy) for L = -sum_t y_t . log o_t (eq 4, summed over the batch).'''
    ### BEGIN SOLUTION
    x, targets = np.asarray(x, dtype=float), np.asarray(targets, dtype=float)
    h, o = rnn_forward(x, W_xh, W_hh, W_hy, activation)
    T = x.shape[-2]
    L = -np.sum(targets * np.log(o))                  # eq 4
    dy = o - targets                                  # dLoss_t/dy_t at every step
    dW_hy = outer(h, dy)                              # summed over batch and time
    dW_xh, dW_hh = np.zeros_like(W_xh), np.zeros_like(W_hh)
    dF = np.zeros_like(h[..., 0, :])                  # dF_T/dh_T = 0
    for t in reversed(range(T)):
        delta = dy[..., t, :] @ W_hy.T + dF           # dLoss_t/dh_t + dF_t/dh_t
        dz = delta * dg(h[..., t, :], activation)
        h_prev = h[..., t - 1, :] if t > 0 else np.zeros_like(h[..., 0, :])
        dW_xh += outer(x[..., t, :], dz)
        dW_hh += outer(h_prev, dz)
        dF = dz @ W_hh.T                              # dF_{t-1}/dh_{t-1}
    return L, dW_xh, dW_hh, dW_hy
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "bptt-check", "locked": true, "points": 6, "solution": false}
check.bptt(bptt)
### BEGIN HIDDEN TESTS
check.bptt(bptt, batch=True)
### END HIDDEN TESTS

# %% [markdown]
# The check compared your gradients with torch autograd. The classic test needs no autograd at all:
# **central finite differences**,
# $\partial L / \partial W_{ij} \approx \big(L(W + \epsilon E_{ij}) - L(W - \epsilon E_{ij})\big) / 2\epsilon$,
# one pair of forward passes per weight. A relative error around $10^{-7}$ or below means the
# gradients match.

# %%
from reference.rnn import eval_numerical_gradient, relative_error

rng = np.random.default_rng(0)
B, T, D, H, C = 2, 5, 3, 4, 3
x_fd = rng.normal(size=(B, T, D))
targets_fd = np.eye(C)[rng.integers(0, C, size=(B, T))]
weights = {"W_xh": rng.normal(0, 0.5, (D, H)), "W_hh": rng.normal(0, 0.5, (H, H)), "W_hy": rng.normal(0, 0.5, (H, C))}

for activation in ("tanh", "sigmoid", "relu"):
    _, *grads = bptt(x_fd, targets_fd, *weights.values(), activation)
    errors = []
    for (name, W), dW in zip(weights.items(), grads):
        numeric = eval_numerical_gradient(lambda _: bptt(x_fd, targets_fd, *weights.values(), activation)[0], W)
        errors.append(f"{name} {relative_error(dW, numeric):.1e}")
    print(f"{activation:8s} relative error: " + ", ".join(errors))


# %% [markdown]
# ## 7. How far back does the gradient reach?
#
# $\partial E_T / \partial \mathbf{W}^{[hh]} = \sum_t \mathbf{h}_{t-1}^\top \mathbf{dz}_t$ is a sum of
# one term per time step. The figure shows the size $\lVert \mathbf{h}_{t-1}^\top \mathbf{dz}_t \rVert$
# of each term (step 1 contributes nothing, since $\mathbf{h}_0 = \mathbf{0}$) for a random RNN with
# $H = 32$ and $T = 40$, computed by torch autograd. On the left,
# tanh with $\mathbf{W}^{[hh]} = \rho\, Q$ for a random orthogonal $Q$, so that every singular value is
# $\rho$. On the right, the three activations at $\rho = 1$.

# %%
def step_contributions(rho, activation="tanh", T=40, H=32, D=8, C=5, seed=0):
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.normal(size=(H, H)))
    W_xh = torch.tensor(rng.normal(0, 1 / np.sqrt(D), (D, H)))
    W_hh = torch.tensor(rho * Q, requires_grad=True)
    W_hy = torch.tensor(rng.normal(0, 1 / np.sqrt(H), (H, C)))
    x = torch.tensor(rng.normal(size=(T, D)))
    act = {"tanh": torch.tanh, "sigmoid": torch.sigmoid, "relu": torch.relu}[activation]
    hs, zs = [torch.zeros(H, dtype=torch.float64)], []
    for t in range(T):
        z = x[t] @ W_xh + hs[-1] @ W_hh
        z.retain_grad()
        zs.append(z)
        hs.append(act(z))
    E_T = -torch.log_softmax(hs[-1] @ W_hy, dim=-1)[0]      # the last step's loss, target class 0
    E_T.backward()
    return np.array([float(torch.outer(hs[t].detach(), zs[t].grad).norm()) for t in range(T)])


fig, axes = plt.subplots(1, 2, figsize=(11, 3.6), sharey=True)
steps = np.arange(2, 41)                      # step 1 contributes h_0^T dz_1 = 0
for rho in (0.5, 0.9, 1.0, 1.5):
    axes[0].semilogy(steps, step_contributions(rho)[1:], label=f"$\\rho$ = {rho}")
for activation in ("tanh", "sigmoid", "relu"):
    axes[1].semilogy(steps, step_contributions(1.0, activation)[1:], label=activation)
axes[0].set_title(r"tanh: contribution of step $t$ to $\partial E_T / \partial W_{hh}$")
axes[1].set_title(r"$\rho = 1$: three activations")
for ax in axes:
    ax.set_xlabel(r"time step $t$  ($T = 40$)")
    ax.legend()
axes[0].set_ylabel(r"$\Vert h_{t-1}^\top dz_t \Vert$")
plt.tight_layout()
plt.show()

# %% [markdown]
# **Q8 ({points:figure-written}, graded by hand).** Read the figure. How quickly does a step's contribution to
# $\partial E_T / \partial \mathbf{W}^{[hh]}$ fall off with its distance $T - t$ from the end, and how does
# that depend on $\rho$ and on the activation? Why does the sigmoid curve fall fastest? Why does even
# $\rho = 1.5$ not make tanh explode? What does this imply for learning a dependency 30 steps long?

# %% [markdown] nbgrader={"grade": true, "grade_id": "figure-written", "locked": false, "points": 3, "solution": true}
# **Model answer.** Below $\rho = 1.5$ the contributions fall off geometrically with the distance
# $T - t$ (a straight line on the log scale), because each step back multiplies by another
# $\operatorname{diag}(g')\,\mathbf{W}^{[hh]\top}$. For tanh with $\rho = 0.5$ they lose about 17 orders
# of magnitude over 40 steps, and even with $\rho = 0.9$ or $1$ they lose 7 to 9, since
# $1 - h^2 < 1$ wherever a unit is active. Sigmoid falls fastest (about 25 orders of magnitude at
# $\rho = 1$) because $\sigma' \le 1/4$: each step multiplies by at most $\rho/4$. ReLU passes a
# gradient unchanged through active units ($g' = 1$) and blocks it at inactive ones, so it decays at
# about the rate of tanh here. With $\rho = 1.5$ a linear RNN would explode like $1.5^{T-t}$, but tanh
# saturates: large $|z|$ make $1 - h^2$ small, which offsets the gain, so the curve stays roughly
# level instead of exploding. A dependency 30 steps long therefore contributes many orders of
# magnitude less to $\partial E_T/\partial \mathbf{W}^{[hh]}$ than the last few steps (unless the
# network sits at the edge of saturation), and gradient descent practically does not learn it.
#
# **Rubric.** 1 point: geometric decay with $T - t$, faster for small $\rho$. 1 point: sigmoid is
# fastest because $\sigma' \le 1/4$, and saturation (small $1 - h^2$) keeps tanh from exploding at
# $\rho = 1.5$. 1 point: the consequence for long dependencies (a negligible share of the gradient,
# so they are not learned).
