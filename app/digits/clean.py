"""Clean crops, found in one pass: one row of separate digits, dark on plain light paper.

Much of what reaches /digits is a crop of a form's or a cheque's digit field, as a scanner
or a screenshot gives it. On such a crop each step that makes the full reading robust (the
page's surround, uneven light, glare, shade bands, grids, form lines, creases, fragments,
touching digits, tilt, turned pages) looks and changes nothing, yet together they cost
several times the reading itself. `row_pieces` recognises such a crop cheaply and
conservatively, and gives its digits' pieces as the segmenter cuts them (`own_ink`,
`tight_piece`); anything else is None, and the reader then goes the full way (as it also
does where LeNet-5 reads any of the digits less surely than it reads a clean page:
`DigitReader._read_clean`).
"""

import itertools

import cv2
import numpy as np

from app.digits.segment import FAINT_INK, READ_HEIGHT, Box, Piece, own_ink, tight_piece
from app.digits.tilt import needs_levelling, page_tilt
from app.vision.binarize import border_ring, grey_hist, ink_and_paper, strength_of

# A crop at most this large (the size read on the event loop, HWR_INLINE_MAX_PIXELS).
MAX_PIXELS = 250_000
# Its paper at least this bright and the ink this much darker (Otsu's split of a scan).
PAPER = 200
CONTRAST = 128
# Away from the ink (beyond the CLEAR kernel's reach), every pixel within PAPER_SPREAD of the
# paper's level either way: no shade, glare, grid, ruling, speck or noise anywhere.
PAPER_SPREAD = 16
CLEAR = np.ones((5, 5), np.uint8)
# One row of 1-MAX_DIGITS components: each as tall as the tallest within SAME_HEIGHT (no
# fragment, no stray mark), no wider than tall (no touching digits), at least GAP of the
# tallest apart (nothing to merge or join), all sharing a band of rows, digits MIN_HEIGHT to
# READ_HEIGHT px tall (no shrinking, no tiny text), the row level.
MAX_DIGITS = 12
SAME_HEIGHT = 0.8
GAP = 0.3
MIN_HEIGHT = 12


def row_pieces(gray: np.ndarray) -> list[Piece] | None:
    """The digits of a clean one-row crop (H x W uint8, dark ink), left to right; None where
    `gray` is anything else."""
    h, w = gray.shape
    if h * w > MAX_PIXELS or min(h, w) < MIN_HEIGHT:
        return None
    thr, sure = cv2.threshold(gray, 0, 1, cv2.THRESH_BINARY_INV | cv2.THRESH_OTSU)
    levels = ink_and_paper(grey_hist(gray), int(thr))
    if levels is None or levels[1] < PAPER or levels[1] - levels[0] < CONTRAST:
        return None
    near = cv2.dilate(sure, CLEAR)
    if border_ring(near).any():
        return None  # ink at the crop's edge: a cut-off digit, a surround, a form's line
    # (Where nothing is away from the ink, both come back 0: refused.)
    low, high = cv2.minMaxLoc(gray, cv2.compare(near, 0, cv2.CMP_EQ))[:2]
    if low < levels[1] - PAPER_SPREAD or high > levels[1] + PAPER_SPREAD:
        return None  # shade or glare (which washes the ink out: a 0 read surely as a 7)
    strength = strength_of(gray, *levels)
    # Faint ink joins the sure ink (`grow_faint_ink`): faint ink that touches none lies away
    # from it (refused above) or is a mark of its own, too small to pass `_one_clean_row`.
    mask = np.bitwise_or(sure, (strength >= FAINT_INK).view(np.uint8))
    n, _labels, stats, _ = cv2.connectedComponentsWithStatsWithAlgorithm(
        mask, 8, cv2.CV_32S, cv2.CCL_GRANA
    )
    if not 1 <= n - 1 <= MAX_DIGITS:
        return None
    # Left to right; sorted() is stable, so a tie keeps the labelling's order.
    boxes = sorted((Box(*row[:4]) for row in stats[1:].tolist()), key=lambda b: b.x)
    if not _one_clean_row(boxes) or needs_levelling(page_tilt(boxes, mask)):
        return None
    # The row's digits lie in columns of their own, apart by more than `own_ink`'s reach:
    # each box holds one component's ink and fringe alone, so one pass over the crop gives
    # every digit's own ink.
    ink = own_ink(strength, mask.view(np.bool_))
    pieces = []
    for b in boxes:
        piece = tight_piece(ink[b.y : b.bottom, b.x : b.right], b)
        if piece is None:
            return None
        pieces.append(piece)
    return pieces


def _one_clean_row(boxes: list[Box]) -> bool:
    """Whether components (in x order) are one row of separate digits of one size."""
    tallest = max(b.height for b in boxes)
    return (
        MIN_HEIGHT <= tallest <= READ_HEIGHT
        and min(b.height for b in boxes) >= SAME_HEIGHT * tallest
        and max(b.y for b in boxes) < min(b.bottom for b in boxes)
        and all(b.width <= b.height for b in boxes)
        and all(b.x - a.right >= GAP * tallest for a, b in itertools.pairwise(boxes))
    )
