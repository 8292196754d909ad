"""IDX reader and writer: round trips and every way a file can be wrong."""

from __future__ import annotations

import gzip
import re

import numpy as np
import pytest

from scratchnet.data.idx import IDX_TYPES, MAX_NDIM, read_idx, write_idx
from scratchnet.errors import DataFileError, DTypeError, ShapeError


def _header(type_code: int, dims: tuple[int, ...]) -> bytes:
    return bytes([0, 0, type_code, len(dims)]) + b"".join(d.to_bytes(4, "big") for d in dims)


# --- round trips ----------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_round_trip_uint8_images(tmp_path, suffix):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(7, 28, 28), dtype=np.uint8)
    path = tmp_path / f"images-idx3-ubyte{suffix}"
    write_idx(path, images)
    back = read_idx(path)
    assert back.shape == (7, 28, 28)
    assert back.dtype == np.uint8
    np.testing.assert_array_equal(back, images)
    assert back.flags.writeable  # a learner may normalise in place
    back[0, 0, 0] = 1


def test_raw_layout_is_big_endian_header_then_c_order(tmp_path):
    path = tmp_path / "labels-idx1-ubyte"
    write_idx(path, np.array([3, 1, 4], dtype=np.uint8))
    assert path.read_bytes() == b"\x00\x00\x08\x01" + b"\x00\x00\x00\x03" + b"\x03\x01\x04"

    path2 = tmp_path / "grid-idx2"
    write_idx(path2, np.array([[1, 2, 3], [4, 5, 6]], dtype=np.uint8))
    assert path2.read_bytes() == _header(0x08, (2, 3)) + bytes([1, 2, 3, 4, 5, 6])


@pytest.mark.parametrize("code", sorted(IDX_TYPES))
def test_round_trip_every_type(tmp_path, code):
    dtype = IDX_TYPES[code].newbyteorder("=")
    rng = np.random.default_rng(code)
    if dtype.kind == "f":
        array = rng.normal(size=(3, 4, 5)).astype(dtype)
    else:
        info = np.iinfo(dtype)
        array = rng.integers(info.min, info.max, size=(3, 4, 5), endpoint=True).astype(dtype)
    path = tmp_path / "a.idx"
    write_idx(path, array)
    raw = path.read_bytes()
    assert raw[2] == code and raw[3] == 3
    back = read_idx(path)
    assert back.dtype == dtype and back.dtype.isnative
    np.testing.assert_array_equal(back, array)


def test_big_endian_values_on_disk(tmp_path):
    path = tmp_path / "shorts.idx"
    write_idx(path, np.array([1, -2], dtype=np.int16))
    assert path.read_bytes()[-4:] == b"\x00\x01\xff\xfe"
    np.testing.assert_array_equal(read_idx(path), [1, -2])


def test_gzip_detected_by_magic_bytes_not_name(tmp_path):
    data = np.arange(12, dtype=np.uint8).reshape(3, 4)
    disguised = tmp_path / "no-suffix-but-gzip"
    write_idx(disguised, data, compress=True)
    assert disguised.read_bytes()[:2] == b"\x1f\x8b"
    np.testing.assert_array_equal(read_idx(disguised), data)

    plain = tmp_path / "named.gz"
    write_idx(plain, data, compress=False)
    assert plain.read_bytes()[:2] == b"\x00\x00"
    np.testing.assert_array_equal(read_idx(plain), data)


def test_gzip_output_is_deterministic(tmp_path):
    data = np.arange(100, dtype=np.uint8)
    write_idx(tmp_path / "a.gz", data)
    write_idx(tmp_path / "b.gz", data)
    assert (tmp_path / "a.gz").read_bytes() == (tmp_path / "b.gz").read_bytes()


def test_zero_length_dimension_gives_empty_array(tmp_path):
    path = tmp_path / "empty.idx"
    write_idx(path, np.zeros((0, 28, 28), dtype=np.uint8))
    assert read_idx(path).shape == (0, 28, 28)


def test_write_refuses_types_idx_cannot_hold(tmp_path):
    with pytest.raises(DTypeError, match=r"IDX cannot store dtype int64"):
        write_idx(tmp_path / "x", np.arange(3, dtype=np.int64))
    with pytest.raises(DTypeError, match=r"bool"):
        write_idx(tmp_path / "x", np.array([True]))
    with pytest.raises(ShapeError, match=r"0 dimensions"):
        write_idx(tmp_path / "x", np.uint8(3))
    assert not (tmp_path / "x").exists()


def test_reads_real_mnist_t10k(t10k_dir):
    images = read_idx(t10k_dir / "t10k-images-idx3-ubyte.gz")
    labels = read_idx(t10k_dir / "t10k-labels-idx1-ubyte.gz")
    assert images.shape == (10_000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (10_000,) and labels.dtype == np.uint8
    assert images.max() == 255 and images.min() == 0
    assert np.bincount(labels).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


# --- malformed files: each failure names the file and the problem ----------------------


def _expect(path, pattern):
    with pytest.raises(DataFileError) as info:
        read_idx(path)
    message = str(info.value)
    assert str(path) in message
    assert re.search(pattern, message), message
    return message


def test_missing_file_and_folder(tmp_path):
    _expect(tmp_path / "nope", r"no such file")
    _expect(tmp_path, r"is a folder")


def test_too_short_for_magic(tmp_path):
    path = tmp_path / "short"
    path.write_bytes(b"\x00\x00")
    _expect(path, r"too short to be an IDX file: 2 byte\(s\)")
    path.write_bytes(b"")
    _expect(path, r"too short .* 0 byte")


def test_wrong_magic(tmp_path):
    path = tmp_path / "png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    _expect(path, r"not an IDX file: magic number 0x89504E47 should start with two zero bytes")


def test_unsupported_type_code(tmp_path):
    path = tmp_path / "t"
    path.write_bytes(bytes([0, 0, 0x0A, 1]) + (1).to_bytes(4, "big") + b"\x00")
    message = _expect(path, r"unsupported IDX type code 0x0A in magic number 0x00000A01")
    assert "0x08 (uint8)" in message


@pytest.mark.parametrize("ndim", [0, MAX_NDIM + 1, 255])
def test_bad_number_of_dimensions(tmp_path, ndim):
    path = tmp_path / "d"
    path.write_bytes(bytes([0, 0, 0x08, ndim]) + bytes(4 * ndim + 8))
    _expect(path, rf"declares {ndim} dimensions .* expected 1 to {MAX_NDIM}")


def test_truncated_header(tmp_path):
    path = tmp_path / "h"
    path.write_bytes(bytes([0, 0, 0x08, 3]) + (10).to_bytes(4, "big") + b"\x00\x00")
    _expect(path, r"truncated IDX header: 3 dimensions need 12 bytes .* found 6")


def test_truncated_data_raw(tmp_path):
    path = tmp_path / "images"
    path.write_bytes(_header(0x08, (2, 28, 28)) + bytes(1000))
    _expect(
        path,
        r"truncated: its header declares 2 x 28 x 28 uint8 \(1,568 bytes of data\), "
        r"so the file should be 1,584 bytes, but it is 1,016 bytes",
    )


def test_trailing_bytes_raw(tmp_path):
    path = tmp_path / "labels"
    path.write_bytes(_header(0x08, (3,)) + b"\x01\x02\x03" + b"\x00")
    _expect(path, r"has trailing bytes: .* should be 11 bytes, but it is 12 bytes")


def test_absurd_dimensions_raw_refused_before_allocating(tmp_path):
    # 4 billion cubed bytes declared by a 20-byte file: refused by the size check alone.
    path = tmp_path / "absurd"
    path.write_bytes(_header(0x08, (2**32 - 1,) * 3) + bytes(4))
    _expect(path, r"truncated: its header declares 4294967295 x 4294967295 x 4294967295 uint8")


def test_absurd_dimensions_gzip_over_the_limit(tmp_path):
    path = tmp_path / "absurd.gz"
    path.write_bytes(gzip.compress(_header(0x0E, (60_000, 60_000))))
    _expect(path, r"declares 28,800,000,000 bytes of data .* more than the limit of 2,147,483,648")


def test_gzip_declaring_more_than_it_could_hold(tmp_path):
    # 100 MB declared (under the 2 GiB cap) by a ~60-byte gzip file: impossible.
    path = tmp_path / "small.gz"
    path.write_bytes(gzip.compress(_header(0x08, (100_000, 1000))))
    _expect(path, r"declares 100,000,000 bytes .* cannot hold more than about")


def test_highly_compressible_real_file_passes_the_ratio_check(tmp_path):
    # A blank image set compresses about 1000 : 1, close to deflate's limit.
    path = tmp_path / "blank.gz"
    write_idx(path, np.zeros((2000, 28, 28), dtype=np.uint8))
    assert 2000 * 28 * 28 / path.stat().st_size > 900
    assert read_idx(path).shape == (2000, 28, 28)


def test_max_bytes_parameter(tmp_path):
    path = tmp_path / "a.gz"
    write_idx(path, np.zeros((10, 10), dtype=np.uint8))
    with pytest.raises(DataFileError, match=r"more than the limit of 50 bytes"):
        read_idx(path, max_bytes=50)
    assert read_idx(path, max_bytes=100).shape == (10, 10)


def test_truncated_data_inside_valid_gzip(tmp_path):
    path = tmp_path / "t.gz"
    path.write_bytes(gzip.compress(_header(0x08, (5, 4)) + bytes(7)))
    _expect(
        path, r"IDX data truncated: header declares 5 x 4 uint8 \(20 bytes of data\), found only 7"
    )


def test_trailing_data_inside_valid_gzip(tmp_path):
    path = tmp_path / "t.gz"
    path.write_bytes(gzip.compress(_header(0x08, (5,)) + bytes(6)))
    _expect(path, r"trailing bytes after the 5 bytes of data")


def test_truncated_gzip_file(tmp_path):
    path = tmp_path / "cut.gz"
    write_idx(path, np.random.default_rng(0).integers(0, 255, (20, 28, 28), dtype=np.uint8))
    blob = path.read_bytes()
    path.write_bytes(blob[: len(blob) // 2])
    _expect(path, r"corrupt gzip stream \(EOFError")


def test_corrupt_gzip_stream(tmp_path):
    path = tmp_path / "bad.gz"
    write_idx(path, np.random.default_rng(0).integers(0, 255, (20, 28, 28), dtype=np.uint8))
    blob = bytearray(path.read_bytes())
    # Damage the deflate data in the middle: a bad block or a CRC mismatch, either way.
    for i in range(len(blob) // 2, len(blob) // 2 + 16):
        blob[i] ^= 0xFF
    path.write_bytes(bytes(blob))
    _expect(path, r"corrupt gzip stream")


def test_corrupt_gzip_header(tmp_path):
    path = tmp_path / "bad.gz"
    path.write_bytes(b"\x1f\x8b\x63" + bytes(30))
    _expect(path, r"corrupt gzip stream \(BadGzipFile")


def test_gzip_crc_mismatch(tmp_path):
    path = tmp_path / "crc.gz"
    write_idx(path, np.arange(50, dtype=np.uint8))
    blob = bytearray(path.read_bytes())
    blob[-8] ^= 0x01  # the CRC-32 stored in the gzip trailer
    path.write_bytes(bytes(blob))
    _expect(path, r"corrupt gzip stream \(BadGzipFile: CRC check failed")


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_empty_array_with_absurd_other_dimensions(tmp_path, suffix):
    # Found by scripts/fuzz_loaders.py: numpy cannot represent shape (3e9, 3e9, 0).
    raw = _header(0x0C, (3_238_002_693, 3_523_215_361, 0))
    path = tmp_path / f"empty{suffix}"
    path.write_bytes(gzip.compress(raw) if suffix else raw)
    _expect(path, r"declares an empty array \(3238002693 x 3523215361 x 0 int32\) whose non-zero")
