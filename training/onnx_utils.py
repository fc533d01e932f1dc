"""Shared export helpers: metadata into ONNX files, checksums, model-card plumbing."""

import hashlib
import json
from pathlib import Path

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


def sha256_file(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
