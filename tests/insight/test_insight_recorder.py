"""Recorder: values against hand computations, scheduling, no effect on training, files."""

from __future__ import annotations

import json

import numpy as np
import pytest

import scratchnet as sn
from scratchnet.callbacks import Callback
from scratchnet.errors import ConfigError, FileFormatError
from scratchnet.insight import Recorder, Recording
from scratchnet.layers import Dense, Dropout, ReLU, Sigmoid, Tanh


def _data(n=24, d=3, k=2, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)).astype(np.float32), rng.integers(0, k, n)


def _model(seed=1):
    return sn.Sequential([Dense(3, 4), Tanh(), Dense(4, 5), ReLU(), Dense(5, 2)], seed=seed)


class Spy(Callback):
    """Copies of what the recorder should have seen, taken independently."""

    def __init__(self):
        self.grads, self.before, self.after, self.outputs = [], [], [], []

    def on_after_backward(self, step):
        dense = [layer for layer in self.model.layers if "W" in layer.params]
        self.grads.append([layer.dW.copy() for layer in dense])
        self.before.append([layer.W.copy() for layer in dense])
        self.outputs.append([o.copy() for o in self.model.outputs])

    def on_batch_end(self, step, logs):
        dense = [layer for layer in self.model.layers if "W" in layer.params]
        self.after.append([layer.W.copy() for layer in dense])


def test_recorded_values_equal_hand_computed_ones():
    X, y = _data()
    model = _model().compile("cross_entropy", sn.SGD(lr=0.5))
    spy, rec = Spy(), Recorder(every_steps=1, bins=10)
    model.fit(X, y, epochs=2, batch_size=8, verbose=0, callbacks=[spy, rec])
    r = rec.recording()
    assert r.n_records == 6 == len(spy.grads)
    assert r.weight_labels == ["0: Dense 3→4", "2: Dense 4→5", "4: Dense 5→2"]
    assert [a["kind"] for a in r.activation_layers] == ["tanh", "relu"]
    for i in range(6):
        for j in range(3):
            g = spy.grads[i][j].astype(np.float64)
            w0 = spy.before[i][j].astype(np.float64)
            w1 = spy.after[i][j].astype(np.float64)
            assert r.grad_norm[i, j] == pytest.approx(np.linalg.norm(g), rel=1e-12)
            assert r.grad_mean_abs[i, j] == pytest.approx(np.abs(g).mean(), rel=1e-12)
            assert r.weight_mean[i, j] == pytest.approx(w0.mean(), rel=1e-9, abs=1e-12)
            assert r.weight_std[i, j] == pytest.approx(w0.std(), rel=1e-9)
            assert r.update_ratio[i, j] == pytest.approx(
                np.linalg.norm(w1 - w0) / np.linalg.norm(w0), rel=1e-9)
            counts, _ = np.histogram(w0, bins=10)
            np.testing.assert_array_equal(r.weight_hist[i, j], counts)
        tanh_out, relu_out = spy.outputs[i][1], spy.outputs[i][3]
        assert r.act_mean[i, 0] == pytest.approx(tanh_out.astype(np.float64).mean(), abs=1e-9)
        assert r.act_std[i, 1] == pytest.approx(relu_out.astype(np.float64).std(), rel=1e-9)
        assert r.act_zero[i, 1] == pytest.approx(np.mean(relu_out == 0))
        assert r.act_dead[i, 1] == pytest.approx(np.mean(~np.any(relu_out != 0, axis=0)))
        assert np.isnan(r.act_dead[i, 0]) and np.isnan(r.act_saturation[i, 1])
    # SGD: the update is exactly lr * grad, so ||dW|| * lr / ||W|| is the ratio too
    np.testing.assert_allclose(r.update_ratio, 0.5 * r.grad_norm / r.weight_norm, rtol=1e-5)
    assert r.step.tolist() == list(range(6))
    assert r.step_lr.tolist() == [0.5] * 6
    assert r.epoch("loss").shape == (2,)


def test_dead_relu_share_on_a_constructed_network():
    # Units 0 and 1 get a bias of -100: negative for every input in [-1, 1]^2, so dead.
    dense = Dense(2, 4)
    dense.W[...] = np.array([[1.0, -1.0, 1.0, 0.5], [0.5, 1.0, -1.0, 1.0]])
    dense.b[...] = np.array([-100.0, -100.0, 10.0, 10.0])
    model = sn.Sequential([dense, ReLU(), Dense(4, 1), Sigmoid()])
    model.compile("bce", sn.SGD(lr=1e-9))
    X = np.random.default_rng(0).uniform(-1, 1, size=(16, 2)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.float32).reshape(-1, 1)
    rec = Recorder(every_steps=1)
    model.fit(X, y, epochs=1, batch_size=None, verbose=0, callbacks=[rec])
    r = rec.recording()
    assert r.act_dead[0, 0] == 0.5
    assert r.act_zero[0, 0] == 0.5  # half of all outputs are the dead units' zeros
    # the output sigmoid is not saturated: its inputs are small
    assert r.activation_labels == ["1: ReLU", "3: Sigmoid"]


@pytest.mark.parametrize("act, big", [(Tanh, 3.0), (Sigmoid, 6.0)])
def test_saturation_share_on_a_constructed_network(act, big):
    # Pre-activations: unit 0 = +big*x0 (|x0| = 1: saturated), unit 1 = 0.01*x0 (centre),
    # unit 2 = -big*x0 (saturated). Two of three outputs saturated on every sample.
    dense = Dense(1, 3)
    dense.W[...] = np.array([[big, 0.01, -big]])
    dense.b[...] = 0.0
    model = sn.Sequential([dense, act(), Dense(3, 2)]).compile("cross_entropy",
                                                               sn.SGD(lr=1e-9))
    X = np.array([[1.0], [-1.0], [1.0], [-1.0]], dtype=np.float32)
    rec = Recorder(every_steps=1)
    model.fit(X, np.array([0, 1, 0, 1]), epochs=1, batch_size=None, verbose=0,
              callbacks=[rec])
    assert rec.recording().act_saturation[0, 0] == pytest.approx(2 / 3)


def test_recorder_does_not_change_training():
    X, y = _data(n=40)

    def train(with_recorder):
        model = sn.Sequential([Dense(3, 8), ReLU(), Dropout(0.3), Dense(8, 8), Tanh(),
                               Dense(8, 2)], seed=7)
        model.compile("cross_entropy", sn.Adam(lr=0.01))
        cbs = [Recorder(every_steps=2)] if with_recorder else []
        hist = model.fit(X, y, epochs=4, batch_size=8, verbose=0, callbacks=cbs,
                         validation_split=0.2)
        return model, hist

    m0, h0 = train(False)
    m1, h1 = train(True)
    for k, v in m0.state_dict().items():
        np.testing.assert_array_equal(v, m1.state_dict()[k], err_msg=k)
    assert h0.history == h1.history
    assert m1.record_outputs is False and m1.outputs == []


def test_recording_schedule():
    X, y = _data(n=24)  # batch 8: 3 steps per epoch
    model = _model().compile("cross_entropy", sn.SGD(lr=0.1))
    rec = Recorder(every_steps=4)
    model.fit(X, y, epochs=3, batch_size=8, verbose=0, callbacks=[rec])
    assert rec.recording().record_step.tolist() == [0, 4, 8]

    model = _model().compile("cross_entropy", sn.SGD(lr=0.1))
    rec = Recorder(every_epochs=2)
    model.fit(X, y, epochs=5, batch_size=8, verbose=0, callbacks=[rec])
    r = rec.recording()
    assert r.record_step.tolist() == [0, 6, 12]
    assert r.record_epoch.tolist() == [0, 2, 4]
    # a second fit continues the step and epoch counts
    model.fit(X, y, epochs=2, batch_size=8, verbose=0, callbacks=[rec])
    r = rec.recording()
    assert r.record_epoch.tolist() == [0, 2, 4, 6]
    assert r.record_step.tolist() == [0, 6, 12, 18]
    assert r.step.tolist() == list(range(21))
    assert r.epoch("loss").shape == (7,)

    model = _model().compile("cross_entropy", sn.SGD(lr=0.1))
    rec = Recorder()  # default: every epoch, but at least MIN_AUTO_GAP (40) steps apart
    model.fit(X, y, epochs=30, batch_size=8, verbose=0, callbacks=[rec])
    # 3 steps per epoch: the first epoch start at or after 40 steps since the last record
    assert rec.recording().record_step.tolist() == [0, 42, 84]

    X2, y2 = _data(n=24 * 20)  # 60 steps per epoch: every epoch is far enough apart
    model = _model().compile("cross_entropy", sn.SGD(lr=0.1))
    rec = Recorder()
    model.fit(X2, y2, epochs=3, batch_size=8, verbose=0, callbacks=[rec])
    assert rec.recording().record_step.tolist() == [0, 60, 120]


def test_schedule_learning_rates_are_recorded_per_step():
    X, y = _data(n=16)
    model = _model().compile("cross_entropy", sn.SGD(lr=sn.StepDecay(0.1, 3, 0.5)))
    rec = Recorder(every_steps=5)
    model.fit(X, y, epochs=4, batch_size=8, verbose=0, callbacks=[rec])
    np.testing.assert_allclose(rec.recording().step_lr, [0.1 * 0.5 ** (t // 3) for t in range(8)])


def test_user_record_outputs_setting_is_kept():
    X, y = _data()
    model = _model().compile("cross_entropy", sn.SGD(lr=0.1))
    model.record_outputs = True
    model.fit(X, y, epochs=1, batch_size=8, verbose=0, callbacks=[Recorder(every_steps=1)])
    assert model.record_outputs is True


def test_recorder_arguments_and_model_checks():
    with pytest.raises(ConfigError, match="not both"):
        Recorder(every_steps=2, every_epochs=1)
    with pytest.raises(ConfigError, match="every_steps must be a positive integer"):
        Recorder(every_steps=0)
    with pytest.raises(ConfigError, match="bins"):
        Recorder(bins=1)
    with pytest.raises(ConfigError, match="nothing recorded"):
        Recorder().recording()
    model = sn.Sequential([Tanh()]).compile("mse", sn.SGD(lr=0.1))
    with pytest.raises(ConfigError, match="no layer with a weight matrix"):
        model.fit(np.zeros((4, 2)), np.zeros((4, 2)), epochs=1, verbose=0,
                  callbacks=[Recorder()])
    rec = Recorder()
    X, y = _data()
    _model().compile("cross_entropy", "sgd").fit(X, y, verbose=0, callbacks=[rec])
    other = sn.Sequential([Dense(3, 2)]).compile("cross_entropy", "sgd")
    with pytest.raises(ConfigError, match="different model"):
        other.fit(X, y, verbose=0, callbacks=[rec])


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the overflow is the point
def test_divergence_leaves_a_consistent_recording():
    X, y = _data(n=32)
    X = X * 1e3
    model = _model().compile("cross_entropy", sn.SGD(lr=1e6))
    rec = Recorder(every_steps=1)
    with pytest.raises(sn.DivergenceError):
        model.fit(X, y, epochs=50, batch_size=8, verbose=0, callbacks=[rec])
    rec.on_train_end()
    r = rec.recording()  # shapes are consistent (checked by Recording)
    assert r.n_records == len(r.update_ratio)
    assert model.record_outputs is False


def _small_recording():
    X, y = _data()
    model = _model().compile("cross_entropy", sn.SGD(lr=0.1))
    rec = Recorder(every_steps=2, bins=8)
    model.fit(X, y, epochs=2, batch_size=8, verbose=0, callbacks=[rec])
    return rec.recording()


def test_save_and_load_without_pickle(tmp_path):
    r = _small_recording()
    npz, sidecar = r.save(tmp_path / "rec.npz")
    assert sidecar == tmp_path / "rec.json"
    header = json.loads(sidecar.read_text())
    assert header["format"] == "scratchnet-recording"
    assert header["arrays"]["grad_norm"]["shape"] == list(r.grad_norm.shape)
    with np.load(npz, allow_pickle=False) as data:
        assert all(data[k].dtype != object for k in data.files)
    back = Recording.load(sidecar)
    assert back.meta == r.meta
    for k, v in r.arrays.items():
        np.testing.assert_array_equal(back.arrays[k], v, err_msg=k)
    np.testing.assert_allclose(back.weight_edges, r.weight_edges)


def test_load_rejects_broken_files(tmp_path):
    r = _small_recording()
    npz, sidecar = r.save(tmp_path / "rec.npz")
    with pytest.raises(FileFormatError, match="not found"):
        Recording.load(tmp_path / "other.npz")
    header = json.loads(sidecar.read_text())
    header["arrays"]["grad_norm"]["shape"] = [1, 2]
    sidecar.write_text(json.dumps(header))
    with pytest.raises(FileFormatError, match="grad_norm"):
        Recording.load(npz)
    header["format"] = "something-else"
    sidecar.write_text(json.dumps(header))
    with pytest.raises(FileFormatError, match="not a scratchnet recording"):
        Recording.load(npz)
    r.save(tmp_path / "rec.npz")
    npz.write_bytes(b"not a zip file")
    with pytest.raises(FileFormatError, match="not a readable .npz"):
        Recording.load(npz)
    with pytest.raises(ConfigError, match=".npz"):
        r.save(tmp_path / "rec.txt")


def test_record_positions_and_first_last_ratio():
    r = _small_recording()
    n = r.n_records
    assert (r.record_index("start"), r.record_index("middle"), r.record_index("end")) == \
        (0, (n - 1) // 2, n - 1)
    assert r.record_index(-1) == n - 1
    with pytest.raises(ConfigError, match="start"):
        r.record_index("later")
    g = r.grad_mean_abs
    early = r.record_step <= r.record_step[0] + 0.5 * (r.record_step[-1] - r.record_step[0])
    expected = np.exp(np.mean(np.log(g[early, 0] / g[early, -1])))
    assert r.first_last_ratio(0.5) == pytest.approx(expected)


def test_update_ratio_of_all_zero_weights():
    # zeros init, sigmoid: the output layer's W starts at 0 and moves (ratio inf); with
    # tanh every hidden output is 0, so nothing moves (ratio 0) except the output bias.
    X, _ = _data()
    y = np.zeros(len(X), dtype=np.int64)  # unbalanced: the output gradient is not 0
    for act, expected_out in ((Sigmoid, np.inf), (Tanh, 0.0)):
        model = sn.Sequential([Dense(3, 4, init="zeros"), act(), Dense(4, 2, init="zeros")])
        model.compile("cross_entropy", sn.SGD(lr=0.1))
        rec = Recorder(every_steps=1)
        model.fit(X, y, epochs=1, batch_size=8, verbose=0, callbacks=[rec])
        r = rec.recording()
        assert r.update_ratio[0, 0] == 0.0
        assert r.update_ratio[0, 1] == expected_out
