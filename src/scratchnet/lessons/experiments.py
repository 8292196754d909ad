"""Experiments that look inside training: one comparison each, written to a run folder.

* :func:`run_activations`: the same deep narrow network with sigmoid, tanh and ReLU;
  the vanishing gradient measured layer by layer.
* :func:`run_init`: zeros, small normal, large normal, Xavier and He initialisation,
  per activation; the symmetry that zeros never break, measured.
* :func:`run_schedules`: constant, step, exponential, cosine with warm-up and
  reduce-on-plateau learning rates on the same task and seed.
* :func:`run_optimizers`: SGD, momentum, RMSprop, Adam and AdamW on a network and on
  two-parameter toy surfaces (their paths drawn over the contours).

Each function trains, records with :class:`~scratchnet.insight.Recorder`, draws with
``scratchnet.plots``, writes a run folder with ``report.html``
(:class:`~scratchnet.report.RunFolder`) and returns an :class:`ExperimentResult` whose
table of headline numbers the ``scratchnet experiment`` command prints. ``quick=True``
shrinks every size for smoke tests. Progress lines go to ``progress`` (a callable
taking a str; None for silence).
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError, DataError, DivergenceError
from ..init import Normal, get_initializer
from ..insight import Recorder, Recording, column_spread, decision_grid, hidden_unit_grids
from ..insight.surfaces import SURFACES, OptimizerPath, optimizer_path
from ..layers import Dense, get_activation
from ..model import Sequential
from ..optim import SGD, Adam, AdamW, Optimizer, RMSprop
from ..schedules import Constant, CosineWarmup, Exponential, ReduceOnPlateau, StepDecay

# -- data ------------------------------------------------------------------------------------

#: Names accepted by ``--dataset``.
DATASETS = ("spiral", "circles", "moons", "xor", "gaussians")


@dataclass
class Dataset2D:
    """A two-input classification set: ``X (n, 2)`` float32, ``y (n,)`` int64 labels."""

    name: str
    X: np.ndarray
    y: np.ndarray

    @property
    def n_classes(self) -> int:
        return int(self.y.max()) + 1


def load_dataset(name: str = "spiral", csv: str | Path | None = None, n: int = 300,
                 seed: int = 0) -> Dataset2D:
    """``name`` from :data:`DATASETS` (``n`` points, generated from ``seed``), or the
    points of a CSV file ``x1,x2,label`` when ``csv`` is given (then ``name`` and
    ``n`` are ignored). Spirals have 3 arms (3 classes); the others 2 classes."""
    from .. import data

    if csv is not None:
        X, y = data.load_csv_2d(csv)
        ds = Dataset2D(Path(csv).name, X, y)
    else:
        makers = {
            "spiral": lambda: data.make_spiral(n, arms=3, seed=seed),
            "circles": lambda: data.make_circles(n, seed=seed),
            "moons": lambda: data.make_moons(n, seed=seed),
            "xor": lambda: data.make_xor(n, seed=seed),
            "gaussians": lambda: data.make_gaussians(n, seed=seed),
        }
        if name not in makers:
            raise ConfigError(f"unknown dataset {name!r}; expected one of {', '.join(DATASETS)} "
                              "(or give a CSV file of x1,x2,label rows)")
        X, y = makers[name]()
        ds = Dataset2D(name, X, y)
    if np.unique(ds.y).size < 2:
        raise DataError(f"dataset {ds.name}: all {len(ds.y)} points have the same label "
                        f"{int(ds.y[0])}; a classifier needs at least two classes")
    return ds


# -- models ----------------------------------------------------------------------------------


def build_mlp(hidden: Sequence[int], activation: str, n_classes: int, *,
              init: Any = "xavier_uniform", seed: int = 0, n_in: int = 2) -> Sequential:
    """``Dense(n_in, h1), act, Dense(h1, h2), act, ..., Dense(h_last, n_classes)``: logits
    for softmax cross-entropy. Every Dense layer uses ``init`` for W and zeros for b;
    ``seed`` draws all of them (the same seed gives the same weights)."""
    init = get_initializer(init)
    layers: list = []
    width = n_in
    for h in hidden:
        layers += [Dense(width, h, init=init), get_activation(activation)]
        width = h
    layers.append(Dense(width, n_classes, init=init))
    return Sequential(layers, seed=seed)


# -- one training run ----------------------------------------------------------------------


@dataclass
class TrainedRun:
    """A model trained with a recorder: its recording, the final loss and accuracy on
    the training set (NaN when it diverged), wall time."""

    label: str
    model: Sequential
    recording: Recording
    final_loss: float
    final_accuracy: float
    diverged: str | None
    seconds: float

    @property
    def epoch_loss(self) -> np.ndarray:
        return self.recording.epoch("loss") if "loss" in self.recording.meta["epoch_keys"] \
            else np.array([])


#: Fewest optimiser steps between two records. For the small networks of these
#: experiments a record costs about one training step; recording at most every 40
#: steps keeps the recorder's overhead near 3% (see docs/insight.md).
MIN_RECORD_SPACING = 40


def train_recorded(label: str, model: Sequential, data: Dataset2D, *, optimizer: Optimizer,
                   epochs: int, batch_size: int | None, records: int = 100) -> TrainedRun:
    """Compile with softmax cross-entropy and ``optimizer``, fit with a Recorder taking
    about ``records`` records (at least :data:`MIN_RECORD_SPACING` steps apart; step 0
    is always recorded), and evaluate. A run whose loss becomes non-finite is kept
    (``diverged`` says when); its recording holds what happened until then."""
    model.compile("cross_entropy", optimizer)
    n = len(data.X)
    steps_per_epoch = 1 if batch_size is None else math.ceil(n / min(batch_size, n))
    total = epochs * steps_per_epoch
    rec = Recorder(every_steps=max(MIN_RECORD_SPACING, total // records))
    t0 = time.perf_counter()
    diverged = None
    try:
        model.fit(data.X, data.y, epochs=epochs, batch_size=batch_size, verbose=0,
                  callbacks=[rec])
    except DivergenceError as exc:
        rec.on_train_end()  # fit stops before its own on_train_end
        diverged = str(exc).split(":")[0]
    seconds = time.perf_counter() - t0
    if diverged is None:
        ev = model.evaluate(data.X, data.y)
        loss, acc = float(ev["loss"]), float(ev["accuracy"])
    else:
        loss, acc = math.nan, math.nan
    return TrainedRun(label, model, rec.recording(), loss, acc, diverged, seconds)


# -- results and tables -----------------------------------------------------------------------


@dataclass
class ExperimentResult:
    """What an experiment found: a headline table, a few sentences, the run folder."""

    name: str
    title: str
    columns: list[str]
    rows: list[list]
    formats: dict[str, str]
    notes: list[str]
    run_dir: Path
    report: Path
    runs: dict[str, Any] = field(default_factory=dict)

    def table_text(self) -> str:
        return format_table(self.columns, self.rows, self.formats)


def _cell(value, fmt: str | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if fmt:
            return format(value, fmt)
        return f"{value:.4g}"
    return str(value)


def format_table(columns: Sequence[str], rows: Sequence[Sequence], formats: dict | None = None
                 ) -> str:
    """A plain-text table: columns padded to their widest cell, numbers right-aligned."""
    formats = formats or {}
    cells = [[_cell(v, formats.get(c)) for c, v in zip(columns, row, strict=True)] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    numeric = [all(isinstance(row[i], int | float) or row[i] is None for row in rows)
               for i in range(len(columns))]

    def line(values):
        return "  ".join(v.rjust(w) if num else v.ljust(w)
                         for v, w, num in zip(values, widths, numeric, strict=True)).rstrip()

    out = [line(columns), line(["-" * w for w in widths])]
    out += [line(r) for r in cells]
    return "\n".join(out)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.+-]+", "-", text).strip("-").lower() or "run"


def _open_run(command: str, out, config: dict, title: str, argv: Sequence[str] | None = None):
    from ..report import RunFolder, default_run_dir

    path = Path(out) if out is not None else default_run_dir(command)
    if argv is None:
        argv = ["scratchnet", *command.split("-", 1)] if command.startswith("experiment-") \
            else ["scratchnet", command]
    return RunFolder(path, command, config, title=title, argv=list(argv))


def _save_recording(run, run_result: TrainedRun, description: str) -> None:
    name = f"recordings/{_slug(run_result.label)}.npz"
    (run.path / "recordings").mkdir(exist_ok=True)
    npz, sidecar = run_result.recording.save(run.path / name)
    run.add_file(name, description + " Arrays (load with scratchnet.insight.Recording.load, "
                 "or numpy.load(..., allow_pickle=False)).")
    run.add_file(sidecar.relative_to(run.path).as_posix(),
                 "What the arrays of " + npz.name + " mean: layers, settings, shapes.")


def _note(progress: Callable[[str], None] | None, text: str) -> None:
    if progress is not None:
        progress(text)


def _check_positive(value, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ConfigError(f"{what} must be a positive integer, got {value!r}")
    return int(value)


def _epochs(epochs, default: int, quick_default: int, quick: bool) -> int:
    """The number of epochs: as given (checked), else the full or the quick default."""
    if epochs is None:
        return quick_default if quick else default
    return _check_positive(epochs, "epochs")


def _check_lr(value, what: str = "learning rate") -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) \
            or not math.isfinite(value) or value <= 0:
        raise ConfigError(f"{what} must be a finite number > 0, got {value!r}")
    return float(value)


def _mean_hidden(values: np.ndarray) -> float:
    """Mean over the layers that have a value (NaN entries are layers of another kind)."""
    values = np.asarray(values, dtype=np.float64)
    good = values[np.isfinite(values)]
    return float(good.mean()) if good.size else math.nan


def _early_grads(rec: Recording, early_fraction: float = 0.1) -> tuple[float, float, float]:
    """(first-layer mean |dW|, last-layer mean |dW|, their ratio), geometric means over the
    records in the first ``early_fraction`` of training (see Recording.first_last_ratio)."""
    g = rec.grad_mean_abs
    steps = rec.record_step
    cutoff = steps[0] + early_fraction * max(1, int(steps[-1] - steps[0]))
    sel = g[steps <= cutoff]

    def gmean(v):
        v = v[v > 0]
        return float(np.exp(np.mean(np.log(v)))) if v.size else 0.0

    return gmean(sel[:, 0]), gmean(sel[:, -1]), rec.first_last_ratio(early_fraction)


# -- experiment: activations --------------------------------------------------------------------

ACTIVATION_NAMES = ("sigmoid", "tanh", "relu")


def run_activations(*, dataset: str = "spiral", csv=None, n_points: int = 300,
                    epochs: int | None = None, seed: int = 0, depth: int = 8, width: int = 16,
                    lr: float = 0.05, batch_size: int = 32,
                    activations: Sequence[str] = ACTIVATION_NAMES,
                    init: str = "xavier_uniform", quick: bool = False, out=None,
                    progress: Callable[[str], None] | None = None,
                    argv: Sequence[str] | None = None) -> ExperimentResult:
    """The same deep narrow network (``depth`` hidden layers of ``width`` units) with each
    activation, trained by plain SGD from the same seed and the same initialiser.

    Headline number: mean |dW| of the first weight layer divided by that of the last
    (the output layer), early in training (first 10% of steps). Sigmoid's derivative
    is at most 1/4, so each layer the gradient passes back through can shrink it by
    4x or more: with 8 hidden layers, the first layer's gradient is orders of
    magnitude below the last one's and it barely learns. Tanh (derivative up to 1)
    and ReLU (exactly 1 where active) pass it back nearly undiminished.
    """
    epochs = _epochs(epochs, 300, 8, quick)
    depth, width = _check_positive(depth, "depth"), _check_positive(width, "width")
    if quick:
        n_points, depth, width = min(n_points, 120), min(depth, 4), min(width, 8)
    lr = _check_lr(lr)
    if not activations:
        raise ConfigError("give at least one activation")
    for a in activations:
        get_activation(a)  # validates the name
    data = load_dataset(dataset, csv, n_points, seed)
    config = dict(dataset=data.name, n_points=len(data.X), epochs=epochs, seed=seed, depth=depth,
                  width=width, lr=lr, optimizer="SGD", batch_size=batch_size,
                  activations=list(activations), init=init, quick=quick)
    title = "Experiment: activations and the vanishing gradient"
    run = _open_run("experiment-activations", out, config, title, argv)
    with run:
        run.add_text("What this run compares", (
            f"One network, {depth} hidden layers of {width} units "
            f"(2 -> {' -> '.join([str(width)] * depth)} -> {data.n_classes}), trained on "
            f"'{data.name}' ({len(data.X)} points) with plain SGD (lr {lr:g}, batch {batch_size}) "
            f"for {epochs} epochs, from the same seed and the same initialiser ({init}), once "
            f"per activation: {', '.join(activations)}.\n\n"
            "Backpropagation multiplies the gradient, layer after layer, by the activation's "
            "derivative. Sigmoid's is at most 1/4 (at z = 0), tanh's at most 1, ReLU's exactly "
            "1 where the unit is active. Over many layers a factor below 1 compounds: the "
            "layers near the input receive a vanishing gradient and barely learn."))
        runs: dict[str, TrainedRun] = {}
        for act in activations:
            _note(progress, f"training with {act} ...")
            model = build_mlp([width] * depth, act, data.n_classes, init=init, seed=seed)
            runs[act] = train_recorded(act, model, data, optimizer=SGD(lr=lr), epochs=epochs,
                                       batch_size=batch_size)
            _save_recording(run, runs[act], f"Recorded statistics of the {act} network.")
        columns = ["activation", "first-layer mean|dW|", "last-layer mean|dW|", "first/last",
                   "final loss", "accuracy", "saturated (end)", "dead ReLU (end)"]
        rows = []
        for act, r in runs.items():
            first, last, ratio = _early_grads(r.recording)
            end = r.recording.n_records - 1
            rows.append([act, first, last, ratio, r.final_loss, r.final_accuracy,
                         _mean_hidden(r.recording.act_saturation[end]) if end >= 0 else None,
                         _mean_hidden(r.recording.act_dead[end]) if end >= 0 else None])
        formats = {"first-layer mean|dW|": ".2e", "last-layer mean|dW|": ".2e",
                   "first/last": ".2e", "final loss": ".4f", "accuracy": ".1%",
                   "saturated (end)": ".1%", "dead ReLU (end)": ".1%"}
        rows = [[None if isinstance(v, float) and math.isnan(v) else v for v in row]
                for row in rows]
        run.add_table("Gradient ratio first/last layer, early in training", columns, rows,
                      formats=formats, caption=(
                          "mean |dW| of the first and of the last weight layer, geometric mean "
                          "over the records of the first 10% of training steps; saturated: "
                          "share of sigmoid/tanh outputs whose derivative is below 10% of its "
                          "peak; dead: share of ReLU units zero on every sample of the batch "
                          "(means over the hidden layers, at the last record)."))
        run.add_metrics({f"first/last gradient ratio ({a})": row[3]
                         for a, row in zip(runs, rows, strict=True)},
                        formats={f"first/last gradient ratio ({a})": ".2e" for a in runs})
        notes = _activation_notes(runs, rows)
        run.add_text("What it shows", "\n".join(notes))
        _draw_activation_figures(run, runs, data, 50 if quick else 120, quick)
    return ExperimentResult("activations", title, columns, rows, formats, notes, run.path,
                            run.report_html, dict(runs))


def _activation_notes(runs, rows) -> list[str]:
    notes = []
    ratios = {row[0]: row[3] for row in rows if row[3] is not None}
    for act, ratio in ratios.items():
        factor = ratio ** (1.0 / max(1, len(runs[act].recording.weight_labels) - 1)) \
            if ratio and ratio > 0 else math.nan
        notes.append(f"{act}: first-layer gradient = {ratio:.2e} x last-layer gradient "
                     f"(about x{factor:.2f} per layer on the way back).")
    if ratios.get("sigmoid", 0) > 0 and len(ratios) > 1:
        others = [f"{ratios[a] / ratios['sigmoid']:.2g}x smaller than {a}'s"
                  for a in ratios if a != "sigmoid"]
        notes.append("sigmoid's first/last ratio is " + " and ".join(others) + ": the layers "
                     "near the input of the sigmoid network receive almost no gradient (the "
                     "vanishing gradient).")
    for act, r in runs.items():
        if r.diverged:
            notes.append(f"{act}: {r.diverged}.")
    return notes


def _draw_activation_figures(run, runs: dict[str, TrainedRun], data: Dataset2D,
                             resolution: int, quick: bool) -> None:
    from ..plots.boundary import plot_decision_boundaries
    from ..plots.distributions import plot_activation_distributions, plot_weight_distributions
    from ..plots.training import (
        plot_gradient_flow,
        plot_gradient_profile,
        plot_loss_curves,
        plot_saturation,
    )

    recs = {a: r.recording for a, r in runs.items()}
    fig = plot_loss_curves({a: r.epoch_loss for a, r in runs.items()},
                           title="Training loss per epoch", logy=True, reference=_chance(data))
    run.save_figure(fig, "loss.png", "Mean training loss per epoch (log scale). A network "
                    "whose loss stays on the dotted line (ln of the number of classes, the "
                    "loss of a uniform guess) has learnt nothing.",
                    title="Loss curves")
    fig = plot_gradient_flow(recs, title="Gradient flow: mean |dW| per layer (log scale)")
    run.save_figure(fig, "gradient_flow.png", "Each line is one weight layer, dark = next to "
                    "the input, light = output layer. Same y axis in every panel: the spread "
                    "between the lines is how much the gradient shrinks on its way back.",
                    title="Gradient flow")
    fig = plot_gradient_profile(recs)
    run.save_figure(fig, "gradient_by_depth.png", "Mean |dW| against depth early in training "
                    "(geometric mean over the first 10% of steps). A falling line towards "
                    "layer 1 is a vanishing gradient.", title="Gradient by depth")
    fig = plot_saturation(recs, title="Saturated outputs (sigmoid, tanh) and dead units (ReLU)")
    run.save_figure(fig, "saturation.png", "Share of outputs in the flat parts of sigmoid/tanh "
                    "(derivative < 10% of peak), and share of ReLU units that output zero for "
                    "the whole batch, per hidden layer, over training.",
                    title="Saturation and dead units")
    for k, (act, r) in enumerate(runs.items()):
        if not r.recording.n_records:
            continue
        fig = plot_activation_distributions(r.recording,
                                            title=f"{act}: activation distributions")
        run.save_figure(fig, f"activations_{_slug(act)}.png", f"Outputs of each {act} "
                        "layer on one batch at the start, middle and end of training.",
                        title=f"Activation distributions ({act})")
        if k == 0 or not quick:
            fig = plot_weight_distributions(r.recording, title=f"{act}: weight distributions")
            run.save_figure(fig, f"weights_{_slug(act)}.png", f"Each weight matrix of the {act} "
                            "network at the start, middle and end of training. Layers that "
                            "get no gradient keep their initial distribution.",
                            title=f"Weight distributions ({act})")
    grids = {a: decision_grid(r.model, data.X, resolution=resolution) for a, r in runs.items()
             if r.diverged is None}
    if grids:
        fig = plot_decision_boundaries(grids, data.X, data.y, title="Decision boundaries")
        run.save_figure(fig, "boundaries.png", "Predicted class over the input plane (paler = "
                        "less sure) with the training points.", title="Decision boundaries")


# -- experiment: initialisation -----------------------------------------------------------------

#: Initialisers compared by ``run_init``: label -> initialiser spec.
INITS: dict[str, Any] = {
    "zeros": "zeros",
    "small normal": Normal(std=0.01),
    "large normal": Normal(std=1.0),
    "xavier": "xavier_normal",
    "he": "he_normal",
}


def hidden_unit_spread(model: Sequential) -> float:
    """Largest :func:`~scratchnet.insight.column_spread` over the hidden Dense layers
    (every weight layer but the output one): 0 when, in every hidden layer, all units
    have identical incoming weights."""
    ws = [layer.params["W"] for layer in model.layers if "W" in layer.params][:-1]
    if not ws:
        raise ConfigError("hidden_unit_spread: the model has no hidden weight layer")
    return max(column_spread(W) for W in ws)


def run_init(*, dataset: str = "spiral", csv=None, n_points: int = 300,
             epochs: int | None = None, seed: int = 0, depth: int = 5, width: int = 16,
             lr: float = 0.1, batch_size: int = 32,
             activations: Sequence[str] = ACTIVATION_NAMES,
             inits: Sequence[str] = tuple(INITS), quick: bool = False, out=None,
             progress: Callable[[str], None] | None = None,
             argv: Sequence[str] | None = None) -> ExperimentResult:
    """Each initialiser of :data:`INITS` with each activation, same network, data, seed.

    * zeros: every hidden unit starts identical, receives the identical gradient and
      so stays identical forever (measured: the largest difference between two units'
      weight columns after training);
    * small normal (std 0.01): signals and gradients shrink layer after layer;
    * large normal (std 1): sigmoid/tanh units start saturated, ReLU signals explode;
    * Xavier (Var W = 2 / (fan_in + fan_out)) and He (Var W = 2 / fan_in): scaled to
      keep signals at a steady size, for tanh/sigmoid and for ReLU respectively.
    """
    epochs = _epochs(epochs, 150, 6, quick)
    depth, width = _check_positive(depth, "depth"), _check_positive(width, "width")
    if quick:
        n_points, depth, width = min(n_points, 120), min(depth, 3), min(width, 8)
    lr = _check_lr(lr)
    unknown = [i for i in inits if i not in INITS]
    if unknown or not inits:
        raise ConfigError(f"unknown initialiser(s) {unknown}; expected some of {list(INITS)}")
    for a in activations:
        get_activation(a)
    data = load_dataset(dataset, csv, n_points, seed)
    config = dict(dataset=data.name, n_points=len(data.X), epochs=epochs, seed=seed, depth=depth,
                  width=width, lr=lr, optimizer="SGD", batch_size=batch_size,
                  activations=list(activations), inits=list(inits), quick=quick)
    title = "Experiment: weight initialisation"
    run = _open_run("experiment-init", out, config, title, argv)
    with run:
        run.add_text("What this run compares", (
            f"A network of {depth} hidden layers of {width} units on '{data.name}' "
            f"({len(data.X)} points), plain SGD (lr {lr:g}, batch {batch_size}), {epochs} "
            f"epochs, biases zero, for every pair of activation ({', '.join(activations)}) and "
            f"weight initialisation ({', '.join(inits)}); same seed everywhere.\n\n"
            "zeros: all weights 0. small normal: N(0, 0.01^2). large normal: N(0, 1). "
            "xavier: N(0, 2 / (fan_in + fan_out)). he: N(0, 2 / fan_in).\n"
            "With zeros, all units of a layer compute the same thing, get the same gradient "
            "and make the same update: they stay copies of each other for ever (the "
            "'max unit difference' column measures it)."))
        runs: dict[tuple[str, str], TrainedRun] = {}
        rows = []
        for act in activations:
            for name in inits:
                _note(progress, f"training {act} with {name} init ...")
                model = build_mlp([width] * depth, act, data.n_classes, init=INITS[name],
                                  seed=seed)
                r = train_recorded(f"{act} {name}", model, data, optimizer=SGD(lr=lr),
                                   epochs=epochs, batch_size=batch_size)
                runs[(act, name)] = r
                _save_recording(run, r, f"Recorded statistics: {act}, {name} init.")
                rec = r.recording
                start_sat = _mean_hidden(rec.act_saturation[0]) if rec.n_records else None
                start_dead = _mean_hidden(rec.act_dead[0]) if rec.n_records else None
                rows.append([act, name, _early_grads(rec)[2] if rec.n_records else None,
                             start_sat, start_dead, r.final_loss, r.final_accuracy,
                             hidden_unit_spread(r.model), r.diverged is not None])
        columns = ["activation", "init", "first/last grad", "saturated (start)",
                   "dead ReLU (start)", "final loss", "accuracy", "max unit difference",
                   "diverged"]
        rows = [[None if isinstance(v, float) and math.isnan(v) else v for v in row]
                for row in rows]
        formats = {"first/last grad": ".2e", "saturated (start)": ".1%",
                   "dead ReLU (start)": ".1%", "final loss": ".4f", "accuracy": ".1%",
                   "max unit difference": ".3g"}
        run.add_table("Initialisation x activation", columns, rows, formats=formats, caption=(
            "first/last grad: mean |dW| of the first weight layer over that of the last, "
            "early in training. saturated/dead: mean over hidden layers at the first record. "
            "max unit difference: largest |W[i, j] - W[i, 0]| over the hidden layers after "
            "training (0 = all units of a layer identical)."))
        zero_spreads = {act: hidden_unit_spread(runs[(act, "zeros")].model)
                        for act in activations if (act, "zeros") in runs}
        # A small sigmoid network whose units can be drawn: with zeros they learn, but
        # all the same thing.
        small_hidden = (8, 8)
        small: dict[str, TrainedRun] = {}
        for name in [i for i in ("zeros", "xavier") if i in inits]:
            _note(progress, f"training a small sigmoid network with {name} init ...")
            model = build_mlp(small_hidden, "sigmoid", data.n_classes, init=INITS[name],
                              seed=seed)
            small[name] = train_recorded(f"small sigmoid {name}", model, data,
                                         optimizer=SGD(lr=1.0), epochs=epochs,
                                         batch_size=batch_size)
        if zero_spreads:
            run.add_metrics({f"zeros init, max unit difference ({a})": v
                             for a, v in zero_spreads.items()})
        notes = _init_notes(runs, rows, zero_spreads)
        if "zeros" in small:
            notes.append(f"small 2-8-8 sigmoid network with zeros init: loss "
                         f"{small['zeros'].final_loss:.4f}, units differ by at most "
                         f"{hidden_unit_spread(small['zeros'].model):.3g} (see the unit maps).")
        run.add_text("What it shows", "\n".join(notes))
        _draw_init_figures(run, runs, data, activations, inits, 40 if quick else 90)
        _draw_unit_maps(run, small, data, small_hidden, 25 if quick else 50)
    return ExperimentResult("init", title, columns, rows, formats, notes, run.path,
                            run.report_html, {f"{a} {i}": r for (a, i), r in runs.items()})


def _init_notes(runs, rows, zero_spreads) -> list[str]:
    notes = []
    for act, spread in zero_spreads.items():
        notes.append(f"zeros + {act}: after training the hidden units' weight columns differ by "
                     f"at most {spread:.3g}: {'identical' if spread == 0 else 'still copies'}, "
                     "the symmetry was never broken.")
    by_act: dict[str, list] = {}
    for row in rows:
        by_act.setdefault(row[0], []).append(row)
    for act, rs in by_act.items():
        ok = [r for r in rs if r[5] is not None]
        if ok:
            best = min(ok, key=lambda r: r[5])
            notes.append(f"{act}: lowest final loss with {best[1]} init ({best[5]:.4f}).")
    for (act, name), r in runs.items():
        if r.diverged:
            notes.append(f"{act} + {name}: {r.diverged}.")
    return notes


def _chance(data: Dataset2D) -> tuple[float, str]:
    """The loss of a network that has learnt nothing: cross-entropy of the uniform
    guess over the classes, ln(k)."""
    return math.log(data.n_classes), f"chance: ln {data.n_classes} = {math.log(data.n_classes):.3f}"


def _one_legend(fig, axes) -> None:
    """Replace the identical legends of side-by-side panels by one below them."""
    handles, labels = axes[0].get_legend_handles_labels()
    for ax in axes:
        if ax.get_legend() is not None:
            ax.get_legend().remove()
    fig.legend(handles, labels, loc="outside lower center", ncols=len(labels))


def _draw_init_figures(run, runs, data, activations, inits, resolution: int) -> None:
    from ..plots.base import new_figure
    from ..plots.boundary import plot_decision_boundaries
    from ..plots.training import plot_gradient_profile, plot_loss_curves

    n = len(activations)
    fig, axes = new_figure(4.2 * n, 3.9, 1, n, squeeze=False)
    for k, act in enumerate(activations):
        plot_loss_curves({i: runs[(act, i)].epoch_loss for i in inits}, ax=axes[0, k],
                         title=act, logy=True, ylabel="loss" if k == 0 else "",
                         reference=_chance(data))
    _one_legend(fig, axes[0])
    fig.suptitle("Training loss per epoch, by initialisation")
    run.save_figure(fig, "loss_by_init.png", "Mean training loss per epoch (log scale), one "
                    "panel per activation, one line per initialisation. A line that stops "
                    "early diverged.", title="Loss curves")
    fig, axes = new_figure(4.2 * n, 3.9, 1, n, squeeze=False, sharey=True)
    for k, act in enumerate(activations):
        recs = {i: runs[(act, i)].recording for i in inits if runs[(act, i)].recording.n_records}
        if recs:
            plot_gradient_profile(recs, ax=axes[0, k], title=act)
        if k:
            axes[0, k].set_ylabel("")
    _one_legend(fig, axes[0])
    fig.suptitle("Gradient size by depth early in training")
    run.save_figure(fig, "gradient_by_init.png", "Mean |dW| per weight layer, early in "
                    "training (log scale). Missing points: the gradient is exactly zero. With "
                    "zeros init only the output layer gets a gradient at first (sigmoid), or "
                    "none at all for the hidden layers (tanh, ReLU: every hidden unit "
                    "outputs 0).",
                    title="Gradient by depth")
    grids = {f"{a} / {i}": decision_grid(runs[(a, i)].model, data.X, resolution=resolution)
             for a in activations for i in inits if runs[(a, i)].diverged is None}
    if grids:
        fig = plot_decision_boundaries(grids, data.X, data.y, max_cols=len(inits),
                                       panel=2.5, point_size=4.0,
                                       title="Decision boundaries (activation / init)")
        run.save_figure(fig, "boundaries.png", "Predicted class over the input plane after "
                        "training, one row per activation, one column per initialisation.",
                        title="Decision boundaries")


def _draw_unit_maps(run, small: dict[str, TrainedRun], data: Dataset2D, hidden,
                    resolution: int) -> None:
    from ..plots.boundary import plot_hidden_units

    for name, r in small.items():
        if r.diverged is not None:
            continue
        grid, maps = hidden_unit_grids(r.model, data.X, resolution=resolution)
        spread = hidden_unit_spread(r.model)
        fig = plot_hidden_units(grid, maps, data.X, data.y, title=(
            f"Hidden units of a 2-{'-'.join(map(str, hidden))}-{data.n_classes} sigmoid network, "
            f"{name} init (max unit difference {spread:.3g})"))
        run.save_figure(fig, f"units_{_slug(name)}.png", "Each tile is one hidden unit's "
                        "output over the input plane after training (colour scale centred on "
                        "0.5, spanning the layer's values). With zeros every tile of a layer "
                        "is the same picture: the units are copies of one another.",
                        title=f"Hidden units ({name} init)")


# -- experiment: learning-rate schedules --------------------------------------------------------

SCHEDULE_NAMES = ("constant", "step", "exponential", "cosine", "plateau")


def make_schedule(name: str, lr: float, total_steps: int, steps_per_epoch: int):
    """The schedules compared by :func:`run_schedules`, for ``total_steps`` updates:

    * constant: ``lr`` throughout;
    * step: x0.3 at 1/3 and 2/3 of training;
    * exponential: smooth decay to lr/100 at the end (``gamma = 0.01 ** (1 / T)``);
    * cosine: linear warm-up over the first 5% of steps, then half a cosine to 0;
    * plateau: x0.5 when the epoch loss has not improved by 0.1% for 8 epochs.
    """
    T = max(2, total_steps)
    if name == "constant":
        return Constant(lr)
    if name == "step":
        return StepDecay(lr, step_size=max(1, math.ceil(T / 3)), gamma=0.3)
    if name == "exponential":
        return Exponential(lr, gamma=0.01 ** (1.0 / T))
    if name == "cosine":
        return CosineWarmup(lr, total_steps=T, warmup_steps=max(1, T // 20), min_lr=0.0)
    if name == "plateau":
        return ReduceOnPlateau(lr, factor=0.5, patience=8, threshold=1e-3)
    raise ConfigError(f"unknown schedule {name!r}; expected one of {', '.join(SCHEDULE_NAMES)}")


def run_schedules(*, dataset: str = "spiral", csv=None, n_points: int = 300,
                  epochs: int | None = None, seed: int = 0, hidden: Sequence[int] = (32, 32),
                  activation: str = "relu", lr: float = 0.2, momentum: float = 0.9,
                  batch_size: int = 32, schedules: Sequence[str] = SCHEDULE_NAMES,
                  quick: bool = False, out=None,
                  progress: Callable[[str], None] | None = None,
                  argv: Sequence[str] | None = None) -> ExperimentResult:
    """Every schedule of :func:`make_schedule` on the same network, data and seed
    (SGD with momentum, peak rate ``lr``). The rates actually used are the ones the
    Recorder logged at every step, so reduce-on-plateau's drops show where they happened."""
    epochs = _epochs(epochs, 150, 8, quick)
    n_points = min(n_points, 120) if quick else n_points
    lr = _check_lr(lr)
    for s in schedules:
        make_schedule(s, lr, 10, 1)
    data = load_dataset(dataset, csv, n_points, seed)
    steps_per_epoch = math.ceil(len(data.X) / min(batch_size, len(data.X)))
    total = epochs * steps_per_epoch
    config = dict(dataset=data.name, n_points=len(data.X), epochs=epochs, seed=seed,
                  hidden=list(hidden), activation=activation, lr=lr, momentum=momentum,
                  batch_size=batch_size, schedules=list(schedules), quick=quick)
    title = "Experiment: learning-rate schedules"
    run = _open_run("experiment-schedules", out, config, title, argv)
    with run:
        run.add_text("What this run compares", (
            f"An MLP 2 -> {' -> '.join(map(str, hidden))} -> {data.n_classes} ({activation}) on "
            f"'{data.name}' ({len(data.X)} points), SGD with momentum {momentum} and peak "
            f"learning rate {lr:g}, batch {batch_size}, {epochs} epochs ({total} updates), the "
            "same seed for every run; only the schedule differs.\n\n"
            "constant: the peak rate throughout. step: x0.3 at 1/3 and 2/3 of training. "
            "exponential: smooth decay to 1/100 of the peak. cosine: linear warm-up over 5% "
            "of the steps, then half a cosine down to 0. plateau: halve the rate when the "
            "epoch loss has not improved by 0.1% for 8 epochs.\n"
            "A large rate makes fast early progress but keeps bouncing around the minimum; "
            "lowering it late lets the weights settle."))
        runs: dict[str, TrainedRun] = {}
        for name in schedules:
            _note(progress, f"training with the {name} schedule ...")
            model = build_mlp(hidden, activation, data.n_classes, seed=seed)
            opt = SGD(lr=make_schedule(name, lr, total, steps_per_epoch), momentum=momentum)
            runs[name] = train_recorded(name, model, data, optimizer=opt, epochs=epochs,
                                        batch_size=batch_size)
            _save_recording(run, runs[name], f"Recorded statistics with the {name} schedule.")
        columns = ["schedule", "final loss", "best epoch loss", "accuracy", "final lr",
                   "loss std, last 20%"]
        rows = []
        for name, r in runs.items():
            el = r.epoch_loss
            tail = el[int(0.8 * len(el)):] if len(el) else el
            lr_steps = r.recording.step_lr
            rows.append([name, r.final_loss, float(np.nanmin(el)) if len(el) else None,
                         r.final_accuracy, float(lr_steps[-1]) if len(lr_steps) else None,
                         float(np.std(tail)) if len(tail) else None])
        rows = [[None if isinstance(v, float) and math.isnan(v) else v for v in row]
                for row in rows]
        formats = {"final loss": ".4f", "best epoch loss": ".4f", "accuracy": ".1%",
                   "final lr": ".3g", "loss std, last 20%": ".4f"}
        run.add_table("Schedules compared", columns, rows, formats=formats, caption=(
            "final loss/accuracy: the trained model on the whole training set; best epoch "
            "loss: lowest mean loss of an epoch; loss std: how much the epoch loss still "
            "moves in the last 20% of training."))
        ok = [r for r in rows if r[1] is not None]
        notes = []
        if ok:
            best = min(ok, key=lambda r: r[1])
            notes.append(f"Lowest final loss: {best[0]} ({best[1]:.4f}); highest: "
                         f"{max(ok, key=lambda r: r[1])[0]} ({max(r[1] for r in ok):.4f}).")
            const = next((r for r in ok if r[0] == "constant" and r[5] is not None), None)
            decayed = [r[5] for r in ok if r[0] != "constant" and r[5] is not None]
            if const is not None and decayed and np.median(decayed) > 0:
                notes.append(f"In the last 20% of training the constant rate's epoch loss still "
                             f"moves with std {const[5]:.4f}, {const[5] / np.median(decayed):.0f}x "
                             "the median of the decaying schedules: a large rate keeps "
                             "bouncing around the minimum, a small late rate settles.")
        run.add_text("What it shows", "\n".join(notes))
        _draw_schedule_figures(run, runs, data)
    return ExperimentResult("schedules", title, columns, rows, formats, notes, run.path,
                            run.report_html, dict(runs))


def _draw_schedule_figures(run, runs: dict[str, TrainedRun], data: Dataset2D) -> None:
    from ..plots.base import new_figure
    from ..plots.schedules import plot_lr_curves
    from ..plots.training import plot_loss_curves

    fig, axes = new_figure(11.0, 3.8, 1, 2)
    plot_loss_curves({n: r.epoch_loss for n, r in runs.items()}, ax=axes[0], logy=True,
                     title="Training loss per epoch", reference=_chance(data))
    plot_lr_curves({n: (r.recording.step.astype(float), r.recording.step_lr)
                    for n, r in runs.items()}, ax=axes[1], title="Learning rate used per step")
    run.save_figure(fig, "schedules.png", "Left: mean training loss per epoch (log scale). "
                    "Right: the learning rate of every update, as the optimiser used it.",
                    title="Loss and learning rate")
    fig = plot_lr_curves({n: (r.recording.step.astype(float), r.recording.step_lr)
                          for n, r in runs.items()}, logy=True,
                         title="Learning rate per step (log scale)")
    run.save_figure(fig, "lr_log.png", "The same rates on a log axis: the late, small rates "
                    "that decide where the weights settle become visible.",
                    title="Learning rates, log scale")


# -- experiment: optimisers -----------------------------------------------------------------------

OPTIMIZER_NAMES = ("sgd", "momentum", "rmsprop", "adam", "adamw")

#: Learning rates per optimiser: (network, quadratic surface, Rosenbrock surface). Each
#: optimiser gets a rate suited to it (the same number would be far too large for SGD
#: and far too small for Adam); the tables print them.
OPTIMIZER_RATES: dict[str, tuple[float, float, float]] = {
    "sgd": (0.1, 0.035, 0.001),
    "momentum": (0.02, 0.01, 0.0005),
    "rmsprop": (0.003, 0.1, 0.01),
    "adam": (0.005, 0.3, 0.05),
    "adamw": (0.005, 0.3, 0.05),
}

OPTIMIZER_LABELS = {"sgd": "SGD", "momentum": "momentum", "rmsprop": "RMSprop",
                    "adam": "Adam", "adamw": "AdamW"}


def _surface_column(surface: str) -> int:
    # The quadratic bowl has its own rates; Rosenbrock's (smaller, for its steep walls)
    # serve the other, equally steep surfaces too.
    return 1 if surface == "quadratic" else 2


def make_optimizer(name: str, lr: float) -> Optimizer:
    """SGD, SGD + momentum 0.9, RMSprop (alpha 0.99), Adam (0.9, 0.999) or AdamW (weight
    decay 0.01) with learning rate ``lr``."""
    if name == "sgd":
        return SGD(lr=lr)
    if name == "momentum":
        return SGD(lr=lr, momentum=0.9)
    if name == "rmsprop":
        return RMSprop(lr=lr)
    if name == "adam":
        return Adam(lr=lr)
    if name == "adamw":
        return AdamW(lr=lr, weight_decay=0.01)
    raise ConfigError(f"unknown optimiser {name!r}; expected one of {', '.join(OPTIMIZER_NAMES)}")


def run_optimizers(*, dataset: str = "spiral", csv=None, n_points: int = 300,
                   epochs: int | None = None, seed: int = 0, hidden: Sequence[int] = (32, 32),
                   activation: str = "tanh", batch_size: int = 32,
                   optimizers: Sequence[str] = OPTIMIZER_NAMES,
                   surfaces: Sequence[str] = ("quadratic", "rosenbrock"),
                   surface_steps: Sequence[int] = (100, 1000), quick: bool = False, out=None,
                   progress: Callable[[str], None] | None = None,
                   argv: Sequence[str] | None = None) -> ExperimentResult:
    """Each optimiser trains the same network (same data, seed, initial weights), and
    walks the two-parameter toy ``surfaces`` (``surface_steps`` updates each) from the
    same start; rates from :data:`OPTIMIZER_RATES`."""
    epochs = _epochs(epochs, 100, 8, quick)
    if quick:
        n_points = min(n_points, 120)
        surface_steps = tuple(min(s, 60) for s in surface_steps)
    for o in optimizers:
        make_optimizer(o, 0.1)
    if len(surface_steps) != len(surfaces):
        raise ConfigError("give one number of steps per surface")
    for s in surfaces:
        if s not in SURFACES:
            raise ConfigError(f"unknown surface {s!r}; expected some of {list(SURFACES)}")
    data = load_dataset(dataset, csv, n_points, seed)
    config = dict(dataset=data.name, n_points=len(data.X), epochs=epochs, seed=seed,
                  hidden=list(hidden), activation=activation, batch_size=batch_size,
                  optimizers=list(optimizers), surfaces=list(surfaces),
                  surface_steps=list(surface_steps), quick=quick,
                  rates={o: list(OPTIMIZER_RATES[o]) for o in optimizers})
    title = "Experiment: optimisers"
    run = _open_run("experiment-optimizers", out, config, title, argv)
    with run:
        run.add_text("What this run compares", (
            f"The same MLP 2 -> {' -> '.join(map(str, hidden))} -> {data.n_classes} "
            f"({activation}) on '{data.name}' ({len(data.X)} points, batch {batch_size}, "
            f"{epochs} epochs, same initial weights) trained by {', '.join(optimizers)}; then "
            "the same optimisers (the engine's classes, stepping a 2-element parameter whose "
            "gradient is written by hand) on two-parameter surfaces: an elongated bowl and "
            "Rosenbrock's curved valley.\n\n"
            "SGD steps along -gradient. Momentum accumulates a velocity (0.9), which crosses "
            "flat stretches fast and damps zig-zags. RMSprop divides each coordinate's step "
            "by a running RMS of its gradient, evening out directions of very different "
            "steepness. Adam combines both, with bias correction. AdamW is Adam with weight "
            "decay applied to the weights directly (0.01 here), pulling them towards 0."))
        runs: dict[str, TrainedRun] = {}
        for name in optimizers:
            _note(progress, f"training with {OPTIMIZER_LABELS[name]} ...")
            model = build_mlp(hidden, activation, data.n_classes, seed=seed)
            runs[name] = train_recorded(OPTIMIZER_LABELS[name], model, data,
                                        optimizer=make_optimizer(name, OPTIMIZER_RATES[name][0]),
                                        epochs=epochs, batch_size=batch_size)
            _save_recording(run, runs[name], f"Recorded statistics with {name}.")
        paths: dict[str, list[OptimizerPath]] = {}
        for s, steps in zip(surfaces, surface_steps, strict=True):
            col = _surface_column(s)
            paths[s] = [optimizer_path(make_optimizer(o, OPTIMIZER_RATES[o][col]), s,
                                       steps=int(steps), label=OPTIMIZER_LABELS[o])
                        for o in optimizers]
        columns = ["optimiser", "lr (network)", "final loss", "accuracy", "epochs to loss<0.3"]
        for s in surfaces:
            columns += [f"{s}: lr", f"{s}: final f"]
        rows = []
        for k, (name, r) in enumerate(runs.items()):
            el = r.epoch_loss
            below = np.nonzero(el < 0.3)[0] if len(el) else np.array([])
            row = [OPTIMIZER_LABELS[name], OPTIMIZER_RATES[name][0], r.final_loss,
                   r.final_accuracy, int(below[0]) + 1 if below.size else None]
            for s in surfaces:
                p = paths[s][k]
                row += [OPTIMIZER_RATES[name][_surface_column(s)],
                        None if p.diverged else p.final_value]
            rows.append(row)
        rows = [[None if isinstance(v, float) and math.isnan(v) else v for v in row]
                for row in rows]
        formats = {"lr (network)": ".3g", "final loss": ".4f", "accuracy": ".1%"}
        for s in surfaces:
            formats[f"{s}: lr"] = ".3g"
            formats[f"{s}: final f"] = ".3g"
        lengths = ", ".join(f"{s}: {n} steps"
                            for s, n in zip(surfaces, surface_steps, strict=True))
        run.add_table("Optimisers compared", columns, rows, formats=formats, caption=(
            "Network: final loss/accuracy on the training set; epochs until the epoch loss "
            f"first fell below 0.3 ('-' = never). Surfaces: f at the end of the path ({lengths}; "
            "minimum 0; blank = diverged)."))
        notes = []
        ok = [r for r in rows if r[2] is not None]
        if ok:
            best = min(ok, key=lambda r: r[2])
            notes.append(f"Network: lowest final loss with {best[0]} ({best[2]:.4f}).")
        for j, s in enumerate(surfaces):
            vals = [(r[0], r[6 + 2 * j]) for r in rows if r[6 + 2 * j] is not None]
            if vals:
                best = min(vals, key=lambda v: v[1])
                notes.append(f"{s}: closest to the minimum after {surface_steps[j]} steps: "
                             f"{best[0]} (f = {best[1]:.3g}).")
        run.add_text("What it shows", "\n".join(notes))
        _draw_optimizer_figures(run, runs, paths, data)
    return ExperimentResult("optimizers", title, columns, rows, formats, notes, run.path,
                            run.report_html, {**runs, "paths": paths})


def _draw_optimizer_figures(run, runs, paths, data: Dataset2D) -> None:
    from ..plots.optimizers import plot_optimizer_panels
    from ..plots.training import plot_loss_curves

    fig = plot_loss_curves({r.label: r.epoch_loss for r in runs.values()}, logy=True,
                           title="Training loss per epoch", reference=_chance(data))
    run.save_figure(fig, "loss.png", "Mean training loss per epoch (log scale), same network "
                    "and initial weights, each optimiser with its own learning rate.",
                    title="Loss curves")
    mark = {s: max(1, len(p[0].points) // 20) for s, p in paths.items() if p}
    fig = plot_optimizer_panels(paths, mark_every=min(mark.values()) if mark else 10,
                                title="Optimiser paths on two-parameter surfaces")
    run.save_figure(fig, "paths.png", "Each optimiser from the same start (white dot); dots "
                    "mark equal numbers of steps, a cross the end, the star the minimum. "
                    "Shading: lighter is lower.", title="Paths on toy surfaces")


#: Experiment name -> function, for the command line.
EXPERIMENTS: dict[str, Callable[..., ExperimentResult]] = {
    "activations": run_activations,
    "init": run_init,
    "schedules": run_schedules,
    "optimizers": run_optimizers,
}
