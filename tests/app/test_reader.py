"""app/digits/reader.py: pieces that enclose the same ink are read once; a fragment the
segmenter left apart rejoins its digit."""

import cv2
import numpy as np

from app.digits import reader as reader_module
from app.digits.reader import distinct_pieces
from app.digits.segment import segment_digits
from app.vision.binarize import ink_map
from tests.conftest import digit_row


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
    fives = [i for i in range(1000) if labels[i] == 5][:40]
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
    assert apart >= 10 and misread_apart >= 3


def _waist_cut(img: np.ndarray, gap: int = 1) -> np.ndarray:
    """A digit broken at mid-height by `gap` blank rows."""
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
