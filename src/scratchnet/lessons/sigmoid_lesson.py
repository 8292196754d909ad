"""The sigmoid, its derivative, and the vanishing gradient of deep sigmoid networks.

``sigmoid(z) = 1 / (1 + e^-z)`` squashes any number into (0, 1). Its derivative has a
neat form, ``sigmoid'(z) = sigmoid(z) (1 - sigmoid(z))``, which is largest at ``z = 0``,
where it is ``0.5 * 0.5 = 0.25``, and falls towards 0 on both sides: a unit whose input
is far from 0 ("saturated") passes almost no gradient back.

Back-propagation through a stack of layers multiplies the error signal, once per
sigmoid layer, by ``sigmoid'(z)`` (and by that layer's weights)::

    dL/dz_k = (dL/dz_{k+1} @ W_{k+1}^T) * sigmoid'(z_k)

so after ``k`` sigmoid layers the derivatives alone contribute a factor of at most
``0.25^k``: 1/4 after one layer, about 1e-6 after ten. :func:`run_sigmoid` tabulates
that bound and measures the real thing in a freshly initialised deep network built with
the engine: the mean size of ``dL/dz`` (the error arriving at each layer) relative to
the error at the output, through 1..depth sigmoid layers, next to the same network with
ReLU units (derivative exactly 1 where active), whose signal does not shrink like that.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ConfigError


def sigmoid_derivative(z: np.ndarray) -> np.ndarray:
    """``sigmoid(z) * (1 - sigmoid(z))``, element by element."""
    from ..layers.activations import sigmoid

    s = sigmoid(np.asarray(z, dtype=np.float64))
    return s * (1.0 - s)


@dataclass
class SigmoidResult:
    """z (m,) grid with sigmoid (m,) and derivative (m,).
    depths (depth,) = 1..depth.  bound (depth,) = 0.25^k.
    deriv_product (depth,) : product of the mean sigmoid'(z) of the top k layers (measured).
    sigmoid_ratio, relu_ratio (depth,) : mean |dL/dz| after k layers / mean |dL/dz| at the
    output, in the sigmoid network and in the ReLU network."""

    z: np.ndarray
    sigmoid: np.ndarray
    derivative: np.ndarray
    depths: np.ndarray
    bound: np.ndarray
    deriv_product: np.ndarray
    sigmoid_ratio: np.ndarray
    relu_ratio: np.ndarray
    width: int
    batch: int
    seed: int


def _error_signal(activation: str, depth: int, width: int, batch: int, seed: int):
    """Build ``[Dense(width, width), act] * depth + [Dense(width, 1)]`` with the engine
    (Xavier init for sigmoid, He for ReLU, float64), push a random batch through it with an
    MSE loss, and go backward layer by layer, recording mean |dL/dz| as it enters each
    Dense layer from above. Returns ``(ratios (depth,), mean_derivs (depth,))``: ratio[k-1]
    is the error after k activation layers relative to the error at the output, and
    mean_derivs[k-1] the mean activation derivative at the k-th layer from the top."""
    from ..layers import Dense, ReLU, Sigmoid
    from ..losses import MSELoss
    from ..model import Sequential

    act, init = (Sigmoid, "xavier_uniform") if activation == "sigmoid" else (ReLU, "he_uniform")
    layers = []
    for _ in range(depth):
        layers += [Dense(width, width, init=init, dtype=np.float64), act()]
    layers.append(Dense(width, 1, init=init, dtype=np.float64))
    model = Sequential(layers, seed=seed)
    rng = np.random.default_rng(seed + 1)
    X = rng.normal(size=(batch, width))
    y = rng.normal(size=(batch, 1))
    model.record_outputs = True
    out = model.forward(X)
    loss = MSELoss()
    loss.forward(out, y)
    grad = loss.backward()
    errors, derivs = [], []
    for i in range(len(layers) - 1, -1, -1):
        layer = layers[i]
        if isinstance(layer, Dense):
            errors.append(float(np.mean(np.abs(grad))))  # dL/dz entering this Dense
        else:
            a = model.outputs[i]
            derivs.append(float(np.mean(a * (1 - a) if activation == "sigmoid" else (a > 0))))
        grad = layer.backward(grad)
    errors = np.array(errors)
    return errors[1:] / errors[0], np.array(derivs)


def run_sigmoid(depth: int = 10, width: int = 32, batch: int = 256, seed: int = 0) -> SigmoidResult:
    """Tabulate the sigmoid and measure gradients through 1..``depth`` layers."""
    for name, v, hi in (("depth", depth, 50), ("width", width, 1024), ("batch", batch, 100_000)):
        if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= hi:
            raise ConfigError(f"{name} must be an integer in [1, {hi}], got {v!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"seed must be an integer >= 0, got {seed!r}")
    from ..layers.activations import sigmoid

    z = np.linspace(-8, 8, 401)
    s_ratio, s_deriv = _error_signal("sigmoid", depth, width, batch, seed)
    r_ratio, _ = _error_signal("relu", depth, width, batch, seed)
    k = np.arange(1, depth + 1)
    return SigmoidResult(z, sigmoid(z), sigmoid_derivative(z), k, 0.25**k, np.cumprod(s_deriv),
                         s_ratio, r_ratio, width, batch, seed)


def format_sigmoid(res: SigmoidResult) -> str:
    lines = [
        "sigmoid(z) = 1 / (1 + e^-z)        sigmoid'(z) = sigmoid(z) * (1 - sigmoid(z))",
        "",
        "    z   sigmoid(z)  sigmoid'(z)",
    ]
    for z in (-8, -4, -2, -1, 0, 1, 2, 4, 8):
        s = 1 / (1 + np.exp(-z))
        mark = "   <- the largest it gets" if z == 0 else ""
        lines.append(f"  {z:>3}   {s:9.4f}   {s * (1 - s):9.4f}{mark}")
    peak = int(np.argmax(res.derivative))
    lines += [
        "",
        f"On a grid of {len(res.z)} points in [-8, 8] the derivative peaks at z = "
        f"{res.z[peak]:g} with {res.derivative[peak]:.4f};",
        f"beyond |z| = 4 it is below {float(sigmoid_derivative(np.array(4.0))):.3f}.",
        "",
        "Back-propagation multiplies the error by sigmoid'(z) once per sigmoid layer (and by "
        "the weights).",
        f"Measured in a {res.depths[-1]}-layer network of width {res.width} (engine, fresh "
        f"initialisation, batch {res.batch}, seed {res.seed}):",
        "",
        " layers   0.25^k      product of the    error after k layers / error at the output",
        "  k       (at most)   mean sigmoid'     sigmoid net     ReLU net (for comparison)",
    ]
    for i, k in enumerate(res.depths):
        lines.append(f"  {k:>2}     {res.bound[i]:9.2e}   {res.deriv_product[i]:9.2e}       "
                     f"{res.sigmoid_ratio[i]:9.2e}       {res.relu_ratio[i]:9.2e}")
    d = int(res.depths[-1])
    per_layer = (res.sigmoid_ratio[-1] / res.sigmoid_ratio[0]) ** (1 / max(d - 1, 1))
    lines += [
        "",
        f"After {d} sigmoid layers the error reaching the first layer is "
        f"{res.sigmoid_ratio[-1]:.1e} of the error at the output,",
        f"shrinking by a factor of about {per_layer:.2f} per layer: the first layers' weights "
        "barely move.",
        "That is the vanishing gradient. ReLU's derivative is exactly 1 wherever a unit is "
        "active,",
        f"so in the ReLU network the error stays between {res.relu_ratio.min():.1e} and "
        f"{res.relu_ratio.max():.1e} at every depth.",
    ]
    return "\n".join(lines)


def save_sigmoid_run(res: SigmoidResult, out_dir) -> Path:
    from ..plots.sigmoid import sigmoid_figure, vanishing_figure
    from ..report import RunFolder

    run = RunFolder(out_dir, "sigmoid", {"depth": int(res.depths[-1]), "width": res.width,
                                         "batch": res.batch, "seed": res.seed},
                    title="scratchnet sigmoid: the derivative and the vanishing gradient")
    run.add_metrics({"peak of sigmoid'": float(res.derivative.max()),
                     f"error after {res.depths[-1]} sigmoid layers": float(res.sigmoid_ratio[-1]),
                     f"error after {res.depths[-1]} ReLU layers": float(res.relu_ratio[-1])},
                    formats={"peak of sigmoid'": ".4f",
                             f"error after {res.depths[-1]} sigmoid layers": ".1e",
                             f"error after {res.depths[-1]} ReLU layers": ".1e"})
    run.add_text("The lesson", format_sigmoid(res))
    run.add_table("Through k layers",
                  ["k", "0.25^k", "product of mean sigmoid'", "sigmoid net", "ReLU net"],
                  [[int(k), float(res.bound[i]), float(res.deriv_product[i]),
                    float(res.sigmoid_ratio[i]), float(res.relu_ratio[i])]
                   for i, k in enumerate(res.depths)],
                  formats={c: ".2e" for c in ("0.25^k", "product of mean sigmoid'",
                                               "sigmoid net", "ReLU net")},
                  caption="Last two columns: mean |dL/dz| after k layers divided by mean "
                  "|dL/dz| at the output.")
    run.save_figure(sigmoid_figure(res.z, res.sigmoid, res.derivative), "sigmoid.png",
                    "The sigmoid and its derivative; the derivative is at most 0.25, at z = 0.")
    run.save_figure(vanishing_figure(res.depths, res.bound, res.deriv_product, res.sigmoid_ratio,
                                     res.relu_ratio), "vanishing.png",
                    "How much of the output's error reaches a layer k layers down.")
    run.finish()
    return run.path
