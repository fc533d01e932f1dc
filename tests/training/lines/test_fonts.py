"""Font sources: pinned wheels verified, evaluation fonts kept apart from training fonts."""

from pathlib import Path

import pytest

from training.lines import fonts


def test_training_and_evaluation_fonts_do_not_overlap() -> None:
    assert not (set(fonts.PYPI_TRAIN) | set(fonts.PYPI_TRAIN_MORE)) & set(fonts.PYPI_EVAL)
    debian = fonts.DEBIAN_TRAIN_LATIN + fonts.DEBIAN_TRAIN_LATIN_MORE + fonts.DEBIAN_TRAIN_CHINESE
    train = {p.partition(":")[0] for p in debian}
    assert not train & set(fonts.DEBIAN_EVAL)


def test_fetch_pypi_fonts_verifies_the_wheel_and_caches(tmp_path: Path) -> None:
    pin = {"fontpkg-zeyada==1.2": fonts.PYPI_EVAL["fontpkg-zeyada==1.2"]}
    (font,) = fonts.fetch_pypi_fonts(pin, tmp_path)
    assert font.name == "Zeyada.ttf" and font.stat().st_size > 10_000
    assert fonts.fetch_pypi_fonts(pin, tmp_path) == [font]


def test_fetch_pypi_fonts_refuses_a_wrong_checksum(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="sha256"):
        fonts.fetch_pypi_fonts({"fontpkg-zeyada==1.2": "0" * 64}, tmp_path)


def test_debian_fonts_names_the_missing_package() -> None:
    with pytest.raises(FileNotFoundError, match="apt-get install -y fonts-no-such-package"):
        fonts.debian_fonts(["fonts-no-such-package"])
