"""Data-parallel processes (``fit(processes=2)``) train as one process does.

Speed is measured by ``benchmarks/run.py --threads 2``, never here. These tests check
that sharing each batch between processes gives the same training (up to rounding,
and bit for bit between two runs with the same processes), that callbacks, divergence
and checkpoints work as with one process, that every refusal names its reason, and that
a failing or vanished worker process is reported, never waited for forever.
"""

from __future__ import annotations

import os
import platform
import signal
import sys

import numpy as np
import pytest

from scratchnet import (
    SGD,
    Adam,
    AdamW,
    Callback,
    ConfigError,
    DivergenceError,
    RMSprop,
    Sequential,
    WorkerError,
)
from scratchnet.layers import (
    BatchNorm1d,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    Layer,
    MaxPool2D,
    ReLU,
    Tanh,
)

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or platform.machine().lower() not in ("x86_64", "amd64")
    or len(os.sched_getaffinity(0)) < 2,
    reason="data-parallel processes need Linux on x86-64 and two CPUs",
)


def _data(n=97, d=12, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(np.float32)
    y = (X[:, :3].sum(axis=1) > 0).astype(np.int64) + (X[:, 3] > 1)
    return X, y % classes


def _mlp(dtype="float32", optimizer=None, seed=1):
    model = Sequential([Dense(12, 16, dtype=dtype), ReLU(inplace=True), Dense(16, 8, dtype=dtype),
                        Tanh(), Dense(8, 3, dtype=dtype)], seed=seed)
    model.compile(loss="cross_entropy", optimizer=optimizer or Adam(lr=0.01))
    return model


def _weights(model):
    return {k: v.copy() for k, v in model.state_dict().items()}


def _children() -> set[int]:
    """This process's child processes, running or not yet waited for (Linux)."""
    me, pids = os.getpid(), set()
    for task in os.listdir(f"/proc/{me}/task"):
        with open(f"/proc/{me}/task/{task}/children") as f:
            pids.update(int(pid) for pid in f.read().split())
    return pids


@pytest.fixture
def no_workers_left():
    """Fails the test if a worker process outlives it (running, or never waited for)."""
    before = _children()
    yield
    assert _children() - before == set()


@pytest.mark.parametrize("make_opt", [lambda: Adam(lr=0.01), lambda: SGD(lr=0.1, momentum=0.9),
                                      lambda: RMSprop(lr=0.01), lambda: AdamW(lr=0.01)],
                         ids=["adam", "momentum", "rmsprop", "adamw"])
def test_two_processes_train_as_one_does(make_opt, no_workers_left):
    # 97 rows in batches of 32: the last batch has one row, so the second process has
    # none to work on and must contribute a zero gradient.
    X, y = _data()
    Xd = X.astype(np.float64)
    one = _mlp("float64", make_opt())
    h1 = one.fit(Xd, y, epochs=3, batch_size=32, verbose=0)
    two = _mlp("float64", make_opt())
    h2 = two.fit(Xd, y, epochs=3, batch_size=32, verbose=0, processes=2)
    np.testing.assert_allclose(h2["loss"], h1["loss"], rtol=1e-12)
    assert h2["accuracy"] == h1["accuracy"]
    for k, v in _weights(one).items():
        np.testing.assert_allclose(two.state_dict()[k], v, rtol=1e-10, atol=1e-12, err_msg=k)
    assert two.optimizer.t == one.optimizer.t == 3 * 4
    for name, st in one.optimizer.state.items():
        for key, arr in st.items():
            if key != "tmp":
                np.testing.assert_allclose(two.optimizer.state[name][key], arr, rtol=1e-9,
                                           atol=1e-12, err_msg=f"{name}/{key}")


def test_float32_training_stays_within_rounding_and_repeats_bit_for_bit(no_workers_left):
    X, y = _data(n=300)
    one = _mlp()
    one.fit(X, y, epochs=2, batch_size=64, verbose=0)
    runs = []
    for _ in range(2):
        m = _mlp()
        m.fit(X, y, epochs=2, batch_size=64, verbose=0, processes=2)
        runs.append(_weights(m))
    for k, v in _weights(one).items():
        np.testing.assert_allclose(runs[0][k], v, rtol=1e-4, atol=1e-5, err_msg=k)
        np.testing.assert_array_equal(runs[1][k], runs[0][k], err_msg=k)


def test_a_cnn_trains_as_with_one_process(no_workers_left):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(40, 1, 8, 8))
    y = rng.integers(0, 4, size=40)

    def cnn():
        m = Sequential([Conv2D(1, 4, 3, dtype="float64"), ReLU(inplace=True), MaxPool2D(2),
                        Flatten(), Dense(36, 4, dtype="float64")], seed=2)
        m.compile(loss="cross_entropy", optimizer=Adam(lr=0.01))
        return m

    one, two = cnn(), cnn()
    one.fit(X, y, epochs=2, batch_size=16, verbose=0)
    two.fit(X, y, epochs=2, batch_size=16, verbose=0, processes=2)
    for k, v in _weights(one).items():
        np.testing.assert_allclose(two.state_dict()[k], v, rtol=1e-10, atol=1e-12, err_msg=k)


def test_augmented_inputs_reach_every_process(no_workers_left):
    X, y = _data(n=128)
    X = X.astype(np.float64)

    def jitter(X, epoch, rng):  # new inputs every epoch, drawn from the model's generator
        return X + rng.normal(scale=0.5, size=X.shape)

    one, two = _mlp("float64"), _mlp("float64")
    h1 = one.fit(X, y, epochs=3, batch_size=32, verbose=0, augment=jitter)
    h2 = two.fit(X, y, epochs=3, batch_size=32, verbose=0, augment=jitter, processes=2)
    np.testing.assert_allclose(h2["loss"], h1["loss"], rtol=1e-12)
    for k, v in _weights(one).items():
        np.testing.assert_allclose(two.state_dict()[k], v, rtol=1e-10, atol=1e-12, err_msg=k)


class _GradRecorder(Callback):
    """Reads the gradient between backward and the update, as gradient-flow plots do."""

    def on_train_begin(self, logs=None):
        self.seen = []

    def on_after_backward(self, step):
        self.seen.append({p.name: p.grad.copy() for p in self.model.parameters()})


def test_callbacks_see_the_whole_batchs_gradient_before_the_update(no_workers_left):
    X, y = _data(n=64)
    one, two = _mlp("float64"), _mlp("float64")
    r1, r2 = _GradRecorder(), _GradRecorder()
    one.fit(X.astype(np.float64), y, epochs=1, batch_size=32, verbose=0, callbacks=[r1])
    two.fit(X.astype(np.float64), y, epochs=1, batch_size=32, verbose=0, callbacks=[r2],
            processes=2)
    assert len(r2.seen) == len(r1.seen) == 2
    for g1, g2 in zip(r1.seen, r2.seen, strict=True):
        for k in g1:
            np.testing.assert_allclose(g2[k], g1[k], rtol=1e-10, atol=1e-14, err_msg=k)


def test_after_fit_the_arrays_are_private_again_and_training_continues(no_workers_left):
    X, y = _data()
    model = _mlp()
    model.fit(X, y, epochs=1, batch_size=32, verbose=0, processes=2)
    for layer in model.layers:
        for d in (layer.params, layer.grads):
            for arr in d.values():
                assert arr.flags.owndata and arr.flags.writeable
    for st in model.optimizer.state.values():
        assert all(a.flags.owndata for a in st.values())
    before = _weights(model)
    model.fit(X, y, epochs=1, batch_size=32, verbose=0, processes=2)  # and once more
    model.fit(X, y, epochs=1, batch_size=32, verbose=0)
    assert any(not np.array_equal(v, model.state_dict()[k]) for k, v in before.items())


def test_checkpoints_resume_to_the_same_weights_bit_for_bit(tmp_path, no_workers_left):
    X, y = _data(n=200)
    whole = _mlp()
    whole.fit(X, y, epochs=3, batch_size=32, verbose=0, processes=2)
    first = _mlp()
    first.fit(X, y, epochs=2, batch_size=32, verbose=0, processes=2, checkpoint_dir=tmp_path)
    resumed = _mlp(seed=99)  # other weights: everything must come from the checkpoint
    resumed.fit(X, y, epochs=3, batch_size=32, verbose=0, processes=2, checkpoint_dir=tmp_path,
                resume=True)
    for k, v in _weights(whole).items():
        np.testing.assert_array_equal(resumed.state_dict()[k], v, err_msg=k)


def test_divergence_stops_with_the_last_finite_weights(no_workers_left):
    rng = np.random.default_rng(1)
    X = rng.uniform(-3, 3, size=(64, 2)).astype(np.float32)
    y = X @ np.array([[2.0], [-1.0]], dtype=np.float32)
    model = Sequential([Dense(2, 8), ReLU(), Dense(8, 1)], seed=0)
    model.compile(loss="mse", optimizer=SGD(lr=1e3), metrics=())
    with np.errstate(over="ignore", invalid="ignore"), pytest.raises(
        DivergenceError, match="Try a smaller learning rate"
    ):
        model.fit(X, y, epochs=200, batch_size=16, verbose=0, processes=2)
    assert all(np.isfinite(v).all() for v in model.state_dict().values())


@pytest.mark.parametrize("layer, why", [(BatchNorm1d(16), "statistics over the whole batch"),
                                        (Dropout(0.5), "draws random numbers")])
def test_layers_that_mix_or_draw_are_refused_before_training(layer, why, no_workers_left):
    model = Sequential([Dense(12, 16), layer, Dense(16, 3)], seed=0)
    model.compile(loss="cross_entropy", optimizer="adam")
    before = _weights(model)
    X, y = _data()
    with pytest.raises(ConfigError, match=why):
        model.fit(X, y, epochs=1, verbose=0, processes=2)
    for k, v in before.items():
        np.testing.assert_array_equal(model.state_dict()[k], v)


def test_bad_process_counts_are_refused():
    X, y = _data()
    model = _mlp()
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(ConfigError, match="processes must be a positive integer"):
            model.fit(X, y, verbose=0, processes=bad)
    cpus = len(os.sched_getaffinity(0))
    with pytest.raises(ConfigError, match=f"may run on {cpus} CPU"):
        model.fit(X, y, verbose=0, processes=cpus + 1)


class _FailsInHelper(Layer):
    """Passes its input through, except in a process other than the one that made it."""

    def __init__(self):
        super().__init__()
        self.home = os.getpid()

    def forward(self, x):
        if os.getpid() != self.home:
            raise ValueError("boom in the helper")
        return x

    def backward(self, grad_out):
        return grad_out

    def output_shape(self, input_shape):
        return input_shape


def test_an_error_in_a_worker_process_is_raised_in_the_caller_with_its_traceback(no_workers_left):
    X, y = _data()
    model = Sequential([Dense(12, 3), _FailsInHelper()], seed=0)
    model.compile(loss="cross_entropy", optimizer="adam")
    with pytest.raises(WorkerError, match="(?s)worker process 1 failed.*ValueError: boom"):
        model.fit(X, y, epochs=1, batch_size=32, verbose=0, processes=2)
    assert model.layers[0].params["W"].flags.owndata
    model.layers.pop()  # the model is still usable
    model.fit(X, y, epochs=1, batch_size=32, verbose=0)


class _KillsHelper(Callback):
    def on_train_begin(self, logs=None):
        self.before = _children()  # before the worker process is forked

    def on_batch_begin(self, step):
        if step == 2:
            for pid in _children() - self.before:
                os.kill(pid, signal.SIGKILL)


def test_a_worker_process_that_vanishes_stops_training_with_a_clear_error(no_workers_left):
    X, y = _data(n=300)
    model = _mlp()
    with pytest.raises(WorkerError, match=r"worker process 1 \(pid \d+\) ended during training "
                                          r"\(signal 9\)"):
        model.fit(X, y, epochs=1, batch_size=32, verbose=0, processes=2,
                  callbacks=[_KillsHelper()])


def test_parameters_of_one_dtype_share_one_flat_array_per_kind():
    """A process's share of every parameter is one range of one array: one optimiser
    call per step. Parameters of another dtype (or other kinds of state) get their own."""
    from scratchnet.optim import Parameter, flat_groups

    model = _mlp()
    opt = model.optimizer
    params = model.parameters()
    for p in params:
        opt.state_of(p)
    [(members, dtype, keys)] = flat_groups(params, opt.state)
    assert members == list(range(6)) and dtype == np.float32
    assert [k for k, _ in keys] == ["tmp", "m_sum", "v_sum"]

    def param(name, dtype):
        return Parameter(name, np.zeros(3, dtype), np.zeros(3, dtype))

    mixed = [param("a", np.float32), param("b", np.float32), param("c", np.float64),
             param("d", np.float32)]
    state = {p.name: {"tmp": np.zeros_like(p.value)} for p in mixed}
    assert [g[0] for g in flat_groups(mixed, state)] == [[0, 1], [2], [3]]
