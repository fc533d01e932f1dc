"""app/vision/folds.py: a fold's crease across a page of digits is no ink."""

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.digits import reader as reader_module
from app.vision import folds
from tests.conftest import creased_sheet, digit_row, read_right_only_with_it, read_text


def _page(t10k) -> tuple[np.ndarray, str]:
    """Three rows of t10k digits, enlarged to 56 px, and their text."""
    rows = [digit_row(t10k, list(range(k, k + 6)), gap=10, margin=8) for k in (0, 6, 12)]
    width = max(r.shape[1] for r, _ in rows)
    page = np.vstack(
        [np.pad(r, ((0, 0), (0, width - r.shape[1])), constant_values=255) for r, _ in rows]
    )
    page = cv2.resize(page, None, fx=2, fy=2, interpolation=cv2.INTER_LINEAR)
    return np.pad(page, 20, constant_values=255), "\n".join(t for _, t in rows)


def _creased(page: np.ndarray, angle: float) -> np.ndarray:
    """A crease: a thin grey line through the middle at `angle` degrees from upright, edge
    to edge (1-2 px of the mask, thinner than the pen's strokes)."""
    h, w = page.shape
    dx = np.tan(np.radians(angle)) * h / 2
    out = page.copy()
    cv2.line(out, (round(w * 0.45 - dx), 0), (round(w * 0.45 + dx), h), 110, 1, cv2.LINE_AA)
    return out


@pytest.mark.parametrize("angle", [8.0, 20.0, 70.0])
def test_a_crease_across_rows_of_digits_is_taken_out(
    client: TestClient, t10k, angle: float, monkeypatch
) -> None:
    page, text = _page(t10k)
    assert read_text(client, page) == text
    creased = _creased(page, angle)
    assert read_text(client, creased) == text
    monkeypatch.setattr(folds, "long_lines", lambda mask, height, remnants=False: None)
    assert read_text(client, creased) != text  # the premise: left in, the crease is ink


def test_a_page_without_long_lines_is_left_alone(t10k) -> None:
    page, _ = _page(t10k)
    mask = (page < 128).astype(np.uint8)
    assert folds.long_lines(mask, 56.0) is None
    row = np.zeros((60, 400), np.uint8)
    cv2.line(row, (10, 30), (390, 30), 1, 4)  # thick: a stroke's width, not a crease's
    gone = folds.long_lines(row, 40.0)
    assert gone is None or gone.sum() < 0.05 * row.sum()  # its ends' corners at most


def test_a_crease_across_a_short_page_edge_to_edge_is_taken_out(
    client: TestClient, t10k, monkeypatch
) -> None:
    # Two short rows: the fold from the top edge to the bottom is only about three writing
    # heights long, under the four that tell a line on a taller page, and it joined a 3 and
    # a 4 into an 8. The premise: held to four writing heights, the crease is left in.
    body, text = creased_sheet(t10k, 21, 4)
    assert text.count("\n") == 1
    read_right_only_with_it(client, body, text, monkeypatch, (folds, "CROSSING", folds.LONG))


@pytest.mark.parametrize(("sheet", "seed", "lone"), [(7, 2, False), (28, 2, True)])
def test_a_creases_wider_stretch_off_the_found_line_is_taken_out(
    client: TestClient, t10k, sheet: int, seed: int, lone: bool, monkeypatch
) -> None:
    # Where the crease runs 3 px wide the opening keeps it; a stretch between two digits or
    # beyond the last row, off the ends of the line the Hough transform found, was read as 1.
    # Beyond the last row, in a row of its own and paler than the writing, the reader leaves
    # it out too (`without_pale_lone_marks`): the premise turns both off.
    body, text = creased_sheet(t10k, sheet, seed)
    without = [(folds, "ON_LINE", 1.01)]
    if lone:
        without.append((reader_module, "PALE_LONE_MARK", 1.0))
    read_right_only_with_it(client, body, text, monkeypatch, *without)


def test_a_mark_mostly_off_a_line_stays() -> None:
    mask = np.zeros((200, 300), np.uint8)
    cv2.line(mask, (150, 0), (150, 199), 1, 1)  # a crease, top to bottom
    mask[120:161, 149:152] = 1  # ... 3 px wide for a stretch
    cv2.circle(mask, (120, 60), 18, 1, 3)  # a 0 it does not touch
    cv2.line(mask, (151, 20), (175, 40), 1, 3)  # a stroke leaving the crease
    gone = folds.long_lines(mask, 40.0, remnants=True)
    assert gone is not None
    assert gone[120:161, 150].all()  # the wide stretch lies on the line: it goes
    assert not gone[40:80, 100:140].any()  # the 0 stays
    assert mask[30, 163] and not gone[30, 163]  # the stroke leaving the line stays


def test_a_faint_crease_broken_into_stretches_joined_to_digits_is_looked_for(
    client: TestClient, t10k, monkeypatch
) -> None:
    # Each stretch of the faint line joined to a digit it crosses, no mark was LONG heights
    # long: the line was not looked for; digits with their stretch read as others, or two as one.
    body, text = creased_sheet(t10k, 35, 11)
    read_right_only_with_it(client, body, text, monkeypatch, (folds, "JOINED", np.inf))
