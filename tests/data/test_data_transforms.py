"""scale_images, flatten_images, one_hot, split_train_test."""

from __future__ import annotations

import numpy as np
import pytest

from scratchnet.data import flatten_images, one_hot, scale_images, split_train_test
from scratchnet.errors import ConfigError, DataError, DTypeError, ShapeError


def test_scale_images_values_shape_dtype():
    images = np.array([[[0, 51], [255, 128]]], dtype=np.uint8)
    x = scale_images(images)
    assert x.shape == (1, 2, 2) and x.dtype == np.float32
    np.testing.assert_allclose(x, [[[0.0, 0.2], [1.0, 128 / 255]]], rtol=1e-6)


def test_scale_images_refuses_non_uint8():
    with pytest.raises(DTypeError, match=r"expects uint8 pixels 0..255, got dtype float32"):
        scale_images(np.zeros((2, 2), np.float32))
    with pytest.raises(DTypeError, match=r"int64"):
        scale_images([[1, 2]])


def test_flatten_images():
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    flat = flatten_images(images)
    assert flat.shape == (2, 12) and flat.dtype == np.uint8
    np.testing.assert_array_equal(flat[1], np.arange(12, 24))
    assert np.shares_memory(flat, images)  # a view, no copy
    assert flatten_images(np.zeros((5, 7))).shape == (5, 7)
    with pytest.raises(ShapeError, match=r"at least 2 dimensions, got shape \(5,\)"):
        flatten_images(np.zeros(5))


def test_one_hot_values():
    out = one_hot(np.array([2, 0, 1, 2], dtype=np.uint8), 3)
    assert out.dtype == np.float32 and out.shape == (4, 3)
    np.testing.assert_array_equal(
        out, [[0, 0, 1], [1, 0, 0], [0, 1, 0], [0, 0, 1]]
    )
    assert one_hot([1, 0], 2).tolist() == [[0, 1], [1, 0]]
    assert one_hot(np.array([], dtype=np.int64), 4).shape == (0, 4)


def test_one_hot_errors():
    with pytest.raises(DataError, match=r"label 10 at index 2 is outside 0..9 \(2 label"):
        one_hot(np.array([1, 2, 10, 11]), 10)
    with pytest.raises(DataError, match=r"label -1 at index 0"):
        one_hot(np.array([-1, 0]), 10)
    with pytest.raises(DTypeError, match=r"integer labels, got dtype float64"):
        one_hot(np.array([1.0, 2.0]), 3)
    with pytest.raises(ShapeError, match=r"labels of shape \(n,\), got \(2, 1\)"):
        one_hot(np.array([[1], [2]]), 3)
    with pytest.raises(ConfigError, match=r"n_classes must be >= 1, got 0"):
        one_hot(np.array([0]), 0)
    with pytest.raises(ConfigError, match=r"must be an integer"):
        one_hot(np.array([0]), 2.5)
    with pytest.raises(ConfigError, match=r"must be an integer"):
        one_hot(np.array([0]), True)


def test_split_train_test():
    x = np.arange(10).reshape(10, 1)
    y = np.arange(10) % 3
    (xt, yt), (xv, yv) = split_train_test(x, y, 8)
    assert xt.shape == (8, 1) and xv.shape == (2, 1)
    np.testing.assert_array_equal(xv[:, 0], [8, 9])
    np.testing.assert_array_equal(yt, y[:8])
    with pytest.raises(ConfigError, match=r"between 1 and 9"):
        split_train_test(x, y, 10)
    with pytest.raises(ConfigError, match=r"between 1 and 9"):
        split_train_test(x, y, 0)
    with pytest.raises(ShapeError, match=r"same first dimension"):
        split_train_test(x, y[:5], 3)
