"""Pieces the segmenter may hand the classifier that are not one whole digit.

Outlier exposure (Hendrycks et al., 2019): the classifier learns a flat output on halves of
digits and on pairs of touching digits, so its confidence tells the segmenter whether a cut
is right. Digits carrying a sliver of a neighbour (what a right cut between touching digits
leaves) keep their label. numpy only; inputs are N x 32 x 32 digits in [0, 1].
"""

import numpy as np


def _crop(img: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(img > 0.05)
    if ys.size == 0:
        return img
    return img[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]


def _side_by_side(
    a: np.ndarray, b: np.ndarray, overlap: int, rng: np.random.Generator
) -> np.ndarray:
    """b placed right of a, overlapping by `overlap` columns (darker ink wins)."""
    h = max(a.shape[0], b.shape[0]) + 4
    w = a.shape[1] + b.shape[1] - overlap
    out = np.zeros((h, max(w, a.shape[1])), np.float32)
    ya, yb = rng.integers(0, h - a.shape[0] + 1), rng.integers(0, h - b.shape[0] + 1)
    out[ya : ya + a.shape[0], : a.shape[1]] = a
    x = max(0, a.shape[1] - overlap)
    region = out[yb : yb + b.shape[0], x : x + b.shape[1]]
    np.maximum(region, b[:, : region.shape[1]], out=region)
    return out


def half_digit(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The left or right 30-70% of a digit, as a wrong cut leaves it."""
    d = _crop(img)
    cut = max(1, int(d.shape[1] * rng.uniform(0.3, 0.7)))
    return d[:, :cut] if rng.random() < 0.5 else d[:, cut:]


def touching_pair(a: np.ndarray, b: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Two digits touching or nearly, read as one blob."""
    return _side_by_side(_crop(a), _crop(b), int(rng.integers(-1, 5)), rng)


def with_sliver(img: np.ndarray, other: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A digit with 8-25% of a neighbour's edge beside it, as a cut between touching digits."""
    d, o = _crop(img), _crop(other)
    k = max(1, int(o.shape[1] * rng.uniform(0.08, 0.25)))
    if rng.random() < 0.5:
        return _side_by_side(o[:, -k:], d, int(rng.integers(0, 2)), rng)
    return _side_by_side(d, o[:, :k], int(rng.integers(0, 2)), rng)
