"""The 16 two-input Boolean functions and naming hidden units by them."""

from __future__ import annotations

import numpy as np
import pytest

from scratchnet.errors import ConfigError, ShapeError
from scratchnet.layers.activations import sigmoid
from scratchnet.lessons.boolean import (
    BOOLEAN_FUNCTIONS,
    INPUTS,
    THRESHOLDS,
    compose,
    function_by_name,
    function_from_table,
    hamming,
    name_unit,
    name_units,
    nearest_function,
)

X = np.array(INPUTS, dtype=np.float64)


def test_sixteen_distinct_functions_cover_every_truth_table():
    tables = {f.table for f in BOOLEAN_FUNCTIONS}
    assert len(BOOLEAN_FUNCTIONS) == 16 and len(tables) == 16
    assert len({f.name for f in BOOLEAN_FUNCTIONS}) == 16
    for i, f in enumerate(BOOLEAN_FUNCTIONS):
        assert f.index == i


@pytest.mark.parametrize(
    "name, table",
    [
        ("FALSE", (0, 0, 0, 0)),
        ("AND", (0, 0, 0, 1)),
        ("x1 AND NOT x2", (0, 0, 1, 0)),
        ("x1", (0, 0, 1, 1)),
        ("NOT x1 AND x2", (0, 1, 0, 0)),
        ("x2", (0, 1, 0, 1)),
        ("XOR", (0, 1, 1, 0)),
        ("OR", (0, 1, 1, 1)),
        ("NOR", (1, 0, 0, 0)),
        ("XNOR", (1, 0, 0, 1)),
        ("NOT x2", (1, 0, 1, 0)),
        ("x1 OR NOT x2", (1, 0, 1, 1)),
        ("NOT x1", (1, 1, 0, 0)),
        ("NOT x1 OR x2", (1, 1, 0, 1)),
        ("NAND", (1, 1, 1, 0)),
        ("TRUE", (1, 1, 1, 1)),
    ],
)
def test_names_match_truth_tables(name, table):
    f = function_by_name(name)
    assert f.table == table
    assert function_from_table(table) is f
    # The table really is the function of (x1, x2) its name says.
    x1, x2 = X[:, 0].astype(bool), X[:, 1].astype(bool)
    direct = {
        "FALSE": np.zeros(4, bool), "TRUE": np.ones(4, bool), "AND": x1 & x2, "OR": x1 | x2,
        "NAND": ~(x1 & x2), "NOR": ~(x1 | x2), "XOR": x1 ^ x2, "XNOR": ~(x1 ^ x2),
        "x1": x1, "x2": x2, "NOT x1": ~x1, "NOT x2": ~x2,
        "x1 AND NOT x2": x1 & ~x2, "NOT x1 AND x2": ~x1 & x2,
        "x1 OR NOT x2": x1 | ~x2, "NOT x1 OR x2": ~x1 | x2,
    }
    assert tuple(int(v) for v in direct[name]) == table


def test_hand_set_or_and_units_are_named_or_and():
    # The seed's picture: one hidden unit fires when either input is on (OR), the other
    # only when both are (AND). Weights large enough to saturate the sigmoid.
    W1 = np.array([[10.0, 10.0], [10.0, 10.0]])
    b1 = np.array([-5.0, -15.0])
    hidden = sigmoid(X @ W1 + b1)
    units = name_units(hidden, "sigmoid")
    assert [u.name for u in units] == ["OR", "AND"]
    assert all(u.exact for u in units)
    assert units[0].bits == (0, 1, 1, 1) and units[1].bits == (0, 0, 0, 1)
    assert units[0].describe() == "on for [0 1], [1 0], [1 1]"
    assert units[1].label() == "AND"


def test_hand_set_nand_and_one_sided_units():
    W1 = np.array([[-10.0, 10.0], [-10.0, -10.0]])
    b1 = np.array([15.0, -5.0])
    units = name_units(sigmoid(X @ W1 + b1), "sigmoid")
    assert [u.name for u in units] == ["NAND", "x1 AND NOT x2"]


def test_unclear_activation_gives_approximate_name():
    u = name_unit([0.05, 0.95, 0.9, 0.58], THRESHOLDS["sigmoid"])
    assert u.name == "OR"  # 0.58 > 0.5
    assert not u.exact
    assert u.unclear == ((1, 1),)
    assert u.label() == "≈ OR"
    assert u.label("~") == "~ OR"
    assert "unclear for [1 1]" in u.describe()


def test_tanh_threshold_is_zero():
    u = name_units(np.array([[-0.9], [0.9], [0.95], [-0.8]]), "tanh")[0]
    assert u.name == "XOR" and u.exact


def test_nearest_function_with_restricted_candidates():
    gates = [function_by_name(n) for n in ("AND", "OR", "NAND", "NOR")]
    f, d = nearest_function((0, 1, 1, 0), gates)  # XOR is not among them
    assert d == 1 and f.name in ("AND", "OR", "NAND", "NOR")
    f, d = nearest_function((0, 1, 1, 0))
    assert f.name == "XOR" and d == 0
    assert hamming((0, 1, 1, 0), (1, 1, 1, 1)) == 2


def test_compose_or_and_not_and_is_xor():
    rule = function_by_name("x1 AND NOT x2")
    assert compose(rule, function_by_name("OR"), function_by_name("AND")).name == "XOR"
    assert rule.rename("Hidden1", "Hidden2") == "Hidden1 AND NOT Hidden2"
    assert function_by_name("or").rename("a", "b") == "a OR b"
    assert function_by_name("TRUE").rename("a", "b") == "TRUE"


def test_bad_input_errors():
    with pytest.raises(ShapeError, match="4 activations"):
        name_unit([0.1, 0.2, 0.3])
    with pytest.raises(ConfigError, match="finite"):
        name_unit([0.1, np.nan, 0.3, 0.4])
    with pytest.raises(ShapeError, match=r"\(4, H\)"):
        name_units(np.zeros((3, 2)))
    with pytest.raises(ConfigError, match="unknown Boolean function 'MAYBE'"):
        function_by_name("MAYBE")
    with pytest.raises(ShapeError, match="four bits"):
        function_from_table((0, 1, 2, 0))
    with pytest.raises(ConfigError, match="no threshold"):
        name_units(np.zeros((4, 2)), "softmax")
