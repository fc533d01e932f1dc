"""Find handwritten digits in an ink map: components -> merged fragments -> rows -> split options.

The output is a list of segments in reading order. A blob wider than one digit carries a
lattice of candidate cuts; the reader scores every piece of every lattice with the classifier
in one batch and picks the most likely path, which is how touching digits are separated.
"""

import statistics
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import cv2
import numpy as np

from app.core.errors import TooManyCharacters
from app.vision import folds, scale
from app.vision.binarize import InkMap, ink_map
from app.vision.rules import remove_rules, typical_height

_DILATE = np.ones((3, 3), np.uint8)
# A blob more than DEFER_WIDTH times as wide as its line's digits are tall gets a lattice of
# cuts at once; one wider than WIDE of that height (a broad or slanted digit, or a touching
# pair with a narrow digit: 10, 71) is read whole first and cut into candidates only where
# the reader is unsure of it.
WIDE = 0.75
DEFER_WIDTH = 1.6
# Ink at least this strong (share of full strength) joins the mask where it touches sure
# ink, so pale and blurred strokes keep their digit whole (0.1-0.3 measured on photographed
# and touching rows: 0.15-0.2 best; 0.1 lets noise in).
FAINT_INK = 0.2
# Ink shorter than this share of its line's typical digit height is a stray mark or a
# fragment unless the classifier is sure of it.
SMALL = 0.55
# A mark shorter than this share of the digit height may be a fragment of a digit (at most
# SMALL of it where it hugs a digit's side rather than lying above or below).
FRAGMENT = 0.6
# A mark at least this many times as wide as tall is a dash (a rule's remnant, a minus sign,
# a 5's or 7's bar broken off): no digit by itself, and a row of dashes sets no digit size.
DASH = 2.0
# Close neighbours (at most this many digit heights apart across) whose vertical extents
# overlap by more than this share of the shorter one's height are on one line: a baseline
# that waves steps by half a digit height from one digit to the next.
WAVY_GAP = 1.0
WAVY_OVERLAP = 0.2
# Rounds of taking back specks of the page that are marks of a row of small digits.
RESTORE_ROUNDS = 4
# A straight upright stroke at least this many times as tall as the marks beside it, in two
# rows or more, is a margin line drawn down the rows (`_without_margin_strokes`) ...
MARGIN_STROKE = 2.2
# ... if its ink is no thicker on average than this share of the writing's height.
MARGIN_THICKNESS = 0.2
# ... each at least this share of the row's digit height along its longer side.
RESTORE_SIZE = 0.5


@dataclass(frozen=True)
class Box:
    x: int
    y: int
    width: int
    height: int

    @property
    def right(self) -> int:
        return self.x + self.width

    @property
    def bottom(self) -> int:
        return self.y + self.height

    @property
    def corners(self) -> tuple[int, int, int, int]:
        """(x0, y0, x1, y1): top left and bottom right, exclusive."""
        return self.x, self.y, self.right, self.bottom

    @property
    def cy(self) -> float:
        return self.y + self.height / 2.0

    def union(self, other: "Box") -> "Box":
        x, y = min(self.x, other.x), min(self.y, other.y)
        return Box(x, y, max(self.right, other.right) - x, max(self.bottom, other.bottom) - y)

    @property
    def dash(self) -> bool:
        return self.width >= DASH * self.height

    def scaled(self, factor: int) -> "Box":
        """The box in an image `factor` times as large."""
        return Box(self.x * factor, self.y * factor, self.width * factor, self.height * factor)


@dataclass
class Piece:
    """One digit hypothesis: where it is, its ink (strength masked to its own strokes), and
    a log-prior from its shape (0 for digit-like proportions, negative for a wide strip)."""

    box: Box
    ink: np.ndarray
    prior: float = 0.0


@dataclass
class Segment:
    """A blob of ink in a row, with candidate cuts (x offsets, edges included) and the piece
    between cuts i < j for every (i, j) that could be one digit. Reading it means choosing
    a path of pieces from the first cut to the last."""

    box: Box
    row: int
    cuts: list[int] = field(default_factory=list)
    pieces: dict[tuple[int, int], Piece] = field(default_factory=dict)
    # Narrower than two digits usually are, yet it may be a touching pair with a narrow
    # digit: its ink, kept so that the lattice can be built when the reader is unsure of it.
    deferred: np.ndarray | None = None
    # Typical digit height of the segment's line of writing.
    ref_height: float = 0.0

    @property
    def wider_than_tall(self) -> bool:
        """Wider than its line's digits are tall (`digit_height`): a broad or slanted digit,
        or two touching."""
        return self.box.width > digit_height(self.box, self.ref_height)

    def is_small(self, box: Box) -> bool:
        return box.height < SMALL * self.ref_height

    @property
    def whole(self) -> Piece | None:
        """The blob uncut: the piece from its first cut to its last."""
        return self.pieces.get((0, len(self.cuts) - 1))

    @property
    def small(self) -> bool:
        """Much shorter than its line's digits: a stray mark unless the classifier is sure."""
        return self.is_small(self.box)

    def expand(self) -> None:
        """Build the deferred lattice of cuts (the whole blob stays one of its pieces)."""
        if self.deferred is not None:
            self.cuts, self.pieces = _lattice(self.deferred, self.box, wide=True)
            self.deferred = None


def digit_height(box: Box, line_height: float) -> float:
    """The height a blob's width is measured against: its own, or nearly its line's typical
    digit height where it is shorter (a flat 0, a low pair)."""
    return max(box.height, 0.8 * line_height)


def _components(mask: np.ndarray) -> tuple[np.ndarray, list[Box], np.ndarray]:
    # Grana's block-based labelling: about 3x faster here than the default on small pages.
    _n, labels, stats, _ = cv2.connectedComponentsWithStatsWithAlgorithm(
        mask, 8, cv2.CV_32S, cv2.CCL_GRANA
    )
    boxes = [Box(int(s[0]), int(s[1]), int(s[2]), int(s[3])) for s in stats[1:]]
    return labels, boxes, stats[1:, cv2.CC_STAT_AREA].astype(np.int64)


def _reference_height(boxes: list[Box], areas: np.ndarray, few: int = 2) -> float:
    """Typical digit height of these components (`typical_height`: of `few` or fewer that
    hold real amounts of ink, the tallest)."""
    return typical_height(np.array([b.height for b in boxes]), areas, few=few)


def _is_mark(b: Box, area: int, ref_h: float) -> bool:
    """Whether a component is a mark, no speck, beside digits `ref_h` tall."""
    tiny = area < max(4.0, 0.012 * ref_h * ref_h)
    short = max(b.width, b.height) < 0.3 * ref_h
    return not (tiny and short) and max(b.width, b.height) >= 0.12 * ref_h


def _drop_specks(boxes: list[Box], areas: np.ndarray, ref_h: float) -> list[int]:
    return [i for i, (b, a) in enumerate(zip(boxes, areas, strict=True)) if _is_mark(b, a, ref_h)]


def _small_row_heights(
    boxes: list[Box], rows: list[list[int]], heights: list[float], ref_h: float
) -> np.ndarray:
    """For each mark in a row of small marks only (all under FRAGMENT of the page's digit
    height, two or more no dashes), the row's digit height: its own (`heights`), or its tallest
    mark's where it holds too few to tell; inf for every other mark."""
    out = np.full(len(boxes), np.inf)
    for row in rows:
        # Two marks at least: a lone fragment (a bar broken off a digit) makes no row.
        if sum(not boxes[i].dash for i in row) >= 2 and all(
            boxes[i].height < FRAGMENT * ref_h for i in row
        ):
            own = min(heights[i] for i in row)
            out[row] = own if own < FRAGMENT * ref_h else max(boxes[i].height for i in row)
    return out


def _marks_of_small_rows(
    corners: np.ndarray, areas: np.ndarray, kept: list[int], small_h: np.ndarray
) -> list[int]:
    """`kept` plus the components dropped as specks against the page's digit size that
    stand beside marks of a row of smaller digits (`small_h`: each kept mark's small row
    height, `_small_row_heights`) and are no specks at that row's size, nor much smaller
    than its digits (dotted paper's dots stay out): a small 1 in a row of digits 20 px tall
    over digits 90 px tall was a speck of the page. `corners`: N x 4 (x0, y0, x1, y1) of
    every component."""
    anchors = np.flatnonzero(np.isfinite(small_h))
    if not len(anchors):
        return kept
    kh = small_h[anchors]
    kb = corners[np.asarray(kept)[anchors]]  # M x 4
    # Only components long enough for the smallest row (a noisy page's specks are many).
    dropped = np.ones(len(corners), bool)
    dropped[kept] = False
    side = np.maximum(corners[:, 2] - corners[:, 0], corners[:, 3] - corners[:, 1])
    candidates = np.flatnonzero(dropped & (side >= RESTORE_SIZE * kh.min()))
    if not len(candidates):
        return kept
    db = corners[candidates]  # D x 4
    # D x M: shares rows with the small mark and lies within 1.5 of its row's height of it.
    beside = (
        (np.minimum(db[:, None, 3], kb[None, :, 3]) > np.maximum(db[:, None, 1], kb[None, :, 1]))
        & (db[:, None, 0] <= kb[None, :, 2] + 1.5 * kh[None, :])
        & (db[:, None, 2] >= kb[None, :, 0] - 1.5 * kh[None, :])
    )
    local = np.where(beside, kh[None, :], np.inf).min(axis=1)
    extra = [
        int(i)
        for i, h in zip(candidates, local, strict=True)
        if np.isfinite(h)
        and side[i] >= RESTORE_SIZE * h
        and _is_mark(_box(corners[i]), int(areas[i]), float(h))
    ]
    return sorted(kept + extra) if extra else kept


def _box(corners: np.ndarray) -> Box:
    x0, y0, x1, y1 = (int(v) for v in corners)
    return Box(x0, y0, x1 - x0, y1 - y0)


def _should_merge(a: Box, b: Box, ref_h: float) -> bool:
    """Fragments of one digit: stacked (a broken 5, a detached bar of a 7) or a small stroke
    hugging a bigger one, and together no taller than one digit."""
    union = a.union(b)
    overlap_x = min(a.right, b.right) - max(a.x, b.x)
    gap_y = max(a.y, b.y) - min(a.bottom, b.bottom)
    # A short fragment (the bar of a 5 or 7) may join a piece into something taller than
    # the typical height, which the fragments themselves pulled down; two digits may not.
    # A slanted 5's bar sits right of its body: a smaller overlap joins a fragment.
    fragment = min(a.height, b.height) < FRAGMENT * ref_h
    if overlap_x >= (0.25 if fragment else 0.4) * min(a.width, b.width) and gap_y <= 0.35 * ref_h:
        tallest = 1.7 if fragment else 1.3
        # Halves stacked one over the other (a wide 3 broken at its waist) may be wider.
        stacked = min(a.bottom, b.bottom) - max(a.y, b.y) <= 0.3 * min(a.height, b.height)
        widest = 1.5 if fragment and stacked else 1.1
        return union.height <= tallest * ref_h and union.width <= widest * max(ref_h, union.height)
    if union.height > 1.3 * ref_h:
        return False
    gap_x = -overlap_x
    overlap_y = min(a.bottom, b.bottom) - max(a.y, b.y)
    small = min(a.height, b.height) < SMALL * ref_h and min(a.width, b.width) < 0.5 * ref_h
    return small and gap_x <= 0.12 * ref_h and overlap_y > 0 and union.width <= 0.9 * ref_h


def _connected_groups(n: int, linked: Iterable[tuple[int, int]]) -> list[list[int]]:
    """Union-find: groups of indices 0..n-1 joined by the pairs `linked` yields."""
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in linked:
        parent[find(j)] = find(i)
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(find(i), []).append(i)
    return list(groups.values())


def _merge_fragments(boxes: list[Box], ref_h: list[float]) -> list[list[int]]:
    """Groups of components that look like parts of one digit (`ref_h`: the typical digit
    height around each component)."""
    reach = 0.2 * max(ref_h)

    def pairs() -> Iterator[tuple[int, int]]:
        order = sorted(range(len(boxes)), key=lambda i: boxes[i].x)
        for pos, i in enumerate(order):
            for j in order[pos + 1 :]:
                if boxes[j].x > boxes[i].right + reach:
                    break
                # Near a line of smaller writing, its size decides: a small digit is no
                # fragment of a big one, nor of a digit in the next line.
                if _should_merge(boxes[i], boxes[j], min(ref_h[i], ref_h[j])):
                    yield i, j

    # Closest pairs first, and a pair joins only where its two groups together are no taller
    # than a digit with a fragment may be: a small fragment between a digit and one of the
    # next line (rows written close together) joins one of them, not both lines.
    groups = {i: [i] for i in range(len(boxes))}
    owner = list(range(len(boxes)))
    span = {i: boxes[i] for i in range(len(boxes))}
    for i, j in sorted(pairs(), key=lambda p: _gap_between(boxes[p[0]], boxes[p[1]])):
        a, b = owner[i], owner[j]
        if a == b:
            continue
        union = span[a].union(span[b])
        if union.height > 1.7 * min(ref_h[i], ref_h[j]):
            continue
        for k in groups[b]:
            owner[k] = a
        groups[a] += groups.pop(b)
        span[a] = union
        del span[b]
    return list(groups.values())


def _gap_between(a: Box, b: Box) -> int:
    """Pixels between two boxes, across or down (0 where they overlap both ways)."""
    return max(0, max(a.x, b.x) - min(a.right, b.right)) + max(
        0, max(a.y, b.y) - min(a.bottom, b.bottom)
    )


def _same_row(a: Box, b: Box, ref_h: float, loose: bool = False) -> bool:
    """Neighbours on one line of writing share most of their vertical extent; `loose`: close
    neighbours (within WAVY_GAP of the digit height across) share some of it, where the
    baseline waves."""
    overlap = min(a.bottom, b.bottom) - max(a.y, b.y)
    if overlap <= 0:
        return False
    gap_x = max(a.x, b.x) - min(a.right, b.right)
    if loose and gap_x <= WAVY_GAP * ref_h:
        return overlap > WAVY_OVERLAP * min(a.height, b.height)
    return (
        overlap >= 0.5 * min(a.height, b.height)
        and overlap >= 0.3 * max(a.height, b.height)
        and gap_x <= 4.0 * ref_h
    )


def _stacked_in(row: list[int], boxes: list[Box]) -> bool:
    """Whether two blobs of a row stand one above the other (sharing half the narrower's
    columns): no one line of writing does that, two lines run together do."""
    by_x = sorted(row, key=lambda i: boxes[i].x)
    for k, i in enumerate(by_x):
        for j in by_x[k + 1 :]:
            if boxes[j].x >= boxes[i].right:
                break
            shared = min(boxes[i].right, boxes[j].right) - boxes[j].x
            if shared >= 0.5 * min(boxes[i].width, boxes[j].width):
                return True
    return False


def _group_rows(boxes: list[Box], ref_h: list[float]) -> list[list[int]]:
    """Rows are chains of neighbours that overlap vertically, so a sloping or drifting line
    stays one row, and close neighbours that overlap a little, so a waving one does too
    (digits stepping half their height up or down from one to the next); a row so chained
    that holds blobs one above the other is two lines run together, and is chained again
    strictly. Rows come top to bottom, blobs left to right."""

    def chained(ids: list[int], loose: bool) -> list[list[int]]:
        pairs = (
            (p, q)
            for p in range(len(ids))
            for q in range(p + 1, len(ids))
            if _same_row(boxes[ids[p]], boxes[ids[q]], max(ref_h[ids[p]], ref_h[ids[q]]), loose)
        )
        return [[ids[k] for k in group] for group in _connected_groups(len(ids), pairs)]

    rows = []
    for row in chained(list(range(len(boxes))), loose=True):
        rows += chained(row, loose=False) if _stacked_in(row, boxes) else [row]
    rows = [sorted(g, key=lambda i: boxes[i].x) for g in rows]
    return sorted(rows, key=lambda row: statistics.fmean(boxes[i].cy for i in row))


def candidate_cuts(ink: np.ndarray, height: int, max_cuts: int = 24) -> list[int]:
    """Columns where a blob may be cut between two digits: thinly inked local minima of its
    column profile, at least a narrow digit's width apart; the blob's edges included."""
    w = ink.shape[1]
    profile = np.convolve((ink > 0.05).sum(axis=0).astype(np.float32), np.ones(3) / 3, "same")
    inner = profile[1:-1]
    is_min = (inner <= profile[:-2]) & (inner <= profile[2:]) & (inner <= 0.6 * profile.max())
    valleys = (np.nonzero(is_min)[0] + 1).tolist()
    # Where strokes overlap the boundary is no valley: a regular grid of cuts covers that.
    step = max(2, round(0.3 * height))
    grid = list(range(step, w - step // 2, step))
    spacing = max(2.0, 0.15 * height)
    kept: list[int] = []
    order = sorted(valleys, key=lambda c: (profile[c], c)) + grid  # thinnest valleys first
    for c in order:
        if spacing <= c <= w - spacing and all(abs(c - k) >= spacing for k in kept):
            kept.append(c)
        if len(kept) >= max_cuts:
            break
    return [0, *sorted(kept), w]


def own_ink(strength: np.ndarray, own: np.ndarray) -> np.ndarray:
    """A blob's ink: `strength` where its own components lie (`own`, a bool mask of the same
    crop), with the anti-aliased fringe around its strokes but not a neighbour's ink."""
    return strength * cv2.dilate(own.view(np.uint8), _DILATE)


def tight_piece(ink: np.ndarray, box: Box) -> Piece | None:
    """Crop a piece's ink tight to its strokes."""
    x, y, w, h = cv2.boundingRect((ink > 0.05).view(np.uint8))
    if w == 0 or h == 0:
        return None
    # Digits are rarely much wider than tall: a strip wider than that is likely two or more.
    prior = -3.0 * max(0.0, w / max(box.height, 1) - 1.3)
    return Piece(Box(box.x + x, box.y + y, w, h), ink[y : y + h, x : x + w], prior)


def cut_paths(
    ink: np.ndarray, starts: list[int], reach: int, turn_cost: float = 0.15
) -> np.ndarray:
    """The least-inked top-to-bottom path near each start column (dynamic programming, at
    most one column of drift per row): curved cuts that slip between leaning or touching
    digits where straight ones would slice through them. Returns K x H path columns; all
    K paths are found in one pass over the rows."""
    h, w = ink.shape
    n = 2 * reach + 1
    padded = np.pad(ink.astype(np.float32), ((0, 0), (reach, reach)), constant_values=np.inf)
    cols = np.asarray(starts)[:, None] + np.arange(n)[None, :]  # K x n, padded coordinates
    bands = padded[:, cols]  # H x K x n
    # Drifting away from the start costs a little, so flat regions keep the cut straight.
    drift = 0.02 * np.abs(np.arange(n) - reach).astype(np.float32)
    cost = bands[0] + drift
    back = np.zeros((h, len(starts), n), np.int8)
    inf_col = np.full((len(starts), 1), np.inf, np.float32)
    for y in range(1, h):
        left = np.concatenate([inf_col, cost[:, :-1]], axis=1) + turn_cost
        right = np.concatenate([cost[:, 1:], inf_col], axis=1) + turn_cost
        best = np.minimum(np.minimum(left, cost), right)
        back[y] = np.where(best == cost, 0, np.where(best == left, -1, 1))
        cost = best + bands[y] + drift
    paths = np.empty((len(starts), h), np.int64)
    x = cost.argmin(axis=1)
    rows = np.arange(len(starts))
    for y in range(h - 1, -1, -1):
        paths[:, y] = x
        x = x + back[y, rows, x]
    return np.clip(paths + np.asarray(starts)[:, None] - reach, 0, w)


def _lattice(
    ink: np.ndarray, box: Box, wide: bool
) -> tuple[list[int], dict[tuple[int, int], Piece]]:
    """Cuts of a blob and the piece between every pair of cuts that could hold one digit."""
    whole = tight_piece(ink, box)
    if not wide:
        return [0, box.width], ({(0, 1): whole} if whole else {})
    h, w = ink.shape
    cuts = candidate_cuts(ink, box.height)
    reach = max(1, round(0.3 * h))
    inner = cut_paths(ink, cuts[1:-1], reach) if len(cuts) > 2 else np.zeros((0, h), np.int64)
    paths = [np.zeros(h, np.int64), *inner, np.full(h, w, np.int64)]
    cols = np.arange(w)
    pieces: dict[tuple[int, int], Piece] = {(0, len(cuts) - 1): whole} if whole else {}
    for i in range(len(cuts) - 1):
        for j in range(i + 1, min(len(cuts), i + 5)):
            if cuts[j] - cuts[i] > 1.4 * box.height:
                break
            # H x W mask of the columns between the two curved cuts, row by row.
            between = (cols[None, :] >= paths[i][:, None]) & (cols[None, :] < paths[j][:, None])
            part = tight_piece(ink * between, box)
            if part is not None:
                pieces[(i, j)] = part
    return cuts, pieces


def _blobs_in_rows(
    boxes: list[Box], ref_h: list[float]
) -> tuple[list[tuple[Box, list[int]]], list[list[int]]]:
    """Fragments merged into blobs (box, component indices), and the rows of those blobs."""
    blobs = []
    for group in _merge_fragments(boxes, ref_h):
        box = boxes[group[0]]
        for i in group[1:]:
            box = box.union(boxes[i])
        blobs.append((box, group))
    blob_h = [min(ref_h[i] for i in group) for _, group in blobs]
    return blobs, _group_rows([box for box, _ in blobs], blob_h)


def _mark_rows(
    boxes: list[Box], areas: np.ndarray, ref_h: float
) -> tuple[list[list[int]], list[float]]:
    """Marks grouped into rows as they are (none merged yet), and each mark's row height."""
    rows = _group_rows(boxes, [ref_h] * len(boxes))
    return rows, _row_heights([(box, [i]) for i, box in enumerate(boxes)], rows, areas, ref_h)


def _row_heights(
    blobs: list[tuple[Box, list[int]]], rows: list[list[int]], areas: np.ndarray, ref_h: float
) -> list[float]:
    """Typical digit height around each component: its row's, where the row has three or
    more blobs to tell it, not all dashes; the page's otherwise (a lone mark sets no size of
    its own)."""
    heights = [ref_h] * len(areas)
    for row in rows:
        if len(row) >= 3 and not all(blobs[i][0].dash for i in row):
            row_areas = np.array([areas[blobs[i][1]].sum() for i in row])
            row_h = _reference_height([blobs[i][0] for i in row], row_areas)
            for i in row:
                for k in blobs[i][1]:
                    heights[k] = row_h
    return heights


def digit_ink(gray: np.ndarray) -> InkMap:
    """The ink map digits are found in, squared paper's grid and form lines (or a notebook's
    ruling) removed (the service and training both use this one). Uneven light is flattened
    keeping its edges (`ink_map`'s `sharp_light`): each digit is brought to full contrast
    on its own afterwards, while the line model reads the strength map as it was trained."""
    return remove_rules(
        ink_map(gray, faint=FAINT_INK, grid=True, sharp_light=True, shade_bands=True),
        ruling=FAINT_INK,
    )


# A large image is read shrunk so that its digits stay at least this tall: the service is
# measured on digits 24-72 pixels tall, and LeNet-5 sees them 20 pixels tall.
READ_HEIGHT = 64


def _marks(mask: np.ndarray) -> tuple[np.ndarray, list[Box], np.ndarray, list[int], float]:
    """A mask's components: (labels, boxes, areas, the indices of those kept (specks dropped),
    the kept ones' typical height); no boxes where it holds no ink."""
    labels, boxes, areas = _components(mask)
    if not boxes:
        return labels, boxes, areas, [], 0.0
    kept = _drop_specks(boxes, areas, _reference_height(boxes, areas))
    if not kept:
        return labels, boxes, areas, kept, 0.0
    # Marks, not yet merged: three may be a digit and the two fragments of a broken one (a
    # pair of digits, one broken, took the fragments' height and became two rows).
    ref_h = _reference_height([boxes[i] for i in kept], areas[kept], few=3)
    return labels, boxes, areas, kept, ref_h


def _without_margin_strokes(
    boxes: list[Box], areas: np.ndarray, kept: list[int], ref_h: float
) -> list[int]:
    """`kept` less straight upright strokes beside rows of writing: a margin line drawn down
    the rows, as thin as a pen and at least MARGIN_STROKE times as tall as the marks whose
    middles lie along it, in two rows or more (no digit is; a 1 that tall beside small
    digits is in a row of its own size)."""
    out = []
    for i in kept:
        b = boxes[i]
        if b.height < MARGIN_STROKE * ref_h * 0.5 or b.width > 0.3 * b.height:
            out.append(i)
            continue
        if areas[i] > MARGIN_THICKNESS * ref_h * b.height:  # thicker than a pen's line
            out.append(i)
            continue
        beside = [boxes[j] for j in kept if j != i and b.y <= boxes[j].cy <= b.bottom]
        if len(beside) < 2:
            out.append(i)
            continue
        h = statistics.median(o.height for o in beside)
        rows_apart = max(o.cy for o in beside) - min(o.cy for o in beside) >= h
        if not (rows_apart and b.height >= MARGIN_STROKE * h):
            out.append(i)
    return out


def reading_factor(gray: np.ndarray) -> int:
    """The whole factor a grayscale image is best read shrunk by (`app.vision.scale`): 1
    unless it is large and its digits tall."""
    return scale.reading_factor(gray, lambda small: _marks(digit_ink(small).mask)[4], READ_HEIGHT)


def segment_digits(ink: InkMap, eager: bool = False, max_blobs: int | None = None) -> list[Segment]:
    """Ink map -> digit segments in reading order (rows top to bottom, left to right).

    A blob wider than tall gets its lattice of cuts at once; one only wider than WIDE of its
    height keeps its ink in `deferred` for `Segment.expand` (at once with `eager`). More than
    `max_blobs` blobs (specks dropped) is refused before the work that grows with their
    square (grouping fragments and rows)."""
    if not ink.mask.any():
        return []
    labels, boxes, areas, kept, ref_h = _marks(ink.mask)
    sizes = [(boxes[i].width, boxes[i].height) for i in kept]
    if kept and folds.may_hold_long_lines(sizes, ref_h, ink.mask.shape, folds.JOINED):
        # A crease across the page joins the digits it touches: it goes first.
        ink = folds.without_long_lines(ink, ref_h, remnants=True)
        labels, boxes, areas, kept, ref_h = _marks(ink.mask)
    # After the creases: a crease through a digit is as thin and straight as a margin line.
    kept = _without_margin_strokes(boxes, areas, kept, ref_h)
    if not kept:
        return []
    if max_blobs is not None and len(kept) > max_blobs:
        raise TooManyCharacters(
            f"The image holds {len(kept)} separate marks, more than {max_blobs}; "
            "send a crop with fewer digits."
        )
    all_boxes, all_areas = boxes, areas
    boxes, areas = [boxes[i] for i in kept], areas[kept]
    # A row of small digits written close above or below bigger ones is no set of fragments
    # of them: marks in rows of their own (before any merging) are judged at their row's size.
    first = [ref_h] * len(boxes)
    if min(b.height for b in boxes) < FRAGMENT * ref_h:  # else no mark may be a fragment
        rows, first = _mark_rows(boxes, areas, ref_h)
        corners = np.array([b.corners for b in all_boxes], np.float64)  # N x 4
        # Specks of the page may be marks of a row of small digits: each mark taken back
        # may stand beside the next (a few rounds reach along a row).
        for _ in range(RESTORE_ROUNDS):
            small_h = _small_row_heights(boxes, rows, first, ref_h)
            wider = _marks_of_small_rows(corners, all_areas, kept, small_h)
            if len(wider) == len(kept):
                break
            kept = wider
            boxes, areas = [all_boxes[i] for i in kept], all_areas[kept]
            rows, first = _mark_rows(boxes, areas, ref_h)
    blobs, rows = _blobs_in_rows(boxes, first)
    # Lines may be written at different sizes: where one sets its own typical height,
    # fragments are merged and rows grouped again with it.
    heights = _row_heights(blobs, rows, areas, ref_h)
    if any(abs(h - ref_h) > 0.2 * ref_h for h in heights):
        blobs, rows = _blobs_in_rows(boxes, heights)

    segments: list[Segment] = []
    for r, row in enumerate(rows):
        for i in row:
            box, ids = blobs[i]
            crop_labels = labels[box.y : box.bottom, box.x : box.right]
            own = crop_labels == kept[ids[0]] + 1
            for k in ids[1:]:
                own |= crop_labels == kept[k] + 1
            piece_ink = own_ink(ink.strength[box.y : box.bottom, box.x : box.right], own)
            local_h = min(heights[k] for k in ids)
            # Wider than one digit usually is: may hold several touching digits.
            height = digit_height(box, local_h)
            wide = box.width > DEFER_WIDTH * height
            maybe = not wide and box.width > WIDE * height
            cuts, pieces = _lattice(piece_ink, box, wide or (maybe and eager))
            if pieces:
                later = piece_ink if maybe and not eager else None
                segments.append(Segment(box, r, cuts, pieces, later, local_h))
    return segments
