"""normalize_digit: the MNIST recipe (20x20 box, centre of mass at the centre of 28x28, 32x32)."""

import numpy as np
import pytest

from app.digits.preprocess import (
    CHAIN_HEIGHT,
    INPUT_SIZE,
    fit_chain,
    normalize_chain,
    normalize_digit,
    to_model_input,
)


@pytest.mark.parametrize("shape", [(90, 30), (12, 40), (7, 7), (200, 180)])
def test_normalize_digit_fits_the_long_side_to_20_pixels(shape: tuple[int, int]) -> None:
    ink = np.ones(shape, np.float32)
    out = normalize_digit(ink)
    ys, xs = np.nonzero(out > 0.05)
    assert out.shape == (INPUT_SIZE, INPUT_SIZE)
    assert max(np.ptp(ys) + 1, np.ptp(xs) + 1) == 20
    ratio_in = shape[0] / shape[1]
    ratio_out = (np.ptp(ys) + 1) / (np.ptp(xs) + 1)
    assert ratio_out == pytest.approx(ratio_in, rel=0.35)


def test_normalize_digit_centres_the_centre_of_mass(t10k) -> None:
    images, _ = t10k
    for img in images[:50]:
        out = normalize_digit(np.pad(img.astype(np.float32) / 255, ((3, 40), (25, 2))))
        rows, cols = np.indices(out.shape)
        total = out.sum()
        assert abs((rows * out).sum() / total - 16) < 1.0
        assert abs((cols * out).sum() / total - 16) < 1.0


def test_normalize_digit_reproduces_mnist_digits(t10k) -> None:
    """MNIST digits are already normalised: the function must leave them (nearly) unchanged."""
    images, _ = t10k
    for img in images[:100]:
        src = img.astype(np.float32) / 255
        out = normalize_digit(src)[2:30, 2:30]
        assert np.abs(out - src / src.max()).mean() < 0.08


def test_normalize_digit_of_blank_is_blank() -> None:
    assert not normalize_digit(np.zeros((10, 10), np.float32)).any()


def test_to_model_input_adds_channel_axis_and_normalises() -> None:
    batch = to_model_input(np.ones((3, 32, 32), np.float32), mean=0.5, std=0.25)
    assert batch.shape == (3, 1, 32, 32) and np.allclose(batch, 2.0)


@pytest.mark.parametrize("shape", [(1, 30), (30, 1), (1, 1), (30, 2), (2, 30), (2, 2)])
def test_normalize_digit_handles_one_pixel_wide_strokes(shape: tuple[int, int]) -> None:
    out = normalize_digit(np.ones(shape, np.float32))
    assert out.max() == pytest.approx(1.0) and np.isfinite(out).all()


def test_fit_chain_keeps_aspect_and_maps_columns_back() -> None:
    blob = np.zeros((40, 120), np.float32)
    blob[5:35, 30:34] = 0.5  # a faint bar ...
    blob[5:35, 90:94] = 0.5  # ... and another, 60 columns to its right
    line, x0, scale = fit_chain(blob)
    assert line.shape[0] == CHAIN_HEIGHT and line.max() == pytest.approx(1.0)  # full contrast
    # 30 inked rows plus a tenth of that as margin each side become CHAIN_HEIGHT rows.
    assert scale == pytest.approx(CHAIN_HEIGHT / 36, rel=0.05)
    cols = np.nonzero(line.max(axis=0) > 0.5)[0]
    left, right = cols[cols < line.shape[1] / 2], cols[cols > line.shape[1] / 2]
    assert x0 + left.mean() / scale == pytest.approx(31.5, abs=1.0)
    assert x0 + right.mean() / scale == pytest.approx(91.5, abs=1.0)
    assert normalize_chain(np.zeros((10, 10), np.float32)).shape[0] == CHAIN_HEIGHT
