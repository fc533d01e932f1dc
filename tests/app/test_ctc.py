"""CTC decoding and the line charset."""

import itertools

import numpy as np
import pytest

from app.lines.charset import build_charset, gb2312_level1
from app.lines.ctc import align, beam_search, greedy_decode, log_likelihood, log_softmax


def frames(path: list[int], classes: int = 5, sure: float = 4.0) -> np.ndarray:
    """Log-probabilities for a frame path where each frame strongly favours one class."""
    logits = np.zeros((len(path), classes), np.float32)
    logits[np.arange(len(path)), path] = sure
    return log_softmax(logits)


def test_greedy_decode_collapses_repeats_and_drops_blanks() -> None:
    out = greedy_decode(frames([0, 1, 1, 0, 2, 2, 2, 0, 1]))
    assert [c.index for c in out] == [1, 2, 1]
    assert [(c.start, c.end) for c in out] == [(1, 3), (4, 7), (8, 9)]
    assert all(0.8 < c.confidence <= 1.0 for c in out)


def test_greedy_decode_keeps_doubled_letters_split_by_a_blank() -> None:
    assert [c.index for c in greedy_decode(frames([3, 0, 3]))] == [3, 3]


def test_beam_search_sums_alignments_where_greedy_cannot() -> None:
    # Frame-wise the blank wins every frame, but "1" summed over its alignments is likelier.
    p = np.array([[0.4, 0.3, 0.3], [0.4, 0.3, 0.3]])
    log_probs = np.log(p)
    assert greedy_decode(log_probs) == []
    assert beam_search(log_probs, beam=4) in ([1], [2])


def test_beam_search_agrees_with_greedy_on_clear_input() -> None:
    lp = frames([0, 1, 1, 0, 2, 0, 2, 2, 4], sure=6.0)
    assert beam_search(lp) == [c.index for c in greedy_decode(lp)] == [1, 2, 2, 4]


def test_align_places_each_label_on_its_frames() -> None:
    lp = frames([0, 1, 1, 0, 0, 2, 2, 0, 3])
    placed = align(lp, [1, 2, 3])
    assert [(c.index, c.start, c.end) for c in placed] == [(1, 1, 3), (2, 5, 7), (3, 8, 9)]


def test_charset_holds_every_required_class_once() -> None:
    chars = build_charset()
    assert chars[0] == ""  # the CTC blank
    hanzi = gb2312_level1()
    assert len(hanzi) == 3755 and hanzi[0] == "啊" and hanzi[-1] == "座"
    for needed in ["0", "9", "A", "z", " ", "¥", "，", "。", "《", "…", "订", "号", "件", "年"]:
        assert needed in chars
    assert len(chars) == len(set(chars)) == 1 + 10 + 52 + 33 + 19 + 3755


@pytest.mark.parametrize("text", ["订单号", "2026年11月23日", "Room 302"])
def test_charset_covers_example_lines(text: str) -> None:
    chars = set(build_charset())
    assert set(text) <= chars


def test_beam_search_over_the_full_charset_places_every_label() -> None:
    # 400 frames over all 3,870 classes with no clear winner: the worst case for pruning.
    logp = log_softmax(np.random.default_rng(0).normal(0, 1, (400, 3870)))
    labels = beam_search(logp, beam=32)
    placed = align(logp, labels)
    assert [c.index for c in placed] == labels and labels
    assert all(a.end <= b.start for a, b in itertools.pairwise(placed))


def _collapse(path: tuple[int, ...]) -> list[int]:
    """A frame path read as CTC reads it: repeats merged, then blanks (0) dropped."""
    return [k for k, _ in itertools.groupby(path) if k != 0]


@pytest.mark.parametrize("labels", [[1, 2], [2, 2], [1], [], [3, 1, 3]])
def test_log_likelihood_sums_every_alignment(labels: list[int]) -> None:
    rng = np.random.default_rng(len(labels))
    log_probs = np.log(rng.dirichlet(np.ones(4), size=6))  # 6 frames, blank + 3 classes
    brute = [
        log_probs[np.arange(6), list(path)].sum()
        for path in itertools.product(range(4), repeat=6)
        if _collapse(path) == labels
    ]
    assert log_likelihood(log_probs, labels) == pytest.approx(np.logaddexp.reduce(brute))


def test_log_likelihood_of_more_labels_than_frames_can_hold_is_minus_inf() -> None:
    log_probs = np.log(np.full((3, 4), 0.25))
    assert log_likelihood(log_probs, [1, 1, 1]) == -np.inf  # two blanks needed between repeats
    assert np.isfinite(log_likelihood(log_probs, [1, 2, 3]))
