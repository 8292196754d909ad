"""Grids of small images: one Axes for the whole grid, every image in its own place."""

from __future__ import annotations

import io

import numpy as np
import pytest
from matplotlib.image import imread

from scratchnet.errors import ConfigError, ShapeError
from scratchnet.layers import Conv2D, Dense
from scratchnet.plots.base import savefig_atomic
from scratchnet.plots.images import image_grid, plot_first_layer


def _boxes(ax):
    """(left, right, top, bottom) of every image, in the order drawn."""
    out = []
    for im in ax.get_images():
        left, right, bottom, top = im.get_extent()
        out.append((left, right, top, bottom))
    return out


def test_grid_is_one_axes_with_every_image_in_row_major_places() -> None:
    rng = np.random.default_rng(0)
    images = rng.standard_normal((11, 6, 9))
    titles = [f"unit {k}" for k in range(11)]
    colors = ["red" if k % 2 else "black" for k in range(11)]
    fig = image_grid(images, titles, ncols=4, symmetric=True, title_colors=colors,
                     title="eleven")
    assert len(fig.axes) == 1
    ax = fig.axes[0]
    boxes = _boxes(ax)
    assert len(boxes) == 11
    # Each image spans its own 9 x 6 pixels; the y axis points down, so rows go down.
    for k, (left, right, top, bottom) in enumerate(boxes):
        assert right - left == pytest.approx(9) and bottom - top == pytest.approx(6)
        r, c = divmod(k, 4)
        assert left == pytest.approx(boxes[c][0])  # same column, same x
        assert top == pytest.approx(boxes[4 * r][2])  # same row, same y
    lefts = [b[0] for b in boxes[:4]]
    tops = [boxes[4 * r][2] for r in range(3)]
    assert lefts == sorted(lefts) and tops == sorted(tops)
    assert all(b[1] < n[0] for b, n in zip(boxes[:3], boxes[1:4], strict=True))  # no overlap
    y_low, y_high = ax.get_ylim()
    assert y_low > y_high  # inverted: row 0 at the top
    assert ax.get_xlim()[0] < boxes[0][0] and ax.get_xlim()[1] > boxes[3][1]
    # Each image on its own symmetric scale.
    for im, img in zip(ax.get_images(), images, strict=True):
        lo, hi = im.get_clim()
        assert hi == pytest.approx(np.abs(img).max()) and lo == pytest.approx(-hi)
        np.testing.assert_array_equal(im.get_array(), img)
    # Titles above their images, in order, in their colours.
    texts = ax.texts
    assert [t.get_text() for t in texts] == titles
    assert [t.get_color() for t in texts] == colors
    for t, (left, right, top, _) in zip(texts, boxes, strict=True):
        x, y = t.get_position()
        assert x == pytest.approx((left + right) / 2) and y < top
    assert fig.get_suptitle() == "eleven"


def test_grid_shared_scale_size_and_png() -> None:
    images = np.stack([np.full((4, 4), v) for v in (0.0, 0.5, 1.0)])
    fig = image_grid(images, ncols=8, vmin=0, vmax=1, cell=0.5)
    assert [im.get_clim() for im in fig.axes[0].get_images()] == [(0, 1)] * 3
    assert not fig.axes[0].texts
    width, height = fig.get_size_inches()
    assert width == pytest.approx(1.5)  # three columns of 0.5 inches (ncols capped at n)
    assert height == pytest.approx(0.5)  # one row of square cells, no titles
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    buf.seek(0)
    assert imread(buf).shape[2] in (3, 4)


def test_grid_rejects_bad_input() -> None:
    with pytest.raises(ShapeError, match=r"shape \(n, h, w\).*got \(4, 4\)"):
        image_grid(np.zeros((4, 4)))
    with pytest.raises(ShapeError, match="n >= 1"):
        image_grid(np.zeros((0, 4, 4)))
    with pytest.raises(ConfigError, match="2 titles for 3 images"):
        image_grid(np.zeros((3, 4, 4)), ["a", "b"])


def test_first_layer_pictures(tmp_path) -> None:
    dense = Dense(784, 20, rng=0)
    fig = plot_first_layer(dense, max_units=12)
    images = fig.axes[0].get_images()
    assert len(fig.axes) == 1 and len(images) == 12
    # Unit j's picture is column j of W, reshaped to the 28 x 28 pixel grid.
    np.testing.assert_array_equal(images[5].get_array(),
                                  dense.params["W"][:, 5].reshape(28, 28).astype(np.float64))
    conv = Conv2D(1, 8, 3, rng=0)
    sample = np.zeros((28, 28))
    sample[4:24, 12:16] = 1.0
    fig = plot_first_layer(conv, sample_image=sample)
    # Filters, the input, and one response map per filter.
    counts = sorted(len(ax.get_images()) for ax in fig.axes)
    assert counts == [1, 8, 8]
    path = savefig_atomic(fig, tmp_path / "conv.png")
    assert imread(path).shape[0] > 100
