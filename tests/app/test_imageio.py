"""Upload decoding: accepted formats, bit depths, alpha, EXIF, and refusals."""

import io

import cv2
import numpy as np
import pytest
from PIL import Image

from app.core.errors import EmptyUpload, ImageTooLarge, UnsupportedImage
from app.vision.imageio import decode_image, is_small_image, sniff_format
from tests.conftest import encode
from tests.hostile import png_header

LIMIT = 40_000_000


def page() -> np.ndarray:
    """A white page with one dark stroke in the upper-left quarter (to track orientation)."""
    img = np.full((40, 60), 255, np.uint8)
    img[5:15, 5:10] = 0
    return img


@pytest.mark.parametrize("ext", [".png", ".jpg", ".bmp", ".tiff", ".webp"])
def test_decode_image_reads_every_accepted_format(ext: str) -> None:
    gray = decode_image(encode(page(), ext), LIMIT)
    assert gray.shape == (40, 60) and gray.dtype == np.uint8
    assert gray[10, 7] < 60 and gray[30, 40] > 200


def test_decode_image_reads_colour_as_gray() -> None:
    bgr = cv2.cvtColor(page(), cv2.COLOR_GRAY2BGR)
    bgr[5:15, 5:10] = (200, 30, 30)  # blue ink
    gray = decode_image(encode(bgr), LIMIT)
    assert gray[10, 7] < 120 and gray[30, 40] > 200


@pytest.mark.parametrize(("ink", "channel"), [((40, 40, 200), 1), ((170, 60, 20), 2)])
def test_coloured_ink_on_coloured_paper_is_read_in_the_channel_it_stands_out_in(
    ink: tuple[int, int, int], channel: int
) -> None:
    # Red ink on kraft paper stands out in green, blue ink in red, far more than in the
    # luminance (red on kraft: 157 -> 88 there, where a binariser saw no writing at all).
    bgr = np.empty((40, 60, 3), np.uint8)
    bgr[:] = (95, 150, 195)
    bgr[5:15, 5:10] = ink
    lum = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY).astype(int)
    gray = decode_image(encode(bgr), LIMIT).astype(int)
    assert abs(gray[30, 40] - lum[30, 40]) <= 2  # the paper as light as before
    assert gray[30, 40] - gray[10, 7] >= 1.4 * (lum[30, 40] - lum[10, 7])
    picked = bgr[:, :, channel].astype(float) * lum[30, 40] / bgr[30, 40, channel]
    assert np.abs(gray - picked).max() <= 1


@pytest.mark.parametrize("ink", [(0, 0, 0), (200, 30, 30), (150, 60, 40)])
def test_black_or_blue_ink_on_white_keeps_the_luminance(ink: tuple[int, int, int]) -> None:
    bgr = cv2.cvtColor(page(), cv2.COLOR_GRAY2BGR)
    bgr[5:15, 5:10] = ink
    assert (decode_image(encode(bgr), LIMIT) == cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)).all()


def test_decode_image_scales_16_bit() -> None:
    img16 = page().astype(np.uint16) * 257
    gray = decode_image(encode(img16), LIMIT)
    assert gray[30, 40] == 255 and gray[10, 7] == 0


def test_decode_image_flattens_alpha_onto_white() -> None:
    rgba = np.zeros((40, 60, 4), np.uint8)  # transparent black everywhere ...
    rgba[5:15, 5:10, 3] = 255  # ... except an opaque black stroke
    gray = decode_image(encode(rgba), LIMIT)
    assert gray[30, 40] == 255 and gray[10, 7] == 0


@pytest.mark.parametrize("mode", ["RGBA", "LA"])
def test_light_strokes_on_a_transparent_canvas_are_flattened_onto_black(mode: str) -> None:
    # White ink drawn on nothing (a dark-themed drawing app's export) vanished on white.
    rgba = np.zeros((40, 60, 4), np.uint8)
    rgba[..., :3] = 255  # white everywhere, transparent ...
    rgba[5:15, 5:10, 3] = 255  # ... except an opaque white stroke
    buf = io.BytesIO()
    Image.fromarray(rgba).convert(mode).save(buf, format="PNG")
    gray = decode_image(buf.getvalue(), LIMIT)
    assert gray[30, 40] == 0 and gray[10, 7] == 255


def test_a_mostly_opaque_light_image_keeps_white_under_its_transparent_parts() -> None:
    # A photo of paper with transparent corners: no strokes on a canvas, so white, as always.
    rgba = np.full((40, 60, 4), 230, np.uint8)
    rgba[..., 3] = 255
    rgba[:5, :5, 3] = 0
    gray = decode_image(encode(rgba), LIMIT)
    assert gray[0, 0] == 255 and gray[30, 40] == 230


def test_decode_image_reads_palette_png() -> None:
    buf = io.BytesIO()
    Image.fromarray(page()).convert("P").save(buf, format="PNG")
    gray = decode_image(buf.getvalue(), LIMIT)
    assert gray[10, 7] < 60 and gray[30, 40] > 200


def test_decode_image_honours_exif_orientation() -> None:
    buf = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: rotate 90 degrees clockwise to display
    Image.fromarray(page()).save(buf, format="JPEG", exif=exif, quality=95)
    gray = decode_image(buf.getvalue(), LIMIT)
    assert gray.shape == (60, 40)
    # The stroke in the upper-left of the stored image is in the upper-right once displayed.
    assert gray[7, 40 - 10] < 100


@pytest.mark.parametrize(
    "data",
    [
        b"GIF89a" + b"\x00" * 40,
        b"%PDF-1.7\n" + b"\x00" * 40,
        b"<svg xmlns='http://www.w3.org/2000/svg'></svg>",
        b"v/1\x01" + b"\x00" * 40,  # OpenEXR
        b"#?RADIANCE\n" + b"\x00" * 40,
        b"PF\n1 1\n-1\n" + b"\x00" * 4,
        bytes(range(256)),
    ],
)
def test_decode_image_refuses_formats_outside_the_allowlist(data: bytes) -> None:
    assert sniff_format(data) is None
    with pytest.raises(UnsupportedImage):
        decode_image(data, LIMIT)


def test_decode_image_refuses_empty_upload() -> None:
    with pytest.raises(EmptyUpload):
        decode_image(b"", LIMIT)


def test_decode_image_refuses_truncated_png() -> None:
    data = encode(np.random.default_rng(0).integers(0, 255, (200, 200), np.uint8))
    with pytest.raises(UnsupportedImage):
        decode_image(data[: len(data) // 3], LIMIT)


def test_decode_image_refuses_pixel_bombs_from_the_header() -> None:
    with pytest.raises(ImageTooLarge):
        decode_image(png_header(100_000, 100_000), LIMIT)


def test_decode_image_applies_a_lower_pixel_limit() -> None:
    with pytest.raises(ImageTooLarge):
        decode_image(encode(page()), max_pixels=1000)


def test_is_small_image_reads_only_the_header() -> None:
    small = encode(np.full((100, 200), 255, np.uint8))
    assert is_small_image(small, 250_000)
    assert not is_small_image(small, 19_999)  # 100 x 200 = 20,000 pixels
    assert not is_small_image(small, 0)  # 0 turns inline reading off
    assert not is_small_image(encode(np.full((600, 600), 255, np.uint8), ".jpg"), 250_000)
    assert not is_small_image(png_header(100_000, 100_000), 250_000)  # a bomb by its header
    assert not is_small_image(b"GIF89a" + bytes(100), 250_000)  # not an accepted format
    assert not is_small_image(small + bytes(1 << 20), 250_000)  # over 1 MiB: a worker thread
