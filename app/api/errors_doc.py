"""Error answers shared by the upload endpoints, for the OpenAPI page."""

from typing import Any

from app.schemas import ErrorResponse

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {
        "model": ErrorResponse,
        "description": "Empty upload, unreadable form, or more than HWR_MAX_FORM_PARTS parts.",
    },
    413: {
        "model": ErrorResponse,
        "description": "Body over HWR_MAX_UPLOAD_BYTES or image over HWR_MAX_PIXELS.",
    },
    415: {
        "model": ErrorResponse,
        "description": "Not a PNG, JPEG, BMP, TIFF or WebP image, or corrupt.",
    },
    422: {"model": ErrorResponse, "description": "Missing `file` field, or too many characters."},
    503: {
        "model": ErrorResponse,
        "description": "Busy: every slot taken and HWR_MAX_QUEUE waiting; see Retry-After.",
    },
    504: {"model": ErrorResponse, "description": "Not done within HWR_REQUEST_TIMEOUT_S."},
}
