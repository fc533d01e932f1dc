"""Real sources for synthetic lines, fetched with the registries' own clients, verified, cached.

- Chinese stroke centre-lines: the npm package hanzi-writer-data 2.0.1 (ARPHIC Public
  License; 9,575 characters, stroke medians in a 1024-unit box), fetched with `npm pack`.
"""

import base64
import hashlib
import json
import subprocess
import tarfile
import tempfile
from functools import lru_cache
from pathlib import Path

HANZI_PACKAGE = "hanzi-writer-data@2.0.1"
# npm's published integrity for that tarball (sha512, base64).
HANZI_SHA512_B64 = (
    "nbQwM+MaryGoq7pBMIZLCd3lFq03nXuJuwku1+6UbjL58uU+9OULVcMkoNvNuJSoIV7f1bbPRfD4D/LQa5S7qg=="
)
HANZI_INTEGRITY = "sha512-" + HANZI_SHA512_B64
DEFAULT_CACHE = Path("data/sources")


def _integrity(path: Path) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(path.read_bytes()).digest()).decode()


def fetch_hanzi(cache: Path = DEFAULT_CACHE) -> Path:
    """Directory of <char>.json stroke files, fetched once with npm and verified."""
    target = Path(cache) / "hanzi-writer-data"
    if (target / ".verified").is_file():
        return target
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            ["npm", "pack", HANZI_PACKAGE, "--silent"], cwd=tmp, check=True, capture_output=True
        )
        tgz = next(Path(tmp).glob("hanzi-writer-data-*.tgz"))
        if _integrity(tgz) != HANZI_INTEGRITY:
            raise ValueError(f"{tgz.name} does not match npm's published integrity")
        target.mkdir(parents=True, exist_ok=True)
        with tarfile.open(tgz) as tar:
            for member in tar.getmembers():
                name = Path(member.name).name
                if member.isfile() and name.endswith(".json") and name != "package.json":
                    data = tar.extractfile(member)
                    if data is not None:
                        (target / name).write_bytes(data.read())
    (target / ".verified").write_text(HANZI_INTEGRITY)
    return target


@lru_cache(maxsize=8192)
def stroke_medians(char: str, root: Path) -> list[list[tuple[float, float]]] | None:
    """Stroke centre-lines of a character, in a unit box (x right, y down), or None."""
    path = Path(root) / f"{char}.json"
    if not path.is_file():
        return None
    medians = json.loads(path.read_text())["medians"]
    # hanzi-writer's box is 1024 units, y up, baseline offset 900.
    return [[(x / 1024.0, (900.0 - y) / 1024.0) for x, y in stroke] for stroke in medians]
