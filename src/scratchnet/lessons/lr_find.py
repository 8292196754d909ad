"""The learning-rate range test ("LR finder"): sweep the rate up and watch the loss.

Start from a fresh network and take one optimiser step per mini-batch while the
learning rate grows exponentially, from ``lr_min`` to ``lr_max`` over ``steps``
steps (``lr_t = lr_min * (lr_max / lr_min) ** (t / (steps - 1))``). Record each
batch loss and smooth it with a bias-corrected exponential moving average::

    avg_t = beta * avg_{t-1} + (1 - beta) * loss_t ;  smoothed_t = avg_t / (1 - beta^(t+1))

While the rate is tiny the loss hardly moves; then it starts to fall, falls fastest,
flattens, and finally explodes as steps overshoot. The test stops at the explosion:
when the smoothed loss exceeds ``explode`` (4) times its lowest value, or a loss is
not finite.

The suggestion rule. Two classic readings of the curve:

* **steepest descent**: the rate where the smoothed loss falls fastest per factor of
  learning rate (the most negative slope of smoothed loss against ``log(lr)``), among
  rates below the one with the lowest loss. There, larger steps are still clearly
  helping.
* **minimum / 10**: one tenth of the rate with the lowest smoothed loss. At the
  minimum itself the rate is already about to make training unstable; a tenth of it
  is safely on the falling part.

The suggestion is the steepest-descent rate, unless it lies at the very first steps
of the sweep (a slope dominated by noise before the loss has started to move); then
it is minimum / 10. Both are reported. The rule is a starting point for a constant
rate or the peak of a schedule, not a guarantee: :func:`lr_find` can also train the
same network for a few epochs at the suggestion and at 10x below and above it, so you
can see whether it holds.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError, DataError, DivergenceError
from ..model import Sequential
from ..optim import Optimizer
from ..schedules import Schedule
from .experiments import (
    ExperimentResult,
    _check_lr,
    _check_positive,
    _note,
    _open_run,
    build_mlp,
    load_dataset,
    make_optimizer,
)

#: Optimisers the range test accepts by name.
LR_FIND_OPTIMIZERS = ("sgd", "momentum", "rmsprop", "adam", "adamw")


class ExponentialRamp(Schedule):
    """``lr_min * (lr_max / lr_min) ** (t / (steps - 1))``: from lr_min at step 0 to
    lr_max at step ``steps - 1`` (held there afterwards)."""

    name = "ramp"

    def __init__(self, lr_min: float, lr_max: float, steps: int):
        super().__init__(lr_min)
        self.lr_max = _check_lr(lr_max, "lr_max")
        if not lr_max > lr_min:
            raise ConfigError(f"lr_max ({lr_max:g}) must be larger than lr_min ({lr_min:g})")
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 2:
            raise ConfigError(f"steps must be an integer >= 2, got {steps!r}")
        self.steps = steps

    def __call__(self, step: int) -> float:
        t = min(step, self.steps - 1) / (self.steps - 1)
        return self.base_lr * (self.lr_max / self.base_lr) ** t

    def spec(self) -> dict:
        return {**super().spec(), "lr_max": self.lr_max, "steps": self.steps}


@dataclass
class RangeTest:
    """What the sweep saw: per step ``lrs``, ``losses`` and ``smoothed`` (``(n,)``, n <=
    the steps asked for when it stopped early), and the readings of the curve."""

    lrs: np.ndarray
    losses: np.ndarray
    smoothed: np.ndarray
    suggested_lr: float
    steepest_lr: float
    min_loss_lr: float
    rule: str
    stopped_early: bool
    stop_reason: str

    @property
    def tested_range(self) -> tuple[float, float]:
        return float(self.lrs[0]), float(self.lrs[-1])


def smooth(losses: np.ndarray, beta: float = 0.9) -> np.ndarray:
    """Bias-corrected exponential moving average of ``losses (n,)`` (see module doc)."""
    if not 0 <= beta < 1:
        raise ConfigError(f"beta must be in [0, 1), got {beta!r}")
    out = np.empty(len(losses), dtype=np.float64)
    avg = 0.0
    for t, value in enumerate(losses):
        avg = beta * avg + (1.0 - beta) * float(value)
        out[t] = avg / (1.0 - beta ** (t + 1))
    return out


def suggest(lrs: np.ndarray, smoothed: np.ndarray, skip_start: float = 0.1
            ) -> tuple[float, float, float, str]:
    """``(suggested, steepest, min_loss / 10 source, rule)`` from a sweep (module doc).

    ``skip_start``: the fraction of the first steps in which a steepest point is not
    trusted (the loss has not started to move; the slope there is noise).
    """
    lrs = np.asarray(lrs, dtype=np.float64)
    smoothed = np.asarray(smoothed, dtype=np.float64)
    if lrs.size < 3 or lrs.shape != smoothed.shape:
        raise ConfigError("suggest: need at least 3 points of (lr, smoothed loss)")
    finite = np.isfinite(smoothed)
    i_min = int(np.nanargmin(np.where(finite, smoothed, np.nan)))
    min_lr = float(lrs[i_min])
    slope = np.gradient(smoothed, np.log(lrs))
    upto = max(2, i_min + 1)  # steepest descent is looked for before the minimum
    i_steep = int(np.nanargmin(slope[:upto]))
    steepest = float(lrs[i_steep])
    if i_steep >= skip_start * lrs.size and slope[i_steep] < 0:
        return steepest, steepest, min_lr, "steepest descent of the smoothed loss"
    return min_lr / 10.0, steepest, min_lr, "lowest smoothed loss / 10"


def range_test(model: Sequential, X: np.ndarray, y: np.ndarray, optimizer: Optimizer, *,
               lr_min: float = 1e-5, lr_max: float = 10.0, steps: int = 100,
               batch_size: int = 32, beta: float = 0.9, explode: float = 4.0,
               seed: int = 0) -> RangeTest:
    """Run the sweep on ``model`` (compiled with a loss; its weights are changed) using
    ``optimizer`` (its rate is replaced by the ramp). Mini-batches of ``batch_size``
    are drawn from ``(X, y)`` in shuffled passes (``seed``)."""
    lr_min, lr_max = _check_lr(lr_min, "lr_min"), _check_lr(lr_max, "lr_max")
    steps = _check_positive(steps, "steps")
    if model.loss is None:
        raise ConfigError("range_test: compile the model with a loss first")
    if explode <= 1:
        raise ConfigError(f"explode must be > 1, got {explode!r}")
    ramp = ExponentialRamp(lr_min, lr_max, steps)
    optimizer.schedule = ramp
    optimizer.t = 0
    optimizer.state = {}
    model.optimizer = optimizer
    loss_fn = model.loss
    X = np.asarray(X)
    if X.ndim != 2 or len(X) == 0 or len(X) != len(y) or not np.all(np.isfinite(X)):
        raise DataError(f"range_test: X must be a finite (n, features) array with one row per "
                        f"target; got X of shape {X.shape} and {len(y)} targets")
    X = X.astype(model.dtype, copy=False)
    y = loss_fn.validate_targets(np.asarray(y), model.predict(X[:1]).shape[-1])
    rng = np.random.default_rng(seed)
    n = len(X)
    bs = min(_check_positive(batch_size, "batch_size"), n)
    params = model.parameters()
    model.train()
    lrs, losses, smoothed = [], [], []
    avg, best = 0.0, math.inf
    order, pos = rng.permutation(n), 0
    stop_reason = "reached lr_max"
    for t in range(steps):
        if pos + bs > n:
            order, pos = rng.permutation(n), 0
        idx = order[pos:pos + bs]
        pos += bs
        lr = optimizer.lr
        out = model.forward(X[idx])
        loss = loss_fn.forward(out, y[idx])
        if not math.isfinite(loss):
            stop_reason = f"loss became {loss} at lr {lr:.3g}"
            break
        avg = beta * avg + (1.0 - beta) * loss
        s = avg / (1.0 - beta ** (t + 1))
        lrs.append(lr)
        losses.append(loss)
        smoothed.append(s)
        best = min(best, s)
        if t > 0 and s > explode * best:
            stop_reason = f"smoothed loss exceeded {explode:g}x its minimum at lr {lr:.3g}"
            break
        model.backward(loss_fn.backward())
        optimizer.step(params)
    model.eval()
    if len(lrs) < 3:
        raise DivergenceError(
            f"the range test stopped after {len(lrs)} steps ({stop_reason}); start lower "
            f"than lr_min={lr_min:g}"
        )
    lrs_a, smoothed_a = np.array(lrs), np.array(smoothed)
    suggested, steepest, min_lr, rule = suggest(lrs_a, smoothed_a)
    return RangeTest(lrs_a, np.array(losses), smoothed_a, suggested, steepest, min_lr, rule,
                     stopped_early=len(lrs) < steps, stop_reason=stop_reason)


def lr_find(*, dataset: str = "spiral", csv=None, n_points: int = 300, seed: int = 0,
            hidden: Sequence[int] = (32, 32), activation: str = "relu",
            optimizer: str = "momentum", lr_min: float = 1e-5, lr_max: float = 10.0,
            steps: int = 100, batch_size: int = 32, check_epochs: int | None = 30,
            quick: bool = False, out=None,
            progress: Callable[[str], None] | None = None,
            argv: Sequence[str] | None = None) -> ExperimentResult:
    """Range test of an MLP on a 2-D data set, written to a run folder with the curve.

    With ``check_epochs`` (default 30; None or 0 to skip), the same fresh network is
    then trained that many epochs at the suggested rate, at 1/10 of it and at 10x it,
    so the report shows whether the suggestion holds.
    """
    if quick:
        n_points, steps = min(n_points, 120), min(steps, 40)
        check_epochs = min(check_epochs or 0, 3)
    if optimizer not in LR_FIND_OPTIMIZERS:
        raise ConfigError(f"unknown optimiser {optimizer!r}; expected one of "
                          f"{', '.join(LR_FIND_OPTIMIZERS)}")
    data = load_dataset(dataset, csv, n_points, seed)
    config = dict(dataset=data.name, n_points=len(data.X), seed=seed, hidden=list(hidden),
                  activation=activation, optimizer=optimizer, lr_min=lr_min, lr_max=lr_max,
                  steps=steps, batch_size=batch_size, check_epochs=check_epochs, quick=quick)
    title = "Learning-rate range test"
    run = _open_run("lr-find", out, config, title, argv)
    with run:
        run.add_text("How the test works", __doc__.split("\n\n", 1)[1].strip())
        _note(progress, f"sweeping the learning rate from {lr_min:g} to {lr_max:g} ...")
        model = build_mlp(hidden, activation, data.n_classes, seed=seed)
        model.compile("cross_entropy", make_optimizer(optimizer, lr_min))
        test = range_test(model, data.X, data.y, model.optimizer, lr_min=lr_min, lr_max=lr_max,
                          steps=steps, batch_size=batch_size, seed=seed)
        run.add_metrics({"suggested lr": test.suggested_lr, "steepest-descent lr":
                         test.steepest_lr, "lowest-loss lr": test.min_loss_lr},
                        formats={"suggested lr": ".3g", "steepest-descent lr": ".3g",
                                 "lowest-loss lr": ".3g"})
        from ..plots.schedules import plot_lr_find

        fig = plot_lr_find(test.lrs, test.losses, test.smoothed, test.suggested_lr,
                           steepest_lr=test.steepest_lr, min_loss_lr=test.min_loss_lr,
                           title=f"Learning-rate range test ({optimizer}, {data.name})")
        run.save_figure(fig, "lr_find.png", "Batch loss (light) and smoothed loss (dark) "
                        "against the learning rate of the step (log axis). Suggested rate: "
                        f"{test.rule}.", title="Loss against learning rate")
        np.savetxt(run.path / "lr_find.csv",
                   np.column_stack([test.lrs, test.losses, test.smoothed]), delimiter=",",
                   header="lr,loss,smoothed_loss", comments="", fmt="%.8g")
        run.add_file("lr_find.csv", "The sweep: learning rate, batch loss, smoothed loss.")
        columns = ["reading", "learning rate", "note"]
        rows = [
            ["suggested", test.suggested_lr, test.rule],
            ["steepest descent", test.steepest_lr, "smoothed loss falls fastest per decade"],
            ["lowest loss", test.min_loss_lr, "a tenth of it is 'min / 10'"],
            ["tested range", f"{test.tested_range[0]:.3g} .. {test.tested_range[1]:.3g}",
             test.stop_reason],
        ]
        formats = {"learning rate": ".3g"}
        notes = [f"Suggested learning rate: {test.suggested_lr:.3g} ({test.rule}).",
                 f"The sweep ran {len(test.lrs)} steps and stopped because it "
                 f"{'' if test.stopped_early else 'had '}{test.stop_reason}."]
        if check_epochs:
            checks = _check_suggestion(data, hidden, activation, optimizer, test.suggested_lr,
                                       check_epochs, batch_size, seed, progress)
            ccols = ["learning rate", "x suggestion", "final loss", "accuracy"]
            run.add_table(f"Check: {check_epochs} epochs from the same start", ccols, checks,
                          formats={"learning rate": ".3g", "final loss": ".4f",
                                   "accuracy": ".1%"},
                          caption="'-' = the loss diverged.")
            rows += [[f"check x{c[1]:g}", c[0],
                      f"loss {c[2]:.4f} after {check_epochs} epochs" if c[2] is not None
                      else "diverged"] for c in checks]
        run.add_table("Range test", columns, rows, formats=formats)
        run.add_text("What it shows", "\n".join(notes))
    return ExperimentResult("lr-find", title, columns, rows, formats, notes, run.path,
                            run.report_html, {"test": test})


def _check_suggestion(data, hidden, activation, optimizer, lr, epochs, batch_size, seed,
                      progress) -> list[list]:
    rows = []
    for factor in (0.1, 1.0, 10.0):
        _note(progress, f"checking: {epochs} epochs at lr {lr * factor:.3g} ...")
        model = build_mlp(hidden, activation, data.n_classes, seed=seed)
        model.compile("cross_entropy", make_optimizer(optimizer, lr * factor))
        try:
            model.fit(data.X, data.y, epochs=epochs, batch_size=batch_size, verbose=0)
            ev = model.evaluate(data.X, data.y)
            loss, acc = float(ev["loss"]), float(ev["accuracy"])
            if not math.isfinite(loss):
                loss, acc = None, None
        except DivergenceError:
            loss, acc = None, None
        rows.append([lr * factor, factor, loss, acc])
    return rows

