"""Fixtures shared by the lesson tests: the real MNIST t10k folder and a synthetic one."""

from __future__ import annotations

from pathlib import Path

import pytest
from mnist_testdata import real_t10k_dir, write_synthetic_t10k


@pytest.fixture(scope="module")
def t10k_dir() -> Path:
    """The real t10k files beside the repository (the test skips where they are absent)."""
    return real_t10k_dir()


@pytest.fixture(scope="module")
def synthetic_t10k(tmp_path_factory) -> Path:
    """A small t10k-format folder of synthetic digits, written once per test module."""
    return write_synthetic_t10k(tmp_path_factory.mktemp("synthetic-t10k"))
