"""Learning-rate schedules: objects that give the learning rate at each optimiser step.

A schedule is called with the step number (0 for the first update) and returns the
rate; pass one as an optimiser's ``lr`` (``Adam(lr=CosineWarmup(1e-3, total_steps=1000))``).
``schedule.values(n)`` gives the first ``n`` rates for plotting.
``ReduceOnPlateau`` also listens to a monitored value (``observe(loss)``), which
``Sequential.fit`` calls at the end of every epoch.
"""

from __future__ import annotations

import math

import numpy as np

from .errors import ConfigError


def _positive(value, what):
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ConfigError(f"{what} must be a finite number > 0, got {value!r}")
    return float(value)


class Schedule:
    """Base class: ``__call__(step) -> lr``."""

    name = "schedule"

    def __init__(self, lr: float):
        self.base_lr = _positive(lr, "learning rate")

    def __call__(self, step: int) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def values(self, n_steps: int) -> np.ndarray:
        return np.array([self(t) for t in range(n_steps)], dtype=np.float64)

    def observe(self, value: float) -> None:
        """Told the monitored value at the end of each epoch (only some schedules care)."""

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass

    def spec(self) -> dict:
        return {"name": self.name, "lr": self.base_lr}


class Constant(Schedule):
    """The same rate at every step."""

    name = "constant"

    def __call__(self, step):
        return self.base_lr


class StepDecay(Schedule):
    """Multiply the rate by ``gamma`` every ``step_size`` steps:
    ``lr * gamma**(t // step_size)``."""

    name = "step"

    def __init__(self, lr, step_size: int, gamma: float = 0.1):
        super().__init__(lr)
        if not isinstance(step_size, int) or step_size <= 0:
            raise ConfigError(f"step_size must be a positive integer, got {step_size!r}")
        self.step_size = step_size
        self.gamma = _positive(gamma, "gamma")

    def __call__(self, step):
        return self.base_lr * self.gamma ** (step // self.step_size)

    def spec(self):
        return {**super().spec(), "step_size": self.step_size, "gamma": self.gamma}


class Exponential(Schedule):
    """Smooth decay ``lr * gamma**t``."""

    name = "exponential"

    def __init__(self, lr, gamma: float):
        super().__init__(lr)
        self.gamma = _positive(gamma, "gamma")

    def __call__(self, step):
        return self.base_lr * self.gamma**step

    def spec(self):
        return {**super().spec(), "gamma": self.gamma}


class CosineWarmup(Schedule):
    """Linear warm-up from 0 to ``lr`` over ``warmup_steps``, then a half cosine down to
    ``min_lr`` at ``total_steps`` (held there afterwards)::

        t < w:  lr * (t + 1) / w
        t >= w: min_lr + (lr - min_lr) * (1 + cos(pi * (t - w) / (T - w))) / 2
    """

    name = "cosine"

    def __init__(self, lr, total_steps: int, warmup_steps: int = 0, min_lr: float = 0.0):
        super().__init__(lr)
        if not isinstance(total_steps, int) or total_steps <= 0:
            raise ConfigError(f"total_steps must be a positive integer, got {total_steps!r}")
        if not isinstance(warmup_steps, int) or not 0 <= warmup_steps < total_steps:
            raise ConfigError(
                f"warmup_steps must be an integer in [0, total_steps), got {warmup_steps!r}"
            )
        if not 0 <= min_lr <= lr:
            raise ConfigError(f"min_lr must be in [0, lr], got {min_lr!r}")
        self.total_steps, self.warmup_steps, self.min_lr = total_steps, warmup_steps, float(min_lr)

    def __call__(self, step):
        w, T = self.warmup_steps, self.total_steps
        if step < w:
            return self.base_lr * (step + 1) / w
        progress = min(1.0, (step - w) / max(1, T - w))
        return self.min_lr + (self.base_lr - self.min_lr) * 0.5 * (
            1.0 + math.cos(math.pi * progress)
        )

    def spec(self):
        return {
            **super().spec(),
            "total_steps": self.total_steps,
            "warmup_steps": self.warmup_steps,
            "min_lr": self.min_lr,
        }


class ReduceOnPlateau(Schedule):
    """Multiply the rate by ``factor`` when the monitored value (the epoch's loss by
    default) has not improved by ``threshold`` (relative) for ``patience`` epochs."""

    name = "plateau"

    def __init__(
        self,
        lr,
        factor: float = 0.5,
        patience: int = 5,
        threshold: float = 1e-4,
        min_lr: float = 0.0,
    ):
        super().__init__(lr)
        if not 0 < factor < 1:
            raise ConfigError(f"factor must be in (0, 1), got {factor!r}")
        if not isinstance(patience, int) or patience < 0:
            raise ConfigError(f"patience must be an integer >= 0, got {patience!r}")
        self.factor, self.patience = float(factor), patience
        self.threshold, self.min_lr = float(threshold), float(min_lr)
        self.current = self.base_lr
        self.best = math.inf
        self.bad_epochs = 0

    def __call__(self, step):
        return self.current

    def observe(self, value):
        if value < self.best * (1.0 - self.threshold):
            self.best, self.bad_epochs = float(value), 0
            return
        self.bad_epochs += 1
        if self.bad_epochs > self.patience:
            self.current = max(self.min_lr, self.current * self.factor)
            self.bad_epochs = 0

    def values(self, n_steps):
        return np.full(n_steps, self.current, dtype=np.float64)

    def state_dict(self):
        return {"current": self.current, "best": self.best, "bad_epochs": self.bad_epochs}

    def load_state_dict(self, state):
        self.current = float(state["current"])
        self.best = float(state["best"])
        self.bad_epochs = int(state["bad_epochs"])

    def spec(self):
        return {
            **super().spec(),
            "factor": self.factor,
            "patience": self.patience,
            "threshold": self.threshold,
            "min_lr": self.min_lr,
        }


SCHEDULES: dict[str, type[Schedule]] = {
    "constant": Constant,
    "step": StepDecay,
    "exponential": Exponential,
    "cosine": CosineWarmup,
    "plateau": ReduceOnPlateau,
}


def get_schedule(spec) -> Schedule:
    """A schedule from a number (constant), a dict ``{"name": ..., "lr": ..., ...}`` or itself."""
    if isinstance(spec, Schedule):
        return spec
    if isinstance(spec, dict):
        kwargs = dict(spec)
        name = str(kwargs.pop("name", ""))
        if name not in SCHEDULES:
            raise ConfigError(f"unknown schedule {name!r}; expected one of {sorted(SCHEDULES)}")
        return SCHEDULES[name](**kwargs)
    return Constant(spec)
