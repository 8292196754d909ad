"""Property tests: whatever bytes the model and checkpoint loaders get, only documented
errors escape (``ScratchnetError`` subclasses naming the file; ``FileNotFoundError``
only for a missing file), nothing is executed and nothing large is allocated.

``scripts/fuzz_loaders.py --loaders model checkpoint`` (or
``scripts/fuzz_model_loader.py``) runs the same idea, with format-aware mutators,
for 100,000+ cases; a small sample of that driver runs here too.
"""

from __future__ import annotations

import io
import json
import sys
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
from _trust_helpers import toy_data, toy_model
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import scratchnet as sn
from scratchnet.checkpoint import load_checkpoint
from scratchnet.errors import ModelFileError, ScratchnetError

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"
SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])


def _model_bytes() -> bytes:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        model = sn.Sequential([sn.Dense(3, 4), sn.Tanh(), sn.Dropout(0.2), sn.Dense(4, 2)],
                              seed=0)
        model.compile(loss="cross_entropy", optimizer="adam")
        model.save(Path(tmp) / "m.scn")
        return (Path(tmp) / "m.scn").read_bytes()


def _checkpoint_bytes() -> bytes:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        X, y = toy_data(40)
        model = toy_model()

        def stop(step, logs):
            if step == 4:
                raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            model.fit(X, y, epochs=2, batch_size=8, verbose=0, checkpoint_dir=tmp,
                      checkpoint_every=3, callbacks=[sn.EarlyStopping(monitor="loss"),
                                                     sn.LambdaCallback(on_batch_end=stop)])
        return (Path(tmp) / "ckpt-00000003.scn").read_bytes()


VALID = {"model": _model_bytes(), "checkpoint": _checkpoint_bytes()}
LOAD = {"model": sn.load_model, "checkpoint": load_checkpoint}


def check_only_documented_errors(kind: str, path: Path, data: bytes) -> None:
    path.unlink(missing_ok=True)
    path.write_bytes(data)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a numpy warning would be a bug too
        try:
            result = LOAD[kind](path)
        except ScratchnetError as exc:
            assert isinstance(exc, ModelFileError), type(exc)
            assert str(path) in str(exc), str(exc)
            return
    if kind == "model":
        assert isinstance(result, sn.Sequential)
    else:
        result.build_model()


KINDS = pytest.mark.parametrize("kind", ["model", "checkpoint"])


@KINDS
@SETTINGS
@given(data=st.binary(max_size=4096))
def test_random_bytes(tmp_path, kind, data):
    check_only_documented_errors(kind, tmp_path / "f.scn", data)


@KINDS
@SETTINGS
@given(data=st.binary(max_size=256))
def test_random_bytes_after_a_zip_signature(tmp_path, kind, data):
    check_only_documented_errors(kind, tmp_path / "f.scn", b"PK\x03\x04" + data)


@KINDS
@SETTINGS
@given(flips=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 7)),
                      min_size=1, max_size=8))
def test_bit_flips(tmp_path, kind, flips):
    blob = bytearray(VALID[kind])
    for where, bit in flips:
        blob[int(where * len(blob))] ^= 1 << bit
    check_only_documented_errors(kind, tmp_path / "f.scn", bytes(blob))


@KINDS
@SETTINGS
@given(fraction=st.floats(0, 1, exclude_max=True))
def test_truncations(tmp_path, kind, fraction):
    data = VALID[kind]
    check_only_documented_errors(kind, tmp_path / "f.scn", data[: int(fraction * len(data))])


@KINDS
@SETTINGS
@given(shape=st.lists(st.integers(-3, 2**45), max_size=9), which=st.integers(0, 100))
def test_wrong_declared_sizes(tmp_path, kind, shape, which):
    """Rewrite one array's declared shape (zip kept valid): refused before allocating."""
    with zipfile.ZipFile(io.BytesIO(VALID[kind])) as zin:
        header = json.loads(zin.read("scratchnet.json"))
        members = {n: zin.read(n) for n in zin.namelist() if n != "scratchnet.json"}
    names = sorted(header["arrays"])
    header["arrays"][names[which % len(names)]]["shape"] = shape
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zout:
        zout.writestr("scratchnet.json", json.dumps(header))
        for n, b in members.items():
            zout.writestr(n, b)
    check_only_documented_errors(kind, tmp_path / "f.scn", buf.getvalue())


@KINDS
def test_missing_file_is_file_not_found(tmp_path, kind):
    with pytest.raises(FileNotFoundError):
        LOAD[kind](tmp_path / "missing.scn")


@pytest.mark.usefixtures("no_fsync")
def test_a_sample_of_the_fuzz_driver_finds_nothing():
    """600 cases of ``scripts/fuzz_loaders.py`` on the model and checkpoint loaders,
    format-aware mutators included (the full run is 100,000+ cases)."""
    sys.path.insert(0, str(SCRIPTS))
    try:
        import fuzz_loaders
    finally:
        sys.path.remove(str(SCRIPTS))
    stats = fuzz_loaders.fuzz(600, seed=2024, names=["model", "checkpoint"], slow=5.0)
    for name, s in stats.items():
        assert s.cases == 300 and s.rejected > 100, name
        assert [f["problem"] for f in s.findings] == [], name


def test_loaded_checkpoint_weights_equal_the_saved_ones(tmp_path):
    path = tmp_path / "c.scn"
    path.write_bytes(VALID["checkpoint"])
    ckpt = load_checkpoint(path)
    model = ckpt.build_model()
    for k, a in ckpt.model_state.items():
        assert np.array_equal(model.state_dict()[k], a)
