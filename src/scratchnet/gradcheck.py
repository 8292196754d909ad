"""Numerical gradient check: is every hand-written gradient right?

For each parameter element ``w`` the loss is evaluated at ``w + h`` and ``w - h``
and the slope estimated by central differences,

    dL/dw ~ (L(w + h) - L(w - h)) / (2h)        error O(h^2)

in float64, and compared with the analytic gradient from ``backward``. The report
gives, per parameter (and for the input), the relative error

    max_i |analytic_i - numeric_i| / max(max_i |analytic_i|, max_i |numeric_i|)

which is ~1e-10 when the math is right and ~1 when it is wrong.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np

from .layers.base import Layer
from .losses import Loss, get_loss


@dataclass
class GradcheckRow:
    name: str
    shape: tuple[int, ...]
    n_checked: int
    max_abs_grad: float
    rel_error: float


@dataclass
class GradcheckReport:
    """Result of ``gradcheck``: one row per parameter and one for the input."""

    title: str
    rows: list[GradcheckRow] = field(default_factory=list)

    @property
    def max_error(self) -> float:
        return max((r.rel_error for r in self.rows), default=0.0)

    def ok(self, tol: float = 1e-6) -> bool:
        return self.max_error < tol

    def errors(self) -> dict[str, float]:
        return {r.name: r.rel_error for r in self.rows}

    def __str__(self) -> str:
        lines = [self.title]
        lines += [
            f"  {r.name:<14} {str(r.shape):<16} checked {r.n_checked:>5}  "
            f"max|grad| {r.max_abs_grad:9.3e}  rel.err {r.rel_error:9.2e}"
            for r in self.rows
        ]
        return "\n".join(lines)


def relative_error(analytic: np.ndarray, numeric: np.ndarray) -> float:
    scale = max(
        float(np.max(np.abs(analytic), initial=0.0)), float(np.max(np.abs(numeric), initial=0.0))
    )
    if scale == 0.0:
        return 0.0
    return float(np.max(np.abs(analytic - numeric))) / scale


def gradcheck(
    model_or_layer,
    X: np.ndarray,
    y: np.ndarray | None = None,
    loss: Loss | str | None = None,
    h: float = 1e-6,
    max_checks: int = 200,
    seed: int = 0,
    check_input: bool = True,
    title: str | None = None,
) -> GradcheckReport:
    """Compare hand-written gradients of a ``Layer`` or ``Sequential`` with central differences.

    The object is copied and converted to float64 first (the original is untouched).
    Without ``loss``/``y`` the check uses ``L = sum(output * R)`` for a fixed random ``R``,
    which exercises every output. Parameters with more than ``max_checks`` elements are
    checked at a random sample of that many positions.
    """
    net = copy.deepcopy(model_or_layer)
    net.astype(np.float64)
    rng = np.random.default_rng(seed)
    x = np.array(X, dtype=np.float64)
    stochastic = [lay for lay in _layers(net) if lay.stochastic]

    def forward(inp):
        for lay in stochastic:  # the same dropout mask at every evaluation
            lay.rng = np.random.default_rng(seed)
        return net.forward(inp)

    out0 = forward(x)
    if loss is None:
        R = rng.standard_normal(out0.shape)
        loss_obj = None
    else:
        loss_obj = get_loss(loss)
        if y is None:
            raise ValueError("gradcheck: pass y together with loss")

    def L(inp) -> float:
        out = forward(inp)
        if loss_obj is None:
            return float(np.sum(out * R))
        return loss_obj.forward(out, y)

    # analytic
    out = forward(x)
    if loss_obj is None:
        grad_out = R.copy()
    else:
        loss_obj.forward(out, y)
        grad_out = loss_obj.backward()
    dx = net.backward(grad_out)
    analytic = {name: g.copy() for name, (_, g) in _named_params(net).items()}

    report = GradcheckReport(title or _describe(model_or_layer))
    checks = [(name, value, analytic[name]) for name, (value, _) in _named_params(net).items()]
    if check_input:
        checks.append(("input", x, dx))
    for name, value, grad in checks:
        idx = _sample(value.size, max_checks, rng)
        numeric = central_differences(lambda: L(x), value.reshape(-1), idx, h)
        a = grad.reshape(-1)[idx]
        report.rows.append(
            GradcheckRow(name, value.shape, len(idx), float(np.max(np.abs(a), initial=0)),
                         relative_error(a, numeric))
        )
    return report


def central_differences(f, flat: np.ndarray, idx: np.ndarray, h: float) -> np.ndarray:
    """``(f(w + h) - f(w - h)) / 2h`` for each position ``i`` in ``idx`` of the flat array
    ``flat`` (a view of the array ``f`` reads; every entry is restored afterwards)."""
    numeric = np.empty(len(idx))
    for j, i in enumerate(idx):
        old = flat[i]
        flat[i] = old + h
        plus = f()
        flat[i] = old - h
        minus = f()
        flat[i] = old
        numeric[j] = (plus - minus) / (2 * h)
    return numeric


def gradcheck_loss(
    loss: Loss | str, output: np.ndarray, target: np.ndarray, h: float = 1e-6
) -> GradcheckReport:
    """Check a loss's ``backward`` against central differences of its ``forward``."""
    loss = get_loss(loss)
    z = np.array(output, dtype=np.float64)
    target = np.asarray(target)
    if target.dtype.kind == "f":
        target = target.astype(np.float64)
    loss.forward(z, target)
    analytic = loss.backward().reshape(-1).copy()
    numeric = central_differences(lambda: loss.forward(z, target), z.reshape(-1),
                                  np.arange(z.size), h)
    rep = GradcheckReport(type(loss).__name__)
    rep.rows.append(
        GradcheckRow(
            "input",
            z.shape,
            z.size,
            float(np.max(np.abs(analytic))),
            relative_error(analytic, numeric),
        )
    )
    return rep


def _layers(net):
    return net.layers if hasattr(net, "layers") else [net]


def _named_params(net) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    out = {}
    for i, lay in enumerate(_layers(net)):
        prefix = f"{i}." if hasattr(net, "layers") else ""
        for k in lay.params:
            out[prefix + k] = (lay.params[k], lay.grads[k])
    return out


def _sample(size: int, k: int, rng) -> np.ndarray:
    if size <= k:
        return np.arange(size)
    return np.sort(rng.choice(size, k, replace=False))


def _describe(obj) -> str:
    if isinstance(obj, Layer):
        return repr(obj)
    return f"Sequential of {len(obj.layers)} layers"
