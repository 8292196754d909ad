"""Read and write IDX files, the simple binary format MNIST is stored in.

An IDX file is a short header followed by the raw numbers, everything big-endian::

    offset      size       meaning
    0           2 bytes    always 0x00 0x00
    2           1 byte     type code of the values (0x08 = unsigned byte, see IDX_TYPES)
    3           1 byte     number of dimensions d
    4           4 * d      size of each dimension, an unsigned 32-bit big-endian integer
    4 + 4 * d   ...        the values, big-endian, in C order (the last index changes fastest)

So the first four bytes, read as one number, are the "magic number": ``0x00000803``
means "unsigned bytes, 3 dimensions" (MNIST images: count, rows, cols) and
``0x00000801`` means "unsigned bytes, 1 dimension" (MNIST labels: count).

The MNIST files are distributed gzip-compressed (``.gz``). ``read_idx`` accepts both
and tells them apart by the first two bytes (gzip files start with ``1f 8b``; an IDX
file starts with ``00 00``), not by the file name.

Safety: the header is checked completely (magic, type, number of dimensions, every
dimension, the exact byte length the dimensions imply) *before* the array is made,
so a truncated, padded or crafted file gives a clear ``DataFileError`` and never a
giant allocation or a half-filled array.
"""

from __future__ import annotations

import gzip
import math
import os
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np

from ..errors import DataFileError, DTypeError, ShapeError
from ..fileio import atomic_writer

__all__ = [
    "IDX_TYPES",
    "MAX_DECLARED_BYTES",
    "MAX_NDIM",
    "read_idx",
    "write_idx",
]

#: IDX type code -> big-endian numpy dtype of the values.
IDX_TYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),  # unsigned byte (MNIST pixels and labels)
    0x09: np.dtype(">i1"),  # signed byte
    0x0B: np.dtype(">i2"),  # short, 2 bytes
    0x0C: np.dtype(">i4"),  # int, 4 bytes
    0x0D: np.dtype(">f4"),  # float, 4 bytes
    0x0E: np.dtype(">f8"),  # double, 8 bytes
}

#: A compressed file may not declare more data than this (2 GiB) unless the caller
#: raises ``max_bytes``: a 1 KB crafted header must not make us allocate gigabytes.
#: An uncompressed file is exempt when it really is that big (its size is checked first).
MAX_DECLARED_BYTES = 2**31

#: The format allows up to 255 dimensions; real files use 1 to 4. A bigger count
#: is far more likely a corrupt header than a real file.
MAX_NDIM = 16

_GZIP_MAGIC = b"\x1f\x8b"

# Deflate cannot expand data by more than about 1032 : 1 (a long run of one byte).
# A gzip file of ``m`` bytes therefore cannot hold more than ~1032 * m bytes; we
# allow a little more so the check can never refuse a real file.
_MAX_GZIP_RATIO = 1100


def _type_names() -> str:
    return ", ".join(f"0x{code:02X} ({dt.name})" for code, dt in IDX_TYPES.items())


def _read_exactly(fh: BinaryIO, n: int, buf: bytearray | None = None) -> bytearray:
    """Read up to ``n`` bytes into a fresh (or given) buffer; return it cut to what was read.

    Reading into a preallocated ``bytearray`` keeps peak memory at one copy of the
    data and gives numpy a writeable buffer.
    """
    if buf is None:
        buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        k = fh.readinto(view[got:])
        if not k:
            break
        got += k
    view.release()
    if got < n:
        del buf[got:]
    return buf


def _parse_magic(path: Path, magic: bytes) -> tuple[np.dtype, int]:
    """Check the 4-byte magic number; return (big-endian dtype, number of dimensions)."""
    value = int.from_bytes(magic, "big")
    if magic[0] != 0 or magic[1] != 0:
        raise DataFileError(
            f"{path}: not an IDX file: magic number 0x{value:08X} should start with two "
            "zero bytes (e.g. 0x00000803 for uint8 images, 0x00000801 for uint8 labels)"
        )
    type_code, ndim = magic[2], magic[3]
    if type_code not in IDX_TYPES:
        raise DataFileError(
            f"{path}: unsupported IDX type code 0x{type_code:02X} in magic number "
            f"0x{value:08X}; supported type codes: {_type_names()}"
        )
    if not 1 <= ndim <= MAX_NDIM:
        raise DataFileError(
            f"{path}: IDX header declares {ndim} dimensions (magic number 0x{value:08X}); "
            f"expected 1 to {MAX_NDIM}"
        )
    return IDX_TYPES[type_code], ndim


def _describe(dims: tuple[int, ...], dtype: np.dtype) -> str:
    return " x ".join(str(d) for d in dims) + f" {dtype.name}"


def _read_stream(
    path: Path, fh: BinaryIO, *, compressed: bool, file_size: int, max_bytes: int
) -> np.ndarray:
    """Parse an IDX stream (already decompressed on the fly if ``compressed``)."""
    magic = _read_exactly(fh, 4)
    if len(magic) < 4:
        raise DataFileError(
            f"{path}: too short to be an IDX file: {len(magic)} byte(s), "
            "but the 4-byte magic number alone needs 4"
        )
    dtype, ndim = _parse_magic(path, bytes(magic))

    raw_dims = _read_exactly(fh, 4 * ndim)
    if len(raw_dims) < 4 * ndim:
        raise DataFileError(
            f"{path}: truncated IDX header: {ndim} dimensions need {4 * ndim} bytes of sizes "
            f"after the magic number, found {len(raw_dims)}"
        )
    dims = tuple(int.from_bytes(raw_dims[4 * i : 4 * i + 4], "big") for i in range(ndim))

    # Python integers: this product cannot overflow, however absurd the header.
    n_bytes = math.prod(dims) * dtype.itemsize
    header_bytes = 4 + 4 * ndim
    what = _describe(dims, dtype)

    if n_bytes == 0:
        # An empty array (some dimension is 0) takes no bytes, so the file size cannot
        # vouch for the other dimensions; numpy cannot even represent a shape like
        # (4e9, 4e9, 0). Hold them to the same limit as a compressed file's data.
        other = math.prod(d for d in dims if d) * dtype.itemsize
        if other > max_bytes:
            raise DataFileError(
                f"{path}: IDX header declares an empty array ({what}) whose non-zero "
                f"dimensions multiply to {other:,} bytes, more than the limit of "
                f"{max_bytes:,}; the header is corrupt"
            )

    if compressed:
        if n_bytes > max_bytes:
            raise DataFileError(
                f"{path}: IDX header declares {n_bytes:,} bytes of data ({what}), more than "
                f"the limit of {max_bytes:,} bytes for a compressed file; the header is "
                "corrupt, or pass a larger max_bytes if the file really is that big"
            )
        ceiling = _MAX_GZIP_RATIO * file_size + 1024
        if header_bytes + n_bytes > ceiling:
            raise DataFileError(
                f"{path}: IDX header declares {n_bytes:,} bytes of data ({what}), but a "
                f"gzip file of {file_size:,} bytes cannot hold more than about {ceiling:,}: "
                "the file is truncated or its header is wrong"
            )
    else:
        expected = header_bytes + n_bytes
        if file_size != expected:
            problem = "truncated" if file_size < expected else "has trailing bytes"
            raise DataFileError(
                f"{path}: IDX file {problem}: its header declares {what} "
                f"({n_bytes:,} bytes of data), so the file should be {expected:,} bytes, "
                f"but it is {file_size:,} bytes"
            )

    # Only now, with the size known to be plausible, is memory allocated.
    data = _read_exactly(fh, n_bytes)
    if len(data) < n_bytes:
        raise DataFileError(
            f"{path}: IDX data truncated: header declares {what} ({n_bytes:,} bytes of data), "
            f"found only {len(data):,}"
        )
    if fh.read(1):
        raise DataFileError(
            f"{path}: IDX file has trailing bytes after the {n_bytes:,} bytes of data its "
            f"header declares ({what})"
        )
    array = np.frombuffer(data, dtype=dtype).reshape(dims)
    # Hand back native byte order, which every numpy routine handles fastest. For
    # single-byte types this is already the case and no copy is made.
    if dtype.itemsize > 1:
        array = array.astype(dtype.newbyteorder("="))
    return array


def read_idx(path: str | os.PathLike, *, max_bytes: int = MAX_DECLARED_BYTES) -> np.ndarray:
    """Read an IDX file (raw or gzip-compressed) into a numpy array.

    Parameters
    ----------
    path : the file. Gzip is recognised by its first two bytes, whatever the name.
    max_bytes : largest amount of data a *compressed* file may declare (default 2 GiB).
        An uncompressed file must simply be exactly as long as its header says.

    Returns
    -------
    array with the shape the header declares, e.g. ``(count, rows, cols)`` for MNIST
    images and ``(count,)`` for labels; dtype from the type code (``uint8`` for MNIST),
    native byte order, writeable.

    Raises
    ------
    DataFileError : missing or unreadable file, wrong magic number, unsupported type
        code, bad number of dimensions, truncated file, trailing bytes, a declared
        size over the limit, or a corrupt gzip stream. The message names the file.
    """
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            file_size = os.fstat(fh.fileno()).st_size
            compressed = fh.read(2) == _GZIP_MAGIC
            fh.seek(0)
            if not compressed:
                return _read_stream(
                    path, fh, compressed=False, file_size=file_size, max_bytes=max_bytes
                )
            with gzip.GzipFile(fileobj=fh, mode="rb") as gz:
                return _read_stream(
                    path, gz, compressed=True, file_size=file_size, max_bytes=max_bytes
                )
    except DataFileError:
        raise
    except FileNotFoundError:
        raise DataFileError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise DataFileError(f"{path}: is a folder, expected an IDX file") from None
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        # EOFError: the compressed stream ends before its end marker (truncated .gz);
        # BadGzipFile: bad header, CRC or length check; zlib.error: bad deflate data.
        kind = "zlib.error" if isinstance(exc, zlib.error) else type(exc).__name__
        raise DataFileError(
            f"{path}: corrupt gzip stream ({kind}: {exc}); "
            "the download is damaged or the file is not really gzip-compressed"
        ) from None
    except OSError as exc:
        raise DataFileError(f"{path}: cannot read file: {exc}") from None


def write_idx(
    path: str | os.PathLike, array: np.ndarray, *, compress: bool | None = None
) -> None:
    """Write ``array`` as an IDX file, atomically.

    Parameters
    ----------
    path : destination file.
    array : 1 to ``MAX_NDIM`` dimensions; dtype uint8, int8, int16, int32, float32 or
        float64 (the IDX types). Written big-endian in C order.
    compress : gzip the file; by default, when ``path`` ends in ``.gz``.

    Raises
    ------
    DTypeError : a dtype IDX cannot store (e.g. int64, bool, float16).
    ShapeError : zero dimensions, more than ``MAX_NDIM``, or a dimension >= 2**32.
    """
    array = np.asarray(array)
    code = None
    for type_code, dt in IDX_TYPES.items():
        if array.dtype.kind == dt.kind and array.dtype.itemsize == dt.itemsize:
            code = type_code
            break
    if code is None:
        raise DTypeError(
            f"write_idx: IDX cannot store dtype {array.dtype}; supported: {_type_names()}"
        )
    if not 1 <= array.ndim <= MAX_NDIM:
        raise ShapeError(
            f"write_idx: array has {array.ndim} dimensions, IDX files here take 1 to {MAX_NDIM}"
        )
    if any(d >= 2**32 for d in array.shape):
        raise ShapeError(f"write_idx: dimension too large for IDX (max 2**32 - 1): {array.shape}")

    path = Path(path)
    if compress is None:
        compress = path.suffix == ".gz"
    header = bytes([0, 0, code, array.ndim]) + b"".join(
        d.to_bytes(4, "big") for d in array.shape
    )
    payload = np.ascontiguousarray(array, dtype=IDX_TYPES[code]).tobytes()
    with atomic_writer(path) as fh:
        if compress:
            # mtime=0 and no file name inside: the same array always gives the same bytes.
            with gzip.GzipFile(filename="", fileobj=fh, mode="wb", mtime=0) as gz:
                gz.write(header)
                gz.write(payload)
        else:
            fh.write(header)
            fh.write(payload)
