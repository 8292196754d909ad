"""Every bad input we try, through the API and the command line, and what it must give.

One list, two users: ``tests/trust/test_bad_input_table.py`` runs each case and checks
the error type and a key phrase of the message; ``scripts/gen_bad_input_table.py`` runs
each case and writes the messages into ``docs/bad-input.md``.

Adding a case: append to ``API_CASES`` (a function that must raise, given a fresh
temporary folder), ``CLI_CASES`` (an argument list; the command's rows are skipped
while the command is not installed) or ``SUBPROCESS_CASES`` (the same, run as a real
``python -m scratchnet.cli`` process). ``phrase`` is a regular expression searched in
the message.
"""

from __future__ import annotations

import contextlib
import io
import os
import pickle
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import scratchnet as sn
from scratchnet import data as sndata
from scratchnet import errors
from scratchnet.checkpoint import CheckpointManager, load_checkpoint

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
ROOT_REASON = "running as root, which may read and write any file regardless of permissions"


@dataclass(frozen=True)
class Case:
    id: str
    area: str
    bad_input: str
    kind: str  # "api", "cli" or "subprocess"
    phrase: str
    error: type[BaseException] | None = None  # api cases
    run: Callable[[Path], object] | None = None  # api cases: must raise
    argv: Callable[[Path], list[str]] | None = None  # cli/subprocess cases
    argparse_error: bool = False  # cli: argparse prints its usage lines before the error
    command: str | None = None  # cli: the sub-command the case needs installed
    skip: Callable[[], str | None] = field(default=lambda: None)


@dataclass
class Outcome:
    """What a case produced: the exception (api) or the exit status and stderr (cli)."""

    error_type: str
    message: str
    exit_code: int | None = None
    stderr: str = ""
    exception: BaseException | None = None


# -- fixtures the cases use -------------------------------------------------------------------
def _data(n=40, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64) + (X[:, 1] > 0.5)
    return X, y


def _model(loss="cross_entropy", optimizer="adam", outputs=3):
    model = sn.Sequential([sn.Dense(4, 8), sn.ReLU(), sn.Dropout(0.2), sn.Dense(8, outputs)],
                          seed=0)
    model.compile(loss=loss, optimizer=optimizer)
    return model


def _fit(model=None, X=None, y=None, **kw):
    Xd, yd = _data()
    model = model or _model()
    kw.setdefault("verbose", 0)
    return model.fit(Xd if X is None else X, yd if y is None else y, **kw)


def _with(a: np.ndarray, index, value):
    a = np.array(a, copy=True)
    a[index] = value
    return a


def _saved_model(tmp: Path) -> Path:
    path = tmp / "model.scn"
    _model().save(path)
    return path


def _file(tmp: Path, name: str, data: bytes) -> Path:
    path = tmp / name
    path.write_bytes(data)
    return path


def _a_file(tmp: Path) -> Path:
    return _file(tmp, "a-file", b"I am a file, not a folder")


def _mnist_model(tmp: Path) -> Path:
    """A (untrained) model of the shape `scratchnet predict` takes: 784 inputs, 10 classes."""
    path = tmp / "mnist-model.scn"
    model = sn.Sequential([sn.Dense(784, 10)], seed=0)
    model.compile(loss="cross_entropy", optimizer="adam")
    model.save(path)
    return path


def _checkpoint(tmp: Path) -> Path:
    folder = tmp / "ckpt"
    _fit(epochs=2, batch_size=8, checkpoint_dir=folder, checkpoint_every=3)
    return sorted(folder.glob("ckpt-*.scn"))[-1]


def _truncated(tmp: Path) -> Path:
    data = _saved_model(tmp).read_bytes()
    return _file(tmp, "cut.scn", data[: len(data) // 2])


def _future(tmp: Path) -> Path:
    import json
    import zipfile

    src = _saved_model(tmp)
    dst = tmp / "future.scn"
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            blob = zin.read(info)
            if info.filename == "scratchnet.json":
                header = json.loads(blob)
                header["version"] = 99
                blob = json.dumps(header).encode()
            zout.writestr(info.filename, blob)
    return dst


class _Payload:
    def __reduce__(self):  # unpickling would create a file: never happens
        return (Path.touch, (Path("pwned"),))


def _unreadable(tmp: Path) -> Path:
    path = _saved_model(tmp)
    path.chmod(0)
    return path


def _read_only_folder(tmp: Path) -> Path:
    folder = tmp / "read-only"
    folder.mkdir()
    folder.chmod(0o500)
    return folder


def _diverge(tmp: Path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 4)).astype(np.float32) * 10
    y = X @ rng.normal(size=(4, 1)).astype(np.float32)
    model = sn.Sequential([sn.Dense(4, 32), sn.ReLU(), sn.Dense(32, 1)], seed=0)
    model.compile(loss="mse", optimizer=sn.SGD(lr=0.05), metrics=())
    with np.errstate(all="ignore"):
        model.fit(X, y, epochs=50, batch_size=8, verbose=0, checkpoint_dir=tmp / "ckpt",
                  checkpoint_every=2)


def _run_folder(path: Path):
    from scratchnet.report import RunFolder  # imports matplotlib: only when needed

    return RunFolder(path, "xor")


def _overflow_last_step(tmp: Path):
    """Logits of 1e20 give a finite BCE loss but a gradient that, times lr = 1e30,
    overflows float32 in the one and only update: no later loss would notice."""
    X = np.full((8, 2), 1e20, dtype=np.float32)
    model = sn.Sequential([sn.Dense(2, 1)], seed=0)
    model.compile(loss="bce_logits", optimizer=sn.SGD(lr=1e30), metrics=())
    model.fit(X, np.ones(8), epochs=1, batch_size=None, verbose=0)


def _root_skip() -> str | None:
    return ROOT_REASON if IS_ROOT else None


X0, Y0 = _data()

# -- the API ------------------------------------------------------------------------------------
A_DATA, A_SIZE, A_NAME, A_FILE, A_TRAIN = (
    "API: data", "API: sizes and rates", "API: unknown names", "API: files and folders",
    "API: training",
)


def api(id, area, bad_input, run, error, phrase, skip=lambda: None) -> Case:
    return Case(id=id, area=area, bad_input=bad_input, kind="api", run=run, error=error,
                phrase=phrase, skip=skip)


API_CASES: list[Case] = [
    # data: shapes, dtypes, values
    api("x-wrong-width", A_DATA, "`fit` with X of 5 features for a model expecting 4",
        lambda t: _fit(X=np.zeros((40, 5), np.float32)), errors.ShapeError,
        r"expected input of shape \(batch, 4\)"),
    api("x-1d", A_DATA, "`fit` with a 1-d X (no batch axis)",
        lambda t: _fit(X=np.zeros(40, np.float32)), errors.ShapeError, "must have a batch axis"),
    api("xy-lengths", A_DATA, "`fit` with 40 samples but 39 labels",
        lambda t: _fit(y=Y0[:-1]), errors.ShapeError, "different lengths: 40 samples but 39"),
    api("x-nan", A_DATA, "`fit` with a NaN in X", lambda t: _fit(X=_with(X0, (3, 1), np.nan)),
        errors.DataError, r"X contains NaN or inf \(first at index \(3, 1\)\)"),
    api("x-inf-predict", A_DATA, "`predict` with an inf in X",
        lambda t: _model().predict(_with(X0, (0, 0), np.inf)), errors.DataError,
        "contains NaN or inf"),
    api("y-inf", A_DATA, "`fit` (MSE) with an inf in the targets",
        lambda t: _fit(_model("mse"), y=_with(np.zeros((40, 3), np.float32), (2, 0), np.inf)),
        errors.DataError, "targets contain NaN or inf"),
    api("x-strings", A_DATA, "`fit` with X of strings",
        lambda t: _fit(X=np.full((40, 4), "a")), errors.DTypeError, "must be numeric"),
    api("x-complex", A_DATA, "`fit` with complex X",
        lambda t: _fit(X=X0.astype(np.complex64)), errors.DTypeError, "must be numeric"),
    api("x-ragged", A_DATA, "`fit` with a ragged list of rows",
        lambda t: _fit(X=[[1, 2, 3, 4], [1, 2]]), errors.DataError,
        "could not be turned into an array"),
    api("x-empty", A_DATA, "`fit` with zero samples",
        lambda t: _fit(X=np.zeros((0, 4), np.float32), y=np.zeros(0, np.int64)),
        errors.DataError, "is empty"),
    api("labels-out-of-range", A_DATA, "cross-entropy labels up to 5 for 3 outputs",
        lambda t: _fit(y=_with(Y0, 0, 5)), errors.DataError, r"labels must be in 0\.\.2"),
    api("labels-negative", A_DATA, "a label of -1",
        lambda t: _fit(y=_with(Y0, 0, -1)), errors.DataError, r"labels must be in 0\.\.2"),
    api("labels-fractional", A_DATA, "a label of 0.5",
        lambda t: _fit(y=_with(Y0.astype(np.float64), 0, 0.5)), errors.DataError,
        "whole numbers"),
    api("bce-target-range", A_DATA, "binary cross-entropy target 2.0",
        lambda t: _fit(_model("bce_logits", outputs=1), y=_with(np.zeros(40), 0, 2.0)),
        errors.DataError, r"targets must be in \[0, 1\]"),
    api("onehot-width", A_DATA, "one-hot targets of width 4 for 3 outputs",
        lambda t: _fit(y=np.eye(4, dtype=np.float32)[np.arange(40) % 4]), errors.ShapeError,
        r"one-hot \(n, 3\)"),
    api("val-nan", A_DATA, "validation data with a NaN",
        lambda t: _fit(validation_data=(_with(X0, (0, 0), np.nan), Y0)), errors.DataError,
        "validation X contains NaN"),
    api("layer-dtype", A_DATA, "float64 input straight into a float32 `Dense.forward`",
        lambda t: sn.Dense(4, 2).forward(X0.astype(np.float64)), errors.DTypeError,
        "silent upcast"),
    api("one-hot-label", A_DATA, "`one_hot` with label 5 for 3 classes",
        lambda t: sndata.one_hot(np.array([0, 5]), 3), errors.DataError,
        r"label 5 at index 1 is outside 0\.\.2"),
    api("scale-float", A_DATA, "`scale_images` on float pixels",
        lambda t: sndata.scale_images(np.zeros((2, 2), np.float32)), errors.DTypeError,
        "expects uint8 pixels"),
    # sizes and rates
    api("epochs-zero", A_SIZE, "`epochs=0`", lambda t: _fit(epochs=0), errors.ConfigError,
        "epochs must be a positive integer, got 0"),
    api("batch-negative", A_SIZE, "`batch_size=-1`", lambda t: _fit(batch_size=-1),
        errors.ConfigError, "batch_size must be a positive integer, got -1"),
    api("lr-zero", A_SIZE, "`SGD(lr=0)`", lambda t: sn.SGD(lr=0), errors.ConfigError,
        "learning rate must be a finite number > 0, got 0"),
    api("lr-negative", A_SIZE, "`Adam(lr=-0.001)`", lambda t: sn.Adam(lr=-0.001),
        errors.ConfigError, "learning rate must be a finite number > 0"),
    api("lr-nan", A_SIZE, "`compile(lr=nan)`",
        lambda t: _model().compile(loss="mse", optimizer="sgd", lr=float("nan")),
        errors.ConfigError, "learning rate must be a finite number > 0, got nan"),
    api("dense-zero", A_SIZE, "`Dense(0, 3)`", lambda t: sn.Dense(0, 3), errors.ConfigError,
        "Dense n_in must be a positive integer, got 0"),
    api("dropout-one", A_SIZE, "`Dropout(1.0)`", lambda t: sn.Dropout(1.0), errors.ConfigError,
        r"Dropout p must be in \[0, 1\), got 1.0"),
    api("val-split", A_SIZE, "`validation_split=1.5`", lambda t: _fit(validation_split=1.5),
        errors.ConfigError, r"validation_split must be in \(0, 1\)"),
    api("momentum", A_SIZE, "`SGD(momentum=1.5)`", lambda t: sn.SGD(momentum=1.5),
        errors.ConfigError, r"momentum must be in \[0, 1\)"),
    api("weight-decay", A_SIZE, "`Adam(weight_decay=-1)`", lambda t: sn.Adam(weight_decay=-1),
        errors.ConfigError, "weight_decay must be >= 0"),
    api("cosine-steps", A_SIZE, "`CosineWarmup(0.1, total_steps=0)`",
        lambda t: sn.CosineWarmup(0.1, total_steps=0), errors.ConfigError,
        "total_steps must be a positive integer"),
    api("step-size", A_SIZE, "`StepDecay(0.1, step_size=0)`",
        lambda t: sn.StepDecay(0.1, step_size=0), errors.ConfigError,
        "step_size must be a positive integer"),
    api("checkpoint-every", A_SIZE, "`fit(checkpoint_every=0)`",
        lambda t: _fit(checkpoint_dir=t / "c", checkpoint_every=0), errors.ConfigError,
        "checkpoint_every must be a positive integer"),
    api("keep-checkpoints", A_SIZE, "`fit(keep_checkpoints=0)`",
        lambda t: _fit(checkpoint_dir=t / "c", keep_checkpoints=0), errors.ConfigError,
        "keep_checkpoints must be a positive integer"),
    api("spiral-zero", A_SIZE, "`make_spiral(0)`", lambda t: sndata.make_spiral(0),
        errors.ConfigError, r"n \(number of points\) must be >= 1"),
    api("moons-noise", A_SIZE, "`make_moons(10, noise=-1)`",
        lambda t: sndata.make_moons(10, noise=-1, seed=0), errors.ConfigError,
        "noise must be a finite number >= 0"),
    api("empty-sequential", A_SIZE, "`Sequential([])`", lambda t: sn.Sequential([]),
        errors.ConfigError, "needs at least one layer"),
    api("layer-class", A_SIZE, "`Sequential([ReLU])` (a class, not an instance)",
        lambda t: sn.Sequential([sn.ReLU]), errors.ConfigError, "did you pass a class"),
    api("inplace-first", A_SIZE, "`Sequential([ReLU(inplace=True), Dense(2, 1)])`",
        lambda t: sn.Sequential([sn.ReLU(inplace=True), sn.Dense(2, 1)]), errors.ConfigError,
        "would overwrite the model's input"),
    api("inplace-after-sigmoid", A_SIZE,
        "`Sequential([Dense(2, 3), Sigmoid(), ReLU(inplace=True), Dense(3, 1)])`",
        lambda t: sn.Sequential([sn.Dense(2, 3), sn.Sigmoid(), sn.ReLU(inplace=True),
                                 sn.Dense(3, 1)]),
        errors.ConfigError, r"output of layer 1 \(Sigmoid\), which that layer needs again"),
    api("threads-zero", A_SIZE, "`set_num_threads(0)`", lambda t: sn.set_num_threads(0),
        errors.ConfigError, "number of threads must be a positive integer"),
    api("processes-zero", A_SIZE, "`fit(X, y, processes=0)`", lambda t: _fit(processes=0),
        errors.ConfigError, "processes must be a positive integer, got 0"),
    # unknown names
    api("loss-name", A_NAME, "`compile(loss='hinge')`",
        lambda t: _model().compile(loss="hinge"), errors.ConfigError, "unknown loss 'hinge'"),
    api("optimizer-name", A_NAME, "`compile(optimizer='lbfgs')`",
        lambda t: _model().compile(optimizer="lbfgs"), errors.ConfigError,
        "unknown optimiser 'lbfgs'"),
    api("activation-name", A_NAME, "`get_activation('swish')`",
        lambda t: sn.layers.get_activation("swish"), errors.ConfigError,
        "unknown activation 'swish'"),
    api("init-name", A_NAME, "`Dense(2, 2, init='orthogonal')`",
        lambda t: sn.Dense(2, 2, init="orthogonal"), errors.ConfigError, "orthogonal"),
    api("metric-name", A_NAME, "`compile(metrics=['f1'])`",
        lambda t: _model().compile(metrics=["f1"]), errors.ConfigError, "unknown metric 'f1'"),
    api("schedule-name", A_NAME, "`SGD(lr={'name': 'warmup'})`",
        lambda t: sn.SGD(lr={"name": "warmup", "lr": 0.1}), errors.ConfigError,
        "unknown schedule 'warmup'"),
    api("gate-name", A_NAME, "`logic_gate('xyz')`", lambda t: sndata.logic_gate("xyz"),
        errors.ConfigError, "unknown logic gate 'xyz'"),
    api("mnist-split", A_NAME, "`load_mnist('validation')`",
        lambda t: sndata.load_mnist("validation", data_dir=t, download=False),
        errors.ConfigError, "split must be 'train' or 'test'"),
    api("not-compiled", A_NAME, "`fit` before `compile`",
        lambda t: sn.Sequential([sn.Dense(4, 3)]).fit(X0, Y0, verbose=0), errors.ConfigError,
        "call model.compile"),
    # files and folders
    api("model-missing", A_FILE, "`load_model` of a file that does not exist",
        lambda t: sn.load_model(t / "missing.scn"), FileNotFoundError, "missing.scn"),
    api("model-under-file", A_FILE, "`load_model('a-file/model.scn')` (a file on the path)",
        lambda t: sn.load_model(_a_file(t) / "model.scn"), FileNotFoundError,
        "a folder on its path is a file"),
    api("model-folder", A_FILE, "`load_model` of a folder",
        lambda t: sn.load_model(t), errors.ModelFileError, "is a folder"),
    api("model-text", A_FILE, "`load_model` of a text file",
        lambda t: sn.load_model(_file(t, "notes.scn", b"hello")), errors.ModelFileError,
        "not a scratchnet model file"),
    api("model-pickle", A_FILE, "`load_model` of a pickle (that would run code)",
        lambda t: sn.load_model(_file(t, "evil.pkl", pickle.dumps(_Payload()))),
        errors.ModelFileError, "looks like a Python pickle; scratchnet never unpickles"),
    api("model-truncated", A_FILE, "`load_model` of a model file cut in half",
        lambda t: sn.load_model(_truncated(t)), errors.ModelFileError,
        "corrupted or truncated model file"),
    api("model-future", A_FILE, "`load_model` of a file from a newer format version",
        lambda t: sn.load_model(_future(t)), errors.ModelFileError,
        "written by a newer scratchnet"),
    api("model-is-checkpoint", A_FILE, "`load_model` of a checkpoint",
        lambda t: sn.load_model(_checkpoint(t)), errors.ModelFileError,
        "is a scratchnet 'checkpoint' file, expected a model file"),
    api("model-unreadable", A_FILE, "`load_model` of a file without read permission",
        lambda t: sn.load_model(_unreadable(t)), PermissionError, "Permission denied",
        skip=_root_skip),
    api("save-under-file", A_FILE, "`model.save('a-file/model.scn')` (a file on the path)",
        lambda t: _model().save(_a_file(t) / "model.scn"), errors.ConfigError,
        "a-file is not a folder"),
    api("save-no-folder", A_FILE, "`model.save` into a folder that does not exist",
        lambda t: _model().save(t / "nowhere" / "model.scn"), errors.ConfigError,
        "the folder .*nowhere does not exist"),
    api("save-read-only", A_FILE, "`model.save` into a folder without write permission",
        lambda t: _model().save(_read_only_folder(t) / "model.scn"), errors.ConfigError,
        "no permission to write in", skip=_root_skip),
    api("checkpoint-dir-under-file", A_FILE, "`fit(checkpoint_dir='a-file/ckpt')`",
        lambda t: _fit(checkpoint_dir=_a_file(t) / "ckpt"), errors.ConfigError,
        "cannot create checkpoint folder"),
    api("checkpoint-dir-read-only", A_FILE, "`fit(checkpoint_dir=<read-only folder>)`",
        lambda t: CheckpointManager(_read_only_folder(t)), errors.ConfigError, "is not writable",
        skip=_root_skip),
    api("resume-missing", A_FILE, "`fit(resume='missing.scn')`",
        lambda t: _fit(resume=t / "missing.scn"), FileNotFoundError, "missing.scn"),
    api("resume-corrupt", A_FILE, "`fit(resume=<checkpoint with its last 30 bytes cut off>)`",
        lambda t: _fit(resume=_file(t, "bad.scn", _checkpoint(t).read_bytes()[:-30])),
        errors.ModelFileError, "bad.scn"),
    api("resume-other-model", A_FILE, "`fit(resume=...)` with a checkpoint of another model",
        lambda t: _fit(sn.Sequential([sn.Dense(4, 3)], seed=0).compile(loss="cross_entropy",
                                                                         optimizer="adam"),
                       resume=_checkpoint(t)), errors.ConfigError,
        "was written by a different model"),
    api("checkpoint-as-model", A_FILE, "`load_checkpoint` of a model file",
        lambda t: load_checkpoint(_saved_model(t)), errors.ModelFileError,
        "is a scratchnet 'model' file, expected a checkpoint file"),
    api("idx-garbage", A_FILE, "`read_idx` of a text file",
        lambda t: sndata.read_idx(_file(t, "x.idx", b"not an idx file")), errors.DataFileError,
        "not an IDX file"),
    api("idx-missing", A_FILE, "`read_idx` of a missing file",
        lambda t: sndata.read_idx(t / "nope.idx"), errors.DataFileError, "no such file"),
    api("csv-bad-number", A_FILE, "`load_csv_2d` with 'oops' in a number column",
        lambda t: sndata.load_csv_2d(_file(t, "d.csv", b"x1,x2,label\n1,2,0\n3,oops,1\n")),
        errors.DataFileError, "line 3: x2 value 'oops' is not a number"),
    api("mnist-no-files", A_FILE, "`load_mnist(data_dir=<empty>, download=False)`",
        lambda t: sndata.load_mnist("train", data_dir=t, download=False), errors.DataFileError,
        "MNIST train files not found"),
    api("run-folder-under-file", A_FILE, "`RunFolder('a-file/run', ...)`",
        lambda t: _run_folder(_a_file(t) / "run"), errors.ConfigError,
        "cannot create run folder"),
    # training
    api("divergence", A_TRAIN, "SGD with a learning rate too large for the data",
        _diverge, errors.DivergenceError,
        "training diverged at epoch .*the model keeps its last finite weights.*"
        "The last checkpoint, .*ckpt-\\d+\\.scn, is kept"),
    api("last-step-overflows", A_TRAIN, "a final update so large the weights overflow",
        _overflow_last_step, errors.DivergenceError,
        "training diverged at epoch 1, batch 1: a weight became NaN or inf"),
    api("augment-shape", A_TRAIN, "`fit(augment=...)` returning a different shape",
        lambda t: _fit(augment=lambda X, e, r: X[:, :2]), errors.ShapeError,
        "augment must return an array of X's shape"),
]

# -- the command line ---------------------------------------------------------------------------
C_ARGS, C_FILES = "CLI: arguments", "CLI: files and folders"


def _command(bad_input: str) -> str:
    m = re.match(r"`scratchnet ([a-z][a-z0-9_-]*)", bad_input)
    assert m, f"describe a command-line case as `scratchnet COMMAND ...`: {bad_input}"
    return m.group(1)


def cli(id, area, bad_input, argv, phrase, argparse_error=False, needs_flag=None) -> Case:
    command = _command(bad_input)
    skip = (lambda: None) if needs_flag is None else (lambda: _lacks_flag(command, needs_flag))
    return Case(id=id, area=area, bad_input=bad_input, kind="cli", argv=argv, phrase=phrase,
                argparse_error=argparse_error, command=command, skip=skip)


def _lacks_flag(command: str, flag: str) -> str | None:
    """A reason to skip while ``command`` does not offer ``flag`` yet."""
    from scratchnet.cli import build_parser

    parser = build_parser()
    sub = next((a.choices for a in parser._actions if isinstance(a.choices, dict)), {})
    if command not in sub:
        return None  # skip_reason reports the missing command
    if flag not in sub[command]._option_string_actions:
        return f"the '{command}' command has no {flag} option yet"
    return None


def _csv(t: Path) -> str:
    return str(_file(t, "bad.csv", b"x1,x2,label\n1,2,0\n3,oops,1\n"))


CLI_CASES: list[Case] = [
    cli("cli-unknown-command", C_ARGS, "`scratchnet frobnicate`", lambda t: ["frobnicate"],
        "invalid choice: 'frobnicate'", argparse_error=True),
    cli("xor-epochs-negative", C_ARGS, "`scratchnet xor --epochs -5`",
        lambda t: ["xor", "--epochs", "-5"], r"epochs must be an integer in \[1, 1000000\]"),
    cli("xor-epochs-text", C_ARGS, "`scratchnet xor --epochs abc`",
        lambda t: ["xor", "--epochs", "abc"], "argument --epochs: invalid int value: 'abc'",
        argparse_error=True),
    cli("xor-lr-zero", C_ARGS, "`scratchnet xor --lr 0`", lambda t: ["xor", "--lr", "0"],
        "must be a positive number, got 0.0"),
    cli("xor-lr-nan", C_ARGS, "`scratchnet xor --lr nan`", lambda t: ["xor", "--lr", "nan"],
        "must be a positive number, got nan"),
    cli("xor-hidden-zero", C_ARGS, "`scratchnet xor --hidden 0`",
        lambda t: ["xor", "--hidden", "0"], "hidden units must be between 1 and 64",
        argparse_error=True),
    cli("xor-loss-name", C_ARGS, "`scratchnet xor --loss hinge`",
        lambda t: ["xor", "--loss", "hinge"], "invalid choice: 'hinge'", argparse_error=True),
    cli("xor-seeds-zero", C_ARGS, "`scratchnet xor --seeds 0`",
        lambda t: ["xor", "--seeds", "0"], "number of seeds must be an integer"),
    cli("neuron-n-zero", C_ARGS, "`scratchnet neuron regression --n 0`",
        lambda t: ["neuron", "regression", "--n", "0"], "must be a positive integer, got 0"),
    cli("neuron-noise", C_ARGS, "`scratchnet neuron regression --noise -1`",
        lambda t: ["neuron", "regression", "--noise", "-1"], "noise must be >= 0"),
    cli("neuron-gate", C_ARGS, "`scratchnet neuron classify --gate xyz`",
        lambda t: ["neuron", "classify", "--gate", "xyz"], "invalid choice: 'xyz'",
        argparse_error=True),
    cli("explain-sample", C_ARGS, "`scratchnet explain --sample 1,2,3`",
        lambda t: ["explain", "--sample", "1,2,3"], "expected one XOR input such as 1,0",
        argparse_error=True),
    cli("explain-lr", C_ARGS, "`scratchnet explain --lr 0`", lambda t: ["explain", "--lr", "0"],
        "lr must be a positive number"),
    cli("gradcheck-tol", C_ARGS, "`scratchnet gradcheck --tol -1`",
        lambda t: ["gradcheck", "--tol", "-1"], "tol must be a finite number > 0"),
    cli("experiment-name", C_ARGS, "`scratchnet experiment nosuch`",
        lambda t: ["experiment", "nosuch"], "invalid choice: 'nosuch'", argparse_error=True),
    cli("experiment-depth", C_ARGS, "`scratchnet experiment activations --depth 0`",
        lambda t: ["experiment", "activations", "--depth", "0", "--quick"],
        "depth must be a positive integer"),
    cli("lr-find-lr-min", C_ARGS, "`scratchnet lr-find --lr-min 0`",
        lambda t: ["lr-find", "--lr-min", "0", "--quick", "--quiet"],
        "learning rate must be a finite number > 0"),
    cli("lr-find-range", C_ARGS, "`scratchnet lr-find --lr-min 1 --lr-max 0.1`",
        lambda t: ["lr-find", "--lr-min", "1", "--lr-max", "0.1", "--quick", "--quiet"],
        r"lr_max \(0.1\) must be larger than lr_min \(1\)"),
    cli("lr-find-points", C_ARGS, "`scratchnet lr-find --points 0`",
        lambda t: ["lr-find", "--points", "0", "--quick", "--quiet"],
        r"n \(number of points\) must be >= 1"),
    cli("lr-find-batch", C_ARGS, "`scratchnet lr-find --batch-size 0`",
        lambda t: ["lr-find", "--batch-size", "0", "--quick", "--quiet"],
        "batch_size must be a positive integer"),
    cli("mnist-epochs", C_ARGS, "`scratchnet mnist --epochs 0`",
        lambda t: ["mnist", "--epochs", "0", "--no-download"],
        "epochs must be an integer between 1 and"),
    cli("mnist-batch", C_ARGS, "`scratchnet mnist --batch-size 0`",
        lambda t: ["mnist", "--batch-size", "0", "--no-download"],
        "batch size must be an integer between 1 and"),
    cli("mnist-lr", C_ARGS, "`scratchnet mnist --lr 0`",
        lambda t: ["mnist", "--lr", "0", "--no-download"],
        "learning rate must be a finite number > 0"),
    cli("mnist-val-split", C_ARGS, "`scratchnet mnist --val-split 1.5`",
        lambda t: ["mnist", "--val-split", "1.5", "--no-download"],
        r"validation split must be a fraction in \[0, 1\)"),
    cli("mnist-dataset", C_ARGS, "`scratchnet mnist --dataset cifar`",
        lambda t: ["mnist", "--dataset", "cifar"], "invalid choice: 'cifar'",
        argparse_error=True),
    cli("predict-top", C_ARGS, "`scratchnet predict model.scn digit.png --top 0`",
        lambda t: ["predict", str(_mnist_model(t)), str(t / "digit.png"), "--top", "0"],
        "--top must be at least 1"),
    cli("predict-no-image", C_ARGS, "`scratchnet predict model.scn` (no picture given)",
        lambda t: ["predict", str(_mnist_model(t))],
        "the following arguments are required: IMAGE", argparse_error=True),
    cli("mnist-checkpoint-every", C_ARGS, "`scratchnet mnist --checkpoint-every 0`",
        lambda t: ["mnist", "--checkpoint-every", "0", "--no-download"],
        "argument --checkpoint-every: expected a positive integer, got 0",
        argparse_error=True, needs_flag="--checkpoint-every"),
    cli("mnist-resume-missing", C_FILES, "`scratchnet mnist --resume nowhere`",
        lambda t: ["mnist", "--resume", str(t / "nowhere"), "--no-download"],
        "--resume: .*nowhere does not exist", needs_flag="--resume"),
    cli("mnist-resume-none", C_FILES, "`scratchnet mnist --resume` (no earlier run)",
        lambda t: ["mnist", "--resume", "--no-download"],
        "--resume: no run of 'mnist' with checkpoints", needs_flag="--resume"),
    cli("mnist-data-missing", C_FILES, "`scratchnet mnist --data-dir nowhere --no-download`",
        lambda t: ["mnist", "--data-dir", str(t / "nowhere"), "--no-download"],
        "does not exist or is not a folder"),
    cli("mnist-data-empty", C_FILES, "`scratchnet mnist --data-dir <empty> --no-download`",
        lambda t: ["mnist", "--data-dir", str(t), "--no-download"], "files not found in"),
    cli("predict-model-missing", C_FILES, "`scratchnet predict missing.scn digit.png`",
        lambda t: ["predict", str(t / "missing.scn"), str(t / "digit.png")],
        "file not found: .*missing.scn"),
    cli("predict-model-text", C_FILES, "`scratchnet predict notes.scn digit.png` (a text file)",
        lambda t: ["predict", str(_file(t, "notes.scn", b"hello")), str(t / "digit.png")],
        "not a scratchnet model file"),
    cli("predict-wrong-model", C_FILES, "`scratchnet predict xor-model.scn digit.png`",
        lambda t: ["predict", str(_saved_model(t)), str(t / "digit.png")],
        "this model does not take 28x28 grey images"),
    cli("predict-image-missing", C_FILES, "`scratchnet predict model.scn missing.png`",
        lambda t: ["predict", str(_mnist_model(t)), str(t / "missing.png")],
        "missing.png: no such image file"),
    cli("predict-not-an-image", C_FILES, "`scratchnet predict model.scn notes.png` (text)",
        lambda t: ["predict", str(_mnist_model(t)), str(_file(t, "notes.png", b"hello"))],
        "not an image Pillow can read"),
    cli("neuron-diverges", C_ARGS, "`scratchnet neuron regression --lr 100` (diverges)",
        lambda t: ["neuron", "regression", "--lr", "100", "--epochs", "50", "--out",
                   str(t / "run")],
        "training diverged at epoch .*(the loss became inf|a weight became NaN or inf)"),
    cli("xor-out-under-file", C_FILES, "`scratchnet xor --out a-file/run` (a file on the path)",
        lambda t: ["xor", "--epochs", "5", "--out", str(_a_file(t) / "run")],
        "cannot create run folder"),
    cli("explain-weights-missing", C_FILES, "`scratchnet explain --weights missing.scn`",
        lambda t: ["explain", "--weights", str(t / "missing.scn")],
        "not 'random', 'trained' or an existing model file"),
    cli("explain-weights-text", C_FILES, "`scratchnet explain --weights notes.scn` (a text file)",
        lambda t: ["explain", "--weights", str(_file(t, "notes.scn", b"hello"))],
        "not a scratchnet model file"),
    cli("explain-weights-pickle", C_FILES, "`scratchnet explain --weights evil.pkl` (a pickle)",
        lambda t: ["explain", "--weights", str(_file(t, "evil.pkl", pickle.dumps(_Payload())))],
        "looks like a Python pickle"),
    cli("lr-find-csv-missing", C_FILES, "`scratchnet lr-find --csv missing.csv`",
        lambda t: ["lr-find", "--csv", str(t / "missing.csv"), "--quick", "--quiet"],
        "missing.csv: no such file"),
    cli("lr-find-csv-bad", C_FILES, "`scratchnet lr-find --csv bad.csv` ('oops' in a number)",
        lambda t: ["lr-find", "--csv", _csv(t), "--quick", "--quiet"],
        "line 3: x2 value 'oops' is not a number"),
    cli("report-missing", C_FILES, "`scratchnet report nowhere`",
        lambda t: ["report", str(t / "nowhere")], "is not a folder"),
    cli("report-no-run-json", C_FILES, "`scratchnet report <a folder without run.json>`",
        lambda t: ["report", str(t)], "not a scratchnet run folder"),
]


def subproc(id, area, bad_input, argv, phrase, argparse_error=False) -> Case:
    return Case(id=id, area=area, bad_input=bad_input, kind="subprocess", argv=argv,
                phrase=phrase, argparse_error=argparse_error, command=_command(bad_input))


S_AREA = "Command line, as a real process"
SUBPROCESS_CASES: list[Case] = [
    subproc("proc-xor-epochs", S_AREA, "`scratchnet xor --epochs -5`",
            lambda t: ["xor", "--epochs", "-5"], "epochs must be an integer"),
    subproc("proc-explain-weights", S_AREA, "`scratchnet explain --weights notes.scn`",
            lambda t: ["explain", "--weights", str(_file(t, "notes.scn", b"hello"))],
            "not a scratchnet model file"),
    subproc("proc-unknown-command", S_AREA, "`scratchnet frobnicate`",
            lambda t: ["frobnicate"], "invalid choice", argparse_error=True),
]

CASES: list[Case] = API_CASES + CLI_CASES + SUBPROCESS_CASES


# -- running a case -----------------------------------------------------------------------------
def available_commands() -> set[str]:
    from scratchnet.cli import build_parser

    parser = build_parser()
    for action in parser._actions:
        if action.choices and isinstance(action.choices, dict):
            return set(action.choices)
    return set()


UNKNOWN_COMMAND = "frobnicate"  # deliberately not a command


def skip_reason(case: Case) -> str | None:
    """Why ``case`` cannot run here (None: it can)."""
    reason = case.skip()
    if reason:
        return reason
    if case.command not in (None, UNKNOWN_COMMAND) and case.command not in available_commands():
        return f"the '{case.command}' command is not installed yet"
    return None


def run_case(case: Case, tmp: Path) -> Outcome:
    """Run ``case`` in the folder ``tmp`` (also the working folder, so commands that
    write run folders write them there)."""
    tmp.mkdir(parents=True, exist_ok=True)
    with contextlib.chdir(tmp):
        if case.kind == "api":
            try:
                case.run(tmp)
            except BaseException as exc:  # noqa: BLE001 - the point is to see what escapes
                return Outcome(type(exc).__name__, str(exc), exception=exc)
            raise AssertionError(f"{case.id}: no error was raised")
        argv = case.argv(tmp)
        if case.kind == "cli":
            from scratchnet.cli import main

            err, out = io.StringIO(), io.StringIO()
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
                try:
                    code = main(argv)
                except SystemExit as exc:  # argparse errors
                    code = exc.code
            stderr = err.getvalue()
        else:
            proc = subprocess.run([sys.executable, "-m", "scratchnet.cli", *argv],
                                  capture_output=True, text=True, timeout=120, cwd=tmp)
            code, stderr = proc.returncode, proc.stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    return Outcome("exit status", lines[-1] if lines else "", exit_code=code, stderr=stderr)


def normalise(text: str, tmp: Path) -> str:
    """Messages as the docs show them: the temporary folder becomes ``<tmp>``."""
    for form in {str(tmp), str(tmp.resolve())}:
        text = text.replace(form, "<tmp>")
    return re.sub(r"\.scn\.[a-z0-9_]+\.tmp", ".scn.<random>.tmp", text)
