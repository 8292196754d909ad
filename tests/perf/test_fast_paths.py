"""The fast paths compute the same numbers as the plain formulas they replace.

Speed itself is measured by ``benchmarks/run.py``, never asserted here. Each test writes
the textbook version of a computation next to the engine's faster one and compares:
bit for bit where the fast path does the same floating-point operations in the same
order, within float tolerance where it may round differently.
"""

from __future__ import annotations

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import scratchnet.optim as optim
from scratchnet import Sequential
from scratchnet.layers import Dense, ReLU, Sigmoid
from scratchnet.layers.activations import log_softmax, sigmoid, softmax
from scratchnet.losses import BCELoss, SoftmaxCrossEntropy
from scratchnet.optim import SGD, Adam, AdamW, Parameter, RMSprop


def _plain_sigmoid(z: np.ndarray) -> np.ndarray:
    """The two-branch stable sigmoid, written with np.where (both branches evaluated)."""
    with np.errstate(over="ignore", invalid="ignore"):  # the branch np.where drops
        return np.where(z >= 0, 1.0 / (1.0 + np.exp(-z)), np.exp(z) / (1.0 + np.exp(z)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_equals_the_two_branch_formula_bit_for_bit(dtype):
    rng = np.random.default_rng(0)
    z = (rng.standard_normal(5000) * 30).astype(dtype)
    z[:6] = [0.0, -0.0, 1e4, -1e4, np.finfo(dtype).max, -np.finfo(dtype).max]
    got = sigmoid(z)
    assert got.dtype == dtype
    np.testing.assert_array_equal(got, _plain_sigmoid(z).astype(dtype))


def test_sigmoid_keeps_nan_and_zero_dimensional_input():
    assert np.isnan(sigmoid(np.array([np.nan], np.float32))[0])
    out = sigmoid(np.float32(-3.0))
    assert out.dtype == np.float32 and out.shape == ()
    assert out == np.float32(1 / (1 + np.exp(3.0)))


def test_relu_forward_backward_equal_the_mask_formulas():
    rng = np.random.default_rng(1)
    z = rng.standard_normal((64, 33)).astype(np.float32)
    z[0, :3] = [0.0, -0.0, np.nan]
    g = rng.standard_normal(z.shape).astype(np.float32)
    relu = ReLU()
    a = relu.forward(z)
    plain = np.where(z > 0, z, np.float32(0))
    plain[0, 2] = np.nan  # max(nan, 0) is nan, like z * (z > 0)
    np.testing.assert_array_equal(a, plain)
    assert a.dtype == np.float32
    np.testing.assert_array_equal(relu.backward(g), g * (z > 0))


def _softmax_ce_plain(z, y):
    """Loss and gradient the textbook way: log_softmax for the loss, softmax - onehot."""
    n = len(z)
    if y.ndim == 1:
        loss = -np.mean(log_softmax(z, axis=1)[np.arange(n), y], dtype=np.float64)
        onehot = np.zeros_like(z)
        onehot[np.arange(n), y] = 1.0
    else:
        loss = -np.sum(y * log_softmax(z, axis=1), dtype=np.float64) / n
        onehot = y
    grad = softmax(z, axis=1)
    grad -= onehot
    grad /= z.dtype.type(n)
    return loss, grad


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_softmax_cross_entropy_equals_plain_bit_for_bit(dtype):
    rng = np.random.default_rng(2)
    z = (rng.standard_normal((128, 10)) * 5).astype(dtype)
    labels = rng.integers(0, 10, 128)
    onehot = np.eye(10, dtype=dtype)[labels]
    for y in (labels, onehot):
        loss = SoftmaxCrossEntropy()
        value = loss.forward(z, y)
        grad = loss.backward()
        plain_value, plain_grad = _softmax_ce_plain(z, y)
        # The value sums log(total) and the picked shifted logits separately instead of
        # log p itself: float32 rounds those differently (the gradient is bit for bit).
        rel = 1e-12 if dtype == np.float64 else 1e-6
        assert value == pytest.approx(float(plain_value), rel=rel)
        np.testing.assert_array_equal(grad, plain_grad)
        assert grad.dtype == dtype
        # backward again (the cached probabilities were handed out and modified): same answer
        np.testing.assert_array_equal(loss.backward(), plain_grad)


def test_softmax_cross_entropy_backward_belongs_to_the_last_forward():
    rng = np.random.default_rng(3)
    loss = SoftmaxCrossEntropy()
    z1, z2 = rng.standard_normal((2, 8, 4)).astype(np.float32)
    y = rng.integers(0, 4, 8)
    loss.forward(z1, y)
    loss.forward(z2, y)
    np.testing.assert_array_equal(loss.backward(), _softmax_ce_plain(z2, y)[1])
    # value_and_grad uses the same pair
    v, g = loss.value_and_grad(z1, y)
    pv, pg = _softmax_ce_plain(z1, y)
    assert v == pytest.approx(float(pv), rel=1e-6)  # float32 rounding, as above
    np.testing.assert_array_equal(g, pg)


def test_softmax_cross_entropy_predicts_the_argmax_of_the_probabilities():
    rng = np.random.default_rng(4)
    z = rng.standard_normal((500, 10)).astype(np.float32)
    loss = SoftmaxCrossEntropy()
    np.testing.assert_array_equal(loss.predict_labels(z), softmax(z, axis=1).argmax(axis=1))


def test_bce_reuses_its_clipped_probabilities_without_changing_anything():
    rng = np.random.default_rng(5)
    p = rng.random((16, 1)).astype(np.float32)
    p[:3, 0] = [0.0, 1.0, 1e-12]  # clipped ones
    y = (rng.random((16, 1)) > 0.5).astype(np.float32)
    eps = max(1e-7, float(np.finfo(np.float32).eps))
    pc = np.clip(p, eps, 1 - eps)
    loss = BCELoss()
    value = loss.forward(p, y)
    assert value == float(-np.mean(y * np.log(pc) + (1 - y) * np.log1p(-pc)))
    np.testing.assert_array_equal(loss.backward(), (pc - y) / (pc * (1 - pc)) / np.float32(16))
    # a second forward on other outputs: backward follows it, not the cached clip
    p2 = rng.random((16, 1)).astype(np.float32)
    loss.forward(p2, y)
    pc2 = np.clip(p2, eps, 1 - eps)
    np.testing.assert_array_equal(loss.backward(), (pc2 - y) / (pc2 * (1 - pc2)) / np.float32(16))


def test_plain_sgd_step_is_w_minus_lr_g_bit_for_bit():
    rng = np.random.default_rng(6)
    w = rng.standard_normal((5, 3)).astype(np.float32)
    g = rng.standard_normal((5, 3)).astype(np.float32)
    expected = w - np.float32(0.3) * g
    opt = SGD(lr=0.3)
    opt.step([Parameter("w", w, g)])
    np.testing.assert_array_equal(w, expected)


def _adam_plain(w, g, m, v, t, lr=1e-3, b1=0.9, b2=0.999, eps=1e-8):
    m[...] = b1 * m + (1 - b1) * g
    v[...] = b2 * v + (1 - b2) * g * g
    m_hat = m / (1 - b1**t)
    v_hat = v / (1 - b2**t)
    w -= lr * m_hat / (np.sqrt(v_hat) + eps)


def test_inplace_adam_follows_the_textbook_formulas():
    rng = np.random.default_rng(7)
    w = rng.standard_normal((20, 7)).astype(np.float32)
    w_ref = w.astype(np.float64)
    m = np.zeros_like(w_ref)
    v = np.zeros_like(w_ref)
    opt = Adam(lr=1e-2)
    for t in range(1, 31):
        g = rng.standard_normal(w.shape).astype(np.float32)
        opt.step([Parameter("w", w, g)])
        _adam_plain(w_ref, g.astype(np.float64), m, v, t, lr=1e-2)
    np.testing.assert_allclose(w, w_ref, rtol=1e-5, atol=1e-6)


def _train_with_blas_threads(make, threads, monkeypatch, shape):
    """Five steps of optimiser ``make()`` as if BLAS ran ``threads`` threads; the weights,
    and the scratch buffer, which shows which way the last pass was written."""
    monkeypatch.setattr(optim, "blas_threads", lambda: threads)
    rng = np.random.default_rng(8)
    w = rng.standard_normal(shape).astype(np.float32)
    opt = make()
    for _ in range(5):
        opt.step([Parameter("w", w, rng.standard_normal(shape).astype(np.float32))])
    return w, opt.state["w"]["tmp"]


@pytest.mark.parametrize("make", [
    lambda: SGD(lr=0.1),
    lambda: SGD(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
    lambda: RMSprop(),
    lambda: Adam(),
    lambda: AdamW(),
], ids=["sgd", "nesterov", "rmsprop", "adam", "adamw"])
def test_the_last_pass_gives_the_same_weights_whichever_way_it_is_written(make, monkeypatch):
    # With several BLAS threads, large arrays are updated as d = w - d, then w <- d (two
    # plain passes) instead of w -= d; small ones, and every array at one thread, in place.
    big = (200, 100)  # 20,000 >= SHARED_MIN_SIZE
    assert np.prod(big) >= optim.SHARED_MIN_SIZE
    w_one, tmp_one = _train_with_blas_threads(make, 1, monkeypatch, big)
    w_two, tmp_two = _train_with_blas_threads(make, 2, monkeypatch, big)
    np.testing.assert_array_equal(w_two, w_one)
    assert np.array_equal(tmp_two, w_two)  # the two-pass way leaves the new weights here
    assert not np.array_equal(tmp_one, w_one)  # in place: the step itself
    small = (20, 10)
    w_one, _ = _train_with_blas_threads(make, 1, monkeypatch, small)
    w_two, tmp_two = _train_with_blas_threads(make, 2, monkeypatch, small)
    np.testing.assert_array_equal(w_two, w_one)
    assert not np.array_equal(tmp_two, w_two)  # small: in place even with two threads


def _mlp_step_plain(params, X, y, lr):
    """One SGD step of Dense-ReLU-Dense + softmax cross-entropy, all in one function."""
    W1, b1, W2, b2 = params
    z1 = X @ W1 + b1
    a1 = np.maximum(z1, 0)
    z2 = a1 @ W2 + b2
    n = len(X)
    p = softmax(z2, axis=1)
    loss = -np.mean(np.log(p[np.arange(n), y]))
    dz2 = p
    dz2[np.arange(n), y] -= 1
    dz2 /= n
    dW2, db2 = a1.T @ dz2, dz2.sum(axis=0)
    dz1 = (dz2 @ W2.T) * (z1 > 0)
    dW1, db1 = X.T @ dz1, dz1.sum(axis=0)
    return loss, [W1 - lr * dW1, b1 - lr * db1, W2 - lr * dW2, b2 - lr * db2]


def test_fit_matches_a_hand_written_numpy_training_loop():
    rng = np.random.default_rng(8)
    X = rng.standard_normal((96, 12)).astype(np.float32)
    y = rng.integers(0, 5, 96)
    model = Sequential([Dense(12, 16), ReLU(), Dense(16, 5)], seed=0)
    model.compile(loss="cross_entropy", optimizer=SGD(lr=0.1))
    params = [p.value.astype(np.float64) for p in model.parameters()]
    losses = []
    for b in range(0, 96, 32):
        loss, params = _mlp_step_plain(params, X[b : b + 32].astype(np.float64), y[b : b + 32],
                                       0.1)
        losses.append(loss)
    hist = model.fit(X, y, epochs=1, batch_size=32, shuffle=False, verbose=0)
    for p, ref in zip(model.parameters(), params, strict=True):
        assert p.value.dtype == np.float32
        np.testing.assert_allclose(p.value, ref, rtol=1e-4, atol=1e-5)
    assert hist["loss"][0] == pytest.approx(np.mean(losses), rel=1e-5)


def test_stacked_seeds_train_like_one_network_at_a_time():
    from scratchnet.lessons.xor_stacked import initial_weights, train_stacked

    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32)
    y = np.array([[0], [1], [1], [0]], np.float32)
    seeds = [0, 1, 2, 3, 4]
    stacked = train_stacked(X, y, initial_weights(seeds), lr=1.0, epochs=300)
    for s, seed in enumerate(seeds):
        single = train_stacked(X, y, initial_weights([seed]), lr=1.0, epochs=300)
        for name in ("W1", "b1", "W2", "b2"):
            np.testing.assert_allclose(getattr(stacked.weights, name)[s],
                                       getattr(single.weights, name)[0], rtol=1e-5, atol=1e-6)
        # and like the engine's own fit on that seed's network
        from scratchnet.lessons.xor_stacked import build_network

        model = build_network(seed=seed)
        model.compile(loss="bce", optimizer=SGD(lr=1.0))
        model.fit(X, y, epochs=300, batch_size=None, verbose=0)
        for key, arr in stacked.weights.network(s).items():
            np.testing.assert_allclose(model.state_dict()[key], arr, rtol=1e-4, atol=1e-5)


def test_sigmoid_layer_backward_unchanged():
    rng = np.random.default_rng(9)
    z = rng.standard_normal((7, 3)).astype(np.float32)
    g = rng.standard_normal((7, 3)).astype(np.float32)
    layer = Sigmoid()
    a = layer.forward(z)
    np.testing.assert_array_equal(layer.backward(g), g * a * (1 - a))


def test_inplace_relu_gives_the_same_numbers_in_the_same_memory():
    rng = np.random.default_rng(3)
    z = rng.standard_normal((64, 8, 5, 5)).astype(np.float32)
    z[0, 0, 0, :3] = [0.0, -0.0, np.nan]
    g = rng.standard_normal(z.shape).astype(np.float32)
    plain, inplace = ReLU(), ReLU(inplace=True)
    a_plain = plain.forward(z)
    z_in = z.copy()
    a_in = inplace.forward(z_in)
    assert a_in is z_in  # written over its input
    np.testing.assert_array_equal(a_in, a_plain)
    dz_plain = plain.backward(g)
    g_in = g.copy()
    dz_in = inplace.backward(g_in)
    assert dz_in is g_in
    np.testing.assert_array_equal(dz_in, dz_plain)
    assert np.shares_memory(a_plain, z) is False and not np.shares_memory(dz_plain, g)


def _small_cnn(inplace: bool) -> Sequential:
    from scratchnet.layers import BatchNorm2d, Conv2D, Dropout, Flatten, MaxPool2D

    relu = lambda: ReLU(inplace=inplace)  # noqa: E731
    return Sequential([Conv2D(1, 4, 3), BatchNorm2d(4), relu(), MaxPool2D(2),
                       Flatten(), Dropout(0.2), relu(), Dense(4 * 3 * 3, 8), relu(),
                       Dense(8, 3)], seed=5)


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_training_with_inplace_relu_ends_with_the_same_weights_bit_for_bit(kind):
    rng = np.random.default_rng(11)
    if kind == "mlp":
        X = rng.standard_normal((90, 12)).astype(np.float32)

        def build(inplace):
            return Sequential([Dense(12, 16), ReLU(inplace=inplace), Dense(16, 16),
                               ReLU(inplace=inplace), Dense(16, 3)], seed=2)
    else:
        X = rng.standard_normal((90, 1, 8, 8)).astype(np.float32)
        build = _small_cnn
    y = rng.integers(0, 3, len(X))
    X_before = X.copy()
    weights, preds = [], []
    for inplace in (False, True):
        model = build(inplace).compile(loss="cross_entropy", optimizer="adam", lr=0.01)
        model.fit(X, y, epochs=3, batch_size=16, verbose=0)
        weights.append(model.state_dict())
        preds.append(model.predict(X))
    np.testing.assert_array_equal(X, X_before)  # the caller's data is never written
    assert weights[0].keys() == weights[1].keys()
    for k in weights[0]:
        np.testing.assert_array_equal(weights[0][k], weights[1][k], err_msg=k)
    np.testing.assert_array_equal(preds[0], preds[1])


@pytest.fixture
def one_blas_thread():
    """Inputs are left out only while BLAS runs one thread (see Dense)."""
    with threadpool_limits(1, user_api="blas"):
        yield


def _sparse_columns(rng, n: int, n_in: int, zero: np.ndarray, dtype) -> np.ndarray:
    """Data whose columns ``zero`` are 0 for every sample (like MNIST's blank pixels)."""
    x = rng.standard_normal((n, n_in)).astype(dtype)
    x[:, zero] = 0
    return x


@pytest.mark.usefixtures("one_blas_thread")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dense_leaves_out_inputs_zero_in_the_whole_batch_with_the_same_numbers(dtype):
    rng = np.random.default_rng(3)
    zero = rng.choice(40, size=14, replace=False)  # 35% of the inputs
    x = _sparse_columns(rng, 24, 40, zero, dtype)
    dz = rng.standard_normal((24, 9)).astype(dtype)
    results = {}
    for skip in (True, False):
        layer = Dense(40, 9, rng=0, dtype=dtype)
        layer.skip_min_work = 0  # this small layer too
        layer.skip_zero_inputs = skip
        layer.needs_input_grad = False  # as fit sets it for the first layer
        z = layer.forward(x)
        assert (layer._used is not None) == skip
        assert layer.backward(dz) is None
        results[skip] = (z, layer.grads["W"].copy(), layer.grads["b"].copy())
    tol = {"rtol": 1e-5, "atol": 1e-6} if dtype == np.float32 else {"rtol": 1e-12, "atol": 0}
    for fast, plain in zip(results[True], results[False], strict=True):
        np.testing.assert_allclose(fast, plain, **tol)
    dW = results[True][1]
    assert np.all(dW[zero] == 0) and np.all(dW[np.setdiff1d(np.arange(40), zero)] != 0)


def test_dense_multiplies_every_input_unless_a_quarter_is_zero_or_dx_is_needed(one_blas_thread):
    rng = np.random.default_rng(4)
    layer = Dense(40, 9, rng=0)
    layer.skip_min_work = 0
    layer.needs_input_grad = False
    layer.forward(_sparse_columns(rng, 24, 40, np.arange(9), np.float32))  # 9 of 40 zero
    assert layer._used is None
    layer.forward(_sparse_columns(rng, 24, 40, np.arange(10), np.float32))  # a quarter
    np.testing.assert_array_equal(layer._used[1], np.arange(10))
    layer.needs_input_grad = True  # dL/dx = dz @ W.T needs every row of W anyway
    layer.forward(_sparse_columns(rng, 24, 40, np.arange(20), np.float32))
    assert layer._used is None
    layer.needs_input_grad = False
    layer.skip_min_work = 24 * 40 * 9 + 1  # too small a product to be worth it
    layer.forward(_sparse_columns(rng, 24, 40, np.arange(20), np.float32))
    assert layer._used is None
    layer.skip_min_work = 0
    layer.forward(_sparse_columns(rng, 24, 40, np.arange(20), np.float32))
    assert layer._used is not None  # and back


def test_dense_multiplies_every_input_while_blas_runs_several_threads():
    from scratchnet.parallel import blas_threads

    layer = Dense(40, 9, rng=0)
    layer.skip_min_work = 0
    layer.needs_input_grad = False
    x = _sparse_columns(np.random.default_rng(4), 24, 40, np.arange(20), np.float32)
    with threadpool_limits(2, user_api="blas"):
        if blas_threads() != 2:
            pytest.skip("this NumPy's BLAS cannot run two threads here")
        layer.forward(x)
    assert layer._used is None
    with threadpool_limits(1, user_api="blas"):
        layer.forward(x)
    assert layer._used is not None


def test_an_input_that_is_nan_somewhere_is_never_left_out(one_blas_thread):
    layer = Dense(8, 3, rng=0)
    layer.skip_min_work = 0
    layer.needs_input_grad = False
    x = np.zeros((5, 8), np.float32)
    x[:, 0] = 1.0
    x[2, 5] = np.nan
    z = layer.forward(x)
    np.testing.assert_array_equal(layer._used[0], [0, 5])
    assert np.isnan(z[2]).all() and np.isfinite(np.delete(z, 2, axis=0)).all()


def test_gradients_through_the_skipping_path_pass_the_gradient_check(one_blas_thread):
    from scratchnet.gradcheck import gradcheck

    rng = np.random.default_rng(5)
    layer = Dense(12, 5, rng=1)
    layer.skip_min_work = 0
    layer.needs_input_grad = False
    x = _sparse_columns(rng, 7, 12, np.array([0, 3, 4, 11]), np.float64)
    report = gradcheck(layer, x, check_input=False)
    assert report.ok(1e-7), str(report)
    assert {row.name for row in report.rows} == {"W", "b"}


def test_fit_trains_the_same_with_and_without_leaving_zero_inputs_out(one_blas_thread):
    rng = np.random.default_rng(6)
    X = _sparse_columns(rng, 192, 64, np.arange(0, 64, 3), np.float32)
    X[rng.random(X.shape) < 0.5] = 0  # and more zeros, column by column within batches
    y = rng.integers(0, 4, len(X))
    states, used = [], []
    for skip in (True, False):
        model = Sequential([Dense(64, 32), ReLU(inplace=True), Dense(32, 4)], seed=0)
        first = model.layers[0]
        first.skip_min_work, first.skip_zero_inputs = 0, skip
        model.compile(loss="cross_entropy", optimizer="adam", lr=1e-2)
        calls = []

        def forward(x, layer=first, plain=first.forward, seen=calls):
            z = plain(x)
            seen.append(layer._used)  # which inputs this batch multiplied
            return z

        first.forward = forward
        hist = model.fit(X, y, epochs=3, batch_size=32, verbose=0)
        used.append(sum(u is not None for u in calls))
        states.append((model.state_dict(), hist["loss"]))
    assert used == [18, 0]  # every batch of the skipping run, none of the other
    for k in states[0][0]:
        np.testing.assert_allclose(states[0][0][k], states[1][0][k], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(states[0][1], states[1][1], rtol=1e-5)


# -- ReLU followed by max pooling runs as max pooling first (Sequential.run_order) --------
def _relu_pool_net(pool, relu_inplace: bool = False) -> Sequential:
    from scratchnet.layers import Conv2D, Flatten

    conv = Conv2D(2, 3, 3, padding=1, rng=0)
    # Small whole-number weights on whole-number inputs: the convolution's outputs are
    # whole numbers too, with many exact ties, zeros and all-negative windows.
    conv.params["W"][...] = np.random.default_rng(1).integers(-1, 2, conv.params["W"].shape)
    conv.params["b"][...] = [0, 1, -1]
    n_out = int(np.prod(pool.output_shape((3, 7, 7))))
    return Sequential([conv, ReLU(inplace=relu_inplace), pool, Flatten(),
                       Dense(n_out, 4, rng=2)])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("pool_args", [dict(kernel_size=2),
                                       dict(kernel_size=3, stride=2, padding=1),
                                       dict(kernel_size=3, stride=1)])
def test_pooling_before_relu_gives_the_same_output_and_gradients_bit_for_bit(dtype, pool_args):
    from scratchnet.layers import MaxPool2D

    rng = np.random.default_rng(4)
    x = rng.integers(-2, 3, (6, 2, 7, 7)).astype(dtype)
    x[0, 0, 0, 0] = np.nan  # a NaN window passes NaN forward, nothing back, either way
    z = _relu_pool_net(MaxPool2D(**pool_args)).astype(dtype).layers[0].forward(x)
    # the cases that matter occur: zeros, negatives, ties (few distinct values)
    assert (z == 0).mean() > 0.05 and (z < 0).mean() > 0.2 and len(np.unique(z)) < 40
    grad_out = rng.standard_normal((len(x), 4)).astype(dtype)
    results = []
    for reorder in (False, True):
        model = _relu_pool_net(MaxPool2D(**pool_args)).astype(dtype)
        model.pool_before_relu = reorder
        assert model.run_order() == ((0, 2, 1, 3, 4) if reorder else (0, 1, 2, 3, 4))
        out = model.forward(x)
        dx = model.backward(grad_out.copy())
        results.append((out, dx, {k: g.copy() for k, g in model.layers[0].grads.items()}))
    (out0, dx0, g0), (out1, dx1, g1) = results
    assert np.isnan(out0).any()
    np.testing.assert_array_equal(out1, out0)
    np.testing.assert_array_equal(dx1, dx0)
    for k in g0:
        np.testing.assert_array_equal(g1[k], g0[k], err_msg=k)


def test_run_order_swaps_only_a_relu_directly_before_a_max_pool():
    from scratchnet.layers import AvgPool2D, Conv2D, Dropout, Flatten, LeakyReLU, MaxPool2D

    def order(*layers):
        return list(Sequential(list(layers)).run_order())

    assert order(Conv2D(1, 2, 3), ReLU(), MaxPool2D(2), Conv2D(2, 2, 3), ReLU(inplace=True),
                 MaxPool2D(2), Flatten(), Dense(2, 2), ReLU()) == [0, 2, 1, 3, 5, 4, 6, 7, 8]
    assert order(ReLU(), MaxPool2D(2), ReLU(), MaxPool2D(2)) == [1, 0, 3, 2]
    assert order(ReLU(), ReLU(), MaxPool2D(2)) == [0, 2, 1]
    assert order(Conv2D(1, 2, 3), LeakyReLU(), MaxPool2D(2)) == [0, 1, 2]  # may round ties
    assert order(Conv2D(1, 2, 3), ReLU(), AvgPool2D(2)) == [0, 1, 2]  # a mean does not commute
    assert order(Conv2D(1, 2, 3), ReLU(), Dropout(0.5), MaxPool2D(2)) == [0, 1, 2, 3]
    assert order(Conv2D(1, 2, 3), MaxPool2D(2), ReLU()) == [0, 1, 2]

    class MyReLU(ReLU):  # a subclass may compute something else
        pass

    assert order(Conv2D(1, 2, 3), MyReLU(), MaxPool2D(2)) == [0, 1, 2]


def test_run_order_follows_changes_to_the_layers_and_to_record_outputs():
    from scratchnet.layers import Conv2D, Flatten, MaxPool2D

    model = Sequential([Conv2D(1, 2, 3), ReLU(), Flatten()])
    assert model.run_order() == (0, 1, 2)
    model.layers.insert(2, MaxPool2D(2))
    assert model.run_order() == (0, 2, 1, 3)
    model.record_outputs = True  # every recorded output is the one its position promises
    assert model.run_order() == (0, 1, 2, 3)
    x = np.random.default_rng(0).standard_normal((2, 1, 6, 6)).astype(np.float32)
    model.forward(x)
    assert [o.shape for o in model.outputs] == [(2, 2, 4, 4), (2, 2, 4, 4), (2, 2, 2, 2), (2, 8)]
    assert model.outputs[1].min() >= 0  # the ReLU's own output, before pooling


@pytest.mark.parametrize("inplace", [False, True])
def test_fit_with_pooling_before_relu_ends_with_the_same_weights_bit_for_bit(inplace):
    rng = np.random.default_rng(12)
    X = rng.standard_normal((80, 1, 8, 8)).astype(np.float32)
    y = rng.integers(0, 3, len(X))
    X_before = X.copy()
    runs = []
    for reorder in (False, True):
        model = _small_cnn(inplace)
        model.pool_before_relu = reorder
        assert (model.run_order()[2:4] == (3, 2)) is reorder  # BatchNorm2d, ReLU, MaxPool2D
        model.compile(loss="cross_entropy", optimizer="adam", lr=0.01)
        hist = model.fit(X, y, epochs=3, batch_size=16, verbose=0)
        runs.append((model.state_dict(), hist["loss"], model.predict(X)))
    np.testing.assert_array_equal(X, X_before)
    for k in runs[0][0]:
        np.testing.assert_array_equal(runs[1][0][k], runs[0][0][k], err_msg=k)
    assert runs[1][1] == runs[0][1]
    np.testing.assert_array_equal(runs[1][2], runs[0][2])
