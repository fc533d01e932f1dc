"""Form lines (underlines, ruled lines, boxes, combs) out of the ink map, on real t10k digits."""

import cv2
import numpy as np
import pytest

from app.core.config import Settings
from app.digits import reader as digit_reader
from app.digits import segment
from app.digits.segment import segment_digits
from app.vision import rules
from app.vision.binarize import ink_map
from app.vision.rules import find_rules, remove_rules, rule_pixels
from tests.conftest import digit_row, encode, sheet_accuracy
from training import digit_sheets


def _page(t10k, indices: list[int], gap: int = 12) -> tuple[np.ndarray, str, tuple[int, int]]:
    """A row of t10k digits at twice MNIST's size, its text, and its ink's top and bottom."""
    page, text = digit_row(t10k, indices, gap=gap, margin=24)
    page = cv2.resize(page, None, fx=2, fy=2)
    rows = np.nonzero((page < 128).any(axis=1))[0]
    return page, text, (int(rows.min()), int(rows.max()))


def _read(client, page: np.ndarray) -> str:
    return client.post("/digits", files={"file": ("p.png", encode(page))}).json()["text"]


def test_an_underline_touching_every_digit_is_removed(t10k, client) -> None:
    page, text, (_top, bottom) = _page(t10k, list(range(100, 107)))
    cv2.line(page, (10, bottom), (page.shape[1] - 10, bottom), 0, 2)
    # The premise: the line joins the whole row into one blob.
    assert len(segment_digits(ink_map(page, faint=0.2))) < len(text)
    assert find_rules(ink_map(page).mask).flat.any()
    assert _read(client, page) == text


def test_a_comb_of_boxes_reads_as_its_digits_without_ones(t10k, client) -> None:
    page, text, (top, bottom) = _page(t10k, list(range(110, 116)), gap=20)
    ink_cols = np.nonzero((page < 128).any(axis=0))[0]
    # Cell edges half-way between the digits: in each gap, the middle of its paper columns.
    gaps = np.nonzero(np.diff(ink_cols) > 1)[0]
    edges = [ink_cols[0] - 8, *((ink_cols[g] + ink_cols[g + 1]) // 2 for g in gaps)]
    edges.append(ink_cols[-1] + 8)
    cv2.rectangle(page, (edges[0], top - 8), (edges[-1], bottom + 8), 0, 2)
    for x in edges[1:-1]:
        cv2.line(page, (int(x), top - 8), (int(x), bottom + 8), 0, 2)
    rules = find_rules(ink_map(page).mask)
    assert rules.flat.any() and rules.upright.any()
    assert _read(client, page) == text


def test_strokes_crossing_a_rule_stay_whole(t10k) -> None:
    page, _text, (_top, bottom) = _page(t10k, list(range(120, 126)))
    pieces = cv2.connectedComponents(ink_map(page).mask)[0]
    cv2.line(page, (10, bottom - 6), (page.shape[1] - 10, bottom - 6), 0, 2)
    cleaned = remove_rules(ink_map(page))
    assert find_rules(ink_map(page).mask).found
    # The digits' lower ends below the line stay joined to them: no new pieces.
    assert cv2.connectedComponents(cleaned.mask)[0] == pieces


def test_a_lone_upright_stroke_between_ruled_lines_is_a_one(t10k) -> None:
    page, _text, (top, bottom) = _page(t10k, list(range(130, 136)), gap=40)
    w = page.shape[1]
    for y in (top - 6, bottom + 6):
        cv2.line(page, (0, y), (w - 1, y), 0, 2)
    x = int(np.nonzero((page < 128).any(axis=0))[0][0]) - 20
    cv2.line(page, (x, top - 6), (x, bottom + 6), 0, 3)  # a 1 written from line to line
    rules = find_rules(ink_map(page).mask)
    assert rules.flat.any()
    assert not rules.upright[:, x - 2 : x + 3].any()


def test_a_margin_line_beside_rows_of_digits_is_not_a_row_of_ones(
    t10k, client, monkeypatch
) -> None:
    rows = [_page(t10k, list(range(k, k + 6))) for k in (140, 146, 152)]
    width = max(page.shape[1] for page, _, _ in rows)
    page = np.vstack([np.pad(p, ((0, 0), (0, width - p.shape[1])), "edge") for p, _, _ in rows])
    text = "\n".join(t for _, t, _ in rows)
    page[:, 12:15] = 90  # a margin line top to bottom, left of the writing
    assert _read(client, page) == text
    # The premise: left in, the line is a tall 1, a row of its own.
    monkeypatch.setattr(rules, "margin_lines", lambda pale, *_: (np.zeros(pale.shape, bool), 0))
    assert _read(client, page) != text


@pytest.mark.parametrize("kind", ["spaced", "touching", "rows", "photo", "single"])
def test_no_rules_are_found_among_plain_digits(t10k, kind: str) -> None:
    images, labels = t10k
    for sheet in digit_sheets.make_sheets(images, labels, kind, 40, seed=11):
        gray = cv2.cvtColor(sheet.image, cv2.COLOR_BGR2GRAY)
        ink = ink_map(gray, faint=segment.FAINT_INK)
        assert rule_pixels(ink) is None  # margins included
        assert rule_pixels(ink, segment.FAINT_INK) is None  # nor a notebook's ruling


def test_a_notebooks_ruling_broken_into_dashes_is_taken_out(t10k, client, monkeypatch) -> None:
    rows = [_page(t10k, list(range(k, k + 6))) for k in (160, 166, 172)]
    width = max(page.shape[1] for page, _, _ in rows)
    page = np.vstack([np.pad(p, ((0, 0), (0, width - p.shape[1])), "edge") for p, _, _ in rows])
    text = "\n".join(t for _, t, _ in rows)
    dashes = np.arange(width) % 37 != 0  # a thin pale rule, binarised into dashes
    for k, (row, _, (_top, bottom)) in enumerate(rows):
        y = k * row.shape[0] + bottom - 2  # under the digits' feet, touching some
        page[y, dashes] = np.minimum(page[y, dashes], 120)
    assert _read(client, page) == text

    # The premise: the form-line search alone leaves the dashes in.
    def form_lines_only(gray: np.ndarray):
        return remove_rules(ink_map(gray, faint=segment.FAINT_INK))

    monkeypatch.setattr(digit_reader, "digit_ink", form_lines_only)
    assert _read(client, page) != text


def test_digits_on_forms_read_right_only_with_the_rules_out(t10k, monkeypatch) -> None:
    images, labels = t10k
    sheets = digit_sheets.make_sheets(images, labels, "form", 40, seed=4)
    with_rules_out = sheet_accuracy(sheets, Settings())
    monkeypatch.setattr(segment, "remove_rules", lambda ink, ruling=None: ink)
    left_in = sheet_accuracy(sheets, Settings())
    assert with_rules_out >= 0.75
    assert left_in <= 0.3
