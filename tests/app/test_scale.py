"""app/vision/scale.py: block shrinking, and the factor a large image is read shrunk by."""

import numpy as np

from app.vision.scale import LARGE_IMAGE, reading_factor, shrink


def test_shrink_averages_whole_blocks_and_drops_the_rest() -> None:
    gray = np.arange(7 * 10, dtype=np.uint8).reshape(7, 10)
    small = shrink(gray, 3)
    assert small.shape == (2, 3)
    assert small[1, 2] == round(gray[3:6, 6:9].mean())
    assert shrink(gray, 1) is gray


def test_only_large_images_are_measured_near_the_large_size() -> None:
    seen: list[tuple[int, int]] = []

    def height(small: np.ndarray) -> float:
        seen.append(small.shape)
        return 80.0

    assert reading_factor(np.zeros((1000, 2000), np.uint8), height, 48) == 1  # LARGE_IMAGE
    assert seen == []  # not even measured
    # Measured at a third of the size: writing 80 px there is 240 px here.
    assert reading_factor(np.zeros((3000, 4000), np.uint8), height, 48) == 5
    assert seen == [(1000, 1333)] and LARGE_IMAGE >= 1000 * 1333


def test_the_factor_keeps_writing_at_least_the_read_height() -> None:
    big = np.zeros((3000, 4000), np.uint8)  # measured shrunk 3 times
    assert reading_factor(big, lambda _s: 40.0 / 3, 48) == 1
    assert reading_factor(big, lambda _s: 95.0 / 3, 48) == 1
    assert reading_factor(big, lambda _s: 0.0, 48) == 1  # no writing found
    for px in (239.0, 240.0, 1000.0):
        factor = reading_factor(big, lambda _s, px=px: px / 3, 48)
        assert factor >= 2 and px / factor >= 48 and px / (factor + 1) < 48


def test_a_long_thin_image_is_not_shrunk_to_nothing() -> None:
    strip = np.zeros((1, 3_000_000), np.uint8)  # 3 MP, but one row: measured as it is
    assert reading_factor(strip, lambda small: float(small.shape[0]), 1) == 1
