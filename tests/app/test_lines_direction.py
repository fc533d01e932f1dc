"""app/lines/direction.py: which way up a page's lines are, and how /lines heeds it."""

import json
from types import SimpleNamespace

import numpy as np
import pytest

from app.core.errors import ModelLoadError
from app.lines import orient
from app.lines.direction import LABELS, LineDirection, line_logits


class FrameModel:
    """A direction model whose frames say upside down (+1) left of column `edge` and upright
    (-1) right of it; records the batches it is given."""

    def __init__(self, edge: int = 10**6, labels: list[str] | None = None) -> None:
        self.path = SimpleNamespace(name="stand-in.onnx")
        self.metadata = {
            "labels": json.dumps(labels or list(LABELS)),
            "height": "32",
            "mean": "0.1",
            "std": "0.3",
            "stride": "8",
        }
        self.edge = edge
        self.batches: list[tuple[int, ...]] = []

    def meta_json(self, key: str) -> object:
        return json.loads(self.metadata[key])

    def run(self, batch: np.ndarray) -> np.ndarray:
        self.batches.append(batch.shape)
        n, _, _, w = batch.shape
        left = (np.arange(w // 8) * 8 < self.edge)[None, :]
        logits = np.zeros((n, w // 8, 2), np.float32)
        logits[..., 1] = np.where(left, 1.0, -1.0)
        return logits


def test_a_lines_verdict_leaves_out_the_frames_of_padding() -> None:
    logits = np.zeros((10, 2), np.float32)
    logits[:4, 1] = 3.0  # its own frames: upside down
    logits[4:, 0] = 9.0  # padding's: upright, ignored
    assert line_logits(logits, 4) == pytest.approx(3.0)
    assert line_logits(logits, 0) == 0.0


def test_a_page_is_judged_by_all_its_lines_frames_in_one_call() -> None:
    model = FrameModel(edge=80)  # frames left of column 80 say upside down
    direction = LineDirection(model)  # type: ignore[arg-type]
    short, long = np.zeros((32, 80), np.float32), np.zeros((32, 240), np.float32)
    # The short line's 10 frames say +1; the long line's 10 first +1, its 20 others -1.
    assert direction.upside_down([short, long]) == pytest.approx((10 + 10 - 20) / 40)
    assert direction.upside_down([short]) == pytest.approx(1.0)
    assert len(model.batches) == 2 and model.batches[0][0] == 2
    assert direction.upside_down([]) == 0.0


def test_a_model_that_labels_otherwise_is_refused_at_load() -> None:
    with pytest.raises(ModelLoadError, match="does not label"):
        LineDirection(FrameModel(labels=["upside_down", "upright"]))  # type: ignore[arg-type]


def test_a_direction_model_of_another_line_height_is_refused_at_load() -> None:
    from app.lines.reader import LineReader
    from tests.app.test_lines_reader import RecordingModel

    model = FrameModel()
    model.metadata["height"] = "48"
    with pytest.raises(ModelLoadError, match="must match"):
        LineReader(RecordingModel(["", "a"]), direction=LineDirection(model))  # type: ignore[arg-type]


def reading(
    chars: float, upside: float | None = None, count: int = 8, frames: float = -0.05
) -> orient.Reading:
    box = SimpleNamespace(x=10, width=500, height=30)
    found = [SimpleNamespace(box=box, characters=[None] * count)]
    return orient.Reading(chars=chars, frames=frames, lines=1, found=found, upside=upside)


def test_a_judged_half_turn_weighs_surety_and_the_direction_model_together() -> None:
    turned = reading(0.75)
    # Unjudged: short of every confidence rule.
    assert not orient.wins(turned, reading(0.7), quarter=False, single_line=False)
    # Judged: 0.05 surer than upright, and the model's log-odds bring the rest of the margin.
    need = (orient.DIRECTED_MARGIN - 0.05) / orient.DIRECTION_SHARE
    for upside, turns in ((need + 0.5, True), (need - 0.5, False)):
        upright = reading(0.7, upside=upside)
        assert orient.wins(turned, upright, quarter=False, single_line=False) is turns
    # Read less surely than upright, the turn still wins where the model is sure enough ...
    sure = (orient.DIRECTED_MARGIN + 0.1) / orient.DIRECTION_SHARE + 1.0
    assert orient.wins(reading(0.6), reading(0.7, sure), quarter=False, single_line=False)
    # ... but not read as nonsense or nothing, nor where the model is sure it is upright
    # however surely the turn reads ("store" upside down reads as sure digits).
    floor = orient.DIRECTED_TURN
    assert orient.wins(reading(floor), reading(0.2, sure), quarter=False, single_line=False)
    assert not orient.wins(reading(floor - 0.01), reading(0.2, sure), False, False)
    assert not orient.wins(reading(0.9, count=0), reading(0.7, sure), False, False)
    # Nor where its frames read clearly less surely than upright's (Latin turned reads as
    # sure digits, its frames less so).
    below = -0.05 + orient.DIRECTED_FRAMES
    assert orient.wins(reading(0.9, frames=below), reading(0.5, sure), False, False)
    assert not orient.wins(reading(0.9, frames=below - 0.01), reading(0.5, sure), False, False)
    # A page read as nothing upright is no measure for a character or two turned (under
    # glare, read as one blob), though a word's few characters may turn.
    assert not orient.wins(reading(0.9, count=1), reading(0.0, sure, count=0), False, False)
    assert orient.wins(reading(0.9, count=4), reading(0.0, sure, count=0), False, False)
    assert orient.wins(reading(0.9, count=2), reading(0.5, sure, count=2), False, False)
    assert orient.wins(reading(0.99), reading(0.5), quarter=False, single_line=False)
    assert not orient.wins(reading(0.99), reading(0.5, -sure * 2), False, False)
    # The beam's reading is judged by the same rule: no second, looser test.
    assert not orient.half_turn_holds(reading(0.9), reading(0.5, upside=0.0))
    assert orient.half_turn_holds(reading(0.9), reading(0.5))
    # Sure it is upside down, a page that reads surely is looked at turned too.
    assert orient.looks_upside_down(reading(0.99, orient.UPSIDE_DOWN))
    assert not orient.looks_upside_down(reading(0.99, orient.UPSIDE_DOWN - 0.1))
    assert not orient.looks_upside_down(reading(0.99))
    # A quarter turn is judged as before: the model knows only upright from upside down.
    assert orient.wins(reading(0.9), reading(0.5, -sure), quarter=True, single_line=True)
