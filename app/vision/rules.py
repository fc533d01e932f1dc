"""Form lines out of an ink map: underlines, ruled lines, boxes and comb fields.

Digits on a form sit on printed lines or inside boxes. Left in the mask, one underline joins a
whole row of digits into one blob and a box's sides read as 1s. A rule is a straight flat run
of ink much longer than the writing is tall, with paper beside it along most of its length,
or a straight upright run that meets such rules at both ends: at their ends (a box's side) or
three or more between the same two rules (a comb's cells). A notebook's ruling is looked for
in a paler, grown copy of the ink and runs across the page; its margin line runs down it.
Where a stroke crosses a rule, the pixels the two share are kept, so the stroke stays whole.
"""

import statistics
from dataclasses import dataclass

import cv2
import numpy as np

from app.vision.binarize import InkMap

# A horizontal rule spans at least this many writing heights (a 7's bar or a 2's base: ~1,
# a broad 2's base on a thick pen nearly 2).
RULE_LENGTH = 2.5
# A vertical run counts as a box side when capped by rules at both ends and at least this
# many writing heights tall (a page's rows may be written at different sizes: a comb of
# small digits beside big writing). Upright lines that meet no flat rule are left alone: on
# a page of small and big writing a big 1 is taller than twice the typical digit.
BOX_SIDE = 0.4
# A flat run with ink right beside it on both sides along more than this share of its
# length runs through writing (touching digits) rather than under or between it.
MAX_CROSSED = 0.4
# No rule is thicker than this share of the writing's height.
MAX_THICKNESS = 0.35
# A first look for rules takes straight horizontal runs this share of the image's width:
# longer than any digit's bar unless the image is a tight crop of very few digits.
FIRST_LOOK = 0.25
MIN_RUN = 8
# A notebook's ruled line runs across the page, past the writing on it.
RULING_SPAN = 0.6
# Its margin line runs down the page: down nearly all of the image (an "l" that touches the
# rules above and below it spans ~3/4 of a crop of its line) and many times the writing's
# height (an "l" or a hanzi's long stroke spans most of a tightly cropped line, but no more
# than about two of its typical components' heights: x-height letters, a hanzi's parts).
MARGIN_SPAN = 0.9
MARGIN_LENGTH = 3.5
# A crop of one row of writing (up to ~2.5 writing heights tall) is not searched for a
# notebook's ruling by /digits: the search would cost a sixth of such a small request.
NOTEBOOK_ROOM = 3.0


def _runs(mask: np.ndarray, length: int, horizontal: bool) -> np.ndarray:
    """Pixels of straight runs at least `length` long in one direction (morphological open)."""
    kernel = np.ones((1, length) if horizontal else (length, 1), np.uint8)
    return cv2.morphologyEx(mask, cv2.MORPH_OPEN, kernel)


def typical_height(
    heights: np.ndarray, areas: np.ndarray, widths: np.ndarray | None = None
) -> float:
    """Typical height of the writing: the median height of the components that hold real
    amounts of ink (0.15 of the largest's area or more); with one or two, which may be
    fragments of a single digit, the tallest. Given `widths`, thin upright strokes (box sides,
    1s) are left out where anything else is left."""
    big = areas >= 0.15 * areas.max()
    if widths is not None:
        broad = big & (widths >= 0.25 * heights)
        big = broad if broad.any() else big
    kept = heights[big].tolist()
    # statistics.median: np.median costs more than the labelling on a small page.
    return float(statistics.median(kept) if len(kept) >= 3 else max(kept))


def _heights(mask: np.ndarray) -> tuple[float, int] | None:
    """(`typical_height` of a mask's components, the tallest one's height), None where it
    holds no ink."""
    _n, _labels, stats, _ = cv2.connectedComponentsWithStatsWithAlgorithm(
        mask, 8, cv2.CV_32S, cv2.CCL_GRANA
    )
    if len(stats) < 2:
        return None
    heights = stats[1:, 3]
    return typical_height(heights, stats[1:, 4], widths=stats[1:, 2]), int(heights.max())


def _writing_height(mask: np.ndarray) -> float | None:
    """`typical_height` of a mask's components, None where it holds no ink."""
    measured = _heights(mask)
    return None if measured is None else measured[0]


def _components(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    _n, labels, stats, _ = cv2.connectedComponentsWithStatsWithAlgorithm(
        mask, 8, cv2.CV_32S, cv2.CCL_GRANA
    )
    return labels, stats


def _band(mask: np.ndarray, run: np.ndarray, horizontal: bool) -> tuple[np.ndarray, int, float]:
    """The straight band of a rule: a line fitted through the run's pixels, as thick as the
    run typically is (plus a pixel of blurred edge each side), and the ink of `mask` in it.
    Returns that ink (H x W bool), the band's thickness, and the share of its length where
    ink lies right beside it on both sides: strokes crossing a rule, or, where that is most
    of its length, a row of touching digits whose strokes happen to line up."""
    ys, xs = np.nonzero(run)
    along, across = (xs, ys) if horizontal else (ys, xs)
    slope, offset = np.polyfit(along, across, 1) if np.ptp(along) > 0 else (0.0, across.mean())
    half = float(np.median(np.bincount(along - along.min()))) / 2.0 + 1.0
    # The mask's pixels within reach of the run: its bounding box, widened (round line caps
    # reach past the run's ends).
    reach = int(np.ceil(half)) + 2
    y0, y1 = max(0, ys.min() - reach), ys.max() + 1 + reach
    x0, x1 = max(0, xs.min() - reach), xs.max() + 1 + reach
    wy, wx = np.nonzero(mask[y0:y1, x0:x1])
    wy, wx = wy + y0, wx + x0
    w_along, w_across = (wx, wy) if horizontal else (wy, wx)
    off = w_across - (slope * w_along + offset)
    inside = np.abs(off) <= half
    band = np.zeros(mask.shape, bool)
    band[wy[inside], wx[inside]] = True
    beside = ~inside & (np.abs(off) <= half + 2.0)
    start, length = int(along.min()), int(np.ptp(along)) + 1
    sides = np.zeros((2, length), bool)
    pos = w_along[beside] - start
    ok = (pos >= 0) & (pos < length)
    sides[(off[beside] > 0).astype(np.int64)[ok], pos[ok]] = True
    return band, int(np.ceil(2 * half)), float((sides[0] & sides[1]).mean())


@dataclass
class Rules:
    """Form lines found in an ink mask (H x W bool each) and their thickness in pixels."""

    flat: np.ndarray
    upright: np.ndarray
    flat_thickness: int = 0
    upright_thickness: int = 0
    height: float = 0.0  # the writing's typical height, as measured for the search
    tallest: int = 0  # the tallest component's height in the searched mask

    @property
    def found(self) -> bool:
        return bool(self.flat_thickness or self.upright_thickness)

    def add(self, other: "Rules") -> None:
        """Take in the lines another search found on the same image."""
        self.flat |= other.flat
        self.upright |= other.upright
        self.flat_thickness = max(self.flat_thickness, other.flat_thickness)
        self.upright_thickness = max(self.upright_thickness, other.upright_thickness)


def _own(run: np.ndarray, mask: np.ndarray, grown: bool) -> np.ndarray:
    """A run found in a grown copy of `mask` lies partly on paper: its pixels on `mask` (the
    run itself where it has none)."""
    if not grown:
        return run
    on_mask = run & (mask > 0)
    return on_mask if on_mask.any() else run


def _eroded(mask: np.ndarray, length: float) -> np.ndarray:
    """Ink at the middle of a horizontal straight run at least `length` long."""
    return cv2.erode(mask, np.ones((1, max(MIN_RUN, round(length))), np.uint8))


def find_rules(mask: np.ndarray, search: np.ndarray | None = None, span: float = 0.0) -> Rules:
    """The form lines of an ink mask (H x W uint8, 1 = ink). Straight runs are looked for in
    `search` where given (a grown copy of the mask); the rules themselves are the mask's.
    With `span`, a flat rule reaches across at least that share of the image's width."""
    rules = Rules(np.zeros(mask.shape, bool), np.zeros(mask.shape, bool))
    fitted, grown = mask, search is not None
    mask = mask if search is None else search
    measured = _heights(mask)
    if measured is None:
        return rules
    height, rules.tallest = measured
    rules.height = height
    first_look = max(MIN_RUN, round(FIRST_LOOK * mask.shape[1]))
    # No flat rule, no box: an erosion tells that at half the cost of the opening below
    # (a larger height, as measured next, only asks for longer runs; for a ruling, the
    # first look's runs are the longest asked for).
    shortest = min(RULE_LENGTH * height, first_look) if span else RULE_LENGTH * height
    if not _eroded(mask, shortest).any():
        return rules
    first = _runs(mask, first_look, True)
    if span:
        # A notebook's ruling joins up the writing that touches it (crossed by its margin
        # line, into one network as tall as the page): the writing's height is measured with
        # the long runs out.
        if first.any():
            height = _writing_height(mask & (1 - first)) or height
    elif first.any():
        # An underline joins a row of digits into one blob no taller than a digit, but a page
        # of digits on rules may hold nothing else: the height is also measured with the
        # longest runs out, and the larger kept (with a digit's bars out, a digit falls to
        # pieces).
        height = max(height, _writing_height(mask & (1 - first)) or 0.0)
    rules.height = height
    flat = _runs(mask, max(MIN_RUN, round(RULE_LENGTH * height)), True)
    labels, stats = _components(flat)
    # Each accepted flat rule gets its own number in `ruled` (0: none), for box sides below.
    ruled = np.zeros(mask.shape, np.int32)
    ends: dict[int, tuple[int, int]] = {}
    for k, s in enumerate(stats[1:], start=1):
        width, tall = s[cv2.CC_STAT_WIDTH], s[cv2.CC_STAT_HEIGHT]
        if (
            s[cv2.CC_STAT_AREA] / max(width, 1) <= MAX_THICKNESS * height
            and tall <= height
            and width >= span * mask.shape[1]
        ):
            band, thick, crossed = _band(fitted, _own(labels == k, fitted, grown), True)
            if crossed > MAX_CROSSED:
                continue
            rules.flat |= band
            rules.flat_thickness = max(rules.flat_thickness, thick)
            ruled[band] = k
            ends[k] = (int(s[cv2.CC_STAT_LEFT]), int(s[cv2.CC_STAT_LEFT] + width))
    if not rules.flat.any():
        return rules
    upright = _runs(mask, max(MIN_RUN, round(BOX_SIDE * height)), False)
    labels, stats = _components(upright)
    sides: dict[tuple[int, int], list[tuple[int, bool]]] = {}
    for k, s in enumerate(stats[1:], start=1):
        x, y, width, tall = (int(v) for v in s[:4])
        if width > MAX_THICKNESS * height:
            continue
        # Capped: a flat rule within 2 px of both ends of the run.
        above = ruled[max(0, y - 3) : y + 2, max(0, x - 2) : x + width + 2]
        below = ruled[y + tall - 2 : y + tall + 3, max(0, x - 2) : x + width + 2]
        if above.any() and below.any():
            pair = (int(above.max()), int(below.max()))
            at_end = any(
                min(abs(x - ends[r][0]), abs(x + width - ends[r][1])) <= 3 + width for r in pair
            )
            sides.setdefault(pair, []).append((k, at_end))
    # A box's sides stand at its rules' ends; a comb's separators come several between the
    # same two rules. A lone upright stroke between ruled lines is a 1, and stays.
    for found in sides.values():
        for k, at_end in found:
            if at_end or len(found) >= 3:
                band, thick, _crossed = _band(fitted, _own(labels == k, fitted, grown), False)
                rules.upright |= band
                rules.upright_thickness = max(rules.upright_thickness, thick)
    return rules


def ruling_masks(ink: InkMap, faint: float) -> tuple[np.ndarray, np.ndarray]:
    """(where a notebook's ruling lies, where to look for it): ink at least `faint` strong
    (ruling is printed paler than a pen writes), and that grown a pixel up and down and
    across one-pixel gaps, so that a thin rule slightly tilted (a staircase of short runs once
    binarised) or broken by noise holds long straight runs."""
    pale = np.bitwise_or(ink.mask, (ink.strength >= faint).view(np.uint8))
    return pale, _grown(pale, horizontal=True)


def _grown(pale: np.ndarray, horizontal: bool) -> np.ndarray:
    """`pale` grown a pixel across the direction of the rules looked for, and closed over
    one-pixel gaps along it."""
    across, along = ((3, 1), (1, 3)) if horizontal else ((1, 3), (3, 1))
    grown = cv2.dilate(pale, np.ones(across, np.uint8))
    return cv2.morphologyEx(grown, cv2.MORPH_CLOSE, np.ones(along, np.uint8))


def margin_lines(pale: np.ndarray, height: float) -> tuple[np.ndarray, int]:
    """A notebook's margin line (or a table's upright rules): straight upright runs down
    MARGIN_SPAN of the image and MARGIN_LENGTH writing heights (`height`), thin, with paper
    beside them. Returns their pixels in `pale` (H x W bool) and their thickness. Without
    this, a margin line is an "l" at the start of every line written beside it."""
    found = np.zeros(pale.shape, bool)
    need = max(MARGIN_LENGTH * height, MARGIN_SPAN * pale.shape[0])
    if need > pale.shape[0]:
        return found, 0
    # Straight runs a few writing heights long, joined: a line tilted a degree or two is a
    # staircase of them (as for flat rules).
    length = max(MIN_RUN, round(RULE_LENGTH * height))
    search = _grown(pale, horizontal=False)
    # Nothing so long: an erosion tells that at a fraction of the opening's cost.
    if not cv2.erode(search, np.ones((length, 1), np.uint8)).any():
        return found, 0
    labels, stats = _components(_runs(search, length, False))
    thickness = 0
    for k, s in enumerate(stats[1:], start=1):
        width, tall = s[cv2.CC_STAT_WIDTH], s[cv2.CC_STAT_HEIGHT]
        if tall < need or width > height or s[cv2.CC_STAT_AREA] / tall > MAX_THICKNESS * height:
            continue
        band, thick, crossed = _band(pale, _own(labels == k, pale, True), False)
        if crossed > MAX_CROSSED:
            continue
        found |= band
        thickness = max(thickness, thick)
    return found, thickness


def page_rules(ink: InkMap, faint: float | None = None) -> Rules:
    """The ink map's form lines, and a margin line (`margin_lines`). With `faint`, a
    notebook's ruling is looked for instead (`ruling_masks`: pale, tilted or broken ruled
    lines that must run across RULING_SPAN of the image, since grown that way a row of
    characters' flat strokes can join up too)."""
    if faint is None:
        pale = ink.mask
        rules = find_rules(pale)
    else:
        pale, search = ruling_masks(ink, faint)
        rules = find_rules(pale, search, span=RULING_SPAN)
    # A margin line is (part of) a component nearly as tall as the image: most pages have
    # none, and the search costs about a millisecond.
    if rules.height and rules.tallest >= MARGIN_SPAN * pale.shape[0]:
        margins, thick = margin_lines(pale, rules.height)
        rules.upright |= margins
        rules.upright_thickness = max(rules.upright_thickness, thick)
    return rules


def rule_pixels(
    ink: InkMap, faint: float | None = None, rules: Rules | None = None
) -> np.ndarray | None:
    """H x W bool: the pixels of the ink map's rules (`page_rules`, or those given), None where
    it has none. Where a stroke crosses a rule (ink right above and below a flat rule, or
    right and left of an upright one) the crossing is the stroke's."""
    rules = page_rules(ink, faint) if rules is None else rules
    if not rules.found:
        return None
    gone = rules.flat | rules.upright
    rest = ink.mask & ~gone
    # A stroke crossing a rule is bridged across it only: over a flat rule's thickness
    # upwards, over an upright one's sideways.
    for band, kernel in (
        (rules.flat, (rules.flat_thickness + 2, 1)),
        (rules.upright, (1, rules.upright_thickness + 2)),
    ):
        if band.any():
            closed = cv2.morphologyEx(
                rest.view(np.uint8), cv2.MORPH_CLOSE, np.ones(kernel, np.uint8)
            )
            gone &= ~(band & (closed > 0))
    return gone


def rule_fringe(gone: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The rules' pixels and their anti-aliased edges, but not the strokes' own pixels (H x W
    bool)."""
    fringe = cv2.dilate(gone.view(np.uint8), np.ones((3, 3), np.uint8)) > 0
    return gone | (fringe & (mask == 0))


def remove_rules(ink: InkMap, ruling: float | None = None) -> InkMap:
    """The ink map without its form lines (`rule_pixels`), their edges faded to paper. With
    `ruling`, on an image with room for NOTEBOOK_ROOM writing heights, a notebook's ruling
    is also looked for down to that ink strength (a thin rule binarises into dashes that the
    form-line search does not join)."""
    rules = page_rules(ink)
    if (
        ruling is not None
        and ink.mask.shape[0] >= NOTEBOOK_ROOM * rules.height
        # else the ruling is found already
        and (not rules.flat_thickness or rules.flat.any(axis=0).mean() < RULING_SPAN)
    ):
        rules.add(page_rules(ink, ruling))
    gone = rule_pixels(ink, rules=rules)
    if gone is None:
        return ink
    mask = (ink.mask & ~gone).view(np.uint8)
    strength = np.where(rule_fringe(gone, mask), np.float32(0.0), ink.strength)
    return InkMap(mask=mask, strength=strength)
