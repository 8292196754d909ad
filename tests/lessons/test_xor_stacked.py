"""Stacked-seed training equals seed-by-seed training with the engine."""

from __future__ import annotations

import numpy as np
import pytest

import scratchnet as sn
from scratchnet.errors import ConfigError, DivergenceError, ShapeError
from scratchnet.lessons.xor import xor_data
from scratchnet.lessons.xor_stacked import (
    StackedWeights,
    build_network,
    forward,
    initial_weights,
    loss_values,
    train_stacked,
)

X, Y = xor_data()
SEEDS = [0, 1, 2, 7]


def _engine(seed, loss, activation, optimizer, lr, epochs, hidden=2, dtype=np.float64,
            init="xavier_uniform"):
    model = build_network(hidden, activation, init, seed, dtype=dtype)
    model.compile(loss=loss, optimizer=optimizer, lr=lr)
    history = model.fit(X, Y, epochs=epochs, batch_size=None, verbose=0)
    return model.state_dict(), np.asarray(history["loss"])


def test_initial_weights_are_the_engines():
    w = initial_weights(SEEDS, 3, "sigmoid", "xavier_normal")
    assert w.W1.shape == (4, 2, 3) and w.b1.shape == (4, 1, 3)
    assert w.W2.shape == (4, 3, 1) and w.b2.shape == (4, 1, 1)
    assert w.W1.dtype == np.float32
    for i, s in enumerate(SEEDS):
        state = build_network(3, "sigmoid", "xavier_normal", s).state_dict()
        for k, v in w.network(i).items():
            np.testing.assert_array_equal(v, state[k])


@pytest.mark.parametrize(
    "loss, activation, optimizer, lr",
    [
        ("bce", "sigmoid", "sgd", 5.0),
        ("mse", "sigmoid", "sgd", 5.0),
        ("bce", "tanh", "momentum", 0.5),
        ("bce", "relu", "adam", 0.01),
    ],
)
def test_stacked_equals_seed_by_seed_float64(loss, activation, optimizer, lr):
    epochs = 400
    w0 = initial_weights(SEEDS, 2, activation, dtype=np.float64)
    run = train_stacked(X, Y, w0, loss=loss, activation=activation, optimizer=optimizer, lr=lr,
                        epochs=epochs)
    assert run.loss.shape == (len(SEEDS), epochs)
    for i, s in enumerate(SEEDS):
        state, hist = _engine(s, loss, activation, optimizer, lr, epochs)
        mine = run.weights.network(i)
        for k in state:
            np.testing.assert_allclose(mine[k], state[k], rtol=0, atol=1e-9, err_msg=k)
        np.testing.assert_allclose(run.loss[i], hist, rtol=1e-9, atol=1e-12)


def test_stacked_equals_seed_by_seed_float32_default():
    # float32 rounding differs in the order of a few operations (a2 - y vs the long chain),
    # so the trajectories agree to float32 precision, not bit for bit.
    w0 = initial_weights(SEEDS, 2)
    run = train_stacked(X, Y, w0, loss="bce", lr=5.0, epochs=1000)
    for i, s in enumerate(SEEDS):
        state, _ = _engine(s, "bce", "sigmoid", "sgd", 5.0, 1000, dtype=np.float32)
        for k, v in run.weights.network(i).items():
            np.testing.assert_allclose(v, state[k], rtol=2e-3, atol=2e-3, err_msg=k)


def test_results_shapes_and_solved_flags():
    w0 = initial_weights(range(20), 2)
    run = train_stacked(X, Y, w0, epochs=1500, lr=5.0, record_loss=False)
    assert run.loss.shape == (20, 0)
    assert run.outputs.shape == (20, 4) and run.correct.shape == (20, 4)
    _, _, _, a2 = forward(X, run.weights)
    np.testing.assert_allclose(run.outputs, a2[:, :, 0])
    np.testing.assert_array_equal(run.solved, ((a2[:, :, 0] > 0.5) == (Y[:, 0] > 0.5)).all(1))
    np.testing.assert_allclose(run.final_loss, loss_values(a2, Y, "bce"))
    # Most seeds solve XOR; the ones that do not end on the known plateaus.
    assert 12 <= run.solved.sum() < 20
    stuck = run.final_loss[~run.solved]
    assert np.all((np.abs(stuck - np.log(2) / 2) < 0.01) | (np.abs(stuck - 0.4774) < 0.01))
    # The starting weights are not modified.
    np.testing.assert_array_equal(w0.W1, initial_weights(range(20), 2).W1)


def test_loss_values_match_engine_losses():
    rng = np.random.default_rng(0)
    a2 = rng.uniform(0.01, 0.99, size=(3, 4, 1)).astype(np.float32)
    for name, cls in (("bce", sn.BCELoss), ("mse", sn.MSELoss)):
        got = loss_values(a2, Y, name)
        want = [cls().forward(a2[i], Y) for i in range(3)]
        np.testing.assert_allclose(got, want, rtol=1e-6)


def test_errors():
    w0 = initial_weights([0], 2)
    with pytest.raises(ConfigError, match="unknown loss 'hinge'"):
        train_stacked(X, Y, w0, loss="hinge")
    with pytest.raises(ConfigError, match="hidden activation 'softplus'"):
        train_stacked(X, Y, w0, activation="softplus")
    with pytest.raises(ConfigError, match="epochs must be a positive integer"):
        train_stacked(X, Y, w0, epochs=0)
    with pytest.raises(ShapeError, match=r"X \(n, 2\)"):
        train_stacked(X[:, :1], Y, w0)
    with pytest.raises(ConfigError, match="unknown optimiser"):
        train_stacked(X, Y, w0, optimizer="lbfgs")
    with pytest.raises(ConfigError, match="at least one seed"):
        initial_weights([], 2)
    with pytest.raises(ShapeError, match="0.W, 0.b, 2.W, 2.b"):
        StackedWeights.from_state_dicts([{"0.W": np.zeros((2, 2))}])
    bad = initial_weights([0, 1], 2)
    bad.W1[1, 0, 0] = np.inf  # 0 * inf = NaN for the input [0 0]
    with pytest.raises(DivergenceError, match=r"network\(s\) \(first: network 1\) became nan"):
        train_stacked(X, Y, bad, epochs=5)
