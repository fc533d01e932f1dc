"""Response models; their descriptions and examples make /docs self-explanatory."""

from pydantic import BaseModel, Field


class BoxModel(BaseModel):
    x: int = Field(
        description="Left edge in pixels of the uploaded image (after EXIF rotation).",
        examples=[12],
    )
    y: int = Field(description="Top edge in pixels.", examples=[5])
    width: int = Field(description="Width in pixels.", examples=[20])
    height: int = Field(description="Height in pixels.", examples=[31])


class Alternative(BaseModel):
    digit: str = Field(description="Another reading of the same digit.", examples=["9"])
    confidence: float = Field(description="Its probability, 0..1.", examples=[0.001])


class DigitModel(BaseModel):
    digit: str = Field(description="The digit read, 0-9.", examples=["4"])
    confidence: float = Field(description="Probability of this reading, 0..1.", examples=[0.998])
    box: BoxModel = Field(description="Where the digit is in the image.")
    line: int = Field(description="Row of the digit, 0 = top row.", examples=[0])
    alternatives: list[Alternative] = Field(description="Next-best readings, best first.")


class DigitsResponse(BaseModel):
    text: str = Field(
        description="All digits in reading order; rows joined by a newline.", examples=["4096"]
    )
    digits: list[DigitModel] = Field(description="Each digit with its confidence, box and row.")
    model: str = Field(description="Name of the model that read the digits.", examples=["lenet5"])
    elapsed_ms: float = Field(description="Server-side time spent on this image.", examples=[1.7])


class ModelInfo(BaseModel):
    name: str = Field(examples=["lenet5"])
    version: str = Field(examples=["2026-11-25"])
    sha256: str = Field(description="Checksum of the loaded model file.")
    provider: str = Field(
        description="onnxruntime execution provider actually in use (numpy for the language "
        "model).",
        examples=["CPUExecutionProvider"],
    )


class HealthResponse(BaseModel):
    status: str = Field(examples=["ok"])
    models: dict[str, ModelInfo] = Field(
        description="Loaded models by role: digits, digit_pairs (touching pairs), "
        "digit_chains (touching runs), lines, lines_direction (upright or upside down), "
        "lines_lm (language model of /lines beam search)."
    )


class ReadyResponse(BaseModel):
    status: str = Field(description="`ready` once every model is loaded.", examples=["ready"])


class ErrorResponse(BaseModel):
    detail: str = Field(
        description="What was wrong with the request.", examples=["The uploaded file is empty."]
    )


class CharacterModel(BaseModel):
    char: str = Field(description="The character read.", examples=["订"])
    confidence: float = Field(description="Its probability, 0..1.", examples=[0.99])
    x: int = Field(description="Left edge in pixels of the uploaded image.", examples=[12])
    y: int = Field(description="Top edge in pixels of the uploaded image.", examples=[5])
    width: int = Field(description="Width in pixels.", examples=[20])
    height: int = Field(
        description="Height in pixels: the line's ink height, or along a line written "
        "down the image (a page sent on its side, read turned), the character's own.",
        examples=[31],
    )


class LineModel(BaseModel):
    text: str = Field(description="The line's text.", examples=["订单号 A12345 共3件"])
    confidence: float = Field(
        description="Geometric mean of the characters' confidences, 0..1.", examples=[0.97]
    )
    box: BoxModel = Field(description="Where the line is in the image.")
    characters: list[CharacterModel] = Field(description="Each character, left to right.")


class LinesResponse(BaseModel):
    text: str = Field(
        description="All lines, top to bottom, joined by a newline.",
        examples=["订单号 A12345 共3件\n2026年11月23日"],
    )
    lines: list[LineModel] = Field(description="Each line with its box and characters.")
    model: str = Field(description="Name of the model that read the lines.", examples=["crnn"])
    elapsed_ms: float = Field(description="Server-side time spent on this image.", examples=[8.1])
