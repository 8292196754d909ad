"""Pictures of an MNIST training run: learning curves and the confusion matrix.

Both read plain numbers (a per-epoch history, batch losses, a count matrix) and
return a matplotlib ``Figure`` made with :func:`scratchnet.plots.base.new_figure`;
nothing here trains.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from ..errors import ConfigError, ShapeError
from .base import PALETTE, new_figure

TRAIN_COLOR, VAL_COLOR = PALETTE[0], PALETTE[1]


def plot_training_curves(history: Mapping[str, Sequence[float]],
                         batch_losses: Sequence[float] = (), *, steps_per_epoch: int = 1,
                         title: str | None = None) -> Figure:
    """Loss (left, log scale) and accuracy (right) against epochs.

    history : per epoch ``loss`` and ``accuracy`` (training) and, when there was a
        validation set, ``val_loss`` and ``val_accuracy``; accuracies as fractions.
    batch_losses : the loss of every training batch, drawn faintly at its fractional
        epoch ``(step + 1) / steps_per_epoch``.

    Where the points sit, so the picture does not flatter the training curve: an
    epoch's training loss is the mean over the batches *during* epoch ``e`` (the
    weights kept changing), so it is drawn at ``e - 0.5``; validation is measured
    with the weights at the *end* of epoch ``e`` and drawn at ``e``.
    """
    loss = np.asarray(history.get("loss", []), dtype=np.float64)
    n = len(loss)
    for key in ("accuracy", "val_loss", "val_accuracy"):
        if key in history and len(history[key]) != n:
            raise ConfigError(
                f"plot_training_curves: history[{key!r}] has {len(history[key])} values, "
                f"history['loss'] has {n}; expected one per epoch"
            )
    if isinstance(steps_per_epoch, bool) or not isinstance(steps_per_epoch, int) \
            or steps_per_epoch < 1:
        raise ConfigError(f"steps_per_epoch must be a positive integer, got {steps_per_epoch!r}")
    fig, (ax_loss, ax_acc) = new_figure(10.0, 3.8, 1, 2)
    mid = np.arange(1, n + 1) - 0.5
    end = np.arange(1, n + 1)
    batches = np.asarray(batch_losses, dtype=np.float64)
    if batches.size:
        x = (np.arange(batches.size) + 1) / steps_per_epoch
        ax_loss.plot(x, np.where(batches > 0, batches, np.nan), color=TRAIN_COLOR, alpha=0.25,
                     linewidth=0.6, label="training batch")
    if n:
        ax_loss.plot(mid, loss, color=TRAIN_COLOR, marker="o", markersize=3,
                     label="training (epoch mean)")
        if "val_loss" in history:
            ax_loss.plot(end, history["val_loss"], color=VAL_COLOR, marker="s", markersize=3,
                         label="validation")
        acc = 100 * np.asarray(history["accuracy"], dtype=np.float64)
        ax_acc.plot(mid, acc, color=TRAIN_COLOR, marker="o", markersize=3,
                    label="training (augmented, while training)")
        low = [acc.min()]
        if "val_accuracy" in history:
            val = 100 * np.asarray(history["val_accuracy"], dtype=np.float64)
            ax_acc.plot(end, val, color=VAL_COLOR, marker="s", markersize=3, label="validation")
            ax_acc.annotate(f"{val[-1]:.2f}%", (end[-1], val[-1]), textcoords="offset points",
                            xytext=(0, -14), ha="center", fontsize=8, color=VAL_COLOR)
            low.append(val.min())
        # Accuracy climbs fast and then creeps up; start the axis near the worst value
        # so the late, small gains that matter stay visible (the axis says where it starts).
        ax_acc.set_ylim(max(0.0, min(low) - 1.0), 100.0)
        ax_acc.legend(loc="lower right")
    else:
        for ax in (ax_loss, ax_acc):
            ax.text(0.5, 0.5, "no complete epoch", transform=ax.transAxes, ha="center",
                    va="center", color="#777777")
    if batches.size or n:
        ax_loss.set_yscale("log")
        # Plain numbers (0.05, 0.1, 0.2) read better than 5 x 10^-2 on a loss axis.
        plain = FuncFormatter(lambda v, _: f"{v:g}")
        ax_loss.yaxis.set_major_formatter(plain)
        ax_loss.yaxis.set_minor_formatter(
            FuncFormatter(lambda v, _: f"{v:g}" if f"{v:.0e}"[0] in "25" else ""))
        ax_loss.legend(loc="upper right")
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy loss (log scale)", title="Loss")
    ax_acc.set(xlabel="epoch", ylabel="accuracy (%)", title="Accuracy")
    if title:
        fig.suptitle(title)
    return fig


def plot_confusion(confusion: np.ndarray, class_names: Sequence[str], *,
                   title: str | None = None) -> Figure:
    """A confusion matrix with its counts written in the cells.

    confusion : ``(k, k)`` counts, ``confusion[true, predicted]``.
    Correct cells (the diagonal) are light green; errors are shaded red by count, on
    their own scale, so that a handful of mistakes is visible next to a diagonal of
    hundreds. Each row is labelled with its accuracy on the right.
    """
    conf = np.asarray(confusion)
    k = len(class_names)
    if conf.shape != (k, k):
        raise ShapeError(
            f"plot_confusion: confusion has shape {conf.shape}, expected ({k}, {k}) for "
            f"{k} class names"
        )
    off = conf.astype(np.float64).copy()
    np.fill_diagonal(off, 0)
    worst = off.max() if off.max() > 0 else 1.0
    reds = colormaps["Reds"]
    rgb = np.ones((k, k, 3))
    mask = off > 0
    rgb[mask] = reds(0.15 + 0.75 * off[mask] / worst)[:, :3]
    for i in range(k):
        rgb[i, i] = (0.80, 0.92, 0.80)
    long_names = max(len(n) for n in class_names) > 2
    size = 6.6 if long_names else 5.6
    fig, ax = new_figure(size + 0.8, size)
    ax.imshow(rgb, interpolation="nearest")
    ax.grid(False)
    for i in range(k):
        for j in range(k):
            if conf[i, j]:
                dark = j != i and off[i, j] / worst > 0.6
                ax.text(j, i, str(int(conf[i, j])), ha="center", va="center", fontsize=8,
                        color="white" if dark else "black",
                        fontweight="bold" if i == j else "normal")
    totals = conf.sum(axis=1)
    ticks = np.arange(k)
    ax.set_xticks(ticks, labels=class_names, rotation=45 if long_names else 0,
                  ha="right" if long_names else "center")
    ax.set_yticks(ticks, labels=class_names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.tick_params(length=0)
    for side in ("left", "bottom"):
        ax.spines[side].set_visible(False)
    right = ax.secondary_yaxis("right")
    right.set_yticks(ticks, labels=[
        f"{100 * conf[i, i] / totals[i]:.1f}%" if totals[i] else "-" for i in range(k)
    ])
    right.tick_params(length=0, labelsize=8)
    right.spines["right"].set_visible(False)
    right.set_ylabel("accuracy of the row", fontsize=9)
    total = conf.sum()
    acc = np.trace(conf) / total if total else float("nan")
    ax.set_title(title or f"Confusion matrix: {int(np.trace(conf)):,} of {int(total):,} "
                 f"correct ({100 * acc:.2f}%)")
    return fig
