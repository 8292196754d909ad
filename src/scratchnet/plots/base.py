"""Shared figure helpers: one look for every picture scratchnet draws.

Every plot in the project starts with :func:`new_figure` and ends with
:func:`savefig_atomic` (or ``RunFolder.save_figure``, which calls it). Both use
matplotlib's object-oriented API only: a :class:`matplotlib.figure.Figure` is
created directly, never through ``pyplot``, so nothing is registered in a global
figure manager, nothing needs closing, and it works on a headless machine with
no display and no GUI backend.

The style (:data:`STYLE`) is applied inside :func:`matplotlib.rc_context` while
the figure is created and again while it is rendered, and the settings that
matplotlib reads lazily (grid lines and tick labels are created on first draw)
are also set on each axes explicitly. The global ``matplotlib.rcParams`` are
never modified, so a user's own plots are unaffected.

Example::

    fig, ax = new_figure(6.0, 3.5)
    ax.plot(steps, losses, label="train")
    ax.set(xlabel="step", ylabel="loss", title="Training loss")
    ax.legend()
    savefig_atomic(fig, "runs/xor/loss.png")
"""

from __future__ import annotations

import io
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib import rc_context
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ..errors import ConfigError
from ..fileio import atomic_write_bytes

#: Resolution of saved PNGs, in dots per inch. 110 dpi makes a 6.4-inch-wide
#: figure 704 pixels wide: sharp on screen, small enough to embed in a report.
DEFAULT_DPI = 110

#: The colour cycle of every axes (matplotlib's "tab10", listed explicitly so a
#: user's own ``rcParams`` cannot change the project's pictures).
PALETTE: tuple[str, ...] = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)

#: Grid line opacity: visible enough to read values off, faint enough not to
#: compete with the data.
GRID_ALPHA = 0.3

#: rcParams applied (temporarily, through ``rc_context``) while a figure is
#: created and while it is rendered.
STYLE: dict[str, Any] = {
    "font.size": 10.0,
    "axes.titlesize": 11.0,
    "axes.titleweight": "semibold",
    "axes.labelsize": 10.0,
    "xtick.labelsize": 9.0,
    "ytick.labelsize": 9.0,
    "legend.fontsize": 9.0,
    "legend.frameon": False,
    "axes.grid": True,
    "grid.alpha": GRID_ALPHA,
    "grid.linewidth": 0.6,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.edgecolor": "#444444",
    "axes.linewidth": 0.8,
    "lines.linewidth": 1.6,
    "figure.facecolor": "white",
    "axes.facecolor": "white",
    "savefig.facecolor": "white",
    "image.cmap": "viridis",
}


def new_figure(
    width: float,
    height: float,
    nrows: int = 1,
    ncols: int = 1,
    **kw: Any,
) -> tuple[Figure, Any]:
    """Create a styled figure and its axes, without pyplot.

    Args:
        width, height: figure size in inches (positive, finite). At
            :data:`DEFAULT_DPI` one inch is 110 pixels.
        nrows, ncols: grid of axes (positive integers).
        **kw: passed to :meth:`Figure.subplots` (``sharex``, ``sharey``,
            ``squeeze``, ``subplot_kw``, ``gridspec_kw``, ``width_ratios``...).

    Returns:
        ``(fig, axes)`` as :meth:`Figure.subplots` returns them: one
        :class:`~matplotlib.axes.Axes` when ``nrows == ncols == 1`` (and
        ``squeeze`` is left at True), otherwise a NumPy object array of Axes of
        shape ``(nrows, ncols)`` (squeezed to 1-D for a single row or column).

    The figure uses matplotlib's "constrained" layout, so titles, labels and
    colour bars do not overlap without a call to ``tight_layout``.

    Raises:
        ConfigError: a size is not a positive finite number, or ``nrows`` /
            ``ncols`` is not a positive integer.
    """
    for name, value in (("width", width), ("height", height)):
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float | np.integer | np.floating)
            or not math.isfinite(float(value))
            or float(value) <= 0
        ):
            raise ConfigError(
                f"new_figure: {name} must be a positive number of inches, got {value!r}"
            )
    for name, value in (("nrows", nrows), ("ncols", ncols)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise ConfigError(f"new_figure: {name} must be a positive integer, got {value!r}")
    with rc_context(STYLE):
        fig = Figure(figsize=(float(width), float(height)), dpi=DEFAULT_DPI, layout="constrained")
        axes = fig.subplots(int(nrows), int(ncols), **kw)
    for ax in np.atleast_1d(axes).ravel():
        style_axes(ax)
    return fig, axes


def style_axes(ax: Axes) -> Axes:
    """Apply the project style to one axes (e.g. one added later with ``fig.add_subplot``).

    Sets what matplotlib would otherwise read from the global rcParams at draw
    time: grid opacity, tick label size, colour cycle, hidden top/right spines.
    Axes drawn as images (``imshow``) can turn the grid off with ``ax.grid(False)``.
    Returns ``ax`` so calls can be chained.
    """
    ax.set_prop_cycle(color=list(PALETTE))
    # Keyword arguments to grid()/tick_params() are stored on the axis and
    # reused for every tick created later, unlike rcParams read at draw time.
    ax.grid(True, alpha=GRID_ALPHA, linewidth=STYLE["grid.linewidth"])
    ax.tick_params(labelsize=STYLE["xtick.labelsize"])
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        if side in ax.spines:
            ax.spines[side].set_visible(False)
    return ax


def savefig_atomic(fig: Figure, path: str | os.PathLike, dpi: int = DEFAULT_DPI) -> Path:
    """Render ``fig`` to a PNG file at ``path`` atomically; returns ``Path(path)``.

    The image is rendered to memory first (``fig.savefig(BytesIO, format="png")``)
    and then written with :func:`scratchnet.fileio.atomic_write_bytes`, so a
    reader (a report being built, a browser refreshing) never sees half a PNG,
    and a failed render leaves any previous file untouched.

    Raises:
        ConfigError: ``fig`` is not a matplotlib ``Figure``, ``path`` does not
            end in ``.png``, or ``dpi`` is not a positive integer.
        OSError: the file cannot be written (folder missing, no permission).
    """
    if not isinstance(fig, Figure):
        raise ConfigError(
            f"savefig_atomic: expected a matplotlib.figure.Figure, got {type(fig).__name__}"
        )
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ConfigError(f"savefig_atomic: {path} must end in .png (figures are saved as PNG)")
    if isinstance(dpi, bool) or not isinstance(dpi, int | np.integer) or not 10 <= dpi <= 1200:
        raise ConfigError(f"savefig_atomic: dpi must be an integer in [10, 1200], got {dpi!r}")
    buffer = io.BytesIO()
    with rc_context(STYLE):
        # Figures from new_figure lay themselves out (constrained layout); only others
        # get bbox_inches="tight", which costs a second full draw.
        tight = "tight" if fig.get_layout_engine() is None else None
        fig.savefig(buffer, format="png", dpi=int(dpi), bbox_inches=tight, pad_inches=0.08)
    atomic_write_bytes(path, buffer.getvalue())
    return path
