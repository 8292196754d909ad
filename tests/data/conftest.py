"""Fixtures for the data tests: the real MNIST t10k files, when this machine has them."""

from __future__ import annotations

from pathlib import Path

import pytest

# The development data sits beside the repository (``../shared/data/mnist-t10k``);
# tests that need it skip cleanly where it is absent.
REPO_ROOT = Path(__file__).resolve().parents[2]
MNIST_T10K = REPO_ROOT.parent / "shared" / "data" / "mnist-t10k"
T10K_IMAGES = MNIST_T10K / "t10k-images-idx3-ubyte.gz"
T10K_LABELS = MNIST_T10K / "t10k-labels-idx1-ubyte.gz"


@pytest.fixture
def t10k_dir() -> Path:
    if not (T10K_IMAGES.is_file() and T10K_LABELS.is_file()):
        pytest.skip(f"real MNIST t10k files not found in {MNIST_T10K}")
    return MNIST_T10K
