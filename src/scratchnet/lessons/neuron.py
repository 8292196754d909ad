"""One neuron: fitting a line (regression) and learning a logic gate (classification).

Regression. A single linear neuron ``y_hat = w x + b`` (``Dense(1, 1)``: 2 parameters)
is fitted to noisy points of a known line by gradient descent on the mean squared
error ``L = mean((y_hat - y)^2)``. Its gradients are::

    dL/dw = 2/n * sum((y_hat - y) * x)        x, y, y_hat : (n, 1)
    dL/db = 2/n * sum(y_hat - y)

and each epoch takes one step ``w -= lr * dL/dw``, ``b -= lr * dL/db`` on all points.
The result is compared with the true line and with the least-squares line (the exact
minimum of L for this noisy sample, which gradient descent should approach).

Classification. A sigmoid neuron ``p = sigmoid(x1 w1 + x2 w2 + b)`` (``Dense(2, 1)``
then ``Sigmoid``: 3 parameters) is trained with binary cross-entropy on a gate's truth
table. It answers 1 where ``p > 0.5``, i.e. on one side of the straight line
``w1 x1 + w2 x2 + b = 0``. AND, OR, NAND and NOR put their 1s on one side of some line,
so the neuron learns them. XOR's 1s, at (0, 1) and (1, 0), sit on the diagonal between
its 0s at (0, 0) and (1, 1): every line leaves at least one point on the wrong side.
The lesson shows this twice: gradient descent drives the neuron to ``w = 0``, an
undecided 0.5 for every input (the minimum of the cross-entropy, by symmetry), and a
search over lines finds none that gets more than 3 of the 4 points right.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from .boolean import INPUTS

GATES = ("and", "or", "nand", "nor", "xor")


def _check_positive(value, name: str, integer: bool = False) -> None:
    ok_type = int if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, ok_type) or not (
        math.isfinite(value) and value > 0
    ):
        kind = "a positive integer" if integer else "a positive number"
        raise ConfigError(f"{name} must be {kind}, got {value!r}")


# -- regression --------------------------------------------------------------------------


@dataclass
class RegressionConfig:
    """n points with x uniform in [-1, 1] and y = w x + b + noise * N(0, 1)."""

    n: int = 100
    w: float = 2.0
    b: float = 0.5
    noise: float = 0.2
    lr: float = 0.1
    epochs: int = 200
    seed: int = 0

    def __post_init__(self) -> None:
        _check_positive(self.n, "n (number of points)", integer=True)
        _check_positive(self.lr, "lr (learning rate)")
        _check_positive(self.epochs, "epochs", integer=True)
        for name in ("w", "b", "noise"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
                raise ConfigError(f"{name} must be a finite number, got {v!r}")
        if self.noise < 0:
            raise ConfigError(f"noise must be >= 0, got {self.noise!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ConfigError(f"seed must be an integer >= 0, got {self.seed!r}")


@dataclass
class RegressionResult:
    """x, y : (n, 1) data. w, b : learned. lstsq_w, lstsq_b : the exact least-squares line.
    loss : (epochs,) MSE per epoch. path : (epochs + 1, 2) the (w, b) before each epoch
    and after the last. final_loss, lstsq_loss : MSE of the learned and least-squares lines.
    """

    config: RegressionConfig
    x: np.ndarray
    y: np.ndarray
    w: float
    b: float
    lstsq_w: float
    lstsq_b: float
    loss: np.ndarray
    path: np.ndarray
    final_loss: float
    lstsq_loss: float
    model: object


def run_regression(config: RegressionConfig | None = None) -> RegressionResult:
    """Fit ``Dense(1, 1)`` to the noisy line with the engine: MSE, SGD, full batch."""
    from ..callbacks import LambdaCallback
    from ..data import make_regression_line
    from ..layers import Dense
    from ..model import Sequential
    from ..optim import SGD

    cfg = config or RegressionConfig()
    x, y = make_regression_line(cfg.n, cfg.w, cfg.b, cfg.noise, cfg.seed)
    model = Sequential([Dense(1, 1)], seed=cfg.seed, name="one-neuron")
    model.compile(loss="mse", optimizer=SGD(lr=cfg.lr), metrics=())
    dense = model.layers[0]
    path = [(float(dense.W[0, 0]), float(dense.b[0]))]
    track = LambdaCallback(
        on_epoch_end=lambda e, logs: path.append((float(dense.W[0, 0]), float(dense.b[0])))
    )
    history = model.fit(x, y, epochs=cfg.epochs, batch_size=None, verbose=0, callbacks=[track])
    # The least-squares line: solve [x 1] @ [w b]^T = y exactly (in float64).
    A = np.column_stack([x[:, 0].astype(np.float64), np.ones(len(x))])
    (lw, lb), *_ = np.linalg.lstsq(A, y[:, 0].astype(np.float64), rcond=None)
    w, b = path[-1]
    resid = (w * x[:, 0] + b) - y[:, 0]
    lresid = (lw * x[:, 0] + lb) - y[:, 0]
    return RegressionResult(
        cfg, x, y, w, b, float(lw), float(lb), np.asarray(history["loss"]), np.asarray(path),
        float(np.mean(resid.astype(np.float64) ** 2)), float(np.mean(lresid**2)), model,
    )


def format_regression(res: RegressionResult) -> str:
    cfg = res.config
    lines = [
        f"Data: {cfg.n} points, x uniform in [-1, 1], y = {cfg.w:g} x + {cfg.b:g} + noise "
        f"(std {cfg.noise:g}), seed {cfg.seed}",
        "Neuron: y_hat = w * x + b (Dense(1, 1), 2 parameters); loss: mean squared error;",
        f"  plain gradient descent, learning rate {cfg.lr:g}, {cfg.epochs} epochs on all points",
        "",
    ]
    every = max(1, cfg.epochs // 5)
    lines.append("  (w, b and the loss at the start of each epoch shown)")
    for e in range(cfg.epochs):
        if e == 0 or (e + 1) % every == 0:
            w, b = res.path[e]
            lines.append(f"  epoch {e + 1:>{len(str(cfg.epochs))}}  loss {res.loss[e]:.4f}  "
                         f"w {w:7.4f}  b {b:7.4f}")
    lines += [
        "",
        "          true   learned   least squares",
        f"  w   {cfg.w:8.4f}  {res.w:8.4f}  {res.lstsq_w:8.4f}",
        f"  b   {cfg.b:8.4f}  {res.b:8.4f}  {res.lstsq_b:8.4f}",
        "",
        f"Final loss {res.final_loss:.5f}. The least-squares line, the lowest any line can",
        f"score on these points, gets {res.lstsq_loss:.5f}; the noise (std {cfg.noise:g}) "
        f"alone costs about {cfg.noise ** 2:.4f},",
        "which no line can explain away.",
    ]
    return "\n".join(lines)


def loss_surface(res: RegressionResult, n: int = 121):
    """MSE over a grid of (w, b) around the path and the true line:
    returns ``ws (n,)``, ``bs (n,)``, ``L (n, n)`` with ``L[i, j]`` at ``(ws[j], bs[i])``."""
    pts = np.vstack([res.path, [[res.config.w, res.config.b]]])
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    pad = np.maximum((hi - lo) * 0.25, 0.5)
    ws = np.linspace(lo[0] - pad[0], hi[0] + pad[0], n)
    bs = np.linspace(lo[1] - pad[1], hi[1] + pad[1], n)
    x = res.x[:, 0].astype(np.float64)
    y = res.y[:, 0].astype(np.float64)
    # mean((w x + b - y)^2) expanded so the grid needs no (n, n, points) array.
    sx, sy, sxx, sxy, syy = x.mean(), y.mean(), (x * x).mean(), (x * y).mean(), (y * y).mean()
    W, B = np.meshgrid(ws, bs)
    L = W * W * sxx + B * B + syy + 2 * W * B * sx - 2 * W * sxy - 2 * B * sy
    return ws, bs, L


def save_regression_run(res: RegressionResult, out_dir) -> Path:
    from ..plots.neuron import descent_path_figure, loss_curve_figure, regression_fit_figure
    from ..report import RunFolder

    run = RunFolder(out_dir, "neuron", {"task": "regression", **asdict(res.config)},
                    title="scratchnet neuron regression: one neuron fits a line")
    run.add_metrics({"learned w": res.w, "learned b": res.b, "true w": res.config.w,
                     "true b": res.config.b, "final loss": res.final_loss},
                    formats={"learned w": ".4f", "learned b": ".4f", "final loss": ".5f"})
    run.add_text("Result", format_regression(res))
    run.add_table("Line", ["", "true", "learned", "least squares"],
                  [["w", res.config.w, res.w, res.lstsq_w],
                   ["b", res.config.b, res.b, res.lstsq_b]],
                  formats={"true": ".4f", "learned": ".4f", "least squares": ".4f"})
    run.save_figure(regression_fit_figure(res.x[:, 0], res.y[:, 0], (res.config.w, res.config.b),
                                          (res.w, res.b), res.path),
                    "fit.png", "The data, the true line and the learned one; faint lines show "
                    "the neuron's line during training.")
    run.save_figure(loss_curve_figure(res.loss, "MSE"), "loss.png", "Loss per epoch.")
    ws, bs, L = loss_surface(res)
    run.save_figure(descent_path_figure(ws, bs, L, res.path, (res.config.w, res.config.b),
                                        (res.lstsq_w, res.lstsq_b)),
                    "descent.png", "The loss as a function of (w, b), and the path gradient "
                    "descent took from its random start to the bottom of the bowl.")
    res.model.save(run.path / "model.npz")
    run.add_file("model.npz", "The trained neuron (load with scratchnet.load_model).")
    run.finish()
    return run.path


# -- classification ----------------------------------------------------------------------


@dataclass
class ClassifyConfig:
    gate: str = "and"
    lr: float = 2.0
    epochs: int = 1000
    seed: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.gate, str) or self.gate.lower() not in GATES:
            raise ConfigError(f"gate must be one of {', '.join(GATES)}, got {self.gate!r}")
        self.gate = self.gate.lower()
        _check_positive(self.lr, "lr (learning rate)")
        _check_positive(self.epochs, "epochs", integer=True)
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ConfigError(f"seed must be an integer >= 0, got {self.seed!r}")


@dataclass
class BestLine:
    """A line ``w1 x1 + w2 x2 + b = 0`` (unit normal ``(w1, w2)``), answering 1 where the
    left side is > 0, and how many of the four points it gets right."""

    w: tuple[float, float]
    b: float
    correct: int
    n_lines: int


@dataclass
class ClassifyResult:
    """X (4, 2), y (4,) : the truth table. w (2,), b : learned. outputs (4,) : p per input.
    loss (epochs,), accuracy (epochs,) per epoch. correct : right answers out of 4.
    best_line : for XOR, the best line found by search (None for separable gates)."""

    config: ClassifyConfig
    X: np.ndarray
    y: np.ndarray
    w: np.ndarray
    b: float
    outputs: np.ndarray
    loss: np.ndarray
    accuracy: np.ndarray
    correct: int
    best_line: BestLine | None
    model: object

    @property
    def separable(self) -> bool:
        return self.config.gate != "xor"


def best_line(X: np.ndarray, y: np.ndarray, n_angles: int = 360, n_offsets: int = 401) -> BestLine:
    """Try ``n_angles`` directions x ``n_offsets`` offsets and keep the line that classifies
    the most points of ``X (n, 2)``, ``y (n,)`` correctly (ties: the one whose nearest
    point is farthest from it, i.e. the widest margin).

    The lines are ``cos(t) x1 + sin(t) x2 - c = 0`` for ``t`` in ``[0, 2 pi)`` and ``c``
    in ``[-1.5, 1.5]`` (the points lie in the unit square, so every way a line can cut
    them is met by one of these).
    """
    t = np.linspace(0.0, 2 * np.pi, n_angles, endpoint=False)
    normals = np.column_stack([np.cos(t), np.sin(t)])  # (A, 2)
    offsets = np.linspace(-1.5, 1.5, n_offsets)  # (C,)
    proj = X.astype(np.float64) @ normals.T  # (n, A)
    side = proj[:, :, None] - offsets[None, None, :]  # (n, A, C)
    pred = side > 0
    correct = (pred == (y[:, None, None] > 0.5)).sum(axis=0)  # (A, C)
    margin = np.abs(side).min(axis=0)
    best = correct.max()
    score = np.where(correct == best, margin, -1.0)
    a, c = np.unravel_index(int(np.argmax(score)), score.shape)
    return BestLine((float(normals[a, 0]), float(normals[a, 1])), float(-offsets[c]), int(best),
                    int(correct.size))


def run_classify(config: ClassifyConfig | None = None) -> ClassifyResult:
    """Train ``Dense(2, 1) -> Sigmoid`` on the gate's truth table with BCE and SGD."""
    from ..data import logic_gate
    from ..layers import Dense, Sigmoid
    from ..model import Sequential
    from ..optim import SGD

    cfg = config or ClassifyConfig()
    X, y = logic_gate(cfg.gate)
    model = Sequential([Dense(2, 1), Sigmoid()], seed=cfg.seed, name=f"neuron-{cfg.gate}")
    model.compile(loss="bce", optimizer=SGD(lr=cfg.lr))
    history = model.fit(X, y, epochs=cfg.epochs, batch_size=None, verbose=0)
    out = model.predict(X).ravel()
    correct = int(((out > 0.5) == (y.ravel() > 0.5)).sum())
    dense = model.layers[0]
    line = best_line(X, y.ravel()) if cfg.gate == "xor" else None
    return ClassifyResult(cfg, X, y.ravel(), dense.W[:, 0].copy(), float(dense.b[0]), out,
                          np.asarray(history["loss"]), np.asarray(history["accuracy"]), correct,
                          line, model)


def _line_equation(w1: float, w2: float, b: float) -> str:
    """``"8.82 x1 + 8.82 x2 - 13.40 = 0"``."""
    def term(v: float, name: str, first: bool) -> str:
        sign = "-" if v < 0 else ("" if first else "+")
        body = f"{abs(v):.2f}" + (f" {name}" if name else "")
        return f"{sign} {body}" if sign and not first else f"{sign}{body}"

    return f"{term(w1, 'x1', True)} {term(w2, 'x2', False)} {term(b, '', False)} = 0"


def format_classify(res: ClassifyResult) -> str:
    cfg = res.config
    g = cfg.gate.upper()
    lines = [
        f"Gate {g}: p = sigmoid(w1 x1 + w2 x2 + b) (Dense(2, 1) + Sigmoid, 3 parameters);",
        f"  binary cross-entropy, plain gradient descent, learning rate {cfg.lr:g}, "
        f"{cfg.epochs} epochs, seed {cfg.seed}",
        "",
        "Input  | Output | Expected | Right?",
        "-------------------------------------",
    ]
    for i, (a, b) in enumerate(INPUTS):
        ok = (res.outputs[i] > 0.5) == (res.y[i] > 0.5)
        lines.append(f"[{a} {b}]  | {res.outputs[i]:6.3f} |    {int(res.y[i])}     | "
                     f"{'yes' if ok else 'no'}")
    lines.append("")
    w1, w2 = (float(v) for v in res.w)
    lines.append(f"Learned: w1 = {w1:.3f}, w2 = {w2:.3f}, b = {res.b:.3f}; final loss "
                 f"{res.loss[-1]:.4f}; {res.correct} of 4 right.")
    if res.separable:
        lines.append(f"The neuron answers 1 where {_line_equation(w1, w2, res.b)[:-4]} > 0: "
                     f"on one side of the line")
        lines.append(f"{_line_equation(w1, w2, res.b)}, which separates the 1s of {g} "
                     "from its 0s.")
        return "\n".join(lines)
    bl = res.best_line
    lines += [
        "",
        "XOR is not linearly separable. The segment joining its 1s, [0 1] and [1 0], crosses the",
        "segment joining its 0s, [0 0] and [1 1], at (0.5, 0.5): the side of a line that holds",
        "both 1s holds that midpoint too, and so at least one of the 0s.",
        "Gradient descent has pushed every weight to within "
        f"{max(abs(w1), abs(w2), abs(res.b)):.1e} of 0: for XOR the lowest",
        "cross-entropy one neuron can reach is at w = 0, b = 0, answering 0.5 for every input",
        f"(loss ln 2 = {math.log(2):.4f}). Counting 0.5 as '0', that is {res.correct} of 4.",
        f"The best straight line among {bl.n_lines:,} tried: {_line_equation(*bl.w, bl.b)}, "
        f"{bl.correct} of 4 right;",
        "no line gets all four. A hidden layer fixes this: run `scratchnet xor`.",
    ]
    return "\n".join(lines)


def classify_grid(res: ClassifyResult, n: int = 161, lo: float = -0.5, hi: float = 1.5):
    """The neuron's output over ``[lo, hi]^2``: ``g (n,)`` and ``out (n, n)``
    (row i is x2 = g[i])."""
    g = np.linspace(lo, hi, n, dtype=np.float32)
    xx1, xx2 = np.meshgrid(g, g)
    out = res.model.predict(np.column_stack([xx1.ravel(), xx2.ravel()]))
    return g, out.reshape(n, n)


def save_classify_run(res: ClassifyResult, out_dir) -> Path:
    from ..plots.neuron import gate_figure, loss_curve_figure
    from ..report import RunFolder

    cfg = res.config
    run = RunFolder(out_dir, "neuron", {"task": "classify", **asdict(cfg)},
                    title=f"scratchnet neuron classify: one neuron and the {cfg.gate.upper()} gate")
    run.add_metrics({"right answers": f"{res.correct}/4", "final loss": float(res.loss[-1]),
                     "w1": float(res.w[0]), "w2": float(res.w[1]), "b": res.b},
                    formats={"final loss": ".4f", "w1": ".3f", "w2": ".3f", "b": ".3f"})
    run.add_text("Result", format_classify(res))
    run.add_table("Truth table", ["x1", "x2", "output", "expected"],
                  [[a, b, float(res.outputs[i]), int(res.y[i])] for i, (a, b) in enumerate(INPUTS)],
                  formats={"output": ".3f"})
    g, out = classify_grid(res)
    line = None
    if res.best_line is not None:
        bl = res.best_line
        pred = (res.X.astype(np.float64) @ np.array(bl.w) + bl.b) > 0
        wrong = [f"[{a} {b}]" for (a, b), p, t in zip(INPUTS, pred, res.y, strict=True)
                 if p != (t > 0.5)]
        line = (bl.w, bl.b, f"best straight line: {bl.correct} of 4 right "
                f"({', '.join(wrong)} wrong)")
    if float(out.max() - out.min()) > 0.02:
        label = "neuron's line: " + _line_equation(float(res.w[0]), float(res.w[1]), res.b)
    else:
        label = f"neuron: output {float(out.mean()):.2f} everywhere, no line"
    run.save_figure(gate_figure(g, out, res.X, res.y, label, cfg.gate.upper(), best=line),
                    "boundary.png", "The neuron's output over the plane, its 0.5 line (where it "
                    "switches from answering 0 to 1) and the four inputs of the truth table.")
    run.save_figure(loss_curve_figure(res.loss, "BCE"), "loss.png", "Loss per epoch.")
    res.model.save(run.path / "model.npz")
    run.add_file("model.npz", "The trained neuron (load with scratchnet.load_model).")
    run.finish()
    return run.path
