"""app/digits/tilt.py and app/vision/turn.py: a turned page's tilt, levelled and mapped back."""

import math

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.digits.segment import Box
from app.digits.tilt import MIN_TILT, needs_levelling, page_tilt
from app.vision.turn import bounds_back, turn
from tests.conftest import digit_row, encode, read_text
from training import digit_sheets


def _row_boxes(angle: float, n: int = 6, y0: float = 100.0, h: int = 30) -> list[Box]:
    """n digit boxes 20 x h whose centres run along a row tilted `angle` degrees (image y
    down: a negative angle rises to the right)."""
    t = math.tan(math.radians(angle))
    return [Box(40 * k, round(y0 + 40 * k * t), 20, h) for k in range(n)]


def _ink(boxes: list[Box]) -> np.ndarray:
    """A mask with each box filled: the ink the boxes were found in."""
    mask = np.zeros((400, 400), np.uint8)
    for b in boxes:
        mask[b.y : b.y + b.height, b.x : b.x + b.width] = 1
    return mask


@pytest.mark.parametrize("angle", [-20.0, -8.0, 0.0, 5.0, 15.0])
def test_the_tilt_is_the_direction_of_the_rows(angle: float) -> None:
    boxes = _row_boxes(angle) + _row_boxes(angle, y0=200.0)  # two rows, one above the other
    assert page_tilt(boxes, _ink(boxes)) == pytest.approx(angle, abs=1.0)


def test_a_tilt_the_ink_does_not_bear_out_is_no_tilt() -> None:
    # Digits two heights apart in rows closer than that: each one's nearest neighbour to the
    # right is the next row's, diagonally. The page is level; its rows are sharpest level.
    boxes = [Box(100 * k + 50 * r, 40 + 45 * r, 20, 30) for r in range(2) for k in range(4)]
    assert page_tilt(boxes, _ink(boxes)) == 0.0


def test_a_column_of_digits_and_too_few_tell_no_tilt() -> None:
    column = [Box(50, 50 * k, 20, 30) for k in range(6)]
    blank = np.zeros((10, 10), np.uint8)
    assert page_tilt(column, blank) == 0.0
    assert page_tilt(_row_boxes(10.0, n=2), blank) == 0.0
    assert not needs_levelling(0.5 * MIN_TILT) and needs_levelling(-MIN_TILT)


def test_a_row_of_few_blobs_is_measured_by_its_long_axis() -> None:
    mask = np.zeros((200, 300), np.uint8)
    centre, size = (150, 100), (200, 30)
    box = cv2.boxPoints((centre, size, 12.0)).astype(np.int32)  # 12 degrees clockwise
    cv2.fillPoly(mask, [box], 1)
    assert page_tilt([], mask) == pytest.approx(12.0, abs=1.0)
    upright = np.zeros((200, 300), np.uint8)
    upright[20:180, 140:160] = 1  # a 1 standing alone is no row
    assert page_tilt([], upright) == 0.0


def test_boxes_found_on_a_turned_page_map_back_around_the_same_ink() -> None:
    page = np.full((120, 200), 255, np.uint8)
    page[40:70, 60:80] = 0
    turned, rot = turn(page, 10.0, border=255)
    ys, xs = np.nonzero(turned < 128)
    x, y, w, h = bounds_back(
        cv2.invertAffineTransform(rot), xs.min(), ys.min(), xs.max() + 1, ys.max() + 1, page.shape
    )
    assert x <= 60 and y <= 40 and x + w >= 80 and y + h >= 70  # holds the ink
    # ... and not much more: the upright box of a box turned 10 degrees and back (by
    # geometry 30.3 x 36.8 for the 20 x 30 ink).
    assert w <= 32 and h <= 38


def _turned(image: np.ndarray, angle: float) -> tuple[np.ndarray, np.ndarray]:
    """The image turned about its centre onto a canvas that holds it all (white corners), and
    the 2 x 3 matrix that takes its pixels there."""
    return turn(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image, angle, 255)


def test_sheets_turned_15_degrees_read_as_level_ones(
    client: TestClient, t10k: tuple[np.ndarray, np.ndarray]
) -> None:
    # Rows tilted this far broke apart or ran into each other: 44% of 200 such sheets read
    # right before the page was levelled, 91% after (91.5% level).
    images, labels = t10k
    sheets = digit_sheets.make_sheets(images, labels, "rows", 20, 7)
    turned = [_turned(s.image, 15.0 if k % 2 else -15.0)[0] for k, s in enumerate(sheets)]
    right = sum(read_text(client, img) == s.text for img, s in zip(turned, sheets, strict=True))
    assert right >= 16


def test_digits_far_apart_in_close_rows_are_read_row_by_row(
    client: TestClient, t10k: tuple[np.ndarray, np.ndarray]
) -> None:
    # Digits 2.5 heights apart, the lower row just right of the upper one's: each lower
    # digit's nearest neighbour to the right is the upper row's next. The page passed for
    # turned 33 degrees and came back "7\n12\n41\n90\n84\n8".
    top, top_text = digit_row(t10k, [0, 1, 2, 3, 4], gap=50, margin=12)
    low, low_text = digit_row(t10k, [5, 6, 7, 8, 9], gap=50, margin=12)
    width = max(top.shape[1], low.shape[1]) + 22
    top = np.pad(top[:-12], ((0, 0), (0, width - top.shape[1])), constant_values=255)
    low = np.pad(low[12:], ((0, 0), (22, width - 22 - low.shape[1])), constant_values=255)
    assert read_text(client, np.vstack([top, low])) == f"{top_text}\n{low_text}"


def test_digit_boxes_of_a_turned_row_are_in_the_uploads_pixels(
    client: TestClient, t10k: tuple[np.ndarray, np.ndarray]
) -> None:
    row, text = digit_row(t10k, [0, 1, 2, 3, 4, 5, 6, 7], gap=10, margin=40)
    level = client.post("/digits", files={"file": ("r.png", encode(row))}).json()
    img, rot = _turned(row, -12.0)
    tilted = client.post("/digits", files={"file": ("t.png", encode(img))}).json()
    assert level["text"] == tilted["text"] == text
    for a, b in zip(level["digits"], tilted["digits"], strict=True):
        ba, bb = a["box"], b["box"]
        # The level digit's centre, turned as the image was, lies in the tilted digit's box.
        cx, cy = rot @ np.array([ba["x"] + ba["width"] / 2, ba["y"] + ba["height"] / 2, 1.0])
        assert bb["x"] <= cx <= bb["x"] + bb["width"] and bb["y"] <= cy <= bb["y"] + bb["height"]
        assert bb["x"] >= 0 and bb["y"] >= 0
        assert bb["x"] + bb["width"] <= img.shape[1] and bb["y"] + bb["height"] <= img.shape[0]
