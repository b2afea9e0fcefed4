"""Hand-written answers to ``bptt`` for the copy detector: a disguised copy and two honest ones.

``RENAMED`` is the public solution with every local name changed, the layout redone and the comments
dropped: what a student who copies and tries to hide it hands in. ``HONEST_A`` and ``HONEST_B`` are
correct answers written independently of the solution and of each other (different loops, different
names, different order of operations), as two honest students would. Each maps ``grade_id`` to the
cell's source; cells not given keep the release's template. ``tests/test_copying.py`` and
``benchmarks/copying_threshold.py`` (which calibrates ``copying.THRESHOLD``) read them.
"""

RENAMED = {
    "forward-answer": '''def rnn_forward(x, W_xh, W_hh, W_hy, activation="tanh"):
    \'\'\'x (T, D) or (B, T, D) -> h (..., T, H), o (..., T, C) by eqs 1-3, with h_0 = 0.\'\'\'
    inp = np.asarray(x,
                     dtype=float)
    state = np.zeros(inp.shape[:-2] + (W_hh.shape[0],))
    states = []
    for step in range(inp.shape[-2]):
        state = g(inp[..., step, :] @ W_xh + state @ W_hh,
                  activation)
        states.append(state)
    hidden = np.stack(states, axis=-2)
    scores = hidden @ W_hy
    ex = np.exp(scores - scores.max(axis=-1, keepdims=True))
    probs = ex / ex.sum(axis=-1, keepdims=True)
    return hidden, probs
''',
    "bptt-last-answer": '''def dg(h, activation):
    \'\'\'g'(z) elementwise, written with the output h = g(z) ('tanh', 'sigmoid' or 'relu').\'\'\'
    if activation == "tanh": return 1 - h ** 2
    if activation == "sigmoid": return h * (1 - h)
    if activation == "relu": return (h > 0).astype(float)
    raise ValueError(f"unknown activation {activation!r}")


def bptt_last(x, targets, W_xh, W_hh, W_hy, activation="tanh"):
    \'\'\'-> (E_T, dW_xh, dW_hh, dW_hy) for E_T = -y_T . log o_T (summed over the batch).\'\'\'
    xs, ys = np.asarray(x, dtype=float), np.asarray(targets, dtype=float)
    hid, out = rnn_forward(xs, W_xh, W_hh, W_hy, activation)
    n = xs.shape[-2]
    loss = -np.sum(ys[..., -1, :] * np.log(out[..., -1, :]))
    err = out[..., -1, :] - ys[..., -1, :]
    gHY = outer(hid[..., -1, :], err)
    back = err @ W_hy.T
    gXH, gHH = np.zeros_like(W_xh), np.zeros_like(W_hh)
    for k in reversed(range(n)):
        pre = back * dg(hid[..., k, :], activation)
        prev = hid[..., k - 1, :] if k > 0 else np.zeros_like(hid[..., 0, :])
        gXH += outer(xs[..., k, :], pre)
        gHH += outer(prev, pre)
        back = pre @ W_hh.T
    return loss, gXH, gHH, gHY
''',
    "bptt-answer": '''def bptt(x, targets, W_xh, W_hh, W_hy, activation="tanh"):
    \'\'\'-> (L, dW_xh, dW_hh, dW_hy) for L = -sum_t y_t . log o_t (eq 4, summed over the batch).\'\'\'
    xs, ys = np.asarray(x, dtype=float), np.asarray(targets, dtype=float)
    hid, out = rnn_forward(xs, W_xh, W_hh, W_hy, activation)
    n = xs.shape[-2]
    loss = -np.sum(ys * np.log(out))
    err = out - ys
    gHY = outer(hid, err)
    gXH, gHH = np.zeros_like(W_xh), np.zeros_like(W_hh)
    carry = np.zeros_like(hid[..., 0, :])
    for k in reversed(range(n)):
        back = err[..., k, :] @ W_hy.T + carry
        pre = back * dg(hid[..., k, :], activation)
        prev = hid[..., k - 1, :] if k > 0 else np.zeros_like(hid[..., 0, :])
        gXH += outer(xs[..., k, :], pre)
        gHH += outer(prev, pre)
        carry = pre @ W_hh.T
    return loss, gXH, gHH, gHY
''',
}

HONEST_A = {
    "forward-answer": '''def rnn_forward(x, W_xh, W_hh, W_hy, activation="tanh"):
    \'\'\'x (T, D) or (B, T, D) -> h (..., T, H), o (..., T, C) by eqs 1-3, with h_0 = 0.\'\'\'
    x = np.array(x, dtype=float)
    T = x.shape[-2]
    H = W_hh.shape[1]
    h = np.empty(x.shape[:-1] + (H,))
    previous = np.zeros(x.shape[:-2] + (H,))
    for t in range(T):
        previous = g(np.matmul(x[..., t, :], W_xh) + np.matmul(previous, W_hh), activation)
        h[..., t, :] = previous
    logits = np.matmul(h, W_hy)
    logits -= np.max(logits, axis=-1, keepdims=True)
    o = np.exp(logits)
    o /= np.sum(o, axis=-1, keepdims=True)
    return h, o
''',
    "eq6-answer": "dET_dwh = g_prime * dE_dh * (w_h * dhprev_dwh + h_prev)\n",
    "unrolled-answer": '''h, d = h0, 0
for x_t in (x1, x2, x3):
    h_next = sp.tanh(w_x * x_t + w_h * h)
    d = (1 - h_next**2) * (h + w_h * d)
    h = h_next
dh3_dwh = d
''',
    "vanishing-answer": 'vanishing_term = "E"\n',
    "vanishing-written": ("Each step back multiplies the gradient by the Jacobian of one transition, diag(g') "
                          "times W_hh transposed. If its norm stays under one, the product over many steps goes "
                          "to zero exponentially, so early inputs hardly change the weights and the network "
                          "forgets long-range structure; above one it can blow up instead.\n"),
    "bptt-last-answer": '''def dg(h, activation):
    \'\'\'g'(z) elementwise, written with the output h = g(z) ('tanh', 'sigmoid' or 'relu').\'\'\'
    derivatives = {"tanh": lambda v: 1.0 - v * v, "sigmoid": lambda v: v - v * v,
                   "relu": lambda v: np.where(v > 0, 1.0, 0.0)}
    if activation not in derivatives:
        raise ValueError(activation)
    return derivatives[activation](h)


def bptt_last(x, targets, W_xh, W_hh, W_hy, activation="tanh"):
    \'\'\'-> (E_T, dW_xh, dW_hh, dW_hy) for E_T = -y_T . log o_T (summed over the batch).\'\'\'
    x = np.array(x, dtype=float)
    y = np.array(targets, dtype=float)
    h, o = rnn_forward(x, W_xh, W_hh, W_hy, activation)
    zeros = np.zeros(h.shape[:-2] + h.shape[-1:])
    states = [zeros] + [h[..., t, :] for t in range(h.shape[-2])]
    loss = -(y[..., -1, :] * np.log(o[..., -1, :])).sum()
    grad_y = o[..., -1, :] - y[..., -1, :]
    grads = [np.zeros(W_xh.shape), np.zeros(W_hh.shape), outer(states[-1], grad_y)]
    grad_h = np.matmul(grad_y, W_hy.T)
    t = len(states) - 1
    while t >= 1:
        grad_z = dg(states[t], activation) * grad_h
        grads[0] = grads[0] + outer(x[..., t - 1, :], grad_z)
        grads[1] = grads[1] + outer(states[t - 1], grad_z)
        grad_h = np.matmul(grad_z, W_hh.T)
        t -= 1
    return (loss, *grads)
''',
    "bptt-answer": '''def bptt(x, targets, W_xh, W_hh, W_hy, activation="tanh"):
    \'\'\'-> (L, dW_xh, dW_hh, dW_hy) for L = -sum_t y_t . log o_t (eq 4, summed over the batch).\'\'\'
    x = np.array(x, dtype=float)
    y = np.array(targets, dtype=float)
    h, o = rnn_forward(x, W_xh, W_hh, W_hy, activation)
    zeros = np.zeros(h.shape[:-2] + h.shape[-1:])
    states = [zeros] + [h[..., t, :] for t in range(h.shape[-2])]
    loss = -(y * np.log(o)).sum()
    grad_y = o - y
    grads = [np.zeros(W_xh.shape), np.zeros(W_hh.shape), outer(h, grad_y)]
    from_future = zeros
    t = len(states) - 1
    while t >= 1:
        grad_h = np.matmul(grad_y[..., t - 1, :], W_hy.T) + from_future
        grad_z = dg(states[t], activation) * grad_h
        grads[0] = grads[0] + outer(x[..., t - 1, :], grad_z)
        grads[1] = grads[1] + outer(states[t - 1], grad_z)
        from_future = np.matmul(grad_z, W_hh.T)
        t -= 1
    return (loss, *grads)
''',
}

HONEST_B = {
    "forward-answer": '''def rnn_forward(x, W_xh, W_hh, W_hy, activation="tanh"):
    \'\'\'x (T, D) or (B, T, D) -> h (..., T, H), o (..., T, C) by eqs 1-3, with h_0 = 0.\'\'\'
    inputs = np.moveaxis(np.asarray(x, float), -2, 0)     # time first
    carry = np.zeros(inputs.shape[1:-1] + (len(W_hh),))
    outputs = []
    for x_t in inputs:
        carry = g(np.einsum("...d,dh->...h", x_t, W_xh) + np.einsum("...k,kh->...h", carry, W_hh),
                  activation)
        outputs += [carry]
    hs = np.moveaxis(np.array(outputs), 0, -2)
    ys = np.einsum("...h,hc->...c", hs, W_hy)
    shifted = np.exp(ys - ys.max(-1)[..., None])
    return hs, shifted / shifted.sum(-1)[..., None]
''',
    "eq6-answer": "dET_dwh = (h_prev + dhprev_dwh * w_h) * g_prime * dE_dh\n",
    "unrolled-answer": '''hs = [h0]
for xi in [x1, x2, x3]:
    hs.append(sp.tanh(w_h * hs[-1] + w_x * xi))
dh3_dwh = sp.diff(hs[3], w_h).subs(sp.Derivative(h0, w_h), 0)
''',
    "vanishing-answer": 'vanishing_term = "E"\n',
    "vanishing-written": ("The gradient that reaches step t has gone through T - t Jacobians dh_k/dh_(k-1). With "
                          "saturating tanh or a sigmoid (slope at most a quarter) and small recurrent weights, "
                          "every factor shrinks it, so distant steps get almost no credit: a short memory.\n"),
    "bptt-last-answer": '''def dg(h, activation):
    \'\'\'g'(z) elementwise, written with the output h = g(z) ('tanh', 'sigmoid' or 'relu').\'\'\'
    match activation:
        case "tanh":
            out = 1 - np.square(h)
        case "sigmoid":
            out = h * (1 - h)
        case "relu":
            out = np.greater(h, 0) * 1.0
        case _:
            raise ValueError("activation must be tanh, sigmoid or relu")
    return out


def bptt_last(x, targets, W_xh, W_hh, W_hy, activation="tanh"):
    \'\'\'-> (E_T, dW_xh, dW_hh, dW_hy) for E_T = -y_T . log o_T (summed over the batch).\'\'\'
    X = np.moveaxis(np.asarray(x, float), -2, 0)
    H, O = rnn_forward(x, W_xh, W_hh, W_hy, activation)
    H, O = np.moveaxis(H, -2, 0), np.moveaxis(O, -2, 0)
    y_T = np.asarray(targets, float)[..., -1, :]
    E = float(-np.sum(y_T * np.log(O[-1])))
    G = O[-1] - y_T
    Wy_grad = outer(H[-1], G)
    Wx_grad, Wh_grad = 0 * W_xh, 0 * W_hh
    upstream = G @ W_hy.T
    for i in reversed(range(len(H))):
        local = upstream * dg(H[i], activation)
        Wx_grad = Wx_grad + outer(X[i], local)
        Wh_grad = Wh_grad + outer(H[i - 1] if i else 0 * H[0], local)
        upstream = local @ W_hh.T
    return E, Wx_grad, Wh_grad, Wy_grad
''',
    "bptt-answer": '''def bptt(x, targets, W_xh, W_hh, W_hy, activation="tanh"):
    \'\'\'-> (L, dW_xh, dW_hh, dW_hy) for L = -sum_t y_t . log o_t (eq 4, summed over the batch).\'\'\'
    X = np.moveaxis(np.asarray(x, float), -2, 0)
    Y = np.moveaxis(np.asarray(targets, float), -2, 0)
    H, O = rnn_forward(x, W_xh, W_hh, W_hy, activation)
    H, O = np.moveaxis(H, -2, 0), np.moveaxis(O, -2, 0)
    total = float(-np.sum(Y * np.log(O)))
    # targets weighted by sum(o) = 1: dL/dy_t = o_t * sum(y_t) - y_t, and sum(y_t) = 1 for one-hot y
    G = O * Y.sum(-1, keepdims=True) - Y
    Wx_grad = np.zeros_like(W_xh)
    Wh_grad = np.zeros_like(W_hh)
    Wy_grad = sum(outer(H[i], G[i]) for i in range(len(H)))
    upstream = 0
    for i in range(len(H) - 1, -1, -1):
        local = (G[i] @ W_hy.T + upstream) * dg(H[i], activation)
        Wx_grad = Wx_grad + outer(X[i], local)
        Wh_grad = Wh_grad + outer(H[i - 1] if i else 0 * H[0], local)
        upstream = local @ W_hh.T
    return total, Wx_grad, Wh_grad, Wy_grad
''',
}
