"""Segmenter pieces for training: labelled from the ink each piece holds."""

from pathlib import Path

import numpy as np

from training import pieces
from training.digit_sheets import Row, make_row


def collapse(text: str) -> str:
    """Runs of one character as one: '3338' -> '38'."""
    return "".join(c for k, c in enumerate(text) if k == 0 or text[k - 1] != c)


def _row(t10k, kind: str, seed: int) -> Row:
    images, labels = t10k
    return make_row(images, labels, np.random.default_rng(seed), kind)


def test_owner_map_gives_every_inked_pixel_to_a_glyph_that_drew_it(t10k) -> None:
    row = _row(t10k, "touching", 3)
    owner = pieces.owner_map(row)
    assert owner.shape == row.ink.shape
    assert set(np.unique(owner)) == {-1, *range(len(row.glyphs))}
    for k, (g, x, top) in enumerate(row.glyphs):
        region = owner[top : top + g.shape[0], x : x + g.shape[1]]
        mine = region == k
        assert mine.any()
        assert (g[: region.shape[0], : region.shape[1]][mine] > 0.3).all()
    assert (row.ink[owner == -1] <= 0.3 + 1e-6).all()


def test_spaced_digits_become_labelled_pieces_with_their_own_digits(t10k) -> None:
    row = _row(t10k, "spaced", 5)
    crops, labels = pieces.label_pieces(row)
    digits = "".join(str(lab) for lab in labels if lab != pieces.OUTLIER)
    # Spaced digits are whole components, in reading order; a broad one may also be offered
    # with a sliver cut off, which still holds the whole digit.
    assert collapse(digits) == collapse(row.text)
    assert all(c.shape == (32, 32) and c.max() <= 1.0 for c in crops)


def test_touching_rows_give_both_digits_and_outliers(t10k) -> None:
    found: list[int] = []
    for seed in range(6):
        found += pieces.label_pieces(_row(t10k, "touching", seed))[1]
    assert pieces.OUTLIER in found
    assert len({lab for lab in found if lab != pieces.OUTLIER}) >= 5


def test_build_is_deterministic_and_cached(t10k, tmp_path: Path) -> None:
    images, labels = t10k
    a = pieces.build(images[:500], labels[:500], rows=4, seed=9, quiet=True)
    b = pieces.load_or_build(tmp_path / "p.npz", images[:500], labels[:500], 4, 9, quiet=True)
    assert a[0].dtype == np.uint8 and np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    again = pieces.load_or_build(tmp_path / "p.npz", images[:0], labels[:0], 4, 9, quiet=True)
    assert np.array_equal(again[1], a[1])  # read from the cache, not rebuilt


def test_pair_pieces_hold_neighbouring_digits_of_the_row(t10k) -> None:
    found = 0
    for seed in range(8):
        row = _row(t10k, "touching", seed)
        crops, labels = pieces.label_pairs(row)
        assert all(c.shape == (32, 48) for c in crops)
        neighbours = {int(row.text[k : k + 2]) for k in range(len(row.text) - 1)}
        for lab in labels:
            if lab != pieces.OUTLIER:
                found += 1
                assert lab in neighbours
    assert found > 0


def test_pair_label_rules() -> None:
    row = Row(np.zeros((1, 1), np.float32), "358", [])
    both = np.array([0.95, 0.97, 0.0])
    assert pieces.pair_label(row, both, np.array([0.5, 0.45, 0.05])) == 35
    one = np.array([1.0, 0.1, 0.0])  # one digit with a sliver of the next
    assert pieces.pair_label(row, one, np.array([0.92, 0.08, 0.0])) == pieces.OUTLIER
    three = np.array([1.0, 1.0, 0.8])
    assert pieces.pair_label(row, three, np.array([0.35, 0.35, 0.3])) == pieces.OUTLIER
    apart = np.array([0.95, 0.0, 0.95])  # not neighbours
    assert pieces.pair_label(row, apart, np.array([0.5, 0.0, 0.5])) != 38
