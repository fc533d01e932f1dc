"""The shipped models/lenet5_pairs.onnx: its card's figures hold when measured again here, and
it earns its place in /digits on touching digits built from held-out t10k digits."""

import json

import numpy as np
import pytest

from app.core.config import Settings
from app.core.engine import EngineOptions, OnnxModel, sha256_of
from app.digits.reader import REQUIRED_METADATA, DigitReader
from tests.conftest import ROOT, sheet_accuracy
from training import digit_sheets, pieces

MODEL = ROOT / "models" / "lenet5_pairs.onnx"
CARD = json.loads((ROOT / "models" / "lenet5_pairs.json").read_text())


def test_shipped_pair_reader_card_names_the_file_checksum() -> None:
    digest = sha256_of(MODEL)
    assert digest in (ROOT / "models" / "lenet5_pairs.md").read_text()
    assert CARD["sha256"] == digest


def test_shipped_pair_reader_error_on_t10k_pairs_is_near_its_card(t10k) -> None:
    images, labels = t10k
    # Rows other than the card's (seed 7), from the same held-out digits.
    x, y = pieces.build(images, labels, rows=150, seed=11, quiet=True, pairs=True)
    keep = y >= 0
    model = OnnxModel(MODEL, EngineOptions("cpu"), REQUIRED_METADATA)
    reader = DigitReader(
        OnnxModel(Settings().digits_model, EngineOptions("cpu"), REQUIRED_METADATA), pairs=model
    )
    pred = reader.classify_pairs(x[keep].astype(np.float32) / 255).argmax(1)
    error = float((pred != y[keep]).mean())
    card = CARD["eval"]["pair_error"]
    assert keep.sum() >= 200
    assert error <= max(2 * card, card + 0.03)


@pytest.mark.parametrize("kind", ["touching"])
def test_pair_reader_reads_more_touching_strings_right(t10k, kind: str) -> None:
    images, labels = t10k
    sheets = digit_sheets.make_sheets(images, labels, kind, 120, seed=5)
    # The chain reader reads many of the same blobs: the pair reader is measured without it.
    with_pairs = sheet_accuracy(sheets, Settings(digit_chains_model=None))
    without = sheet_accuracy(sheets, Settings(digit_pairs_model=None, digit_chains_model=None))
    assert with_pairs >= without + 0.05
