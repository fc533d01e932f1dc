"""The readers' answers as JSON, encoded by orjson.

The standard library's encoder spent about as long writing a four-digit answer (its floats
above all) as onnxruntime spent reading the digits; orjson writes the same JSON (UTF-8, no
spaces) some twenty times faster.
"""

from typing import Any

import orjson
from fastapi.responses import JSONResponse


class FastJSONResponse(JSONResponse):
    """A JSONResponse rendered by orjson (numpy scalars written as numbers)."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY)
