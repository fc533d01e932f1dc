"""The upload's image: the one-pass reader of plain forms agrees with Starlette's parser."""

import asyncio
import random

import httpx
import pytest
from starlette.datastructures import UploadFile
from starlette.requests import Request

from app.api.upload import boundary_of, plain_file_part
from tests.app.serving import BLANK_PNG

MAX_PARTS = 8


def encoded(files: object, data: dict[str, str] | None = None) -> tuple[bytes, bytes]:
    """(content type, body) of a form as an HTTP client encodes it."""
    req = httpx.Request("POST", "http://x/digits", files=files, data=data)
    return req.headers["content-type"].encode(), req.read()


def general(content_type: bytes, body: bytes) -> bytes | str | None:
    """What Starlette's parser finds in the form's `file` field (None: nothing)."""

    async def parse() -> bytes | str | None:
        async def receive() -> dict[str, object]:
            return {"type": "http.request", "body": body, "more_body": False}

        scope = {"type": "http", "method": "POST", "headers": [(b"content-type", content_type)]}
        async with Request(scope, receive).form() as form:
            part = form.get("file")
            return await part.read() if isinstance(part, UploadFile) else part

    return asyncio.run(parse())


def one_pass(content_type: bytes, body: bytes) -> bytes | None:
    boundary = boundary_of(content_type)
    assert boundary is not None
    return plain_file_part(body, boundary, MAX_PARTS)


def test_a_clients_upload_is_read_in_one_pass_as_the_parser_reads_it() -> None:
    ctype, body = encoded({"file": ("d.png", BLANK_PNG, "image/png")}, {"lang": "en"})
    assert one_pass(ctype, body) == general(ctype, body) == BLANK_PNG


def test_random_forms_read_alike_wherever_the_one_pass_reader_answers() -> None:
    """Forms of random parts (files, fields, bytes that look like delimiters): wherever the
    one-pass reader answers, Starlette's parser finds the same bytes in `file`."""
    rng = random.Random(0)
    answered = 0
    for _ in range(300):
        boundary = rng.choice(["b", "x" * 70, "----WebKitFormBoundary7MA4YWxk", "a'b(c)+_,-./:=?"])
        content = bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 64)))
        # Pieces of the delimiter inside the file: the reader must not cut there.
        content += rng.choice([b"", b"\r\n--", b"--" + boundary.encode(), b"\r\n\r\n", b"\r\n"])
        parts = [("file", (rng.choice(["d.png", "", "a;b.png"]), content))]
        parts += [
            ("note", (None, "x" * rng.randrange(3))) for _ in range(rng.randrange(0, MAX_PARTS))
        ]
        rng.shuffle(parts)
        req = httpx.Request(
            "POST",
            "http://x/",
            files=parts,
            headers={"content-type": f"multipart/form-data; boundary={boundary}"},
        )
        ctype, body = req.headers["content-type"].encode(), req.read()
        got = one_pass(ctype, body)
        if got is not None:
            answered += 1
            assert got == general(ctype, body) == content
    assert answered > 100


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (lambda b: b"preamble\r\n" + b, "a preamble"),
        (lambda b: b + b"more", "an epilogue"),
        (lambda b: b.replace(b'name="file"; filename="d.png"', b'name="file"'), "text in file"),
        (lambda b: b.replace(b'name="file"', b'name="image"'), "no file field"),
        (lambda b: b.replace(b"Content-Type: image/png", b"Content-Transfer-Encoding: x"), "hdr"),
        (lambda b: b.replace(b"d.png", b"d" * 5000 + b".png"), "a header line over 4 KiB"),
        (lambda b: b.replace(b"\r\n\r\n", b"\r\n", 1), "headers never end"),
        (lambda b: b[: b.rindex(b"--")], "no closing delimiter"),
    ],
)
def test_forms_out_of_the_ordinary_go_to_the_general_parser(change, why: str) -> None:
    ctype, body = encoded({"file": ("d.png", BLANK_PNG, "image/png")})
    assert one_pass(ctype, change(body)) is None, why


def test_a_second_file_or_too_many_parts_go_to_the_general_parser() -> None:
    two = [("file", ("a.png", BLANK_PNG)), ("file", ("b.png", BLANK_PNG))]
    assert one_pass(*encoded(two)) is None
    many = {f"f{i}": "x" for i in range(MAX_PARTS)}
    assert one_pass(*encoded({"file": ("d.png", BLANK_PNG)}, many)) is None
    other_file = {"file": ("d.png", BLANK_PNG), "extra": ("e.png", b"x")}
    assert one_pass(*encoded(other_file)) is None


@pytest.mark.parametrize(
    ("header", "boundary"),
    [
        (b"multipart/form-data; boundary=abc", b"abc"),
        (b'multipart/form-data; boundary="a b"', b"a b"),
        (b"Multipart/Form-Data;boundary=abc", b"abc"),
        (b"multipart/form-data; boundary=abc; charset=utf-8", None),
        (b"multipart/form-data", None),
        (b"application/x-www-form-urlencoded", None),
        (b"multipart/form-data; boundary=" + b"a" * 71, None),
        (b"", None),
    ],
)
def test_boundary_of_plain_multipart_content_types(header: bytes, boundary: bytes | None) -> None:
    assert boundary_of(header) == boundary


def test_uploads_are_read_either_way_through_the_api(client, t10k, monkeypatch) -> None:
    """A client's plain upload is read in one pass; with a charset in its content type it
    goes to the general parser; both read the same digits."""
    from app.api import upload
    from tests.conftest import digit_row, encode

    calls = []
    parse = upload._general_form_file

    async def counted(*args: object) -> bytes:
        calls.append(1)
        return await parse(*args)

    monkeypatch.setattr(upload, "_general_form_file", counted)
    page, text = digit_row(t10k, [11, 12, 13])
    ctype, body = encoded({"file": ("d.png", encode(page), "image/png")})
    for header, parsed in ((ctype, 0), (ctype + b"; charset=utf-8", 1)):
        r = client.post("/digits", content=body, headers={"content-type": header.decode()})
        assert r.status_code == 200 and r.json()["text"] == text
        assert len(calls) == parsed
