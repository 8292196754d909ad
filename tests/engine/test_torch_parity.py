"""Parity with PyTorch autograd and torch.optim, in float64.

Forward values and every gradient of random Dense/activation/loss stacks must agree
with autograd to 1e-10; optimiser trajectories over 20 steps and learning-rate
schedules must agree with ``torch.optim`` and ``torch.optim.lr_scheduler``.
Weights are stored ``(in, out)`` here and ``(out, in)`` in ``torch.nn.Linear``; the
torch side below uses plain tensors and ``x @ W + b`` so no transposition is needed.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

from scratchnet.layers import Dense, Dropout, LeakyReLU, ReLU, Sigmoid, Softmax, Tanh  # noqa: E402
from scratchnet.losses import (  # noqa: E402
    BCELoss,
    BCEWithLogitsLoss,
    MSELoss,
    SoftmaxCrossEntropy,
)
from scratchnet.model import Sequential  # noqa: E402
from scratchnet.optim import SGD, Adam, AdamW, RMSprop  # noqa: E402
from scratchnet.schedules import (  # noqa: E402
    CosineWarmup,
    Exponential,
    ReduceOnPlateau,
    StepDecay,
)

TOL = 1e-10


def close(ours, theirs, tol=TOL):
    """Max abs difference relative to the scale of the values (absolute below 1)."""
    theirs = theirs.detach().numpy() if isinstance(theirs, torch.Tensor) else np.asarray(theirs)
    ours = np.asarray(ours)
    assert ours.shape == theirs.shape
    scale = max(1.0, float(np.max(np.abs(theirs), initial=0.0)))
    err = float(np.max(np.abs(ours - theirs), initial=0.0)) / scale
    assert err < tol, f"difference {err:.3e}"
    return err


ACTIVATIONS = {
    "sigmoid": (Sigmoid, torch.sigmoid),
    "tanh": (Tanh, torch.tanh),
    "relu": (ReLU, torch.relu),
    "leaky_relu": (lambda: LeakyReLU(0.1), lambda z: F.leaky_relu(z, 0.1)),
    "softmax": (Softmax, lambda z: torch.softmax(z, dim=1)),
}


def _targets(kind, rng, n, k):
    if kind in ("mse",):
        return rng.standard_normal((n, k))
    if kind in ("bce", "bce_logits"):
        return rng.integers(0, 2, size=(n, k)).astype(np.float64)
    labels = rng.integers(0, k, size=n)
    return labels if kind == "ce_labels" else np.eye(k)[labels]


def _torch_loss(kind, out, y):
    yt = torch.tensor(y)
    if kind == "mse":
        return F.mse_loss(out, yt)
    if kind == "bce":
        return F.binary_cross_entropy(out, yt)
    if kind == "bce_logits":
        return F.binary_cross_entropy_with_logits(out, yt)
    return F.cross_entropy(out, yt)  # int64 labels, or class probabilities (one-hot)


LOSSES = {
    "mse": MSELoss,
    "bce": BCELoss,  # on probabilities: the stack ends with a Sigmoid
    "bce_logits": BCEWithLogitsLoss,
    "ce_labels": SoftmaxCrossEntropy,
    "ce_one_hot": SoftmaxCrossEntropy,
}


def _stack(act_name, loss_kind, rng, dropout=False):
    """Dense(5, 6) - act - [Dropout] - Dense(6, 4) [- Sigmoid for BCE on probabilities]."""
    act_cls, _ = ACTIVATIONS[act_name]
    layers = [Dense(5, 6, dtype=np.float64), act_cls()]
    if dropout:
        layers.append(Dropout(0.3))
    layers.append(Dense(6, 4, dtype=np.float64))
    if loss_kind == "bce":
        layers.append(Sigmoid())
    # Larger weights than the initialiser's so the activations leave their linear range,
    # and non-zero biases so the bias path is exercised.
    for layer in layers:
        if isinstance(layer, Dense):
            layer.W[...] = rng.normal(0, 1.0, size=layer.W.shape)
            layer.b[...] = rng.normal(0, 0.5, size=layer.b.shape)
    return Sequential(layers)  # no seed: keep the weights drawn above


def _torch_forward(model, act_name, loss_kind, x, dropout_mask=None):
    """The same network in torch with leaf tensors copied from ``model``."""
    _, act = ACTIVATIONS[act_name]
    dense = [layer for layer in model.layers if isinstance(layer, Dense)]
    leaves = {}
    for i, layer in enumerate(dense):
        leaves[f"W{i}"] = torch.tensor(layer.W, requires_grad=True)
        leaves[f"b{i}"] = torch.tensor(layer.b, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    h = act(xt @ leaves["W0"] + leaves["b0"])
    if dropout_mask is not None:
        h = h * torch.tensor(dropout_mask)
    out = h @ leaves["W1"] + leaves["b1"]
    if loss_kind == "bce":
        out = torch.sigmoid(out)
    return xt, leaves, out


@pytest.mark.parametrize("loss_kind", sorted(LOSSES))
@pytest.mark.parametrize("act_name", sorted(ACTIVATIONS))
def test_forward_and_gradients_match_autograd(act_name, loss_kind):
    rng = np.random.default_rng([7, len(act_name), len(loss_kind)])
    model = _stack(act_name, loss_kind, rng)
    x = rng.standard_normal((8, 5))
    y = _targets(loss_kind, rng, 8, 4)
    loss = LOSSES[loss_kind]()

    out = model.forward(x)
    value = loss.forward(out, y)
    dx = model.backward(loss.backward())

    xt, leaves, out_t = _torch_forward(model, act_name, loss_kind, x)
    loss_t = _torch_loss(loss_kind, out_t, y)
    loss_t.backward()

    close(out, out_t)
    assert abs(value - loss_t.item()) < TOL * max(1.0, abs(loss_t.item()))
    close(dx, xt.grad)
    dense = [layer for layer in model.layers if isinstance(layer, Dense)]
    for i, layer in enumerate(dense):
        close(layer.dW, leaves[f"W{i}"].grad)
        close(layer.db, leaves[f"b{i}"].grad)


@pytest.mark.parametrize("loss_kind", ["ce_labels", "mse", "bce"])
def test_dropout_with_the_same_mask_matches_autograd(loss_kind):
    rng = np.random.default_rng(11)
    model = _stack("relu", loss_kind, rng, dropout=True)
    x = rng.standard_normal((16, 5))
    y = _targets(loss_kind, rng, 16, 4)
    loss = LOSSES[loss_kind]()
    model.layers[2].rng = np.random.default_rng(5)  # a fixed mask, copied to torch below
    model.train()
    out = model.forward(x)
    value = loss.forward(out, y)
    dx = model.backward(loss.backward())
    mask = model.layers[2]._mask  # inverted dropout: kept units scaled by 1 / (1 - p)
    assert set(np.unique(mask)) <= {0.0, 1.0 / 0.7}
    assert 0 < np.count_nonzero(mask) < mask.size

    xt, leaves, out_t = _torch_forward(model, "relu", loss_kind, x, dropout_mask=mask)
    loss_t = _torch_loss(loss_kind, out_t, y)
    loss_t.backward()
    close(out, out_t)
    assert abs(value - loss_t.item()) < TOL
    close(dx, xt.grad)
    close(model.layers[0].dW, leaves["W0"].grad)
    close(model.layers[3].dW, leaves["W1"].grad)
    close(model.layers[3].db, leaves["b1"].grad)


# -- optimisers ------------------------------------------------------------------------
OPTIMIZERS = {
    "sgd": (lambda: SGD(lr=0.1), lambda p: torch.optim.SGD(p, lr=0.1)),
    "sgd_momentum": (
        lambda: SGD(lr=0.05, momentum=0.9),
        lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9),
    ),
    "sgd_nesterov_wd": (
        lambda: SGD(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.01),
        lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.01),
    ),
    "sgd_momentum_wd": (
        lambda: SGD(lr=0.05, momentum=0.9, weight_decay=0.05),
        lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, weight_decay=0.05),
    ),
    "rmsprop": (
        lambda: RMSprop(lr=0.01, alpha=0.9, eps=1e-8),
        lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.9, eps=1e-8),
    ),
    "rmsprop_wd": (
        lambda: RMSprop(lr=0.01, weight_decay=0.1),
        lambda p: torch.optim.RMSprop(p, lr=0.01, weight_decay=0.1),
    ),
    "adam": (
        lambda: Adam(lr=0.01, flush_every=0),
        lambda p: torch.optim.Adam(p, lr=0.01),
    ),
    "adam_l2": (
        lambda: Adam(lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1, flush_every=0),
        lambda p: torch.optim.Adam(p, lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1),
    ),
    "adamw": (
        lambda: AdamW(lr=0.01, weight_decay=0.1, flush_every=0),
        lambda p: torch.optim.AdamW(p, lr=0.01, weight_decay=0.1),
    ),
    "adam_default_flush": (
        # The default flush (every 100 steps, below 1e-30) never triggers in 20 steps.
        lambda: Adam(lr=0.01),
        lambda p: torch.optim.Adam(p, lr=0.01),
    ),
}


def _trajectories(ours_opt, torch_opt_factory, steps=20, torch_scheduler=None):
    rng = np.random.default_rng(3)
    model = Sequential([Dense(3, 5, dtype=np.float64), Tanh(), Dense(5, 2, dtype=np.float64)],
                       seed=4)
    X, Y = rng.standard_normal((10, 3)), rng.standard_normal((10, 2))
    loss = MSELoss()
    params = model.parameters()
    leaves = [torch.tensor(p.value.copy(), requires_grad=True) for p in params]
    topt = torch_opt_factory(leaves)
    sched = torch_scheduler(topt) if torch_scheduler else None
    worst = 0.0
    for _ in range(steps):
        loss.forward(model.forward(X), Y)
        model.backward(loss.backward())
        ours_opt.step(params)

        topt.zero_grad()
        W0, b0, W1, b1 = leaves
        out = torch.tanh(torch.tensor(X) @ W0 + b0) @ W1 + b1
        F.mse_loss(out, torch.tensor(Y)).backward()
        topt.step()
        if sched is not None:
            sched.step()
        for p, t in zip(params, leaves, strict=True):
            worst = max(worst, close(p.value, t))
    # The weights really moved: the comparison is not between two copies of the start.
    start = Sequential([Dense(3, 5, dtype=np.float64), Tanh(), Dense(5, 2, dtype=np.float64)],
                       seed=4)
    assert max(np.max(np.abs(p.value - q.value))
               for p, q in zip(params, start.parameters(), strict=True)) > 1e-3
    return worst


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_optimizer_trajectory_matches_torch(name):
    ours, theirs = OPTIMIZERS[name]
    opt = ours()
    _trajectories(opt, theirs)
    assert opt.t == 20


def test_sgd_with_step_schedule_matches_torch_steplr():
    opt = SGD(lr=StepDecay(0.2, step_size=5, gamma=0.5), momentum=0.9)
    _trajectories(
        opt,
        lambda p: torch.optim.SGD(p, lr=0.2, momentum=0.9),
        torch_scheduler=lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=5, gamma=0.5),
    )


def test_adam_with_cosine_warmup_matches_torch_lambdalr():
    sched = CosineWarmup(0.02, total_steps=20, warmup_steps=4, min_lr=0.002)
    opt = Adam(lr=sched, flush_every=0)
    _trajectories(
        opt,
        lambda p: torch.optim.Adam(p, lr=0.02),
        torch_scheduler=lambda o: torch.optim.lr_scheduler.LambdaLR(o, lambda t: sched(t) / 0.02),
    )


# -- schedules ---------------------------------------------------------------------------
def _torch_lrs(make_scheduler, n, base_lr=0.1):
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=base_lr)
    sched = make_scheduler(opt)
    lrs = []
    for _ in range(n):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return np.array(lrs)


def test_step_decay_matches_steplr():
    ours = StepDecay(0.1, step_size=7, gamma=0.3).values(40)
    theirs = _torch_lrs(lambda o: torch.optim.lr_scheduler.StepLR(o, 7, gamma=0.3), 40)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=0)


def test_exponential_matches_exponentiallr():
    ours = Exponential(0.1, gamma=0.93).values(60)
    theirs = _torch_lrs(lambda o: torch.optim.lr_scheduler.ExponentialLR(o, gamma=0.93), 60)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=0)


def test_cosine_without_warmup_matches_cosineannealinglr():
    T = 50
    ours = CosineWarmup(0.1, total_steps=T, min_lr=0.01).values(T + 1)
    theirs = _torch_lrs(
        lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=T, eta_min=0.01), T + 1
    )
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-15)


def test_cosine_with_warmup_matches_linearlr_then_cosine():
    # torch: LinearLR warm-up from 1/w to 1 over w steps, then cosine annealing to min_lr.
    w, T, lr, min_lr = 5, 40, 0.1, 0.005
    ours = CosineWarmup(lr, total_steps=T, warmup_steps=w, min_lr=min_lr).values(T + 1)

    def make(o):
        warm = torch.optim.lr_scheduler.LinearLR(o, start_factor=1 / w, end_factor=1.0,
                                                 total_iters=w - 1)
        cos = torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=T - w, eta_min=min_lr)
        return torch.optim.lr_scheduler.SequentialLR(o, [warm, cos], milestones=[w])

    theirs = _torch_lrs(make, T + 1, base_lr=lr)
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-15)
    # And the closed form of the docstring.
    expected = [lr * (t + 1) / w if t < w else
                min_lr + (lr - min_lr) * 0.5 * (1 + math.cos(math.pi * (t - w) / (T - w)))
                for t in range(T + 1)]
    np.testing.assert_allclose(ours, expected, rtol=1e-14)


def test_reduce_on_plateau_matches_torch():
    values = [1.0, 0.9, 0.95, 0.95, 0.91, 0.9, 0.899, 0.8, 0.85, 0.86, 0.87, 0.8, 0.8, 0.8,
              0.8, 0.79, 0.7999, 0.78, 0.78, 0.78, 0.78]
    ours = ReduceOnPlateau(0.1, factor=0.5, patience=2, threshold=1e-3, min_lr=0.01)
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    theirs = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=2,
                                                        threshold=1e-3, min_lr=0.01)
    seen = []
    for v in values:
        ours.observe(v)
        theirs.step(v)
        seen.append(ours(0))
        assert ours(0) == pytest.approx(opt.param_groups[0]["lr"], rel=1e-12)
    # Halved three times, then held at min_lr (0.1 -> 0.05 -> 0.025 -> 0.0125 -> 0.01).
    assert sorted(set(seen), reverse=True) == pytest.approx([0.1, 0.05, 0.025, 0.0125, 0.01])
