"""The definitions behind the recorders, checked against plain NumPy and hand-made cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from scratchnet.errors import ConfigError, ShapeError
from scratchnet.insight import (
    column_spread,
    dead_unit_share,
    dead_units,
    histogram,
    saturation_share,
    saturation_threshold,
    segment_norms,
    segment_stats,
)
from scratchnet.insight.stats import SegmentLayout


@pytest.fixture
def arrays():
    rng = np.random.default_rng(3)
    return [rng.normal(size=(5, 7)).astype(np.float32), rng.normal(2.0, 3.0, size=(11,)),
            rng.uniform(-1, 1, size=(2, 3, 4)).astype(np.float32)]


def test_segment_stats_match_numpy(arrays):
    s = segment_stats(arrays, bins=12)
    for j, a in enumerate(arrays):
        a64 = a.astype(np.float64)
        assert s.mean[j] == pytest.approx(a64.mean(), rel=1e-12, abs=1e-12)
        assert s.std[j] == pytest.approx(a64.std(), rel=1e-9)
        assert s.norm[j] == pytest.approx(np.linalg.norm(a64), rel=1e-12)
        assert s.mean_abs[j] == pytest.approx(np.abs(a64).mean(), rel=1e-12)
        assert s.min[j] == a64.min() and s.max[j] == a64.max()
        counts, edges = np.histogram(a64, bins=12)
        np.testing.assert_allclose(s.edges[j], edges, rtol=1e-12, atol=1e-12)
        np.testing.assert_array_equal(s.counts[j], counts)
        np.testing.assert_allclose(s.range[j], [edges[0], edges[-1]])
    assert s.size.tolist() == [35, 11, 24]


def test_segment_norms_match_numpy(arrays):
    norm, mean_abs = segment_norms(arrays)
    for j, a in enumerate(arrays):
        assert norm[j] == pytest.approx(np.linalg.norm(a.astype(np.float64)), rel=1e-12)
        assert mean_abs[j] == pytest.approx(np.abs(a.astype(np.float64)).mean(), rel=1e-12)


def test_segment_stats_with_cached_layout_and_flat_input(arrays):
    layout = SegmentLayout([a.size for a in arrays], bins=5)
    flat = np.concatenate([a.ravel() for a in arrays]).astype(np.float64)
    before = flat.copy()
    s = segment_stats(arrays, flat=flat, layout=layout)
    np.testing.assert_array_equal(flat, before)  # the caller's vector is not modified
    assert s.counts.shape == (3, 5) and s.counts.sum() == flat.size


def test_histogram_of_constant_values_has_one_bar_of_width_one():
    counts, edges = histogram(np.full(6, 2.5), bins=4)
    assert counts.sum() == 6
    assert edges[0] == 2.0 and edges[-1] == 3.0
    assert counts.tolist() == [0, 0, 6, 0]


def test_segment_stats_rejects_empty_input():
    with pytest.raises(ShapeError, match="empty"):
        segment_stats([np.ones(3), np.ones(0)])
    with pytest.raises(ShapeError, match="at least one"):
        segment_stats([])
    with pytest.raises(ConfigError, match="bins"):
        segment_stats([np.ones(3)], bins=0)


def test_saturation_share_sigmoid_and_tanh_hand_cases():
    # tol 0.1: saturated when 1 - u^2 < 0.1, i.e. |u| > sqrt(0.9) = 0.9487
    assert saturation_threshold(0.1) == pytest.approx(math.sqrt(0.9))
    s = np.array([[0.5, 0.01, 0.99, 0.9], [0.03, 0.97, 0.2, 0.8]])  # u = 2s - 1
    # |u|: 0, .98, .98, .8 / .94, .94, .6, .6 -> two of eight saturated
    assert saturation_share(s, "sigmoid") == pytest.approx(2 / 8)
    t = np.array([0.0, 0.95, -0.96, 0.5, -1.0])
    assert saturation_share(t, "tanh") == pytest.approx(3 / 5)
    # a looser tolerance counts more outputs as saturated
    assert saturation_share(t, "tanh", tol=0.9) == pytest.approx(4 / 5)
    with pytest.raises(ConfigError, match="sigmoid"):
        saturation_share(t, "relu")
    with pytest.raises(ConfigError, match=r"\(0, 1\)"):
        saturation_share(t, "tanh", tol=1.5)


def test_dead_units_constructed_case():
    a = np.array([[0.0, 1.0, 0.0, 0.0],
                  [0.0, 0.0, 2.0, 0.0],
                  [0.0, 3.0, 0.0, 0.0]])
    np.testing.assert_array_equal(dead_units(a), [True, False, False, True])
    assert dead_unit_share(a) == 0.5
    # channels of a convolution: a channel is dead if zero at every sample and position
    c = np.zeros((2, 3, 2, 2))
    c[1, 0, 1, 1] = 0.5
    assert dead_unit_share(c) == pytest.approx(2 / 3)
    with pytest.raises(ShapeError, match="batch"):
        dead_units(np.zeros(4))


def test_column_spread():
    W = np.tile(np.array([[1.0], [2.0]]), (1, 3))
    assert column_spread(W) == 0.0
    W[1, 2] = 2.5
    assert column_spread(W) == 0.5
    with pytest.raises(ShapeError, match="units"):
        column_spread(np.zeros(3))


def test_histograms_can_skip_the_first_arrays(arrays):
    full = segment_stats(arrays, bins=6)
    part = segment_stats(arrays, bins=6, hist_from=1)
    assert part.counts[0].sum() == 0
    np.testing.assert_array_equal(part.counts[1:], full.counts[1:])
    np.testing.assert_allclose(part.mean, full.mean)
