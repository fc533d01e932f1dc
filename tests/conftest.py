"""Shared fixtures: the real app with its lifespan, and real MNIST t10k digits."""

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.main import create_app
from training import mnist

ASSETS = Path(__file__).parent / "assets"
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def t10k() -> tuple[np.ndarray, np.ndarray]:
    """The 10,000 MNIST test digits (28 x 28 uint8, ink high) and labels."""
    return mnist.load("t10k", ASSETS / "mnist")


@pytest.fixture(scope="session")
def client() -> Iterator[TestClient]:
    """The service as shipped, lifespan (model loading) included."""
    with TestClient(create_app(Settings())) as c:
        yield c


def encode(image: np.ndarray, ext: str = ".png", params: list[int] | None = None) -> bytes:
    ok, buf = cv2.imencode(ext, image, params or [])
    assert ok
    return buf.tobytes()


def read_text(client: TestClient, image: np.ndarray, endpoint: str = "/digits") -> str:
    """The text the service reads in an image (sent as a PNG)."""
    return client.post(endpoint, files={"file": ("i.png", encode(image))}).json()["text"]


def digit_row(
    t10k: tuple[np.ndarray, np.ndarray], indices: list[int], gap: int = 12, margin: int = 16
) -> tuple[np.ndarray, str]:
    """Dark digits on white paper, side by side at MNIST's own size, and their text."""
    images, labels = t10k
    glyphs = []
    for i in indices:
        img = images[i]
        cols = np.nonzero(img.max(axis=0))[0]
        glyphs.append(255 - img[:, cols.min() : cols.max() + 1])
    width = sum(g.shape[1] for g in glyphs) + gap * (len(glyphs) - 1)
    row = np.full((28, width), 255, np.uint8)
    x = 0
    for g in glyphs:  # darker pixel wins, so a negative gap makes neighbours touch
        np.minimum(row[:, x : x + g.shape[1]], g, out=row[:, x : x + g.shape[1]])
        x += g.shape[1] + gap
    page = np.pad(row, margin, constant_values=255)
    return page, "".join(str(int(labels[i])) for i in indices)


def sheet_accuracy(sheets: list, settings: Settings) -> float:
    """Share of generated sheets (training.digit_sheets) whose /digits text is exactly right,
    through a service started with `settings`."""
    with TestClient(create_app(settings)) as c:
        # A refused image (4xx: too many marks, say) counts as wrong, as in bench/eval_digits.
        answers = [c.post("/digits", files={"file": ("i.png", encode(s.image))}) for s in sheets]
        right = sum(
            r.status_code == 200 and r.json()["text"] == s.text
            for r, s in zip(answers, sheets, strict=True)
        )
    return right / len(sheets)


def creased_sheet(t10k: tuple[np.ndarray, np.ndarray], index: int, seed: int) -> tuple[bytes, str]:
    """`rows` sheet `index` of seed 5 (training.digit_sheets), folded as the robustness bench
    folds a page (its crease drawn with `seed`), as a PNG, and its text."""
    from bench.robustness import _crease
    from training import digit_sheets

    images, labels = t10k
    sheet = digit_sheets.make_sheets(images, labels, "rows", index + 1, 5)[index]
    return encode(_crease(sheet.image, np.random.default_rng(seed))), sheet.text


def read_right_only_with_it(
    client: TestClient, body: bytes, text: str, monkeypatch, *without: tuple[object, str, object]
) -> None:
    """The service reads `body` as `text`, and no longer with each (module, name, value) of
    `without` set: the premise that what they turn off is what reads it right."""

    def read() -> str:
        return client.post("/digits", files={"file": ("p.png", body)}).json()["text"]

    assert read() == text
    for module, name, value in without:
        monkeypatch.setattr(module, name, value)
    assert read() != text
