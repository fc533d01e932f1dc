"""Render Chinese characters from stroke centre-lines as pen trajectories, so that no two
samples of a character are alike: character-level affine jitter, per-stroke offsets, point
jitter, pen width and pressure variation."""

import cv2
import numpy as np

from training.lines.sources import stroke_medians


def _smooth_path(points: np.ndarray, rng: np.random.Generator, jitter: float) -> np.ndarray:
    """Densify a polyline and wobble it like a hand does (low-frequency noise)."""
    seg = np.linalg.norm(np.diff(points, axis=0), axis=1)
    n = max(2, int(seg.sum() / 0.01))
    t = np.concatenate([[0], np.cumsum(seg)]) / max(seg.sum(), 1e-6)
    u = np.linspace(0, 1, n)
    dense = np.stack([np.interp(u, t, points[:, 0]), np.interp(u, t, points[:, 1])], axis=1)
    wobble = rng.normal(0, jitter, (4, 2))
    basis = np.stack([np.sin(np.pi * k * u) for k in range(1, 5)], axis=1)  # n x 4
    return dense + basis @ wobble


def render_hanzi(char: str, root, size: int, rng: np.random.Generator) -> np.ndarray | None:
    """size x size float32 ink (1 = ink) of one handwritten-looking character, or None."""
    strokes = stroke_medians(char, root)
    if strokes is None:
        return None
    scale = 4  # draw at 4x and downsample: anti-aliased strokes
    big = np.zeros((size * scale, size * scale), np.float32)
    # Character-level affine: rotation, shear, anisotropic scale, shift.
    angle = rng.normal(0, 0.06)
    shear = rng.normal(0, 0.12)
    sx, sy = rng.uniform(0.82, 1.0, 2)
    a = np.array(
        [[np.cos(angle) * sx, -np.sin(angle) + shear], [np.sin(angle), np.cos(angle) * sy]]
    )
    width = rng.uniform(0.035, 0.075)  # pen width, fraction of the box
    for stroke in strokes:
        pts = np.asarray(stroke, np.float64)
        pts = pts + rng.normal(0, 0.012, 2)  # each stroke lands a little off
        pts = _smooth_path(pts, rng, 0.006) - 0.5
        pts = pts @ a.T + 0.5 + rng.normal(0, 0.01, 2)
        pix = np.round(pts * size * scale).astype(np.int32)
        pressure = np.clip(rng.normal(1.0, 0.15), 0.6, 1.4)
        for k in range(len(pix) - 1):
            # Pressure tapers towards the stroke's end, as a brush or pen lifts.
            w = width * pressure * (1.0 - 0.35 * k / len(pix))
            cv2.line(
                big,
                tuple(pix[k]),
                tuple(pix[k + 1]),
                1.0,
                max(1, round(w * size * scale)),
                cv2.LINE_AA,
            )
    return cv2.resize(big, (size, size), interpolation=cv2.INTER_AREA)
