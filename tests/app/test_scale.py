"""app/vision/scale.py: block shrinking and the glance at large images."""

import numpy as np

from app.vision.scale import LARGE_IMAGE, glance, shrink, shrink_factor


def test_shrink_averages_whole_blocks_and_drops_the_rest() -> None:
    gray = np.arange(7 * 10, dtype=np.uint8).reshape(7, 10)
    small = shrink(gray, 3)
    assert small.shape == (2, 3)
    assert small[1, 2] == round(gray[3:6, 6:9].mean())
    assert shrink(gray, 1) is gray


def test_only_large_images_are_glanced_at_near_the_large_size() -> None:
    assert glance(np.zeros((1000, 2000), np.uint8)) is None  # exactly LARGE_IMAGE
    small, factor = glance(np.zeros((3000, 4000), np.uint8))
    assert factor == 3 and small.shape == (1000, 1333)
    assert small.size <= LARGE_IMAGE


def test_the_shrink_factor_keeps_writing_at_least_the_read_height() -> None:
    assert shrink_factor(40.0, 48) == 1
    assert shrink_factor(95.0, 48) == 1
    assert shrink_factor(240.0, 48) == 5
    assert 240.0 / shrink_factor(239.0, 48) >= 48
