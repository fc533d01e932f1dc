"""Helpers for tests that need the service with non-default settings or a stalled pipeline."""

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.main import create_app
from tests.conftest import encode

BLANK_PNG = encode(np.full((20, 20), 255, np.uint8))


@contextmanager
def serving(raise_server_exceptions: bool = True, **settings: Any) -> Iterator[TestClient]:
    """The real app, lifespan included, with `settings` over the defaults."""
    app = create_app(Settings(**settings))
    with TestClient(app, raise_server_exceptions=raise_server_exceptions) as client:
        yield client


def post_blank(client: TestClient, **kwargs: Any) -> Any:
    return client.post("/digits", files={"file": ("b.png", BLANK_PNG, "image/png")}, **kwargs)


class Gate:
    """Stands in for DigitReader.read and holds every call until `release` is set."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.calls = 0

    def read(self, _image: np.ndarray) -> list[object]:
        self.calls += 1
        self.entered.set()
        assert self.release.wait(30), "the test never released the gate"
        return []


@contextmanager
def gated(client: TestClient) -> Iterator[Gate]:
    """Every /digits read blocks on the gate; it opens on exit so no thread is left behind."""
    gate = Gate()
    state = client.app.state  # type: ignore[attr-defined]
    # Held on the event loop, the gate would hold the whole service: worker threads only.
    settings = state.settings
    state.settings = settings.model_copy(update={"inline_max_pixels": 0})
    reader = state.digit_reader
    original = reader.read
    reader.read = gate.read
    try:
        yield gate
    finally:
        gate.release.set()
        reader.read = original
        state.settings = settings
