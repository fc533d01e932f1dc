"""POST /lines: the text of every handwritten line in an image."""

import time
from typing import Annotated

from fastapi import APIRouter, Query

from app.api.deps import LineReaderDep, PipelineRunnerDep, SettingsDep, UploadDep
from app.api.errors_doc import ERROR_RESPONSES
from app.api.responses import FastJSONResponse
from app.api.upload import OPENAPI_BODY
from app.lines.reader import LineReader
from app.schemas import LinesResponse
from app.vision.imageio import decode_image

router = APIRouter(tags=["lines"])


@router.post(
    "/lines", response_model=LinesResponse, responses=ERROR_RESPONSES, openapi_extra=OPENAPI_BODY
)
async def read_lines(
    reader: LineReaderDep,
    settings: SettingsDep,
    upload: UploadDep,
    run: PipelineRunnerDep,
    beam: Annotated[
        int | None,
        Query(
            ge=0,
            le=32,
            description="CTC beam width (default HWR_LINES_BEAM, 8); beam search also weighs "
            "which Chinese character follows which. 0 or 1 reads greedily (fastest).",
        ),
    ] = None,
    single_line: Annotated[
        bool, Query(description="Read the whole image as one line (no line splitting).")
    ] = False,
) -> FastJSONResponse:
    """Read every handwritten line in the uploaded image (multipart field `file`).

    Lines may mix digits, Latin letters and Chinese. The page is deskewed (up to 8 degrees),
    split into lines, and all lines are read by the CRNN in one batch, then decoded by CTC
    beam search that also weighs which Chinese character, or which lowercase letter, is likely
    to follow (`beam=0`: greedy, without it). Lines come top to bottom, each with its box and
    per-character confidence and position.
    """
    return FastJSONResponse(
        await run(
            _read_lines,
            reader,
            upload,
            settings.max_pixels,
            single_line,
            settings.lines_beam if beam is None else beam,
        )
    )


def _read_lines(
    reader: LineReader, upload: bytes, max_pixels: int, single_line: bool, beam: int
) -> dict[str, object]:
    start = time.perf_counter()
    found = reader.read(decode_image(upload, max_pixels), single_line=single_line, beam=beam)
    # Plain dicts in the shape of LinesResponse (a test holds them to that schema).
    lines = [
        {
            "text": line.text,
            "confidence": round(line.confidence, 6),
            "box": {
                "x": line.box.x,
                "y": line.box.y,
                "width": line.box.width,
                "height": line.box.height,
            },
            "characters": [
                {
                    "char": c.char,
                    "confidence": round(c.confidence, 6),
                    "x": c.x,
                    "y": c.y,
                    "width": c.width,
                    "height": c.height,
                }
                for c in line.characters
            ],
        }
        for line in found
    ]
    return {
        "text": "\n".join(line.text for line in found),
        "lines": lines,
        "model": reader.model.name,
        "elapsed_ms": round((time.perf_counter() - start) * 1000.0, 3),
    }
