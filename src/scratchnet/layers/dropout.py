"""Dropout and Flatten: layers without parameters."""

from __future__ import annotations

import math

import numpy as np

from ..backend import default_rng
from ..errors import ConfigError
from .base import Layer, register_layer


@register_layer
class Dropout(Layer):
    """Inverted dropout: in training, zero each unit with probability ``p`` and scale the
    survivors by ``1 / (1 - p)`` so the expected activation is unchanged; at inference
    (``eval()``) it is the identity.

    Forward (training)::  mask = (u >= p) / (1 - p);  y = x * mask
    Backward::            dx = dy * mask
    """

    stochastic = True

    passes_input = True  # returns its input (or a view of it) unchanged

    def __init__(self, p: float = 0.5, rng=None, name: str | None = None):
        super().__init__(name)
        if not (isinstance(p, (int, float)) and math.isfinite(p) and 0.0 <= p < 1.0):
            raise ConfigError(f"Dropout p must be in [0, 1), got {p!r}")
        self.p = float(p)
        self.rng = default_rng(rng)  # Sequential replaces this with its own generator
        self._mask = None

    def forward(self, x):
        if not self.training or self.p == 0.0:
            self._mask = None
            return x
        keep = self.rng.random(x.shape, dtype=x.dtype) >= self.p
        self._mask = keep * x.dtype.type(1.0 / (1.0 - self.p))
        return x * self._mask

    def backward(self, grad_out):
        if self._mask is None:
            return grad_out
        return grad_out * self._mask

    def get_config(self):
        return {"p": self.p, "name": self.name}


@register_layer
class Flatten(Layer):
    """Reshape ``(batch, d1, d2, ...)`` to ``(batch, d1*d2*...)``; backward reshapes back."""

    passes_input = True  # returns its input (or a view of it) unchanged

    def forward(self, x):
        self._shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, grad_out):
        return grad_out.reshape(self._shape)

    def output_shape(self, input_shape):
        return (int(np.prod(input_shape)),)
