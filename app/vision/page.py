"""The sheet of paper in a photo: the desk, table or scanner lid around it painted paper.

A phone photo of a page often shows what the page lies on. A dark desk is as large as a digit
row or larger, so every later stage took it for ink: one huge mark that hid the writing's
size, rows and lines; a white table around a grey or coloured page turned the page itself
into faint ink. The page is found at low resolution as the convex hull of the largest region
at the paper's level (the middle of the image is paper), set off from a surround of another
level along the image's border by a sharp edge. What lies outside it is painted with the
paper's own level nearby; pixel coordinates stay as they are.
"""

import math
from dataclasses import dataclass

import cv2
import numpy as np

from app.vision.binarize import border_ring, dark_ink, grey_hist, level_of_hist
from app.vision.scale import shrink

# The page is looked for at this size (longest side, pixels): lighting and edges are coarse.
LOOK_SIDE = 256
# ... but not shrunk so far that the shorter side is under this (a long line's height).
MIN_LOOK_SIDE = 64
# The page is looked for as the region brighter (or darker) than these shares of the way
# from the surround's level to the paper's: half-way, then nearer the surround, for a page
# whose light falls off towards its corners and edges.
LOOK_AT = (0.5, 0.25)
# An image under this many pixels across is no photo of a page on something.
MIN_PAGE_SIDE = 32
# At least this share of the image's border is surround: a surround frames the page; or
# this share of one whole side of it, where that is far from the paper's level (shade falling
# off towards a side is no surround).
BORDER_SHARE = 0.25
WHOLE_SIDE = 0.9
SIDE_CONTRAST = 72.0
# The page's hull covers this share of the image at least, and leaves this much outside (a
# strip's dark ends may be a few percent of it).
PAGE_MIN, PAGE_MAX = 0.2, 0.99
# A page's hull fills at least this share of its smallest enclosing (turned) rectangle.
PAGE_BOXY = 0.85
# ... or four corners trace it within this share of its perimeter (a circle needs seven).
QUAD_FIT = 0.02
# A page is mostly paper (and the ink on it): this share of its hull at least.
PAGE_SHARE = 0.6
# At most this share of the page is much brighter than its paper (glare, uneven light).
BRIGHTER_THAN_PAPER = 0.25
# What lies outside the page is mostly surround (it is no paper with writing at its edge).
OUTSIDE_SHARE = 0.9
# ... and at most this share of it is much darker than the surround: ink.
OUTSIDE_INK = 0.02
# ... darker than the surround by at least this many times its grain's spread (a textured
# desk's dark grains are no writing).
GRAIN_SIGMAS = 3.0
# Pixels (of the small image) inside the page's edge compared with those as far and 3 times
# as far outside it, for a step.
EDGE_BAND = 2
# At least this share of the difference between paper and surround lies in the step.
SHARP_EDGE = 0.6
# The step is there along at least this share of the page's edge (ink crosses it here and
# there).
EDGE_STEP_SHARE = 0.5
# Writing never runs over a page's edge: where strokes cross the edge at this many places
# (ink just inside and just outside it), the edge is a shade's (a fold's, a shadow's).
INK_CROSSINGS = 3
# Pixels of the page's edge painted with the surround (at full size, at least): a photo's
# edge is blurred over a few pixels, between the paper's level and the surround's.
EDGE_FRINGE = 3
# The paper's local level is averaged over this fraction of the small image's shorter side,
# where at least KNOWN_SHARE of the pixels around are paper.
LEVEL_SPAN = 12
KNOWN_SHARE = 0.3
# Paper and surround closer than this (grey levels) are not told apart.
SURROUND_CONTRAST = 24.0


@dataclass(frozen=True)
class Page:
    """Where the page lies in the small image, and the grey levels that tell it apart."""

    hull: np.ndarray  # H x W uint8, 1 = page
    paper: float  # the paper's level
    cut: float  # half-way between the paper's level and the surround's
    darker_surround: bool

    def side(self, gray: np.ndarray, cut: float | None = None) -> np.ndarray:
        """uint8 mask (1 = at the paper's side of `cut`, by default the page's: paper, and ink
        on a brighter surround)."""
        cut = self.cut if cut is None else cut
        return (gray > cut if self.darker_surround else gray < cut).view(np.uint8)

    def paper_pixels(self, gray: np.ndarray) -> np.ndarray:
        """bool mask: as near the paper's level as the surround's cut, either way (no ink)."""
        return np.abs(gray.astype(np.float32) - self.paper) < abs(self.paper - self.cut)


def _surround(small: np.ndarray) -> tuple[float, float] | None:
    """(paper level, surround level), or None where the image's border is mostly paper."""
    h, w = small.shape
    # The middle of the image is paper and ink, ink darker and up to half of it in a crop of
    # bold writing: the paper's level is its upper quartile.
    paper = float(level_of_hist(grey_hist(small[h // 4 : h - h // 4, w // 4 : w - w // 4]), 0.75))
    ring = border_ring(small).astype(np.float32)
    edges = (small[0], small[-1], small[:, 0], small[:, -1])
    for sign in (-1.0, 1.0):
        off = sign * (ring - paper)
        beyond = off >= SURROUND_CONTRAST
        # A long strip photographed or scanned with dark ends shows its surround only at its
        # two short sides: a whole side of the image counts too (looked at side by side only
        # where the ring holds enough such pixels for one: a clean scan's ring holds none).
        whole_side = np.count_nonzero(off >= SIDE_CONTRAST) >= WHOLE_SIDE * min(h, w) and any(
            (sign * (e.astype(np.float32) - paper) >= SIDE_CONTRAST).mean() >= WHOLE_SIDE
            for e in edges
        )
        if beyond.mean() >= BORDER_SHARE or whole_side:
            return paper, float(np.median(ring[beyond]))
    return None


def find_page(small: np.ndarray) -> Page | None:
    """The page of a small grayscale image, or None where no page is framed by a surround
    (the usual case: the whole image is paper)."""
    if min(small.shape) < MIN_PAGE_SIDE:
        return None
    levels = _surround(small)
    if levels is None:
        return None
    paper, surround = levels
    for n, share in enumerate(LOOK_AT):
        cut = surround + share * (paper - surround)
        page = _page_at(small, paper, surround, cut, local=n > 0)
        if page is not None:
            return page
    return None


def _page_at(
    small: np.ndarray, paper: float, surround: float, cut: float, local: bool
) -> Page | None:
    """The page as the largest region at the paper's side of `cut`, where it passes for one
    (`local`: its edge judged against the paper just inside it; see `_edge_is_a_step`)."""
    page = Page(np.zeros_like(small), paper, (paper + surround) / 2, surround < paper)
    side = page.side(small, cut)
    count, labels, stats, _ = cv2.connectedComponentsWithStatsWithAlgorithm(
        side, 8, cv2.CV_32S, cv2.CCL_GRANA
    )
    if count < 2:
        return None
    largest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    # The hull of the region's outline is its hull, from far fewer points.
    outline, _ = cv2.findContours(
        (labels == largest).view(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE
    )
    hull = cv2.convexHull(np.concatenate(outline))
    if not _four_sided(hull):
        return None
    cv2.fillConvexPoly(page.hull, hull, 1)
    inside = page.hull.astype(bool)
    if not PAGE_MIN <= inside.mean() <= PAGE_MAX or side[inside].mean() < PAGE_SHARE:
        return None
    # What lies outside is surround (no paper with writing at its edge), and holds no
    # writing: a hard shadow over part of a page is no desk. (The page's blurred edge, next
    # to the hull, is left out.)
    if 1 - side[~inside].mean() < OUTSIDE_SHARE:
        return None
    away = cv2.dilate(page.hull, np.ones((2 * EDGE_BAND + 1, 2 * EDGE_BAND + 1), np.uint8)) == 0
    if not away.any():
        return None
    # Ink lies further below the surround than its own grain does (a desk's wood or fabric).
    outside = small[away].astype(np.float32)
    grain = GRAIN_SIGMAS * 1.4826 * float(np.median(np.abs(outside - np.median(outside))))
    if (outside < surround - max(SURROUND_CONTRAST, grain)).mean() > OUTSIDE_INK:
        return None
    # Nothing on a page is much brighter than its paper (a bold digit's ink, taken for paper
    # in the middle of a tight crop, holds the paper inside its loops).
    if (small[inside] >= paper + SURROUND_CONTRAST).mean() > BRIGHTER_THAN_PAPER:
        return None
    edge = hull[:, 0, :].astype(np.float32)
    if not _edge_is_a_step(small, edge, page, surround, cut if local else None):
        return None
    return page


def _four_sided(hull: np.ndarray) -> bool:
    """Whether a hull is a sheet's: four-sided, even turned or in perspective (a bold digit's
    hull is no box). It fills most of its smallest enclosing rectangle, or, a sheet seen
    from a side whose far edge is shorter (a trapezoid fills (1 + far / near) / 2 of its
    rectangle), four corners trace it."""
    (_, _), (box_w, box_h), _ = cv2.minAreaRect(hull)
    if cv2.contourArea(hull) >= PAGE_BOXY * box_w * box_h:
        return True
    return len(cv2.approxPolyDP(hull, QUAD_FIT * cv2.arcLength(hull, True), True)) == 4


def _edge_is_a_step(
    small: np.ndarray, hull: np.ndarray, page: Page, surround: float, cut: float | None = None
) -> bool:
    """Whether the page's edge (its hull's sides that do not lie along the image's border) is
    a step along most of its length: paper just inside, surround just outside and still
    further out. Paper lit unevenly splits into a brighter and a darker part too, but with a
    gentle slope between; a rule is a step, but thin, with paper beyond it; strokes of
    writing cross a fold's or a shadow's edge (INK_CROSSINGS), never a page's. With `cut` (the
    page looked for nearer the surround's level), the step is judged against the paper's
    level just inside the edge, not the page's."""
    h, w = small.shape
    centre = hull.mean(axis=0)
    starts, ends = hull, np.roll(hull, -1, axis=0)
    samples = []
    for a, b in zip(starts, ends, strict=True):
        length = float(np.hypot(*(b - a)))
        on_border = (a[0] == b[0] and a[0] in (0, w - 1)) or (a[1] == b[1] and a[1] in (0, h - 1))
        if length < 1 or on_border:
            continue
        normal = np.float32([b[1] - a[1], a[0] - b[0]]) / length
        if np.dot(normal, (a + b) / 2 - centre) < 0:
            normal = -normal  # outwards
        t = np.linspace(0, 1, max(2, int(length // 2)), dtype=np.float32)[:, None]
        samples.append((a + t * (b - a), normal))
    if not samples:
        return False
    points = np.concatenate([p for p, _ in samples])
    normals = np.concatenate([np.repeat(n[None], len(p), axis=0) for p, n in samples])

    def at(offset: float) -> np.ndarray:
        xy = points + offset * normals
        x = np.clip(np.round(xy[:, 0]).astype(int), 0, w - 1)
        y = np.clip(np.round(xy[:, 1]).astype(int), 0, h - 1)
        return small[y, x].astype(np.float32)

    sign = 1.0 if page.darker_surround else -1.0
    inner = at(-EDGE_BAND)
    if cut is None:
        need = max(SURROUND_CONTRAST, SHARP_EDGE * abs(page.paper - surround))
        # No ink inside: where the hull runs along ink (a bold digit's outline), ink and
        # paper beside it make a step as sharp as any page's edge.
        paper = inner >= page.paper - max(SURROUND_CONTRAST, abs(page.paper - page.cut))
    else:
        # Light falling off towards the page's edge: the step holds most of what lies
        # between the paper there and the surround, and the paper there is past `cut`.
        need = np.maximum(SURROUND_CONTRAST, SHARP_EDGE * sign * (inner - surround))
        paper = sign * (inner - cut) > 0
    outer = at(EDGE_BAND)
    crossing = (inner <= page.paper - SURROUND_CONTRAST) & (outer <= surround - SURROUND_CONTRAST)
    if np.count_nonzero(crossing) >= INK_CROSSINGS:
        return False
    step = sign * (inner - outer) >= need
    beyond = sign * (inner - at(3 * EDGE_BAND)) >= need
    return float((paper & step & beyond).mean()) >= EDGE_STEP_SHARE


def _paper_level(small: np.ndarray, page: Page) -> np.ndarray:
    """The paper's level near each point of the small image (float32): a local average of
    the page's paper (its blurred edge and ink left out), carried out from the page's edge to
    what lies outside it, so a page darker at its edges (light falling off towards the
    corners) meets a surround painted as dark: a wide average, painted there, left the dark
    corners darker than everything around them, and they read as ink (200 rows sheets
    photographed on a white table with 20% vignetting: 55 -> 149 read right)."""
    paper = cv2.erode((page.paper_pixels(small) & (page.hull > 0)).view(np.uint8), None)
    weight = paper.astype(np.float32)
    k = max(3, (min(small.shape) // LEVEL_SPAN) | 1)
    total = cv2.blur(weight, (k, k))
    known = total >= KNOWN_SHARE
    if not known.any():
        return np.full(small.shape, page.paper, np.float32)
    level = cv2.blur(small.astype(np.float32) * weight, (k, k)) / np.maximum(total, 1e-6)
    # Each unknown point takes the level of the nearest known one (labels: each point's
    # nearest zero pixel of the input, here a known point).
    _dist, nearest = cv2.distanceTransformWithLabels(
        (~known).view(np.uint8), cv2.DIST_L2, 3, labelType=cv2.DIST_LABEL_PIXEL
    )
    by_label = np.zeros(int(nearest.max()) + 1, np.float32)
    by_label[nearest[known]] = level[known]
    return cv2.blur(np.where(known, level, by_label[nearest]), (k, k))


def paper_only(gray: np.ndarray) -> np.ndarray:
    """`gray` with the surround of a photographed page painted with the paper's level nearby;
    the image itself where it shows no page framed by a surround."""
    h, w = gray.shape
    # Shrunk to about LOOK_SIDE along its longer side, but a line's height kept to look at.
    factor = max(1, min(math.ceil(max(h, w) / LOOK_SIDE), min(h, w) // MIN_LOOK_SIDE))
    small = shrink(gray, factor)  # block averaging: resampling a photo costs ~40 ms
    if min(small.shape) < MIN_PAGE_SIDE:
        return gray
    if _light_on_dark(small):
        # Light writing on dark paper (MNIST's own digits, a blackboard): looked for as dark
        # on light, the strokes were the "paper" and the dark paper around them a surround.
        dark_on_light = 255 - gray
        painted = _painted(dark_on_light, 255 - small, factor)
        return gray if painted is dark_on_light else 255 - painted
    return _painted(gray, small, factor)


def _light_on_dark(small: np.ndarray) -> bool:
    """Whether a (small) image is light writing on dark paper, in the whole image and in its
    middle half, where a page would lie (a light page on a dark desk is dark only around it).
    Dark paper shows at the border: on a light border, no need to look further."""
    if float(border_ring(small).mean()) >= 128.0 or dark_ink(small) is small:
        return False
    sh, sw = small.shape
    middle = small[sh // 4 : sh - sh // 4, sw // 4 : sw - sw // 4]
    return dark_ink(middle) is not middle


def _painted(gray: np.ndarray, small: np.ndarray, factor: int) -> np.ndarray:
    """paper_only of dark writing on light paper, `small` being `gray` shrunk `factor` times."""
    h, w = gray.shape
    page = find_page(small)
    if page is None:
        return gray
    level = _paper_level(small, page)
    inside = cv2.resize(page.hull, (w, h), interpolation=cv2.INTER_NEAREST)
    if factor > 1:
        # A pixel of the small image spans `factor` pixels: within that of the edge, the
        # page is what is at the paper's side at full size.
        r = math.ceil(1.5 * factor)
        near = np.ones((2 * r + 1, 2 * r + 1), np.uint8)
        inside = cv2.erode(inside, near) | (cv2.dilate(inside, near) & page.side(gray))
    # The edge's own blurred pixels go with the surround, also where the page runs out of the
    # frame (its edge then lies along the image's border).
    fringe = np.ones((2 * EDGE_FRINGE + 1, 2 * EDGE_FRINGE + 1), np.uint8)
    inside = cv2.erode(inside, fringe, borderType=cv2.BORDER_CONSTANT, borderValue=0)
    fill = cv2.resize(np.clip(level, 0, 255).astype(np.uint8), (w, h))
    out = gray.copy()
    cv2.copyTo(fill, (inside == 0).view(np.uint8), out)
    return out
