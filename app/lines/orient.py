"""Pages of lines turned a quarter or a half turn: which way up they read surest.

A page of writing sent upside down, or on its side with no orientation tag, reads as
nonsense, and unsurely. Where a page's characters read unsurely, the page is read again turned
half a turn, and, where it looks on its side (many short lines upright), a quarter turn
either way; a turn wins only where its characters read surely and clearly surer than
upright's. numpy only; the reader does the reading.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

# Only a page whose characters read this unsurely on average is looked at turned (of 20
# held-out mixed lines, upright: 0.67-1.00; upside down or on their side: 0.33-0.88) ...
UNSURE_PAGE = 0.9
# ... and only with at least this many characters read.
MIN_CHARS = 4
# A page read unsurely upright as MIN_SIDEWAYS_LINES lines or more, of at most
# MAX_SIDEWAYS_CHARS characters each on average, may be on its side: cut across, its lines
# read as a few short ones or as a column of characters. (Asking for three lines or more of
# at most 2.5 characters, pages of four held-out Latin / Chinese / digit / mixed lines on
# their side read 50.70 / 19.85 / 17.16 / 15.40% CER, now 12.99 / 10.86 / 1.02 / 10.10%;
# nothing else changed. With no limit on the characters, a third of the plain pages of
# four mixed lines were read twice more, turned, for nothing: their median +20 ms. One line
# is left alone unless it is taller than wide: trying every turn of every unsure line cost
# Chinese lines 11 ms at the median.)
MIN_SIDEWAYS_LINES = 2
MAX_SIDEWAYS_CHARS = 6.0
# One line (read with single_line) this many times taller than wide lies on its side.
TALL_LINE = 2.0
# A half turn wins where its characters' mean confidence is at least this (upside down,
# lines turned back read 0.80-1.00; blurred, shadowed or creased lines upright, turned,
# 0.80-0.89: at 0.8, 4 of the robustness table's 180 such lines were turned) ...
SURE_TURN = 0.9
# ... beats upright's by this much, the language model's liking counted as in `gain` (a
# quarter turn: its characters alone, half as much; "store" upright at 0.77, turned as sure
# digits "24025" at 0.92, had been turned: held-out Latin 6.33 -> 6.11% CER) ...
MARGIN = 0.1
# ... and its frames' mean log-probability (of the likeliest label, blank included) beats
# upright's by this much: Latin upside down often reads as a confident string of digits
# ("block" as "Y3019"), its frames between the characters less so. Judged with beam search,
# of 1,200 held-out lines upright 2 were turned, of 300 upside down (mixed / Latin /
# Chinese) 83 / 65 / 49% turned back (at 0.04: 1, and 79 / 59 / 49%; characters alone, at
# 0.08 and 0.75: 12 of the 1,200 turned).
FRAME_MARGIN = 0.03
# A half turn also wins, less surely read, where its characters read at least PLAIN_TURN and
# are surer than upright's, plus LM_SHARE of how much likelier the language model finds
# their sequence (mean log-ratio per character), by EVIDENCE: Chinese upright reads 0.6-0.9
# and never reaches SURE_TURN turned back, while upside down it reads as unlikely sequences
# of unsure characters. Of 4,200 held-out lines of the four sets (seed 2028, plain, blurred,
# shadowed, creased, under glare, pencil, turned 3 degrees) upside down, 1,302 -> 1,657 were
# turned back (Chinese 114 -> 414 of 1,050), of the same 4,200 upright 7 -> 8 were turned
# (tuned on seed 2027: 786 -> 1,032 of 3,000, 6 -> 6).
PLAIN_TURN = 0.6
LM_SHARE = 0.2
EVIDENCE = 0.35
# EVIDENCE is asked of a page read upright as up to EVIDENCE_CHARS characters; of more, less,
# as the noise of a mean falls: by the square root of how many more. Pages of four held-out
# lines (120 of each set, plain, blurred, shadowed, under glare, creased, seed 2032) upside
# down: 190 -> 233 of 600 turned back (mixed 35 -> 71 of 150), none of the same upright;
# single lines (seeds 2027 / 2028): 1,032 / 1,657 -> 1,051 / 1,680 turned back, 6 / 8 upright
# turned either way.
EVIDENCE_CHARS = 12
# A page whose lines end flush and start ragged (their left ends spread
# RAGGED line heights or more, their right ends FLUSH of that or less) is upside down as
# writing is flush left: a half turn then wins where it reads PLAIN_TURN and surer than
# upright at all. Pages of four held-out Latin / digit / mixed lines upside down: 38.34 /
# 24.57 / 6.90 -> 18.22 / 7.11 / 5.90% CER (Chinese 9.86% either way); upright, plain,
# blurred or under glare, none turned.
RAGGED, FLUSH = 2.0, 0.25
# ... of at least this many lines: two are too often one line in two pieces (a held-out
# "ref" read as "re4" over "1", turned on so little: Latin 5.60 -> 5.71% CER).
FLUSH_LINES = 3
# A quarter turn wins at this mean confidence of its characters, where the page also reads
# in longer lines turned (60 held-out mixed lines on their side: 13 of them read turned 0.6-0.8).
SURE_QUARTER_TURN = 0.6


# Where the direction model (`app.lines.direction`) has judged the page, a half turn wins
# where it reads surer than upright (`gain`) plus DIRECTION_SHARE of the model's log-odds that
# the page is upside down by DIRECTED_MARGIN (nothing where the page ends flush and starts
# ragged), its characters read DIRECTED_TURN or more, both greedy and with the beam; at
# UPSIDE_DOWN log-odds or more the page is looked at turned however surely it reads. Tuned on
# held-out lines of the four sets (seed 3027, 30 each, plain and eleven ways photographed
# worse, read upright and upside down), checked on seed 4027: of 1,440 upside down 664 ->
# 1,185 turned back, of the same 1,440 upright 0 -> 4 turned (none plain; DIRECTED_FRAMES
# below included). At 0.03 and 0.1 (without it), 1,209 and 10; without DIRECTED_TURN, a
# page read as nonsense both ways (under strong vignetting, before its second look) was
# turned: 60 mixed lines 11.67 -> 16.94% CER.
DIRECTION_SHARE = 0.05
DIRECTED_MARGIN = 0.2
DIRECTED_TURN = 0.5
# ... and its frames' mean log-probability (as for FRAME_MARGIN) at most this much below
# upright's: Latin turned reads as sure digits, its frames less so. Seeds 3027 / 4027: of the
# 1,440 upright lines 7 / 5 -> 4 / 4 turned, of the 1,440 upside down 1,206 / 1,190 -> 1,200 /
# 1,185 turned back.
DIRECTED_FRAMES = -0.05
UPSIDE_DOWN = 2.0


@dataclass(frozen=True)
class Reading:
    """How surely a page was read: its characters' mean confidence, its frames' mean
    log-probability of their likeliest label, its number of lines; the lines read; and the
    language model's mean log-ratio per character that follows another; the direction
    model's log-odds that its lines are upside down (None where not judged)."""

    chars: float
    frames: float
    lines: int
    found: list = field(default_factory=list)
    lm: float = 0.0
    upside: float | None = None

    @property
    def count(self) -> int:
        """How many characters were read."""
        return sum(len(line.characters) for line in self.found)


def mean_confidence(confidences: Sequence[float]) -> float:
    return float(np.mean(confidences)) if len(confidences) else 0.0


def looks_unsure(confidences: Sequence[float]) -> bool:
    """Whether a page read with these character confidences is worth reading turned."""
    return len(confidences) >= MIN_CHARS and mean_confidence(confidences) < UNSURE_PAGE


def reads_little(confidences: Sequence[float]) -> bool:
    """Whether a page was read as at least one character but fewer than MIN_CHARS, unsurely
    (a page read as nothing has no characters to judge by: the reader looks again only where
    it found ink in lines)."""
    return 0 < len(confidences) < MIN_CHARS and mean_confidence(confidences) < UNSURE_PAGE


def on_its_side(width: int, height: int) -> bool:
    """Whether one line's box is so much taller than wide (TALL_LINE) that it lies on its side."""
    return height >= TALL_LINE * width


def looks_sideways(lines: int, chars: int, taller_than_wide: bool) -> bool:
    """Whether a page read unsurely upright as `lines` lines of `chars` characters in all may
    be on its side; `taller_than_wide`: a single line's box (read with single_line) is
    (`on_its_side`)."""
    short = lines >= MIN_SIDEWAYS_LINES and chars <= MAX_SIDEWAYS_CHARS * lines
    return short or (lines == 1 and taller_than_wide)


def looks_upside_down(upright: Reading) -> bool:
    """Whether the direction model is sure the page read upright is upside down."""
    return upright.upside is not None and upright.upside >= UPSIDE_DOWN


def wins(turned: Reading, upright: Reading, quarter: bool, single_line: bool) -> bool:
    """Whether a reading of the page turned (a quarter turn, or a half) beats the upright
    one; a page on its side also reads in longer lines turned upright (`longer_lines`). A
    half turn, where the direction model has judged the page: `directed_turn`."""
    few = upright.count < MIN_CHARS and turned.count < MIN_CHARS
    if not quarter and upright.upside is not None:
        # Judged, a word's few characters may turn; but a page read as nothing upright is no
        # measure for a character or two turned (glare over a page of lines: one blob).
        return not (few and upright.count == 0) and directed_turn(turned, upright)
    if few:
        return False  # a character or two either way: no guide
    if (
        quarter
        and not single_line
        and upright.count >= MIN_CHARS
        and not longer_lines(turned, upright)
    ):
        return False
    if quarter:  # on its side, the page's layout has told already
        return turned.chars >= SURE_QUARTER_TURN and turned.chars >= upright.chars + MARGIN / 2
    sure = (
        turned.chars >= SURE_TURN
        and gain(turned, upright) >= MARGIN
        and turned.frames >= upright.frames + FRAME_MARGIN
    )
    needed = EVIDENCE * math.sqrt(EVIDENCE_CHARS / max(upright.count, EVIDENCE_CHARS))
    if flush_right(upright):
        needed = 0.0  # its layout has told already
    return sure or (turned.chars >= PLAIN_TURN and gain(turned, upright) > needed)


def directed_turn(turned: Reading, upright: Reading) -> bool:
    """Whether a half turn wins on how much surer it reads than upright and the direction
    model's verdict together (DIRECTION_SHARE, DIRECTED_MARGIN), where it reads at all
    (DIRECTED_TURN) and its frames read nearly as surely (DIRECTED_FRAMES)."""
    margin = 0.0 if flush_right(upright) else DIRECTED_MARGIN
    evidence = gain(turned, upright) + DIRECTION_SHARE * (upright.upside or 0.0)
    return (
        turned.count > 0
        and turned.chars >= DIRECTED_TURN
        and turned.frames >= upright.frames + DIRECTED_FRAMES
        and evidence > margin
    )


def half_turn_holds(again: Reading, upright: Reading) -> bool:
    """Whether a half turn the greedy reading won (`wins`) stands on the beam's reading of it,
    which is less sure of its characters: read at PLAIN_TURN or more and surer than upright
    (`gain`). Upside down, mixed lines read 0.9 greedy and 0.85 with the beam: 60 held-out
    mixed lines upside down 31.39 -> 27.75% CER, Latin 49.73 -> 47.27%; no upright line
    turned. Where the direction model has judged the page, `wins` has judged the beam's
    reading by the same rule as the greedy one's: nothing more."""
    if upright.upside is not None:
        return False
    return again.chars >= PLAIN_TURN and gain(again, upright) > 0.0


def flush_right(reading: Reading) -> bool:
    """Whether a page of FLUSH_LINES lines or more ends flush and starts ragged (their right
    ends within FLUSH of the spread of their left ends, which spread RAGGED line heights or
    more): writing is flush left, so such a page is upside down."""
    boxes = [line.box for line in reading.found]
    if len(boxes) < FLUSH_LINES:
        return False
    lefts = [b.x for b in boxes]
    rights = [b.x + b.width for b in boxes]
    height = float(np.median([b.height for b in boxes]))
    ragged = max(lefts) - min(lefts)
    return ragged >= RAGGED * height and max(rights) - min(rights) <= FLUSH * ragged


def longer_lines(turned: Reading, upright: Reading) -> bool:
    """Whether a page reads turned in longer lines, more characters each, than upright: on
    its side, its lines are cut across, a few characters of each. (Not fewer lines: cut
    across, a page of four short lines may read as three.)"""
    return turned.count * max(upright.lines, 1) > upright.count * max(turned.lines, 1)


def gain(other: Reading, reading: Reading) -> float:
    """How much surer `other` reads than `reading`: its characters' mean confidence, plus
    LM_SHARE of the language model's mean log-ratio per character, above `reading`'s."""
    return other.chars - reading.chars + LM_SHARE * (other.lm - reading.lm)
