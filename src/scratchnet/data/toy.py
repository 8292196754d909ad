"""Small two-dimensional data sets for the first lessons: gates, XOR, circles, spirals.

Every ``make_*`` classifier set returns

* ``X`` : ``(n, 2)`` float32, one point per row, and
* ``y`` : ``(n,)`` int64 class index (0 or 1; ``0 .. arms - 1`` for the spiral),

with the classes as balanced as ``n`` allows (their counts differ by at most one)
and the rows shuffled, so any slice mixes the classes. ``noise`` is the standard
deviation of Gaussian noise added to each coordinate; ``seed`` is an int, ``None``
or a ``numpy.random.Generator``, and the same seed gives the same points.

The gate sets (``xor_gate``, ``logic_gate``) are the four corners of a truth table
with float32 ``(4, 1)`` targets, ready for a sigmoid output and binary cross-entropy.
"""

from __future__ import annotations

import numpy as np

from ..backend import default_rng
from ..errors import ConfigError

__all__ = [
    "GATES",
    "logic_gate",
    "make_circles",
    "make_gaussians",
    "make_moons",
    "make_regression_line",
    "make_spiral",
    "make_xor",
    "xor_gate",
]

#: The four inputs of a two-input gate, in truth-table order.
_GATE_INPUTS = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)

#: Gate name -> its outputs for the inputs 00, 01, 10, 11.
GATES: dict[str, tuple[int, int, int, int]] = {
    "and": (0, 0, 0, 1),
    "or": (0, 1, 1, 1),
    "nand": (1, 1, 1, 0),
    "nor": (1, 0, 0, 0),
    "xor": (0, 1, 1, 0),
    "xnor": (1, 0, 0, 1),
}


def logic_gate(name: str) -> tuple[np.ndarray, np.ndarray]:
    """Truth table of a two-input gate: ``X (4, 2)`` float32 and ``y (4, 1)`` float32.

    name : ``"and"``, ``"or"``, ``"nand"``, ``"nor"``, ``"xor"`` or ``"xnor"``
    (any case). Only XOR and XNOR are not linearly separable, which is why a single
    neuron learns the others but needs a hidden layer for these two.
    """
    key = name.lower() if isinstance(name, str) else name
    if key not in GATES:
        raise ConfigError(f"unknown logic gate {name!r}; choose one of {', '.join(GATES)}")
    y = np.array(GATES[key], dtype=np.float32).reshape(4, 1)
    return _GATE_INPUTS.copy(), y


def xor_gate() -> tuple[np.ndarray, np.ndarray]:
    """The XOR truth table: ``X = [[0,0],[0,1],[1,0],[1,1]]`` (4, 2), ``y = [[0],[1],[1],[0]]``
    (4, 1), both float32."""
    return logic_gate("xor")


# --- argument checks ------------------------------------------------------------------


def _check_n(n: int, minimum: int = 1) -> int:
    if isinstance(n, bool) or not isinstance(n, int | np.integer):
        raise ConfigError(f"n (number of points) must be an integer, got {n!r}")
    if n < minimum:
        raise ConfigError(f"n (number of points) must be >= {minimum}, got {n}")
    return int(n)


def _check_noise(noise: float) -> float:
    try:
        value = float(noise)
    except (TypeError, ValueError):
        raise ConfigError(f"noise must be a number >= 0, got {noise!r}") from None
    if not np.isfinite(value) or value < 0:
        raise ConfigError(f"noise must be a finite number >= 0, got {noise!r}")
    return value


def _check_finite(value: float, name: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a number, got {value!r}") from None
    if not np.isfinite(v):
        raise ConfigError(f"{name} must be finite, got {value!r}")
    return v


def _rng(seed) -> np.random.Generator:
    try:
        return default_rng(seed)
    except (TypeError, ValueError):
        raise ConfigError(
            f"seed must be a non-negative integer, None or a numpy.random.Generator, got {seed!r}"
        ) from None


def _class_sizes(n: int, k: int) -> list[int]:
    """Split ``n`` points into ``k`` classes whose sizes differ by at most one."""
    return [n // k + (1 if c < n % k else 0) for c in range(k)]


def _finish(
    parts: list[np.ndarray], labels: list[np.ndarray], noise: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Stack the classes, add Gaussian noise, shuffle, and cast to float32 / int64."""
    X = np.concatenate(parts, axis=0)
    y = np.concatenate(labels, axis=0).astype(np.int64)
    if noise > 0:
        X = X + rng.normal(0.0, noise, size=X.shape)
    order = rng.permutation(X.shape[0])
    return X[order].astype(np.float32), y[order]


# --- the data sets --------------------------------------------------------------------


def make_xor(n: int = 200, noise: float = 0.15, seed=0) -> tuple[np.ndarray, np.ndarray]:
    """Noisy XOR: four blobs around the truth-table corners (0,0), (0,1), (1,0), (1,1).

    Class 1 where exactly one coordinate is "on" (corners (0,1) and (1,0)), class 0
    at (0,0) and (1,1). Each class's points are shared between its two corners.
    Returns ``X (n, 2)`` float32 and ``y (n,)`` int64.
    """
    n = _check_n(n)
    noise = _check_noise(noise)
    rng = _rng(seed)
    corners = {0: ((0.0, 0.0), (1.0, 1.0)), 1: ((0.0, 1.0), (1.0, 0.0))}
    parts, labels = [], []
    for c, size in enumerate(_class_sizes(n, 2)):
        for corner, m in zip(corners[c], _class_sizes(size, 2), strict=True):
            parts.append(np.tile(np.array(corner), (m, 1)))
            labels.append(np.full(m, c))
    return _finish(parts, labels, noise, rng)


def make_circles(
    n: int = 200, noise: float = 0.05, seed=0, factor: float = 0.5
) -> tuple[np.ndarray, np.ndarray]:
    """Two concentric circles: class 0 on radius 1, class 1 on radius ``factor``.

    factor : inner radius, ``0 < factor < 1``. Angles are uniform in ``[0, 2 pi)``.
    Returns ``X (n, 2)`` float32 and ``y (n,)`` int64.
    """
    n = _check_n(n)
    noise = _check_noise(noise)
    factor = _check_finite(factor, "factor")
    if not 0 < factor < 1:
        raise ConfigError(f"circles factor (inner radius) must be in (0, 1), got {factor}")
    rng = _rng(seed)
    parts, labels = [], []
    for c, (size, radius) in enumerate(zip(_class_sizes(n, 2), (1.0, factor), strict=True)):
        angle = rng.uniform(0.0, 2 * np.pi, size)
        parts.append(radius * np.column_stack([np.cos(angle), np.sin(angle)]))
        labels.append(np.full(size, c))
    return _finish(parts, labels, noise, rng)


def make_gaussians(
    n: int = 200, noise: float = 0.5, seed=0, distance: float = 2.0
) -> tuple[np.ndarray, np.ndarray]:
    """Two round Gaussian blobs, standard deviation ``noise``.

    Class 0 is centred at ``(-d, -d) / (2 sqrt 2)`` and class 1 at ``(+d, +d) / (2 sqrt 2)``,
    so the centres are ``distance`` apart along the diagonal. A straight line separates
    them well when ``distance`` is several times ``noise``: the one-neuron case.
    Returns ``X (n, 2)`` float32 and ``y (n,)`` int64.
    """
    n = _check_n(n)
    noise = _check_noise(noise)
    distance = _check_finite(distance, "distance")
    if distance < 0:
        raise ConfigError(f"gaussians distance must be >= 0, got {distance}")
    rng = _rng(seed)
    offset = distance / (2 * np.sqrt(2.0))
    parts, labels = [], []
    for c, (size, sign) in enumerate(zip(_class_sizes(n, 2), (-1.0, 1.0), strict=True)):
        parts.append(np.full((size, 2), sign * offset))
        labels.append(np.full(size, c))
    return _finish(parts, labels, noise, rng)


def make_spiral(
    n: int = 300, arms: int = 3, noise: float = 0.02, seed=0, turns: float = 0.75
) -> tuple[np.ndarray, np.ndarray]:
    """Interleaved spiral arms, one class per arm.

    Along arm ``k`` a point at radius ``r`` in ``[0, 1]`` sits at angle
    ``2 pi (k / arms + turns * r)``: the arms start together at the centre and wind
    ``turns`` times round it. Not separable by a line; a small hidden layer learns it.

    arms : number of arms = classes (>= 2). Labels are ``0 .. arms - 1``.
    Returns ``X (n, 2)`` float32 and ``y (n,)`` int64.
    """
    n = _check_n(n)
    noise = _check_noise(noise)
    if isinstance(arms, bool) or not isinstance(arms, int | np.integer):
        raise ConfigError(f"spiral arms must be an integer >= 2, got {arms!r}")
    if arms < 2:
        raise ConfigError(f"spiral arms must be >= 2 (one class per arm), got {arms}")
    turns = _check_finite(turns, "turns")
    if turns <= 0:
        raise ConfigError(f"spiral turns must be > 0, got {turns}")
    rng = _rng(seed)
    parts, labels = [], []
    for k, size in enumerate(_class_sizes(n, int(arms))):
        r = np.linspace(0.0, 1.0, size) if size > 1 else np.ones(size)
        angle = 2 * np.pi * (k / arms + turns * r)
        parts.append(np.column_stack([r * np.cos(angle), r * np.sin(angle)]))
        labels.append(np.full(size, k))
    return _finish(parts, labels, noise, rng)


def make_moons(n: int = 200, noise: float = 0.1, seed=0) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles.

    Class 0: ``(cos t, sin t)``, class 1: ``(1 - cos t, 0.5 - sin t)``, ``t`` uniform in
    ``[0, pi]``: each moon's tip reaches into the other's hollow.
    Returns ``X (n, 2)`` float32 and ``y (n,)`` int64.
    """
    n = _check_n(n)
    noise = _check_noise(noise)
    rng = _rng(seed)
    size0, size1 = _class_sizes(n, 2)
    t0 = rng.uniform(0.0, np.pi, size0)
    t1 = rng.uniform(0.0, np.pi, size1)
    parts = [
        np.column_stack([np.cos(t0), np.sin(t0)]),
        np.column_stack([1.0 - np.cos(t1), 0.5 - np.sin(t1)]),
    ]
    labels = [np.zeros(size0), np.ones(size1)]
    return _finish(parts, labels, noise, rng)


def make_regression_line(
    n: int = 100, w: float = 2.0, b: float = 0.5, noise: float = 0.1, seed=0
) -> tuple[np.ndarray, np.ndarray]:
    """Points near the line ``y = w x + b``: the one-neuron regression lesson.

    ``x`` is uniform in ``[-1, 1]`` and ``y = w x + b + noise * N(0, 1)``; a single
    linear neuron trained with MSE should recover ``w`` and ``b``.
    Returns ``x (n, 1)`` float32 and ``y (n, 1)`` float32.
    """
    n = _check_n(n)
    noise = _check_noise(noise)
    w = _check_finite(w, "w")
    b = _check_finite(b, "b")
    rng = _rng(seed)
    x = rng.uniform(-1.0, 1.0, size=(n, 1))
    y = w * x + b + rng.normal(0.0, noise, size=(n, 1))
    return x.astype(np.float32), y.astype(np.float32)
