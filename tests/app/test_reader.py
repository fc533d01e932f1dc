"""app/digits/reader.py: pieces that enclose the same ink are read once."""

import cv2

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
