"""A thin onnxruntime wrapper: one session per model, explicit providers, metadata read once."""

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import onnxruntime as ort

from app.core.errors import ModelLoadError

log = logging.getLogger("hwr")

Device = Literal["auto", "cpu", "cuda"]
CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"


@dataclass(frozen=True)
class EngineOptions:
    """How a session is built; provider choice is data, not code."""

    device: Device = "auto"
    intra_op_threads: int = 1
    inter_op_threads: int = 1
    # Idle threads spin-wait for the next operator: lower latency for one input with two or
    # more threads, but CPU the HTTP side needs is burnt while they wait.
    spinning: bool = False


def choose_providers(device: Device, available: list[str]) -> list[str]:
    """Providers to ask onnxruntime for, in priority order."""
    if device == "cpu":
        return [CPU]
    if CUDA in available:
        return [CUDA, CPU]
    if device == "cuda":
        raise ModelLoadError(
            "HWR_DEVICE=cuda but onnxruntime has no CUDAExecutionProvider "
            f"(available: {', '.join(available)}); install the gpu extra or use HWR_DEVICE=auto."
        )
    return [CPU]


def resolve_device(device: Device) -> Device:
    """`auto` on an onnxruntime build without CUDA is `cpu`: said once, not once per model."""
    if device == "auto" and CUDA not in ort.get_available_providers():
        log.warning("HWR_DEVICE=auto: onnxruntime has no %s; models run on the CPU", CUDA)
        return "cpu"
    return device


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class OnnxModel:
    """Loads an ONNX file once and runs batches: `run(batch) -> first output`."""

    def __init__(self, path: Path, options: EngineOptions, required_metadata: tuple[str, ...]):
        self.path = Path(path)
        if not self.path.exists():
            raise ModelLoadError(f"model file {self.path} does not exist")
        if not self.path.is_file():
            raise ModelLoadError(f"model file {self.path} is not a regular file")
        so = ort.SessionOptions()
        so.intra_op_num_threads = options.intra_op_threads
        so.inter_op_num_threads = options.inter_op_threads
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # By default requests are small and many: idle threads sleep rather than spin on the
        # cores the HTTP side needs.
        spin = "1" if options.spinning else "0"
        so.add_session_config_entry("session.intra_op.allow_spinning", spin)
        so.add_session_config_entry("session.inter_op.allow_spinning", spin)
        providers = choose_providers(options.device, ort.get_available_providers())
        try:
            self.session = ort.InferenceSession(str(self.path), so, providers=providers)
        except Exception as exc:  # onnxruntime raises several unrelated types for bad files
            reason = " ".join(str(exc).split())  # one log line, whatever onnxruntime wrote
            raise ModelLoadError(
                f"model file {self.path} cannot be loaded (truncated, or not ONNX?): {reason}"
            ) from exc
        self.provider = self.session.get_providers()[0]
        if options.device == "cuda" and self.provider != CUDA:
            raise ModelLoadError(f"HWR_DEVICE=cuda but {self.path.name} runs on {self.provider}")
        if providers[0] == CUDA and self.provider != CUDA:
            log.warning(
                "CUDA requested for %s but onnxruntime fell back to %s",
                self.path.name,
                self.provider,
            )
        meta = self.session.get_modelmeta()
        self.metadata: dict[str, str] = dict(meta.custom_metadata_map)
        missing = [key for key in required_metadata if key not in self.metadata]
        if missing:
            raise ModelLoadError(
                f"model file {self.path} lacks metadata: {', '.join(missing)} "
                "(not a model exported by this project's training?)"
            )
        self.name = self.metadata.get("name", self.path.stem)
        self.version = self.metadata.get("version", str(meta.version))
        self.sha256 = sha256_of(self.path)
        self.input_name = self.session.get_inputs()[0].name
        self.output_name = self.session.get_outputs()[0].name

    def meta_json(self, key: str) -> object:
        return json.loads(self.metadata[key])

    def run(self, batch: np.ndarray) -> np.ndarray:
        """N x C x H x W float32 -> the model's first output (logits)."""
        return self.session.run([self.output_name], {self.input_name: batch})[0]
