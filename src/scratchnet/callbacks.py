"""Callbacks: code that ``Sequential.fit`` calls at fixed points of training.

The points, in order::

    on_train_begin
      on_epoch_begin(epoch)
        on_batch_begin(step)
        on_after_backward(step)   # gradients are filled, weights not yet updated
        on_batch_end(step, logs)  # weights updated; logs has the batch loss
      on_epoch_end(epoch, logs)   # logs: loss, metrics, val_*, lr
    on_train_end(logs)

``on_after_backward`` is the hook the insight recorders use to read gradients.
A callback may set ``model.stop_training = True`` to end training after the epoch.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .errors import ConfigError


class Callback:
    """Base class: override the points you need."""

    model = None

    def set_model(self, model) -> None:
        self.model = model

    def on_train_begin(self, logs: dict | None = None) -> None: ...

    def on_epoch_begin(self, epoch: int) -> None: ...

    def on_batch_begin(self, step: int) -> None: ...

    def on_after_backward(self, step: int) -> None: ...

    def on_batch_end(self, step: int, logs: dict) -> None: ...

    def on_epoch_end(self, epoch: int, logs: dict) -> None: ...

    def on_train_end(self, logs: dict | None = None) -> None: ...


class LambdaCallback(Callback):
    """Wrap plain functions, e.g. ``LambdaCallback(on_epoch_end=lambda e, logs: print(e))``."""

    def __init__(self, **hooks):
        unknown = set(hooks) - {n for n in dir(Callback) if n.startswith("on_")}
        if unknown:
            raise ConfigError(f"unknown callback hooks {sorted(unknown)}")
        for name, fn in hooks.items():
            setattr(self, name, fn)


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs.

    With ``restore_best_weights`` the model ends with the weights of its best epoch.
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        patience: int = 5,
        min_delta: float = 0.0,
        mode: str = "auto",
        restore_best_weights: bool = True,
    ):
        if patience < 0:
            raise ConfigError(f"patience must be >= 0, got {patience!r}")
        if mode == "auto":
            mode = "max" if "acc" in monitor else "min"
        if mode not in ("min", "max"):
            raise ConfigError(f"mode must be 'min', 'max' or 'auto', got {mode!r}")
        self.monitor, self.patience, self.min_delta = monitor, patience, abs(min_delta)
        self.mode, self.restore_best_weights = mode, restore_best_weights
        self.best_epoch = None
        self.stopped_epoch = None

    def on_train_begin(self, logs=None):
        self.best = math.inf if self.mode == "min" else -math.inf
        self.wait = 0
        self.best_state = None

    def _improved(self, value):
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def on_epoch_end(self, epoch, logs):
        if self.monitor not in logs:
            raise ConfigError(
                f"EarlyStopping monitors {self.monitor!r}, which is not among the logged "
                f"values {sorted(logs)}"
            )
        value = logs[self.monitor]
        if self._improved(value):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best_weights:
                self.best_state = self.model.state_dict()
            return
        self.wait += 1
        if self.wait > self.patience:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.restore_best_weights and self.best_state is not None:
            self.model.load_state_dict(self.best_state)


class ModelCheckpoint(Callback):
    """Save the model (atomically) at the end of epochs: every epoch, or only when
    ``monitor`` improves (``save_best_only``). ``path`` may contain ``{epoch}``."""

    def __init__(
        self, path, monitor: str = "val_loss", save_best_only: bool = False, mode: str = "auto"
    ):
        self.path = str(path)
        self.monitor, self.save_best_only = monitor, save_best_only
        if mode == "auto":
            mode = "max" if "acc" in monitor else "min"
        self.mode = mode
        self.best = math.inf if mode == "min" else -math.inf
        self.saved: list[Path] = []

    def on_epoch_end(self, epoch, logs):
        if self.save_best_only:
            value = logs.get(self.monitor)
            if value is None:
                raise ConfigError(
                    f"ModelCheckpoint monitors {self.monitor!r}, not among {sorted(logs)}"
                )
            better = value < self.best if self.mode == "min" else value > self.best
            if not better:
                return
            self.best = value
        path = Path(self.path.format(epoch=epoch + 1))
        self.model.save(path)
        self.saved.append(path)


class History(Callback):
    """Collects the per-epoch logs; ``fit`` returns it. ``history["loss"]`` is a list."""

    def __init__(self):
        self.history: dict[str, list[float]] = {}
        self.epochs: list[int] = []

    def on_epoch_end(self, epoch, logs):
        self.epochs.append(epoch)
        for k, v in logs.items():
            self.history.setdefault(k, []).append(float(v))

    def __getitem__(self, key):
        return self.history[key]

    def __contains__(self, key):
        return key in self.history

    def keys(self):
        return self.history.keys()

    def as_arrays(self) -> dict[str, np.ndarray]:
        return {k: np.asarray(v) for k, v in self.history.items()}

    def __repr__(self):
        last = {k: round(v[-1], 6) for k, v in self.history.items() if v}
        return f"History(epochs={len(self.epochs)}, last={last})"
