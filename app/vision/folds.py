"""Long thin straight lines at any angle: a fold's crease, a ruler's slip, a table's edge.

Form lines run along the page and are found by `app.vision.rules`; a crease where a sheet was
folded runs across it at any angle, a pixel or two wide, and joins every digit it touches
into one blob as tall as the page. Such a line is found where ink runs straight for several
writing heights (probabilistic Hough) and taken out of the ink map where it is thinner than
a pen's stroke: strokes crossing it keep their pixels.
"""

import math

import cv2
import numpy as np

from app.vision.binarize import InkMap
from app.vision.rules import without_pixels

# A line this many writing heights long (or longer) is no stroke of writing: a 1 is one
# height, an underline is a form line, and digits' strokes never run on straight so far.
LONG = 4.0
# ... or this many, where it also crosses the image from edge to edge (ACROSS of its extent
# that way): a crease through a page of two short rows is only three writing heights long,
# and a stroke of writing that long does not run from one edge to the other.
CROSSING = 2.5
ACROSS = 0.9
# A digit's mark this many writing heights long may be a stretch of a line (the whole mask is
# looked at for one).
JOINED = 2.0
# Along a line, gaps up to this share of the writing height are bridged (a crease fades and
# comes back).
GAP = 0.1
# A mark left with at least this share of its pixels on a line's band, and no more pixels
# than a line this wide along its length, is the line's own (a stretch of crease a little
# wider than elsewhere, no digit's stroke crossing it): it goes too. A pen's stroke along
# the line is wider and stays.
ON_LINE = 0.9
LINE_WIDTH = 3.5
_OPEN = np.ones((3, 3), np.uint8)


def _is_long(
    length: float, across: float, down: float, height: float, image: tuple[int, ...]
) -> bool:
    """Whether something `length` long, spanning `across` x `down` pixels, is LONG writing
    heights (`height`) long, or CROSSING long and across the image (its H x W shape `image`)
    from edge to edge."""
    edge_to_edge = down >= ACROSS * image[0] or across >= ACROSS * image[1]
    return length >= LONG * height or (length >= CROSSING * height and edge_to_edge)


def may_hold_long_lines(
    sizes: list[tuple[int, int]], height: float, image: tuple[int, int], joined: float = np.inf
) -> bool:
    """Whether any component (width, height) is long (`_is_long`), or `joined` writing heights
    long (JOINED, for digits: a faint crease breaks into stretches, each joined to a digit it
    crosses; a line of writing's words are that long)."""
    return any(
        _is_long(max(w, h), w, h, height, image) or max(w, h) >= joined * height for w, h in sizes
    )


def long_lines(mask: np.ndarray, height: float, remnants: bool = False) -> np.ndarray | None:
    """H x W bool: the mask's thin pixels (what a 3 x 3 opening takes away) on straight
    lines LONG writing heights (`height`) long or longer, or CROSSING long where they run
    from edge to edge (with `remnants`, and the marks left on them: `_with_line_remnants`);
    None where none is found."""
    # Lines as long as the image's shorter side are looked for where that is shorter than
    # LONG heights; those that do not reach from edge to edge are left.
    length = min(LONG * height, max(CROSSING * height, ACROSS * min(mask.shape)))
    # Looked for in the whole mask: the strokes a line crosses would break its thin pixels
    # into pieces too short to tell.
    found = cv2.HoughLinesP(
        mask,
        rho=1,
        theta=np.pi / 360,
        threshold=round(0.5 * length),
        minLineLength=length,
        maxLineGap=max(2, round(GAP * height)),
    )
    if found is None:
        return None
    band = np.zeros(mask.shape, np.uint8)
    # With `remnants`, the lines drawn on to the image's edges too.
    reach = np.zeros(mask.shape, np.uint8) if remnants else None
    far = sum(mask.shape)
    for x0, y0, x1, y1 in found.reshape(-1, 4).astype(float):
        across, down = abs(x1 - x0), abs(y1 - y0)
        length = math.hypot(across, down)
        if not _is_long(length, across, down, height, mask.shape):
            continue  # short of LONG and not from edge to edge
        # 5 px: the line's own 1-3 px and the staircase of a slight tilt.
        cv2.line(band, (int(x0), int(y0)), (int(x1), int(y1)), 1, thickness=5)
        if reach is not None:
            dx, dy = (x1 - x0) / length * far, (y1 - y0) / length * far
            cv2.line(reach, (int(x0 - dx), int(y0 - dy)), (int(x1 + dx), int(y1 + dy)), 1, 5)
    # Only what is thinner than a pen's stroke goes: a stroke crossing the line, or running
    # along it, keeps its pixels (taking out the whole band cut a 5 in two where a crease
    # ran along its back: of 40 creased rows sheets, 23 read wrong against 7 so).
    thin = mask & ~cv2.morphologyEx(mask, cv2.MORPH_OPEN, _OPEN)
    gone = (band & thin) > 0
    if not gone.any():
        return None
    return gone if reach is None else _with_line_remnants(mask, reach, gone)


def _with_line_remnants(mask: np.ndarray, band: np.ndarray, gone: np.ndarray) -> np.ndarray:
    """`gone` and the marks left over that lie (ON_LINE) on the lines' band (H x W uint8,
    drawn on to the image's edges): where a crease runs 3 px wide the opening keeps it, and a
    stretch of it the line's ends fell short of, beyond the writing, stayed a "1"."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats(
        (mask & ~gone.view(np.uint8)), connectivity=8
    )
    if n <= 1:
        return gone
    on_band = np.bincount(labels[band > 0], minlength=n)
    area = stats[:, cv2.CC_STAT_AREA]
    length = np.hypot(stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT])
    remnant = (on_band >= ON_LINE * area) & (area <= LINE_WIDTH * length)
    remnant[0] = False  # the background
    return gone | remnant[labels] if remnant.any() else gone


def without_long_lines(ink: InkMap, height: float, remnants: bool = False) -> InkMap:
    """The ink map without its long thin straight lines (`long_lines`)."""
    gone = long_lines(ink.mask, height, remnants)
    return ink if gone is None else without_pixels(ink, gone)
