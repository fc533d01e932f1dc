"""Shared export helpers: metadata into ONNX files, checksums, model-card plumbing."""

import hashlib
import json
from pathlib import Path
from typing import Any

import onnx


def add_metadata(path: Path, metadata: dict[str, object]) -> None:
    """Write key/value pairs into the model's metadata_props (non-strings as JSON)."""
    model = onnx.load(str(path))
    existing = {p.key: p for p in model.metadata_props}
    for key, value in metadata.items():
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        if key in existing:
            existing[key].value = text
        else:
            entry = model.metadata_props.add()
            entry.key, entry.value = key, text
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def export_lines_model(model: Any, path: Path, height: int, metadata: dict[str, object]) -> None:
    """A torch model over N x 1 x height x W lines -> ONNX (opset 17) with dynamic batch and
    width, its per-frame output named logits, and `metadata` in its metadata_props."""
    import torch

    model = model.cpu().eval()
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(
        model,
        (torch.zeros(1, 1, height, 128),),
        str(path),
        dynamo=False,
        input_names=["input"],
        output_names=["logits"],
        opset_version=17,
        dynamic_axes={"input": {0: "batch", 3: "width"}, "logits": {0: "batch", 1: "frames"}},
    )
    add_metadata(path, metadata)


def sha256_file(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
