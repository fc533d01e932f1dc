"""app/vision/blocks.py: images enlarged by repeating pixels are told apart and smoothed."""

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.vision.blocks import _repeat, smooth_blocks
from tests.conftest import read_text
from training import digit_sheets


def _row(t10k: tuple[np.ndarray, np.ndarray], first: int = 0, n: int = 8) -> np.ndarray:
    """n MNIST t10k tiles side by side, dark ink on white (antialiased, as MNIST is)."""
    images, _ = t10k
    return 255 - np.hstack(list(images[first : first + n]))


@pytest.mark.parametrize("factor", [1.25, 1.5, 1.75, 2, 2.5, 3, 3.6, 4])
def test_the_repeat_of_a_nearest_neighbour_enlargement_is_measured(
    t10k: tuple[np.ndarray, np.ndarray], factor: float
) -> None:
    big = cv2.resize(_row(t10k), None, fx=factor, fy=factor, interpolation=cv2.INTER_NEAREST)
    assert _repeat(big, 0) == pytest.approx(factor, abs=0.05)
    assert _repeat(big, 1) == pytest.approx(factor, abs=0.05)


def test_smoothing_undoes_the_steps_and_keeps_the_size(t10k: tuple[np.ndarray, np.ndarray]) -> None:
    row = _row(t10k)
    smooth = cv2.resize(row, None, fx=2, fy=2, interpolation=cv2.INTER_LINEAR)
    steps = cv2.resize(row, None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST)
    out = smooth_blocks(steps)
    assert out.shape == steps.shape and out.dtype == np.uint8
    # Nearer the smooth enlargement than the stepped one was, and no longer stepped.
    err = np.abs(out.astype(int) - smooth).mean()
    assert err < 0.5 * np.abs(steps.astype(int) - smooth).mean()
    assert _repeat(out, 0) == _repeat(out, 1) == 1.0


def test_images_not_enlarged_so_are_left_as_they_are(t10k: tuple[np.ndarray, np.ndarray]) -> None:
    row = _row(t10k, 100)
    rng = np.random.default_rng(0)
    binary = np.where(row < 128, 0, 255).astype(np.uint8)
    untouched = {
        "antialiased": row,
        "enlarged smoothly": cv2.resize(row, None, fx=2.5, fy=2.5, interpolation=cv2.INTER_CUBIC),
        "binary": binary,
        "binary, thick pen": cv2.erode(binary, np.ones((3, 3), np.uint8)),
        "noisy photo": np.clip(row + rng.normal(0, 3, row.shape), 0, 255).astype(np.uint8),
        "blank": np.full((60, 80), 255, np.uint8),
        "a printed bar": cv2.rectangle(np.full((60, 80), 255, np.uint8), (10, 20), (70, 30), 0, -1),
        "tiny": np.zeros((3, 3), np.uint8),
    }
    for name, gray in untouched.items():
        assert smooth_blocks(gray) is gray, name


def test_rows_of_tiles_enlarged_pixel_by_pixel_read_as_the_originals(
    client: TestClient, t10k: tuple[np.ndarray, np.ndarray]
) -> None:
    # Unsmoothed, 6 of these 40 sheets read otherwise enlarged 2x (the chain reader misread the
    # steps of flat 0s as '83', '1171'...); smoothed, none (measured).
    images, labels = t10k
    sheets = digit_sheets.make_sheets(images, labels, "tile_rows", 40, 2026)
    same = 0
    for sheet in sheets:
        big = cv2.resize(sheet.image, None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST)
        same += read_text(client, sheet.image) == read_text(client, big)
    assert same >= 38  # room for two
