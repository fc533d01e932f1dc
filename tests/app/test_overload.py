"""Overload: a bounded waiting line (503 + Retry-After beyond it) and a deadline (504)."""

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import pytest
from fastapi.testclient import TestClient

from app.api.deps import PipelineSlots
from app.api.overload import pipeline_paths
from app.core.errors import Overloaded, RequestTimedOut
from app.main import ROUTERS
from tests.app.serving import BLANK_PNG, gated, post_blank, serving

MULTIPART = {"content-type": "multipart/form-data; boundary=b"}


def wait_until(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)


def test_request_beyond_a_full_queue_is_503_with_retry_after() -> None:
    with (
        serving(max_concurrency=1, max_queue=1) as client,
        gated(client) as gate,
        ThreadPoolExecutor(2) as pool,
    ):
        slots = client.app.state.pipeline_slots
        running = pool.submit(post_blank, client)
        assert gate.entered.wait(10)
        waiting = pool.submit(post_blank, client)
        wait_until(lambda: slots.waiting == 1)

        refused = post_blank(client)

        assert refused.status_code == 503
        assert refused.headers["retry-after"] == "1"
        assert refused.headers["content-type"] == "application/json"
        assert "busy" in refused.json()["detail"]
        assert gate.calls == 1
        gate.release.set()
        assert running.result(10).status_code == 200
        assert waiting.result(10).status_code == 200


def streamed_upload(pulled: list[bytes]) -> Iterator[bytes]:
    """A multipart upload of a blank PNG that records each chunk as the server pulls it."""
    head = b'--b\r\nContent-Disposition: form-data; name="file"; filename="b.png"\r\n\r\n'
    for chunk in (head, BLANK_PNG, b"\r\n--b--\r\n"):
        pulled.append(chunk)
        yield chunk


@contextmanager
def held_busy(
    headers: dict[str, str] | None = None, **settings: object
) -> Iterator[tuple[TestClient, Callable[[], None]]]:
    """A service with one slot and no waiting line, its slot held by a blank upload; `free()`
    (called at the latest when the block ends) releases it, and it must then succeed."""
    with (
        serving(max_concurrency=1, max_queue=0, **settings) as client,
        gated(client) as gate,
        ThreadPoolExecutor(1) as pool,
    ):
        running = pool.submit(post_blank, client, headers=headers)
        assert gate.entered.wait(10)

        def free() -> None:
            gate.release.set()
            assert running.result(10).status_code == 200

        yield client, free
        free()


@pytest.mark.parametrize("path", ["/digits", "/lines"])
def test_upload_to_a_full_service_is_refused_before_its_body_is_read(path: str) -> None:
    with held_busy() as (client, free):
        pulled: list[bytes] = []

        refused = client.post(path, content=streamed_upload(pulled), headers=MULTIPART)

        assert refused.status_code == 503
        assert refused.headers["retry-after"] == "1"
        assert refused.headers["content-type"] == "application/json"
        assert "busy" in refused.json()["detail"]
        assert pulled == []
        free()
        # The same upload, once a slot is free, is read and answered.
        accepted = client.post(path, content=streamed_upload(pulled), headers=MULTIPART)
        assert accepted.status_code == 200 and pulled


def test_probes_still_answer_while_uploads_are_refused() -> None:
    with held_busy() as (client, _):
        assert client.app.state.pipeline_slots.full

        assert client.get("/health").status_code == 200
        assert client.get("/ready").status_code == 200
        assert post_blank(client).status_code == 503


def test_api_key_is_checked_before_the_overload_refusal() -> None:
    key = {"X-API-Key": "k3y"}
    with held_busy(headers=key, api_key="k3y") as (client, _):
        assert post_blank(client).status_code == 401
        assert post_blank(client, headers=key).status_code == 503


def test_early_refusal_covers_every_route_that_runs_a_pipeline() -> None:
    assert pipeline_paths(ROUTERS) == {"/digits", "/lines"}


def test_request_over_the_timeout_is_answered_504_while_its_thread_keeps_the_slot() -> None:
    with serving(max_concurrency=1, request_timeout_s=0.2) as client, gated(client) as gate:
        slots = client.app.state.pipeline_slots

        stuck = post_blank(client)

        assert stuck.status_code == 504
        assert "0.2 s" in stuck.json()["detail"]
        assert slots.running == 1  # the thread cannot be stopped: it keeps its slot
        # So the next request waits for that slot instead of running beside the stuck one.
        assert post_blank(client).status_code == 504
        assert gate.calls == 1
        gate.release.set()
        wait_until(lambda: slots.running == 0)
        assert post_blank(client).status_code == 200


def test_pipeline_slots_never_run_more_threads_than_slots_despite_timeouts() -> None:
    active = 0
    most = 0
    lock = threading.Lock()

    def work() -> str:
        nonlocal active, most
        with lock:
            active += 1
            most = max(most, active)
        time.sleep(0.1)
        with lock:
            active -= 1
        return "done"

    async def burst() -> list[object]:
        slots = PipelineSlots(size=2, max_queue=10, timeout_s=0.02)
        results = await asyncio.gather(*(slots.run(work) for _ in range(6)), return_exceptions=True)
        while slots.running:  # abandoned threads still finish, and only then free their slot
            await asyncio.sleep(0.01)
        return results

    results = asyncio.run(burst())

    assert most <= 2
    assert all(r == "done" or isinstance(r, RequestTimedOut) for r in results)


def test_pipeline_slots_refuse_at_once_when_the_line_is_full() -> None:
    release = threading.Event()

    async def scenario() -> None:
        slots = PipelineSlots(size=1, max_queue=0, timeout_s=30)
        first = asyncio.create_task(slots.run(release.wait, 10))
        while not slots.running:
            await asyncio.sleep(0.01)
        assert slots.full
        with pytest.raises(Overloaded) as refused:
            await slots.run(release.wait, 10)
        assert refused.value.headers == {"Retry-After": "1"}
        release.set()
        assert await first is True

    asyncio.run(scenario())


def test_openapi_documents_the_overload_answers(client) -> None:
    responses = client.get("/openapi.json").json()["paths"]["/digits"]["post"]["responses"]
    assert {"503", "504"} <= set(responses)


def test_inline_work_runs_on_the_event_loop_and_frees_its_slot() -> None:
    async def scenario() -> None:
        slots = PipelineSlots(size=1, max_queue=0, timeout_s=30)
        loop_thread = threading.get_ident()
        assert await slots.run(threading.get_ident, inline=True) == loop_thread
        assert await slots.run(threading.get_ident) != loop_thread
        with pytest.raises(ZeroDivisionError):
            await slots.run(lambda: 1 / 0, inline=True)
        assert slots.running == 0 and not slots._slots.locked()

    asyncio.run(scenario())


@pytest.mark.parametrize(("inline_max_pixels", "on_loop"), [(250_000, True), (0, False)])
def test_small_digit_images_are_read_on_the_event_loop(
    inline_max_pixels: int, on_loop: bool
) -> None:
    with serving(inline_max_pixels=inline_max_pixels) as client:
        reader = client.app.state.digit_reader
        seen: list[int] = []
        original = reader.read
        reader.read = lambda image: (seen.append(threading.get_ident()), original(image))[1]
        assert post_blank(client).status_code == 200
        loop_thread = client.portal.call(threading.get_ident)
        assert (seen == [loop_thread]) is on_loop
