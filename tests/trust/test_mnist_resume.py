"""``scratchnet mnist --checkpoint-every N`` killed with SIGKILL, then ``--resume``, ends with
the same weights, bit for bit, as a run that was never interrupted."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import scratchnet as sn

MNIST = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "mnist-t10k"
pytestmark = pytest.mark.skipif(not (MNIST / "t10k-images-idx3-ubyte.gz").exists(),
                                reason="the real MNIST t10k files are not here")


def _command(out: Path) -> list[str]:
    return [sys.executable, "-m", "scratchnet.cli", "mnist", "--data-dir", str(MNIST),
            "--train-limit", "600", "--test-limit", "200", "--epochs", "2",
            "--checkpoint-every", "3", "--quiet", "--out", str(out)]


def test_killed_mnist_run_resumes_to_identical_weights(tmp_path):
    subprocess.run(_command(tmp_path / "ref"), check=True, capture_output=True, timeout=300)

    run = tmp_path / "killed"
    proc = subprocess.Popen(_command(run), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ckpts = run / "checkpoints"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if ckpts.is_dir() and len([p for p in ckpts.iterdir() if p.suffix == ".scn"]) >= 2:
            break
        time.sleep(0.005)
    if proc.poll() is not None:
        pytest.skip("the run finished before it could be killed (machine too fast)")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (run / "model.npz").exists()  # really killed before the end

    resumed = subprocess.run(_command(run) + ["--resume"], capture_output=True, text=True,
                             timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    ref = sn.load_model(tmp_path / "ref" / "model.npz").state_dict()
    got = sn.load_model(run / "model.npz").state_dict()
    assert ref.keys() == got.keys()
    for key in ref:
        assert np.array_equal(ref[key], got[key]), key
