"""Logits -> labels with confidences and alternatives."""

import numpy as np


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax, stable for large logits."""
    shifted = logits - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)


def top_k(probs: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """N x C probabilities -> (N x k indices, N x k probabilities), best first."""
    k = min(k, probs.shape[-1])
    idx = np.argsort(-probs, axis=-1)[:, :k]
    return idx, np.take_along_axis(probs, idx, axis=-1)
