"""The shipped models/lm.npz: card, and what it does to held-out Chinese lines."""

import json

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.core.engine import sha256_of
from app.lines import orient
from app.lines.lm import CharNgramLM
from app.main import create_app
from tests.conftest import ASSETS, ROOT, encode
from training.crnn import edit_distance

LM = ROOT / "models" / "lm.npz"
CARD = json.loads((ROOT / "models" / "lm.json").read_text())
CRNN_CARD = json.loads((ROOT / "models" / "crnn.json").read_text())


@pytest.fixture(scope="module")
def chinese_lines() -> list[tuple[np.ndarray, str]]:
    """40 lines of Chinese phrases in the reserved fonts (see tests/assets/README.md)."""
    with np.load(ASSETS / "chinese_lines.npz") as data:
        ends = np.cumsum([h * w for h, w in data["shapes"]])
        pixels = np.split(data["pixels"], ends[:-1])
        return [
            (p.reshape(shape), str(text))
            for p, shape, text in zip(pixels, data["shapes"], data["texts"], strict=True)
        ]


def cer(client: TestClient, lines: list[tuple[np.ndarray, str]], **params) -> float:
    errors = chars = 0
    for image, text in lines:
        r = client.post("/lines", params=params, files={"file": ("l.png", encode(image))})
        errors += edit_distance(r.json()["text"].replace("\n", " "), text)
        chars += len(text)
    return errors / chars


def test_card_names_the_file_checksum() -> None:
    digest = sha256_of(LM)
    assert CARD["sha256"] == digest and digest in (ROOT / "models" / "lm.md").read_text()
    assert CharNgramLM(LM).sha256 == digest


def test_health_lists_the_language_model(client: TestClient) -> None:
    info = client.get("/health").json()["models"]["lines_lm"]
    assert info["sha256"] == CARD["sha256"] and info["provider"] == "numpy"


def test_beam_search_with_the_model_reads_held_out_chinese_better(client, chinese_lines) -> None:
    greedy = cer(client, chinese_lines, beam=0)
    default = cer(client, chinese_lines)  # beam 8 with the language model
    assert default < greedy - 0.02
    card = CRNN_CARD["service"]["sets"]["chinese"]["cer"]
    assert default <= max(2 * card, card + 0.03)


def test_held_out_chinese_lines_sent_upside_down_mostly_read_as_upright(
    client: TestClient, chinese_lines, monkeypatch
) -> None:
    """Without the direction classifier, the language model's evidence turns most back."""
    with TestClient(create_app(Settings(lines_direction_model=None))) as surety_only:

        def read(image: np.ndarray) -> str:
            r = surety_only.post("/lines", files={"file": ("l.png", encode(image))})
            return r.json()["text"]

        upright = [read(image) for image, _ in chinese_lines]
        upside_down = [np.ascontiguousarray(image[::-1, ::-1]) for image, _ in chinese_lines]

        def turned_back() -> int:
            pairs = zip(upside_down, upright, strict=True)
            return sum(read(image) == text for image, text in pairs)

        assert turned_back() >= 24  # 28 of 40
        # The premise: where a turn must read surely (SURE_TURN), few of them turn back ...
        monkeypatch.setattr(orient, "EVIDENCE", float("inf"))
        assert turned_back() <= 12  # 7
        # ... and upright, none is turned either way.
        assert [read(image) for image, _ in chinese_lines] == upright
    # The service as shipped (with the direction classifier) turns back more still.
    with_classifier = sum(
        client.post("/lines", files={"file": ("l.png", encode(image))}).json()["text"] == text
        for image, text in zip(upside_down, upright, strict=True)
    )
    assert with_classifier >= 32  # 36 of 40
