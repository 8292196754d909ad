"""Load a user's own two-dimensional data set from a CSV file.

The file has one point per line, ``x1,x2,label``::

    x1,x2,label        <- optional header: a first line of three names, no numbers
    0.25,-1.5,0
    1.0,0.75,1
    # a comment line   <- lines starting with '#' and blank lines are skipped

``x1`` and ``x2`` are finite numbers; ``label`` is a non-negative whole number (the
class index; ``1.0`` counts as ``1``). Every problem is reported with the file name
and the line number, so a learner can open the file and fix it.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from ..errors import DataFileError

__all__ = ["MAX_CSV_BYTES", "load_csv_2d"]

#: Refuse files bigger than this (200 MB) before reading them: a 2-D toy data set of
#: millions of points is almost certainly the wrong file.
MAX_CSV_BYTES = 200 * 1024 * 1024

#: Largest accepted label: class indices are small, and this keeps int64 (and a later
#: one-hot of that width) far from overflow.
MAX_LABEL = 2**31 - 1

_COLUMNS = "x1,x2,label"

# A Python float, so the comparison happens in float64 and cannot overflow.
_FLOAT32_MAX = float(np.finfo(np.float32).max)


def _parse_number(text: str) -> float | None:
    """``float(text)`` or ``None``; refuses Python-only spellings like ``1_000``."""
    if "_" in text:
        return None
    try:
        return float(text)
    except ValueError:
        return None


def _show(text: str, limit: int = 40) -> str:
    """``repr`` of a field for a message, shortened so a garbage line cannot flood it."""
    return repr(text) if len(text) <= limit else repr(text[:limit]) + "..."


def _is_header(fields: list[str]) -> bool:
    """A header row holds names, not numbers: none of its fields parses as a number."""
    return all(_parse_number(f) is None for f in fields)


def load_csv_2d(
    path: str | os.PathLike, *, max_bytes: int = MAX_CSV_BYTES
) -> tuple[np.ndarray, np.ndarray]:
    """Read ``x1,x2,label`` rows into ``X (n, 2)`` float32 and ``y (n,)`` int64.

    Parameters
    ----------
    path : the CSV file (UTF-8, comma separated, optional header row).
    max_bytes : refuse bigger files before reading them (default 200 MB).

    Raises
    ------
    DataFileError : missing or unreadable file, too big, not UTF-8 text, no data rows,
        or a line with the wrong number of columns, a non-numeric value, NaN/inf, or a
        label that is not a whole number in ``0 .. 2**31 - 1``. The message names the
        file and the line.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise DataFileError(f"{path}: is not a regular file, expected a CSV file")
        if size > max_bytes:
            raise DataFileError(
                f"{path}: file is {size:,} bytes, more than the {max_bytes:,}-byte limit for "
                "a CSV of 2-D points; is this the right file? (raise max_bytes if it is)"
            )
        with open(path, "rb") as fh:
            # Read at most one byte past the limit, in case the file grew since stat().
            raw = fh.read(max_bytes + 1)
    except DataFileError:
        raise
    except FileNotFoundError:
        raise DataFileError(f"{path}: no such file") from None
    except OSError as exc:
        raise DataFileError(f"{path}: cannot read file: {exc}") from None
    if len(raw) > max_bytes:
        raise DataFileError(f"{path}: file is more than the {max_bytes:,}-byte limit")
    try:
        text = raw.decode("utf-8-sig")  # "-sig": drop the byte-order mark Excel writes
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise DataFileError(
            f"{path}, line {line}: not UTF-8 text (byte 0x{raw[exc.start]:02X} at offset "
            f"{exc.start}); expected a CSV file of {_COLUMNS} rows"
        ) from None

    xs: list[tuple[float, float]] = []
    ys: list[int] = []
    seen_content = False
    # split("\n") rather than splitlines(): line numbers then match what an editor shows.
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        fields = [f.strip() for f in line.split(",")]
        first = not seen_content
        seen_content = True
        if first and len(fields) == 3 and _is_header(fields):
            continue
        where = f"{path}, line {number}"
        if len(fields) != 3:
            hint = " (the separator must be a comma)" if len(fields) == 1 else ""
            raise DataFileError(
                f"{where}: expected 3 comma-separated values ({_COLUMNS}), "
                f"found {len(fields)}{hint}"
            )
        values = []
        for column, field in zip(("x1", "x2", "label"), fields, strict=True):
            value = _parse_number(field)
            if value is None:
                raise DataFileError(f"{where}: {column} value {_show(field)} is not a number")
            if not math.isfinite(value):
                raise DataFileError(f"{where}: {column} value {_show(field)} is not finite")
            values.append(value)
        x1, x2, label = values
        if label != int(label) or not 0 <= label <= MAX_LABEL:
            raise DataFileError(
                f"{where}: label {_show(fields[2])} must be a whole number 0..{MAX_LABEL} "
                "(the class index)"
            )
        if abs(x1) > _FLOAT32_MAX or abs(x2) > _FLOAT32_MAX:
            raise DataFileError(f"{where}: value too large for float32: {_show(line)}")
        xs.append((x1, x2))
        ys.append(int(label))

    if not ys:
        what = "is empty" if not seen_content else "has no data rows (only a header)"
        raise DataFileError(f"{path}: {what}; expected {_COLUMNS} rows")
    X = np.array(xs, dtype=np.float32).reshape(-1, 2)
    y = np.array(ys, dtype=np.int64)
    return X, y
