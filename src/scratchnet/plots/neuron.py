"""Pictures of the one-neuron lessons: a fitted line, a loss bowl, a gate's separating line."""

from __future__ import annotations

import numpy as np
from matplotlib.colors import LogNorm
from matplotlib.lines import Line2D

from .base import new_figure
from .xor import CLASS_COLORS


def regression_fit_figure(x: np.ndarray, y: np.ndarray, true: tuple[float, float],
                          learned: tuple[float, float], path: np.ndarray | None = None):
    """Points ``x (n,)``, ``y (n,)``, the true line ``(w, b)`` dashed, the learned one solid,
    and a few of the lines along ``path (epochs + 1, 2)`` faintly."""
    fig, ax = new_figure(6.0, 4.2)
    xs = np.array([-1.0, 1.0])
    ax.scatter(x, y, s=16, color="#7f7f7f", alpha=0.8, label="data", zorder=2)
    if path is not None and len(path) > 2:
        steps = np.unique(np.geomspace(1, len(path) - 1, 8).astype(int))[:-1]
        for i, k in enumerate(steps):
            w, b = path[k]
            ax.plot(xs, w * xs + b, color="#ff7f0e", alpha=0.3, lw=1, zorder=1,
                    label="after epochs " + ", ".join(map(str, steps)) if i == 0 else None)
        w0, b0 = path[0]
        ax.plot(xs, w0 * xs + b0, color="#ff7f0e", alpha=0.5, lw=1, ls=":",
                label=f"start: y = {w0:.2f} x + {b0:.2f}")
    ax.plot(xs, true[0] * xs + true[1], color="black", ls="--", lw=1.5,
            label=f"true: y = {true[0]:.2f} x + {true[1]:.2f}", zorder=3)
    ax.plot(xs, learned[0] * xs + learned[1], color="#d62728", lw=2.2,
            label=f"learned: y = {learned[0]:.2f} x + {learned[1]:.2f}", zorder=4)
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_xlim(-1.05, 1.05)
    ax.set_title("One neuron fits a line")
    ax.legend(loc="upper left")
    return fig


def loss_curve_figure(loss: np.ndarray, loss_name: str):
    """Loss per epoch, log scale."""
    fig, ax = new_figure(6.0, 3.4)
    ax.plot(np.arange(1, len(loss) + 1), loss)
    ax.set_yscale("log")
    ax.set_xlim(1, max(len(loss), 2))
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"loss ({loss_name}, log scale)")
    ax.set_title("Training loss")
    return fig


def descent_path_figure(ws: np.ndarray, bs: np.ndarray, L: np.ndarray, path: np.ndarray,
                        true: tuple[float, float], lstsq: tuple[float, float]):
    """Contours of the loss ``L (len(bs), len(ws))`` over (w, b), and the descent ``path``."""
    fig, ax = new_figure(5.6, 4.6)
    lo = max(float(L.min()), 1e-6)
    levels = np.geomspace(lo, float(L.max()), 16)
    cs = ax.contourf(ws, bs, np.maximum(L, lo), levels=levels, norm=LogNorm(), cmap="viridis_r")
    hi = float(L.max())
    ticks = [m * 10.0**k for k in range(int(np.floor(np.log10(lo))), int(np.ceil(np.log10(hi))) + 1)
             for m in (1, 2, 5) if lo <= m * 10.0**k <= hi]
    cbar = fig.colorbar(cs, ax=ax, ticks=ticks)
    cbar.ax.set_yticklabels([f"{t:g}" for t in ticks])
    cbar.ax.minorticks_off()
    cbar.set_label("loss (MSE, log colour scale)")
    ax.plot(path[:, 0], path[:, 1], color="#d62728", lw=1.5, marker="o", ms=2.5,
            label="gradient descent")
    ax.plot(*path[0], marker="s", color="white", mec="black", ms=8, ls="", label="start")
    ax.plot(*true, marker="*", color="white", mec="black", ms=14, ls="", label="true (w, b)")
    ax.plot(*lstsq, marker="x", color="black", ms=9, mew=2, ls="", label="least squares")
    ax.set_xlabel("w (slope)")
    ax.set_ylabel("b (intercept)")
    ax.grid(False)
    ax.set_title("The loss bowl and the way down")
    ax.legend(loc="upper left", fontsize=8.5, frameon=True)
    return fig


def gate_figure(g: np.ndarray, out: np.ndarray, X: np.ndarray, y: np.ndarray,
                neuron_label: str, gate: str,
                best: tuple[tuple[float, float], float, str] | None = None):
    """The neuron's output ``out (len(g), len(g))`` over the plane, its 0.5 line
    (drawn where the output crosses 0.5 visibly; ``neuron_label`` names it in the legend),
    the truth table's points
    ``X (4, 2)`` coloured by ``y (4,)``, and optionally ``best = ((w1, w2), b, label)``,
    the best line found by search (for XOR) and its legend text."""
    from .xor import _draw_points, _square_axes

    fig, ax = new_figure(6.0, 5.0)
    # Continuous colours (not contour bands): an output of 0.4999 and one of 0.5001 must
    # look the same, as they do for an undecided neuron.
    cs = ax.pcolormesh(g, g, out, cmap="RdYlBu_r", vmin=0.0, vmax=1.0, alpha=0.85,
                       shading="auto", rasterized=True)
    cbar = fig.colorbar(cs, ax=ax, ticks=np.linspace(0, 1, 6))
    cbar.set_label("neuron output: probability of 1")
    handles = []
    if out.min() < 0.49 and out.max() > 0.51:
        ax.contour(g, g, out, levels=[0.5], colors="black", linewidths=3)
        handles.append(Line2D([], [], color="black", lw=3, label=neuron_label))
    else:
        handles.append(Line2D([], [], color="none", label=neuron_label))
    if best is not None:
        (a1, a2), c, label = best
        xs = np.array([g[0], g[-1]], dtype=np.float64)
        if abs(a2) > 1e-9:
            ax.plot(xs, -(a1 * xs + c) / a2, color="#2ca02c", lw=2.5, ls="--")
        else:
            ax.axvline(-c / a1, color="#2ca02c", lw=2.5, ls="--")
        handles.append(Line2D([], [], color="#2ca02c", lw=2.5, ls="--",
                              label=label))
    _draw_points(ax, X, y)
    _square_axes(ax, float(g[0]), float(g[-1]))
    handles += [
        Line2D([], [], ls="", marker="o", ms=9, mfc=CLASS_COLORS[0], mec="black", label="0"),
        Line2D([], [], ls="", marker="o", ms=9, mfc=CLASS_COLORS[1], mec="black", label="1"),
    ]
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.13),
              ncol=3 if len(handles) <= 3 else 2, frameon=False)
    ax.set_title(f"One neuron and the {gate} gate")
    return fig
