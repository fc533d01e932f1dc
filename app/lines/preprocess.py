"""Line normalisation shared by the CRNN's training and the service: ink strength (the same
binarisation as /digits), cropped to its rows, scaled to a fixed height, padded into batches."""

import cv2
import numpy as np

from app.vision.binarize import InkMap, ink_map

# A mark of at most this many pixels is a speck: dust, scanner noise (a pen's full stop
# or an i's dot is several times larger).
SPECK = 3


def normalize_line(gray: np.ndarray, height: int) -> np.ndarray:
    """Grayscale line image (any polarity) -> height x W float32 ink strength in [0, 1]."""
    return fit_line(gray, height)[0]


def fit_line(gray: np.ndarray, height: int) -> tuple[np.ndarray, int, float]:
    """normalize_line, also returning where its column 0 lies in `gray` and the scale
    (normalised pixels per input pixel), to map characters back to the input."""
    strength = without_specks(ink_map(gray))
    rows = np.nonzero(strength.max(axis=1) > 0.05)[0]
    cols = np.nonzero(strength.max(axis=0) > 0.05)[0]
    if rows.size == 0:
        return np.zeros((height, height // 4), np.float32), 0, 1.0
    pad = max(1, (rows[-1] - rows[0] + 1) // 10)  # a margin, as in training crops
    y0, y1 = max(0, rows[0] - pad), min(strength.shape[0], rows[-1] + 1 + pad)
    x0, x1 = max(0, cols[0] - pad), min(strength.shape[1], cols[-1] + 1 + pad)
    crop = strength[y0:y1, x0:x1]
    width = max(height // 4, round(crop.shape[1] * height / crop.shape[0]))
    interp = cv2.INTER_AREA if crop.shape[0] > height else cv2.INTER_LINEAR
    line = cv2.resize(crop, (width, height), interpolation=interp)
    return line, int(x0), width / crop.shape[1]


def without_specks(ink: InkMap) -> np.ndarray:
    """The ink's strength with specks (`speck_pixels`) faded to paper."""
    specks = speck_pixels(ink)
    return ink.strength if specks is None else np.where(specks, np.float32(0.0), ink.strength)


def speck_pixels(ink: InkMap) -> np.ndarray | None:
    """H x W bool: the specks (marks of at most SPECK pixels at 0.2 of full strength: a pale
    or small full stop keeps its blurred edge) and a pixel round them; None where none."""
    marks = (ink.strength >= 0.2).view(np.uint8)
    _count, labels, stats, _ = cv2.connectedComponentsWithStats(marks, connectivity=8)
    tiny = stats[:, cv2.CC_STAT_AREA] <= SPECK
    tiny[0] = False  # the paper
    if not tiny.any():
        return None
    return cv2.dilate(tiny[labels].view(np.uint8), np.ones((3, 3), np.uint8)) > 0


def frame_count(width: int, stride: int) -> int:
    """Output frames that see a line `width` columns wide (the rest see only padding)."""
    return -(-width // stride)


def to_batch(lines: list[np.ndarray], mean: float, std: float, multiple: int = 4) -> np.ndarray:
    """Lines of one height -> N x 1 x H x W batch, right-padded with paper to the widest
    (rounded up to `multiple`, the model's horizontal stride)."""
    height = lines[0].shape[0]
    width = max(line.shape[1] for line in lines)
    width = -(-width // multiple) * multiple
    batch = np.zeros((len(lines), 1, height, width), np.float32)
    for i, line in enumerate(lines):
        batch[i, 0, :, : line.shape[1]] = line
    return (batch - mean) / std
