"""Toy loss surfaces (hand-written gradients, optimiser paths) and plane grids."""

from __future__ import annotations

import numpy as np
import pytest

import scratchnet as sn
from scratchnet.errors import ConfigError, ShapeError
from scratchnet.insight import (
    SURFACES,
    decision_grid,
    get_surface,
    hidden_unit_grids,
    optimizer_path,
    plane_grid,
)
from scratchnet.layers import Dense, ReLU, Tanh


@pytest.mark.parametrize("name", sorted(SURFACES))
@pytest.mark.parametrize("point", [(-1.3, 0.7), (0.4, -0.2), (2.1, 1.1)])
def test_surface_gradients_match_central_differences(name, point):
    s = get_surface(name)
    x, y = point
    h = 1e-6
    num = ((s.f(x + h, y) - s.f(x - h, y)) / (2 * h), (s.f(x, y + h) - s.f(x, y - h)) / (2 * h))
    np.testing.assert_allclose(s.grad(x, y), num, rtol=1e-6, atol=1e-6)
    assert s.f(*s.minimum) == pytest.approx(0.0, abs=1e-12)


def test_sgd_path_on_the_quadratic_follows_the_closed_form():
    # f = (x^2 + 50 y^2)/2: SGD gives x_t = (1 - lr)^t x_0, y_t = (1 - 50 lr)^t y_0
    lr, steps = 0.01, 30
    path = optimizer_path(sn.SGD(lr=lr), "quadratic", steps=steps, start=(-4.0, 1.5))
    t = np.arange(steps + 1)
    np.testing.assert_allclose(path.points[:, 0], -4.0 * (1 - lr) ** t, rtol=1e-12)
    np.testing.assert_allclose(path.points[:, 1], 1.5 * (1 - 50 * lr) ** t, rtol=1e-12)
    assert path.values[-1] == pytest.approx(SURFACES["quadratic"].f(*path.points[-1]))
    assert not path.diverged


def test_divergent_path_is_flagged_and_stops():
    path = optimizer_path(sn.SGD(lr=0.1), "quadratic", steps=500)  # 1 - 50 * 0.1 = -4
    assert path.diverged
    assert len(path.points) < 501
    assert np.all(np.isfinite(path.points))


def test_adam_reaches_the_rosenbrock_valley_floor():
    path = optimizer_path(sn.Adam(lr=0.05), "rosenbrock", steps=1000)
    assert path.final_value < 0.01
    assert path.distance_to((1.0, 1.0)) < 0.1


def test_surface_and_path_arguments():
    with pytest.raises(ConfigError, match="unknown surface"):
        get_surface("himmelblau")
    with pytest.raises(ConfigError, match="steps"):
        optimizer_path(sn.SGD(lr=0.1), "quadratic", steps=0)
    with pytest.raises(ConfigError, match="Optimizer"):
        optimizer_path("sgd", "quadratic")


def _model():
    model = sn.Sequential([Dense(2, 3), Tanh(), Dense(3, 4), ReLU(), Dense(4, 3)], seed=0)
    return model.compile("cross_entropy", sn.SGD(lr=0.1))


def test_plane_grid_covers_the_points_with_a_margin():
    X = np.array([[0.0, -1.0], [2.0, 1.0]], dtype=np.float32)
    g = plane_grid(X, resolution=5, margin=0.1)
    assert g.xs[0] == pytest.approx(-0.2) and g.xs[-1] == pytest.approx(2.2)
    assert g.ys[0] == pytest.approx(-1.2) and g.ys[-1] == pytest.approx(1.2)
    assert g.points.shape == (25, 2) and g.points.dtype == np.float32
    np.testing.assert_allclose(g.points.reshape(5, 5, 2)[1, 3], [g.xs[3], g.ys[1]])
    with pytest.raises(ShapeError, match=r"\(n, 2\)"):
        plane_grid(np.zeros((3, 3)))
    with pytest.raises(ConfigError, match="resolution"):
        plane_grid(X, resolution=1)


def test_decision_grid_holds_the_model_probabilities():
    model = _model()
    X = np.random.default_rng(0).normal(size=(10, 2)).astype(np.float32)
    g = decision_grid(model, X, resolution=7)
    assert g.values["proba"].shape == (7, 7, 3)
    np.testing.assert_allclose(g.values["proba"].sum(axis=-1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(g.values["proba"].reshape(-1, 3), model.predict_proba(g.points),
                               rtol=1e-6)
    assert g.values["label"].shape == (7, 7)


def test_decision_grid_of_a_single_logit_output_has_two_classes():
    model = sn.Sequential([Dense(2, 1)], seed=0).compile("bce_logits", "sgd")
    g = decision_grid(model, np.zeros((3, 2)) + [[0, 0], [1, 1], [2, 0]], resolution=4)
    p = g.values["proba"]
    assert p.shape == (4, 4, 2)
    np.testing.assert_allclose(p[..., 0] + p[..., 1], 1.0)


def test_hidden_unit_grids_equal_a_manual_forward_pass():
    model = _model()
    X = np.random.default_rng(1).normal(size=(10, 2)).astype(np.float32)
    grid, maps = hidden_unit_grids(model, X, resolution=6)
    assert [m.layer_index for m in maps] == [1, 3]
    assert [m.kind for m in maps] == ["tanh", "relu"]
    h1 = np.tanh(grid.points @ model.layers[0].W + model.layers[0].b)
    h2 = np.maximum(h1 @ model.layers[2].W + model.layers[2].b, 0)
    np.testing.assert_allclose(maps[0].values, h1.T.reshape(3, 6, 6), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(maps[1].values, h2.T.reshape(4, 6, 6), rtol=1e-5, atol=1e-6)
    assert model.record_outputs is False and model.outputs == []
    with pytest.raises(ConfigError, match="max_units"):
        hidden_unit_grids(model, X, max_units=3)
    with pytest.raises(ConfigError, match="no hidden activation"):
        hidden_unit_grids(sn.Sequential([Dense(2, 2)]), X)
