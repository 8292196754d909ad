"""The gradient check of everything: every layer, activation, loss and a few small models.

Each hand-written ``backward`` is compared with central differences of ``forward``
(see :mod:`scratchnet.gradcheck`), in float64, and must agree to a relative error
below ``tol`` (``1e-6`` by default; a correct gradient typically gives ``1e-9`` to
``1e-11``, a wrong one ``1e-2`` to ``1``).

The cases live in tables so that the ``scratchnet gradcheck`` command and the test
suite check exactly the same things:

* :data:`LAYER_CASES` has one entry per class in ``scratchnet.layers.LAYER_TYPES``
  (a test asserts the two key sets are equal, so a new layer cannot be added without
  a gradient check);
* :data:`LAYER_VARIANTS` adds configurations with their own code paths (Conv2D with
  stride and padding, overlapping pooling windows, BatchNorm in inference mode...);
* :data:`LOSS_CASES` covers every loss in ``scratchnet.losses``, including both
  target forms of the softmax cross-entropy;
* :data:`MODEL_CASES` back-propagates through whole ``Sequential`` models with a loss.

Each case is a function ``case(rng)`` of a ``numpy.random.Generator`` returning what
to check, so inputs are fresh, seeded and small (every element is checked, none sampled).

Inputs are chosen away from kinks: ReLU/LeakyReLU inputs are at least 0.1 from 0 and
max-pooling windows hold no ties (the numerical derivative of ``max`` at a tie is not
the one-sided one ``backward`` picks), because a central difference of step ``h``
straddling a kink measures the average of two slopes.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError
from ..gradcheck import gradcheck, gradcheck_loss
from ..layers import (
    LAYER_TYPES,
    Dense,
    Dropout,
    Flatten,
    Layer,
    LeakyReLU,
    ReLU,
    Sigmoid,
    Softmax,
    Tanh,
)
from ..losses import (
    BCELoss,
    BCEWithLogitsLoss,
    Loss,
    MSELoss,
    SoftmaxCrossEntropy,
)
from ..model import Sequential

#: Default threshold on the worst relative error.
DEFAULT_TOL = 1e-6
#: Step of the central differences.
DEFAULT_H = 1e-6

LayerCase = Callable[[np.random.Generator], tuple[Layer, np.ndarray]]
LossCase = Callable[[np.random.Generator], tuple[Loss, np.ndarray, np.ndarray]]
ModelCase = Callable[[np.random.Generator], tuple[Sequential, np.ndarray, np.ndarray, Loss]]


# -- inputs ---------------------------------------------------------------------------
def away_from_zero(rng: np.random.Generator, shape: tuple[int, ...], low: float = 0.1,
                   high: float = 1.5) -> np.ndarray:
    """Random values with ``low <= |x| <= high`` and random signs: no ReLU kink within reach
    of a finite-difference step."""
    mag = rng.uniform(low, high, size=shape)
    return np.where(rng.random(shape) < 0.5, -mag, mag)


def distinct_values(rng: np.random.Generator, shape: tuple[int, ...],
                    spacing: float = 0.05) -> np.ndarray:
    """A random arrangement of ``n`` values spaced ``spacing`` apart: no two entries of
    any pooling window are tied or within a finite-difference step of each other."""
    n = math.prod(shape)
    return (rng.permutation(n) - n / 2).reshape(shape) * spacing


def _layer(name: str) -> type[Layer]:
    """A registered layer class by name (the CNN layers live in other modules)."""
    try:
        return LAYER_TYPES[name]
    except KeyError:
        raise ConfigError(f"layer type {name!r} is not registered in LAYER_TYPES") from None


def _randomise_params(layer: Layer, rng: np.random.Generator, low=0.5, high=1.5) -> Layer:
    """Replace default parameters (BatchNorm's gamma = 1, beta = 0) by random ones, so a
    gradient that forgot a factor of gamma cannot pass by accident."""
    for v in layer.params.values():
        v[...] = rng.uniform(low, high, size=v.shape) * np.where(rng.random(v.shape) < 0.5, -1, 1)
    return layer


# -- one case per layer type ----------------------------------------------------------
def _dense(rng):
    layer = Dense(4, 3, init="xavier_normal", bias_init={"name": "normal", "std": 0.5}, rng=rng,
                  dtype=np.float64)
    return layer, rng.standard_normal((5, 4))


def _sigmoid(rng):
    return Sigmoid(), rng.normal(0.0, 2.0, size=(4, 3))


def _tanh(rng):
    return Tanh(), rng.normal(0.0, 1.5, size=(4, 3))


def _relu(rng):
    return ReLU(), away_from_zero(rng, (4, 5))


def _leaky_relu(rng):
    return LeakyReLU(alpha=0.1), away_from_zero(rng, (4, 5))


def _softmax(rng):
    return Softmax(), rng.normal(0.0, 2.0, size=(4, 5))


def _dropout(rng):
    # gradcheck re-seeds the layer's generator before every forward: one fixed mask.
    return Dropout(0.4), rng.standard_normal((6, 5))


def _flatten(rng):
    return Flatten(), rng.standard_normal((3, 2, 3, 2))


def _conv2d(rng):
    return _layer("Conv2D")(2, 3, 3, rng=rng, dtype=np.float64), rng.standard_normal((2, 2, 5, 5))


def _maxpool2d(rng):
    return _layer("MaxPool2D")(kernel_size=2), distinct_values(rng, (2, 2, 4, 4))


def _avgpool2d(rng):
    return _layer("AvgPool2D")(kernel_size=2), rng.standard_normal((2, 2, 4, 4))


def _batchnorm1d(rng):
    # Train mode: the batch's own mean and variance, whose gradients couple all samples.
    layer = _randomise_params(_layer("BatchNorm1d")(3), rng).train()
    return layer, rng.normal(0.5, 2.0, size=(6, 3))


def _batchnorm2d(rng):
    layer = _randomise_params(_layer("BatchNorm2d")(2), rng).train()
    return layer, rng.normal(-0.5, 1.5, size=(3, 2, 3, 3))


#: layer type name -> ``case(rng) -> (layer, input)``; keys must equal ``LAYER_TYPES``.
LAYER_CASES: dict[str, LayerCase] = {
    "Dense": _dense,
    "Sigmoid": _sigmoid,
    "Tanh": _tanh,
    "ReLU": _relu,
    "LeakyReLU": _leaky_relu,
    "Softmax": _softmax,
    "Dropout": _dropout,
    "Flatten": _flatten,
    "Conv2D": _conv2d,
    "MaxPool2D": _maxpool2d,
    "AvgPool2D": _avgpool2d,
    "BatchNorm1d": _batchnorm1d,
    "BatchNorm2d": _batchnorm2d,
}


# -- configurations with their own code paths -----------------------------------------
def _conv_stride2_pad1(rng):
    layer = _layer("Conv2D")(2, 3, 3, stride=2, padding=1, rng=rng, dtype=np.float64)
    return layer, rng.standard_normal((2, 2, 6, 5))


def _conv_rect(rng):
    layer = _layer("Conv2D")(3, 2, (2, 3), stride=(2, 1), padding=(0, 1), rng=rng,
                             dtype=np.float64)
    return layer, rng.standard_normal((2, 3, 5, 4))


def _conv_chunked(rng):
    # A workspace smaller than one sample's im2col matrix: forward and backward then
    # rebuild the columns one sample at a time, a separate code path.
    layer = _layer("Conv2D")(2, 2, 3, padding=1, rng=rng, dtype=np.float64)
    layer.workspace_bytes = 1
    return layer, rng.standard_normal((3, 2, 4, 4))


def _maxpool_overlap(rng):
    # Overlapping windows (stride < kernel): one input can be the max of two windows.
    return _layer("MaxPool2D")(kernel_size=3, stride=2), distinct_values(rng, (2, 2, 7, 7))


def _maxpool_odd(rng):
    # 5x5 with 2x2 windows: the last row and column belong to no window (gradient 0).
    return _layer("MaxPool2D")(kernel_size=2), distinct_values(rng, (2, 1, 5, 5))


def _avgpool_overlap(rng):
    return _layer("AvgPool2D")(kernel_size=3, stride=2), rng.standard_normal((2, 2, 7, 7))


def _maxpool_padded(rng):
    # Padding takes part in the max as -inf: border windows pick a real pixel.
    layer = _layer("MaxPool2D")(kernel_size=3, stride=2, padding=1)
    return layer, distinct_values(rng, (2, 2, 6, 5))


def _avgpool_padded(rng):
    layer = _layer("AvgPool2D")(kernel_size=3, stride=2, padding=1)
    return layer, rng.standard_normal((2, 2, 6, 5))


def _batchnorm1d_eval(rng):
    # Inference mode uses the running statistics: after a few training batches they are
    # not the defaults, and the layer is an affine map per feature.
    layer = _randomise_params(_layer("BatchNorm1d")(3), rng).train()
    for _ in range(3):
        layer.forward(rng.normal(1.0, 2.0, size=(8, 3)).astype(layer_dtype(layer)))
    return layer.eval(), rng.standard_normal((5, 3))


def _batchnorm2d_eval(rng):
    layer = _randomise_params(_layer("BatchNorm2d")(2), rng).train()
    for _ in range(3):
        layer.forward(rng.normal(-1.0, 2.0, size=(4, 2, 3, 3)).astype(layer_dtype(layer)))
    return layer.eval(), rng.standard_normal((3, 2, 3, 3))


def _dropout_eval(rng):
    return Dropout(0.4).eval(), rng.standard_normal((4, 3))


def layer_dtype(layer: Layer) -> np.dtype:
    return layer.dtype if layer.dtype is not None else np.dtype(np.float32)


#: label -> (layer type name, ``case(rng) -> (layer, input)``).
LAYER_VARIANTS: dict[str, tuple[str, LayerCase]] = {
    "Conv2D stride 2, padding 1": ("Conv2D", _conv_stride2_pad1),
    "Conv2D 2x3 kernel, stride (2, 1)": ("Conv2D", _conv_rect),
    "Conv2D in chunks": ("Conv2D", _conv_chunked),
    "MaxPool2D 3x3 stride 2": ("MaxPool2D", _maxpool_overlap),
    "MaxPool2D on 5x5": ("MaxPool2D", _maxpool_odd),
    "MaxPool2D 3x3 stride 2 padding 1": ("MaxPool2D", _maxpool_padded),
    "AvgPool2D 3x3 stride 2": ("AvgPool2D", _avgpool_overlap),
    "AvgPool2D 3x3 stride 2 padding 1": ("AvgPool2D", _avgpool_padded),
    "BatchNorm1d eval": ("BatchNorm1d", _batchnorm1d_eval),
    "BatchNorm2d eval": ("BatchNorm2d", _batchnorm2d_eval),
    "Dropout eval": ("Dropout", _dropout_eval),
}


# -- losses ---------------------------------------------------------------------------
def _mse(rng):
    return MSELoss(), rng.standard_normal((4, 3)), rng.standard_normal((4, 3))


def _bce(rng):
    # Probabilities well inside (0, 1): the clipping at eps never engages.
    p = rng.uniform(0.05, 0.95, size=(5, 2))
    return BCELoss(), p, rng.uniform(0.0, 1.0, size=(5, 2)).round()


def _bce_logits(rng):
    return BCEWithLogitsLoss(), rng.normal(0, 2.0, size=(5, 2)), rng.integers(0, 2, (5, 2)) * 1.0


def _ce_labels(rng):
    return SoftmaxCrossEntropy(), rng.normal(0, 2.0, size=(5, 4)), rng.integers(0, 4, size=5)


def _ce_one_hot(rng):
    labels = rng.integers(0, 4, size=5)
    return SoftmaxCrossEntropy(), rng.normal(0, 2.0, size=(5, 4)), np.eye(4)[labels]


#: label -> ``case(rng) -> (loss, output, target)``; covers every Loss in ``scratchnet.losses``.
LOSS_CASES: dict[str, LossCase] = {
    "MSELoss": _mse,
    "BCELoss (probabilities)": _bce,
    "BCEWithLogitsLoss": _bce_logits,
    "SoftmaxCrossEntropy (labels)": _ce_labels,
    "SoftmaxCrossEntropy (one-hot)": _ce_one_hot,
}


# -- whole models ---------------------------------------------------------------------
def _xor_net(rng):
    model = Sequential([Dense(2, 2), Sigmoid(), Dense(2, 1), Sigmoid()], seed=rng)
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
    y = np.array([[0], [1], [1], [0]], dtype=np.float64)
    return model, X, y, BCELoss()


def _mlp_dropout(rng):
    model = Sequential(
        [Dense(4, 6, init="he_normal"), ReLU(), Dropout(0.3), Dense(6, 3)], seed=rng
    )
    return model, rng.standard_normal((5, 4)), rng.integers(0, 3, size=5), SoftmaxCrossEntropy()


def _small_cnn(rng):
    # BatchNorm comes first, on the input channels. Placed after the convolution it would
    # cancel the conv bias (the batch mean absorbs any shift), leaving that bias a
    # gradient of exactly 0, and a relative error between two zeros is rounding noise.
    model = Sequential(
        [
            _layer("BatchNorm2d")(1),
            _layer("Conv2D")(1, 2, 3, padding=1),
            ReLU(),
            _layer("MaxPool2D")(kernel_size=2),
            Flatten(),
            Dense(8, 3),
        ],
        seed=rng,
    )
    _randomise_params(model.layers[0], rng)
    # Distinct pixels keep pooling windows free of ties; the case is seeded, and a ReLU
    # input within h of zero would show up as a failure of this fixed case, not a flake.
    X = distinct_values(rng, (4, 1, 4, 4), 0.1)
    return model, X, rng.integers(0, 3, size=4), SoftmaxCrossEntropy()


#: label -> (layer types it needs, ``case(rng) -> (model, X, y, loss)``).
MODEL_CASES: dict[str, tuple[tuple[str, ...], ModelCase]] = {
    "model 2-2-1 sigmoid + BCE": (("Dense", "Sigmoid"), _xor_net),
    "model Dense-ReLU-Dropout-Dense + softmax CE": (("Dense", "ReLU", "Dropout"), _mlp_dropout),
    "model BN-Conv-ReLU-MaxPool-Dense + softmax CE": (
        ("BatchNorm2d", "Conv2D", "ReLU", "MaxPool2D", "Flatten", "Dense"), _small_cnn
    ),
}


# -- running them ---------------------------------------------------------------------
@dataclass(frozen=True)
class CheckResult:
    """One line of the table: a case and the worst relative error of each of its
    parameters (``"W"``, ``"0.b"``...) and of its input."""

    name: str
    kind: str  # "layer", "loss" or "model"
    errors: dict[str, float]
    tol: float

    @property
    def worst(self) -> float:
        values = list(self.errors.values())
        if any(math.isnan(v) for v in values):
            return math.nan
        return max(values, default=0.0)

    @property
    def ok(self) -> bool:
        return bool(self.worst < self.tol)  # False for NaN too


def case_rng(seed: int, name: str) -> np.random.Generator:
    """Each case's own generator, from the seed and the case's name: adding a case never
    changes the inputs of the others."""
    return np.random.default_rng([int(seed), zlib.crc32(name.encode())])


def check_layer_case(name: str, case: LayerCase, seed: int = 0, tol: float = DEFAULT_TOL,
                     h: float = DEFAULT_H) -> CheckResult:
    layer, x = case(case_rng(seed, name))
    report = gradcheck(layer, x, h=h, max_checks=10**6, seed=seed, title=name)
    return CheckResult(name, "layer", report.errors(), tol)


def check_loss_case(name: str, case: LossCase, seed: int = 0, tol: float = DEFAULT_TOL,
                    h: float = DEFAULT_H) -> CheckResult:
    loss, output, target = case(case_rng(seed, name))
    report = gradcheck_loss(loss, output, target, h=h)
    return CheckResult(name, "loss", report.errors(), tol)


def check_model_case(name: str, case: ModelCase, seed: int = 0, tol: float = DEFAULT_TOL,
                     h: float = DEFAULT_H) -> CheckResult:
    model, X, y, loss = case(case_rng(seed, name))
    report = gradcheck(model, X, y, loss=loss, h=h, max_checks=10**6, seed=seed, title=name)
    return CheckResult(name, "model", report.errors(), tol)


def available(types: tuple[str, ...]) -> bool:
    return all(t in LAYER_TYPES for t in types)


def run_gradchecks(seed: int = 0, tol: float = DEFAULT_TOL, h: float = DEFAULT_H
                   ) -> list[CheckResult]:
    """Check every case whose layer types are registered; returns one result per case.

    Layers: one case per registered type, then the variants; losses; whole models.
    """
    if not (math.isfinite(tol) and tol > 0):
        raise ConfigError(f"tol must be a finite number > 0, got {tol!r}")
    if not (math.isfinite(h) and 0 < h < 1):
        raise ConfigError(f"h must be a number in (0, 1), got {h!r}")
    missing = sorted(set(LAYER_TYPES) - set(LAYER_CASES))
    if missing:
        raise ConfigError(
            f"no gradient-check case for layer type(s) {missing}; add one to LAYER_CASES in "
            "scratchnet/lessons/gradcheck_all.py"
        )
    results = [check_layer_case(n, c, seed, tol, h) for n, c in LAYER_CASES.items()
               if n in LAYER_TYPES]
    results += [check_layer_case(n, c, seed, tol, h) for n, (t, c) in LAYER_VARIANTS.items()
                if t in LAYER_TYPES]
    results += [check_loss_case(n, c, seed, tol, h) for n, c in LOSS_CASES.items()]
    results += [check_model_case(n, c, seed, tol, h) for n, (t, c) in MODEL_CASES.items()
                if available(t)]
    return results


def format_table(results: list[CheckResult], tol: float = DEFAULT_TOL,
                 h: float = DEFAULT_H) -> str:
    """The table the ``scratchnet gradcheck`` command prints."""
    header = ("case", "kind", "worst rel. err", f"< {tol:g}", "per parameter / input")
    rows = [
        (
            r.name,
            r.kind,
            f"{r.worst:.2e}",
            "PASS" if r.ok else "FAIL",
            "  ".join(f"{k} {v:.1e}" for k, v in r.errors.items()),
        )
        for r in results
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(row):
        return "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()

    rule = "-" * min(len(line(["-" * w for w in widths])), 100)
    n_fail = sum(not r.ok for r in results)
    out = [
        "Gradient check: hand-written backward vs central differences "
        f"(float64, h = {h:g}).",
        "Relative error = max |analytic - numeric| / max(|analytic|, |numeric|), "
        f"worst over each array; PASS when < {tol:g}.",
        "",
        line(header),
        rule,
        *(line(r) for r in rows),
        rule,
        f"{len(results) - n_fail} of {len(results)} passed"
        + ("." if n_fail == 0 else f"; {n_fail} FAILED."),
    ]
    return "\n".join(out)
