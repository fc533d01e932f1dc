"""app/vision/folds.py: a fold's crease across a page of digits is no ink."""

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.vision import folds
from bench.robustness import _crease
from tests.conftest import digit_row, encode, read_text
from training import digit_sheets


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
    monkeypatch.setattr(folds, "long_lines", lambda mask, height: None)
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
    # a 4 into an 8.
    images, labels = t10k
    sheet = digit_sheets.make_sheets(images, labels, "rows", 22, 5)[21]
    body = encode(_crease(sheet.image, np.random.default_rng(4)))
    assert sheet.text.count("\n") == 1
    assert client.post("/digits", files={"file": ("p.png", body)}).json()["text"] == sheet.text
    # The premise: held to four writing heights, the crease is left in.
    monkeypatch.setattr(folds, "CROSSING", folds.LONG)
    assert client.post("/digits", files={"file": ("p.png", body)}).json()["text"] != sheet.text
