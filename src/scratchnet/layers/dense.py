"""Dense (fully connected) layer: ``z = x @ W + b``."""

from __future__ import annotations

import numpy as np

from ..backend import as_float_dtype, default_rng, empty
from ..errors import ShapeError
from ..init import get_initializer
from ..parallel import blas_threads, by_rows
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

    **Inputs that are zero in the whole batch.** Such an input adds nothing to ``z``,
    and the gradient of its row of ``W`` is exactly zero. When a layer reads the data
    itself (the first layer during ``fit``, which needs no ``dL/dx``), BLAS runs on one
    thread, and at least a quarter of the inputs are zero for every sample of the
    batch, the layer leaves them out of both products::

        used = inputs with a non-zero value somewhere in the batch
        z = x[:, used] @ W[used] + b      dW[used] = x[:, used].T @ dz      dW[rest] = 0

    The same numbers up to rounding (a shorter sum, added in another order). MNIST's
    blank pixels are about a third of the 784 inputs in a batch of 128, and the first
    layer's two products are about half of an MLP training step: the step is about 7%
    faster. Not with several BLAS threads: the copies are made on one core and the
    products that read them run on all, and the MLP's first epoch was 14% slower with
    the inputs left out than without (docs/performance.md).
    ``skip_zero_inputs = False`` (on the layer or the class) multiplies every input.

    Parameters
    ----------
    n_in, n_out : sizes of the input and output.
    init : initialiser of ``W`` (name or object), default ``"xavier_uniform"``.
    bias_init : initialiser of ``b``, default ``"zeros"``.
    rng : seed or ``numpy.random.Generator`` for the initial draw.
    dtype : float32 (default) or float64.
    """

    #: Leave inputs that are zero in the whole batch out of the products (see above).
    skip_zero_inputs = True
    #: ... for products of at least this many multiply-adds (batch * n_in * n_out):
    #: below it, finding the zero inputs costs more than leaving them out saves.
    skip_min_work = 1 << 20

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
        self._used: tuple[np.ndarray, np.ndarray] | None = None  # (used, unused) inputs

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
        W, b = self.params["W"], self.params["b"]
        self._used = None
        if (self.skip_zero_inputs and not self.needs_input_grad
                and len(x) * self.n_in * self.n_out >= self.skip_min_work
                and blas_threads() == 1):
            # (in,): input i is non-zero (or NaN) for some sample. `x != 0` first: an
            # any() straight on floats converts each to bool on the way, twice as slow.
            in_use = (x != 0).any(axis=0)
            used = np.flatnonzero(in_use)
            if 4 * len(used) <= 3 * self.n_in:  # a quarter or more are zero throughout
                self._used = (used, np.flatnonzero(~in_use))
                # (batch, used) and (used, out) copies. take() gives x in row order (x[:, used]
                # would be column order), as the full x is: worker threads then compute
                # their rows of dW bit for bit as one thread does.
                x, W = np.take(x, used, axis=1), W[used]
        self._x = x  # cached: dW needs the input
        z = np.empty((len(x), self.n_out), dtype=np.result_type(x, W))

        # Each row of z is its own sample: with several threads (scratchnet.parallel),
        # each computes its share of the batch; otherwise `rows` is all of it.
        def rows(part):
            np.matmul(x[part], W, out=z[part])  # (batch, in) @ (in, out)
            z[part] += b

        by_rows(rows, z, cost=self._product_cost(x))
        return z

    def _product_cost(self, x: np.ndarray) -> int:
        """One of this layer's matrix products with input ``x``, in by_rows' units."""
        return x.size * self.n_out // 32

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        dz = grad_out  # dL/dz, (batch, out)
        x, W, dW = self._x, self.params["W"], self.grads["W"]
        work = self._product_cost(x)
        used = self._used
        # the rows of dW that the product gives: all of them, or those of the used inputs
        dWx = dW if used is None else np.empty((len(used[0]), self.n_out), dtype=dW.dtype)

        def dw_rows(part):  # row i of dW belongs to input i: threads split the inputs
            np.matmul(x[:, part].T, dz, out=dWx[part])  # (in, batch) @ (batch, out)

        by_rows(dw_rows, dWx, cost=work)
        if used is not None:
            dW[used[0]] = dWx
            dW[used[1]] = 0  # inputs that were zero for every sample
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
