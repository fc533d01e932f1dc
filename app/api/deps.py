"""Typed dependencies: models loaded in the lifespan reach handlers through these."""

from typing import Annotated

import numpy as np
from fastapi import Depends, Request, UploadFile

from app.core.config import Settings, get_settings
from app.core.errors import EmptyUpload
from app.digits.reader import DigitReader
from app.vision.imageio import decode_image


def get_digit_reader(request: Request) -> DigitReader:
    return request.app.state.digit_reader


SettingsDep = Annotated[Settings, Depends(get_settings)]
DigitReaderDep = Annotated[DigitReader, Depends(get_digit_reader)]


def read_upload_image(file: UploadFile, settings: SettingsDep) -> np.ndarray:
    """The uploaded file decoded to grayscale, with every input check applied."""
    data = file.file.read()
    if not data:
        raise EmptyUpload("The uploaded file is empty.")
    return decode_image(data, settings.max_pixels)


UploadedImage = Annotated[np.ndarray, Depends(read_upload_image)]
