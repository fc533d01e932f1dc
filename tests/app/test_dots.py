"""Dotted paper's printed grid out of /lines, on lines of real t10k digits."""

import cv2
import numpy as np
from fastapi.testclient import TestClient

from app.lines import segment
from app.vision.binarize import ink_map
from app.vision.dots import dot_grid
from tests.models.test_shipped_crnn import digit_lines, service_cer


def dotted(line: np.ndarray, step: int) -> np.ndarray:
    """`line` written on paper printed with a grid of grey dots `step` pixels apart (at 60% of
    the paper's brightness)."""
    paper = np.full_like(line, 255)
    grey = int(0.6 * np.median(line))
    for y in range(step // 2, line.shape[0], step):
        for x in range(step // 2, line.shape[1], step):
            cv2.circle(paper, (x, y), 1, grey, -1)
    return np.minimum(paper, line)


def test_digit_lines_on_dotted_paper_read_as_on_plain(
    client: TestClient, t10k, monkeypatch
) -> None:
    """40 digit lines on dot grids 14-22 px: CER within 2 points of the same lines on plain
    paper; the premise: with the dots left in, they read as stops and colons."""
    rng = np.random.default_rng(3)
    lines = digit_lines(t10k)
    on_dots = [(dotted(line, int(rng.integers(14, 23))), text) for line, text in lines]
    plain = service_cer(client, lines)
    assert service_cer(client, on_dots) <= plain + 0.02
    monkeypatch.setattr(segment, "without_dot_grid", lambda ink: ink)
    assert service_cer(client, on_dots) >= plain + 0.05


def test_the_grid_is_found_and_full_stops_stay(t10k) -> None:
    line, _text = digit_lines(t10k)[0]
    grid = dot_grid(ink_map(dotted(line, 16)).mask)
    assert grid is not None
    # Three full stops along the baseline, at no one spacing, are writing.
    stops = line.copy()
    for x in (30, 75, 140):
        cv2.circle(stops, (x, int(0.8 * line.shape[0])), 2, 0, -1)
    assert dot_grid(ink_map(stops).mask) is None
    assert dot_grid(ink_map(line).mask) is None
    # The four dots of 灬 under two characters (as in 点点): closer than a grid's.
    fire = line.copy()
    y = int(0.85 * line.shape[0])
    for x in (20, 26, 32, 38, 60, 66, 72, 78):
        cv2.circle(fire, (x, y), 1, 0, -1)
    assert dot_grid(ink_map(fire).mask) is None
