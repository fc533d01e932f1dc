"""Training pieces cut by the service's own segmenter from rows of touching MNIST digits.

The reader picks how to split a blob of touching digits by the classifier's confidence in
each candidate piece, so the classifier must know what the segmenter really hands it: a whole
digit with a neighbour's sliver or a bit of its own stroke missing (label it), or half a digit,
two digits, a digit and a half (no digit: trained towards a flat output). Each piece is
labelled from the ink it holds: every pixel of a built row knows which glyph drew it.
numpy/OpenCV only; deterministic by seed; cached as uint8.
"""

import hashlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from tqdm import tqdm

from app.digits import preprocess, reader, segment
from app.digits.preprocess import INPUT_SIZE, PAIR_INPUT, normalize_digit, normalize_pair
from app.digits.reader import is_pair_candidate
from app.digits.segment import Piece, Segment, digit_ink, segment_digits
from app.vision import binarize
from training.digit_sheets import Row, make_row

MARGIN = 8
# A piece is digit k when it holds this share of k's ink and k owns this share of the piece.
KEEP, PURE = 0.9, 0.85
# ... and no digit when it holds less of its main digit or is less pure than this. Pieces in
# between are ambiguous (a digit missing a serif) and left out.
PARTIAL = 0.7
OUTLIER = -1


def owner_map(row: Row) -> np.ndarray:
    """H x W int: index of the glyph whose ink is strongest at each pixel, -1 for paper."""
    h, w = row.ink.shape
    owner = np.full((h, w), -1, np.int64)
    best = np.full((h, w), 0.3, np.float32)  # faint fringes belong to nobody
    for k, (g, x, top) in enumerate(row.glyphs):
        region = (slice(top, top + g.shape[0]), slice(x, x + g.shape[1]))
        g = g[: best[region].shape[0], : best[region].shape[1]]
        stronger = g > best[region]
        best[region][stronger] = g[stronger]
        owner[region][stronger] = k
    return owner


def pieces_with_shares(row: Row) -> Iterator[tuple[Segment, Piece, np.ndarray, np.ndarray]]:
    """Each piece the segmenter cuts from the row, with its segment, and per glyph: the share
    of that glyph's ink the piece holds, and the share of the piece's ink that glyph drew."""
    ink = np.pad(row.ink, MARGIN)
    owner = np.pad(owner_map(row), MARGIN, constant_values=-1)
    totals = np.bincount(owner[owner >= 0], minlength=len(row.glyphs))
    gray = (255 * (1 - ink)).astype(np.uint8)
    for seg in segment_digits(digit_ink(gray), eager=True):
        for piece in seg.pieces.values():
            b = piece.box
            own = owner[b.y : b.bottom, b.x : b.right][piece.ink > 0.05]
            own = own[own >= 0]
            if own.size == 0:
                continue
            counts = np.bincount(own, minlength=len(row.glyphs))
            shares = counts / np.maximum(1, totals), counts / own.size
            yield seg, piece, *shares


def digit_label(row: Row, keep: np.ndarray, share: np.ndarray) -> int | None:
    """The digit a piece holds, OUTLIER for a non-digit, None when ambiguous."""
    k = int(share.argmax())
    if keep[k] >= KEEP and share[k] >= PURE:
        return int(row.text[k])
    if keep[k] < PARTIAL or share[k] < PARTIAL:
        return OUTLIER
    return None


def pair_label(row: Row, keep: np.ndarray, share: np.ndarray) -> int | None:
    """10 a + b for a piece holding two neighbouring digits a, b (in reading order) whole,
    OUTLIER for anything else (one digit, three, fragments), None when ambiguous."""
    if len(share) < 2:
        return OUTLIER
    k1, k2 = sorted(np.argsort(-share)[:2].tolist())
    held = np.sort(keep)[::-1]
    pure = share[k1] + share[k2]
    if k2 == k1 + 1 and min(keep[k1], keep[k2]) >= KEEP and pure >= PURE:
        return 10 * int(row.text[k1]) + int(row.text[k2])
    if held[1] < 0.5 or held[0] < PARTIAL or pure < PARTIAL or (len(held) > 2 and held[2] >= 0.5):
        return OUTLIER
    return None


def label_pieces(row: Row) -> tuple[list[np.ndarray], list[int]]:
    """Every piece of every segment of the row as the segmenter cuts it, normalised as the
    service does, with its label: the digit, or OUTLIER; ambiguous pieces are left out."""
    crops, labels = [], []
    for _seg, piece, keep, share in pieces_with_shares(row):
        label = digit_label(row, keep, share)
        if label is not None:
            crops.append(normalize_digit(piece.ink))
            labels.append(label)
    return crops, labels


def label_pairs(row: Row) -> tuple[list[np.ndarray], list[int]]:
    """The pieces of the row's lattices that the pair reader sees (`is_pair_candidate`),
    normalised as the service does, labelled 10 a + b or OUTLIER."""
    crops, labels = [], []
    for seg, piece, keep, share in pieces_with_shares(row):
        if not is_pair_candidate(piece, seg):
            continue
        label = pair_label(row, keep, share)
        if label is not None:
            crops.append(normalize_pair(piece.ink))
            labels.append(label)
    return crops, labels


def build(
    images: np.ndarray,
    labels: np.ndarray,
    rows: int,
    seed: int,
    quiet: bool = False,
    pairs: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """N x 32 x 32 uint8 pieces (ink high) and N labels (0-9, or OUTLIER) from `rows` rows of
    touching digits built from `images` (uint8, ink high, 28 x 28); with `pairs`, the
    N x 32 x 48 pieces the pair reader sees and their labels (0-99, or OUTLIER)."""
    rng = np.random.default_rng(seed)
    crops: list[np.ndarray] = []
    out: list[int] = []
    label = label_pairs if pairs else label_pieces
    for _ in tqdm(range(rows), desc="pairs" if pairs else "pieces", leave=False, disable=quiet):
        c, lab = label(make_row(images, labels, rng, "touching"))
        crops += c
        out += lab
    shape = PAIR_INPUT if pairs else (INPUT_SIZE, INPUT_SIZE)
    stack = np.stack(crops) if crops else np.zeros((0, *shape), np.float32)
    return (255 * stack).round().astype(np.uint8), np.asarray(out, np.int64)


def segmenter_digest() -> str:
    """Short digest of the code that cuts and normalises pieces: a cache made by another
    version of the segmenter is not reused."""
    h = hashlib.sha256()
    for module in (binarize, segment, preprocess, reader):
        h.update(Path(module.__file__).read_bytes())
    return h.hexdigest()[:10]


def load_or_build(
    path: Path,
    images: np.ndarray,
    labels: np.ndarray,
    rows: int,
    seed: int,
    quiet: bool = False,
    pairs: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Cached `build`: the pieces of the same rows are cut once."""
    if path.is_file():
        with np.load(path) as z:
            return z["pieces"], z["labels"]
    pieces, labs = build(images, labels, rows, seed, quiet, pairs)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, pieces=pieces, labels=labs)
    return pieces, labs
