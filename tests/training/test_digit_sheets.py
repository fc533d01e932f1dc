"""training/digit_sheets.py: each kind of evaluation image holds the text it claims."""

import numpy as np
import pytest

from training import digit_sheets


@pytest.mark.parametrize("kind", digit_sheets.KINDS)
def test_sheets_hold_their_text(t10k, kind: str) -> None:
    images, labels = t10k
    sheets = digit_sheets.make_sheets(images, labels, kind, 20, seed=3)
    for sheet in sheets:
        rows = sheet.text.split("\n")
        if kind in ("rows", "photo", "tile_rows"):
            assert 2 <= len(rows) <= 4
        else:
            assert 1 <= len(rows) <= 3 if kind in ("form", "squared") else len(rows) == 1
        size = {"single": (1, 1), "tile_pairs": (2, 2)}.get(kind, (4, 8))
        assert all(size[0] <= len(r) <= size[1] for r in rows)
        assert sheet.image.ndim == 3 and sheet.image.dtype == np.uint8
        if kind not in ("photo", "form", "squared"):  # (a photo's paper may lie in shadow;
            # rules are printed across a form, squares across the page)
            ink = sheet.image.min(axis=2) < 128
            assert ink.any() and not ink[0].any() and not ink[-1].any()  # margins are paper
    if kind == "form":  # a form's lines are drawn: some image holds a long straight run
        assert any((s.image.min(axis=2) < 160).sum(axis=1).max() > 100 for s in sheets)
    if kind == "squared":  # every image is squared: straight runs across it, both ways
        for s in sheets:
            lines = s.image.min(axis=2) < 235
            assert lines.all(axis=1).sum() >= 2 and lines.all(axis=0).sum() >= 2
    again = digit_sheets.make_sheets(images, labels, kind, 20, seed=3)
    assert all((a.image == b.image).all() for a, b in zip(sheets, again, strict=True))
