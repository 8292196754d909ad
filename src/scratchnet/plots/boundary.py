"""Two-dimensional classifiers drawn over their input plane.

* :func:`plot_decision_boundary`: the plane coloured by the predicted class (paler
  where the network is less sure), the boundaries between classes as lines, and the
  training points on top.
* :func:`plot_decision_boundaries`: several models side by side on the same data.
* :func:`plot_hidden_units`: each hidden unit's activation over the plane, in small
  multiples, as TensorFlow Playground shows them: how the first layer cuts the plane
  with straight lines and later layers combine those cuts into curves.

The arrays come from ``scratchnet.insight.grids`` (the model is only run forward).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure

from ..errors import ConfigError, ShapeError
from ..insight.grids import PlaneGrid, UnitMaps
from .base import PALETTE, new_figure


def class_colors(k: int) -> np.ndarray:
    """``(k, 3)`` RGB colours of the classes (the project palette)."""
    return np.array([to_rgb(PALETTE[c % len(PALETTE)]) for c in range(k)])


def _check_data(X, y):
    X = np.asarray(X)
    y = np.asarray(y).reshape(-1)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ShapeError(f"expected points of shape (n, 2), got {X.shape}")
    if len(y) != len(X):
        raise ShapeError(f"{len(X)} points but {len(y)} labels")
    return X, y.astype(np.int64)


def _draw_boundary(ax, grid: PlaneGrid, X, y, title: str | None, point_size: float) -> None:
    if "proba" not in grid.values:
        raise ConfigError("the grid holds no class probabilities; make it with "
                          "scratchnet.insight.decision_grid(model, X)")
    proba = grid.values["proba"]
    k = proba.shape[-1]
    label = grid.values["label"]
    colors = class_colors(max(k, int(y.max()) + 1 if y.size else k))
    conf = proba.max(axis=-1)
    # Tint strength: 0 at chance (1/k), full at certainty; then mix with white.
    strength = 0.12 + 0.5 * np.clip((conf - 1.0 / k) / (1.0 - 1.0 / k), 0.0, 1.0)
    rgb = 1.0 - strength[..., None] * (1.0 - colors[label])
    ax.imshow(rgb, origin="lower", extent=grid.extent, aspect="auto", interpolation="bilinear")
    if k > 1 and np.unique(label).size > 1:
        ax.contour(grid.xs, grid.ys, label, levels=np.arange(k - 1) + 0.5, colors="#222222",
                   linewidths=0.9)
    for c in np.unique(y):
        pts = X[y == c]
        ax.scatter(pts[:, 0], pts[:, 1], s=point_size, color=colors[c], edgecolors="white",
                   linewidths=0.4, label=f"class {c}", zorder=3)
    ax.set_xlim(grid.xs[0], grid.xs[-1])
    ax.set_ylim(grid.ys[0], grid.ys[-1])
    ax.grid(False)
    ax.set(xlabel="x1", ylabel="x2")
    if title:
        ax.set_title(title)


def plot_decision_boundary(grid: PlaneGrid, X, y, *, title: str | None = "Decision boundary",
                           point_size: float = 14.0, width: float = 4.8,
                           height: float = 4.2) -> Figure:
    """The predicted class over the plane (tinted by confidence), class boundaries as
    dark lines, and the points ``X (n, 2)`` coloured by their label ``y (n,)``."""
    X, y = _check_data(X, y)
    fig, ax = new_figure(width, height)
    _draw_boundary(ax, grid, X, y, title, point_size)
    ax.legend(loc="upper right", fontsize=7, framealpha=0.8, frameon=True)
    return fig


def plot_decision_boundaries(grids: Mapping[str, PlaneGrid], X, y, *, title: str | None = None,
                             point_size: float = 8.0, panel: float = 3.2,
                             max_cols: int = 5) -> Figure:
    """One decision-boundary panel per entry of ``grids`` (label -> grid), same data."""
    if not grids:
        raise ConfigError("plot_decision_boundaries: no grids given")
    X, y = _check_data(X, y)
    n = len(grids)
    cols = min(n, max_cols)
    rows = math.ceil(n / cols)
    fig, axes = new_figure(panel * cols, panel * rows + (0.3 if title else 0), rows, cols,
                           squeeze=False)
    for j in range(rows * cols):
        ax = axes[j // cols, j % cols]
        if j >= n:
            ax.set_visible(False)
            continue
        label, grid = list(grids.items())[j]
        _draw_boundary(ax, grid, X, y, label, point_size)
        if j % cols:
            ax.set_ylabel("")
    if title:
        fig.suptitle(title)
    return fig


def _kind_range(kind: str, values: np.ndarray) -> tuple[float, float, str]:
    """Colour range of one layer's tiles: centred on the activation's neutral value
    (0.5 sigmoid, 0 tanh and others) and just wide enough for the layer's values, so
    small differences show and white always means "neutral"; ReLU: 0 to the maximum."""
    finite = values[np.isfinite(values)]
    if kind == "relu":
        hi = float(finite.max()) if finite.size else 1.0
        return 0.0, hi if hi > 0 else 1.0, "Oranges"
    centre = 0.5 if kind == "sigmoid" else 0.0
    dev = float(np.max(np.abs(finite - centre))) if finite.size else 0.0
    dev = dev if dev > 1e-6 else 1e-6
    return centre - dev, centre + dev, "RdBu_r"


def plot_hidden_units(grid: PlaneGrid, maps: Sequence[UnitMaps], X=None, y=None, *,
                      max_cols: int = 8, panel: float = 1.05,
                      title: str = "What each hidden unit computes") -> Figure:
    """Small multiples: one tile per hidden unit, its activation over the input plane.

    One block of rows per hidden layer (at most ``max_cols`` tiles per row), a colour
    bar per layer, centred on the neutral value (sigmoid 0.5, tanh 0; ReLU from 0) and
    spanning that layer's values. With ``X, y`` the points are drawn faintly on every
    tile, so the cuts can be related to the data.
    """
    if not maps:
        raise ConfigError("plot_hidden_units: no hidden layers given")
    if X is not None:
        X, y = _check_data(X, y)
    layer_rows = [math.ceil(m.values.shape[0] / max_cols) for m in maps]
    cols = min(max_cols, max(m.values.shape[0] for m in maps))
    rows = sum(layer_rows)
    fig, axes = new_figure(panel * cols + 1.2, panel * rows + 0.5, rows, cols, squeeze=False)
    row = 0
    for m, n_rows in zip(maps, layer_rows, strict=True):
        vmin, vmax, cmap = _kind_range(m.kind, m.values)
        im = None
        for r in range(n_rows):
            for c in range(cols):
                ax = axes[row + r, c]
                u = r * cols + c
                ax.grid(False)
                ax.set_xticks([])
                ax.set_yticks([])
                if u >= m.values.shape[0]:
                    ax.set_visible(False)
                    continue
                im = ax.imshow(m.values[u], origin="lower", extent=grid.extent, aspect="auto",
                               vmin=vmin, vmax=vmax, cmap=cmap, interpolation="bilinear")
                if X is not None:
                    ax.scatter(X[:, 0], X[:, 1], s=0.6, c="#222222", alpha=0.35, linewidths=0)
                ax.set_title(f"unit {u}", fontsize=7, pad=2)
                for side in ("top", "right"):
                    ax.spines[side].set_visible(True)
            if r == 0:
                axes[row, 0].set_ylabel(m.label, fontsize=8)
        if im is not None:
            cb = fig.colorbar(im, ax=list(axes[row:row + n_rows, :].ravel()), shrink=0.9,
                              pad=0.01, aspect=12 * n_rows)
            cb.ax.tick_params(labelsize=7)
            cb.set_label(m.kind, fontsize=7)
        row += n_rows
    fig.suptitle(title)
    return fig
