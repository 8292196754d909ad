"""Pictures of the XOR lesson: decision boundary, hidden units, loss curves, many seeds.

Every function takes arrays already computed (a grid of outputs, loss histories) and
returns a :class:`matplotlib.figure.Figure`; saving is the caller's (``RunFolder.save_figure``
or :func:`scratchnet.plots.base.savefig_atomic`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.lines import Line2D

from .base import new_figure

#: Class colours, shared by every XOR picture: blue for 0, red for 1 (as on the
#: colour map "RdYlBu_r", where low probabilities are blue and high ones red).
CLASS_COLORS = ("#2c7bb6", "#d7191c")
STUCK_COLOR = "#d62728"
SOLVED_COLOR = "#1f77b4"


def _draw_points(ax, X: np.ndarray, y: np.ndarray, labels: bool = True,
                 values: np.ndarray | None = None) -> None:
    """The four inputs, coloured by class, with ``[x1 x2] -> y`` beside each (``labels``)
    or the given ``values (4,)`` (a unit's activation at each input)."""
    for i, ((x1, x2), t) in enumerate(zip(X, y, strict=True)):
        c = int(t > 0.5)
        ax.scatter([x1], [x2], s=170, c=CLASS_COLORS[c], edgecolors="black", linewidths=2,
                   zorder=5)
        text = f"{values[i]:.2f}" if values is not None else (
            f"[{int(x1)} {int(x2)}] \u2192 {c}" if labels else None)
        if text:
            ha = "left" if x1 < 0.5 else "right"
            dx = 0.09 if x1 < 0.5 else -0.09
            dy = 0.11 if x2 < 0.5 else -0.13
            ax.text(x1 + dx, x2 + dy, text, ha=ha, va="center",
                    fontsize=9.5, fontweight="bold", zorder=6,
                    bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "none", "alpha": 0.8})


def _square_axes(ax, lo: float, hi: float) -> None:
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_box_aspect(1)  # equal ranges on both axes, so this is equal scaling too
    ax.set_xlabel("x1 (input 1)")
    ax.set_ylabel("x2 (input 2)")
    ax.grid(False)


def decision_boundary_figure(g1: np.ndarray, g2: np.ndarray, out: np.ndarray, X: np.ndarray,
                             y: np.ndarray, title: str = "XOR decision boundary"):
    """Filled contours of the output probability ``out (len(g2), len(g1))`` over the grid,
    the 0.5 contour in bold, and the four points ``X (4, 2)`` coloured by class ``y (4,)``."""
    fig, ax = new_figure(6.0, 5.0)
    levels = np.linspace(0.0, 1.0, 21)
    cs = ax.contourf(g1, g2, out, levels=levels, cmap="RdYlBu_r", alpha=0.85)
    cbar = fig.colorbar(cs, ax=ax, ticks=np.linspace(0, 1, 6))
    cbar.set_label("network output: probability of class 1")
    if out.min() < 0.5 < out.max():
        ax.contour(g1, g2, out, levels=[0.5], colors="black", linewidths=3)
    _draw_points(ax, X, y)
    _square_axes(ax, float(g1[0]), float(g1[-1]))
    handles = [
        Line2D([], [], color="black", lw=3, label="output = 0.5"),
        Line2D([], [], ls="", marker="o", ms=9, mfc=CLASS_COLORS[0], mec="black", label="class 0"),
        Line2D([], [], ls="", marker="o", ms=9, mfc=CLASS_COLORS[1], mec="black", label="class 1"),
    ]
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=3,
              frameon=False)
    ax.set_title(title)
    return fig


def hidden_units_figure(g1: np.ndarray, g2: np.ndarray, hidden: np.ndarray, X: np.ndarray,
                        y: np.ndarray, names: Sequence[str], activation: str = "sigmoid",
                        threshold: float = 0.5, point_values: np.ndarray | None = None):
    """One panel per hidden unit: its activation ``hidden[..., j]`` over the grid, the line
    where it crosses ``threshold`` (dashed), the four points (with the unit's activation
    ``point_values[:, j]`` beside each when given, shape (4, H)), and its Boolean name."""
    H = hidden.shape[-1]
    ncols = min(H, 4)
    nrows = -(-H // ncols)
    fig, axes = new_figure(3.3 * ncols + 0.9, 3.3 * nrows + 0.5, nrows, ncols, squeeze=False)
    if activation == "tanh":
        lo, hi = -1.0, 1.0
    elif activation == "relu":
        lo, hi = 0.0, max(float(hidden.max()), 1e-6)
    else:
        lo, hi = 0.0, 1.0
    levels = np.linspace(lo, hi, 21)
    cs = None
    for j, ax in enumerate(axes.ravel()):
        if j >= H:
            ax.set_visible(False)
            continue
        a = np.clip(hidden[..., j], lo, hi)
        cs = ax.contourf(g1, g2, a, levels=levels, cmap="viridis")
        if a.min() < threshold < a.max():
            ax.contour(g1, g2, a, levels=[threshold], colors="white", linewidths=2,
                       linestyles="--")
        _draw_points(ax, X, y, labels=False,
                     values=None if point_values is None else point_values[:, j])
        _square_axes(ax, float(g1[0]), float(g1[-1]))
        ax.set_title(f"Hidden{j + 1} = {names[j]}")
    cbar = fig.colorbar(cs, ax=axes.ravel().tolist(), shrink=0.9,
                        ticks=np.linspace(lo, hi, 5))
    cbar.set_label(f"hidden activation ({activation}); dashed: {threshold:g}")
    fig.suptitle("What each hidden unit computes (points: blue = class 0, red = class 1)",
                 fontsize=11)
    return fig


def loss_figure(losses: Sequence[np.ndarray], outcomes: Sequence[str], loss_name: str = "bce",
                baseline: float | None = None):
    """Loss per epoch of each attempt, one after the other; abandoned attempts in red.
    ``baseline``: the loss of answering the mean target everywhere, drawn dotted."""
    fig, ax = new_figure(6.4, 3.6)
    if baseline is not None:
        ax.axhline(baseline, color="black", ls="--", lw=1,
                   label=f"answer 0.5 for every input ({baseline:.3g})")
    start = 0
    for k, (curve, outcome) in enumerate(zip(losses, outcomes, strict=True)):
        e = np.arange(start + 1, start + len(curve) + 1)
        ok = outcome == "solved"
        ax.plot(e, curve, color=SOLVED_COLOR if ok else STUCK_COLOR,
                label=f"attempt {k + 1}: {outcome}")
        if k > 0:
            ax.axvline(start + 0.5, color="grey", ls=":", lw=1)
        start += len(curve)
    ax.set_yscale("log")
    ax.set_xlim(1, max(start, 2))
    ax.set_xlabel("epoch (all attempts, one after the other)")
    ax.set_ylabel(f"loss ({loss_name.upper()}, log scale)")
    ax.set_title("Training loss")
    ax.legend(loc="best")
    return fig


def _thin(curves: np.ndarray, n_points: int = 300) -> tuple[np.ndarray, np.ndarray]:
    """Epoch numbers (1-based) and the curves at ~n_points epochs, denser at the start."""
    E = curves.shape[1]
    idx = np.unique(np.geomspace(1, E, n_points).astype(int)) - 1
    return idx + 1, curves[:, idx]


def seeds_figure(hiddens: Sequence[int], losses: Sequence[np.ndarray],
                 solved: Sequence[np.ndarray], loss_name: str = "bce", max_curves: int = 400):
    """Per width: every seed's loss curve (top; unsolved in red) and a histogram of final
    losses (bottom). ``losses[i]`` is ``(S, epochs)``, ``solved[i]`` is ``(S,)`` bool.

    At most ``max_curves`` curves per panel are drawn (all unsolved ones first), so
    1000 seeds stay legible; the counts in the titles are over all seeds.
    """
    n = len(hiddens)
    fig, axes = new_figure(4.0 * n + 0.6, 6.4, 2, n, squeeze=False, sharey="row")
    all_final = np.concatenate([loss[:, -1] for loss in losses])
    lo = max(float(all_final[all_final > 0].min(initial=np.inf)), 1e-12)
    lo = lo if np.isfinite(lo) else 1e-12
    bins = np.geomspace(lo * 0.8, max(float(all_final.max()), lo * 10) * 1.25, 40)
    for i, (h, loss, ok) in enumerate(zip(hiddens, losses, solved, strict=True)):
        ax = axes[0, i]
        epochs, thin = _thin(loss)
        bad, good = np.flatnonzero(~ok), np.flatnonzero(ok)
        keep_bad = bad[:max_curves]
        keep_good = good[: max(0, max_curves - len(keep_bad))]
        for sel, color, alpha, lw in ((keep_good, SOLVED_COLOR, 0.15, 0.7),
                                      (keep_bad, STUCK_COLOR, 0.45, 0.9)):
            if len(sel):
                segs = [np.column_stack([epochs, thin[s]]) for s in sel]
                ax.add_collection(LineCollection(segs, colors=color, alpha=alpha, linewidths=lw))
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlim(1, epochs[-1])
        ax.set_ylim(max(float(thin.min()), 1e-6) * 0.7, float(thin.max()) * 1.3)
        ax.set_title(f"2-{h}-1: {int(ok.sum())}/{len(ok)} converged")
        ax.set_xlabel("epoch (log scale)")
        if i == 0:
            ax.set_ylabel(f"loss ({loss_name.upper()}, log)")
        ax.legend(handles=[
            Line2D([], [], color=SOLVED_COLOR, label=f"solved ({len(good)})"),
            Line2D([], [], color=STUCK_COLOR, label=f"stuck ({len(bad)})"),
        ], loc="lower left")
        hx = axes[1, i]
        final = np.maximum(loss[:, -1], lo)
        hx.hist([final[ok], final[~ok]], bins=bins, stacked=True,
                color=[SOLVED_COLOR, STUCK_COLOR], label=["solved", "stuck"])
        hx.set_xscale("log")
        hx.set_xlabel("final loss (log scale)")
        if i == 0:
            hx.set_ylabel("number of seeds")
    title = ("Plain gradient descent on XOR from many random starts (red: still a point "
             "wrong after the last epoch)")
    if any(len(ok) > max_curves for ok in solved):
        title += f"\ntop: at most {max_curves} curves per panel, every unsolved one included"
    fig.suptitle(title, fontsize=11)
    return fig
