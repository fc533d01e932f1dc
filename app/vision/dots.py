"""Dotted paper (a bullet journal's grid of printed dots) out of the ink map.

Each dot is a mark of a few pixels, too big for a speck, and every gap between two letters
shows one: left in, they were read as full stops and colons inside words. A dot of the grid
is a small mark in a row of at least DOT_ROW such marks at one level, one spacing apart (or a
whole number of spacings, where writing hides the dots between), a spacing wider than the
dots of a character such as 灬.
"""

import cv2
import numpy as np

from app.vision.binarize import InkMap
from app.vision.rules import without_pixels

# A dot is at most this many pixels across, and at most this share of the writing's height.
DOT_PX, DOT_SHARE = 7, 0.25
# Marks in one row of the grid: centres this close in height (pixels).
ROW_LEVEL = 1.5
# A row of the grid holds at least this many dots, spaced at least DOT_STEP pixels and
# STEP_SHARE of the writing's height apart (the four dots of 灬 are closer).
DOT_ROW, DOT_STEP, STEP_SHARE = 5, 6.0, 0.4
# A gap between two dots of a row is a whole number of spacings, give or take this share.
STEP_SLACK = 0.15
# At least this share of a row's gaps fit its spacing (the rest: a full stop beside a dot).
ROW_FIT = 0.8


def _grid_row(xs: np.ndarray, min_step: float) -> np.ndarray:
    """bool per mark of one row (centres `xs`, sorted): on the row's lattice of dots, spaced
    at least `min_step` apart."""
    gaps = np.diff(xs)
    # The spacing: the smallest gap that recurs (a full stop beside a dot makes a lone one).
    step = next(
        (
            float(g)
            for g in np.sort(gaps[gaps >= min_step])
            if (np.abs(gaps - g) <= STEP_SLACK * g).sum() >= 2
        ),
        None,
    )
    if step is None:
        return np.zeros(xs.size, bool)
    whole = np.round(gaps / step)
    fits = (whole >= 1) & (np.abs(gaps / step - whole) <= STEP_SLACK)
    if fits.mean() < ROW_FIT:
        return np.zeros(xs.size, bool)
    # Each mark joined to a neighbour by a fitting gap is on the lattice.
    on = np.zeros(xs.size, bool)
    on[:-1] |= fits
    on[1:] |= fits
    return on


def dot_grid(mask: np.ndarray) -> np.ndarray | None:
    """H x W bool: the pixels of a printed dot grid in a mask (H x W uint8), None where none."""
    count, labels, stats, centres = cv2.connectedComponentsWithStatsWithAlgorithm(
        mask, 8, cv2.CV_32S, cv2.CCL_GRANA
    )
    if count < DOT_ROW + 1:
        return None
    w, h = stats[1:, cv2.CC_STAT_WIDTH], stats[1:, cv2.CC_STAT_HEIGHT]
    writing = (w > DOT_PX) | (h > DOT_PX)
    size, min_step = float(DOT_PX), DOT_STEP
    if writing.any():  # small writing: smaller dots only (a small letter's dot stays)
        height = float(np.median(h[writing]))
        size = min(size, max(2.0, DOT_SHARE * height))
        min_step = max(min_step, STEP_SHARE * height)
    small = np.nonzero((w <= size) & (h <= size))[0]
    if small.size < DOT_ROW:
        return None
    ys, xs = centres[1 + small, 1], centres[1 + small, 0]
    grid = np.zeros(count, bool)
    order = np.argsort(ys)
    start = 0
    for end in range(1, order.size + 1):
        # Rows: runs of centres, sorted by height, no step between neighbours over ROW_LEVEL.
        if end < order.size and ys[order[end]] - ys[order[end - 1]] <= ROW_LEVEL:
            continue
        row = order[start:end]
        start = end
        if row.size < DOT_ROW:
            continue
        row = row[np.argsort(xs[row])]
        on = _grid_row(xs[row], min_step)
        if on.sum() >= DOT_ROW:
            grid[1 + small[row[on]]] = True
    if not grid.any():
        return None
    return grid[labels]


def without_dot_grid(ink: InkMap) -> InkMap:
    """The ink map with a printed dot grid taken out (the map itself where there is none)."""
    dots = dot_grid(ink.mask)
    return ink if dots is None else without_pixels(ink, dots)
