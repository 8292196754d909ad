"""Property tests: whatever bytes the IDX and CSV loaders get, only documented errors escape.

A loader either returns well-formed arrays or raises a ``ScratchnetError`` subclass
(``DataFileError`` here); never an ``IndexError``, ``struct.error``, ``MemoryError``,
``UnicodeDecodeError`` or a numpy warning turned error. ``scripts/fuzz_loaders.py``
runs the same idea for 100,000+ cases; here the examples are kept modest.
"""

from __future__ import annotations

import gzip
import warnings

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from scratchnet.data import load_csv_2d, read_idx, write_idx
from scratchnet.data.idx import IDX_TYPES
from scratchnet.errors import DataFileError, ScratchnetError

SETTINGS = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _valid_idx_bytes(gz: bool) -> bytes:
    rng = np.random.default_rng(0)
    array = rng.integers(0, 256, size=(3, 5, 4), dtype=np.uint8)
    header = bytes([0, 0, 0x08, 3]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    raw = header + array.tobytes()
    return gzip.compress(raw, mtime=0) if gz else raw


VALID_CSV = b"x1,x2,label\n0.5,-1.0,0\n1.5,2.25,1\n-3,4e-2,2\n"


def _write(path, data: bytes) -> None:
    # Unlink first: on ext4, truncating and rewriting the same file hundreds of times
    # is ~40x slower (the filesystem flushes the replaced blocks).
    path.unlink(missing_ok=True)
    path.write_bytes(data)


def _check_idx(path, data: bytes) -> None:
    _write(path, data)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a numpy overflow warning would be a bug too
        try:
            array = read_idx(path)
        except ScratchnetError as exc:
            assert isinstance(exc, DataFileError)
            assert str(path) in str(exc)
            return
    # Accepted: the array must be exactly what the header promised.
    assert 1 <= array.ndim
    assert array.dtype.isnative


def _check_csv(path, data: bytes) -> None:
    _write(path, data)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            X, y = load_csv_2d(path)
        except ScratchnetError as exc:
            assert isinstance(exc, DataFileError)
            assert str(path) in str(exc)
            return
    assert X.dtype == np.float32 and X.ndim == 2 and X.shape[1] == 2
    assert y.dtype == np.int64 and y.shape == (X.shape[0],) and X.shape[0] >= 1
    assert np.isfinite(X).all() and (y >= 0).all()


# --- IDX ----------------------------------------------------------------------------


@SETTINGS
@given(data=st.binary(max_size=200))
def test_idx_random_bytes(tmp_path, data):
    _check_idx(tmp_path / "f", data)


@SETTINGS
@given(data=st.binary(max_size=100))
def test_idx_random_bytes_after_a_plausible_magic(tmp_path, data):
    _check_idx(tmp_path / "f", b"\x00\x00\x08\x03" + data)


@SETTINGS
@given(gz=st.booleans(), flips=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 7)),
                                        min_size=1, max_size=4))
def test_idx_bit_flips(tmp_path, gz, flips):
    blob = bytearray(_valid_idx_bytes(gz))
    for pos, bit in flips:
        blob[pos % len(blob)] ^= 1 << bit
    _check_idx(tmp_path / "f", bytes(blob))


@SETTINGS
@given(gz=st.booleans(), cut=st.integers(0, 10**6), extra=st.binary(max_size=20))
def test_idx_truncations_and_extensions(tmp_path, gz, cut, extra):
    blob = _valid_idx_bytes(gz)
    cut %= len(blob) + 1
    _check_idx(tmp_path / "f", blob[:cut])
    _check_idx(tmp_path / "g", blob + extra)


@SETTINGS
@given(
    gz=st.booleans(),
    type_code=st.integers(0, 255),
    dims=st.lists(st.integers(0, 2**32 - 1) | st.integers(0, 8), min_size=0, max_size=5),
    payload=st.integers(0, 300),
)
def test_idx_wrong_sizes(tmp_path, gz, type_code, dims, payload):
    header = bytes([0, 0, type_code, len(dims)]) + b"".join(d.to_bytes(4, "big") for d in dims)
    raw = header + bytes(payload)
    _check_idx(tmp_path / "f", gzip.compress(raw, mtime=0) if gz else raw)


@settings(SETTINGS, max_examples=50)  # each write is fsync'ed: keep this one small
@given(
    array=hnp.arrays(
        dtype=st.sampled_from([dt.newbyteorder("=") for dt in IDX_TYPES.values()]),
        shape=hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=5),
    ),
    gz=st.booleans(),
)
def test_idx_round_trip(tmp_path, array, gz):
    path = tmp_path / "a.idx"
    write_idx(path, array, compress=gz)
    back = read_idx(path)
    assert back.dtype == array.dtype and back.shape == array.shape
    np.testing.assert_array_equal(back, array)


# --- CSV ----------------------------------------------------------------------------

CSV_TOKENS = st.sampled_from(
    ["1", "-2.5", "0", "3", "1e5", "nan", "inf", "-inf", "1e999", "x", "", " ", ",", ",,",
     "\n", "\r\n", "#", "\ufeff", "1.0", "0.5", "-1", "1_0", "\x00", "é", "\u2028", "label"]
)


@SETTINGS
@given(data=st.binary(max_size=200))
def test_csv_random_bytes(tmp_path, data):
    _check_csv(tmp_path / "f.csv", data)


@SETTINGS
@given(tokens=st.lists(CSV_TOKENS, max_size=40))
def test_csv_random_tokens(tmp_path, tokens):
    _check_csv(tmp_path / "f.csv", "".join(tokens).encode("utf-8"))


@SETTINGS
@given(flips=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 7)), min_size=1,
                      max_size=4),
       cut=st.integers(0, 10**6))
def test_csv_bit_flips_and_truncations(tmp_path, flips, cut):
    blob = bytearray(VALID_CSV)
    for pos, bit in flips:
        blob[pos % len(blob)] ^= 1 << bit
    _check_csv(tmp_path / "f.csv", bytes(blob))
    _check_csv(tmp_path / "g.csv", VALID_CSV[: cut % (len(VALID_CSV) + 1)])


@settings(SETTINGS, max_examples=50)
@given(
    rows=st.lists(
        st.tuples(
            st.floats(allow_nan=False, allow_infinity=False, width=32),
            st.floats(allow_nan=False, allow_infinity=False, width=32),
            st.integers(0, 1000),
        ),
        min_size=1,
        max_size=20,
    ),
    header=st.booleans(),
)
def test_csv_round_trip(tmp_path, rows, header):
    text = ("x1,x2,label\n" if header else "") + "".join(
        f"{a!r},{b!r},{c}\n" for a, b, c in rows
    )
    path = tmp_path / "ok.csv"
    _write(path, text.encode())
    X, y = load_csv_2d(path)
    np.testing.assert_array_equal(X, np.array([(a, b) for a, b, _ in rows], dtype=np.float32))
    assert y.tolist() == [c for _, _, c in rows]
