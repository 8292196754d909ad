"""Sequential end to end: a real XOR training run, determinism, dtypes, summary, history,
validation and callbacks."""

from __future__ import annotations

import numpy as np
import pytest

from scratchnet import (
    SGD,
    Adam,
    Callback,
    Dense,
    Dropout,
    EarlyStopping,
    LambdaCallback,
    ModelCheckpoint,
    ReLU,
    Sequential,
    Sigmoid,
    Softmax,
    Tanh,
    gradcheck,
    load_model,
)
from scratchnet.errors import ConfigError, DTypeError
from scratchnet.losses import MSELoss

X_XOR = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
Y_XOR = np.array([0, 1, 1, 0])


def blobs(n=120, seed=0):
    """Three Gaussian blobs in 2-D: (n, 2) float32, labels (n,) int64."""
    rng = np.random.default_rng(seed)
    centres = np.array([[-2.0, 0.0], [2.0, 0.0], [0.0, 2.5]])
    y = rng.integers(0, 3, size=n)
    X = centres[y] + rng.normal(0, 0.7, size=(n, 2))
    return X.astype(np.float32), y


def mlp(seed=0, dtype=None, dropout=0.2):
    kw = {} if dtype is None else {"dtype": dtype}
    model = Sequential(
        [Dense(2, 16, init="he_normal", **kw), ReLU(), Dropout(dropout), Dense(16, 3, **kw)],
        seed=seed,
    )
    return model.compile(loss="cross_entropy", optimizer=Adam(lr=0.01))


# -- a real training run ------------------------------------------------------------------
def test_xor_2_2_1_learns_all_four_cases():
    model = Sequential([Dense(2, 2), Sigmoid(), Dense(2, 1), Sigmoid()], seed=0)
    model.compile(loss="bce", optimizer=SGD(lr=1.0))
    history = model.fit(X_XOR, Y_XOR, epochs=2000, batch_size=None, verbose=0)
    np.testing.assert_array_equal(model.predict_labels(X_XOR), Y_XOR)
    assert history["accuracy"][-1] == 1.0
    assert history["loss"][-1] < 0.05 < history["loss"][0]
    p = model.predict_proba(X_XOR)[:, 0]
    assert np.all(p[[1, 2]] > 0.9) and np.all(p[[0, 3]] < 0.1)
    assert model.evaluate(X_XOR, Y_XOR)["accuracy"] == 1.0


def test_multiclass_mlp_with_minibatches_and_dropout():
    X, y = blobs()
    model = mlp()
    history = model.fit(X, y, epochs=30, batch_size=16, verbose=0)
    assert history["accuracy"][-1] > 0.9
    assert model.evaluate(X, y)["accuracy"] > 0.9
    proba = model.predict_proba(X[:5])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(model.predict_labels(X[:5]), proba.argmax(axis=1))
    # predict in batches gives the same as all at once.
    np.testing.assert_array_equal(model.predict(X, batch_size=7), model.predict(X))


def test_gradients_still_right_after_fit():
    # fit may skip work that no parameter needs; afterwards backward is complete again.
    X, y = blobs(40)
    model = mlp(dropout=0.0)
    model.fit(X, y, epochs=2, batch_size=8, verbose=0)
    model.train()
    out = model.forward(X)
    model.loss.forward(out, y)
    dx = model.backward(model.loss.backward())
    assert dx is not None and dx.shape == X.shape
    report = gradcheck(model, X[:6], y[:6], loss=model.loss)
    assert report.ok(1e-6), str(report)


# -- determinism and dtypes ------------------------------------------------------------------
def test_same_seed_gives_bit_identical_runs():
    X, y = blobs()
    runs = []
    for _ in range(2):
        model = mlp(seed=5)
        history = model.fit(X, y, epochs=3, batch_size=10, validation_split=0.2, verbose=0)
        runs.append((model.state_dict(), history.history))
    (s1, h1), (s2, h2) = runs
    for k in s1:
        assert s1[k].tobytes() == s2[k].tobytes(), k
    assert h1 == h2
    other = mlp(seed=6)
    other.fit(X, y, epochs=3, batch_size=10, validation_split=0.2, verbose=0)
    assert other.state_dict()["0.W"].tobytes() != s1["0.W"].tobytes()


def test_float32_end_to_end():
    X, y = blobs(32)
    model = mlp()
    assert model.dtype == np.float32
    seen = {}

    class Watch(Callback):
        def on_after_backward(self, step):
            seen["grads"] = {p.name: p.grad.dtype for p in self.model.parameters()}

    model.record_outputs = True
    model.fit(X.astype(np.float64), y, epochs=1, batch_size=8, verbose=0, callbacks=[Watch()])
    assert set(seen["grads"].values()) == {np.dtype(np.float32)}
    assert all(o.dtype == np.float32 for o in model.outputs)
    assert all(p.value.dtype == np.float32 for p in model.parameters())
    for st in model.optimizer.state.values():
        assert all(a.dtype == np.float32 for a in st.values())
    # float64 input is converted once at the boundary, never upcasting the network.
    assert model.predict(X.astype(np.float64)).dtype == np.float32
    assert model.predict(np.array([[1, 2]])).dtype == np.float32  # integers too
    # Every loss's gradient stays float32.
    out = model.forward(X)
    model.loss.forward(out, y)
    assert model.loss.backward().dtype == np.float32
    assert model.backward(model.loss.backward()).dtype == np.float32


def test_float64_on_request():
    X, y = blobs(32)
    model = mlp(dtype=np.float64)
    assert model.dtype == np.float64
    model.fit(X, y, epochs=1, batch_size=8, verbose=0)
    assert all(p.value.dtype == np.float64 for p in model.parameters())
    assert model.predict(X).dtype == np.float64
    converted = mlp().astype(np.float64)
    assert converted.dtype == np.float64 and converted.predict(X).dtype == np.float64


def test_layer_refuses_a_silent_upcast():
    layer = Dense(2, 2)
    with pytest.raises(DTypeError, match=r"input dtype is float64 but the layer's parameters are "
                                         r"float32; convert explicitly"):
        layer.forward(np.ones((1, 2)))


# -- description ----------------------------------------------------------------------------
def test_summary_counts_nine_parameters_for_2_2_1():
    model = Sequential([Dense(2, 2), Sigmoid(), Dense(2, 1), Sigmoid()], seed=0)
    printed = []
    text = model.summary(print_fn=printed.append)
    assert printed == [text]
    lines = text.splitlines()
    assert "Total parameters: 9" in lines
    rows = [line.split() for line in lines if line[:1].isdigit()]
    assert rows == [["0:", "Dense", "(batch,", "2)", "6"], ["1:", "Sigmoid", "(batch,", "2)", "0"],
                    ["2:", "Dense", "(batch,", "1)", "3"], ["3:", "Sigmoid", "(batch,", "1)", "0"]]
    assert model.n_params == 9


def test_summary_of_a_bigger_model():
    model = Sequential([Dense(784, 128), ReLU(), Dense(128, 10), Softmax()])
    text = model.summary(print_fn=None)
    assert "Total parameters: 101,770" in text
    assert "100,480" in text and "1,290" in text


# -- history and validation -------------------------------------------------------------------
def test_history_keys_and_lengths():
    X, y = blobs(40)
    h = mlp().fit(X, y, epochs=4, batch_size=8, verbose=0)
    assert set(h.keys()) == {"loss", "accuracy", "lr"}
    assert all(len(v) == 4 for v in h.history.values())
    assert h.epochs == [0, 1, 2, 3]
    assert h["lr"] == [0.01] * 4
    hv = mlp().fit(X, y, epochs=2, batch_size=8, validation_data=(X[:10], y[:10]), verbose=0)
    assert set(hv.keys()) == {"loss", "accuracy", "val_loss", "val_accuracy", "lr"}
    model = Sequential([Dense(2, 1)], seed=0).compile(loss="mse", optimizer="sgd", metrics=())
    hm = model.fit(X, y.astype(np.float32), epochs=2, verbose=0)
    assert set(hm.keys()) == {"loss", "lr"}


def test_history_loss_is_the_mean_over_the_epoch():
    # With lr so small that weights barely move, the epoch's logged loss equals the
    # sample-weighted mean of batch losses, i.e. (nearly) the full-data loss.
    X, y = blobs(30)
    model = Sequential([Dense(2, 3)], seed=0).compile(loss="cross_entropy",
                                                      optimizer=SGD(lr=1e-12))
    before = model.evaluate(X, y)["loss"]
    h = model.fit(X, y, epochs=1, batch_size=7, shuffle=False, verbose=0)  # 4 x 7 + 2
    assert h["loss"][0] == pytest.approx(before, rel=1e-6)


def test_validation_split_uses_the_last_samples():
    X, y = blobs(40)
    model = mlp()
    h = model.fit(X, y, epochs=3, batch_size=8, validation_split=0.25, verbose=0)
    final = model.evaluate(X[-10:], y[-10:])
    assert h["val_loss"][-1] == pytest.approx(final["loss"], rel=1e-6)
    assert h["val_accuracy"][-1] == final["accuracy"]
    # Training saw only the first 30 samples: changing the last 10 changes nothing but
    # the validation numbers.
    X2 = X.copy()
    X2[-10:] += 100
    model2 = mlp()
    h2 = model2.fit(X2, y, epochs=3, batch_size=8, validation_split=0.25, verbose=0)
    assert h2["loss"] == h["loss"]
    assert h2["val_loss"] != h["val_loss"]


def test_lr_schedule_is_logged_per_epoch():
    from scratchnet.schedules import StepDecay

    X, y = blobs(16)
    model = Sequential([Dense(2, 3)], seed=0)
    model.compile(loss="cross_entropy", optimizer=SGD(lr=StepDecay(0.1, step_size=2, gamma=0.5)))
    h = model.fit(X, y, epochs=3, batch_size=8, verbose=0)  # 2 steps per epoch
    # The rate of each epoch's last step: steps 1, 3, 5.
    assert h["lr"] == pytest.approx([0.1, 0.05, 0.025])
    assert model.optimizer.t == 6


# -- callbacks ------------------------------------------------------------------------------------
class Recorder(Callback):
    def __init__(self):
        self.events = []

    def on_train_begin(self, logs=None):
        self.events.append("train_begin")

    def on_epoch_begin(self, epoch):
        self.events.append(f"epoch_begin {epoch}")

    def on_batch_begin(self, step):
        self.events.append(f"batch_begin {step}")

    def on_after_backward(self, step):
        # Gradients are filled, weights not yet updated.
        grads = [p.grad.copy() for p in self.model.parameters()]
        self.weights_before = [p.value.copy() for p in self.model.parameters()]
        self.events.append(f"after_backward {step} {all(np.any(g != 0) for g in grads)}")

    def on_batch_end(self, step, logs):
        moved = any(np.any(p.value != w) for p, w in
                    zip(self.model.parameters(), self.weights_before, strict=True))
        self.events.append(f"batch_end {step} {sorted(logs)} moved={moved}")

    def on_epoch_end(self, epoch, logs):
        self.events.append(f"epoch_end {epoch} {sorted(logs)}")

    def on_train_end(self, logs=None):
        self.events.append("train_end")


def test_callback_order():
    X, y = blobs(16)
    rec = Recorder()
    mlp(dropout=0.0).fit(X, y, epochs=2, batch_size=8, verbose=0, callbacks=[rec])
    logs = "['accuracy', 'loss', 'lr']"
    assert rec.events == [
        "train_begin",
        "epoch_begin 0",
        "batch_begin 0", "after_backward 0 True", "batch_end 1 ['loss', 'lr'] moved=True",
        "batch_begin 1", "after_backward 1 True", "batch_end 2 ['loss', 'lr'] moved=True",
        f"epoch_end 0 {logs}",
        "epoch_begin 1",
        "batch_begin 2", "after_backward 2 True", "batch_end 3 ['loss', 'lr'] moved=True",
        "batch_begin 3", "after_backward 3 True", "batch_end 4 ['loss', 'lr'] moved=True",
        f"epoch_end 1 {logs}",
        "train_end",
    ]


def test_callback_can_stop_training():
    X, y = blobs(16)
    stopper = LambdaCallback(on_epoch_end=lambda e, logs: setattr(stopper.model, "stop_training",
                                                                  e == 2))
    h = mlp().fit(X, y, epochs=10, verbose=0, callbacks=[stopper])
    assert len(h["loss"]) == 3


def test_lambda_callback_refuses_unknown_hooks():
    with pytest.raises(ConfigError, match=r"unknown callback hooks \['on_step'\]"):
        LambdaCallback(on_step=print)


def test_early_stopping_stops_and_restores_the_best_weights():
    X, y = blobs(32)
    model = mlp()
    after_epoch = {}
    keep = LambdaCallback(on_epoch_end=lambda e, logs: after_epoch.__setitem__(
        e, model.state_dict()))
    # min_delta so large that only the first epoch counts as an improvement.
    stop = EarlyStopping(monitor="loss", patience=2, min_delta=1e9)
    h = model.fit(X, y, epochs=20, batch_size=8, verbose=0, callbacks=[keep, stop])
    assert len(h["loss"]) == 4  # epoch 0 best, then 3 epochs without improvement > patience 2
    assert stop.best_epoch == 0 and stop.stopped_epoch == 3
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, after_epoch[0][k])
    assert not np.array_equal(after_epoch[3]["0.W"], after_epoch[0]["0.W"])


def test_early_stopping_on_accuracy_and_without_restoring():
    X, y = blobs(32)
    model = mlp()
    stop = EarlyStopping(monitor="val_accuracy", patience=0, restore_best_weights=False)
    assert stop.mode == "max"
    last = {}
    keep = LambdaCallback(on_epoch_end=lambda e, logs: last.update(model.state_dict()))
    h = model.fit(X, y, epochs=50, batch_size=8, validation_data=(X, y), verbose=0,
                  callbacks=[keep, stop])
    acc = h["val_accuracy"]
    # It stopped at the first epoch that did not beat the best so far.
    assert len(acc) < 50
    assert acc[-1] <= max(acc[:-1])
    assert all(acc[i] > max(acc[:i]) for i in range(1, len(acc) - 1))
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, last[k])  # the last weights, not the best


def test_early_stopping_with_an_unknown_monitor():
    X, y = blobs(16)
    with pytest.raises(ConfigError, match=r"EarlyStopping monitors 'val_loss', which is not among "
                                          r"the logged values \['accuracy', 'loss', 'lr'\]"):
        mlp().fit(X, y, epochs=2, verbose=0, callbacks=[EarlyStopping()])


def test_model_checkpoint_every_epoch(tmp_path):
    X, y = blobs(32)
    model = mlp()
    states = {}
    keep = LambdaCallback(on_epoch_end=lambda e, logs: states.__setitem__(e, model.state_dict()))
    ckpt = ModelCheckpoint(tmp_path / "epoch-{epoch}.snet")
    model.fit(X, y, epochs=3, batch_size=8, verbose=0, callbacks=[keep, ckpt])
    assert [p.name for p in ckpt.saved] == ["epoch-1.snet", "epoch-2.snet", "epoch-3.snet"]
    for epoch, path in enumerate(ckpt.saved):
        loaded = load_model(path)
        for k, v in states[epoch].items():
            np.testing.assert_array_equal(loaded.state_dict()[k], v)


def test_model_checkpoint_best_only(tmp_path):
    X, y = blobs(32)
    model = Sequential([Dense(2, 3)], seed=0)
    model.compile(loss="cross_entropy", optimizer=SGD(lr=0.05))
    logged = []
    ckpt = ModelCheckpoint(tmp_path / "best-{epoch}.snet", monitor="loss", save_best_only=True)
    watch = LambdaCallback(on_epoch_end=lambda e, logs: logged.append(logs["loss"]))
    model.fit(X, y, epochs=6, batch_size=None, verbose=0, callbacks=[watch, ckpt])
    expected = [i + 1 for i, v in enumerate(logged) if v < min(logged[:i], default=np.inf)]
    assert [int(p.stem.split("-")[1]) for p in ckpt.saved] == expected
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in ckpt.saved)


def test_tanh_regression_fits_a_line():
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(64, 1)).astype(np.float32)
    y = 0.5 * X - 0.2
    model = Sequential([Dense(1, 8), Tanh(), Dense(8, 1)], seed=1)
    model.compile(loss="mse", optimizer=Adam(lr=0.02), metrics=())
    h = model.fit(X, y, epochs=100, batch_size=16, verbose=0)
    assert h["loss"][-1] < 1e-3
    assert MSELoss().forward(model.predict(X), y) < 1e-3
