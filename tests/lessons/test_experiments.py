"""The insight experiments and the learning-rate range test, in their --quick form."""

from __future__ import annotations

import argparse
import json
import math

import numpy as np
import pytest

import scratchnet as sn
from scratchnet.commands import experiment as experiment_cmd
from scratchnet.commands import lr_find as lr_find_cmd
from scratchnet.errors import ConfigError, DataError
from scratchnet.insight import Recording
from scratchnet.lessons.experiments import (
    build_mlp,
    format_table,
    hidden_unit_spread,
    load_dataset,
    make_schedule,
    run_init,
)
from scratchnet.lessons.lr_find import ExponentialRamp, range_test, smooth, suggest


def _main(argv):
    """Run one of this area's commands through its own parser (as ``cli.main`` does)."""
    parser = argparse.ArgumentParser(prog="scratchnet")
    sub = parser.add_subparsers(dest="command")
    experiment_cmd.register(sub)
    lr_find_cmd.register(sub)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except sn.ScratchnetError as exc:
        print(f"scratchnet {args.command}: error: {exc}")
        return 2


EXPECTED_FIGURES = {
    "activations": {"loss.png", "gradient_flow.png", "gradient_by_depth.png", "saturation.png",
                    "boundaries.png"},
    "init": {"loss_by_init.png", "gradient_by_init.png", "boundaries.png", "units_zeros.png",
             "units_xavier.png"},
    "schedules": {"schedules.png", "lr_log.png"},
    "optimizers": {"loss.png", "paths.png"},
}
HEADERS = {"activations": "first/last", "init": "max unit difference",
           "schedules": "best epoch loss", "optimizers": "rosenbrock: final f"}


@pytest.mark.parametrize("name", sorted(EXPECTED_FIGURES))
def test_experiment_quick_writes_report_and_prints_table(name, tmp_path, capsys):
    out = tmp_path / name
    assert _main(["experiment", name, "--quick", "--quiet", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert HEADERS[name] in printed
    assert f"report: {out / 'report.html'}" in printed
    record = json.loads((out / "run.json").read_text())
    assert record["status"] == "finished"
    assert record["argv"][:3] == ["scratchnet", "experiment", name]
    figures = {s["file"] for s in record["sections"] if s["kind"] == "figure"}
    assert EXPECTED_FIGURES[name] <= figures
    for f in figures:
        assert (out / f).read_bytes().startswith(b"\x89PNG")
    html = (out / "report.html").read_text()
    assert "data:image/png;base64" in html
    tables = [s for s in record["sections"] if s["kind"] == "table"]
    assert tables and all(len(t["rows"]) > 0 for t in tables)
    recordings = sorted((out / "recordings").glob("*.npz"))
    assert recordings
    rec = Recording.load(recordings[0])
    assert rec.n_records > 0


def test_activations_quick_table_has_one_row_per_activation(tmp_path, capsys):
    _main(["experiment", "activations", "--quick", "--quiet", "--activations", "tanh,relu",
           "--depth", "3", "--out", str(tmp_path / "a")])
    lines = capsys.readouterr().out.splitlines()
    rows = [ln for ln in lines if ln.startswith(("tanh ", "relu "))]
    assert len(rows) == 2
    record = json.loads((tmp_path / "a" / "run.json").read_text())
    table = next(s for s in record["sections"] if s["kind"] == "table")
    for row in table["rows"]:
        first, last, ratio = row[1], row[2], row[3]
        assert ratio > 0 and math.isfinite(ratio)
        assert first > 0 and last > 0


def test_zeros_init_keeps_hidden_units_identical(tmp_path):
    result = run_init(quick=True, activations=("sigmoid", "tanh", "relu"),
                      inits=("zeros", "xavier"), epochs=5, out=tmp_path / "init")
    spread = {(r[0], r[1]): r[7] for r in result.rows}
    for act in ("sigmoid", "tanh", "relu"):
        assert spread[(act, "zeros")] == 0.0
        assert spread[(act, "xavier")] > 0.1
    zeros_model = result.runs["sigmoid zeros"].model
    W = zeros_model.layers[0].W
    assert np.all(W == W[:, :1])  # the first hidden layer: every column the same
    assert any("symmetry was never broken" in n for n in result.notes)


def test_lr_find_suggests_a_finite_rate_within_the_tested_range(tmp_path, capsys):
    out = tmp_path / "lr"
    assert _main(["lr-find", "--quick", "--quiet", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "suggested" in printed and "report:" in printed
    record = json.loads((out / "run.json").read_text())
    lr = record["metrics"]["suggested lr"]
    sweep = np.loadtxt(out / "lr_find.csv", delimiter=",", skiprows=1)
    assert math.isfinite(lr) and sweep[0, 0] * 0.1 <= lr <= sweep[-1, 0]
    assert (out / "lr_find.png").is_file()


def test_range_test_on_a_small_model():
    data = load_dataset("moons", n=128, seed=0)
    model = build_mlp((16,), "tanh", data.n_classes, seed=0)
    model.compile("cross_entropy", sn.SGD(lr=1e-4, momentum=0.9))
    test = range_test(model, data.X, data.y, model.optimizer, lr_min=1e-4, lr_max=100.0,
                      steps=60, batch_size=32)
    assert test.lrs[0] == pytest.approx(1e-4)
    assert np.all(np.diff(test.lrs) > 0)
    lo, hi = test.tested_range
    assert lo <= test.suggested_lr <= hi or test.suggested_lr == pytest.approx(
        test.min_loss_lr / 10)
    assert lo <= test.steepest_lr <= test.min_loss_lr <= hi
    assert math.isfinite(test.suggested_lr) and test.suggested_lr > 0
    assert test.stopped_early  # lr 100 makes the loss explode long before the end


def test_ramp_smooth_and_suggest():
    ramp = ExponentialRamp(1e-3, 1.0, 4)
    np.testing.assert_allclose(ramp.values(5), [1e-3, 1e-2, 1e-1, 1.0, 1.0])
    with pytest.raises(ConfigError, match="larger"):
        ExponentialRamp(1.0, 0.1, 10)
    # bias correction: a constant loss is smoothed to itself from the first step
    np.testing.assert_allclose(smooth(np.full(5, 2.0)), 2.0)
    lrs = np.geomspace(1e-4, 1.0, 41)
    curve = 1.0 - 0.8 / (1 + np.exp(-3 * (np.log10(lrs) + 2)))  # falls fastest at 1e-2
    curve[-5:] += np.linspace(0.5, 3, 5)  # then explodes
    suggested, steepest, min_lr, rule = suggest(lrs, curve)
    assert steepest == pytest.approx(1e-2, rel=0.3)
    assert suggested == steepest and rule.startswith("steepest")
    # a curve that only rises: no descent to speak of, fall back to min / 10
    rising = np.linspace(1.0, 3.0, 41)
    suggested, _, min_lr, rule = suggest(lrs, rising)
    assert min_lr == lrs[0] and suggested == pytest.approx(lrs[0] / 10)
    assert rule == "lowest smoothed loss / 10"


def test_datasets_and_csv(tmp_path, capsys):
    for name in ("spiral", "circles", "moons", "xor", "gaussians"):
        ds = load_dataset(name, n=60, seed=1)
        assert ds.X.shape == (60, 2) and ds.n_classes == (3 if name == "spiral" else 2)
    with pytest.raises(ConfigError, match="unknown dataset"):
        load_dataset("iris")
    csv = tmp_path / "points.csv"
    rng = np.random.default_rng(0)
    pts = rng.normal(size=(40, 2))
    rows = "\n".join(f"{a:.4f},{b:.4f},{int(a > 0)}" for a, b in pts)
    csv.write_text("x1,x2,label\n" + rows + "\n")
    assert _main(["experiment", "schedules", "--quick", "--quiet", "--csv", str(csv),
                  "--schedules", "constant,cosine", "--out", str(tmp_path / "s")]) == 0
    assert "points.csv" in (tmp_path / "s" / "report.html").read_text()
    argv = json.loads((tmp_path / "s" / "run.json").read_text())["argv"]
    assert "--csv" in argv and "--dataset" not in argv  # the shown command re-runs as is
    one_class = tmp_path / "one.csv"
    one_class.write_text("0,0,1\n1,1,1\n")
    with pytest.raises(DataError, match="same label"):
        load_dataset(csv=one_class)
    capsys.readouterr()
    assert _main(["experiment", "activations", "--quick", "--quiet", "--epochs", "0",
                  "--out", str(tmp_path / "bad")]) == 2
    assert "epochs must be a positive integer" in capsys.readouterr().out


def test_bad_lists_are_refused_by_the_parser(capsys):
    with pytest.raises(SystemExit) as exc:
        _main(["experiment", "activations", "--activations", "sigmoid,swish"])
    assert exc.value.code == 2
    assert "comma-separated list" in capsys.readouterr().err


def test_schedules_and_tables_helpers():
    assert make_schedule("step", 0.3, 90, 10)(30) == pytest.approx(0.09)
    assert make_schedule("cosine", 0.3, 100, 10)(100) == pytest.approx(0.0)
    with pytest.raises(ConfigError, match="unknown schedule"):
        make_schedule("linear", 0.1, 10, 1)
    text = format_table(["name", "value"], [["a", 0.5], ["bb", None]], {"value": ".1%"})
    assert text.splitlines()[2].endswith("50.0%")
    assert text.splitlines()[3].endswith("-")
    model = build_mlp((3, 3), "tanh", 2, init="zeros", seed=0)
    assert hidden_unit_spread(model) == 0.0


def test_commands_are_registered_in_the_cli():
    from scratchnet import cli

    assert {"experiment", "lr_find"} <= set(cli.COMMAND_MODULES)
    args = cli.build_parser().parse_args(["experiment", "init", "--quick", "--inits", "zeros,he"])
    assert args.experiment == "init" and args.quick and args.inits == ["zeros", "he"]
    args = cli.build_parser().parse_args(["lr-find", "--steps", "50", "--optimizer", "adam"])
    assert args.steps == 50 and args.optimizer == "adam"
