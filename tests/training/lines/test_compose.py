"""Line composition from real glyph sources."""

import numpy as np
import pytest

from tests.conftest import ASSETS
from training import mnist
from training.lines import fonts
from training.lines.compose import (
    GlyphSources,
    compose_line,
    compose_page,
    font_has,
    photo_faults,
)


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> GlyphSources:
    pin = {"fontpkg-caveat==2.0": fonts.PYPI_TRAIN["fontpkg-caveat==2.0"]}
    latin = fonts.fetch_pypi_fonts(pin, tmp_path_factory.mktemp("fonts"))
    images, labels = mnist.load("t10k", ASSETS / "mnist")
    return GlyphSources(
        latin_fonts=latin, hanzi_root=ASSETS / "hanzi", mnist_images=images, mnist_labels=labels
    )


def test_font_has_reads_the_cmap(sources: GlyphSources) -> None:
    font = sources.latin_fonts[0]
    assert font_has(font, "A") and font_has(font, "7")
    assert not font_has(font, "订")


def test_compose_line_writes_mixed_text_at_the_requested_height(sources: GlyphSources) -> None:
    rng = np.random.default_rng(0)
    img = compose_line("号 A12 345 订", sources, rng, height=48)
    assert img.dtype == np.uint8 and img.shape[0] == 48
    assert img.shape[1] > 6 * 20  # eight glyphs and spaces
    dark = img < np.median(img) - 40
    assert 0.02 < dark.mean() < 0.4  # ink on paper, not a blank or a blot
    again = compose_line("号 A12 345 订", sources, np.random.default_rng(0), height=48)
    assert np.array_equal(img, again)  # deterministic by seed


def test_compose_line_refuses_a_character_no_source_draws(sources: GlyphSources) -> None:
    with pytest.raises(ValueError, match="no glyph source"):
        compose_line("鑫", sources, np.random.default_rng(0))


def test_ruled_lines_keep_the_writing_size_and_add_the_paper_around_it(
    sources: GlyphSources,
) -> None:
    plain = compose_line("A12 345", sources, np.random.default_rng(3), height=48)
    ruled = compose_line("A12 345", sources, np.random.default_rng(3), height=48, ruled=True)
    assert ruled.shape[0] > 1.2 * plain.shape[0]  # the ruling above and below the writing
    assert ruled.shape[1] > plain.shape[1]  # rules run on past the writing
    # At least two rows are inked across nearly the whole width: the ruled lines.
    dark = ruled < np.median(ruled) - 15
    assert (dark.mean(axis=1) > 0.8).sum() >= 2


def test_a_page_holds_its_lines_at_line_size_with_ruling_and_margin(
    sources: GlyphSources,
) -> None:
    texts = ["A12 345", "号 67", "890 订"]
    plain = compose_page(texts, sources, np.random.default_rng(4))
    ruled = compose_page(texts, sources, np.random.default_rng(4), ruled=True, margin=True)
    for page in (plain, ruled):
        assert page.dtype == np.uint8
        # Three lines of writing about 48 px tall each, with space between them.
        assert 3 * 48 <= page.shape[0] <= 5 * 48
    dark = ruled < np.median(ruled) - 15
    assert (dark.mean(axis=1) > 0.8).sum() >= 4  # a rule under each line and one above

    def upright_lines(page: np.ndarray) -> int:
        """Columns darker all the way down than the columns 4 px either side."""
        col = np.median(page, axis=0).astype(np.float32)
        return int((col[4:-4] < np.minimum(col[:-8], col[8:]) - 15).sum())

    assert upright_lines(ruled) >= 1  # the margin line, top to bottom
    assert upright_lines(plain) == 0


def test_photo_faults_blur_the_ink_or_wash_part_of_it_towards_the_paper(
    sources: GlyphSources,
) -> None:
    line = compose_line("A12 345 号", sources, np.random.default_rng(5), height=48)
    sharpness = float(np.abs(np.diff(line.astype(np.float32), axis=1)).mean())
    blurred = washed = 0
    for seed in range(40):
        out = photo_faults(line, np.random.default_rng(seed))
        assert out.shape == line.shape and out.dtype == np.uint8
        blurred += np.abs(np.diff(out.astype(np.float32), axis=1)).mean() < 0.8 * sharpness
        ink = line < np.median(line) - 40
        washed += np.mean(out[ink] > line[ink] + 40) > 0.1  # a patch of ink made paler
    assert blurred >= 10 and washed >= 10  # each fault comes up often
    # Deterministic by seed, and the line itself is left as it was.
    rng_a, rng_b = np.random.default_rng(9), np.random.default_rng(9)
    assert np.array_equal(photo_faults(line, rng_a), photo_faults(line, rng_b))
