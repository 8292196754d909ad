"""Batch normalisation: standardise each feature over the batch, then scale and shift.

``BatchNorm1d`` normalises each column of a (batch, features) matrix; ``BatchNorm2d``
normalises each channel of an NCHW batch over all of its N*H*W values (one mean and
one variance per channel, shared by every pixel, as a convolution's weights are).
The conventions are PyTorch's, so results match it to rounding error.
"""

from __future__ import annotations

import math

import numpy as np

from ..backend import as_float_dtype, empty
from ..errors import ConfigError, DTypeError, ScratchnetError, ShapeError
from .base import Layer, check_positive_int, register_layer


class _BatchNorm(Layer):
    """Shared forward/backward of BatchNorm1d and BatchNorm2d (math: see BatchNorm1d)."""

    #: axes the statistics are taken over; set by subclasses
    _axes: tuple[int, ...] = (0,)
    _ndim = 2
    _what = "(batch, features)"

    def __init__(
        self,
        num_features: int,
        momentum: float = 0.1,
        eps: float = 1e-5,
        dtype=None,
        name: str | None = None,
    ):
        super().__init__(name)
        kind = type(self).__name__
        self.num_features = check_positive_int(num_features, f"{kind} num_features")
        if (
            isinstance(momentum, bool)
            or not isinstance(momentum, (int, float))
            or not 0.0 <= momentum <= 1.0
        ):
            raise ConfigError(f"{kind} momentum must be a number in [0, 1], got {momentum!r}")
        if (
            isinstance(eps, bool)
            or not isinstance(eps, (int, float))
            or not (math.isfinite(eps) and eps > 0)
        ):
            raise ConfigError(f"{kind} eps must be a finite number > 0, got {eps!r}")
        self.momentum = float(momentum)
        self.eps = float(eps)
        self.dtype = as_float_dtype(dtype)
        f = self.num_features
        self.params = {"gamma": empty((f,), self.dtype), "beta": empty((f,), self.dtype)}
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.buffers = {
            "running_mean": empty((f,), self.dtype),
            "running_var": empty((f,), self.dtype),
        }
        self.reset_parameters(None)
        self._cache: dict | None = None

    @property
    def gamma(self) -> np.ndarray:
        return self.params["gamma"]

    @property
    def beta(self) -> np.ndarray:
        return self.params["beta"]

    @property
    def running_mean(self) -> np.ndarray:
        return self.buffers["running_mean"]

    @property
    def running_var(self) -> np.ndarray:
        return self.buffers["running_var"]

    def reset_parameters(self, rng: np.random.Generator | None) -> None:
        """gamma = 1, beta = 0 (start as the identity on xhat); forget the running stats.

        Nothing is random, so ``rng`` is unused.
        """
        self.params["gamma"].fill(1)
        self.params["beta"].fill(0)
        self.buffers["running_mean"].fill(0)
        self.buffers["running_var"].fill(1)

    def _feature_shape(self) -> tuple[int, ...]:
        """Shape that broadcasts a per-feature vector against the input."""
        shape = [1] * self._ndim
        shape[1] = self.num_features
        return tuple(shape)

    def output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        expected = self._what.replace("(batch, ", "(").replace("features", str(self.num_features))
        expected = expected.replace("channels", str(self.num_features))
        if len(input_shape) != self._ndim - 1 or input_shape[0] != self.num_features:
            raise ShapeError(
                f"{self.describe()}: expected a sample shape {expected}, got {input_shape}"
            )
        return input_shape

    # -- the two passes ------------------------------------------------------------------
    def forward(self, x: np.ndarray) -> np.ndarray:
        self._check_input(x, self._ndim, self._what)
        if x.shape[1] != self.num_features:
            raise ShapeError(
                f"{self.describe()}: expected input of shape {self._what} with "
                f"{self.num_features} {'features' if self._ndim == 2 else 'channels'}, "
                f"got {x.shape}"
            )
        axes, fshape = self._axes, self._feature_shape()
        m = x.size // self.num_features  # values per feature
        if self.training:
            if m < 2:
                raise ShapeError(
                    f"{self.describe()}: training needs more than one value per feature to "
                    f"estimate a variance, got input of shape {x.shape}; use eval() for "
                    "single samples"
                )
            mu = x.mean(axis=axes, keepdims=True)
            xc = x - mu
            var = np.mean(xc * xc, axis=axes, keepdims=True)  # biased (divides by m)
            mom = self.momentum
            self.buffers["running_mean"] *= 1.0 - mom
            self.buffers["running_mean"] += mom * mu.reshape(-1)
            self.buffers["running_var"] *= 1.0 - mom
            self.buffers["running_var"] += (mom * m / (m - 1)) * var.reshape(-1)
        else:
            xc = x - self.buffers["running_mean"].reshape(fshape)
            var = self.buffers["running_var"].reshape(fshape)
        inv_std = 1.0 / np.sqrt(var + self.dtype.type(self.eps))
        xhat = xc
        xhat *= inv_std  # xc is a fresh array: reuse it for xhat
        y = xhat * self.params["gamma"].reshape(fshape)
        y += self.params["beta"].reshape(fshape)
        self._cache = {"xhat": xhat, "inv_std": inv_std, "m": m, "training": self.training}
        return y

    def backward(self, grad_out: np.ndarray) -> np.ndarray | None:
        if self._cache is None:
            raise ScratchnetError(f"{self.describe()}: backward() called before forward()")
        xhat, inv_std, m = self._cache["xhat"], self._cache["inv_std"], self._cache["m"]
        dy = grad_out
        if not isinstance(dy, np.ndarray) or dy.shape != xhat.shape:
            got = dy.shape if isinstance(dy, np.ndarray) else type(dy).__name__
            raise ShapeError(
                f"{self.describe()}: grad_out must have shape {xhat.shape}, got {got}"
            )
        if dy.dtype != self.dtype:
            raise DTypeError(
                f"{self.describe()}: grad_out dtype is {dy.dtype}, expected {self.dtype}"
            )
        axes, fshape = self._axes, self._feature_shape()
        dbeta, dgamma = self.grads["beta"], self.grads["gamma"]
        np.sum(dy, axis=axes, out=dbeta)
        np.sum(dy * xhat, axis=axes, out=dgamma)
        if not self.needs_input_grad:  # first trainable layer during fit: dx unused
            return None
        gamma = self.params["gamma"].reshape(fshape)
        dxhat = dy * gamma
        if not self._cache["training"]:
            dxhat *= inv_std
            return dxhat
        sum_dxhat = gamma * dbeta.reshape(fshape)  # = sum(dxhat)
        sum_dxhat_xhat = gamma * dgamma.reshape(fshape)  # = sum(dxhat * xhat)
        # dx = (inv_std / m) * (m * dxhat - sum(dxhat) - xhat * sum(dxhat * xhat))
        dx = dxhat
        dx *= m
        dx -= sum_dxhat
        dx -= xhat * sum_dxhat_xhat
        dx *= inv_std * self.dtype.type(1.0 / m)
        return dx

    #: the config key that holds the number of features (BatchNorm2d calls it channels)
    _size_key = "num_features"

    @classmethod
    def param_shapes(cls, config):
        f = check_positive_int(config[cls._size_key], f"{cls.__name__} {cls._size_key}")
        return {"gamma": (f,), "beta": (f,), "running_mean": (f,), "running_var": (f,)}

    def get_config(self) -> dict:
        return {
            "num_features": self.num_features,
            "momentum": self.momentum,
            "eps": self.eps,
            "dtype": self.dtype.name,
            "name": self.name,
        }


@register_layer
class BatchNorm1d(_BatchNorm):
    """Batch normalisation of a (batch, features) matrix: statistics per column over the batch.

    Shapes: ``x, y, dx : (N, F)``; ``gamma, beta, running_mean, running_var : (F,)``.

    Notation: ``m`` is the number of values each statistic is taken over (N for 1d,
    N*H*W for 2d); sums ``sum`` run over those m values, separately per feature.

    Forward (training)::

        mu      = sum(x) / m                              # per feature
        var     = sum((x - mu)^2) / m                     # biased: what normalises
        inv_std = 1 / sqrt(var + eps)
        xhat    = (x - mu) * inv_std                      # mean 0, variance ~1
        y       = gamma * xhat + beta

        running_mean <- (1 - momentum) * running_mean + momentum * mu
        running_var  <- (1 - momentum) * running_var  + momentum * var * m / (m - 1)

    (``running_var`` tracks the *unbiased* variance, as in PyTorch.) In evaluation
    mode (``eval()``) the running statistics replace ``mu`` and ``var`` and nothing
    is updated: each sample's output no longer depends on the rest of its batch.

    Backward, given ``dy = dL/dy``::

        dbeta  = sum(dy)
        dgamma = sum(dy * xhat)
        dxhat  = dy * gamma

    In evaluation mode ``mu`` and ``inv_std`` are constants, so ``dx = dxhat * inv_std``.
    In training mode they depend on every x of the batch too; collecting the three
    paths (through xhat directly, through mu, through var) gives the compact form ::

        dx = (inv_std / m) * (m * dxhat - sum(dxhat) - xhat * sum(dxhat * xhat))

    The two correction terms remove from ``dxhat`` its mean and its component along
    ``xhat``: a change of x that only shifts or scales a feature's batch does not
    change ``xhat`` at all. Since ``sum(dxhat) = gamma * dbeta`` and
    ``sum(dxhat * xhat) = gamma * dgamma``, both sums are already in hand.

    Parameters
    ----------
    num_features : F.
    momentum : weight of the current batch in the running statistics, default 0.1.
    eps : added to the variance before the square root, default 1e-5.
    dtype : float32 (default) or float64.
    """

    _axes = (0,)
    _ndim = 2
    _what = "(batch, features)"


@register_layer
class BatchNorm2d(_BatchNorm):
    """Batch normalisation of NCHW images: one mean/variance per channel over N, H and W.

    Shapes: ``x, y, dx : (N, C, H, W)``; ``gamma, beta, running_mean, running_var : (C,)``;
    ``m = N*H*W``. Every pixel of a channel shares its statistics and its (gamma, beta),
    just as it shares the convolution filter that produced it. Math: see BatchNorm1d, with
    the sums running over the batch and both spatial axes.

    Parameters
    ----------
    num_channels : C.
    momentum : weight of the current batch in the running statistics, default 0.1.
    eps : added to the variance before the square root, default 1e-5.
    dtype : float32 (default) or float64.
    """

    _axes = (0, 2, 3)
    _ndim = 4
    _what = "(batch, channels, height, width)"

    def __init__(
        self,
        num_channels: int,
        momentum: float = 0.1,
        eps: float = 1e-5,
        dtype=None,
        name: str | None = None,
    ):
        super().__init__(num_channels, momentum=momentum, eps=eps, dtype=dtype, name=name)

    _size_key = "num_channels"

    @property
    def num_channels(self) -> int:
        return self.num_features

    def get_config(self) -> dict:
        config = super().get_config()
        return {"num_channels": config.pop("num_features"), **config}
