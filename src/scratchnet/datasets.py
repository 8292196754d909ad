"""Public entry point for data: ``from scratchnet.datasets import load_mnist, make_spiral``.

A flat re-export of ``scratchnet.data``; see that package for the shapes and dtypes.
"""

from .data import (
    FASHION_MNIST_CLASSES,
    GATES,
    cache_dir,
    flatten_images,
    load_csv_2d,
    load_fashion_mnist,
    load_mnist,
    logic_gate,
    make_circles,
    make_gaussians,
    make_moons,
    make_regression_line,
    make_spiral,
    make_xor,
    one_hot,
    read_idx,
    scale_images,
    split_train_test,
    write_idx,
    xor_gate,
)

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
