"""One peer doing one task, in its own process, on command.

Started by ``run.py`` as ``python _worker.py --task T --peer P --threads K --config JSON``
with every thread-pool variable (OMP/OpenBLAS/MKL_NUM_THREADS...) already set to K in
its environment, so the pools are sized before NumPy or PyTorch is imported; PyTorch
also gets ``torch.set_num_threads(K)``. The sizes actually in force are read back
(threadpoolctl, ``torch.get_num_threads()``) and reported.

Protocol: one JSON object per line on the original stdout (library output is sent to
stderr). After setup it says ``ready``; then it reads commands from stdin: ``warmup``,
``run`` (one timed run; answers ``result``) and ``quit`` (answers ``bye`` with the
process's peak resident memory). Only one worker runs at a time: the orchestrator
waits for each answer before sending the next command to anyone.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import time
import traceback


def _thread_report(threads: int) -> dict:
    info: dict = {"requested": threads}
    try:
        from threadpoolctl import threadpool_info

        info["pools"] = [
            {"api": p.get("internal_api"), "threads": p.get("num_threads"),
             "version": p.get("version")}
            for p in threadpool_info()
        ]
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        info["pools"] = None
    if "torch" in sys.modules:
        torch = sys.modules["torch"]
        info["torch_intra_op"] = torch.get_num_threads()
    if "scratchnet" in sys.modules:
        from scratchnet.parallel import get_num_threads

        info["scratchnet_workers"] = get_num_threads()
    return info


def _versions(libraries) -> dict:
    out = {}
    for name in libraries:
        mod = sys.modules.get(name) or __import__(name)
        out[name] = getattr(mod, "__version__", "?")
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--task", required=True)
    ap.add_argument("--peer", required=True)
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--config", required=True)
    args = ap.parse_args()

    # Keep the protocol channel clean: anything a library prints goes to stderr.
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr

    def say(**msg):
        proto.write(json.dumps(msg) + "\n")
        proto.flush()

    try:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import _common
        import _peers

        cfg = json.loads(args.config)
        if args.peer.startswith("torch"):
            import torch

            torch.set_num_threads(args.threads)
        t0 = time.perf_counter()
        work = _peers.setup(args.task, args.peer, cfg)
        say(event="ready", setup_seconds=time.perf_counter() - t0,
            rss_after_setup=_common.peak_rss_bytes(), threads=_thread_report(args.threads),
            versions=_versions(work.libraries), pid=os.getpid())
        for line in sys.stdin:
            cmd = line.strip()
            if cmd == "warmup":
                work.warmup()
                say(event="warm", peak_rss=_common.peak_rss_bytes())
            elif cmd == "run":
                gc.collect()
                c0 = _common.cpu_seconds()
                res = work.run()
                res["cpu_seconds"] = _common.cpu_seconds() - c0
                say(event="result", **res)
            elif cmd == "quit":
                break
            else:
                say(event="error", message=f"unknown command {cmd!r}")
        say(event="bye", peak_rss=_common.peak_rss_bytes())
        return 0
    except BaseException as exc:  # report, then fail: the orchestrator shows the message
        say(event="error", message=f"{type(exc).__name__}: {exc}",
            traceback=traceback.format_exc())
        return 1


if __name__ == "__main__":
    sys.exit(main())
