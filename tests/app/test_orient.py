"""app/digits/orient.py: pages turned a quarter or half turn are read the right way up."""

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.digits import orient
from app.digits.segment import Box
from tests.conftest import encode, read_text
from training import digit_sheets


@pytest.mark.parametrize("k", [0, 1, 2, 3])
def test_a_box_found_on_a_turned_image_maps_back_onto_the_same_pixels(k: int) -> None:
    rng = np.random.default_rng(k)
    for _ in range(20):
        h, w = (int(v) for v in rng.integers(20, 90, 2))
        x0, y0 = int(rng.integers(0, w - 5)), int(rng.integers(0, h - 5))
        x1, y1 = int(rng.integers(x0 + 1, w + 1)), int(rng.integers(y0 + 1, h + 1))
        image = np.zeros((h, w), np.uint8)
        image[y0:y1, x0:x1] = 1
        ys, xs = np.nonzero(np.rot90(image, k))
        found = Box(int(xs.min()), int(ys.min()), int(np.ptp(xs)) + 1, int(np.ptp(ys)) + 1)
        assert orient.box_back(found, k, image.shape) == Box(x0, y0, x1 - x0, y1 - y0)


LABELS = [str(d) for d in range(10)]


def _probs(readings: list[list[tuple[int, float]]]) -> np.ndarray:
    """4 x N x 10 probabilities: readings[k][i] = (digit, confidence) of voter i turned k."""
    out = np.zeros((4, len(readings[0]), 10))
    for k, row in enumerate(readings):
        for i, (digit, p) in enumerate(row):
            out[k, i] = (1 - p) / 9
            out[k, i, digit] = p
    return out


def test_a_turn_wins_only_surely_and_by_a_margin() -> None:
    unsure, sure = [(3, 0.4), (4, 0.5), (7, 0.4)], [(3, 0.95), (4, 0.97), (7, 0.96)]
    assert orient.best_turn(_probs([unsure, sure, unsure, unsure]), LABELS) == 1
    assert orient.best_turn(_probs([unsure, unsure, sure, unsure]), LABELS) == 2
    near = [(3, 0.92), (4, 0.93), (7, 0.95)]
    assert orient.best_turn(_probs([near, unsure, sure, unsure]), LABELS) == 0  # not by MARGIN
    half = [(3, 0.8), (4, 0.8), (7, 0.8)]  # not sure enough (SURE_HALF_TURN)
    assert orient.best_turn(_probs([unsure, unsure, half, unsure]), LABELS) == 0
    low = [(3, 0.55), (4, 0.55), (7, 0.55)]  # nor here (SURE_QUARTER_TURN)
    assert orient.best_turn(_probs([unsure, low, unsure, unsure]), LABELS) == 0
    # 6s and 9s read as 9s and 6s upside down, a 2 as a 2, surely either way: no vote on a
    # half turn (a page of them was turned).
    alike_up = [(6, 0.7), (9, 0.7), (2, 0.9), (9, 0.7), (7, 0.5)]
    alike_down = [(9, 0.99), (6, 0.99), (2, 0.95), (6, 0.99), (2, 0.9)]
    other = [(1, 0.3)] * 5
    assert orient.best_turn(_probs([alike_up, other, alike_down, other]), LABELS) == 0
    # Two voters far surer upside down than upright: enough evidence (HALF_TURN_EVIDENCE).
    two_up, two_down = [(7, 0.11), (4, 0.35)], [(4, 0.96), (7, 0.95)]
    two_other = [(1, 0.3)] * 2
    assert orient.best_turn(_probs([two_up, two_other, two_down, two_other]), LABELS) == 2
    two_fair = [(7, 0.6), (4, 0.7)]  # read fairly upright: too little evidence
    assert orient.best_turn(_probs([two_fair, two_other, two_down, two_other]), LABELS) == 0
    one_up, one_down = [(7, 0.11), (0, 0.5)], [(4, 0.96), (0, 0.9)]  # one voter: none
    assert orient.best_turn(_probs([one_up, two_other, one_down, two_other]), LABELS) == 0
    assert orient.reads_in_rows(2, 9) and not orient.reads_in_rows(2, 1)
    assert not orient.looks_unsure([0.99, 0.95, 0.97])
    assert not orient.looks_unsure([0.2, 0.3])  # too few digits to vote
    assert orient.looks_unsure([0.99, 0.5, 0.6])


@pytest.fixture(scope="module")
def sheets(t10k) -> list:
    images, labels = t10k
    return digit_sheets.make_sheets(images, labels, "rows", 12, 11)


@pytest.mark.parametrize("k", [1, 2, 3])
def test_sheets_turned_a_quarter_or_half_turn_read_as_upright_ones(
    client: TestClient, sheets: list, k: int
) -> None:
    # Read as turned, every one of these read wrong (rows down the page, or digits upside down).
    upright = [read_text(client, s.image) == s.text for s in sheets]
    turned = [read_text(client, np.ascontiguousarray(np.rot90(s.image, k))) for s in sheets]
    right = [t == s.text for t, s in zip(turned, sheets, strict=True)]
    assert sum(right) >= sum(upright) - 1


def test_upside_down_sheets_with_few_telling_digits_are_turned(
    client: TestClient, t10k, monkeypatch
) -> None:
    # Mostly 0, 1, 5, 6, 8, 9 (alike upside down): under MIN_VOTERS others, or those read
    # turned under SURE_HALF_TURN on average, but far surer than upright (HALF_TURN_EVIDENCE).
    images, labels = t10k
    sheets = digit_sheets.make_sheets(images, labels, "rows", 99, 11)
    picked = [sheets[i] for i in (5, 7, 68, 98)]
    uploads = [np.ascontiguousarray(np.rot90(s.image, 2)) for s in picked]
    assert all(read_text(client, u) == s.text for u, s in zip(uploads, picked, strict=True))
    monkeypatch.setattr(orient, "HALF_TURN_EVIDENCE", float("inf"))  # the premise
    assert not any(read_text(client, u) == s.text for u, s in zip(uploads, picked, strict=True))


def test_digit_boxes_of_a_turned_sheet_are_the_upright_ones_turned(
    client: TestClient, sheets: list
) -> None:
    sheet = sheets[0]
    width = sheet.image.shape[1]
    upright = client.post("/digits", files={"file": ("s.png", encode(sheet.image))}).json()
    upload = np.ascontiguousarray(np.rot90(sheet.image, 1))  # a quarter turn anticlockwise
    turned = client.post("/digits", files={"file": ("s.png", encode(upload))}).json()
    assert turned["text"] == upright["text"] == sheet.text
    for a, b in zip(upright["digits"], turned["digits"], strict=True):
        a, b = a["box"], b["box"]
        # Upright (x, y, w, h) lies at (y, W - x - w, h, w) in the upload.
        expected = (a["y"], width - a["x"] - a["width"], a["height"], a["width"])
        got = (b["x"], b["y"], b["width"], b["height"])
        assert np.abs(np.subtract(got, expected)).max() <= 2


def test_upright_touching_digits_are_not_turned(client: TestClient, t10k) -> None:
    # Touching pairs turned a quarter can pass for single digits; pages of them are read
    # unsurely upright, yet were turned (4 of 200 eval sheets) before a turn had to be sure.
    images, labels = t10k
    sheets = digit_sheets.make_sheets(images, labels, "touching", 160, 7)
    picked = [sheets[i] for i in (42, 66, 115, 155)]
    assert sum(read_text(client, s.image) == s.text for s in picked) >= 3
