"""Worker threads for the batch: one of the two ways scratchnet uses more than one core
(the other, processes that share each batch, is ``scratchnet.dataparallel``).

NumPy runs each operation on one core; only its matrix products (BLAS) may spread
over several, and for the products of one small batch a second BLAS thread gains
little. The layers that work through the batch in chunks (Conv2D, MaxPool2D) and the
element-wise work on large arrays (ReLU, Adam) can instead give each *worker thread*
its own contiguous group of chunks. NumPy releases Python's global lock while its
loops run, so two threads really run on two cores.

The numbers do not depend on the number of threads: every chunk is computed exactly
as it would be alone, groups write disjoint parts of the result, and anything summed
over chunks (a convolution's weight gradient) is summed afterwards in one fixed order.

``set_num_threads(n)`` sets the number of workers (default: the environment variable
``SCRATCHNET_NUM_THREADS``, else 1). The convolution and pooling layers use them
whenever ``n > 1``, with BLAS held to one thread inside each worker (the results never
depend on the number of threads).

Two ways to use two cores do not mix. OpenBLAS's own threads keep spinning on the cores
for a while after each product, waiting for the next one, and a worker that needs that
core waits: on the MNIST CNN two workers gained nothing until BLAS was single-threaded,
then a step ran 1.4x faster. Handing work to a worker, on the other hand, costs about
0.1 ms on the machines measured, more than a Dense product of one MLP batch takes. So
``Sequential`` chooses per model (:func:`worker_mode`): a network with convolution or
pooling layers trains with BLAS held to one thread and *every* large enough piece of
work (Dense products included) shared between the workers; a network without them
leaves the products to BLAS's threads, as with one worker.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

from .errors import ConfigError

ENV_VAR = "SCRATCHNET_NUM_THREADS"


def _from_env() -> int:
    raw = os.environ.get(ENV_VAR, "").strip()
    if not raw:
        return 1
    try:
        n = int(raw)
    except ValueError:
        raise ConfigError(f"{ENV_VAR} must be a positive integer, got {raw!r}") from None
    if n < 1:
        raise ConfigError(f"{ENV_VAR} must be a positive integer, got {raw!r}")
    return n


_num_threads = _from_env()
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()
_local = threading.local()  # .busy: this thread is running a group (no nested workers)
_blas = None  # threadpoolctl's handle on the loaded BLAS libraries, made on first use


_blas_before: list | None = None  # BLAS thread counts before worker mode held it at one


def set_num_threads(n: int) -> None:
    """Use ``n`` threads (``n >= 1``) for scratchnet's batch-parallel work."""
    global _num_threads, _pool
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ConfigError(f"the number of threads must be a positive integer, got {n!r}")
    with _pool_lock:
        if _pool is not None and n != _num_threads:
            _pool.shutdown(wait=True)
            _pool = None
        _num_threads = n


@contextmanager
def worker_mode(layers):
    """While training or predicting with ``layers``: if there are several workers and a
    layer that shares its batch between them (``Layer.batch_parallel``: Conv2D, the
    pooling layers), hold BLAS to one thread and let the element-wise work and the
    Dense products use the workers too (:func:`by_rows`). Otherwise change nothing."""
    global _blas_before
    blas = _blas_controller()
    wanted = (_num_threads > 1 and _blas_before is None and bool(blas)
              and any(getattr(layer, "batch_parallel", False) for layer in layers))
    if not wanted:
        yield
        return
    _blas_before = [lib.num_threads for lib in blas.lib_controllers]
    for lib in blas.lib_controllers:
        lib.set_num_threads(1)
    try:
        yield
    finally:
        for lib, k in zip(blas.lib_controllers, _blas_before, strict=False):
            lib.set_num_threads(k)
        _blas_before = None


def get_num_threads() -> int:
    """How many threads scratchnet's batch-parallel work uses."""
    return _num_threads


def split(n_items: int, parts: int) -> list[range]:
    """``range(n_items)`` cut into ``parts`` contiguous groups whose sizes differ by at
    most one (earlier groups take the extra items)."""
    base, extra = divmod(n_items, parts)
    groups, start = [], 0
    for p in range(parts):
        size = base + (p < extra)
        groups.append(range(start, start + size))
        start += size
    return groups


def even_chunks(n: int, chunk: int, multiple: int = 2) -> int:
    """A chunk size close to ``chunk`` (at most that) that cuts ``n`` samples into a
    multiple of ``multiple`` chunks of nearly equal size (when more than one chunk is
    needed at all), so that two workers get equal shares. It depends on ``n`` and
    ``chunk`` only, never on the number of threads: results stay the same whatever that
    number is."""
    count = math.ceil(n / chunk)
    if count <= 1:
        return n
    count = math.ceil(count / multiple) * multiple
    return math.ceil(n / count)


def workers_for(n_items: int) -> int:
    """How many workers ``run_groups`` would use for ``n_items`` items."""
    if getattr(_local, "busy", False):
        return 1
    return max(1, min(_num_threads, n_items))


def run_groups(fn: Callable[[range, int], object], n_items: int) -> list:
    """Call ``fn(group, worker)`` for contiguous groups of ``range(n_items)``, one group per
    worker, and return the results in group order. With one thread (or one item) this
    is simply ``[fn(range(n_items), 0)]``, on the calling thread."""
    if getattr(_local, "busy", False):
        return [fn(range(n_items), 0)]  # already inside a group: BLAS is single-threaded
    workers = workers_for(n_items)
    # One BLAS thread also with one worker: a multi-threaded BLAS may round differently,
    # and the results must not depend on the number of threads.
    with _blas_single_threaded():
        if workers == 1:
            return [fn(range(n_items), 0)]
        groups = split(n_items, workers)
        pool = _get_pool()
        futures = [pool.submit(_as_worker, fn, g, w) for w, g in enumerate(groups) if w]
        try:
            first = _as_worker(fn, groups[0], 0)  # the calling thread takes group 0
        finally:
            # Never leave a worker writing into arrays after this call has returned,
            # not even when a group failed.
            for f in futures:
                f.exception()
        return [first, *(f.result() for f in futures)]


#: Work is split between threads only from this many element-wise operations per
#: thread: handing work to a thread costs about 0.1 ms, about as much as a couple of
#: hundred thousand element-wise operations take (2**18 measured a little faster than
#: 2**19 on the MNIST CNN).
MIN_ELEMENTS_PER_WORKER = 1 << 18


def by_rows(fn: Callable[[slice], object], a, cost: int | None = None) -> None:
    """Call ``fn(rows)`` for slices of the first axis of array ``a`` that together cover it:
    one slice per worker when the work is large, else ``fn(...)`` (all of it) on the
    calling thread. For work where each row of ``a`` is computed independently of the
    others. ``cost``: the work in element-wise operations (default ``a.size``); a
    matrix product ``(m, k) @ (k, n)`` counts as ``m * k * n // 32`` (measured: BLAS
    does about 30 multiply-adds in the time of one element-wise operation)."""
    if _blas_before is None:
        # Not in worker mode (BLAS's threads may be spinning on the other cores), or a
        # single worker: all of it, here. The common case, so checked first.
        fn(...)
        return
    rows = a.shape[0] if a.ndim else 0
    cost = a.size if cost is None else cost
    parts = min(workers_for(rows), cost // MIN_ELEMENTS_PER_WORKER)
    if parts <= 1:
        fn(...)
        return
    pieces = split(rows, parts)

    def run(group: range, worker: int) -> None:
        for p in group:
            fn(slice(pieces[p].start, pieces[p].stop))

    run_groups(run, parts)


def _as_worker(fn, group, worker):
    _local.busy = True
    try:
        return fn(group, worker)
    finally:
        _local.busy = False


def _get_pool() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max(1, _num_threads - 1),
                                       thread_name_prefix="scratchnet-worker")
        return _pool


def blas_threads() -> int:
    """How many threads NumPy's BLAS may use for its next product (1 when unknown)."""
    blas = _blas_controller()
    if not blas:
        return 1
    return max((lib.num_threads for lib in blas.lib_controllers), default=1)


def _blas_controller():
    """threadpoolctl's handle on the BLAS libraries loaded (NumPy's), or False."""
    global _blas
    if _blas is None:
        try:
            import numpy  # noqa: F401  (loads NumPy's BLAS, so that threadpoolctl sees it)
            from threadpoolctl import ThreadpoolController
        except ImportError:  # pragma: no cover - a dependency; without it, no limit
            _blas = False
        else:
            _blas = ThreadpoolController().select(user_api="blas")
    return _blas


@contextmanager
def _blas_single_threaded():
    """BLAS at one thread for the duration (its setting restored afterwards)."""
    blas = _blas_controller()
    if not blas or _blas_before is not None:  # no BLAS handle, or already held at one
        yield
        return
    with blas.limit(limits=1):
        yield



@contextmanager
def one_thread():
    """BLAS at one thread and no worker threads for the duration (settings restored
    afterwards). For data-parallel processes (scratchnet.dataparallel): each process is
    one core's worth of work, and a process forked from this one has none of its
    threads, so it must not hand work to the thread pool."""
    global _num_threads
    before = _num_threads
    _num_threads = 1
    try:
        with _blas_single_threaded():
            yield
    finally:
        _num_threads = before
