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
# Along a line, gaps up to this share of the writing height are bridged (a crease fades and
# comes back).
GAP = 0.1
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
    sizes: list[tuple[int, int]], height: float, image: tuple[int, int]
) -> bool:
    """Whether any component (width, height) is long (`_is_long`)."""
    return any(_is_long(max(w, h), w, h, height, image) for w, h in sizes)


def long_lines(mask: np.ndarray, height: float) -> np.ndarray | None:
    """H x W bool: the mask's thin pixels (what a 3 x 3 opening takes away) on straight
    lines LONG writing heights (`height`) long or longer, or CROSSING long where they run
    from edge to edge; None where none is found."""
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
    for x0, y0, x1, y1 in found.reshape(-1, 4):
        across, down = abs(int(x1) - int(x0)), abs(int(y1) - int(y0))
        if not _is_long(math.hypot(across, down), across, down, height, mask.shape):
            continue  # short of LONG and not from edge to edge
        # 5 px: the line's own 1-3 px and the staircase of a slight tilt.
        cv2.line(band, (int(x0), int(y0)), (int(x1), int(y1)), 1, thickness=5)
    # Only what is thinner than a pen's stroke goes: a stroke crossing the line, or running
    # along it, keeps its pixels (taking out the whole band cut a 5 in two where a crease
    # ran along its back: of 40 creased rows sheets, 23 read wrong against 7 so).
    thin = mask & ~cv2.morphologyEx(mask, cv2.MORPH_OPEN, _OPEN)
    gone = (band & thin) > 0
    return gone if gone.any() else None


def without_long_lines(ink: InkMap, height: float) -> InkMap:
    """The ink map without its long thin straight lines (`long_lines`)."""
    gone = long_lines(ink.mask, height)
    return ink if gone is None else without_pixels(ink, gone)
