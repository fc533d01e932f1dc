"""One settings object for the whole service (environment variables with the HWR_ prefix)."""

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

MODELS_DIR = Path(__file__).resolve().parents[2] / "models"


class Settings(BaseSettings):
    """Service configuration; every field can be set as HWR_<NAME>."""

    model_config = SettingsConfigDict(env_prefix="HWR_", env_file=None, extra="ignore")

    digits_model: Path = Field(
        MODELS_DIR / "lenet5.onnx", description="Path of the LeNet-5 ONNX model."
    )
    lines_model: Path = Field(MODELS_DIR / "crnn.onnx", description="Path of the CRNN ONNX model.")
    device: Literal["auto", "cpu", "cuda"] = Field(
        "auto", description="auto: CUDA when onnxruntime has it, else CPU; cuda: CUDA or fail."
    )
    intra_op_threads: int = Field(
        1, ge=0, description="onnxruntime threads inside one operator (0 = onnxruntime decides)."
    )
    inter_op_threads: int = Field(1, ge=0, description="onnxruntime threads across operators.")
    max_concurrency: int = Field(
        1, gt=0, description="Images processed at once per worker; more requests wait in line."
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
    max_digits: int = Field(
        512, gt=0, description="Most digit candidates read in one image; more is refused with 422."
    )
    max_lines: int = Field(
        64, gt=0, description="Most lines read in one image; more is refused with 422."
    )
    log_level: str = Field("info", description="Log level of the service.")


@lru_cache
def get_settings() -> Settings:
    """Settings read once from the environment."""
    return Settings()
