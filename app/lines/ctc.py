"""CTC decoding in numpy: greedy and prefix beam search, with per-character confidence and
position taken from the alignment. Shared by the service and the training evaluation."""

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class DecodedChar:
    index: int  # class index in the charset (never the blank, 0)
    confidence: float  # mean posterior of the character over its frames
    start: int  # first frame aligned to it
    end: int  # one past its last frame


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """T x C logits -> T x C log-probabilities."""
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def greedy_decode(log_probs: np.ndarray, blank: int = 0) -> list[DecodedChar]:
    """Best class per frame, repeats collapsed, blanks dropped (T x C log-probabilities)."""
    best = log_probs.argmax(axis=1)
    probs = np.exp(log_probs[np.arange(len(best)), best])
    out: list[DecodedChar] = []
    t = 0
    while t < len(best):
        end = t + 1
        while end < len(best) and best[end] == best[t]:
            end += 1
        if best[t] != blank:
            out.append(DecodedChar(int(best[t]), float(probs[t:end].mean()), t, end))
        t = end
    return out


def _logsumexp(a: float, b: float) -> float:
    if a == -math.inf:
        return b
    if b == -math.inf:
        return a
    m = max(a, b)
    return m + math.log(math.exp(a - m) + math.exp(b - m))


def _accumulate(
    table: dict[tuple[int, ...], tuple[float, float]],
) -> Callable[[tuple[int, ...], float, float], None]:
    """add(prefix, p_blank, p_label): sum new probability mass into a prefix's entry."""

    def add(prefix: tuple[int, ...], pb: float, pnb: float) -> None:
        ob, onb = table.get(prefix, (-math.inf, -math.inf))
        table[prefix] = (_logsumexp(ob, pb), _logsumexp(onb, pnb))

    return add


def beam_search(
    log_probs: np.ndarray, beam: int = 8, blank: int = 0, prune: float = -12.0
) -> list[int]:
    """CTC prefix beam search: the most probable label sequence summed over alignments."""
    # Each prefix keeps (log P ending in blank, log P ending in a label).
    beams: dict[tuple[int, ...], tuple[float, float]] = {(): (0.0, -math.inf)}
    for frame in log_probs:
        candidates = np.nonzero(frame > prune)[0]
        nxt: dict[tuple[int, ...], tuple[float, float]] = {}
        add = _accumulate(nxt)
        for prefix, (pb, pnb) in beams.items():
            total = _logsumexp(pb, pnb)
            for c in candidates:
                p = float(frame[c])
                if c == blank:
                    add(prefix, total + p, -math.inf)
                elif prefix and prefix[-1] == c:
                    add(prefix, -math.inf, pnb + p)  # repeat without a blank: same label
                    add((*prefix, int(c)), -math.inf, pb + p)  # blank between: a new label
                else:
                    add((*prefix, int(c)), -math.inf, total + p)
        ranked = sorted(nxt.items(), key=lambda kv: -_logsumexp(*kv[1]))
        beams = dict(ranked[:beam])
    return list(max(beams.items(), key=lambda kv: _logsumexp(*kv[1]))[0])


def align(log_probs: np.ndarray, labels: list[int], blank: int = 0) -> list[DecodedChar]:
    """Viterbi forced alignment of `labels` to the frames: where each label sits and how sure
    the model is of it there (used to place beam-search results)."""
    if not labels:
        return []
    t_max = log_probs.shape[0]
    ext = [blank]
    for c in labels:
        ext += [c, blank]
    s_max = len(ext)
    score = np.full((t_max, s_max), -np.inf)
    back = np.zeros((t_max, s_max), np.int64)
    score[0, 0] = log_probs[0, ext[0]]
    score[0, 1] = log_probs[0, ext[1]]
    for t in range(1, t_max):
        for s in range(s_max):
            moves = [(score[t - 1, s], s)]
            if s >= 1:
                moves.append((score[t - 1, s - 1], s - 1))
            if s >= 2 and ext[s] != blank and ext[s] != ext[s - 2]:
                moves.append((score[t - 1, s - 2], s - 2))
            best, src = max(moves)
            score[t, s] = best + log_probs[t, ext[s]]
            back[t, s] = src
    s = s_max - 1 if score[-1, s_max - 1] >= score[-1, s_max - 2] else s_max - 2
    states = [s]
    for t in range(t_max - 1, 0, -1):
        s = int(back[t, s])
        states.append(s)
    states.reverse()
    out: list[DecodedChar] = []
    for k, label in enumerate(labels):
        frames = [t for t, st in enumerate(states) if st == 2 * k + 1]
        if not frames:
            continue
        conf = float(np.exp(log_probs[frames, label]).mean())
        out.append(DecodedChar(label, conf, frames[0], frames[-1] + 1))
    return out
