"""Benchmark scratchnet against PyTorch (CPU) and scikit-learn on identical work.

    python benchmarks/run.py            # full run, writes docs/benchmarks.md (several minutes)
    python benchmarks/run.py --quick    # about a minute on an idle 2-core machine; prints only

What is measured (see docs/benchmarks.md for the latest results and docs/performance.md
for what profiling found):

* ``matmul``: the machine's float32 matrix-multiply peak (NumPy's BLAS and PyTorch's).
* ``xor``: a 2-2-1 sigmoid network, 10,000 full-batch gradient-descent steps on XOR.
  scratchnet twice, labelled: through ``Sequential.fit`` and through the stacked-seed
  trainer with one network.
* ``xor-seeds``: 1,000 such networks (seeds) trained at once as stacked arrays.
* ``mlp``: MNIST MLP 784-256-128-10, Adam, batch 128, 60,000-row epochs (the real 10,000
  test digits tiled six times when ``../shared/data/mnist-t10k`` is there; synthetic
  rows of the same shape otherwise). scratchnet twice: as it trains by default, and
  with every input multiplied (``Dense.skip_zero_inputs = False``, full run only).

At two threads or more, scratchnet's MLP and CNN lines train with as many data-parallel
processes, one thread each (``fit(processes=...)``, ``scratchnet.dataparallel``), and a
third line, ``scratchnet-threads`` (full run only), trains the same network in one
process with that many worker threads (``scratchnet.parallel``): the same cores, used
the other way.
* ``cnn``: a small CNN (conv 32 3x3, pool, conv 64 3x3, pool, fc 128, fc 10) on a fixed
  number of batches, extrapolated to a 60,000-row epoch: the first few batches (one-off
  costs: fresh arrays' first page faults, a helper process's start) counted once, the
  rest scaled (``extrapolate``).
* ``process``: start-up (``import scratchnet`` vs ``import torch``) and, when the
  ``scratchnet mnist`` command exists, the whole ``scratchnet mnist --model mlp``
  process against the equivalent PyTorch script (``benchmarks/torch_mnist_mlp.py``).

PyTorch runs the MLP and the CNN several ways (``nn.ReLU()``, ``nn.ReLU(inplace=True)``,
and for the CNN each max pooling written before its ReLU, as scratchnet's ``Sequential``
runs it); every ratio is to the fastest of them by median time (``TORCH_WAYS``).

How: every (task, peer) runs in its own worker process, started with all thread-pool
variables (OMP/OpenBLAS/MKL_NUM_THREADS) set to ``--threads`` before any library is
imported, plus ``torch.set_num_threads``; the pool sizes in force are read back and
reported. The full run measures everything at 1 thread and again at 2 (on a shared
machine a second thread can be a loss: see docs/benchmarks.md); ``--quick`` at 1.

Workers are started, warmed up, then told to run one at a time in alternating
order (A B, B A, A B ...; with more peers each round starts with the next one and every
other round goes round them backwards, so no peer always follows the same one), so
each round gives one measurement per peer taken close together in time, and each ratio
is computed within a round, pair by pair. At two threads or more each run starts
after a pause of a quarter of a second: the BLAS threads of the peer before keep
spinning for about 0.1 s after their last product. Times are
wall-clock seconds of the training call only (data preparation and imports excluded);
CPU seconds are recorded too. Peak memory is each worker's own high-water mark of
resident memory, so peers never share one, plus that of its largest ended child process
(scratchnet's data-parallel helper): pages both map, such as the data set, count twice,
so for that line it is an upper bound.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import importlib.metadata
import importlib.util
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _common import (  # noqa: E402
    BATCH,
    CNN_DESCRIPTION,
    DEFAULT_MNIST_DIR,
    REPO,
    ROWS_PER_EPOCH,
    cnn_flops_per_row,
    describe_data,
    has_mnist,
    mlp_flops_per_row,
    thread_env,
)

BASELINE = {"xor": "torch", "xor-seeds": "torch-stacked", "mlp": "torch", "cnn": "torch",
            "matmul": "torch"}
LABELS = {
    "scratchnet": "scratchnet",
    "scratchnet-fit": "scratchnet `Sequential.fit`",
    "scratchnet-stacked": "scratchnet stacked-seed trainer",
    "scratchnet-scalar": "scratchnet pure-Python trainer",
    "scratchnet-dense": "scratchnet, blank inputs multiplied too",
    "scratchnet-threads": "scratchnet, one process with worker threads",
    "torch": "PyTorch",
    "torch-stacked": "PyTorch, stacked",
    "torch-inplace": "PyTorch, ReLU(inplace=True)",
    "torch-poolfirst": "PyTorch, max pooling before ReLU",
    "sklearn": "scikit-learn MLPClassifier",
    "numpy": "NumPy",
}


#: The ways PyTorch runs the same network; ratios are to the fastest (best_torch).
TORCH_WAYS = ("torch", "torch-inplace", "torch-poolfirst")


# == talking to workers ==
class WorkerError(RuntimeError):
    pass


class Worker:
    """A ``_worker.py`` process for one (task, peer)."""

    def __init__(self, task: str, peer: str, threads: int, cfg: dict):
        self.task, self.peer = task, peer
        cmd = [sys.executable, str(HERE / "_worker.py"), "--task", task, "--peer", peer,
               "--threads", str(threads), "--config", json.dumps(cfg)]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, bufsize=1,
                                     env=thread_env(threads), cwd=str(REPO))
        self.ready = self._read("ready")

    def _read(self, expected: str) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            err = self.proc.stderr.read()
            raise WorkerError(f"{self.task}/{self.peer} worker ended early:\n{err[-3000:]}")
        msg = json.loads(line)
        if msg.get("event") == "error":
            raise WorkerError(f"{self.task}/{self.peer}: {msg['message']}\n"
                              f"{msg.get('traceback', '')}")
        if msg.get("event") != expected:
            raise WorkerError(f"{self.task}/{self.peer}: expected {expected}, got {msg}")
        return msg

    def ask(self, command: str, expected: str) -> dict:
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self._read(expected)

    def close(self) -> dict:
        bye = self.ask("quit", "bye")
        self.proc.stdin.close()
        self.proc.wait(timeout=60)
        self.proc.stdout.close()
        self.proc.stderr.close()
        return bye

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@dataclass
class TaskResult:
    task: str
    peers: list[str]
    runs: dict[str, list[dict]] = field(default_factory=dict)  # peer -> one dict per round
    ready: dict[str, dict] = field(default_factory=dict)
    peak_rss: dict[str, int] = field(default_factory=dict)
    order: list[list[str]] = field(default_factory=list)


#: Pause before each run at two threads or more: OpenBLAS's helper threads keep spinning
#: for about 0.1 s after their last product (measured: 0.10 s of CPU time while the
#: process sleeps), on the core the next peer is about to use.
SETTLE_SECONDS = 0.25


def round_order(items: list, r: int) -> list:
    """The order of round ``r``: it starts with ``items[r % n]``, going forwards round the
    circle in even rounds and backwards in odd ones. A rotation alone would keep every
    peer behind the same neighbour in every round (it only moves the start of the
    circle); going backwards every other round changes who runs before whom."""
    n = len(items)
    k = r % n
    if r % 2 == 0:
        return items[k:] + items[:k]
    return [items[(k - i) % n] for i in range(n)]


def run_task(task: str, peers: list[str], cfg: dict, threads: int, rounds: int,
             log) -> TaskResult:
    """Start one worker per peer, warm each up, then alternate timed runs round by round."""
    if threads == 1:  # at one thread the threaded line is the scratchnet line itself
        peers = [p for p in peers if p != "scratchnet-threads"]
    res = TaskResult(task, list(peers))
    workers: list[Worker] = []
    try:
        for peer in peers:
            w = Worker(task, peer, threads, cfg)
            workers.append(w)
            res.ready[peer] = w.ready
        for w in workers:
            w.ask("warmup", "warm")
        for r in range(rounds):
            order = round_order(workers, r)
            res.order.append([w.peer for w in order])
            parts = []
            for w in order:
                if threads > 1:
                    time.sleep(SETTLE_SECONDS)  # the last peer's BLAS threads stop spinning
                out = w.ask("run", "result")
                res.runs.setdefault(w.peer, []).append(out)
                parts.append(f"{w.peer} {out['seconds']:.3f}s")
            log(f"  {task} round {r + 1}/{rounds}: " + ", ".join(parts))
        for w in workers:
            res.peak_rss[w.peer] = w.close()["peak_rss"]
    finally:
        for w in workers:
            w.kill()
    return res


# == statistics ==
@dataclass
class Stat:
    median: float
    lo: float
    hi: float
    n: int

    @classmethod
    def of(cls, values) -> Stat:
        v = [float(x) for x in values]
        return cls(statistics.median(v), min(v), max(v), len(v))

    def fmt(self, unit: str = "s", digits: int = 3) -> str:
        f = _fmt_num
        return f"{f(self.median, digits)}{unit} ({f(self.lo, digits)}–{f(self.hi, digits)})"


def _fmt_num(x: float, digits: int = 3) -> str:
    if x == 0:
        return "0"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    return f"{x:.{digits}g}"


@dataclass
class Row:
    """One line of the summary: a peer's time on some work and its ratio to the baseline."""

    task: str
    work: str
    peer: str
    seconds: Stat
    ratio: Stat | None
    baseline: str | None
    target: str = ""
    met: bool | None = None
    note: str = ""


def _times(runs: list[dict], key: str = "seconds", index: int | None = None,
           scale: float = 1.0) -> list[float]:
    if index is None:
        return [r[key] * scale for r in runs]
    return [r[key][index] * scale for r in runs]


def extrapolate(run: dict, rows_done: int, rows_wanted: int = ROWS_PER_EPOCH,
                warm_rows: int = 0) -> float:
    """Seconds a ``rows_wanted``-row epoch would take, from a run over ``rows_done`` rows.

    With ``warm_seconds`` (the time to the end of the first ``warm_rows`` rows' batches)
    the start is counted once and the rest scaled: ``warm + (seconds - warm) *
    (rows_wanted - warm_rows) / (rows_done - warm_rows)``. What only the first batches
    pay (the first touch of freshly allocated memory, a forked helper's start) is paid
    once in a whole epoch too; scaling it with the rest would charge it about eight times
    in a 60-batch run. Without it (older results), everything is scaled.
    """
    if "warm_seconds" in run and 0 < warm_rows < rows_done:
        warm = run["warm_seconds"]
        return warm + (run["seconds"] - warm) * (rows_wanted - warm_rows) / (rows_done - warm_rows)
    return run["seconds"] * rows_wanted / rows_done


def _ratios(a: list[float], b: list[float]) -> list[float]:
    return [x / y for x, y in zip(a, b, strict=True)]


def summarize(results: dict[str, TaskResult], cfg: dict) -> dict:
    """Rows of the summary table, the matmul peak, floors and memory, from the raw runs."""
    rows: list[Row] = []
    out: dict = {"rows": rows, "floors": [], "memory": []}
    peak = None
    if "matmul" in results:
        mm = results["matmul"]
        out["peak_gflops"] = {p: Stat.of(_times(mm.runs[p], "gflops")) for p in mm.peers}
        peak = max(max(_times(mm.runs[p], "gflops")) for p in mm.peers)
        out["machine_peak"] = peak
    times: dict = {}

    def best_torch(task, tr, work):
        """With PyTorch run several ways (default, in-place ReLU, and for the CNN max
        pooling written before the ReLU), the ratios are to the fastest of them by median
        time: PyTorch at its best. (Not the fastest in each round: a minimum of several
        noisy times is biased low.)"""
        return min((p for p in TORCH_WAYS if p in tr.peers),
                   key=lambda p: statistics.median(times[(task, p, work)]))

    def add(task, work, peer, target_ratio=None, flops=None, base=None):
        base = base or BASELINE[task]
        ratio = None
        if peer != base and (task, base, work) in times:
            ratio = Stat.of(_ratios(times[(task, peer, work)], times[(task, base, work)]))
        met, target, note = None, "", ""
        if target_ratio is not None and ratio is not None:
            target = f"<= {target_ratio:g}"
            met = ratio.median <= target_ratio
        med = statistics.median(times[(task, peer, work)])
        if flops and peak:
            note = f"{100 * flops / med / (peak * 1e9):.0f}% of matmul peak"
        rows.append(Row(task, work, peer, Stat.of(times[(task, peer, work)]), ratio, base,
                        target, met, note))

    def ordered(tr, base):
        return [base, *[p for p in tr.peers if p != base]] if base in tr.peers else tr.peers

    if "xor" in results:
        tr = results["xor"]
        work = f"XOR 2-2-1, {cfg['xor_steps']:,} full-batch steps"
        for p in tr.peers:
            times[("xor", p, work)] = _times(tr.runs[p])
        for p in ordered(tr, "torch"):
            add("xor", work, p, 0.1 if p.startswith("scratchnet") else None)
    if "xor-seeds" in results:
        tr = results["xor-seeds"]
        work = f"XOR, {cfg['seeds']:,} seeds x {cfg['seeds_steps']:,} steps, stacked"
        for p in tr.peers:
            times[("xor-seeds", p, work)] = _times(tr.runs[p])
        for p in ordered(tr, "torch-stacked"):
            add("xor-seeds", work, p)
    if "mlp" in results:
        tr = results["mlp"]
        flops = mlp_flops_per_row() * cfg["mlp_rows"]
        flops_all = mlp_flops_per_row(input_grad=True) * cfg["mlp_rows"]
        for e in range(cfg["mlp_epochs"]):
            work = f"MLP 784-256-128-10, Adam, epoch {e + 1} ({cfg['mlp_rows']:,} rows)"
            for p in tr.peers:
                times[("mlp", p, work)] = _times(tr.runs[p], "epoch_seconds", e)
            base = best_torch("mlp", tr, work)
            for p in ordered(tr, base):
                add("mlp", work, p, 0.7 if p == "scratchnet" else None, flops, base)
            if peak:
                meds = {p: statistics.median(times[("mlp", p, work)]) for p in tr.peers}
                # The target is the floor (every product of backpropagation); the
                # stricter one, without the pixels' gradient that no peer computes, beside it.
                out["floors"].append((f"{work}, every product", flops_all,
                                      flops_all / (peak * 1e9), meds, 2.5))
                out["floors"].append((f"{work}, without the pixels' gradient", flops,
                                      flops / (peak * 1e9), meds, None))
    if "cnn" in results:
        tr = results["cnn"]
        rows_done = cfg["cnn_batches"] * BATCH
        flops = cnn_flops_per_row() * ROWS_PER_EPOCH
        warm_rows = cfg.get("cnn_warm_batches", 0) * BATCH
        work = (f"small CNN, one 60,000-row epoch (extrapolated from {cfg['cnn_batches']} "
                f"batches, {rows_done:,} rows)")
        for p in tr.peers:
            times[("cnn", p, work)] = [extrapolate(r, rows_done, warm_rows=warm_rows)
                                       for r in tr.runs[p]]
        base = best_torch("cnn", tr, work)
        for p in ordered(tr, base):
            add("cnn", work, p, 1.0 if p == "scratchnet" else None, flops, base)
        if peak:
            out["floors"].append((work, flops, flops / (peak * 1e9),
                                  {p: statistics.median(times[("cnn", p, work)])
                                   for p in tr.peers}, None))
    for task, tr in results.items():
        if task == "matmul":
            continue
        base = BASELINE[task]
        for p in tr.peers:
            peak_b, setup_b = tr.peak_rss[p], tr.ready[p]["rss_after_setup"]
            rel = peak_b / tr.peak_rss[base] if base in tr.peak_rss and p != base else None
            out["memory"].append((task, p, peak_b, setup_b, rel))
    return out


# == the whole process: start-up and `scratchnet mnist` ==
def shown(cmd: list[str]) -> str:
    """A command as the report prints it: ``python`` for this interpreter and paths relative
    to the repository, so no machine's own paths end up in the docs."""
    out = []
    for part in cmd:
        if part == sys.executable:
            part = "python"
        elif os.path.isabs(part):
            try:
                part = os.path.relpath(part, REPO)
            except ValueError:  # pragma: no cover - another drive on Windows
                pass
        out.append(part)
    return shlex.join(out)


def _wall(cmd: list[str], env: dict) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=str(REPO), stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise WorkerError(f"{shlex.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return seconds


def _mnist_help(env: dict) -> str | None:
    """``scratchnet mnist --help``, or None where this installation has no such command."""
    proc = subprocess.run([sys.executable, "-m", "scratchnet.cli", "mnist", "--help"], env=env,
                          capture_output=True, text=True)
    return proc.stdout if proc.returncode == 0 else None


def run_process(threads: int, rounds: int, mnist_epochs: int, data_dir: Path | None,
                log) -> dict:
    """Whole processes, alternating: interpreter start-up plus ``import`` of each library,
    and ``scratchnet mnist --model mlp`` against ``torch_mnist_mlp.py`` when the command
    exists. Both train the same MLP with Adam and a cosine schedule, batch 64, without
    augmentation or validation split, then test and save; scratchnet also draws its
    figures and report, the script draws a loss curve and a confusion matrix."""
    env = thread_env(threads)
    py = sys.executable
    commands = {
        "python": [py, "-c", "pass"],
        "import scratchnet": [py, "-c", "import scratchnet"],
        "import torch": [py, "-c", "import torch"],
    }
    out: dict = {"threads": threads, "times": {},
                 "commands": {k: shown(v) for k, v in commands.items()}}
    for r in range(rounds):
        names = list(commands)
        names = names[r % len(names):] + names[: r % len(names)]
        for name in names:
            out["times"].setdefault(name, []).append(_wall(commands[name], env))
        log(f"  process round {r + 1}/{rounds}: " + ", ".join(
            f"{k} {v[-1]:.2f}s" for k, v in out["times"].items()))
    help_text = _mnist_help(env) if mnist_epochs > 0 else None
    if mnist_epochs <= 0:
        out["mnist"] = "skipped (--quick, or --mnist-epochs 0)"
        return out
    if help_text is None:
        out["mnist"] = ("skipped: this installation has no `scratchnet mnist` command; the "
                        "PyTorch side is benchmarks/torch_mnist_mlp.py")
        return out
    common = ["--epochs", str(mnist_epochs), "--batch-size", "64"]
    sn = [py, "-m", "scratchnet.cli", "mnist", "--model", "mlp", *common]
    pt = [py, str(HERE / "torch_mnist_mlp.py"), *common]
    for flag in ("--no-augment", "--quiet", "--no-download"):
        if flag in help_text:
            sn.append(flag)
    if "--val-split" in help_text:
        sn += ["--val-split", "0"]
    if data_dir is not None:
        sn += ["--data-dir", str(data_dir)]
        pt += ["--data-dir", str(data_dir)]
    with tempfile.TemporaryDirectory(prefix="scratchnet-bench-mnist-") as tmp:
        runs = {"scratchnet mnist --model mlp": sn, "PyTorch script": pt}
        out["mnist_commands"] = {k: shown(v) for k, v in runs.items()}
        for r in range(rounds):
            names = list(runs) if r % 2 == 0 else list(runs)[::-1]
            for name in names:
                cmd = [*runs[name], "--out", str(Path(tmp) / f"{list(runs).index(name)}-{r}")]
                try:
                    out["times"].setdefault(name, []).append(_wall(cmd, env))
                except WorkerError as exc:
                    out["mnist"] = f"failed: {exc}"
                    return out
            log(f"  mnist process round {r + 1}/{rounds}: " + ", ".join(
                f"{k} {out['times'][k][-1]:.2f}s" for k in runs))
    out["mnist"] = "ok"
    return out


# == machine description ==
def machine_info(threads: list[int]) -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        usable = os.cpu_count()
    versions = {}
    for dist in ("scratchnet", "numpy", "torch", "scikit-learn", "scipy", "threadpoolctl"):
        try:
            versions[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            versions[dist] = None
    mem = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = int(line.split()[1]) * 1024
    except OSError:
        pass
    return {
        "cpu": cpu,
        "logical_cpus": os.cpu_count(),
        "usable_cpus": usable,
        "memory_bytes": mem,
        "os": f"{platform.system()} {platform.machine()}",
        "python": platform.python_version(),
        "versions": versions,
        "threads": threads,
        "load_average_start": _loadavg(),
    }


def _loadavg():
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:  # pragma: no cover
        return None


# == report ==
def _mb(b: int) -> str:
    return f"{b / 2**20:,.0f} MB"


def _pools(ready: dict) -> str:
    t = ready["threads"]
    parts = [f"{p['api']} {p['threads']}" for p in t.get("pools") or []]
    if "torch_intra_op" in t:
        parts.append(f"torch intra-op {t['torch_intra_op']}")
    return ", ".join(parts) or "none loaded"


def _label(peer: str) -> str:
    return LABELS.get(peer, peer)


def render_markdown(info: dict, cfg: dict, runs: dict[int, dict[str, TaskResult]],
                    summaries: dict[int, dict], process: dict | None, command: str,
                    rounds: int, data_desc: str, seconds_total: float) -> str:
    L: list[str] = []
    a = L.append
    counts = list(runs)
    a("# Benchmarks")
    a("")
    a("<!-- Generated by benchmarks/run.py: edit that script, not this file. -->")
    a("")
    a(f"Command: `{command}` ({info['date']}, {seconds_total / 60:.1f} minutes in all).")
    a("")
    mem = _mb(info["memory_bytes"]) if info["memory_bytes"] else "?"
    a(f"Machine: {info['cpu']}, {info['usable_cpus']} usable of {info['logical_cpus']} logical "
      f"CPUs, {mem} memory; {info['os']}; Python {info['python']}; "
      + ", ".join(f"{k} {v}" for k, v in info["versions"].items() if v) + ".")
    a(f"Load average (1, 5, 15 min) at the start {info['load_average_start']}, at the end "
      f"{info['load_average_end']}.")
    a("")
    a("**Read ratios, not seconds.** This machine is shared and noisy: other jobs ran while "
      "these numbers were taken, so absolute times move by tens of percent from one run to "
      "the next. Each ratio is computed inside one round of alternating runs (the peers one "
      "after the other; each round starts with the next peer and every other round goes "
      "backwards, so that no peer always follows the same one; at two threads each run "
      f"starts after a pause of {SETTLE_SECONDS:g} s), over {rounds} rounds; the tables "
      "give its median and min–max. Times are wall-clock seconds of the training call only "
      "(imports and data preparation excluded), median and min–max.")
    a("")
    a("Thread counts: every peer ran with the same number of threads, "
      + " and again with ".join(str(k) for k in counts) + " (each section below). At two "
      "threads, scratchnet's MLP and CNN lines train with two data-parallel processes of "
      "one thread each (`fit(processes=2)`: each computes the gradient of half of every "
      "batch and updates half of the parameters; see `scratchnet/dataparallel.py`), and "
      "\"scratchnet, one process with worker threads\" trains the same network in one "
      "process with two worker threads (`SCRATCHNET_NUM_THREADS`; the CNN with BLAS held to "
      "one thread, see performance.md): the same two cores, used the other way. Peak "
      "memory of the process lines adds the helper process's high-water mark to the "
      "main one's, counting the pages both map (the data set, the libraries) twice: an "
      "upper bound. "
      "With other jobs on the machine, a second thread is often no help and sometimes a "
      "large loss (a thread that waits for a busy core holds up its partner), so the "
      "1-thread numbers are the steadier comparison.")
    a("")
    a(f"Data: {data_desc}.")
    a("")
    a("ReLU in place: scratchnet's MLP and CNN use `ReLU(inplace=True)` (the output written "
      "over the input, the same numbers), as its own MNIST models do. PyTorch has the same "
      "option, so it runs both ways, with `nn.ReLU()` and with `nn.ReLU(inplace=True)`, and "
      "the MLP and CNN ratios are to **PyTorch at its best: whichever way has the "
      "lower median time** (it is the first PyTorch row of each group, marked with —).")
    a("")
    a("Max pooling before ReLU: in the CNN, scratchnet's `Sequential` runs each ReLU that is "
      "directly followed by max pooling after the pooling (max commutes with ReLU: the same "
      "outputs and gradients, bit for bit, with a quarter of the ReLU's work; "
      "`Sequential.run_order`, performance.md). PyTorch's `nn.Sequential` runs the layers as "
      "written, so the CNN runs a third way for PyTorch, written with each max pooling "
      "before its ReLU, and that way counts for PyTorch's best too.")
    a("")
    for k in counts:
        summary, results = summaries[k], runs[k]
        a(f"## {k} thread{'s' if k > 1 else ''}")
        a("")
        a("| work | peer | seconds, median (min–max) | ratio to PyTorch, median (min–max) "
          "| target | met | notes |")
        a("|---|---|---|---|---|---|---|")
        for row in summary["rows"]:
            ratio = row.ratio.fmt("x", 3) if row.ratio else "—"
            met = "" if row.met is None else ("yes" if row.met else "**no**")
            a(f"| {row.work} | {_label(row.peer)} | {row.seconds.fmt()} | {ratio} "
              f"| {row.target} | {met} | {row.note} |")
        a("")
        xor_fit = next((r for r in summary["rows"] if r.peer == "scratchnet-fit"), None)
        seeds = next((r for r in summary["rows"]
                      if r.task == "xor-seeds" and r.peer == "scratchnet-stacked"), None)
        if xor_fit and seeds:
            one_by_one = (xor_fit.seconds.median * cfg["seeds"] * cfg["seeds_steps"]
                          / cfg["xor_steps"])
            a(f"For scale: {cfg['seeds']:,} seeds trained one by one through `fit` would take "
              f"about {one_by_one:,.0f} s ({cfg['seeds']:,} times the median `fit` time above, "
              f"scaled to {cfg['seeds_steps']:,} steps); stacked they took "
              f"{seeds.seconds.median:.2f} s.")
            a("")
        if "peak_gflops" in summary:
            n = cfg["matmul_n"]
            peaks = "; ".join(f"{_label(p)} {st.fmt(' GFLOP/s', 4)}"
                              for p, st in summary["peak_gflops"].items())
            a(f"Matrix-multiply peak (best of {cfg['matmul_reps']} float32 {n} x {n} products per "
              f"round; median and min–max over rounds): {peaks}. The floors below use the best "
              f"product seen, **{summary['machine_peak']:.0f} GFLOP/s**.")
            a("")
        if summary["floors"]:
            a("The floor is the time the epoch's matrix products alone would take at that peak. "
              "\"Every product\" counts the three of every layer (forward, weight gradient, "
              "input gradient), as the speed issue counted its floor (0.26 s for the MLP epoch "
              "at 324 GFLOP/s): the target is read against it. \"Without the pixels' "
              "gradient\" leaves out the first layer's input gradient, which no peer computes: "
              "a stricter floor, shown beside it. The CNN's floor is counted the stricter way.")
            a("")
            a("| work | GFLOP | floor | scratchnet / floor | PyTorch / floor | target |")
            a("|---|---|---|---|---|---|")
            for work, flops, floor, meds, target in summary["floors"]:
                sn = meds.get("scratchnet")
                pt = meds.get("torch")
                t = ""
                if target is not None and sn is not None:
                    t = f"<= {target:g}: {'met' if sn / floor <= target else '**not met**'}"
                a(f"| {work} | {flops / 1e9:,.1f} | {floor:.2f} s | "
                  f"{'—' if sn is None else f'{sn / floor:.2f}x'} | "
                  f"{'—' if pt is None else f'{pt / floor:.2f}x'} | {t} |")
            a("")
        a("Peak memory: each (task, peer) ran in its own process; this is that process's "
          "high-water mark of resident memory (interpreter, library, data and training "
          "together), plus the mark of its largest ended child process: at two threads "
          "scratchnet's MLP and CNN lines fork a helper process, whose pages shared with "
          "the main one (the data set, the libraries) are then counted twice, so for them "
          "the figure is an upper bound. \"After setup\": the mark once the library was "
          "imported and the data prepared, before any training. Target: scratchnet's peak "
          "<= PyTorch's.")
        a("")
        a("| task | peer | peak | after setup | training added | peak / PyTorch's |")
        a("|---|---|---|---|---|---|")
        for task, peer, peak_b, setup_b, rel in summary["memory"]:
            flag = ""
            if rel is not None and peer.startswith("scratchnet"):
                flag = " (met)" if rel <= 1.0 else " (**not met**)"
            a(f"| {task} | {_label(peer)} | {_mb(peak_b)} | {_mb(setup_b)} | "
              f"{_mb(max(0, peak_b - setup_b))} | {'' if rel is None else f'{rel:.2f}'}{flag} |")
        a("")
        del results
    if process:
        a("## Whole processes")
        a("")
        a(f"Wall time of whole processes, interpreter start-up included, alternating, {rounds} "
          f"rounds, {process['threads']} thread(s):")
        a("")
        a("| command | seconds, median (min–max) |")
        a("|---|---|")
        cmds = {**process["commands"], **process.get("mnist_commands", {})}
        for name, ts in process["times"].items():
            a(f"| `{cmds.get(name, name)}` | {Stat.of(ts).fmt()} |")
        a("")
        names = ("scratchnet mnist --model mlp", "PyTorch script")
        if all(n in process["times"] for n in names):
            r = Stat.of(_ratios(process["times"][names[0]], process["times"][names[1]]))
            a(f"Whole `scratchnet mnist --model mlp` process / the PyTorch script: "
              f"{r.fmt('x')} (pair by pair). The scratchnet command also draws four figures "
              "and an HTML report; the script two figures.")
        else:
            a(f"`scratchnet mnist --model mlp` against PyTorch: {process.get('mnist')}.")
        a("")
    a("## Same work?")
    a("")
    a("Final training loss (median over rounds). scratchnet and PyTorch start the XOR runs "
      "from the same weights, so their XOR losses agree; the MLP and CNN peers use their "
      "own initialisation and shuffling, so theirs are only similar. scikit-learn draws its "
      "own XOR weights.")
    a("")
    a("| threads | task | peer | final loss | other |")
    a("|---|---|---|---|---|")
    for k in counts:
        for task, tr in runs[k].items():
            if task == "matmul":
                continue
            for p in tr.peers:
                losses = [r["final_loss"] for r in tr.runs[p] if r.get("final_loss") is not None]
                other = []
                for key in ("accuracy", "solved"):
                    vals = [r[key] for r in tr.runs[p] if key in r]
                    if vals:
                        other.append(f"{key} {statistics.median(vals):.4g}")
                loss = f"{statistics.median(losses):.6g}" if losses else "—"
                a(f"| {k} | {task} | {_label(p)} | {loss} | {', '.join(other)} |")
    a("")
    a("## Thread pools in force, and CPU time")
    a("")
    a("Pools as read back inside each worker (threadpoolctl, `torch.get_num_threads()`). CPU "
      "seconds are user + system time of the timed runs, all threads: steadier than wall "
      "time when a process waits for a core, but BLAS and OpenMP threads that spin while "
      "waiting count too.")
    a("")
    a("| threads | task | peer | pools | CPU seconds, median (min–max) | wall, median |")
    a("|---|---|---|---|---|---|")
    for k in counts:
        for task, tr in runs[k].items():
            for p in tr.peers:
                cpu = Stat.of([r["cpu_seconds"] for r in tr.runs[p]])
                wall = statistics.median(r["seconds"] for r in tr.runs[p])
                a(f"| {k} | {task} | {_label(p)} | {_pools(tr.ready[p])} | {cpu.fmt()} | "
                  f"{_fmt_num(wall)}s |")
    a("")
    a("## How it is measured")
    a("")
    a("See the docstring of `benchmarks/run.py`; what profiling found and what limits each "
      "remaining gap is in [performance.md](performance.md). The CNN is "
      + CNN_DESCRIPTION + ". The MLP and CNN use Adam (lr 1e-3) and batches of 128; "
      "scratchnet trains with `Sequential.fit`, which counts accuracy every batch, so the "
      "PyTorch loop tracks loss and accuracy every batch too. The CNN's epoch is "
      f"extrapolated from a run of {cfg['cnn_batches']} batches: the time of its first "
      f"{cfg.get('cnn_warm_batches', 0)} (fresh arrays' first page faults, a forked "
      "helper's start: costs a whole epoch pays once) plus the time of the others scaled "
      "to the epoch's remaining rows, for every peer alike. XOR uses plain gradient "
      "descent, learning rate 1, binary cross-entropy on a sigmoid output, the four rows as "
      "one batch. The MLP's second epoch is listed separately: by then Adam's moments of "
      "weights fed by always-blank pixels have decayed towards subnormal numbers. "
      "scratchnet's first Dense layer leaves out of its two products the pixels that are "
      "blank in every image of the batch (about a third; see `Dense` and performance.md); "
      "\"scratchnet, blank inputs multiplied too\" is the same run with "
      "`skip_zero_inputs = False`, every input multiplied as PyTorch does. Inputs are left "
      "out only while BLAS runs one thread, which is also the case in each of the two "
      "data-parallel processes. The shares of the matmul peak and the floors count every "
      "multiply-add of the dense network for every peer, including those that scratchnet "
      "leaves out.")
    a("")
    return "\n".join(L)


def print_summary(k: int, summary: dict, log) -> None:
    log("")
    log(f"== {k} thread(s) ==")
    rows = summary["rows"]
    # Columns as wide as their longest entry: a label cut short would hide what was timed.
    ww = max([len("work"), *(len(row.work) for row in rows)])
    pw = max([len("peer"), *(len(_label(row.peer)) for row in rows)])
    log(f"{'work':<{ww}} {'peer':<{pw}} {'seconds (min-max)':<24} ratio to PyTorch (min-max)")
    for row in rows:
        ratio = row.ratio.fmt("x") if row.ratio else "-"
        if row.met is not None:
            ratio += f"  target {row.target}: {'met' if row.met else 'NOT met'}"
        log(f"{row.work:<{ww}} {_label(row.peer):<{pw}} {row.seconds.fmt():<24} {ratio}")
    if "machine_peak" in summary:
        log(f"matmul peak {summary['machine_peak']:.0f} GFLOP/s")
        for work, _, floor, meds, _ in summary["floors"]:
            log(f"  floor {floor:.2f}s for {work}: " + ", ".join(
                f"{_label(p)} {t / floor:.2f}x" for p, t in meds.items()))
    for task, peer, peak_b, _, rel in summary["memory"]:
        if rel is not None:
            log(f"peak memory {task}/{peer}: {_mb(peak_b)} = {rel:.2f} x PyTorch's")


# == main ==
def _thread_counts(text: str | None, usable: int, quick: bool) -> list[int]:
    if text is None:
        if usable < 2:
            return [1]
        # One thread is the steady comparison on a shared machine; the full run adds two.
        return [1] if quick else [1, 2]
    try:
        counts = [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise SystemExit(f"--threads: expected numbers like 2 or 1,2, got {text!r}") from None
    if not counts or min(counts) < 1:
        raise SystemExit(f"--threads: expected positive numbers, got {text!r}")
    return counts


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true",
                    help="a short run (under a minute on an idle machine); prints, writes nothing")
    ap.add_argument("--rounds", type=int, default=None,
                    help="alternating rounds per task (default 5; --quick 3)")
    ap.add_argument("--threads", default=None,
                    help="threads of every peer, or a comma list run one after the other "
                         "(default 1,2; --quick 1)")
    ap.add_argument("--only", default=None,
                    help="comma list of tasks: matmul,xor,xor-seeds,mlp,cnn,process")
    ap.add_argument("--no-sklearn", action="store_true", help="leave scikit-learn out")
    ap.add_argument("--data-dir", type=Path, default=None,
                    help="folder with t10k-images-idx3-ubyte.gz (default: "
                         "../shared/data/mnist-t10k beside the repository)")
    ap.add_argument("--mlp-epochs", type=int, default=None,
                    help="epochs per MLP run, each timed (default 2: the second shows Adam's "
                         "subnormal moments; --quick 1)")
    ap.add_argument("--cnn-batches", type=int, default=None,
                    help="CNN batches per run, extrapolated to 60,000 rows (default 60; "
                         "--quick 8; 469 is a whole epoch); the first 5 (--quick 2) are "
                         "counted once, the others scaled")
    ap.add_argument("--seeds", type=int, default=1000, help="networks in the stacked XOR run")
    ap.add_argument("--seeds-steps", type=int, default=None,
                    help="steps of the stacked XOR run (default 10,000; --quick 1,000)")
    ap.add_argument("--mnist-epochs", type=int, default=3,
                    help="epochs of the whole-process `scratchnet mnist` comparison")
    ap.add_argument("--output", type=Path, default=None,
                    help="markdown report to write (default docs/benchmarks.md; --quick: none)")
    ap.add_argument("--no-write", action="store_true", help="print only")
    ap.add_argument("--json", type=Path, default=None, help="also write the raw results here")
    ap.add_argument("--from-json", type=Path, default=None, metavar="RAW",
                    help="measure nothing: write the report again from a --json file")
    return ap.parse_args(argv)


def _load_raw(path: Path) -> tuple:
    """What a ``--json`` file holds, back in the shapes the report needs."""
    raw = json.loads(path.read_text())
    runs = {
        int(k): {t: TaskResult(t, r["peers"], r["runs"], r["ready"], r["peak_rss"], r["order"])
                 for t, r in v.items()}
        for k, v in raw["runs"].items()
    }
    return raw, runs


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.from_json is not None:
        raw, runs = _load_raw(args.from_json)
        summaries = {k: summarize(runs[k], raw["config"]) for k in runs}
        text = render_markdown(raw["machine"], raw["config"], runs, summaries, raw["process"],
                               raw["command"], raw["rounds"], raw["data"], raw["seconds"])
        out_path = args.output or REPO / "docs" / "benchmarks.md"
        from scratchnet.fileio import atomic_write_text

        atomic_write_text(out_path, text)
        print(f"wrote {out_path} from {args.from_json}")
        return 0
    quick = args.quick
    rounds = args.rounds or (3 if quick else 5)
    if rounds < 1:
        raise SystemExit("--rounds must be at least 1")
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        usable = os.cpu_count() or 1
    counts = _thread_counts(args.threads, usable, quick)
    tasks = ["matmul", "xor", "xor-seeds", "mlp", "cnn", "process"]
    if args.only:
        wanted = [t.strip() for t in args.only.split(",") if t.strip()]
        unknown = sorted(set(wanted) - set(tasks))
        if unknown:
            raise SystemExit(f"unknown task(s) {unknown}; expected some of {tasks}")
        tasks = [t for t in tasks if t in wanted]
    data_dir = args.data_dir if args.data_dir is not None else DEFAULT_MNIST_DIR
    cfg = {
        "matmul_n": 1024 if quick else 2048,
        "matmul_reps": 3 if quick else 5,
        "xor_steps": 10_000,
        "seeds": args.seeds,
        "seeds_steps": args.seeds_steps or (1_000 if quick else 10_000),
        "mlp_rows": ROWS_PER_EPOCH,
        "mlp_epochs": args.mlp_epochs or (1 if quick else 2),
        "cnn_batches": args.cnn_batches or (8 if quick else 60),
        # batches whose time is counted once in the extrapolated epoch (see extrapolate)
        "cnn_warm_batches": 2 if quick else 5,
        "data_dir": str(data_dir) if has_mnist(data_dir) else None,
    }
    if importlib.util.find_spec("torch") is None:
        raise SystemExit("PyTorch is not installed: pip install 'scratchnet[bench]'")
    use_sklearn = not args.no_sklearn and not quick
    if use_sklearn and importlib.util.find_spec("sklearn") is None:
        print("scikit-learn is not installed: leaving it out", file=sys.stderr)
        use_sklearn = False
    sk = ["sklearn"] if use_sklearn else []
    peers = {
        "matmul": ["numpy", "torch"],
        "xor": ["scratchnet-fit", "scratchnet-stacked", "scratchnet-scalar", "torch", *sk],
        "xor-seeds": ["scratchnet-stacked", "torch-stacked"],
        # scratchnet-dense (every input multiplied, see Dense) is left out of --quick
        # with scikit-learn: the quick run stays under a minute.
        # scratchnet-threads runs only at two threads or more (run_task), where the
        # scratchnet lines share each batch between processes: the threaded way beside it.
        "mlp": ["scratchnet", "torch", "torch-inplace",
                *([] if quick else ["scratchnet-dense", "scratchnet-threads"]), *sk],
        # --quick (one thread) leaves out PyTorch's CNN with in-place ReLU, to stay under a
        # minute: at one thread its pooling-first way was the faster (benchmarks.md).
        "cnn": ["scratchnet", "torch", *([] if quick else ["torch-inplace", "scratchnet-threads"]),
                "torch-poolfirst"],
    }
    argv_list = list(argv if argv is not None else sys.argv[1:])
    if "--json" in argv_list:  # where the raw file went is nobody's business in the docs
        i = argv_list.index("--json")
        del argv_list[i : i + 2]
    command = shown(["python", "benchmarks/run.py", *argv_list])
    started = time.perf_counter()
    info = machine_info(counts)
    info["date"] = _dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")

    def log(msg: str) -> None:
        print(msg, flush=True)

    log(f"scratchnet benchmark: {info['cpu']}, threads per peer {counts}, {rounds} rounds"
        f"{' (quick)' if quick else ''}; load average {info['load_average_start']}")
    data_desc = describe_data(ROWS_PER_EPOCH, Path(cfg["data_dir"]) if cfg["data_dir"] else None)
    runs: dict[int, dict[str, TaskResult]] = {}
    process = None
    with tempfile.TemporaryDirectory(prefix="scratchnet-bench-") as tmp:
        if "xor" in tasks or "xor-seeds" in tasks:
            from scratchnet.lessons.xor_stacked import initial_weights

            w = initial_weights(list(range(max(cfg["seeds"], 1))))
            cfg["init_file"] = str(Path(tmp) / "xor_init.npz")
            np.savez(cfg["init_file"], W1=w.W1, b1=w.b1, W2=w.W2, b2=w.b2)
        for k in counts:
            runs[k] = {}
            for task in tasks:
                if task == "process":
                    continue
                log(f"{task}, {k} thread(s): {', '.join(peers[task])}")
                runs[k][task] = run_task(task, peers[task], cfg, k, rounds, log)
        if "process" in tasks:
            log("process: whole processes, start-up included")
            process = run_process(counts[0], rounds, 0 if quick else args.mnist_epochs,
                                  Path(cfg["data_dir"]) if cfg["data_dir"] else None, log)
    info["load_average_end"] = _loadavg()
    summaries = {k: summarize(runs[k], cfg) for k in counts}
    for k in counts:
        print_summary(k, summaries[k], log)
    if process:
        for name, ts in process["times"].items():
            log(f"process {name}: {Stat.of(ts).fmt()}")
        if process.get("mnist") != "ok":
            log(f"scratchnet mnist vs PyTorch: {process.get('mnist')}")
    elapsed = time.perf_counter() - started
    log(f"total {elapsed:.0f} s")
    out_path = args.output
    if out_path is None and not quick:
        out_path = REPO / "docs" / "benchmarks.md"
    from scratchnet.fileio import atomic_write_text

    if out_path is not None and not args.no_write:
        text = render_markdown(info, cfg, runs, summaries, process, command, rounds, data_desc,
                               elapsed)
        out_path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out_path, text)
        log(f"wrote {out_path}")
    if args.json is not None:
        raw = {"machine": info, "config": cfg, "command": command, "process": process,
               "rounds": rounds, "data": data_desc, "seconds": elapsed,
               "runs": {k: {t: {"peers": r.peers, "runs": r.runs, "ready": r.ready,
                                "peak_rss": r.peak_rss, "order": r.order}
                            for t, r in v.items()} for k, v in runs.items()}}
        atomic_write_text(args.json, json.dumps(raw, indent=1, default=str))
        log(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
