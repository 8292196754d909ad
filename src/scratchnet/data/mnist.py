"""MNIST and Fashion-MNIST: find, download once, verify and load.

Where the files come from
-------------------------
* ``data_dir`` given: only that folder is used, never the network. It may hold the
  gzip'd files (``train-images-idx3-ubyte.gz``) or the raw IDX files
  (``train-images-idx3-ubyte``, or the ``train-images.idx3-ubyte`` spelling some
  mirrors use). A folder holding only the 10k test files is fine for ``split="test"``;
  asking it for ``"train"`` says which names were looked for.
* ``data_dir`` not given: a cache folder, ``$SCRATCHNET_DATA`` if set, else the
  platform's user cache (``pooch.os_cache("scratchnet")``), one subfolder per data
  set. A missing file is downloaded once with pooch, trying each mirror in turn.

Every ``.gz`` file, local or downloaded, is checked against the canonical SHA-256
published for it (the values TensorFlow Datasets pins; the MNIST t10k values also
match the files shipped with this project's development data). Raw (already
decompressed) files have no published checksum, so they are checked by structure:
magic number, 28 x 28 images, the canonical count (60,000 or 10,000) and labels 0..9.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ConfigError, DataFileError, DownloadError
from .idx import read_idx

__all__ = [
    "FASHION_MNIST",
    "FASHION_MNIST_CLASSES",
    "MNIST",
    "RemoteDataset",
    "cache_dir",
    "load_fashion_mnist",
    "load_mnist",
]

SPLITS = ("train", "test")


@dataclass(frozen=True)
class FileSpec:
    """One canonical file: its name as published, byte size and SHA-256 of those bytes."""

    name: str
    size: int
    sha256: str


@dataclass(frozen=True)
class RemoteDataset:
    """An MNIST-format data set: where to fetch it and what its files must hash to."""

    title: str  # for messages: "MNIST"
    folder: str  # subfolder of the cache
    mirrors: tuple[str, ...]  # base URLs, tried in order
    files: dict[str, tuple[FileSpec, FileSpec]]  # split -> (images, labels)
    counts: dict[str, int]  # split -> number of examples

    def specs(self) -> list[FileSpec]:
        return [spec for pair in self.files.values() for spec in pair]


MNIST = RemoteDataset(
    title="MNIST",
    folder="mnist",
    mirrors=(
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
    ),
    files={
        "train": (
            FileSpec(
                "train-images-idx3-ubyte.gz",
                9_912_422,
                "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
            ),
            FileSpec(
                "train-labels-idx1-ubyte.gz",
                28_881,
                "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
            ),
        ),
        "test": (
            FileSpec(
                "t10k-images-idx3-ubyte.gz",
                1_648_877,
                "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
            ),
            FileSpec(
                "t10k-labels-idx1-ubyte.gz",
                4_542,
                "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
            ),
        ),
    },
    counts={"train": 60_000, "test": 10_000},
)

FASHION_MNIST = RemoteDataset(
    title="Fashion-MNIST",
    folder="fashion-mnist",
    mirrors=(
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "https://github.com/zalandoresearch/fashion-mnist/raw/master/data/fashion/",
    ),
    files={
        "train": (
            FileSpec(
                "train-images-idx3-ubyte.gz",
                26_421_880,
                "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
            ),
            FileSpec(
                "train-labels-idx1-ubyte.gz",
                29_515,
                "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
            ),
        ),
        "test": (
            FileSpec(
                "t10k-images-idx3-ubyte.gz",
                4_422_102,
                "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
            ),
            FileSpec(
                "t10k-labels-idx1-ubyte.gz",
                5_148,
                "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
            ),
        ),
    },
    counts={"train": 60_000, "test": 10_000},
)

#: Fashion-MNIST label -> class name.
FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)

# The canonical files are at most 26 MB; hashing stops at 64 MiB to stay quick.
_MAX_HASHED_BYTES = 64 * 1024 * 1024

IMAGE_SHAPE = (28, 28)
N_CLASSES = 10


def cache_dir() -> Path:
    """The folder downloads go to: ``$SCRATCHNET_DATA`` if set, else the user cache."""
    env = os.environ.get("SCRATCHNET_DATA")
    if env:
        return Path(env).expanduser()
    import pooch  # imported here so `import scratchnet` stays light

    return Path(pooch.os_cache("scratchnet"))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _other_owner(dataset: RemoteDataset, sha: str) -> str | None:
    """If ``sha`` is the canonical hash of a file of a *different* data set, name it.

    MNIST and Fashion-MNIST use the same file names, so pointing one loader at the
    other's folder is an easy mistake; the message then says so.
    """
    for other in (MNIST, FASHION_MNIST):
        for spec in other.specs():
            if spec.sha256 == sha and other is not dataset:
                return f"{other.title} {spec.name}"
    return None


def _check_gz(dataset: RemoteDataset, path: Path, spec: FileSpec, remedy: str) -> None:
    """Raise ``DataFileError`` unless ``path`` has the canonical size and SHA-256."""
    try:
        size = path.stat().st_size
        # Hash wrong-sized files too (when small enough) to recognise the other data set.
        sha = _sha256(path) if size <= _MAX_HASHED_BYTES else None
    except OSError as exc:
        raise DataFileError(f"{path}: cannot read file: {exc}") from None
    owner = _other_owner(dataset, sha) if sha else None
    hint = f" (it is the {owner} file: wrong data set folder?)" if owner else ""
    if size != spec.size:
        raise DataFileError(
            f"{path}: {size:,} bytes, but the canonical {dataset.title} {spec.name} is "
            f"{spec.size:,} bytes (truncated or a different file){hint}; {remedy}"
        )
    if sha != spec.sha256:
        raise DataFileError(
            f"{path}: checksum mismatch: SHA-256 {sha}, expected the canonical "
            f"{dataset.title} value {spec.sha256}{hint}; {remedy}"
        )


def _candidates(gz_name: str) -> list[str]:
    """Names a file may have in a local folder, gzip'd name first (it can be verified)."""
    raw = gz_name.removesuffix(".gz")  # "train-images-idx3-ubyte"
    dotted = raw.replace("-idx", ".idx")  # "train-images.idx3-ubyte"
    return [gz_name, raw, dotted]


def _find_local(dataset: RemoteDataset, split: str, folder: Path) -> tuple[Path, Path]:
    """Locate the images and labels files of ``split`` in a user's folder."""
    if not folder.is_dir():
        raise DataFileError(
            f"{dataset.title} data folder {folder} does not exist or is not a folder"
        )
    found: list[Path] = []
    missing: list[str] = []
    for spec in dataset.files[split]:
        names = _candidates(spec.name)
        hit = next((folder / n for n in names if (folder / n).is_file()), None)
        if hit is None:
            missing.append(" or ".join(names))
        else:
            found.append(hit)
    if missing:
        present = sorted(p.name for p in folder.iterdir() if p.is_file())
        listing = ", ".join(present[:20]) if present else "no files"
        raise DataFileError(
            f"{dataset.title} {split} files not found in {folder}: looked for "
            f"{'; '.join(missing)}. The folder holds: {listing}. Put the {split} files "
            f"there, or leave data_dir unset to download them into the cache ({cache_dir()})"
        )
    images, labels = found
    for path, spec in zip(found, dataset.files[split], strict=True):
        if path.name == spec.name:  # gzip'd: verify against the canonical checksum
            _check_gz(
                dataset,
                path,
                spec,
                f"replace it with the original {dataset.title} {spec.name}, or pass the "
                f"folder that holds the {dataset.title} files",
            )
    return images, labels


def _fetch(dataset: RemoteDataset, spec: FileSpec, folder: Path, progress: bool) -> Path:
    """Download one file into ``folder``, trying each mirror in turn; verify its checksum."""
    import pooch  # imported here so `import scratchnet` stays light

    failures: list[str] = []
    for mirror in dataset.mirrors:
        url = mirror + spec.name
        try:
            # pooch downloads to a temporary file, checks the hash and only then
            # renames it into place, so an interrupted download leaves no bad file.
            got = Path(
                pooch.retrieve(
                    url,
                    known_hash=f"sha256:{spec.sha256}",
                    fname=spec.name,
                    path=folder,
                    progressbar=progress,
                )
            )
            _check_gz(dataset, got, spec, "it was removed; try again")
            return got
        except DataFileError as exc:
            # The mirror served the wrong bytes: drop them so a later run retries.
            (folder / spec.name).unlink(missing_ok=True)
            failures.append(f"{url}: {exc}")
        except Exception as exc:  # network libraries raise many types; try the next mirror
            failures.append(f"{url}: {type(exc).__name__}: {exc}")
    raise DownloadError(
        f"could not download {dataset.title} {spec.name} from any mirror:\n  "
        + "\n  ".join(failures)
        + f"\nDownload the file by hand into {folder} (or any folder) and pass that "
        "folder as data_dir (--data-dir on the command line)"
    )


def _cached(
    dataset: RemoteDataset, split: str, download: bool, progress: bool
) -> tuple[Path, Path]:
    """The images and labels files of ``split`` in the cache, downloading what is missing."""
    folder = cache_dir() / dataset.folder
    paths = []
    for spec in dataset.files[split]:
        path = folder / spec.name
        if path.is_file():
            try:
                _check_gz(dataset, path, spec, "delete it or load with download=True")
                paths.append(path)
                continue
            except DataFileError:
                if not download:
                    raise
                # A damaged cached copy: fetch it again (pooch replaces it).
        elif not download:
            raise DataFileError(
                f"{dataset.title} {spec.name} is not in the cache folder {folder} and "
                "download=False; load with download=True, or pass data_dir (--data-dir) "
                "pointing at a folder that holds the files"
            )
        paths.append(_fetch(dataset, spec, folder, progress))
    images, labels = paths
    return images, labels


def _load(
    dataset: RemoteDataset,
    split: str,
    data_dir: str | os.PathLike | None,
    download: bool,
    progress: bool,
) -> tuple[np.ndarray, np.ndarray]:
    if split not in SPLITS:
        raise ConfigError(f"{dataset.title} split must be 'train' or 'test', got {split!r}")
    if data_dir is not None:
        images_path, labels_path = _find_local(dataset, split, Path(data_dir).expanduser())
    else:
        images_path, labels_path = _cached(dataset, split, download, progress)

    images = read_idx(images_path)
    labels = read_idx(labels_path)

    # The checksum already guarantees all this for .gz files; raw files rely on it.
    n = dataset.counts[split]
    if images.dtype != np.uint8 or images.shape != (n, *IMAGE_SHAPE):
        raise DataFileError(
            f"{images_path}: expected {dataset.title} {split} images of shape "
            f"({n}, 28, 28) uint8, found {images.shape} {images.dtype}"
        )
    if labels.dtype != np.uint8 or labels.shape != (n,):
        raise DataFileError(
            f"{labels_path}: expected {dataset.title} {split} labels of shape ({n},) uint8, "
            f"found {labels.shape} {labels.dtype}"
        )
    if labels.max() >= N_CLASSES:
        raise DataFileError(
            f"{labels_path}: labels must be 0..9, found {int(labels.max())} "
            f"at index {int(labels.argmax())}"
        )
    return images, labels


def load_mnist(
    split: str = "train",
    data_dir: str | os.PathLike | None = None,
    download: bool = True,
    *,
    progress: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Load the MNIST handwritten digits.

    Parameters
    ----------
    split : ``"train"`` (60,000 images) or ``"test"`` (10,000 images).
    data_dir : a folder holding the files (``.gz`` or raw IDX); the network is then
        never used. ``None``: use the cache folder, downloading missing files.
    download : with ``data_dir=None``, allow downloading files missing from the cache.
    progress : show a download progress bar.

    Returns
    -------
    images : ``(n, 28, 28)`` uint8, 0 (background) to 255 (ink).
    labels : ``(n,)`` uint8, the digit 0..9.

    Raises
    ------
    ConfigError : unknown split.
    DataFileError : files missing from ``data_dir`` (the message lists the names
        looked for), a checksum mismatch, or a malformed file.
    DownloadError : every mirror failed.
    """
    return _load(MNIST, split, data_dir, download, progress)


def load_fashion_mnist(
    split: str = "train",
    data_dir: str | os.PathLike | None = None,
    download: bool = True,
    *,
    progress: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Load Fashion-MNIST (Zalando's clothing pictures), same format as ``load_mnist``.

    Returns ``images (n, 28, 28) uint8`` and ``labels (n,) uint8`` in 0..9; the class
    names are ``FASHION_MNIST_CLASSES[label]``. Parameters and errors as ``load_mnist``.
    """
    return _load(FASHION_MNIST, split, data_dir, download, progress)
