"""Upload bytes -> one 8-bit grayscale image; refuses formats a handwriting service never needs."""

import io

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from app.core.errors import EmptyUpload, ImageTooLarge, ServiceError, UnsupportedImage
from app.vision.binarize import level_of_hist

# Magic bytes of the formats we accept; everything else (EXR, HDR, PFM, SVG, PDF, GIF, ...)
# is refused before any decoder sees it.
ACCEPTED_FORMATS = ("PNG", "JPEG", "BMP", "TIFF", "WEBP")
EXIF_ORIENTATION = 0x0112
# Formats whose files carry an EXIF orientation in practice (cameras, phones, scanners).
EXIF_FORMATS = ("JPEG", "TIFF", "WEBP")
# Our own pixel limit is checked right after Image.open reads the header; Pillow's lower,
# warning-based guard would only get in the way of that clear answer.
Image.MAX_IMAGE_PIXELS = None


def sniff_format(data: bytes) -> str | None:
    """Name of the accepted format the bytes start with, or None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data.startswith(b"BM") and len(data) >= 26:
        return "BMP"
    if data.startswith((b"II*\x00", b"MM\x00*")):
        return "TIFF"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return None


# OpenCV's decoders refuse (by raising) a side longer than this, whatever the pixel count.
MAX_SIDE = 1 << 20
# Opaque strokes on a mostly transparent canvas lighter than this (mean grey) are light ink:
# flattened onto black, not white.
LIGHT_STROKES = 160.0


def _check_size(width: int, height: int, max_pixels: int) -> None:
    if width <= 0 or height <= 0:
        raise UnsupportedImage("The image has no pixels.")
    if max(width, height) > MAX_SIDE:
        raise ImageTooLarge(
            f"Image is {width}x{height}; no side may be longer than {MAX_SIDE} pixels."
        )
    if width * height > max_pixels:
        raise ImageTooLarge(
            f"Image is {width}x{height} = {width * height} pixels; the limit is {max_pixels}."
        )


def _header(data: bytes, fmt: str, max_pixels: int) -> tuple[int, int, int]:
    """(width, height, EXIF orientation) from the header only; nothing is decoded yet."""
    if fmt == "PNG" and len(data) >= 24 and data[12:16] == b"IHDR":
        # PNG's size sits at a fixed offset and PNG has no orientation: no parser needed.
        width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        _check_size(width, height, max_pixels)
        return width, height, 1
    try:
        img = Image.open(io.BytesIO(data), formats=[fmt])
        width, height = img.size
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise UnsupportedImage(f"The upload looks like {fmt} but its header is corrupt.") from exc
    _check_size(width, height, max_pixels)
    orientation = 1
    if fmt in EXIF_FORMATS:
        try:
            orientation = int(img.getexif().get(EXIF_ORIENTATION, 1))
        except Exception:  # a broken EXIF block must not sink an otherwise good image
            orientation = 1
    return width, height, orientation


def _decode_with_pillow(data: bytes) -> np.ndarray | None:
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            if img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info:
                rgba = np.asarray(img.convert("RGBA"))
                return cv2.cvtColor(rgba, cv2.COLOR_RGBA2BGRA)
            if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
                return np.asarray(img)
            return np.asarray(img.convert("L"))
    except Exception:
        return None


def _to_gray_u8(img: np.ndarray) -> np.ndarray:
    """Any decoded array (gray, BGR, BGRA, 16-bit, float) -> uint8 gray, alpha on white."""
    if img.dtype == np.uint16:
        img = img.astype(np.float32) / 257.0
    elif img.dtype.kind == "f":
        img = np.nan_to_num(img.astype(np.float32))
        peak = float(img.max()) if img.size else 1.0
        img = img * (255.0 if peak <= 1.0 else 255.0 / peak)
    elif img.dtype != np.uint8:
        img = img.astype(np.float32)
    img = np.clip(img, 0, 255).astype(np.uint8) if img.dtype != np.uint8 else img
    if img.ndim == 2:
        return img
    channels = img.shape[2]
    if channels == 1:
        return img[:, :, 0]
    if channels == 2:  # gray + alpha
        return _flatten(img[:, :, 0], img[:, :, 1])
    if channels == 4:
        img = _flatten(img[:, :, :3], img[:, :, 3])
    return ink_gray(img[:, :, :3])


def ink_gray(bgr: np.ndarray) -> np.ndarray:
    """BGR -> uint8 gray: the luminance, or, where the writing stands out from the paper
    CHANNEL_GAIN times further in one colour channel (red or blue ink on brown or coloured
    paper), that channel brought to the luminance's paper level."""
    gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    step = max(1, round(np.sqrt(gray.size / SAMPLE_PIXELS)))
    sample = cv2.split(np.ascontiguousarray(bgr[::step, ::step]))
    spread = max(
        cv2.norm(sample[0], sample[1], cv2.NORM_INF), cv2.norm(sample[1], sample[2], cv2.NORM_INF)
    )
    if spread <= NEUTRAL:
        return gray  # gray saved as colour: no channel differs from the others
    paper, reach = _dark_reach(gray[::step, ::step])
    best, best_reach, best_paper = -1, max(CHANNEL_GAIN * reach, reach + CHANNEL_MARGIN), 0.0
    for c in range(3):
        c_paper, c_reach = _dark_reach(sample[c])
        if c_paper >= DARK_CHANNEL * paper and c_reach > best_reach:
            best, best_reach, best_paper = c, c_reach, c_paper
    if best < 0:
        return gray
    return cv2.convertScaleAbs(bgr[:, :, best], alpha=paper / max(best_paper, 1.0))


def _dark_reach(channel: np.ndarray) -> tuple[float, float]:
    """A channel's paper level (its median) and how far below it, as a share of it, the
    writing reaches (its darkest INK_SHARE of pixels): a share, since a shadow darkens every
    channel by the same share."""
    hist = np.bincount(channel.ravel(), minlength=256)
    paper = float(level_of_hist(hist, 0.5))
    return paper, (paper - level_of_hist(hist, INK_SHARE)) / max(paper, 1.0)


def _flatten(colour: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Gray or BGR and its alpha (uint8) flattened onto white; onto black where what is
    opaque is light strokes on a mostly transparent canvas (white ink drawn on nothing
    vanished on white)."""
    opaque = alpha >= 128
    light = False
    if opaque.any() and opaque.mean() < 0.5:
        shade = colour if colour.ndim == 2 else cv2.cvtColor(colour, cv2.COLOR_BGR2GRAY)
        light = float(shade[opaque].mean()) > LIGHT_STROKES
    a = alpha.astype(np.float32) / 255.0
    if colour.ndim == 3:
        a = a[:, :, None]
    under = 0.0 if light else 255.0
    return (colour.astype(np.float32) * a + under * (1.0 - a)).astype(np.uint8)


def _apply_orientation(img: np.ndarray, orientation: int) -> np.ndarray:
    """Honour EXIF orientation (1..8) as cameras write it."""
    if orientation == 2:
        return cv2.flip(img, 1)
    if orientation == 3:
        return cv2.rotate(img, cv2.ROTATE_180)
    if orientation == 4:
        return cv2.flip(img, 0)
    if orientation == 5:
        return cv2.transpose(img)
    if orientation == 6:
        return cv2.rotate(img, cv2.ROTATE_90_CLOCKWISE)
    if orientation == 7:
        return cv2.rotate(cv2.transpose(img), cv2.ROTATE_180)
    if orientation == 8:
        return cv2.rotate(img, cv2.ROTATE_90_COUNTERCLOCKWISE)
    return img


# Larger uploads always go to a worker thread, whatever their header says.
INLINE_MAX_BYTES = 1 << 20

# A colour channel is read instead of the luminance where the writing's darkest INK_SHARE
# of pixels reach below its paper, as a share of the paper's level, CHANNEL_GAIN times as
# far (and CHANNEL_MARGIN further): red ink on kraft paper stands out 1.3-1.8 times as far
# in green, blue ink 1.8-1.9 times in red; black ink, or blue on white, keeps the luminance.
# A channel whose paper is under DARK_CHANNEL of the luminance's is never read: its noise
# and its few levels reach far as a share of so little (yellow paper's blue).
INK_SHARE = 0.01
CHANNEL_GAIN, CHANNEL_MARGIN = 1.25, 0.05
DARK_CHANNEL = 0.5
# The levels are counted on a sample of about this many pixels; where no pixel of it
# differs between its channels by more than NEUTRAL levels, the image is gray.
SAMPLE_PIXELS = 65_536
NEUTRAL = 2


def is_small_image(data: bytes, max_pixels: int) -> bool:
    """Whether an upload is an accepted image of at most `max_pixels` pixels by its header
    (nothing decoded). Anything else, invalid uploads included, is not small."""
    fmt = sniff_format(data)
    if fmt is None or len(data) > INLINE_MAX_BYTES or max_pixels <= 0:
        return False
    try:
        _header(data, fmt, max_pixels)
    except ServiceError:
        return False
    return True


def decode_image(data: bytes, max_pixels: int) -> np.ndarray:
    """Upload bytes -> H x W uint8 grayscale; raises a ServiceError subclass on bad input."""
    if not data:
        raise EmptyUpload("The uploaded file is empty.")
    fmt = sniff_format(data)
    if fmt is None:
        raise UnsupportedImage("Not an accepted image; send PNG, JPEG, BMP, TIFF or WebP.")
    _width, _height, orientation = _header(data, fmt, max_pixels)
    try:
        img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    except cv2.error:  # a limit of OpenCV's own that the header check did not foresee
        img = None
    if img is None or img.size == 0:
        img = _decode_with_pillow(data)
    if img is None or img.size == 0:
        raise UnsupportedImage(f"The {fmt} image is truncated or corrupt and cannot be decoded.")
    if img.shape[0] * img.shape[1] > max_pixels:
        raise ImageTooLarge(f"Image has more than the limit of {max_pixels} pixels.")
    return _apply_orientation(_to_gray_u8(img), orientation)
