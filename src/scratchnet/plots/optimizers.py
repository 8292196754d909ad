"""Optimisers' paths drawn over a two-parameter loss surface.

The surface and the paths come from ``scratchnet.insight.surfaces`` (the engine's
optimisers stepping a 2-element parameter); this module only draws them: filled
contours of ``f`` (of ``log10 f`` for surfaces whose values span many decades), the
global minimum as a star, each path as a line with a dot at every few steps and a
cross where it ended. The grey scale runs from white (low) to black (high).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from ..errors import ConfigError
from ..insight.surfaces import OptimizerPath, Surface, get_surface
from .base import PALETTE, new_figure


def _draw_surface(ax, surface: Surface, resolution: int = 300):
    xs = np.linspace(*surface.xlim, resolution)
    ys = np.linspace(*surface.ylim, resolution)
    gx, gy = np.meshgrid(xs, ys)
    z = surface.f(gx, gy)
    if surface.log_levels:
        z = np.log10(z + 1e-3)  # +1e-3: the minimum (0) stays finite
        label = "log10(f + 0.001)"
    else:
        label = "f"
    cs = ax.contourf(gx, gy, z, levels=30, cmap="Greys", alpha=0.75)
    ax.contour(gx, gy, z, levels=15, colors="white", linewidths=0.4, alpha=0.6)
    ax.plot(*surface.minimum, marker="*", markersize=13, color="gold", markeredgecolor="black",
            linestyle="none", label="minimum", zorder=5)
    ax.set_xlim(*surface.xlim)
    ax.set_ylim(*surface.ylim)
    ax.grid(False)
    ax.set(xlabel="x", ylabel="y", title=surface.title)
    return cs, label


#: Line styles of successive paths: paths that nearly coincide (Adam and AdamW) stay
#: distinguishable when the later one is dashed.
PATH_STYLES = ("-", "-", "-", "-", (0, (4, 2)), (0, (1, 1.5)), "-.")


def _draw_paths(ax, paths: Sequence[OptimizerPath], mark_every: int) -> None:
    for i, path in enumerate(paths):
        color = PALETTE[i % len(PALETTE)]
        pts = path.points
        end = "diverged" if path.diverged else f"f = {path.final_value:.2g}"
        ax.plot(pts[:, 0], pts[:, 1], color=color, linewidth=1.5,
                linestyle=PATH_STYLES[i % len(PATH_STYLES)],
                label=f"{path.label} ({end})", zorder=3)
        ax.plot(pts[::mark_every, 0], pts[::mark_every, 1], linestyle="none", marker="o",
                markersize=2.5, color=color, zorder=3)
        ax.plot(pts[-1, 0], pts[-1, 1], marker="X", markersize=8, color=color,
                markeredgecolor="black", markeredgewidth=0.6, linestyle="none", zorder=4)
    if paths:
        start = paths[0].points[0]
        ax.plot(start[0], start[1], marker="o", markersize=7, color="white",
                markeredgecolor="black", linestyle="none", label="start", zorder=5)


def plot_optimizer_paths(surface, paths: Sequence[OptimizerPath], *, mark_every: int = 10,
                         width: float = 6.0, height: float = 4.6) -> Figure:
    """One surface with every path of ``paths`` over its contour plot."""
    surf = get_surface(surface)
    fig, ax = new_figure(width, height)
    cs, label = _draw_surface(ax, surf)
    _draw_paths(ax, paths, mark_every)
    cb = fig.colorbar(cs, ax=ax, shrink=0.85)
    cb.set_label(label)
    ax.legend(fontsize=7, loc="upper right", frameon=True, framealpha=0.85)
    return fig


def plot_optimizer_panels(panels: Mapping[str, Sequence[OptimizerPath]], *, mark_every: int = 10,
                          panel_w: float = 5.0, panel_h: float = 4.4,
                          title: str | None = None) -> Figure:
    """Several surfaces side by side: ``panels`` maps a surface name to its paths."""
    if not panels:
        raise ConfigError("plot_optimizer_panels: no surfaces given")
    n = len(panels)
    fig, axes = new_figure(panel_w * n, panel_h, 1, n, squeeze=False)
    for k, (name, paths) in enumerate(panels.items()):
        ax = axes[0, k]
        cs, label = _draw_surface(ax, get_surface(name))
        _draw_paths(ax, paths, mark_every)
        ax.legend(fontsize=7, loc="upper right", frameon=True, framealpha=0.85)
    if title:
        fig.suptitle(title)
    return fig
