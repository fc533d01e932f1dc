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
    table: dict[int, tuple[float, float]],
) -> Callable[[int, float, float], None]:
    """add(prefix, p_blank, p_label): sum new probability mass into a prefix's entry."""

    def add(node: int, pb: float, pnb: float) -> None:
        ob, onb = table.get(node, (-math.inf, -math.inf))
        table[node] = (_logsumexp(ob, pb), _logsumexp(onb, pnb))

    return add


def beam_search(
    log_probs: np.ndarray,
    beam: int = 8,
    blank: int = 0,
    prune: float = -8.0,
    per_frame: int = 16,
    lm: Callable[[int, int, int], float] | None = None,
) -> list[int]:
    """CTC prefix beam search: the most probable label sequence summed over alignments.

    Each frame offers at most `per_frame` classes (its likeliest, above `prune`), so an unsure
    model over thousands of classes costs no more than a sure one. Prefixes are nodes of a
    trie (parent, last label), so extending one costs O(1) however long it is. `lm(a, b, c)`,
    when given, is a log-score added each time label c is written after labels a, b (-1
    before the start): shallow fusion with a language model."""
    parent, last = [-1], [-1]  # node 0: the empty prefix
    child: dict[tuple[int, int], int] = {}

    bonus = [0.0]  # the LM's score of each node's last label after its parent's

    def extend(node: int, c: int) -> int:
        key = (node, c)
        if key not in child:
            child[key] = len(parent)
            parent.append(node)
            last.append(c)
            before = last[parent[node]] if node > 0 else -1
            bonus.append(lm(before, last[node], c) if lm is not None else 0.0)
        return child[key]

    # Each prefix keeps (log P ending in blank, log P ending in a label).
    beams: dict[int, tuple[float, float]] = {0: (0.0, -math.inf)}
    # Every frame's candidates at once (T x k), then plain Python lists for the loop.
    k = min(per_frame, log_probs.shape[1])
    top = np.argpartition(log_probs, -k, axis=1)[:, -k:]
    scores = np.take_along_axis(log_probs, top, axis=1)
    for classes, values in zip(top.tolist(), scores.tolist(), strict=True):
        candidates = [(c, p) for c, p in zip(classes, values, strict=True) if p > prune]
        nxt: dict[int, tuple[float, float]] = {}
        add = _accumulate(nxt)
        for node, (pb, pnb) in beams.items():
            total = _logsumexp(pb, pnb)
            for c, p in candidates:
                if c == blank:
                    add(node, total + p, -math.inf)
                elif last[node] == c:
                    add(node, -math.inf, pnb + p)  # repeat without a blank: same label
                    new = extend(node, c)  # blank between: a new label
                    add(new, -math.inf, pb + p + bonus[new])
                else:
                    new = extend(node, c)
                    add(new, -math.inf, total + p + bonus[new])
        ranked = sorted(nxt.items(), key=lambda kv: -_logsumexp(*kv[1]))
        beams = dict(ranked[:beam])
    node = max(beams.items(), key=lambda kv: _logsumexp(*kv[1]))[0]
    labels = []
    while node > 0:
        labels.append(last[node])
        node = parent[node]
    return labels[::-1]


def _label_states(labels: list[int], blank: int) -> tuple[np.ndarray, np.ndarray]:
    """CTC's extended label sequence (blank, l1, blank, l2, ..., blank) and, per state,
    whether it may be entered from two states back (skipping a blank between different
    labels)."""
    ext = np.full(2 * len(labels) + 1, blank)
    ext[1::2] = labels
    can_skip = np.zeros(len(ext), bool)
    can_skip[2:] = (ext[2:] != blank) & (ext[2:] != ext[:-2])
    return ext, can_skip


def log_likelihood(log_probs: np.ndarray, labels: list[int], blank: int = 0) -> float:
    """log P(labels | frames) summed over every CTC alignment (the forward algorithm): how
    well a given reading fits T x C log-probabilities, whatever the model decoded itself."""
    if not labels:
        return float(log_probs[:, blank].sum())
    if log_probs.shape[0] == 0:
        return -math.inf
    ext, can_skip = _label_states(labels, blank)
    emit = log_probs[:, ext]  # T x S
    alpha = np.full(len(ext), -np.inf)
    alpha[:2] = emit[0, :2]
    none = np.full(2, -np.inf)
    for t in range(1, log_probs.shape[0]):
        advance = np.concatenate([none[:1], alpha[:-1]])
        skip = np.where(can_skip, np.concatenate([none, alpha[:-2]]), -np.inf)
        alpha = np.logaddexp(np.logaddexp(alpha, advance), skip) + emit[t]
    return float(np.logaddexp(alpha[-1], alpha[-2]))


def align(log_probs: np.ndarray, labels: list[int], blank: int = 0) -> list[DecodedChar]:
    """Viterbi forced alignment of `labels` to the frames: where each label sits and how sure
    the model is of it there (used to place beam-search results)."""
    if not labels:
        return []
    t_max = log_probs.shape[0]
    ext, can_skip = _label_states(labels, blank)
    s_max = len(ext)
    emit = log_probs[:, ext]  # T x S
    score = np.full((t_max, s_max), -np.inf)
    back = np.zeros((t_max, s_max), np.int64)
    score[0, :2] = emit[0, :2]
    none = np.full(2, -np.inf)
    for t in range(1, t_max):
        prev = score[t - 1]
        moves = np.stack(
            [
                prev,  # stay
                np.concatenate([none[:1], prev[:-1]]),  # advance one state
                np.where(can_skip, np.concatenate([none, prev[:-2]]), -np.inf),  # skip a blank
            ]
        )
        step = moves.argmax(axis=0)
        score[t] = moves[step, np.arange(s_max)] + emit[t]
        back[t] = np.arange(s_max) - step
    s = s_max - 1 if score[-1, s_max - 1] >= score[-1, s_max - 2] else s_max - 2
    states = np.empty(t_max, np.int64)
    for t in range(t_max - 1, -1, -1):
        states[t] = s
        s = int(back[t, s])
    out: list[DecodedChar] = []
    for k, label in enumerate(labels):
        frames = np.nonzero(states == 2 * k + 1)[0]
        if frames.size == 0:
            continue
        conf = float(np.exp(log_probs[frames, label]).mean())
        out.append(DecodedChar(label, conf, int(frames[0]), int(frames[-1]) + 1))
    return out
