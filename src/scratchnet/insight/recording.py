"""``Recording``: what a :class:`~scratchnet.insight.recorder.Recorder` saw, as arrays.

Plots read a Recording; they never train. A Recording saves to two files side by
side, with no pickle anywhere:

* ``NAME.npz``: the numeric arrays (``np.savez``; load with ``allow_pickle=False``);
* ``NAME.json``: what the arrays mean: the layers, the settings, and every array's
  shape and dtype (checked on load).

Arrays (``R`` records, ``L`` weight layers, ``A`` activation layers, ``B`` bins,
``S`` optimiser steps, ``E`` epochs)::

    record_step (R,) int64       optimiser step of each record (0 = first update)
    record_epoch (R,) int64      epoch of each record (counted over all fit calls)
    record_loss (R,)             batch loss at that step
    grad_norm (R, L)             ||dW||, Frobenius norm of the weight gradient
    grad_mean_abs (R, L)         mean |dW|
    update_ratio (R, L)          ||W_after - W_before|| / ||W_before|| of that step
    weight_mean, weight_std, weight_norm (R, L)
    weight_hist (R, L, B) int32  histogram counts of W, B equal bins over ...
    weight_range (R, L, 2)       ... [first edge, last edge] (``rec.weight_edges``: all edges)
    act_mean, act_std (R, A)     of each activation layer's output on the batch
    act_zero (R, A)              share of outputs exactly 0 (a ReLU's inactive outputs)
    act_saturation (R, A)        share of saturated outputs (sigmoid/tanh; NaN otherwise)
    act_dead (R, A)              share of dead units (ReLU; NaN otherwise)
    act_hist (R, A, B) int32, act_range (R, A, 2)   as for the weights
    step, step_loss, step_lr (S,)  every optimiser step: index, batch loss, learning rate
    epoch_<key> (E,)             per-epoch logs: epoch_loss, epoch_accuracy, epoch_lr, ...
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ..errors import ConfigError, FileFormatError
from ..fileio import atomic_write_text, atomic_writer

FORMAT_NAME = "scratchnet-recording"
FORMAT_VERSION = 1


class Recording:
    """Recorded training statistics: ``meta`` (JSON-able description) and ``arrays``.

    Attribute access reads arrays: ``rec.grad_mean_abs`` is ``rec.arrays["grad_mean_abs"]``.
    """

    RECORD_KEYS: ClassVar[tuple[str, ...]] = (
        "record_step", "record_epoch", "record_loss",
        "grad_norm", "grad_mean_abs", "update_ratio",
        "weight_mean", "weight_std", "weight_norm", "weight_hist", "weight_range",
        "act_mean", "act_std", "act_zero", "act_saturation", "act_dead", "act_hist", "act_range",
    )
    STEP_KEYS: ClassVar[tuple[str, ...]] = ("step", "step_loss", "step_lr")
    DTYPES: ClassVar[dict[str, type]] = {
        "record_step": np.int64, "record_epoch": np.int64, "weight_hist": np.int32,
        "act_hist": np.int32, "step": np.int64,
    }

    @staticmethod
    def record_shapes(L: int, A: int, B: int) -> dict[str, tuple[int, ...]]:
        """Shape of one record of each per-record array (without the leading ``R``)."""
        return {
            "record_step": (), "record_epoch": (), "record_loss": (),
            "grad_norm": (L,), "grad_mean_abs": (L,), "update_ratio": (L,),
            "weight_mean": (L,), "weight_std": (L,), "weight_norm": (L,),
            "weight_hist": (L, B), "weight_range": (L, 2),
            "act_mean": (A,), "act_std": (A,), "act_zero": (A,), "act_saturation": (A,),
            "act_dead": (A,), "act_hist": (A, B), "act_range": (A, 2),
        }

    def __init__(self, meta: dict[str, Any], arrays: dict[str, np.ndarray]):
        self.meta = meta
        self.arrays = arrays
        self._check(where="Recording")

    # -- convenient views ---------------------------------------------------------------
    def __getattr__(self, name: str) -> np.ndarray:
        arrays = self.__dict__.get("arrays", {})
        if name in arrays:
            return arrays[name]
        raise AttributeError(f"Recording has no array or attribute {name!r}")

    @property
    def weight_layers(self) -> list[dict]:
        return self.meta["weight_layers"]

    @property
    def activation_layers(self) -> list[dict]:
        return self.meta["activation_layers"]

    @property
    def weight_labels(self) -> list[str]:
        return [w["label"] for w in self.weight_layers]

    @property
    def activation_labels(self) -> list[str]:
        return [a["label"] for a in self.activation_layers]

    @staticmethod
    def _edges(ranges: np.ndarray, bins: int) -> np.ndarray:
        fractions = np.arange(bins + 1, dtype=np.float64) / bins
        lo, hi = ranges[..., :1], ranges[..., 1:]
        return lo + (hi - lo) * fractions

    @property
    def weight_edges(self) -> np.ndarray:
        """``(R, L, B + 1)`` bin edges of ``weight_hist``."""
        return self._edges(self.arrays["weight_range"], self.arrays["weight_hist"].shape[-1])

    @property
    def act_edges(self) -> np.ndarray:
        """``(R, A, B + 1)`` bin edges of ``act_hist`` (NaN where nothing was recorded)."""
        return self._edges(self.arrays["act_range"], self.arrays["act_hist"].shape[-1])

    @property
    def n_records(self) -> int:
        return int(self.arrays["record_step"].shape[0])

    def epoch(self, key: str) -> np.ndarray:
        """Per-epoch log ``key`` (``"loss"``, ``"accuracy"``, ``"lr"``, ``"val_loss"`` ...)."""
        name = f"epoch_{key}"
        if name not in self.arrays:
            raise ConfigError(
                f"no per-epoch {key!r} recorded; available: {', '.join(self.meta['epoch_keys'])}"
            )
        return self.arrays[name]

    def record_index(self, where: str | int) -> int:
        """Index of a record: ``"start"`` (first), ``"middle"``, ``"end"`` (last) or an int."""
        n = self.n_records
        if n == 0:
            raise ConfigError("the recording holds no records (was fit run with the Recorder?)")
        if isinstance(where, str):
            table = {"start": 0, "middle": (n - 1) // 2, "end": n - 1}
            if where not in table:
                raise ConfigError(f"record position must be 'start', 'middle', 'end' or an int, "
                                  f"got {where!r}")
            return table[where]
        if isinstance(where, bool) or not isinstance(where, int | np.integer) \
                or not -n <= where < n:
            raise ConfigError(f"record index must be in [-{n}, {n}), got {where!r}")
        return int(where) % n

    def first_last_ratio(self, early_fraction: float = 0.1) -> float:
        """Mean |dW| of the first weight layer divided by that of the last one, early in
        training: the geometric mean over the records in the first ``early_fraction`` of
        the recorded steps (at least the first record). Far below 1: gradients vanish on
        their way back to the input."""
        if not 0 < early_fraction <= 1:
            raise ConfigError(f"early_fraction must be in (0, 1], got {early_fraction!r}")
        g = self.arrays["grad_mean_abs"]
        if g.shape[0] == 0 or g.shape[1] < 2:
            raise ConfigError("first_last_ratio needs records of at least two weight layers")
        steps = self.arrays["record_step"]
        cutoff = steps[0] + early_fraction * (max(int(steps[-1]), int(steps[0]) + 1) - steps[0])
        early = g[steps <= cutoff]
        with np.errstate(divide="ignore", invalid="ignore"):
            ratios = early[:, 0] / early[:, -1]
            # Records where the last layer had no gradient say nothing; a first layer
            # without gradient gives ratio 0, and then the geometric mean is 0 too.
            ratios = ratios[np.isfinite(ratios)]
            if ratios.size == 0:
                return float("nan")
            return float(np.exp(np.mean(np.log(ratios))))

    def __repr__(self) -> str:
        return (f"Recording({self.n_records} records, {len(self.weight_layers)} weight layers, "
                f"{len(self.activation_layers)} activation layers, "
                f"{self.arrays['step'].shape[0]} steps)")

    # -- files ----------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> tuple[Path, Path]:
        """Write ``path`` (``.npz``, the arrays) and the sidecar ``path`` with ``.json``
        (the description), both atomically. Returns the two paths."""
        npz = Path(path)
        if npz.suffix != ".npz":
            raise ConfigError(f"Recording.save: {npz} must end in .npz")
        sidecar = npz.with_suffix(".json")
        header = {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "arrays_file": npz.name,
            **self.meta,
            "arrays": {k: {"shape": list(v.shape), "dtype": v.dtype.name}
                       for k, v in self.arrays.items()},
        }
        with atomic_writer(npz) as fh:
            np.savez_compressed(fh, **self.arrays)
        atomic_write_text(sidecar, json.dumps(header, indent=1, ensure_ascii=False) + "\n")
        return npz, sidecar

    @classmethod
    def load(cls, path: str | os.PathLike) -> Recording:
        """Read a recording saved by :meth:`save` (give the ``.npz`` or the ``.json`` path).

        Nothing is unpickled: arrays are read with ``allow_pickle=False`` and must be
        exactly the ones the JSON declares, with the declared shape and dtype.

        Raises:
            FileFormatError: a file is missing, not what it should be, or the two
                files disagree. The message names the file.
        """
        p = Path(path)
        sidecar = p.with_suffix(".json")
        npz = p.with_suffix(".npz")
        try:
            header = json.loads(sidecar.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise FileFormatError(f"{sidecar}: not found (a recording is NAME.npz + NAME.json)") \
                from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise FileFormatError(f"{sidecar}: not a readable JSON file ({exc})") from None
        if not isinstance(header, dict) or header.get("format") != FORMAT_NAME:
            raise FileFormatError(f"{sidecar}: not a scratchnet recording description "
                                  f"(expected \"format\": \"{FORMAT_NAME}\")")
        version = header.get("format_version")
        if not isinstance(version, int) or not 1 <= version <= FORMAT_VERSION:
            raise FileFormatError(f"{sidecar}: unsupported format_version {version!r} "
                                  f"(this scratchnet reads 1..{FORMAT_VERSION})")
        declared = header.get("arrays")
        if not isinstance(declared, dict):
            raise FileFormatError(f"{sidecar}: missing the \"arrays\" declaration")
        arrays: dict[str, np.ndarray] = {}
        try:
            with np.load(npz, allow_pickle=False) as data:
                names = set(data.files)
                if names != set(declared):
                    raise FileFormatError(
                        f"{npz}: holds arrays {sorted(names)}, but {sidecar.name} declares "
                        f"{sorted(declared)}"
                    )
                for name, spec in declared.items():
                    a = data[name]
                    if list(a.shape) != spec.get("shape") or a.dtype.name != spec.get("dtype"):
                        raise FileFormatError(
                            f"{npz}: array {name!r} has shape {a.shape} and dtype {a.dtype}, "
                            f"but {sidecar.name} declares {spec}"
                        )
                    if a.dtype.kind not in "fiu":
                        raise FileFormatError(f"{npz}: array {name!r} is not numeric ({a.dtype})")
                    arrays[name] = a
        except FileNotFoundError:
            raise FileFormatError(f"{npz}: not found (a recording is NAME.npz + NAME.json)") \
                from None
        except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
            if isinstance(exc, FileFormatError):
                raise
            raise FileFormatError(f"{npz}: not a readable .npz archive of numeric arrays "
                                  f"({exc})") from None
        meta = {k: header.get(k) for k in ("weight_layers", "activation_layers", "epoch_keys",
                                           "settings")}
        try:
            return cls(meta, arrays)
        except ConfigError as exc:
            raise FileFormatError(f"{npz}: {exc}") from None

    # -- consistency -------------------------------------------------------------------------------
    def _check(self, where: str) -> None:
        meta, arrays = self.meta, self.arrays
        for key in ("weight_layers", "activation_layers", "epoch_keys"):
            if not isinstance(meta.get(key), list):
                raise ConfigError(f"{where}: meta[{key!r}] must be a list")
        if not isinstance(meta.get("settings"), dict):
            raise ConfigError(f"{where}: meta['settings'] must be an object")
        for i, layer in enumerate(meta["weight_layers"] + meta["activation_layers"]):
            if not isinstance(layer, dict) or not isinstance(layer.get("label"), str) \
                    or not isinstance(layer.get("index"), int):
                raise ConfigError(f"{where}: layer description {i} needs 'index' and 'label'")
        L, A = len(meta["weight_layers"]), len(meta["activation_layers"])
        bins = meta["settings"].get("bins")
        if not isinstance(bins, int) or bins < 1:
            raise ConfigError(f"{where}: settings['bins'] must be a positive integer")
        needed = (*self.RECORD_KEYS, *self.STEP_KEYS,
                  *(f"epoch_{k}" for k in meta["epoch_keys"]))
        missing = [k for k in needed if k not in arrays]
        if missing:
            raise ConfigError(f"{where}: missing arrays {missing}")
        R = arrays["record_step"].shape[0] if arrays["record_step"].ndim == 1 else -1
        for key, shape in self.record_shapes(L, A, bins).items():
            if arrays[key].shape != (R, *shape):
                raise ConfigError(
                    f"{where}: array {key!r} has shape {arrays[key].shape}, expected {(R, *shape)}"
                )
        S = arrays["step"].shape
        for key in self.STEP_KEYS:
            if arrays[key].ndim != 1 or arrays[key].shape != S:
                raise ConfigError(f"{where}: per-step arrays must be 1-D of equal length")
        E = {arrays[f"epoch_{k}"].shape for k in meta["epoch_keys"]}
        if len(E) > 1 or any(len(s) != 1 for s in E):
            raise ConfigError(f"{where}: per-epoch arrays must be 1-D of equal length")
