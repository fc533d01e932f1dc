"""Which way up a page's lines are: a small convolutional classifier (`line_direction.onnx`)
reads every 8-column frame of a normalised line as upright or upside down.

Three stages, as for the other models: the lines come normalised as the CRNN reads them
(`app.lines.preprocess`), one onnxruntime call reads all of a page's lines, and decoding is
the mean of each line's own frames' logits (padding's frames left out), as in training.
"""

import numpy as np

from app.core.engine import OnnxModel
from app.core.errors import ModelLoadError
from app.lines.preprocess import frame_count, to_batch

LABELS = ("upright", "upside_down")
REQUIRED_METADATA = ("labels", "height", "mean", "std", "stride")


def line_logits(logits: np.ndarray, frames: int) -> float:
    """T x 2 frame logits of one line -> its log-odds of being upside down: the mean logit
    difference over its first `frames` frames (the rest saw padding)."""
    own = logits[:frames].astype(np.float64)
    return float((own[:, 1] - own[:, 0]).mean()) if frames else 0.0


class LineDirection:
    """Log-odds that normalised lines are upside down; format from the model's metadata."""

    def __init__(self, model: OnnxModel) -> None:
        if list(model.meta_json("labels")) != list(LABELS):  # type: ignore[arg-type]
            raise ModelLoadError(f"model file {model.path} does not label {', '.join(LABELS)}")
        self.model = model
        self.height = int(model.metadata["height"])
        self.mean = float(model.metadata["mean"])
        self.std = float(model.metadata["std"])
        self.stride = int(model.metadata["stride"])

    def upside_down(self, lines: list[np.ndarray]) -> float:
        """Normalised lines (one height: `self.height`) of a page -> the page's log-odds of
        being upside down: every line's frames count alike, so a long line weighs more."""
        lines = [line for line in lines if line.size]
        if not lines:
            return 0.0
        logits = self.model.run(to_batch(lines, self.mean, self.std, self.stride))  # N x T x 2
        frames = [frame_count(line.shape[1], self.stride) for line in lines]
        total = sum(line_logits(logits[k], n) * n for k, n in enumerate(frames))
        return total / sum(frames)
