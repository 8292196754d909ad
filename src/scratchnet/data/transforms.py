"""Small, checked steps between a loaded data set and a network's input.

MNIST arrives as ``uint8`` images ``(n, 28, 28)`` and ``uint8`` labels ``(n,)``; a
Dense network wants ``float32`` rows ``(n, 784)`` in ``[0, 1]`` and, for softmax
cross-entropy, one-hot targets ``(n, 10)``. Each step below does one of those
conversions and refuses input it would silently get wrong.
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError, DataError, DTypeError, ShapeError

__all__ = ["flatten_images", "one_hot", "scale_images", "split_train_test"]


def scale_images(images: np.ndarray) -> np.ndarray:
    """Map ``uint8`` pixels 0..255 to ``float32`` in ``[0, 1]``: ``x / 255``.

    images : any shape, dtype uint8. Returns the same shape, float32.

    Raises ``DTypeError`` for any other dtype: scaling already-scaled floats by 255
    again is a classic silent bug.
    """
    images = np.asarray(images)
    if images.dtype != np.uint8:
        raise DTypeError(
            f"scale_images expects uint8 pixels 0..255, got dtype {images.dtype} "
            "(already scaled? then use the array as it is)"
        )
    return images.astype(np.float32) / np.float32(255.0)


def flatten_images(images: np.ndarray) -> np.ndarray:
    """Reshape ``(n, rows, cols, ...)`` to ``(n, rows * cols * ...)``, keeping the dtype.

    Each image becomes one row, pixels in reading order, ready for a Dense layer.
    Returns a view when the input is contiguous. Raises ``ShapeError`` for fewer than
    2 dimensions (there is no image axis to flatten).
    """
    images = np.asarray(images)
    if images.ndim < 2:
        raise ShapeError(
            f"flatten_images expects (n, rows, cols, ...) with at least 2 dimensions, "
            f"got shape {images.shape}"
        )
    return images.reshape(images.shape[0], -1)


def one_hot(labels: np.ndarray, n_classes: int) -> np.ndarray:
    """Turn class indices into one-hot rows: ``out[i, labels[i]] = 1``, all else 0.

    labels : ``(n,)`` integers in ``0 .. n_classes - 1``.
    n_classes : number of classes (>= 1).

    Returns ``(n, n_classes)`` float32.

    Raises
    ------
    ConfigError : ``n_classes`` is not a positive integer.
    ShapeError : ``labels`` is not one-dimensional.
    DTypeError : ``labels`` is not an integer array (floats would be truncated silently).
    DataError : a label outside ``0 .. n_classes - 1`` (the message names the first one).
    """
    if isinstance(n_classes, bool) or not isinstance(n_classes, int | np.integer):
        raise ConfigError(f"one_hot n_classes must be an integer, got {n_classes!r}")
    if n_classes < 1:
        raise ConfigError(f"one_hot n_classes must be >= 1, got {n_classes}")
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ShapeError(f"one_hot expects labels of shape (n,), got {labels.shape}")
    if labels.size and labels.dtype.kind not in "iu":
        raise DTypeError(
            f"one_hot expects integer labels, got dtype {labels.dtype} "
            "(convert whole-number floats with labels.astype(np.int64))"
        )
    if labels.size:
        bad = np.flatnonzero((labels < 0) | (labels >= n_classes))
        if bad.size:
            i = int(bad[0])
            raise DataError(
                f"one_hot: label {labels[i]} at index {i} is outside 0..{n_classes - 1} "
                f"({bad.size} label(s) out of range)"
            )
    out = np.zeros((labels.shape[0], int(n_classes)), dtype=np.float32)
    out[np.arange(labels.shape[0]), labels.astype(np.intp)] = 1.0
    return out


def split_train_test(
    images: np.ndarray, labels: np.ndarray, n_train: int
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Split in order: the first ``n_train`` examples train, the rest test.

    No shuffling, so the split is the same on every machine (e.g. the 10,000 MNIST
    test digits as 8,000 to train and 2,000 to test).

    images : ``(n, ...)``; labels : ``(n, ...)`` with the same ``n``.
    Returns ``((images[:n_train], labels[:n_train]), (images[n_train:], labels[n_train:]))``.

    Raises ``ShapeError`` when the lengths differ and ``ConfigError`` unless
    ``0 < n_train < n``.
    """
    images = np.asarray(images)
    labels = np.asarray(labels)
    if images.ndim < 1 or labels.ndim < 1 or images.shape[0] != labels.shape[0]:
        raise ShapeError(
            f"split_train_test: images {images.shape} and labels {labels.shape} must have "
            "the same first dimension (one label per image)"
        )
    n = images.shape[0]
    if isinstance(n_train, bool) or not isinstance(n_train, int | np.integer):
        raise ConfigError(f"split_train_test n_train must be an integer, got {n_train!r}")
    if not 0 < n_train < n:
        raise ConfigError(
            f"split_train_test n_train must be between 1 and {n - 1} "
            f"(both parts non-empty), got {n_train}"
        )
    return (images[:n_train], labels[:n_train]), (images[n_train:], labels[n_train:])
