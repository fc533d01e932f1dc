"""Digit normalisation exactly as MNIST was made; imported by training so both sides agree."""

import cv2
import numpy as np

MNIST_BOX = 20  # digits are fitted into a 20 x 20 box, keeping aspect ratio
MNIST_FIELD = 28  # ... and centred by centre of mass in a 28 x 28 field
INPUT_SIZE = 32  # LeNet-5 reads the 28 x 28 field padded to 32 x 32


# Touching pairs the segmenter cannot cut are read whole: two digits side by side, fitted
# the same way into a box twice as wide.
PAIR_BOX = (20, 40)
PAIR_FIELD = (28, 44)
PAIR_INPUT = (32, 48)


def normalize_digit(strength: np.ndarray) -> np.ndarray:
    """Ink strength crop (H x W, 0..1, ink high) -> 32 x 32 float32 MNIST-style digit."""
    return fit_ink(
        strength,
        (MNIST_BOX, MNIST_BOX),
        (MNIST_FIELD, MNIST_FIELD),
        (INPUT_SIZE, INPUT_SIZE),
    )


def normalize_pair(strength: np.ndarray) -> np.ndarray:
    """Ink strength crop of two touching digits -> 32 x 48 float32, fitted as MNIST fits one."""
    return fit_ink(strength, PAIR_BOX, PAIR_FIELD, PAIR_INPUT)


# Blobs of touching digits read whole by the chain reader (CTC): scaled to this height with
# a margin of a tenth of the ink's height, as line crops are.
CHAIN_HEIGHT = 32
CHAIN_MAX_WIDTH = 512


def normalize_chain(strength: np.ndarray, height: int = CHAIN_HEIGHT) -> np.ndarray:
    """Ink strength crop of a blob (H x W, ink high) -> height x W' float32 in [0, 1], aspect
    kept, full contrast, at most CHAIN_MAX_WIDTH wide."""
    return fit_chain(strength, height)[0]


def fit_chain(strength: np.ndarray, height: int = CHAIN_HEIGHT) -> tuple[np.ndarray, int, float]:
    """normalize_chain, also returning the crop column its column 0 lies at and the scale
    (normalised columns per crop column), to map digits back to the blob."""
    x, y, w, h = cv2.boundingRect((strength > 0.02).view(np.uint8))
    if w == 0 or h == 0:
        return np.zeros((height, height // 4), np.float32), 0, 1.0
    pad = max(1, h // 10)
    crop = np.pad(strength[y : y + h, x : x + w].astype(np.float32, copy=False), pad)
    scale = height / crop.shape[0]
    width = min(CHAIN_MAX_WIDTH, max(height // 4, round(crop.shape[1] * scale)))
    interp = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR
    out = cv2.resize(crop, (width, height), interpolation=interp)
    peak = float(out.max())
    return (out / peak if peak > 0.0 else out), x - pad, width / crop.shape[1]


def fit_ink(
    strength: np.ndarray,
    box: tuple[int, int],
    field: tuple[int, int],
    size: tuple[int, int],
) -> np.ndarray:
    """MNIST's recipe for any (height, width) sizes: fit the ink in `box` keeping its aspect
    ratio, full contrast, centre of mass at the centre of `field`, padded to `size`."""
    out = np.zeros(size, np.float32)
    x, y, w, h = cv2.boundingRect((strength > 0.02).view(np.uint8))
    if w == 0 or h == 0:
        return out
    crop = strength[y : y + h, x : x + w].astype(np.float32, copy=False)
    scale = min(box[0] / h, box[1] / w)
    dsize = (max(1, round(w * scale)), max(1, round(h * scale)))
    interp = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR
    digit = cv2.resize(crop, dsize, interpolation=interp)  # convex weights: stays in [0, 1]
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
    top = round((size[0] - field[0]) // 2 + field[0] / 2 - cy)
    left = round((size[1] - field[1]) // 2 + field[1] / 2 - cx)
    # Clip the paste to the field: a very lopsided digit may have its mass near one edge.
    top = min(max(top, 0), size[0] - digit.shape[0])
    left = min(max(left, 0), size[1] - digit.shape[1])
    out[top : top + digit.shape[0], left : left + digit.shape[1]] = digit
    return out


SECOND_LOOK_SHIFTS = ((1, 0), (-1, 0), (0, 1), (0, -1))


def _second_look_warps() -> np.ndarray:
    centre = (INPUT_SIZE / 2.0, INPUT_SIZE / 2.0)
    shifts = [np.array([[1.0, 0.0, dx], [0.0, 1.0, dy]]) for dx, dy in SECOND_LOOK_SHIFTS]
    scales = [cv2.getRotationMatrix2D(centre, 0.0, s) for s in (0.9, 1.1)]
    rotations = [cv2.getRotationMatrix2D(centre, deg, 1.0) for deg in (7.0, -7.0)]
    return np.stack([*shifts, *scales, *rotations]).astype(np.float32)


# Re-posings of a normalised digit for a second reading of an unsure one: shifted by a
# pixel each way, scaled 0.9 and 1.1, rotated +-7 deg (all within the training augmentation).
SECOND_LOOK_WARPS = _second_look_warps()


def second_looks(digit: np.ndarray) -> np.ndarray:
    """One normalised H x W digit -> K x H x W re-posed copies (SECOND_LOOK_WARPS)."""
    size = (digit.shape[1], digit.shape[0])
    return np.stack(
        [cv2.warpAffine(digit, m, size, flags=cv2.INTER_LINEAR) for m in SECOND_LOOK_WARPS]
    )


def to_model_input(digits: np.ndarray, mean: float, std: float) -> np.ndarray:
    """N x H x W digits in [0, 1] -> N x 1 x H x W normalised float32 batch."""
    return ((digits.astype(np.float32) - mean) / std)[:, None, :, :]
