"""The pure-Python XOR trainer computes what the engine computes."""

import numpy as np
import pytest

from scratchnet import SGD, BCELoss, Dense, MSELoss, Sequential, Sigmoid
from scratchnet.errors import ConfigError
from scratchnet.lessons.xor_scalar import train_xor_scalar

X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
Y = np.array([[0], [1], [1], [0]], dtype=np.float64)


@pytest.mark.parametrize("loss", ["bce", "mse"])
@pytest.mark.parametrize("hidden", [2, 3])
def test_scalar_trainer_equals_engine_fit(loss, hidden):
    model = Sequential([Dense(2, hidden, dtype=np.float64), Sigmoid(),
                        Dense(hidden, 1, dtype=np.float64), Sigmoid()], seed=3)
    start = {k: v.copy() for k, v in model.state_dict().items()}
    model.compile(loss=BCELoss() if loss == "bce" else MSELoss(), optimizer=SGD(lr=2.0))
    history = model.fit(X, Y, epochs=500, batch_size=None, verbose=0)
    res = train_xor_scalar(start["0.W"], start["0.b"], start["2.W"], start["2.b"], X, Y,
                           lr=2.0, steps=500, loss=loss)
    end = model.state_dict()
    for got, key in ((res.W1, "0.W"), (res.b1, "0.b"), (res.W2, "2.W"), (res.b2, "2.b")):
        np.testing.assert_allclose(got, end[key], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(res.losses, history["loss"], rtol=1e-9)


def test_scalar_trainer_solves_xor():
    rng = np.random.default_rng(0)
    res = train_xor_scalar(rng.normal(size=(2, 2)), np.zeros(2), rng.normal(size=(2, 1)),
                           np.zeros(1), X, Y, lr=5.0, steps=3000)
    assert res.losses[-1] < 0.05 and res.losses[-1] < res.losses[0]


@pytest.mark.parametrize("kwargs, phrase", [({"loss": "hinge"}, "loss must be"),
                                            ({"steps": 0}, "steps must be"),
                                            ({"lr": -1.0}, "lr must be")])
def test_scalar_trainer_bad_arguments(kwargs, phrase):
    args = {"lr": 1.0, "steps": 10, "loss": "bce", **kwargs}
    with pytest.raises(ConfigError, match=phrase):
        train_xor_scalar(np.ones((2, 2)), np.zeros(2), np.ones((2, 1)), np.zeros(1), X, Y,
                         **args)
