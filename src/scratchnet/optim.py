"""Optimisers: turn gradients into parameter updates, in place.

An optimiser is handed the model's parameters at each step (``step(params)``),
where each ``Parameter`` carries ``name``, ``value`` (the array inside the layer)
and ``grad`` (filled by backward). Per-parameter state (momentum, Adam's moments)
is kept by name, so it can be saved in a checkpoint and restored exactly.

Updates are written with ``out=`` into preallocated buffers: no new arrays per step.
The formulas follow PyTorch's ``torch.optim`` so trajectories can be compared.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass

import numpy as np

from .errors import ConfigError
from .parallel import blas_threads, by_rows
from .schedules import Schedule, get_schedule

#: From this many elements, ``subtract_step`` writes around a multi-threaded product's
#: cache lines: the MLP's 256x128 weights (32,768) gain, its 128x10 (1,280) do not.
SHARED_MIN_SIZE = 1 << 14


@dataclass
class Parameter:
    """A view of one parameter: its name, its array and its gradient's array."""

    name: str
    value: np.ndarray
    grad: np.ndarray


class Optimizer:
    """Base class. ``lr`` may be a number or a ``Schedule``."""

    name = "optimizer"

    def __init__(self, lr, weight_decay: float = 0.0):
        self.schedule: Schedule = get_schedule(lr)
        if not (math.isfinite(weight_decay) and weight_decay >= 0):
            raise ConfigError(f"weight_decay must be >= 0, got {weight_decay!r}")
        self.weight_decay = float(weight_decay)
        self.t = 0  # updates done so far
        self.state: dict[str, dict[str, np.ndarray]] = {}
        self._shared = False  # BLAS runs several threads (see subtract_step)
        self._flat: tuple | None = None  # see use_flat

    @property
    def lr(self) -> float:
        """The rate the next update will use."""
        return self.schedule(self.t)

    def step(self, params: list[Parameter]) -> None:
        lr = self.begin_step()
        flat = self.flat_arrays(params)
        if flat is not None:
            self._update(*flat, lr)  # every parameter at once (see use_flat)
            return
        self._flat = None  # an array was replaced: one call per parameter from now on
        for p in params:
            self._update(p.value, p.grad, self.state_of(p), lr)

    def use_flat(self, params: list[Parameter], values: np.ndarray, grads: np.ndarray,
                 state: dict[str, np.ndarray]) -> None:
        """Update ``params`` through flat arrays from now on.

        ``values`` and ``grads`` hold every parameter's elements one after another, and
        ``state`` one such array for each kind of state; each parameter's own arrays
        (``p.value``, ``p.grad``, ``self.state[p.name]``) are views of them (``fit`` lays
        the parameters out so, see ``Sequential.flatten_parameters``). ``step`` then calls
        the update once for all the parameters instead of once per parameter: the same
        numbers, as every optimiser here works element by element, with a sixth of the
        NumPy calls for the MNIST MLP's six arrays. Should any of those arrays be
        replaced (a loaded optimiser state, a converted layer), ``step`` notices and goes
        back to one call per parameter.
        """
        arrays = self._arrays_of(params)
        self._flat = None if arrays is None else (arrays, values, grads, state)

    def flat_arrays(self, params: list[Parameter]) -> tuple | None:
        """``(values, grads, state)`` given to ``use_flat``, while every array of
        ``params`` is still the view it was then; otherwise None."""
        flat = self._flat
        if flat is None:
            return None
        arrays = self._arrays_of(params)
        if arrays is None or len(arrays) != len(flat[0]) or not all(
                map(operator.is_, arrays, flat[0])):
            return None
        return flat[1:]

    def _arrays_of(self, params: list[Parameter]) -> list[np.ndarray] | None:
        """Every array ``step`` touches, in order (None if a parameter has no state yet)."""
        out: list[np.ndarray] = []
        for p in params:
            st = self.state.get(p.name)
            if st is None:
                return None
            out += (p.value, p.grad, *st.values())
        return out

    def begin_step(self) -> float:
        """Count one update and return the rate it uses (``step`` calls it; data-parallel
        training calls it, then updates each process's share of the parameters)."""
        lr = self.schedule(self.t)
        self.t += 1
        self._shared = blas_threads() > 1
        return lr

    def state_of(self, p: Parameter) -> dict[str, np.ndarray]:
        """The state arrays of parameter ``p``, made on first use (and again if its
        shape changed)."""
        st = self.state.get(p.name)
        if st is None or next(iter(st.values()), p.value).shape != p.value.shape:
            st = self.state[p.name] = self._init_state(p.value)
        return st

    def _init_state(self, value: np.ndarray) -> dict[str, np.ndarray]:
        return {"tmp": np.empty_like(value)}

    def _update(self, w, g, st, lr):  # pragma: no cover - abstract
        raise NotImplementedError

    def subtract_step(self, w: np.ndarray, d: np.ndarray) -> None:
        """``w -= d``: the last pass of every update (``d`` is scratch and is overwritten).

        Why two ways: when BLAS runs several threads, this step's forward product has
        just read ``w`` on every core, and updating in place memory that another core
        holds in its cache costs each cache line a round trip between the cores. Reading
        ``w`` into ``d`` and copying the result back, two plain passes, is faster there
        (``benchmarks/cache_sharing.py``, 784x256 weights after a two-thread product:
        130-177 µs in place, 72-77 µs this way; 256x128: 44 µs and 19 µs). With one
        thread, or for an array as small as the 128x10 layer's (0.5 µs in place, 1.0 µs
        this way, at either thread count), one in-place pass is the faster. Same numbers
        either way.
        """
        if self._shared and w.size >= SHARED_MIN_SIZE:
            np.subtract(w, d, out=d)
            np.copyto(w, d)
        else:
            w -= d

    # -- checkpoints --------------------------------------------------------
    def state_dict(self) -> dict:
        """Step count, schedule state and per-parameter arrays (scratch buffers excluded)."""
        arrays = {
            f"{name}/{k}": v.copy()
            for name, st in self.state.items()
            for k, v in st.items()
            if k != "tmp"
        }
        return {"t": self.t, "schedule": self.schedule.state_dict(), "arrays": arrays}

    def load_state_dict(self, state: dict) -> None:
        self._flat = None
        self.t = int(state["t"])
        self.schedule.load_state_dict(state.get("schedule", {}))
        self.state = {}
        for key, arr in state["arrays"].items():
            name, _, k = key.rpartition("/")
            st = self.state.setdefault(name, {})
            st[k] = np.array(arr, copy=True)
        for st in self.state.values():
            first = next(iter(st.values()))
            st["tmp"] = np.empty_like(first)

    def spec(self) -> dict:
        return {"name": self.name, "lr": self.schedule.spec(), "weight_decay": self.weight_decay}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(lr={self.lr:g})"


def flat_groups(params: list[Parameter], state: dict) -> list[tuple[list[int], np.dtype, tuple]]:
    """Runs of consecutive parameters that can lie in the same flat arrays: the same
    dtype and the same kinds of optimiser state (``state[p.name]``), of the same dtypes.
    Each is (parameter indices, dtype, ((state key, dtype), ...)); the parameters of a
    model of one dtype are one group."""
    groups: list[tuple[list[int], np.dtype, tuple]] = []
    for j, p in enumerate(params):
        keys = tuple((key, a.dtype) for key, a in state[p.name].items())
        if groups and groups[-1][1] == p.value.dtype and groups[-1][2] == keys:
            groups[-1][0].append(j)
        else:
            groups.append(([j], p.value.dtype, keys))
    return groups


def flat_views(flat: np.ndarray, shapes: list[tuple[int, ...]]) -> list[np.ndarray]:
    """Views of the 1-D array ``flat``, one per shape, one after another from its start."""
    views, start = [], 0
    for shape in shapes:
        size = math.prod(shape)
        views.append(flat[start : start + size].reshape(shape))
        start += size
    return views


class SGD(Optimizer):
    """Stochastic gradient descent, optionally with momentum and Nesterov::

        g = g + wd * w                     (weight decay, L2)
        v = mu * v + g                     (momentum buffer)
        w = w - lr * (g + mu * v)          (Nesterov)   or   w - lr * v   (classic)
    """

    name = "sgd"

    def __init__(self, lr=0.1, momentum: float = 0.0, nesterov: bool = False,
                 weight_decay: float = 0.0):
        super().__init__(lr, weight_decay)
        if not 0 <= momentum < 1:
            raise ConfigError(f"momentum must be in [0, 1), got {momentum!r}")
        if nesterov and momentum == 0:
            raise ConfigError("nesterov=True needs momentum > 0")
        self.momentum, self.nesterov = float(momentum), bool(nesterov)

    def _init_state(self, value):
        st = super()._init_state(value)
        if self.momentum:
            st["velocity"] = np.zeros_like(value)
        return st

    def _update(self, w, g, st, lr):
        d = st["tmp"]
        if not (self.weight_decay or self.momentum):  # plain gradient descent: w -= lr g
            np.multiply(g, lr, out=d)
            self.subtract_step(w, d)
            return
        np.copyto(d, g)
        if self.weight_decay:
            d += self.weight_decay * w
        if self.momentum:
            v = st["velocity"]
            if self.t == 1:  # PyTorch starts the buffer at the first gradient
                np.copyto(v, d)
            else:
                v *= self.momentum
                v += d
            if self.nesterov:
                d += self.momentum * v
            else:
                np.copyto(d, v)
        d *= lr
        self.subtract_step(w, d)

    def spec(self):
        return {**super().spec(), "momentum": self.momentum, "nesterov": self.nesterov}


class RMSprop(Optimizer):
    """Divide each step by a running root-mean-square of recent gradients::

        s = alpha * s + (1 - alpha) * g^2
        w = w - lr * g / (sqrt(s) + eps)
    """

    name = "rmsprop"

    def __init__(self, lr=0.01, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0):
        super().__init__(lr, weight_decay)
        if not 0 < alpha < 1:
            raise ConfigError(f"alpha must be in (0, 1), got {alpha!r}")
        self.alpha, self.eps = float(alpha), float(eps)

    def _init_state(self, value):
        return {**super()._init_state(value), "square_avg": np.zeros_like(value)}

    def _update(self, w, g, st, lr):
        s, d = st["square_avg"], st["tmp"]
        if self.weight_decay:
            g = g + self.weight_decay * w
        np.square(g, out=d)  # the same numbers as g * g; NumPy's square loop is faster
        d *= 1.0 - self.alpha
        s *= self.alpha
        s += d
        np.sqrt(s, out=d)
        d += self.eps
        np.divide(g, d, out=d)
        d *= lr
        self.subtract_step(w, d)

    def spec(self):
        return {**super().spec(), "alpha": self.alpha, "eps": self.eps}


class Adam(Optimizer):
    """Adam: momentum on the gradient and a per-weight step size from its running square::

        m = b1 * m + (1 - b1) * g                  first moment (mean)
        v = b2 * v + (1 - b2) * g^2                second moment (uncentred variance)
        w = w - lr / (1 - b1^t) * m / (sqrt(v / (1 - b2^t)) + eps)

    ``weight_decay`` here is L2 added to the gradient (PyTorch's Adam); for decoupled
    decay use ``AdamW``.

    How it is stored: not ``m`` and ``v`` themselves but the decayed *sums*
    ``m_sum = m / (1 - b1)`` and ``v_sum = v / (1 - b2)``, i.e.::

        m_sum = b1 * m_sum + g          (= sum over past steps i of b1^(t-i) * g_i)
        v_sum = b2 * v_sum + g^2

    The same update, with the constant factors (1 - b1) and (1 - b2) moved out of the
    whole-array work into the scalar step size: ten passes over the parameters a step
    instead of thirteen, which is a tenth of an MNIST epoch. ``moments(name)`` gives
    the textbook ``m`` and ``v``.

    Speed note: moments of weights that always see zero inputs (MNIST's blank border
    pixels) decay geometrically into float32 *subnormal* numbers, which CPUs process
    very slowly. Every ``flush_every`` steps, sums smaller than ``flush_below`` are set
    to exactly zero; at that size they change no update.
    """

    name = "adam"

    def __init__(self, lr=1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, flush_every: int = 100, flush_below: float = 1e-30):
        super().__init__(lr, weight_decay)
        b1, b2 = betas
        if not (0 <= b1 < 1 and 0 <= b2 < 1):
            raise ConfigError(f"betas must be in [0, 1), got {betas!r}")
        self.b1, self.b2, self.eps = float(b1), float(b2), float(eps)
        self.flush_every, self.flush_below = int(flush_every), float(flush_below)

    def _init_state(self, value):
        return {**super()._init_state(value),
                "m_sum": np.zeros_like(value), "v_sum": np.zeros_like(value)}

    def moments(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """The textbook first and second moments ``(m, v)`` of parameter ``name``
        (new arrays, computed from the stored sums)."""
        st = self.state[name]
        return st["m_sum"] * (1.0 - self.b1), st["v_sum"] * (1.0 - self.b2)

    def _decay(self, w, lr):
        if self.weight_decay:
            return self.weight_decay * w
        return None

    def _update(self, w, g, st, lr):
        m, v, d = st["m_sum"], st["v_sum"], st["tmp"]
        l2 = self._decay(w, lr)
        if l2 is not None:
            g = g + l2
        t, b1, b2 = self.t, self.b1, self.b2
        flush = self.flush_every and t % self.flush_every == 0
        # With m = (1 - b1) m_sum and v = (1 - b2) v_sum, the textbook step
        #   lr / (1 - b1^t) * m / (sqrt(v / (1 - b2^t)) + eps)
        # is  c * m_sum / (sqrt(v_sum) + eps / k)  with  k = sqrt((1 - b2) / (1 - b2^t))
        # and c = lr (1 - b1) / ((1 - b1^t) k): all the constants in two scalars.
        k = math.sqrt((1.0 - b2) / (1.0 - b2**t))
        eps_k, c = self.eps / k, lr * (1.0 - b1) / ((1.0 - b1**t) * k)

        def rows(part):  # every element on its own: a large array is shared by threads
            w_, g_, m_, v_, d_ = w[part], g[part], m[part], v[part], d[part]
            m_ *= b1  # m_sum = b1 m_sum + g
            m_ += g_
            np.square(g_, out=d_)  # v_sum = b2 v_sum + g^2 (square: faster than g_ * g_)
            v_ *= b2
            v_ += d_
            if flush:
                _flush_tiny(m_, self.flush_below, d_)
                _flush_tiny(v_, self.flush_below, d_)
            np.sqrt(v_, out=d_)
            d_ += eps_k
            np.divide(m_, d_, out=d_)
            d_ *= c
            self.subtract_step(w_, d_)

        by_rows(rows, w, cost=10 * w.size)  # ten passes over the array

    def spec(self):
        return {**super().spec(), "betas": [self.b1, self.b2], "eps": self.eps}


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): first shrink the weights,
    ``w = w * (1 - lr * wd)``, then take the plain Adam step."""

    name = "adamw"

    def __init__(self, lr=1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.01, **kw):
        super().__init__(lr, betas, eps, weight_decay, **kw)

    def _decay(self, w, lr):
        if self.weight_decay:
            w *= 1.0 - lr * self.weight_decay
        return None


def _flush_tiny(a: np.ndarray, below: float, scratch: np.ndarray) -> None:
    """Set entries with ``|a| < below`` to 0 (in place, no allocation beyond a bool mask)."""
    np.abs(a, out=scratch)
    a[scratch < below] = 0


OPTIMIZERS: dict[str, type[Optimizer]] = {
    "sgd": SGD,
    "momentum": SGD,
    "rmsprop": RMSprop,
    "adam": Adam,
    "adamw": AdamW,
}


def get_optimizer(spec, lr=None) -> Optimizer:
    """An optimiser from a name (``"adam"``; ``"momentum"`` is SGD with momentum 0.9)
    or an Optimizer instance. ``lr`` overrides the default rate."""
    if isinstance(spec, Optimizer):
        if lr is not None:
            # An instance carries its own rate; ignoring this one silently would train
            # at a rate the caller did not ask for.
            raise ConfigError(
                f"lr={lr!r} was given together with the optimiser {spec!r}; set the rate on "
                "the instance instead (e.g. SGD(lr=...)) or pass the optimiser by name"
            )
        return spec
    key = str(spec).lower()
    if key not in OPTIMIZERS:
        raise ConfigError(f"unknown optimiser {spec!r}; expected one of {sorted(OPTIMIZERS)}")
    kwargs = {} if lr is None else {"lr": lr}
    if key == "momentum":
        kwargs["momentum"] = 0.9
    return OPTIMIZERS[key](**kwargs)
