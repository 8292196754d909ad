"""Kill a real training process with SIGKILL at many moments, resume it, and demand
final weights bit-identical to a run that was never interrupted.

Each scenario runs ``_train_script.py`` (MLP + dropout + Adam + ReduceOnPlateau +
EarlyStopping, checkpoint every 4 steps, keep 3) in a subprocess and kills it:

* before any checkpoint exists (resume starts afresh),
* just after the first checkpoint appears,
* in the middle of a checkpoint write (the temporary file is on disk at the kill),
* after several checkpoints (old ones pruned),
* near the end,
* at random moments (random delays, random steps), twice in a row in one scenario.

The scenarios run concurrently to keep the wall time down; the kill moments are
chosen by watching the process's output and checkpoint folder, not by the clock,
except the random ones.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from scratchnet import load_model
from scratchnet.checkpoint import list_checkpoints

SCRIPT = Path(__file__).with_name("_train_script.py")
STEP_DELAY = "0.004"  # 160 steps: about 0.7 s of training per full run
EVERY, KEEP, TOTAL_STEPS = 4, 3, 160
WAIT_LIMIT = 60.0

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX SIGKILL semantics")


class Run:
    """One subprocess of the training script."""

    def __init__(self, workdir: Path, resume: bool = False, env: dict | None = None):
        self.workdir = workdir
        self.ckpt_dir = workdir / "ckpt"
        cmd = [sys.executable, str(SCRIPT), "--checkpoint-dir", str(self.ckpt_dir),
               "--out", str(workdir / "final.scn"), "--every", str(EVERY), "--keep", str(KEEP)]
        if resume:
            cmd.append("--resume")
        full_env = {**os.environ, "SCN_TEST_STEP_DELAY": STEP_DELAY, **(env or {})}
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, env=full_env)
        self.started = time.monotonic()

    def wait_for_line(self, prefix: str) -> None:
        for line in self.proc.stdout:
            if line.startswith(prefix):
                return
        raise AssertionError(f"process ended before printing {prefix!r}: {self.proc.stderr.read()}")

    def wait_until(self, condition) -> None:
        deadline = time.monotonic() + WAIT_LIMIT
        while not condition():
            if self.proc.poll() is not None and not condition():
                raise AssertionError(f"process ended first: {self.proc.stderr.read()}")
            if time.monotonic() > deadline:
                raise AssertionError("timed out waiting for the kill moment")
            time.sleep(0.002)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=WAIT_LIMIT)
        self.proc.stdout.close()
        self.proc.stderr.close()

    def finish(self) -> dict[str, str]:
        out, err = self.proc.communicate(timeout=WAIT_LIMIT)
        assert self.proc.returncode == 0, err
        return dict(line.split(" ", 1) for line in out.splitlines() if " " in line)


def _steps(folder: Path) -> list[int]:
    return [s for s, _ in list_checkpoints(folder)]


def _temp_files(folder: Path) -> list[Path]:
    return [p for p in folder.glob(".ckpt-*.tmp")] if folder.is_dir() else []


def _result(workdir: Path, printed: dict[str, str]) -> dict:
    final = workdir / "final.scn"
    return {
        "state": load_model(final).state_dict(),
        "history": json.loads(Path(str(final) + ".history.json").read_text()),
        "done": printed["DONE"].strip(),
        "last": printed["LAST"].strip(),
    }


# -- the kill moments ----------------------------------------------------------------------
def kill_before_first_checkpoint(run: Run) -> str:
    run.wait_for_line("TRAINING")
    run.kill()
    assert _steps(run.ckpt_dir) == []
    return "before any checkpoint"


def kill_after_first_checkpoint(run: Run) -> str:
    run.wait_until(lambda: _steps(run.ckpt_dir))
    run.kill()
    return f"after the first checkpoint (newest at kill: {_steps(run.ckpt_dir)[-1]})"


def kill_mid_pruned(run: Run) -> str:
    run.wait_until(lambda: any(s >= 64 for s in _steps(run.ckpt_dir)))
    run.kill()
    steps = _steps(run.ckpt_dir)
    # Older ones were pruned (a kill between a write and its pruning leaves one extra).
    assert len(steps) <= KEEP + 1 and steps[0] > EVERY
    return f"after pruning (checkpoints {steps})"


def kill_near_end(run: Run) -> str:
    run.wait_until(lambda: any(s >= TOTAL_STEPS - 12 for s in _steps(run.ckpt_dir)))
    run.kill()
    return f"near the end (newest {_steps(run.ckpt_dir)[-1]})"


def kill_random(seed: int):
    """Kill a random 0-0.6 s after training started (it lasts about 0.7 s plus writes)."""

    def kill(run: Run) -> str:
        delay = random.Random(seed).uniform(0.0, 0.6)
        run.wait_for_line("TRAINING")
        time.sleep(delay)
        assert run.proc.poll() is None, "the run ended before the random kill"
        run.kill()
        steps = _steps(run.ckpt_dir)
        return f"random {delay:.2f}s into training (newest {steps[-1] if steps else None})"

    return kill


def kill_random_step(seed: int):
    """Kill a random 0-20 ms after a checkpoint of a random step ahead has appeared (for a
    resumed run, whose remaining time is unknown in advance)."""

    def kill(run: Run) -> str:
        rnd = random.Random(seed)
        newest = max(_steps(run.ckpt_dir), default=0)
        target = rnd.randrange(newest + EVERY, TOTAL_STEPS - EVERY, EVERY)
        run.wait_until(lambda: any(s >= target for s in _steps(run.ckpt_dir)))
        time.sleep(rnd.uniform(0.0, 0.02))
        run.kill()
        return f"random step {target} (newest {_steps(run.ckpt_dir)[-1]})"

    return kill


SLOW_WRITE_ENV = {"SCN_TEST_SLOW_WRITE_AT": "5", "SCN_TEST_SLOW_WRITE_S": "1.0"}


def kill_during_write(run: Run) -> str:
    run.wait_for_line("SLOW-WRITE")  # the 5th checkpoint (step 20) is half written
    assert _temp_files(run.ckpt_dir), "the slow write should have its temporary file on disk"
    run.kill()
    temps = _temp_files(run.ckpt_dir)
    assert temps, "killed mid-write: the temporary file must still be there"
    assert temps[0].stat().st_size > 0
    # The checkpoint being written is not visible under its final name.
    assert 20 not in _steps(run.ckpt_dir) and _steps(run.ckpt_dir)[-1] == 16
    return f"during a checkpoint write ({temps[0].name}, {temps[0].stat().st_size} bytes)"


SCENARIOS = [
    ("before-first", [kill_before_first_checkpoint], None),
    ("after-first", [kill_after_first_checkpoint], None),
    ("mid-write", [kill_during_write], SLOW_WRITE_ENV),
    ("pruned", [kill_mid_pruned], None),
    ("near-end", [kill_near_end], None),
    ("random-a", [kill_random(1)], None),
    ("random-c", [kill_random_step(4)], None),
    ("random-b-twice", [kill_random(2), kill_random_step(3)], None),
]


def _scenario(tmp: Path, name: str, kills, env) -> dict:
    workdir = tmp / name
    workdir.mkdir()
    notes = []
    for i, kill in enumerate(kills):
        run = Run(workdir, resume=i > 0, env=env if i == 0 else None)
        notes.append(kill(run))
    printed = Run(workdir, resume=True).finish()
    # The resumed run cleaned up after the killed write and kept only the newest K.
    assert _temp_files(workdir / "ckpt") == []
    assert _steps(workdir / "ckpt")[-1] == TOTAL_STEPS
    assert len(_steps(workdir / "ckpt")) <= KEEP
    return {"notes": notes, **_result(workdir, printed)}


def _uncheckpointed_digest() -> str:
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        import _train_script as script
    finally:
        sys.path.remove(str(SCRIPT.parent))
    X, y = script.make_data()
    model = script.build_model()
    sn = script.sn
    callbacks = [sn.LambdaCallback(), sn.EarlyStopping(monitor="val_loss", patience=50),
                 sn.LambdaCallback()]
    model.fit(X[:256], y[:256], epochs=10, batch_size=16, validation_data=(X[256:], y[256:]),
              callbacks=callbacks, verbose=0)
    return script.weights_digest(model)


@pytest.mark.slow
def test_sigkill_at_many_moments_then_resume_is_bit_identical(tmp_path):
    reference_dir = tmp_path / "reference"
    reference_dir.mkdir()
    with ThreadPoolExecutor(max_workers=4) as pool:
        ref_future = pool.submit(lambda: _result(reference_dir, Run(reference_dir).finish()))
        futures = {
            name: pool.submit(_scenario, tmp_path, name, kills, env)
            for name, kills, env in SCENARIOS
        }
        reference = ref_future.result()
        results = {name: f.result() for name, f in futures.items()}

    assert reference["history"]["lr"][-1] < reference["history"]["lr"][0]  # the schedule acted
    # Checkpointing itself changes nothing: the same training in this process, without
    # any checkpoint, ends with the same weights.
    assert reference["done"] == _uncheckpointed_digest()
    for name, res in results.items():
        assert res["done"] == reference["done"], (name, res["notes"])
        assert res["last"] == reference["last"], (name, res["notes"])
        for key, ref_array in reference["state"].items():
            got = res["state"][key]
            assert got.dtype == ref_array.dtype == np.float32
            assert got.tobytes() == ref_array.tobytes(), (name, key, res["notes"])
        assert res["history"] == reference["history"], (name, res["notes"])
    kill_points = sum(len(r["notes"]) for r in results.values())
    assert kill_points >= 9
    print("kill points:", {name: r["notes"] for name, r in results.items()})
