"""Images enlarged by repeating pixels (nearest-neighbour upscaling) are smoothed first.

Such an image repeats every row and column at least twice: its strokes have staircase edges
no pen makes. LeNet-5 barely minds (a digit is shrunk to 20 pixels), but the chain and line
readers see the steps at full size and misread them (a flat 0 as '83'); rows of MNIST tiles
enlarged 2x this way read 92.7 -> 83.3% right. Shrinking such an image by its repeat and
enlarging it back smoothly undoes the steps; pixel coordinates stay as they are.

Enlarged 2x or more, every row and column of ink repeats; enlarged by less, rows alternate
once and twice, evenly. An antialiased, scanned or photographed image has no such pattern.
"""

import cv2
import numpy as np

# Every row (column) inside the image repeats at least this often in an image enlarged 2x or
# more; enlarged by less, rows alternate once and twice, at a share of at least this.
MIN_REPEAT = 2
MIN_TWICE = 0.15
# ... where at most this share of runs is longer (rows alike before enlarging).
ALIKE = 0.1
# At least this many runs of repeated rows (columns) inside the image before it is judged:
# an image of a few flat bands (a printed bar) is no evidence of enlargement.
MIN_RUNS = 4
# In an image over this many pixels, every GLANCE_STEP-th column is compared first: a cheap
# look that clears photos and scans.
GLANCE_PIXELS = 1_000_000
GLANCE_STEP = 7


def _runs(changed: np.ndarray, flat: np.ndarray) -> list[np.ndarray]:
    """Lengths of the runs of identical lines (rows or columns), in order, in each stretch of
    lines that are not all one level (paper between lines of writing breaks stretches), from
    `changed` (line i + 1 differs from line i) and `flat` (line i is all one level). Runs
    touching the image's edge are left out: they may be cut."""
    bounds = np.concatenate([[0], np.flatnonzero(changed) + 1, [len(flat)]])
    lengths = np.diff(bounds)[1:-1]
    return _split(lengths, flat[bounds[1:-2]])


def _split(runs: np.ndarray, at: np.ndarray) -> list[np.ndarray]:
    """`runs` cut into pieces at (and without) the runs flagged in `at`; no empty piece."""
    pieces = np.split(runs, np.flatnonzero(at))
    # Each piece after the first starts with the run that split it off.
    return [p for p in [pieces[0]] + [p[1:] for p in pieces[1:]] if len(p)]


def _balanced(twice: np.ndarray) -> bool:
    """Whether the rarer of once / twice recurs evenly in a stretch: its gaps differ by at
    most one, as enlarging by a fixed factor spreads the repeats."""
    rare = twice if twice.mean() <= 0.5 else ~twice
    gaps = np.diff(np.flatnonzero(rare))
    return len(gaps) == 0 or int(gaps.max() - gaps.min()) <= 1


def _repeat(gray: np.ndarray, axis: int) -> float:
    """How many times each row (`axis` 0) or column (1) of `gray` is repeated on average,
    1.0 where it was not enlarged by repeating them. Runs of identical lines measure it; a run
    twice the shortest or longer is two lines that were alike before enlarging, left out."""
    g = gray if axis == 0 else gray.T
    if g.shape[0] * g.shape[1] > GLANCE_PIXELS:
        glance = np.any(g[1:, ::GLANCE_STEP] != g[:-1, ::GLANCE_STEP], axis=1)
        if glance.mean() > 1 - MIN_TWICE / 2:
            return 1.0  # nearly every line differs from the last (noise): a photo or scan
    changed = np.any(g[1:] != g[:-1], axis=1)  # line i + 1 differs from line i
    flat = ~np.any(g != g[:, :1], axis=1)
    # Enlarged by 1.18 or more, at least MIN_TWICE of the lines of writing repeat the last.
    if np.count_nonzero(~changed & ~flat[1:]) < MIN_TWICE * np.count_nonzero(~flat):
        return 1.0
    stretches = _runs(changed, flat)
    runs = np.concatenate(stretches) if stretches else np.zeros(0, int)
    if len(runs) < MIN_RUNS:
        return 1.0
    if runs.min() >= MIN_REPEAT:
        return float(runs[runs < 2 * runs.min()].mean())
    if (
        (runs > 2).mean() <= ALIKE
        and (runs == 2).mean() >= MIN_TWICE
        and all(_balanced(p == 2) for s in stretches for p in _split(s, s > 2))
    ):
        return float(runs[runs <= 2].mean())
    return 1.0


def smooth_blocks(gray: np.ndarray) -> np.ndarray:
    """`gray` (H x W uint8) as it would be had it been enlarged smoothly, where it was
    enlarged by repeating rows and/or columns; else `gray` itself."""
    h, w = gray.shape
    if h < 2 * MIN_RUNS or w < 2 * MIN_RUNS:
        return gray
    fy = _repeat(gray, 0)
    fx = _repeat(gray, 1)
    if fy == 1.0 and fx == 1.0:
        return gray
    small = (max(1, round(w / fx)), max(1, round(h / fy)))
    shrunk = cv2.resize(gray, small, interpolation=cv2.INTER_AREA)
    return cv2.resize(shrunk, (w, h), interpolation=cv2.INTER_LINEAR)
