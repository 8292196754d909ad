"""A small training run for the kill-and-resume tests (run as ``python _train_script.py``).

Trains an MLP with dropout, Adam and a ReduceOnPlateau schedule, validation data and
EarlyStopping (state that a resume must restore) on synthetic data, writing
checkpoints; saves the final weights and history; prints ``LAST <sha256>`` (the
weights the last step left) and ``DONE <sha256>`` (the final weights, EarlyStopping's
best epoch).

Test-only hooks, set through the environment so the training code itself is the
library's, unchanged:

* ``SCN_TEST_STEP_DELAY`` (seconds): sleep after every optimiser step, so a run
  lasts long enough to be killed at chosen moments. Timing only; no effect on values.
* ``SCN_TEST_SLOW_WRITE_AT`` (n): make the n-th checkpoint write of this process
  pause half-way (``SCN_TEST_SLOW_WRITE_S`` seconds, default 1.0) with its
  temporary file on disk, so a test can kill the process in the middle of a write.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import sys
import time

import numpy as np

import scratchnet as sn
import scratchnet.io as snio
from scratchnet.fileio import atomic_write_text


def make_data(seed: int = 3):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(320, 12)).astype(np.float32)
    w = rng.normal(size=(12, 3))
    y = np.argmax(X @ w + 0.5 * rng.normal(size=(320, 3)), axis=1).astype(np.int64)
    return X, y


def build_model(seed: int = 11) -> sn.Sequential:
    model = sn.Sequential(
        [sn.Dense(12, 32), sn.ReLU(), sn.Dropout(0.25), sn.Dense(32, 16), sn.Tanh(),
         sn.Dropout(0.1), sn.Dense(16, 3)],
        seed=seed,
    )
    schedule = sn.ReduceOnPlateau(0.01, factor=0.5, patience=0, threshold=0.02)
    model.compile(loss="cross_entropy", optimizer=sn.Adam(lr=schedule))
    return model


def weights_digest(model: sn.Sequential) -> str:
    h = hashlib.sha256()
    for name, a in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def _install_slow_write(n: int, pause: float) -> None:
    """Wrap the archive writer's atomic file so the n-th write stops half-way."""
    real = snio.atomic_writer
    count = {"writes": 0}

    class SlowFile:
        def __init__(self, fh):
            self._fh, self._written = fh, 0

        def write(self, data):
            self._written += 1
            if self._written == 3:  # a few members in: header and some arrays on disk
                self._fh.flush()
                print("SLOW-WRITE", flush=True)
                time.sleep(pause)
            return self._fh.write(data)

        def __getattr__(self, name):
            return getattr(self._fh, name)

    @contextlib.contextmanager
    def slow_writer(path):
        count["writes"] += 1
        with real(path) as fh:
            yield SlowFile(fh) if count["writes"] == n else fh

    snio.atomic_writer = slow_writer


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--checkpoint-dir", required=True)
    parser.add_argument("--out", required=True, help="final weights (.scn); history beside it")
    parser.add_argument("--every", type=int, default=4)
    parser.add_argument("--keep", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--resume", action="store_true")
    args = parser.parse_args(argv)

    delay = float(os.environ.get("SCN_TEST_STEP_DELAY", "0"))
    slow_at = int(os.environ.get("SCN_TEST_SLOW_WRITE_AT", "0"))
    if slow_at:
        _install_slow_write(slow_at, float(os.environ.get("SCN_TEST_SLOW_WRITE_S", "1.0")))

    X, y = make_data()
    model = build_model()
    last: dict[str, str] = {}
    callbacks = [
        # Runs before EarlyStopping puts the best epoch's weights back: the weights the
        # last optimiser step left.
        sn.LambdaCallback(on_train_end=lambda logs: last.update(digest=weights_digest(model))),
        sn.EarlyStopping(monitor="val_loss", patience=50),
        sn.LambdaCallback(
            on_train_begin=lambda logs: print("TRAINING", flush=True),
            on_batch_end=lambda step, logs: time.sleep(delay) if delay else None,
        ),
    ]
    history = model.fit(
        X[:256], y[:256], epochs=args.epochs, batch_size=16, validation_data=(X[256:], y[256:]),
        callbacks=callbacks, verbose=0, checkpoint_dir=args.checkpoint_dir,
        checkpoint_every=args.every, keep_checkpoints=args.keep, resume=args.resume,
    )
    model.save(args.out)
    atomic_write_text(args.out + ".history.json", json.dumps(history.history))
    print("LAST", last["digest"], flush=True)
    print("DONE", weights_digest(model), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
