"""Pages turned a quarter or a half turn: which way up their digits read best.

A page scanned sideways or upside down, with no orientation tag, reads as nonsense read
surely by nobody. Where a page's reading is unsure, its blobs of one digit's proportions
are read again turned by one, two and three quarter turns; the page is turned the way its
digits read most surely, and only by a clear margin (upside down, 0, 1, 2, 5 and 8 read much
as themselves and 6 and 9 swap: the other digits carry that vote). numpy only; the reader
does the reading.
"""

from collections.abc import Sequence

import numpy as np

from app.digits.segment import Box, Segment
from app.vision.turn import bounds_back, quarter_turns_back

# Only a page whose digits are read this unsurely on average is looked at turned: an upright
# page rarely is (eval sheets: 0-7% of them), a turned one nearly always (all of 60 measured).
UNSURE_PAGE = 0.9
# ... and only where at least this many digits vote: one or two say too little.
MIN_VOTERS = 3
# Blobs longer than this either way (a 1, a dash, touching digits) do not vote.
MAX_ASPECT = 2.0
# A half turn wins only where its voters read this surely on average (pages upside down:
# 0.88-0.96 of 25 measured) ...
SURE_HALF_TURN = 0.85
# ... a quarter turn at this (sheets of slanted rows turned: 0.6-0.96; touching digits, whose
# pairs can pass for one digit turned, up to 0.8: the turned page must also read in fewer,
# longer lines than upright, `reads_in_rows`) ...
SURE_QUARTER_TURN = 0.6
# ... and either beats upright's mean confidence by this much.
MARGIN = 0.05
# A half turn also wins, from two voters up, where they read at least HALF_TURN_EVIDENCE
# (natural log) likelier in sum turned than upright and this surely on average: pages upside
# down read 0.78-0.96 so with 2-16 voters; of upright pages looked at (1,200 sheets of six
# kinds, and the eval's 10,000) one summed 2.1 at 0.77 (a form's 8 read as no digit), the rest
# -8.6 to 0.6.
SURE_HALF_TURN_WITH_EVIDENCE = 0.75
HALF_TURN_EVIDENCE = 2.5
HALF_TURN_VOTERS = 2
# Readings (upright, upside down) of one blob that say nothing of which way up it is: a page
# of 6s, 9s and a 5 read upright unsurely was turned, its 6s and 9s as sure either way; a 2
# and a 5 are much like a Z and an S, a half turn away from themselves.
ALIKE_UPSIDE_DOWN = {
    ("0", "0"),
    ("1", "1"),
    ("2", "2"),
    ("5", "5"),
    ("8", "8"),
    ("6", "9"),
    ("9", "6"),
}


def looks_unsure(confidences: Sequence[float]) -> bool:
    """Whether a page read with these digit confidences is worth looking at turned."""
    return len(confidences) >= MIN_VOTERS and float(np.mean(confidences)) < UNSURE_PAGE


def voters(segments: list[Segment]) -> list[np.ndarray]:
    """Ink of the blobs that are one digit's proportions whichever way up the page is."""
    out = []
    for seg in segments:
        whole = seg.whole
        if whole is None or seg.small:
            continue
        w, h = whole.box.width, whole.box.height
        if max(w, h) <= MAX_ASPECT * min(w, h):
            out.append(whole.ink)
    return out


def best_turn(probs: np.ndarray, labels: Sequence[str]) -> int:
    """Quarter turns (0-3, counter-clockwise) the page is read at, given its voters' readings
    turned 0-3 times (4 x N x classes probabilities): the surest turn whose voters are sure
    enough on average (SURE_HALF_TURN, SURE_QUARTER_TURN) and beat upright by MARGIN, else 0.
    A half turn is judged by the voters whose readings either way up are no pair of digits
    that look alike so (ALIKE_UPSIDE_DOWN): MIN_VOTERS of them at SURE_HALF_TURN, or
    HALF_TURN_VOTERS whose readings turned are HALF_TURN_EVIDENCE likelier than upright."""
    sure = probs.max(axis=2)  # 4 x N
    best, best_mean = 0, 0.0
    for k in (1, 2, 3):
        votes = np.ones(sure.shape[1], bool)
        if k == 2:
            up, turned = probs[0].argmax(axis=1), probs[2].argmax(axis=1)
            votes = np.array(
                [
                    (labels[a], labels[b]) not in ALIKE_UPSIDE_DOWN
                    for a, b in zip(up, turned, strict=True)
                ]
            )
            if votes.sum() < HALF_TURN_VOTERS:
                continue
        mean, upright = float(sure[k, votes].mean()), float(sure[0, votes].mean())
        if k == 2:
            sure_enough = _half_turn_sure(sure[2, votes], sure[0, votes])
        else:
            sure_enough = mean >= SURE_QUARTER_TURN
        if sure_enough and mean >= upright + MARGIN and mean > best_mean:
            best, best_mean = k, mean
    return best


def _half_turn_sure(turned: np.ndarray, upright: np.ndarray) -> bool:
    """Whether voters read with these confidences upside down and upright (N each) are sure
    enough of the half turn: MIN_VOTERS of them at SURE_HALF_TURN on average, or readings
    turned HALF_TURN_EVIDENCE likelier in sum than upright."""
    mean = float(turned.mean())
    if len(turned) >= MIN_VOTERS and mean >= SURE_HALF_TURN:
        return True
    evidence = float(np.sum(np.log(np.maximum(turned, 1e-9)) - np.log(np.maximum(upright, 1e-9))))
    return evidence >= HALF_TURN_EVIDENCE and mean >= SURE_HALF_TURN_WITH_EVIDENCE


def reads_in_rows(lines_turned: int, lines_upright: int) -> bool:
    """Whether a page read a quarter turned is in rows: fewer lines than read upright (rows
    of a page on its side are read upright as many short lines, one digit of each row)."""
    return lines_turned < lines_upright


def box_back(box: Box, k: int, shape: tuple[int, ...]) -> Box:
    """A box found on np.rot90(image, k), in the pixels of the image (`shape`: its H, W)."""
    return Box(*bounds_back(quarter_turns_back(k, shape), *box.corners, shape))
