"""The 2-H-1 XOR network with plain Python numbers: the seed's math, one scalar at a time.

For a network this small, NumPy's arrays cost more than they save: every ``np.matmul``
on a (4, 2) array pays a few microseconds of call overhead for a handful of
multiplications, and a training step of the 2-2-1 network makes dozens of such calls.
Written with Python floats (float64), the same step is a few hundred arithmetic
operations and nothing else, and 10,000 steps take a fraction of a second.

It is also the most literal reading of the network for a learner: for each input
``(x1, x2)`` and hidden unit ``j``::

    z1[j] = x1 * W1[0][j] + x2 * W1[1][j] + b1[j]      a1[j] = sigmoid(z1[j])
    z2    = sum_j a1[j] * W2[j] + b2                     a2    = sigmoid(z2)

and backward, averaged over the n inputs (binary cross-entropy: ``dz2 = a2 - y``)::

    dz2    = (a2 - y) / n                    # BCE; MSE: 2 (a2 - y) / n * a2 (1 - a2)
    dW2[j] += a1[j] * dz2                    db2 += dz2
    dz1[j] = dz2 * W2[j] * a1[j] (1 - a1[j])
    dW1[i][j] += x_i * dz1[j]                db1[j] += dz1[j]

then ``w -= lr * dw`` for every parameter: plain full-batch gradient descent, the
same update as ``Sequential.fit(..., batch_size=None)`` with ``SGD`` (a test checks
they agree). It trains sigmoid networks with BCE or MSE only; everything else goes
through the engine.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError


def _sigmoid(z: float) -> float:
    # Split by sign, like the engine's sigmoid: exp never sees a large positive number.
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


@dataclass
class ScalarResult:
    """Trained weights as NumPy arrays in the engine's layout, and the loss of each step
    (computed on the weights *before* that step's update, as ``fit`` reports it)."""

    W1: np.ndarray  # (2, H)
    b1: np.ndarray  # (H,)
    W2: np.ndarray  # (H, 1)
    b2: np.ndarray  # (1,)
    losses: np.ndarray  # (steps,)


def train_xor_scalar(W1, b1, W2, b2, X, y, lr: float, steps: int,
                     loss: str = "bce") -> ScalarResult:
    """Full-batch gradient descent on a 2-H-1 sigmoid network with Python floats.

    W1 : (2, H), b1 : (H,), W2 : (H, 1), b2 : (1,)  initial weights (any array-likes).
    X : (n, 2) inputs, y : (n,) or (n, 1) targets in [0, 1].
    """
    if loss not in ("bce", "mse"):
        raise ConfigError(f"train_xor_scalar: loss must be 'bce' or 'mse', got {loss!r}")
    if not (isinstance(steps, int) and steps > 0):
        raise ConfigError(f"train_xor_scalar: steps must be a positive integer, got {steps!r}")
    if not (math.isfinite(lr) and lr > 0):
        raise ConfigError(f"train_xor_scalar: lr must be > 0, got {lr!r}")
    w1 = [[float(v) for v in row] for row in np.asarray(W1, dtype=np.float64)]
    hb = [float(v) for v in np.asarray(b1, dtype=np.float64).reshape(-1)]
    w2 = [float(v) for v in np.asarray(W2, dtype=np.float64).reshape(-1)]
    ob = float(np.asarray(b2, dtype=np.float64).reshape(-1)[0])
    samples = [(float(a), float(b)) for a, b in np.asarray(X, dtype=np.float64)]
    targets = [float(t) for t in np.asarray(y, dtype=np.float64).reshape(-1)]
    if len(w1) != 2 or len(samples[0]) != 2 or len(samples) != len(targets):
        raise ConfigError("train_xor_scalar: expected W1 (2, H), X (n, 2) and n targets")
    H, n = len(hb), len(samples)
    hidden = range(H)
    losses = np.empty(steps)
    for step in range(steps):
        dw1 = [[0.0] * H, [0.0] * H]
        db1 = [0.0] * H
        dw2 = [0.0] * H
        db2 = 0.0
        total = 0.0
        for (x1, x2), t in zip(samples, targets, strict=True):
            # forward
            a1 = [_sigmoid(x1 * w1[0][j] + x2 * w1[1][j] + hb[j]) for j in hidden]
            z2 = ob
            for j in hidden:
                z2 += a1[j] * w2[j]
            a2 = _sigmoid(z2)
            # loss and dL/dz2
            if loss == "bce":
                # stable log(sigmoid): -[t log a2 + (1 - t) log(1 - a2)] from the logit z2
                total += max(z2, 0.0) - z2 * t + math.log1p(math.exp(-abs(z2)))
                dz2 = (a2 - t) / n
            else:
                total += (a2 - t) ** 2
                dz2 = 2.0 * (a2 - t) / n * a2 * (1.0 - a2)
            # backward
            db2 += dz2
            for j in hidden:
                dw2[j] += a1[j] * dz2
                dz1 = dz2 * w2[j] * a1[j] * (1.0 - a1[j])
                dw1[0][j] += x1 * dz1
                dw1[1][j] += x2 * dz1
                db1[j] += dz1
        losses[step] = total / n
        # update
        for j in hidden:
            w1[0][j] -= lr * dw1[0][j]
            w1[1][j] -= lr * dw1[1][j]
            hb[j] -= lr * db1[j]
            w2[j] -= lr * dw2[j]
        ob -= lr * db2
    return ScalarResult(np.array(w1), np.array(hb), np.array(w2).reshape(H, 1),
                        np.array([ob]), losses)
