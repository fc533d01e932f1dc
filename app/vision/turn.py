"""Turning a page by a small angle, and mapping boxes found on it back to the upload."""

import cv2
import numpy as np


def turn(image: np.ndarray, angle: float, border: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Rotate about the centre (degrees, counter-clockwise) into a canvas that holds the whole
    image, its corners filled with `border` (None: the edge's pixels repeated); returns the
    image and the 2 x 3 matrix that maps upload coordinates into it."""
    h, w = image.shape[:2]
    rot = cv2.getRotationMatrix2D((w / 2.0, h / 2.0), angle, 1.0)
    cos, sin = abs(rot[0, 0]), abs(rot[0, 1])
    nw, nh = int(np.ceil(h * sin + w * cos)), int(np.ceil(h * cos + w * sin))
    rot[0, 2] += nw / 2.0 - w / 2.0
    rot[1, 2] += nh / 2.0 - h / 2.0
    mode = cv2.BORDER_REPLICATE if border is None else cv2.BORDER_CONSTANT
    out = cv2.warpAffine(
        image, rot, (nw, nh), flags=cv2.INTER_LINEAR, borderMode=mode, borderValue=border or 0
    )
    return out, rot


def bounds_back(
    inv: np.ndarray, x0: float, y0: float, x1: float, y1: float, shape: tuple[int, ...]
) -> tuple[int, int, int, int]:
    """The box (x0, y0)-(x1, y1) of a turned page, through `inv` (2 x 3: turned -> upload),
    as the upload's (x, y, width, height) that holds it, clipped to the upload (`shape`)."""
    h, w = shape[:2]
    ax0, ay0, ax1, ay1 = box_through(inv, x0, y0, x1, y1)
    ax0, ax1 = min(max(ax0, 0), w), min(max(ax1, 0), w)
    ay0, ay1 = min(max(ay0, 0), h), min(max(ay1, 0), h)
    return ax0, ay0, ax1 - ax0, ay1 - ay0


def box_through(
    m: np.ndarray, x0: float, y0: float, x1: float, y1: float
) -> tuple[int, int, int, int]:
    """The whole-pixel box (x0, y0, x1, y1) that holds the box (x0, y0)-(x1, y1) mapped
    through `m` (2 x 3)."""
    corners = np.array([[x0, y0, 1], [x1, y0, 1], [x0, y1, 1], [x1, y1, 1]], np.float64)
    pts = corners @ m.T
    (ax0, ay0), (ax1, ay1) = np.floor(pts.min(axis=0)), np.ceil(pts.max(axis=0))
    return int(ax0), int(ay0), int(ax1), int(ay1)


def quarter_turns_back(k: int, shape: tuple[int, ...]) -> np.ndarray:
    """The 2 x 3 affine map from points of np.rot90(image, k) (pixel edges at whole numbers)
    to the image's own (`shape`: its H, W)."""
    h, w = shape[:2]
    return np.array(
        [
            [[1, 0, 0], [0, 1, 0]],
            [[0, -1, w], [1, 0, 0]],
            [[-1, 0, w], [0, -1, h]],
            [[0, 1, 0], [-1, 0, h]],
        ][k % 4],
        np.float64,
    )


def then(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """The 2 x 3 affine map `first`, then `second`."""
    return second[:, :2] @ first + np.hstack([np.zeros((2, 2)), second[:, 2:]])
