"""app/lines/orient.py: /lines reads pages sent on their side or upside down."""

from types import SimpleNamespace

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.lines import orient
from app.lines.segment import find_lines
from tests.app.test_api_lines import post
from tests.app.test_lines_segment import page_of_rows


def reading(chars: float, frames: float, lines: int = 1, count: int = 8, lm: float = 0.0):
    """An orient.Reading of `count` characters over `lines` lines."""
    box = SimpleNamespace(x=10, width=500, height=30)  # lines of one length: no layout cue
    found = [SimpleNamespace(box=box, characters=[None] * (count // lines)) for _ in range(lines)]
    return orient.Reading(chars=chars, frames=frames, lines=lines, found=found, lm=lm)


def test_a_half_turn_wins_only_surely_and_by_its_frames_too() -> None:
    upright = reading(0.7, -0.08, 2)
    assert orient.wins(reading(0.95, -0.02, 2), upright, quarter=False, single_line=False)
    # Latin upside down reads as sure digits, its frames no surer: no turn.
    assert not orient.wins(reading(0.95, -0.06, 2), upright, quarter=False, single_line=False)
    assert not orient.wins(reading(0.78, -0.01, 2), upright, quarter=False, single_line=False)
    # A quarter turn must read in longer lines (a page on its side reads as short ones).
    sideways = reading(0.5, -0.1, 12, count=24)
    assert orient.wins(reading(0.7, -0.1, 1), sideways, quarter=True, single_line=False)
    assert not orient.wins(reading(0.9, -0.01, 12, 24), sideways, quarter=True, single_line=False)
    # ... though not fewer: read upright, a page on its side may be cut into as few lines
    # as it holds, each across all of them.
    across = reading(0.5, -0.1, 3, count=7)
    assert orient.wins(reading(0.8, -0.1, 4, count=32), across, quarter=True, single_line=False)
    assert not orient.wins(reading(0.8, -0.1, 4, 8), across, quarter=True, single_line=False)
    # A page read unsurely as two lines or more of a few characters each may be on its
    # side; one line only where it is taller than wide.
    assert orient.looks_sideways(12, 15, False) and orient.looks_sideways(2, 4, False)
    assert not orient.looks_sideways(4, 60, False)  # long lines: upright, unsure
    assert orient.looks_sideways(1, 8, True) and not orient.looks_sideways(1, 8, False)


def test_a_page_read_as_next_to_nothing_turns_to_a_reading_of_more() -> None:
    # On its side, a page's lines are crossed: read as a character or two, unsurely.
    crossed = reading(0.2, -0.4, 2, count=2)
    assert orient.reads_little([0.2, 0.2]) and not orient.reads_little([])
    assert not orient.reads_little([0.95, 0.95]) and not orient.reads_little([0.2] * 4)
    turned = reading(0.8, -0.1, 4, count=40)
    assert orient.wins(turned, crossed, quarter=True, single_line=False)  # more lines, even
    # A character or two either way is no guide ("No" read again as "oN").
    assert not orient.wins(reading(0.95, -0.01, 1, count=2), crossed, False, False)


def test_a_sure_half_turn_must_also_beat_the_language_models_liking_for_upright() -> None:
    # "store" read upright at 0.77, a word the language model likes (0.44 a character);
    # upside down it reads as sure digits "24025", its frames surer too: upright stays.
    word = reading(0.77, -0.06, 1, count=5, lm=0.44)
    assert not orient.wins(reading(0.92, -0.017, 1, count=5), word, False, False)
    # The same surety against upright characters the model finds no likelier: turned.
    code = reading(0.77, -0.06, 1, count=5)
    assert orient.wins(reading(0.92, -0.017, 1, count=5), code, False, False)


def test_a_half_turn_also_wins_by_characters_and_language_model_together() -> None:
    # Chinese upside down: unsure characters in unlikely sequences; turned back, surer ones
    # that follow each other as words do, though short of SURE_TURN.
    upright = reading(0.45, -0.3, lm=-1.0)
    turned = reading(0.7, -0.2, lm=0.5)
    assert turned.chars < orient.SURE_TURN
    assert orient.wins(turned, upright, quarter=False, single_line=False)
    # Characters alone must then clear the whole margin.
    flat = reading(0.7, -0.2, lm=-1.0)
    assert not orient.wins(flat, upright, quarter=False, single_line=False)
    assert orient.wins(reading(0.85, -0.2, lm=-1.0), upright, quarter=False, single_line=False)
    # ... and read at least PLAIN_TURN.
    low = reading(0.55, -0.2, lm=5.0)
    assert not orient.wins(low, reading(0.1, -0.5, lm=-1.0), False, False)


def test_a_page_of_many_characters_turns_on_less_evidence() -> None:
    # Four lines read 0.65 upright and 0.87 turned: 0.22 surer, short of SURE_TURN.
    many, few = {"lines": 4, "count": 80}, {"lines": 4, "count": 8}
    assert orient.wins(reading(0.87, -0.1, **many), reading(0.65, -0.1, **many), False, False)
    assert not orient.wins(reading(0.87, -0.1, **few), reading(0.65, -0.1, **few), False, False)
    assert not orient.wins(reading(0.67, -0.1, **many), reading(0.65, -0.1, **many), False, False)


@pytest.mark.parametrize("k", [1, 2, 3])
def test_a_page_of_lines_turned_reads_as_upright(
    client: TestClient, t10k, k: int, monkeypatch
) -> None:
    page = page_of_rows(t10k, 2, start=300)
    upright = post(client, page, beam=8)
    turned_page = np.ascontiguousarray(np.rot90(page, k))
    turned = post(client, turned_page, beam=8)
    assert turned["text"] == upright["text"]
    h, w = turned_page.shape[:2]
    for line in turned["lines"]:
        b = line["box"]
        assert (
            b["x"] >= 0 and b["y"] >= 0 and b["x"] + b["width"] <= w and b["y"] + b["height"] <= h
        )
        # Characters lie in the line's box, give or take the margin a line is read with.
        tol = min(b["width"], b["height"]) // 4 + 2
        for c in line["characters"]:
            assert b["x"] - tol <= c["x"] and c["x"] + c["width"] <= b["x"] + b["width"] + tol
            assert b["y"] - tol <= c["y"] and c["y"] + c["height"] <= b["y"] + b["height"] + tol
        along = [c["y"] if k % 2 else c["x"] for c in line["characters"]]
        # Turned anticlockwise a quarter, the lines run up the upload; clockwise, down it;
        # upside down, leftwards.
        assert along == sorted(along, reverse=k in (1, 2))
    # The premise: never looked at turned, the page reads otherwise.
    monkeypatch.setattr(orient, "looks_unsure", lambda confidences: False)
    monkeypatch.setattr(orient, "looks_upside_down", lambda reading: False)
    assert post(client, turned_page, beam=8)["text"] != upright["text"]


def test_a_line_turned_half_a_turn_maps_its_columns_back_to_the_same_pixels(t10k) -> None:
    page = page_of_rows(t10k, 2, start=300)
    for crop in find_lines(page):
        turned = crop.flipped()
        w = crop.gray.shape[1]
        np.testing.assert_array_equal(turned.gray, crop.gray[::-1, ::-1])
        # The turned crop's first columns are the crop's last, the same pixels of the upload.
        assert turned.upload_box(0, 12) == crop.upload_box(w - 12, w)
        assert turned.upload_box(w - 12, w) == crop.upload_box(0, 12)


@pytest.mark.parametrize("k", [1, 3])
def test_one_line_on_its_side_read_with_single_line_is_turned(
    client: TestClient, t10k, k: int
) -> None:
    # Read whole, a line on its side is one tall crop read as a character or two: too few
    # to look unsure, so its shape tells (`orient.on_its_side`).
    page = page_of_rows(t10k, 1, start=300)
    upright = post(client, page, single_line=True, beam=8)["text"]
    assert upright and len(upright) >= 6
    turned = np.ascontiguousarray(np.rot90(page, k))
    assert post(client, turned, single_line=True, beam=8)["text"] == upright
    assert orient.on_its_side(23, 207) and not orient.on_its_side(207, 23)


def test_a_page_whose_lines_end_flush_and_start_ragged_is_upside_down() -> None:
    def page(*spans: tuple[int, int]) -> orient.Reading:
        found = [
            SimpleNamespace(
                box=SimpleNamespace(x=x0, width=x1 - x0, height=30), characters=[None] * 4
            )
            for x0, x1 in spans
        ]
        return orient.Reading(chars=0.7, frames=-0.1, lines=len(found), found=found)

    upside_down = page((300, 800), (120, 805), (500, 798))
    assert orient.flush_right(upside_down)
    assert not orient.flush_right(page((10, 500), (12, 700), (8, 300)))  # flush left
    assert not orient.flush_right(page((10, 800), (40, 790)))  # both ends even: no guide
    assert not orient.flush_right(page((300, 800)))  # one line
    # Such a page turns on any gain at all (read PLAIN_TURN or more).
    turned = reading(0.72, -0.1, 3, count=12)
    assert orient.wins(turned, upside_down, quarter=False, single_line=False)
    assert not orient.wins(turned, page((10, 500), (12, 700), (8, 300)), False, False)
