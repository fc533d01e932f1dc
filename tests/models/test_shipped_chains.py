"""The shipped models/digit_chains.onnx: its card's figure holds when measured again here, and
it earns its place in /digits on touching digits built from held-out t10k digits."""

import json

import cv2
import numpy as np

from app.core.config import Settings
from app.core.engine import EngineOptions, OnnxModel, sha256_of
from app.lines.ctc import greedy_decode
from app.lines.reader import REQUIRED_METADATA, LineReader
from tests.conftest import ROOT, digit_row, encode, sheet_accuracy
from training import chains, digit_sheets

MODEL = ROOT / "models" / "digit_chains.onnx"
CARD = json.loads((ROOT / "models" / "digit_chains.json").read_text())


def test_shipped_chain_reader_card_names_the_file_checksum() -> None:
    digest = sha256_of(MODEL)
    assert digest in (ROOT / "models" / "digit_chains.md").read_text()
    assert CARD["sha256"] == digest


def test_shipped_chain_reader_exact_rate_on_t10k_blobs_is_near_its_card(t10k) -> None:
    images, labels = t10k
    rng = np.random.default_rng(11)  # rows other than the card's (seed 7), same held-out digits
    crops, texts = [], []
    for _ in range(150):
        c, t = chains.label_chains(digit_sheets.make_row(images, labels, rng, "touching"))
        crops += c
        texts += t
    reader = LineReader(OnnxModel(MODEL, EngineOptions("cpu"), REQUIRED_METADATA))
    got = [
        "".join(reader.charset[d.index] for d in greedy_decode(lp))
        for lp in reader.recognise(crops)
    ]
    exact = float(np.mean([g == t for g, t in zip(got, texts, strict=True)]))
    assert len(texts) >= 200
    assert exact >= CARD["eval"]["exact"] - 0.05


def test_chain_digits_get_boxes_inside_their_blob_in_reading_order(client, t10k) -> None:
    page, text = digit_row(t10k, [3, 2, 1, 18, 4], gap=-4)  # all five overlap their neighbours
    page = cv2.resize(page, None, fx=2, fy=2, interpolation=cv2.INTER_LINEAR)
    found = client.post("/digits", files={"file": ("row.png", encode(page))}).json()
    assert found["text"] == text
    xs = [d["box"]["x"] for d in found["digits"]]
    assert xs == sorted(xs) and len(set(xs)) == len(xs)
    for d in found["digits"]:
        b = d["box"]
        assert b["x"] >= 0 and b["x"] + b["width"] <= page.shape[1] and b["width"] >= 4
        assert 0.0 <= d["confidence"] <= 1.0
        assert all(a["digit"] != d["digit"] for a in d["alternatives"])


def test_chain_reader_reads_more_touching_strings_right(t10k) -> None:
    images, labels = t10k
    sheets = digit_sheets.make_sheets(images, labels, "touching", 120, seed=5)
    with_chains = sheet_accuracy(sheets, Settings())
    assert with_chains >= sheet_accuracy(sheets, Settings(digit_chains_model=None)) + 0.05
