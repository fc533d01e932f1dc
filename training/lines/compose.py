"""Compose a handwritten-looking line image from per-character glyphs.

Glyph sources: real MNIST digits (train split for training, t10k for evaluation), Chinese
characters from stroke centre-lines or Kaiti fonts, Latin letters and punctuation from
handwriting fonts. Then: a drifting baseline, per-glyph scale and rotation, spacing from wide
to touching, paper, ink colour, pen thickness, blur, noise, JPEG, slight rotation/perspective.
"""

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from training.lines.hanzi import render_hanzi

EM = 64  # glyphs are rendered with a 64-pixel em, then the line is scaled to its height


@lru_cache(maxsize=64)
def _font(path: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size)


@lru_cache(maxsize=64)
def _cmap(path: str) -> frozenset[int]:
    from fontTools.ttLib import TTFont  # ships with matplotlib (train extra)

    font = TTFont(path, fontNumber=0, lazy=True)
    return frozenset(font.getBestCmap() or {})


def font_has(path: Path, char: str) -> bool:
    """Whether the font maps `char` to a glyph of its own (no .notdef box)."""
    return ord(char) in _cmap(str(path))


@lru_cache(maxsize=65536)
def font_glyph(path: Path, char: str) -> tuple[np.ndarray, int] | None:
    """(ink, baseline row) of one character drawn with a font at EM pixels; None where the
    font maps the character to an empty glyph (some fonts do, for characters they lack)."""
    font = _font(str(path), EM)
    img = Image.new("L", (EM * 2, EM * 2), 0)
    ImageDraw.Draw(img).text((EM // 2, EM + EM // 4), char, fill=255, font=font, anchor="ls")
    ink = np.asarray(img, np.float32) / 255.0
    ys, xs = np.nonzero(ink > 0.05)
    if ys.size < 4:
        return None
    crop = ink[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    return crop, EM + EM // 4 - int(ys.min())


@dataclass
class GlyphSources:
    """Where each kind of character comes from."""

    latin_fonts: list[Path]
    chinese_fonts: list[Path] = field(default_factory=list)
    hanzi_root: Path | None = None
    mnist_images: np.ndarray | None = None  # N x 28 x 28 uint8
    mnist_labels: np.ndarray | None = None
    digit_share: float = 0.8  # of digits drawn from MNIST; the rest come from the fonts
    _by_digit: dict[int, np.ndarray] = field(default_factory=dict, repr=False)

    def digit(self, d: int, rng: np.random.Generator) -> np.ndarray | None:
        if self.mnist_images is None or self.mnist_labels is None:
            return None
        if not self._by_digit:
            self._by_digit = {k: np.nonzero(self.mnist_labels == k)[0] for k in range(10)}
        img = self.mnist_images[rng.choice(self._by_digit[d])].astype(np.float32) / 255.0
        ys, xs = np.nonzero(img > 0.05)
        return img[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]


def _glyph(char: str, src: GlyphSources, rng: np.random.Generator, cap: int):
    """(ink, baseline offset from its bottom) for one character at cap height `cap`."""
    if char.isdigit() and src.mnist_images is not None and rng.random() < src.digit_share:
        g = src.digit(int(char), rng)
        if g is not None:
            g = cv2.resize(g, (max(1, round(g.shape[1] * cap / g.shape[0])), cap))
            return g, 0
    if "\u4e00" <= char <= "\u9fff":
        if src.hanzi_root is not None and (not src.chinese_fonts or rng.random() < 0.7):
            g = render_hanzi(char, src.hanzi_root, round(cap * 1.25), rng)
            if g is not None:
                return _trim(g), round(cap * 0.12)
        fonts = [f for f in src.chinese_fonts if font_has(f, char)]
    else:
        fonts = [f for f in src.latin_fonts if font_has(f, char)]
        if not fonts:
            fonts = [f for f in src.chinese_fonts if font_has(f, char)]
    if not fonts:
        raise ValueError(f"no glyph source draws {char!r}")
    drawn = None
    for k in rng.permutation(len(fonts)):
        font = fonts[k]
        drawn = font_glyph(font, char)
        if drawn is not None:
            break
    if drawn is None:
        raise ValueError(f"no glyph source draws {char!r}")
    ink, base = drawn
    if "\u4e00" <= char <= "\u9fff":
        scale = 1.15 * cap / EM  # a hanzi fills most of the em square
    else:
        # Latin: scale the font's own capital height to `cap`.
        ref = (
            -_font(str(font), EM).getbbox("H", anchor="ls")[1] if font_has(font, "H") else 0.7 * EM
        )
        scale = cap / max(ref, 0.3 * EM)
    size = (max(1, round(ink.shape[1] * scale)), max(1, round(ink.shape[0] * scale)))
    return cv2.resize(ink, size, interpolation=cv2.INTER_AREA), round((ink.shape[0] - base) * scale)


def _trim(g: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(g > 0.05)
    return g[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1] if ys.size else g


CAP = 40  # cap height of the writing on the canvas, before the image is scaled


def line_ink(text: str, src: GlyphSources, rng: np.random.Generator) -> np.ndarray:
    """`text` written by hand as ink (3 CAP x W float32, 1 = ink), its baseline at 2 CAP."""
    cap = CAP
    slant = rng.normal(0, 0.12)
    spacing = rng.uniform(-0.06, 0.35)  # negative: neighbours touch
    canvas_h = cap * 3
    pieces = []
    x = cap // 2
    drift = 0.0
    for ch in text:
        if ch == " ":
            x += round(cap * rng.uniform(0.35, 0.7))
            continue
        g, below = _glyph(ch, src, rng, max(8, round(cap * rng.uniform(0.85, 1.1))))
        m = np.float32([[1, -slant, slant * g.shape[0]], [0, 1, 0]])
        g = cv2.warpAffine(g, m, (g.shape[1] + int(abs(slant) * g.shape[0]) + 1, g.shape[0]))
        drift += rng.normal(0, 0.8)
        baseline = cap * 2 + round(drift)
        top = baseline - g.shape[0] + below
        pieces.append((g, x, top))
        x += g.shape[1] + round(cap * spacing * rng.uniform(0.5, 1.5))
    width = max([x + cap // 2] + [px + g.shape[1] + 1 for g, px, _ in pieces])
    ink = np.zeros((canvas_h, width), np.float32)
    for g, px, top in pieces:
        g = g[:canvas_h]
        top = min(max(top, 0), canvas_h - g.shape[0])
        region = ink[top : top + g.shape[0], px : px + g.shape[1]]
        np.maximum(region, g[: region.shape[0], : region.shape[1]], out=region)
    return ink


def compose_line(
    text: str, src: GlyphSources, rng: np.random.Generator, height: int = 48, ruled: bool = False
) -> np.ndarray:
    """Grayscale uint8 image of `text` written by hand, `height` pixels tall (dark ink); with
    `ruled`, written on a notebook's ruled line (`rule_paper`)."""
    cap = CAP
    ink = line_ink(text, src, rng)
    ys = np.nonzero(ink.max(axis=1) > 0.05)[0]
    pad = cap // 4
    if ys.size:
        written = ys.max() + 1 - ys.min() + 2 * pad
        if ruled:
            # The writing keeps the size it has on plain paper; the paper around it is extra.
            page = rule_paper(ink, cap * 2, cap, rng)
            return _render(page, rng, round(height * page.shape[0] / written))
        ink = ink[max(0, ys.min() - pad) : ys.max() + 1 + pad]
    return _render(ink, rng, height)


def compose_page(
    texts: list[str],
    src: GlyphSources,
    rng: np.random.Generator,
    line_height: int = 48,
    ruled: bool = False,
    margin: bool = False,
) -> np.ndarray:
    """Grayscale uint8 image of a page holding `texts` as lines written top to bottom, each
    line's writing about `line_height` pixels tall as in `compose_line`. With `ruled`, on a
    notebook's ruling (every line on a rule, one rule above and one below the writing, all
    across the page); with `margin`, an upright margin line left of the writing, top to
    bottom (notebooks print it, often red: grey once the photo is grayscale)."""
    cap = CAP
    inks = []
    for text in texts:
        ink = line_ink(text, src, rng)
        cols = np.nonzero(ink.max(axis=0) > 0.05)[0]
        inks.append(ink[:, cols.min() : cols.max() + 1] if cols.size else ink)
    pitch = round(cap * rng.uniform(1.7, 2.2))
    left = round(cap * rng.uniform(0.3, 1.5))
    gutter = round(cap * rng.uniform(0.3, 1.0)) if margin else 0
    start = left + gutter
    width = start + max(ink.shape[1] for ink in inks) + round(cap * rng.uniform(0.5, 2.0))
    # Baseline of line k at (k + 1.5) pitches: room above the first line's capitals.
    height = round((len(texts) + 1) * pitch)
    page = np.zeros((height, width), np.float32)
    baselines = [round((k + 1.2) * pitch) for k in range(len(texts))]
    for ink, base in zip(inks, baselines, strict=True):
        x0 = start + int(rng.integers(0, cap // 3 + 1))
        top = base - 2 * cap
        src0, dst0 = max(0, -top), max(0, top)
        rows = min(ink.shape[0] - src0, height - dst0)
        cols = min(ink.shape[1], width - x0)
        region = page[dst0 : dst0 + rows, x0 : x0 + cols]
        np.maximum(region, ink[src0 : src0 + rows, :cols], out=region)
    thick = int(rng.integers(1, 3))
    level = rng.uniform(0.3, 1.0)
    if ruled:
        for y in [baselines[0] - pitch] + [b + int(rng.integers(0, 3)) for b in baselines]:
            if 0 <= y < height - thick:
                np.maximum(page[y : y + thick], level, out=page[y : y + thick])
    if margin:
        x = left - thick
        np.maximum(page[:, x : x + thick], rng.uniform(0.3, 1.0), out=page[:, x : x + thick])
    # The writing's size as on a single line: `line_height` pixels per 1.5 cap heights.
    return _render(page, rng, round(line_height * height / (1.5 * cap)))


def rule_paper(ink: np.ndarray, baseline: int, cap: int, rng: np.random.Generator) -> np.ndarray:
    """The line's ink (canvas H x W, 1 = ink) on ruled notebook paper, cropped as a user would
    crop it: the rule it sits on (0-2 px below its baseline, past the writing at both ends),
    the next rule up (ruling ~1.6-2.2 cap heights apart: tall letters may touch it) and, on
    some crops, the next rule down; printed thin and often paler than the pen."""
    gap = round(cap * rng.uniform(1.6, 2.2))
    rules = [baseline + int(rng.integers(0, 3)), baseline - gap]
    if rng.random() < 0.3:
        rules.append(rules[0] + gap)
    thick = int(rng.integers(1, 3))
    level = rng.uniform(0.3, 1.0)
    margin = round(cap * rng.uniform(0.3, 2.0)), round(cap * rng.uniform(0.3, 2.0))
    top, bottom = min(rules) - cap // 3, max(rules) + thick + cap // 3
    h, w = ink.shape
    page = np.zeros((bottom - top, w + sum(margin)), np.float32)
    src0, dst0 = max(0, top), max(0, -top)
    rows = min(h, bottom) - src0
    page[dst0 : dst0 + rows, margin[0] : margin[0] + w] = ink[src0 : src0 + rows]
    for y in rules:
        band = page[y - top : y - top + thick]
        np.maximum(band, level, out=band)
    return page


def _render(ink: np.ndarray, rng: np.random.Generator, height: int) -> np.ndarray:
    """Ink -> paper photo/scan at `height` pixels: pen, paper, light, blur, noise, JPEG."""
    k = rng.integers(-1, 2)
    if k > 0:
        ink = cv2.dilate(ink, np.ones((2, 2), np.uint8))
    elif k < 0:
        ink = cv2.erode(ink, np.ones((2, 2), np.uint8)) * 0.5 + ink * 0.5
    h, w = ink.shape
    angle = rng.normal(0, 1.2)
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    ink = cv2.warpAffine(ink, m, (w, h))
    paper = rng.uniform(170, 255)
    ink_level = rng.uniform(0, 90)
    light = 1.0 - rng.uniform(0, 0.25) * np.linspace(0, 1, w)[None, :] ** rng.uniform(0.5, 2)
    img = (paper * light) * (1 - ink) + ink_level * ink
    img = cv2.GaussianBlur(img.astype(np.float32), (0, 0), rng.uniform(0.3, 1.2))
    img += rng.normal(0, rng.uniform(0, 8), img.shape)
    out_w = max(8, round(w * height / h))
    img = cv2.resize(
        np.clip(img, 0, 255).astype(np.uint8), (out_w, height), interpolation=cv2.INTER_AREA
    )
    if rng.random() < 0.5:
        _, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(40, 95))])
        img = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)
    return img


def photo_faults(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A rendered line as a poorer photo: out of focus (Gaussian blur of 0.8-2.4 px at the
    line's size), a bright reflection washing the ink part of the way to the paper over an
    uneven patch, or both. The line's own render already blurs by at most about 1 px and
    keeps the ink at least 80 grey levels from the paper."""
    out = img.astype(np.float32)
    which = rng.random()
    if which < 0.6:
        out = cv2.GaussianBlur(out, (0, 0), rng.uniform(0.8, 2.4))
    if which >= 0.45:
        h, w = out.shape
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        cx, cy = rng.uniform(-0.2, 1.2) * w, rng.uniform(0, 1) * h
        rx, ry = rng.uniform(0.2, 0.8) * w, rng.uniform(1, 4) * h
        # A soft-edged patch: 1 in its middle, falling to 0 over its outer part.
        d = np.sqrt(((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2)
        patch = np.clip((1 - d) / rng.uniform(0.3, 1.0), 0, 1)
        bright = min(255.0, float(np.percentile(out, 90)) + rng.uniform(0, 30))
        out += (bright - out) * rng.uniform(0.5, 0.85) * patch
        out += rng.normal(0, 2, out.shape)
    return np.clip(out, 0, 255).astype(np.uint8)
