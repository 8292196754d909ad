"""Pictures of training over time: loss curves, gradient flow, update ratios, saturation.

Every function reads recorded data (a :class:`~scratchnet.insight.Recording`, a
``Recorder``, or plain sequences of numbers) and returns a matplotlib ``Figure``
made with :func:`scratchnet.plots.base.new_figure`; nothing here trains. Save a
figure with ``RunFolder.save_figure`` or ``plots.base.savefig_atomic``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure

from ..errors import ConfigError
from ..insight.recording import Recording
from .base import PALETTE, new_figure

#: Rule of thumb (Karpathy, CS231n): a healthy update changes a weight matrix by
#: roughly a thousandth of its size per step.
UPDATE_RATIO_GUIDE = 1e-3


def as_recording(obj) -> Recording:
    """A Recording from a Recording or a Recorder (anything with ``.recording()``)."""
    if isinstance(obj, Recording):
        return obj
    if hasattr(obj, "recording") and callable(obj.recording):
        return obj.recording()
    raise ConfigError(
        f"expected a scratchnet.insight Recording or Recorder, got {type(obj).__name__}"
    )


def layer_colors(n: int) -> list:
    """``n`` colours from dark (first layer, near the input) to light (last layer)."""
    cmap = colormaps["viridis"]
    return [cmap(0.9 * i / max(1, n - 1)) for i in range(n)]


def _curve(values, what: str) -> tuple[np.ndarray, np.ndarray]:
    """``(x, y)`` from a sequence of y (x = 1, 2, ...) or a pair ``(x, y)``."""
    if isinstance(values, tuple) and len(values) == 2:
        x, y = (np.asarray(v, dtype=np.float64) for v in values)
    else:
        y = np.asarray(values, dtype=np.float64)
        x = np.arange(1, len(y) + 1, dtype=np.float64)
    if y.ndim != 1 or x.shape != y.shape:
        raise ConfigError(f"{what}: expected a 1-D sequence of numbers or a pair (x, y) of equal "
                          f"length, got shapes {x.shape} and {y.shape}")
    return x, y


def _positive_for_log(y: np.ndarray) -> np.ndarray:
    """Zeros and negatives cannot be drawn on a log axis: mask them (gaps, not lies)."""
    return np.where(y > 0, y, np.nan)


def plot_loss_curves(curves: Mapping[str, object], *, title: str = "Training loss",
                     xlabel: str = "epoch", ylabel: str = "loss", logy: bool = False,
                     reference: tuple[float, str] | None = None, ax=None,
                     width: float = 6.4, height: float = 3.6) -> Figure:
    """One line per entry of ``curves`` (label -> y values, or label -> ``(x, y)``).

    Non-finite values (a diverged run) end the line where they start.
    ``logy``: logarithmic loss axis (losses spanning decades). ``reference``:
    ``(value, label)`` of a dashed horizontal line, e.g. ``(log(3), "chance")``, the
    cross-entropy of always predicting the uniform distribution over 3 classes.
    """
    if not curves:
        raise ConfigError("plot_loss_curves: no curves given")
    fig, ax = (ax.figure, ax) if ax is not None else new_figure(width, height)
    if reference is not None:
        ax.axhline(reference[0], color="#888888", linestyle=":", linewidth=1.2,
                   label=reference[1], zorder=1)
    for i, (label, values) in enumerate(curves.items()):
        x, y = _curve(values, f"plot_loss_curves[{label!r}]")
        if logy:
            y = _positive_for_log(y)
        ax.plot(x, y, label=str(label), color=PALETTE[i % len(PALETTE)])
    if logy:
        ax.set_yscale("log")
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.legend()
    return fig


def _draw_layer_lines(ax, steps, values, labels, logy=True):
    colors = layer_colors(len(labels))
    for j, label in enumerate(labels):
        y = values[:, j]
        ax.plot(steps, _positive_for_log(y) if logy else y, color=colors[j], label=label,
                linewidth=1.3)
    if logy:
        ax.set_yscale("log")


def plot_gradient_flow(recordings, *, stat: str = "grad_mean_abs", title: str | None = None,
                       sharey: bool = True, width: float | None = None,
                       height: float = 3.6) -> Figure:
    """Per-layer gradient size over training, log scale: the gradient flow picture.

    ``recordings``: one Recording/Recorder, or a mapping label -> Recording for
    side-by-side panels (e.g. one per activation function) sharing the y axis, so
    the panels compare honestly. ``stat``: ``"grad_mean_abs"`` (mean |dW|, default)
    or ``"grad_norm"`` (||dW||). Lines go from dark (first layer) to light (last).
    A layer whose gradient is exactly zero leaves a gap (log axis).
    """
    if stat not in ("grad_mean_abs", "grad_norm"):
        raise ConfigError(f"stat must be 'grad_mean_abs' or 'grad_norm', got {stat!r}")
    runs = _runs(recordings)
    n = len(runs)
    fig, axes = new_figure(width or max(4.6, 3.6 * n), height, 1, n, sharey=sharey,
                           squeeze=False)
    ylabel = "mean |dW| per layer" if stat == "grad_mean_abs" else "||dW|| per layer"
    for k, (label, rec) in enumerate(runs.items()):
        ax = axes[0, k]
        _draw_layer_lines(ax, rec.record_step, rec.arrays[stat], rec.weight_labels)
        ax.set(xlabel="optimiser step", title=label if label else None)
        if k == 0:
            ax.set_ylabel(ylabel)
    axes[0, -1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    if title:
        fig.suptitle(title)
    return fig


def plot_gradient_profile(recordings, *, where: str | int = "start", stat: str = "grad_mean_abs",
                          early_fraction: float | None = 0.1, title: str | None = None,
                          ax=None, width: float = 6.4, height: float = 3.6) -> Figure:
    """Gradient size against layer depth, one line per run: vanishing gradients as a slope.

    With ``early_fraction`` (default 0.1) each point is the geometric mean over the
    records in the first 10% of recorded steps, which smooths out the noise of
    single mini-batches; with ``early_fraction=None`` the record ``where``
    (``"start"``, ``"middle"``, ``"end"`` or an index) is used. A layer whose
    gradient is exactly zero leaves a gap (log axis). ``ax``: draw into these axes.
    """
    runs = _runs(recordings)
    fig, ax = (ax.figure, ax) if ax is not None else new_figure(width, height)
    for i, (label, rec) in enumerate(runs.items()):
        values = rec.arrays[stat]
        if rec.n_records == 0:
            raise ConfigError(f"plot_gradient_profile: recording {label!r} has no records")
        if early_fraction is not None:
            steps = rec.record_step
            cutoff = steps[0] + early_fraction * max(1, int(steps[-1] - steps[0]))
            sel = values[steps <= cutoff]
            with np.errstate(divide="ignore"):
                prof = np.exp(np.mean(np.log(np.where(sel > 0, sel, np.nan)), axis=0))
        else:
            prof = values[rec.record_index(where)]
        depth = np.arange(1, values.shape[1] + 1)
        ax.plot(depth, _positive_for_log(prof), marker="o", label=str(label),
                color=PALETTE[i % len(PALETTE)])
    ax.set_yscale("log")
    first = next(iter(runs.values()))
    ax.set_xticks(np.arange(1, len(first.weight_labels) + 1))
    ax.set(xlabel="weight layer (1 = next to the input)",
           ylabel="mean |dW|" if stat == "grad_mean_abs" else "||dW||",
           title=title or ("Gradient size by depth, early in training" if early_fraction
                           else f"Gradient size by depth ({where})"))
    ax.legend()
    return fig


def plot_update_ratio(recording, *, title: str = "Update / weight ratio per layer",
                      width: float = 6.4, height: float = 3.6) -> Figure:
    """``||ΔW|| / ||W||`` per layer and recorded step (log scale), with the rule-of-thumb
    level 1e-3 dashed: far below, the layer barely learns; far above, it thrashes."""
    rec = as_recording(recording)
    fig, ax = new_figure(width, height)
    _draw_layer_lines(ax, rec.record_step, rec.update_ratio, rec.weight_labels)
    ax.axhline(UPDATE_RATIO_GUIDE, color="#555555", linestyle="--", linewidth=1.0,
               label="1e-3 (rule of thumb)")
    ax.set(xlabel="optimiser step", ylabel="||ΔW|| / ||W||", title=title)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    return fig


def plot_saturation(recordings, *, title: str | None = None, width: float | None = None,
                    height: float = 3.4) -> Figure:
    """Share of saturated outputs (sigmoid/tanh layers) or dead units (ReLU layers) over
    training, one line per activation layer, one panel per run; y from 0 to 1."""
    runs = _runs(recordings)
    n = len(runs)
    fig, axes = new_figure(width or max(4.6, 3.6 * n), height, 1, n, sharey=True,
                           squeeze=False)
    for k, (label, rec) in enumerate(runs.items()):
        ax = axes[0, k]
        kinds = [a["kind"] for a in rec.activation_layers]
        sat = rec.act_saturation
        dead = rec.act_dead
        colors = layer_colors(len(kinds))
        what: set[str] = set()
        for j, kind in enumerate(kinds):
            if kind in ("sigmoid", "tanh"):
                y, what_j = sat[:, j], "saturated outputs"
            elif kind == "relu":
                y, what_j = dead[:, j], "dead units"
            else:
                continue
            if np.all(np.isnan(y)):
                continue
            ax.plot(rec.record_step, y, color=colors[j], label=rec.activation_labels[j],
                    linewidth=1.3)
            what.add(what_j)
        if what:
            ax.legend(fontsize=7)
        else:
            ax.text(0.5, 0.5, "no sigmoid, tanh or ReLU\nlayers recorded", ha="center",
                    va="center", transform=ax.transAxes, color="#666666")
        ax.set_ylim(-0.02, 1.02)
        detail = " and ".join(sorted(what))
        ax.set(xlabel="optimiser step",
               title="\n".join(t for t in (label, detail) if t) or None)
        if k == 0:
            ax.set_ylabel("share")
    if title:
        fig.suptitle(title)
    return fig


def _runs(recordings) -> dict[str, Recording]:
    if isinstance(recordings, Mapping):
        if not recordings:
            raise ConfigError("no recordings given")
        return {str(k): as_recording(v) for k, v in recordings.items()}
    return {"": as_recording(recordings)}


def summary_table(recording, *, where: str | int = "end") -> tuple[list[str], list[list]]:
    """Columns and rows (one per weight layer) of the numbers at one record:
    mean |dW|, ||dW||, update ratio, weight mean and std."""
    rec = as_recording(recording)
    i = rec.record_index(where)
    columns = ["layer", "mean |dW|", "||dW||", "||ΔW||/||W||", "W mean", "W std"]
    rows = [
        [label, float(rec.grad_mean_abs[i, j]), float(rec.grad_norm[i, j]),
         float(rec.update_ratio[i, j]), float(rec.weight_mean[i, j]), float(rec.weight_std[i, j])]
        for j, label in enumerate(rec.weight_labels)
    ]
    return columns, rows


def finite_or_none(value: float) -> float | None:
    """``None`` for NaN/inf (a table cell that shows as blank), else the float."""
    return float(value) if value is not None and math.isfinite(value) else None


__all__: Sequence[str] = (
    "UPDATE_RATIO_GUIDE", "as_recording", "finite_or_none", "layer_colors", "plot_gradient_flow",
    "plot_gradient_profile", "plot_loss_curves", "plot_saturation", "plot_update_ratio",
    "summary_table",
)
