"""Page -> text lines: deskew by projection profile, split into bands of ink rows, crop each.

Everything runs on the ink mask of `app.vision.binarize`, so polarity and uneven light are
handled as for /digits. Boxes are reported in the uploaded image's own coordinates.
"""

import math
from dataclasses import dataclass, replace

import cv2
import numpy as np

from app.lines.preprocess import speck_pixels
from app.vision import folds, scale
from app.vision.binarize import InkMap, ink_map
from app.vision.dots import without_dot_grid
from app.vision.rules import rule_fringe, rule_pixels
from app.vision.turn import bounds_back, box_through, quarter_turns_back, then, turn

# A page of several lines is searched for its skew up to this angle (degrees) either way,
# every SKEW_COARSE_DEG, then every SKEW_STEP_DEG about the sharpest.
MAX_SKEW_DEG = 30.0
SKEW_COARSE_DEG = 2.0
SKEW_STEP_DEG = 0.5
# A page whose lines are tilted so far that no empty row parts them is turned only where its
# skew is at least this.
STEEP_PAGE_DEG = 8.0
# One line's own tilt is undone up to this angle: measuring it costs nothing more as it grows
# (60 held-out mixed lines turned 8-10 / 12-15 / 20-25 degrees: 12.06 / 66.41 / 94.93% CER
# with the limit at 8 degrees, 9.95 / 9.86 / 10.62% at 30).
MAX_LINE_TILT = 30.0
# Rows whose ink covers less than this share of the page's widest row count as blank.
ROW_INK = 0.02
# A band thinner than this share of the typical band is a stroke or dot, not a line of its own.
THIN_BAND = 0.5
# A band taller than this many character heights holds touching lines.
TOUCHING_LINES = 2.2
# Either side of a cut between touching lines holds at least this share of the other's ink.
MIN_LINE_INK = 0.3
MIN_LINE_PX = 4
# ... and one along the page's top or bottom edge shorter than this share of the writing's
# typical height.
EDGE_SLIVER = 0.5
# Ruled lines are looked for down to this ink strength: notebooks print them pale.
RULING_INK = 0.2
# A large page is read shrunk so that its characters' typical part (a letter, a hanzi's
# component) stays at least this tall: the CRNN reads lines 32-48 pixels tall.
READ_HEIGHT = 48
# One line is turned level only where its tilt moves it by at least this share of its own
# height from one end to the other. The CRNN reads a slight tilt as it was trained to, and
# rotating a line blurs it; but it scales each line to 32 px, and a long line's drift
# shrinks its characters.
TILT_DRIFT = 0.5
# A line's tilt counts when its slope is this many standard errors from flat.
TILT_EVIDENCE = 2.0
# A second look divides out the light as /digits does, but looks at it on a copy up to this
# many pixels across (twice /digits' `SHARP_LOOK`): a page of lines is wide, and a shadow's
# edge placed to a pixel of a 192-px copy left a band of ink along it (pages of four mixed
# lines under a sharp shadow: 42.45% CER, 12.50% so; /digits' sheets read worse so: the
# robustness table's shadow 78.0 -> 69.5%).
SECOND_LOOK_SIDE = 384.0


@dataclass(frozen=True)
class LineBox:
    x: int
    y: int
    width: int
    height: int


@dataclass(frozen=True)
class LineCrop:
    """A line's grayscale pixels (deskewed, ink dark) and where it lies in the upload."""

    gray: np.ndarray
    box: LineBox
    offset_x: int  # column of `gray` in the deskewed page
    centre_y: float  # the line's middle row in the deskewed page
    to_upload: np.ndarray  # 2 x 3 affine map from the deskewed page to the upload
    half_height: float = 0.0  # half the line's ink height in the deskewed page
    top: float = 0.0  # the deskewed page's row of `gray`'s first row

    def upload_box(self, left: float, right: float) -> tuple[int, int, int, int]:
        """Columns `left`..`right` of `gray`, across the line's ink height, as the upload's
        (x, y, width, height) that holds them."""
        ax0, ay0, ax1, ay1 = box_through(
            self.to_upload,
            left + self.offset_x,
            self.centre_y - self.half_height,
            right + self.offset_x,
            self.centre_y + self.half_height,
        )
        return ax0, ay0, max(1, ax1 - ax0), max(1, ay1 - ay0)

    def flipped(self) -> "LineCrop":
        """This crop turned half a turn, in place: the same pixels of the upload, read the
        other way up."""
        h, w = self.gray.shape
        # Points of the turned crop's page -> the page's: a half turn about the crop's middle.
        half_turn = np.array(
            [[-1.0, 0.0, 2.0 * self.offset_x + w], [0.0, -1.0, 2.0 * self.top + h]]
        )
        return replace(
            self,
            gray=np.ascontiguousarray(self.gray[::-1, ::-1]),
            centre_y=2.0 * self.top + h - self.centre_y,
            to_upload=then(half_turn, self.to_upload),
        )

    def turned_back(self, k: int, shape: tuple[int, ...]) -> "LineCrop":
        """This crop of np.rot90(page, k), placed in the page (`shape`) itself."""
        back = quarter_turns_back(k, shape)
        b = self.box
        box = LineBox(*bounds_back(back, b.x, b.y, b.x + b.width, b.y + b.height, shape))
        return replace(self, box=box, to_upload=then(self.to_upload, back))


def estimate_skew(mask: np.ndarray) -> float:
    """Angle (degrees, counter-clockwise) that makes the rows of ink horizontal.

    The projection profile of well-aligned text has the sharpest peaks; this is measured on a
    small copy, where a rotation costs less than a millisecond: every SKEW_COARSE_DEG first,
    then every SKEW_STEP_DEG around the sharpest.
    """
    h, w = mask.shape
    scale = min(1.0, 400.0 / max(h, w))
    small = cv2.resize(
        mask.astype(np.float32), (max(1, round(w * scale)), max(1, round(h * scale)))
    )
    if small.sum() < 4:
        return 0.0
    sh, sw = small.shape
    centre = (sw / 2.0, sh / 2.0)

    def sharpness(angle: float) -> float:
        rot = cv2.getRotationMatrix2D(centre, angle, 1.0)
        profile = cv2.warpAffine(small, rot, (sw, sh)).sum(axis=1)
        # Prefer no rotation unless another angle is clearly sharper.
        return float(np.square(np.diff(profile)).sum()) * (1.02 if angle == 0 else 1.0)

    coarse = np.arange(-MAX_SKEW_DEG, MAX_SKEW_DEG + 1e-6, SKEW_COARSE_DEG)
    near = max(coarse, key=lambda a: sharpness(float(a)))
    fine = np.arange(near - SKEW_COARSE_DEG, near + SKEW_COARSE_DEG + 1e-6, SKEW_STEP_DEG)
    return float(
        max((a for a in fine if abs(a) <= MAX_SKEW_DEG), key=lambda a: sharpness(float(a)))
    )


def line_tilt(mask: np.ndarray) -> float:
    """Angle (degrees, as estimate_skew) of the line through the ink's components, for a page
    that holds one line.

    On one short line the sharpest projection profile is no guide: it is as sharp when the
    rotation lines up the tops of a few tall characters, and half the Chinese lines of the
    held-out sets came out rotated by a wrong angle. The components' centres, weighted by
    area, follow the line itself.
    """
    _, _, stats, centres = cv2.connectedComponentsWithStats(mask, connectivity=8)
    area = stats[1:, cv2.CC_STAT_AREA].astype(np.float64)
    keep = area >= 12
    if keep.sum() < 3:
        return 0.0
    x, y, weight = centres[1:, 0][keep], centres[1:, 1][keep], area[keep]
    mx, my = np.average(x, weights=weight), np.average(y, weights=weight)
    var = float(np.average((x - mx) ** 2, weights=weight))
    if var <= 0:
        return 0.0
    slope = float(np.average((x - mx) * (y - my), weights=weight)) / var
    # Few components scattered up and down (a short word, two tall characters) say little:
    # the slope counts only when it stands out from its own standard error.
    residual = float(np.average((y - my - slope * (x - mx)) ** 2, weights=weight))
    n_eff = weight.sum() ** 2 / np.square(weight).sum()
    if abs(slope) < TILT_EVIDENCE * np.sqrt(residual / (n_eff * var)):
        return 0.0
    return float(np.degrees(np.arctan(slope)))


def _bands(mask: np.ndarray, char_h: float | None = None) -> list[tuple[int, int]]:
    """Runs of rows holding ink, thin runs (dots, the strokes of 二 or =) merged into the
    nearer neighbour when it is close (`char_h`: the mask's `_char_height`, if known)."""
    rows = mask.sum(axis=1).astype(np.float64)
    if rows.max(initial=0) == 0:
        return []
    inked = rows > max(1.0, ROW_INK * rows.max())
    edges = np.diff(np.concatenate([[0], inked.astype(np.int8), [0]]))
    bands = [
        (int(a), int(b))
        for a, b in zip(np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0], strict=True)
    ]
    heights = [b - a for a, b in bands]
    if len(bands) > 1:
        # Bands of touching lines are no guide to one line's height: left in, a page with
        # two of its lines touching took its other lines for thin bands and merged them all.
        # (Where no other band is a character tall, the tall one is no page's lines but
        # one line steeply tilted.)
        char_h = _char_height(mask) if char_h is None else char_h
        single = [
            h
            for band, h in zip(bands, heights, strict=True)
            if len(_split_touching(mask, band, char_h)) == 1
        ]
        if max(single, default=0) >= char_h:
            heights = single
    typical = float(np.median([h for h in heights if h >= 0.5 * max(heights)]))
    while _merge_one_thin_band(bands, typical):
        pass
    return bands


def _char_height(mask: np.ndarray) -> float:
    """Median height of the page's connected components bigger than specks."""
    _, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    return _median_height(stats)


def _median_height(stats: np.ndarray) -> float:
    """Median height of the components bigger than specks (connectedComponentsWithStats'
    stats, the paper first); 0 where none."""
    heights = stats[1:, cv2.CC_STAT_HEIGHT][stats[1:, cv2.CC_STAT_AREA] >= 12]
    return float(np.median(heights)) if heights.size else 0.0


def _lines(
    mask: np.ndarray, char_h: float, bands: list[tuple[int, int]] | None = None
) -> list[tuple[int, int]]:
    """The rows of each line of a level page: its bands (`_bands`, if not given), those that
    hold touching lines cut apart."""
    found = _bands(mask) if bands is None else bands
    lines = [part for band in found for part in _split_touching(mask, band, char_h)]
    # A band along the page's top or bottom edge much shorter than its writing is the
    # light's (a vignette's dark rim), not a line.
    return [
        (y0, y1)
        for y0, y1 in lines
        if (y0 > 0 and y1 < mask.shape[0]) or y1 - y0 >= EDGE_SLIVER * char_h
    ]


def _split_touching(
    mask: np.ndarray, band: tuple[int, int], char_h: float
) -> list[tuple[int, int]]:
    """Cut a band that holds two or more touching lines at its emptiest row, recursively.

    A band over TOUCHING_LINES character heights tall is cut where its row profile falls
    below a quarter of its typical row, at least 0.6 character heights from either edge."""
    a, b = band
    if char_h <= 0 or b - a <= TOUCHING_LINES * char_h:
        return [band]
    profile = mask[a:b].sum(axis=1).astype(np.float64)
    lo, hi = round(0.6 * char_h), round(b - a - 0.6 * char_h)
    if hi <= lo:
        return [band]
    cut = lo + int(np.argmin(profile[lo:hi]))
    if profile[cut] > 0.25 * np.median(profile[profile > 0]):
        return [band]
    # Descenders (the tails of p, g, y) hang below a gap too, but carry little ink: a line
    # of its own carries about as much as its neighbour.
    above, below = profile[:cut].sum(), profile[cut + 1 :].sum()
    if min(above, below) < MIN_LINE_INK * max(above, below):
        return [band]
    return _split_touching(mask, (a, a + cut), char_h) + _split_touching(
        mask, (a + cut + 1, b), char_h
    )


def _merge_one_thin_band(bands: list[tuple[int, int]], typical: float) -> bool:
    """Merge the thinnest band that has a neighbour within `typical` rows into it."""
    thin = [k for k, (a, b) in enumerate(bands) if b - a < THIN_BAND * typical]
    for k in sorted(thin, key=lambda k: bands[k][1] - bands[k][0]):
        above = bands[k][0] - bands[k - 1][1] if k > 0 else np.inf
        below = bands[k + 1][0] - bands[k][1] if k + 1 < len(bands) else np.inf
        if min(above, below) <= typical:
            lo, hi = (k - 1, k) if above <= below else (k, k + 1)
            bands[lo : hi + 1] = [(bands[lo][0], bands[hi][1])]
            return True
    return False


def _box_in_upload(inv: np.ndarray, x0: int, y0: int, x1: int, y1: int, shape: tuple) -> LineBox:
    return LineBox(*bounds_back(inv, x0, y0, x1, y1, shape))


def page_skew(
    mask: np.ndarray,
    single_line: bool = False,
    bands: list[tuple[int, int]] | None = None,
    char_h: float | None = None,
) -> float:
    """The rotation find_lines applies: the projection profile's on a page of several lines;
    on one line its own tilt, where that moves the line by TILT_DRIFT of its height or more
    along its length. `bands`, `char_h`: the mask's, if already known."""
    if single_line:
        bands = []
    elif bands is None:
        bands = _bands(mask)
    if len(bands) > 1:
        return estimate_skew(mask)
    char_h = _char_height(mask) if char_h is None else char_h
    tall = bool(bands) and bands[0][1] - bands[0][0] >= TOUCHING_LINES * char_h
    # Lines tilted so far that no empty row parts them make one tall band: the angle that
    # parts them into lines again is the page's. A line's own tilt, fitted through the
    # components of several lines, follows none of them.
    steep = estimate_skew(mask) if tall else 0.0
    if steep and len(_lines(turn(mask, steep, border=0)[0], char_h)) > 1:
        return steep
    tilt = line_tilt(mask)
    if tilt == 0.0:
        # Otherwise only a steep tilt is taken from a tall band: a single line of hanzi,
        # whose parts are components of their own, is one too.
        return steep if abs(steep) >= STEEP_PAGE_DEG else 0.0
    _x, _y, width, height = cv2.boundingRect(mask)
    drift = width * abs(math.tan(math.radians(tilt)))
    if drift < TILT_DRIFT * max(height - drift, 1.0):  # the ink's height less the drift
        return 0.0
    return float(np.clip(tilt, -MAX_LINE_TILT, MAX_LINE_TILT))


def unruled_ink(gray: np.ndarray, second_look: bool = False, dark_only: bool = False) -> InkMap:
    """The page's ink map, ruled paper's lines (and dotted paper's grid) taken out: left in,
    each rule is a "line" of its own and joins the writing it touches into one band. The rules
    are painted over with the paper around them and the page binarised again, since their grey
    would otherwise count among the ink's levels and thicken pale writing into blots.
    `second_look`: binarised as /digits binarises, uneven light divided out keeping its
    edges and a squared paper's grid painted out (`ink_map`'s sharp_light and grid);
    `dark_only`: the ink taken to be darker than the paper (`ink_map`)."""
    return _unruled(gray, second_look, dark_only)[0]


def _unruled(gray: np.ndarray, second_look: bool, dark_only: bool) -> tuple[InkMap, float]:
    """`unruled_ink` and its mask's `_char_height`."""
    ink = _ink(gray, second_look, dark_only)
    gone = rule_pixels(ink, faint=RULING_INK)
    if gone is not None:
        ruled = rule_fringe(gone, ink.mask).view(np.uint8)
        unruled = cv2.inpaint(gray, ruled, 2, cv2.INPAINT_TELEA)
        ink = _ink(unruled, second_look, dark_only)
    return _without_creases(_without_specks(without_dot_grid(ink)))


def _without_specks(ink: InkMap) -> InkMap:
    """The ink map with specks (`speck_pixels`) out of its mask: left in, a noisy page's
    specks fill the empty rows between its lines and the margins beside them, which joined
    its lines into one band and were read as characters. (Each line's crop takes its own
    specks out as it is read.)"""
    specks = speck_pixels(ink)
    return ink if specks is None else replace(ink, mask=(ink.mask & ~specks).view(np.uint8))


def _without_creases(ink: InkMap) -> tuple[InkMap, float]:
    """The ink map without long thin straight lines (`app.vision.folds`: a fold's crease,
    a table's edge), looked for only where a mark is long enough to hold one, and its mask's
    `_char_height`: left in, a crease joined the lines it crossed into one band, and on a
    small page its angle was taken for the page's skew."""
    _, _, stats, _ = cv2.connectedComponentsWithStats(ink.mask, connectivity=8)
    height = _median_height(stats)
    sizes = [(int(w), int(h)) for w, h in stats[1:, [cv2.CC_STAT_WIDTH, cv2.CC_STAT_HEIGHT]]]
    if not height or not folds.may_hold_long_lines(sizes, height, ink.mask.shape):
        return ink, height
    out = folds.without_long_lines(ink, height)
    return (ink, height) if out is ink else (out, _char_height(out.mask))


def _ink(gray: np.ndarray, second_look: bool, dark_only: bool) -> InkMap:
    """`ink_map` of the page, as `unruled_ink` asks."""
    return ink_map(
        gray,
        grid=second_look,
        sharp_light=second_look,
        dark_only=dark_only,
        sharp_side=SECOND_LOOK_SIDE,
    )


def reading_factor(gray: np.ndarray) -> int:
    """The whole factor a page is best read shrunk by (`app.vision.scale`): 1 unless it is
    large and its writing tall."""
    return scale.reading_factor(gray, lambda small: _char_height(ink_map(small).mask), READ_HEIGHT)


def find_lines(
    gray: np.ndarray, single_line: bool = False, second_look: bool = False, dark_only: bool = False
) -> list[LineCrop]:
    """The text lines of a grayscale page, top to bottom (one crop when `single_line`);
    boxes in the page's pixels, crops shrunk where the page is large (`reading_factor`);
    `second_look`, `dark_only`: the page binarised so (`unruled_ink`)."""
    factor = reading_factor(gray)
    upload_shape = gray.shape
    gray = scale.shrink(gray, factor)
    ink, char_h = _unruled(gray, second_look, dark_only)
    if not ink.mask.any():
        return []
    level = None if single_line else _bands(ink.mask, char_h)
    angle = page_skew(ink.mask, single_line, level, char_h)
    # The ink-dark page, so every crop has the polarity the model was trained on.
    dark = np.round(255.0 * (1.0 - ink.strength)).astype(np.uint8)
    mask = ink.mask
    rot = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    if angle:
        dark, rot = turn(dark, angle, border=255)
        mask, _ = turn(ink.mask, angle, border=0)
    inv = cv2.invertAffineTransform(rot) * factor  # the shrunk page's pixels -> the upload's
    rows = np.nonzero(mask.any(axis=1))[0]
    if single_line:
        bands = [(int(rows[0]), int(rows[-1]) + 1)]
    else:
        if angle:
            char_h = _char_height(mask)
        found = _bands(mask, char_h) if angle or level is None else level  # unrotated: known
        bands = _lines(mask, char_h, found)
    lines = []
    for y0, y1 in bands:
        cols = np.nonzero(mask[y0:y1].any(axis=0))[0]
        if y1 - y0 < MIN_LINE_PX or cols.size == 0:
            continue
        x0, x1 = int(cols[0]), int(cols[-1]) + 1
        pad = max(2, (y1 - y0) // 4)
        cy0, cy1 = max(0, y0 - pad), min(mask.shape[0], y1 + pad)
        cx0, cx1 = max(0, x0 - pad), min(mask.shape[1], x1 + pad)
        lines.append(
            LineCrop(
                gray=dark[cy0:cy1, cx0:cx1],
                box=_box_in_upload(inv, x0, y0, x1, y1, upload_shape),
                offset_x=cx0,
                centre_y=(y0 + y1) / 2.0,
                to_upload=inv,
                half_height=(y1 - y0) / 2.0,
                top=float(cy0),
            )
        )
    return lines
