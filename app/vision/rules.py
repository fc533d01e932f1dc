"""Form lines out of an ink map: underlines, ruled lines, boxes and comb fields.

Digits on a form sit on printed lines or inside boxes. Left in the mask, one underline joins a
whole row of digits into one blob and a box's sides read as 1s. A rule is a straight flat run
of ink much longer than the writing is tall, with paper beside it along most of its length,
or a straight upright run that meets such rules at both ends: at their ends (a box's side) or
three or more between the same two rules (a comb's cells). A notebook's ruling is looked for
in a paler, grown copy of the ink and runs across the page; its margin line runs down it.
Where a stroke crosses a rule, the pixels the two share are kept, so the stroke stays whole.
"""

import itertools
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
# Writing this much smaller than the page's typical writing (a small box of small digits
# beside big ones) has its flat rules judged against its own height: a rule is long against
# the writing around it.
SMALL_WRITING = 0.7
# Comb separators are drawn with the pen of the rules they join: at most this many times
# as thick (plus a pixel).
SAME_PEN = 1.5
# A short flat run with no twin (no box) touching small writing is its underline if it
# runs this many of its writing heights (a 5's flat base broken off with its bowl: 2.8;
# an underline of four small digits that touch it, the line counted in their height: 3.7).
UNDERLINE = 3.3
# A page with more short flat runs than this is no form with a few small boxes: its short
# runs are not judged one by one (each costs a look at every component around it).
MAX_SHORT_RUNS = 32
# A box's side fills its columns along at least this share of its length.
STRAIGHT = 0.8
# A first look for rules takes straight horizontal runs this share of the image's width:
# longer than any digit's bar unless the image is a tight crop of very few digits.
FIRST_LOOK = 0.25
# Writing joined into a component this share of the image's height tall may be joined up by
# upright lines down the page (squared paper).
LINES_TALL = 0.5
MIN_RUN = 8
# A notebook's ruled line runs across the page, past the writing on it.
RULING_SPAN = 0.6
# Its margin line runs down the page: down nearly all of the image (an "l" that touches the
# rules above and below it spans ~3/4 of a crop of its line) and many times the writing's
# height (an "l" or a hanzi's long stroke spans most of a tightly cropped line, but no more
# than about two of its typical components' heights: x-height letters, a hanzi's parts).
MARGIN_SPAN = 0.9
MARGIN_LENGTH = 3.5
# ... or crosses this many flat rules that run across the page: squared paper, a table (an
# "l" on ruled paper touches at most the rules above and below its line).
GRID_CROSSINGS = 3
# ... and is then at least this many writing heights long (a 1 across a fine grid is ~1).
GRID_LENGTH = 2.0
# A crop of one or two lines of writing on squared paper shows this many upright lines at
# least, evenly spaced, down the whole crop.
GRID_COMB = 4
# A crop of one row of writing (up to ~2.5 writing heights tall) is not searched for a
# notebook's ruling by /digits: the search would cost a sixth of such a small request.
NOTEBOOK_ROOM = 3.0


def _runs(mask: np.ndarray, length: int, horizontal: bool) -> np.ndarray:
    """Pixels of straight runs at least `length` long in one direction (morphological open)."""
    kernel = np.ones((1, length) if horizontal else (length, 1), np.uint8)
    return cv2.morphologyEx(mask, cv2.MORPH_OPEN, kernel)


def _uprights(mask: np.ndarray) -> np.ndarray | None:
    """Straight upright runs down FIRST_LOOK of the mask (H x W uint8), None where none."""
    length = max(MIN_RUN, round(FIRST_LOOK * mask.shape[0]))
    if not cv2.erode(mask, np.ones((length, 1), np.uint8)).any():
        return None
    return _runs(mask, length, False)


def typical_height(
    heights: np.ndarray, areas: np.ndarray, widths: np.ndarray | None = None, few: int = 2
) -> float:
    """Typical height of the writing: the median height of the components that hold real
    amounts of ink (0.15 of the largest's area or more); with `few` or fewer (two by default),
    which may be fragments of a single digit, the tallest. Given `widths`, thin upright
    strokes (box sides, 1s) are left out where anything else is left."""
    big = areas >= 0.15 * areas.max()
    if widths is not None:
        broad = big & (widths >= 0.25 * heights)
        big = broad if broad.any() else big
    kept = heights[big].tolist()
    # statistics.median: np.median costs more than the labelling on a small page.
    return float(statistics.median(kept) if len(kept) > few else max(kept))


def _heights(mask: np.ndarray) -> tuple[float, int, np.ndarray, np.ndarray] | None:
    """(`typical_height` of a mask's components, the tallest one's height, their stats (one
    row per component, as connectedComponentsWithStats gives them, background left out) and
    labels), None where it holds no ink."""
    _n, labels, stats, _ = cv2.connectedComponentsWithStatsWithAlgorithm(
        mask, 8, cv2.CV_32S, cv2.CCL_GRANA
    )
    if len(stats) < 2:
        return None
    stats = stats[1:]
    heights = stats[:, cv2.CC_STAT_HEIGHT]
    return (
        typical_height(heights, stats[:, cv2.CC_STAT_AREA], widths=stats[:, cv2.CC_STAT_WIDTH]),
        int(heights.max()),
        stats,
        labels,
    )


def _height_between_lines(
    mask: np.ndarray, downs: np.ndarray, stats: np.ndarray, components: np.ndarray
) -> float | None:
    """The writing's height with the upright runs `downs` out, where they are a grid's lines
    joining writing up (`stats`, `components`: the mask's components, as `_heights` gives
    them): thin against that height, down nearly all of the component they lie in, and in
    one component two at least that run GRID_LENGTH of it (down a page) or GRID_COMB evenly
    spaced (across a crop of a line on squared paper). In a tight crop of digits a stem or a
    0's sides are long upright runs too, and with them out the digits fall to pieces whose
    height is no writing's (None then)."""
    height = _writing_height(mask & (1 - downs))
    if height is None:
        return None
    count, labels, runs, _ = cv2.connectedComponentsWithStatsWithAlgorithm(
        downs, 8, cv2.CV_32S, cv2.CCL_GRANA
    )
    # The component each run lies in (an opening by an even length may reach a pixel past
    # the ink at a run's end: those pixels are no component's).
    on_ink = (downs > 0) & (components > 0)
    owner = np.zeros(count, np.int64)
    owner[labels[on_ink]] = components[on_ink] - 1
    owner, runs = owner[1:], runs[1:]
    tall = runs[:, cv2.CC_STAT_HEIGHT]
    lines = (runs[:, cv2.CC_STAT_AREA] <= MAX_THICKNESS * height * tall) & (
        tall >= STRAIGHT * stats[owner, cv2.CC_STAT_HEIGHT]
    )
    centres = runs[:, cv2.CC_STAT_LEFT] + runs[:, cv2.CC_STAT_WIDTH] / 2.0
    for k in np.unique(owner[lines]):
        mine = lines & (owner == k)
        if (tall[mine] >= GRID_LENGTH * height).sum() >= 2 or (
            mine.sum() >= GRID_COMB and _regular(centres[mine].tolist())
        ):
            return height
    return None


def _writing_height(mask: np.ndarray) -> float | None:
    """`typical_height` of a mask's components, None where it holds no ink."""
    measured = _heights(mask)
    return None if measured is None else measured[0]


def _small_writing(stats: np.ndarray, height: float) -> float | None:
    """The height of a page's smallest writing where it is well below the typical `height`
    (a small box of small digits beside big ones), else None: digit-like components (broad,
    not specks) at least 0.3 of `height` tall."""
    tall, wide = stats[:, cv2.CC_STAT_HEIGHT], stats[:, cv2.CC_STAT_WIDTH]
    digits = tall[(wide >= 0.25 * tall) & (tall >= max(MIN_RUN / RULE_LENGTH, 0.3 * height))]
    if not digits.size or digits.min() >= SMALL_WRITING * height:
        return None
    return float(digits.min())


def _local_height(stats: np.ndarray, own: int, x: int, width: int, cy: float) -> float:
    """Height of the writing a short flat run at row `cy` would be a rule for: the smaller of
    the writing's `typical_height` above it and below it (an underline of small digits may
    lie above a row of big ones), counting the components mostly within its columns and
    within the height of writing it would be a rule for; never less than its own component
    (`own`, an index into `stats`: the box it is part of, the digit whose bar it is)."""
    reach = width / RULE_LENGTH
    left, top = stats[:, cv2.CC_STAT_LEFT], stats[:, cv2.CC_STAT_TOP]
    wide, tall = stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT]
    shared = np.minimum(left + wide, x + width) - np.maximum(left, x)
    near = (2 * shared >= wide) & (top < cy + reach) & (top + tall > cy - reach)
    near[own] = False
    centre = top + tall / 2.0
    sides = [
        typical_height(tall[group], stats[group, cv2.CC_STAT_AREA], widths=wide[group])
        for group in (near & (centre < cy), near & (centre >= cy))
        if group.any()
    ]
    return max(float(tall[own]), min(sides, default=0.0))


def _components(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    _n, labels, stats, _ = cv2.connectedComponentsWithStatsWithAlgorithm(
        mask, 8, cv2.CV_32S, cv2.CCL_GRANA
    )
    return labels, stats


Pixels = tuple[np.ndarray, np.ndarray]  # rows and columns of some pixels of an image


def _run(
    labels: np.ndarray, k: int, s: np.ndarray, mask: np.ndarray, grown: bool
) -> tuple[np.ndarray, int, int]:
    """Component `k` of `labels` (`s`: its stats row) as a bool crop of its bounding box, and
    the crop's top and left. A run found in a grown copy of `mask` lies partly on paper: its
    pixels on `mask` (the run itself where it has none)."""
    x, y, width, tall = (int(v) for v in s[:4])
    run = labels[y : y + tall, x : x + width] == k
    if grown:
        on_mask = run & (mask[y : y + tall, x : x + width] > 0)
        run = on_mask if on_mask.any() else run
    return run, y, x


def _band(
    mask: np.ndarray, run: np.ndarray, top: int, left: int, horizontal: bool, page: bool = False
) -> tuple[Pixels, int, float]:
    """The straight band of a rule: a line fitted through the run's pixels (`run`: a bool
    crop of the image at `top`, `left`), as thick as the run typically is (plus a pixel of
    blurred edge each side), and the ink of `mask` in it; with `page`, the band runs on
    across the whole image (a line printed across the page, where pieces of it that broke off
    the run lie). Returns that ink's pixels, the band's thickness, and the share of the run's
    length where ink lies right beside it on both sides: strokes crossing a rule, or, where
    that is most of its length, a row of touching digits whose strokes happen to line up."""
    ys, xs = np.nonzero(run)
    ys, xs = ys + top, xs + left
    along, across = (xs, ys) if horizontal else (ys, xs)
    slope, offset = np.polyfit(along, across, 1) if np.ptp(along) > 0 else (0.0, across.mean())
    half = float(np.median(np.bincount(along - along.min()))) / 2.0 + 1.0
    # The mask's pixels within reach of the run: its bounding box, widened (round line caps
    # reach past the run's ends).
    reach = int(np.ceil(half)) + 2
    y0, y1 = max(0, ys.min() - reach), ys.max() + 1 + reach
    x0, x1 = max(0, xs.min() - reach), xs.max() + 1 + reach
    if page and horizontal:
        x0, x1 = 0, mask.shape[1]
    elif page:
        y0, y1 = 0, mask.shape[0]
    wy, wx = np.nonzero(mask[y0:y1, x0:x1])
    wy, wx = wy + y0, wx + x0
    w_along, w_across = (wx, wy) if horizontal else (wy, wx)
    off = w_across - (slope * w_along + offset)
    inside = np.abs(off) <= half
    beside = ~inside & (np.abs(off) <= half + 2.0)
    start, length = int(along.min()), int(np.ptp(along)) + 1
    sides = np.zeros((2, length), bool)
    pos = w_along[beside] - start
    ok = (pos >= 0) & (pos < length)
    sides[(off[beside] > 0).astype(np.int64)[ok], pos[ok]] = True
    return (wy[inside], wx[inside]), int(np.ceil(2 * half)), float((sides[0] & sides[1]).mean())


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


def _eroded(mask: np.ndarray, length: float) -> np.ndarray:
    """Ink at the middle of a horizontal straight run at least `length` long."""
    return cv2.erode(mask, np.ones((1, max(MIN_RUN, round(length))), np.uint8))


def _straight_columns(run: np.ndarray) -> np.ndarray:
    """An upright run (a bool crop of its bounding box) cut down to the columns it fills
    along nearly all its length: a box's side; a stroke fused to it (a 1 beside it, a 0's
    arc against it) is shorter and would widen and tilt the side's band into the digit."""
    filled = run.sum(axis=0) >= STRAIGHT * run.shape[0]
    if filled.all() or not filled.any():
        return run
    out = np.zeros_like(run)
    out[:, filled] = run[:, filled]
    return out


def _pen(s: np.ndarray, horizontal: bool = True) -> float:
    """A run's mean thickness (stats row `s`): its area over its length."""
    length = s[cv2.CC_STAT_WIDTH] if horizontal else s[cv2.CC_STAT_HEIGHT]
    return float(s[cv2.CC_STAT_AREA]) / max(int(length), 1)


def _thin(s: np.ndarray, writing: float) -> bool:
    """A flat run (stats row `s`) thin enough to be a rule under writing this tall."""
    return bool(_pen(s) <= MAX_THICKNESS * writing and s[cv2.CC_STAT_HEIGHT] <= writing)


def _writing_between(
    stats: np.ndarray, own: int, s: np.ndarray, t: np.ndarray, least: float
) -> bool:
    """Whether writing lies between two flat runs (stats rows `s`, `t`) of component `own`:
    another component at least `least` tall within their columns, or in `own` itself more
    ink than the frame they would make holds. A flat 0's top and bottom strokes have the
    same ends too, and nothing but specks between them."""
    upper, lower = (s, t) if s[cv2.CC_STAT_TOP] < t[cv2.CC_STAT_TOP] else (t, s)
    left, top = stats[:, cv2.CC_STAT_LEFT], stats[:, cv2.CC_STAT_TOP]
    inside = (
        (stats[:, cv2.CC_STAT_HEIGHT] >= least)
        & (top > upper[cv2.CC_STAT_TOP])
        & (top + stats[:, cv2.CC_STAT_HEIGHT] < lower[cv2.CC_STAT_TOP] + lower[cv2.CC_STAT_HEIGHT])
        & (left >= upper[cv2.CC_STAT_LEFT])
        & (left + stats[:, cv2.CC_STAT_WIDTH] <= upper[cv2.CC_STAT_LEFT] + upper[cv2.CC_STAT_WIDTH])
    )
    inside[own] = False
    if inside.any():
        return True
    # Writing that touches the box is part of its component: more ink than a frame holds.
    apart = lower[cv2.CC_STAT_TOP] - upper[cv2.CC_STAT_TOP]
    frame = 2.0 * (upper[cv2.CC_STAT_WIDTH] + apart) * _pen(upper)
    return bool(stats[own, cv2.CC_STAT_AREA] > 1.5 * frame)


def _box_edges(
    labels: np.ndarray,
    flat_stats: np.ndarray,
    stats: np.ndarray,
    components: np.ndarray,
    small: float,
    long_run: int,
) -> list[tuple[int, np.ndarray, float]]:
    """Flat runs (`labels`, `flat_stats`) shorter than the page's rules (`long_run`) but long
    and thin against the small writing around them (`_local_height`, at least `small`): in
    pairs with the same ends, one above the other (the top and bottom of a small box or
    comb: the writing between them is no taller than they are apart), standing free (an
    underline clear of the digits), or running UNDERLINE writing heights (an underline
    touching them). A short run in a larger component may be a digit's stroke (the flat base
    of a bowl broken off its 5). Returns (run, its stats row, the writing's height)."""
    if (flat_stats[1:, cv2.CC_STAT_WIDTH] < long_run).sum() > MAX_SHORT_RUNS:
        return []  # no form's few small boxes: hatching, a table of dashes, hostile input
    runs = []  # (run, stats row, writing around it, standing free, its component)
    for k, s in enumerate(flat_stats[1:], start=1):
        left, top, width, tall = (int(v) for v in s[:4])
        if width >= long_run:
            continue  # judged against the page's writing
        ys, xs = np.nonzero(labels[top : top + tall, left : left + width] == k)
        own = components[top + ys[0], left + xs[0]] - 1  # the mask's component it lies in
        writing = max(small, _local_height(stats, own, left, width, top + tall / 2.0))
        runs.append((k, s, writing, bool(stats[own, cv2.CC_STAT_HEIGHT] <= tall + 2), own))

    def rule(s: np.ndarray, writing: float) -> bool:
        return bool(s[cv2.CC_STAT_WIDTH] >= RULE_LENGTH * writing) and _thin(s, writing)

    found: dict[int, tuple[int, np.ndarray, float]] = {}
    for k, s, writing, free, _ in runs:
        if rule(s, writing) and (free or s[cv2.CC_STAT_WIDTH] >= UNDERLINE * writing):
            found[k] = (k, s, writing)
    for (k, s, near_s, _, own), (j, t, near_t, _, _) in itertools.combinations(runs, 2):
        reach = max(3.0, 0.05 * s[cv2.CC_STAT_WIDTH])
        right_s, right_t = (int(v[cv2.CC_STAT_LEFT] + v[cv2.CC_STAT_WIDTH]) for v in (s, t))
        apart = abs(int(s[cv2.CC_STAT_TOP]) - int(t[cv2.CC_STAT_TOP]))
        writing = min(near_s, near_t, apart)
        if (
            abs(int(s[cv2.CC_STAT_LEFT]) - int(t[cv2.CC_STAT_LEFT])) <= reach
            and abs(right_s - right_t) <= reach
            and small <= apart <= 3.0 * min(near_s, near_t)
            and rule(s, writing)
            and rule(t, writing)
            and _writing_between(stats, own, s, t, 0.5 * small)
        ):
            for key, v in ((k, s), (j, t)):
                if key not in found or found[key][2] > writing:
                    found[key] = (key, v, writing)
    return list(found.values())


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
    height, rules.tallest, stats, components = measured
    # Upright lines down the page (squared paper, a table), even broken into long dashes,
    # join the writing that touches them into components much taller than it: the writing's
    # height is measured with them out (a notebook's ruling is measured its own way below).
    tall = not span and rules.tallest >= LINES_TALL * mask.shape[0]
    downs = _uprights(mask) if tall else None
    if downs is not None:
        height = _height_between_lines(mask, downs, stats, components) or height
    rules.height = height
    first_look = max(MIN_RUN, round(FIRST_LOOK * mask.shape[1]))
    # No flat rule, no box: an erosion tells that at half the cost of the opening below
    # (a larger height, as measured next, only asks for longer runs; for a ruling, the
    # first look's runs are the longest asked for).
    small = None if span else _small_writing(stats, height)
    shortest = RULE_LENGTH * (small or height)
    if not _eroded(mask, min(shortest, first_look) if span else shortest).any():
        return rules
    first = _runs(mask, first_look, True)
    if downs is not None:
        first |= downs  # out of the height measured next; flat rules are looked for below
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
    long_run = max(MIN_RUN, round(RULE_LENGTH * height))
    # Each accepted flat rule gets its own number in `ruled` (0: none), for box sides below.
    ruled = np.zeros(mask.shape, np.int32)
    ends: dict[int, tuple[int, int]] = {}
    pens: dict[int, float] = {}  # each rule's mean thickness
    side_height = height

    def accept(labels: np.ndarray, k: int, s: np.ndarray, writing: float) -> None:
        """Flat run `k` (stats `s`) of `labels` is a rule unless strokes cross it (nonlocal:
        numbered in `ruled`, its ends and pen noted, `side_height` lowered to its writing)."""
        nonlocal side_height
        # A form's line across the page (squared paper's, say) may have broken where it is
        # pale: its band runs on across the page (a notebook's ruling is looked for grown).
        spans = not span and s[cv2.CC_STAT_WIDTH] >= RULING_SPAN * mask.shape[1]
        band, thick, crossed = _band(fitted, *_run(labels, k, s, fitted, grown), True, spans)
        if crossed > MAX_CROSSED:
            return
        number = len(ends) + 1
        rules.flat[band] = True
        rules.flat_thickness = max(rules.flat_thickness, thick)
        ruled[band] = number
        left, width = int(s[cv2.CC_STAT_LEFT]), int(s[cv2.CC_STAT_WIDTH])
        ends[number] = (left, left + width)
        pens[number] = _pen(s)
        side_height = min(side_height, writing)

    labels, flat_stats = _components(_runs(mask, long_run, True))
    for k, s in enumerate(flat_stats[1:], start=1):
        if _thin(s, height) and s[cv2.CC_STAT_WIDTH] >= span * mask.shape[1]:
            accept(labels, k, s, height)
    # On a page of mixed sizes, a small box or comb of small writing has shorter rules (a
    # notebook's ruling spans the page: never short).
    small = None if span else _small_writing(stats, height)
    if small is not None:
        labels, flat_stats = _components(_runs(mask, round(RULE_LENGTH * small), True))
        for k, s, writing in _box_edges(labels, flat_stats, stats, components, small, long_run):
            accept(labels, k, s, writing)
    if not rules.flat.any():
        return rules
    upright = _runs(mask, max(MIN_RUN, round(BOX_SIDE * side_height)), False)
    labels, upright_stats = _components(upright)
    # Upright runs capped by the same two rules: (run, the end of the rules it stands at
    # (0 left, 1 right; None: neither), its distance from that end, its mean thickness).
    sides: dict[tuple[int, int], list[tuple[int, int | None, int, float]]] = {}
    for k, s in enumerate(upright_stats[1:], start=1):
        x, y, width, tall = (int(v) for v in s[:4])
        if width > MAX_THICKNESS * side_height:
            continue
        # Capped: a flat rule within 2 px of both ends of the run. The run goes through the
        # rules it meets, so it ends at their far edges: a thick rule's fitted band may lie
        # its thickness inside the run's end.
        inner = max(2, rules.flat_thickness)
        above = ruled[max(0, y - 3) : y + inner, max(0, x - 2) : x + width + 2]
        below = ruled[y + tall - inner : y + tall + 3, max(0, x - 2) : x + width + 2]
        if above.any() and below.any():
            pair = (int(above.max()), int(below.max()))
            gap, end = min(
                (d, side)
                for r in pair
                for side, d in enumerate((abs(x - ends[r][0]), abs(x + width - ends[r][1])))
            )
            at = end if gap <= 3 + width else None
            sides.setdefault(pair, []).append((k, at, gap, _pen(s, horizontal=False)))
    # A box's sides stand at its rules' ends (the outermost run at each: a 1 written against
    # the side stays); a comb's separators come several between the same two rules, drawn
    # with the rules' pen (a 1 in a box, between its sides, is written thicker), in a comb
    # closed by a side at one end at least. Upright strokes between ruled lines (no sides)
    # are 1s, and stay.
    for pair, found in sides.items():
        outermost: dict[int, tuple[int, int]] = {}
        for k, end, gap, _ in found:
            if end is not None and gap < outermost.get(end, (0, gap + 1))[1]:
                outermost[end] = (k, gap)
        keep = {k for k, _ in outermost.values()}
        if len(found) >= 3 and outermost:
            pen = max(pens[r] for r in pair)
            keep |= {k for k, _, _, thick in found if thick <= SAME_PEN * pen + 1.0}
        for k in keep:
            run, top, left = _run(labels, k, upright_stats[k], fitted, grown)
            band, thick, _crossed = _band(fitted, _straight_columns(run), top, left, False)
            rules.upright[band] = True
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


def margin_lines(
    pale: np.ndarray, height: float, flat: np.ndarray | None = None
) -> tuple[np.ndarray, int]:
    """A notebook's margin line (or a table's upright rules, or squared paper's): straight
    upright runs down MARGIN_SPAN of the image, thin, with paper beside them, and either
    MARGIN_LENGTH writing heights (`height`) long, or crossing GRID_CROSSINGS of the `flat`
    rules found (H x W bool), or GRID_COMB or more of them evenly spaced across the rules
    above and below a line of writing. Returns their pixels in `pale` (H x W bool) and their
    thickness. Without this, a margin line is an "l" at the start of every line written
    beside it, and squared paper a fence of 1s."""
    found = np.zeros(pale.shape, bool)
    span = MARGIN_SPAN * pale.shape[0]
    need = max(MARGIN_LENGTH * height, span)
    grid = flat is not None and bool(flat.any())
    if need > pale.shape[0] and not grid:
        return found, 0
    # Straight runs a few writing heights long, joined: a line tilted a degree or two is a
    # staircase of them (as for flat rules); on a crop of a line or two, down the crop.
    length = max(MIN_RUN, min(round(RULE_LENGTH * height), round(span)))
    search = _grown(pale, horizontal=False)
    # Nothing so long: an erosion tells that at a fraction of the opening's cost.
    if not cv2.erode(search, np.ones((length, 1), np.uint8)).any():
        return found, 0
    labels, stats = _components(_runs(search, length, False))
    thickness = 0

    def accept(k: int, s: np.ndarray, broken: bool) -> None:
        """Run `k` (stats `s`) is a line unless strokes cross it along most of its length;
        a grid's line may have broken where it is pale: its band runs on down the page."""
        nonlocal thickness
        band, thick, crossed = _band(pale, *_run(labels, k, s, pale, True), False, broken)
        if crossed <= MAX_CROSSED:
            found[band] = True
            thickness = max(thickness, thick)

    comb = []  # runs down the whole crop across its flat rules, too few rules to tell alone
    for k, s in enumerate(stats[1:], start=1):
        width, tall = s[cv2.CC_STAT_WIDTH], s[cv2.CC_STAT_HEIGHT]
        if width > height or s[cv2.CC_STAT_AREA] / tall > MAX_THICKNESS * height:
            continue
        # Down the page and long against the writing; or one of them, across the rules of a
        # grid (a photographed grid's pale lines break).
        crossings = _crossings(flat, s) if grid and flat is not None else 0
        across = tall >= min(span, GRID_LENGTH * height) and crossings >= GRID_CROSSINGS
        if tall >= need or across:
            accept(k, s, tall < need)
        elif tall >= span and crossings >= 2:
            comb.append((k, s))
    # A crop of a line or two on squared paper: its upright lines cross only the rules above
    # and below the writing, but come at a regular spacing, several of them.
    centres = [s[cv2.CC_STAT_LEFT] + s[cv2.CC_STAT_WIDTH] / 2.0 for _, s in comb]
    if len(comb) >= GRID_COMB and _regular(centres):
        for k, s in comb:
            accept(k, s, True)
    return found, thickness


def _regular(xs: list[float]) -> bool:
    """Whether positions come at one spacing (some may be missing: multiples of it)."""
    gaps = np.diff(np.sort(np.asarray(xs)))
    step = float(np.median(gaps))
    if step < MIN_RUN:
        return False
    times = np.maximum(1, np.round(gaps / step))
    return bool((np.abs(gaps - times * step) <= max(2.0, 0.1 * step)).all())


def _crossings(flat: np.ndarray, s: np.ndarray) -> int:
    """How many separate flat rules (`flat`, H x W bool) an upright run (stats row `s`)
    meets."""
    x, y, width, tall = (int(v) for v in s[:4])
    rows = flat[y : y + tall, x : x + width].any(axis=1).view(np.int8)
    return int((np.diff(rows, prepend=0) == 1).sum())


def _may_hold_uprights(rules: Rules, height: int) -> bool:
    """Whether an image `height` tall may hold upright lines down it (`margin_lines`)."""
    tall = MARGIN_SPAN if not rules.flat_thickness else LINES_TALL
    return rules.tallest >= tall * height


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
    # A margin line is (part of) a component nearly as tall as the image, a grid's upright
    # lines (broken where a photo's grid is pale) of one half as tall with flat rules: most
    # pages have none, and the search costs about a millisecond.
    if rules.height and _may_hold_uprights(rules, pale.shape[0]):
        margins, thick = margin_lines(pale, rules.height, rules.flat)
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
    # Where a flat and an upright rule cross, a stroke through the crossing has ink beside
    # it only beyond both: bridged both ways.
    both = rules.flat & rules.upright
    if both.any():
        side = max(rules.flat_thickness, rules.upright_thickness) + 2
        square = np.ones((side, side), np.uint8)
        closed = cv2.morphologyEx(rest.view(np.uint8), cv2.MORPH_CLOSE, square)
        gone &= ~(both & (closed > 0))
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
    if ruling is not None and ink.mask.shape[0] >= NOTEBOOK_ROOM * rules.height:
        if not rules.flat_thickness or rules.flat.any(axis=0).mean() < RULING_SPAN:
            rules.add(page_rules(ink, ruling))
        elif _may_hold_uprights(rules, ink.mask.shape[0]):
            # The ruling is found already; squared paper's upright lines, paler than the
            # pen, may have binarised into dashes: they are looked for down to `ruling`.
            margins, thick = margin_lines(ruling_masks(ink, ruling)[0], rules.height, rules.flat)
            rules.add(Rules(np.zeros(margins.shape, bool), margins, 0, thick))
    gone = rule_pixels(ink, rules=rules)
    return ink if gone is None else without_pixels(ink, gone)


def without_pixels(ink: InkMap, gone: np.ndarray) -> InkMap:
    """The ink map with the printed marks `gone` (H x W bool: rules, a dot grid) out of its
    mask and their edges faded to paper (`rule_fringe`)."""
    mask = (ink.mask & ~gone).view(np.uint8)
    strength = np.where(rule_fringe(gone, mask), np.float32(0.0), ink.strength)
    return InkMap(mask=mask, strength=strength)
