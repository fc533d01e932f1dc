"""Chinese glyphs rendered from real stroke centre-lines."""

from pathlib import Path

import numpy as np

from tests.conftest import ASSETS
from training.lines import sources
from training.lines.hanzi import render_hanzi

HANZI = ASSETS / "hanzi"


def test_stroke_medians_are_in_a_unit_box() -> None:
    strokes = sources.stroke_medians("订", HANZI)
    assert strokes is not None and len(strokes) == 4  # 讠 in two strokes, 丁 in two
    pts = np.concatenate([np.asarray(s) for s in strokes])
    assert pts.min() > -0.1 and pts.max() < 1.1


def test_render_hanzi_draws_ink_and_no_two_samples_alike() -> None:
    rng = np.random.default_rng(0)
    a = render_hanzi("号", HANZI, 48, rng)
    b = render_hanzi("号", HANZI, 48, rng)
    assert a is not None and b is not None and a.shape == (48, 48)
    assert 0.05 < (a > 0.5).mean() < 0.5
    assert np.abs(a - b).mean() > 0.01


def test_render_hanzi_of_unknown_character_is_none() -> None:
    assert render_hanzi("A", HANZI, 32, np.random.default_rng(0)) is None


def test_fetch_hanzi_verifies_and_caches(tmp_path: Path) -> None:
    root = sources.fetch_hanzi(tmp_path)
    assert len(list(root.glob("*.json"))) > 9000
    assert (root / "订.json").read_bytes() == (HANZI / "订.json").read_bytes()
    assert sources.fetch_hanzi(tmp_path) == root  # cached: no second download
