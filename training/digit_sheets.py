"""Images of handwritten digit strings built from real MNIST glyphs, with their true text.

Used to measure the whole /digits pipeline (segmentation included) on held-out t10k digits,
and by the tests. numpy/OpenCV only, deterministic by seed.
"""

from dataclasses import dataclass

import cv2
import numpy as np

KINDS = (
    "spaced",
    "touching",
    "rows",
    "photo",
    "single",
    "form",
    "squared",
    "tiles",
    "tile_pairs",
    "tile_rows",
)
# Kinds built from MNIST's own 28 x 28 tiles as they are (no cropping, scaling or slant), the
# usual way multi-digit MNIST images are made: (digits per row, rows, tile step range).
TILE_KINDS = {
    "tiles": ((4, 8), (1, 1), (24, 36)),
    "tile_pairs": ((2, 2), (1, 1), (14, 22)),
    "tile_rows": ((4, 8), (2, 4), (24, 36)),
}
# What a form prints around handwritten digits.
FURNITURE = ("underline", "comb", "box", "ruled")


@dataclass
class Sheet:
    image: np.ndarray  # H x W x 3 uint8 BGR
    text: str  # rows joined by "\n"


def _glyph(img28: np.ndarray, height: int, slant: float) -> np.ndarray:
    """One MNIST digit (ink high) cropped, scaled to `height` pixels tall and slanted."""
    ys, xs = np.nonzero(img28 > 0)
    crop = img28[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1].astype(np.float32) / 255.0
    scale = height / crop.shape[0]
    w = max(1, round(crop.shape[1] * scale))
    g = cv2.resize(crop, (w, height), interpolation=cv2.INTER_LINEAR)
    pad = int(abs(slant) * height) + 2
    m = np.float32([[1, -slant, pad + slant * height / 2], [0, 1, 0]])
    g = cv2.warpAffine(g, m, (w + 2 * pad, height), flags=cv2.INTER_LINEAR)
    cols = np.nonzero(g.max(axis=0) > 0.05)[0]
    return np.clip(g[:, cols.min() : cols.max() + 1], 0, 1)


def _touch_offset(prev: np.ndarray, prev_x: int, glyph: np.ndarray, top: int, prev_top: int) -> int:
    """x for `glyph` so that its ink just overlaps the previous glyph's ink by ~1-2 px."""
    h = min(prev_top + prev.shape[0], top + glyph.shape[0]) - max(prev_top, top)
    if h <= 0:
        return prev_x + prev.shape[1] - 2
    best = None
    for row in range(max(prev_top, top), max(prev_top, top) + h):
        a = prev[row - prev_top] > 0.3
        b = glyph[row - top] > 0.3
        if a.any() and b.any():
            right = prev_x + int(np.nonzero(a)[0].max())
            left = int(np.nonzero(b)[0].min())
            x = right - left - 1
            best = x if best is None else max(best, x)
    return best if best is not None else prev_x + prev.shape[1] - 2


@dataclass
class Row:
    ink: np.ndarray  # H x W float32, 1 = ink
    text: str
    glyphs: list[tuple[np.ndarray, int, int]]  # (ink, x, top) of each digit, in text order


def make_row(images: np.ndarray, labels: np.ndarray, rng: np.random.Generator, kind: str) -> Row:
    """One row of 4-8 digits (`kind` spaced or touching; one digit for single): its ink, text
    and each glyph's place."""
    n = 1 if kind == "single" else int(rng.integers(4, 9))
    idx = rng.integers(0, len(images), n)
    height = int(rng.integers(24, 72))
    slant = float(rng.uniform(-0.25, 0.25))
    placed, x, prev = [], 0, None
    touch_pair = int(rng.integers(1, n)) if kind == "touching" else -1
    for k, i in enumerate(idx):
        h = max(12, round(height * rng.uniform(0.85, 1.15)))
        g = _glyph(images[i], h, slant + float(rng.uniform(-0.08, 0.08)))
        top = int(rng.integers(0, max(1, height // 6))) + (height + height // 3 - h) // 2
        if prev is None:
            x = 0
        elif kind == "touching" and (k == touch_pair or rng.random() < 0.5):
            x = _touch_offset(prev[0], prev[1], g, top, prev[2])
        else:
            x = prev[1] + prev[0].shape[1] + int(rng.uniform(0.2, 0.7) * height)
        placed.append((g, x, top))
        prev = (g, x, top)
    width = max(x + g.shape[1] for g, x, _ in placed)
    canvas = np.zeros((height + height // 3 + height // 6 + 2, width), np.float32)
    for g, x, top in placed:
        region = canvas[top : top + g.shape[0], x : x + g.shape[1]]
        np.maximum(region, g[: region.shape[0], : region.shape[1]], out=region)
    return Row(canvas, "".join(str(int(labels[i])) for i in idx), placed)


def _render(ink: np.ndarray, rng: np.random.Generator, photo: bool) -> np.ndarray:
    """Ink layer -> BGR image: paper, ink colour, and for photos light, noise, blur, JPEG."""
    h, w = ink.shape
    if not photo:
        return cv2.cvtColor((255 * (1 - ink)).astype(np.uint8), cv2.COLOR_GRAY2BGR)
    paper = np.array(rng.uniform([170, 180, 190], [255, 255, 255]), np.float32)  # tinted paper
    ink_col = np.array(
        rng.choice([[20, 20, 20], [140, 40, 20], [40, 30, 110], [90, 60, 30]]), np.float32
    )
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    gx, gy = rng.uniform(-1, 1, 2)
    light = 1.0 - 0.35 * np.clip(
        (gx * xx / w + gy * yy / h + 1) / 2, 0, 1
    )  # a shadow across the page
    img = paper * light[..., None]
    img = img * (1 - ink[..., None]) + ink_col * ink[..., None]
    img += rng.normal(0, rng.uniform(2, 8), img.shape)
    img = cv2.GaussianBlur(np.clip(img, 0, 255).astype(np.uint8), (0, 0), rng.uniform(0.3, 1.0))
    _ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(55, 90))])
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)


def _furnish(ink: np.ndarray, row: Row, x0: int, y0: int, rng: np.random.Generator) -> None:
    """Draw a form's lines around one row placed at (x0, y0) of the ink layer: an underline
    (touching the digits or not), a comb of boxes (one per digit), a box around the row, or
    a ruled line above and below. Printed lines are often paler than the writing."""
    style = FURNITURE[int(rng.integers(len(FURNITURE)))]
    level = float(rng.uniform(0.5, 1.0))
    thick = int(rng.integers(1, 4))
    tops = [top for _, _, top in row.glyphs]
    bottoms = [top + g.shape[0] for g, _, top in row.glyphs]
    top, bottom = y0 + min(tops), y0 + max(bottoms)
    left = x0 + row.glyphs[0][1]
    right = x0 + max(x + g.shape[1] for g, x, _ in row.glyphs)
    pad = int(rng.integers(2, 9))
    layer = np.zeros_like(ink)
    if style == "underline":
        y = bottom + int(rng.integers(-2, 4))
        cv2.line(layer, (left - pad, y), (right + pad, y), level, thick)
    elif style == "box":
        cv2.rectangle(layer, (left - pad, top - pad), (right + pad, bottom + pad), level, thick)
    elif style == "ruled":
        for y in (top - pad, bottom + int(rng.integers(-1, 4))):
            cv2.line(layer, (0, y), (ink.shape[1] - 1, y), level, thick)
    else:  # comb: cells split half-way between neighbouring digits
        edges = [left - pad]
        for (g, x, _), (_, nx, _) in zip(row.glyphs, row.glyphs[1:], strict=False):
            edges.append(x0 + (x + g.shape[1] + nx) // 2)
        edges.append(right + pad)
        cv2.rectangle(layer, (edges[0], top - pad), (edges[-1], bottom + pad), level, thick)
        for x in edges[1:-1]:
            cv2.line(layer, (x, top - pad), (x, bottom + pad), level, thick)
    np.maximum(ink, layer, out=ink)


def _squares(ink: np.ndarray, rows: list[Row], rng: np.random.Generator) -> None:
    """Print squared paper's grid over the whole ink layer: pale one-pixel lines, squares
    half to nine tenths of the smallest writing's digit height (digits span one or two)."""
    digit_h = min(r.ink.shape[0] for r in rows) / 1.5  # a row's ink is 1.5 digits tall
    step = max(8, int(rng.uniform(0.5, 0.9) * digit_h))
    level = float(rng.uniform(0.25, 0.6))
    layer = np.zeros_like(ink)
    h, w = ink.shape
    for y in range(int(rng.integers(0, step)), h, step):
        cv2.line(layer, (0, y), (w - 1, y), level, 1)
    for x in range(int(rng.integers(0, step)), w, step):
        cv2.line(layer, (x, 0), (x, h - 1), level, 1)
    np.maximum(ink, layer, out=ink)


def _tile_row(
    images: np.ndarray, labels: np.ndarray, rng: np.random.Generator, kind: str
) -> tuple[np.ndarray, str]:
    """One row of MNIST tiles (ink high) side by side, each `step` pixels after the last
    (under 28: they overlap, and their digits may touch), and its text."""
    (lo, hi), _rows, (step_lo, step_hi) = TILE_KINDS[kind]
    idx = rng.integers(0, len(images), int(rng.integers(lo, hi + 1)))
    steps = rng.integers(step_lo, step_hi + 1, len(idx) - 1)
    xs = np.concatenate([[0], np.cumsum(steps)]).astype(int)
    ink = np.zeros((28, int(xs[-1]) + 28), np.float32)
    for i, x in zip(idx, xs, strict=True):
        np.maximum(ink[:, x : x + 28], images[i] / 255.0, out=ink[:, x : x + 28])
    return ink, "".join(str(int(labels[i])) for i in idx)


def _tile_sheet(
    images: np.ndarray, labels: np.ndarray, rng: np.random.Generator, kind: str
) -> Sheet:
    """Rows of MNIST tiles stacked 0-9 px apart (`TILE_KINDS`) with a 4-20 px margin."""
    _digits, (lo, hi), _steps = TILE_KINDS[kind]
    rows = [_tile_row(images, labels, rng, kind) for _ in range(int(rng.integers(lo, hi + 1)))]
    width = max(ink.shape[1] for ink, _ in rows)
    parts = []
    for k, (ink, _text) in enumerate(rows):
        gap = int(rng.integers(0, 10)) if k else 0
        parts += [
            np.zeros((gap, width), np.float32),
            np.pad(ink, ((0, 0), (0, width - ink.shape[1]))),
        ]
    ink = np.pad(np.vstack(parts), int(rng.integers(4, 21)))
    return Sheet(_render(ink, rng, photo=False), "\n".join(text for _, text in rows))


def make_sheet(
    images: np.ndarray, labels: np.ndarray, rng: np.random.Generator, kind: str
) -> Sheet:
    """One image of the given kind: spaced | touching | rows (2-4 rows) | photo (rows on paper)
    | single (one digit alone) | form (1-3 rows on form lines, half of them photographed) |
    squared (1-3 rows on squared paper, half of them photographed) | tiles, tile_pairs,
    tile_rows (`TILE_KINDS`)."""
    if kind in TILE_KINDS:
        return _tile_sheet(images, labels, rng, kind)
    if kind in ("form", "squared"):
        n_rows = int(rng.integers(1, 4))
    else:
        n_rows = int(rng.integers(2, 5)) if kind in ("rows", "photo") else 1
    row_kind = kind if kind in ("touching", "single") else "spaced"
    rows = [make_row(images, labels, rng, row_kind) for _ in range(n_rows)]
    margin = int(rng.integers(8, 40)) + (12 if kind == "form" else 0)
    width = max(r.ink.shape[1] for r in rows) + 2 * margin
    gap = [int(rng.uniform(0.2, 0.6) * r.ink.shape[0]) for r in rows]
    height = sum(r.ink.shape[0] for r in rows) + sum(gap) + 2 * margin
    ink = np.zeros((height, width), np.float32)
    y = margin
    for r, g in zip(rows, gap, strict=True):
        x = margin + int(rng.integers(0, width - 2 * margin - r.ink.shape[1] + 1))
        ink[y : y + r.ink.shape[0], x : x + r.ink.shape[1]] = r.ink
        if kind == "form":
            _furnish(ink, r, x, y, rng)
        y += r.ink.shape[0] + g
    if kind == "squared":
        _squares(ink, rows, rng)
    photo = kind == "photo" or (kind in ("form", "squared") and rng.random() < 0.5)
    return Sheet(_render(ink, rng, photo=photo), "\n".join(r.text for r in rows))


def make_sheets(
    images: np.ndarray, labels: np.ndarray, kind: str, count: int, seed: int
) -> list[Sheet]:
    rng = np.random.default_rng(seed)
    return [make_sheet(images, labels, rng, kind) for _ in range(count)]
