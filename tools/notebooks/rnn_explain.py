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
# # Explaining a recurrent classifier: LRP through time
#
# *Pattarawat Chormai, "Designing Recurrent Neural Networks for Explainability", chapter 4 (and the
# Deep Taylor rules of Section 3.3, Table 3.1).*
#
# The thesis asks a simple question: when a recurrent network reads an image piece by piece, does its
# explanation still point at the right pieces? An MNIST digit $\boldsymbol x \in \mathbb R^{28\times 28}$
# is cut **column-wise** into a sequence $\boldsymbol x_0, \dots, \boldsymbol x_{T-1}$ of $T$ = SEQ chunks.
# A cell with parameters $\boldsymbol\theta$ reads one chunk per step and passes a recurrent input on;
# after the last step it decides (Fig. 4.3):
#
# $$\boldsymbol r_{t+1} = g_r(\boldsymbol\theta, \boldsymbol x_t, \boldsymbol r_t), \qquad
# \boldsymbol h = g_h(\boldsymbol\theta, \boldsymbol x_{T-1}, \boldsymbol r_{T-1}), \qquad
# \hat{\boldsymbol y} = \mathrm{softmax}(\boldsymbol h), \qquad \boldsymbol r_0 = \boldsymbol 0 .$$
#
# The quantity we explain is the winning raw score,
#
# $$f(\boldsymbol x) = \max_i h_i ,$$
#
# and we propagate it back with the Deep Taylor rules, through the layers **and through time**, down to
# the pixels of every chunk. Two cells of about the same size (Table 4.3) give strikingly different
# heatmaps, and you will see why.
#
# You will
#
# 1. build the thesis's **Deep cell** in torch and check it against Table 4.3 and a trained model ({points:test_xt_shape..test_deep_forward});
# 2. implement LRP back through **one time step** and through the recurrent layer ({points:test_zplus..test_lrp_recurrent});
# 3. explain the **whole sequence** ({points:test_explain_sequence});
# 4. draw heatmaps with the shipped Shallow-7 and Deep-7 models and measure the relevance per time
#    step ({points:test_step_shares..test_emd});
# 5. compare Shallow with Deep ({points:test_mc_last_steps..test_mc_statements});
# 6. test that comparison as a reviewer would: swap the rule at Shallow's concatenation, and explain the
#    **untrained** models (a sanity check) ({points:test_zplus_step..test_mc_sanity});
# 7. say what the heatmaps show ({points:answer_written}, graded by hand).
#
# **How to work.** Fill in every cell that says `YOUR CODE HERE` (or `YOUR ANSWER HERE`), run it, then
# run the check below it. A check prints ✓ when your answer is right and otherwise says what is wrong.
# Nothing is trained here: the two models were trained for you and load in a second.

# %%
import copy
import math
from importlib import resources

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
import matplotlib.pyplot as plt

from reference.thesis import data as thesis_data               # the digits (nothing else)
from reference.thesis.train import load_checkpoint             # loads a shipped model
from autograder.questions import rnn_explain as check

torch.set_grad_enabled(False)          # no training in this notebook
torch.set_num_threads(1)               # small matrices: one thread is fastest (and polite on a shared machine)
split = thesis_data.load("mnist5k")["test"]
test_images = torch.as_tensor(split.images)     # (1000, 28, 28), pixels in [0, 1]
test_labels = torch.as_tensor(split.labels)
print(test_images.shape, test_images.min().item(), test_images.max().item())

# %% [markdown]
# ## 1. Images as sequences (Table 4.1)
#
# Chunk $t$ holds the columns $t\,w, \dots, (t+1)\,w - 1$ of the image, with $w = 28 / \mathrm{SEQ}$; a
# cell sees it flattened to a vector. The thesis uses $\mathrm{SEQ} \in \{1, 4, 7, 14\}$.
#
# **Q1 ({points:test_xt_shape}).** Give the shape (rows, columns) of one chunk $\boldsymbol x_t$ for each sequence
# length as a dict `xt_shape = {1: (..., ...), 4: ..., 7: ..., 14: ...}`.

# %% nbgrader={"grade": false, "grade_id": "answer_xt_shape", "locked": false, "solution": true}
xt_shape = None
### BEGIN SOLUTION
xt_shape = {1: (28, 28), 4: (28, 7), 7: (28, 4), 14: (28, 2)}
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "test_xt_shape", "locked": true, "points": 2, "solution": false}
check.xt_shapes(xt_shape)


# %% [markdown]
# ## 2. The Deep cell (Sec. 4.3.2, Fig. 4.4b, Fig. 4.6)
#
# Every layer of the thesis computes $\boldsymbol h^{(l)} = W^\top \boldsymbol a^{(l-1)} - \sigma_s(\boldsymbol b)$
# with the softplus $\sigma_s(b) = \log(1 + e^b)$, so that **biases are never positive**, as Deep Taylor
# decomposition assumes (Sec. 4.4). `NegBiasLinear` below is that layer (weights from a normal
# truncated at $\pm 2\sigma$, $\sigma = 0.1$; $\sigma_s(b) = 0.01$ at the start).
#
# For one step $t$ the Deep cell computes (dropout 0.5 where marked, only while training)
#
# | layer | computes | units |
# |---|---|---|
# | 1' | $\boldsymbol a^{(1)}_t = \mathrm{dropout}(\mathrm{relu}(W_{1'}^\top \boldsymbol x_t - \sigma_s(\boldsymbol b_{1'})))$ | 512 |
# | 4 | $\boldsymbol a^{(4)}_t = \mathrm{relu}(W_4^\top [\boldsymbol a^{(1)}_t; \boldsymbol r_t] - \sigma_s(\boldsymbol b_4))$, on the **concatenation** of the features and the recurrent input | 256 |
# | 5 | $\boldsymbol r_{t+1} = \mathrm{relu}(W_5^\top \boldsymbol a^{(4)}_t - \sigma_s(\boldsymbol b_5))$ | 128 |
# | 4' | (last step only) $\boldsymbol a^{(4')} = \mathrm{relu}(W_{4'}^\top \mathrm{dropout}(\boldsymbol a^{(4)}_{T-1}) - \sigma_s(\boldsymbol b_{4'}))$ | 64 |
# | 6 | $\boldsymbol h = W_6^\top \boldsymbol a^{(4')} - \sigma_s(\boldsymbol b_6)$ | 10 |
#
# The Shallow cell (Fig. 4.4a) has no layer 1' and no 4': its layer 4 (768 units) sees the pixels
# $[\boldsymbol x_t; \boldsymbol r_t]$ directly, and $\boldsymbol h$ is computed from
# $\boldsymbol a^{(4)}_{T-1}$ by one layer. The sizes were chosen so that both have about the same number
# of parameters (Table 4.3: Deep-7 has **271,946**, Shallow-7 291,210).

# %%
class NegBiasLinear(nn.Linear):
    # z = W^T a - softplus(b): the thesis's dense layer (torch stores W^T, of shape (out, in), as .weight)
    def __init__(self, in_features, out_features):
        super().__init__(in_features, out_features, bias=False)
        nn.init.trunc_normal_(self.weight, std=0.1, a=-0.2, b=0.2)
        self.b = nn.Parameter(torch.full((out_features,), math.log(math.expm1(0.01))))

    def forward(self, a):
        return F.linear(a, self.weight, -F.softplus(self.b))


# %% [markdown]
# **Q2 ({points:test_deep_parameters+test_deep_forward}).** Write the Deep cell as a torch module `DeepRNN(seq_len=7)` (for any SEQ of Table 4.1
# with a recurrent layer: 4, 7 or 14) with four parts, named as below so that a trained model's weights
# fit into it:
#
# - `self.features`: layer 1' (`NegBiasLinear`, ReLU, `nn.Dropout(0.5)`), reading one flattened chunk;
# - `self.combine`: layer 4 on the concatenation `[a1; r]` (features first);
# - `self.recur`: layer 5;
# - `self.head`: `nn.Dropout(0.5)`, layer 4', ReLU, the output layer 6.
#
# `forward(images)` takes images of shape `(B, 28, 28)`, starts from $\boldsymbol r_0 = \boldsymbol 0$,
# runs the steps with `x_t = images[:, :, t*w:(t+1)*w].reshape(B, -1)` and returns the raw scores
# $\boldsymbol h$ of shape `(B, 10)`.
#
# The first check counts your parameters against Table 4.3 and names the part that is off; the second
# copies the weights of the trained Deep-7 into your layers and compares your scores with the model's.

# %% nbgrader={"grade": false, "grade_id": "answer_deep_cell", "locked": false, "solution": true}
class DeepRNN(nn.Module):
    def __init__(self, seq_len=7):
        super().__init__()
        self.seq_len, self.width = seq_len, 28 // seq_len
        ### BEGIN SOLUTION
        self.features = nn.Sequential(NegBiasLinear(28 * self.width, 512), nn.ReLU(), nn.Dropout(0.5))
        self.combine = NegBiasLinear(512 + 128, 256)
        self.recur = NegBiasLinear(256, 128)
        self.head = nn.Sequential(nn.Dropout(0.5), NegBiasLinear(256, 64), nn.ReLU(), NegBiasLinear(64, 10))
        ### END SOLUTION

    def forward(self, images):
        ### BEGIN SOLUTION
        B, w = images.shape[0], self.width
        r = images.new_zeros(B, 128)
        for t in range(self.seq_len):
            x_t = images[:, :, t * w:(t + 1) * w].reshape(B, -1)
            a1 = self.features(x_t)
            a4 = torch.relu(self.combine(torch.cat([a1, r], dim=1)))
            r = torch.relu(self.recur(a4))
        return self.head(a4)
        ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_deep_parameters", "locked": true, "points": 3, "solution": false}
check.deep_cell_parameters(DeepRNN)
### BEGIN HIDDEN TESTS
check.deep_cell_parameters(DeepRNN, seq_lens=(4, 14))
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "test_deep_forward", "locked": true, "points": 2, "solution": false}
check.deep_cell_forward(DeepRNN)
### BEGIN HIDDEN TESTS
check.deep_cell_forward(DeepRNN, n_images=40)
### END HIDDEN TESTS

# %% [markdown]
# ## 3. Relevance back through one time step
#
# **The rules (Table 3.1).** A layer $a_k = \mathrm{relu}(\sum_j a_j w_{jk} + b_k)$ with $b_k \le 0$ passes
# the relevance $R_k$ of its outputs to its inputs. The root point of the Taylor expansion depends on
# the domain of the inputs:
#
# - ReLU activations, $a_j \ge 0$, the **$z^+$ rule**:
#   $\displaystyle R_j = \sum_k \frac{a_j w_{jk}^+}{\sum_{j'} a_{j'} w_{j'k}^+}\, R_k$, with $w^+ = \max(0, w)$;
# - pixels in a box, $l_j \le a_j \le h_j$ (here $[0, 1]$), the **$z^\beta$ rule**:
#   $\displaystyle R_j = \sum_k \frac{a_j w_{jk} - l_j w_{jk}^+ - h_j w_{jk}^-}{\sum_{j'} a_{j'} w_{j'k} - l_{j'} w_{j'k}^+ - h_{j'} w_{j'k}^-}\, R_k$,
#   with $w^- = \min(0, w)$ (the signs follow the derivation, eqs. 3.22-3.25; the printed Table 3.1 swaps them).
#
# Neither rule puts the bias in its denominator, so $\sum_j R_j = \sum_k R_k$ for every output with a
# non-zero denominator: relevance is **conserved**, layer by layer, down to the pixels (eq. 3.8).
#
# **Orientation.** The thesis writes $w_{jk}$ from input $j$ to output $k$: a matrix of shape $(J, K)$,
# with $z = a\,w$. torch's `nn.Linear` stores the transpose, `layer.weight` of shape $(K, J)$; so the
# thesis's $w$ of a layer is `layer.weight.T`.
#
# **Q3 ({points:test_zplus}).** Implement `zplus(a, w, R)` in torch: `a` of shape `(B, J)` with `a >= 0`, `w` of
# shape `(J, K)`, `R` of shape `(B, K)`; return `(B, J)`. An output with $z_k = 0$ passes nothing
# (`safe_divide` below gives 0 there).

# %%
def safe_divide(R, z):
    # R / z, and 0 wherever z == 0
    return torch.where(z == 0, torch.zeros_like(z), R / torch.where(z == 0, torch.ones_like(z), z))


# %% nbgrader={"grade": false, "grade_id": "answer_zplus", "locked": false, "solution": true}
def zplus(a, w, R):
    ### BEGIN SOLUTION
    wp = w.clamp(min=0)
    z = a @ wp                  # z_k = sum_j a_j w_jk+
    s = safe_divide(R, z)       # s_k = R_k / z_k
    return a * (s @ wp.T)       # R_j = a_j sum_k w_jk+ s_k
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_zplus", "locked": true, "points": 2, "solution": false}
check.zplus(zplus)


# %% [markdown]
# **The split at the concatenation.** Layer 4 of the Deep cell reads one vector,
# $[\boldsymbol a^{(1)}_t; \boldsymbol r_t]$. The $z^+$ rule does not care where its inputs come from:
# its denominator runs over **both** parts,
#
# $$z_k = \sum_{j \in \text{features}} a^{(1)}_j w_{jk}^+ + \sum_{j \in \text{recurrent}} r_j w_{jk}^+ ,$$
#
# and each input takes its share $a_j w^+_{jk} / z_k$ of $R_k$. Split the result where the concatenation
# was joined: the first part is the relevance of this step's features (it goes on to the chunk's
# pixels), the second the relevance of $\boldsymbol r_t$, which belongs to the **previous** steps. By
# conservation, $\sum R_{\text{features}} + \sum R_{\boldsymbol r} = \sum_k R_k$.
#
# **Q4 ({points:test_lrp_step}).** Implement `lrp_step(a_features, r, w4, R_a4)`, returning the pair
# `(R_features, R_r)`: `a_features` `(B, F)`, `r` `(B, 128)` (any size in the check), `w4` of shape
# `(F + 128, K)` in the thesis orientation, `R_a4` the relevance `(B, K)` of layer 4's outputs.

# %% nbgrader={"grade": false, "grade_id": "answer_lrp_step", "locked": false, "solution": true}
def lrp_step(a_features, r, w4, R_a4):
    ### BEGIN SOLUTION
    a = torch.cat([a_features, r], dim=-1)
    R = zplus(a, w4, R_a4)
    n = a_features.shape[-1]
    return R[..., :n], R[..., n:]
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_lrp_step", "locked": true, "points": 4, "solution": false}
check.lrp_step(lrp_step)
### BEGIN HIDDEN TESTS
check.lrp_step(lrp_step, max_examples=80)
### END HIDDEN TESTS

# %% [markdown]
# **Back to the previous step.** $\boldsymbol r_t = \mathrm{relu}(W_5^\top \boldsymbol a^{(4)}_{t-1} - \sigma_s(\boldsymbol b_5))$
# came out of layer 5 at step $t-1$, and $\boldsymbol a^{(4)}_{t-1} \ge 0$: the $z^+$ rule sends
# $R_{\boldsymbol r}$ on to $\boldsymbol a^{(4)}_{t-1}$,
#
# $$R_{\boldsymbol a^{(4)}_{t-1}} = z^+\big(\boldsymbol a^{(4)}_{t-1},\, w_5,\, R_{\boldsymbol r_t}\big),$$
#
# where it is split again by layer 4 of step $t-1$, and so on down to the first step.
#
# **Q5 ({points:test_lrp_recurrent}).** Implement `lrp_recurrent(model, a4_prev, R_r)` for a trained model whose layer 5 is
# `model.recur` (an `nn.Linear`); mind the orientation.

# %% nbgrader={"grade": false, "grade_id": "answer_lrp_recurrent", "locked": false, "solution": true}
def lrp_recurrent(model, a4_prev, R_r):
    ### BEGIN SOLUTION
    w5 = model.recur.weight.detach().T      # (J, K) = (units of a4, 128)
    return zplus(a4_prev, w5, R_r)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_lrp_recurrent", "locked": true, "points": 2, "solution": false}
check.lrp_recurrent(lrp_recurrent)

# %% [markdown]
# ## 4. Relevance through the whole sequence
#
# Here are the two trained models, Shallow-7 and Deep-7. They were trained with the thesis's recipe
# (Adam, batch 50, dropout 0.5, Sec. 4.4) on the 4,000 training digits that ship with this course; their
# test accuracy is printed below (the thesis trained on all of MNIST for 200 epochs and reached 0.98).
# A model has the parts you know, `model.features`, `model.combine` (layer 4), `model.recur` (layer 5),
# `model.head`, the attributes `model.seq_len` and `model.width` (= 28 / SEQ), and
#
# `model.steps(images)`: runs the recurrence and returns one dict per step $t = 0, \dots, T-1$ with
#
# | key | shape (Deep-7) | what |
# |---|---|---|
# | `"x"` | `(B, 112)` | the flattened chunk $\boldsymbol x_t$ |
# | `"features"` | `(B, 512)` | $\boldsymbol a^{(1)}_t$ (for Shallow: the pixels $\boldsymbol x_t$ themselves) |
# | `"r"` | `(B, 128)` | the recurrent input $\boldsymbol r_t$ ($\boldsymbol r_0 = \boldsymbol 0$) |
# | `"a4"` | `(B, 256)` | $\boldsymbol a^{(4)}_t$ |

# %%
CHECKPOINTS = resources.files("reference.thesis") / "checkpoints"
models = {}
for name in ("shallow", "deep"):
    models[name], info = load_checkpoint(CHECKPOINTS / f"{name}-7-mnist5k.pt")
    n_params = sum(p.numel() for p in models[name].parameters())
    print(f"{name.capitalize()}-7: {n_params} parameters, {info.epochs_done} epochs, test accuracy {info.accuracy:.3f}")

ones = test_images[test_labels == 1]            # the class-1 test digits (Fig. 4.8, 4.9)


# %% [markdown]
# Three more helpers, so that you can concentrate on the time axis:
#
# - `head_relevance(model, a4_last, R_h)`: $z^+$ (your `zplus`) through the head, from the relevance
#   `R_h` of the raw scores $\boldsymbol h$ down to $\boldsymbol a^{(4)}_{T-1}$;
# - `pixel_relevance(model, x_t, R_features)`: from the features of a step to the chunk's pixels, with
#   $z^\beta$ on layer 1' (pixels in $[0, 1]$); for Shallow the features *are* the pixels;
# - `shallow_step(x_t, r, w4, R_a4)`: Shallow's layer 4 sees pixels and $\boldsymbol r_t$ side by side, so
#   its rule is $z^\beta$ on the pixel part and $z^+$ on the recurrent part, with **one** denominator
#   for both; it returns `(R_pixels, R_r)`, like your `lrp_step`.

# %%
def zbeta(x, w, R, low=0.0, high=1.0):
    # z^beta rule for inputs low <= x <= high: R_j = sum_k (x_j w_jk - l w_jk+ - h w_jk-) R_k / z_k
    wp, wn = w.clamp(min=0), w.clamp(max=0)
    z = x @ w - low * wp.sum(0) - high * wn.sum(0)
    s = safe_divide(R, z)
    return x * (s @ w.T) - low * (s @ wp.T) - high * (s @ wn.T)


def head_relevance(model, a4_last, R_h):
    acts = [a4_last]
    for layer in model.head:                       # Dropout, Linear, ReLU, ... (eval mode: dropout is off)
        acts.append(layer(acts[-1]))
    R = R_h
    for layer, a in reversed(list(zip(model.head, acts))):
        if isinstance(layer, nn.Linear):
            R = zplus(a, layer.weight.T, R)       # ReLU and Dropout pass relevance on unchanged
    return R


def pixel_relevance(model, x_t, R_features):
    if len(model.features) == 0:                   # Shallow: layer 4 reads the pixels directly
        return R_features
    return zbeta(x_t, model.features[0].weight.T, R_features, 0.0, 1.0)


def shallow_step(x_t, r, w4, R_a4, low=0.0, high=1.0):
    n = x_t.shape[-1]
    wx, wr = w4[:n], w4[n:]
    wxp, wxn, wrp = wx.clamp(min=0), wx.clamp(max=0), wr.clamp(min=0)
    z = x_t @ wx - low * wxp.sum(0) - high * wxn.sum(0) + r @ wrp     # one denominator for both parts
    s = safe_divide(R_a4, z)
    R_x = x_t * (s @ wx.T) - low * (s @ wxp.T) - high * (s @ wxn.T)
    return R_x, r * (s @ wrp.T)


# %% [markdown]
# **The algorithm** (Algorithm 1, unrolled in time). Start with the relevance of the raw scores,
# $R_{h_i} = f(\boldsymbol x)$ for the winning class $i = \arg\max_i h_i$ and 0 for the others. Pass it
# through the head to $\boldsymbol a^{(4)}_{T-1}$. Then, for $t = T-1, \dots, 0$:
#
# 1. split $R_{\boldsymbol a^{(4)}_t}$ at layer 4 into $R_{\text{features}}$ and $R_{\boldsymbol r_t}$
#    (`lrp_step` for Deep, `shallow_step` for Shallow, i.e. when `len(model.features) == 0`);
# 2. send $R_{\text{features}}$ to the pixels of chunk $t$ (`pixel_relevance`);
# 3. if $t > 0$, send $R_{\boldsymbol r_t}$ through layer 5 to $\boldsymbol a^{(4)}_{t-1}$ (`lrp_recurrent`).
#
# Put the chunks back in their places: chunk $t$ is the `(B, 28, w)` block of columns $t\,w, \dots, (t+1)\,w - 1$.
# Nothing is lost on the way, so the heatmap sums to $f(\boldsymbol x)$.
#
# **Q6 ({points:test_explain_sequence}).** Implement `explain_sequence(model, images, shallow_rule=shallow_step)` for images
# `(B, 28, 28)`, returning the pixel relevance `(B, 28, 28)`. For Shallow's layer 4 call `shallow_rule`
# (by default the `shallow_step` above; in section 7 you will pass another rule). It must work for both
# cells and any sequence length with a recurrent layer (the check also uses randomly initialised Deep and
# Shallow cells with SEQ = 4 and 14).

# %% nbgrader={"grade": false, "grade_id": "answer_explain_sequence", "locked": false, "solution": true}
def explain_sequence(model, images, shallow_rule=shallow_step):
    model.eval()   # dropout off: we explain the network as it predicts
    ### BEGIN SOLUTION
    trace = model.steps(images)
    h = model.head(trace[-1]["a4"])
    f = h.max(dim=1).values                                        # f(x) = max_i h_i
    R_h = torch.zeros_like(h).scatter(1, h.argmax(dim=1, keepdim=True), f[:, None])
    R = head_relevance(model, trace[-1]["a4"], R_h)                # relevance of a4_(T-1)
    w4 = model.combine.weight.T
    step_rule = shallow_rule if len(model.features) == 0 else lrp_step
    chunks = [None] * model.seq_len
    for t in reversed(range(model.seq_len)):
        s = trace[t]
        R_features, R_r = step_rule(s["features"], s["r"], w4, R)
        chunks[t] = pixel_relevance(model, s["x"], R_features).reshape(-1, 28, model.width)
        if t > 0:
            R = lrp_recurrent(model, trace[t - 1]["a4"], R_r)
    return torch.cat(chunks, dim=2)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_explain_sequence", "locked": true, "points": 5, "solution": false}
check.explain_sequence(explain_sequence)
### BEGIN HIDDEN TESTS
check.explain_sequence(explain_sequence, thorough=True)
### END HIDDEN TESTS

# %% [markdown]
# ## 5. Heatmaps of Shallow-7 and Deep-7 (Fig. 4.7, 4.8)
#
# First one test digit of every class, then eight digits of class 1 (as in Fig. 4.8). Red is positive
# relevance (each heatmap scaled to its own maximum); the thin lines are the borders of the seven chunks.
# Where do the two models put the relevance? (Inside a chunk, $z^\beta$ also gives relevance to blank
# pixels: with $h_j = 1$ the term $-h_j w_{jk}^-$ credits a pixel for *not* being ink where the weight is
# negative.)

# %%
def show_heatmaps(images, title):
    n = len(images)
    heat = {name: explain_sequence(model, images) for name, model in models.items()}
    fig, axes = plt.subplots(3, n, figsize=(1.25 * n, 4.2), squeeze=False)
    for i in range(n):
        axes[0, i].imshow(images[i], cmap="gray_r", vmin=0, vmax=1)
        for row, name in enumerate(heat, start=1):
            r = heat[name][i]
            lim = max(float(r.abs().max()), 1e-12)
            axes[row, i].imshow(r, cmap="seismic", vmin=-lim, vmax=lim)
    for ax in axes.flat:
        for t in range(1, 7):
            ax.axvline(4 * t - 0.5, color="0.6", lw=0.4)
        ax.set_xticks([])
        ax.set_yticks([])
    for row, label in enumerate(["input", "Shallow-7", "Deep-7"]):
        axes[row, 0].set_ylabel(label, fontsize=9)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    plt.show()


one_per_class = torch.stack([test_images[test_labels == c][0] for c in range(10)])
show_heatmaps(one_per_class, "one test digit per class (cf. Fig. 4.7)")
show_heatmaps(ones[:8], "class 1 (cf. Fig. 4.8)")


# %% [markdown]
# **Relevance per time step (Fig. 4.9).** Sum the relevance of all class-1 test digits over the pixels of
# each chunk and divide by the total: the share $P_t$ of step $t$. Do the same with the pixel intensities
# of the same images, $Q_t$: where the ink is. If a model's relevance follows the data, $P \approx Q$.
#
# **Q7 ({points:test_step_shares}).** Implement `step_shares(values, seq_len)`: `values` of shape `(N, 28, 28)` (heatmaps
# or images, all $\ge 0$ up to rounding); return the `(seq_len,)` shares of the **population**: add up
# each chunk's values over all images first, then divide by the grand total.

# %% nbgrader={"grade": false, "grade_id": "answer_step_shares", "locked": false, "solution": true}
def step_shares(values, seq_len):
    ### BEGIN SOLUTION
    w = 28 // seq_len
    per_step = values.clamp(min=0).reshape(len(values), 28, seq_len, w).sum(dim=(0, 1, 3))
    return per_step / per_step.sum()
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_step_shares", "locked": true, "points": 2, "solution": false}
check.step_shares(step_shares)

# %%
_heatmaps = {}


def class1_heatmaps():
    # your explain_sequence on all class-1 test digits, for both models (computed again if you redefine it)
    if _heatmaps.get("fn") is not explain_sequence:
        _heatmaps.clear()
        _heatmaps["maps"] = {name: explain_sequence(model, ones) for name, model in models.items()}
        _heatmaps["fn"] = explain_sequence
    return _heatmaps["maps"]


steps = np.arange(1, 8)
plt.figure(figsize=(5.5, 3.2))
plt.plot(steps, step_shares(ones, 7), "k--", label="pixel intensity")
for name, heat in class1_heatmaps().items():
    plt.plot(steps, step_shares(heat, 7), marker="o", label=f"{name.capitalize()}-7 relevance")
plt.xlabel("time step")
plt.ylabel("share")
plt.title(f"class 1, {len(ones)} test digits (cf. Fig. 4.9)", fontsize=10)
plt.legend(fontsize=8)
plt.show()

# %% [markdown]
# A number for "how far is $P$ from $Q$": the **earth mover's distance** between two distributions over
# the steps, i.e. how much share has to be moved how many steps to turn one into the other. On a line
# it is the summed difference of the cumulative distributions,
#
# $$\mathrm{EMD}(P, Q) = \sum_{t} \Big| \sum_{s \le t} P_s - \sum_{s \le t} Q_s \Big| \quad \text{(in steps)}.$$
#
# **Q8 ({points:test_emd}).** Compute the EMD between each model's relevance shares and the pixel-intensity shares
# of the class-1 test digits, as `emd = {"shallow": ..., "deep": ...}` (use `class1_heatmaps()`).

# %% nbgrader={"grade": false, "grade_id": "answer_emd", "locked": false, "solution": true}
emd = None
### BEGIN SOLUTION
Q = step_shares(ones, 7)
emd = {name: float((step_shares(heat, 7).cumsum(0) - Q.cumsum(0)).abs().sum())
       for name, heat in class1_heatmaps().items()}
### END SOLUTION
print(emd)

# %% nbgrader={"grade": true, "grade_id": "test_emd", "locked": true, "points": 2, "solution": false}
check.emd(emd)

# %% [markdown]
# ## 6. Shallow against Deep
#
# **Q9 ({points:test_mc_last_steps}).** With the rules used so far, which model piles the relevance on the last time steps? Answer with one letter,
# `mc_last_steps = "..."`.
#
# {choices:last_steps_model}
#
# **Q10 ({points:test_mc_statements}).** Which statements are true? Answer with a set of letters, e.g. `{"A", "B"}`.
#
# {choices:statements}

# %% nbgrader={"grade": false, "grade_id": "answer_mc", "locked": false, "solution": true}
mc_last_steps = None
mc_statements = None
### BEGIN SOLUTION
mc_last_steps = "A"
mc_statements = {"A", "C", "E"}
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "test_mc_last_steps", "locked": true, "points": 1, "solution": false}
check.last_steps_model(mc_last_steps)

# %% nbgrader={"grade": true, "grade_id": "test_mc_statements", "locked": true, "points": 2, "solution": false}
check.statements(mc_statements)

# %% [markdown]
# ## 7. Is it the cell or the rule?
#
# A reviewer would ask what else differs between the two explanations. Look at the layer that decides
# how much relevance flows back in time: layer 4, where the step's input meets $\boldsymbol r_t$.
#
# - Deep's layer 4 sees ReLU features $\boldsymbol a^{(1)}_t \ge 0$ and $\boldsymbol r_t$: we used $z^+$ on both.
# - Shallow's layer 4 sees the pixels and $\boldsymbol r_t$: `shallow_step` used $z^\beta$ on the pixels.
#   With $l_j = 0$, $h_j = 1$ a pixel's contribution to output $k$ is
#   $x_j w_{jk} - 0 \cdot w^+_{jk} - 1 \cdot w^-_{jk} = x_j w^+_{jk} + (1 - x_j)\,|w^-_{jk}| \ge 0$, so
#
# $$z_k = \sum_{j \in \text{pixels}} \big(x_j w^+_{jk} + (1 - x_j)\,|w^-_{jk}|\big) + \sum_{j} r_j w^+_{jk} :$$
#
# every *blank* pixel under a negative weight takes a share of $R_k$, at every step, and what it takes
# stays in that chunk instead of flowing on into $\boldsymbol r_t$. But pixels are also $\ge 0$, so $z^+$
# is a valid Deep Taylor rule for them too (its root point lies in the positive orthant; $z^\beta$ adds
# the knowledge that pixels are $\le 1$). With $z^+$ the pixel part of $z_k$ is only
# $\sum_j x_j w^+_{jk}$, the ink under positive weights. Which rule to use at the concatenation is a
# choice of the explainer, not a property of the cell.
#
# **Q11 ({points:test_zplus_step}).** Implement `shallow_step_zplus(x_t, r, w4, R_a4)`: Shallow's layer 4 with $z^+$ on
# both parts and **one** denominator, $z_k = \sum_j x_j w^+_{jk} + \sum_j r_j w^+_{jk}$, returning
# `(R_pixels, R_r)` like `shallow_step`. (Reuse what you have: you wrote this rule before.)

# %% nbgrader={"grade": false, "grade_id": "answer_zplus_step", "locked": false, "solution": true}
def shallow_step_zplus(x_t, r, w4, R_a4):
    ### BEGIN SOLUTION
    return lrp_step(x_t, r, w4, R_a4)     # z+ does not care whether its inputs are pixels or ReLU outputs
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_zplus_step", "locked": true, "points": 3, "solution": false}
check.shallow_step_zplus(shallow_step_zplus)
### BEGIN HIDDEN TESTS
check.shallow_step_zplus(shallow_step_zplus, max_examples=60)
### END HIDDEN TESTS

# %% [markdown]
# To compare models and rules with two numbers, wrap what you did in section 5 into one function.
#
# **Q12 ({points:test_step_profile}).** Write `step_profile(model, images, shallow_rule=shallow_step)`: explain `images`
# with your `explain_sequence` (passing `shallow_rule` on) and return
# `{"emd": EMD(P, Q), "last": P[-1]}`, where $P$ are the relevance shares per step of the population
# (`step_shares`), $Q$ the pixel-intensity shares of the same images, and `P[-1]` is the share of the
# last step (plain Python floats).

# %% nbgrader={"grade": false, "grade_id": "answer_step_profile", "locked": false, "solution": true}
def step_profile(model, images, shallow_rule=shallow_step):
    ### BEGIN SOLUTION
    P = step_shares(explain_sequence(model, images, shallow_rule), model.seq_len)
    Q = step_shares(images, model.seq_len)
    return {"emd": float((P.cumsum(0) - Q.cumsum(0)).abs().sum()), "last": float(P[-1])}
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_step_profile", "locked": true, "points": 2, "solution": false}
check.step_profile(step_profile)

# %% [markdown]
# Now the same shipped Shallow-7 with both rules, next to Deep-7, on the class-1 test digits. Relevance
# is conserved, so everything that does not stay on the last chunk went through $\boldsymbol r_{T-1}$, the
# recurrent input of the last step (the thesis counts steps from 1 and calls it $\boldsymbol r_7$): the
# share of $f(\boldsymbol x)$ reaching it is $1 - {}$(relevance of the last chunk)$\,/\,f(\boldsymbol x)$.

# %%
explained = {"Shallow-7, z^beta at layer 4": (models["shallow"], shallow_step),
             "Shallow-7, z+ at layer 4": (models["shallow"], shallow_step_zplus),
             "Deep-7 (z+ at layer 4)": (models["deep"], shallow_step)}    # Deep never calls the Shallow rule
plt.figure(figsize=(5.5, 3.2))
plt.plot(steps, step_shares(ones, 7), "k--", label="pixel intensity")
print(f"{'':<30} {'reaches r_(T-1)':>16} {'EMD (steps)':>12} {'last step':>10}")
for label, (model, rule) in explained.items():
    heat = explain_sequence(model, ones, rule)
    reach = float(heat[:, :, :-model.width].sum() / heat.sum())
    profile = step_profile(model, ones, rule)
    print(f"{label:<30} {reach:>16.2f} {profile['emd']:>12.2f} {profile['last']:>10.2f}")
    plt.plot(steps, step_shares(heat, 7), marker="o", label=label)
plt.xlabel("time step")
plt.ylabel("share of the relevance")
plt.title(f"class 1, {len(ones)} test digits: the rule at Shallow's layer 4", fontsize=10)
plt.legend(fontsize=7)
plt.show()

# %% [markdown]
# **Q13 ({points:test_mc_rule}).** Which statements are true? Answer with a set of letters, `mc_rule = {...}`.
#
# {choices:rule_swap}

# %% nbgrader={"grade": false, "grade_id": "answer_mc_rule", "locked": false, "solution": true}
mc_rule = None
### BEGIN SOLUTION
mc_rule = {"A", "D", "E"}
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "test_mc_rule", "locked": true, "points": 2, "solution": false}
check.rule_swap(mc_rule)

# %% [markdown]
# ## 8. A sanity check: the untrained models
#
# Adebayo et al. (2018, "Sanity checks for saliency maps") ask of every explanation method: does the
# picture change when the model has learned nothing? Their **model-randomisation test** draws all the
# weights again, as at initialisation, and explains the random model with the same code. What survives
# the randomisation cannot be evidence about what training produced: it comes from the architecture
# and the rule.
#
# `randomised(model, seed)` below is that: a copy of `model` whose weights are drawn again from the
# thesis's initialisation (as `NegBiasLinear` does), with a fixed seed. The cell explains three random
# copies of each model with your `step_profile` (the default rule, $z^\beta$ at Shallow's layer 4, as in
# sections 5 and 6) and prints them next to the trained models.

# %%
def randomised(model, seed):
    # the same cell, every weight drawn again as at initialisation (truncated normal, sigma = 0.1; bias -0.01)
    fresh = copy.deepcopy(model)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for layer in fresh.modules():
            if isinstance(layer, nn.Linear):
                nn.init.trunc_normal_(layer.weight, std=0.1, a=-0.2, b=0.2)
                nn.init.constant_(layer.b, math.log(math.expm1(0.01)))
    return fresh.eval()


print(f"{'':<12} {'EMD (steps)':>22} {'last-step share':>22}")
for name, model in models.items():
    trained = step_profile(model, ones)
    random = [step_profile(randomised(model, seed), ones) for seed in range(3)]
    for label, runs in (("trained", [trained]), ("untrained", random)):
        emds, lasts = np.array([p["emd"] for p in runs]), np.array([p["last"] for p in runs])
        spread = lambda v: f"{v.mean():.2f} +- {v.std():.2f}" if len(v) > 1 else f"{v[0]:.2f}"  # noqa: E731
        print(f"{name.capitalize() + '-7':<8} {label:<10} {spread(emds):>16} {spread(lasts):>22}")

# %% [markdown]
# **Q14 ({points:test_mc_sanity}).** Which statements are true? Answer with a set of letters, `mc_sanity = {...}`.
#
# {choices:sanity}

# %% nbgrader={"grade": false, "grade_id": "answer_mc_sanity", "locked": false, "solution": true}
mc_sanity = None
### BEGIN SOLUTION
mc_sanity = {"A", "C", "E"}
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "test_mc_sanity", "locked": true, "points": 2, "solution": false}
check.sanity(mc_sanity)

# %% [markdown]
# ## 9. What the heatmaps show
#
# **Q15 ({points:answer_written}, graded by hand).** In a short paragraph: what did the heatmaps and the EMD of
# sections 5 and 6 show, and what do sections 7 and 8 do to that picture? Which factor (the cell, the
# rule, training) produces the difference between Shallow-7 and Deep-7, and what may one conclude about
# the thesis's claim that Deep cells spread relevance over the sequence while Shallow cells pile it on
# the last steps? What does this mean for using LRP heatmaps to compare recurrent architectures?

# %% [markdown] nbgrader={"grade": true, "grade_id": "answer_written", "locked": false, "points": 3, "solution": true}
# **Model answer.** With the rules of sections 3-5, Shallow-7's relevance piles up on the last chunks,
# where a "1" has almost no ink (EMD of a few steps, most of the relevance on the last step), while
# Deep-7's follows the ink (EMD well below one step). Both heatmaps sum to $f(\boldsymbol x)$: the models
# differ in where relevance goes. But the comparison changed two things at once. At layer 4, where the
# step's input meets $\boldsymbol r_t$ and the split between "this step" and "the past" is decided, Deep
# was explained with $z^+$ and Shallow with $z^\beta$. Under $z^\beta$ every blank pixel under a negative
# weight is counted as evidence ($(1 - x_j)|w^-_{jk}|$), so at each step the pixels absorb most of the
# relevance and only about a third of $f(\boldsymbol x)$ reaches $\boldsymbol r_{T-1}$; with $z^+$ on the
# pixels (valid, since pixels are $\ge 0$) almost all of it does, and the same Shallow-7 checkpoint follows
# the ink as closely as Deep-7 does, or more so. The rule decides the picture. And the difference is
# already present in the untrained models (the model-randomisation test): random Shallow-7 is
# last-step heavy and random Deep-7 spreads its relevance, before any training. So the difference is
# produced by the rule at the concatenation together with the architecture, not by what the cells
# learned; the thesis's claim is not confirmed as a property of the trained cells. Heatmaps of two
# architectures can only be compared with the same rule at the equivalent layer, with more than one
# admissible rule, and against the untrained model of each architecture (plus the usual: several seeds,
# all classes, not only class 1).
#
# **Rubric.** 1 point: the observation (Shallow-7: relevance on the last chunks, large EMD; Deep-7:
# relevance where the ink is, small EMD) and what changes with $z^+$ at the concatenation (almost all of
# $f(\boldsymbol x)$ flows back, Shallow's EMD becomes as small as Deep's or smaller). 1 point: the
# mechanism and the factor: the rule at the layer where pixels meet $\boldsymbol r_t$ decides the split
# ($z^\beta$'s box terms let blank pixels take relevance before it can flow into $\boldsymbol r_t$), and
# the difference is present in the untrained models, so it is not produced by training. 1 point: a sound
# conclusion: the claim about the trained cells is not confirmed by these heatmaps; a comparison of
# architectures needs the same rule at equivalent layers (or several rules) and a randomisation control
# (accuracy does not tell which explanation is right either). An answer that reads the heatmaps as
# evidence that Deep cells learned to propagate relevance through time gets at most 1 point.
