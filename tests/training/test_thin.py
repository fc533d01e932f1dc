"""Thin-pen renders: one-pixel centre lines, and digits drawn again thinner but whole."""

import cv2
import numpy as np

from app.digits.preprocess import normalize_digit
from training import thin


def test_zhang_suen_leaves_a_one_pixel_centre_line_of_a_bar_and_keeps_a_ring_closed() -> None:
    bar = np.zeros((1, 21, 40), bool)
    bar[0, 6:15, 5:35] = True  # 9 px thick
    line = thin.zhang_suen(bar)[0]
    cols = line[:, 12:28]
    assert (cols.sum(axis=0) == 1).all()  # one pixel per column in the middle
    assert set(np.nonzero(cols)[0]) <= {9, 10, 11}  # at the bar's centre (row 10)
    ring = np.zeros((40, 40), np.uint8)
    cv2.circle(ring, (20, 20), 12, 1, thickness=6)
    skeleton = thin.zhang_suen(ring[None].astype(bool))[0]
    assert skeleton.sum() < 0.35 * ring.sum()
    holes, _ = cv2.connectedComponents((~skeleton).astype(np.uint8), connectivity=4)
    assert holes - 1 == 2  # inside and outside stay apart: the loop is not broken


def test_thin_pen_draws_real_digits_with_less_ink_in_the_same_place(t10k) -> None:
    images, _ = t10k
    drawn = thin.thin_pen(images[:200], np.random.default_rng(0))
    broad = np.stack([normalize_digit(img.astype(np.float32) / 255) for img in images[:200]])
    assert drawn.shape == (200, 32, 32) and drawn.dtype == np.float32
    assert drawn.min() >= 0.0 and drawn.max() <= 1.0
    ink_ratio = drawn.sum(axis=(1, 2)) / broad.sum(axis=(1, 2))
    assert np.median(ink_ratio) < 0.7  # thinner strokes
    # ... along the same strokes: the thin ink lies where the broad digit's ink is.
    inside = (drawn * (broad > 0.1)).sum() / drawn.sum()
    assert inside > 0.9
