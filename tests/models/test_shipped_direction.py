"""The shipped models/line_direction.onnx: card, metadata, and which way up held-out lines
are, measured again here (a held-out font's Latin lines, MNIST t10k digit lines)."""

import json

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.core.engine import EngineOptions, OnnxModel, sha256_of
from app.lines.direction import REQUIRED_METADATA, LineDirection
from app.lines.preprocess import normalize_line
from app.main import create_app
from tests.conftest import ROOT
from tests.models.test_shipped_crnn import service_cer
from training.lines import fonts
from training.lines.compose import GlyphSources, compose_line
from training.lines.text import TextSampler

MODEL = ROOT / "models" / "line_direction.onnx"
CARD = json.loads((ROOT / "models" / "line_direction.json").read_text())


def test_card_names_the_file_and_its_checksum() -> None:
    digest = sha256_of(MODEL)
    assert CARD["sha256"] == digest
    card_md = (ROOT / "models" / "line_direction.md").read_text()
    assert digest in card_md and CARD["command"] in card_md


def test_metadata_carries_the_labels_and_input_format() -> None:
    model = OnnxModel(MODEL, EngineOptions("cpu"), REQUIRED_METADATA)
    assert model.meta_json("labels") == ["upright", "upside_down"]
    height, stride = int(model.metadata["height"]), int(model.metadata["stride"])
    assert model.run(np.zeros((2, 1, height, 96), np.float32)).shape == (2, 96 // stride, 2)


@pytest.fixture(scope="module")
def held_out_lines(tmp_path_factory, t10k) -> list[tuple[np.ndarray, str]]:
    """40 Latin lines in a held-out font (Zeyada) and 20 lines of t10k digits (seed 5)."""
    pin = {"fontpkg-zeyada==1.2": fonts.PYPI_EVAL["fontpkg-zeyada==1.2"]}
    latin = fonts.fetch_pypi_fonts(pin, tmp_path_factory.mktemp("fonts"))
    images, labels = t10k
    sources = GlyphSources(latin_fonts=latin, mnist_images=images, mnist_labels=labels)
    digits = GlyphSources(latin_fonts=[], mnist_images=images, mnist_labels=labels, digit_share=1)
    rng = np.random.default_rng(5)
    lines = []
    for k in range(60):
        if k < 40:
            text = TextSampler.latin(rng)
        else:
            text = "".join(str(d) for d in rng.integers(0, 10, rng.integers(4, 12)))
        lines.append((compose_line(text, sources if k < 40 else digits, rng), text))
    return lines


def test_held_out_lines_are_told_upright_from_upside_down(held_out_lines) -> None:
    direction = LineDirection(OnnxModel(MODEL, EngineOptions("cpu"), REQUIRED_METADATA))
    wrong = 0
    for image, _ in held_out_lines:
        line = normalize_line(image, direction.height)
        wrong += direction.upside_down([line]) >= 0.0
        wrong += direction.upside_down([np.ascontiguousarray(line[::-1, ::-1])]) < 0.0
    assert wrong <= 4  # of 120; measured: 1


def test_lines_sent_upside_down_read_as_upright_with_it_and_worse_without(
    held_out_lines,
) -> None:
    turned = [(np.ascontiguousarray(np.rot90(im, 2)), text) for im, text in held_out_lines[:40]]
    with TestClient(create_app(Settings())) as client:
        upright = service_cer(client, held_out_lines[:40])
        with_model = service_cer(client, turned)
    with TestClient(create_app(Settings(lines_direction_model=None))) as client:
        without = service_cer(client, turned)
    # Measured: 11.51% upright, 11.51% upside down with the model, 63.89% without.
    assert with_model <= upright + 0.02
    assert without >= with_model + 0.2
