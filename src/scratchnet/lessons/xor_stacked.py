"""Many XOR networks trained at once: the same hand-written math, batched over networks.

One 2-H-1 network on a batch of ``n`` samples is::

    z1 = X @ W1 + b1        (n, 2) @ (2, H) + (H,)  -> (n, H)
    a1 = f(z1)              hidden activation f (sigmoid by default)
    z2 = a1 @ W2 + b2       (n, H) @ (H, 1) + (1,)  -> (n, 1)
    a2 = sigmoid(z2)        the output, a probability

``S`` networks (one per seed) are the same lines with a leading axis: ``W1`` is
``(S, 2, H)``, ``b1`` is ``(S, 1, H)``, and ``X @ W1`` broadcasts the one shared
``X (n, 2)`` against every network's weights, giving ``z1 (S, n, H)``. Nothing else
changes: ``np.matmul`` treats the leading axis as "a stack of matrices".

Backward, with the loss averaged over the n samples (the engine's convention: the
``1/n`` sits in ``dz2``)::

    dz2 = (a2 - y) / n                      BCE: sigmoid and cross-entropy cancel
    dz2 = 2 (a2 - y) / n * a2 (1 - a2)      MSE: the seed-000 chain dL/da2 * da2/dz2
    dW2 = a1^T @ dz2        (S, H, n) @ (S, n, 1) -> (S, H, 1)
    db2 = sum_n dz2         (S, 1, 1)
    da1 = dz2 @ W2^T        (S, n, 1) @ (S, 1, H) -> (S, n, H)
    dz1 = da1 * f'(z1)      sigmoid: a1 (1 - a1); tanh: 1 - a1^2; relu: [z1 > 0]
    dW1 = X^T @ dz1         (2, n) @ (S, n, H) -> (S, 2, H)
    db1 = sum_n dz1         (S, 1, H)

The update is done by the engine's own optimiser objects (``scratchnet.optim``):
SGD, momentum, RMSprop and Adam work element by element, so handing them stacked
arrays updates every network exactly as it would update one. The initial weights
come from building each seed's ``Sequential`` with the engine, so network ``s`` here
starts bit for bit where ``Sequential(..., seed=seeds[s])`` starts; the test suite
checks that both end at the same weights too.

Why a second trainer at all: ``Sequential.fit`` trains one network; measuring how
often a setting gets stuck needs hundreds of networks, and 1000 seeds x 5000 epochs
through ``fit`` one by one takes minutes, stacked it takes seconds. ``scratchnet xor``
(one run) still trains with the engine's ``fit``: at ~60 microseconds an epoch it
fits the 3-second budget, and the lesson is that the engine solves XOR.

One documented difference: with BCE this module uses the short form ``a2 - y``,
the engine the long chain ``dL/da2 * da2/dz2`` with ``a2`` clipped to
``[eps, 1 - eps]`` inside the log. They agree (to rounding) unless an output is
saturated at exactly 0 or 1 in floating point, which XOR training from a small
initialisation does not reach.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..errors import ConfigError, DivergenceError, ShapeError
from ..layers.activations import sigmoid
from ..optim import Parameter, get_optimizer

#: Hidden activations this trainer has written-out derivatives for.
HIDDEN_ACTIVATIONS = ("sigmoid", "tanh", "relu")
LOSSES = ("bce", "mse")


@dataclass
class StackedWeights:
    """Parameters of S networks, engine layout plus a leading network axis.

    W1 : (S, d, H)   b1 : (S, 1, H)   W2 : (S, H, 1)   b2 : (S, 1, 1)

    (The engine stores a Dense bias as ``(out,)``; the extra axis here lets
    ``X @ W1 + b1`` broadcast over the samples of every network.)
    """

    W1: np.ndarray
    b1: np.ndarray
    W2: np.ndarray
    b2: np.ndarray

    @property
    def n_networks(self) -> int:
        return int(self.W1.shape[0])

    @property
    def hidden(self) -> int:
        return int(self.W1.shape[2])

    def copy(self) -> StackedWeights:
        return StackedWeights(self.W1.copy(), self.b1.copy(), self.W2.copy(), self.b2.copy())

    def network(self, s: int) -> dict[str, np.ndarray]:
        """Network ``s`` as an engine ``state_dict``: keys ``0.W (d, H)``, ``0.b (H,)``,
        ``2.W (H, 1)``, ``2.b (1,)`` for ``Sequential([Dense, act, Dense, Sigmoid])``."""
        return {
            "0.W": self.W1[s].copy(),
            "0.b": self.b1[s, 0].copy(),
            "2.W": self.W2[s].copy(),
            "2.b": self.b2[s, 0].copy(),
        }

    @classmethod
    def from_state_dicts(cls, states: Sequence[dict[str, np.ndarray]]) -> StackedWeights:
        """Stack engine ``state_dict``s of 2-H-1 networks (keys ``0.W 0.b 2.W 2.b``)."""
        if not states:
            raise ConfigError("StackedWeights.from_state_dicts: no networks given")
        try:
            return cls(
                W1=np.stack([s["0.W"] for s in states]),
                b1=np.stack([s["0.b"] for s in states])[:, None, :],
                W2=np.stack([s["2.W"] for s in states]),
                b2=np.stack([s["2.b"] for s in states])[:, None, :],
            )
        except KeyError as exc:
            raise ShapeError(
                f"state_dict has no {exc.args[0]!r}: expected the keys 0.W, 0.b, 2.W, 2.b of "
                "Sequential([Dense(d, H), activation, Dense(H, 1), Sigmoid()])"
            ) from None


def build_network(
    hidden: int = 2,
    activation: str = "sigmoid",
    init="xavier_uniform",
    seed: int | None = 0,
    n_in: int = 2,
    dtype=np.float32,
):
    """The lesson's network with the engine: ``Dense(n_in, H) -> f -> Dense(H, 1) -> Sigmoid``.

    ``seed`` fixes the initial weights (``Sequential(..., seed=seed)``).
    """
    from ..layers import Dense, Sigmoid, get_activation
    from ..model import Sequential

    if activation not in HIDDEN_ACTIVATIONS:
        raise ConfigError(
            f"unknown hidden activation {activation!r}; expected one of "
            f"{', '.join(HIDDEN_ACTIVATIONS)}"
        )
    if isinstance(hidden, bool) or not isinstance(hidden, int | np.integer) or hidden < 1:
        raise ConfigError(f"hidden must be a positive number of units, got {hidden!r}")
    layers = [
        Dense(n_in, int(hidden), init=init, dtype=dtype),
        get_activation(activation),
        Dense(int(hidden), 1, init=init, dtype=dtype),
        Sigmoid(),
    ]
    return Sequential(layers, seed=seed, name=f"xor-{n_in}-{hidden}-1")


def initial_weights(
    seeds: Sequence[int] | np.ndarray,
    hidden: int = 2,
    activation: str = "sigmoid",
    init="xavier_uniform",
    n_in: int = 2,
    dtype=np.float32,
) -> StackedWeights:
    """The starting weights of ``Sequential(..., seed=s)`` for every ``s`` in ``seeds``, stacked."""
    seeds = [int(s) for s in np.asarray(seeds).ravel()]
    if not seeds:
        raise ConfigError("initial_weights: at least one seed is needed")
    states = [
        build_network(hidden, activation, init, s, n_in=n_in, dtype=dtype).state_dict()
        for s in seeds
    ]
    return StackedWeights.from_state_dicts(states)


@dataclass
class StackedRun:
    """What ``train_stacked`` returns.

    weights : the final weights of all S networks.
    loss : (S, epochs) float64, each network's loss *before* each epoch's update
        (the same number ``Sequential.fit`` records in ``history["loss"]``).
    all_correct : (S, epochs) bool, every sample right before each epoch's update
        (``history["accuracy"] == 1`` in ``fit``); empty unless ``record_correct``.
    outputs : (S, n) final outputs ``a2`` for every sample.
    correct : (S, n) bool, output on the right side of 0.5.
    """

    weights: StackedWeights
    loss: np.ndarray
    outputs: np.ndarray
    correct: np.ndarray
    config: dict = field(default_factory=dict)
    all_correct: np.ndarray | None = None

    @property
    def solved(self) -> np.ndarray:
        """(S,) bool: every sample classified correctly at the end."""
        return self.correct.all(axis=1)

    @property
    def final_loss(self) -> np.ndarray:
        """(S,) loss of the final weights."""
        return self.config["final_loss"]


def forward(X: np.ndarray, w: StackedWeights, activation: str = "sigmoid"):
    """Forward pass of all networks: returns ``(z1, a1, z2, a2)``, of shapes ``(S, n, H)``
    (z1, a1) and ``(S, n, 1)`` (z2, a2)."""
    z1 = X @ w.W1 + w.b1  # (n, d) @ (S, d, H) + (S, 1, H) -> (S, n, H)
    a1 = _activate(z1, activation)
    z2 = a1 @ w.W2 + w.b2  # (S, n, H) @ (S, H, 1) + (S, 1, 1) -> (S, n, 1)
    a2 = sigmoid(z2)
    return z1, a1, z2, a2


def loss_values(a2: np.ndarray, y: np.ndarray, loss: str) -> np.ndarray:
    """Per-network mean loss ``(S,)`` of outputs ``a2 (S, n, 1)`` against ``y (n, 1)``.

    BCE clips ``a2`` to ``[eps, 1 - eps]`` with the engine's ``eps``, so the values
    match ``BCELoss`` exactly.
    """
    if loss == "mse":
        return np.mean(np.square(a2 - y, dtype=np.float64), axis=(1, 2))
    eps = max(1e-7, float(np.finfo(a2.dtype).eps))
    p = np.clip(a2, eps, 1.0 - eps)
    return -np.mean(y * np.log(p) + (1.0 - y) * np.log1p(-p), axis=(1, 2), dtype=np.float64)


def train_stacked(
    X: np.ndarray,
    y: np.ndarray,
    weights: StackedWeights,
    *,
    loss: str = "bce",
    activation: str = "sigmoid",
    optimizer: str = "sgd",
    lr: float = 1.0,
    epochs: int = 5000,
    record_loss: bool = True,
    record_correct: bool = False,
) -> StackedRun:
    """Full-batch gradient descent on S networks at once, no restarts.

    X : (n, d) inputs shared by all networks; y : (n, 1) targets in {0, 1}.
    weights : starting weights (not modified; the run trains a copy).
    loss : ``"bce"`` or ``"mse"``. activation : hidden ``"sigmoid"``, ``"tanh"`` or ``"relu"``.
    optimizer : an engine optimiser name (``sgd``, ``momentum``, ``rmsprop``, ``adam``,
    ``adamw``), stepped with every network's arrays at once.
    record_loss : keep each network's loss per epoch (``(S, epochs)``); off saves time.
    record_correct : keep, per epoch, whether every sample was right (``(S, epochs)``).

    Raises ConfigError for unknown names or a bad epoch count, ShapeError for data of
    the wrong shape, DivergenceError when a loss becomes NaN or inf.
    """
    if loss not in LOSSES:
        raise ConfigError(f"unknown loss {loss!r}; expected one of {', '.join(LOSSES)}")
    if activation not in HIDDEN_ACTIVATIONS:
        raise ConfigError(
            f"unknown hidden activation {activation!r}; expected one of "
            f"{', '.join(HIDDEN_ACTIVATIONS)}"
        )
    if isinstance(epochs, bool) or not isinstance(epochs, int | np.integer) or epochs < 1:
        raise ConfigError(f"epochs must be a positive integer, got {epochs!r}")
    w = weights.copy()
    dt = w.W1.dtype
    X = np.asarray(X, dtype=dt)
    y = np.asarray(y, dtype=dt).reshape(-1, 1)
    n = X.shape[0]
    if X.ndim != 2 or X.shape[1] != w.W1.shape[1] or y.shape[0] != n:
        raise ShapeError(
            f"expected X (n, {w.W1.shape[1]}) and y (n, 1) with the same n, got X {X.shape}, "
            f"y {y.shape}"
        )
    opt = get_optimizer(optimizer, lr=lr)
    grads = StackedWeights(*(np.zeros_like(a) for a in (w.W1, w.b1, w.W2, w.b2)))
    params = [
        Parameter("W1", w.W1, grads.W1),
        Parameter("b1", w.b1, grads.b1),
        Parameter("W2", w.W2, grads.W2),
        Parameter("b2", w.b2, grads.b2),
    ]
    S = w.n_networks
    history = np.empty((S, int(epochs)), dtype=np.float64) if record_loss else None
    correct_hist = np.empty((S, int(epochs)), dtype=bool) if record_correct else None
    with np.errstate(over="ignore", invalid="ignore"):  # divergence is detected and raised
        _train_loop(X, y, w, grads, params, opt, history, correct_hist, loss, activation,
                    int(epochs), lr)
        *_, a2 = forward(X, w, activation)
    final = loss_values(a2, y, loss)
    if not np.all(np.isfinite(final)):
        _raise_divergence(final, int(epochs), lr)
    outputs = a2[:, :, 0]
    correct = (outputs > 0.5) == (y[:, 0] > 0.5)
    config = {
        "loss": loss,
        "activation": activation,
        "optimizer": optimizer,
        "lr": float(lr),
        "epochs": int(epochs),
        "final_loss": final,
    }
    return StackedRun(w, history if record_loss else np.empty((S, 0)), outputs, correct, config,
                      correct_hist)


def _train_loop(X, y, w: StackedWeights, grads: StackedWeights, params, opt, history,
                correct_hist, loss: str, activation: str, epochs: int, lr: float) -> None:
    """The epochs of :func:`train_stacked`: forward, backward, update, all networks at once.
    ``history`` (S, epochs) receives each network's loss and ``correct_hist`` (S, epochs)
    whether all its samples were right; either may be None."""
    record_loss = history is not None
    inv_n = w.W1.dtype.type(1.0 / X.shape[0])
    XT = X.T  # (d, n)
    for epoch in range(int(epochs)):
        # ---- forward ----
        z1, a1, z2, a2 = forward(X, w, activation)
        if record_loss:
            history[:, epoch] = loss_values(a2, y, loss)
            if epoch % 100 == 0 and not np.all(np.isfinite(history[:, epoch])):
                _raise_divergence(history[:, epoch], epoch, lr)
        if correct_hist is not None:
            correct_hist[:, epoch] = ((a2[:, :, 0] > 0.5) == (y[:, 0] > 0.5)).all(axis=1)
        # ---- backward ----
        if loss == "bce":
            dz2 = (a2 - y) * inv_n  # (S, n, 1)
        else:
            dz2 = (2 * inv_n) * (a2 - y) * a2 * (1 - a2)  # dL/da2 * da2/dz2
        np.matmul(a1.transpose(0, 2, 1), dz2, out=grads.W2)  # (S, H, n) @ (S, n, 1)
        np.sum(dz2, axis=1, keepdims=True, out=grads.b2)  # (S, 1, 1)
        da1 = dz2 @ w.W2.transpose(0, 2, 1)  # (S, n, 1) @ (S, 1, H) -> (S, n, H)
        dz1 = da1 * _derivative(z1, a1, activation)  # (S, n, H)
        np.matmul(XT, dz1, out=grads.W1)  # (d, n) @ (S, n, H) -> (S, d, H)
        np.sum(dz1, axis=1, keepdims=True, out=grads.b1)  # (S, 1, H)
        # ---- update (the engine's optimiser, element by element) ----
        opt.step(params)


def _activate(z: np.ndarray, activation: str) -> np.ndarray:
    if activation == "sigmoid":
        return sigmoid(z)
    if activation == "tanh":
        return np.tanh(z)
    return z * (z > 0)  # relu


def _derivative(z: np.ndarray, a: np.ndarray, activation: str) -> np.ndarray:
    if activation == "sigmoid":
        return a * (1 - a)  # sigma'(z) = sigma(z) (1 - sigma(z))
    if activation == "tanh":
        return 1 - a * a  # tanh'(z) = 1 - tanh(z)^2
    return (z > 0).astype(z.dtype)  # relu'(z) = [z > 0]


def _raise_divergence(values: np.ndarray, epoch: int, lr: float) -> None:
    bad = np.flatnonzero(~np.isfinite(values))
    raise DivergenceError(
        f"training diverged by epoch {epoch + 1}: the loss of {len(bad)} network(s) "
        f"(first: network {int(bad[0])}) became {values[bad[0]]} with learning rate {lr:g}; "
        "try a smaller learning rate"
    )
