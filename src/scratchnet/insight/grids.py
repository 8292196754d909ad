"""A trained two-input network evaluated over its input plane.

These functions run the model forward (inference mode) on a grid of points; they
never train. Their results are plain arrays that ``plots.boundary`` draws:

* :func:`decision_grid`: class probabilities at every grid point (the decision
  boundary is where the most likely class changes);
* :func:`hidden_unit_grids`: every hidden unit's activation at every grid point,
  the small maps TensorFlow Playground draws inside its neurons.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import ConfigError, ShapeError
from .recorder import activation_kind


@dataclass
class PlaneGrid:
    """A rectangular grid over the input plane.

    ``xs (nx,)``, ``ys (ny,)``: the coordinates; ``points (ny * nx, 2)`` float32: every
    grid point, row by row (``points.reshape(ny, nx, 2)[i, j] == (xs[j], ys[i])``).
    ``values``: what was evaluated there, set by the functions below.
    """

    xs: np.ndarray
    ys: np.ndarray
    points: np.ndarray
    values: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self.ys), len(self.xs))

    @property
    def extent(self) -> tuple[float, float, float, float]:
        """``(x_min, x_max, y_min, y_max)`` for ``imshow(extent=...)``."""
        return (float(self.xs[0]), float(self.xs[-1]), float(self.ys[0]), float(self.ys[-1]))


def _check_points(X: np.ndarray) -> np.ndarray:
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ShapeError(f"expected 2-D points of shape (n, 2), got {X.shape}; these pictures "
                         "are for networks with two inputs")
    if len(X) == 0:
        raise ShapeError("expected at least one point to size the plane, got none")
    if not np.all(np.isfinite(X)):
        raise ShapeError("the points contain NaN or inf")
    return X


def plane_grid(X: np.ndarray, resolution: int = 200, margin: float = 0.15) -> PlaneGrid:
    """A ``resolution x resolution`` grid covering the points ``X (n, 2)`` plus a margin
    of ``margin`` times their range on every side."""
    X = _check_points(X)
    if isinstance(resolution, bool) or not isinstance(resolution, int | np.integer) \
            or not 2 <= resolution <= 2000:
        raise ConfigError(f"resolution must be an integer in [2, 2000], got {resolution!r}")
    lo, hi = X.min(axis=0).astype(np.float64), X.max(axis=0).astype(np.float64)
    span = np.where(hi - lo > 0, hi - lo, 1.0)
    lo, hi = lo - margin * span, hi + margin * span
    xs = np.linspace(lo[0], hi[0], int(resolution))
    ys = np.linspace(lo[1], hi[1], int(resolution))
    gx, gy = np.meshgrid(xs, ys)
    points = np.column_stack([gx.ravel(), gy.ravel()]).astype(np.float32)
    return PlaneGrid(xs, ys, points)


def decision_grid(model, X: np.ndarray, resolution: int = 200, margin: float = 0.15) -> PlaneGrid:
    """Class probabilities of ``model`` over the plane around ``X (n, 2)``.

    Sets ``grid.values["proba"]`` to ``(ny, nx, k)`` probabilities (for a single
    sigmoid/logit output, ``k = 2``: ``[1 - p, p]``) and ``grid.values["label"]`` to
    the ``(ny, nx)`` most likely class.
    """
    grid = plane_grid(X, resolution, margin)
    proba = np.asarray(model.predict_proba(grid.points, batch_size=8192), dtype=np.float64)
    if proba.ndim == 1:
        proba = proba[:, None]
    if proba.shape[1] == 1:
        proba = np.concatenate([1.0 - proba, proba], axis=1)
    ny, nx = grid.shape
    grid.values["proba"] = proba.reshape(ny, nx, -1)
    grid.values["label"] = proba.argmax(axis=1).reshape(ny, nx)
    return grid


@dataclass
class UnitMaps:
    """One hidden activation layer's units over the plane: ``values (units, ny, nx)``."""

    layer_index: int
    label: str
    kind: str
    values: np.ndarray


def hidden_unit_grids(model, X: np.ndarray, resolution: int = 60, margin: float = 0.15,
                      max_units: int = 64) -> tuple[PlaneGrid, list[UnitMaps]]:
    """Every hidden unit's activation over the plane around ``X (n, 2)``.

    Hidden layers are the activation layers (Sigmoid, Tanh, ReLU, ...) before the
    last layer with weights. Returns the grid and one :class:`UnitMaps` per hidden
    layer, each with ``values (units, ny, nx)``. Raises ConfigError when a layer has
    more than ``max_units`` units (the small multiples would be unreadable).
    """
    grid = plane_grid(X, resolution, margin)
    weight_idx = [i for i, layer in enumerate(model.layers) if "W" in layer.params]
    if not weight_idx:
        raise ConfigError("hidden_unit_grids: the model has no layer with weights")
    last_weight = weight_idx[-1]
    hidden = [(i, layer) for i, layer in enumerate(model.layers[:last_weight])
              if activation_kind(layer) is not None]
    if not hidden:
        raise ConfigError("hidden_unit_grids: the model has no hidden activation layer "
                          "(e.g. Dense, Tanh, Dense)")
    previous = model.record_outputs
    model.record_outputs = True
    try:
        model.predict(grid.points)
        outputs = list(model.outputs)
    finally:
        model.record_outputs = previous
        if not previous:
            model.outputs = []
    ny, nx = grid.shape
    maps = []
    for i, layer in hidden:
        out = np.asarray(outputs[i], dtype=np.float64)
        if out.ndim != 2:
            raise ShapeError(f"hidden_unit_grids: layer {i} output has shape {out.shape}; "
                             "unit maps need (batch, units) outputs")
        if out.shape[1] > max_units:
            raise ConfigError(f"hidden_unit_grids: layer {i} has {out.shape[1]} units, more than "
                              f"max_units={max_units}; unit maps are for small networks")
        maps.append(UnitMaps(i, f"{i}: {type(layer).__name__}", activation_kind(layer),
                             out.T.reshape(out.shape[1], ny, nx)))
    return grid, maps
