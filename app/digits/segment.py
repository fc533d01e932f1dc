"""Find handwritten digits in an ink map: components -> merged fragments -> rows -> split options.

The output is a list of segments in reading order. Each segment carries one or more
`options` (ways to cut it into digits); the reader scores every option with the classifier
in one batch and keeps the best, which is how touching digits are separated.
"""

import itertools
import statistics
from dataclasses import dataclass, field

import cv2
import numpy as np

from app.vision.binarize import InkMap

_DILATE = np.ones((3, 3), np.uint8)


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
    def cy(self) -> float:
        return self.y + self.height / 2.0

    def union(self, other: "Box") -> "Box":
        x, y = min(self.x, other.x), min(self.y, other.y)
        return Box(x, y, max(self.right, other.right) - x, max(self.bottom, other.bottom) - y)


@dataclass
class Piece:
    """One digit hypothesis: where it is and its ink (strength masked to its own strokes)."""

    box: Box
    ink: np.ndarray


@dataclass
class Segment:
    """A blob of ink in a row; options[k] is one way to read it as len(options[k]) digits."""

    box: Box
    row: int
    options: list[list[Piece]] = field(default_factory=list)
    expected_count: float = 1.0


def _components(mask: np.ndarray) -> tuple[np.ndarray, list[Box], np.ndarray]:
    # Grana's block-based labelling: about 3x faster here than the default on small pages.
    _n, labels, stats, _ = cv2.connectedComponentsWithStatsWithAlgorithm(
        mask, 8, cv2.CV_32S, cv2.CCL_GRANA
    )
    boxes = [Box(int(s[0]), int(s[1]), int(s[2]), int(s[3])) for s in stats[1:]]
    return labels, boxes, stats[1:, cv2.CC_STAT_AREA].astype(np.int64)


def _reference_height(boxes: list[Box], areas: np.ndarray) -> float:
    """Typical digit height: median height of the components that hold real amounts of ink."""
    big = areas >= 0.15 * areas.max()
    heights = [b.height for b, keep in zip(boxes, big, strict=True) if keep]
    # With one or two pieces of ink, they may be fragments of a single digit: take the tallest.
    return float(statistics.median(heights) if len(heights) >= 3 else max(heights))


def _drop_specks(boxes: list[Box], areas: np.ndarray, ref_h: float) -> list[int]:
    keep = []
    for i, (b, a) in enumerate(zip(boxes, areas, strict=True)):
        tiny = a < max(4.0, 0.012 * ref_h * ref_h)
        short = max(b.width, b.height) < 0.3 * ref_h
        if not (tiny and short) and max(b.width, b.height) >= 0.12 * ref_h:
            keep.append(i)
    return keep


def _should_merge(a: Box, b: Box, ref_h: float) -> bool:
    """Fragments of one digit: stacked (a broken 5, a detached bar of a 7) or a small stroke
    hugging a bigger one, and together no taller than one digit."""
    union = a.union(b)
    overlap_x = min(a.right, b.right) - max(a.x, b.x)
    gap_y = max(a.y, b.y) - min(a.bottom, b.bottom)
    if overlap_x >= 0.4 * min(a.width, b.width) and gap_y <= 0.35 * ref_h:
        # A short fragment (the bar of a 5 or 7) may join a piece into something taller than
        # the typical height, which the fragments themselves pulled down; two digits may not.
        fragment = min(a.height, b.height) < 0.6 * ref_h
        tallest = 1.7 if fragment else 1.3
        return union.height <= tallest * ref_h and union.width <= 1.1 * max(ref_h, union.height)
    if union.height > 1.3 * ref_h:
        return False
    gap_x = -overlap_x
    overlap_y = min(a.bottom, b.bottom) - max(a.y, b.y)
    small = min(a.height, b.height) < 0.55 * ref_h and min(a.width, b.width) < 0.5 * ref_h
    return small and gap_x <= 0.12 * ref_h and overlap_y > 0 and union.width <= 0.9 * ref_h


def _merge_fragments(boxes: list[Box], ref_h: float) -> list[list[int]]:
    """Union-find over component pairs that look like parts of one digit."""
    parent = list(range(len(boxes)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    order = sorted(range(len(boxes)), key=lambda i: boxes[i].x)
    for pos, i in enumerate(order):
        for j in order[pos + 1 :]:
            if boxes[j].x > boxes[i].right + 0.2 * ref_h:
                break
            if _should_merge(boxes[i], boxes[j], ref_h):
                parent[find(j)] = find(i)
    groups: dict[int, list[int]] = {}
    for i in range(len(boxes)):
        groups.setdefault(find(i), []).append(i)
    return list(groups.values())


def _same_row(a: Box, b: Box, ref_h: float) -> bool:
    """Neighbours on one line of writing share most of their vertical extent."""
    overlap = min(a.bottom, b.bottom) - max(a.y, b.y)
    if overlap <= 0:
        return False
    gap_x = max(a.x, b.x) - min(a.right, b.right)
    return (
        overlap >= 0.5 * min(a.height, b.height)
        and overlap >= 0.3 * max(a.height, b.height)
        and gap_x <= 4.0 * ref_h
    )


def _group_rows(boxes: list[Box], ref_h: float) -> list[list[int]]:
    """Rows are chains of neighbours that overlap vertically, so a sloping or drifting line
    stays one row; rows come top to bottom, blobs left to right."""
    parent = list(range(len(boxes)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(len(boxes)):
        for j in range(i + 1, len(boxes)):
            if _same_row(boxes[i], boxes[j], ref_h):
                parent[find(j)] = find(i)
    rows: dict[int, list[int]] = {}
    for i in sorted(range(len(boxes)), key=lambda i: boxes[i].x):
        rows.setdefault(find(i), []).append(i)
    return sorted(rows.values(), key=lambda row: statistics.fmean(boxes[i].cy for i in row))


def _cut_columns(profile: np.ndarray, n: int) -> list[int]:
    """n-1 cut positions, each at the least-inked column near its expected place."""
    w = profile.size
    smooth = np.convolve(profile, np.ones(3) / 3.0, mode="same")
    cuts = [0]
    for k in range(1, n):
        centre = k * w / n
        lo = max(cuts[-1] + 1, int(centre - 0.3 * w / n))
        hi = min(w - 1, int(centre + 0.3 * w / n) + 1)
        if hi <= lo:
            return []
        window = smooth[lo:hi]
        # Prefer the emptiest column; among equals the one nearest the expected place.
        cost = window + 1e-3 * np.abs(np.arange(lo, hi) - centre)
        cuts.append(lo + int(np.argmin(cost)))
    cuts.append(w)
    return cuts


def _piece(ink: np.ndarray, box: Box) -> Piece | None:
    """Crop a piece's ink tight to its strokes."""
    x, y, w, h = cv2.boundingRect((ink > 0.05).view(np.uint8))
    if w == 0 or h == 0:
        return None
    return Piece(Box(box.x + x, box.y + y, w, h), ink[y : y + h, x : x + w])


def _options(ink: np.ndarray, box: Box, expected: float, max_split: int) -> list[list[Piece]]:
    """Ways to read a blob: whole, and cut into 2..k digits when it is wide enough."""
    whole = _piece(ink, box)
    options = [[whole]] if whole else []
    if expected < 1.3:
        return options
    profile = (ink > 0.05).sum(axis=0).astype(np.float32)
    hi = min(max_split, max(2, int(np.ceil(expected)) + 1))
    for n in range(2, hi + 1):
        cuts = _cut_columns(profile, n)
        if not cuts:
            continue
        pieces = []
        for c0, c1 in itertools.pairwise(cuts):
            part = _piece(ink[:, c0:c1], Box(box.x + c0, box.y, c1 - c0, box.height))
            if part is None or part.box.width < 2:
                break
            pieces.append(part)
        else:
            options.append(pieces)
    return options


def segment_digits(ink: InkMap, max_split: int = 8) -> list[Segment]:
    """Ink map -> digit segments in reading order (rows top to bottom, left to right)."""
    if not ink.mask.any():
        return []
    labels, boxes, areas = _components(ink.mask)
    ref_h = _reference_height(boxes, areas)
    kept = _drop_specks(boxes, areas, ref_h)
    if not kept:
        return []
    ref_h = _reference_height([boxes[i] for i in kept], areas[kept])
    groups = [[kept[i] for i in g] for g in _merge_fragments([boxes[i] for i in kept], ref_h)]
    blobs = []
    for g in groups:
        box = boxes[g[0]]
        for i in g[1:]:
            box = box.union(boxes[i])
        blobs.append((box, g))
    rows = _group_rows([b for b, _ in blobs], ref_h)

    segments: list[Segment] = []
    for r, row in enumerate(rows):
        row_boxes = [blobs[i][0] for i in row]
        # Typical width of one digit in this row: blobs of single-digit proportions.
        singles = [b.width for b in row_boxes if 0.4 <= b.width / max(b.height, 1) <= 1.0]
        unit_w = float(statistics.median(singles)) if singles else 0.7 * ref_h
        unit_w = min(max(unit_w, 0.5 * ref_h), 0.9 * ref_h)
        for i in row:
            box, ids = blobs[i]
            crop_labels = labels[box.y : box.bottom, box.x : box.right]
            own = crop_labels == ids[0] + 1
            for i in ids[1:]:
                own |= crop_labels == i + 1
            # Keep the anti-aliased fringe around the strokes but not a neighbour's ink.
            own = cv2.dilate(own.view(np.uint8), _DILATE)
            piece_ink = ink.strength[box.y : box.bottom, box.x : box.right] * own
            expected = box.width / unit_w
            opts = _options(piece_ink, box, expected, max_split)
            if opts:
                segments.append(Segment(box=box, row=r, options=opts, expected_count=expected))
    return segments
