"""The contract every layer follows.

A layer is a small object with two methods that mirror each other:

* ``forward(x)`` computes the output and *caches* what the backward pass will need
  (the input, a mask, the output of a sigmoid...).
* ``backward(grad_out)`` receives ``dL/d(output)`` and returns ``dL/d(input)``; on the
  way it *fills* ``self.grads[name]`` with ``dL/d(param)`` for each of its parameters.

Parameters live in ``self.params`` (name -> array) and their gradients in
``self.grads`` (same names, same shapes). Gradients are written in place
(``out=`` or ``[...] =``) so optimisers and recorders can hold on to the arrays.
Non-trainable state (BatchNorm's running statistics) lives in ``self.buffers``.

``training`` switches behaviour that differs between training and inference
(Dropout, BatchNorm); ``Sequential.train()`` / ``eval()`` set it on every layer.
"""

from __future__ import annotations

import numpy as np

from ..backend import as_float_dtype
from ..errors import ConfigError, DTypeError, ShapeError

# name -> class of every layer that a model file may name. Loading a model only
# ever looks names up here: a file can never make scratchnet import anything.
LAYER_TYPES: dict[str, type[Layer]] = {}


def register_layer(cls):
    """Class decorator: make ``cls`` known to model files and to the gradient-check suite."""
    LAYER_TYPES[cls.__name__] = cls
    return cls


class Layer:
    """Base class of all layers (see the module docstring for the contract)."""

    #: True for layers whose forward pass draws random numbers (Dropout).
    stochastic = False
    #: True for layers whose backward pass reads the very array forward returned
    #: (Sigmoid, Tanh, Softmax): nothing after them may overwrite it (ReLU(inplace=True)).
    keeps_output = False
    #: True for layers that may return their input itself or a view of it (Flatten,
    #: Dropout when not training): an in-place layer after one writes into that input.
    passes_input = False
    #: True for layers that share each batch between scratchnet's worker threads
    #: (Conv2D, pooling): with several workers, a model containing one trains in
    #: "worker mode" (see scratchnet.parallel).
    batch_parallel = False
    #: True for layers whose training forward pass mixes the samples of a batch (batch
    #: normalisation's statistics): a batch cannot be shared between processes.
    mixes_batch = False

    def __init__(self, name: str | None = None):
        self.name = name
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.buffers: dict[str, np.ndarray] = {}
        self.training = True
        self.dtype = None  # set by layers that own parameters
        # False for the first trainable layer during fit: nobody needs dL/d(input) there,
        # and for Dense(784, 256) that product alone is a third of the backward pass.
        self.needs_input_grad = True

    # -- the two passes -------------------------------------------------
    def forward(self, x: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def backward(self, grad_out: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.forward(x)

    # -- shapes -----------------------------------------------------------
    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        """Shape of one sample's output given one sample's input shape (no batch axis)."""
        return tuple(input_shape)

    # -- parameters ---------------------------------------------------------
    @property
    def n_params(self) -> int:
        return int(sum(p.size for p in self.params.values()))

    @classmethod
    def param_shapes(cls, config: dict) -> dict[str, tuple[int, ...]]:
        """Shapes of the parameters and buffers a layer built from ``config`` would own,
        computed *without* building it. Loaders compare these with a file's arrays
        before allocating anything. Layers that own arrays must override this."""
        return {}

    def reset_parameters(self, rng: np.random.Generator) -> None:
        """Draw fresh parameters (layers without parameters do nothing)."""

    def zero_grad(self) -> None:
        for g in self.grads.values():
            g.fill(0)

    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of the parameters and buffers, by name."""
        out = {k: v.copy() for k, v in self.params.items()}
        out.update({k: v.copy() for k, v in self.buffers.items()})
        return out

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Copy arrays into the parameters and buffers (shapes must match exactly)."""
        own = {**self.params, **self.buffers}
        missing = sorted(set(own) - set(state))
        unexpected = sorted(set(state) - set(own))
        if missing or unexpected:
            raise ShapeError(
                f"{self.describe()}: state has keys {sorted(state)}, expected {sorted(own)}"
            )
        for k, target in own.items():
            src = np.asarray(state[k])
            if src.shape != target.shape:
                raise ShapeError(
                    f"{self.describe()}: '{k}' has shape {src.shape}, expected {target.shape}"
                )
            target[...] = src

    def astype(self, dtype) -> Layer:
        """Convert parameters, gradients and buffers to ``dtype`` (float32 or float64)."""
        dt = as_float_dtype(dtype)
        for d in (self.params, self.grads, self.buffers):
            for k in d:
                d[k] = d[k].astype(dt)
        if self.dtype is not None:
            self.dtype = dt
        return self

    # -- modes --------------------------------------------------------------
    def train(self, mode: bool = True) -> Layer:
        self.training = bool(mode)
        return self

    def eval(self) -> Layer:
        return self.train(False)

    # -- description ---------------------------------------------------------
    def get_config(self) -> dict:
        """Constructor arguments as JSON-able values (saved in model files)."""
        return {}

    def describe(self) -> str:
        return self.name or type(self).__name__

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "name")
        return f"{type(self).__name__}({args})"

    # -- helpers for subclasses ---------------------------------------------------
    def _check_input(self, x, ndim: int | tuple[int, ...], what: str) -> np.ndarray:
        """Refuse inputs of the wrong rank or dtype at the layer boundary."""
        if not isinstance(x, np.ndarray):
            raise DTypeError(f"{self.describe()}: expected a numpy array, got {type(x).__name__}")
        ndims = (ndim,) if isinstance(ndim, int) else ndim
        if x.ndim not in ndims:
            raise ShapeError(
                f"{self.describe()}: expected input of shape {what}, got shape {x.shape}"
            )
        if self.dtype is not None and x.dtype != self.dtype:
            raise DTypeError(
                f"{self.describe()}: input dtype is {x.dtype} but the layer's parameters are "
                f"{self.dtype}; convert explicitly (x.astype(np.{self.dtype})) to avoid "
                "a silent upcast"
            )
        return x


class WeightsAndBias:
    """``W``, ``b``, ``dW``, ``db``: the seed notes' names for a layer's ``params["W"]``,
    ``params["b"]`` and their gradients (Dense and Conv2D)."""

    params: dict[str, np.ndarray]
    grads: dict[str, np.ndarray]

    @property
    def W(self) -> np.ndarray:
        return self.params["W"]

    @property
    def b(self) -> np.ndarray:
        return self.params["b"]

    @property
    def dW(self) -> np.ndarray:
        return self.grads["W"]

    @property
    def db(self) -> np.ndarray:
        return self.grads["b"]


def check_positive_int(value, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ConfigError(f"{what} must be a positive integer, got {value!r}")
    return int(value)
