"""Two-parameter toy loss surfaces, and the paths optimisers take across them.

A network's loss lives in millions of dimensions; these live in two, so the whole
surface fits in one contour plot and an optimiser's path can be drawn on it. The
optimisers are the engine's own (``scratchnet.optim``), stepping a 2-element
parameter whose gradient is written out by hand below.

Surfaces (``f(x, y)`` and its gradient ``(df/dx, df/dy)``):

* ``quadratic``: an elongated bowl ``f = (x^2 + 50 y^2) / 2``, gradient ``(x, 50 y)``.
  Curvature differs 50-fold between the two directions: plain gradient descent must
  keep its rate below ``2 / 50`` for ``y`` not to blow up, and then creeps along ``x``.
* ``rosenbrock``: ``f = (1 - x)^2 + 100 (y - x^2)^2``, minimum 0 at ``(1, 1)``; a long,
  curved, flat-bottomed valley. Gradient
  ``(-2 (1 - x) - 400 x (y - x^2), 200 (y - x^2))``.
* ``beale``: ``f = sum_i (c_i - x + x y^i)^2`` with ``c = (1.5, 2.25, 2.625)``, minimum
  0 at ``(3, 0.5)``; flat plateaus and steep walls. Gradient
  ``df/dx = sum_i 2 r_i (y^i - 1)``, ``df/dy = sum_i 2 r_i x i y^(i-1)``, ``r_i`` the terms.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError
from ..optim import Optimizer, Parameter


@dataclass(frozen=True)
class Surface:
    """A function of two parameters with its hand-written gradient.

    ``f(x, y)`` works element-wise on arrays (for the contour plot);
    ``grad(x, y)`` returns ``(df/dx, df/dy)`` at one point.
    ``start``: where the paths begin; ``minimum``: the global minimiser;
    ``xlim``, ``ylim``: the window to draw; ``log_levels``: draw contours of
    ``log10(f)`` (for surfaces whose values span many orders of magnitude).
    """

    name: str
    title: str
    f: Callable[[np.ndarray, np.ndarray], np.ndarray]
    grad: Callable[[float, float], tuple[float, float]]
    start: tuple[float, float]
    minimum: tuple[float, float]
    xlim: tuple[float, float]
    ylim: tuple[float, float]
    log_levels: bool = False


def _quadratic(x, y):
    return 0.5 * (x * x + 50.0 * y * y)


def _quadratic_grad(x, y):
    return x, 50.0 * y


def _rosenbrock(x, y):
    return (1.0 - x) ** 2 + 100.0 * (y - x * x) ** 2


def _rosenbrock_grad(x, y):
    r = y - x * x
    return -2.0 * (1.0 - x) - 400.0 * x * r, 200.0 * r


_BEALE_C = (1.5, 2.25, 2.625)


def _beale(x, y):
    return sum((c - x + x * y ** (i + 1)) ** 2 for i, c in enumerate(_BEALE_C))


def _beale_grad(x, y):
    dx = dy = 0.0
    for i, c in enumerate(_BEALE_C):
        k = i + 1
        r = c - x + x * y**k
        dx += 2.0 * r * (y**k - 1.0)
        dy += 2.0 * r * x * k * y ** (k - 1)
    return dx, dy


SURFACES: dict[str, Surface] = {
    "quadratic": Surface("quadratic", "elongated bowl  f = (x² + 50y²)/2", _quadratic,
                         _quadratic_grad, start=(-4.0, 1.5), minimum=(0.0, 0.0),
                         xlim=(-5.0, 5.0), ylim=(-2.5, 2.5)),
    "rosenbrock": Surface("rosenbrock", "Rosenbrock  f = (1-x)² + 100(y-x²)²", _rosenbrock,
                          _rosenbrock_grad, start=(-1.5, 2.0), minimum=(1.0, 1.0),
                          xlim=(-2.0, 2.0), ylim=(-1.0, 3.0), log_levels=True),
    "beale": Surface("beale", "Beale", _beale, _beale_grad, start=(1.0, 1.5), minimum=(3.0, 0.5),
                     xlim=(-1.0, 4.0), ylim=(-1.5, 2.0), log_levels=True),
}


def get_surface(name: str | Surface) -> Surface:
    if isinstance(name, Surface):
        return name
    if name not in SURFACES:
        raise ConfigError(f"unknown surface {name!r}; expected one of {', '.join(SURFACES)}")
    return SURFACES[name]


@dataclass
class OptimizerPath:
    """Where an optimiser went: ``points (n + 1, 2)`` from the start, ``values (n + 1,)``
    of ``f`` there; ``diverged`` if it left the finite numbers (the path then ends at
    the last finite point)."""

    label: str
    points: np.ndarray
    values: np.ndarray
    diverged: bool

    @property
    def final_value(self) -> float:
        return float(self.values[-1])

    def distance_to(self, point: tuple[float, float]) -> float:
        return float(np.hypot(*(self.points[-1] - np.asarray(point))))


def optimizer_path(optimizer: Optimizer, surface: str | Surface, steps: int = 200,
                   start: tuple[float, float] | None = None, label: str | None = None,
                   blowup: float = 1e6) -> OptimizerPath:
    """Run ``optimizer`` for ``steps`` updates on a 2-element float64 parameter.

    At each step the gradient of ``surface`` at the current point is written into
    the parameter's ``grad`` and ``optimizer.step([param])`` moves the point, exactly
    as in network training. Stops early if the point leaves ``|p| < blowup`` or
    becomes non-finite (``diverged=True``).
    """
    surf = get_surface(surface)
    if isinstance(steps, bool) or not isinstance(steps, int | np.integer) or steps < 1:
        raise ConfigError(f"steps must be a positive integer, got {steps!r}")
    if not isinstance(optimizer, Optimizer):
        raise ConfigError(
            f"optimizer must be a scratchnet Optimizer, got {type(optimizer).__name__}")
    p = Parameter("p", np.array(start if start is not None else surf.start, dtype=np.float64),
                  np.zeros(2, dtype=np.float64))
    points = [p.value.copy()]
    diverged = False
    for _ in range(int(steps)):
        p.grad[:] = surf.grad(float(p.value[0]), float(p.value[1]))
        optimizer.step([p])
        if not np.all(np.isfinite(p.value)) or np.max(np.abs(p.value)) > blowup:
            diverged = True
            break
        points.append(p.value.copy())
    pts = np.array(points)
    values = np.asarray(surf.f(pts[:, 0], pts[:, 1]), dtype=np.float64)
    return OptimizerPath(label or type(optimizer).__name__, pts, values, diverged)
