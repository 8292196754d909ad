"""Worker threads (scratchnet.parallel) compute exactly what one thread computes.

Speed is measured by ``benchmarks/run.py --threads 2``, never here. These tests check
the bookkeeping (groups, errors, the BLAS setting given back) and that a network
trained with two workers ends with the same weights, bit for bit, as with one.
"""

from __future__ import annotations

import subprocess
import sys
import threading

import numpy as np
import pytest
from threadpoolctl import ThreadpoolController, threadpool_limits

from scratchnet import ConfigError, Sequential, parallel
from scratchnet.layers import (
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    MaxPool2D,
    ReLU,
)


@pytest.fixture
def workers():
    """Set the number of workers for one test; one again afterwards."""
    yield parallel.set_num_threads
    parallel.set_num_threads(1)


def _blas_threads() -> list[int]:
    blas = ThreadpoolController().select(user_api="blas")
    return [lib.num_threads for lib in blas.lib_controllers]


def test_split_covers_every_item_once_in_order():
    for n in (0, 1, 5, 12, 13):
        for parts in (1, 2, 3, 4):
            groups = parallel.split(n, parts)
            assert len(groups) == parts
            assert [i for g in groups for i in g] == list(range(n))
            sizes = [len(g) for g in groups]
            assert max(sizes) - min(sizes) <= 1


def test_set_num_threads_validates(workers):
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(ConfigError, match="positive integer"):
            parallel.set_num_threads(bad)
    workers(3)
    assert parallel.get_num_threads() == 3


@pytest.mark.parametrize("value, ok", [("2", True), (" 3 ", True), ("0", False), ("two", False)])
def test_the_environment_variable_sets_the_default(value, ok):
    code = "import scratchnet; print(scratchnet.get_num_threads())"
    env = {"SCRATCHNET_NUM_THREADS": value, "PATH": ""}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    if ok:
        assert out.returncode == 0 and out.stdout.strip() == value.strip()
    else:
        assert out.returncode != 0
        assert f"SCRATCHNET_NUM_THREADS must be a positive integer, got {value!r}" in out.stderr


def test_run_groups_gives_results_in_group_order_on_two_threads(workers):
    workers(2)
    seen = []

    def fn(group, worker):
        seen.append((worker, threading.get_ident()))
        return list(group)

    assert parallel.run_groups(fn, 7) == [[0, 1, 2, 3], [4, 5, 6]]
    assert sorted(w for w, _ in seen) == [0, 1]
    assert len({ident for _, ident in seen}) == 2  # really two threads
    assert parallel.run_groups(fn, 1) == [[0]]  # one item: one group


def test_a_failing_group_raises_after_every_group_has_finished(workers):
    workers(2)
    finished = []

    def fn(group, worker):
        if worker == 0:
            raise ValueError("group 0 failed")
        threading.Event().wait(0.05)
        finished.append(worker)

    with pytest.raises(ValueError, match="group 0 failed"):
        parallel.run_groups(fn, 2)
    assert finished == [1]  # the other worker was waited for, not abandoned


def test_work_inside_a_group_does_not_start_more_workers(workers):
    workers(2)
    inner = []

    def fn(group, worker):
        inner.append(parallel.run_groups(lambda g, w: (list(g), w), 4))

    parallel.run_groups(fn, 2)
    assert inner == [[([0, 1, 2, 3], 0)]] * 2


def test_by_rows_shares_only_large_work_and_only_in_worker_mode(workers):
    workers(2)
    calls = []
    big = np.zeros((8, parallel.MIN_ELEMENTS_PER_WORKER // 2))  # 4 x the minimum
    parallel.by_rows(calls.append, big)
    assert calls == [...]  # not in worker mode: all of it on the calling thread
    with parallel.worker_mode([Conv2D(1, 1, 1)]):
        calls.clear()
        parallel.by_rows(calls.append, big)
        assert sorted((s.start, s.stop) for s in calls) == [(0, 4), (4, 8)]
        calls.clear()
        parallel.by_rows(calls.append, big[:1])  # one row cannot be shared
        assert calls == [...]


def test_worker_mode_holds_blas_at_one_thread_and_gives_it_back(workers):
    with threadpool_limits(2, user_api="blas"):
        workers(2)
        with parallel.worker_mode([Dense(2, 2), ReLU()]):  # no conv: nothing changes
            assert _blas_threads() == [2] * len(_blas_threads())
        with parallel.worker_mode([Conv2D(1, 1, 1)]):
            assert set(_blas_threads()) == {1}
            with parallel.worker_mode([Conv2D(1, 1, 1)]):  # nested (predict inside fit)
                assert set(_blas_threads()) == {1}
            assert set(_blas_threads()) == {1}
        assert set(_blas_threads()) == {2}
        workers(1)
        with parallel.worker_mode([Conv2D(1, 1, 1)]):  # one worker: nothing changes
            assert set(_blas_threads()) == {2}


def test_blas_threads_reads_the_current_setting():
    with threadpool_limits(1, user_api="blas"):
        assert parallel.blas_threads() == 1
    with threadpool_limits(2, user_api="blas"):
        assert parallel.blas_threads() == 2


def _cnn():
    return Sequential([Conv2D(1, 6, 3), ReLU(inplace=True), MaxPool2D(2), Conv2D(6, 8, 3),
                       ReLU(inplace=True), MaxPool2D(2), Flatten(), Dropout(0.1),
                       Dense(8 * 4 * 4, 32), ReLU(inplace=True), Dense(32, 4)], seed=3)


def test_two_workers_train_a_cnn_to_the_same_weights_bit_for_bit(workers, monkeypatch):
    # Small thresholds so that every kind of shared work happens on these small arrays:
    # conv and pool chunks, ReLU and Adam rows, Dense products.
    monkeypatch.setattr(parallel, "MIN_ELEMENTS_PER_WORKER", 64)
    monkeypatch.setattr(Conv2D, "workspace_bytes", 64 * 1024)
    monkeypatch.setattr(MaxPool2D, "chunk_bytes", 8 * 1024)
    rng = np.random.default_rng(0)
    X = rng.random((96, 1, 22, 22)).astype(np.float32)
    y = rng.integers(0, 4, len(X))
    states, preds = [], []
    for n in (1, 2):
        workers(n)
        # BLAS at one thread for both: a multi-threaded BLAS may round differently.
        with threadpool_limits(1, user_api="blas"):
            model = _cnn().compile(loss="cross_entropy", optimizer="adam", lr=1e-2)
            model.fit(X, y, epochs=2, batch_size=48, verbose=0)
            states.append(model.state_dict())
            preds.append(model.predict(X))
    for k in states[0]:
        np.testing.assert_array_equal(states[0][k], states[1][k], err_msg=k)
    np.testing.assert_array_equal(preds[0], preds[1])
    assert not np.array_equal(states[0]["0.W"], _cnn().state_dict()["0.W"])  # it trained


def test_layers_give_the_same_numbers_on_two_workers(workers, monkeypatch):
    monkeypatch.setattr(parallel, "MIN_ELEMENTS_PER_WORKER", 64)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((40, 3, 9, 9)).astype(np.float32)
    results = []
    for n in (1, 2):
        workers(n)
        conv = Conv2D(3, 5, 3, padding=1, rng=0)
        conv.workspace_bytes = 8 * 1024  # several chunks
        pool = MaxPool2D(3, stride=2, padding=1)
        pool.chunk_bytes = 2 * 1024
        dense = Dense(5 * 5 * 5, 7, rng=0)
        with threadpool_limits(1, user_api="blas"), parallel.worker_mode([conv]):
            h = conv.forward(x)
            p = pool.forward(h)
            z = dense.forward(p.reshape(len(p), -1))
            dz = np.cos(z)
            dp = dense.backward(dz).reshape(p.shape)
            dh = pool.backward(dp)
            dx = conv.backward(dh)
        results.append([h, p, z, dx, conv.grads["W"].copy(), conv.grads["b"].copy(),
                        dense.grads["W"].copy()])
    for a, b in zip(*results, strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_dense_layer_leaving_zero_inputs_out_gives_the_same_numbers_on_two_workers(
        workers, monkeypatch):
    monkeypatch.setattr(parallel, "MIN_ELEMENTS_PER_WORKER", 64)
    rng = np.random.default_rng(2)
    x = rng.standard_normal((40, 30)).astype(np.float32)
    x[:, ::3] = 0  # a third of the inputs zero in the whole batch
    dz = rng.standard_normal((40, 6)).astype(np.float32)
    results = []
    for n in (1, 2):
        workers(n)
        dense = Dense(30, 6, rng=0)
        dense.skip_min_work, dense.needs_input_grad = 0, False
        with threadpool_limits(1, user_api="blas"), parallel.worker_mode([Conv2D(1, 1, 1)]):
            z = dense.forward(x)
            dense.backward(dz)
        assert dense._used is not None
        results.append([z, dense.grads["W"].copy(), dense.grads["b"].copy()])
    for a, b in zip(*results, strict=True):
        np.testing.assert_array_equal(a, b)
