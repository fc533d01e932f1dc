"""The shipped models/lenet5.onnx: its card's figures hold when measured again here."""

import json
import re

import numpy as np

from app.core.config import Settings
from app.core.engine import EngineOptions, OnnxModel, sha256_of
from app.digits.preprocess import normalize_digit
from app.digits.reader import REQUIRED_METADATA, UNSURE, DigitReader
from tests.conftest import ROOT

MODEL = ROOT / "models" / "lenet5.onnx"


def test_shipped_lenet5_error_on_all_of_t10k_is_within_its_card(t10k) -> None:
    card = json.loads((ROOT / "models" / "lenet5.json").read_text())
    reader = DigitReader(OnnxModel(MODEL, EngineOptions("cpu"), REQUIRED_METADATA))
    images, labels = t10k
    digits = np.stack([normalize_digit(img.astype(np.float32) / 255) for img in images])
    pred = np.concatenate(
        [reader.classify(digits[i : i + 1000]).argmax(1) for i in range(0, 10_000, 1000)]
    )
    error = float((pred != labels).mean())
    assert error <= card["test_error"] + 1e-4  # one digit of slack for float differences
    assert error <= 0.006  # the floor


def test_shipped_lenet5_card_names_the_file_checksum() -> None:
    card_md = (ROOT / "models" / "lenet5.md").read_text()
    digest = sha256_of(MODEL)
    assert digest in card_md
    assert json.loads((ROOT / "models" / "lenet5.json").read_text())["sha256"] == digest
    assert re.search(r"t10k error\*\*\s*\|\s*\*\*\d\.\d\d%", card_md)


def test_shipped_lenet5_metadata_drives_the_reader() -> None:
    model = OnnxModel(Settings().digits_model, EngineOptions("cpu"), REQUIRED_METADATA)
    assert json.loads(model.metadata["labels"]) == [str(d) for d in range(10)]
    assert int(model.metadata["input_size"]) == 32
    assert 0 < float(model.metadata["std"]) < 1


def test_second_look_corrects_more_unsure_t10k_digits_than_it_breaks(t10k) -> None:
    reader = DigitReader(OnnxModel(MODEL, EngineOptions("cpu"), REQUIRED_METADATA))
    images, labels = t10k
    digits = np.stack([normalize_digit(img.astype(np.float32) / 255) for img in images])
    first = np.concatenate([reader.classify(digits[i : i + 1000]) for i in range(0, 10_000, 1000)])
    again = reader.second_look(digits, first)
    unsure = first.max(axis=1) < UNSURE
    assert 0 < unsure.sum() < 500  # a second look is the exception, not the rule
    assert np.array_equal(again[~unsure], first[~unsure])  # sure readings are left alone
    np.testing.assert_allclose(again.sum(axis=1), 1.0, rtol=1e-5)
    wrong_before = int((first.argmax(1) != labels).sum())
    wrong_after = int((again.argmax(1) != labels).sum())
    assert wrong_after < wrong_before
