"""Weight initialisers.

An initialiser is a callable ``init(shape, fan_in, fan_out, rng, dtype) -> array``.
``fan_in`` is the number of inputs that feed one output unit (``n_in`` for Dense,
``C_in*kh*kw`` for Conv2D), ``fan_out`` the number of outputs one input feeds.

Why the scale matters: with ``z = x @ W`` and independent unit-variance inputs,
``Var(z) = fan_in * Var(W)``. Xavier/Glorot keeps ``Var(W) = 2 / (fan_in + fan_out)``
so signals neither grow nor shrink through sigmoid/tanh layers; He/Kaiming uses
``2 / fan_in`` because ReLU zeroes half of its inputs; LeCun uses ``1 / fan_in``.

Every draw goes through the ``numpy.random.Generator`` passed in, so a seed
fixes the weights bit for bit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .backend import as_float_dtype
from .errors import ConfigError


class Initializer:
    """Base class: subclasses implement ``draw``; ``spec()`` gives a JSON-able description."""

    name = "initializer"

    def __call__(self, shape, fan_in: int, fan_out: int, rng: np.random.Generator, dtype=None):
        dt = as_float_dtype(dtype)
        return np.asarray(self.draw(tuple(shape), fan_in, fan_out, rng), dtype=dt)

    def draw(self, shape, fan_in, fan_out, rng):  # pragma: no cover - abstract
        raise NotImplementedError

    def spec(self) -> dict | str:
        return self.name

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Zeros(Initializer):
    """All zeros. For weights this never breaks the symmetry between hidden units."""

    name = "zeros"

    def draw(self, shape, fan_in, fan_out, rng):
        return np.zeros(shape)


@dataclass(repr=True)
class Constant(Initializer):
    value: float = 0.0
    name = "constant"

    def draw(self, shape, fan_in, fan_out, rng):
        return np.full(shape, self.value)

    def spec(self):
        return {"name": "constant", "value": self.value}


@dataclass(repr=True)
class Normal(Initializer):
    """Gaussian with fixed ``mean`` and ``std`` (0.01 is the classic "small random")."""

    std: float = 0.01
    mean: float = 0.0
    name = "normal"

    def draw(self, shape, fan_in, fan_out, rng):
        return rng.normal(self.mean, self.std, size=shape)

    def spec(self):
        return {"name": "normal", "std": self.std, "mean": self.mean}


@dataclass(repr=True)
class Uniform(Initializer):
    """Uniform on ``[low, high)``."""

    low: float = -0.05
    high: float = 0.05
    name = "uniform"

    def draw(self, shape, fan_in, fan_out, rng):
        return rng.uniform(self.low, self.high, size=shape)

    def spec(self):
        return {"name": "uniform", "low": self.low, "high": self.high}


class _VarianceScaling(Initializer):
    """Draw with variance ``gain / fan`` from a normal or a uniform distribution."""

    distribution = "normal"

    def variance(self, fan_in, fan_out) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def draw(self, shape, fan_in, fan_out, rng):
        var = self.variance(fan_in, fan_out)
        if self.distribution == "normal":
            return rng.normal(0.0, math.sqrt(var), size=shape)
        limit = math.sqrt(3.0 * var)  # Var(U(-a, a)) = a^2 / 3
        return rng.uniform(-limit, limit, size=shape)


class XavierNormal(_VarianceScaling):
    name = "xavier_normal"

    def variance(self, fan_in, fan_out):
        return 2.0 / (fan_in + fan_out)


class XavierUniform(XavierNormal):
    name = "xavier_uniform"
    distribution = "uniform"


class HeNormal(_VarianceScaling):
    name = "he_normal"

    def variance(self, fan_in, fan_out):
        return 2.0 / fan_in


class HeUniform(HeNormal):
    name = "he_uniform"
    distribution = "uniform"


class LeCunNormal(_VarianceScaling):
    name = "lecun_normal"

    def variance(self, fan_in, fan_out):
        return 1.0 / fan_in


class LeCunUniform(LeCunNormal):
    name = "lecun_uniform"
    distribution = "uniform"


INITIALIZERS: dict[str, type[Initializer]] = {
    "zeros": Zeros,
    "constant": Constant,
    "normal": Normal,
    "uniform": Uniform,
    "xavier_normal": XavierNormal,
    "xavier_uniform": XavierUniform,
    "glorot_normal": XavierNormal,
    "glorot_uniform": XavierUniform,
    "he_normal": HeNormal,
    "he_uniform": HeUniform,
    "kaiming_normal": HeNormal,
    "kaiming_uniform": HeUniform,
    "lecun_normal": LeCunNormal,
    "lecun_uniform": LeCunUniform,
}


def get_initializer(spec) -> Initializer:
    """Turn a name (``"he_normal"``), a dict (``{"name": "normal", "std": 1.0}``) or an
    Initializer into an Initializer."""
    if isinstance(spec, Initializer):
        return spec
    if isinstance(spec, str):
        kwargs = {}
        name = spec
    elif isinstance(spec, dict) and isinstance(spec.get("name"), str):
        kwargs = {k: v for k, v in spec.items() if k != "name"}
        name = spec["name"]
    else:
        raise ConfigError(
            f"init must be a name such as 'xavier_uniform', a dict with a 'name', "
            f"or an Initializer; got {spec!r}"
        )
    key = name.lower()
    if key not in INITIALIZERS:
        raise ConfigError(f"unknown initialiser {name!r}; expected one of {sorted(INITIALIZERS)}")
    cls = INITIALIZERS[key]
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ConfigError(f"bad arguments for initialiser {name!r}: {kwargs}") from exc
