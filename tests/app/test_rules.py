"""Form lines (underlines, ruled lines, boxes, combs) out of the ink map, on real t10k digits."""

from pathlib import Path

import cv2
import numpy as np
import pytest

from app.core.config import Settings
from app.digits import reader as digit_reader
from app.digits import segment
from app.digits.segment import segment_digits
from app.lines.segment import RULING_INK
from app.vision import binarize, rules
from app.vision.binarize import InkMap, ink_map
from app.vision.rules import find_rules, remove_rules, rule_pixels
from tests.conftest import digit_row, encode, sheet_accuracy
from training import digit_sheets

ASSETS = Path(__file__).resolve().parents[1] / "assets"


def _page(t10k, indices: list[int], gap: int = 12) -> tuple[np.ndarray, str, tuple[int, int]]:
    """A row of t10k digits at twice MNIST's size, its text, and its ink's top and bottom."""
    page, text = digit_row(t10k, indices, gap=gap, margin=24)
    page = cv2.resize(page, None, fx=2, fy=2)
    rows = np.nonzero((page < 128).any(axis=1))[0]
    return page, text, (int(rows.min()), int(rows.max()))


def _read(client, page: np.ndarray) -> str:
    return client.post("/digits", files={"file": ("p.png", encode(page))}).json()["text"]


def test_an_underline_touching_every_digit_is_removed(t10k, client) -> None:
    page, text, (_top, bottom) = _page(t10k, list(range(100, 107)))
    cv2.line(page, (10, bottom), (page.shape[1] - 10, bottom), 0, 2)
    # The premise: the line joins the whole row into one blob.
    assert len(segment_digits(ink_map(page, faint=0.2))) < len(text)
    assert find_rules(ink_map(page).mask).flat.any()
    assert _read(client, page) == text


def test_a_comb_of_boxes_reads_as_its_digits_without_ones(t10k, client) -> None:
    page, text, (top, bottom) = _page(t10k, list(range(110, 116)), gap=20)
    ink_cols = np.nonzero((page < 128).any(axis=0))[0]
    # Cell edges half-way between the digits: in each gap, the middle of its paper columns.
    gaps = np.nonzero(np.diff(ink_cols) > 1)[0]
    edges = [ink_cols[0] - 8, *((ink_cols[g] + ink_cols[g + 1]) // 2 for g in gaps)]
    edges.append(ink_cols[-1] + 8)
    cv2.rectangle(page, (edges[0], top - 8), (edges[-1], bottom + 8), 0, 2)
    for x in edges[1:-1]:
        cv2.line(page, (int(x), top - 8), (int(x), bottom + 8), 0, 2)
    rules = find_rules(ink_map(page).mask)
    assert rules.flat.any() and rules.upright.any()
    assert _read(client, page) == text


def test_strokes_crossing_a_rule_stay_whole(t10k) -> None:
    page, _text, (_top, bottom) = _page(t10k, list(range(120, 126)))
    pieces = cv2.connectedComponents(ink_map(page).mask)[0]
    cv2.line(page, (10, bottom - 6), (page.shape[1] - 10, bottom - 6), 0, 2)
    cleaned = remove_rules(ink_map(page))
    assert find_rules(ink_map(page).mask).found
    # The digits' lower ends below the line stay joined to them: no new pieces.
    assert cv2.connectedComponents(cleaned.mask)[0] == pieces


def test_a_lone_upright_stroke_between_ruled_lines_is_a_one(t10k) -> None:
    page, _text, (top, bottom) = _page(t10k, list(range(130, 136)), gap=40)
    w = page.shape[1]
    for y in (top - 6, bottom + 6):
        cv2.line(page, (0, y), (w - 1, y), 0, 2)
    x = int(np.nonzero((page < 128).any(axis=0))[0][0]) - 20
    cv2.line(page, (x, top - 6), (x, bottom + 6), 0, 3)  # a 1 written from line to line
    rules = find_rules(ink_map(page).mask)
    assert rules.flat.any()
    assert not rules.upright[:, x - 2 : x + 3].any()


def test_ones_written_from_line_to_line_between_ruled_lines_stay(t10k) -> None:
    page, _text, (top, bottom) = _page(t10k, list(range(130, 136)), gap=40)
    w = page.shape[1]
    for y in (top - 6, bottom + 6):
        cv2.line(page, (0, y), (w - 1, y), 0, 2)
    gaps = np.nonzero(~(page < 128)[top:bottom].any(axis=0))[0]
    # Three 1s in the pen the rules are drawn with, each in a gap between two digits: as
    # many upright strokes capped by the same two rules as a comb's separators.
    ones = [int(x) for x in gaps[(gaps > 40) & (gaps < w - 40)][:: max(1, len(gaps) // 4)][:3]]
    for x in ones:
        cv2.line(page, (x, top - 6), (x, bottom + 6), 0, 3)
    found = find_rules(ink_map(page).mask)
    assert found.flat.any() and len(ones) == 3
    assert not any(found.upright[:, x - 2 : x + 3].any() for x in ones)


def test_a_margin_line_beside_rows_of_digits_is_not_a_row_of_ones(
    t10k, client, monkeypatch
) -> None:
    rows = [_page(t10k, list(range(k, k + 6))) for k in (140, 146, 152)]
    width = max(page.shape[1] for page, _, _ in rows)
    page = np.vstack([np.pad(p, ((0, 0), (0, width - p.shape[1])), "edge") for p, _, _ in rows])
    text = "\n".join(t for _, t, _ in rows)
    page[:, 12:15] = 90  # a margin line top to bottom, left of the writing
    assert _read(client, page) == text
    # The premise: left in, the line is a tall 1, a row of its own (the segmenter drops such
    # a stroke beside the rows too, and the reader a lone mark paler than the writing: all
    # are turned off).
    monkeypatch.setattr(rules, "margin_lines", lambda pale, *_: (np.zeros(pale.shape, bool), 0))
    monkeypatch.setattr(segment, "_without_margin_strokes", lambda boxes, areas, kept, h: kept)
    monkeypatch.setattr(digit_reader, "PALE_LONE_MARK", 1.0)
    assert _read(client, page) != text


@pytest.mark.parametrize("kind", ["spaced", "touching", "rows", "photo", "single"])
def test_no_rules_are_found_among_plain_digits(t10k, kind: str) -> None:
    images, labels = t10k
    for sheet in digit_sheets.make_sheets(images, labels, kind, 40, seed=11):
        gray = cv2.cvtColor(sheet.image, cv2.COLOR_BGR2GRAY)
        ink = ink_map(gray, faint=segment.FAINT_INK)
        assert rule_pixels(ink) is None  # margins included
        assert rule_pixels(ink, segment.FAINT_INK) is None  # nor a notebook's ruling


def test_a_notebooks_ruling_broken_into_dashes_is_taken_out(t10k, client, monkeypatch) -> None:
    rows = [_page(t10k, list(range(k, k + 6))) for k in (160, 166, 172)]
    width = max(page.shape[1] for page, _, _ in rows)
    page = np.vstack([np.pad(p, ((0, 0), (0, width - p.shape[1])), "edge") for p, _, _ in rows])
    text = "\n".join(t for _, t, _ in rows)
    dashes = np.arange(width) % 37 != 0  # a thin pale rule, binarised into dashes
    for k, (row, _, (_top, bottom)) in enumerate(rows):
        y = k * row.shape[0] + bottom - 2  # under the digits' feet, touching some
        page[y, dashes] = np.minimum(page[y, dashes], 120)
    assert _read(client, page) == text

    # The premise: the form-line search alone leaves the dashes in.
    def form_lines_only(gray: np.ndarray):
        return remove_rules(ink_map(gray, faint=segment.FAINT_INK))

    monkeypatch.setattr(digit_reader, "digit_ink", form_lines_only)
    assert _read(client, page) != text


@pytest.mark.parametrize(("kind", "floor", "ceiling"), [("form", 0.75, 0.3), ("squared", 0.7, 0.1)])
def test_digits_on_forms_read_right_only_with_the_rules_out(
    t10k, monkeypatch, kind: str, floor: float, ceiling: float
) -> None:
    images, labels = t10k
    sheets = digit_sheets.make_sheets(images, labels, kind, 40, seed=4)
    with_rules_out = sheet_accuracy(sheets, Settings())
    monkeypatch.setattr(segment, "remove_rules", lambda ink, ruling=None: ink)
    monkeypatch.setattr(binarize, "remove_grid", lambda gray: gray)  # squared paper's grid
    left_in = sheet_accuracy(sheets, Settings())
    assert with_rules_out >= floor
    assert left_in <= ceiling


def _boxed(page: np.ndarray, pad: int, right_pad: int | None = None) -> tuple[int, int, int, int]:
    """Draw a box around a page's ink (2 px pen), `pad` px from it (`right_pad` on the
    right); returns the box's left, top, right and bottom."""
    rows = np.nonzero((page < 128).any(axis=1))[0]
    cols = np.nonzero((page < 128).any(axis=0))[0]
    right = int(cols[-1]) + (pad if right_pad is None else right_pad)
    box = (int(cols[0]) - pad, int(rows[0]) - pad, right, int(rows[-1]) + pad)
    cv2.rectangle(page, box[:2], box[2:], 0, 2)
    return box


def test_a_small_box_beside_big_writing_is_taken_out(t10k, client, monkeypatch) -> None:
    big, big_text = digit_row(t10k, list(range(200, 206)), margin=24)
    big = cv2.resize(big, None, fx=2.5, fy=2.5)
    small, small_text = digit_row(t10k, list(range(210, 214)), gap=10, margin=8)
    _boxed(small, pad=6)
    page = np.full((big.shape[0] + small.shape[0] + 20, big.shape[1]), 255, np.uint8)
    page[: big.shape[0]] = big
    page[big.shape[0] + 10 : big.shape[0] + 10 + small.shape[0], 40 : 40 + small.shape[1]] = small
    assert _read(client, page) == f"{big_text}\n{small_text}"
    # The premise: the box is shorter than a rule of the big writing would be.
    assert small.shape[1] < rules.RULE_LENGTH * find_rules(ink_map(big).mask).height
    monkeypatch.setattr(rules, "_small_writing", lambda *_: None)
    assert _read(client, page) != f"{big_text}\n{small_text}"


def test_a_one_written_against_a_boxs_side_stays(t10k, client, monkeypatch) -> None:
    page, text, (top, bottom) = _page(t10k, [3, 4, 6])
    # A 1 written last, upright, in a pen stroke 5 px wide, 3 px from the box's right side
    # and from its top and bottom: both rules cap it as they cap the side.
    x = int(np.nonzero((page < 128).any(axis=0))[0][-1]) + 16
    cv2.line(page, (x, top), (x, bottom), 0, 5)
    _left, _top, right, _bottom = _boxed(page, pad=3)
    found = find_rules(ink_map(page).mask)
    assert found.upright[:, right - 1 : right + 2].any()
    assert not found.upright[top:bottom, x - 3 : x + 4].any()
    assert _read(client, page) == text + "1"
    # The premise: taken for a comb's separator (any pen), the 1 goes with the box.
    monkeypatch.setattr(rules, "SAME_PEN", 100.0)
    assert find_rules(ink_map(page).mask).upright[top:bottom, x - 3 : x + 4].any()


def test_a_digit_against_a_boxs_side_keeps_its_stroke() -> None:
    # An upright run (its bounding box): a box's side (3 px) with a stroke fused to it along
    # part of its length.
    run = np.zeros((50, 9), bool)
    run[:, :3] = True
    run[10:40, 3:] = True
    side = rules._straight_columns(run)
    assert side[:, :3].all() and not side[:, 3:].any()
    # A side alone is left as it is.
    assert (rules._straight_columns(run[:, :3]) == run[:, :3]).all()


def test_a_digits_flat_base_beside_small_writing_is_no_rule(monkeypatch) -> None:
    page = cv2.imread(str(ASSETS / "broken_five.png"), cv2.IMREAD_GRAYSCALE)
    ink = ink_map(page, faint=segment.FAINT_INK)
    height, _tallest, stats, _labels = rules._heights(ink.mask)
    # The second row's writing is small enough for short rules to be looked for...
    assert rules._small_writing(stats, height) is not None
    assert rule_pixels(ink) is None
    # ... and the 5's flat base is long against it: a lone run must be an underline's length.
    monkeypatch.setattr(rules, "UNDERLINE", rules.RULE_LENGTH)
    assert rule_pixels(ink) is not None


def test_a_page_of_many_short_runs_is_not_judged_run_by_run() -> None:
    # Hatching or a table of dashes beside small writing: each short run would be judged
    # against every component around it; past MAX_SHORT_RUNS none is.
    page = np.zeros((400, 300), np.uint8)
    for y in range(10, 390, 10):
        page[y, 20:80] = 1  # 38 free-standing runs, each a rule's length for 20 px writing
    labels, stats = rules._components(rules._runs(page, 40, True))
    _height, _tallest, marks, components = rules._heights(page)
    few = labels * (labels <= 10)
    assert len(rules._box_edges(few, stats[:11], marks, components, 20.0, 150)) == 10
    assert rules._box_edges(labels, stats, marks, components, 20.0, 150) == []


def test_a_thick_box_around_a_few_small_digits_is_taken_out(t10k, client, monkeypatch) -> None:
    # Drawn with a 4 px pen, the box holds more ink than its digits: the page's writing
    # height is measured as the box's own, too tall for the box to be a rule of it.
    page, text = digit_row(t10k, [40, 41, 42, 43], gap=10, margin=20)
    rows = np.nonzero((page < 128).any(axis=1))[0]
    cols = np.nonzero((page < 128).any(axis=0))[0]
    cv2.rectangle(
        page, (int(cols[0]) - 8, int(rows[0]) - 8), (int(cols[-1]) + 8, int(rows[-1]) + 8), 0, 4
    )
    assert _read(client, page) == text
    # The premise: judged against the page's writing alone, measured with the box's sides in,
    # the box stays (either search finds it: the small writing inside, or the writing's
    # height measured with upright lines out).
    monkeypatch.setattr(rules, "_uprights", lambda mask: None)
    assert _read(client, page) == text
    monkeypatch.setattr(rules, "_small_writing", lambda *_: None)
    assert _read(client, page) != text


def test_a_flat_zero_is_no_box() -> None:
    page = cv2.imread(str(ASSETS / "flat_zero.png"), cv2.IMREAD_GRAYSCALE)
    ink = ink_map(page, faint=segment.FAINT_INK)
    height, _tallest, stats, _labels = rules._heights(ink.mask)
    # Small writing beside it: short rules are looked for on this page, and the 0's top and
    # bottom strokes are two such runs with the same ends, one above the other.
    small = rules._small_writing(stats, height)
    assert small is not None
    _labels, runs = rules._components(rules._runs(ink.mask, round(rules.RULE_LENGTH * small), True))
    lefts = sorted(int(r[0]) for r in runs[1:])
    assert len(lefts) == 2 and abs(lefts[0] - lefts[1]) <= 3
    # Too close together to hold writing (and nothing between them): no box.
    assert rule_pixels(ink) is None


def _squared(page: np.ndarray, step: int, level: int = 170) -> np.ndarray:
    """A grayscale page printed over with squared paper's grid (one-pixel lines)."""
    grid = np.full_like(page, 255)
    grid[step // 2 :: step, :] = level
    grid[:, step // 2 :: step] = level
    return np.minimum(page, grid)


def test_the_writing_on_squared_paper_is_measured_without_the_grid(t10k, monkeypatch) -> None:
    page, _text = digit_row(t10k, list(range(180, 188)), gap=14, margin=40)
    page = _squared(cv2.resize(page, None, fx=2, fy=2), 30)
    mask = ink_map(page, faint=segment.FAINT_INK).mask
    # The premise: the grid joins every digit into one component as tall as the page.
    assert rules._heights(mask)[1] == page.shape[0]
    found = find_rules(mask)
    assert found.height < 0.5 * page.shape[0]  # the digits' height (~56 px of 176)
    assert found.flat.any()
    # Measured with the grid's upright lines in, the writing is as tall as the page.
    monkeypatch.setattr(rules, "_uprights", lambda mask: None)
    assert find_rules(mask).height == page.shape[0]


def test_a_grids_broken_upright_lines_are_found(t10k, monkeypatch) -> None:
    page, _text = digit_row(t10k, list(range(190, 196)), gap=14, margin=40)
    page = cv2.resize(page, None, fx=2, fy=2)
    h = page.shape[0]
    grid = np.full_like(page, 255)
    grid[15::30, :] = 170
    grid[h // 3 :, 15::30] = 170  # the upright lines' upper third is too pale to binarise
    grid[20:40, 15::30] = 170  # but for a piece of each, apart from the rest
    ink = ink_map(np.minimum(page, grid), faint=segment.FAINT_INK)
    assert rules._heights(ink.mask)[1] < rules.MARGIN_SPAN * h  # no component down the page
    found = rules.page_rules(ink)
    assert found.upright.any(axis=0)[15::30].mean() > 0.8
    # The pieces that broke off lie on the lines' bands: they go too.
    assert found.upright[20:40, 15::30].mean() > 0.8
    band = rules._band
    monkeypatch.setattr(rules, "_band", lambda *args: band(*args[:5]))
    assert not rules.page_rules(ink).upright[20:40, 15::30].any()
    # Without the flat rules' crossings, such lines are no margin lines.
    monkeypatch.setattr(rules, "GRID_CROSSINGS", 99)
    assert not rules.page_rules(ink).upright.any()


def test_a_stroke_through_a_grid_crossing_stays_whole() -> None:
    mask = np.zeros((60, 60), np.uint8)
    mask[30, :] = 1  # a flat rule
    mask[:, 30] = 1  # an upright one
    cv2.line(mask, (10, 50), (50, 10), 1, 4)  # a pen stroke through their crossing
    strength = mask.astype(np.float32)
    found = rules.Rules(np.zeros((60, 60), bool), np.zeros((60, 60), bool), 1, 1)
    found.flat[30, :] = True
    found.upright[:, 30] = True
    gone = rule_pixels(InkMap(mask=mask, strength=strength), rules=found)
    assert gone is not None
    assert not gone[30, 30]  # the crossing is the stroke's
    assert gone[30, 5] and gone[5, 30]  # the rules away from the stroke go
    # The stroke stays one piece with the rules out.
    assert cv2.connectedComponents((mask & ~gone).view(np.uint8))[0] == 2


@pytest.mark.parametrize("start", [300, 310])
def test_a_line_on_squared_paper_reads_without_its_grid(t10k, client, monkeypatch, start) -> None:
    # A crop of one line: its grid's upright lines cross only the rules above and below it.
    page, text = digit_row(t10k, list(range(start, start + 8)), gap=10, margin=8)
    page = _squared(cv2.resize(page, None, fx=1.5, fy=1.5), 30)
    ink = ink_map(page)
    upright = rules.page_rules(ink, RULING_INK).upright
    assert upright.any(axis=0)[15::30].all()

    def read() -> str:
        return client.post("/lines", files={"file": ("p.png", encode(page))}).json()["text"]

    assert read() == text
    # The premise: without their even spacing, too few rules cross them to tell a grid.
    monkeypatch.setattr(rules, "GRID_COMB", 99)
    assert not rules.page_rules(ink, RULING_INK).upright.any()
    assert read() != text


def test_a_tight_crop_of_one_digit_keeps_all_its_strokes(t10k) -> None:
    # A digit cropped with a few pixels of margin is taller than half the image, as writing
    # joined up by a grid's upright lines is; its stem or a 0's sides are long upright runs,
    # and with them out it falls to pieces whose flat strokes (a 5's or 2's base) looked like
    # rules under writing that small.
    images, _labels = t10k
    changed = []
    for i in range(300):
        glyph = digit_sheets._glyph(images[i], 40, 0.0)
        gray = (255 * (1 - np.pad(glyph, 4))).astype(np.uint8)
        ink = ink_map(gray, faint=segment.FAINT_INK, grid=True)
        assert rules.find_rules(ink.mask).tallest >= rules.LINES_TALL * gray.shape[0]
        if remove_rules(ink, ruling=segment.FAINT_INK).mask.sum() < ink.mask.sum():
            changed.append(i)
    assert len(changed) <= 3, changed


def test_a_tight_crop_of_a_row_keeps_all_its_strokes(t10k) -> None:
    # Each digit of a row cropped 3 px from its ink is its own component, taller than half the
    # image, with a stem or two: no grid's lines joining writing up.
    images, labels = t10k
    rng = np.random.default_rng(5)
    changed = []
    for k in range(100):
        row = digit_sheets.make_row(images, labels, rng, "spaced")
        gray = (255 * (1 - np.pad(row.ink, 3))).astype(np.uint8)
        ink = ink_map(gray, faint=segment.FAINT_INK, grid=True)
        if remove_rules(ink, ruling=segment.FAINT_INK).mask.sum() < ink.mask.sum():
            changed.append(k)
    assert len(changed) <= 2, changed
