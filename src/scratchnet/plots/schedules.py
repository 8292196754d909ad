"""Learning rates as pictures: schedules over training and the learning-rate range test.

* :func:`plot_lr_curves`: one or more learning-rate curves against the optimiser
  step (what a schedule gave, as recorded, or as ``schedule.values(n)`` predicts).
* :func:`plot_schedule`: a ``scratchnet.schedules`` object drawn for ``n`` steps.
* :func:`plot_lr_find`: loss against learning rate (log axis) from a range test,
  raw and smoothed, with the suggested rate marked.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
from matplotlib.figure import Figure

from ..errors import ConfigError
from ..schedules import Schedule
from .base import PALETTE, new_figure
from .training import _curve


def plot_lr_curves(curves: Mapping[str, object], *, title: str = "Learning rate per step",
                   xlabel: str = "optimiser step", logy: bool = False, ax=None,
                   width: float = 6.4, height: float = 3.4) -> Figure:
    """One line per entry (label -> rates, or label -> ``(steps, rates)``).

    Drawn as steps (the rate is constant during an update), so a step decay shows
    its drops where they happen. ``logy`` for schedules spanning decades.
    """
    if not curves:
        raise ConfigError("plot_lr_curves: no curves given")
    fig, ax = (ax.figure, ax) if ax is not None else new_figure(width, height)
    for i, (label, values) in enumerate(curves.items()):
        if isinstance(values, tuple) and len(values) == 2:
            x, y = _curve(values, f"plot_lr_curves[{label!r}]")
        else:
            y = np.asarray(values, dtype=np.float64)
            x = np.arange(len(y), dtype=np.float64)  # step 0 is the first update
            x, y = _curve((x, y), f"plot_lr_curves[{label!r}]")
        if np.any(y < 0):
            raise ConfigError(f"plot_lr_curves[{label!r}]: learning rates must be >= 0")
        ax.plot(x, np.where(y > 0, y, np.nan) if logy else y, drawstyle="steps-post",
                label=str(label), color=PALETTE[i % len(PALETTE)])
    if logy:
        ax.set_yscale("log")
    else:
        ax.set_ylim(bottom=0)
    ax.set(title=title, xlabel=xlabel, ylabel="learning rate")
    ax.legend()
    return fig


def plot_schedule(schedule: Schedule, n_steps: int, *, label: str | None = None,
                  logy: bool = False) -> Figure:
    """``schedule(t)`` for ``t = 0 .. n_steps - 1``. A ReduceOnPlateau schedule depends
    on the losses it is shown, so only its current rate can be drawn this way; plot
    the rates a Recorder recorded during training instead."""
    if not isinstance(schedule, Schedule):
        raise ConfigError(f"expected a scratchnet Schedule, got {type(schedule).__name__}")
    if isinstance(n_steps, bool) or not isinstance(n_steps, int) or n_steps < 1:
        raise ConfigError(f"n_steps must be a positive integer, got {n_steps!r}")
    return plot_lr_curves({label or schedule.name: schedule.values(n_steps)},
                          title=f"Schedule '{schedule.name}'", logy=logy)


def plot_lr_find(lrs, losses, smoothed, suggested_lr: float, *,
                 steepest_lr: float | None = None, min_loss_lr: float | None = None,
                 title: str = "Learning-rate range test", width: float = 6.4,
                 height: float = 3.8) -> Figure:
    """Loss against learning rate on a log axis, with the suggestion marked.

    ``lrs``, ``losses``, ``smoothed``: ``(n,)`` the rate of each step, its batch loss,
    and the smoothed loss. ``suggested_lr``: drawn as a solid vertical line;
    ``steepest_lr`` (where the smoothed loss falls fastest; not drawn again when it is
    the suggestion) and ``min_loss_lr`` (where it is lowest) as dashed lines when given.
    The y axis is limited to the interesting range: from just below the lowest smoothed
    loss to a bit above the first losses.
    """
    lrs = np.asarray(lrs, dtype=np.float64)
    losses = np.asarray(losses, dtype=np.float64)
    smoothed = np.asarray(smoothed, dtype=np.float64)
    if not (lrs.ndim == 1 and lrs.shape == losses.shape == smoothed.shape and lrs.size >= 2):
        raise ConfigError("plot_lr_find: lrs, losses and smoothed must be 1-D, equal length, "
                          f"at least 2 points; got {lrs.shape}, {losses.shape}, {smoothed.shape}")
    if np.any(lrs <= 0):
        raise ConfigError("plot_lr_find: learning rates must be > 0 for a log axis")
    fig, ax = new_figure(width, height)
    ax.plot(lrs, np.where(np.isfinite(losses), losses, np.nan), color="#9ecae1", linewidth=1.0,
            label="batch loss")
    ax.plot(lrs, smoothed, color=PALETTE[0], linewidth=2.0, label="smoothed loss")
    ax.set_xscale("log")
    if min_loss_lr is not None:
        ax.axvline(min_loss_lr, color=PALETTE[3], linestyle="--", linewidth=1.0,
                   label=f"lowest smoothed loss, lr = {min_loss_lr:.2g}")
    same = steepest_lr is not None and math.isclose(steepest_lr, suggested_lr, rel_tol=1e-9)
    if steepest_lr is not None and not same:
        ax.axvline(steepest_lr, color=PALETTE[2], linestyle="--", linewidth=1.0,
                   label=f"steepest descent, lr = {steepest_lr:.2g}")
    ax.axvline(suggested_lr, color=PALETTE[1], linewidth=2.0,
               label=f"suggested lr = {suggested_lr:.2g}"
               + (" (steepest descent)" if same else ""))
    finite = smoothed[np.isfinite(smoothed)]
    if finite.size:
        lo, hi = float(finite.min()), float(finite[: max(1, finite.size // 10)].max())
        span = max(hi - lo, 1e-12)
        ax.set_ylim(lo - 0.1 * span, hi + 0.6 * span)
    ax.set(title=title, xlabel="learning rate (log scale)", ylabel="loss")
    ax.legend(fontsize=8)
    return fig
