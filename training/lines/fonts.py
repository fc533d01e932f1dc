"""Handwriting fonts for synthetic lines, split into training and held-out evaluation sets.

Evaluation-only fonts (Zeyada, Shadows Into Light, dkg-handwriting, Klee, Seto) never
render a training line, so measured accuracy speaks of unseen hands.

PyPI fonts come as pinned wheels fetched with pip and checked against the sha256 below;
Debian fonts come from apt (`apt-get install <package>`; see `debian_install_command`).
"""

import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path

from training.registry import pip_download

# (requirement, wheel sha256)
PYPI_TRAIN = {
    "fontpkg-caveat==2.0": "fcab480da07243af667fd70098d54f34129f8e5c42c1bf5da5c5842b7c187c19",
    "fontpkg-kalam==2.1": "6effb7ee67f3b862de84524a705beb362777153da60c4417805c93b3548e147d",
    "fontpkg-indie-flower==2.0": "30fd37149b5d91068e7614628b0f3d139d9fb880929d7e163d389691d778c21d",
    "fontpkg-permanent-marker==1.1": (
        "3bda49f36186ba545f07b5610f4670e68e68b3b9ad1fa5007d34910a55753675"
    ),
}
# Added from stage 5 on (`--fonts extended`): more hands for Latin letters. Fonts that draw
# lowercase as capitals or fill missing characters with a box glyph stay out.
PYPI_TRAIN_MORE = {
    "fontpkg-satisfy==1.1": "7a2ec779ff1b3e329d11d28a8a442fb1fc215ef315864f010c5328da58e41ead",
    "fontpkg-yellowtail==1.2": "819ce6b66969c8d621ea9e43c7d3e2089e912c6184370375f963ce9b58681fe5",
}
PYPI_EVAL = {
    "fontpkg-zeyada==1.2": "b9a18ff45fd3be8fa13a6540b0a93e61acc8859a061c19419b6447f5987b27be",
    "fontpkg-shadows-into-light==1.0": (
        "342bece4a8f7f0e55de8162079804b0a50a31a95a4f220250318398a6775d2c2"
    ),
}
DEBIAN_TRAIN_LATIN = [
    "fonts-bwht",
    "fonts-sjfonts",
    "fonts-breip",
    "fonts-femkeklaver",
    "fonts-ecolier-court",
    "fonts-kristi",
    "fonts-dancingscript",
    "fonts-comic-neue",
]
DEBIAN_TRAIN_LATIN_MORE = [
    "fonts-rufscript",
    "fonts-tlwg-purisa-ttf",
    "fonts-nanum-extra:NanumPen.ttf,NanumBrush.ttf",  # the package's other faces are print
]
DEBIAN_TRAIN_CHINESE = ["fonts-lxgw-wenkai", "fonts-arphic-ukai", "fonts-arphic-gkai00mp"]
DEBIAN_EVAL = ["fonts-dkg-handwriting", "fonts-klee", "fonts-seto"]
FONT_SUFFIXES = (".ttf", ".otf", ".ttc")


def fetch_pypi_fonts(pins: dict[str, str], cache: Path) -> list[Path]:
    """Font files from pinned PyPI wheels, downloaded once with pip and verified."""
    out_dir = Path(cache) / "pypi-fonts"
    out_dir.mkdir(parents=True, exist_ok=True)
    fonts: list[Path] = []
    for req, sha in pins.items():
        stamp = out_dir / f"{sha}.ok"
        if not stamp.is_file():
            with tempfile.TemporaryDirectory() as tmp:
                wheel = pip_download(req, Path(tmp), wheel=True, sha256=sha)
                assert wheel is not None
                with zipfile.ZipFile(wheel) as zf:
                    names = [n for n in zf.namelist() if n.lower().endswith(FONT_SUFFIXES)]
                    for name in names:
                        with zf.open(name) as src, (out_dir / Path(name).name).open("wb") as dst:
                            shutil.copyfileobj(src, dst)
                stamp.write_text("\n".join(Path(n).name for n in names))
        fonts += [out_dir / n for n in stamp.read_text().splitlines()]
    return fonts


def debian_install_command(packages: list[str]) -> str:
    return "apt-get install -y " + " ".join(p.partition(":")[0] for p in packages)


def debian_fonts(packages: list[str]) -> list[Path]:
    """Font files installed by Debian packages ("package" or "package:file,file" for some of
    its files); refuses clearly if one is missing."""
    fonts: list[Path] = []
    missing = []
    for entry in packages:
        pkg, _, only = entry.partition(":")
        listed = subprocess.run(["dpkg", "-L", pkg], capture_output=True, text=True)
        if listed.returncode != 0:
            missing.append(pkg)
            continue
        files = [Path(p) for p in listed.stdout.splitlines() if p.lower().endswith(FONT_SUFFIXES)]
        fonts += [f for f in files if not only or f.name in only.split(",")]
    if missing:
        raise FileNotFoundError(
            f"font packages not installed: {' '.join(missing)}; run: "
            + debian_install_command(missing)
        )
    return sorted(set(fonts))
