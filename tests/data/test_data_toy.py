"""Toy 2-D data sets and logic gates: shapes, dtypes, determinism, balance, geometry."""

from __future__ import annotations

import numpy as np
import pytest

from scratchnet.data import (
    GATES,
    logic_gate,
    make_circles,
    make_gaussians,
    make_moons,
    make_regression_line,
    make_spiral,
    make_xor,
    xor_gate,
)
from scratchnet.errors import ConfigError

MAKERS = [make_xor, make_circles, make_gaussians, make_spiral, make_moons]


def test_xor_gate():
    X, y = xor_gate()
    assert X.dtype == np.float32 and X.shape == (4, 2)
    assert y.dtype == np.float32 and y.shape == (4, 1)
    np.testing.assert_array_equal(X, [[0, 0], [0, 1], [1, 0], [1, 1]])
    np.testing.assert_array_equal(y[:, 0], [0, 1, 1, 0])


@pytest.mark.parametrize("name", sorted(GATES))
def test_logic_gates_match_python_logic(name):
    ops = {
        "and": lambda a, b: a and b,
        "or": lambda a, b: a or b,
        "nand": lambda a, b: not (a and b),
        "nor": lambda a, b: not (a or b),
        "xor": lambda a, b: a != b,
        "xnor": lambda a, b: a == b,
    }
    X, y = logic_gate(name.upper())
    assert X.shape == (4, 2) and y.shape == (4, 1) and y.dtype == np.float32
    for (a, b), target in zip(X.astype(bool), y[:, 0], strict=True):
        assert target == float(ops[name](bool(a), bool(b)))


def test_logic_gate_returns_fresh_arrays():
    X, _ = logic_gate("and")
    X[0, 0] = 9
    assert logic_gate("and")[0][0, 0] == 0


def test_unknown_gate():
    with pytest.raises(ConfigError, match=r"unknown logic gate 'implies'; choose one of and, or"):
        logic_gate("implies")


@pytest.mark.parametrize("maker", MAKERS)
@pytest.mark.parametrize("n", [1, 7, 200])
def test_shapes_and_dtypes(maker, n):
    X, y = maker(n=n, seed=3)
    assert X.shape == (n, 2) and X.dtype == np.float32
    assert y.shape == (n,) and y.dtype == np.int64
    assert np.isfinite(X).all()


@pytest.mark.parametrize("maker", MAKERS)
def test_deterministic_by_seed(maker):
    X1, y1 = maker(n=50, seed=11)
    X2, y2 = maker(n=50, seed=11)
    X3, _ = maker(n=50, seed=12)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    assert not np.array_equal(X1, X3)
    # A Generator is accepted as the seed too.
    X4, _ = maker(n=50, seed=np.random.default_rng(11))
    assert X4.shape == (50, 2)


@pytest.mark.parametrize("maker", [make_xor, make_circles, make_gaussians, make_moons])
@pytest.mark.parametrize("n", [100, 101])
def test_binary_class_balance(maker, n):
    _, y = maker(n=n, seed=0)
    counts = np.bincount(y, minlength=2)
    assert counts.tolist() == [n - n // 2, n // 2]


def test_rows_are_shuffled():
    _, y = make_gaussians(n=200, seed=0)
    assert 0 < y[:20].sum() < 20


@pytest.mark.parametrize("arms", [2, 3, 5])
def test_spiral_classes(arms):
    X, y = make_spiral(n=301, arms=arms, noise=0.0, seed=0)
    counts = np.bincount(y)
    assert len(counts) == arms and counts.max() - counts.min() <= 1
    assert np.all(np.hypot(X[:, 0], X[:, 1]) <= 1.0 + 1e-6)


def test_spiral_geometry_without_noise():
    X, y = make_spiral(n=200, arms=2, noise=0.0, seed=0, turns=0.5)
    # The outermost point of each arm: radius 1, angle 2 pi (k / 2 + 0.5).
    for k, expected in [(0, (-1.0, 0.0)), (1, (1.0, 0.0))]:
        arm = X[y == k]
        outer = arm[np.argmax(np.hypot(arm[:, 0], arm[:, 1]))]
        np.testing.assert_allclose(outer, expected, atol=1e-6)


def test_circles_radii_without_noise():
    X, y = make_circles(n=100, noise=0.0, factor=0.3, seed=0)
    r = np.hypot(X[:, 0], X[:, 1])
    np.testing.assert_allclose(r[y == 0], 1.0, rtol=1e-6)
    np.testing.assert_allclose(r[y == 1], 0.3, rtol=1e-6)


def test_gaussians_centres():
    X, y = make_gaussians(n=20_000, noise=0.5, distance=4.0, seed=0)
    c0, c1 = X[y == 0].mean(axis=0), X[y == 1].mean(axis=0)
    assert np.linalg.norm(c1 - c0) == pytest.approx(4.0, abs=0.05)
    assert X[y == 0].std(axis=0) == pytest.approx([0.5, 0.5], abs=0.02)


def test_xor_blobs_sit_on_the_truth_table():
    X, y = make_xor(n=400, noise=0.0, seed=0)
    corners = {tuple(p) for p in X.tolist()}
    assert corners == {(0.0, 0.0), (0.0, 1.0), (1.0, 0.0), (1.0, 1.0)}
    np.testing.assert_array_equal(y, (X[:, 0] != X[:, 1]).astype(np.int64))


def test_moons_without_noise():
    X, y = make_moons(n=100, noise=0.0, seed=0)
    top = X[y == 0]
    np.testing.assert_allclose(np.hypot(top[:, 0], top[:, 1]), 1.0, rtol=1e-6)
    bottom = X[y == 1]
    np.testing.assert_allclose(np.hypot(bottom[:, 0] - 1, bottom[:, 1] - 0.5), 1.0, rtol=1e-6)
    assert (bottom[:, 1] <= 0.5 + 1e-6).all()


def test_regression_line():
    x, y = make_regression_line(n=50, w=-3.0, b=1.5, noise=0.0, seed=0)
    assert x.shape == (50, 1) and y.shape == (50, 1)
    assert x.dtype == np.float32 and y.dtype == np.float32
    assert (np.abs(x) <= 1).all()
    np.testing.assert_allclose(y, -3.0 * x + 1.5, rtol=1e-6, atol=1e-6)
    x, y = make_regression_line(n=5000, w=2.0, b=0.5, noise=0.1, seed=1)
    w_fit, b_fit = np.polyfit(x[:, 0], y[:, 0], 1)
    assert w_fit == pytest.approx(2.0, abs=0.02) and b_fit == pytest.approx(0.5, abs=0.01)


@pytest.mark.parametrize(
    "call, pattern",
    [
        (lambda: make_xor(n=0), r"n \(number of points\) must be >= 1, got 0"),
        (lambda: make_circles(n=-5), r"must be >= 1, got -5"),
        (lambda: make_moons(n=2.5), r"must be an integer, got 2.5"),
        (lambda: make_gaussians(n=True), r"must be an integer, got True"),
        (lambda: make_xor(noise=-0.1), r"noise must be a finite number >= 0, got -0.1"),
        (lambda: make_moons(noise=float("nan")), r"noise must be a finite number >= 0, got nan"),
        (lambda: make_circles(noise="lots"), r"noise must be a number >= 0, got 'lots'"),
        (lambda: make_spiral(arms=1), r"spiral arms must be >= 2 \(one class per arm\), got 1"),
        (lambda: make_spiral(arms=2.0), r"arms must be an integer >= 2"),
        (lambda: make_spiral(turns=0), r"turns must be > 0"),
        (lambda: make_circles(factor=1.0), r"factor \(inner radius\) must be in \(0, 1\)"),
        (lambda: make_gaussians(distance=-1), r"distance must be >= 0"),
        (lambda: make_regression_line(w=float("inf")), r"w must be finite"),
        (lambda: make_regression_line(n=0), r"must be >= 1"),
        (lambda: make_xor(seed=-1), r"seed must be a non-negative integer"),
        (lambda: make_xor(seed="abc"), r"seed must be"),
    ],
)
def test_bad_arguments(call, pattern):
    with pytest.raises(ConfigError, match=pattern):
        call()
