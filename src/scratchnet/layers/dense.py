"""Dense (fully connected) layer: ``z = x @ W + b``."""

from __future__ import annotations

import numpy as np

from ..backend import as_float_dtype, default_rng, empty
from ..errors import ShapeError
from ..init import get_initializer
from ..parallel import by_rows
from .base import Layer, WeightsAndBias, check_positive_int, register_layer


@register_layer
class Dense(WeightsAndBias, Layer):
    """Fully connected layer, weights stored ``(in, out)`` so the forward pass reads like math.

    Forward::

        z = x @ W + b          # (batch, in) @ (in, out) + (out,) -> (batch, out)

    Backward, given ``dz = dL/dz`` of shape (batch, out)::

        dW = x.T @ dz          # (in, batch) @ (batch, out) -> (in, out)
        db = dz.sum(axis=0)    # (out,)
        dx = dz @ W.T          # (batch, out) @ (out, in) -> (batch, in)

    ``dW`` is ``x.T @ dz`` because each weight ``W[i, j]`` multiplies input ``i`` on its
    way to output ``j``: its gradient is that input times that output's error, summed
    over the batch.

    Parameters
    ----------
    n_in, n_out : sizes of the input and output.
    init : initialiser of ``W`` (name or object), default ``"xavier_uniform"``.
    bias_init : initialiser of ``b``, default ``"zeros"``.
    rng : seed or ``numpy.random.Generator`` for the initial draw.
    dtype : float32 (default) or float64.
    """

    def __init__(
        self,
        n_in: int,
        n_out: int,
        init="xavier_uniform",
        bias_init="zeros",
        rng=None,
        dtype=None,
        name: str | None = None,
    ):
        super().__init__(name)
        self.n_in = check_positive_int(n_in, "Dense n_in")
        self.n_out = check_positive_int(n_out, "Dense n_out")
        self.init = get_initializer(init)
        self.bias_init = get_initializer(bias_init)
        self.dtype = as_float_dtype(dtype)
        self.params = {
            "W": empty((self.n_in, self.n_out), self.dtype),
            "b": empty((self.n_out,), self.dtype),
        }
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.reset_parameters(default_rng(rng))
        self._x: np.ndarray | None = None

    @classmethod
    def param_shapes(cls, config):
        n_in = check_positive_int(config["n_in"], "Dense n_in")
        n_out = check_positive_int(config["n_out"], "Dense n_out")
        return {"W": (n_in, n_out), "b": (n_out,)}

    def reset_parameters(self, rng: np.random.Generator) -> None:
        self.params["W"][...] = self.init(
            (self.n_in, self.n_out), self.n_in, self.n_out, rng, self.dtype
        )
        self.params["b"][...] = self.bias_init(
            (self.n_out,), self.n_in, self.n_out, rng, self.dtype
        )

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._check_input(x, 2, f"(batch, {self.n_in})")
        if x.shape[1] != self.n_in:
            raise ShapeError(
                f"{self.describe()}: expected input of shape (batch, {self.n_in}), got {x.shape}: "
                f"each sample must have {self.n_in} features, this one has {x.shape[1]}"
            )
        self._x = x  # cached: dW needs the input
        W, b = self.params["W"], self.params["b"]
        z = np.empty((len(x), self.n_out), dtype=np.result_type(x, W))

        # Each row of z is its own sample: with several threads (scratchnet.parallel),
        # each computes its share of the batch; otherwise `rows` is all of it.
        def rows(part):
            np.matmul(x[part], W, out=z[part])  # (batch, in) @ (in, out)
            z[part] += b

        by_rows(rows, z, cost=self._product_cost(len(x)))
        return z

    def _product_cost(self, batch: int) -> int:
        """One of this layer's matrix products, in by_rows' element-wise units."""
        return batch * self.n_in * self.n_out // 32

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        dz = grad_out  # dL/dz, (batch, out)
        x, W, dW = self._x, self.params["W"], self.grads["W"]
        work = self._product_cost(len(x))

        def dw_rows(part):  # row i of dW belongs to input i: threads split the inputs
            np.matmul(x[:, part].T, dz, out=dW[part])  # (in, batch) @ (batch, out)

        by_rows(dw_rows, dW, cost=work)
        dz.sum(axis=0, out=self.grads["b"])  # (out,)
        if not self.needs_input_grad:
            return None
        dx = np.empty((len(dz), self.n_in), dtype=np.result_type(dz, W))

        def dx_rows(part):  # and the samples for dL/dx
            np.matmul(dz[part], W.T, out=dx[part])  # (batch, out) @ (out, in) -> dL/dx

        by_rows(dx_rows, dx, cost=work)
        return dx

    def output_shape(self, input_shape):
        return (self.n_out,)

    def get_config(self) -> dict:
        return {
            "n_in": self.n_in,
            "n_out": self.n_out,
            "init": self.init.spec(),
            "bias_init": self.bias_init.spec(),
            "dtype": self.dtype.name,
            "name": self.name,
        }
