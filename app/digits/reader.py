"""The /digits pipeline: ink map -> segments -> normalised digits -> one batch -> labels."""

import math
from dataclasses import dataclass

import numpy as np

from app.core.engine import OnnxModel
from app.core.errors import TooManyCharacters
from app.digits.decode import softmax, top_k
from app.digits.preprocess import normalize_digit, to_model_input
from app.digits.segment import Box, Piece, segment_digits
from app.vision.binarize import ink_map

REQUIRED_METADATA = ("labels", "input_size", "mean", "std")
# Log-probability a reading with one more cut must gain to win: cuts must pay their way.
SPLIT_COST = 1.0
# Extra cost per digit of difference from the count the blob's width suggests.
COUNT_COST = 0.5


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
        pieces: list[Piece] = [p for s in segments for opt in s.options for p in opt]
        if len(pieces) > self.max_digits:
            raise TooManyCharacters(
                f"The image holds more than {self.max_digits} digit candidates; "
                "send a crop with fewer digits."
            )
        batch = (
            np.stack([normalize_digit(p.ink) for p in pieces]) if pieces else np.zeros((0, 32, 32))
        )
        probs = self.classify(batch)
        idx, conf = top_k(probs, self.top_k + 1)
        out: list[ReadDigit] = []
        k = 0
        for seg in segments:
            best_score, best_range = -math.inf, (k, k)
            for opt in seg.options:
                n = len(opt)
                logp = float(np.log(np.maximum(conf[k : k + n, 0], 1e-9)).sum())
                score = (
                    logp
                    - SPLIT_COST * (n - 1)
                    - COUNT_COST * max(0.0, abs(n - seg.expected_count) - 0.5)
                )
                if score > best_score:
                    best_score, best_range = score, (k, k + n)
                k += n
            for j in range(*best_range):
                out.append(
                    ReadDigit(
                        label=self.labels[idx[j, 0]],
                        confidence=float(conf[j, 0]),
                        box=pieces[j].box,
                        line=seg.row,
                        alternatives=[
                            (self.labels[idx[j, a]], float(conf[j, a]))
                            for a in range(1, idx.shape[1])
                        ],
                    )
                )
        return out


def digits_text(digits: list[ReadDigit]) -> str:
    """Digits joined per line, lines joined with newlines."""
    lines: dict[int, list[str]] = {}
    for d in digits:
        lines.setdefault(d.line, []).append(d.label)
    return "\n".join("".join(lines[r]) for r in sorted(lines))
