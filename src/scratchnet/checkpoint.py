"""Checkpoints: everything training needs to stop at any moment and resume exactly.

``Sequential.fit(..., checkpoint_dir=..., checkpoint_every=N)`` writes
``checkpoint_dir/ckpt-<step>.scn`` every ``N`` optimiser steps and once more when
training ends (or, without ``checkpoint_every``, at the end of every epoch); the
last ``keep_checkpoints`` are kept. ``fit(..., resume=True)`` finds the newest
checkpoint that loads cleanly and continues from it, so that a run killed at
any moment (even with SIGKILL, even in the middle of writing a checkpoint) and
resumed ends with weights *bit-identical* to a run that was never interrupted.

What a checkpoint holds (everything that decides the next update):

* the model: its config (architecture, loss) and every parameter and buffer;
* the optimiser: its spec, step count ``t``, per-parameter state (momentum,
  Adam's moments) and the learning-rate schedule's state (``ReduceOnPlateau``);
* the random generator's state (``model.rng``), which drives shuffling *and*
  dropout masks, so the masks after a resume are the ones the uninterrupted run
  draws;
* the position: epoch, batches of that epoch already done, the epoch's shuffle
  order (a resumed epoch must visit the remaining samples in the same order),
  the epoch's running loss sum and correct count, the last learning rate;
* the history so far and the state of callbacks that keep state
  (``EarlyStopping``, ``ModelCheckpoint``, or any callback with
  ``state_dict()``/``load_state_dict()``);
* a fingerprint of the training data (sizes and CRC-32 of the arrays), so a
  checkpoint is never silently resumed on different data or settings.

The file is a scratchnet archive (``scratchnet.io.write_archive``, kind
``"checkpoint"``): a JSON header plus ``.npy`` members, no pickle, written to a
temporary file, fsync'ed and renamed into place. A reader therefore sees either
the previous checkpoint or the new one; leftover temporary files (``.ckpt-*.tmp``)
from a killed write are ignored and removed by the next run.

Loading validates everything before it is used: the header (``read_archive``),
every field's type and range, array shapes against the model they will fill, the
shuffle order (a real permutation), the generator state (same bit generator as
the model's: the name in the file is compared, never looked up). Every problem
is a ``ModelFileError`` naming the file; a checkpoint that is fine but belongs to
another model, optimiser or data set is a ``ConfigError`` saying what differs.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import re
import warnings
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .callbacks import Callback, EarlyStopping, History, ModelCheckpoint
from .errors import ConfigError, ModelFileError, ScratchnetError
from .io import read_archive, write_archive

KIND = "checkpoint"
#: Version of the checkpoint's own meta layout (inside the archive's format version).
CHECKPOINT_VERSION = 1
SUFFIX = ".scn"
_NAME_RE = re.compile(r"ckpt-(\d{1,15})\.scn")
# Temporary files ``fileio.atomic_writer`` leaves behind if a write is killed.
_TEMP_RE = re.compile(r"\.ckpt-\d{1,15}\.scn\..*\.tmp")
_MAX_INT = 2**63 - 1
_MAX_FLOAT = 1.7976931348623157e308  # an int beyond this has no float


def checkpoint_name(step: int) -> str:
    """``ckpt-00000042.scn``: zero-padded so a folder listing sorts by step."""
    return f"ckpt-{step:08d}{SUFFIX}"


def list_checkpoints(folder) -> list[tuple[int, Path]]:
    """Complete checkpoint files in ``folder`` as ``(step, path)``, oldest first.

    Only names of the form ``ckpt-<step>.scn`` count; temporary files of an
    interrupted write never do. A missing folder has no checkpoints.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = []
    for entry in folder.iterdir():
        m = _NAME_RE.fullmatch(entry.name)
        if m and entry.is_file():
            found.append((int(m.group(1)), entry))
    found.sort()
    return found


# -- what fit saves -------------------------------------------------------------------
@dataclass
class Position:
    """Where training stands.

    ``epoch`` is the epoch in progress (0-based) and ``batch`` how many of its
    mini-batches are done (``0`` to ``n_batches``; ``n_batches`` means the
    end-of-epoch work, validation and callbacks, is still to do). ``batch == 0``
    means the epoch has not started. ``finished`` marks the checkpoint written when
    ``fit`` returned; ``stopped`` that a callback asked training to stop.
    """

    epoch: int
    batch: int
    step: int
    total_loss: float = 0.0
    correct: int = 0
    lr: float = 0.0
    finished: bool = False
    stopped: bool = False
    #: The generator's state when the epoch began (kept when ``fit`` has ``augment``,
    #: so a resumed epoch can redo its augmentation exactly).
    epoch_rng: dict | None = None

    def to_json(self) -> dict:
        return {
            "epoch": self.epoch, "batch": self.batch, "step": self.step,
            "total_loss": float(self.total_loss), "correct": int(self.correct),
            "lr": float(self.lr), "finished": self.finished, "stopped": self.stopped,
            "epoch_rng": None if self.epoch_rng is None else _rng_to_json(self.epoch_rng),
        }


@dataclass
class Checkpoint:
    """A loaded and validated checkpoint (see the module docstring for the fields)."""

    path: Path
    position: Position
    model_config: dict
    model_state: dict[str, np.ndarray]
    optimizer_spec: dict
    optimizer_t: int
    schedule_state: dict
    optimizer_arrays: dict[str, np.ndarray]
    rng_state: dict
    order: np.ndarray | None
    history: dict[str, list[float]]
    history_epochs: list[int]
    data: dict
    callbacks: list[dict] = field(default_factory=list)

    @property
    def step(self) -> int:
        return self.position.step

    def build_model(self):
        """A ``Sequential`` with the checkpoint's architecture and weights (for inspection
        or prediction; to continue training use ``fit(..., resume=path)``)."""
        from .io import model_from_config

        return model_from_config(self.model_config, dict(self.model_state), self.path)


def save_checkpoint(path, model, position: Position, *, order: np.ndarray | None = None,
                    history: History | None = None, callbacks: Sequence[Callback] = (),
                    data: dict | None = None) -> Path:
    """Write a checkpoint of ``model`` (compiled) at ``position`` to ``path``, atomically."""
    opt = model.optimizer
    if opt is None or model.loss is None:
        raise ConfigError("save_checkpoint: the model must be compiled (it has no optimiser)")
    path = Path(path)
    opt_state = opt.state_dict()
    arrays: dict[str, np.ndarray] = {f"model/{k}": v for k, v in model.state_dict().items()}
    arrays.update({f"optim/{k}": v for k, v in opt_state["arrays"].items()})
    if order is not None:
        arrays["order"] = np.asarray(order, dtype=np.int64)
    cb_meta = []
    for i, cb in enumerate(callbacks):
        state, cb_arrays = _callback_state(cb)
        cb_meta.append({"type": type(cb).__name__, "state": state})
        arrays.update({f"callbacks/{i}/{k}": v for k, v in cb_arrays.items()})
    meta = {
        "checkpoint_version": CHECKPOINT_VERSION,
        "model": _jsonable(model.get_config()),
        "optimizer": {
            "spec": _jsonable(opt.spec()),
            "t": int(opt_state["t"]),
            "schedule": _jsonable(opt_state["schedule"]),
        },
        "rng": _rng_to_json(model.rng.bit_generator.state),
        "position": position.to_json(),
        "history": {
            "values": {
                k: [float(v) for v in vs] for k, vs in (history.history if history else {}).items()
            },
            "epochs": [int(e) for e in (history.epochs if history else [])],
        },
        "data": _jsonable(data or {}),
        "callbacks": cb_meta,
    }
    write_archive(path, KIND, meta, arrays)
    return path


# -- loading and validating ------------------------------------------------------------
def load_checkpoint(path) -> Checkpoint:
    """Read and validate a checkpoint file. ``ModelFileError`` (naming the file) for
    anything wrong with it; ``FileNotFoundError`` if it does not exist."""
    path = Path(path)
    meta, arrays, _ = read_archive(path, KIND)
    v = _Validator(path)
    version = v.int(meta, "checkpoint_version", 1, _MAX_INT)
    if version > CHECKPOINT_VERSION:
        raise ModelFileError(
            f"{path}: checkpoint layout version {version} is newer than this scratchnet reads "
            f"({CHECKPOINT_VERSION}); upgrade scratchnet to resume from it"
        )
    model_config = v.dict(meta, "model")
    if not isinstance(model_config.get("layers"), list):
        raise ModelFileError(f"{path}: checkpoint has no list of model layers")
    opt = v.dict(meta, "optimizer")
    opt_spec = v.dict(opt, "spec", "optimizer")
    opt_t = v.int(opt, "t", 0, _MAX_INT, "optimizer")
    schedule = v.dict(opt, "schedule", "optimizer")
    for k, val in schedule.items():
        if not (val is None or isinstance(val, (bool, int, float, str))):
            raise ModelFileError(f"{path}: schedule state {k!r} is not a plain number")
    rng = v.dict(meta, "rng")
    if not isinstance(rng.get("bit_generator"), str):
        raise ModelFileError(f"{path}: random generator state names no bit generator")
    p = v.dict(meta, "position")
    position = Position(
        epoch=v.int(p, "epoch", 0, _MAX_INT, "position"),
        batch=v.int(p, "batch", 0, _MAX_INT, "position"),
        step=v.int(p, "step", 0, _MAX_INT, "position"),
        total_loss=v.float(p, "total_loss", "position"),
        correct=v.int(p, "correct", 0, _MAX_INT, "position"),
        lr=v.float(p, "lr", "position"),
        finished=v.bool(p, "finished", "position"),
        stopped=v.bool(p, "stopped", "position"),
        epoch_rng=p.get("epoch_rng"),
    )
    if position.epoch_rng is not None and not isinstance(position.epoch_rng, dict):
        raise ModelFileError(f"{path}: position.epoch_rng must be a generator state")
    if position.step != opt_t:
        raise ModelFileError(
            f"{path}: position says {position.step} steps but the optimiser has taken {opt_t}"
        )
    h = v.dict(meta, "history")
    values = v.dict(h, "values", "history")
    history: dict[str, list[float]] = {}
    for k, vs in values.items():
        if not isinstance(vs, list) or not all(_is_number(x) and abs(x) <= _MAX_FLOAT for x in vs):
            raise ModelFileError(f"{path}: history {k!r} is not a list of numbers")
        history[k] = [float(x) for x in vs]
    epochs = h.get("epochs")
    if not isinstance(epochs, list) or not all(_is_int(e) and 0 <= e <= _MAX_INT for e in epochs):
        raise ModelFileError(f"{path}: history epochs is not a list of epoch numbers")
    data = v.dict(meta, "data")
    cbs = meta.get("callbacks")
    if not isinstance(cbs, list) or not all(
        isinstance(c, dict) and isinstance(c.get("type"), str)
        and (c.get("state") is None or isinstance(c.get("state"), dict))
        for c in cbs
    ):
        raise ModelFileError(f"{path}: callbacks entry is not a list of {{type, state}}")

    model_state, opt_arrays, cb_arrays, order = {}, {}, {}, None
    for name, a in arrays.items():
        if name.startswith("model/"):
            model_state[name[len("model/"):]] = a
        elif name.startswith("optim/"):
            opt_arrays[name[len("optim/"):]] = a
        elif name == "order":
            order = a
        elif name.startswith("callbacks/"):
            idx, _, key = name[len("callbacks/"):].partition("/")
            if not idx.isdigit() or int(idx) >= len(cbs) or not key:
                raise ModelFileError(f"{path}: unexpected array {name!r}")
            cb_arrays.setdefault(int(idx), {})[key] = a
        else:
            raise ModelFileError(f"{path}: unexpected array {name!r}")
    if order is not None and (order.ndim != 1 or order.dtype != np.int64):
        raise ModelFileError(f"{path}: shuffle order must be a 1-d int64 array")
    callbacks = [
        {"type": c["type"], "state": c.get("state"), "arrays": cb_arrays.get(i, {})}
        for i, c in enumerate(cbs)
    ]
    return Checkpoint(
        path=path, position=position, model_config=model_config, model_state=model_state,
        optimizer_spec=opt_spec, optimizer_t=opt_t, schedule_state=schedule,
        optimizer_arrays=opt_arrays, rng_state=rng, order=order, history=history,
        history_epochs=[int(e) for e in epochs], data=data, callbacks=callbacks,
    )


def find_latest(folder) -> Checkpoint | None:
    """The newest checkpoint in ``folder`` that loads cleanly, or ``None`` if it has none.

    A newest file that is corrupted or truncated (a disk that lost data, a file
    edited by hand) is skipped with a warning and the one before it is used. If
    every checkpoint is unreadable that is an error, not a silent fresh start.
    """
    found = list_checkpoints(folder)
    problems = []
    for _, path in reversed(found):
        try:
            ckpt = load_checkpoint(path)
        except (ModelFileError, FileNotFoundError) as exc:
            # FileNotFoundError: pruned by another process between listing and reading.
            problems.append(str(exc))
            continue
        for problem in problems:
            warnings.warn(f"skipping unreadable checkpoint: {problem}", stacklevel=2)
        return ckpt
    if problems:
        raise ModelFileError(
            f"{folder}: no checkpoint could be read ({len(problems)} tried); newest problem: "
            f"{problems[0]}"
        )
    return None


# -- writing during fit -------------------------------------------------------------------
class CheckpointManager:
    """Writes ``ckpt-<step>.scn`` files into ``folder`` and keeps the newest ``keep``.

    ``every``: write every ``every`` optimiser steps (``None``: at each epoch's end).
    """

    def __init__(self, folder, every: int | None = None, keep: int = 3):
        if every is not None:
            every = _positive_int(every, "checkpoint_every")
        self.folder = Path(folder)
        self.every = every
        self.keep = _positive_int(keep, "keep_checkpoints")
        self.last_path: Path | None = None
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            blocker = next((p for p in (self.folder, *self.folder.parents) if p.is_file()),
                           self.folder)
            raise ConfigError(
                f"cannot create checkpoint folder {self.folder}: {blocker} is a file, not a folder"
            ) from None
        except OSError as exc:
            raise ConfigError(
                f"cannot create checkpoint folder {self.folder}: {exc.strerror or exc}"
            ) from None
        if not os.access(self.folder, os.W_OK | os.X_OK):
            raise ConfigError(f"checkpoint folder {self.folder} is not writable")

    def remove_temporary_files(self) -> list[Path]:
        """Delete temporary files left by a write that was killed (never a complete file)."""
        removed = []
        for entry in self.folder.iterdir():
            if _TEMP_RE.fullmatch(entry.name) and entry.is_file():
                with contextlib.suppress(FileNotFoundError):
                    entry.unlink()
                    removed.append(entry)
        return removed

    def due(self, step: int) -> bool:
        return self.every is not None and step % self.every == 0

    def save(self, model, position: Position, **kwargs) -> Path:
        """Write the checkpoint for ``position`` and prune old ones (after the write, so
        there is always at least one complete checkpoint on disk)."""
        path = self.folder / checkpoint_name(position.step)
        try:
            save_checkpoint(path, model, position, **kwargs)
        except PermissionError as exc:
            raise ConfigError(f"cannot write checkpoint {path}: permission denied") from exc
        except OSError as exc:
            raise ConfigError(f"cannot write checkpoint {path}: {exc.strerror or exc}") from exc
        self.last_path = path
        self.prune()
        return path

    def prune(self) -> None:
        found = list_checkpoints(self.folder)
        for _, path in found[: max(0, len(found) - self.keep)]:
            if path != self.last_path:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()


def data_fingerprint(X: np.ndarray, y: np.ndarray, batch_size: int, n_batches: int,
                     shuffle: bool, validation=None, augment: bool = False) -> dict:
    """Sizes, settings and CRC-32 checksums of the training data: resuming on other
    data (or another batch size, or with/without augmentation) would not continue the
    same run."""
    info = {
        "n": int(len(X)), "batch_size": int(batch_size), "n_batches": int(n_batches),
        "shuffle": bool(shuffle), "augment": bool(augment),
        "x": _array_fingerprint(X), "y": _array_fingerprint(y),
    }
    if validation is not None:
        info["validation"] = [_array_fingerprint(validation[0]), _array_fingerprint(validation[1])]
    return info


def restore_training(model, ckpt: Checkpoint, callbacks: Sequence[Callback], history: History,
                     data: dict) -> Position:
    """Put ``model`` (weights, optimiser, schedule, generator), ``history`` and
    ``callbacks`` back into the state saved in ``ckpt``; return the position.

    Raises ``ConfigError`` when the checkpoint belongs to a different model,
    optimiser, data set or set of callbacks, ``ModelFileError`` when its contents
    are inconsistent. Nothing is changed unless every check passes.
    """
    path = ckpt.path
    opt = model.optimizer
    mine = _jsonable(model.get_config())
    if ckpt.model_config != mine:
        raise ConfigError(
            f"checkpoint {path} was written by a different model: "
            f"{_describe_difference(ckpt.model_config, mine)}"
        )
    spec = _jsonable(opt.spec())
    if ckpt.optimizer_spec != spec:
        raise ConfigError(
            f"checkpoint {path} was written with a different optimiser: "
            f"{_describe_difference(ckpt.optimizer_spec, spec)}"
        )
    if ckpt.data != _jsonable(data):
        raise ConfigError(
            f"checkpoint {path} was written for different training data or settings: "
            f"{_describe_difference(ckpt.data, _jsonable(data))}; resume with the same data, "
            "batch size and shuffling, or start a new run"
        )
    saved_cbs = [c["type"] for c in ckpt.callbacks]
    given_cbs = [type(cb).__name__ for cb in callbacks]
    if saved_cbs != given_cbs:
        raise ConfigError(
            f"checkpoint {path} was written with callbacks {saved_cbs}, but fit was given "
            f"{given_cbs}; pass the same callbacks to resume"
        )

    # Everything below is validated before anything in the model changes.
    state = model.state_dict()
    _check_arrays(path, "model", ckpt.model_state,
                  {k: (a.shape, a.dtype) for k, a in state.items()})
    slots = {}
    for p in model.parameters():
        for slot in opt._init_state(p.value):
            if slot != "tmp":
                slots[f"{p.name}/{slot}"] = (p.value.shape, p.value.dtype)
    if ckpt.optimizer_arrays and set(ckpt.optimizer_arrays) != set(slots):
        raise ModelFileError(
            f"{path}: optimiser state arrays {sorted(ckpt.optimizer_arrays)} do not match the "
            f"model's parameters (expected {sorted(slots)})"
        )
    _check_arrays(path, "optimiser", ckpt.optimizer_arrays,
                  {k: slots[k] for k in ckpt.optimizer_arrays})
    n, n_batches = int(data["n"]), int(data["n_batches"])
    pos = ckpt.position
    if pos.batch > n_batches or (pos.batch > 0 and pos.finished):
        raise ModelFileError(f"{path}: position batch {pos.batch} of {n_batches} is impossible")
    order = ckpt.order
    if order is not None:
        if order.shape != (n,) or not np.array_equal(np.sort(order), np.arange(n)):
            raise ModelFileError(f"{path}: shuffle order is not a permutation of {n} samples")
    elif data["shuffle"] and n_batches > 1 and 0 < pos.batch < n_batches:
        raise ModelFileError(f"{path}: mid-epoch checkpoint of a shuffled run has no order")
    if data.get("augment") and 0 < pos.batch < n_batches and pos.epoch_rng is None:
        raise ModelFileError(f"{path}: mid-epoch checkpoint of an augmented run has no "
                             "generator state for the epoch's start")
    template = model.rng.bit_generator.state
    rng_state = _rng_from_json(path, ckpt.rng_state, template)
    if pos.epoch_rng is not None:
        pos.epoch_rng = _rng_from_json(path, pos.epoch_rng, template)
    restorers = [
        _callback_restorer(path, cb, entry)
        for cb, entry in zip(callbacks, ckpt.callbacks, strict=True)
    ]

    model.load_state_dict(ckpt.model_state)
    try:
        opt.load_state_dict({"t": ckpt.optimizer_t, "schedule": ckpt.schedule_state,
                             "arrays": ckpt.optimizer_arrays})
        model.rng.bit_generator.state = rng_state
    except (KeyError, ValueError, TypeError, OverflowError) as exc:
        raise ModelFileError(f"{path}: optimiser or generator state is invalid ({exc})") from None
    history.history = {k: list(v) for k, v in ckpt.history.items()}
    history.epochs = list(ckpt.history_epochs)
    for restore in restorers:
        restore()
    return pos


# -- the command line -----------------------------------------------------------------------
def add_checkpoint_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--checkpoint-every N``, ``--keep-checkpoints K`` and ``--resume [PATH]``.

    In a command::

        add_checkpoint_arguments(parser)                      # in register()
        ...
        run_dir = resume_run_dir(args, "mnist") or args.out or default_run_dir("mnist")
        model.fit(X, y, ..., **checkpoint_kwargs(args, run_dir))

    ``scratchnet mnist --checkpoint-every 500`` then writes ``RUN_DIR/checkpoints``;
    after a crash, ``scratchnet mnist --resume`` (same other flags) continues the newest
    run of the command exactly where its last checkpoint left it.
    """
    group = parser.add_argument_group("checkpoints")
    group.add_argument(
        "--checkpoint-every", type=_positive_int_arg, default=None, metavar="N",
        help="save a checkpoint every N optimiser steps (and when training ends) into "
             "RUN_DIR/checkpoints; a killed run can then be resumed exactly",
    )
    group.add_argument(
        "--keep-checkpoints", type=_positive_int_arg, default=3, metavar="K",
        help="how many of the newest checkpoints to keep (default 3)",
    )
    group.add_argument(
        "--resume", nargs="?", const=True, default=None, metavar="PATH",
        help="continue an interrupted run from its newest checkpoint. PATH is the run "
             "folder, its checkpoints folder or one checkpoint file; without PATH: the "
             "folder given by --out, else the newest run of this command",
    )


def resume_run_dir(args: argparse.Namespace, command: str, root="runs") -> Path | None:
    """The run folder a ``--resume`` continues in (``None`` without ``--resume``).

    Commands use it as their run folder so the resumed run's report and files land
    beside the interrupted run's.
    """
    resume = getattr(args, "resume", None)
    if not resume:
        return None
    if resume is True:
        out = getattr(args, "out", None)
        if out:
            return Path(out)
        runs = [
            d for d in Path(root).glob(f"{command}-*")
            if d.is_dir() and list_checkpoints(d / "checkpoints")
        ]
        if not runs:
            raise ConfigError(
                f"--resume: no run of '{command}' with checkpoints under {root}/; give the run "
                f"folder (--resume {root}/{command}-...) or train with --checkpoint-every N first"
            )
        return max(runs, key=lambda d: d.stat().st_mtime)
    path = Path(resume)
    if not path.exists():
        raise ConfigError(f"--resume: {path} does not exist")
    if path.is_file():
        folder = path.parent
        return folder.parent if folder.name == "checkpoints" else folder
    if path.name == "checkpoints" and not (path / "checkpoints").is_dir():
        return path.parent
    return path


def checkpoint_kwargs(args: argparse.Namespace, run_dir) -> dict[str, Any]:
    """Keyword arguments for ``fit`` from the parsed flags: checkpoints go to
    ``run_dir/checkpoints`` (``{}`` when neither flag was given)."""
    every = getattr(args, "checkpoint_every", None)
    resume = getattr(args, "resume", None)
    if every is None and not resume:
        return {}
    folder = Path(run_dir) / "checkpoints"
    target: bool | Path = False
    if resume:
        target = True
        if resume is not True and Path(resume).is_file():
            target = Path(resume)
            folder = target.parent
    return {
        "checkpoint_dir": folder,
        "checkpoint_every": every,
        "keep_checkpoints": getattr(args, "keep_checkpoints", 3),
        "resume": target,
    }


# -- helpers ---------------------------------------------------------------------------------
def _positive_int(value, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ConfigError(f"{what} must be a positive integer, got {value!r}")
    return int(value)


def _positive_int_arg(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _is_int(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _is_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


class _Validator:
    """Typed field access on header dicts; every failure names the file and the field."""

    def __init__(self, path: Path):
        self.path = path

    def _get(self, d: dict, key: str, where: str | None):
        if key not in d:
            raise ModelFileError(f"{self.path}: checkpoint lacks {self._name(key, where)}")
        return d[key]

    @staticmethod
    def _name(key, where):
        return f"{where}.{key}" if where else key

    def dict(self, d, key, where=None) -> dict:
        val = self._get(d, key, where)
        if not isinstance(val, dict):
            raise ModelFileError(f"{self.path}: {self._name(key, where)} must be an object")
        return val

    def int(self, d, key, lo, hi, where=None) -> int:
        val = self._get(d, key, where)
        if not _is_int(val) or not lo <= val <= hi:
            raise ModelFileError(
                f"{self.path}: {self._name(key, where)} must be an integer in [{lo}, {hi}], "
                f"got {val!r:.80}"
            )
        return val

    def float(self, d, key, where=None) -> float:
        val = self._get(d, key, where)
        if not _is_number(val):
            raise ModelFileError(f"{self.path}: {self._name(key, where)} must be a number")
        if isinstance(val, int) and abs(val) > _MAX_FLOAT:
            raise ModelFileError(f"{self.path}: {self._name(key, where)} is out of range")
        return float(val)

    def bool(self, d, key, where=None) -> bool:
        val = self._get(d, key, where)
        if not isinstance(val, bool):
            raise ModelFileError(f"{self.path}: {self._name(key, where)} must be true or false")
        return val


def _jsonable(obj):
    """The value as it reads back from JSON (tuples become lists, numpy scalars numbers),
    so a saved config can be compared with a live one."""
    return json.loads(json.dumps(obj, default=_json_default, allow_nan=True))


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON-serialisable")


def _describe_difference(saved, current, where: str = "") -> str:
    """The first place two JSON values differ, e.g. ``layers[0].config.n_out: 16 != 32``."""
    if isinstance(saved, dict) and isinstance(current, dict):
        # In the live value's order (x before y before validation), then the file's extras.
        for k in [*current, *(k for k in saved if k not in current)]:
            if saved.get(k, "<absent>") != current.get(k, "<absent>"):
                return _describe_difference(saved.get(k, "<absent>"), current.get(k, "<absent>"),
                                            f"{where}.{k}" if where else str(k))
    if isinstance(saved, list) and isinstance(current, list):
        if len(saved) != len(current):
            return f"{where or 'value'}: {len(saved)} entries in the checkpoint, {len(current)} now"
        for i, (a, b) in enumerate(zip(saved, current, strict=True)):
            if a != b:
                return _describe_difference(a, b, f"{where}[{i}]")
    return f"{where or 'value'}: {saved!r:.100} in the checkpoint, {current!r:.100} now"


def _array_fingerprint(a) -> dict:
    a = np.ascontiguousarray(a)
    return {
        "shape": list(a.shape), "dtype": a.dtype.name,
        "crc32": zlib.crc32(memoryview(a).cast("B")) if a.size else 0,
    }


def _check_arrays(path, what, arrays: dict[str, np.ndarray], expected: dict) -> None:
    if set(arrays) != set(expected):
        raise ModelFileError(
            f"{path}: {what} arrays {sorted(arrays)} do not match the expected {sorted(expected)}"
        )
    for k, a in arrays.items():
        shape, dtype = expected[k]
        if a.shape != tuple(shape) or a.dtype != dtype:
            raise ModelFileError(
                f"{path}: {what} array {k!r} is {a.dtype} {a.shape}, expected {dtype} "
                f"{tuple(shape)}"
            )
        if a.dtype.kind == "f" and not np.all(np.isfinite(a)):
            raise ModelFileError(f"{path}: {what} array {k!r} contains NaN or inf")


def _rng_to_json(state):
    """A bit generator's state as JSON (its arrays, e.g. MT19937's key, as lists)."""
    if isinstance(state, dict):
        return {k: _rng_to_json(v) for k, v in state.items()}
    if isinstance(state, np.ndarray):
        return state.tolist()
    if isinstance(state, np.generic):
        return state.item()
    return state


def _rng_from_json(path, saved, template, depth: int = 0):
    """Rebuild a generator state from ``saved`` using the model's current state as the
    template: same keys, same bit-generator name, ints where ints, arrays of the same
    dtype and length. The name in the file is only compared, never looked up."""
    where = f"{path}: random generator state"
    if depth > 4:
        raise ModelFileError(f"{where} is nested too deeply")
    if isinstance(template, dict):
        if not isinstance(saved, dict) or set(saved) != set(template):
            got = sorted(saved) if isinstance(saved, dict) else type(saved).__name__
            raise ModelFileError(f"{where} has fields {got}, expected {sorted(template)}")
        return {k: _rng_from_json(path, saved[k], template[k], depth + 1) for k in template}
    if isinstance(template, str):
        if saved != template:
            raise ModelFileError(
                f"{where} is for bit generator {saved!r:.40}, but the model uses {template!r}"
            )
        return saved
    if isinstance(template, np.ndarray):
        if (not isinstance(saved, list) or len(saved) != template.size
                or not all(_is_int(x) and 0 <= x < 2**64 for x in saved)):
            raise ModelFileError(f"{where} has an invalid array field")
        try:
            return np.array(saved, dtype=template.dtype).reshape(template.shape)
        except (OverflowError, ValueError):
            raise ModelFileError(f"{where} has an out-of-range array field") from None
    if _is_int(template):
        if not _is_int(saved) or not 0 <= saved < 2**128:
            raise ModelFileError(f"{where} has an invalid integer field ({saved!r:.60})")
        return saved
    raise ModelFileError(f"{where}: unsupported field type {type(template).__name__}")


def _callback_state(cb: Callback) -> tuple[dict | None, dict[str, np.ndarray]]:
    """(JSON state, arrays) of a callback whose state matters when training resumes."""
    if isinstance(cb, EarlyStopping):
        best_state = getattr(cb, "best_state", None)
        state = {
            "best": float(getattr(cb, "best", math.inf)), "wait": int(getattr(cb, "wait", 0)),
            "best_epoch": cb.best_epoch, "stopped_epoch": cb.stopped_epoch,
            "has_best_state": best_state is not None,
        }
        return state, dict(best_state or {})
    if isinstance(cb, ModelCheckpoint):
        return {"best": float(cb.best), "saved": [str(p) for p in cb.saved]}, {}
    get, put = getattr(cb, "state_dict", None), getattr(cb, "load_state_dict", None)
    if callable(get) and callable(put):
        raw = get()
        arrays = {k: v for k, v in raw.items() if isinstance(v, np.ndarray)}
        return _jsonable({k: v for k, v in raw.items() if k not in arrays}), arrays
    return None, {}


def _callback_restorer(path, cb: Callback, entry: dict):
    """Validate a saved callback state now; return a function that applies it."""
    state, arrays = entry.get("state"), entry.get("arrays", {})
    if isinstance(cb, EarlyStopping):
        v = _Validator(path)
        s = state if isinstance(state, dict) else {}
        best = v.float(s, "best", "EarlyStopping")
        wait = v.int(s, "wait", 0, _MAX_INT, "EarlyStopping")
        best_epoch, stopped = s.get("best_epoch"), s.get("stopped_epoch")
        for val in (best_epoch, stopped):
            if val is not None and not (_is_int(val) and val >= 0):
                raise ModelFileError(f"{path}: EarlyStopping state has an invalid epoch")
        has_best = v.bool(s, "has_best_state", "EarlyStopping")
        if has_best:
            model_state = cb.model.state_dict()
            _check_arrays(path, "EarlyStopping best weights", arrays,
                          {k: (a.shape, a.dtype) for k, a in model_state.items()})
        elif arrays:
            raise ModelFileError(f"{path}: EarlyStopping state has unexpected arrays")

        def restore():
            cb.best, cb.wait, cb.best_epoch, cb.stopped_epoch = best, wait, best_epoch, stopped
            cb.best_state = {k: a.copy() for k, a in arrays.items()} if has_best else None

        return restore
    if isinstance(cb, ModelCheckpoint):
        v = _Validator(path)
        s = state if isinstance(state, dict) else {}
        best = v.float(s, "best", "ModelCheckpoint")
        saved = s.get("saved", [])
        if not isinstance(saved, list) or not all(isinstance(x, str) for x in saved):
            raise ModelFileError(f"{path}: ModelCheckpoint state has an invalid file list")

        def restore():
            cb.best, cb.saved = best, [Path(x) for x in saved]

        return restore
    put = getattr(cb, "load_state_dict", None)
    if callable(put) and callable(getattr(cb, "state_dict", None)):
        if not isinstance(state, dict):
            raise ModelFileError(f"{path}: callback {type(cb).__name__} has no saved state")

        def restore():
            try:
                put({**state, **arrays})
            except ScratchnetError:
                raise
            except (KeyError, ValueError, TypeError) as exc:
                raise ModelFileError(
                    f"{path}: callback {type(cb).__name__} cannot take the saved state ({exc})"
                ) from None

        return restore
    return lambda: None
