"""Data for the lessons: toy 2-D sets and logic gates, CSV files, MNIST / Fashion-MNIST.

Everything here returns plain numpy arrays:

* toy classifiers (``make_xor``, ``make_circles``, ...): ``X (n, 2)`` float32, ``y (n,)`` int64;
* gates (``xor_gate``, ``logic_gate``): ``X (4, 2)``, ``y (4, 1)``, both float32;
* ``load_csv_2d``: ``X (n, 2)`` float32, ``y (n,)`` int64;
* ``load_mnist`` / ``load_fashion_mnist``: images ``(n, 28, 28)`` uint8, labels ``(n,)`` uint8;
  ``scale_images``, ``flatten_images`` and ``one_hot`` turn them into network input.
"""

from .csv import load_csv_2d
from .idx import read_idx, write_idx
from .mnist import FASHION_MNIST_CLASSES, cache_dir, load_fashion_mnist, load_mnist
from .toy import (
    GATES,
    logic_gate,
    make_circles,
    make_gaussians,
    make_moons,
    make_regression_line,
    make_spiral,
    make_xor,
    xor_gate,
)
from .transforms import flatten_images, one_hot, scale_images, split_train_test

__all__ = [
    "FASHION_MNIST_CLASSES",
    "GATES",
    "cache_dir",
    "flatten_images",
    "load_csv_2d",
    "load_fashion_mnist",
    "load_mnist",
    "logic_gate",
    "make_circles",
    "make_gaussians",
    "make_moons",
    "make_regression_line",
    "make_spiral",
    "make_xor",
    "one_hot",
    "read_idx",
    "scale_images",
    "split_train_test",
    "write_idx",
    "xor_gate",
]
