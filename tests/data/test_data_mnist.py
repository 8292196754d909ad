"""MNIST / Fashion-MNIST loading: local folders, checksums, cache and (mocked) downloads.

Nothing here touches the network: an autouse fixture points the cache at a temporary
folder and makes pooch's real downloaders fail loudly if anything reaches them.
"""

from __future__ import annotations

import gzip
import hashlib
import shutil
from pathlib import Path

import numpy as np
import pooch
import pooch.core
import pytest

from scratchnet.data import mnist as mnist_mod
from scratchnet.data.idx import write_idx
from scratchnet.data.mnist import (
    FASHION_MNIST,
    MNIST,
    FileSpec,
    RemoteDataset,
    cache_dir,
    load_fashion_mnist,
    load_mnist,
)
from scratchnet.errors import ConfigError, DataFileError, DownloadError

T10K_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.fixture(autouse=True)
def offline_cache(tmp_path, monkeypatch):
    """Cache in tmp_path; any real download attempt fails the test."""
    monkeypatch.setenv("SCRATCHNET_DATA", str(tmp_path / "cache"))

    def no_network(*args, **kwargs):
        raise AssertionError("a test tried to use the network")

    monkeypatch.setattr(pooch.core, "choose_downloader", no_network)
    return tmp_path / "cache"


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- the real files --------------------------------------------------------------------


def test_canonical_checksums_match_the_real_files(t10k_dir):
    images_spec, labels_spec = MNIST.files["test"]
    for spec in (images_spec, labels_spec):
        path = t10k_dir / spec.name
        assert path.stat().st_size == spec.size
        assert _sha(path) == spec.sha256


def test_checksum_table_is_well_formed():
    for dataset in (MNIST, FASHION_MNIST):
        assert set(dataset.files) == {"train", "test"}
        for spec in dataset.specs():
            assert len(spec.sha256) == 64 and int(spec.sha256, 16) >= 0
            assert spec.name.endswith("-ubyte.gz") and spec.size > 0
        assert all(m.endswith("/") for m in dataset.mirrors)
        assert not any("lecun.com" in m for m in dataset.mirrors)
    hashes = [s.sha256 for d in (MNIST, FASHION_MNIST) for s in d.specs()]
    assert len(set(hashes)) == 8


def test_load_real_t10k_from_folder(t10k_dir):
    images, labels = load_mnist("test", data_dir=t10k_dir)
    assert images.shape == (10_000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (10_000,) and labels.dtype == np.uint8
    assert np.bincount(labels, minlength=10).tolist() == T10K_COUNTS
    # The first test digit is a 7, drawn in the middle of the frame.
    assert labels[0] == 7
    assert images[0, 14].max() > 200 and images[0, 0].max() == 0


def test_load_raw_idx_files_from_folder(t10k_dir, tmp_path):
    raw_dir = tmp_path / "raw"
    raw_dir.mkdir()
    for name, raw_name in [
        ("t10k-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte"),
        # the dotted spelling some mirrors use
        ("t10k-labels-idx1-ubyte.gz", "t10k-labels.idx1-ubyte"),
    ]:
        (raw_dir / raw_name).write_bytes(gzip.decompress((t10k_dir / name).read_bytes()))
    images, labels = load_mnist("test", data_dir=raw_dir)
    assert images.shape == (10_000, 28, 28)
    assert np.bincount(labels).tolist() == T10K_COUNTS


def test_tampered_copy_gives_checksum_error(t10k_dir, tmp_path):
    folder = tmp_path / "tampered"
    folder.mkdir()
    shutil.copy(t10k_dir / "t10k-labels-idx1-ubyte.gz", folder)
    blob = bytearray((t10k_dir / "t10k-images-idx3-ubyte.gz").read_bytes())
    blob[1000] ^= 0x40  # same size, one bit different
    (folder / "t10k-images-idx3-ubyte.gz").write_bytes(bytes(blob))
    with pytest.raises(DataFileError) as info:
        load_mnist("test", data_dir=folder)
    message = str(info.value)
    assert "t10k-images-idx3-ubyte.gz: checksum mismatch" in message
    assert MNIST.files["test"][0].sha256 in message
    assert "replace it with the original MNIST t10k-images-idx3-ubyte.gz" in message


def test_fashion_loader_pointed_at_mnist_folder_says_so(t10k_dir):
    with pytest.raises(DataFileError, match=r"it is the MNIST t10k-images-idx3-ubyte.gz file"):
        load_fashion_mnist("test", data_dir=t10k_dir)


def test_train_from_folder_holding_only_test_files(t10k_dir):
    with pytest.raises(DataFileError) as info:
        load_mnist("train", data_dir=t10k_dir)
    message = str(info.value)
    assert "MNIST train files not found in" in message
    assert "train-images-idx3-ubyte.gz or train-images-idx3-ubyte" in message
    assert "train-labels-idx1-ubyte.gz" in message
    assert "The folder holds: t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz" in message


# --- local folders without the real data ----------------------------------------------


def test_missing_folder(tmp_path):
    with pytest.raises(DataFileError, match=r"data folder .*nowhere does not exist"):
        load_mnist("test", data_dir=tmp_path / "nowhere")


def test_empty_folder_lists_names(tmp_path):
    with pytest.raises(DataFileError, match=r"looked for t10k-images-idx3-ubyte.gz .*no files"):
        load_mnist("test", data_dir=tmp_path)


def test_unknown_split():
    with pytest.raises(ConfigError, match=r"split must be 'train' or 'test', got 'valid'"):
        load_mnist("valid")


def test_wrong_size_gz_is_refused(tmp_path):
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", np.zeros((10, 28, 28), np.uint8))
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.zeros(10, np.uint8))
    with pytest.raises(DataFileError, match=r"but the canonical MNIST t10k-images-idx3-ubyte.gz"):
        load_mnist("test", data_dir=tmp_path)


def test_raw_files_are_checked_by_structure(tmp_path):
    write_idx(tmp_path / "t10k-images-idx3-ubyte", np.zeros((5, 28, 28), np.uint8))
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.zeros(5, np.uint8))
    with pytest.raises(DataFileError, match=r"expected MNIST test images of shape \(10000, 28"):
        load_mnist("test", data_dir=tmp_path)

    write_idx(tmp_path / "t10k-images-idx3-ubyte", np.zeros((10_000, 28, 28), np.uint8))
    with pytest.raises(DataFileError, match=r"expected MNIST test labels of shape \(10000,\)"):
        load_mnist("test", data_dir=tmp_path)

    labels = np.zeros(10_000, np.uint8)
    labels[42] = 12
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", labels)
    with pytest.raises(DataFileError, match=r"labels must be 0..9, found 12 at index 42"):
        load_mnist("test", data_dir=tmp_path)

    labels[42] = 9
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", labels)
    images, got = load_mnist("test", data_dir=tmp_path)
    assert images.shape == (10_000, 28, 28) and got[42] == 9


# --- cache and downloads (pooch mocked) -----------------------------------------------


def test_cache_dir_honours_env(monkeypatch, tmp_path):
    monkeypatch.setenv("SCRATCHNET_DATA", str(tmp_path / "elsewhere"))
    assert cache_dir() == tmp_path / "elsewhere"
    monkeypatch.delenv("SCRATCHNET_DATA")
    assert cache_dir() == Path(pooch.os_cache("scratchnet"))


def _tiny_dataset(tmp_path: Path) -> tuple[RemoteDataset, dict[str, bytes]]:
    """A 3-image MNIST look-alike whose "canonical" checksums are of files we make."""
    rng = np.random.default_rng(0)
    src = tmp_path / "src"
    src.mkdir()
    write_idx(src / "t10k-images-idx3-ubyte.gz", rng.integers(0, 256, (3, 28, 28), np.uint8))
    write_idx(src / "t10k-labels-idx1-ubyte.gz", np.array([4, 0, 9], np.uint8))
    blobs = {p.name: p.read_bytes() for p in src.iterdir()}
    specs = tuple(
        FileSpec(n, len(blobs[n]), hashlib.sha256(blobs[n]).hexdigest())
        for n in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
    )
    dataset = RemoteDataset(
        title="MNIST",
        folder="mnist",
        mirrors=("https://mirror-one.invalid/mnist/", "https://mirror-two.invalid/mnist/"),
        files={"test": specs, "train": specs},
        counts={"test": 3, "train": 3},
    )
    return dataset, blobs


def test_first_mirror_fails_second_succeeds(tmp_path, monkeypatch, offline_cache):
    dataset, blobs = _tiny_dataset(tmp_path)
    monkeypatch.setattr(mnist_mod, "MNIST", dataset)
    calls = []

    def fake_retrieve(url, known_hash, fname, path, progressbar):
        calls.append(url)
        assert known_hash == "sha256:" + hashlib.sha256(blobs[fname]).hexdigest()
        if "mirror-one" in url:
            raise ConnectionError("mirror one is down")
        Path(path).mkdir(parents=True, exist_ok=True)
        (Path(path) / fname).write_bytes(blobs[fname])
        return str(Path(path) / fname)

    monkeypatch.setattr(pooch, "retrieve", fake_retrieve)
    images, labels = load_mnist("test")
    assert images.shape == (3, 28, 28) and labels.tolist() == [4, 0, 9]
    assert calls == [
        "https://mirror-one.invalid/mnist/t10k-images-idx3-ubyte.gz",
        "https://mirror-two.invalid/mnist/t10k-images-idx3-ubyte.gz",
        "https://mirror-one.invalid/mnist/t10k-labels-idx1-ubyte.gz",
        "https://mirror-two.invalid/mnist/t10k-labels-idx1-ubyte.gz",
    ]
    assert (offline_cache / "mnist" / "t10k-images-idx3-ubyte.gz").is_file()

    # Second load: served from the cache, pooch not called again.
    calls.clear()
    images2, _ = load_mnist("test")
    np.testing.assert_array_equal(images2, images)
    assert calls == []


def test_all_mirrors_fail(tmp_path, monkeypatch):
    dataset, _ = _tiny_dataset(tmp_path)
    monkeypatch.setattr(mnist_mod, "MNIST", dataset)

    def fake_retrieve(url, **kwargs):
        raise OSError(f"HTTP 503 for {url}")

    monkeypatch.setattr(pooch, "retrieve", fake_retrieve)
    with pytest.raises(DownloadError) as info:
        load_mnist("test")
    message = str(info.value)
    assert "could not download MNIST t10k-images-idx3-ubyte.gz from any mirror" in message
    assert "mirror-one.invalid/mnist/t10k-images-idx3-ubyte.gz: OSError: HTTP 503" in message
    assert "https://mirror-two.invalid/mnist/t10k-images-idx3-ubyte.gz: OSError" in message
    assert "--data-dir" in message
    assert isinstance(info.value, OSError)  # DownloadError is an OSError too


def test_mirror_serving_wrong_bytes_is_skipped(tmp_path, monkeypatch, offline_cache):
    """Even if a retriever skipped its own check, the loader verifies the checksum."""
    dataset, blobs = _tiny_dataset(tmp_path)
    monkeypatch.setattr(mnist_mod, "MNIST", dataset)

    def fake_retrieve(url, known_hash, fname, path, progressbar):
        Path(path).mkdir(parents=True, exist_ok=True)
        data = blobs[fname]
        if "mirror-one" in url:
            data = data[:-1] + bytes([data[-1] ^ 1])
        (Path(path) / fname).write_bytes(data)
        return str(Path(path) / fname)

    monkeypatch.setattr(pooch, "retrieve", fake_retrieve)
    _, labels = load_mnist("test")
    assert labels.tolist() == [4, 0, 9]


def _serve(blobs_by_url: dict[str, bytes], log: list[str]):
    """A pooch downloader serving bytes from a dict (real pooch.retrieve, no network)."""

    def choose_downloader(url, progressbar=False):
        def download(url, output_file, pooch_obj):
            log.append(url)
            if url not in blobs_by_url:
                raise OSError(f"404 Not Found: {url}")
            with open(output_file, "wb") as fh:
                fh.write(blobs_by_url[url])

        return download

    return choose_downloader


def test_real_pooch_rejects_tampered_download(tmp_path, monkeypatch, offline_cache):
    dataset, blobs = _tiny_dataset(tmp_path)
    monkeypatch.setattr(mnist_mod, "MNIST", dataset)
    served = {m + n: b + b"!" for m in dataset.mirrors for n, b in blobs.items()}
    log: list[str] = []
    monkeypatch.setattr(pooch.core, "choose_downloader", _serve(served, log))
    with pytest.raises(DownloadError, match=r"(?s)mirror-one.*does not match.*mirror-two"):
        load_mnist("test")
    assert len(log) == 2
    # Nothing half-checked is left behind in the cache.
    assert not (offline_cache / "mnist" / "t10k-images-idx3-ubyte.gz").exists()


def test_real_pooch_downloads_real_t10k_once(t10k_dir, monkeypatch, offline_cache):
    served = {
        MNIST.mirrors[1] + name: (t10k_dir / name).read_bytes()
        for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
    }
    log: list[str] = []
    monkeypatch.setattr(pooch.core, "choose_downloader", _serve(served, log))
    images, labels = load_mnist("test")
    assert images.shape == (10_000, 28, 28)
    assert np.bincount(labels).tolist() == T10K_COUNTS
    assert log == [
        MNIST.mirrors[0] + "t10k-images-idx3-ubyte.gz",
        MNIST.mirrors[1] + "t10k-images-idx3-ubyte.gz",
        MNIST.mirrors[0] + "t10k-labels-idx1-ubyte.gz",
        MNIST.mirrors[1] + "t10k-labels-idx1-ubyte.gz",
    ]
    cached = offline_cache / "mnist" / "t10k-images-idx3-ubyte.gz"
    assert _sha(cached) == MNIST.files["test"][0].sha256
    log.clear()
    load_mnist("test")
    assert log == []  # cached


def test_download_false_with_empty_cache(offline_cache):
    with pytest.raises(DataFileError, match=r"not in the cache folder .* download=False"):
        load_mnist("test", download=False)
    with pytest.raises(DataFileError, match=r"Fashion-MNIST train-images-idx3-ubyte.gz"):
        load_fashion_mnist("train", download=False)


def test_damaged_cache_file(tmp_path, monkeypatch, offline_cache):
    dataset, blobs = _tiny_dataset(tmp_path)
    monkeypatch.setattr(mnist_mod, "MNIST", dataset)
    folder = offline_cache / "mnist"
    folder.mkdir(parents=True)
    for name, blob in blobs.items():
        (folder / name).write_bytes(blob)
    (folder / "t10k-labels-idx1-ubyte.gz").write_bytes(b"\x1f\x8b garbage")

    with pytest.raises(DataFileError, match=r"delete it or load with download=True"):
        load_mnist("test", download=False)

    calls = []

    def fake_retrieve(url, known_hash, fname, path, progressbar):
        calls.append(url)
        (Path(path) / fname).write_bytes(blobs[fname])
        return str(Path(path) / fname)

    monkeypatch.setattr(pooch, "retrieve", fake_retrieve)
    _, labels = load_mnist("test")
    assert labels.tolist() == [4, 0, 9]
    assert calls == ["https://mirror-one.invalid/mnist/t10k-labels-idx1-ubyte.gz"]
