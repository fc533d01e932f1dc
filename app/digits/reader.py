"""The /digits pipeline: ink map -> segments -> normalised digits -> one batch -> labels."""

import math
from dataclasses import dataclass

import numpy as np

from app.core.engine import OnnxModel
from app.core.errors import TooManyCharacters
from app.digits.decode import softmax, top_k
from app.digits.preprocess import normalize_digit, to_model_input
from app.digits.segment import Box, segment_digits
from app.vision.binarize import ink_map

REQUIRED_METADATA = ("labels", "input_size", "mean", "std")
# Log-probability each digit of a reading costs, so a cut must pay its way.
DIGIT_COST = 0.3
# A blob much shorter than the page's digits is read only when at least this sure.
STRAY_MARK_CONFIDENCE = 0.5


@dataclass(frozen=True)
class ReadDigit:
    label: str
    confidence: float
    box: Box
    line: int
    alternatives: list[tuple[str, float]]


class DigitReader:
    """Reads every digit in a grayscale image with a LeNet-5 ONNX model."""

    def __init__(self, model: OnnxModel, max_digits: int = 512, top_k: int = 3) -> None:
        self.model = model
        self.labels: list[str] = list(model.meta_json("labels"))  # type: ignore[arg-type]
        self.input_size = int(model.metadata["input_size"])
        self.mean = float(model.metadata["mean"])
        self.std = float(model.metadata["std"])
        self.max_digits = max_digits
        self.top_k = top_k

    def classify(self, digits: np.ndarray) -> np.ndarray:
        """N x 32 x 32 normalised digits in [0, 1] -> N x 10 probabilities."""
        if digits.shape[0] == 0:
            return np.zeros((0, len(self.labels)), np.float32)
        return softmax(self.model.run(to_model_input(digits, self.mean, self.std)))

    def read(self, gray: np.ndarray) -> list[ReadDigit]:
        """All digits of a grayscale image in reading order."""
        segments = segment_digits(ink_map(gray))
        keys = [(n, key) for n, seg in enumerate(segments) for key in seg.pieces]
        if len(keys) > self.max_digits:
            raise TooManyCharacters(
                f"The image holds more than {self.max_digits} digit candidates; "
                "send a crop with fewer digits."
            )
        pieces = [segments[n].pieces[key] for n, key in keys]
        batch = np.stack([normalize_digit(p.ink) for p in pieces]) if pieces else None
        probs = self.classify(batch) if batch is not None else np.zeros((0, len(self.labels)))
        idx, conf = top_k(probs, self.top_k + 1)
        row_of = {(n, key): k for k, (n, key) in enumerate(keys)}
        out: list[ReadDigit] = []
        for n, seg in enumerate(segments):
            scores = {
                key: math.log(max(float(conf[row_of[(n, key)], 0]), 1e-9)) + piece.prior
                for key, piece in seg.pieces.items()
            }
            for key in best_path(scores, len(seg.cuts) - 1):
                k = row_of[(n, key)]
                if seg.small and conf[k, 0] < STRAY_MARK_CONFIDENCE:
                    continue
                out.append(
                    ReadDigit(
                        label=self.labels[idx[k, 0]],
                        confidence=float(conf[k, 0]),
                        box=seg.pieces[key].box,
                        line=seg.row,
                        alternatives=[
                            (self.labels[idx[k, a]], float(conf[k, a]))
                            for a in range(1, idx.shape[1])
                        ],
                    )
                )
        return out


def best_path(scores: dict[tuple[int, int], float], last: int) -> list[tuple[int, int]]:
    """Most likely way through a cut lattice: pieces (i, j) from cut 0 to cut `last`,
    maximising the summed log-probability less a cost per digit (dynamic programming)."""
    best = [-math.inf] * (last + 1)
    back: list[tuple[int, int] | None] = [None] * (last + 1)
    best[0] = 0.0
    for j in range(1, last + 1):
        for (a, b), score in scores.items():
            if b == j and best[a] > -math.inf and best[a] + score - DIGIT_COST > best[j]:
                best[j], back[j] = best[a] + score - DIGIT_COST, (a, b)
    path: list[tuple[int, int]] = []
    j = last
    while j > 0 and back[j] is not None:
        path.append(back[j])  # type: ignore[arg-type]
        j = back[j][0]  # type: ignore[index]
    return path[::-1]


def digits_text(digits: list[ReadDigit]) -> str:
    """Digits joined per line, lines joined with newlines."""
    lines: dict[int, list[str]] = {}
    for d in digits:
        lines.setdefault(d.line, []).append(d.label)
    return "\n".join("".join(lines[r]) for r in sorted(lines))
