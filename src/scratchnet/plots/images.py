"""Pictures made of small images: weights as images, filters, galleries of digits.

* :func:`image_grid` draws any stack of 2-D arrays in a grid, with optional titles.
* :func:`plot_first_layer` draws what a network's first layer looks for: a Dense
  layer's incoming weights as 28 x 28 images, or a Conv2D layer's filters and their
  responses to one image.
* :func:`plot_mistakes` is a gallery of misclassified images.
* :func:`plot_digit_preprocessing` shows a user's picture next to the 28 x 28
  image the network actually receives.

Weights are drawn red (positive) / blue (negative) around a white zero, each image
on its own symmetric scale ``[-max|w|, +max|w|]``: the *pattern* of one unit is
what matters here, and units differ a lot in overall size. Digits are drawn as dark
ink on white paper (``gray_r``), the way they were written.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure

from ..errors import ConfigError, ShapeError
from .base import new_figure

WEIGHT_CMAP = "RdBu_r"
INK_CMAP = "gray_r"


def _hide_axes(ax) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
    for spine in ax.spines.values():
        spine.set_visible(False)


def image_grid(images: np.ndarray, titles: Sequence[str] | None = None, *, ncols: int = 8,
               cmap: str = INK_CMAP, symmetric: bool = False, vmin: float | None = None,
               vmax: float | None = None, cell: float = 1.0, title: str | None = None,
               title_colors: Sequence[str] | None = None, fontsize: float = 7.0,
               fig=None) -> Figure:
    """Draw ``images`` ``(n, h, w)`` in a grid of ``ncols`` columns.

    symmetric : colour scale ``[-m, m]`` per image with ``m = max|image|`` (weights);
        otherwise ``vmin``/``vmax`` (default: each image's own range).
    cell : inches per image.  fig : draw into this figure (or subfigure) instead of a
        new one.

    The whole grid is *one* Axes in which a pixel is one unit: image ``k`` is placed at
    its row and column with ``imshow(..., extent=...)`` (each keeps its own colour
    scale) and its title is a text above it. One Axes per image, the obvious way, made
    matplotlib lay out and draw 64 sets of axes for 64 images: the figures of
    ``scratchnet mnist`` took most of the command's time that way.
    """
    images = np.asarray(images)
    if images.ndim != 3 or images.shape[0] == 0:
        raise ShapeError(f"image_grid: expected images of shape (n, h, w) with n >= 1, "
                         f"got {images.shape}")
    if titles is not None and len(titles) != len(images):
        raise ConfigError(f"image_grid: {len(titles)} titles for {len(images)} images")
    n, h, w = images.shape
    ncols = max(1, min(ncols, n))
    nrows = math.ceil(n / ncols)
    extra = 0.2 * (max(t.count("\n") + 1 for t in titles) if titles else 0)  # inches
    gap = 0.12 * max(h, w)  # pixels between neighbouring images
    inch = (w + gap) / cell  # pixels per inch: one image and one gap per cell
    band = extra * inch  # height of a row's titles, in pixels
    row = band + h + gap
    if fig is None:
        fig, ax = new_figure(ncols * cell, nrows * row / inch + (0.3 if title else 0))
    else:
        ax = fig.subplots()
    ax.set_axis_off()
    for k in range(n):
        r, c = divmod(k, ncols)
        x0, y0 = c * (w + gap), r * row + band  # top-left corner of image k
        img = images[k].astype(np.float64)
        if symmetric:
            m = float(np.max(np.abs(img))) or 1.0
            lo, hi = -m, m
        else:
            lo, hi = vmin, vmax
        # y grows downwards (the limits below), so extent's "bottom" is y0 + h.
        ax.imshow(img, cmap=cmap, vmin=lo, vmax=hi, interpolation="nearest",
                  extent=(x0, x0 + w, y0 + h, y0))
        if titles is not None:
            color = title_colors[k] if title_colors is not None else "black"
            ax.text(x0 + w / 2, y0 - 0.08 * h, titles[k], fontsize=fontsize, color=color,
                    ha="center", va="bottom", linespacing=1.2)
    ax.set_xlim(-gap / 2, ncols * (w + gap) - gap / 2)
    ax.set_ylim(nrows * row - gap / 2, 0)
    ax.set_aspect("equal")
    if title:
        fig.suptitle(title)
    return fig


def plot_first_layer(layer, *, sample_image: np.ndarray | None = None,
                     responses: np.ndarray | None = None, max_units: int = 64) -> Figure:
    """What the first layer of an MNIST network looks for.

    Dense (``W`` of shape ``(784, units)``): the first ``max_units`` columns, each
    reshaped to 28 x 28, so weight ``W[i, j]`` sits where pixel ``i`` is.

    Conv2D (``W`` of shape ``(C_out, C_in, kh, kw)``): the filters (first input
    channel), and, when ``sample_image`` ``(28, 28)`` float in [0, 1] is given, each
    filter's response to it: ``responses`` ``(C_out, Ho, Wo)`` if given (e.g. the
    first block's output after batch norm and ReLU), else the convolution's raw output
    (:func:`conv_responses`). All maps share one colour scale, so brightness compares
    across filters: black is no response.
    """
    W = np.asarray(layer.params["W"])
    kind = type(layer).__name__
    if kind == "Dense":
        if W.shape[0] != 784:
            raise ShapeError(f"plot_first_layer: a Dense layer with 784 inputs (28 x 28 "
                             f"pixels) is needed, got W of shape {W.shape}")
        units = min(max_units, W.shape[1])
        images = W[:, :units].T.reshape(units, 28, 28)
        return image_grid(images, ncols=8, cmap=WEIGHT_CMAP, symmetric=True, cell=0.95,
                          title=f"Incoming weights of hidden units 1-{units} of {W.shape[1]} "
                                "(red +, blue -)")
    if kind != "Conv2D":
        raise ConfigError(f"plot_first_layer: expected a Dense or Conv2D layer, got {kind}")
    filters = W[:, 0]
    ncols = 8
    rows = math.ceil(len(filters) / ncols)
    if sample_image is None:
        return image_grid(filters, ncols=ncols, cmap=WEIGHT_CMAP, symmetric=True, cell=0.8,
                          title=f"The {len(filters)} {W.shape[2]}x{W.shape[3]} filters of the "
                                "first convolution (red +, blue -)")
    if responses is not None:
        maps, what = np.asarray(responses), "after batch norm and ReLU"
    else:
        maps, what = conv_responses(layer, sample_image), "raw convolution output"
    if maps.shape[0] != len(filters):
        raise ShapeError(f"plot_first_layer: {maps.shape[0]} response maps for "
                         f"{len(filters)} filters")
    low, high = min(0.0, float(maps.min())), float(maps.max()) or 1.0
    fig, _ = new_figure(ncols * 1.0 + 1.6, rows * 1.9 + 0.9, 1, 1)
    fig.clear()
    top, bottom = fig.subfigures(2, 1, height_ratios=[1.0, 1.1])
    image_grid(filters, ncols=ncols, cmap=WEIGHT_CMAP, symmetric=True, fig=top,
               title=f"The {len(filters)} {W.shape[2]}x{W.shape[3]} filters of the first "
                     "convolution (red +, blue -)")
    left, right = bottom.subfigures(1, 2, width_ratios=[1.4, ncols])
    ax = left.subplots()
    _hide_axes(ax)
    ax.imshow(sample_image, cmap=INK_CMAP, vmin=0, vmax=1, interpolation="nearest")
    ax.set_title("input", fontsize=8)
    image_grid(maps, ncols=ncols, cmap="magma", vmin=low, vmax=high, fig=right,
               title=f"Each filter's output for this input ({what}; shared scale, "
                     "black = 0)")
    return fig


def conv_responses(layer, image: np.ndarray) -> np.ndarray:
    """The output of Conv2D ``layer`` for one ``(H, W)`` grey image, ``(C_out, Ho, Wo)``.

    Computed here from the definition (a sliding window and a sum), without calling
    the layer, so drawing a picture never touches its caches::

        y[o, r, c] = b[o] + sum_{i, j} W[o, 0, i, j] * xp[r*s + i, c*s + j]
    """
    W, b = np.asarray(layer.params["W"]), np.asarray(layer.params["b"])
    if W.shape[1] != 1:
        raise ShapeError(f"conv_responses: a grey image needs a one-channel filter bank, "
                         f"got W of shape {W.shape}")
    (ph, pw), (sh, sw) = layer.padding, layer.stride
    xp = np.pad(np.asarray(image, dtype=W.dtype), ((ph, ph), (pw, pw)))
    windows = np.lib.stride_tricks.sliding_window_view(xp, W.shape[2:])[::sh, ::sw]
    return np.einsum("rcij,oij->orc", windows, W[:, 0]) + b[:, None, None]


def plot_mistakes(images: np.ndarray, true: np.ndarray, pred: np.ndarray,
                  confidence: np.ndarray, class_names: Sequence[str], *,
                  n_wrong: int | None = None, n_total: int | None = None,
                  ncols: int = 8) -> Figure:
    """A gallery of misclassified images, one title per image::

        pred <predicted name> (<confidence>%)
        true <true name>

    images : ``(n, 28, 28)`` uint8 or float; ``true``, ``pred`` : ``(n,)`` class
    indices; ``confidence`` : ``(n,)`` the model's probability of ``pred``.
    ``n_wrong``/``n_total`` give the headline (how many of how many were wrong).
    """
    images = np.asarray(images)
    n = len(images)
    if not (len(true) == len(pred) == len(confidence) == n):
        raise ShapeError("plot_mistakes: images, true, pred and confidence must have the same "
                         f"length, got {n}, {len(true)}, {len(pred)}, {len(confidence)}")
    head = ""
    if n_wrong is not None and n_total:
        head = (f"{n_wrong:,} of {n_total:,} test images misclassified "
                f"({100 * n_wrong / n_total:.2f}%)")
    if n == 0:
        fig, ax = new_figure(6.0, 1.6)
        _hide_axes(ax)
        ax.text(0.5, 0.5, "No mistakes: every test image was classified correctly.",
                ha="center", va="center", transform=ax.transAxes)
        if head:
            ax.set_title(head)
        return fig
    short = [str(name)[:11] for name in class_names]
    titles = [f"pred {short[p]} ({100 * c:.0f}%)\ntrue {short[t]}"
              for t, p, c in zip(true, pred, confidence, strict=True)]
    scale = 255.0 if images.dtype == np.uint8 else 1.0
    if head:
        head += f"; the {n} most confident mistakes" if n < (n_wrong or 0) else ""
    long_names = max(len(name) for name in short) > 2  # Fashion-MNIST: wider cells
    return image_grid(images, titles, ncols=ncols, cmap=INK_CMAP, vmin=0, vmax=scale,
                      cell=1.4 if long_names else 1.15, title=head or None,
                      title_colors=["#b2182b"] * n,
                      fontsize=7.5)


def plot_digit_preprocessing(original: np.ndarray, processed: np.ndarray,
                             probabilities: np.ndarray | None = None,
                             class_names: Sequence[str] | None = None,
                             title: str | None = None) -> Figure:
    """A user's picture (grey, any size) beside the 28 x 28 network input made from it,
    and, when given, the model's probability for each class as bars."""
    ncols = 3 if probabilities is not None else 2
    fig, axes = new_figure(3.0 * ncols, 3.0, 1, ncols,
                           width_ratios=[1, 1, 1.4][:ncols])
    for ax, img, label in ((axes[0], original, "your picture (grey)"),
                           (axes[1], processed, "what the network sees (28x28)")):
        _hide_axes(ax)
        ax.imshow(img, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        ax.set_title(label, fontsize=9)
        for spine in ax.spines.values():  # a thin frame shows where a white picture ends
            spine.set_visible(True)
            spine.set_color("#999999")
            spine.set_linewidth(0.6)
    if probabilities is not None:
        ax = axes[2]
        names = list(class_names) if class_names is not None else [str(i) for i in
                                                                  range(len(probabilities))]
        y = np.arange(len(names))
        ax.barh(y, 100 * np.asarray(probabilities), color="#1f77b4")
        ax.set_yticks(y, labels=names)
        ax.invert_yaxis()
        ax.set_xlim(0, 100)
        ax.set_xlabel("probability (%)")
        ax.grid(axis="y", visible=False)
    if title:
        fig.suptitle(title)
    return fig
