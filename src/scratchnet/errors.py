"""The library's documented error types.

Every error scratchnet raises on purpose is one of these. They subclass the
built-in exception a Python user would expect (``ValueError``, ``TypeError``,
``OSError``, ``FloatingPointError``), so ``except ValueError`` keeps working,
while ``except ScratchnetError`` catches everything the library raises on purpose.
"""

from __future__ import annotations


class ScratchnetError(Exception):
    """Base class of every error scratchnet raises on purpose."""


class ShapeError(ScratchnetError, ValueError):
    """An array has the wrong number of dimensions or the wrong size."""


class DTypeError(ScratchnetError, TypeError):
    """An array has a dtype the operation cannot take."""


class ConfigError(ScratchnetError, ValueError):
    """An argument is out of range or names something unknown."""


class DataError(ScratchnetError, ValueError):
    """Training data is unusable: empty, NaN/inf, labels out of range, mismatched lengths."""


class FileFormatError(ScratchnetError, ValueError):
    """A file is not what it claims to be: wrong magic, truncated, corrupted, unsafe."""


class ModelFileError(FileFormatError):
    """A model or checkpoint file cannot be loaded safely."""


class DataFileError(FileFormatError):
    """A data file (IDX, CSV, image) cannot be parsed."""


class DownloadError(ScratchnetError, OSError):
    """A data set could not be fetched from any mirror (or failed its checksum)."""


class DivergenceError(ScratchnetError, FloatingPointError):
    """Training produced a non-finite loss; the model keeps its last finite weights."""


class WorkerError(ScratchnetError, RuntimeError):
    """A worker process of data-parallel training failed or exited (see dataparallel)."""
