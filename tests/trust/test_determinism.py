"""The same seed gives bit-identical weights, histories and outputs: across fits in one
process, across processes (whatever the hash seed), and across save/load, with
dropout, shuffling, Adam and a schedule in play."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from _trust_helpers import same_weights, toy_data, toy_model

import scratchnet as sn


def fit_once(seed=7, dtype=np.float32, **kw):
    X, y = toy_data()
    model = toy_model(seed=seed)
    if dtype != np.float32:
        model.astype(dtype)
        X = X.astype(dtype)
    history = model.fit(X, y, epochs=4, batch_size=16, validation_split=0.2, verbose=0, **kw)
    return model, history, X


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fit_twice_gives_identical_weights_history_and_outputs(dtype):
    a, ha, X = fit_once(dtype=dtype)
    b, hb, _ = fit_once(dtype=dtype)
    assert same_weights(a, b)
    assert ha.history == hb.history
    assert a.predict(X).tobytes() == b.predict(X).tobytes()
    assert a.predict(X).dtype == dtype
    # Adam's moments too: a continued run would also agree.
    sa, sb = a.optimizer.state_dict(), b.optimizer.state_dict()
    assert sa["t"] == sb["t"] and all(
        sa["arrays"][k].tobytes() == sb["arrays"][k].tobytes() for k in sa["arrays"])


def test_different_seeds_differ_and_dropout_and_shuffling_use_the_seed():
    a, _, X = fit_once(seed=7)
    b, _, _ = fit_once(seed=8)
    assert not same_weights(a, b)
    # The generator drives dropout masks: the same seed draws the same masks.
    m1, m2 = toy_model(seed=3).train(), toy_model(seed=3).train()
    assert m1.forward(X).tobytes() == m2.forward(X).tobytes()
    assert m1.forward(X).tobytes() != m1.predict(X).tobytes()  # masks are active


def test_save_and_load_gives_identical_predictions(tmp_path):
    model, _, X = fit_once()
    path = tmp_path / "model.scn"
    model.save(path)
    loaded = sn.load_model(path)
    for method in ("predict", "predict_proba"):
        assert getattr(model, method)(X).tobytes() == getattr(loaded, method)(X).tobytes()
    assert np.array_equal(loaded.loss.predict_labels(loaded.predict(X)), model.predict_labels(X))
    # Saving the loaded model again gives the same arrays.
    loaded.save(tmp_path / "again.scn")
    again = sn.load_model(tmp_path / "again.scn")
    assert same_weights(again, model)


def test_loaded_weights_continue_training_exactly_like_the_original():
    """Weights copied through a file into a fresh model with the same optimiser state
    train on identically (state_dict / optimizer.state_dict round trip)."""
    X, y = toy_data()
    a = toy_model()
    a.fit(X, y, epochs=2, batch_size=16, verbose=0)
    b = toy_model(seed=99)
    b.load_state_dict(a.state_dict())
    b.optimizer.load_state_dict(a.optimizer.state_dict())
    b.optimizer.schedule.load_state_dict(a.optimizer.schedule.state_dict())
    b.rng.bit_generator.state = a.rng.bit_generator.state
    a.fit(X, y, epochs=2, batch_size=16, verbose=0)
    b.fit(X, y, epochs=2, batch_size=16, verbose=0)
    assert same_weights(a, b)


SCRIPT = textwrap.dedent("""
    import sys
    sys.path.insert(0, sys.argv[1])
    from test_determinism import trained_digest
    print(trained_digest())
""")


def trained_digest() -> str:
    X, y = toy_data()
    model = toy_model()
    model.fit(X, y, epochs=3, batch_size=16, validation_split=0.2, verbose=0)
    h = hashlib.sha256()
    for k, a in sorted(model.state_dict().items()):
        h.update(k.encode())
        h.update(a.tobytes())
    h.update(model.predict(X).tobytes())
    return h.hexdigest()


def test_separate_processes_agree_whatever_the_hash_seed():
    here = os.path.dirname(__file__)
    digests = set()
    for hash_seed in ("1", "2"):
        out = subprocess.run(
            [sys.executable, "-c", SCRIPT, here], capture_output=True, text=True, check=True,
            env={**os.environ, "PYTHONHASHSEED": hash_seed}, timeout=120,
        )
        digests.add(out.stdout.strip())
    assert digests == {trained_digest()}
