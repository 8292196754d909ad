"""Data parallelism over processes: ``fit(..., processes=2)`` trains on two cores.

NumPy runs each operation on one core. Threads can share a batch (``scratchnet.parallel``),
but every hand-over between two Python threads goes through the interpreter's lock and
costs a wake-up of about 0.1 ms on the machines measured, and max pooling, Adam and the
other element-wise work are many short NumPy calls. Processes have no shared lock: each
runs its own interpreter on its own core.

How a step is shared between ``P`` processes (the one that called ``fit``, "main", and
``P - 1`` helpers forked from it)::

    main                                       helper k
    write the batch's row numbers, post  --->  (waiting)
    forward + backward on its share of rows    forward + backward on its share of rows
    wait for every helper  <---------------    gradient written, post
    post "update" with the step's t and lr --->
    update its share of the parameters         update its share of the parameters
    wait for every helper  <---------------    post

This is the same arithmetic as one process on the whole batch, up to rounding:

* The loss is the mean over the batch, so the gradient of share ``k`` is scaled by
  ``rows_k / rows`` and the gradients are *added*: ``dW = sum_k x_k.T @ dz_k``, the
  product ``x.T @ dz`` cut into blocks of rows.
* The optimisers work element by element, so each process can update its own
  contiguous share of the parameters (after adding the ``P`` gradients of that share,
  in a fixed order). The parameters lie one after another in one flat array (and so do
  each process's gradients and each kind of optimiser state), so a share is one range
  of it and one call of the optimiser's update, not one per parameter.

What the processes share is one block of memory mapped into all of them (``mmap``): the
parameters, every process's gradients and the optimiser's state. Each process keeps its
own activations. The data set is not copied: a forked process sees the parent's memory.
With ``augment``, each epoch's new inputs are copied into one more shared array.
Posting is a counter in that shared block, which the other side watches in a short loop
("spinning"), so a hand-over takes microseconds, not a wake-up; after a few
milliseconds without news the loop sleeps between looks.

Limits, checked before anything starts (``check_supported``):

* Linux on x86-64. ``fork`` is needed to share the data set, and the hand-over relies
  on x86's ordering of memory writes: a process that sees the counter change also sees
  the gradients written before it. Other processors need memory barriers, which Python
  does not expose.
* No layer that mixes the samples of a batch (batch normalisation: each process would
  see only its share's statistics) or that draws random numbers (dropout).
* No more processes than the CPUs this process may use: a waiting process spins on its
  core.

BLAS and scratchnet's worker threads are held at one thread in every process: the
processes are the parallelism.
"""

from __future__ import annotations

import mmap
import os
import platform
import signal
import sys
import time
import traceback
import warnings
from collections.abc import Callable

import numpy as np

from .errors import ConfigError, WorkerError
from .optim import flat_groups, flat_views
from .parallel import split

# -- the control block: one 64-byte cache line per writer -----------------------------
_LINE = 8  # int64 slots per cache line
# main's line: the command counter, the command, and its arguments
_SEQ, _CMD, _ROWS, _T, _SUMMED, _STOP = range(6)
_GRADS, _UPDATE = 1, 2  # commands
_DONE = 0  # a helper's line: the last command it finished (or _FAILED)
_FAILED = 1 << 62
_ERR_BYTES = 4096  # room for each helper's error message

#: Spin this long waiting for the other side before sleeping between looks.
SPIN_SECONDS = 0.005
SLEEP_SECONDS = 0.0002


def check_supported(layers, processes: int) -> None:
    """Raise ``ConfigError`` saying why training with ``processes`` processes cannot
    run here or with these layers; return quietly if it can."""
    if isinstance(processes, bool) or not isinstance(processes, int) or processes < 1:
        raise ConfigError(f"processes must be a positive integer, got {processes!r}")
    if processes == 1:
        return
    machine = platform.machine().lower()
    if not sys.platform.startswith("linux") or machine not in ("x86_64", "amd64"):
        raise ConfigError(
            f"processes={processes} needs Linux on x86-64 (fork, and x86's ordering of memory "
            f"writes between processes); this is {sys.platform} on {platform.machine()}. "
            "Use processes=1, or scratchnet.set_num_threads for worker threads"
        )
    cpus = len(os.sched_getaffinity(0))
    if processes > cpus:
        # Each process waits for the others by spinning on a core: more processes than
        # cores would spend their turns waiting for each other.
        raise ConfigError(
            f"processes={processes}, but this process may run on {cpus} CPU(s); "
            f"use at most processes={cpus}"
        )
    for layer in layers:
        if getattr(layer, "mixes_batch", False) or getattr(layer, "stochastic", False):
            why = ("computes statistics over the whole batch" if layer.mixes_batch
                   else "draws random numbers")
            raise ConfigError(
                f"processes={processes}: {layer.describe()} {why}, so sharing the batch "
                "between processes would change what it computes; use processes=1"
            )


class _SharedBlock:
    """Arrays laid out in one anonymous shared memory mapping, each 64-byte aligned."""

    def __init__(self, specs: list[tuple[tuple[int, ...], np.dtype]]):
        offsets, end = [], 0
        for shape, dtype in specs:
            end = -(-end // 64) * 64
            offsets.append(end)
            end += int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
        # MAP_SHARED | MAP_ANONYMOUS: the pages stay shared with processes forked later.
        self.map = mmap.mmap(-1, max(end, 64))
        self.arrays = [np.ndarray(shape, dtype, buffer=self.map, offset=off)
                       for (shape, dtype), off in zip(specs, offsets, strict=True)]


class DataParallel:
    """The processes of one ``fit`` call. Made by main, which then calls
    :meth:`gradients` and :meth:`update` each step and :meth:`close` at the end.

    ``model``: the Sequential being trained (its parameters, gradients and optimiser
    state are moved into shared memory here and copied back out by ``close``).
    ``X``, ``y``: the checked training data. ``batch_size``: the largest batch.
    ``count_correct(loss, out, y) -> int`` or ``None`` when accuracy is not tracked.
    ``shared_inputs``: the inputs change during training (augmentation): keep them in
    the shared block, where ``set_inputs`` replaces them.
    """

    def __init__(self, model, X: np.ndarray, y: np.ndarray, batch_size: int, processes: int,
                 count_correct: Callable | None, shared_inputs: bool = False):
        self.model, self.X, self.y = model, X, y
        self.loss, self.opt = model.loss, model.optimizer
        self.P = processes
        self.count_correct = count_correct
        self._pids: list[int] = []
        self._seq = 0
        self._summed = False  # main's gradient arrays already hold every process's sum
        self._closed = False
        params = model.parameters()
        opt = self.opt
        for p in params:  # the optimiser's state must exist before it is shared
            opt.state_of(p)
        groups = flat_groups(params, opt.state)

        P = processes
        specs = [((P, _LINE), np.int64), ((P, 2), np.float64), ((_LINE,), np.float64),
                 ((batch_size,), np.int64), ((P, _ERR_BYTES), np.uint8)]
        # per group: the values, every process's gradients, each kind of optimiser state,
        # each one flat array with the group's parameters one after another
        for members, dtype, keys in groups:
            size = sum(params[j].value.size for j in members)
            specs += [((size,), dtype)] * (1 + P)
            specs += [((size,), key_dtype) for _, key_dtype in keys]
        if shared_inputs:
            specs.append((X.shape, X.dtype))
        block = _SharedBlock(specs)
        self._block = block
        arrays = iter(block.arrays)
        # per process: its share's loss sum and correct count; the step's learning rate
        self._ctl, self._results, self._lr, self._rows, self._errors = (
            next(arrays) for _ in range(5))
        # the control block through a memoryview: reading one slot is a few times faster
        # than indexing a NumPy array, and the waiting loops do little else
        self._ctl_view = memoryview(block.map)[: P * _LINE * 8].cast("q")
        self._results[...] = 0.0

        values: list = [None] * len(params)
        self._grads = [[None] * len(params) for _ in range(P)]
        #: per group: (values, [gradients of process 0, 1, ...], {state key: array}), flat
        self._flat = []
        for members, _, keys in groups:
            flat = (next(arrays), [next(arrays) for _ in range(P)],
                    {key: next(arrays) for key, _ in keys})
            self._flat.append(flat)
            shapes = [params[j].value.shape for j in members]
            for j, view in zip(members, flat_views(flat[0], shapes), strict=True):
                view[...] = params[j].value
                values[j] = view
            for k in range(P):
                for j, view in zip(members, flat_views(flat[1][k], shapes), strict=True):
                    self._grads[k][j] = view
            for key, arr in flat[2].items():
                for j, view in zip(members, flat_views(arr, shapes), strict=True):
                    st = opt.state[params[j].name]
                    view[...] = st[key]
                    st[key] = view
        if shared_inputs:
            self.X = next(arrays)
            np.copyto(self.X, X)
        self._names = [p.name for p in params]
        model.bind_parameters(self._names, values, self._grads[0])
        self.params = model.parameters()
        # each group's shares: contiguous ranges of its flat arrays, one per process
        self._shares = [split(flat[0].size, P) for flat in self._flat]
        self._views = None  # this process's share of them, made on its first update

        try:
            self._start_helpers()
        except BaseException:
            self.close()  # the helpers already started, and the model's own arrays back
            raise

    def _start_helpers(self) -> None:
        parent = os.getpid()
        for k in range(1, self.P):
            sys.stdout.flush()  # what is buffered would otherwise be printed twice
            sys.stderr.flush()
            with warnings.catch_warnings():
                # Python 3.12+ warns on every fork of a process with threads (BLAS's own
                # count). The helper never needs a lock another thread might hold: it
                # imports nothing and runs only NumPy and this module's loop.
                warnings.filterwarnings("ignore", category=DeprecationWarning,
                                        message=".*fork.*")
                pid = os.fork()
            if pid == 0:  # the helper: never returns into the caller's code
                code = 1
                try:
                    signal.signal(signal.SIGINT, signal.SIG_IGN)  # main stops it on Ctrl-C
                    self._helper(k, parent)
                    code = 0
                except BaseException:  # noqa: BLE001 - reported to main, then exit
                    self._report(k, traceback.format_exc())
                finally:
                    os._exit(code)
            self._pids.append(pid)

    # -- binding the model's arrays to the shared block -------------------------------
    def _unbind(self) -> None:
        """Give the model and the optimiser private copies of their shared arrays again."""
        layers = self.model.layers
        for name in self._names:
            i, _, key = name.partition(".")
            layer = layers[int(i)]
            layer.params[key] = layer.params[key].copy()
            layer.grads[key] = layer.grads[key].copy()
            st = self.opt.state[name]
            for k in st:
                st[k] = st[k].copy()

    # -- main's side --------------------------------------------------------------
    def _post(self, cmd: int, **args: int) -> int:
        ctl = self._ctl_view
        for slot, value in args.items():
            ctl[_SLOTS[slot]] = value
        ctl[_CMD] = cmd
        self._seq += 1
        ctl[_SEQ] = self._seq  # last: a helper that sees it sees everything above
        return self._seq

    def _wait_helpers(self, seq: int) -> None:
        ctl = self._ctl_view
        for k in range(1, self.P):
            slot = k * _LINE + _DONE
            if ctl[slot] < seq:
                deadline = time.perf_counter() + SPIN_SECONDS
                while ctl[slot] < seq:
                    if time.perf_counter() > deadline:
                        self._check_alive(k)
                        time.sleep(SLEEP_SECONDS)
            if ctl[slot] == _FAILED:
                self._raise_failed(k)

    def _check_alive(self, k: int) -> None:
        if self._ctl_view[k * _LINE + _DONE] == _FAILED:
            return
        pid = self._pids[k - 1]
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            self._pids[k - 1] = 0
            how = (f"signal {os.WTERMSIG(status)}" if os.WIFSIGNALED(status)
                   else f"exit status {os.WEXITSTATUS(status)}")
            raise WorkerError(f"data-parallel worker process {k} (pid {pid}) ended during "
                              f"training ({how}); the training stopped")

    def _raise_failed(self, k: int) -> None:
        raw = bytes(self._errors[k]).rstrip(b"\0")
        raise WorkerError(f"data-parallel worker process {k} failed:\n"
                          f"{raw.decode('utf-8', 'replace').rstrip()}")

    def gradients(self, rows) -> tuple[float, int, int]:
        """Forward and backward on the batch ``X[rows]`` (``rows``: an index array or a
        slice), shared between the processes. Returns the batch's mean loss, the
        number of correct predictions (0 when not counted) and the number of rows.
        Afterwards main's gradient arrays hold main's share only; ``update`` (or
        ``sum_gradients``) adds the rest."""
        if isinstance(rows, slice):
            rows = np.arange(*rows.indices(len(self.X)))
        n = len(rows)
        np.copyto(self._rows[:n], rows)
        seq = self._post(_GRADS, rows=n)
        mine = split(n, self.P)[0]
        self._results[0] = self._share_gradients(rows[mine.start:mine.stop], n)
        self._wait_helpers(seq)
        total = self._results.sum(axis=0)
        return float(total[0]) / n, int(total[1]), n

    def set_inputs(self, X: np.ndarray) -> None:
        """Replace the training inputs (``shared_inputs``) between two steps."""
        np.copyto(self.X, X)

    def sum_gradients(self) -> None:
        """Add every process's gradient into main's arrays now (for callbacks that read
        the gradient between backward and the update)."""
        for _, (g, *others), _ in self._flat:
            for other in others:
                g += other
        self._summed = True

    def update(self) -> None:
        """One optimiser step, each process updating its share of the parameters."""
        opt = self.opt
        lr = opt.begin_step()
        summed, self._summed = self._summed, False
        self._lr[0] = lr
        seq = self._post(_UPDATE, t=opt.t, summed=int(summed))
        self._update_share(0, lr, summed)
        self._wait_helpers(seq)

    def close(self) -> None:
        """Stop the helpers (waiting for them to exit) and copy the shared arrays back
        into private ones."""
        if self._closed:
            return
        self._closed = True
        self._ctl_view[_STOP] = 1
        for i, pid in enumerate(self._pids):
            if not pid:
                continue
            deadline = time.perf_counter() + 10.0
            while True:
                done, _ = os.waitpid(pid, os.WNOHANG)
                if done:
                    break
                if time.perf_counter() > deadline:  # stuck: it has nothing left to save
                    os.kill(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)
                    break
                time.sleep(SLEEP_SECONDS)
            self._pids[i] = 0
        self._unbind()
        self._ctl_view.release()

    # -- work done by every process -------------------------------------------------
    def _share_gradients(self, rows: np.ndarray, n: int) -> tuple[float, int]:
        """Forward and backward on ``X[rows]``, one share of a batch of ``n`` rows, into
        this process's gradient arrays. Returns (sum of the loss over the rows, correct)."""
        if len(rows) == 0:
            for g in self.model.parameters():
                g.grad[...] = 0
            return 0.0, 0
        model, loss = self.model, self.loss
        xb, yb = self.X[rows], self.y[rows]
        with np.errstate(over="ignore", invalid="ignore"):
            out = model.forward(xb)
            share_loss = loss.forward(out, yb)
            correct = self.count_correct(loss, out, yb) if self.count_correct else 0
            grad = loss.backward()
            # dL/dout of the mean over this share, made the share's part of the batch mean
            grad *= len(rows) / n
            model.backward(grad)
        return share_loss * len(rows), correct

    def _share_views(self, k: int) -> list:
        """Process ``k``'s share of every group of parameters, as views made once:
        (weights, the gradient of every process, optimiser state), for groups whose
        share is not empty."""
        views = []
        for (values, grads, state), shares in zip(self._flat, self._shares, strict=True):
            part = shares[k]
            if not len(part):
                continue
            cut = slice(part.start, part.stop)
            views.append((values[cut], [g[cut] for g in grads],
                          {key: a[cut] for key, a in state.items()}))
        return views

    def _update_share(self, k: int, lr: float, summed: bool) -> None:
        opt = self.opt
        opt._shared = False  # one BLAS thread: update in place (see subtract_step)
        if self._views is None:
            self._views = self._share_views(k)
        with np.errstate(over="ignore", invalid="ignore"):
            for w, (g, *others), state in self._views:
                if not summed:  # add the other processes' gradients, in process order
                    for other in others:
                        g += other
                opt._update(w, g, state, lr)

    # -- a helper's side ---------------------------------------------------------------
    def _helper(self, k: int, parent: int) -> None:
        model = self.model
        # this process's own gradient arrays (main's stay bound in main)
        model.bind_parameters(self._names, [p.value for p in self.params], self._grads[k])
        self.params = model.parameters()
        ctl = self._ctl_view
        done = k * _LINE + _DONE
        seq = 0
        while True:
            if ctl[_SEQ] == seq:
                deadline = time.perf_counter() + SPIN_SECONDS
                while ctl[_SEQ] == seq:
                    if ctl[_STOP]:
                        return
                    if time.perf_counter() > deadline:
                        if os.getppid() != parent:  # main is gone
                            return
                        time.sleep(SLEEP_SECONDS)
            seq = ctl[_SEQ]
            if ctl[_STOP]:
                return
            cmd = ctl[_CMD]
            if cmd == _GRADS:
                n = ctl[_ROWS]
                mine = split(n, self.P)[k]
                self._results[k] = self._share_gradients(self._rows[mine.start:mine.stop], n)
            elif cmd == _UPDATE:
                self.opt.t = ctl[_T]
                self._update_share(k, float(self._lr[0]), bool(ctl[_SUMMED]))
            ctl[done] = seq

    def _report(self, k: int, message: str) -> None:
        try:
            raw = message.encode("utf-8")[-(_ERR_BYTES - 1):]
            self._errors[k, : len(raw)] = np.frombuffer(raw, np.uint8)
            self._ctl_view[k * _LINE + _DONE] = _FAILED
        except BaseException:  # noqa: BLE001, S110 - exiting anyway; main sees the exit
            pass


_SLOTS = {"rows": _ROWS, "t": _T, "summed": _SUMMED}
