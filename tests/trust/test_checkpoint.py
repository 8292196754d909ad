"""Checkpoints in-process: interrupt training at every kind of moment, resume, and get
bit-identical weights and history; resuming refuses mismatched models, optimisers,
data and callbacks; old checkpoints are pruned; corrupt ones are skipped."""

from __future__ import annotations

import argparse
import shutil
import warnings

import numpy as np
import pytest
from _trust_helpers import same_weights, toy_data, toy_model

import scratchnet as sn
from scratchnet.checkpoint import (
    CheckpointManager,
    add_checkpoint_arguments,
    checkpoint_kwargs,
    checkpoint_name,
    find_latest,
    list_checkpoints,
    load_checkpoint,
    resume_run_dir,
)
from scratchnet.errors import ConfigError, DivergenceError, ModelFileError

pytestmark = pytest.mark.usefixtures("no_fsync")


class Interrupt(Exception):
    """Stands in for a crash: raised from a callback after a given optimiser step."""


def interrupt_at(step: int) -> sn.LambdaCallback:
    def hook(s, logs):
        if s == step:
            raise Interrupt

    return sn.LambdaCallback(on_batch_end=hook)


def train(folder, schedule="plateau", stop_at=None, resume=False, every=3, epochs=6,
          batch_size=16, shuffle=True, validation=True, extra=None, **kw):
    X, y = toy_data()
    model = toy_model(schedule)
    callbacks = [sn.EarlyStopping(monitor="val_loss" if validation else "loss", patience=100),
                 interrupt_at(stop_at) if stop_at else sn.LambdaCallback()]
    callbacks += extra or []
    fit_kw = dict(epochs=epochs, batch_size=batch_size, shuffle=shuffle, verbose=0,
                  callbacks=callbacks, checkpoint_dir=folder, checkpoint_every=every,
                  resume=resume, **kw)
    if validation:
        fit_kw["validation_split"] = 0.2
    try:
        history = model.fit(X, y, **fit_kw)
    except Interrupt:
        return model, None
    return model, history


@pytest.fixture(scope="module")
def references():
    """Uninterrupted runs (no checkpoints at all) per schedule."""
    out = {}
    for schedule in ("plateau", "cosine"):
        X, y = toy_data()
        model = toy_model(schedule)
        history = model.fit(X, y, epochs=6, batch_size=16, validation_split=0.2, verbose=0,
                            callbacks=[sn.EarlyStopping(patience=100), sn.LambdaCallback()])
        out[schedule] = (model, history.history)
    return out


@pytest.mark.parametrize("schedule", ["plateau", "cosine"])
@pytest.mark.parametrize("stop_at", [1, 2, 3, 4, 5, 8, 9, 14, 15, 17, 27, 29])
def test_interrupt_anywhere_then_resume_is_bit_identical(tmp_path, references, schedule, stop_at):
    # 72 samples / 16 -> 5 batches per epoch, 30 steps; checkpoints every 3 steps: the stops
    # cover "before any checkpoint", "right after one", mid-epoch, and epoch boundaries
    # (step 15 is the last batch of epoch 3, before its end-of-epoch work).
    ref_model, ref_history = references[schedule]
    _, history = train(tmp_path, schedule, stop_at=stop_at)
    assert history is None
    model, history = train(tmp_path, schedule, resume=True)
    assert same_weights(model, ref_model)
    assert history.history == ref_history
    assert model.optimizer.t == 30


def test_resume_twice_and_with_per_epoch_checkpoints(tmp_path, references):
    ref_model, ref_history = references["plateau"]
    train(tmp_path, stop_at=7, every=None)  # every=None: a checkpoint at each epoch end
    assert [s for s, _ in list_checkpoints(tmp_path)] == [5]
    train(tmp_path, stop_at=19, every=None, resume=True)
    assert [s for s, _ in list_checkpoints(tmp_path)] == [5, 10, 15]
    model, history = train(tmp_path, every=None, resume=True)
    assert same_weights(model, ref_model) and history.history == ref_history


def test_checkpoints_do_not_change_training(tmp_path, references):
    model, history = train(tmp_path, every=1)
    ref_model, ref_history = references["plateau"]
    assert same_weights(model, ref_model) and history.history == ref_history


@pytest.mark.parametrize("shuffle,batch_size", [(False, 16), (True, None), (True, 72)])
def test_unshuffled_and_full_batch_runs_resume_exactly(tmp_path, shuffle, batch_size):
    ref, ref_h = train(tmp_path / "ref", shuffle=shuffle, batch_size=batch_size, every=None)
    train(tmp_path / "run", stop_at=4, shuffle=shuffle, batch_size=batch_size, every=1)
    model, h = train(tmp_path / "run", shuffle=shuffle, batch_size=batch_size, every=1,
                     resume=True)
    assert same_weights(model, ref) and h.history == ref_h.history


def test_sgd_momentum_resumes_exactly(tmp_path):
    def run(folder, stop_at=None, resume=False):
        X, y = toy_data()
        model = toy_model("constant", optimizer="sgd")
        cbs = [interrupt_at(stop_at) if stop_at else sn.LambdaCallback()]
        try:
            model.fit(X, y, epochs=3, batch_size=10, callbacks=cbs, verbose=0,
                      checkpoint_dir=folder, checkpoint_every=2, resume=resume)
        except Interrupt:
            pass
        return model

    ref = run(tmp_path / "ref")
    run(tmp_path / "b", stop_at=11)
    assert same_weights(run(tmp_path / "b", resume=True), ref)


def test_finished_run_resumed_with_more_epochs_equals_a_longer_run(tmp_path):
    ref, ref_h = train(tmp_path / "ref", epochs=6, every=None)
    train(tmp_path / "run", epochs=4, every=5)
    final = load_checkpoint(list_checkpoints(tmp_path / "run")[-1][1])
    assert final.position.finished and final.position.epoch == 4 and final.step == 20
    model, h = train(tmp_path / "run", epochs=6, every=5, resume=True)
    assert same_weights(model, ref) and h.history == ref_h.history
    # Resuming a finished run with the same epochs trains nothing and changes nothing.
    again, h2 = train(tmp_path / "run", epochs=6, every=5, resume=True)
    assert same_weights(again, ref) and again.optimizer.t == 30 and h2.history == ref_h.history


def test_early_stopped_run_stays_stopped_on_resume(tmp_path):
    X, y = toy_data()

    def run(resume):
        model = toy_model("constant")
        stopper = sn.EarlyStopping(monitor="loss", patience=0, min_delta=10.0)
        history = model.fit(X, y, epochs=20, batch_size=16, verbose=0, callbacks=[stopper],
                            checkpoint_dir=tmp_path, checkpoint_every=4, resume=resume)
        return model, history, stopper

    model, history, stopper = run(False)
    assert len(history["loss"]) == 2 and stopper.stopped_epoch == 1
    again, history2, stopper2 = run(True)
    assert again.optimizer.t == model.optimizer.t == 12
    assert history2.history == history.history
    assert stopper2.best_epoch == 0 and stopper2.stopped_epoch == 1
    assert same_weights(again, model)  # best weights restored from the checkpoint's state


def test_keeps_only_the_newest_checkpoints_and_cleans_temporary_files(tmp_path):
    stale = tmp_path / ".ckpt-00000003.scn.abc123.tmp"
    tmp_path.mkdir(exist_ok=True)
    stale.write_bytes(b"half a checkpoint")
    unrelated = tmp_path / "notes.txt"
    unrelated.write_text("mine")
    train(tmp_path, every=2, keep_checkpoints=2, resume=True)
    assert [s for s, _ in list_checkpoints(tmp_path)] == [28, 30]
    assert not stale.exists() and unrelated.read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        checkpoint_name(28), checkpoint_name(30), "notes.txt"]


def test_corrupt_newest_checkpoint_falls_back_to_an_older_one(tmp_path, references):
    ref_model, ref_history = references["plateau"]
    train(tmp_path, stop_at=13, every=3)
    steps = [s for s, _ in list_checkpoints(tmp_path)]
    assert steps == [6, 9, 12]
    newest = tmp_path / checkpoint_name(12)
    data = bytearray(newest.read_bytes())
    data[len(data) // 2] ^= 0xFF
    newest.write_bytes(bytes(data))
    with pytest.warns(UserWarning, match="skipping unreadable checkpoint.*ckpt-00000012"):
        assert find_latest(tmp_path).step == 9
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model, history = train(tmp_path, resume=True)
    assert same_weights(model, ref_model) and history.history == ref_history


def test_every_checkpoint_unreadable_is_an_error_not_a_fresh_start(tmp_path):
    train(tmp_path, stop_at=7, every=3)
    for _, path in list_checkpoints(tmp_path):
        path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(ModelFileError, match="no checkpoint could be read"):
        train(tmp_path, resume=True)


def test_resume_true_without_checkpoints_starts_afresh(tmp_path, references, capsys):
    ref_model, _ = references["plateau"]
    X, y = toy_data()
    model = toy_model()
    model.fit(X, y, epochs=6, batch_size=16, validation_split=0.2, verbose=1,
              callbacks=[sn.EarlyStopping(patience=100), sn.LambdaCallback()],
              checkpoint_dir=tmp_path / "new", resume=True)
    assert same_weights(model, ref_model)
    assert "no checkpoint in" in capsys.readouterr().err


def test_resume_from_an_explicit_file(tmp_path, references):
    ref_model, ref_history = references["plateau"]
    train(tmp_path / "a", stop_at=20, every=3)
    chosen = tmp_path / "a" / checkpoint_name(12)
    shutil.copy(chosen, tmp_path / "chosen.scn")
    model, history = train(None, resume=tmp_path / "chosen.scn", every=None)
    assert same_weights(model, ref_model) and history.history == ref_history


def test_resume_from_a_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        train(None, resume=tmp_path / "nope.scn", every=None)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (dict(hidden=8), r"different model: layers\[0\].config.n_out: 16 in the checkpoint, 8"),
        (dict(schedule="cosine"), "different optimiser: lr"),
        (dict(n=80), "different training data or settings: n: 72 in the checkpoint, 64 now"),
        (dict(batch_size=8), "different training data or settings: batch_size"),
        (dict(data_seed=2), "different training data or settings: x.crc32"),
        (dict(callbacks=[]), "callbacks \\['EarlyStopping', 'LambdaCallback'\\]"),
    ],
)
def test_resume_refuses_a_different_run(tmp_path, change, message):
    train(tmp_path, stop_at=5, every=2)
    X, y = toy_data(n=change.get("n", 90), seed=change.get("data_seed", 1))
    model = toy_model(change.get("schedule", "plateau"), hidden=change.get("hidden", 16))
    before = model.state_dict()
    callbacks = change.get("callbacks", [sn.EarlyStopping(patience=100), sn.LambdaCallback()])
    with pytest.raises(ConfigError, match=message):
        model.fit(X, y, epochs=6, batch_size=change.get("batch_size", 16), validation_split=0.2,
                  verbose=0, callbacks=callbacks, checkpoint_dir=tmp_path, resume=True)
    # Nothing was changed by the refused resume.
    assert all(np.array_equal(before[k], v) for k, v in model.state_dict().items())


def test_divergence_keeps_last_finite_weights_and_the_last_checkpoint(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 4)).astype(np.float32) * 10
    y = X @ rng.normal(size=(4, 1)).astype(np.float32)
    model = sn.Sequential([sn.Dense(4, 32), sn.ReLU(), sn.Dense(32, 1)], seed=0)
    model.compile(loss="mse", optimizer=sn.SGD(lr=0.05), metrics=())
    with pytest.raises(DivergenceError, match="diverged.*The last checkpoint, .*ckpt-0000000") as e:
        model.fit(X, y, epochs=50, batch_size=8, verbose=0, checkpoint_dir=tmp_path,
                  checkpoint_every=1, keep_checkpoints=2)
    assert all(np.all(np.isfinite(p.value)) for p in model.parameters())
    found = list_checkpoints(tmp_path)
    assert 1 <= len(found) <= 2 and str(found[-1][1]) in str(e.value)
    for _, path in found:
        ckpt = load_checkpoint(path)
        assert all(np.all(np.isfinite(a)) for a in ckpt.model_state.values())
        assert not ckpt.position.finished


def test_checkpoint_contents_and_build_model(tmp_path):
    train(tmp_path, stop_at=9, every=4)  # the interruption comes before step 9's save
    ckpt = load_checkpoint(tmp_path / checkpoint_name(8))
    p = ckpt.position
    assert (p.epoch, p.batch, p.step, p.finished) == (1, 3, 8, False)  # 5 batches per epoch
    assert ckpt.order is not None and sorted(ckpt.order.tolist()) == list(range(72))
    assert ckpt.rng_state["bit_generator"] == "PCG64"
    assert set(ckpt.optimizer_arrays) == {f"{k}/{s}" for k in ("0.W", "0.b", "3.W", "3.b")
                                          for s in ("m_sum", "v_sum")}
    assert ckpt.history["loss"] and len(ckpt.history_epochs) == 1
    assert [c["type"] for c in ckpt.callbacks] == ["EarlyStopping", "LambdaCallback"]
    assert ckpt.data["n"] == 72 and ckpt.data["batch_size"] == 16
    model = ckpt.build_model()
    X, _ = toy_data()
    assert model.predict(X).shape == (90, 3)
    for k, a in ckpt.model_state.items():
        assert model.state_dict()[k].tobytes() == a.tobytes()


def test_callback_with_its_own_state_dict_is_restored(tmp_path):
    class Counter(sn.Callback):
        def __init__(self):
            self.batches, self.trace = 0, np.zeros(3, dtype=np.float32)

        def on_batch_end(self, step, logs):
            self.batches += 1
            self.trace += 1

        def state_dict(self):
            return {"batches": self.batches, "trace": self.trace.copy()}

        def load_state_dict(self, state):
            self.batches, self.trace = state["batches"], state["trace"].copy()

    train(tmp_path, stop_at=10, every=4, extra=[Counter()])
    counter = Counter()
    train(tmp_path, resume=True, every=4, extra=[counter])
    assert counter.batches == 30 and counter.trace.tolist() == [30.0] * 3


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        (dict(checkpoint_every=0, checkpoint_dir="x"), ConfigError, "checkpoint_every must be"),
        (dict(checkpoint_every=2), ConfigError, "checkpoint_every needs checkpoint_dir"),
        (dict(resume=True), ConfigError, "resume=True needs checkpoint_dir"),
        (dict(resume=3, checkpoint_dir="x"), ConfigError, "resume must be True, False or a path"),
        (dict(keep_checkpoints=0, checkpoint_dir="x"), ConfigError, "keep_checkpoints must be"),
    ],
)
def test_bad_checkpoint_arguments(tmp_path, monkeypatch, kwargs, error, message):
    monkeypatch.chdir(tmp_path)
    X, y = toy_data()
    with pytest.raises(error, match=message):
        toy_model().fit(X, y, verbose=0, **kwargs)


def test_checkpoint_folder_that_cannot_be_created(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(ConfigError, match="cannot create checkpoint folder .*a-file/ckpt"):
        CheckpointManager(blocker / "ckpt", 2)


# -- the command-line helpers ------------------------------------------------------------------
def _parse(argv):
    parser = argparse.ArgumentParser()
    parser.add_argument("--out")
    add_checkpoint_arguments(parser)
    return parser.parse_args(argv)


def test_cli_flags_map_to_fit_arguments(tmp_path):
    assert checkpoint_kwargs(_parse([]), tmp_path) == {}
    kw = checkpoint_kwargs(_parse(["--checkpoint-every", "50"]), tmp_path)
    assert kw == {"checkpoint_dir": tmp_path / "checkpoints", "checkpoint_every": 50,
                  "keep_checkpoints": 3, "resume": False}
    kw = checkpoint_kwargs(_parse(["--resume", "--keep-checkpoints", "5"]), tmp_path)
    assert kw["resume"] is True and kw["keep_checkpoints"] == 5 and kw["checkpoint_every"] is None


def test_cli_flags_refuse_non_positive_numbers(capsys):
    for bad in (["--checkpoint-every", "0"], ["--keep-checkpoints", "-1"],
                ["--checkpoint-every", "many"]):
        with pytest.raises(SystemExit):
            _parse(bad)
        assert "expected a positive integer" in capsys.readouterr().err


def test_resume_run_dir_finds_the_run_folder(tmp_path, monkeypatch):
    run = tmp_path / "runs" / "mnist-20240101-000000"
    (run / "checkpoints").mkdir(parents=True)
    train(run / "checkpoints", stop_at=4, every=2)
    ckpt_file = list_checkpoints(run / "checkpoints")[-1][1]
    assert resume_run_dir(_parse([]), "mnist") is None
    assert resume_run_dir(_parse(["--resume", str(run)]), "mnist") == run
    assert resume_run_dir(_parse(["--resume", str(run / "checkpoints")]), "mnist") == run
    assert resume_run_dir(_parse(["--resume", str(ckpt_file)]), "mnist") == run
    assert resume_run_dir(_parse(["--resume", "--out", "elsewhere"]), "mnist").name == "elsewhere"
    monkeypatch.chdir(tmp_path)
    assert resume_run_dir(_parse(["--resume"]), "mnist").resolve() == run.resolve()
    with pytest.raises(ConfigError, match="no run of 'xor' with checkpoints under runs/"):
        resume_run_dir(_parse(["--resume"]), "xor")
    with pytest.raises(ConfigError, match="does not exist"):
        resume_run_dir(_parse(["--resume", "missing"]), "mnist")
    kw = checkpoint_kwargs(_parse(["--resume", str(ckpt_file)]), run)
    assert kw["resume"] == ckpt_file and kw["checkpoint_dir"] == run / "checkpoints"


# -- augmentation inside fit ----------------------------------------------------------------
def noisy(X, epoch, rng):
    """An augmentation drawing from the model's generator (the hard case for resuming)."""
    return X + rng.normal(0.0, 0.1, size=X.shape).astype(X.dtype)


def train_augmented(folder, stop_at=None, resume=False, augment=noisy):
    X, y = toy_data()
    model = toy_model("cosine")
    cbs = [interrupt_at(stop_at) if stop_at else sn.LambdaCallback()]
    try:
        model.fit(X, y, epochs=5, batch_size=16, verbose=0, callbacks=cbs, augment=augment,
                  checkpoint_dir=folder, checkpoint_every=3, resume=resume)
    except Interrupt:
        return None
    return model


def test_augmented_runs_resume_exactly(tmp_path):
    reference = train_augmented(tmp_path / "ref")
    plain = train_augmented(tmp_path / "plain", augment=None)
    assert not same_weights(reference, plain)  # the augmentation did change training
    for stop_at in (2, 4, 7, 13, 24):
        folder = tmp_path / f"stop{stop_at}"
        assert train_augmented(folder, stop_at=stop_at) is None
        assert same_weights(train_augmented(folder, resume=True), reference), stop_at


def test_resuming_with_or_without_augmentation_is_refused(tmp_path):
    train_augmented(tmp_path, stop_at=7)
    with pytest.raises(ConfigError, match="augment: True in the checkpoint, False now"):
        train_augmented(tmp_path, resume=True, augment=None)


@pytest.mark.parametrize(
    ("augment", "error", "message"),
    [
        (lambda X, e, r: X[:-1], sn.ShapeError, r"augment must return an array of X's shape"),
        (lambda X, e, r: X.astype(np.float64), sn.DTypeError, "augment returned dtype float64"),
        (lambda X, e, r: X * np.nan, sn.DataError, "augment returned NaN or inf for epoch 1"),
        ("shift", ConfigError, "augment must be a function"),
    ],
)
def test_bad_augment_functions(augment, error, message):
    X, y = toy_data()
    with pytest.raises(error, match=message):
        toy_model().fit(X, y, verbose=0, augment=augment)


def test_an_overflowing_last_update_is_caught_and_undone():
    """No loss follows the last update of a run; the end-of-epoch check catches it."""
    X = np.full((8, 2), 1e20, dtype=np.float32)
    model = sn.Sequential([sn.Dense(2, 1)], seed=0)
    model.compile(loss="bce_logits", optimizer=sn.SGD(lr=1e30), metrics=())
    before = model.state_dict()
    with pytest.raises(DivergenceError, match="a weight became NaN or inf"):
        model.fit(X, np.ones(8), epochs=1, batch_size=None, verbose=0)
    assert all(np.array_equal(before[k], v) for k, v in model.state_dict().items())


def test_a_command_using_the_helpers_resumes_exactly(tmp_path, monkeypatch, references):
    """What a command does with the helpers: flags -> run folder -> fit keyword arguments."""
    monkeypatch.chdir(tmp_path)
    ref_model, ref_history = references["plateau"]

    def command(argv, stop_at=None):
        parser = argparse.ArgumentParser()
        parser.add_argument("--out")
        add_checkpoint_arguments(parser)
        args = parser.parse_args(argv)
        run_dir = resume_run_dir(args, "toy") or args.out or "runs/toy-20240101-000000"
        X, y = toy_data()
        model = toy_model()
        callbacks = [sn.EarlyStopping(patience=100),
                     interrupt_at(stop_at) if stop_at else sn.LambdaCallback()]
        try:
            history = model.fit(X, y, epochs=6, batch_size=16, validation_split=0.2, verbose=0,
                                callbacks=callbacks, **checkpoint_kwargs(args, run_dir))
        except Interrupt:
            return None
        return model, history

    assert command(["--checkpoint-every", "4"], stop_at=18) is None
    assert [s for s, _ in list_checkpoints("runs/toy-20240101-000000/checkpoints")] == [8, 12, 16]
    model, history = command(["--checkpoint-every", "4", "--resume"])
    assert same_weights(model, ref_model) and history.history == ref_history
