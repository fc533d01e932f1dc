"""One settings object for the whole service (environment variables with the HWR_ prefix)."""

import json
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BeforeValidator, Field, SecretStr
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

MODELS_DIR = Path(__file__).resolve().parents[2] / "models"


def _comma_separated(value: object) -> object:
    # A comma-separated list reads better in an environment file than JSON; both are taken.
    if isinstance(value, str):
        if value.lstrip().startswith("["):
            return json.loads(value)
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


def _empty_is_none(value: object) -> object:
    # HWR_DIGIT_PAIRS_MODEL= (empty) turns an optional model off.
    return None if isinstance(value, str) and not value.strip() else value


def _not_blank(value: SecretStr | None) -> SecretStr | None:
    # An empty key would let an empty header in; refusing it beats serving openly by accident.
    if value is not None and not value.get_secret_value().strip():
        raise ValueError("is empty; unset HWR_API_KEY to serve without a key")
    return value


class Settings(BaseSettings):
    """Service configuration; every field can be set as HWR_<NAME>."""

    model_config = SettingsConfigDict(env_prefix="HWR_", env_file=None, extra="ignore")

    digits_model: Path = Field(
        MODELS_DIR / "lenet5.onnx", description="Path of the LeNet-5 ONNX model."
    )
    digit_pairs_model: Annotated[Path | None, BeforeValidator(_empty_is_none)] = Field(
        MODELS_DIR / "lenet5_pairs.onnx",
        description="Path of the pair reader for touching digits (LeNet-5, '00'-'99'); "
        "empty: /digits only cuts touching digits apart.",
    )
    digit_chains_model: Annotated[Path | None, BeforeValidator(_empty_is_none)] = Field(
        MODELS_DIR / "digit_chains.onnx",
        description="Path of the chain reader for blobs of touching digits (CTC, '0'-'9'); "
        "empty: /digits reads such blobs only by cutting them.",
    )
    lines_model: Path = Field(MODELS_DIR / "crnn.onnx", description="Path of the CRNN ONNX model.")
    lines_direction_model: Annotated[Path | None, BeforeValidator(_empty_is_none)] = Field(
        MODELS_DIR / "line_direction.onnx",
        description="Path of the line direction classifier (upright or upside down); "
        "empty: /lines tells an upside-down page by how surely it reads either way only.",
    )
    lines_lm: Annotated[Path | None, BeforeValidator(_empty_is_none)] = Field(
        MODELS_DIR / "lm.npz",
        description="Character bigram model (Chinese, Latin) fused into /lines beam search; "
        "empty: beam search on the CRNN alone.",
    )
    lm_weight_chinese: float = Field(
        1.0, ge=0, le=5, description="Weight of the Chinese bigram log-ratio in beam search."
    )
    lm_weight_latin: float = Field(
        0.5, ge=0, le=5, description="Weight of the Latin trigram log-ratio in beam search."
    )
    lines_beam: int = Field(
        8,
        ge=0,
        le=32,
        description="Default CTC beam width of /lines (its `beam` query overrides it); "
        "0 or 1: greedy, fastest, no language model.",
    )
    device: Literal["auto", "cpu", "cuda"] = Field(
        "auto", description="auto: CUDA when onnxruntime has it, else CPU; cuda: CUDA or fail."
    )
    intra_op_threads: int = Field(
        1, ge=0, description="onnxruntime threads inside one operator (0 = onnxruntime decides)."
    )
    inter_op_threads: int = Field(1, ge=0, description="onnxruntime threads across operators.")
    onnx_spinning: bool = Field(
        False,
        description="Idle onnxruntime threads spin-wait for work: lower latency for one line "
        "with 2+ intra-op threads, at the cost of CPU the HTTP side could use.",
    )
    max_concurrency: int = Field(
        1, gt=0, description="Images processed at once per worker; more requests wait in line."
    )
    max_queue: int = Field(
        64, ge=0, description="Requests allowed to wait for a slot; beyond it: 503 + Retry-After."
    )
    request_timeout_s: float = Field(
        30.0, gt=0, description="Longest wait plus processing for one image; beyond it: 504."
    )
    max_form_parts: int = Field(
        8, gt=0, description="Most files, and most plain fields, in one multipart form."
    )
    api_key: Annotated[SecretStr | None, AfterValidator(_not_blank)] = Field(
        None, description="When set, every API route needs it in the X-API-Key header."
    )
    cors_origins: Annotated[list[str], NoDecode, BeforeValidator(_comma_separated)] = Field(
        [], description="Origins allowed to call the API from a browser (comma-separated)."
    )
    opencv_threads: int = Field(1, ge=0, description="OpenCV's thread count (0 = OpenCV decides).")
    max_upload_bytes: int = Field(
        10 * 1024 * 1024,
        gt=0,
        description="Largest accepted request body, counted while it streams.",
    )
    max_pixels: int = Field(
        40_000_000,
        gt=0,
        description="Largest accepted image (width x height), read from its header.",
    )
    inline_max_pixels: int = Field(
        250_000,
        ge=0,
        description="/digits reads an image up to this size (width x height, from its header; "
        "upload at most 1 MiB) on the event loop itself: a hand-off to a worker thread costs "
        "more than such an image takes. 0: every image goes to a worker thread.",
    )
    max_digits: int = Field(
        512, gt=0, description="Most digit candidates read in one image; more is refused with 422."
    )
    clean_crops: bool = Field(
        True,
        description="/digits reads a clean crop (one row of separate digits, dark on plain "
        "light paper, each read surely) in one pass, several times faster; false: every "
        "image takes the full reading.",
    )
    max_lines: int = Field(
        64, gt=0, description="Most lines read in one image; more is refused with 422."
    )
    log_level: str = Field("info", description="Log level of the service.")


@lru_cache
def get_settings() -> Settings:
    """Settings read once from the environment."""
    return Settings()
