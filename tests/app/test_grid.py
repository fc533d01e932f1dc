"""Squared paper's grid painted out of the grey image before /digits binarises it."""

import cv2
import numpy as np
import pytest

from app.core.config import Settings
from app.digits.segment import FAINT_INK
from app.vision import binarize
from app.vision.binarize import ink_map
from app.vision.grid import remove_grid
from tests.conftest import digit_row, sheet_accuracy
from training import digit_sheets


def _grid(shape: tuple[int, int], step: int, level: int, angle: float = 0.0) -> np.ndarray:
    """Paper (255) printed with a one-pixel grid of `level`, turned by `angle` degrees."""
    h, w = shape
    big = np.full((3 * h, 3 * w), 255, np.uint8)
    big[::step, :] = level
    big[:, ::step] = level
    turn = cv2.getRotationMatrix2D((1.5 * w, 1.5 * h), angle, 1.0)
    turned = cv2.warpAffine(big, turn, (3 * w, 3 * h), flags=cv2.INTER_LINEAR)
    return turned[h : 2 * h, w : 2 * w]


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max(1, (a | b).sum()))


@pytest.fixture(scope="module")
def page(t10k) -> np.ndarray:
    row, _text = digit_row(t10k, list(range(400, 407)), gap=14, margin=30)
    return cv2.resize(row, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)


def _photo(img: np.ndarray) -> np.ndarray:
    """`img` photographed: shaded to 75% across the page, a little blurred."""
    shade = np.linspace(1.0, 0.75, img.shape[1], dtype=np.float32)[None, :]
    return cv2.GaussianBlur((img * shade).astype(np.uint8), (0, 0), 0.7)


@pytest.mark.parametrize(("step", "level"), [(24, 170), (16, 120)])
def test_the_grid_goes_and_the_digits_stay(page, step: int, level: int) -> None:
    """A photographed grid: the ink mask with the grid painted out is the plain page's (but
    for a pixel or two where a stroke crosses a line); left in, the grid joins up the page."""
    gridded = _photo(np.minimum(page, _grid(page.shape, step, level)))
    plain = ink_map(_photo(page), faint=FAINT_INK).mask > 0
    cleaned = ink_map(gridded, faint=FAINT_INK, grid=True).mask > 0
    left_in = ink_map(gridded, faint=FAINT_INK).mask > 0
    assert _iou(cleaned, plain) >= 0.85
    assert _iou(left_in, plain) < 0.5


def test_a_grid_turned_two_degrees_goes_too(page) -> None:
    gridded = _photo(np.minimum(page, _grid(page.shape, 30, 170, angle=2.0)))
    flat = binarize.dark_ink(binarize.flatten_illumination(gridded))
    cleaned = remove_grid(flat)
    assert cleaned is not flat
    plain = ink_map(_photo(page), faint=FAINT_INK).mask > 0
    assert _iou(ink_map(gridded, faint=FAINT_INK, grid=True).mask > 0, plain) >= 0.85


def test_a_stroke_crossing_a_line_stays_whole() -> None:
    gray = _grid((120, 200), 20, 160)
    cv2.line(gray, (30, 10), (150, 110), 20, 4)  # a diagonal stroke across many lines
    cleaned = remove_grid(gray)
    assert cleaned is not gray
    stroke = np.zeros_like(gray)
    cv2.line(stroke, (30, 10), (150, 110), 255, 2)  # the stroke's middle
    assert (cleaned[stroke > 0] < 80).all()
    # Away from the stroke the lines are paper now.
    away = cv2.dilate(stroke, np.ones((15, 15), np.uint8)) == 0
    assert (cleaned[away] > 230).mean() > 0.99


def test_pages_without_a_grid_are_left_as_they_are(page) -> None:
    ruled = page.copy()
    ruled[10::30, :] = 170  # a notebook's ruling: flat lines only
    comb = page.copy()
    cv2.rectangle(comb, (20, 20), (comb.shape[1] - 20, comb.shape[0] - 20), 120, 2)
    for x in range(60, comb.shape[1] - 20, 40):  # a comb's cells: upright lines, two rules
        cv2.line(comb, (x, 20), (x, comb.shape[0] - 20), 120, 2)
    for gray in (page, ruled, comb, np.full((10, 10), 255, np.uint8)):
        assert remove_grid(gray) is gray


def test_photographed_squared_sheets_read_right_with_the_grid_out(t10k, monkeypatch) -> None:
    """Photographed squared sheets of t10k digits (tinted paper, a shadow, JPEG): read right
    far more often with the grid painted out than with only the ink mask's rules search."""
    images, labels = t10k
    sheets = [
        s
        for s in digit_sheets.make_sheets(images, labels, "squared", 90, seed=5)
        if not np.array_equal(s.image[..., 0], s.image[..., 2])  # photographed: tinted
    ][:40]
    painted_out = sheet_accuracy(sheets, Settings())
    monkeypatch.setattr(binarize, "remove_grid", lambda gray: gray)
    left_in = sheet_accuracy(sheets, Settings())
    assert painted_out >= 0.8
    assert painted_out >= left_in + 0.1
