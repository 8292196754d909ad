"""The 16 Boolean functions of two inputs, and naming a hidden unit by the one it computes.

A function of two bits is fixed by its truth table: its outputs for the inputs
``(x1, x2) = (0, 0), (0, 1), (1, 0), (1, 1)``, in that order (the order of the XOR
lessons' rows). Four output bits give 2^4 = 16 possible functions, all listed in
:data:`BOOLEAN_FUNCTIONS`: constants, the two inputs and their negations, AND, OR,
NAND, NOR, XOR, XNOR and the four "one input and not the other" functions.

A trained hidden unit produces four activations, one per input. Thresholding them
(for a sigmoid unit: above 0.5 means "on") gives four bits, which is the truth table
of exactly one of the 16 functions: that function is the unit's name. Because the 16
cover every 4-bit pattern, the nearest function (Hamming distance, the number of
rows that differ) is always at distance 0 when all 16 are allowed;
:func:`nearest_function` takes a narrower candidate set when a lesson wants to name
units only by, say, the gates a learner already knows.

What thresholding hides is *how clearly* the unit is on or off. A unit giving 0.48
and 0.52 is named just as firmly as one giving 0.01 and 0.99. So a name is marked
approximate (:attr:`UnitName.exact` is False, printed with "≈") when some activation
lies within ``margin`` of the threshold, and the inputs concerned are listed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError, ShapeError

#: The four inputs of a two-input function, in truth-table order (rows of ``X``).
INPUTS: tuple[tuple[int, int], ...] = ((0, 0), (0, 1), (1, 0), (1, 1))


@dataclass(frozen=True)
class BooleanFunction:
    """One of the 16 functions: ``table[i]`` is its output for ``INPUTS[i]``."""

    name: str
    table: tuple[int, int, int, int]

    @property
    def index(self) -> int:
        """The truth table read as a 4-bit number, first row most significant (AND = 0b0001)."""
        return int("".join(map(str, self.table)), 2)

    def __call__(self, x1: int, x2: int) -> int:
        return self.table[INPUTS.index((int(x1), int(x2)))]

    def rename(self, a: str, b: str) -> str:
        """The name with the inputs called ``a`` and ``b`` instead of x1 and x2
        (``AND`` stays ``AND``; ``x1 AND NOT x2`` becomes ``a AND NOT b``)."""
        if self.name in ("FALSE", "TRUE"):
            return self.name
        if self.name in _SYMMETRIC:
            return f"{a} {self.name} {b}"
        return re.sub(r"x[12]", lambda m: a if m.group() == "x1" else b, self.name)


# Readable names, in truth-table order 0000 .. 1111.
_NAMES = (
    "FALSE",
    "AND",
    "x1 AND NOT x2",
    "x1",
    "NOT x1 AND x2",
    "x2",
    "XOR",
    "OR",
    "NOR",
    "XNOR",
    "NOT x2",
    "x1 OR NOT x2",
    "NOT x1",
    "NOT x1 OR x2",
    "NAND",
    "TRUE",
)
# Names of functions that treat both inputs alike (written "x1 AND x2" when renamed).
_SYMMETRIC = frozenset({"FALSE", "AND", "XOR", "OR", "NOR", "XNOR", "NAND", "TRUE"})


def _table(i: int) -> tuple[int, int, int, int]:
    return tuple((i >> (3 - k)) & 1 for k in range(4))  # type: ignore[return-value]


#: All 16 two-input Boolean functions, indexed by their truth table as a 4-bit number.
BOOLEAN_FUNCTIONS: tuple[BooleanFunction, ...] = tuple(
    BooleanFunction(name, _table(i)) for i, name in enumerate(_NAMES)
)
_BY_NAME = {f.name.lower(): f for f in BOOLEAN_FUNCTIONS}


def function_by_name(name: str) -> BooleanFunction:
    """The function called ``name`` (any case), e.g. ``"or"`` or ``"x1 AND NOT x2"``."""
    key = " ".join(str(name).lower().split())
    if key not in _BY_NAME:
        raise ConfigError(
            f"unknown Boolean function {name!r}; expected one of: "
            + ", ".join(f.name for f in BOOLEAN_FUNCTIONS)
        )
    return _BY_NAME[key]


def function_from_table(bits: Sequence[int]) -> BooleanFunction:
    """The function whose outputs for 00, 01, 10, 11 are ``bits`` (four 0/1 values)."""
    b = tuple(int(v) for v in bits)
    if len(b) != 4 or any(v not in (0, 1) for v in b):
        raise ShapeError(f"a truth table is four bits (outputs for 00, 01, 10, 11), got {bits!r}")
    return BOOLEAN_FUNCTIONS[int("".join(map(str, b)), 2)]


def hamming(a: Sequence[int], b: Sequence[int]) -> int:
    """Number of rows where two truth tables differ."""
    return sum(int(x) != int(y) for x, y in zip(a, b, strict=True))


def nearest_function(
    bits: Sequence[int], candidates: Iterable[BooleanFunction] = BOOLEAN_FUNCTIONS
) -> tuple[BooleanFunction, int]:
    """The candidate closest to the truth table ``bits`` and its Hamming distance.

    Ties go to the candidate listed first. With all 16 functions (the default) the
    distance is always 0.
    """
    bits = tuple(int(v) for v in bits)
    best: tuple[BooleanFunction, int] | None = None
    for f in candidates:
        d = hamming(bits, f.table)
        if best is None or d < best[1]:
            best = (f, d)
    if best is None:
        raise ConfigError("nearest_function: no candidate functions given")
    return best


@dataclass(frozen=True)
class Threshold:
    """Where a unit counts as "on", and how far from that an activation must be to be clear.

    ``on = activation > value``; an activation within ``margin`` of ``value`` is unclear.
    """

    value: float
    margin: float


#: Per hidden activation: the midpoint of its output range, and a margin of 40% of
#: half that range. ReLU has no upper bound; it uses sigmoid's 0.5 ("clearly active").
THRESHOLDS: dict[str, Threshold] = {
    "sigmoid": Threshold(0.5, 0.2),
    "tanh": Threshold(0.0, 0.4),
    "relu": Threshold(0.5, 0.2),
}


def threshold_for(activation: str) -> Threshold:
    if activation not in THRESHOLDS:
        raise ConfigError(
            f"no threshold defined for activation {activation!r}; expected one of "
            f"{', '.join(THRESHOLDS)}"
        )
    return THRESHOLDS[activation]


@dataclass(frozen=True)
class UnitName:
    """What one unit computes on the four inputs.

    activations : its four activations, for 00, 01, 10, 11.
    bits : activations thresholded (1 = on).
    function : the nearest Boolean function; distance : rows where it differs from bits.
    unclear : the inputs (from :data:`INPUTS`) whose activation is within the margin.
    """

    activations: tuple[float, float, float, float]
    bits: tuple[int, int, int, int]
    function: BooleanFunction
    distance: int
    unclear: tuple[tuple[int, int], ...]

    @property
    def exact(self) -> bool:
        """True when the name matches the thresholded bits and every activation is clear."""
        return self.distance == 0 and not self.unclear

    @property
    def name(self) -> str:
        return self.function.name

    def label(self, approx: str = "≈") -> str:
        """``"OR"`` or, when not exact, ``"≈ OR"``."""
        return self.name if self.exact else f"{approx} {self.name}"

    def describe(self) -> str:
        """Which inputs turn the unit on, in words: ``"on for [0 1], [1 0], [1 1]"``."""
        on = [f"[{a} {b}]" for (a, b), bit in zip(INPUTS, self.bits, strict=True) if bit]
        text = "on for " + ", ".join(on) if on else "off for every input"
        if len(on) == 4:
            text = "on for every input"
        if self.unclear:
            text += "; unclear for " + ", ".join(f"[{a} {b}]" for a, b in self.unclear)
        return text


def name_unit(
    activations: Sequence[float],
    threshold: Threshold | float = 0.5,
    candidates: Iterable[BooleanFunction] = BOOLEAN_FUNCTIONS,
) -> UnitName:
    """Name one unit from its activations ``(4,)`` for the inputs 00, 01, 10, 11."""
    a = np.asarray(activations, dtype=np.float64).ravel()
    if a.shape != (4,):
        raise ShapeError(
            f"name_unit needs the unit's 4 activations (for 00, 01, 10, 11), got shape "
            f"{np.shape(activations)}"
        )
    if not np.all(np.isfinite(a)):
        raise ConfigError(f"name_unit: activations must be finite, got {a.tolist()}")
    t = threshold if isinstance(threshold, Threshold) else Threshold(float(threshold), 0.0)
    bits = tuple(int(v > t.value) for v in a)
    function, distance = nearest_function(bits, candidates)
    unclear = tuple(x for x, v in zip(INPUTS, a, strict=True) if abs(v - t.value) < t.margin)
    return UnitName(tuple(float(v) for v in a), bits, function, distance, unclear)  # type: ignore[arg-type]


def name_units(hidden: np.ndarray, activation: str = "sigmoid") -> list[UnitName]:
    """Name every column of ``hidden (4, H)``: the hidden layer's activations for 00..11."""
    h = np.asarray(hidden)
    if h.ndim != 2 or h.shape[0] != 4:
        raise ShapeError(f"hidden activations must have shape (4, H), got {h.shape}")
    t = threshold_for(activation)
    return [name_unit(h[:, j], t) for j in range(h.shape[1])]


def compose(
    outer: BooleanFunction, inner1: BooleanFunction, inner2: BooleanFunction
) -> BooleanFunction:
    """``outer(inner1(x1, x2), inner2(x1, x2))`` as one function of x1, x2.

    E.g. ``compose(x1 AND NOT x2, OR, AND)`` is ``OR AND NOT AND`` = XOR.
    """
    return function_from_table(
        [outer(inner1(a, b), inner2(a, b)) for a, b in INPUTS]
    )
