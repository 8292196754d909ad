"""Loss functions: each returns a number, and its gradient with respect to its input.

Usage mirrors a layer::

    value = loss.forward(output, target)   # caches what backward needs
    grad = loss.backward()                 # dL/d(output), same shape as output

All losses average over every element of the batch (``reduction = mean``), so a
learning rate means the same thing whatever the batch size. The value is returned as a
Python float and the average is accumulated in float64: per-element losses of a float32
network can be large yet representable (about 3e38) while their float32 *sum* would
overflow to inf. Gradients stay in the output's dtype.

The losses "from logits" take the raw output of the last Dense layer and apply
the sigmoid/softmax themselves. Fusing the two is what makes them stable (no
``log(0)``) and what makes the gradient so simple: ``dL/dz = (p - y) / n``.
"""

from __future__ import annotations

import numpy as np

from .errors import ConfigError, DataError, ShapeError
from .layers.activations import row_max, sigmoid, softmax


class Loss:
    """Base class. Subclasses implement ``_forward`` and ``_backward``."""

    name = "loss"
    #: True when the loss expects raw scores (logits) rather than probabilities.
    from_logits = False

    def __call__(self, output: np.ndarray, target: np.ndarray) -> float:
        return self.forward(output, target)

    def forward(self, output: np.ndarray, target: np.ndarray) -> float:
        target = self._align_target(output, target)
        self._output, self._target = output, target
        return float(self._forward(output, target))

    def backward(self) -> np.ndarray:
        """``dL/d(output)`` for the last ``forward`` call."""
        return self._backward(self._output, self._target)

    def value_and_grad(self, output, target) -> tuple[float, np.ndarray]:
        value = self.forward(output, target)
        return value, self.backward()

    # -- what the model needs to know about the output ------------------------
    def to_probabilities(self, output: np.ndarray) -> np.ndarray:
        """Turn the network's output into what a user reads as probabilities."""
        return output

    def predict_labels(self, output: np.ndarray) -> np.ndarray:
        """Class labels (n,) from outputs: threshold one column at 0.5, argmax several."""
        p = self.to_probabilities(output)
        if p.ndim == 2 and p.shape[1] > 1:
            return p.argmax(axis=1)
        return (p.reshape(len(p), -1)[:, 0] > 0.5).astype(np.int64)

    def validate_targets(self, target: np.ndarray, n_outputs: int) -> np.ndarray:
        """Check a whole target array once, before training. Returns it as used in training."""
        return np.asarray(target)

    def spec(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    # -- helpers -----------------------------------------------------------
    def _align_target(self, output, target):
        target = np.asarray(target)
        if target.shape != output.shape:
            if target.ndim == 1 and output.ndim == 2 and output.shape[1] == 1:
                target = target.reshape(-1, 1)
            else:
                raise ShapeError(
                    f"{self.name}: target shape {target.shape} does not match output shape "
                    f"{output.shape}"
                )
        if target.dtype != output.dtype:
            target = target.astype(output.dtype)
        return target

    def _forward(self, output, target):  # pragma: no cover - abstract
        raise NotImplementedError

    def _backward(self, output, target):  # pragma: no cover - abstract
        raise NotImplementedError


class MSELoss(Loss):
    """Mean squared error (seed 000): ``L = mean((a - y)^2)``.

    Backward: ``dL/da = 2 (a - y) / a.size``: every element contributes
    ``(a - y)^2 / size``.
    """

    name = "mse"

    def _forward(self, a, y):
        # The value is computed in float64 (a few numbers per sample, so cheap): an error
        # of float32's largest size still has a finite square. The gradient stays in the
        # output's dtype.
        diff = np.subtract(a, y, dtype=np.float64)
        return np.mean(diff * diff)

    def _backward(self, a, y):
        return (a - y) * a.dtype.type(2.0 / a.size)

    def predict_labels(self, output):
        if output.ndim == 2 and output.shape[1] > 1:
            return output.argmax(axis=1)
        return (output.reshape(len(output), -1)[:, 0] > 0.5).astype(np.int64)

    def validate_targets(self, target, n_outputs):
        return _finite_float_targets(self.name, target)


class BCELoss(Loss):
    """Binary cross-entropy on probabilities ``p`` in [0, 1] (after a Sigmoid layer):
    ``L = -mean(y log p + (1 - y) log(1 - p))``.

    Backward: ``dL/dp = (p - y) / (p (1 - p)) / size``. Chained with the sigmoid's
    ``p (1 - p)`` this becomes ``(p - y) / size``: seed 003's ``dz2 = a2 - y``.
    ``p`` is clipped to ``[eps, 1 - eps]`` so a saturated sigmoid cannot give ``log(0)``;
    prefer ``BCEWithLogitsLoss`` on a linear output, which needs no clipping.
    """

    name = "bce"
    _clipped = _clipped_of = None  # the clipped p of the last forward, and its source

    def __init__(self, eps: float = 1e-7):
        self.eps = float(eps)

    def _clip(self, p):
        eps = max(self.eps, float(np.finfo(p.dtype).eps))
        return np.minimum(np.maximum(p, eps), 1.0 - eps)  # np.clip without its Python layers

    def _forward(self, p, y):
        clipped = self._clip(p)
        self._clipped, self._clipped_of = clipped, p  # backward reuses it
        # mean written as sum / size: np.mean's Python wrapper costs more than the sum
        # itself on XOR-sized arrays (same float32 result).
        return -(y * np.log(clipped) + (1.0 - y) * np.log1p(-clipped)).sum() / p.size

    def _backward(self, p, y):
        p = self._clipped if self._clipped_of is p else self._clip(p)
        return (p - y) / (p * (1.0 - p)) / p.dtype.type(p.size)

    def validate_targets(self, target, n_outputs):
        return _binary_targets(self.name, target)


class BCEWithLogitsLoss(Loss):
    """Binary cross-entropy fused with the sigmoid, from logits ``z``.

    ``L = mean(max(z, 0) - z y + log(1 + e^-|z|))`` equals
    ``-mean(y log s(z) + (1 - y) log(1 - s(z)))`` but never takes ``log(0)`` or
    ``exp`` of a large number. Backward: ``dL/dz = (sigmoid(z) - y) / size``.
    """

    name = "bce_logits"
    from_logits = True

    def _forward(self, z, y):
        per_element = np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))
        return np.mean(per_element, dtype=np.float64)

    def _backward(self, z, y):
        return (sigmoid(z) - y) / z.dtype.type(z.size)

    def to_probabilities(self, output):
        return sigmoid(output)

    def validate_targets(self, target, n_outputs):
        return _binary_targets(self.name, target)


class SoftmaxCrossEntropy(Loss):
    """Softmax cross-entropy from logits ``z`` (batch, classes).

    Targets are integer labels ``(batch,)`` or one-hot/probabilities ``(batch, classes)``.
    ``L = -mean_i sum_k y_ik log softmax(z_i)_k`` with ``log softmax`` computed as
    ``z - logsumexp(z)``. Backward: ``dL/dz = (softmax(z) - y) / batch``.
    """

    name = "cross_entropy"
    from_logits = True

    def _align_target(self, output, target):
        target = np.asarray(target)
        if output.ndim != 2:
            raise ShapeError(
                f"{self.name}: expected logits of shape (batch, classes), got {output.shape}"
            )
        if target.ndim == 1:
            if len(target) != len(output):
                raise ShapeError(f"{self.name}: {len(target)} labels for {len(output)} outputs")
            if target.dtype.kind not in "iu":
                raise DataError(f"{self.name}: integer labels expected, got dtype {target.dtype}")
            return target
        if target.shape != output.shape:
            raise ShapeError(
                f"{self.name}: one-hot target shape {target.shape} does not match logits "
                f"{output.shape}"
            )
        return target.astype(output.dtype, copy=False)

    _probs = _probs_of = None  # softmax of the last forward's logits, and those logits

    def _forward(self, z, y):
        # log_softmax and softmax share their work: with s = z - max(z) and e = exp(s),
        # log p = s - log(sum e) and p = e / sum e. Computing both here (the same
        # operations as log_softmax() and softmax()) lets backward reuse p.
        shifted = z - row_max(z, axis=1)
        e = np.exp(shifted)
        total = e.sum(axis=1, keepdims=True)
        log_total = np.log(total)
        e /= total
        self._probs, self._probs_of = e, z
        if y.ndim == 1:
            # -mean(log p[i, y_i]) with log p = shifted - log(total): only the picked
            # entries are needed, not the whole log p.
            picked = shifted[np.arange(len(y)), y]
            return (log_total.sum(dtype=np.float64) - picked.sum(dtype=np.float64)) / len(y)
        return -np.sum(y * (shifted - log_total), dtype=np.float64) / len(z)

    def _backward(self, z, y):
        if self._probs_of is z:  # p from the forward pass; used once, as it is modified
            grad, self._probs, self._probs_of = self._probs, None, None
        else:
            grad = softmax(z, axis=1)
        if y.ndim == 1:
            grad[np.arange(len(y)), y] -= 1.0
        else:
            grad -= y
        grad /= z.dtype.type(len(z))
        return grad

    def to_probabilities(self, output):
        return softmax(output, axis=1)

    def predict_labels(self, output):
        # softmax keeps the order of the logits: the largest logit is the predicted class,
        # no exponentials needed (fit counts correct answers every batch).
        if output.ndim == 2 and output.shape[1] > 1:
            return output.argmax(axis=1)
        return super().predict_labels(output)

    def validate_targets(self, target, n_outputs):
        target = np.asarray(target)
        if target.ndim == 1:
            if target.dtype.kind == "f":
                if not np.all(np.isfinite(target)) or np.any(target != np.round(target)):
                    raise DataError(f"{self.name}: labels must be whole numbers 0..{n_outputs - 1}")
                target = target.astype(np.int64)
            elif target.dtype.kind not in "iu":
                raise DataError(f"{self.name}: integer labels expected, got dtype {target.dtype}")
            if target.size and (target.min() < 0 or target.max() >= n_outputs):
                raise DataError(
                    f"{self.name}: labels must be in 0..{n_outputs - 1} for {n_outputs} "
                    f"outputs, got values from {target.min()} to {target.max()}"
                )
            return target
        if target.ndim == 2 and target.shape[1] == n_outputs:
            return _finite_float_targets(self.name, target)
        raise ShapeError(
            f"{self.name}: targets must be labels (n,) or one-hot (n, {n_outputs}), "
            f"got shape {target.shape}"
        )


def _finite_float_targets(name, target):
    target = np.asarray(target)
    if target.dtype.kind not in "biuf":
        raise DataError(f"{name}: numeric targets expected, got dtype {target.dtype}")
    if target.dtype.kind == "f" and not np.all(np.isfinite(target)):
        raise DataError(f"{name}: targets contain NaN or inf")
    return target


def _binary_targets(name, target):
    target = _finite_float_targets(name, target)
    if target.size and (target.min() < 0 or target.max() > 1):
        raise DataError(
            f"{name}: binary cross-entropy targets must be in [0, 1], got values from "
            f"{target.min()} to {target.max()}"
        )
    return target


LOSSES: dict[str, type[Loss]] = {
    "mse": MSELoss,
    "bce": BCELoss,
    "bce_logits": BCEWithLogitsLoss,
    "bce_with_logits": BCEWithLogitsLoss,
    "cross_entropy": SoftmaxCrossEntropy,
    "softmax_cross_entropy": SoftmaxCrossEntropy,
}


def get_loss(spec) -> Loss:
    """A loss from its name (``"mse"``, ``"bce"``, ``"bce_logits"``, ``"cross_entropy"``) or
    a Loss instance."""
    if isinstance(spec, Loss):
        return spec
    key = str(spec).lower().replace("-", "_")
    if key not in LOSSES:
        raise ConfigError(f"unknown loss {spec!r}; expected one of {sorted(LOSSES)}")
    return LOSSES[key]()
