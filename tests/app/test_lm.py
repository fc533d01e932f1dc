"""The character bigram model and its fusion into CTC beam search."""

from pathlib import Path

import numpy as np
import pytest

from app.core.errors import ModelLoadError
from app.lines.ctc import beam_search, log_softmax
from app.lines.lm import CharNgramLM
from training.lines.lm import combine, count

HANZI = "周末未日期天"
LETTERS = "abcdefghijklmnopqrstuvwxyz"
CHARSET = ["", "1", " ", *"AUXK", *HANZI, *LETTERS]
BOTH = {"chinese": 1.0, "latin": 1.0}


@pytest.fixture
def lm(tmp_path: Path) -> CharNgramLM:
    chinese = [("周末", 900.0), ("末日", 50.0), ("日期", 400.0), ("未", 300.0), ("天", 800.0)]
    latin = [("august", 5e5), ("augur", 1e4), ("the", 5e7), ("out", 2e6), ("xk", 10.0)]
    path = tmp_path / "lm.npz"
    parts = {
        "chinese": count(chinese, HANZI, joined=True),
        "latin": count(latin, LETTERS, joined=False),
    }
    np.savez(path, **combine(parts), version=np.array("test"))
    return CharNgramLM(path)


def test_a_word_seen_scores_above_a_pair_never_seen(lm: CharNgramLM) -> None:
    zhou, mo, wei, tian = (lm.chars.index(c) for c in "周末未天")
    assert lm.log_ratio(zhou, mo) > 1.0  # 周末 is a word
    assert lm.log_ratio(zhou, wei) < 0.0  # 周未 is not
    # After a word's end any word may start: 天 follows 未 about as often as it is written.
    assert abs(lm.log_ratio(wei, tian)) < 0.5
    a, u, o = (lm.chars.index(c) for c in "auo")
    assert lm.log_ratio(a, u) > lm.log_ratio(a, o)


def test_scorer_is_neutral_across_scripts_and_on_capitals(lm: CharNgramLM) -> None:
    score = lm.scorer(CHARSET, BOTH)
    c = {ch: CHARSET.index(ch) for ch in ["1", " ", "A", "U", "X", "K", "周", "末", "a", "u"]}

    def two(b: str, n: str) -> float:  # after b, at the start of the line
        return score(-1, c[b], c[n])

    assert score(-1, -1, c["周"]) == two("1", "周") == two("周", "1") == 0.0
    assert two("a", "周") == two("周", "a") == two(" ", "a") == 0.0
    assert two("X", "K") == two("a", "U") == 0.0  # codes follow no spelling
    assert two("A", "u") == two("a", "u") > 0  # the capital is case-folded
    assert two("周", "末") == pytest.approx(lm.log_ratio(0, 1))
    assert score(c["1"], c["周"], c["末"]) == two("周", "末")  # a digit gives no context
    half = lm.scorer(CHARSET, {"chinese": 0.5})
    assert half(-1, c["周"], c["末"]) == pytest.approx(0.5 * two("周", "末"))
    assert half(-1, c["a"], c["u"]) == 0.0  # no weight: Latin is not scored


def test_latin_letters_look_two_back(lm: CharNgramLM) -> None:
    a, u, g, o, t, x, k = (lm.chars.index(ch) for ch in "augotxk")
    # 'aug' is frequent, 'oug' never written: the trigram tells them apart, the bigram not.
    assert lm.log_ratio3(a, u, g) > lm.log_ratio(u, g) > lm.log_ratio3(o, u, g)
    assert lm.log_ratio3(x, k, t) == lm.log_ratio(k, t)  # context (x, k) never followed
    score = lm.scorer(CHARSET, BOTH)
    A, U, G = (CHARSET.index(ch) for ch in "Aug")
    assert score(A, U, G) == pytest.approx(lm.log_ratio3(a, u, g))


def frames_with_a_doubt(first: int, sure: int, likely: int) -> np.ndarray:
    """first, then a frame where `sure` is a little likelier than `likely` (a smudge)."""
    logits = np.full((5, len(CHARSET)), -4.0)
    logits[0, first] = 4.0
    logits[1, 0] = logits[3, 0] = logits[4, 0] = 4.0
    logits[2, sure], logits[2, likely] = 2.2, 2.0
    return log_softmax(logits)


def test_beam_search_with_the_model_picks_the_word_the_pixels_left_open(lm) -> None:
    zhou, mo, wei = (CHARSET.index(c) for c in "周末未")
    lp = frames_with_a_doubt(zhou, wei, mo)
    assert beam_search(lp, beam=8) == [zhou, wei]
    assert beam_search(lp, beam=8, lm=lm.scorer(CHARSET, BOTH)) == [zhou, mo]
    a, u, o = (CHARSET.index(c) for c in "Auo")
    lp = frames_with_a_doubt(a, o, u)
    assert beam_search(lp, beam=8) == [a, o]
    assert beam_search(lp, beam=8, lm=lm.scorer(CHARSET, BOTH)) == [a, u]


def test_beam_search_with_the_model_keeps_what_the_pixels_are_sure_of(lm) -> None:
    zhou, wei = CHARSET.index("周"), CHARSET.index("未")
    logits = np.full((3, len(CHARSET)), -6.0)
    logits[0, zhou], logits[1, 0], logits[2, wei] = 6.0, 6.0, 6.0
    assert beam_search(log_softmax(logits), lm=lm.scorer(CHARSET, BOTH)) == [zhou, wei]


def test_files_that_are_not_a_language_model_fail_clearly(tmp_path: Path, lm) -> None:
    with pytest.raises(ModelLoadError, match="does not exist"):
        CharNgramLM(tmp_path / "missing.npz")
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip")
    with pytest.raises(ModelLoadError, match="cannot be loaded"):
        CharNgramLM(junk)
    with np.load(lm.path) as data:
        arrays = dict(data)
    np.savez(tmp_path / "partial.npz", **{k: v for k, v in arrays.items() if k != "prior"})
    with pytest.raises(ModelLoadError, match="cannot be loaded"):
        CharNgramLM(tmp_path / "partial.npz")
    np.savez(tmp_path / "short.npz", **{**arrays, "prior": arrays["prior"][:-1]})
    with pytest.raises(ModelLoadError, match="inconsistent"):
        CharNgramLM(tmp_path / "short.npz")
    np.savez(tmp_path / "far.npz", **{**arrays, "pair_first": arrays["pair_first"] + 10_000})
    with pytest.raises(ModelLoadError, match="outside"):
        CharNgramLM(tmp_path / "far.npz")
