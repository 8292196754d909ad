"""Numerical stability: activations, softmax/log-softmax and every loss stay finite, with
finite gradients, at huge logits (+-1000, +-1e4) and at float32's extremes.

``np.finfo(np.float32).max`` is about 3.4e38 and ``.min`` is -3.4e38. Rows mix an extreme
value with ordinary ones; a row holding both +max and -max is left out in float32,
because there the exact log-probability of the smaller class, -6.8e38, is itself
outside float32's range (it is tested in float64, where it fits).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from scratchnet.layers import (
    LeakyReLU,
    ReLU,
    Sigmoid,
    Softmax,
    Tanh,
    log_sigmoid,
    log_softmax,
    sigmoid,
    softmax,
)
from scratchnet.losses import BCELoss, BCEWithLogitsLoss, MSELoss, SoftmaxCrossEntropy

F32 = np.finfo(np.float32)


def logits(scale, dtype):
    """(4, 3) logits: each row has one value of +-scale next to ordinary ones."""
    return np.array(
        [[scale, 0.0, 1.0],
         [-scale, 0.0, -1.0],
         [scale, scale, 0.5],
         [-scale, -scale, 2.0]],
        dtype=dtype,
    )


SCALES = [
    pytest.param(1e3, np.float32, id="1e3-f32"),
    pytest.param(1e4, np.float32, id="1e4-f32"),
    pytest.param(float(F32.max), np.float32, id="f32max-f32"),
    pytest.param(1e3, np.float64, id="1e3-f64"),
    pytest.param(1e4, np.float64, id="1e4-f64"),
    pytest.param(float(F32.max), np.float64, id="f32max-f64"),
]


@pytest.fixture(autouse=True)
def no_numpy_warnings():
    # Overflow in exp or 0 * inf would show up as a RuntimeWarning before a NaN does.
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        yield


def finite(a):
    a = np.asarray(a)
    return bool(np.all(np.isfinite(a)))


@pytest.mark.parametrize(("scale", "dtype"), SCALES)
def test_sigmoid_and_log_sigmoid(scale, dtype):
    z = logits(scale, dtype)
    s = sigmoid(z)
    assert s.dtype == dtype and finite(s)
    assert np.all((s >= 0) & (s <= 1))
    assert s[0, 0] == 1.0 and s[1, 0] == 0.0
    ls = log_sigmoid(z)
    assert finite(ls) and np.all(ls <= 0)
    assert ls[1, 0] == pytest.approx(-scale, rel=1e-6)  # log sigmoid(-s) = -s for large s


@pytest.mark.parametrize(("scale", "dtype"), SCALES)
@pytest.mark.parametrize("layer_cls", [Sigmoid, Tanh, ReLU, LeakyReLU, Softmax])
def test_activation_layers_forward_and_backward(layer_cls, scale, dtype):
    layer = layer_cls()
    z = logits(scale, dtype)
    out = layer.forward(z)
    grad = layer.backward(np.ones_like(z) * dtype(0.5))
    assert out.dtype == grad.dtype == dtype
    if layer_cls in (ReLU, LeakyReLU):
        # Piecewise linear: the output is as large as the input, but never more.
        assert finite(out) and finite(grad)
    else:
        assert finite(out) and finite(grad)
        assert np.all(np.abs(out) <= 1)


@pytest.mark.parametrize(("scale", "dtype"), SCALES)
def test_softmax_and_log_softmax(scale, dtype):
    z = logits(scale, dtype)
    p = softmax(z, axis=1)
    assert p.dtype == dtype and finite(p)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-6)
    lp = log_softmax(z, axis=1)
    assert lp.dtype == dtype and finite(lp) and np.all(lp <= 0)
    # The largest logit of each row has probability ~1 (rows 0, 1, 3) or 1/2 (row 2).
    assert p[0, 0] == 1.0 and lp[0, 0] == 0.0
    assert p[2, 0] == pytest.approx(0.5) and lp[2, 0] == pytest.approx(-np.log(2))


def test_log_softmax_of_opposite_extremes_in_float64():
    z = np.array([[F32.max, F32.min]], dtype=np.float64)
    lp = log_softmax(z, axis=1)
    assert finite(lp)
    assert lp[0, 1] == pytest.approx(2 * float(F32.min))


def _loss_cases(scale, dtype):
    z = logits(scale, dtype)
    labels = np.array([1, 0, 2, 2])  # mostly *wrong* classes: the largest losses
    one_hot = np.eye(3, dtype=dtype)[labels]
    binary = np.array([[0, 1, 0], [1, 0, 1], [0, 0, 1], [1, 1, 0]], dtype=dtype)
    return [
        ("cross_entropy labels", SoftmaxCrossEntropy(), z, labels),
        ("cross_entropy one-hot", SoftmaxCrossEntropy(), z, one_hot),
        ("bce_logits", BCEWithLogitsLoss(), z, binary),
        ("bce on sigmoid(z)", BCELoss(), sigmoid(z), binary),
        ("mse on sigmoid(z)", MSELoss(), sigmoid(z), binary),
        *([("mse on z", MSELoss(), z, binary)] if scale < 1e19 or dtype == np.float64 else []),
    ]


@pytest.mark.parametrize(("scale", "dtype"), SCALES)
def test_every_loss_is_finite_with_finite_gradients(scale, dtype):
    for name, loss, out, target in _loss_cases(scale, dtype):
        value = loss.forward(out, target)
        grad = loss.backward()
        assert np.isfinite(value), f"{name}: loss {value}"
        assert value >= 0, name
        assert grad.dtype == dtype, name
        assert finite(grad), f"{name}: gradient {grad}"


@pytest.mark.parametrize(("scale", "dtype"), SCALES)
def test_loss_values_at_large_logits_are_right(scale, dtype):
    z = logits(scale, dtype)
    # Row 0 with label 1: -log softmax = logsumexp(z) - z_1 = scale - 0 (up to e^-scale).
    ce = SoftmaxCrossEntropy().forward(z[:1], np.array([1]))
    assert ce == pytest.approx(scale, rel=1e-6)
    # BCE from logits with z = scale, y = 0: -log(1 - sigmoid(scale)) = scale.
    bce = BCEWithLogitsLoss().forward(z[:1, :1], np.zeros((1, 1), dtype=dtype))
    assert bce == pytest.approx(scale, rel=1e-6)
    # Gradients are bounded by 1/n whatever the scale: (p - y) / n.
    SoftmaxCrossEntropy().forward(z, np.array([1, 0, 2, 2]))
    assert np.max(np.abs(SoftmaxCrossEntropy().value_and_grad(z, np.array([1, 0, 2, 2]))[1])) \
        <= 0.25 + 1e-7


def test_mse_at_the_float32_extreme_is_finite_with_a_finite_gradient():
    # (3.4e38)^2 is not a float32 number, so the value is computed in float64 (finite);
    # the gradient 2 (a - y) / n is representable in float32 and stays there.
    z = logits(float(F32.max), np.float32)
    loss = MSELoss()
    value = loss.forward(z, np.zeros_like(z))
    assert np.isfinite(value)
    assert value == pytest.approx(np.mean(z.astype(np.float64) ** 2), rel=1e-6)
    grad = loss.backward()
    assert grad.dtype == np.float32 and finite(grad)
    assert grad[0, 0] == pytest.approx(2 * float(F32.max) / z.size, rel=1e-6)


def test_bce_on_saturated_probabilities_is_clipped_not_infinite():
    p = np.array([[0.0], [1.0], [1.0], [0.0]], dtype=np.float32)
    y = np.array([[1.0], [0.0], [1.0], [0.0]], dtype=np.float32)
    loss = BCELoss()
    value = loss.forward(p, y)
    grad = loss.backward()
    assert np.isfinite(value) and finite(grad)
    # Wrong and certain: -log(eps) each, for half the samples.
    eps = max(loss.eps, float(F32.eps))
    assert value == pytest.approx(-np.log(eps) / 2, rel=1e-4)


def test_training_step_through_a_saturated_network_stays_finite():
    from scratchnet import SGD, Dense, Sequential

    model = Sequential([Dense(2, 3), Tanh(), Dense(3, 2)], seed=0)
    model.layers[0].W[...] = 1e4  # tanh saturated everywhere
    model.layers[2].W[...] = [[1e3, -1e3], [1e3, -1e3], [1e3, -1e3]]
    model.compile(loss="cross_entropy", optimizer=SGD(lr=0.1), metrics=())
    X = np.array([[1.0, 2.0], [-1.0, -3.0]], dtype=np.float32)
    history = model.fit(X, np.array([1, 0]), epochs=3, batch_size=None, verbose=0)
    assert all(np.isfinite(history["loss"]))
    assert all(np.all(np.isfinite(p.value)) for p in model.parameters())
