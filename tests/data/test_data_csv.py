"""load_csv_2d: good files in their usual variants, and every bad one named by line."""

from __future__ import annotations

import numpy as np
import pytest

from scratchnet.data import load_csv_2d
from scratchnet.errors import DataFileError


def _write(tmp_path, text: str | bytes, name: str = "points.csv"):
    path = tmp_path / name
    if isinstance(text, str):
        text = text.encode("utf-8")
    path.write_bytes(text)
    return path


def test_with_header(tmp_path):
    X, y = load_csv_2d(_write(tmp_path, "x1,x2,label\n0.5,-1.25,0\n2,3e-1,1\n"))
    assert X.dtype == np.float32 and X.shape == (2, 2)
    assert y.dtype == np.int64 and y.shape == (2,)
    np.testing.assert_allclose(X, [[0.5, -1.25], [2.0, 0.3]], rtol=1e-7)
    assert y.tolist() == [0, 1]


def test_without_header_with_blank_lines_comments_spaces(tmp_path):
    text = "# my points\n\n 1 , 2 , 3\n\n# more\n-4,5.5,0\n   \n"
    X, y = load_csv_2d(_write(tmp_path, text))
    np.testing.assert_array_equal(X, [[1, 2], [-4, 5.5]])
    assert y.tolist() == [3, 0]


def test_crlf_bom_and_whole_number_float_labels(tmp_path):
    data = "\ufeffa,b,class\r\n1,2,1.0\r\n3,4,-0\r\n".encode()
    X, y = load_csv_2d(_write(tmp_path, data))
    assert X.tolist() == [[1, 2], [3, 4]] and y.tolist() == [1, 0]


def test_single_row_no_trailing_newline(tmp_path):
    X, y = load_csv_2d(_write(tmp_path, "0,0,1"))
    assert X.shape == (1, 2) and y.tolist() == [1]


def _bad(tmp_path, text, pattern, **kwargs):
    path = _write(tmp_path, text)
    with pytest.raises(DataFileError, match=pattern) as info:
        load_csv_2d(path, **kwargs)
    assert str(path) in str(info.value)
    return str(info.value)


@pytest.mark.parametrize(
    "text, pattern",
    [
        ("x1,x2,label\n1,2,0\n3,4\n", r"line 3: expected 3 comma-separated values .* found 2$"),
        ("1,2,0,5\n", r"line 1: expected 3 comma-separated values \(x1,x2,label\), found 4"),
        ("1;2;0\n", r"line 1: .*found 1 \(the separator must be a comma\)"),
        ("1,2,0\n1,two,1\n", r"line 2: x2 value 'two' is not a number"),
        ("1,2,0\n1,,1\n", r"line 2: x2 value '' is not a number"),
        ("1,2,0\n1,1_000,1\n", r"line 2: x2 value '1_000' is not a number"),
        ("nan,2,0\n", r"line 1: x1 value 'nan' is not finite"),
        ("1,2,0\n\n1,-inf,1\n", r"line 3: x2 value '-inf' is not finite"),
        ("1,2,1e999\n", r"line 1: label value '1e999' is not finite"),
        ("1,2,0.5\n", r"line 1: label '0.5' must be a whole number 0..2147483647"),
        ("1,2,-1\n", r"line 1: label '-1' must be a whole number"),
        ("1,2,3e12\n", r"line 1: label '3e12' must be a whole number"),
        ("1e300,2,0\n", r"line 1: value too large for float32"),
        ("1,2,abc\n", r"line 1: label value 'abc' is not a number"),
        ("x,y\n1,2,0\n", r"line 1: expected 3 comma-separated values .* found 2"),
        ("x1,x2,label\nx1,x2,label\n", r"line 2: x1 value 'x1' is not a number"),
    ],
)
def test_bad_lines(tmp_path, text, pattern):
    _bad(tmp_path, text, pattern)


def test_long_garbage_value_is_shortened_in_message(tmp_path):
    message = _bad(tmp_path, "1,2,0\n1," + "z" * 10_000 + ",0\n", r"line 2: x2 value 'z+'\.\.\.")
    assert len(message) < 400


def test_empty_and_header_only(tmp_path):
    _bad(tmp_path, "", r"is empty; expected x1,x2,label rows")
    _bad(tmp_path, "\n\n  \n# only a comment\n", r"is empty")
    _bad(tmp_path, "x1,x2,label\n", r"has no data rows \(only a header\)")


def test_not_utf8(tmp_path):
    pattern = r"line 2: not UTF-8 text \(byte 0xFF at offset 6\)"
    _bad(tmp_path, b"1,2,0\n\xff\xfe\x00binary", pattern)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(DataFileError, match=r"nope.csv: no such file"):
        load_csv_2d(tmp_path / "nope.csv")
    with pytest.raises(DataFileError, match=r"is not a regular file"):
        load_csv_2d(tmp_path)


def test_size_cap_checked_before_reading(tmp_path):
    _bad(
        tmp_path,
        "1,2,0\n" * 100,
        r"file is 600 bytes, more than the 500-byte limit",
        max_bytes=500,
    )
    X, _ = load_csv_2d(_write(tmp_path, "1,2,0\n" * 100), max_bytes=600)
    assert X.shape == (100, 2)
