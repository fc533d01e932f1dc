"""How far a page of digits is turned, told from where its digits stand.

A photographed page is rarely square to the camera. Rows tilted more than about ten degrees
break apart or run into each other when digits are grouped into rows (200 `rows` sheets
turned 12-15 / 20-25 degrees: 62.0 / 1.0% read right, against 91.5% level; levelled, 91.0 /
91.0%). Each digit's nearest neighbour to its right, in its own row, shows the row's
direction; their median is the page's tilt, measured from the boxes segmentation found
anyway (no pixel work unless the page looks turned). A tilt is undone only where the ink
bears it out: turned by it, the ink lies in sharper rows than level (digits written far
apart, in rows closer than their gaps, have their nearest neighbours diagonally in the next
row: 150 such level sheets read 42.0% right as pages turned 15-40 degrees, now 93.3%).
"""

import math
import statistics

import cv2
import numpy as np

from app.digits.segment import Box

# A tilt is measured from at least this many neighbouring pairs of digits.
MIN_PAIRS = 2
# A neighbour counts within this many digit heights (the gap between their boxes), its
# centre no more than 45 degrees off the horizontal: a row's next digit or blob of touching
# digits, not the one below it.
REACH = 1.5
# Only a tilt at least this large (degrees) is undone: rows tilted less are grouped right
# as they are (8-10 degrees: 91.0%), and turning an image resamples it (at 6 degrees, two of
# 400 pages photographed on a desk, turned up to 5, read a digit otherwise; at 4, short rows'
# jitter passed for tilt).
MIN_TILT = 8.0
# A single row of a few blobs: its ink's long axis is its direction where the ink is at least
# this many times longer than wide, within this many degrees of the horizontal.
ELONGATED = 3.0
MAX_ROW_TILT = 30.0
# A tilt is undone only where the ink, turned by it, lies in rows sharper than level: the sum
# of its squared row profile (in bins of this share of the typical digit height) larger by
# this share at least. Digits written far apart (gaps of two heights) have their nearest
# neighbour in the next row, diagonally: a level page of them passed for turned 15-40 degrees.
PROFILE_BIN = 0.25
SHARPER = 0.05


def page_tilt(boxes: list[Box], mask: np.ndarray) -> float:
    """The angle (degrees, counter-clockwise as cv2.getRotationMatrix2D turns) that levels
    the rows of digits whose boxes are `boxes`; where too few neighbours tell (a row of a few
    blobs of touching digits), the long axis of the ink (`mask`), if it is long; else 0.0."""
    # Plain Python: a page holds a few dozen boxes, and numpy's per-call cost was most of it.
    order = sorted(boxes, key=lambda b: b.x)
    tallest = max((b.height for b in order), default=0)
    angles = []
    for k, a in enumerate(order):
        acx, acy = a.x + a.width / 2.0, a.cy
        best = None
        for b in order[k + 1 :]:
            gap = b.x - a.right
            if gap >= REACH * tallest:
                break  # sorted by x: every later box is further
            dx, dy = b.x + b.width / 2.0 - acx, b.cy - acy
            if dx > 0 and abs(dy) < dx and gap < REACH * max(a.height, b.height):
                dist = dx * dx + dy * dy
                if best is None or dist < best[0]:
                    best = (dist, dx, dy)
        if best is not None:
            angles.append(math.atan2(best[2], best[1]))
    tilt = _long_axis(mask) if len(angles) < MIN_PAIRS else math.degrees(statistics.median(angles))
    if not needs_levelling(tilt):
        return tilt
    bin_px = PROFILE_BIN * (statistics.median(b.height for b in order) if order else 8.0)
    return tilt if _rows_sharper(mask, tilt, bin_px) else 0.0


def _profile_sharpness(ys: np.ndarray, xs: np.ndarray, angle: float, bin_px: float) -> float:
    """Sum of the squared row profile of ink pixels (ys, xs) turned by `angle` (as
    cv2.getRotationMatrix2D turns: y' = -sin * x + cos * y), in bins `bin_px` tall."""
    a = math.radians(angle)
    across = (math.cos(a) * ys - math.sin(a) * xs) / max(bin_px, 1.0)
    profile = np.bincount((across - across.min()).astype(np.int64)).astype(np.float64)
    return float(np.square(profile).sum())


def _rows_sharper(mask: np.ndarray, tilt: float, bin_px: float) -> bool:
    """Whether the ink turned by `tilt` lies in rows sharper than level (SHARPER)."""
    ys, xs = np.nonzero(mask)
    if len(ys) == 0:
        return False
    level = _profile_sharpness(ys, xs, 0.0, bin_px)
    return _profile_sharpness(ys, xs, tilt, bin_px) >= (1.0 + SHARPER) * level


def _long_axis(mask: np.ndarray) -> float:
    """The angle of the ink's long axis (as page_tilt), where the ink is at least ELONGATED
    times longer than wide along it and within MAX_ROW_TILT of the horizontal; else 0.0."""
    m = cv2.moments(mask, binaryImage=True)
    if m["m00"] == 0:
        return 0.0
    a, b, c = m["mu20"], m["mu11"], m["mu02"]  # second central moments
    spread = math.hypot(a - c, 2 * b)
    if (a + c + spread) < ELONGATED**2 * max(a + c - spread, 1e-9):
        return 0.0  # variance along the long axis over that across it: lengths squared
    angle = 0.5 * math.degrees(math.atan2(2 * b, a - c))
    return angle if abs(angle) <= MAX_ROW_TILT else 0.0


def needs_levelling(tilt: float) -> bool:
    """Whether a page tilted `tilt` degrees is turned level before its rows are grouped."""
    return abs(tilt) >= MIN_TILT
