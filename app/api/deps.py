"""Typed dependencies: models loaded in the lifespan reach handlers through these.

They are `async def` on purpose: each plain `def` dependency costs a threadpool hop per
request, and none of these block.
"""

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated, ParamSpec, TypeVar

from fastapi import Depends, Request, UploadFile
from starlette.concurrency import run_in_threadpool

from app.core.config import Settings
from app.core.errors import EmptyUpload
from app.digits.reader import DigitReader
from app.lines.reader import LineReader


async def get_app_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_digit_reader(request: Request) -> DigitReader:
    return request.app.state.digit_reader


async def get_line_reader(request: Request) -> LineReader:
    return request.app.state.line_reader


async def read_upload(file: UploadFile) -> bytes:
    """The uploaded file's bytes (already in memory: the body limit bounds them)."""
    data = await file.read()
    if not data:
        raise EmptyUpload("The uploaded file is empty.")
    return data


P = ParamSpec("P")
T = TypeVar("T")
PipelineRunner = Callable[..., Awaitable[object]]


class PipelineSlots:
    """Runs CPU-bound pipelines in worker threads, at most `size` at once.

    More threads than cores only fight over the GIL; waiting requests queue here, on the
    event loop, where waiting costs nothing.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._slots = asyncio.Semaphore(size)

    async def run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        async with self._slots:
            return await run_in_threadpool(fn, *args, **kwargs)


async def get_pipeline_runner(request: Request) -> PipelineRunner:
    return request.app.state.pipeline_slots.run


SettingsDep = Annotated[Settings, Depends(get_app_settings)]
DigitReaderDep = Annotated[DigitReader, Depends(get_digit_reader)]
LineReaderDep = Annotated[LineReader, Depends(get_line_reader)]
UploadDep = Annotated[bytes, Depends(read_upload)]
PipelineRunnerDep = Annotated[PipelineRunner, Depends(get_pipeline_runner)]
