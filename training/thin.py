"""Thin-pen renders of MNIST digits: what a ballpoint or fineliner leaves.

MNIST's strokes are broad (a felt pen, scanned); a ballpoint's line is a pixel or two wide on a
phone photo, and fitted into MNIST's 20 x 20 box it keeps little of a broad stroke's shape. A
digit is drawn again along its stroke's centre line (Zhang-Suen thinning of the digit at twice
its size), with a narrow pen, and normalised by the service's own `normalize_digit`. numpy and
OpenCV only.
"""

from itertools import pairwise

import cv2
import numpy as np

from app.digits.preprocess import normalize_digit

SCALE = 2  # thinned at twice MNIST's size, so the centre line keeps the digit's curves


def _neighbours(img: np.ndarray) -> list[np.ndarray]:
    """P2..P9 (clockwise from north) of every pixel of an N x H x W bool stack."""
    p = np.pad(img, ((0, 0), (1, 1), (1, 1)))
    h, w = img.shape[1:]
    offsets = ((0, 1), (0, 2), (1, 2), (2, 2), (2, 1), (2, 0), (1, 0), (0, 0))
    return [p[:, dy : dy + h, dx : dx + w] for dy, dx in offsets]


def zhang_suen(mask: np.ndarray) -> np.ndarray:
    """N x H x W bool -> its one-pixel-wide centre lines (Zhang and Suen, 1984), all at once."""
    img = mask.astype(bool).copy()
    changed = True
    while changed:
        changed = False
        for step in (0, 1):
            n = _neighbours(img)
            count = sum(x.astype(np.uint8) for x in n)
            ring = n + n[:1]
            turns = sum((~a & b).astype(np.uint8) for a, b in pairwise(ring))
            p2, p4, p6, p8 = n[0], n[2], n[4], n[6]
            if step == 0:
                side = ~(p2 & p4 & p6) & ~(p4 & p6 & p8)
            else:
                side = ~(p2 & p4 & p8) & ~(p2 & p6 & p8)
            drop = img & (count >= 2) & (count <= 6) & (turns == 1) & side
            if drop.any():
                img &= ~drop
                changed = True
    return img


def thin_pen(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """N x 28 x 28 uint8 MNIST digits -> N x 32 x 32 float32 normalised thin-pen renders.

    Each is thinned at SCALE x, drawn again 1-2 px wide (a pen 0.5-1 MNIST px), softened as a
    lens would, and fitted as the service fits any digit."""
    big = np.stack(
        [
            cv2.resize(img, None, fx=SCALE, fy=SCALE, interpolation=cv2.INTER_LINEAR)
            for img in images
        ]
    )
    lines = zhang_suen(big > 127)
    out = np.empty((len(images), 32, 32), np.float32)
    for i, line in enumerate(lines):
        pen = line.astype(np.uint8)
        if rng.random() < 0.5:
            pen = cv2.dilate(pen, np.ones((2, 2), np.uint8))
        ink = cv2.GaussianBlur(pen.astype(np.float32), (0, 0), rng.uniform(0.4, 0.8))
        out[i] = normalize_digit(np.clip(ink * 1.5, 0.0, 1.0))
    return out
