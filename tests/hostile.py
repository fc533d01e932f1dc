"""Hostile and odd uploads for the upload endpoints, each with the answer class it must get.

Every case is a name, a factory of request keyword arguments for httpx / TestClient
(`files`, `data`, `content`, `headers`, `params`) and the expected answer: "ok" (200), "4xx"
(any 4xx) or one exact status code. The factory builds fresh arguments on every call because
streamed bodies (generators) can be sent only once.

    python -m tests.hostile OUT_DIR   # writes each upload and each raw request to OUT_DIR
"""

import gzip
import io
import json
import struct
import sys
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np
from PIL import Image

from app.core.config import Settings
from tests.conftest import ASSETS, digit_row, encode
from training import mnist

# The body limit the service runs with (HWR_MAX_UPLOAD_BYTES); the over-limit cases exceed it.
MAX_UPLOAD_BYTES = Settings().max_upload_bytes
BOUNDARY = "hostileboundary"

Request = dict[str, Any]


@dataclass(frozen=True)
class Hostile:
    """One hostile input: how to send it and which answer it must get."""

    name: str
    request: Callable[[], Request]
    expect: str | int  # "ok", "4xx" or an exact status code
    upload: bytes | None = None  # the file alone, when the case is one file in field `file`


def expected(expect: str | int, status: int) -> bool:
    """Whether `status` is of the expected answer class."""
    if expect == "ok":
        return status == 200
    if expect == "4xx":
        return 400 <= status < 500
    return status == expect


# --- real images ------------------------------------------------------------------------------


@cache
def _t10k() -> tuple[np.ndarray, np.ndarray]:
    return mnist.load("t10k", ASSETS / "mnist")


@cache
def page() -> np.ndarray:
    """Four real MNIST t10k digits ("0123") dark on white: a line of handwriting."""
    img, _text = digit_row(_t10k(), [3, 2, 1, 18])
    return cv2.resize(img, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)


def _pil(img: Image.Image, fmt: str, **params: Any) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **params)
    return buf.getvalue()


def png_page() -> bytes:
    return encode(page())


def jpeg_page() -> bytes:
    return encode(page(), ".jpg", [cv2.IMWRITE_JPEG_QUALITY, 90])


# --- hand-built headers -----------------------------------------------------------------------


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    return (
        struct.pack(">I", len(payload))
        + kind
        + payload
        + struct.pack(">I", zlib.crc32(kind + payload))
    )


def png_bomb(width: int, height: int, rows: int = 64) -> bytes:
    """8-bit gray PNG claiming width x height; IDAT holds `rows` rows of zeros, compressed."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    z = zlib.compressobj(9)
    row = b"\x00" * (width + 1)  # filter byte + pixels
    idat = b"".join(z.compress(row) for _ in range(rows)) + z.flush()
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", idat)
        + png_chunk(b"IEND", b"")
    )


def png_header(width: int, height: int) -> bytes:
    """A PNG claiming width x height with one byte of image data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", zlib.compress(b"\x00"))
        + png_chunk(b"IEND", b"")
    )


def png_bad_crc() -> bytes:
    data = bytearray(png_page())
    data[29:33] = bytes(b ^ 0xFF for b in data[29:33])  # IHDR's CRC
    return bytes(data)


def png_ztxt_bomb() -> bytes:
    """A valid page with a zTXt chunk that inflates to 64 MiB (text-chunk bomb)."""
    data = png_page()
    text = b"Comment\x00\x00" + zlib.compress(b"\x00" * (64 << 20), 9)
    return data[:33] + png_chunk(b"zTXt", text) + data[33:]


def bmp_header(width: int, height: int) -> bytes:
    """24-bit BMP headers claiming width x height, followed by a few bytes of pixels."""
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, 0, 2835, 2835, 0, 0)
    pixels = b"\x00" * 64
    head = b"BM" + struct.pack("<IHHI", 14 + len(info) + len(pixels), 0, 0, 14 + len(info))
    return head + info + pixels


def tiff_header(width: int, height: int) -> bytes:
    """Little-endian 8-bit gray TIFF claiming width x height, one strip of 8 bytes."""
    entries = [
        (256, 4, 1, width),  # ImageWidth, LONG
        (257, 4, 1, height),  # ImageLength
        (258, 3, 1, 8),  # BitsPerSample, SHORT
        (259, 3, 1, 1),  # Compression: none
        (262, 3, 1, 1),  # Photometric: black is zero
        (273, 4, 1, 0),  # StripOffsets, patched below
        (278, 4, 1, height),  # RowsPerStrip
        (279, 4, 1, 8),  # StripByteCounts
    ]
    ifd_size = 2 + 12 * len(entries) + 4
    strip_at = 8 + ifd_size
    ifd = struct.pack("<H", len(entries))
    for tag, kind, count, value in entries:
        value = strip_at if tag == 273 else value
        ifd += struct.pack("<HHII", tag, kind, count, value)
    return b"II*\x00" + struct.pack("<I", 8) + ifd + struct.pack("<I", 0) + b"\x00" * 8


def tiff_ifd_loop() -> bytes:
    """A real TIFF whose first IFD's next-IFD pointer points back at itself."""
    data = bytearray(_pil(Image.fromarray(page()), "TIFF"))
    ifd = struct.unpack("<I", data[4:8])[0]
    count = struct.unpack("<H", data[ifd : ifd + 2])[0]
    data[ifd + 2 + 12 * count : ifd + 6 + 12 * count] = struct.pack("<I", ifd)
    return bytes(data)


def webp_header(width: int, height: int) -> bytes:
    """A WebP container whose VP8X chunk claims a width x height canvas and holds no image."""
    vp8x = (
        b"\x00\x00\x00\x00" + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    )
    body = b"WEBP" + b"VP8X" + struct.pack("<I", len(vp8x)) + vp8x
    return b"RIFF" + struct.pack("<I", len(body)) + body


def jpeg_header(width: int, height: int) -> bytes:
    """A real JPEG whose SOF marker is rewritten to claim width x height."""
    data = bytearray(jpeg_page())
    at = data.index(b"\xff\xc0")
    data[at + 5 : at + 9] = struct.pack(">HH", height, width)
    return bytes(data)


# --- real images in odd encodings -------------------------------------------------------------


def png_16bit() -> bytes:
    return encode(page().astype(np.uint16) * 257)


def png_palette() -> bytes:
    return _pil(Image.fromarray(page()).convert("P"), "PNG")


def png_alpha() -> bytes:
    """Ink opaque black, paper fully transparent black: only alpha tells them apart."""
    rgba = np.zeros((*page().shape, 4), np.uint8)
    rgba[:, :, 3] = 255 - page()
    return encode(rgba)


def png_gray_alpha() -> bytes:
    la = np.stack([page(), np.full_like(page(), 255)], axis=2)
    return _pil(Image.fromarray(la, "LA"), "PNG")


def tiff_multi_frame() -> bytes:
    first = Image.fromarray(page())
    return _pil(first, "TIFF", save_all=True, append_images=[first.rotate(180)] * 2)


def jpeg_cmyk() -> bytes:
    return _pil(Image.fromarray(page()).convert("CMYK"), "JPEG", quality=90)


def jpeg_progressive() -> bytes:
    return _pil(Image.fromarray(page()), "JPEG", quality=90, progressive=True)


def jpeg_exif_rotated() -> bytes:
    """Stored sideways with EXIF orientation 6, so it displays upright."""
    exif = Image.Exif()
    exif[0x0112] = 6
    stored = cv2.rotate(page(), cv2.ROTATE_90_COUNTERCLOCKWISE)
    return _pil(Image.fromarray(stored), "JPEG", quality=90, exif=exif)


def gif_page() -> bytes:
    return _pil(Image.fromarray(page()), "GIF")


def zip_archive() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("page.png", png_page())
    return buf.getvalue()


# --- multipart by hand ------------------------------------------------------------------------


def multipart(
    parts: list[tuple[bytes, bytes]], boundary: str = BOUNDARY, close: bool = True
) -> bytes:
    """A multipart body from (Content-Disposition parameters, payload) pairs, bytes as given."""
    out = b""
    for disposition, payload in parts:
        out += f"--{boundary}\r\n".encode() + b"Content-Disposition: form-data; " + disposition
        out += b"\r\nContent-Type: application/octet-stream\r\n\r\n" + payload + b"\r\n"
    return out + (f"--{boundary}--\r\n".encode() if close else b"")


def raw(body: bytes, boundary: str = BOUNDARY, **headers: str) -> Request:
    return {
        "content": body,
        "headers": {"content-type": f"multipart/form-data; boundary={boundary}", **headers},
    }


def upload(data: bytes, filename: str = "page.png", content_type: str = "image/png") -> Request:
    return {"files": {"file": (filename, data, content_type)}}


def chunked_over_limit() -> Request:
    """A streamed (chunked, no Content-Length) body that never stops below the limit."""

    def chunks() -> Iterator[bytes]:
        yield multipart([(b'name="file"; filename="x.png"', b"")], close=False)[:-2]
        yield b"\x89PNG\r\n\x1a\n"
        for _ in range(MAX_UPLOAD_BYTES // 65536 + 2):
            yield b"\x00" * 65536

    return {
        "content": chunks(),
        "headers": {"content-type": f"multipart/form-data; boundary={BOUNDARY}"},
    }


def over_limit_body() -> bytes:
    return multipart([(b'name="file"; filename="x.png"', png_page() + b"\x00" * MAX_UPLOAD_BYTES)])


# --- the catalogue ----------------------------------------------------------------------------


def _file_case(name: str, make: Callable[[], bytes], expect: str | int, **kw: str) -> Hostile:
    data = make()
    return Hostile(name, lambda: upload(data, **kw), expect, data)


@cache
def cases() -> tuple[Hostile, ...]:
    """Every hostile input, in a fixed order."""
    good = png_page()
    random_bytes = np.random.default_rng(0).integers(0, 256, 4096, np.uint8).tobytes()
    jpeg = jpeg_page()
    f = _file_case
    return (
        # pixel bombs: tiny files whose headers claim billions of pixels
        f("png_bomb_100000x100000", lambda: png_bomb(100_000, 100_000), 413),
        f("png_header_4294967295_square", lambda: png_header(2**32 - 1, 2**32 - 1), 413),
        f("png_just_over_pixel_limit", lambda: png_header(6325, 6325), 413),
        f("png_zero_width", lambda: png_header(0, 100), 415),
        f("bmp_header_100000x100000", lambda: bmp_header(100_000, 100_000), 413),
        f("tiff_header_100000x100000", lambda: tiff_header(100_000, 100_000), 413),
        f("webp_header_16777216_square", lambda: webp_header(2**24, 2**24), "4xx"),
        f("jpeg_header_65000x65000", lambda: jpeg_header(65_000, 65_000), 413),
        # few pixels, but a side longer than OpenCV's decoders take (they raise)
        f("bmp_side_1100000", lambda: encode(np.zeros((1, 1_100_000), np.uint8), ".bmp"), 413),
        # libpng caps text chunks, so the bomb never inflates and the page reads
        f("png_ztxt_bomb", png_ztxt_bomb, "ok"),
        # broken files of accepted formats
        f("png_truncated", lambda: good[: len(good) // 2], 415),
        f("jpeg_truncated", lambda: jpeg[: len(jpeg) // 2], 415),
        f("png_bad_ihdr_crc", png_bad_crc, 415),
        f("png_signature_then_html", lambda: b"\x89PNG\r\n\x1a\n<html></html>", 415),
        f("tiff_ifd_loop", tiff_ifd_loop, "ok"),
        # not images, or formats refused by magic bytes
        f("random_bytes", lambda: random_bytes, 415),
        f(
            "html",
            lambda: b"<!doctype html><script>alert(1)</script>",
            415,
            content_type="text/html",
        ),
        f("zip", zip_archive, 415, filename="page.zip", content_type="application/zip"),
        f("pdf", lambda: b"%PDF-1.7\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n", 415),
        f("svg", lambda: b'<svg xmlns="http://www.w3.org/2000/svg"><script>1</script></svg>', 415),
        f("exr_magic", lambda: b"v/1\x01" + b"\x00" * 64, 415),
        f(
            "hdr_magic",
            lambda: b"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y 1 +X 1\n\x00\x00\x00\x00",
            415,
        ),
        f("pfm_magic", lambda: b"PF\n1 1\n-1\n" + b"\x00" * 12, 415),
        f("gif", gif_page, 415),
        f("heic_ftyp", lambda: b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", 415),
        f("empty_file", lambda: b"", 400),
        # odd but valid images: all must be read
        f("one_by_one", lambda: encode(np.full((1, 1), 255, np.uint8)), "ok"),
        f("strip_1x20000", lambda: encode(np.full((1, 20_000), 255, np.uint8)), "ok"),
        f("strip_20000x1", lambda: encode(np.full((20_000, 1), 255, np.uint8)), "ok"),
        f("all_white", lambda: encode(np.full((300, 400), 255, np.uint8)), "ok"),
        f("all_black", lambda: encode(np.zeros((300, 400), np.uint8)), "ok"),
        f(
            "noise",
            lambda: encode(np.random.default_rng(1).integers(0, 256, (200, 300), np.uint8)),
            "ok",
        ),
        f("png_16bit", png_16bit, "ok"),
        f("png_palette", png_palette, "ok"),
        f("png_alpha", png_alpha, "ok"),
        f("png_gray_alpha", png_gray_alpha, "ok"),
        f("tiff_multi_frame", tiff_multi_frame, "ok"),
        f("jpeg_cmyk", jpeg_cmyk, "ok"),
        f("jpeg_progressive", jpeg_progressive, "ok"),
        f("jpeg_exif_rotated", jpeg_exif_rotated, "ok"),
        f("jpeg_labelled_png", jpeg_page, "ok", filename="page.png", content_type="image/png"),
        f(
            "png_labelled_exe",
            png_page,
            "ok",
            filename="setup.exe",
            content_type="application/x-msdownload",
        ),
        f("filename_path_traversal", png_page, "ok", filename="../../../../etc/passwd"),
        f("filename_4000_chars", png_page, "ok", filename="a" * 4000 + ".png"),
        # python-multipart refuses a part header line over 4 KiB
        f("filename_10000_chars", png_page, 400, filename="a" * 10_000 + ".png"),
        f(
            "filename_unicode_garbage",
            png_page,
            "ok",
            filename="\u202egnp.exe\ufffd\U0001f4a9\u0301\u200b.png",
        ),
        # request shapes
        Hostile("no_body", lambda: {}, 422),
        Hostile(
            "wrong_field_name", lambda: {"files": {"image": ("page.png", good, "image/png")}}, 422
        ),
        Hostile("file_as_text_field", lambda: {"data": {"file": "not a file"}}, 422),
        Hostile(
            "two_files",
            lambda: {"files": [("file", ("a.png", good)), ("file", ("b.png", good))]},
            "ok",
        ),
        Hostile(
            "thousands_of_form_fields",
            lambda: {
                "data": {f"f{i}": "x" for i in range(5000)},
                "files": {"file": ("p.png", good)},
            },
            400,
        ),
        Hostile(
            "thousands_of_files",
            lambda: {"files": [("f", ("x.png", b"x"))] * 1500 + [("file", ("p.png", good))]},
            400,
        ),
        Hostile(
            "text_field_over_part_limit",
            lambda: {"data": {"note": "x" * (2 << 20)}, "files": {"file": ("p.png", good)}},
            400,
        ),
        Hostile("json_body", lambda: {"json": {"file": "iVBORw0KGgo="}}, 422),
        Hostile(
            "urlencoded_body",
            lambda: {
                "content": b"file=abc",
                "headers": {"content-type": "application/x-www-form-urlencoded"},
            },
            422,
        ),
        Hostile(
            "wrong_content_type_json",
            lambda: {**upload(good), "headers": {"content-type": "application/json"}},
            "4xx",
        ),
        Hostile(
            "multipart_without_boundary",
            lambda: {"content": good, "headers": {"content-type": "multipart/form-data"}},
            400,
        ),
        Hostile(
            "multipart_boundary_mismatch",
            lambda: raw(multipart([(b'name="file"; filename="p.png"', good)], "other"), BOUNDARY),
            "4xx",
        ),
        Hostile(
            "multipart_unterminated",
            lambda: raw(multipart([(b'name="file"; filename="p.png"', good)], close=False)),
            "4xx",
        ),
        # RFC 2046 allows 70 characters; python-multipart refuses more than 256
        Hostile(
            "multipart_boundary_5000_chars",
            lambda: raw(
                multipart([(b'name="file"; filename="p.png"', good)], "b" * 5000), "b" * 5000
            ),
            400,
        ),
        # python-multipart refuses more than 8 headers in one part
        Hostile(
            "part_with_50_headers",
            lambda: raw(multipart([(b'name="file"; filename="p.png"' + b"\r\nX-A: 1" * 50, good)])),
            400,
        ),
        Hostile("multipart_garbage", lambda: raw(random_bytes), "4xx"),
        Hostile(
            "nul_in_field_name",
            lambda: raw(multipart([(b'name="fi\x00le"; filename="p.png"', good)])),
            422,
        ),
        Hostile(
            "nul_in_filename",
            lambda: raw(multipart([(b'name="file"; filename="p\x00.png"', good)])),
            "ok",
        ),
        Hostile("nul_bytes_text_field", lambda: {"data": {"file": "\x00" * 256}}, 422),
        Hostile(
            "gzip_encoded_body",
            lambda: raw(
                gzip.compress(multipart([(b'name="file"; filename="p.png"', good)])),
                **{"content-encoding": "gzip"},
            ),
            "4xx",
        ),
        # the body limit
        Hostile("body_over_limit", lambda: raw(over_limit_body()), 413),
        Hostile("chunked_body_over_limit", chunked_over_limit, 413),
        Hostile(
            "lying_small_content_length",
            lambda: raw(over_limit_body(), **{"content-length": "1000"}),
            413,
        ),
        Hostile(
            "lying_huge_content_length",
            lambda: raw(
                multipart([(b'name="file"; filename="p.png"', good)]),
                **{"content-length": str(10**12)},
            ),
            413,
        ),
        # other headers and query strings
        Hostile(
            "odd_query_params",
            lambda: {**upload(good), "params": {"__proto__": "<script>", "x": "../" * 50}},
            "ok",
        ),
        Hostile(
            "accept_xml", lambda: {**upload(good), "headers": {"accept": "application/xml"}}, "ok"
        ),
        Hostile("header_64k", lambda: {**upload(good), "headers": {"x-junk": "j" * 65536}}, "ok"),
    )


def raw_request(kwargs: Request, path: str = "/digits") -> bytes | None:
    """The HTTP/1.1 request bytes httpx would send for `kwargs`, None for a streamed body."""
    if "content" in kwargs and not isinstance(kwargs["content"], bytes):
        return None
    request = httpx.Request("POST", f"http://127.0.0.1{path}", **kwargs)
    head = f"POST {path} HTTP/1.1\r\n".encode()
    head += b"".join(k + b": " + v + b"\r\n" for k, v in request.headers.raw)
    return head + b"\r\n" + request.read()


def write(out: Path) -> list[str]:
    """Write each case's upload (NAME.bin) and raw request (NAME.http) under `out`."""
    out.mkdir(parents=True, exist_ok=True)
    index = []
    for case in cases():
        if case.upload is not None:
            (out / f"{case.name}.bin").write_bytes(case.upload)
        req = raw_request(case.request())
        if req is not None:
            (out / f"{case.name}.http").write_bytes(req)
        index.append({"name": case.name, "expect": case.expect})
    (out / "index.json").write_text(json.dumps(index, indent=1))
    return [c["name"] for c in index]


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m tests.hostile OUT_DIR")
    print(f"{len(write(Path(sys.argv[1])))} cases written to {sys.argv[1]}")
