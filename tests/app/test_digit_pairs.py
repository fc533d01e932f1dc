"""Touching digits read whole (pairs, chains): how the reader weighs that against cuts."""

import numpy as np
import pytest

from app.core.config import Settings
from app.core.engine import EngineOptions, OnnxModel
from app.digits import reader as reader_module
from app.digits.reader import REQUIRED_METADATA, DigitReader
from app.digits.segment import Box, Piece, Segment

PAIR_LABELS = [f"{a}{b}" for a in range(10) for b in range(10)]


def one_hot(n: int, k: int, p: float) -> np.ndarray:
    out = np.full(n, (1 - p) / (n - 1), np.float32)
    out[k] = p
    return out


@pytest.fixture
def blob(monkeypatch) -> Segment:
    """One blob, 40 x 30 pixels, with one cut at x = 20: read whole, or as two pieces."""
    ink = np.ones((30, 20), np.float32)
    pieces = {
        (0, 2): Piece(Box(10, 5, 40, 30), np.ones((30, 40), np.float32)),
        (0, 1): Piece(Box(10, 5, 20, 30), ink),
        (1, 2): Piece(Box(30, 5, 20, 30), ink),
    }
    seg = Segment(Box(10, 5, 40, 30), 0, [0, 20, 40], pieces)
    monkeypatch.setattr(reader_module, "segment_digits", lambda _ink, **_kw: [seg])
    return seg


def make_reader(singles: dict[tuple[int, int], np.ndarray], pair: np.ndarray) -> DigitReader:
    model = OnnxModel(Settings().digits_model, EngineOptions("cpu"), REQUIRED_METADATA)
    reader = DigitReader(model)
    order = [(0, 2), (0, 1), (1, 2)]  # the blob's pieces in insertion order
    reader.classify = lambda batch: np.stack([singles[k] for k in order])  # type: ignore[method-assign]
    reader.pairs = model  # any model: only its presence matters here
    reader.pair_labels = PAIR_LABELS
    flat = np.full(100, 0.01, np.float32)
    # Only the whole blob looks like a pair; its halves are too narrow to be one.
    reader.classify_pairs = lambda batch: np.stack([pair, flat, flat])  # type: ignore[method-assign]
    return reader


def test_a_sure_pair_beats_two_unsure_cut_pieces(blob: Segment) -> None:
    singles = {
        (0, 2): one_hot(10, 0, 0.1),
        (0, 1): one_hot(10, 4, 0.6),
        (1, 2): one_hot(10, 1, 0.5),
    }
    reader = make_reader(singles, one_hot(100, 47, 0.97))
    found = reader.read(np.full((50, 70), 255, np.uint8))
    assert [d.label for d in found] == ["4", "7"]
    assert found[0].confidence == pytest.approx(0.97)
    # The pair's box is shared out: left half, right half.
    assert found[0].box == Box(10, 5, 20, 30) and found[1].box == Box(30, 5, 20, 30)
    # Alternatives come from each position's marginal, without the chosen digit.
    assert all(a != "4" for a, _ in found[0].alternatives)


def test_two_sure_cut_pieces_beat_a_pair(blob: Segment) -> None:
    singles = {
        (0, 2): one_hot(10, 0, 0.1),
        (0, 1): one_hot(10, 4, 0.99),
        (1, 2): one_hot(10, 1, 0.99),
    }
    reader = make_reader(singles, one_hot(100, 47, 0.9))
    found = reader.read(np.full((50, 70), 255, np.uint8))
    assert [d.label for d in found] == ["4", "1"]


def test_without_a_pair_model_only_cuts_are_read(blob: Segment) -> None:
    singles = {
        (0, 2): one_hot(10, 0, 0.1),
        (0, 1): one_hot(10, 4, 0.6),
        (1, 2): one_hot(10, 1, 0.5),
    }
    reader = make_reader(singles, one_hot(100, 47, 0.97))
    reader.pairs = None
    assert [d.label for d in reader.read(np.full((50, 70), 255, np.uint8))] == ["4", "1"]


class FakeChains:
    """Stands in for the chain reader: every blob reads as `text`, each digit spiking in one
    frame with `confidence`."""

    def __init__(self, text: str, confidence: float) -> None:
        self.text, self.confidence = text, confidence
        self.charset, self.stride = ["", *"0123456789"], 4

    def recognise(self, lines: list[np.ndarray]) -> list[np.ndarray]:
        out = []
        for line in lines:
            frames = -(-line.shape[1] // self.stride)
            probs = np.full((frames, 11), 1e-6)
            probs[:, 0] = 1.0
            spikes = np.linspace(0, frames - 1, len(self.text) + 2)[1:-1].round().astype(int)
            for t, ch in zip(spikes, self.text, strict=True):
                probs[t] = (1 - self.confidence) / 10
                probs[t, int(ch) + 1] = self.confidence
            out.append(np.log(probs / probs.sum(axis=1, keepdims=True)))
        return out


@pytest.mark.parametrize(
    ("chain_confidence", "expected"), [(0.99, ["7", "1", "2"]), (0.3, ["4", "1"])]
)
def test_a_blob_read_whole_by_the_chain_reader_wins_only_when_surer(
    blob: Segment, chain_confidence: float, expected: list[str]
) -> None:
    singles = {
        (0, 2): one_hot(10, 0, 0.1),
        (0, 1): one_hot(10, 4, 0.8),
        (1, 2): one_hot(10, 1, 0.8),
    }
    reader = make_reader(singles, one_hot(100, 47, 0.5))
    reader.chains = FakeChains("712", chain_confidence)  # type: ignore[assignment]
    found = reader.read(np.full((50, 70), 255, np.uint8))
    assert [d.label for d in found] == expected
    if expected[0] == "7":
        # Each digit gets a share of the blob's box, left to right, inside it.
        xs = [d.box.x for d in found]
        assert xs == sorted(xs) and xs[0] >= 10 and found[-1].box.right <= 50
        assert found[0].confidence == pytest.approx(0.99, abs=0.01)
        assert all(a != "7" for a, _ in found[0].alternatives)
