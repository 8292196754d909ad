"""One training step of the XOR network, written out as a chain-rule ledger.

The network is ``Dense(2, H) -> Sigmoid -> Dense(H, 1) -> Sigmoid`` (H = 2: the 2-2-1
network of ``scratchnet xor``). For a batch ``X (n, 2)`` with targets ``y (n, 1)`` the
ledger lists, in order:

forward::

    z1 = X @ W1 + b1           (n, 2) @ (2, H) + (1, H) -> (n, H)
    a1 = sigmoid(z1)           (n, H)
    z2 = a1 @ W2 + b2          (n, H) @ (H, 1) + (1, 1) -> (n, 1)
    a2 = sigmoid(z2)           (n, 1)
    L  = mean((a2 - y)^2)                          (MSE, seed 000)
       = -mean(y log a2 + (1 - y) log(1 - a2))     (BCE, seed 003)

backward, each factor of the chain rule named (the seed-000 order)::

    dL/da2  = 2 (a2 - y) / n                 MSE
            = (a2 - y) / (a2 (1 - a2)) / n   BCE
    da2/dz2 = a2 (1 - a2)                    the sigmoid's derivative, element by element
    dL/dz2  = dL/da2 * da2/dz2               BCE: also (a2 - y) / n, the short route
    dL/dW2  = a1^T @ dL/dz2                  (H, n) @ (n, 1) -> (H, 1)
    dL/db2  = sum over the batch of dL/dz2   (1, 1)
    dL/da1  = dL/dz2 @ W2^T                  (n, 1) @ (1, H) -> (n, H)
    da1/dz1 = a1 (1 - a1)
    dL/dz1  = dL/da1 * da1/dz1               (n, H)
    dL/dW1  = X^T @ dL/dz1                   (2, n) @ (n, H) -> (2, H)
    dL/db1  = sum over the batch of dL/dz1   (1, H)

and the update ``P_new = P - lr * dL/dP`` of every parameter.

Where the ``1/n`` goes: the seed notes write ``dz2 = a2 - y`` and divide by ``len(X)``
when forming ``dW2`` and ``db2``; the engine, like this ledger, keeps the mean's ``1/n``
in ``dL/da2``. The products are the same numbers.

Every gradient has a numerical estimate beside it: the loss recomputed with that one
quantity nudged by ``+h`` and ``-h`` (everything downstream of it recomputed), divided
by ``2h``. For the two local derivatives ``da2/dz2`` and ``da1/dz1`` the estimate is
``(sigmoid(z + h) - sigmoid(z - h)) / 2h``. All in float64, where the two agree to
~1e-10. The engine's own backward pass (``Sequential.backward`` with the same weights)
is run too, and its dW1, db1, dW2, db2 are compared with the ledger's.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ConfigError, ModelFileError
from ..gradcheck import central_differences
from .boolean import INPUTS

H_STEP = 1e-6  # finite-difference step (float64)


@dataclass
class ExplainConfig:
    """loss : "bce" or "mse".  sample : one input such as (1, 0), or None for all four.
    weights : "random" (seeded initialisation), "trained" (``run_xor`` with ``seed``) or the
    path of a model saved by ``scratchnet xor``.  lr : learning rate of the update shown.
    hidden : hidden units for random weights.  init : their initialiser."""

    loss: str = "bce"
    sample: tuple[int, int] | None = None
    weights: str = "random"
    seed: int = 0
    lr: float = 5.0
    hidden: int = 2
    init: str = "xavier_uniform"

    def __post_init__(self) -> None:
        if self.loss not in ("bce", "mse"):
            raise ConfigError(f"loss must be 'bce' or 'mse', got {self.loss!r}")
        if self.sample is not None:
            s = tuple(self.sample)
            if s not in INPUTS:
                raise ConfigError(
                    "sample must be one of the four XOR inputs 0,0 0,1 1,0 1,1, got "
                    f"{self.sample!r}"
                )
            self.sample = (int(s[0]), int(s[1]))
        if not isinstance(self.weights, str | Path) or not str(self.weights):
            raise ConfigError("weights must be 'random', 'trained' or a model file path")
        if isinstance(self.lr, bool) or not isinstance(self.lr, int | float) or not (
            math.isfinite(self.lr) and self.lr > 0
        ):
            raise ConfigError(f"lr must be a positive number, got {self.lr!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ConfigError(f"seed must be an integer >= 0, got {self.seed!r}")


@dataclass
class LedgerLine:
    """One line of the ledger.

    phase : "forward", "backward" or "update".  name : e.g. "dL/dz2".  formula : how it
    is computed from earlier lines.  shapes : the shapes involved, e.g.
    "(4, 1) * (4, 1) -> (4, 1)".  value : the array.  numeric : its finite-difference
    estimate (None where there is nothing to estimate).
    """

    phase: str
    name: str
    formula: str
    shapes: str
    value: np.ndarray
    numeric: np.ndarray | None = None
    note: str = ""

    @property
    def max_diff(self) -> float | None:
        if self.numeric is None:
            return None
        return float(np.max(np.abs(self.value - self.numeric)))


@dataclass
class Ledger:
    """The whole step. X (n, 2), y (n, 1). params : W1, b1, W2, b2 before the step
    (biases as rows (1, H), (1, 1)). engine_diff : largest difference between the ledger's
    parameter gradients and the engine's. short_route_diff : BCE only, |long - short|."""

    config: ExplainConfig
    X: np.ndarray
    y: np.ndarray
    params: dict[str, np.ndarray]
    lines: list[LedgerLine]
    loss_value: float
    new_loss: float
    engine_diff: dict[str, float]
    short_route_diff: float | None
    weights_source: str
    grads: dict[str, np.ndarray] = field(default_factory=dict)

    def line(self, name: str) -> LedgerLine:
        for ln in self.lines:
            if ln.name == name:
                return ln
        raise KeyError(name)

    @property
    def max_numeric_diff(self) -> float:
        return max(ln.max_diff for ln in self.lines if ln.max_diff is not None)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    from ..layers.activations import sigmoid

    return sigmoid(np.asarray(z, dtype=np.float64))


def _loss(a2: np.ndarray, y: np.ndarray, kind: str) -> float:
    if kind == "mse":
        return float(np.mean((a2 - y) ** 2))
    return float(-np.mean(y * np.log(a2) + (1 - y) * np.log1p(-a2)))


def _numeric(f: Callable[[np.ndarray], float], v: np.ndarray, h: float = H_STEP) -> np.ndarray:
    """Central differences of the scalar ``f`` with respect to every element of ``v``."""
    flat = v.reshape(-1)  # a view: nudging flat[i] nudges v
    assert np.shares_memory(flat, v)
    return central_differences(lambda: f(v), flat, np.arange(v.size), h).reshape(v.shape)


def _shape(a: np.ndarray) -> str:
    return str(tuple(a.shape))


def load_weights(cfg: ExplainConfig) -> tuple[dict[str, np.ndarray], str, object]:
    """The four parameters (float64; biases as rows) and a description of where they came from.

    Returns ``(params, source, model)`` where ``model`` is the engine model they came from.
    Raises ModelFileError for a file that is not a 2-H-1 sigmoid network.
    """
    from .xor_stacked import build_network

    w = str(cfg.weights)
    if w == "random":
        model = build_network(cfg.hidden, "sigmoid", cfg.init, cfg.seed)
        source = f"random ({cfg.init} initialisation, seed {cfg.seed}, biases 0)"
    elif w == "trained":
        from .xor import XorConfig, run_xor

        res = run_xor(XorConfig(loss=cfg.loss, hidden=cfg.hidden, init=cfg.init, seed=cfg.seed))
        model = res.model
        source = (f"trained by `scratchnet xor --loss {cfg.loss} --seed {cfg.seed}` "
                  f"({'solved' if res.solved else 'not solved'}, loss {res.final_loss:.5f})")
    else:
        from ..io import load_model

        model = load_model(w)
        kinds = [type(layer).__name__ for layer in model.layers]
        ok = kinds == ["Dense", "Sigmoid", "Dense", "Sigmoid"]
        if ok:
            d0, d2 = model.layers[0], model.layers[2]
            ok = d0.n_in == 2 and d2.n_out == 1 and d0.n_out == d2.n_in
        if not ok:
            raise ModelFileError(
                f"{w}: expected a 2-H-1 sigmoid network as saved by scratchnet xor "
                f"(Dense(2, H), Sigmoid, Dense(H, 1), Sigmoid), got {', '.join(kinds)}"
            )
        source = f"file {w}"
    state = model.state_dict()
    params = {
        "W1": state["0.W"].astype(np.float64),
        "b1": state["0.b"].astype(np.float64).reshape(1, -1),
        "W2": state["2.W"].astype(np.float64),
        "b2": state["2.b"].astype(np.float64).reshape(1, -1),
    }
    return params, source, model


def explain_step(config: ExplainConfig | None = None) -> Ledger:
    """Compute the ledger of one gradient-descent step (see the module docstring)."""
    cfg = config or ExplainConfig()
    params, source, _ = load_weights(cfg)
    X_all = np.array(INPUTS, dtype=np.float64)
    y_all = np.array([[0], [1], [1], [0]], dtype=np.float64)
    if cfg.sample is None:
        X, y = X_all, y_all
    else:
        i = INPUTS.index(cfg.sample)
        X, y = X_all[i : i + 1], y_all[i : i + 1]
    return ledger_for(params, X, y, cfg, source)


def ledger_for(params: dict[str, np.ndarray], X: np.ndarray, y: np.ndarray,
               cfg: ExplainConfig, source: str = "given") -> Ledger:
    """The ledger for explicit float64 parameters ``W1 (2, H)``, ``b1 (1, H)``, ``W2 (H, 1)``,
    ``b2 (1, 1)`` on ``X (n, 2)``, ``y (n, 1)``."""
    W1, b1, W2, b2 = (np.array(params[k], dtype=np.float64) for k in ("W1", "b1", "W2", "b2"))
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    kind = cfg.loss
    L_of_a2 = lambda a2: _loss(a2, y, kind)  # noqa: E731 - one-line links of the chain
    L_of_z2 = lambda z2: L_of_a2(_sigmoid(z2))  # noqa: E731

    # ---- forward ----
    z1 = X @ W1 + b1
    a1 = _sigmoid(z1)
    z2 = a1 @ W2 + b2
    a2 = _sigmoid(z2)
    L = _loss(a2, y, kind)
    lines = [
        LedgerLine("forward", "z1", "X @ W1 + b1", f"{_shape(X)} @ {_shape(W1)} + {_shape(b1)} "
                   f"-> {_shape(z1)}", z1),
        LedgerLine("forward", "a1", "sigmoid(z1)", _shape(a1), a1),
        LedgerLine("forward", "z2", "a1 @ W2 + b2", f"{_shape(a1)} @ {_shape(W2)} + {_shape(b2)} "
                   f"-> {_shape(z2)}", z2),
        LedgerLine("forward", "a2", "sigmoid(z2)", _shape(a2), a2),
        LedgerLine("forward", "L", "mean((a2 - y)^2)" if kind == "mse" else
                   "-mean(y log a2 + (1 - y) log(1 - a2))", "scalar", np.array(L)),
    ]

    # ---- backward, one named factor at a time ----
    if kind == "mse":
        dL_da2 = 2 * (a2 - y) / a2.size
        f_da2 = f"2 (a2 - y) / {a2.size}"
    else:
        dL_da2 = (a2 - y) / (a2 * (1 - a2)) / a2.size
        f_da2 = f"(a2 - y) / (a2 (1 - a2)) / {a2.size}"
    da2_dz2 = a2 * (1 - a2)
    dL_dz2 = dL_da2 * da2_dz2
    dL_dW2 = a1.T @ dL_dz2
    dL_db2 = dL_dz2.sum(axis=0, keepdims=True)
    dL_da1 = dL_dz2 @ W2.T
    da1_dz1 = a1 * (1 - a1)
    dL_dz1 = dL_da1 * da1_dz1
    dL_dW1 = X.T @ dL_dz1
    dL_db1 = dL_dz1.sum(axis=0, keepdims=True)

    def full_loss(w1=W1, c1=b1, w2=W2, c2=b2) -> float:
        return L_of_a2(_sigmoid(_sigmoid(X @ w1 + c1) @ w2 + c2))

    num = {
        "dL/da2": _numeric(L_of_a2, a2.copy()),
        "da2/dz2": (_sigmoid(z2 + H_STEP) - _sigmoid(z2 - H_STEP)) / (2 * H_STEP),
        "dL/dz2": _numeric(L_of_z2, z2.copy()),
        "dL/dW2": _numeric(lambda w: full_loss(w2=w), W2.copy()),
        "dL/db2": _numeric(lambda c: full_loss(c2=c), b2.copy()),
        "dL/da1": _numeric(lambda a: L_of_z2(a @ W2 + b2), a1.copy()),
        "da1/dz1": (_sigmoid(z1 + H_STEP) - _sigmoid(z1 - H_STEP)) / (2 * H_STEP),
        "dL/dz1": _numeric(lambda z: L_of_z2(_sigmoid(z) @ W2 + b2), z1.copy()),
        "dL/dW1": _numeric(lambda w: full_loss(w1=w), W1.copy()),
        "dL/db1": _numeric(lambda c: full_loss(c1=c), b1.copy()),
    }
    s = _shape
    back = [
        ("dL/da2", f_da2, s(dL_da2), dL_da2, "how the loss changes with each output"),
        ("da2/dz2", "a2 (1 - a2)", s(da2_dz2), da2_dz2, "sigmoid's derivative, at most 0.25"),
        ("dL/dz2", "dL/da2 * da2/dz2", f"{s(dL_da2)} * {s(da2_dz2)} -> {s(dL_dz2)}", dL_dz2,
         "chain rule, element by element"),
        ("dL/dW2", "a1^T @ dL/dz2", f"{s(a1.T)} @ {s(dL_dz2)} -> {s(dL_dW2)}", dL_dW2,
         "each hidden activation times the output's error, summed over the batch"),
        ("dL/db2", "sum over the batch of dL/dz2", s(dL_db2), dL_db2, ""),
        ("dL/da1", "dL/dz2 @ W2^T", f"{s(dL_dz2)} @ {s(W2.T)} -> {s(dL_da1)}", dL_da1,
         "the error sent back to each hidden unit through its output weight"),
        ("da1/dz1", "a1 (1 - a1)", s(da1_dz1), da1_dz1, "sigmoid's derivative at the hidden layer"),
        ("dL/dz1", "dL/da1 * da1/dz1", f"{s(dL_da1)} * {s(da1_dz1)} -> {s(dL_dz1)}", dL_dz1, ""),
        ("dL/dW1", "X^T @ dL/dz1", f"{s(X.T)} @ {s(dL_dz1)} -> {s(dL_dW1)}", dL_dW1,
         "each input times each hidden unit's error, summed over the batch"),
        ("dL/db1", "sum over the batch of dL/dz1", s(dL_db1), dL_db1, ""),
    ]
    for name, formula, shapes, value, note in back:
        lines.append(LedgerLine("backward", name, formula, shapes, value, num[name], note))
    short_diff = None
    if kind == "bce":
        short = (a2 - y) / a2.size
        short_diff = float(np.max(np.abs(short - dL_dz2)))
        idx = next(i for i, ln in enumerate(lines) if ln.name == "dL/dz2") + 1
        lines.insert(idx, LedgerLine(
            "backward", "dL/dz2 (short route)", f"(a2 - y) / {a2.size}", s(short), short,
            num["dL/dz2"],
            "sigmoid and cross-entropy cancel: (a2 - y)/(a2 (1 - a2)) * a2 (1 - a2) = a2 - y; "
            f"differs from the long chain above by {short_diff:.1e}",
        ))

    # ---- update ----
    grads = {"W1": dL_dW1, "b1": dL_db1, "W2": dL_dW2, "b2": dL_db2}
    new = {k: v - cfg.lr * grads[k] for k, v in (("W1", W1), ("b1", b1), ("W2", W2), ("b2", b2))}
    for k in ("W1", "b1", "W2", "b2"):  # the seed's order
        lines.append(LedgerLine("update", f"{k} new", f"{k} - {cfg.lr:g} * dL/d{k}",
                                s(new[k]), new[k]))
    new_L = _loss(_sigmoid(_sigmoid(X @ new["W1"] + new["b1"]) @ new["W2"] + new["b2"]), y, kind)

    engine = engine_gradients({"W1": W1, "b1": b1, "W2": W2, "b2": b2}, X, y, kind)
    engine_diff = {k: float(np.max(np.abs(engine[k] - grads[k]))) for k in grads}
    return Ledger(cfg, X, y, {"W1": W1, "b1": b1, "W2": W2, "b2": b2}, lines, L, new_L,
                  engine_diff, short_diff, source, grads)


def engine_gradients(params: dict[str, np.ndarray], X: np.ndarray, y: np.ndarray,
                     loss: str) -> dict[str, np.ndarray]:
    """The engine's gradients for the same weights: ``Sequential.forward``, ``loss.forward``,
    ``Sequential.backward(loss.backward())``, in float64. Biases returned as rows."""
    from ..layers import Dense, Sigmoid
    from ..losses import get_loss
    from ..model import Sequential

    H = params["W1"].shape[1]
    model = Sequential([Dense(2, H, dtype=np.float64), Sigmoid(), Dense(H, 1, dtype=np.float64),
                        Sigmoid()])
    model.load_state_dict({"0.W": params["W1"], "0.b": params["b1"].ravel(),
                           "2.W": params["W2"], "2.b": params["b2"].ravel()})
    lossf = get_loss(loss)
    out = model.forward(np.asarray(X, dtype=np.float64))
    lossf.forward(out, np.asarray(y, dtype=np.float64))
    model.backward(lossf.backward())
    d0, d2 = model.layers[0], model.layers[2]
    return {"W1": d0.dW.copy(), "b1": d0.db.reshape(1, -1).copy(),
            "W2": d2.dW.copy(), "b2": d2.db.reshape(1, -1).copy()}


# -- printing --------------------------------------------------------------------------------


def _matrix_lines(a: np.ndarray, digits: int = 5) -> list[str]:
    a = np.asarray(a, dtype=np.float64)
    if a.ndim == 0:
        return [f"{float(a):.{digits}f}"]
    a2 = a.reshape(1, -1) if a.ndim == 1 else a
    if np.all(a2 == np.round(a2)) and np.all(np.abs(a2) < 1e6):  # data: 0/1 inputs and targets
        cells = [[str(int(v)) for v in row] for row in a2]
    else:
        cells = [[f"{v:.{digits}g}" if abs(v) < 1e-3 and v != 0 else f"{v:.{digits}f}"
                  for v in row] for row in a2]
    width = max(len(c) for row in cells for c in row)
    out = []
    for i, row in enumerate(cells):
        inner = " ".join(c.rjust(width) for c in row)
        out.append(("[[" if i == 0 else " [") + inner + ("]]" if i == len(cells) - 1 else "]"))
    return out


def _inline(a: np.ndarray, digits: int = 5) -> str:
    return " ".join(s.strip() for s in _matrix_lines(a, digits))


def _header(led: Ledger) -> list[str]:
    cfg = led.config
    n = len(led.X)
    batch = ("the whole batch: all four inputs" if cfg.sample is None
             else f"one sample: input [{cfg.sample[0]} {cfg.sample[1]}]")
    loss = {"bce": "binary cross-entropy (seed 003)", "mse": "mean squared error (seed 000)"}
    return [
        f"One gradient-descent step of the 2-{led.params['W1'].shape[1]}-1 network on {batch}, "
        f"n = {n}.",
        f"Loss: {loss[cfg.loss]}. Weights: {led.weights_source}. Learning rate {cfg.lr:g}.",
        "Every gradient is checked against a numerical estimate: the loss recomputed with that "
        f"quantity nudged by +{H_STEP:g} and -{H_STEP:g}, the difference divided by "
        f"{2 * H_STEP:g} (float64).",
    ]


def _footer(led: Ledger) -> list[str]:
    worst_engine = max(led.engine_diff.values())
    lines = [
        f"Largest difference between a gradient and its numerical estimate: "
        f"{led.max_numeric_diff:.1e}.",
        "The engine's backward pass (Sequential.backward) gives dL/dW1, dL/db1, dL/dW2, dL/db2 "
        f"equal to these within {worst_engine:.1e}.",
        f"Loss before the step {led.loss_value:.6f}, after it {led.new_loss:.6f} "
        f"({'down' if led.new_loss < led.loss_value else 'up'} by "
        f"{abs(led.loss_value - led.new_loss):.2e}).",
        "The seed notes write dz2 = a2 - y and divide by len(X) in dW2 and db2; here, as in the "
        "engine, the mean's 1/n sits in dL/da2, so dL/dz2 already includes it. The products are "
        "the same.",
    ]
    return lines


def _wrap(text: str, indent: str = "", width: int = 92) -> list[str]:
    return textwrap.wrap(text, width=width, initial_indent=indent, subsequent_indent=indent)


def format_ledger_text(led: Ledger) -> str:
    out = _wrap(" ".join(_header(led)))
    titles = {"forward": "FORWARD PASS", "backward": "BACKWARD PASS (chain rule, output to input)",
              "update": f"UPDATE (gradient descent, learning rate {led.config.lr:g})"}
    params_lines = ["", "Data and parameters before the step:"]
    for k, v in (("X", led.X), ("y", led.y), *led.params.items()):
        m = _matrix_lines(v)
        params_lines.append(f"  {k} {_shape(v)} = {m[0]}")
        params_lines += [" " * (len(k) + len(_shape(v)) + 6) + r for r in m[1:]]
    out += params_lines
    phase = None
    step = 0
    for ln in led.lines:
        if ln.phase != phase:
            phase = ln.phase
            out += ["", titles[phase], "-" * len(titles[phase])]
        step += 1
        out.append(f"{step:>2}. {ln.name} = {ln.formula}    shape {ln.shapes}")
        if ln.note:
            out += _wrap(f"({ln.note})", "    ")
        val = _matrix_lines(ln.value)
        if ln.numeric is None:
            out += ["    " + r for r in val]
            continue
        est = _matrix_lines(ln.numeric)
        w = max(len(r) for r in val)
        out.append("    " + "value".ljust(w) + "   numerical estimate")
        for i in range(len(val)):
            tail = f"   max |difference| {ln.max_diff:.1e}" if i == len(val) - 1 else ""
            out.append("    " + val[i].ljust(w) + "   " + est[i] + tail)
    out += [""]
    for para in _footer(led):
        out += _wrap(para)
    return "\n".join(out)


def format_ledger_markdown(led: Ledger) -> str:
    out = ["# One training step, written out", ""]
    out += [" ".join(_header(led)), ""]
    out += ["Data and parameters before the step:", ""]
    for k, v in (("X", led.X), ("y", led.y), *led.params.items()):
        out.append(f"- `{k}` {_shape(v)} = `{_inline(v)}`")
    titles = {"forward": "Forward pass", "backward": "Backward pass (chain rule)",
              "update": f"Update (learning rate {led.config.lr:g})"}
    phase = None
    step = 0
    notes: list[str] = []
    for ln in led.lines:
        if ln.phase != phase:
            if notes:
                out += [""] + notes
                notes = []
            phase = ln.phase
            out += ["", f"## {titles[phase]}", ""]
            if phase == "backward":
                out += ["| # | quantity | formula | shapes | value | numerical estimate "
                        "| max diff |", "|---|---|---|---|---|---|---|"]
            else:
                out += ["| # | quantity | formula | shapes | value |", "|---|---|---|---|---|"]
        step += 1
        if ln.note:
            notes.append(f"- step {step}, `{ln.name}`: {ln.note}.")
        cells = [str(step), f"`{ln.name}`", f"`{ln.formula}`", ln.shapes, f"`{_inline(ln.value)}`"]
        if phase == "backward":
            cells += [f"`{_inline(ln.numeric)}`" if ln.numeric is not None else "",
                      f"{ln.max_diff:.1e}" if ln.max_diff is not None else ""]
        out.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    out += [""] + [" ".join(_footer(led))]
    return "\n".join(out) + "\n"
