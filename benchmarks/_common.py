"""Shared pieces of the benchmark: the work's definition, its data and its FLOP count.

Imported by the orchestrator (``run.py``) and by every worker process (``_worker.py``).
It imports only NumPy and the standard library, so a PyTorch or scikit-learn worker
loads exactly what its peer needs and nothing of scratchnet's (peak memory is
measured per worker).
"""

from __future__ import annotations

import gzip
import os
import resource
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
#: The real 10,000 MNIST test digits, beside the repository (absent on most machines).
DEFAULT_MNIST_DIR = REPO.parent / "shared" / "data" / "mnist-t10k"

#: Environment variables that fix the size of every thread pool a peer may load:
#: OpenBLAS (NumPy, SciPy), MKL and OpenMP (PyTorch), Accelerate, numexpr.
THREAD_ENV = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "SCRATCHNET_NUM_THREADS",  # scratchnet's own worker threads (scratchnet.parallel)
)

ROWS_PER_EPOCH = 60_000
BATCH = 128
MLP_SIZES = (784, 256, 128, 10)
CNN_DESCRIPTION = "conv 32 3x3, ReLU, pool 2, conv 64 3x3, ReLU, pool 2, fc 128, ReLU, fc 10"


def thread_env(threads: int) -> dict[str, str]:
    """A copy of the environment with every thread pool limited to ``threads``."""
    env = dict(os.environ)
    for name in THREAD_ENV:
        env[name] = str(threads)
    return env


def peak_rss_bytes() -> int:
    """This process's high-water mark of resident memory, plus the largest of its ended
    child processes' (scratchnet's data-parallel helpers, ``fit(processes=...)``). Pages
    the two share (the data set, the libraries) are counted in both: an upper bound."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    peak = own + children
    return int(peak if sys.platform == "darwin" else peak * 1024)


def cpu_seconds() -> float:
    """User + system CPU time of this process, all threads, and of its ended children."""
    cpu = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        r = resource.getrusage(who)
        cpu += r.ru_utime + r.ru_stime
    return cpu


# -- data ------------------------------------------------------------------------------------
def read_idx_gz(path: Path, magic: int) -> np.ndarray:
    """A gzip'd IDX file as a uint8 array (big-endian header: magic, then one count per axis)."""
    raw = gzip.decompress(path.read_bytes())
    got = int.from_bytes(raw[:4], "big")
    if got != magic:
        raise ValueError(f"{path}: magic number {got:#010x}, expected {magic:#010x}")
    ndim = magic & 0xFF
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise ValueError(f"{path}: {data.size} bytes of data for shape {tuple(dims)}")
    return data.reshape(dims)


def has_mnist(data_dir: Path | None) -> bool:
    """True when ``data_dir`` holds the gzip'd MNIST test images and labels."""
    if data_dir is None:
        return False
    d = Path(data_dir)
    return all((d / f"t10k-{kind}-idx{n}-ubyte.gz").is_file() for kind, n in (("images", 3),
                                                                             ("labels", 1)))


def describe_data(rows: int, data_dir: Path | None) -> str:
    if has_mnist(data_dir):
        return f"the real 10,000 MNIST test digits tiled to {rows:,} rows"
    return f"{rows:,} synthetic 28x28 rows (the MNIST files were not found)"


def mnist_rows(rows: int, data_dir: Path | None) -> tuple[np.ndarray, np.ndarray, str]:
    """``rows`` MNIST-shaped examples: images uint8 (rows, 28, 28), labels int64 (rows,).

    The real 10,000 test digits tiled to ``rows`` when ``data_dir`` holds them; otherwise
    synthetic digits of the same shape and value range (seeded; only timing is measured).
    Returns ``(images, labels, description)``.
    """
    what = describe_data(rows, data_dir)
    if has_mnist(data_dir):
        images_file = Path(data_dir) / "t10k-images-idx3-ubyte.gz"
        images = read_idx_gz(images_file, 0x00000803)
        labels = read_idx_gz(Path(data_dir) / "t10k-labels-idx1-ubyte.gz", 0x00000801)
        reps = -(-rows // len(images))
        images = np.tile(images, (reps, 1, 1))[:rows]
        labels = np.tile(labels, reps)[:rows]
    else:
        rng = np.random.default_rng(0)
        # Like MNIST: mostly blank pixels (the border always), strokes in the middle.
        images = np.zeros((rows, 28, 28), dtype=np.uint8)
        images[:, 4:24, 4:24] = rng.integers(0, 256, (rows, 20, 20), dtype=np.uint8)
        images[:, 4:24, 4:24] *= rng.random((rows, 20, 20)) < 0.25
        labels = rng.integers(0, 10, rows)
    return images, labels.astype(np.int64), what


def scaled(images: np.ndarray) -> np.ndarray:
    """Pixels as float32 in [0, 1], the input every peer receives."""
    out = images.astype(np.float32)
    out *= np.float32(1 / 255)
    return out


XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
XOR_Y = np.array([[0], [1], [1], [0]], dtype=np.float32)


# -- FLOPs -------------------------------------------------------------------------------------
def mlp_flops_per_row(sizes=MLP_SIZES, input_grad: bool = False) -> int:
    """Multiply-adds (x2) of one training row through the MLP.

    Forward ``x @ W`` and backward ``dW = x.T @ dz`` for every layer, ``dx = dz @ W.T``
    for all but the first (no peer computes the gradient of the input pixels), or, with
    ``input_grad``, for the first too: the three products of every layer, as the
    speed issue counted its floor (0.26 s for an epoch at 324 GFLOP/s).
    """
    pairs = list(zip(sizes[:-1], sizes[1:], strict=True))
    per_layer = [2 * a * b for a, b in pairs]
    return 2 * sum(per_layer) + sum(per_layer if input_grad else per_layer[1:])


def cnn_flops_per_row() -> int:
    """Multiply-adds (x2) of one 28x28 training row through the small CNN, counted like
    :func:`mlp_flops_per_row`: forward, weight gradients, input gradients except the first.
    Only useful products: padding-free 3x3 convolutions (26x26 then 11x11 outputs)."""
    conv1 = 2 * 32 * (1 * 3 * 3) * 26 * 26
    conv2 = 2 * 64 * (32 * 3 * 3) * 11 * 11
    fc1 = 2 * (64 * 5 * 5) * 128
    fc2 = 2 * 128 * 10
    layers = [conv1, conv2, fc1, fc2]
    return 2 * sum(layers) + sum(layers[1:])
