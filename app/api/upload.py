"""The image of an upload: the `file` part of a multipart form.

Most uploads are a plain form: one file part, perhaps a few short fields. Such a body is
taken apart here in one pass over its bytes (`plain_file_part`); Starlette's general parser
(python-multipart behind `Request.form`) costs about 0.4 ms more per request, as much as
decoding the image. Anything else - another content type, a preamble, unusual part headers,
the field missing or given twice, more parts than allowed - goes to Starlette's parser, whose
answers (and limits) are the service's.
"""

import re

from fastapi import Request
from starlette.datastructures import UploadFile

from app.core.errors import EmptyUpload, MissingUpload

FIELD = "file"
# The boundary of a multipart/form-data content type: RFC 2046's characters, 1-70 of them,
# quoted or not. Anything else in the header (another parameter) goes to the general parser.
_CONTENT_TYPE = re.compile(
    rb'multipart/form-data; *boundary=(?:"([0-9A-Za-z\'()+_,./:=? -]{1,70})"'
    rb"|([0-9A-Za-z'()+_,./:=?-]{1,70}))",
    re.IGNORECASE,
)
# A part's headers: its disposition (name, and filename for a file), and optionally a type.
_DISPOSITION = re.compile(
    rb'content-disposition: *form-data; *name="([^"\\\r\n]*)"(?:; *filename="([^"\\\r\n]*)")?',
    re.IGNORECASE,
)
_CONTENT_TYPE_LINE = re.compile(rb"content-type: *[!-~]+", re.IGNORECASE)
# Beyond these the general parser refuses the form (python-multipart's header line limit,
# Starlette's limit on a plain field): it answers them.
MAX_HEADER_LINE = 4096
MAX_FIELD_BYTES = 1024 * 1024

# OpenAPI's description of the body: the route reads it itself, so FastAPI cannot infer it.
OPENAPI_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "title": "Upload",
                    "required": [FIELD],
                    "properties": {
                        FIELD: {
                            "type": "string",
                            "format": "binary",
                            "contentMediaType": "application/octet-stream",
                            "title": "File",
                            "description": "The image: PNG, JPEG, BMP, TIFF or WebP.",
                        }
                    },
                }
            }
        },
    }
}


def boundary_of(content_type: bytes) -> bytes | None:
    """The boundary of a plain multipart/form-data content type; None for anything else."""
    m = _CONTENT_TYPE.fullmatch(content_type.strip())
    return None if m is None else (m.group(1) or m.group(2))


def plain_file_part(body: bytes, boundary: bytes, max_parts: int) -> bytes | None:
    """The content of the one file part named `file` of a plain multipart body: no preamble,
    at most `max_parts` parts, each with a form-data disposition (and optionally a type) as
    its only headers, within the general parser's limits, the delimiter nowhere but between
    parts. None where the body is anything else: the general parser then decides."""
    opening = b"--" + boundary + b"\r\n"
    closing = b"\r\n--" + boundary + b"--"
    if not body.startswith(opening):
        return None
    end = body.find(closing)
    # After the close only an epilogue of at most a line break (what clients send).
    if end < 0 or body[end + len(closing) :] not in (b"", b"\r\n"):
        return None
    inner = body[len(opening) : end]
    parts = inner.split(b"\r\n--" + boundary + b"\r\n")
    # (A boundary holds no line break, so its delimiters cannot overlap: count is exact.)
    if len(parts) > max_parts or inner.count(b"\r\n--" + boundary) != len(parts) - 1:
        return None  # too many parts for the limits, or a delimiter out of place
    found = None
    for part in parts:
        head, sep, content = part.partition(b"\r\n\r\n")
        if not sep:
            return None
        lines = head.split(b"\r\n")
        if max(map(len, lines)) > MAX_HEADER_LINE:
            return None
        disposition = _DISPOSITION.fullmatch(lines[0])
        if disposition is None or not all(_CONTENT_TYPE_LINE.fullmatch(h) for h in lines[1:]):
            return None
        name, filename = disposition.groups()
        if name == FIELD.encode():
            if filename is None or found is not None:
                return None  # text in `file`, or two files: the general parser's answer
            found = content
        elif filename is not None or len(content) > MAX_FIELD_BYTES:
            return None  # files count against their own limit: let the parser judge them
    return found


async def read_upload(request: Request, max_parts: int) -> bytes:
    """The uploaded image's bytes: in memory (the body limit bounds them), never empty."""
    boundary = boundary_of(request.headers.get("content-type", "").encode("latin-1"))
    data = None
    if boundary is not None:
        data = plain_file_part(await request.body(), boundary, max_parts)
    if data is None:
        data = await _general_form_file(request, max_parts)
    if not data:
        raise EmptyUpload("The uploaded file is empty.")
    return data


async def _general_form_file(request: Request, max_parts: int) -> bytes:
    """The `file` part by Starlette's parser (its parse errors answer 400)."""
    async with request.form(max_files=max_parts, max_fields=max_parts) as form:
        part = form.get(FIELD)
        if part is None:
            raise MissingUpload(f"{FIELD}: Field required")
        if not isinstance(part, UploadFile):
            raise MissingUpload(
                f"{FIELD}: expected an uploaded file (multipart form field `{FIELD}`)"
            )
        return await part.read()
