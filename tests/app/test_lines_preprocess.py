"""Line normalisation: height, polarity, cropping and batching."""

import cv2
import numpy as np

from app.lines.preprocess import normalize_line, to_batch


def line_image(invert: bool = False) -> np.ndarray:
    img = np.full((80, 400), 235, np.uint8)
    cv2.putText(img, "Room 302", (40, 55), cv2.FONT_HERSHEY_SIMPLEX, 1.5, 20, 3)
    return 255 - img if invert else img


def test_normalize_line_scales_to_height_keeping_aspect() -> None:
    out = normalize_line(line_image(), 32)
    assert out.shape[0] == 32 and out.dtype == np.float32
    assert 4 < out.shape[1] / 32 < 10  # "Room 302" is about six times wider than tall
    assert out.max() == 1.0 and out.min() == 0.0


def test_normalize_line_ignores_polarity() -> None:
    a, b = normalize_line(line_image(), 32), normalize_line(line_image(invert=True), 32)
    assert a.shape == b.shape and np.abs(a - b).mean() < 0.02


def test_normalize_line_of_blank_is_blank() -> None:
    assert not normalize_line(np.full((40, 100), 255, np.uint8), 32).any()


def test_to_batch_pads_to_the_widest_multiple_of_the_stride() -> None:
    batch = to_batch([np.ones((32, 10)), np.ones((32, 21))], mean=0.0, std=1.0)
    assert batch.shape == (2, 1, 32, 24)
    assert batch[0, 0, :, 10:].sum() == 0 and batch[1, 0, :, :21].min() == 1
