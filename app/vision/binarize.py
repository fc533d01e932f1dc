"""Grayscale page -> ink strength and ink mask: polarity, illumination, Otsu."""

import math
from dataclasses import dataclass

import cv2
import numpy as np

from app.vision.grid import remove_grid

# Background variation (grey levels) above which illumination counts as uneven (phone photos).
UNEVEN_LIGHT = 28.0
# ... or above this share of the ink's contrast with the paper: on kraft paper in red ink
# (ink 60 levels below the paper) a shade of 26 levels was no even light, and the shaded
# corner came out as one page-sized blob of ink.
SHADE_OF_CONTRAST = 0.3
# The paper's level is looked at this many pixels across (longer side), or, keeping the
# light's edges, twice as many.
LOOK = 96.0
SHARP_LOOK = 192.0
# The light's edges are kept (a closing) with a kernel of at least this many pixels of the
# small image: a smaller one is no wider than a stroke there, and the closing would bring
# back into the paper's level the strokes the max filter only thinned.
CLOSING_KERNEL = 7
# ... and, where the light is divided out keeping its edges, of this many times the pen's
# width (`stroke_width`) where that is smaller: wider than any stroke, narrow enough to
# follow a vignette's steep fall and a shadow's narrow reach (a kernel of a sixth of the
# page read the dark rim of a vignetted page, and the tip of a shadow, as ink; 4 and 3
# measured: 3 followed both closer but lost more creased pages).
STROKE_KERNEL = 4.0
# Fewer dark runs than this tell no pen width.
MIN_STROKE_RUNS = 50
# Neighbouring pixels of the light's low-resolution level at least this many grey levels and
# this share of the brighter apart lie on an edge of it: a shadow's (30-60% darker), not a
# vignette's fall (a few levels) nor a fold's step (10-20%: taken as an edge, two creased
# pages of the tests lost their crease's removal).
LIGHT_EDGE = 24
SHADOW_SHARE = 0.25
# Where neither side of Otsu's split holds this much more than half of the image, the median
# does not tell the paper; the image's border does where at least this much more than half of
# it lies on one side.
EVEN_SPLIT = 0.1
CLEAR_BORDER = 0.25
# Where the darker side of the split holds the median but is lit unevenly, the lighter is
# still the paper if it lies along at least this share of the image's border (writing, light
# on dark, does not), in an image at least LIT_SIDE pixels on its shorter side (in a tight
# crop of light writing, thick strokes leave the dark paper's level uneven and cross edges).
LIT_BORDER = 0.25
LIT_SIDE = 128
# Paper and ink medians closer than this are not two classes: the image holds no ink.
MIN_CONTRAST = 24.0
# Where Otsu's split finds no ink, ink lies this many times the paper's spread (its median
# less its lower quartile: 0.67 sigma of Gaussian noise, so 7 is 4.7 sigma) below the paper's
# level, and counts where it is at least this many pixels.
PAPER_NOISE = 7
MIN_INK_PIXELS = 20
MIN_MARK_AREA = 12
# Glare (a lamp's or the sky's reflection) washes ink out towards white: where the paper, at
# least WASH_WHITE and WASH_BRIGHTER levels above the page's median paper, holds ink of less
# than WASHED of the page's typical contrast (its 90th percentile), but at least WASH_FLOOR
# levels (below that: the paper's noise), the ink's contrast is brought back to the typical,
# by up to MAX_WASH_GAIN times. (WASH_WHITE 245 missed glare on photographed paper of 200-215,
# whose glare peaks at 235-245: robustness rows sheets under glare 65.5 -> 77.5% at 230.)
WASH_WHITE = 230.0
WASH_BRIGHTER = 10.0
WASHED = 0.5
WASH_FLOOR = 16.0
MAX_WASH_GAIN = 6.0
# The paper's level at the pen's scale: a closing STROKE_CLOSING pen widths across. Washed ink
# is stretched from it (from the light's low-resolution level, the glare's steep rim was
# stretched as well and read as digits; 2.5 and 4 pen widths measured alike).
STROKE_CLOSING = 3.0
# On digit pages, a shade: paper SHADE_BAND levels or more darker than the page's, over more
# than SHADE_CLOSING pen widths both ways (a band too narrow for the light's level) and
# SHADE_LENGTH pen widths long one way (a smudge inside a digit is no shadow), and not within
# SHADE_CLOSING pen widths of a level within SHADE_ABOVE_INK of the ink's (a bold digit's
# filled loop is ink, and the closing rounds it off in levels between), is lifted to the
# paper's level. The ink's level: the page's darkest INK_SHARE.
SHADE_CLOSING = 2.0
SHADE_BAND = 24
SHADE_ABOVE_INK = 0.15
SHADE_LENGTH = 6.0
INK_SHARE = 0.01
# The pen's width is measured on the ink's dark cores: within PEN_CORE of the page's contrast
# above the ink's level.
PEN_CORE = 0.5


@dataclass(frozen=True)
class InkMap:
    """mask: H x W uint8 (1 = ink); strength: H x W float32 in [0, 1], 1 = full ink."""

    mask: np.ndarray
    strength: np.ndarray


def level_of_hist(hist: np.ndarray, share: float) -> int:
    """The grey level below which `share` of a 256-bin histogram lies (much cheaper than
    np.percentile)."""
    cum = np.cumsum(hist)
    return int(np.searchsorted(cum, share * cum[-1]))


def _median_of_hist(hist: np.ndarray) -> int:
    return level_of_hist(hist, 0.5)


def grey_hist(gray: np.ndarray) -> np.ndarray:
    return cv2.calcHist([gray], [0], None, [256], [0, 256]).ravel()


def _otsu_of_hist(hist: np.ndarray) -> int:
    """Otsu's threshold from a 256-bin histogram: the level that best splits it in two."""
    p = hist / max(float(hist.sum()), 1.0)
    omega = np.cumsum(p)
    mu = np.cumsum(p * np.arange(256))
    spread = omega * (1.0 - omega)
    between = np.zeros(256)  # 0 where one side is empty
    np.divide((mu[-1] * omega - mu) ** 2, spread, out=between, where=spread != 0)
    return int(np.argmax(between))


def dark_ink(gray: np.ndarray, hist: np.ndarray | None = None) -> np.ndarray:
    """Return the image with ink darker than paper (inverts light-on-dark images)."""
    # Paper dominates a handwriting image: the half of Otsu's split that holds the median grey
    # level is the paper. (A fixed mid-grey turned a photo's paper darkened by vignetting or
    # a dim room into ink.)
    hist = grey_hist(gray) if hist is None else hist
    median, split = _median_of_hist(hist), _otsu_of_hist(hist)
    if not hist[: split + 1].any() or not hist[split + 1 :].any():
        split = 127  # one grey level: no split; mid-grey decides
    elif ink_and_paper(hist, split) is None:
        # Otsu split the paper's own noise (writing a tiny share of a large page): the
        # writing is the side with more pixels far from the paper's level.
        reach = int(MIN_CONTRAST)
        far_dark = hist[: median - reach + 1].sum() if median >= reach else 0.0
        far_light = hist[median + reach :].sum() if median + reach <= 255 else 0.0
        return 255 - gray if far_light > far_dark else gray
    dark_paper = median <= split
    dark_share = float(hist[: split + 1].sum()) / max(float(hist.sum()), 1.0)
    split_evenly = abs(dark_share - 0.5) < EVEN_SPLIT and min(gray.shape) >= 3
    if not (dark_paper or split_evenly):
        return gray
    # The light over what the median calls the paper.
    bg = _paper_background(255 - gray if dark_paper else gray)
    even = bg is None or float(bg.max()) - float(bg.min()) <= UNEVEN_LIGHT
    lit_border = float((border_ring(gray) > split).mean())
    if split_evenly and even and abs(lit_border - 0.5) >= CLEAR_BORDER:
        # Ink about as much as paper (a digit cropped to its strokes, no margin): where the
        # light is even, the side most of the image's border lies on is the paper (strokes
        # touch a tight crop's edges here and there; a vignetted photo's dark edges are no
        # paper, and its light is uneven).
        dark_paper = lit_border < 0.5
    elif dark_paper and not even and lit_border >= LIT_BORDER and min(gray.shape) >= LIT_SIDE:
        # The darker side holds the median, but the lighter lies along much of the image's
        # edge and the "paper" is lit unevenly: a shadow over most of the page, the lit
        # paper beyond it. (Light writing on dark paper touches the edges only here and
        # there, its paper evenly dark.)
        dark_paper = False
    return 255 - gray if dark_paper else gray


def border_ring(a: np.ndarray) -> np.ndarray:
    """The image's outermost pixels, once each."""
    return np.concatenate([a[0], a[-1], a[1:-1, 0], a[1:-1, -1]])


def _paper_background(
    gray: np.ndarray,
    closing: bool = False,
    side: float = LOOK,
    blur: bool = True,
    stroke: float | None = None,
) -> np.ndarray | None:
    """The paper's brightness at low resolution (about `side` pixels across; lighting varies
    slowly): a max filter, which erases ink strokes narrower than its kernel, then a blur;
    None for a tiny image. With `closing`, a min filter follows the max filter where the
    kernel is CLOSING_KERNEL or more: an edge between brighter and darker light (a shadow's,
    a surround nearly the paper's colour) stays where it is instead of the brighter side
    spreading across the darker paper, which then passed for ink; without `blur`, it stays
    sharp (the closing's level is flat between edges already). With `stroke` (the pen's
    width in `gray`'s pixels), the kernel is at most STROKE_KERNEL times it."""
    h, w = gray.shape
    if min(h, w) < 16:
        return None
    scale = min(1.0, side / max(h, w))
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    small = cv2.resize(gray, size, interpolation=cv2.INTER_AREA)
    k = max(3, (min(small.shape) // 6) | 1)
    if stroke is not None:
        k = min(k, max(3, math.ceil(STROKE_KERNEL * stroke * scale) | 1))
    kernel = np.ones((k, k), np.uint8)
    level = cv2.dilate(small, kernel)
    if closing and k >= CLOSING_KERNEL:
        level = _erode_on(level, kernel)
        if not blur:
            return level
    return cv2.blur(level, (k, k))


def _erode_on(level: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """A min filter of `level` (the paper's max-filtered level) that carries its slope on past
    the image's edges (odd reflection) instead of repeating the edge: a replicated edge held
    the closing at the level half a kernel in, too bright where the light falls towards the
    edge (a vignette), and the page's rim passed for ink."""
    r = kernel.shape[0] // 2
    lv = level.astype(np.int16)
    mirrored = cv2.copyMakeBorder(lv, r, r, r, r, cv2.BORDER_REFLECT_101)
    edge = cv2.copyMakeBorder(lv, r, r, r, r, cv2.BORDER_REPLICATE)
    carried = np.clip(2 * edge - mirrored, 0, 255).astype(np.uint8)
    return cv2.erode(carried, kernel)[r:-r, r:-r]


def stroke_width(gray: np.ndarray) -> float | None:
    """The pen's width in pixels: the median length of the dark runs (Otsu's split of `gray`,
    dark ink on even light) along rows and columns; None where there are too few runs."""
    _t, mask = cv2.threshold(gray, 0, 1, cv2.THRESH_BINARY_INV | cv2.THRESH_OTSU)
    runs = np.concatenate([_run_lengths(mask), _run_lengths(np.ascontiguousarray(mask.T))])
    return float(np.median(runs)) if runs.size >= MIN_STROKE_RUNS else None


def page_levels(hist: np.ndarray) -> tuple[int, int]:
    """(ink, paper) levels of a page of dark ink: its darkest INK_SHARE (a shade can outweigh
    the ink on the dark side of Otsu's split) and its median."""
    return level_of_hist(hist, INK_SHARE), level_of_hist(hist, 0.5)


def pen_width(gray: np.ndarray, levels: tuple[int, int] | None = None) -> float | None:
    """The pen's width in pixels, as most of the ink sees it: twice the 90th percentile of
    the distance to the paper over the ink's dark cores (within PEN_CORE of the page's
    contrast above the ink's level: a shade's band is paper, only darker, and stays out;
    `levels`: `page_levels`, where known); None where there is too little ink. The median
    run (`stroke_width`) is a count of runs, which a dotted paper's dots or a photo's specks
    outnumber, 1 px each; by the ink's own pixels, strokes outweigh them."""
    ink, paper = page_levels(grey_hist(gray)) if levels is None else levels
    mask = (gray <= ink + PEN_CORE * (paper - ink)).view(np.uint8)
    if paper - ink < MIN_CONTRAST or cv2.countNonZero(mask) < MIN_STROKE_RUNS:
        return None
    inside = cv2.distanceTransform(mask, cv2.DIST_L2, 3)[mask > 0]
    k = int(0.9 * (inside.size - 1))
    return 2.0 * float(np.partition(inside, k)[k])  # the 90th percentile, in linear time


def _run_lengths(mask: np.ndarray) -> np.ndarray:
    """Lengths of the runs of 1s along the rows of an H x W 0/1 uint8 mask."""
    steps = np.diff(np.pad(mask, ((0, 0), (1, 1))).astype(np.int8), axis=1)
    return np.flatnonzero(steps == -1) - np.flatnonzero(steps == 1)


def flatten_illumination(
    gray: np.ndarray,
    hist: np.ndarray | None = None,
    sharp_light: bool = False,
    sharp_side: float = SHARP_LOOK,
) -> np.ndarray:
    """Divide out uneven lighting (shadows, vignetting); even pages are returned as they are
    (`hist`: `gray`'s histogram, where known: the light's unevenness is also measured
    against the ink's contrast with the paper; `sharp_light`: the light is divided out
    keeping its edges, see `_paper_background`, looked at on a copy up to `sharp_side`
    pixels across where the image is larger than SHARP_LOOK)."""
    # Keeping the light's edges, and where the image is large enough that its strokes are
    # thin beside the kernel (a crop of a few bold digits is not), the light is looked at
    # finer, unblurred, and at the pen's scale.
    large = sharp_light and max(gray.shape) > SHARP_LOOK
    # Unevenness too: a shadow reaching in as a band narrower than a sixth of the page was
    # filled with the paper beside it, and read as a 1.
    bg = _paper_background(gray, stroke=stroke_width(gray) if large else None)
    if bg is None:
        return gray
    lo, hi = cv2.minMaxLoc(bg)[:2]
    if hi - lo <= UNEVEN_LIGHT and (hist is None or not _shade_beside_ink(hist, hi - lo)):
        return gray
    if not sharp_light:
        return _divided(gray, bg)
    side = sharp_side if large else LOOK
    bg = _paper_background(gray, closing=True, side=side, blur=not large)
    assert bg is not None  # as the first look's
    # The pen's width is measured with the light divided out as well as a sixth of the page
    # allows; then the light is divided out again at the pen's scale.
    stroke = stroke_width(_divided(gray, bg)) if large else None
    if stroke is not None:
        fine = _paper_background(gray, closing=True, side=side, blur=False, stroke=stroke)
        assert fine is not None
        bg = _darker_at_edges(fine, bg)
    return _divided(gray, bg)


def _darker_at_edges(level: np.ndarray, coarse: np.ndarray) -> np.ndarray:
    """The light's low-resolution level with each pixel on an edge of the light (neighbours
    LIGHT_EDGE and SHADOW_SHARE apart in `coarse`, the same level at a sixth of the page's
    kernel, which no stroke survives) taken as its darkest neighbour's: enlarged, the level
    places an edge only to a pixel of the copy, and where the brighter side's level fell on
    the darker paper, a sliver of it along a shadow's slanted edge, and the corner where it
    met the page's edge, passed for ink. On the brighter side instead, the paper comes out a
    little whiter, which is harmless. (Edges looked for in `level` itself were mostly what is
    left there of thick strokes, and lowering the level there thinned them.)"""
    kernel = np.ones((3, 3), np.uint8)
    brightest = cv2.dilate(coarse, kernel).astype(np.int16)
    fall = brightest - cv2.erode(coarse, kernel)
    edge = (fall > LIGHT_EDGE) & (fall > SHADOW_SHARE * brightest)
    darkest = cv2.erode(level, kernel, borderType=cv2.BORDER_REPLICATE)
    return np.where(edge, darkest, level)


def _divided(gray: np.ndarray, bg: np.ndarray) -> np.ndarray:
    """`gray` divided by the paper's level `bg` (any size), paper brought to 255."""
    bg = cv2.resize(bg, gray.shape[::-1], interpolation=cv2.INTER_LINEAR)
    return cv2.divide(gray, bg, scale=255.0)


def _shade_beside_ink(hist: np.ndarray, shade: float) -> bool:
    """Whether a shade of the paper (grey levels) is more than SHADE_OF_CONTRAST of the ink's
    contrast with it (Otsu's split of `hist`); a split finds contrast of MIN_CONTRAST at
    least, so a fainter shade is none (an even page costs no split)."""
    if shade <= SHADE_OF_CONTRAST * MIN_CONTRAST:
        return False
    levels = ink_and_paper(hist, _otsu_of_hist(hist))
    return levels is not None and shade > SHADE_OF_CONTRAST * (levels[1] - levels[0])


def _lift_shade(gray: np.ndarray) -> np.ndarray:
    """Even out gently uneven light by adding back what the paper lacks of its brightest:
    unlike dividing, this keeps contrasts as they are (dividing a dark, noisy page by its
    level stretches its noise into ink)."""
    bg = _paper_background(gray)
    if bg is None:
        return gray
    lack = cv2.subtract(np.full_like(bg, int(bg.max())), bg)
    return cv2.add(gray, cv2.resize(lack, gray.shape[::-1], interpolation=cv2.INTER_LINEAR))


def _small_levels(gray: np.ndarray) -> tuple[np.ndarray, np.ndarray, int] | None:
    """The paper's level (`_paper_background`'s max filter) and the darkest ink near each
    point, at about LOOK pixels across, and the filter's kernel; None for a tiny image."""
    h, w = gray.shape
    if min(h, w) < 16:
        return None
    step = max(1, int(np.ceil(max(h, w) / LOOK)))
    hs, ws = h // step, w // step
    if min(hs, ws) < 4:
        return None
    # Minimum over step x step blocks: an average (INTER_AREA) would fade strokes away.
    blocks = gray[: hs * step, : ws * step].reshape(hs, step, ws, step)
    darkest, small = blocks.min(axis=(1, 3)), blocks.max(axis=(1, 3))
    k = max(3, (min(hs, ws) // 6) | 1)
    kernel = np.ones((k, k), np.uint8)
    return cv2.dilate(small, kernel), cv2.erode(darkest, kernel), k


def _stroke_paper(
    flat: np.ndarray, stroke: float | None, pens: float = STROKE_CLOSING
) -> np.ndarray | None:
    """The paper's level at the pen's scale (`stroke`: its width, where known): a closing
    `pens` pen widths across (a square: as good as a disc here, and ten times cheaper)."""
    if stroke is None:
        return None
    k = max(3, math.ceil(pens * stroke) | 1)
    return cv2.morphologyEx(flat, cv2.MORPH_CLOSE, np.ones((k, k), np.uint8))


def _without_shade_bands(
    flat: np.ndarray, stroke: float | None, levels: tuple[int, int] | None = None
) -> np.ndarray:
    """`flat` with paper darker than its surround over more than a few strokes' width (a
    shadow's band too narrow for the light's low-resolution level) lifted to the paper's
    level (`stroke`: the pen's width, where known; `levels`: `page_levels`, where known);
    `flat` itself where there is none."""
    level = _stroke_paper(flat, stroke, SHADE_CLOSING)
    if level is None:
        return flat
    darkest = int(level.min())
    if 255 - darkest < SHADE_BAND:  # no shade even below white: a clean scan stops here
        return flat
    ink, paper = page_levels(grey_hist(flat)) if levels is None else levels
    if paper - darkest < SHADE_BAND:
        return flat
    # A blob of ink (a filled loop) is as dark as the ink, and so is the level beside it
    # (the closing's square rounds it off in levels between); a shade is paper, only darker.
    inky = ink + SHADE_ABOVE_INK * (paper - ink)
    if not cv2.countNonZero(cv2.inRange(level, math.floor(inky) + 1, paper - SHADE_BAND)):
        return flat  # nothing but ink that dark (a bold digit): the usual clean page stops here
    k = max(3, math.ceil(SHADE_CLOSING * (stroke or 1.0)) | 1)
    square = np.ones((k, k), np.uint8)
    near_ink = cv2.dilate((level <= inky).view(np.uint8), square)
    shade = (level <= paper - SHADE_BAND / 2) & (near_ink == 0)
    # Only where it is wide both ways: a stroke's soft edge, where the pen's width was taken
    # too small (a page of specks or dots), is no shade.
    shade = cv2.morphologyEx(shade.view(np.uint8), cv2.MORPH_OPEN, square)
    if not shade.any():
        return flat
    # ... and long: a shadow reaches across much of the page, a smudge inside a digit is small.
    n, labels, stats, _ = cv2.connectedComponentsWithStats(shade, connectivity=8)
    sides = stats[1:, [cv2.CC_STAT_WIDTH, cv2.CC_STAT_HEIGHT]].max(axis=1)
    long = np.flatnonzero(sides >= SHADE_LENGTH * (stroke or 1.0)) + 1
    if long.size == 0:
        return flat
    shade = np.isin(labels, long) if long.size < n - 1 else shade.view(bool)
    gain = np.ones(flat.shape, np.float32)
    gain[shade] = paper / level[shade].astype(np.float32)
    return np.clip(flat * gain, 0, 255).astype(np.uint8)


def _long_faint_lines(flat: np.ndarray) -> np.ndarray:
    """H x W bool: pixels within a few of straight dark lines across much of the page (a
    fold's crease: stretched as washed ink, it grew too wide to be told from a stroke)."""
    dark = (flat < 255 - 2 * WASH_FLOOR).view(np.uint8)
    length = 0.25 * max(flat.shape)
    # In the whole mask: the strokes a line crosses are on it too.
    found = cv2.HoughLinesP(dark, 1, np.pi / 360, round(0.5 * length), None, length, 3)
    band = np.zeros(flat.shape, np.uint8)
    for x0, y0, x1, y1 in () if found is None else found.reshape(-1, 4):
        cv2.line(band, (int(x0), int(y0)), (int(x1), int(y1)), 1, thickness=11)
    return band > 0


def restore_washed_ink(
    raw: np.ndarray,
    flat: np.ndarray,
    hist: np.ndarray | None = None,
    stroke: float | None = None,
) -> np.ndarray:
    """`flat` (the page, light divided out) with ink washed out by glare brought back to the
    page's typical contrast (WASHED and the rest): glare is told by `raw`'s paper (the page
    as photographed; `hist`: its histogram, where known), the ink's contrast by `flat`'s,
    where a vignette's or a shadow's gradient is gone. `flat` itself where there is none.
    `stroke`: the pen's width in `flat`, where already measured."""
    hist = grey_hist(raw) if hist is None else hist
    brightest = int(np.flatnonzero(hist)[-1]) if hist.any() else 0
    if brightest < WASH_WHITE or brightest < level_of_hist(hist, 0.5) + WASH_BRIGHTER:
        return flat  # nothing brighter than most of the page: a clean scan stops here
    raw_levels = _small_levels(raw)
    if raw_levels is None:
        return flat
    bright = raw_levels[0]
    top, median = float(bright.max()), float(np.median(bright))
    if top < WASH_WHITE or top < median + WASH_BRIGHTER:
        return flat  # no paper brighter than the rest: no glare (a clean scan stops here)
    # Contrast of the ink, not of the paper's grain: a 5 x 5 mean first (a photo's noise of
    # sigma 4 spans 24 levels over a block; a stroke keeps its contrast).
    levels = _small_levels(cv2.blur(flat, (5, 5)))
    assert levels is not None  # the same shape as `raw`
    paper, darkest, k = levels
    contrast = paper.astype(np.float32) - darkest.astype(np.float32)
    typical = float(np.percentile(contrast, 90))
    strong = (contrast >= WASHED * typical).view(np.uint8)
    washed = (
        (contrast >= WASH_FLOOR)
        & (bright >= max(WASH_WHITE, median + WASH_BRIGHTER))
        # Not beside full-contrast ink: a stroke's faint edge is no washed ink.
        & (cv2.dilate(strong, np.ones((3, 3), np.uint8)) == 0)
    )
    if not washed.any():
        return flat
    gain = np.ones(contrast.shape, np.float32)
    gain[washed] = np.minimum(typical / contrast[washed], MAX_WASH_GAIN)
    size = flat.shape[::-1]
    gain = cv2.resize(cv2.blur(gain, (k, k)), size, interpolation=cv2.INTER_LINEAR)
    gain[_long_faint_lines(flat)] = 1.0
    level = _stroke_paper(flat, stroke_width(flat) if stroke is None else stroke)
    if level is None:
        level = cv2.resize(cv2.blur(paper, (k, k)), size, interpolation=cv2.INTER_LINEAR)
    out = level.astype(np.float32) - (level.astype(np.float32) - flat) * gain
    return np.clip(out, 0, 255).astype(np.uint8)


def ink_map(
    gray: np.ndarray,
    faint: float | None = None,
    grid: bool = False,
    sharp_light: bool = False,
    dark_only: bool = False,
    sharp_side: float = SHARP_LOOK,
    shade_bands: bool = False,
) -> InkMap:
    """Binarise a grayscale image of any polarity and lighting into an ink mask and strength.
    With `faint`, ink at least that strong joins the mask where it touches the mask's ink
    (hysteresis: `grow_faint_ink`); with `grid`, a squared paper's grid is painted out first
    (`remove_grid`); with `sharp_light`, uneven light is flattened keeping its edges
    (`_paper_background`) and ink washed out by glare is brought back (`restore_washed_ink`),
    and with `shade_bands` too a shadow's band narrower than the light's level sees
    (`_without_shade_bands`);
    with `dark_only`, the ink is taken to be darker than the paper (no `dark_ink`);
    `sharp_side`: see `flatten_illumination`."""
    hist = grey_hist(gray)
    dark = gray if dark_only else dark_ink(gray, hist)
    if dark is not gray:
        hist = hist[::-1]
    flat = flatten_illumination(dark, hist, sharp_light, sharp_side)
    grid_left = grid  # whether `flat` still holds a grid that binarising should paint out
    even = flat is dark
    if sharp_light:
        stroke = None
        levels = None
        if shade_bands:
            if grid:
                # The grid out first: its 1-px lines would pass for the pen.
                flat, grid_left = remove_grid(flat), False
            levels = page_levels(hist if flat is dark else grey_hist(flat))
            # The pen's width: measured once, where both steps below need it.
            stroke = pen_width(cv2.medianBlur(flat, 3), levels)
        lit = restore_washed_ink(dark, flat, hist, stroke)
        if shade_bands and lit is flat:
            # Not under glare: ink brought back from it is paler than the page's darkest,
            # and a bold digit's filled loop there passed for a shade.
            lit = _without_shade_bands(lit, stroke, levels)
        even = even and lit is flat
        flat = lit
    ink = _binarise(flat, hist if flat is dark else None, faint, grid_left)
    if ink is None and even:
        # Faint writing on paper lit a little unevenly (less than UNEVEN_LIGHT): Otsu's split
        # may fall between the brighter and the darker paper, too close to tell apart as ink
        # and paper. With the shade lifted, the split is the ink's.
        ink = _binarise(_lift_shade(dark), None, faint, grid)
    if ink is None:
        # Writing that is a tiny share of a large, slightly noisy page: Otsu's split falls
        # inside the paper's own noise, which outweighs it (one row of 28 px digits on a 4 MP
        # page with noise of sigma 3 read as nothing).
        ink = _binarise(flat, None, faint, grid_left, minority=True)
    return _blank(gray.shape) if ink is None else ink


def _binarise(
    gray: np.ndarray,
    hist: np.ndarray | None,
    faint: float | None,
    grid: bool,
    minority: bool = False,
) -> InkMap | None:
    """`ink_map` of an image with dark ink and even light (`hist`: its histogram, where known);
    None where it holds no ink. `minority`: ink is split off PAPER_NOISE times the paper's
    spread below its level instead of by Otsu, and marks of a few pixels are noise."""
    if grid:
        gridless = remove_grid(gray)
        hist = hist if gridless is gray else None
        gray = gridless
    if hist is None:
        hist = grey_hist(gray)
    if minority:
        t = _below_paper_noise(hist)
        levels = None if t is None else ink_and_paper(hist, t)
        if t is None or levels is None:
            return None
        mask = _without_noise((gray <= t).view(np.uint8))
        if not mask.any():
            return None
    else:
        thr, mask = cv2.threshold(gray, 0, 1, cv2.THRESH_BINARY_INV | cv2.THRESH_OTSU)
        levels = ink_and_paper(hist, int(thr))
        if levels is None:
            return None
    strength = strength_of(gray, *levels)
    if faint is not None:
        mask = grow_faint_ink(mask, strength, faint)
    return InkMap(mask=mask, strength=strength)


def strength_of(gray: np.ndarray, ink_level: int, paper_level: int) -> np.ndarray:
    """Ink strength (H x W float32) of dark ink: 0 at the paper's level, 1 at the ink's, the
    anti-aliased fringe in between (by lookup table)."""
    lut = np.clip(
        (paper_level - np.arange(256, dtype=np.float32)) / (paper_level - ink_level), 0, 1
    )
    return cv2.LUT(gray, lut)


def ink_and_paper(hist: np.ndarray, t: int) -> tuple[int, int] | None:
    """Median levels of the ink (at most `t`) and the paper (above it); None where either
    side is empty or they lie under MIN_CONTRAST apart (no ink)."""
    # One cumulative sum serves both medians (exact in float64 whatever the image's size).
    cum = np.cumsum(hist, dtype=np.float64)
    ink, total = float(cum[t]), float(cum[-1])
    if ink == 0.0 or total == ink:
        return None
    ink_level, paper_level = np.searchsorted(cum, (0.5 * ink, ink + 0.5 * (total - ink))).tolist()
    return None if paper_level - ink_level < MIN_CONTRAST else (ink_level, paper_level)


def _below_paper_noise(hist: np.ndarray) -> int | None:
    """A split for ink that is a tiny share of the image: PAPER_NOISE times the paper's
    spread below its level (at least MIN_CONTRAST), where at least MIN_INK_PIXELS lie."""
    paper = _median_of_hist(hist)
    spread = max(1, paper - level_of_hist(hist, 0.25))  # 0.67 sigma of Gaussian noise
    t = paper - max(int(MIN_CONTRAST), PAPER_NOISE * spread)
    return t if t >= 0 and hist[: t + 1].sum() >= MIN_INK_PIXELS else None


def _without_noise(mask: np.ndarray) -> np.ndarray:
    """The mask less its marks of under MIN_MARK_AREA pixels: the noise's own tail, beyond
    the split, lies there in ones and twos."""
    _count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    keep = (stats[:, cv2.CC_STAT_AREA] >= MIN_MARK_AREA).astype(np.uint8)
    keep[0] = 0
    return keep[labels]


def grow_faint_ink(mask: np.ndarray, strength: np.ndarray, faint: float) -> np.ndarray:
    """The mask, plus each stretch of ink at least `faint` strong that touches it: a pale or
    blurred stroke that Otsu's threshold breaks into specks stays joined to its digit, while
    faint marks that touch no sure ink (noise, smudges) stay out."""
    grown = np.bitwise_or(mask, (strength >= faint).view(np.uint8))
    count, labels = cv2.connectedComponentsWithAlgorithm(grown, 8, cv2.CV_32S, cv2.CCL_GRANA)
    keep = np.zeros(count, np.uint8)
    keep[labels[mask > 0]] = 1
    if keep[1:].all():  # the usual case: every faint stretch touches sure ink
        return grown
    return keep[labels]  # the background (label 0) holds no mask pixel: it stays 0


def _blank(shape: tuple[int, ...]) -> InkMap:
    return InkMap(mask=np.zeros(shape, np.uint8), strength=np.zeros(shape, np.float32))
