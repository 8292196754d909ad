"""Initialisers' statistics, schedules' values and optimisers' bookkeeping."""

from __future__ import annotations

import math

import numpy as np
import pytest

from scratchnet import init
from scratchnet.errors import ConfigError, DTypeError
from scratchnet.layers import LAYER_TYPES, Dense
from scratchnet.optim import SGD, Adam, AdamW, Parameter, RMSprop, get_optimizer
from scratchnet.schedules import (
    Constant,
    CosineWarmup,
    Exponential,
    ReduceOnPlateau,
    StepDecay,
    get_schedule,
)

# -- initialisers ------------------------------------------------------------------------
FAN_IN, FAN_OUT = 300, 500
SHAPE = (FAN_IN, FAN_OUT)  # 150,000 draws: std estimated to ~0.2 %

EXPECTED_STD = {
    "xavier_normal": math.sqrt(2 / (FAN_IN + FAN_OUT)),
    "xavier_uniform": math.sqrt(2 / (FAN_IN + FAN_OUT)),
    "glorot_normal": math.sqrt(2 / (FAN_IN + FAN_OUT)),
    "glorot_uniform": math.sqrt(2 / (FAN_IN + FAN_OUT)),
    "he_normal": math.sqrt(2 / FAN_IN),
    "he_uniform": math.sqrt(2 / FAN_IN),
    "kaiming_normal": math.sqrt(2 / FAN_IN),
    "kaiming_uniform": math.sqrt(2 / FAN_IN),
    "lecun_normal": math.sqrt(1 / FAN_IN),
    "lecun_uniform": math.sqrt(1 / FAN_IN),
    "normal": 0.01,
    "uniform": 0.1 / math.sqrt(12),  # U(-0.05, 0.05)
}


@pytest.mark.parametrize("name", sorted(EXPECTED_STD))
def test_initialiser_mean_and_std(name):
    w = init.get_initializer(name)(SHAPE, FAN_IN, FAN_OUT, np.random.default_rng(0))
    assert w.shape == SHAPE and w.dtype == np.float32
    std = EXPECTED_STD[name]
    assert abs(w.mean()) < 4 * std / math.sqrt(w.size)
    assert w.std() == pytest.approx(std, rel=0.01)
    if "uniform" in name:
        limit = math.sqrt(3) * std  # U(-a, a) has std a / sqrt(3)
        assert np.abs(w).max() <= limit * (1 + 1e-6)
        assert np.abs(w).max() > 0.99 * limit
    else:
        # Gaussian tails: about 0.27 % beyond 3 std.
        assert np.mean(np.abs(w) > 3 * std) == pytest.approx(0.0027, abs=0.001)


def test_he_normal_std_is_sqrt_2_over_fan_in_in_a_dense_layer():
    layer = Dense(800, 400, init="he_normal", rng=1, dtype=np.float64)
    assert layer.W.std() == pytest.approx(math.sqrt(2 / 800), rel=0.01)
    assert np.all(layer.b == 0)


def test_conv_fan_in_counts_the_kernel():
    if "Conv2D" not in LAYER_TYPES:
        pytest.skip("Conv2D is not registered")
    conv = LAYER_TYPES["Conv2D"](16, 32, 3, init="he_normal", rng=0)
    fan_in = 16 * 3 * 3
    assert conv.W.std() == pytest.approx(math.sqrt(2 / fan_in), rel=0.02)


def test_constant_zeros_and_objects():
    rng = np.random.default_rng(0)
    assert np.all(init.get_initializer("zeros")((3, 2), 3, 2, rng) == 0)
    c = init.get_initializer({"name": "constant", "value": 0.25})
    assert np.all(c((2, 2), 2, 2, rng) == np.float32(0.25))
    n = init.get_initializer({"name": "normal", "std": 2.0, "mean": 1.0})
    w = n((200, 500), 200, 500, rng, np.float64)
    assert w.dtype == np.float64
    assert w.mean() == pytest.approx(1.0, abs=0.02) and w.std() == pytest.approx(2.0, rel=0.01)
    assert init.get_initializer(init.Uniform(-1, 1)).spec() == {
        "name": "uniform", "low": -1, "high": 1}
    # spec() round-trips through get_initializer, as model files need.
    for name in EXPECTED_STD:
        obj = init.get_initializer(name)
        assert type(init.get_initializer(obj.spec())) is type(obj)


def test_initialiser_seeded_draws_are_bit_identical():
    a = init.get_initializer("he_uniform")((50, 40), 50, 40, np.random.default_rng(7))
    b = init.get_initializer("he_uniform")((50, 40), 50, 40, np.random.default_rng(7))
    np.testing.assert_array_equal(a, b)
    assert Dense(5, 5, rng=3).W.tobytes() == Dense(5, 5, rng=3).W.tobytes()


def test_initialiser_errors():
    with pytest.raises(ConfigError, match=r"unknown initialiser 'nope'"):
        init.get_initializer("nope")
    with pytest.raises(ConfigError, match=r"init must be a name such as 'xavier_uniform'"):
        init.get_initializer(3.0)
    with pytest.raises(ConfigError, match=r"bad arguments for initialiser 'normal'"):
        init.get_initializer({"name": "normal", "sigma": 1})
    with pytest.raises(DTypeError, match="dtype must be float32 or float64, got float16"):
        init.get_initializer("zeros")((2,), 1, 1, np.random.default_rng(0), np.float16)


# -- schedules ------------------------------------------------------------------------------
def test_constant_schedule():
    np.testing.assert_array_equal(Constant(0.3).values(4), [0.3] * 4)


def test_step_decay_values():
    s = StepDecay(1.0, step_size=3, gamma=0.5)
    np.testing.assert_allclose(s.values(8), [1, 1, 1, 0.5, 0.5, 0.5, 0.25, 0.25])


def test_exponential_values():
    s = Exponential(0.1, gamma=0.9)
    np.testing.assert_allclose(s.values(4), [0.1, 0.09, 0.081, 0.0729], rtol=1e-12)


def test_cosine_warmup_values():
    s = CosineWarmup(1.0, total_steps=10, warmup_steps=4, min_lr=0.1)
    v = s.values(14)
    np.testing.assert_allclose(v[:4], [0.25, 0.5, 0.75, 1.0])  # linear warm-up, ends at lr
    assert v[4] == pytest.approx(1.0)  # the cosine starts at its top
    assert v[7] == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 3 / 6)))
    assert v[10] == pytest.approx(0.1) and np.all(v[10:] == v[10])  # held at min_lr
    assert np.all(np.diff(v[4:11]) < 0)
    no_warmup = CosineWarmup(0.5, total_steps=4).values(5)
    np.testing.assert_allclose(no_warmup, [0.5, 0.5 * (1 + math.cos(math.pi / 4)) / 2, 0.25,
                                           0.5 * (1 + math.cos(3 * math.pi / 4)) / 2, 0.0],
                               atol=1e-15)


def test_reduce_on_plateau_values():
    s = ReduceOnPlateau(1.0, factor=0.5, patience=1, threshold=0.01, min_lr=0.2)
    seen = []
    for v in [1.0, 0.5, 0.499, 0.498, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3]:
        s.observe(v)
        seen.append(s(0))
    # 0.499 and 0.498 are not 1 % better than 0.5: after patience 1, halve.
    assert seen == [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.25, 0.25, 0.2, 0.2, 0.2]
    state = s.state_dict()
    fresh = ReduceOnPlateau(1.0, factor=0.5, patience=1, threshold=0.01, min_lr=0.2)
    fresh.load_state_dict(state)
    assert fresh(5) == 0.2 and fresh.best == 0.3


def test_schedules_from_specs_and_errors():
    s = get_schedule({"name": "step", "lr": 0.1, "step_size": 2, "gamma": 0.5})
    assert isinstance(s, StepDecay) and s(2) == 0.05
    assert get_schedule(s.spec())(2) == 0.05
    assert isinstance(get_schedule(0.1), Constant)
    with pytest.raises(ConfigError, match="unknown schedule 'linear'"):
        get_schedule({"name": "linear", "lr": 0.1})
    with pytest.raises(ConfigError, match="step_size must be a positive integer, got 0"):
        StepDecay(0.1, step_size=0)
    with pytest.raises(ConfigError, match="gamma must be a finite number > 0"):
        Exponential(0.1, gamma=-1)
    with pytest.raises(ConfigError, match=r"warmup_steps must be an integer in \[0, total_steps\)"):
        CosineWarmup(0.1, total_steps=5, warmup_steps=5)
    with pytest.raises(ConfigError, match=r"min_lr must be in \[0, lr\]"):
        CosineWarmup(0.1, total_steps=5, min_lr=0.2)
    with pytest.raises(ConfigError, match=r"factor must be in \(0, 1\)"):
        ReduceOnPlateau(0.1, factor=1.5)
    with pytest.raises(ConfigError, match="learning rate must be a finite number > 0, got inf"):
        Constant(float("inf"))


def test_optimizer_follows_its_schedule_step_by_step():
    opt = SGD(lr=StepDecay(1.0, step_size=2, gamma=0.1))
    w = np.zeros(1, dtype=np.float64)
    p = Parameter("w", w, np.ones(1))
    rates = []
    for _ in range(5):
        rates.append(opt.lr)
        opt.step([p])
    np.testing.assert_allclose(rates, [1, 1, 0.1, 0.1, 0.01])
    assert w[0] == pytest.approx(-(1 + 1 + 0.1 + 0.1 + 0.01))
    assert opt.t == 5


# -- optimisers -----------------------------------------------------------------------------
def _quadratic_run(opt, steps, state_from=None):
    """Minimise sum((w - 3)^2 * scale) from w = 0; returns the weights after ``steps``."""
    scale = np.array([1.0, 10.0, 0.5])
    w = np.zeros(3)
    g = np.zeros(3)
    p = Parameter("w", w, g)
    if state_from is not None:
        w[...] = state_from[0]
        opt.load_state_dict(state_from[1])
    for _ in range(steps):
        g[...] = 2 * (w - 3) * scale
        opt.step([p])
    return w


@pytest.mark.parametrize("make", [
    lambda: SGD(lr=0.02),
    lambda: SGD(lr=0.02, momentum=0.9),
    lambda: SGD(lr=0.02, momentum=0.9, nesterov=True),
    lambda: RMSprop(lr=0.05),
    lambda: Adam(lr=0.1),
    lambda: AdamW(lr=0.1, weight_decay=0.001),
], ids=["sgd", "momentum", "nesterov", "rmsprop", "adam", "adamw"])
def test_optimizers_minimise_a_quadratic_and_resume_exactly(make):
    w = _quadratic_run(make(), 300)
    np.testing.assert_allclose(w, 3.0, atol=0.05)
    # Stop after 120 steps, save the state, continue in a fresh optimiser: same result.
    first = make()
    w120 = _quadratic_run(first, 120).copy()
    state = first.state_dict()
    resumed = _quadratic_run(make(), 180, state_from=(w120, state))
    np.testing.assert_array_equal(resumed, w)


def test_optimizer_state_dict_contents():
    opt = Adam(lr=0.01)
    p = Parameter("0.W", np.ones((2, 2), dtype=np.float32), np.ones((2, 2), dtype=np.float32))
    opt.step([p])
    state = opt.state_dict()
    assert state["t"] == 1
    assert sorted(state["arrays"]) == ["0.W/m_sum", "0.W/v_sum"]  # no scratch buffers
    assert state["arrays"]["0.W/m_sum"].dtype == np.float32
    # The stored sums after one gradient of 1: m_sum = g, v_sum = g^2; the textbook
    # moments are (1 - b1) and (1 - b2) times them.
    np.testing.assert_array_equal(state["arrays"]["0.W/m_sum"], 1.0)
    np.testing.assert_array_equal(state["arrays"]["0.W/v_sum"], 1.0)
    m, v = opt.moments("0.W")
    np.testing.assert_allclose(m, 0.1, rtol=1e-6)
    np.testing.assert_allclose(v, 0.001, rtol=1e-6)


def test_optimizer_updates_in_place_and_keeps_float32():
    for opt in [SGD(lr=0.1, momentum=0.9, weight_decay=0.1), RMSprop(weight_decay=0.1),
                Adam(weight_decay=0.1), AdamW()]:
        w = np.ones((3, 2), dtype=np.float32)
        g = np.full((3, 2), 0.5, dtype=np.float32)
        before = w.ctypes.data
        opt.step([Parameter("w", w, g)])
        assert w.dtype == np.float32 and w.ctypes.data == before
        assert np.all(w < 1)
        for arr in opt.state["w"].values():
            assert arr.dtype == np.float32


def test_adam_flush_zeroes_only_negligible_moments():
    opt = Adam(lr=0.1, flush_every=1, flush_below=1e-20)
    w = np.ones(2, dtype=np.float32)
    g = np.array([1e-25, 1.0], dtype=np.float32)
    opt.step([Parameter("w", w, g)])
    m, v = opt.moments("w")
    assert m[0] == 0 and v[0] == 0
    assert m[1] == pytest.approx(0.1) and v[1] == pytest.approx(0.001)


def test_get_optimizer_names():
    assert isinstance(get_optimizer("sgd"), SGD)
    momentum = get_optimizer("momentum", lr=0.05)
    assert isinstance(momentum, SGD) and momentum.momentum == 0.9 and momentum.lr == 0.05
    assert get_optimizer("ADAM").lr == pytest.approx(1e-3)
    assert isinstance(get_optimizer("adamw"), AdamW)
    assert isinstance(get_optimizer("rmsprop", lr=0.5), RMSprop)


def test_optimizer_argument_errors():
    with pytest.raises(ConfigError, match=r"momentum must be in \[0, 1\), got 1\.5"):
        SGD(momentum=1.5)
    with pytest.raises(ConfigError, match="nesterov=True needs momentum > 0"):
        SGD(nesterov=True)
    with pytest.raises(ConfigError, match=r"betas must be in \[0, 1\)"):
        Adam(betas=(0.9, 1.0))
    with pytest.raises(ConfigError, match="weight_decay must be >= 0"):
        Adam(weight_decay=-0.1)
    with pytest.raises(ConfigError, match=r"alpha must be in \(0, 1\)"):
        RMSprop(alpha=0)


# -- flat parameters: one update call for all of them --------------------------------------
def _flat_net(optimizer, seed=3):
    from scratchnet import Sequential
    from scratchnet.layers import ReLU

    model = Sequential([Dense(5, 7), ReLU(), Dense(7, 3)], seed=seed)
    model.compile(loss="cross_entropy", optimizer=optimizer)
    return model


def _flat_data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 5)).astype(np.float32)
    return X, (X[:, 0] > 0).astype(np.int64) + (X[:, 1] > 1)


@pytest.mark.parametrize("make", [
    lambda: SGD(lr=0.05, momentum=0.9, weight_decay=0.01), lambda: RMSprop(lr=0.01),
    lambda: Adam(lr=0.01, flush_every=3), lambda: AdamW(lr=0.01),
], ids=["momentum", "rmsprop", "adam", "adamw"])
def test_fit_updates_flat_parameters_with_the_same_numbers_as_one_by_one(make, monkeypatch):
    from scratchnet import Sequential

    X, y = _flat_data()
    flat = _flat_net(make())
    flat.fit(X, y, epochs=3, batch_size=8, verbose=0)
    # fit laid the parameters out in one array: every layer's W and b are views of it
    values = flat.layers[0].params["W"].base
    assert values is not None and values.ndim == 1 and values.size == flat.n_params
    assert all(p.value.base is values for p in flat.parameters())
    assert flat.optimizer._flat is not None

    monkeypatch.setattr(Sequential, "flatten_parameters", Sequential.parameters)
    plain = _flat_net(make())
    plain.fit(X, y, epochs=3, batch_size=8, verbose=0)
    assert plain.layers[0].params["W"].base is None and plain.optimizer._flat is None
    for a, b in zip(flat.parameters(), plain.parameters(), strict=True):
        np.testing.assert_array_equal(a.value, b.value)  # bit for bit
    for name, st in plain.optimizer.state.items():
        for key, arr in st.items():
            if key != "tmp":
                np.testing.assert_array_equal(flat.optimizer.state[name][key], arr)


def test_a_replaced_array_sends_the_optimiser_back_to_one_call_per_parameter():
    X, y = _flat_data()
    model = _flat_net(Adam(lr=0.01))
    model.fit(X, y, epochs=1, batch_size=8, verbose=0)
    layer = model.layers[2]
    layer.params["W"] = layer.params["W"].copy()  # no longer a view of the flat array
    before = layer.params["W"].copy()
    model.loss.forward(model.forward(X), y)
    model.backward(model.loss.backward())
    model.optimizer.step(model.parameters())
    assert model.optimizer._flat is None
    assert not np.array_equal(layer.params["W"], before)  # the new array was updated
    # the next fit lays them out again
    model.fit(X, y, epochs=1, batch_size=8, verbose=0)
    assert model.optimizer._flat is not None
    assert layer.params["W"].base is model.layers[0].params["W"].base


def test_parameters_of_several_dtypes_are_left_as_they_are():
    from scratchnet.optim import Parameter as P

    model = _flat_net(SGD(lr=0.1))
    model.layers[2].params["b"] = model.layers[2].params["b"].astype(np.float64)
    params = model.flatten_parameters()
    assert [p.value.base for p in params] == [None] * 4
    assert model.optimizer._flat is None
    assert isinstance(params[0], P)
