"""app/digits/reader.py: pieces that enclose the same ink are read once; a fragment the
segmenter left apart rejoins its digit; the chain reader and the pieces are weighed together."""

import math

import cv2
import numpy as np
import pytest

from app.digits import reader as reader_module
from app.digits import segment as segment_module
from app.digits.preprocess import normalize_digit
from app.digits.reader import digits_text, distinct_pieces
from app.digits.segment import Box, Piece, Segment, digit_ink, segment_digits
from app.lines.ctc import greedy_decode
from app.vision.binarize import ink_map
from bench import robustness
from tests.conftest import ASSETS, creased_sheet, digit_row, encode, read_right_only_with_it
from training import digit_sheets


def test_pieces_with_the_same_ink_are_read_once(t10k) -> None:
    for gap in range(-1, -10, -1):  # three digits slid together until their ink touches
        page, _ = digit_row(t10k, [3, 1, 4], gap=gap)
        if cv2.connectedComponents(ink_map(page).mask)[0] == 2:
            break
    segments = segment_digits(ink_map(cv2.resize(page, None, fx=2, fy=2)), eager=True)
    keys = [(n, key) for n, seg in enumerate(segments) for key in seg.pieces]
    unique, where = distinct_pieces(segments, keys)
    assert len(where) == len(keys) and len(unique) < len(keys)  # some cuts enclose no new ink
    for (n, key), w in zip(keys, where, strict=True):
        first = segments[unique[w][0]].pieces[unique[w][1]]
        piece = segments[n].pieces[key]
        assert unique[w][0] == n and first.box == piece.box
        assert (first.ink == piece.ink).all()  # the same ink: one reading serves both
    boxes = [(n, segments[n].pieces[key].box) for n, key in unique]
    assert len(set(boxes)) == len(boxes)


def _detach_bar(img: np.ndarray, lift: int = 3, shift: int = 8) -> np.ndarray:
    """A digit whose top quarter is lifted and moved right: a 5 with its bar written apart."""
    rows = np.nonzero(img.max(axis=1))[0]
    cut = rows.min() + (rows.max() - rows.min() + 1) // 4
    out = np.zeros((28 + lift, 28 + shift), np.uint8)
    out[lift + cut : lift + 28, :28] = img[cut:]
    out[rows.min() : cut, shift : shift + 28] = img[rows.min() : cut]
    return out


def _page(glyphs: list[np.ndarray], gap: int = 14) -> np.ndarray:
    """Glyphs (ink high) bottom-aligned side by side, twice MNIST's size, dark on white."""
    h = max(g.shape[0] for g in glyphs)
    row = np.hstack([np.pad(g, ((h - g.shape[0], 0), (0, gap))) for g in glyphs])
    row = cv2.resize(row, None, fx=2, fy=2, interpolation=cv2.INTER_LINEAR)
    return np.pad(255 - row, 20, constant_values=255)


def test_a_detached_bar_rejoins_its_digit(t10k, client, monkeypatch) -> None:
    images, labels = t10k
    reader = client.app.state.digit_reader
    fives = [i for i in range(2000) if labels[i] == 5][:80]
    apart, misread_apart = 0, 0
    for i in fives:
        # t10k 0, 1, 2 are "7", "2", "1"
        page = _page([images[0], _detach_bar(images[i]), images[1], images[2]])
        joined = reader.read(page)
        monkeypatch.setattr(reader_module, "JOIN_REACH", -1.0)  # no rejoining
        alone = reader.read(page)
        monkeypatch.undo()
        if alone[1].box != joined[1].box:  # the segmenter left the bar apart
            apart += 1
            misread_apart += "".join(d.label for d in alone) != "7521"
            assert "".join(d.label for d in joined) == "7521", i
            # The 5's box now holds its bar: higher up and further right.
            assert joined[1].box.y < alone[1].box.y and joined[1].box.right > alone[1].box.right
    assert apart >= 15 and misread_apart >= 3


def _waist_cut(img: np.ndarray, gap: int = 2) -> np.ndarray:
    """A digit broken at mid-height by `gap` blank rows (a one-row break is bridged by the
    faint ink the page's 2x scaling leaves in it, as it should be)."""
    rows = np.nonzero(img.max(axis=1))[0]
    mid = (rows.min() + rows.max()) // 2
    return np.vstack([img[:mid], np.zeros((gap, img.shape[1]), np.uint8), img[mid:]])


def test_a_lone_digit_broken_at_its_waist_is_one_digit(t10k, client, monkeypatch) -> None:
    images, labels = t10k
    reader = client.app.state.digit_reader

    def right() -> int:
        return sum(
            "".join(d.label for d in reader.read(_page([_waist_cut(images[i])]))) == str(labels[i])
            for i in range(100)
        )

    joined = right()
    monkeypatch.setattr(reader_module, "_stacked", lambda a, b: False)  # no joining
    apart = right()
    assert apart < 20 and joined >= apart + 40


def test_two_digits_one_above_the_other_stay_two(t10k, client) -> None:
    images, labels = t10k
    reader = client.app.state.digit_reader
    right = 0
    for i in range(0, 100, 2):
        page = _page([np.vstack([images[i], np.zeros((10, 28), np.uint8), images[i + 1]])])
        digits = reader.read(page)
        right += [(d.label, d.line) for d in digits] == [
            (str(labels[i]), 0),
            (str(labels[i + 1]), 1),
        ]
    assert right >= 48


def _lattice(reads: dict[tuple[int, int], dict[int, float]]) -> tuple[Segment, dict]:
    """A blob with cuts 0..3 and a piece per (i, j) of `reads`, each read as the given digits
    (the rest of its probability spread evenly); wider pieces than one cut step get a prior
    of -1, as wide strips do."""
    pieces, probs = {}, {}
    for (a, b), digits in reads.items():
        p = np.full(10, (1.0 - sum(digits.values())) / (10 - len(digits)))
        for d, v in digits.items():
            p[d] = v
        box = Box(10 * a, 0, 10 * (b - a), 20)
        pieces[(a, b)] = Piece(box, np.zeros((20, 10 * (b - a)), np.float32), -1.0 * (b - a > 1))
        probs[(0, (a, b))] = p
    return Segment(Box(0, 0, 30, 20), 0, [0, 10, 20, 30], pieces, ref_height=20.0), probs


THREE = {(0, 1): {3: 0.9}, (1, 2): {8: 0.8}, (2, 3): {5: 0.7}, (0, 2): {}, (1, 3): {}, (0, 3): {}}


def test_lattice_score_is_the_best_path_reading_the_given_digits(client) -> None:
    reader = client.app.state.digit_reader
    seg, probs = _lattice(THREE)
    assert reader._lattice_score(0, seg, "385", probs, {}) == pytest.approx(
        math.log(0.9) + math.log(0.8) + math.log(0.7)
    )
    assert reader._lattice_score(0, seg, "85", probs, {}) == pytest.approx(
        max(math.log(0.9 / 9) + math.log(0.1) - 1, math.log(0.1) - 1 + math.log(0.7))
    )
    assert reader._lattice_score(0, seg, "3855", probs, {}) == -math.inf  # only 3 pieces
    pair = np.full(100, 0.4 / 99)
    pair[85] = 0.6  # the last two pieces read together as "85"
    score = reader._lattice_score(0, seg, "385", probs, {(0, (1, 3)): pair})
    assert score == pytest.approx(
        max(
            math.log(0.9) + math.log(0.8) + math.log(0.7),
            math.log(0.9) + math.log(0.6) - reader_module.PAIR_COST,
        )
    )


def _chain_frames(first: float) -> np.ndarray:
    """Chain-reader frames (blank + '0'-'9') reading "85", with a '3' before it that the
    first frame gives probability `first` (the blank takes the rest of it but 0.02)."""
    p = np.full((5, 11), 0.01)
    p[0, 4], p[0, 0] = first, 1.0 - first - 0.09
    p[1, 0], p[2, 9], p[3, 0], p[4, 6] = 0.9, 0.9, 0.9, 0.9
    return np.log(p / p.sum(axis=1, keepdims=True))


def test_sure_pieces_outvote_a_chain_reading_that_drops_a_digit(client) -> None:
    reader = client.app.state.digit_reader
    seg, probs = _lattice(THREE)
    path = [((0, 1), False), ((1, 2), False), ((2, 3), False)]
    best = (path, math.log(0.9) + math.log(0.8) + math.log(0.7))
    logp = _chain_frames(first=0.3)
    assert "".join(reader.chains.charset[d.index] for d in greedy_decode(logp)) == "85"
    assert not reader._chain_wins(0, seg, "85", logp, best, probs, {})
    # Pieces that read "385" only faintly lose to the chain reader's sure "85".
    faint, faint_probs = _lattice(
        {
            (0, 1): {3: 0.3},
            (1, 2): {8: 0.3},
            (2, 3): {5: 0.3},
            (0, 2): {8: 0.2},
            (1, 3): {},
            (0, 3): {},
        }
    )
    best = (path, 3 * math.log(0.3))
    assert reader._chain_wins(0, faint, "85", _chain_frames(first=0.02), best, faint_probs, {})


def test_a_large_photo_is_read_shrunk_with_boxes_in_its_own_pixels(t10k, client) -> None:
    rows = [digit_row(t10k, list(range(k, k + 6))) for k in (60, 70)]
    width = max(r.shape[1] for r, _ in rows)
    page = np.vstack([np.pad(r, ((0, 0), (0, width - r.shape[1])), "edge") for r, _ in rows])
    text = "\n".join(t for _, t in rows)
    big = cv2.resize(page, None, fx=12, fy=12, interpolation=cv2.INTER_CUBIC)  # ~3.7 MP
    # Digits ~20 px tall at 1x, ~240 px here: read shrunk 3 times (still 64 px or more).
    assert segment_module.reading_factor(big) == 3
    small = client.post("/digits", files={"file": ("p.png", encode(page))}).json()
    large = client.post("/digits", files={"file": ("p.png", encode(big))}).json()
    assert small["text"] == large["text"] == text
    for a, b in zip(small["digits"], large["digits"], strict=True):
        for key in ("x", "y", "width", "height"):
            assert abs(12 * a["box"][key] - b["box"][key]) <= 24  # two source pixels


def test_small_digits_on_a_large_page_are_read_at_full_size(t10k) -> None:
    page, _ = digit_row(t10k, list(range(80, 86)))
    canvas = np.full((1500, 2000), 255, np.uint8)
    canvas[700 : 700 + page.shape[0], 900 : 900 + page.shape[1]] = page
    assert segment_module.reading_factor(canvas) == 1


def test_broad_digits_are_read_whole_before_they_are_cut(t10k, client, monkeypatch) -> None:
    images, labels = t10k
    reader = client.app.state.digit_reader
    sheets = digit_sheets.make_sheets(images, labels, "spaced", 40, seed=3)
    grays = [cv2.cvtColor(s.image, cv2.COLOR_BGR2GRAY) for s in sheets]

    def cut_at_once() -> int:
        return sum(len(seg.cuts) > 2 for g in grays for seg in segment_digits(digit_ink(g)))

    def right() -> int:
        texts = [s.text for s in sheets]
        return sum(digits_text(reader.read(g)) == t for g, t in zip(grays, texts, strict=True))

    deferred, read_deferred = cut_at_once(), right()
    # The premise: cut at once when wider than tall, many of these single digits are.
    monkeypatch.setattr(segment_module, "DEFER_WIDTH", 1.0)
    eager, read_eager = cut_at_once(), right()
    assert eager >= 10 and deferred <= eager // 3
    assert read_deferred >= read_eager


def test_a_touching_pair_one_broad_digit_to_lenet_is_cut_by_the_chain_reader(
    client, monkeypatch
) -> None:
    page = cv2.imread(str(ASSETS / "touching_01.png"), cv2.IMREAD_GRAYSCALE)
    reader = client.app.state.digit_reader
    assert digits_text(reader.read(page)) == "01"
    # The premise: LeNet-5 alone reads the blob whole, surely, as a 0.
    monkeypatch.setattr(reader_module.DigitReader, "_cut_anyway", lambda *_: set())
    assert digits_text(reader.read(page)) == "0"


@pytest.mark.parametrize("start", [220, 230])
def test_a_row_of_dashes_under_digits_is_no_digits(t10k, client, monkeypatch, start) -> None:
    # What a pale grid's or ruling's broken remnants leave: short flat strokes in a row.
    page, text = digit_row(t10k, list(range(start, start + 6)), gap=14, margin=30)
    page = np.vstack([page, np.full((30, page.shape[1]), 255, np.uint8)])
    y = page.shape[0] - 30
    for x in range(30, page.shape[1] - 40, 40):
        cv2.line(page, (x, y), (x + 18, y), 60, 2)

    def read() -> str:
        return client.post("/digits", files={"file": ("p.png", encode(page))}).json()["text"]

    assert read() == text
    # The premise: taken for digits (and grouped into a row at the page's digit size, not
    # their own: 40 px apart, dashes 3 px tall are no row of writing), they are read as some.
    monkeypatch.setattr(segment_module, "DASH", 1e9)
    monkeypatch.setattr(segment_module, "FRAGMENT", 0.0)
    assert read() != text


def test_the_chain_readers_opinion_corrects_unsure_digits(client, t10k) -> None:
    """The 10,000 t10k digits, each alone: of those LeNet-5 reads less surely than UNSURE,
    the two readers together misread fewer than LeNet-5 alone (14 against 15)."""
    images, labels = t10k
    reader = client.app.state.digit_reader
    inks = [images[i].astype(np.float32) / 255 for i in range(len(images))]
    probs = np.concatenate(
        [
            reader.classify(np.stack([normalize_digit(ink) for ink in inks[k : k + 1000]]))
            for k in range(0, len(inks), 1000)
        ]
    )
    unsure = np.flatnonzero(probs.max(axis=1) < reader_module.UNSURE)
    joined = reader.chain_opinion([inks[i] for i in unsure], probs[unsure])
    truth = labels[unsure]
    alone = int((probs[unsure].argmax(axis=1) != truth).sum())
    assert alone >= 5  # the premise: LeNet-5 misreads some of them
    assert int((joined.argmax(axis=1) != truth).sum()) < alone


def test_only_digits_standing_alone_get_the_chain_readers_opinion(
    client, t10k, monkeypatch
) -> None:
    """Stray marks and pieces cut from touching digits are read by LeNet-5 alone: the chain
    reader cannot answer "no digit", and would read a fragment surely as one."""
    seen: list[np.ndarray] = []
    reader = client.app.state.digit_reader
    original = reader.chain_opinion

    def spy(inks: list[np.ndarray], probs: np.ndarray, *readings: object) -> np.ndarray:
        seen.extend(inks)
        return original(inks, probs, *readings)

    monkeypatch.setattr(reader, "chain_opinion", spy)
    # Upright only: a page also read turned (app.digits.orient) has its blobs turned.
    monkeypatch.setattr(reader_module.orient, "looks_unsure", lambda confidences: False)
    images, labels = t10k
    total = 0
    for sheet in digit_sheets.make_sheets(images, labels, "touching", 60, seed=3):
        seen.clear()
        gray = cv2.cvtColor(sheet.image, cv2.COLOR_BGR2GRAY)
        segments = segment_digits(digit_ink(gray), max_blobs=10_000)
        alone = [s.pieces[(0, 1)].ink.shape for s in segments if len(s.cuts) <= 2]
        reader.read(gray)
        assert all(ink.shape in alone for ink in seen)
        total += len(seen)
    assert total > 0  # some digits standing alone were read unsurely


@pytest.mark.parametrize(("seed", "index"), [(2026, 4), (2026, 37), (2026, 47), (2026, 118)])
def test_two_digits_overlapping_in_a_narrow_blob_are_both_read(
    client, t10k, seed: int, index: int
) -> None:
    """A 1 written deep into its neighbour makes one blob no wider than tall: never cut into
    candidates, and LeNet-5 reads it unsurely. The chain reader reads it whole as two."""
    images, labels = t10k
    sheet = digit_sheets.make_sheets(images, labels, "touching", index + 1, seed)[index]
    gray = cv2.cvtColor(sheet.image, cv2.COLOR_BGR2GRAY)
    narrow = [
        s.box
        for s in segment_digits(digit_ink(gray), max_blobs=10_000)
        if len(s.cuts) <= 2 and s.box.width <= s.box.height
    ]
    r = client.post("/digits", files={"file": ("s.png", encode(sheet.image))}).json()
    assert r["text"] == sheet.text
    # Two of the digits read lie in one narrow uncut blob.
    inside = [
        sum(b.x <= d["box"]["x"] + d["box"]["width"] // 2 <= b.right for d in r["digits"])
        for b in narrow
    ]
    assert max(inside) == 2


@pytest.mark.parametrize(("kind", "seed", "index"), [("tile_rows", 11, 475), ("tile_rows", 13, 40)])
def test_a_stroke_beside_its_digit_is_no_1_of_its_own(
    client, t10k, monkeypatch, kind: str, seed: int, index: int
) -> None:
    """A digit written with a stroke apart, right beside it, read as that digit and a 1:
    read together they are the digit, likelier than both."""
    images, labels = t10k
    sheet = digit_sheets.make_sheets(images, labels, kind, index + 1, seed=seed)[index]

    def read() -> str:
        return client.post("/digits", files={"file": ("s.png", encode(sheet.image))}).json()["text"]

    assert read() == sheet.text
    # The premise: left apart, the stroke is a digit of its own.
    monkeypatch.setattr(reader_module, "BESIDE_GAP", -1.0)
    assert len(read()) == len(sheet.text) + 1


@pytest.mark.parametrize(("sheet", "seed"), [(6, 3), (8, 3)])
def test_a_mark_the_image_edge_cuts_read_as_no_digit_is_left_out(
    client, t10k, sheet: int, seed: int, monkeypatch
) -> None:
    # A crease's end, left from the edge of the image to the writing: LeNet-5 reads it as
    # no digit, the chain reader as a 1 (a row "1" above or below the writing; paler than
    # the writing, the reader leaves such a row out as well: both turned off).
    body, text = creased_sheet(t10k, sheet, seed)
    without = [(reader_module, "NO_DIGIT", 0.0), (reader_module, "PALE_LONE_MARK", 1.0)]
    read_right_only_with_it(client, body, text, monkeypatch, *without)


def test_digits_cropped_tight_to_the_image_edge_are_read(client, t10k) -> None:
    page, text = digit_row(t10k, [0, 1, 2, 3, 4, 5, 7], margin=0)
    rows = np.nonzero((page < 128).any(axis=1))[0]
    tight = cv2.resize(page[rows.min() : rows.max() + 1], None, fx=2, fy=2)
    assert (tight[0] < 250).any() and (tight[:, 0] < 250).any() and (tight[:, -1] < 250).any()
    assert client.post("/digits", files={"file": ("t.png", encode(tight))}).json()["text"] == text


def test_a_dark_corners_rim_at_the_image_edge_is_no_digit(client, t10k, monkeypatch) -> None:
    # Vignetting darkens the corners until a rim of them is ink: LeNet-5 reads it as no
    # digit, but, as wide as it is tall, it was deferred and cut into candidates first.
    images, labels = t10k
    sheet = digit_sheets.make_sheets(images, labels, "rows", 61, 5)[60]
    body = encode(robustness._lighting(sheet.image, 0.55))
    read_right_only_with_it(client, body, sheet.text, monkeypatch, (reader_module, "NO_DIGIT", 0.0))


def test_a_shadows_edge_in_a_row_of_its_own_is_no_digit(client, t10k, monkeypatch) -> None:
    # A phone's shadow reaching in from the left: flattening the light leaves a sliver of its
    # slanted edge below the first row, which the chain reader read surely as a 1.
    images, labels = t10k
    sheet = digit_sheets.make_sheets(images, labels, "rows", 37, 2026)[36]
    body = encode(robustness.variant("shadow", 36)(sheet.image))
    without = (reader_module, "PALE_LONE_MARK", 1.0)
    read_right_only_with_it(client, body, sheet.text, monkeypatch, without)


@pytest.mark.parametrize("pale", [False, True])
def test_a_lone_digit_in_a_row_of_its_own_is_read(client, t10k, pale: bool) -> None:
    """A row of one digit written as the rest of the page is (in ink, or all in pencil)."""
    top, text = digit_row(t10k, [3, 2, 1, 18])
    below, last = digit_row(t10k, [4])
    below = np.pad(below, ((0, 0), (0, top.shape[1] - below.shape[1])), constant_values=255)
    page = np.vstack([top, below])
    if pale:  # pencil: a third of the ink's darkness
        page = (255 - (255 - page.astype(np.float32)) / 3).astype(np.uint8)
    r = client.post("/digits", files={"file": ("p.png", encode(page))})
    assert r.json()["text"] == f"{text}\n{last}"
