"""Grayscale page -> ink strength and ink mask: polarity, illumination, Otsu."""

from dataclasses import dataclass

import cv2
import numpy as np

# Background variation (grey levels) above which illumination counts as uneven (phone photos).
UNEVEN_LIGHT = 28.0
# Paper and ink means closer than this are not two classes: the image holds no ink.
MIN_CONTRAST = 24.0


@dataclass(frozen=True)
class InkMap:
    """mask: H x W uint8 (1 = ink); strength: H x W float32 in [0, 1], 1 = full ink."""

    mask: np.ndarray
    strength: np.ndarray


def dark_ink(gray: np.ndarray) -> np.ndarray:
    """Return the image with ink darker than paper (inverts light-on-dark images)."""
    # Paper dominates a handwriting image, so the median grey level is the paper's.
    return 255 - gray if float(np.median(gray)) < 128.0 else gray


def estimate_background(gray: np.ndarray) -> np.ndarray:
    """Paper brightness at every pixel, from a max filter at low resolution (ink removed)."""
    h, w = gray.shape
    scale = min(1.0, 256.0 / max(h, w))
    small = cv2.resize(
        gray, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA
    )
    k = max(3, (min(small.shape) // 6) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
    bg = cv2.dilate(small, kernel)
    bg = cv2.blur(bg, (k, k))
    return cv2.resize(bg, (w, h), interpolation=cv2.INTER_LINEAR)


def ink_map(gray: np.ndarray) -> InkMap:
    """Binarise a grayscale image of any polarity and lighting into an ink mask and strength."""
    gray = dark_ink(gray)
    if min(gray.shape) >= 16:
        bg = estimate_background(gray)
        lo, hi = np.percentile(bg, (5, 95))
        if hi - lo > UNEVEN_LIGHT:
            # Divide out the lighting so one global threshold fits the whole page.
            flat = gray.astype(np.float32) / np.maximum(bg.astype(np.float32), 1.0)
            gray = np.clip(flat * 255.0, 0, 255).astype(np.uint8)
    _thr, binary = cv2.threshold(gray, 0, 1, cv2.THRESH_BINARY_INV | cv2.THRESH_OTSU)
    ink = binary.astype(bool)
    n_ink = int(ink.sum())
    if n_ink == 0 or n_ink == ink.size:
        return _blank(gray.shape)
    ink_level = float(np.median(gray[ink]))
    paper_level = float(np.median(gray[~ink]))
    if paper_level - ink_level < MIN_CONTRAST:
        return _blank(gray.shape)
    strength = (paper_level - gray.astype(np.float32)) / (paper_level - ink_level)
    return InkMap(mask=binary, strength=np.clip(strength, 0.0, 1.0))


def _blank(shape: tuple[int, ...]) -> InkMap:
    return InkMap(mask=np.zeros(shape, np.uint8), strength=np.zeros(shape, np.float32))
