"""Typed dependencies: models loaded in the lifespan reach handlers through these.

They are `async def` on purpose: each plain `def` dependency costs a threadpool hop per
request, and none of these block.
"""

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from app.api.upload import read_upload
from app.core.config import Settings
from app.core.errors import Overloaded, RequestTimedOut
from app.digits.reader import DigitReader
from app.lines.reader import LineReader


async def get_app_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_digit_reader(request: Request) -> DigitReader:
    return request.app.state.digit_reader


async def get_line_reader(request: Request) -> LineReader:
    return request.app.state.line_reader


async def get_upload(request: Request) -> bytes:
    """The uploaded image's bytes (`app.api.upload`)."""
    return await read_upload(request, request.app.state.settings.max_form_parts)


T = TypeVar("T")
PipelineRunner = Callable[..., Awaitable[object]]
# Seconds a refused client is asked to wait: one image takes milliseconds, a line drains fast.
RETRY_AFTER_S = 1


class PipelineSlots:
    """Runs CPU-bound pipelines in worker threads, at most `size` at once.

    More threads than cores only fight over the GIL; waiting requests queue here, on the
    event loop, where waiting costs nothing. The line is bounded (`max_queue`): past it a
    request is refused at once, so overload costs neither memory nor everyone's latency.
    A request that takes longer than `timeout_s` in all is answered 504 on time; its thread
    cannot be stopped, so it keeps its slot until it finishes and concurrency stays bounded.
    """

    def __init__(self, size: int, max_queue: int, timeout_s: float) -> None:
        self.size = size
        self.max_queue = max_queue
        self.timeout_s = timeout_s
        self._slots = asyncio.Semaphore(size)
        self.running = 0
        self.waiting = 0

    @property
    def full(self) -> bool:
        """Every slot is busy and `max_queue` requests already wait: a new one is refused."""
        return self._slots.locked() and self.waiting >= self.max_queue

    def refusal(self) -> Overloaded:
        """The 503 a refused request gets, with the Retry-After it should honour."""
        return Overloaded(
            f"The service is busy ({self.waiting} requests already waiting); try again shortly.",
            headers={"Retry-After": str(RETRY_AFTER_S)},
        )

    async def run(self, fn: Callable[..., T], *args: object, inline: bool = False) -> T:
        """fn(*args) in a free slot: in a worker thread, or with `inline` (for work shorter
        than a thread hand-off) on the event loop itself once the slot is won."""
        if self.full:
            raise self.refusal()
        deadline = asyncio.timeout(self.timeout_s)
        try:
            async with deadline:
                self.waiting += 1
                try:
                    await self._slots.acquire()
                finally:
                    self.waiting -= 1
                self.running += 1
                if not inline:
                    work = asyncio.ensure_future(run_in_threadpool(fn, *args))
                    work.add_done_callback(self._release)
                    # Unshielded, the timeout would cancel `work`, and a cancelled thread
                    # call returns only when its thread ends: the answer would be as late as
                    # the work. Shielded, the answer goes out on time; the slot comes back in
                    # _release.
                    return await asyncio.shield(work)
        except TimeoutError:
            if not deadline.expired():
                raise
            raise RequestTimedOut(
                f"The request was not done within {self.timeout_s:g} s; try a smaller image "
                "or try again later."
            ) from None
        # Outside the deadline: synchronous work cannot be interrupted, and is short.
        try:
            return fn(*args)
        finally:
            self.running -= 1
            self._slots.release()

    def _release(self, work: asyncio.Future[Any]) -> None:
        self.running -= 1
        self._slots.release()
        # Marks an error of an abandoned run as seen; a waiting request gets it by itself.
        if not work.cancelled():
            work.exception()


async def get_pipeline_runner(request: Request) -> PipelineRunner:
    return request.app.state.pipeline_slots.run


SettingsDep = Annotated[Settings, Depends(get_app_settings)]
DigitReaderDep = Annotated[DigitReader, Depends(get_digit_reader)]
LineReaderDep = Annotated[LineReader, Depends(get_line_reader)]
UploadDep = Annotated[bytes, Depends(get_upload)]
PipelineRunnerDep = Annotated[PipelineRunner, Depends(get_pipeline_runner)]
