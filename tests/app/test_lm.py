"""The Chinese bigram model and its fusion into CTC beam search."""

from pathlib import Path

import numpy as np
import pytest

from app.core.errors import ModelLoadError
from app.lines.ctc import beam_search, log_softmax
from app.lines.lm import CharBigramLM
from training.lines.lm import count

CHARS = "周末未日期天"


@pytest.fixture
def lm(tmp_path: Path) -> CharBigramLM:
    words = tmp_path / "dict.txt"
    words.write_text("周末 900 t\n末日 50 n\n日期 400 n\n未 300 d\n天 800 n\nabc 99 eng\n")
    path = tmp_path / "lm.npz"
    np.savez(path, **count(words, CHARS, power=1.0, min_freq=1), version=np.array("test"))
    return CharBigramLM(path)


def test_a_word_seen_scores_above_a_pair_never_seen(lm: CharBigramLM) -> None:
    zhou, mo, wei = (CHARS.index(c) for c in "周末未")
    assert lm.log_ratio(zhou, mo) > 1.0  # 周末 is a word
    assert lm.log_ratio(zhou, wei) < 0.0  # 周未 is not
    # After a word's end any word may start: 天 follows 未 about as often as it is written.
    assert abs(lm.log_ratio(wei, CHARS.index("天"))) < 0.5


def test_scorer_is_neutral_outside_the_models_characters(lm: CharBigramLM) -> None:
    charset = ["", "A", "1", *CHARS]
    score = lm.scorer(charset, weight=1.0)
    a, zhou, mo = 1, charset.index("周"), charset.index("末")
    assert score(a, zhou) == score(zhou, a) == score(-1, zhou) == 0.0
    assert score(zhou, mo) == pytest.approx(lm.log_ratio(0, 1))
    assert lm.scorer(charset, weight=0.5)(zhou, mo) == pytest.approx(0.5 * score(zhou, mo))


def test_beam_search_with_the_model_picks_the_word_the_pixels_left_open(lm) -> None:
    charset = ["", *CHARS]
    zhou, mo, wei = (charset.index(c) for c in "周末未")
    logits = np.full((5, len(charset)), -4.0)
    logits[0, zhou] = 4.0
    logits[1, 0] = logits[3, 0] = 4.0
    # The second character is 未 by a little, as a smudged 末 would be.
    logits[2, wei], logits[2, mo] = 2.2, 2.0
    logits[4, 0] = 4.0
    lp = log_softmax(logits)
    assert beam_search(lp, beam=8) == [zhou, wei]
    assert beam_search(lp, beam=8, lm=lm.scorer(charset, 1.0)) == [zhou, mo]


def test_beam_search_with_the_model_keeps_what_the_pixels_are_sure_of(lm) -> None:
    charset = ["", *CHARS]
    zhou, wei = charset.index("周"), charset.index("未")
    logits = np.full((3, len(charset)), -6.0)
    logits[0, zhou], logits[1, 0], logits[2, wei] = 6.0, 6.0, 6.0
    assert beam_search(log_softmax(logits), lm=lm.scorer(charset, 1.0)) == [zhou, wei]


def test_files_that_are_not_a_language_model_fail_clearly(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="does not exist"):
        CharBigramLM(tmp_path / "missing.npz")
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip")
    with pytest.raises(ModelLoadError, match="cannot be loaded"):
        CharBigramLM(junk)
    partial = tmp_path / "partial.npz"
    np.savez(partial, chars=np.array(list("周末")))
    with pytest.raises(ModelLoadError, match="cannot be loaded"):
        CharBigramLM(partial)
