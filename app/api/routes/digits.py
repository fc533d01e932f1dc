"""POST /digits: every handwritten digit in an image."""

import time

from fastapi import APIRouter

from app.api.deps import DigitReaderDep, PipelineRunnerDep, SettingsDep, UploadDep
from app.api.errors_doc import ERROR_RESPONSES
from app.api.responses import FastJSONResponse
from app.api.upload import OPENAPI_BODY
from app.digits.reader import DigitReader, digits_text
from app.schemas import DigitsResponse
from app.vision.imageio import decode_image, is_small_image

router = APIRouter(tags=["digits"])


@router.post(
    "/digits", response_model=DigitsResponse, responses=ERROR_RESPONSES, openapi_extra=OPENAPI_BODY
)
async def read_digits(
    reader: DigitReaderDep, settings: SettingsDep, upload: UploadDep, run: PipelineRunnerDep
) -> FastJSONResponse:
    """Read every handwritten digit in the uploaded image (multipart field `file`).

    Digits are found by connected components (fragments merged, touching digits split),
    grouped into rows, and read by LeNet-5. Rows come top to bottom, digits left to right.
    PNG, JPEG, BMP, TIFF and WebP are accepted; an image without ink gives empty text.
    """
    small = is_small_image(upload, settings.inline_max_pixels)
    found = await run(_read_digits, reader, upload, settings.max_pixels, inline=small)
    return FastJSONResponse(found)


def _read_digits(reader: DigitReader, upload: bytes, max_pixels: int) -> dict[str, object]:
    start = time.perf_counter()
    found = reader.read(decode_image(upload, max_pixels))
    # Plain dicts in the shape of DigitsResponse (a test holds them to that schema): building
    # and re-validating pydantic objects per digit costs more than reading the digits.
    digits = [
        {
            "digit": d.label,
            "confidence": round(d.confidence, 6),
            "box": {"x": d.box.x, "y": d.box.y, "width": d.box.width, "height": d.box.height},
            "line": d.line,
            "alternatives": [{"digit": a, "confidence": round(c, 6)} for a, c in d.alternatives],
        }
        for d in found
    ]
    return {
        "text": digits_text(found),
        "digits": digits,
        "model": reader.model.name,
        "elapsed_ms": round((time.perf_counter() - start) * 1000.0, 3),
    }
