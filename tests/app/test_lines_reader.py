"""LineReader's batching, limits and character placement, with a stand-in model."""

import json

import numpy as np
import pytest

from app.core.errors import TooManyCharacters
from app.lines import reader as reader_module
from app.lines.ctc import DecodedChar
from app.lines.preprocess import frame_count
from app.lines.reader import LineReader, char_edges
from tests.app.test_lines_segment import page_of_rows


class RecordingModel:
    """Answers like a CRNN (blank everywhere) and records the batches it is given."""

    name = "stand-in"

    def __init__(self, charset: list[str]) -> None:
        self.metadata = {
            "charset": json.dumps(charset),
            "height": "32",
            "mean": "0.1",
            "std": "0.3",
            "stride": "4",
        }
        self.batches: list[tuple[int, ...]] = []

    def meta_json(self, key: str) -> object:
        return json.loads(self.metadata[key])

    def run(self, batch: np.ndarray) -> np.ndarray:
        self.batches.append(batch.shape)
        n, _, _, w = batch.shape
        logits = np.zeros((n, w // 4, 3), np.float32)
        logits[:, :, 0] = 5.0
        return logits


def reader(**kwargs) -> tuple[LineReader, RecordingModel]:
    model = RecordingModel(["", "a", "b"])
    return LineReader(model, **kwargs), model  # type: ignore[arg-type]


def test_similar_widths_share_one_call_and_outliers_get_their_own() -> None:
    lr, model = reader()
    lines = [np.zeros((32, w), np.float32) for w in (100, 120, 90, 400)]
    out = lr.recognise(lines)
    assert sorted(b[0] for b in model.batches) == [1, 3]
    assert [o.shape[0] for o in out] == [frame_count(w, 4) for w in (100, 120, 90, 400)]
    assert all(np.allclose(np.exp(o).sum(axis=1), 1.0) for o in out)


def test_too_many_lines_is_refused(t10k) -> None:
    lr, _ = reader(max_lines=2)
    with pytest.raises(TooManyCharacters):
        lr.read(page_of_rows(t10k, 3))


def test_overlong_line_is_refused(t10k) -> None:
    lr, _ = reader(max_width=64)
    with pytest.raises(TooManyCharacters):
        lr.read(page_of_rows(t10k, 1))


def test_lines_read_as_nothing_are_dropped_after_a_second_look(t10k) -> None:
    lr, model = reader()
    assert lr.read(page_of_rows(t10k, 2)) == []
    # Ink found in lines and read as nothing (a blob under a glare can be) is read again,
    # turned and binarised as /digits binarises, before it is taken for no writing.
    assert len(model.batches) > 1


def test_char_edges_split_halfway_between_spikes() -> None:
    chars = [DecodedChar(1, 0.9, 4, 5), DecodedChar(2, 0.9, 10, 11), DecodedChar(1, 0.9, 20, 21)]
    assert char_edges(chars, 30) == [1.5, 7.5, 15.5, 25.5]
    assert char_edges(chars[:1], 30) == [0.0, 30.0]


def test_beam_search_stops_at_the_frame_budget(t10k, monkeypatch) -> None:
    lr, _ = reader()
    calls: list[tuple[int, int]] = []
    monkeypatch.setattr(lr, "_decode", lambda logp, beam: calls.append((len(logp), beam)) or [])
    page = page_of_rows(t10k, 3)
    lr.read(page, beam=8)
    # The page's three lines (read as nothing here, it is then read again: see above).
    assert [b for _, b in calls][:3] == [8, 8, 8]
    frames = [n for n, _ in calls]
    calls.clear()
    monkeypatch.setattr(reader_module, "BEAM_MAX_FRAMES", frames[0] + frames[1] // 2)
    lr.read(page, beam=8)
    assert [b for _, b in calls][:3] == [8, 0, 0]


def test_a_half_turn_the_greedy_reading_won_stands_where_the_beam_reads_it_surer_than_upright(
    t10k, monkeypatch
) -> None:
    from types import SimpleNamespace

    from app.lines import orient

    lr, _ = reader()
    page = page_of_rows(t10k, 2)
    crops = lr._crops(page, False)
    box = SimpleNamespace(x=10, width=500, height=30)

    def reading(chars: float, frames: float) -> orient.Reading:
        chars_ = [SimpleNamespace(confidence=chars)] * 8
        found = [SimpleNamespace(box=box, characters=chars_) for _ in crops]
        return orient.Reading(chars=chars, frames=frames, lines=len(crops), found=found)

    upright = reading(0.63, -0.11)
    # Greedy, turned: sure (0.93) and clearly surer than upright; with the beam: 0.85, short
    # of orient.SURE_TURN, but still read surer than upright (upside-down mixed lines do so).
    answers = {0: reading(0.93, -0.02), 8: reading(0.85, -0.02)}
    monkeypatch.setattr(lr, "_read_crops", lambda crops, beam: answers[beam])
    turns, _, got = lr._turn(page, crops, upright, False, 8)
    assert turns == 2 and got is answers[8]
    # A beam reading no surer than upright's leaves the page upright.
    answers[8] = reading(0.6, -0.02)
    turns, _, got = lr._turn(page, crops, upright, False, 8)
    assert turns == 0 and got is upright
