"""The numbers the recorders take: plain functions of arrays, no training in here.

Two kinds of helpers:

* one-array functions that define each statistic, readable as the definition
  (:func:`saturation_share`, :func:`dead_unit_share`, :func:`histogram`);
* :func:`segment_stats`, which computes the same statistics for many arrays
  (one per layer) with a fixed number of NumPy calls, whatever the number of
  layers. Recording happens inside the training loop, and with small layers the
  cost of a NumPy call is its Python overhead (~1 microsecond), not its
  arithmetic; a loop over layers would cost more than the step being recorded.

Definitions used throughout the insight package:

* **mean |g|** of a gradient ``g``: ``sum(|g|) / g.size``; **norm**: ``sqrt(sum(g**2))``
  (the Frobenius norm, ``np.linalg.norm(g)``).
* **saturated** sigmoid/tanh output: one where the activation's derivative is below
  ``tol`` times its peak value (default ``tol = 0.1``): the gradient passing through
  that unit is cut to less than a tenth. With ``s`` = sigmoid output and ``t`` = tanh
  output::

      sigmoid' = s (1 - s) = (1 - (2s - 1)^2) / 4     peak 1/4 at s = 1/2
      tanh'    = 1 - t^2                              peak 1   at t = 0

  so with ``u = 2s - 1`` (sigmoid) or ``u = t`` (tanh) the test is
  ``1 - u^2 < tol``, i.e. ``|u| > sqrt(1 - tol)``. For ``tol = 0.1``: ``s < 0.026``
  or ``s > 0.974`` (``|z| > 3.64``); ``|t| > 0.949`` (``|z| > 1.82``).
  The **saturation share** is the fraction of (sample, unit) outputs that are saturated.
* **dead** ReLU unit: one whose output is exactly zero for *every* sample of the
  batch looked at (a ReLU whose input is negative everywhere passes no gradient,
  so it cannot recover by itself). The **dead share** is the fraction of a layer's
  units that are dead. For outputs with more than two axes ``(batch, C, ...)`` (a
  convolution's channels), a unit is a channel: dead when zero at every sample
  and position.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError, ShapeError

#: Default saturation tolerance: saturated when the derivative is below 10% of its peak.
SATURATION_TOL = 0.1

#: Activation kinds whose saturation is measured, and the kinds whose dead units are.
SATURATING_KINDS = ("sigmoid", "tanh")
DEAD_KINDS = ("relu",)


def _check_tol(tol: float) -> float:
    if isinstance(tol, bool) or not isinstance(tol, int | float) or not 0.0 < tol < 1.0:
        raise ConfigError(f"saturation tolerance must be a number in (0, 1), got {tol!r}")
    return float(tol)


def saturation_threshold(tol: float = SATURATION_TOL) -> float:
    """``sqrt(1 - tol)``: the ``|u|`` above which an output counts as saturated (see module doc)."""
    return math.sqrt(1.0 - _check_tol(tol))


def centred_output(a: np.ndarray, kind: str) -> np.ndarray:
    """Map an activation's output to ``u`` in ``[-1, 1]`` with the derivative ``∝ 1 - u^2``:
    ``u = 2a - 1`` for sigmoid, ``u = a`` for tanh."""
    if kind == "sigmoid":
        return 2.0 * a - 1.0
    if kind == "tanh":
        return a
    raise ConfigError(f"saturation is defined for 'sigmoid' and 'tanh' outputs, not {kind!r}")


def saturation_share(a: np.ndarray, kind: str, tol: float = SATURATION_TOL) -> float:
    """Fraction of the entries of ``a`` (any shape) that are saturated.

    ``a`` holds outputs of a sigmoid (``kind="sigmoid"``) or tanh (``kind="tanh"``)
    layer. An entry is saturated when ``1 - u^2 < tol`` with ``u`` from
    :func:`centred_output`: the local derivative is below ``tol`` times its peak.
    """
    a = np.asarray(a)
    if a.size == 0:
        raise ShapeError("saturation_share: the array is empty")
    u = centred_output(a, kind)
    return float(np.count_nonzero(np.abs(u) > saturation_threshold(tol)) / a.size)


def unit_view(a: np.ndarray) -> np.ndarray:
    """``a`` as ``(units, samples)``: ``(batch, units)`` -> transposed; ``(batch, C, ...)``
    -> one row per channel holding every sample and position."""
    a = np.asarray(a)
    if a.ndim < 2:
        raise ShapeError(
            f"expected layer outputs of shape (batch, units) or (batch, C, ...), got {a.shape}"
        )
    return np.moveaxis(a, 1, 0).reshape(a.shape[1], -1)


def dead_units(a: np.ndarray) -> np.ndarray:
    """Boolean ``(units,)``: True where the unit's output is zero for every sample
    (and position) of ``a``, which has shape ``(batch, units)`` or ``(batch, C, ...)``."""
    return ~np.any(unit_view(a) != 0, axis=1)


def dead_unit_share(a: np.ndarray) -> float:
    """Fraction of units (columns, or channels) of the ReLU output ``a`` that are dead:
    zero for every sample of the batch."""
    dead = dead_units(a)
    return float(np.count_nonzero(dead) / dead.size)


def column_spread(W: np.ndarray) -> float:
    """Largest difference between any unit's incoming weights and unit 0's:
    ``max_j max_i |W[i, j] - W[i, 0]|`` for ``W (in, units)``.

    Zero means every unit of the layer computes exactly the same function: the
    symmetry that an all-zeros (or any constant) initialisation never breaks.
    """
    W = np.asarray(W)
    if W.ndim != 2 or W.shape[1] == 0:
        raise ShapeError(f"column_spread expects a weight matrix (in, units), got shape {W.shape}")
    return float(np.max(np.abs(W - W[:, :1]))) if W.size else 0.0


def histogram(x: np.ndarray, bins: int = 30) -> tuple[np.ndarray, np.ndarray]:
    """``(counts (bins,), edges (bins + 1,))`` of ``x`` over ``[min(x), max(x)]``.

    Equal-width bins like ``np.histogram(x, bins)``; when all values are equal the
    range is widened to ``value +- 0.5`` so the single bar has a width.
    """
    x = np.asarray(x)
    if x.size == 0:
        raise ShapeError("histogram: the array is empty")
    return segment_stats([x], bins=bins, want_hist=True).hist_single()


@dataclass
class SegmentStats:
    """Statistics of ``k`` arrays (segments), each field of shape ``(k,)`` unless noted.

    ``mean``, ``std`` (population, ``ddof=0``), ``mean_abs`` (mean of ``|x|``),
    ``norm`` (``sqrt(sum x^2)``), ``min``, ``max``, ``size`` (element counts);
    ``counts (k, bins)``, ``edges (k, bins + 1)`` and ``range (k, 2)`` (first and last
    edge) when histograms were asked for.
    """

    mean: np.ndarray
    std: np.ndarray
    mean_abs: np.ndarray
    norm: np.ndarray
    min: np.ndarray
    max: np.ndarray
    size: np.ndarray
    counts: np.ndarray | None = None
    range: np.ndarray | None = None

    @property
    def edges(self) -> np.ndarray | None:
        """``(k, bins + 1)`` bin edges, from ``range`` (equal bins)."""
        if self.range is None or self.counts is None:
            return None
        fractions = np.arange(self.counts.shape[1] + 1, dtype=np.float64) / self.counts.shape[1]
        return self.range[:, :1] + (self.range[:, 1:] - self.range[:, :1]) * fractions

    def hist_single(self) -> tuple[np.ndarray, np.ndarray]:
        if self.counts is None or self.range is None:
            raise ConfigError("these statistics were computed without histograms")
        return self.counts[0], self.edges[0]


class SegmentLayout:
    """Where each of ``k`` arrays of the given sizes lies in their concatenation.

    Computed once and reused while the sizes stay the same (the recorder keeps one
    per group of layers), so a recording step does not rebuild index arrays.
    ``starts (k,)``: offsets; ``segment (n,)``: the array each element belongs to.
    """

    def __init__(self, sizes, bins: int = 30):
        self.sizes = np.asarray(sizes, dtype=np.int64)
        if self.sizes.ndim != 1 or self.sizes.size == 0:
            raise ShapeError("segment_stats needs at least one array")
        if np.any(self.sizes == 0):
            raise ShapeError(f"segment_stats: array {int(np.argmin(self.sizes))} is empty")
        if isinstance(bins, bool) or not isinstance(bins, int | np.integer) or bins < 1:
            raise ConfigError(f"bins must be a positive integer, got {bins!r}")
        self.key = tuple(int(n) for n in self.sizes)
        self.total = int(self.sizes.sum())
        self.bins = int(bins)
        self.starts = np.concatenate(([0], np.cumsum(self.sizes)[:-1])).astype(np.int64)
        self.segment = np.repeat(np.arange(len(self.sizes)), self.sizes)
        # Offset of each element's histogram row in one flat bincount.
        self.bin_offset = self.segment * self.bins


def concat_float64(arrays: Sequence[np.ndarray]) -> np.ndarray:
    """The arrays flattened and joined into one new float64 vector (one copy)."""
    # The .ravel() method, not np.ravel(): the function's argument handling costs more
    # than flattening a small layer.
    return np.concatenate([a.ravel() for a in arrays], dtype=np.float64)


def _layout_for(arrays: Sequence[np.ndarray], layout: SegmentLayout | None, bins: int,
                flat: np.ndarray | None) -> SegmentLayout:
    if not arrays:
        raise ShapeError("segment statistics need at least one array")
    if layout is None:
        return SegmentLayout([a.size for a in arrays], bins)
    # A cached layout is trusted to belong to these arrays (the recorder looks it up by
    # their sizes); only the cheap total is checked.
    n = flat.size if flat is not None else sum(a.size for a in arrays)
    if n != layout.total or len(arrays) != len(layout.key):
        raise ShapeError(f"segment layout for sizes {layout.key} does not fit these arrays")
    return layout


def segment_norms(arrays: Sequence[np.ndarray], layout: SegmentLayout | None = None
                  ) -> tuple[np.ndarray, np.ndarray]:
    """``(norm, mean_abs)``, each ``(k,)``: ``sqrt(sum x^2)`` and ``mean |x|`` of every
    array, in float64; the two statistics the recorder takes of gradients (a cheaper
    subset of :func:`segment_stats`: two passes over the data instead of six)."""
    flat = concat_float64(arrays) if arrays else None
    layout = _layout_for(arrays, layout, 1, flat)
    sum_abs = np.add.reduceat(np.abs(flat), layout.starts)
    flat *= flat
    return np.sqrt(np.add.reduceat(flat, layout.starts)), sum_abs / layout.sizes


def segment_stats(arrays: Sequence[np.ndarray], bins: int = 30, want_hist: bool = True,
                  flat: np.ndarray | None = None,
                  layout: SegmentLayout | None = None, hist_from: int = 0) -> SegmentStats:
    """Per-array statistics of ``arrays`` with a constant number of NumPy calls.

    The arrays are flattened into one float64 vector (or ``flat``, if the caller
    has already made it with :func:`concat_float64`), and every statistic is a
    segment reduction (``np.add.reduceat``) over it. Histograms use ``bins`` equal
    bins from each segment's min to max (the maximum falls in the last bin, as in
    ``np.histogram``); the bin of every element is found at once and counted with
    one ``np.bincount`` over ``segment * bins + bin``. ``layout``: a cached
    :class:`SegmentLayout` for these sizes (built here when not given).
    ``hist_from``: histograms only for arrays ``hist_from`` onwards (the rows of
    ``counts`` before it are zero), to skip arrays whose histogram is not wanted.

    Sums are accumulated in float64 whatever the arrays' dtype, so the statistics
    of float32 weights are not rounded to float32 precision.
    """
    if flat is None and arrays:
        flat = concat_float64(arrays)
    layout = _layout_for(arrays, layout, bins, flat)
    sizes, starts, k = layout.sizes, layout.starts, len(layout.sizes)
    sq = flat * flat
    mean = np.add.reduceat(flat, starts) / sizes
    sum_sq = np.add.reduceat(sq, starts)
    # Var = E[x^2] - E[x]^2 in float64; clipped at 0 against round-off.
    var = np.maximum(sum_sq / sizes - mean * mean, 0.0)
    lo = np.minimum.reduceat(flat, starts)
    hi = np.maximum.reduceat(flat, starts)
    np.abs(flat, out=sq)
    stats = SegmentStats(
        mean=mean,
        std=np.sqrt(var),
        mean_abs=np.add.reduceat(sq, starts) / sizes,
        norm=np.sqrt(sum_sq),
        min=lo,
        max=hi,
        size=sizes,
    )
    if want_hist:
        nb = layout.bins
        width = hi - lo
        constant = width <= 0
        if constant.any():  # all values equal: one bar of width 1 centred on the value
            lo = np.where(constant, lo - 0.5, lo)
            width = np.where(constant, 1.0, width)
        first = int(starts[hist_from]) if 0 < hist_from < k else 0
        seg = layout.segment[first:]
        part = sq[first:]
        np.subtract(flat[first:], lo[seg], out=part)
        part *= (nb / width)[seg]
        idx = part.astype(np.int64)
        np.minimum(idx, nb - 1, out=idx)  # idx >= 0 already: lo is the minimum
        idx += layout.bin_offset[first:]
        stats.counts = np.bincount(idx, minlength=k * nb).reshape(k, nb)
        stats.range = np.empty((k, 2))
        stats.range[:, 0] = lo
        stats.range[:, 1] = lo + width
    return stats
