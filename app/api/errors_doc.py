"""Error answers shared by the upload endpoints, for the OpenAPI page."""

from typing import Any

from app.schemas import ErrorResponse

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "Empty upload or unreadable form."},
    413: {
        "model": ErrorResponse,
        "description": "Body over HWR_MAX_UPLOAD_BYTES or image over HWR_MAX_PIXELS.",
    },
    415: {
        "model": ErrorResponse,
        "description": "Not a PNG, JPEG, BMP, TIFF or WebP image, or corrupt.",
    },
    422: {"model": ErrorResponse, "description": "Missing `file` field, or too many characters."},
}
