"""Distributions per layer at a few moments of training: weights and activations.

Small multiples: one panel per layer, and in each panel the recorded histogram at
the start, the middle and the end of training (by default) drawn as outlines of
probability densities, so histograms with different bins compare fairly. The data
are the histograms a :class:`~scratchnet.insight.Recorder` took; nothing trains here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure

from ..errors import ConfigError
from .base import new_figure
from .training import as_recording

#: Colours of the moments: start light, end dark, so time reads as darkening.
MOMENT_COLORS = ("#9ecae1", "#fd8d3c", "#08306b", "#2ca02c", "#d62728")


def _density(counts: np.ndarray, edges: np.ndarray) -> np.ndarray:
    widths = np.diff(edges)
    total = counts.sum()
    if total == 0:
        return np.zeros_like(widths)
    return counts / (total * np.where(widths > 0, widths, 1.0))


def _grid(n: int, max_cols: int = 4) -> tuple[int, int]:
    cols = min(n, max_cols)
    return math.ceil(n / cols), cols


def _small_multiples(rec, hist: np.ndarray, edges: np.ndarray, labels: Sequence[str],
                     positions, title: str, xlabel: str, zero_share: np.ndarray | None,
                     panel_w: float, panel_h: float) -> Figure:
    """``zero_share (R, n)``: for panels where it is given (not NaN), the first bin holds
    the exact zeros of a ReLU; its bar is clipped and the share of zeros is written in
    the panel instead, so the rest of the distribution stays readable."""
    n = len(labels)
    if n == 0:
        raise ConfigError(f"{title}: the recording has no layers of this kind")
    idx = [rec.record_index(p) for p in positions]
    rows, cols = _grid(n)
    fig, axes = new_figure(panel_w * cols, panel_h * rows + 0.6, rows, cols, squeeze=False)
    for j in range(rows * cols):
        ax = axes[j // cols, j % cols]
        if j >= n:
            ax.set_visible(False)
            continue
        clip_first = zero_share is not None and np.any(np.isfinite(zero_share[idx, j]))
        top = 0.0
        zeros_text = []
        for m, (pos, i) in enumerate(zip(positions, idx, strict=True)):
            if not np.all(np.isfinite(edges[i, j])):
                continue
            dens = _density(hist[i, j], edges[i, j])
            name = pos if isinstance(pos, str) else f"record {i}"
            color = MOMENT_COLORS[m % len(MOMENT_COLORS)]
            ax.stairs(dens, edges[i, j], color=color, linewidth=1.4,
                      label=f"{name} (step {int(rec.record_step[i])})")
            top = max(top, float(dens[1:].max() if clip_first else dens.max()))
            if clip_first:
                zeros_text.append(f"{zero_share[i, j]:.0%}")
        if clip_first and top > 0:
            ax.set_ylim(0, 1.3 * top)
            ax.text(0.97, 0.95, "outputs = 0: " + " / ".join(zeros_text) + "\n(first bin clipped)",
                    transform=ax.transAxes, ha="right", va="top", fontsize=6.5, color="#333333")
        ax.set_title(labels[j], fontsize=9)
        ax.tick_params(labelsize=7)
        if j % cols == 0:
            ax.set_ylabel("density", fontsize=8)
        if j // cols == rows - 1 or j + cols >= n:
            ax.set_xlabel(xlabel, fontsize=8)
    handles, texts = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, texts, loc="outside lower center", ncols=len(positions), fontsize=8)
    fig.suptitle(title)
    return fig


def plot_weight_distributions(recording, positions: Sequence = ("start", "middle", "end"), *,
                              title: str = "Weight distributions per layer",
                              panel_w: float = 2.5, panel_h: float = 2.0) -> Figure:
    """Histogram of each weight matrix ``W`` at the recorded ``positions``
    (``"start"``, ``"middle"``, ``"end"`` or record indices), one panel per layer."""
    rec = as_recording(recording)
    return _small_multiples(rec, rec.weight_hist, rec.weight_edges, rec.weight_labels,
                            positions, title, "weight value", None, panel_w, panel_h)


def plot_activation_distributions(recording, positions: Sequence = ("start", "middle", "end"),
                                  *, title: str = "Activation distributions per layer",
                                  panel_w: float = 2.5, panel_h: float = 2.0) -> Figure:
    """Histogram of each activation layer's output on the recorded batch, at the
    recorded ``positions``. In ReLU panels the first bin (which holds all the exact
    zeros) is clipped and the share of zeros at each moment is written instead."""
    rec = as_recording(recording)
    edges = rec.act_edges
    if edges.size and np.all(np.isnan(edges)):
        raise ConfigError("the recording holds no activation statistics "
                          "(recorded with activations=False)")
    relu = np.array([a["kind"] == "relu" for a in rec.activation_layers])
    zero = np.where(relu[None, :], rec.act_zero, np.nan)
    return _small_multiples(rec, rec.act_hist, edges, rec.activation_labels, positions,
                            title, "output value", zero, panel_w, panel_h)
