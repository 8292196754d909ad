"""Helpers shared by the MNIST and predict tests (imported by them; not a conftest, so
the other lesson tests stay untouched): real t10k digits where present, synthetic IDX."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from scratchnet.datasets import write_idx

# The development data sits beside the repository (``../shared/data/mnist-t10k``);
# tests that need it skip cleanly where it is absent.
REPO_ROOT = Path(__file__).resolve().parents[2]
MNIST_T10K = REPO_ROOT.parent / "shared" / "data" / "mnist-t10k"


def real_t10k_dir() -> Path:
    """The folder of the real t10k files; skips the calling test where they are absent."""
    if not all((MNIST_T10K / f"t10k-{k}-idx{d}-ubyte.gz").is_file()
               for k, d in (("images", 3), ("labels", 1))):
        pytest.skip(f"real MNIST t10k files not found in {MNIST_T10K}")
    return MNIST_T10K


def synthetic_digits(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` learnable fake digits: class k is a bright bar at row 4 + 2k (with noise and
    a random horizontal offset). uint8 images (n, 28, 28) and uint8 labels (n,)."""
    rng = np.random.default_rng(seed)
    labels = (np.arange(n) % 10).astype(np.uint8)
    rng.shuffle(labels)
    images = (rng.random((n, 28, 28)) * 40).astype(np.uint8)
    start = rng.integers(4, 10, n)
    for i, (k, s) in enumerate(zip(labels, start, strict=True)):
        images[i, 4 + 2 * k: 6 + 2 * k, s: s + 14] = 250
    return images, labels


def write_synthetic_t10k(folder: Path) -> Path:
    """Write raw (uncompressed) ``t10k-*`` IDX files of 10,000 synthetic digits into
    ``folder``: the loader checks raw files by structure (10,000 images of 28 x 28,
    labels 0-9), so they stand in for the real test file. Returns ``folder``."""
    images, labels = synthetic_digits(10_000)
    write_idx(folder / "t10k-images-idx3-ubyte", images)
    write_idx(folder / "t10k-labels-idx1-ubyte", labels)
    return folder
