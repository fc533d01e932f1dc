"""Typed dependencies: models loaded in the lifespan reach handlers through these.

They are `async def` on purpose: each plain `def` dependency costs a threadpool hop per
request, and none of these block.
"""

from typing import Annotated

from fastapi import Depends, Request, UploadFile

from app.core.config import Settings
from app.core.errors import EmptyUpload
from app.digits.reader import DigitReader


async def get_app_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_digit_reader(request: Request) -> DigitReader:
    return request.app.state.digit_reader


async def read_upload(file: UploadFile) -> bytes:
    """The uploaded file's bytes (already in memory: the body limit bounds them)."""
    data = await file.read()
    if not data:
        raise EmptyUpload("The uploaded file is empty.")
    return data


SettingsDep = Annotated[Settings, Depends(get_app_settings)]
DigitReaderDep = Annotated[DigitReader, Depends(get_digit_reader)]
UploadDep = Annotated[bytes, Depends(read_upload)]
