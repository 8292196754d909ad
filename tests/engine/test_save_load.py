"""Saving and loading: exact round trips, and hostile or damaged files refused safely.

No test here ever unpickles anything. Payloads that *would* run code when unpickled
(their ``__reduce__`` creates a marker file) are handed to the loader, and the test
asserts both the error and that the marker file was never created.
"""

from __future__ import annotations

import io
import json
import pickle
import pickletools
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest

import scratchnet
from scratchnet import Dense, Dropout, ReLU, Sequential, Sigmoid, Softmax, load_model
from scratchnet.errors import ModelFileError
from scratchnet.io import read_archive, write_archive


class MarkerPayload:
    """Unpickling this would create ``path`` (``pathlib.Path.touch``): proof of execution."""

    def __init__(self, path: Path):
        self.path = path

    def __reduce__(self):
        return (Path.touch, (self.path,))


def _payload_bytes(marker: Path) -> bytes:
    data = pickle.dumps(MarkerPayload(marker), protocol=4)
    # Positive control without unpickling: the stream really carries a call (REDUCE).
    ops = {op.name for op, _, _ in pickletools.genops(data)}
    assert "REDUCE" in ops and "touch" in data.decode("latin-1")
    return data


def make_model(dtype=np.float32, seed=0) -> Sequential:
    model = Sequential(
        [Dense(4, 8, dtype=dtype), ReLU(), Dropout(0.3), Dense(8, 3, dtype=dtype), Softmax()],
        seed=seed, name="round-trip",
    )
    model.compile(loss="mse", optimizer="sgd")
    return model


def saved_model(tmp_path: Path, dtype=np.float32) -> Path:
    path = tmp_path / "model.snet"
    make_model(dtype).save(path)
    return path


def _rewrite_header(src: Path, dst: Path, edit) -> None:
    """Copy an archive, passing its JSON header through ``edit`` (members copied as is)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_STORED) as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename == "scratchnet.json":
                header = json.loads(data)
                edit(header)
                data = json.dumps(header).encode()
            zout.writestr(info.filename, data)


# -- round trips -------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_round_trip_gives_identical_predictions(tmp_path, dtype):
    model = make_model(dtype)
    X = np.random.default_rng(1).standard_normal((20, 4)).astype(dtype)
    path = tmp_path / "m.snet"
    model.save(path)
    loaded = load_model(path)
    assert isinstance(loaded, Sequential)
    assert [type(layer).__name__ for layer in loaded.layers] == [
        "Dense", "ReLU", "Dropout", "Dense", "Softmax"]
    assert loaded.layers[2].p == 0.3
    assert loaded.name == "round-trip"
    assert loaded.loss is not None and loaded.loss.name == "mse"
    assert loaded.dtype == np.dtype(dtype)
    a, b = model.predict(X), loaded.predict(X)
    assert a.dtype == b.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(a, b)
    for k, v in model.state_dict().items():
        assert loaded.state_dict()[k].dtype == v.dtype
        np.testing.assert_array_equal(loaded.state_dict()[k], v)
    # Loaded models are ready for inference.
    assert not any(layer.training for layer in loaded.layers)


def test_state_dict_round_trip_into_a_fresh_model():
    model, other = make_model(seed=0), make_model(seed=99)
    X = np.random.default_rng(2).standard_normal((5, 4)).astype(np.float32)
    assert not np.array_equal(model.predict(X), other.predict(X))
    state = model.state_dict()
    assert sorted(state) == ["0.W", "0.b", "3.W", "3.b"]
    other.load_state_dict(state)
    np.testing.assert_array_equal(model.predict(X), other.predict(X))
    # state_dict holds copies: changing the model later does not change it.
    model.layers[0].W[...] = 0
    assert np.any(state["0.W"] != 0)


def test_file_is_a_zip_with_a_json_header(tmp_path):
    path = saved_model(tmp_path)
    assert path.read_bytes()[:4] == b"PK\x03\x04"
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        header = json.loads(zf.read("scratchnet.json"))
        for info in zf.infolist():
            assert info.compress_type == zipfile.ZIP_STORED
    assert names[0] == "scratchnet.json"
    assert sorted(names[1:]) == sorted(f"state/{k}.npy" for k in ["0.W", "0.b", "3.W", "3.b"])
    assert header["format"] == "scratchnet" and header["kind"] == "model"
    assert header["version"] == 1
    assert header["arrays"]["state/0.W"] == {"shape": [4, 8], "dtype": "float32"}
    types = [entry["type"] for entry in header["meta"]["model"]["layers"]]
    assert types == ["Dense", "ReLU", "Dropout", "Dense", "Softmax"]
    meta, arrays, _ = read_archive(path, "model")
    assert arrays["state/3.b"].shape == (3,)


def test_save_is_atomic_and_leaves_no_temporary_files(tmp_path):
    path = saved_model(tmp_path)
    make_model(seed=5).save(path)  # overwrite
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.snet"]
    loaded = load_model(path)
    np.testing.assert_array_equal(loaded.layers[0].W, make_model(seed=5).layers[0].W)


# -- pickle is never executed -----------------------------------------------------------------
def test_npz_with_a_pickled_object_array_is_refused(tmp_path):
    marker = tmp_path / "executed"
    path = tmp_path / "evil.npz"
    evil = np.empty(1, dtype=object)
    evil[0] = MarkerPayload(marker)
    np.savez(path, W=evil)  # numpy pickles object arrays
    assert b"touch" in path.read_bytes()
    with pytest.raises(ModelFileError, match=r"evil\.npz: not a scratchnet model file"):
        load_model(path)
    assert not marker.exists()


def test_raw_pickle_file_is_refused(tmp_path):
    marker = tmp_path / "executed"
    path = tmp_path / "evil.pkl"
    path.write_bytes(_payload_bytes(marker))
    with pytest.raises(ModelFileError, match=r"evil\.pkl: looks like a Python pickle; "
                                             r"scratchnet never unpickles"):
        load_model(path)
    assert not marker.exists()


def _archive_with_member(path: Path, declared: dict, member_bytes: bytes) -> None:
    header = {"format": "scratchnet", "kind": "model", "version": 1,
              "meta": {"model": {"layers": [{"type": "Dense", "config": {"n_in": 2, "n_out": 2}}]}},
              "arrays": {"state/0.W": declared}}
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("scratchnet.json", json.dumps(header))
        zf.writestr("state/0.W.npy", member_bytes)


def _object_npy(marker: Path) -> bytes:
    buf = io.BytesIO()
    evil = np.empty((2, 2), dtype=object)
    evil[0, 0] = MarkerPayload(marker)
    np.save(buf, evil, allow_pickle=True)
    return buf.getvalue()


def test_archive_with_an_object_npy_member_is_refused(tmp_path):
    marker = tmp_path / "executed"
    path = tmp_path / "object-member.snet"
    # The header claims float32; the member says object.
    _archive_with_member(path, {"shape": [2, 2], "dtype": "float32"}, _object_npy(marker))
    with pytest.raises(ModelFileError, match=r"object-member\.snet: array 'state/0\.W' is "
                                             r"object \(2, 2\) in the archive but declared"):
        load_model(path)
    assert not marker.exists()


def test_archive_declaring_an_object_dtype_is_refused(tmp_path):
    marker = tmp_path / "executed"
    path = tmp_path / "object-declared.snet"
    _archive_with_member(path, {"shape": [2, 2], "dtype": "object"}, _object_npy(marker))
    with pytest.raises(ModelFileError, match=r"object-declared\.snet: array 'state/0\.W' has "
                                             r"dtype 'object'; only numeric dtypes"):
        load_model(path)
    assert not marker.exists()


def test_unknown_layer_type_is_refused(tmp_path):
    path = tmp_path / "system.snet"
    write_archive(path, "model", {"model": {"layers": [{"type": "os.system",
                                                        "config": {"command": "touch x"}}]}}, {})
    with pytest.raises(ModelFileError, match=r"system\.snet: layer 0 has unknown type "
                                             r"'os\.system'; scratchnet only builds its own"):
        load_model(path)
    assert not (tmp_path / "x").exists()


def test_layer_config_must_be_plain_json(tmp_path):
    path = tmp_path / "cfg.snet"
    write_archive(path, "model", {"model": {"layers": [
        {"type": "Dense", "config": {"n_in": 2, "n_out": "lots"}}]}}, {})
    with pytest.raises(ModelFileError, match=r"cfg\.snet: layer 0 \(Dense\) has an invalid "
                                             r"config"):
        load_model(path)


def test_absurd_declared_shape_is_refused_before_allocation(tmp_path):
    path = tmp_path / "huge.snet"
    header = {"format": "scratchnet", "kind": "model", "version": 1,
              "meta": {"model": {"layers": [
                  {"type": "Dense", "config": {"n_in": 10**6, "n_out": 10**6}}]}},
              "arrays": {"state/0.W": {"shape": [10**6, 10**6], "dtype": "float32"},
                         "state/0.b": {"shape": [10**6], "dtype": "float32"}}}
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("scratchnet.json", json.dumps(header))
        zf.writestr("state/0.W.npy", b"\x93NUMPY")
        zf.writestr("state/0.b.npy", b"\x93NUMPY")
    assert path.stat().st_size < 2000
    tracemalloc.start()
    try:
        with pytest.raises(ModelFileError, match=r"huge\.snet: header declares "
                                                 r"4,000,004,000,000 bytes of arrays but the "
                                                 r"file has only"):
            load_model(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 10 * 2**20  # nothing near 4 TB (or even 4 MB) was ever allocated


def test_declared_shape_must_match_the_layer(tmp_path):
    # Consistent sizes, but the arrays do not fit the layer the header describes.
    good = saved_model(tmp_path)
    bad = tmp_path / "mismatch.snet"

    def edit(header):
        header["meta"]["model"]["layers"][0]["config"]["n_out"] = 9

    _rewrite_header(good, bad, edit)
    with pytest.raises(ModelFileError, match=r"mismatch\.snet: layer 0 \(Dense\) needs arrays"):
        load_model(bad)


# -- damaged files ----------------------------------------------------------------------------
@pytest.mark.parametrize("fraction", [0.0005, 0.01, 0.1, 0.33, 0.5, 0.8, 0.97, 0.999])
def test_truncated_file_gives_a_clear_error(tmp_path, fraction):
    data = saved_model(tmp_path).read_bytes()
    cut = max(5, int(len(data) * fraction))
    path = tmp_path / "cut.snet"
    path.write_bytes(data[:cut])
    with pytest.raises(ModelFileError, match=r"cut\.snet: ") as info:
        load_model(path)
    assert str(path) in str(info.value)


def test_single_byte_corruptions_are_refused_or_harmless(tmp_path):
    """Flip bytes throughout a small model file: the loader either refuses with
    ModelFileError naming the file, or (bytes no reader looks at, such as zip timestamps)
    loads the very same weights. Never another exception, never different weights."""
    src = tmp_path / "small.snet"
    Sequential([Dense(3, 2), Softmax()], seed=0).save(src)
    data = src.read_bytes()
    reference = load_model(src).state_dict()
    path = tmp_path / "flipped.snet"
    positions = range(0, len(data), 3)  # every third byte: all structures, fast enough
    refused = 0
    for i in positions:
        damaged = bytearray(data)
        damaged[i] ^= 0xFF
        path.write_bytes(bytes(damaged))
        try:
            state = load_model(path).state_dict()
        except ModelFileError as exc:
            assert str(path) in str(exc)
            refused += 1
            continue
        for k, v in reference.items():
            np.testing.assert_array_equal(state[k], v, err_msg=f"byte {i} changed {k} silently")
    assert refused > 0.8 * len(positions)


def test_corrupted_array_bytes_fail_the_checksum(tmp_path):
    src = saved_model(tmp_path)
    data = bytearray(src.read_bytes())
    with zipfile.ZipFile(src) as zf:
        info = zf.getinfo("state/0.W.npy")
    # Local header (30 bytes + name + extra), then the .npy header (128 bytes), then data.
    start = info.header_offset + 30 + len(info.filename) + len(info.extra) + 128
    data[start + 3] ^= 0x01  # one bit of one float
    path = tmp_path / "bitflip.snet"
    path.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match=r"bitflip\.snet: corrupted or truncated model file "
                                             r"\(BadZipFile: Bad CRC-32"):
        load_model(path)


def test_future_format_version_is_refused(tmp_path):
    good = saved_model(tmp_path)
    future = tmp_path / "future.snet"
    _rewrite_header(good, future, lambda h: h.update(version=99))
    with pytest.raises(ModelFileError, match=r"future\.snet: written by a newer scratchnet "
                                             r"\(file format version 99; this version .* reads "
                                             r"up to 1\); upgrade scratchnet"):
        load_model(future)


def test_wrong_kind_and_bad_header_are_refused(tmp_path):
    good = saved_model(tmp_path)
    ckpt = tmp_path / "kind.snet"
    _rewrite_header(good, ckpt, lambda h: h.update(kind="checkpoint"))
    with pytest.raises(ModelFileError, match=r"kind\.snet: is a scratchnet 'checkpoint' file, "
                                             r"expected a model file"):
        load_model(ckpt)
    notjson = tmp_path / "notjson.snet"
    with zipfile.ZipFile(notjson, "w") as zf:
        zf.writestr("scratchnet.json", "{not json")
    with pytest.raises(ModelFileError, match=r"notjson\.snet: header is not valid JSON"):
        load_model(notjson)


def test_not_a_scratchnet_file(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("hello, I am not a model\n")
    with pytest.raises(ModelFileError, match=r"notes\.txt: not a scratchnet model file "
                                             r"\(expected a zip archive"):
        load_model(text)
    other_zip = tmp_path / "other.zip"
    with zipfile.ZipFile(other_zip, "w") as zf:
        zf.writestr("readme.txt", "zip, but not ours")
    with pytest.raises(ModelFileError, match=r"other\.zip: not a scratchnet model file "
                                             r"\(no scratchnet\.json inside\)"):
        load_model(other_zip)
    empty = tmp_path / "empty.snet"
    empty.write_bytes(b"")
    with pytest.raises(ModelFileError, match=r"empty\.snet: not a scratchnet model file"):
        load_model(empty)
    with pytest.raises(ModelFileError, match="is a folder"):
        load_model(tmp_path)
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "missing.snet")


def test_model_file_error_is_a_value_error_and_a_scratchnet_error(tmp_path):
    text = tmp_path / "x.txt"
    text.write_text("x")
    with pytest.raises(ValueError):
        load_model(text)
    with pytest.raises(scratchnet.ScratchnetError):
        load_model(text)


def test_sigmoid_model_round_trip_keeps_the_loss(tmp_path):
    model = Sequential([Dense(2, 2), Sigmoid(), Dense(2, 1), Sigmoid()], seed=3)
    model.compile(loss="bce", optimizer="sgd", lr=1.0)
    path = tmp_path / "xor.snet"
    model.save(path)
    loaded = load_model(path)
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    assert loaded.loss.name == "bce"
    assert "Total parameters: 9" in loaded.summary(print_fn=None)
