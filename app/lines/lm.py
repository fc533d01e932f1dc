"""A character bigram language model for Chinese, fused into CTC beam search.

The CRNN reads each character from its pixels; its outputs already carry the prior of how
often each character was written in training. What it cannot know well is which character
follows which: 未 and 末, 己 and 已 look almost alike, but 周末 is a word and 周未 is not. The
beam search therefore adds, for each Chinese character b written after a Chinese character a,

    weight * (log P(b | a) - log P(b))

the log-ratio of the bigram to the unigram probability: the model's own prior is replaced,
not counted twice. Everything else (digits, Latin, punctuation, the first character of a
Chinese run) scores 0, so no script is favoured over another.

P(b | a) comes from word and character counts of a frequency dictionary:

    P(b | a) = (C(a, b) + E(a) * S(b) + kappa * U(b)) / (C(a) + kappa)

C(a, b): a followed by b inside a word; E(a): a ending a word, after which any word may
start (S(b): share of words starting with b); U(b): unigram share; kappa smooths rare a.
"""

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np

from app.core.engine import sha256_of
from app.core.errors import ModelLoadError

LmScore = Callable[[int, int], float]  # (previous class, next class) -> log-score bonus
ARRAYS = (
    "chars",
    "unigram",
    "start",
    "end",
    "pair_first",
    "pair_second",
    "pair_count",
    "version",
)


class CharBigramLM:
    """Counts loaded from an .npz written by `python -m training.lines.lm`."""

    # Not onnxruntime: /health reports where each model runs, and this runs in numpy.
    provider = "numpy"

    def __init__(self, path: Path, kappa: float = 50.0) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise ModelLoadError(f"language model {self.path} does not exist")
        try:
            with np.load(self.path, allow_pickle=False) as data:
                arrays = {key: data[key] for key in ARRAYS}
        except (OSError, KeyError, ValueError) as exc:
            raise ModelLoadError(
                f"language model {self.path} cannot be loaded ({type(exc).__name__}: {exc})"
            ) from exc
        self.name = self.path.stem
        self.version = str(arrays["version"])
        self.sha256 = sha256_of(self.path)
        self.chars = [str(c) for c in arrays["chars"]]
        unigram = arrays["unigram"].astype(np.float64)
        start = arrays["start"].astype(np.float64)
        self.end = arrays["end"].astype(np.float64)
        if not (len(self.chars) == len(unigram) == len(start) == len(self.end)) or (
            unigram.min(initial=1.0) <= 0
        ):
            raise ModelLoadError(f"language model {self.path} has inconsistent counts")
        self.count = unigram  # C(a): every occurrence is followed in-word or ends a word
        self.p_uni = unigram / unigram.sum()
        self.p_start = start / start.sum()
        self.kappa = kappa
        n = len(self.chars)
        first = arrays["pair_first"].astype(np.int64)
        second = arrays["pair_second"].astype(np.int64)
        counts = arrays["pair_count"].astype(np.float64)
        if first.size and (
            max(first.max(), second.max()) >= n or min(first.min(), second.min()) < 0
        ):
            raise ModelLoadError(f"language model {self.path} has pairs outside its characters")
        values = (
            np.log(counts + self.end[first] * self.p_start[second] + kappa * self.p_uni[second])
            - np.log(self.count[first] + kappa)
            - np.log(self.p_uni[second])
        )
        # One dict of seen pairs: a lookup per beam extension is all the decoder pays.
        self.pairs: dict[int, float] = dict(
            zip((first * n + second).tolist(), values.tolist(), strict=True)
        )

    def log_ratio(self, a: int, b: int) -> float:
        """log P(b | a) - log P(b) for LM character indices a, b."""
        value = self.pairs.get(a * len(self.chars) + b)
        if value is not None:
            return value
        return (
            math.log(self.end[a] * self.p_start[b] + self.kappa * self.p_uni[b])
            - math.log(self.count[a] + self.kappa)
            - math.log(self.p_uni[b])
        )

    def scorer(self, charset: list[str], weight: float) -> LmScore:
        """(class a, class b) -> weight * log-ratio, 0 unless both are characters it knows."""
        index = {c: i for i, c in enumerate(self.chars)}
        to_lm = [index.get(c, -1) for c in charset]

        def score(a: int, b: int) -> float:
            if a < 0:
                return 0.0
            la, lb = to_lm[a], to_lm[b]
            if la < 0 or lb < 0:
                return 0.0
            return weight * self.log_ratio(la, lb)

        return score
