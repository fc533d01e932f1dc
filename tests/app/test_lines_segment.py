"""Line finding on pages built from real MNIST t10k digits."""

import cv2
import numpy as np
import pytest

from app.lines import segment
from app.lines.segment import (
    RULING_INK,
    _bands,
    _split_touching,
    estimate_skew,
    find_lines,
    page_skew,
)
from app.vision import folds, rules
from app.vision.binarize import ink_map
from app.vision.rules import rule_pixels
from app.vision.turn import turn
from bench.robustness import _paper, _salt_and_pepper
from tests.conftest import digit_row


def page_of_rows(t10k, rows: int, start: int = 0, gap: int = 24, count: int = 8) -> np.ndarray:
    """`rows` rows of `count` t10k digits, `gap` pixels apart (negative: overlapping), on white
    paper with a 16-pixel margin."""
    pieces = [
        digit_row(t10k, list(range(start + count * r, start + count * (r + 1))), margin=0)[0]
        for r in range(rows)
    ]
    width = max(p.shape[1] for p in pieces) + 32
    page = np.full((32 + rows * 28 + (rows - 1) * gap, width), 255, np.uint8)
    for r, piece in enumerate(pieces):
        y = 16 + r * (28 + gap)
        region = page[y : y + 28, 16 : 16 + piece.shape[1]]
        np.minimum(region, piece, out=region)  # darker ink wins where rows overlap
    return page


def rotate(page: np.ndarray, angle: float) -> np.ndarray:
    h, w = page.shape
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    return cv2.warpAffine(page, m, (w, h), borderValue=255)


@pytest.mark.parametrize("rows", [1, 2, 4])
def test_find_lines_finds_each_row_top_to_bottom(t10k, rows: int) -> None:
    page = page_of_rows(t10k, rows)
    lines = find_lines(page)
    assert len(lines) == rows
    tops = [line.box.y for line in lines]
    assert tops == sorted(tops)
    for line in lines:
        assert 20 <= line.box.height <= 40  # one row of 28-pixel digits
        assert line.box.x + line.box.width <= page.shape[1]


@pytest.mark.parametrize("angle", [-5.0, -2.0, 3.0, 6.0])
def test_skew_is_measured_and_rows_still_separate(t10k, angle: float) -> None:
    page = np.pad(page_of_rows(t10k, 3, start=100), 40, constant_values=255)
    tilted = rotate(page, angle)
    mask = (tilted < 128).astype(np.uint8)
    assert estimate_skew(mask) == pytest.approx(-angle, abs=1.0)
    assert len(find_lines(tilted)) == 3


@pytest.mark.parametrize("angle", [-17.0, 14.0])
def test_lines_tilted_till_no_empty_row_parts_them_are_found(t10k, angle: float) -> None:
    # Turned this far, the four rows make one band of ink from top to bottom.
    page = np.pad(page_of_rows(t10k, 4, start=100), 40, constant_values=255)
    turned, _ = turn(page, angle, border=255)
    assert len(_bands((turned < 128).astype(np.uint8))) == 1
    assert len(find_lines(turned)) == 4


@pytest.mark.parametrize("angle", [-6.0, -4.0, 5.0, 7.0])
def test_long_lines_tilted_a_little_till_no_empty_row_parts_them_are_found(
    t10k, angle: float
) -> None:
    # Long rows need only a few degrees to make one band; a line's tilt fitted through the
    # components of all four follows none of them.
    page = np.pad(page_of_rows(t10k, 4, start=100, gap=8, count=12), 40, constant_values=255)
    turned, _ = turn(page, angle, border=255)
    mask = (turned < 128).astype(np.uint8)
    assert len(_bands(mask)) == 1
    assert page_skew(mask) == pytest.approx(-angle, abs=1.0)
    assert len(find_lines(turned)) == 4


@pytest.mark.parametrize("angle", [-6.0, 5.0])
def test_one_tilted_line_is_turned_level(t10k, angle: float) -> None:
    page = np.pad(page_of_rows(t10k, 1, start=500, count=12), 40, constant_values=255)
    mask = (rotate(page, angle) < 128).astype(np.uint8)
    assert page_skew(mask) == pytest.approx(-angle, abs=1.5)


@pytest.mark.parametrize("angle", [-20.0, 15.0])
def test_one_steeply_tilted_line_is_turned_level_too(t10k, angle: float) -> None:
    page = np.pad(page_of_rows(t10k, 1, start=500, count=12), 40, constant_values=255)
    turned, _ = turn(page, angle, border=255)
    assert page_skew((turned < 128).astype(np.uint8)) == pytest.approx(-angle, abs=1.5)


@pytest.mark.parametrize("angle", [0.0, -1.5, 2.0])
def test_a_short_line_tilted_as_in_training_is_left_as_it_is(t10k, angle: float) -> None:
    # The CRNN was trained on lines tilted this much; rotating them back only blurs them.
    page = np.pad(page_of_rows(t10k, 1, start=600, count=8), 40, constant_values=255)
    assert page_skew((rotate(page, angle) < 128).astype(np.uint8)) == 0.0


@pytest.mark.parametrize("angle", [-2.0, 2.5])
def test_a_long_line_tilted_as_much_is_turned_level(t10k, angle: float) -> None:
    # Over 36 digits the same tilt moves the line by more than half its height: scaled to
    # the CRNN's height whole, its characters would shrink.
    page = np.pad(page_of_rows(t10k, 1, start=700, count=36), 40, constant_values=255)
    assert page_skew((rotate(page, angle) < 128).astype(np.uint8)) == pytest.approx(
        -angle, abs=0.75
    )


def test_polarity_does_not_matter(t10k) -> None:
    page = page_of_rows(t10k, 2, start=200)
    assert len(find_lines(255 - page)) == 2


def test_blank_page_has_no_lines() -> None:
    assert find_lines(np.full((80, 200), 255, np.uint8)) == []


def test_single_line_keeps_the_page_whole(t10k) -> None:
    page = page_of_rows(t10k, 3, start=300)
    (line,) = find_lines(page, single_line=True)
    assert line.box.height > 3 * 28


def test_crops_are_dark_ink_on_white(t10k) -> None:
    (line,) = find_lines(255 - page_of_rows(t10k, 1, start=400))
    assert np.median(line.gray) > 200 and line.gray.min() < 60


def test_thin_bands_join_the_nearby_line_but_not_a_far_one() -> None:
    mask = np.zeros((200, 50), np.uint8)
    mask[10:40] = 1  # a line of text
    mask[44:47] = 1  # a stroke just under it (the lower bar of '=' or '二')
    mask[100:130] = 1  # another line
    mask[190:192] = 1  # a speck far below everything
    assert _bands(mask) == [(10, 47), (100, 130), (190, 192)]


def test_upload_box_maps_columns_back_without_rotation(t10k) -> None:
    page = np.pad(page_of_rows(t10k, 1, start=500), ((0, 0), (37, 0)), constant_values=255)
    (line,) = find_lines(page)
    cols = np.nonzero((line.gray < 128).any(axis=0))[0]
    x, y, width, height = line.upload_box(cols[0], cols[-1] + 1)
    assert x == pytest.approx(line.box.x, abs=1) and width == pytest.approx(line.box.width, abs=2)
    assert (y, height) == (line.box.y, line.box.height)


def test_touching_rows_are_cut_apart(t10k) -> None:
    page = page_of_rows(t10k, 3, start=600, gap=-3)  # each row overlaps the next by 3 px
    lines = find_lines(page)
    assert len(lines) == 3
    assert all(line.box.height < 2 * 28 for line in lines)


def test_descenders_below_a_gap_stay_with_their_line() -> None:
    mask = np.zeros((32, 120), np.uint8)
    mask[0:21, :] = 1  # a line of text
    mask[22:31, 10:13] = mask[22:31, 60:63] = 1  # the tails of two letters
    assert _split_touching(mask, (0, 31), char_h=8.0) == [(0, 31)]
    mask[22:31, :] = 1  # a whole second line, touching the first
    mask[21, :4] = 1
    assert _split_touching(mask, (0, 31), char_h=8.0) == [(0, 21), (22, 31)]


def ruled_page(t10k, start: int, level: int, angle: float, margin: int | None = None) -> np.ndarray:
    """Three rows of t10k digits on notebook paper: ruled every 52 px, a line under each row
    touching the digits' feet and one above the first, printed `level` grey, 1 px thin and
    broken every 37 px, the whole page turned by `angle` degrees. With `margin`, a margin
    line that far left of the writing, 2 px wide, top to bottom."""
    page = np.pad(page_of_rows(t10k, 3, start=start, gap=24), ((20, 20), (0, 0)), "edge")
    unbroken = np.arange(page.shape[1]) % 37 != 0
    for y in (8, 60, 112, 164):  # t10k digits' ink ends ~4 px above their box's bottom
        page[y, unbroken] = np.minimum(page[y, unbroken], level)
    if margin is not None:
        page = np.pad(page, ((0, 0), (margin + 8, 0)), "edge")
        page[:, 8:10] = np.minimum(page[:, 8:10], level)
    return rotate(page, angle)


@pytest.mark.parametrize(("level", "angle"), [(60, 0.0), (170, 0.0), (130, 1.0), (100, -1.5)])
def test_ruled_paper_lines_are_taken_out(t10k, level: int, angle: float) -> None:
    page = ruled_page(t10k, 700, level, angle)
    assert rule_pixels(ink_map(page), RULING_INK) is not None
    lines = find_lines(page)
    assert len(lines) == 3
    assert all(20 <= line.box.height <= 40 for line in lines)  # a row of digits, no rule
    for line in lines:
        # No rule left in the crop: no row of it is inked across most of its width.
        assert ((line.gray < 200).mean(axis=1) < 0.5).all()


@pytest.mark.parametrize(
    ("level", "angle", "margin"), [(60, 0.0, 4), (170, 0.0, 12), (130, 1.0, 8), (100, -1.5, 4)]
)
def test_a_margin_line_is_not_read_with_the_lines(
    t10k, level: int, angle: float, margin: int, monkeypatch
) -> None:
    page = ruled_page(t10k, 300, level, angle, margin)
    lines = find_lines(page)
    assert len(lines) == 3
    # The writing starts 16 + margin + 8 px from the left; the margin line at 8.
    assert all(line.box.x >= margin + 16 for line in lines)
    # The premise: left in, a margin line dark enough to be ink starts every line (long
    # straight lines are taken out as creases too).
    monkeypatch.setattr(rules, "margin_lines", lambda pale, *_: (np.zeros(pale.shape, bool), 0))
    monkeypatch.setattr(folds, "without_long_lines", lambda ink, height: ink)
    if level <= 130:
        assert all(line.box.x <= 12 for line in find_lines(page))


def test_a_large_page_is_read_shrunk_with_boxes_in_its_own_pixels(t10k) -> None:
    page = page_of_rows(t10k, 3, start=400)
    big = cv2.resize(page, None, fx=12, fy=12, interpolation=cv2.INTER_CUBIC)  # ~4.5 MP
    # Digits ~20 px tall at 1x, ~240 px here: shrunk 5 times, they are still 48 px or more.
    assert segment.reading_factor(big) == 5
    small, large = find_lines(page), find_lines(big)
    assert len(small) == len(large) == 3
    for a, b in zip(small, large, strict=True):
        assert b.gray.shape[0] < 4 * a.gray.shape[0]  # read at ~2.4x, not 12x
        for key in ("x", "y", "width", "height"):
            assert abs(12 * getattr(a.box, key) - getattr(b.box, key)) <= 24
        # Characters' columns map back to the upload's too.
        right_a, right_b = a.gray.shape[1] - 1, b.gray.shape[1] - 1
        assert abs(12 * a.upload_box(right_a, right_a)[0] - b.upload_box(right_b, right_b)[0]) <= 24


def test_rules_are_not_looked_for_in_writing(t10k) -> None:
    for rows, start in ((1, 0), (2, 100), (4, 200)):
        page = page_of_rows(t10k, rows, start=start, gap=4)
        assert rule_pixels(ink_map(page), RULING_INK) is None


def test_a_second_look_paints_a_squared_papers_grid_out_and_leaves_an_even_page_alone(
    t10k,
) -> None:
    page = page_of_rows(t10k, 2, start=300)

    def ink(crops) -> np.ndarray:
        return np.array([(255 - c.gray.astype(np.int64)).sum() / 255 for c in crops])

    clean = find_lines(page)
    second = find_lines(page, second_look=True)
    # Evenly lit, without a grid: the same crops (so the reader does not read them again).
    assert len(second) == len(clean) == 2
    assert all(np.array_equal(a.gray, b.gray) for a, b in zip(clean, second, strict=True))
    bgr = _paper(cv2.cvtColor(page, cv2.COLOR_GRAY2BGR), 18, dots=False)  # printed squares
    squared = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    plain_look, second_look = find_lines(squared), find_lines(squared, second_look=True)
    assert len(plain_look) == len(second_look) == 2
    assert (ink(second_look) <= 1.1 * ink(clean)).all()  # 7% and 4% more than clean
    assert (ink(plain_look) >= 1.14 * ink(clean)).all()  # the grid's pieces: 22% and 15%


def test_a_thin_dark_rim_along_the_pages_edge_is_no_line_but_writing_there_is(t10k) -> None:
    page = np.pad(page_of_rows(t10k, 2, start=300), ((30, 30), (0, 0)), constant_values=255)
    rimmed = page.copy()
    h, w = page.shape
    # A vignette's dark corners: slivers up to 7 px deep along the top and bottom edges, where
    # the writing is 28 px tall (straight bands would go as rules).
    for x in range(w // 3):
        depth = 7 * (w // 3 - x) // (w // 3)
        rimmed[:depth, x] = rimmed[:depth, w - 1 - x] = 40
        rimmed[h - depth :, x] = rimmed[h - depth :, w - 1 - x] = 40
    assert len(find_lines(rimmed)) == 2
    # Writing cropped so that it touches the edge is still a line.
    cropped = page[30 + 16 + 3 :]  # the first row's top 3 px cut off
    assert len(find_lines(cropped)) == 2
    assert len(find_lines(np.ascontiguousarray(cropped[::-1]))) == 2


def test_lines_beside_touching_ones_are_no_thin_bands(t10k) -> None:
    # Three touching rows make a band three rows tall: measured against it, the single rows
    # above and below were taken for thin bands (a stroke, a dot) and merged into it.
    parts = [
        page_of_rows(t10k, 1, start=200),
        page_of_rows(t10k, 3, start=208, gap=-5),
        page_of_rows(t10k, 1, start=232),
    ]
    width = max(p.shape[1] for p in parts)
    page = np.vstack(
        [np.pad(p, ((0, 0), (0, width - p.shape[1])), constant_values=255) for p in parts]
    )
    assert len(_bands((page < 128).astype(np.uint8))) == 3
    lines = find_lines(page)
    assert len(lines) == 5
    assert all(20 <= line.box.height <= 40 for line in lines)


def test_specks_neither_join_lines_nor_widen_them(t10k) -> None:
    # One pixel in a hundred black or white: the specks fill the empty rows between the lines
    # and the margins beside them.
    page = np.pad(page_of_rows(t10k, 4, start=300), 60, constant_values=255)
    noisy = _salt_and_pepper(cv2.cvtColor(page, cv2.COLOR_GRAY2BGR), np.random.default_rng(3))
    lines = find_lines(cv2.cvtColor(noisy, cv2.COLOR_BGR2GRAY))
    assert len(lines) == 4
    for line in lines:
        assert line.box.x >= 70 and line.box.x + line.box.width <= page.shape[1] - 70
        assert 20 <= line.box.height <= 40


@pytest.mark.parametrize("angle", [-25.0, 28.0])
def test_pages_turned_up_to_30_degrees_are_levelled(t10k, angle: float) -> None:
    page = np.pad(page_of_rows(t10k, 4, start=100), 40, constant_values=255)
    turned, _ = turn(page, angle, border=255)
    assert page_skew((turned < 128).astype(np.uint8)) == pytest.approx(-angle, abs=1.0)
    assert len(find_lines(turned)) == 4


@pytest.mark.parametrize(("start", "rows", "count"), [(400, 4, 5), (500, 3, 4)])
def test_a_crease_across_the_page_joins_no_lines(t10k, start: int, rows: int, count: int) -> None:
    # A fold's crease, a pixel wide, from one edge to the other across the lines.
    page = np.pad(page_of_rows(t10k, rows, start=start, count=count), 20, constant_values=255)
    h, w = page.shape
    cv2.line(page, (0, int(h * 0.8)), (w - 1, int(h * 0.2)), 90, 1)
    lines = find_lines(page)
    assert len(lines) == rows
    assert all(20 <= line.box.height <= 28 for line in lines)
