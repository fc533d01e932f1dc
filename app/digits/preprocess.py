"""Digit normalisation exactly as MNIST was made; imported by training so both sides agree."""

import cv2
import numpy as np

MNIST_BOX = 20  # digits are fitted into a 20 x 20 box, keeping aspect ratio
MNIST_FIELD = 28  # ... and centred by centre of mass in a 28 x 28 field
INPUT_SIZE = 32  # LeNet-5 reads the 28 x 28 field padded to 32 x 32


def normalize_digit(strength: np.ndarray) -> np.ndarray:
    """Ink strength crop (H x W, 0..1, ink high) -> 32 x 32 float32 MNIST-style digit."""
    out = np.zeros((INPUT_SIZE, INPUT_SIZE), np.float32)
    x, y, w, h = cv2.boundingRect((strength > 0.02).view(np.uint8))
    if w == 0 or h == 0:
        return out
    crop = strength[y : y + h, x : x + w].astype(np.float32, copy=False)
    scale = MNIST_BOX / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    interp = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR
    digit = cv2.resize(crop, size, interpolation=interp)  # convex weights: stays in [0, 1]
    peak = float(digit.max())
    if peak <= 0.0:
        return out
    digit /= peak  # faint pencil and thin pens reach full contrast, as MNIST strokes do
    m = cv2.moments(digit)
    if m["m00"] > 1e-6:
        cy, cx = m["m01"] / m["m00"], m["m10"] / m["m00"]
    else:  # cv2.moments reads an N x 1 or N x 2 array as a contour: do it by hand
        rows, cols = np.indices(digit.shape)
        total = float(digit.sum())
        cy, cx = float((rows * digit).sum()) / total, float((cols * digit).sum()) / total
    pad = (INPUT_SIZE - MNIST_FIELD) // 2
    top = round(pad + MNIST_FIELD / 2 - cy)
    left = round(pad + MNIST_FIELD / 2 - cx)
    # Clip the paste to the field: a very lopsided digit may have its mass near one edge.
    top = min(max(top, 0), INPUT_SIZE - digit.shape[0])
    left = min(max(left, 0), INPUT_SIZE - digit.shape[1])
    out[top : top + digit.shape[0], left : left + digit.shape[1]] = digit
    return out


def to_model_input(digits: np.ndarray, mean: float, std: float) -> np.ndarray:
    """N x 32 x 32 digits in [0, 1] -> N x 1 x 32 x 32 normalised float32 batch."""
    return ((digits.astype(np.float32) - mean) / std)[:, None, :, :]
