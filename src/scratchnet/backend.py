"""Where arrays are made.

All new arrays in the engine are created through these few functions, so the
default dtype lives in one place (float32, for speed) and a later GPU path
(CuPy has the same API) would only need to change this module.
"""

from __future__ import annotations

import numpy as np

from .errors import DTypeError

DEFAULT_DTYPE = np.dtype(np.float32)
FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def as_float_dtype(dtype) -> np.dtype:
    """Return ``dtype`` as a numpy dtype, refusing anything but float32/float64."""
    dt = np.dtype(dtype if dtype is not None else DEFAULT_DTYPE)
    if dt not in FLOAT_DTYPES:
        raise DTypeError(f"dtype must be float32 or float64, got {dt}")
    return dt


def zeros(shape, dtype=None) -> np.ndarray:
    return np.zeros(shape, dtype=as_float_dtype(dtype))


def empty(shape, dtype=None) -> np.ndarray:
    return np.empty(shape, dtype=as_float_dtype(dtype))


def full(shape, value, dtype=None) -> np.ndarray:
    return np.full(shape, value, dtype=as_float_dtype(dtype))


def default_rng(seed=None) -> np.random.Generator:
    """A seeded generator; ``seed`` may already be a Generator (returned as is)."""
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)
