"""Line normalisation: height, polarity, cropping and batching."""

import cv2
import numpy as np
import pytest

from app.lines import preprocess
from app.lines.preprocess import normalize_line, to_batch
from app.vision.binarize import ink_map
from tests.conftest import digit_row, encode


def line_image(invert: bool = False) -> np.ndarray:
    img = np.full((80, 400), 235, np.uint8)
    cv2.putText(img, "Room 302", (40, 55), cv2.FONT_HERSHEY_SIMPLEX, 1.5, 20, 3)
    return 255 - img if invert else img


def test_normalize_line_scales_to_height_keeping_aspect() -> None:
    out = normalize_line(line_image(), 32)
    assert out.shape[0] == 32 and out.dtype == np.float32
    assert 4 < out.shape[1] / 32 < 10  # "Room 302" is about six times wider than tall
    assert out.max() == 1.0 and out.min() == 0.0


def test_normalize_line_ignores_polarity() -> None:
    a, b = normalize_line(line_image(), 32), normalize_line(line_image(invert=True), 32)
    assert a.shape == b.shape and np.abs(a - b).mean() < 0.02


def test_normalize_line_of_blank_is_blank() -> None:
    assert not normalize_line(np.full((40, 100), 255, np.uint8), 32).any()


def test_to_batch_pads_to_the_widest_multiple_of_the_stride() -> None:
    batch = to_batch([np.ones((32, 10)), np.ones((32, 21))], mean=0.0, std=1.0)
    assert batch.shape == (2, 1, 32, 24)
    assert batch[0, 0, :, 10:].sum() == 0 and batch[1, 0, :, :21].min() == 1


@pytest.mark.parametrize("start", [400, 420])
def test_specks_do_not_reach_the_crnn(t10k, client, monkeypatch, start) -> None:
    # Scanner noise: one pixel in a hundred turned black.
    line, text = digit_row(t10k, list(range(start, start + 8)), gap=10, margin=12)
    line[np.random.default_rng(start).random(line.shape) < 0.01] = 0

    def read() -> str:
        return client.post("/lines", files={"file": ("l.png", encode(line))}).json()["text"]

    assert read() == text
    # The premise: read with its specks, the line comes out wrong.
    monkeypatch.setattr(preprocess, "SPECK", 0)
    assert read() != text


def test_a_full_stop_is_no_speck() -> None:
    line = np.full((40, 60), 255, np.uint8)
    cv2.circle(line, (30, 30), 2, 0, -1)  # a pen's full stop, 5 px across
    ink = ink_map(line)
    assert (preprocess.without_specks(ink) == ink.strength).all()
