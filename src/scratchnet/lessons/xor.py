"""The XOR lesson: a 2-2-1 sigmoid network learns exclusive-or, and shows how.

XOR is 1 when exactly one input is 1. No straight line separates its two classes in
the plane, so one neuron cannot learn it (``scratchnet neuron classify --gate xor``);
two hidden units can. The network, with ``H = 2`` hidden units::

    z1 = X @ W1 + b1      X (4, 2)  W1 (2, H)  b1 (1, H)  ->  z1, a1 (4, H)
    a1 = sigmoid(z1)
    z2 = a1 @ W2 + b2     W2 (H, 1)  b2 (1, 1)            ->  z2, a2 (4, 1)
    a2 = sigmoid(z2)      the probability that the answer is 1

has ``2H + H + H + 1`` parameters: 9 for ``H = 2``. It is built and trained with the
engine (``Sequential``, ``Dense``, ``Sigmoid``, a loss and an optimiser), full batch:
every epoch is one gradient step on all four inputs.

Plain gradient descent fails on about one random start in five: the hidden layer
ends up giving two inputs of different classes the same hidden values, the output
unit cannot tell them apart, and the loss stops falling with a point still wrong
(see :func:`diagnose_plateau`). :func:`run_xor` notices this (:class:`StuckDetector`),
says so, and starts again from fresh weights. :func:`run_xor_seeds` measures how
often each setting gets stuck, training many seeds at once with
:mod:`scratchnet.lessons.xor_stacked`.

Per-attempt seeds: attempt 1 uses ``seed`` itself, so its weights are those of
``Sequential(..., seed=seed)`` and of seed ``seed`` in ``run_xor_seeds``; attempt
``k > 1`` uses :func:`attempt_seed`, derived from ``(seed, k)`` by
``numpy.random.SeedSequence``, so every run is reproducible.
"""

from __future__ import annotations

import math
import textwrap
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..callbacks import Callback
from ..errors import ConfigError
from .boolean import (
    INPUTS,
    THRESHOLDS,
    UnitName,
    compose,
    function_from_table,
    name_units,
)
from .xor_stacked import HIDDEN_ACTIVATIONS, LOSSES, build_network

#: Learning rate used when none is given, per optimiser. Chosen by measurement with
#: ``run_xor_seeds`` (docs/lessons/xor.md has the figures): SGD at 5.0 solves XOR as
#: often as any rate tried and in ~100 epochs; adaptive optimisers need small rates.
DEFAULT_LR = {"sgd": 5.0, "momentum": 1.0, "rmsprop": 0.01, "adam": 0.01, "adamw": 0.01}
#: Plain SGD at 5.0 kills ReLU hidden units (their input goes negative for every sample
#: and their slope is 0 there); 1.0 does as well as smaller rates.
RELU_SGD_LR = 1.0
OPTIMIZERS = tuple(DEFAULT_LR)


def default_lr(optimizer: str, activation: str = "sigmoid") -> float:
    """The learning rate used when none is given (see :data:`DEFAULT_LR`)."""
    if optimizer == "sgd" and activation == "relu":
        return RELU_SGD_LR
    return DEFAULT_LR[optimizer]
INITS = (
    "xavier_uniform",
    "xavier_normal",
    "he_uniform",
    "he_normal",
    "lecun_uniform",
    "lecun_normal",
    "normal",
    "uniform",
)

#: Hidden values of two inputs closer than this (largest coordinate difference) count
#: as "the same point" for the hidden layer. Stuck runs measure ~1e-4.
MERGE_TOL = 0.05


@dataclass
class XorConfig:
    """Settings of one ``scratchnet xor`` run (also of ``run_xor_seeds``, minus restarts).

    loss : "bce" (seed 003) or "mse" (seed 000).  hidden : units H.
    activation : hidden activation ("sigmoid", "tanh", "relu"); the output is sigmoid.
    init : weight initialiser name.  optimizer : "sgd", "momentum", "rmsprop", "adam", "adamw".
    lr : learning rate, None for :func:`default_lr` of the optimiser and activation.
    epochs : gradient steps per attempt (full batch: one step per epoch).
    seed : seed of attempt 1.  attempts : most attempts before giving up (1 = no restarts).
    stuck_warmup, stuck_window, stuck_tol : the plateau test of :class:`StuckDetector`.
    """

    loss: str = "bce"
    hidden: int = 2
    activation: str = "sigmoid"
    init: str = "xavier_uniform"
    optimizer: str = "sgd"
    lr: float | None = None
    epochs: int = 3000
    seed: int = 0
    attempts: int = 5
    stuck_warmup: int = 300
    stuck_window: int = 200
    stuck_tol: float = 1e-3

    def __post_init__(self) -> None:
        if self.loss not in LOSSES:
            raise ConfigError(f"loss must be one of {', '.join(LOSSES)}, got {self.loss!r}")
        if self.activation not in HIDDEN_ACTIVATIONS:
            raise ConfigError(
                f"activation must be one of {', '.join(HIDDEN_ACTIVATIONS)}, "
                f"got {self.activation!r}"
            )
        if self.init not in INITS:
            raise ConfigError(f"init must be one of {', '.join(INITS)}, got {self.init!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError(
                f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {self.optimizer!r}"
            )
        _check_int(self.hidden, "hidden (number of hidden units)", 1, 64)
        _check_int(self.epochs, "epochs", 1, 1_000_000)
        _check_int(self.seed, "seed", 0, 2**63 - 1)
        _check_int(self.attempts, "attempts", 1, 100)
        _check_int(self.stuck_warmup, "stuck_warmup", 0, 10**9)
        _check_int(self.stuck_window, "stuck_window", 1, 10**9)
        if self.lr is None:
            self.lr = default_lr(self.optimizer, self.activation)
        if isinstance(self.lr, bool) or not isinstance(self.lr, int | float) or not (
            math.isfinite(self.lr) and self.lr > 0
        ):
            raise ConfigError(f"lr (learning rate) must be a positive number, got {self.lr!r}")
        self.lr = float(self.lr)
        if not (isinstance(self.stuck_tol, int | float) and 0 <= self.stuck_tol < 1):
            raise ConfigError(f"stuck_tol must be in [0, 1), got {self.stuck_tol!r}")

    @property
    def n_params(self) -> int:
        """``2H + H`` (hidden layer) ``+ H + 1`` (output layer)."""
        return 4 * self.hidden + 1


def _check_int(value, name: str, lo: int, hi: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or not lo <= value <= hi:
        raise ConfigError(f"{name} must be an integer in [{lo}, {hi}], got {value!r}")


def xor_data() -> tuple[np.ndarray, np.ndarray]:
    """The XOR truth table: ``X (4, 2)`` rows 00, 01, 10, 11 and ``y (4, 1)`` = 0, 1, 1, 0."""
    X = np.array(INPUTS, dtype=np.float32)
    y = np.array([[0], [1], [1], [0]], dtype=np.float32)
    return X, y


def attempt_seed(seed: int, attempt: int) -> int:
    """Seed of attempt ``attempt`` (1-based): ``seed`` itself for attempt 1, else a
    number derived from ``(seed, attempt)`` with ``numpy.random.SeedSequence``."""
    if attempt == 1:
        return int(seed)
    return int(np.random.SeedSequence([int(seed), int(attempt)]).generate_state(1)[0])


def baseline_loss(y: np.ndarray, loss: str) -> float:
    """Loss of the best constant answer (the mean target for every input): what a network
    that has learned nothing about the inputs scores. ln 2 = 0.693 (BCE), 0.25 (MSE) on XOR."""
    p = float(np.mean(y))
    if loss == "mse":
        return float(np.mean((y - p) ** 2))
    if p in (0.0, 1.0):
        return 0.0
    return -(p * math.log(p) + (1 - p) * math.log(1 - p))


# -- stuck detection ------------------------------------------------------------------


class StuckDetector(Callback):
    """Stops ``fit`` when training is stuck. The definition, checked after every epoch:

    * at least ``warmup`` epochs have run, and
    * a point is still wrong (accuracy below 1), and
    * the loss is below ``level`` (90% of :func:`baseline_loss`): the network has left
      the starting plateau, where every output is near the mean target and gradient
      descent is still finding its way, and
    * over the last ``window`` epochs the loss fell by less than ``tol`` (relative):
      ``loss[t - window] - loss[t] < tol * loss[t - window]``.

    Measured on 1000 seeds (BCE and MSE, SGD lr 2 to 10): every run that ends unsolved is
    flagged, after ~700 to 2000 epochs, and about 2 in 1000 runs that are flagged would
    have solved XOR eventually, after several thousand more epochs.
    """

    def __init__(self, warmup: int = 300, window: int = 200, tol: float = 1e-3,
                 level: float = math.log(2) * 0.9):
        self.warmup, self.window, self.tol, self.level = warmup, window, tol, level
        self.losses: list[float] = []
        self.stuck_epoch: int | None = None  # 1-based epoch at which it was flagged

    def on_train_begin(self, logs=None) -> None:
        self.losses = []
        self.stuck_epoch = None

    def on_epoch_end(self, epoch: int, logs: dict) -> None:
        self.losses.append(float(logs["loss"]))
        n = len(self.losses)
        if self.stuck_epoch is not None or n < max(self.warmup, self.window + 1):
            return
        if logs.get("accuracy", 0.0) >= 1.0:
            return
        old, new = self.losses[-1 - self.window], self.losses[-1]
        if new < self.level and old - new < self.tol * old:
            self.stuck_epoch = epoch + 1
            self.model.stop_training = True


def stuck_epochs(loss: np.ndarray, all_correct: np.ndarray, warmup: int = 300, window: int = 200,
                 tol: float = 1e-3, level: float = math.log(2) * 0.9) -> np.ndarray:
    """:class:`StuckDetector`'s rule applied to recorded histories of many runs at once.

    loss, all_correct : (S, epochs), as recorded by ``train_stacked(..., record_correct=True)``.
    Returns (S,) int: the 1-based epoch at which each run would be flagged, 0 if never.
    """
    loss = np.asarray(loss, dtype=np.float64)
    S, E = loss.shape
    start = max(warmup, window + 1) - 1
    flagged = np.zeros((S, E), dtype=bool)
    if start < E:
        new, old = loss[:, start:], loss[:, start - window : E - window]
        flagged[:, start:] = (~all_correct[:, start:]) & (new < level) & (old - new < tol * old)
    first = flagged.argmax(axis=1)
    return np.where(flagged.any(axis=1), first + 1, 0)


@dataclass
class Plateau:
    """Why a network is stuck, in terms of the four inputs.

    wrong : indices of inputs on the wrong side of 0.5.
    merged : groups of input indices that the hidden layer maps to (nearly) the same
        point while needing different answers; empty when no such group exists.
    """

    wrong: list[int]
    merged: list[list[int]]
    outputs: np.ndarray
    hidden: np.ndarray


def diagnose_plateau(outputs: np.ndarray, hidden: np.ndarray, y: np.ndarray,
                     tol: float = MERGE_TOL) -> Plateau:
    """Find inputs of different classes that share hidden values.

    outputs : (4,) network outputs; hidden : (4, H) hidden activations; y : (4,) targets.
    If two inputs reach the output unit with the same hidden values, it gives them the
    same answer, so with different targets at least one is wrong and the loss cannot
    go below that pair's best compromise (0.5 each for a pair, 2/3 for three inputs of
    which two are 1): the hidden layer must move, and when its units are saturated
    their gradient ``a (1 - a)`` is almost zero, so it does not.
    """
    outputs = np.asarray(outputs, dtype=np.float64).ravel()
    hidden = np.asarray(hidden, dtype=np.float64)
    y = np.asarray(y).ravel()
    wrong = [i for i in range(len(y)) if (outputs[i] > 0.5) != (y[i] > 0.5)]
    groups: list[list[int]] = []
    for i in range(len(y)):
        for g in groups:
            if np.max(np.abs(hidden[i] - hidden[g[0]])) < tol:
                g.append(i)
                break
        else:
            groups.append([i])
    merged = [g for g in groups if len(g) > 1 and len({float(y[i]) for i in g}) > 1]
    return Plateau(wrong, merged, outputs, hidden)


def _fmt_input(i: int) -> str:
    a, b = INPUTS[i]
    return f"[{a} {b}]"


def _fmt_vec(v: np.ndarray, digits: int = 2) -> str:
    return "[" + " ".join(f"{x:.{digits}f}" for x in np.ravel(v)) + "]"


_STUCK_WHY = {
    "saturated": "The hidden units are saturated there (their gradient is almost zero): a "
    "local minimum that gradient descent does not leave.",
    "relu": "The hidden units are switched off there (ReLU's slope is 0 for a negative "
    "input), so no gradient reaches them and gradient descent cannot move them.",
}


def explain_plateau(p: Plateau, y: np.ndarray, activation: str = "sigmoid") -> str:
    """The plateau in words: which outputs are wrong and why the output unit cannot fix them."""
    y = np.asarray(y).ravel()
    lines = []
    if p.wrong:
        parts = [f"{_fmt_input(i)} -> {p.outputs[i]:.2f} (should be {int(y[i])})" for i in p.wrong]
        lines.append("still wrong: " + ", ".join(parts) + ".")
    else:
        lines.append("no output is wrong any more, but the loss is flat.")
    for g in p.merged:
        names = " and ".join(_fmt_input(i) for i in g) if len(g) == 2 else (
            ", ".join(_fmt_input(i) for i in g[:-1]) + " and " + _fmt_input(g[-1])
        )
        targets = ", ".join(str(int(y[i])) for i in g)
        lines.append(
            f"Why: the hidden layer maps {names} to the same point h = "
            f"{_fmt_vec(p.hidden[g[0]])}, so the output unit cannot tell them apart; they need "
            f"answers {targets}, and the best single answer is {np.mean(y[g]):.2f}. "
            + (_STUCK_WHY["relu"] if activation == "relu" else _STUCK_WHY["saturated"])
        )
    if not p.merged:
        lines.append(
            "The loss has stopped falling; from here gradient descent needs many thousands "
            "of epochs, if it gets out at all."
        )
    return " ".join(lines)


# -- one run, with restarts --------------------------------------------------------------


@dataclass
class Attempt:
    """One training attempt from one initialisation.

    outcome : "solved" (all four right after the last epoch), "stuck" (flagged by
    :class:`StuckDetector`) or "out of epochs" (all epochs used, a point still wrong).
    loss : (epochs run,) loss per epoch. message : the plain-words account printed.
    """

    number: int
    seed: int
    outcome: str
    epochs_run: int
    loss: np.ndarray
    final_loss: float
    outputs: np.ndarray
    hidden: np.ndarray
    message: str
    seconds: float


@dataclass
class XorResult:
    """Everything ``run_xor`` found.

    model : the trained engine ``Sequential`` (the solving attempt's, or the last one's).
    X (4, 2), y (4, 1) : the data.  hidden (4, H), outputs (4,) : activations per input.
    params : ``W1 (2, H)``, ``b1 (1, H)``, ``W2 (H, 1)``, ``b2 (1, 1)`` (biases as rows, as
    in the seed notes; the engine stores them as ``(H,)`` and ``(1,)``).
    units : the Boolean name of each hidden unit. output_rule : for H = 2, the output unit
    read as a function of the two hidden units (None otherwise).
    """

    config: XorConfig
    attempts: list[Attempt]
    model: object
    X: np.ndarray
    y: np.ndarray
    hidden: np.ndarray
    outputs: np.ndarray
    params: dict[str, np.ndarray]
    units: list[UnitName]
    output_rule: OutputRule | None
    final_loss: float
    accuracy: float
    seconds: float

    @property
    def solved(self) -> bool:
        return self.attempts[-1].outcome == "solved"

    @property
    def total_epochs(self) -> int:
        return sum(a.epochs_run for a in self.attempts)


@dataclass
class OutputRule:
    """The output unit read as a Boolean function of the hidden units (H = 2 only).

    The output layer is evaluated at the four hidden "corners" (each unit fully off or
    fully on: 0/1 for sigmoid, -1/1 for tanh) and thresholded at 0.5. ``of_inputs`` is
    that rule applied to the hidden units' own functions: what the whole network
    computes if every unit were a clean gate.
    """

    function: object  # BooleanFunction of (Hidden1, Hidden2)
    of_inputs: object  # BooleanFunction of (x1, x2)
    matches_network: bool

    def describe(self) -> str:
        rule = self.function.rename("Hidden1", "Hidden2")
        return f"Output = {rule}"


def output_rule(model, units: list[UnitName], activation: str,
                network_bits: Sequence[int]) -> OutputRule | None:
    """For H = 2 and sigmoid/tanh hidden units: the output unit's rule (see :class:`OutputRule`)."""
    if len(units) != 2 or activation not in ("sigmoid", "tanh"):
        return None
    lo, hi = (0.0, 1.0) if activation == "sigmoid" else (-1.0, 1.0)
    corners = np.array([[lo if a == 0 else hi, lo if b == 0 else hi] for a, b in INPUTS],
                       dtype=np.float32)
    out_layer, out_act = model.layers[2], model.layers[3]
    probs = out_act.forward(out_layer.forward(corners)).ravel()
    rule = function_from_table([int(p > 0.5) for p in probs])
    total = compose(rule, units[0].function, units[1].function)
    return OutputRule(rule, total, list(total.table) == [int(b) for b in network_bits])


def _hidden_and_output(model, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Hidden activations (n, H) and outputs (n,) of the engine model, in inference mode."""
    model.record_outputs = True
    try:
        out = model.predict(X)
        hidden = model.outputs[1].copy()
    finally:
        model.record_outputs = False
        model.outputs = []
    return hidden, out.ravel().copy()


def run_xor(config: XorConfig | None = None,
            progress: Callable[[str], None] | None = None) -> XorResult:
    """Train the XOR network with the engine, restarting when an attempt gets stuck.

    Each attempt builds ``Dense(2, H) -> act -> Dense(H, 1) -> Sigmoid`` with
    ``seed = attempt_seed(config.seed, k)``, compiles it with ``config.loss`` and the
    optimiser, and calls ``model.fit(X, y, epochs, batch_size=None)`` with a
    :class:`StuckDetector`. It ends solved, stuck, or out of epochs; the next attempt
    starts from fresh weights, up to ``config.attempts``.

    progress : called with each line of the running account (epoch lines, restarts),
    as it happens; ``None`` for silence. Returns an :class:`XorResult`.
    """
    from ..callbacks import LambdaCallback

    cfg = config or XorConfig()
    say = progress or (lambda line: None)
    X, y = xor_data()
    level = 0.9 * baseline_loss(y, cfg.loss)
    attempts: list[Attempt] = []
    report_every = max(1, cfg.epochs // 6)
    t_start = time.perf_counter()
    model = None
    for k in range(1, cfg.attempts + 1):
        seed = attempt_seed(cfg.seed, k)
        model = build_network(cfg.hidden, cfg.activation, cfg.init, seed)
        model.compile(loss=cfg.loss, optimizer=cfg.optimizer, lr=cfg.lr)
        detector = StuckDetector(cfg.stuck_warmup, cfg.stuck_window, cfg.stuck_tol, level)

        def log_epoch(epoch: int, logs: dict, k=k) -> None:
            e = epoch + 1
            if e == 1 or e % report_every == 0 or e == cfg.epochs:
                say(f"  epoch {e:>{len(str(cfg.epochs))}}  loss {logs['loss']:.4f}  "
                    f"correct {round(logs['accuracy'] * 4)}/4")

        say(f"Attempt {k} of {cfg.attempts} (initial weights from seed {seed}):")
        t0 = time.perf_counter()
        history = model.fit(X, y, epochs=cfg.epochs, batch_size=None, verbose=0,
                            callbacks=[detector, LambdaCallback(on_epoch_end=log_epoch)])
        seconds = time.perf_counter() - t0
        hidden, outputs = _hidden_and_output(model, X)
        final = float(model.evaluate(X, y)["loss"])
        correct = (outputs > 0.5) == (y.ravel() > 0.5)
        losses = np.asarray(history["loss"], dtype=np.float64)
        if correct.all():
            outcome = "solved"
            msg = (f"Attempt {k} solved XOR: all four outputs on the right side of 0.5 after "
                   f"{len(losses)} epochs (loss {final:.4f}).")
        else:
            plateau = diagnose_plateau(outputs, hidden, y)
            why = explain_plateau(plateau, y, cfg.activation)
            if detector.stuck_epoch is not None:
                outcome = "stuck"
                w = cfg.stuck_window
                head = (f"Attempt {k} is stuck at epoch {detector.stuck_epoch}: in the last {w} "
                        f"epochs the loss only went from {losses[-1 - w]:.5f} to "
                        f"{losses[-1]:.5f}; {why}")
            else:
                outcome = "out of epochs"
                head = (f"Attempt {k} used all {cfg.epochs} epochs without solving XOR (loss "
                        f"{final:.4f}); {why}")
            if k < cfg.attempts:
                head += (f" Restarting from fresh random weights (attempt {k + 1} of "
                         f"{cfg.attempts}).")
            else:
                head += f" That was the last of {cfg.attempts} attempts."
            msg = textwrap.fill(head, width=92, subsequent_indent="  ")
        say(msg)
        attempts.append(Attempt(k, seed, outcome, len(losses), losses, final, outputs,
                                hidden, msg, seconds))
        if outcome == "solved":
            break

    hidden, outputs = attempts[-1].hidden, attempts[-1].outputs
    units = name_units(hidden, cfg.activation)
    state = model.state_dict()
    params = {
        "W1": state["0.W"],
        "b1": state["0.b"].reshape(1, -1),
        "W2": state["2.W"],
        "b2": state["2.b"].reshape(1, -1),
    }
    bits = [int(o > 0.5) for o in outputs]
    rule = output_rule(model, units, cfg.activation, bits)
    correct = (outputs > 0.5) == (y.ravel() > 0.5)
    return XorResult(
        config=cfg, attempts=attempts, model=model, X=X, y=y, hidden=hidden, outputs=outputs,
        params=params, units=units, output_rule=rule, final_loss=attempts[-1].final_loss,
        accuracy=float(correct.mean()), seconds=time.perf_counter() - t_start,
    )


# -- printing -----------------------------------------------------------------------------


def format_architecture(cfg: XorConfig) -> str:
    """The network and its parameter count, shape by shape."""
    H = cfg.hidden
    rows = [
        ("W1", (2, H), "weights input -> hidden"),
        ("b1", (1, H), "biases of the hidden units"),
        ("W2", (H, 1), "weights hidden -> output"),
        ("b2", (1, 1), "bias of the output unit"),
    ]
    lines = [
        f"Network: 2 inputs -> {H} hidden units ({cfg.activation}) -> 1 output (sigmoid)",
    ]
    for name, shape, what in rows:
        lines.append(f"  {name} {str(shape):<8} {math.prod(shape):>3}  {what}")
    lines.append(f"  total       {cfg.n_params:>3}  parameters")
    return "\n".join(lines)


def format_training_setup(cfg: XorConfig) -> str:
    opt = {"sgd": "plain gradient descent (SGD)", "momentum": "SGD with momentum 0.9"}.get(
        cfg.optimizer, cfg.optimizer)
    loss = {"bce": "binary cross-entropy", "mse": "mean squared error"}[cfg.loss]
    return (
        f"Training: {loss} loss, {opt}, learning rate {cfg.lr:g},\n"
        f"  one step per epoch on all 4 inputs, up to {cfg.epochs} epochs per attempt,\n"
        f"  at most {cfg.attempts} attempt{'s' if cfg.attempts > 1 else ''}; "
        f"initial weights {cfg.init}, seed {cfg.seed}."
    )


def format_matrix(name: str, a: np.ndarray, digits: int = 3) -> str:
    """``name (r, c) = [[...], ...]`` with aligned columns."""
    a = np.asarray(a, dtype=np.float64)
    a2 = a.reshape(1, -1) if a.ndim < 2 else a
    cells = [[f"{v:.{digits}f}" for v in row] for row in a2]
    width = max(len(c) for row in cells for c in row)
    head = f"{name} {tuple(a2.shape)} = "
    out = []
    for i, row in enumerate(cells):
        inner = " ".join(c.rjust(width) for c in row)
        prefix = head + "[[" if i == 0 else " " * len(head) + " ["
        suffix = "]]" if i == len(cells) - 1 else "]"
        out.append(prefix + inner + suffix)
    return "\n".join(out)


def format_parameters(result: XorResult) -> str:
    return "\n".join(format_matrix(k, v) for k, v in result.params.items())


def hidden_table_rows(result: XorResult) -> tuple[list[str], list[list]]:
    """Columns ``Input | Hidden1 .. HiddenH | Output | Expected`` and one row per input."""
    H = result.hidden.shape[1]
    cols = ["Input"] + [f"Hidden{j + 1}" for j in range(H)] + ["Output", "Expected"]
    rows = []
    for i, (a, b) in enumerate(INPUTS):
        rows.append([f"[{a} {b}]", *(float(v) for v in result.hidden[i]),
                     float(result.outputs[i]), int(result.y[i, 0])])
    return cols, rows


def format_hidden_table(result: XorResult, approx: str = "≈") -> str:
    """The seed's table (``Input | Hidden1 | Hidden2 | Output | Expected``), then
    :func:`format_unit_names`."""
    cols, rows = hidden_table_rows(result)
    widths = [max(7, len(c)) for c in cols]
    widths[0] = 6
    line = " | ".join(c.center(w) if j else c.ljust(w)
                      for j, (c, w) in enumerate(zip(cols, widths, strict=True)))
    out = [line, "-" * len(line)]
    for row in rows:
        cells = [row[0].ljust(widths[0])]
        cells += [f"{v:.3f}".center(w) for v, w in zip(row[1:-1], widths[1:-1], strict=True)]
        cells.append(str(row[-1]).center(widths[-1]))
        out.append(" | ".join(cells).rstrip())
    return "\n".join(out) + "\n\n" + format_unit_names(result, approx)


def format_unit_names(result: XorResult, approx: str = "≈") -> str:
    """Each hidden unit's Boolean name, and (H = 2) the output unit's rule over them."""
    out = []
    t = THRESHOLDS[result.config.activation]
    for j, u in enumerate(result.units):
        out.append(f"Hidden{j + 1} = {u.label(approx):<15} ({u.describe()})")
    if any(not u.exact for u in result.units):
        out += textwrap.wrap(
            f"(A unit counts as on when its activation is above {t.value:g}; {approx} marks a "
            f"name with an activation within {t.margin:g} of that, where the name is a "
            "rough summary.)", width=92)
    r = result.output_rule
    if r is not None:
        names = [u.name for u in result.units]
        text = r.function.rename(f"({names[0]})", f"({names[1]})")
        out += textwrap.wrap(
            f"{r.describe()}, so the network computes {text} = {r.of_inputs.name}"
            + ("." if r.matches_network else
               ", which differs from its actual outputs: the units are not clean gates."),
            width=92, subsequent_indent="  ")
    return "\n".join(out)


def format_result_summary(result: XorResult, show_time: bool = True) -> str:
    cfg = result.config
    n_att = len(result.attempts)
    if result.solved:
        first = "on the first attempt" if n_att == 1 else f"on attempt {n_att} of {cfg.attempts}"
        head = f"Solved XOR {first}"
    else:
        head = f"Not solved in {n_att} attempt{'s' if n_att > 1 else ''}"
    timing = f", {result.seconds:.2f} s" if show_time else ""
    text = (
        f"{head} ({result.total_epochs} epochs in all{timing}).\n"
        f"Final loss {result.final_loss:.5f} ({cfg.loss}), accuracy "
        f"{round(result.accuracy * 4)}/4 = {result.accuracy:.0%}."
    )
    if not result.solved:
        if cfg.hidden == 1:
            advice = ("With one hidden unit XOR cannot be solved at all: the output is then a "
                      "function of one line's side, and one line cannot separate XOR. Try "
                      "--hidden 2 or more.")
        else:
            advice = ("The last attempt is shown below. More attempts (--attempts) or more "
                      "hidden units (--hidden 3) make success more likely; "
                      "`scratchnet xor --seeds 100` measures how likely.")
        text += "\n" + textwrap.fill(advice, width=92)
    return text


# -- many seeds at once --------------------------------------------------------------------


@dataclass
class SeedsWidth:
    """Results for one hidden width in ``run_xor_seeds``.

    seeds (S,), solved (S,) bool, final_loss (S,), loss (S, epochs) per-epoch loss,
    outputs (S, 4). merged_counts maps a description of where unsolved runs ended
    (which inputs share a hidden point) to (how many runs, their median final loss).
    """

    hidden: int
    seeds: np.ndarray
    solved: np.ndarray
    final_loss: np.ndarray
    loss: np.ndarray
    outputs: np.ndarray
    merged_counts: dict[str, tuple[int, float]]
    seconds: float

    @property
    def n(self) -> int:
        return int(len(self.seeds))

    @property
    def n_solved(self) -> int:
        return int(self.solved.sum())


@dataclass
class SeedsResult:
    config: XorConfig
    n_seeds: int
    widths: list[SeedsWidth] = field(default_factory=list)
    seconds: float = 0.0


def run_xor_seeds(config: XorConfig | None = None, n_seeds: int = 100,
                  hiddens: Sequence[int] | None = None) -> SeedsResult:
    """Train seeds ``config.seed .. config.seed + n_seeds - 1`` without restarts, for each
    hidden width in ``hiddens`` (default ``[config.hidden]``), all seeds at once.

    A seed "converged" when all four outputs are on the right side of 0.5 after
    ``config.epochs`` epochs. Seed ``s`` starts from the same weights as attempt 1 of
    ``run_xor`` with ``seed = s``. Uses :func:`scratchnet.lessons.xor_stacked.train_stacked`.
    """
    from .xor_stacked import forward, initial_weights, train_stacked

    cfg = config or XorConfig()
    _check_int(n_seeds, "number of seeds", 1, 100_000)
    hiddens = [cfg.hidden] if hiddens is None else [int(h) for h in hiddens]
    for h in hiddens:
        _check_int(h, "hidden (number of hidden units)", 1, 64)
    X, y = xor_data()
    t_all = time.perf_counter()
    out = SeedsResult(cfg, int(n_seeds))
    seeds = np.arange(cfg.seed, cfg.seed + n_seeds, dtype=np.int64)
    for h in hiddens:
        t0 = time.perf_counter()
        w0 = initial_weights(seeds, h, cfg.activation, cfg.init)
        run = train_stacked(X, y, w0, loss=cfg.loss, activation=cfg.activation,
                            optimizer=cfg.optimizer, lr=cfg.lr, epochs=cfg.epochs)
        _, a1, _, _ = forward(X, run.weights, cfg.activation)
        kinds: dict[str, list[float]] = {}
        for s in np.flatnonzero(~run.solved):
            p = diagnose_plateau(run.outputs[s], a1[s], y)
            sizes = sorted((len(g) for g in p.merged), reverse=True)
            if sizes:
                key = " and ".join(f"{k} inputs that need different answers" for k in sizes) + (
                    " reach the same hidden point")
            else:
                key = "no two inputs share a hidden point (another plateau, or still moving)"
            kinds.setdefault(key, []).append(float(run.final_loss[s]))
        counts = {k: (len(v), float(np.median(v))) for k, v in kinds.items()}
        out.widths.append(SeedsWidth(h, seeds, run.solved, np.asarray(run.final_loss),
                                     run.loss, run.outputs, counts, time.perf_counter() - t0))
    out.seconds = time.perf_counter() - t_all
    return out


def format_seeds_result(res: SeedsResult) -> str:
    cfg = res.config
    lines = [
        f"{res.n_seeds} seeds ({cfg.seed}..{cfg.seed + res.n_seeds - 1}), no restarts: "
        f"{cfg.loss} loss, {cfg.optimizer} lr {cfg.lr:g}, {cfg.epochs} epochs,",
        f"  {cfg.init} init, {cfg.activation} hidden units.",
        "",
    ]
    for w in res.widths:
        q = np.percentile(w.final_loss, [0, 25, 50, 75, 100])
        lines.append(
            f"2-{w.hidden}-1: {w.n_solved}/{w.n} converged ({w.n_solved / w.n:.1%}), "
            f"{w.seconds:.1f} s"
        )
        lines.append(
            "  final loss: min {:.2g}  25% {:.2g}  median {:.2g}  75% {:.2g}  max {:.3g}".format(*q)
        )
        if w.n_solved < w.n:
            lines.append(f"  {w.n - w.n_solved} unsolved:")
            for k, (count, med) in sorted(w.merged_counts.items(), key=lambda kv: -kv[1][0]):
                lines.append(f"    {count:>5} end near loss {med:.3f}: {k}")
    lines.append("")
    lines.append(f"({res.seconds:.1f} s in all; every seed trained at once, see "
                 "scratchnet.lessons.xor_stacked.)")
    return "\n".join(lines)


# -- run folders -------------------------------------------------------------------------


def decision_grid(model, n: int = 161, lo: float = -0.5, hi: float = 1.5):
    """The model on an ``n x n`` grid over ``[lo, hi]^2``.

    Returns ``g1 (n,)``, ``g2 (n,)``, ``out (n, n)`` (row i = g2[i]) and ``hidden (n, n, H)``.
    """
    g = np.linspace(lo, hi, n, dtype=np.float32)
    xx1, xx2 = np.meshgrid(g, g)
    pts = np.column_stack([xx1.ravel(), xx2.ravel()])
    hidden, out = _hidden_and_output(model, pts)
    return g, g, out.reshape(n, n), hidden.reshape(n, n, -1)


def save_xor_run(result: XorResult, out_dir, approx: str = "≈") -> Path:
    """Write the run folder: figures, the model, run.json and report.html. Returns the folder."""
    from ..plots.xor import decision_boundary_figure, hidden_units_figure, loss_figure
    from ..report import RunFolder

    cfg = result.config
    title = f"scratchnet xor: a 2-{cfg.hidden}-1 network learns XOR"
    run = RunFolder(out_dir, "xor", asdict(cfg), title=title)
    run.add_metrics(
        {
            "final loss": result.final_loss,
            "accuracy": result.accuracy,
            "attempts": len(result.attempts),
            "epochs": result.total_epochs,
            "parameters": cfg.n_params,
            **{f"Hidden{j + 1}": u.label(approx) for j, u in enumerate(result.units)},
        },
        formats={"final loss": ".5f", "accuracy": ".0%"},
    )
    run.add_text("Network", format_architecture(cfg) + "\n\n" + format_training_setup(cfg))
    run.add_text("Training", "\n".join(a.message for a in result.attempts) + "\n\n"
                 + format_result_summary(result))
    cols, rows = hidden_table_rows(result)
    run.add_table("What the hidden units compute", cols, rows,
                  formats={c: ".3f" for c in cols[1:-1]},
                  caption="Each hidden unit's activation and the network's output for the four "
                  "inputs, as in the seed notes.")
    run.add_text("The hidden units as logic gates", format_unit_names(result, approx))
    g1, g2, out, hidden = decision_grid(result.model)
    fig = decision_boundary_figure(g1, g2, out, result.X, result.y.ravel(),
                                   title=f"XOR decision boundary (2-{cfg.hidden}-1 network)")
    run.save_figure(fig, "decision_boundary.png",
                    "Output probability over the input plane. The bold line is where it "
                    "crosses 0.5: the network answers 1 on the red side, 0 on the blue side.")
    names = [u.label(approx) for u in result.units]
    fig = hidden_units_figure(g1, g2, hidden, result.X, result.y.ravel(), names, cfg.activation,
                              THRESHOLDS[cfg.activation].value, result.hidden)
    run.save_figure(fig, "hidden_units.png",
                    "Each hidden unit's activation over the input plane, named by the Boolean "
                    "function it computes on the four inputs (numbers: its activation there).")
    run.add_text("Learned parameters", format_parameters(result))
    fig = loss_figure([a.loss for a in result.attempts], [a.outcome for a in result.attempts],
                      cfg.loss, baseline_loss(result.y, cfg.loss))
    run.save_figure(fig, "loss.png", "Training loss per epoch; each restart begins where the "
                    "previous attempt was abandoned.")
    result.model.save(run.path / "model.npz")
    run.add_file("model.npz", "The trained network; load it with scratchnet.load_model, or "
                 "pass it to scratchnet explain --weights.")
    run.finish()
    return run.path


def save_seeds_run(res: SeedsResult, out_dir) -> Path:
    """Write the ``--seeds`` run folder: the loss-curve picture, a table, report.html."""
    from ..plots.xor import seeds_figure
    from ..report import RunFolder

    cfg = res.config
    conf = {**asdict(cfg), "seeds": res.n_seeds, "hidden": [w.hidden for w in res.widths]}
    run = RunFolder(out_dir, "xor", conf, title="scratchnet xor --seeds: how often does "
                    "gradient descent get stuck?")
    run.add_metrics({f"2-{w.hidden}-1 converged": w.n_solved / w.n for w in res.widths},
                    formats={f"2-{w.hidden}-1 converged": ".1%" for w in res.widths})
    run.add_text("Summary", format_seeds_result(res))
    rows = []
    for w in res.widths:
        q = np.percentile(w.final_loss, [0, 50, 100])
        rows.append([f"2-{w.hidden}-1", w.n_solved, w.n, w.n_solved / w.n, *q])
    run.add_table("Convergence by width", ["network", "converged", "seeds", "rate",
                                           "min loss", "median loss", "max loss"], rows,
                  formats={"rate": ".1%", "min loss": ".2e", "median loss": ".2e",
                           "max loss": ".3f"})
    fig = seeds_figure([w.hidden for w in res.widths], [w.loss for w in res.widths],
                       [w.solved for w in res.widths], cfg.loss)
    run.save_figure(fig, "seeds_loss.png", "Loss curves of every seed; runs that end with a "
                    "point still wrong are drawn in red: they flatten out on a plateau.")
    run.finish()
    return run.path
