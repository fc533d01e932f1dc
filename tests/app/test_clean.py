"""Clean crops read in one pass: found only where they are clean, read as the full way reads."""

import cv2
import numpy as np
import pytest

from app.digits import clean, orient
from app.digits.segment import FAINT_INK, Box, own_ink, tight_piece
from app.vision.binarize import grey_hist, ink_and_paper, strength_of
from tests.conftest import digit_row, encode
from training import digit_sheets


def _reader(client):
    return client.app.state.digit_reader


def test_a_clean_row_gives_its_digits_pieces_left_to_right(t10k) -> None:
    page, text = digit_row(t10k, [3, 2, 1, 18, 4])
    pieces = clean.row_pieces(page)
    assert pieces is not None and len(pieces) == len(text)
    xs = [p.box.x for p in pieces]
    assert xs == sorted(xs)
    for p in pieces:  # each piece's ink is its digit's, tight to it
        assert p.ink.shape == (p.box.height, p.box.width) and 0.9 < p.ink.max() <= 1.0


def test_each_piece_holds_its_own_components_ink_alone(t10k) -> None:
    # One pass over the crop gives every digit's own ink: the same, pixel for pixel, as each
    # component's ink taken alone (`segment.own_ink` of its own labels in its own box).
    page, _text = digit_row(t10k, [3, 2, 1, 18, 4, 7], gap=6)
    pieces = clean.row_pieces(page)
    assert pieces is not None
    _thr, sure = cv2.threshold(page, 0, 1, cv2.THRESH_BINARY_INV | cv2.THRESH_OTSU)
    strength = strength_of(page, *ink_and_paper(grey_hist(page), int(_thr)))
    mask = np.bitwise_or(sure, (strength >= FAINT_INK).view(np.uint8))
    _n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    for i in range(1, len(stats)):
        x, y, w, h = (int(v) for v in stats[i, :4])
        alone = tight_piece(
            own_ink(strength[y : y + h, x : x + w], labels[y : y + h, x : x + w] == i),
            Box(x, y, w, h),
        )
        assert alone is not None
        piece = next(p for p in pieces if p.box == alone.box)
        assert np.array_equal(piece.ink, alone.ink)


def _darken(page: np.ndarray, by: np.ndarray) -> None:
    page[:] = np.clip(page - by, 0, 255).astype(np.uint8)


def _with(page: np.ndarray, change) -> np.ndarray:
    out = page.copy()
    change(out)
    return out


@pytest.mark.parametrize(
    ("name", "change"),
    [
        ("a speck", lambda p: cv2.circle(p, (20, 8), 1, 0, -1)),
        ("a shade", lambda p: _darken(p, np.linspace(0, 60, p.shape[1])[None, :])),
        ("a form's line", lambda p: cv2.line(p, (0, 50), (p.shape[1] - 1, 50), 0, 1)),
        ("ink at the edge", lambda p: cv2.rectangle(p, (0, 20), (3, 40), 0, -1)),
        ("grey paper", lambda p: _darken(p, np.full(p.shape, 70.0))),
        ("light ink on dark paper", lambda p: np.subtract(255, p, out=p)),
    ],
)
def test_a_crop_that_is_not_clean_is_left_to_the_full_reading(t10k, name, change) -> None:
    page, _text = digit_row(t10k, [3, 2, 1, 18])
    assert clean.row_pieces(page) is not None
    assert clean.row_pieces(_with(page, change)) is None, name


def test_glare_that_washes_ink_out_is_left_to_the_full_reading(t10k) -> None:
    page, _text = digit_row(t10k, [3, 2, 1, 18])
    paper = page.astype(np.float32) * 0.9  # paper at 230
    yy, xx = np.mgrid[: page.shape[0], : page.shape[1]]
    spot = np.exp(-((xx - 40) ** 2 + (yy - 30) ** 2) / 300.0)
    lit = np.clip(paper + spot * 255, 0, 255).astype(np.uint8)
    assert clean.row_pieces(paper.astype(np.uint8)) is not None
    assert clean.row_pieces(lit) is None


@pytest.mark.parametrize(
    ("name", "indices", "gap"),
    [
        ("touching digits", [3, 2, 1, 18], -2),
        ("close digits", [3, 2, 1, 18], 3),
    ],
)
def test_rows_that_are_not_separate_digits_are_left_to_the_full_reading(
    t10k, name, indices, gap
) -> None:
    page, _text = digit_row(t10k, indices, gap=gap)
    assert clean.row_pieces(page) is None, name


def test_two_rows_a_small_mark_or_a_tilted_row_are_left_to_the_full_reading(t10k) -> None:
    page, _text = digit_row(t10k, [3, 2, 1, 18])
    assert clean.row_pieces(np.vstack([page, page])) is None
    small = page.copy()
    small[20:30, 80:84] = 0  # a short bar between the digits: no digit's size
    assert clean.row_pieces(small) is None
    w = page.shape[1]
    wide = np.pad(page, ((30, 30), (0, 0)), constant_values=255)
    tilt = cv2.getRotationMatrix2D((w / 2, wide.shape[0] / 2), 8, 1.0)
    turned = cv2.warpAffine(wide, tilt, (w, wide.shape[0]), borderValue=255)
    assert clean.row_pieces(turned) is None


def test_a_clean_crop_reads_as_the_full_reading_reads_it(t10k, client) -> None:
    """Single digits and rows of well-apart tiles from t10k: wherever the one-pass reading
    answers, the full reading gives the same text, and the same boxes nearly everywhere."""
    reader = _reader(client)
    images, labels = t10k
    sheets = [
        *digit_sheets.make_sheets(images, labels, "single", 80, seed=3),
        *digit_sheets.make_sheets(images, labels, "tiles", 80, seed=3),
    ]
    taken = same_boxes = 0
    for sheet in sheets:
        gray = (
            cv2.cvtColor(sheet.image, cv2.COLOR_BGR2GRAY) if sheet.image.ndim == 3 else sheet.image
        )
        fast = reader._read_clean(gray)
        if fast is None:
            continue
        reader.clean_crops = False
        try:
            full = reader.read(gray)
        finally:
            reader.clean_crops = True
        taken += 1
        assert [d.label for d in fast] == [d.label for d in full]
        same_boxes += [d.box for d in fast] == [d.box for d in full]
        assert all(abs(a.confidence - b.confidence) < 0.05 for a, b in zip(fast, full, strict=True))
    assert taken >= 40 and same_boxes >= 0.9 * taken


def test_a_digit_read_unsurely_sends_the_crop_the_full_way(t10k, client, monkeypatch) -> None:
    reader = _reader(client)
    page, text = digit_row(t10k, [3, 2, 1, 18])
    assert [d.label for d in reader._read_clean(page)] == list(text)
    monkeypatch.setattr(orient, "UNSURE_PAGE", 0.999)
    assert reader._read_clean(page) is None
    full = []
    monkeypatch.setattr(reader, "_read_any_way_up", lambda g: full.append(1) or [])
    reader.read(page)
    assert full == [1]


def test_clean_crops_can_be_switched_off(t10k, client, monkeypatch) -> None:
    reader = _reader(client)
    page, text = digit_row(t10k, [3, 2, 1, 18])
    calls = []
    monkeypatch.setattr(clean, "row_pieces", lambda g: calls.append(1))
    monkeypatch.setattr(reader, "clean_crops", False)
    r = client.post("/digits", files={"file": ("d.png", encode(page))})
    assert r.json()["text"] == text and calls == []
    monkeypatch.setattr(reader, "clean_crops", True)
    assert client.post("/digits", files={"file": ("d.png", encode(page))}).json()["text"] == text
    assert calls == [1]
