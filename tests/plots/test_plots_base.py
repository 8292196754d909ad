"""Shared figure helpers: styled figures without pyplot, saved atomically."""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib
import numpy as np
import pytest
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.image import imread

from scratchnet.errors import ConfigError
from scratchnet.plots.base import GRID_ALPHA, STYLE, new_figure, savefig_atomic, style_axes


def test_new_figure_single_and_grid() -> None:
    fig, ax = new_figure(4.0, 3.0)
    assert isinstance(fig, Figure) and isinstance(ax, Axes)
    assert tuple(fig.get_size_inches()) == (4.0, 3.0)
    # Not registered with pyplot: nothing global to close.
    assert fig.canvas.manager is None

    fig, axes = new_figure(6, 4, nrows=2, ncols=3, sharex=True)
    assert isinstance(axes, np.ndarray) and axes.shape == (2, 3)
    assert all(isinstance(a, Axes) for a in axes.ravel())
    assert axes[1, 2].get_shared_x_axes().joined(axes[0, 0], axes[1, 2])


def test_style_is_applied_per_figure_and_global_rcparams_untouched() -> None:
    before = dict(matplotlib.rcParams)
    fig, ax = new_figure(3.0, 2.0)
    ax.plot([0, 1, 2], [0.0, 1.0, 4.0])
    fig.canvas.draw()  # ticks and grid lines are created lazily, at draw time
    assert dict(matplotlib.rcParams) == before
    gridlines = ax.get_xgridlines() + ax.get_ygridlines()
    assert gridlines and all(g.get_visible() for g in gridlines)
    assert all(g.get_alpha() == pytest.approx(GRID_ALPHA) for g in gridlines)
    assert not ax.spines["top"].get_visible() and not ax.spines["right"].get_visible()
    labels = [t for t in ax.get_xticklabels() if t.get_text()]
    assert labels and all(t.get_fontsize() == STYLE["xtick.labelsize"] for t in labels)
    assert ax.get_lines()[0].get_color() == "#1f77b4"


def test_style_axes_on_an_added_subplot() -> None:
    fig, _ = new_figure(4.0, 2.0)
    extra = style_axes(fig.add_subplot(1, 2, 2))
    extra.plot([1, 2], [3, 4])
    fig.canvas.draw()
    assert all(g.get_alpha() == pytest.approx(GRID_ALPHA) for g in extra.get_ygridlines())
    assert not extra.spines["right"].get_visible()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((0, 3), "width must be a positive number of inches, got 0"),
        ((4, float("nan")), "height must be a positive number of inches"),
        ((4, "3"), "height must be a positive number of inches, got '3'"),
        ((4, 3, 0), "nrows must be a positive integer, got 0"),
        ((4, 3, 1, 1.5), "ncols must be a positive integer, got 1.5"),
    ],
)
def test_new_figure_rejects_bad_sizes(args: tuple, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        new_figure(*args)


def test_savefig_atomic_writes_a_png(tmp_path: Path) -> None:
    fig, ax = new_figure(3.0, 2.0)
    ax.plot([0, 1], [0, 1])
    target = savefig_atomic(fig, tmp_path / "line.png", dpi=100)
    assert target == tmp_path / "line.png"
    data = target.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    pixels = imread(io.BytesIO(data), format="png")
    # 3 x 2 inches at 100 dpi, give or take the tight bounding box.
    assert 250 <= pixels.shape[1] <= 310 and 170 <= pixels.shape[0] <= 210
    assert [p.name for p in tmp_path.iterdir()] == ["line.png"]  # no temporary left behind


def test_savefig_atomic_rejects_bad_input(tmp_path: Path) -> None:
    fig, ax = new_figure(2.0, 2.0)
    with pytest.raises(ConfigError, match="must end in .png"):
        savefig_atomic(fig, tmp_path / "x.svg")
    with pytest.raises(ConfigError, match="expected a matplotlib.figure.Figure, got Axes"):
        savefig_atomic(ax, tmp_path / "x.png")
    with pytest.raises(ConfigError, match=r"dpi must be an integer in \[10, 1200\], got 0"):
        savefig_atomic(fig, tmp_path / "x.png", dpi=0)
    with pytest.raises(FileNotFoundError):
        savefig_atomic(fig, tmp_path / "no" / "such" / "x.png")
    assert list(tmp_path.iterdir()) == []
