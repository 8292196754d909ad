"""Element-wise activations and softmax, each with its hand-written derivative.

Every activation caches what its derivative is cheapest to compute from:
sigmoid and tanh cache their *output* (``s' = s (1 - s)``, ``tanh' = 1 - t^2``),
ReLU caches the mask of positive inputs.
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError
from ..parallel import by_rows
from .base import Layer, register_layer


def sigmoid(z: np.ndarray) -> np.ndarray:
    """Numerically stable logistic function ``1 / (1 + exp(-z))``.

    Written so that ``exp`` never sees a large positive argument: for ``z >= 0`` it is
    ``1 / (1 + e^-z)``, for ``z < 0`` the same value as ``e^z / (1 + e^z)``. Both cases
    are one formula::

        sigmoid(z) = e^min(z, 0) / (1 + e^-|z|)

    (numerator 1 when z >= 0, e^z when z < 0). Finite and in [0, 1] for every finite
    ``z``, including +-1e4 and float32's extremes. One pass per operation and no
    masks: several times faster than selecting the two cases with ``where=``.
    """
    z = np.asarray(z)
    dt = np.result_type(z.dtype, np.float32)  # integer input gives float64, float32 stays
    return np.exp(np.minimum(z, 0, dtype=dt)) / (1.0 + np.exp(-np.abs(z, dtype=dt)))


def log_sigmoid(z: np.ndarray) -> np.ndarray:
    """``log(sigmoid(z)) = -log(1 + e^-z) = min(z, 0) - log1p(e^-|z|)``, stable for any z."""
    z = np.asarray(z)
    return np.minimum(z, 0) - np.log1p(np.exp(-np.abs(z)))


def row_max(z: np.ndarray, axis: int = -1) -> np.ndarray:
    """``z.max(axis=axis, keepdims=True)``. For a (batch, classes) array and the last axis,
    the maximum is taken across a transposed copy instead: NumPy reduces a short last
    axis row by row (7.6 µs for 128 x 10), a long first axis in one vectorised sweep
    (1.6 µs with the copy). The same values either way: a maximum does not round."""
    if z.ndim == 2 and axis in (1, -1) and z.shape[1] <= 64:
        return np.ascontiguousarray(z.T).max(axis=0)[:, None]
    return z.max(axis=axis, keepdims=True)


def log_softmax(z: np.ndarray, axis: int = -1) -> np.ndarray:
    """``z - logsumexp(z)``, with the max subtracted first so ``exp`` cannot overflow."""
    shifted = z - row_max(z, axis)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def softmax(z: np.ndarray, axis: int = -1) -> np.ndarray:
    """``exp(z - max z) / sum(exp(z - max z))``: the shift changes nothing mathematically
    but keeps every exponent <= 0."""
    shifted = z - row_max(z, axis)
    e = np.exp(shifted)
    e /= e.sum(axis=axis, keepdims=True)
    return e


@register_layer
class Sigmoid(Layer):
    """``a = sigmoid(z) = 1 / (1 + e^-z)``.

    Backward: ``dz = da * a * (1 - a)``. The factor ``a (1 - a)`` peaks at 0.25 when
    ``z = 0`` and vanishes when the unit saturates (a near 0 or 1): the vanishing
    gradient of deep sigmoid networks.
    """

    keeps_output = True  # backward reads the cached output

    def forward(self, z):
        self._a = sigmoid(z)  # cached: the derivative is a (1 - a)
        return self._a

    def backward(self, grad_out):
        a = self._a
        return grad_out * a * (1.0 - a)


@register_layer
class Tanh(Layer):
    """``a = tanh(z)``; backward ``dz = da * (1 - a^2)`` (peak 1 at z = 0, four times sigmoid's)."""

    keeps_output = True  # backward reads the cached output

    def forward(self, z):
        self._a = np.tanh(z)
        return self._a

    def backward(self, grad_out):
        a = self._a
        return grad_out * (1.0 - a * a)


@register_layer
class ReLU(Layer):
    """``a = max(0, z)``; backward ``dz = da * [z > 0]``.

    The derivative is exactly 1 for active units, so gradients pass through
    deep stacks undiminished; a unit whose input is always negative is "dead".

    ``inplace=True`` (PyTorch's option of the same name) writes ``a`` over ``z`` and,
    in backward, ``dz`` over ``da``, instead of making two new arrays of the same size.
    The numbers are the same; less memory is written, which for the MNIST CNN's first
    ReLU (11 MB a step) is a noticeable share of the step (see docs/performance.md).
    The layer before must not need its output again: ``Sequential`` refuses an
    in-place ReLU as the first layer (it would overwrite your ``X``) or after a layer
    that keeps its output for its own backward pass (Sigmoid, Tanh, Softmax).
    """

    def __init__(self, inplace: bool = False, name: str | None = None):
        super().__init__(name)
        if not isinstance(inplace, bool):
            raise ConfigError(f"ReLU inplace must be True or False, got {inplace!r}")
        self.inplace = inplace

    def forward(self, z):
        mask = np.empty(z.shape, dtype=bool)  # cached: the derivative is 1 where z > 0, else 0
        a = z if self.inplace else np.empty_like(z)

        def rows(part):  # all of the batch, or one thread's share of a large one
            np.greater(z[part], 0, out=mask[part])
            np.maximum(z[part], 0, out=a[part])  # NaN stays NaN

        by_rows(rows, z)
        self._mask = mask
        return a

    def backward(self, grad_out):
        dz = grad_out if self.inplace else np.empty_like(grad_out)

        def rows(part):
            np.multiply(grad_out[part], self._mask[part], out=dz[part])

        by_rows(rows, grad_out)
        return dz

    def get_config(self):
        return {"inplace": self.inplace, "name": self.name}


@register_layer
class LeakyReLU(Layer):
    """``a = z if z > 0 else alpha * z``; backward ``dz = da * (1 if z > 0 else alpha)``."""

    def __init__(self, alpha: float = 0.01, name: str | None = None):
        super().__init__(name)
        if not np.isfinite(alpha) or alpha < 0:
            raise ConfigError(f"LeakyReLU alpha must be a finite number >= 0, got {alpha!r}")
        self.alpha = float(alpha)

    def forward(self, z):
        self._mask = z > 0
        return np.where(self._mask, z, z * z.dtype.type(self.alpha))

    def backward(self, grad_out):
        return np.where(self._mask, grad_out, grad_out * grad_out.dtype.type(self.alpha))

    def get_config(self):
        return {"alpha": self.alpha, "name": self.name}


@register_layer
class Softmax(Layer):
    """``p_k = exp(z_k) / sum_j exp(z_j)`` over the last axis.

    Backward uses the Jacobian-vector product without building the Jacobian:
    ``dz = p * (dp - sum(dp * p, axis=-1))``. For classification prefer a linear
    last layer with ``SoftmaxCrossEntropy`` (fused, from logits): its gradient is
    simply ``p - y``.
    """

    keeps_output = True  # backward reads the cached output

    def forward(self, z):
        self._p = softmax(z, axis=-1)
        return self._p

    def backward(self, grad_out):
        p = self._p
        return p * (grad_out - (grad_out * p).sum(axis=-1, keepdims=True))


ACTIVATIONS: dict[str, type[Layer]] = {
    "sigmoid": Sigmoid,
    "tanh": Tanh,
    "relu": ReLU,
    "leaky_relu": LeakyReLU,
    "softmax": Softmax,
}


def get_activation(name) -> Layer:
    """A fresh activation layer from its name (``"relu"``) or the layer itself."""
    if isinstance(name, Layer):
        return name
    key = str(name).lower().replace("-", "_")
    if key not in ACTIVATIONS:
        raise ConfigError(f"unknown activation {name!r}; expected one of {sorted(ACTIVATIONS)}")
    return ACTIVATIONS[key]()
