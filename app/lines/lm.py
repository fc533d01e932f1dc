"""Character bigram language models (Chinese, Latin), fused into CTC beam search.

The CRNN reads each character from its pixels; its outputs already carry the prior of how
often each character was written in training. What it cannot know well is which character
follows which: 未 and 末, 己 and 已 look almost alike, but 周末 is a word and 周未 is not; a
smudged 'Aogust' is 'August'. The beam search therefore adds, for each character b written
after a character a of the same script,

    weight[script] * (log P(b | a) - log P(b))

the log-ratio of the bigram to the prior probability: the model's own prior is replaced, not
counted twice. Everything else (digits, punctuation, a change of script, the first character
of a run, a capital after a letter: codes such as 'XK204' follow no spelling) scores 0, so no
script is favoured over another. The previous character is case-folded.

P(b | a) comes from word counts of a frequency list:

    P(b | a) = (C(a, b) + E(a) * S(b) + kappa * P(b)) / (N(a) + kappa)

C(a, b): a followed by b inside a word; N(a): a followed by anything counted; E(a): a ending
a word where the next word follows without a space (Chinese; 0 for Latin, whose words end at
a space), S(b): share of words starting with b; kappa smooths rare a.
"""

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np

from app.core.engine import sha256_of
from app.core.errors import ModelLoadError

# (class before the previous, previous class, next class) -> log-score bonus
LmScore = Callable[[int, int, int], float]
ARRAYS = (
    "chars",  # the characters it knows
    "script",  # script of each (index into `scripts`)
    "scripts",  # script names, e.g. ["chinese", "latin"]
    "prior",  # P(b), a distribution within each script
    "context",  # N(a)
    "start",  # S(b), a distribution within each script (0 where words are spaced)
    "end",  # E(a)
    "pair_first",
    "pair_second",
    "pair_count",  # C(a, b)
    "triple_first",
    "triple_second",
    "triple_third",
    "triple_count",  # C(a, b, c): only for scripts whose words are spaced (Latin)
    "version",
)


class CharNgramLM:
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
        self.scripts = [str(s) for s in arrays["scripts"]]
        self.script = arrays["script"].astype(np.int64)
        self.prior = arrays["prior"].astype(np.float64)
        self.context = arrays["context"].astype(np.float64)
        self.start = arrays["start"].astype(np.float64)
        self.end = arrays["end"].astype(np.float64)
        n = len(self.chars)
        per_char = (self.script, self.prior, self.context, self.start, self.end)
        if any(len(a) != n for a in per_char) or self.prior.min(initial=1.0) <= 0:
            raise ModelLoadError(f"language model {self.path} has inconsistent counts")
        if self.script.size and (self.script.min() < 0 or self.script.max() >= len(self.scripts)):
            raise ModelLoadError(f"language model {self.path} has characters of no script")
        self.kappa = kappa
        first = arrays["pair_first"].astype(np.int64)
        second = arrays["pair_second"].astype(np.int64)
        counts = arrays["pair_count"].astype(np.float64)
        ends = np.concatenate([first, second])
        if ends.size and (ends.max() >= n or ends.min() < 0):
            raise ModelLoadError(f"language model {self.path} has pairs outside its characters")
        # One dict of seen pairs: a lookup per beam extension is all the decoder pays.
        values = self._log_ratio(first, second, counts)
        self.pairs: dict[int, float] = dict(
            zip((first * n + second).tolist(), values.tolist(), strict=True)
        )
        self.triples = self._triples(arrays, n)

    def _triples(self, arrays: dict[str, np.ndarray], n: int) -> dict[int, float]:
        """log P(c | a, b) - log P(c) for every seen triple, where

        P(c | a, b) = (C(a, b, c) + kappa * P(c | b)) / (N(a, b) + kappa)

        backs off to the bigram; a context (a, b) never seen keeps the bigram alone."""
        a, b, c = (arrays[f"triple_{k}"].astype(np.int64) for k in ("first", "second", "third"))
        counts = arrays["triple_count"].astype(np.float64)
        ends = np.concatenate([a, b, c])
        if ends.size and (ends.max() >= n or ends.min() < 0):
            raise ModelLoadError(f"language model {self.path} has triples outside its characters")
        contexts, where = np.unique(a * n + b, return_inverse=True)
        total = np.bincount(where, weights=counts, minlength=contexts.size)
        # N(a, b) of each context seen: where it is missing the bigram alone speaks.
        self.contexts: dict[int, float] = dict(zip(contexts.tolist(), total.tolist(), strict=True))
        if not counts.size:
            return {}
        bigram = np.exp([self.log_ratio(int(x), int(y)) for x, y in zip(b, c, strict=True)])
        p_c = self.prior[c]
        p3 = (counts + self.kappa * bigram * p_c) / (total[where] + self.kappa)
        keys = (a * n + b) * n + c
        return dict(zip(keys.tolist(), (np.log(p3) - np.log(p_c)).tolist(), strict=True))

    def log_ratio3(self, a: int, b: int, c: int) -> float:
        """log P(c | a, b) - log P(c): the trigram where (a, b) was seen, else the bigram."""
        n = len(self.chars)
        seen = self.contexts.get(a * n + b) if a >= 0 else None
        if seen is None:
            return self.log_ratio(b, c)
        value = self.triples.get((a * n + b) * n + c)
        if value is not None:
            return value
        # (a, b) seen but never followed by c: only the back-off share remains.
        return math.log(self.kappa / (seen + self.kappa)) + self.log_ratio(b, c)

    def _log_ratio(self, a: np.ndarray, b: np.ndarray, pair: np.ndarray) -> np.ndarray:
        p_b = self.prior[b]
        joint = pair + self.end[a] * self.start[b] + self.kappa * p_b
        return np.log(joint) - np.log(self.context[a] + self.kappa) - np.log(p_b)

    def log_ratio(self, a: int, b: int) -> float:
        """log P(b | a) - log P(b) for LM character indices a, b of one script."""
        value = self.pairs.get(a * len(self.chars) + b)
        if value is not None:
            return value
        # _log_ratio with C(a, b) = 0, in plain floats: the decoder calls this per new prefix.
        p_b = float(self.prior[b])
        return (
            math.log(float(self.end[a] * self.start[b]) + self.kappa * p_b)
            - math.log(float(self.context[a]) + self.kappa)
            - math.log(p_b)
        )

    def scorer(self, charset: list[str], weights: dict[str, float]) -> LmScore:
        """(class a, class b, class c) -> weights[script] * log-ratio of c after a, b (after b
        alone where a is of another script); 0 unless b (case-folded) and c are characters
        of one script it knows, with a weight."""
        index = {c: i for i, c in enumerate(self.chars)}
        weight = [weights.get(name, 0.0) for name in self.scripts]
        script = self.script.tolist()
        # Plain lists: the decoder calls this for every new prefix.
        to_prev = [index.get(c.lower(), -1) for c in charset]
        to_next = [index.get(c, -1) for c in charset]
        prev_script = [script[i] if i >= 0 else -1 for i in to_prev]
        next_weight = [weight[script[i]] if i >= 0 else 0.0 for i in to_next]

        def score(a: int, b: int, c: int) -> float:
            if b < 0 or not next_weight[c] or prev_script[b] != script[to_next[c]]:
                return 0.0
            if a >= 0 and prev_script[a] == prev_script[b]:
                return next_weight[c] * self.log_ratio3(to_prev[a], to_prev[b], to_next[c])
            return next_weight[c] * self.log_ratio(to_prev[b], to_next[c])

        return score
