"""Every insight picture renders a valid PNG from recorded data (and draws what it says)."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.image import imread

import scratchnet as sn
from scratchnet.errors import ConfigError
from scratchnet.insight import Recorder, Recording, decision_grid, hidden_unit_grids
from scratchnet.insight.surfaces import optimizer_path
from scratchnet.layers import Dense, ReLU, Sigmoid, Tanh
from scratchnet.plots.base import savefig_atomic
from scratchnet.plots.boundary import (
    plot_decision_boundaries,
    plot_decision_boundary,
    plot_hidden_units,
)
from scratchnet.plots.distributions import (
    plot_activation_distributions,
    plot_weight_distributions,
)
from scratchnet.plots.optimizers import plot_optimizer_panels, plot_optimizer_paths
from scratchnet.plots.schedules import plot_lr_curves, plot_lr_find, plot_schedule
from scratchnet.plots.training import (
    plot_gradient_flow,
    plot_gradient_profile,
    plot_loss_curves,
    plot_saturation,
    plot_update_ratio,
    summary_table,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _png(fig, tmp_path, name="fig.png"):
    path = savefig_atomic(fig, tmp_path / name, dpi=50)
    data = path.read_bytes()
    assert data.startswith(PNG_MAGIC)
    image = imread(path)
    assert image.ndim == 3 and image.shape[0] > 20 and image.shape[1] > 20
    return image


@pytest.fixture(scope="module")
def trained():
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(48, 2)).astype(np.float32)
    y = (X[:, 0] * X[:, 1] > 0).astype(np.int64)
    runs = {}
    for act in (Sigmoid, Tanh, ReLU):
        model = sn.Sequential([Dense(2, 4), act(), Dense(4, 4), act(), Dense(4, 2)], seed=1)
        model.compile("cross_entropy", sn.SGD(lr=0.5))
        rec = Recorder(every_steps=2, bins=10)
        model.fit(X, y, epochs=4, batch_size=16, verbose=0, callbacks=[rec])
        runs[act.__name__.lower()] = (model, rec.recording())
    return X, y, runs


def test_loss_curves(tmp_path, trained):
    _, _, runs = trained
    fig = plot_loss_curves({k: r.epoch("loss") for k, (_, r) in runs.items()}, logy=True)
    ax = fig.axes[0]
    assert ax.get_yscale() == "log" and len(ax.get_lines()) == 3
    _png(fig, tmp_path)
    with pytest.raises(ConfigError, match="no curves"):
        plot_loss_curves({})


def test_gradient_flow_one_and_side_by_side(tmp_path, trained):
    _, _, runs = trained
    rec = runs["tanh"][1]
    fig = plot_gradient_flow(rec)
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    assert len(ax.get_lines()) == 3  # one per weight layer
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), rec.grad_mean_abs[:, 0])
    _png(fig, tmp_path, "one.png")
    fig = plot_gradient_flow({k: r for k, (_, r) in runs.items()}, stat="grad_norm")
    assert [a.get_title() for a in fig.axes] == ["sigmoid", "tanh", "relu"]
    _png(fig, tmp_path, "three.png")
    with pytest.raises(ConfigError, match="stat"):
        plot_gradient_flow(rec, stat="weights")


def test_gradient_profile_update_ratio_saturation(tmp_path, trained):
    _, _, runs = trained
    recs = {k: r for k, (_, r) in runs.items()}
    _png(plot_gradient_profile(recs), tmp_path, "profile.png")
    _png(plot_gradient_profile(recs, early_fraction=None, where="end"), tmp_path, "p2.png")
    fig = plot_update_ratio(recs["relu"])
    assert fig.axes[0].get_yscale() == "log"
    _png(fig, tmp_path, "ratio.png")
    fig = plot_saturation(recs)
    assert "saturated outputs" in fig.axes[0].get_title()
    assert "dead units" in fig.axes[2].get_title()
    assert fig.axes[0].get_ylim()[1] > 1.0
    _png(fig, tmp_path, "sat.png")


def test_distributions(tmp_path, trained):
    _, _, runs = trained
    rec = runs["relu"][1]
    fig = plot_weight_distributions(rec)
    visible = [a for a in fig.axes if a.get_visible()]
    assert len(visible) == 3
    _png(fig, tmp_path, "w.png")
    fig = plot_activation_distributions(rec, positions=("start", "end"))
    assert any("outputs = 0" in t.get_text() for a in fig.axes for t in a.texts)
    _png(fig, tmp_path, "a.png")
    _png(plot_activation_distributions(runs["tanh"][1]), tmp_path, "t.png")


def test_decision_boundary_and_hidden_units(tmp_path, trained):
    X, y, runs = trained
    model = runs["tanh"][0]
    grid = decision_grid(model, X, resolution=30)
    _png(plot_decision_boundary(grid, X, y), tmp_path, "b.png")
    grids = {k: decision_grid(m, X, resolution=20) for k, (m, _) in runs.items()}
    fig = plot_decision_boundaries(grids, X, y, title="three")
    assert len(fig.axes) == 3
    _png(fig, tmp_path, "bs.png")
    grid, maps = hidden_unit_grids(model, X, resolution=12)
    fig = plot_hidden_units(grid, maps, X, y, max_cols=3)
    images = [a for a in fig.axes if a.get_images()]
    assert len(images) == 8  # 4 + 4 hidden units
    _png(fig, tmp_path, "units.png")
    with pytest.raises(ConfigError, match="no class probabilities"):
        plot_decision_boundary(grid, X, y)


def test_schedules_and_lr_find(tmp_path):
    fig = plot_lr_curves({"step": sn.StepDecay(0.1, 10, 0.5).values(40),
                          "cosine": sn.CosineWarmup(0.1, 40, 4).values(40)})
    assert len(fig.axes[0].get_lines()) == 2
    _png(fig, tmp_path, "lr.png")
    _png(plot_schedule(sn.Exponential(0.1, 0.95), 50, logy=True), tmp_path, "exp.png")
    lrs = np.geomspace(1e-4, 1, 30)
    losses = 1.0 - 0.5 * np.tanh(np.log10(lrs) + 2) + np.where(lrs > 0.3, 5.0, 0.0)
    fig = plot_lr_find(lrs, losses, losses, 0.01, steepest_lr=0.01, min_loss_lr=0.1)
    assert fig.axes[0].get_xscale() == "log"
    _png(fig, tmp_path, "find.png")
    with pytest.raises(ConfigError, match="equal length"):
        plot_lr_find(lrs, losses[:3], losses, 0.01)


def test_optimizer_paths(tmp_path):
    paths = [optimizer_path(sn.SGD(lr=0.01), "quadratic", steps=30, label="SGD"),
             optimizer_path(sn.Adam(lr=0.3), "quadratic", steps=30, label="Adam")]
    fig = plot_optimizer_paths("quadratic", paths)
    labels = fig.axes[0].get_legend_handles_labels()[1]
    assert any(t.startswith("SGD") for t in labels) and "minimum" in labels
    _png(fig, tmp_path, "paths.png")
    ros = [optimizer_path(sn.Adam(lr=0.05), "rosenbrock", steps=40, label="Adam")]
    _png(plot_optimizer_panels({"quadratic": paths, "rosenbrock": ros}), tmp_path, "p.png")


def test_pictures_from_a_loaded_recording(tmp_path, trained):
    _, _, runs = trained
    runs["sigmoid"][1].save(tmp_path / "rec.npz")
    rec = Recording.load(tmp_path / "rec.npz")
    _png(plot_gradient_flow(rec), tmp_path, "g.png")
    _png(plot_weight_distributions(rec), tmp_path, "w.png")
    columns, rows = summary_table(rec)
    assert len(rows) == 3 and columns[0] == "layer"
