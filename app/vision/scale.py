"""Large images (phone photos) are read shrunk where their writing is far taller than needed.

Every stage costs per pixel, yet a digit ends up 20 pixels tall for LeNet-5 and a line 32-48
for the CRNN. An image over LARGE_IMAGE pixels is first glanced at, shrunk to about that size,
to measure its writing; then read shrunk by a whole factor where its writing is still at least
the reader's height (whole factors: block averaging is several times faster than resampling).
"""

import math
from collections.abc import Callable

import cv2
import numpy as np

LARGE_IMAGE = 2_000_000


def shrink(gray: np.ndarray, factor: int) -> np.ndarray:
    """`gray` averaged over `factor` x `factor` blocks (rows and columns that fill no whole
    block at the bottom and right are dropped)."""
    if factor == 1:
        return gray
    h, w = gray.shape
    whole = gray[: h - h % factor, : w - w % factor]
    return cv2.resize(whole, (w // factor, h // factor), interpolation=cv2.INTER_AREA)


def reading_factor(
    gray: np.ndarray, writing_height: Callable[[np.ndarray], float], read_px: int
) -> int:
    """The whole factor to read `gray` shrunk by: 1 unless it is over LARGE_IMAGE pixels and
    its writing, as `writing_height` measures it on the image shrunk to about LARGE_IMAGE
    pixels, is at least twice `read_px` tall (then as much as leaves it `read_px` or more)."""
    h, w = gray.shape
    if h * w <= LARGE_IMAGE:
        return 1
    # A very long, thin image would otherwise shrink to nothing across.
    look = min(math.ceil(math.sqrt(h * w / LARGE_IMAGE)), h, w)
    return max(1, int(writing_height(shrink(gray, look)) * look // read_px))
