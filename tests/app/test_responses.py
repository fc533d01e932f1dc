"""app/api/responses.py: answers written by orjson are the JSON the standard encoder writes."""

import json

import numpy as np
from fastapi.responses import JSONResponse

from app.api.responses import FastJSONResponse


def test_answers_are_the_same_json_as_the_standard_encoders() -> None:
    content = {
        "text": "4096\n12",
        "lines": [{"text": "中文 abc", "confidence": 0.998123, "box": {"x": 0, "y": 12}}],
        "elapsed_ms": 1.7,
        "empty": [],
    }
    fast = FastJSONResponse(content)
    assert json.loads(fast.body) == json.loads(JSONResponse(content).body) == content
    assert "中文".encode() in fast.body  # UTF-8, not \\u escapes
    assert fast.headers["content-type"] == "application/json"


def test_numpy_scalars_are_written_as_numbers() -> None:
    body = FastJSONResponse({"x": np.int64(3), "p": np.float32(0.5)}).body
    assert json.loads(body) == {"x": 3, "p": 0.5}
