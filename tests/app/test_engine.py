"""The onnxruntime wrapper: provider choice, refusals, metadata."""

from pathlib import Path

import onnx
import pytest

from app.core.config import Settings
from app.core.engine import CPU, CUDA, EngineOptions, OnnxModel, choose_providers
from app.core.errors import ModelLoadError
from app.digits.reader import REQUIRED_METADATA
from app.main import create_app

MODEL = Settings().digits_model


@pytest.mark.parametrize(
    ("device", "available", "expected"),
    [
        ("cpu", [CUDA, CPU], [CPU]),
        ("auto", [CUDA, CPU], [CUDA, CPU]),
        ("auto", [CPU], [CPU]),
        ("cuda", [CUDA, CPU], [CUDA, CPU]),
    ],
)
def test_choose_providers_follows_the_device_setting(device, available, expected) -> None:
    assert choose_providers(device, available) == expected


def test_choose_providers_refuses_cuda_when_onnxruntime_lacks_it() -> None:
    with pytest.raises(ModelLoadError, match="CUDAExecutionProvider"):
        choose_providers("cuda", [CPU])


def test_model_reports_the_provider_its_session_uses() -> None:
    model = OnnxModel(MODEL, EngineOptions("auto"), REQUIRED_METADATA)
    assert model.provider == model.session.get_providers()[0]
    assert len(model.sha256) == 64


def test_missing_model_file_is_refused_with_its_name(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match=r"nothing\.onnx"):
        OnnxModel(tmp_path / "nothing.onnx", EngineOptions("cpu"), REQUIRED_METADATA)


def test_truncated_model_file_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "cut.onnx"
    bad.write_bytes(MODEL.read_bytes()[:1000])
    with pytest.raises(ModelLoadError, match="cannot be loaded"):
        OnnxModel(bad, EngineOptions("cpu"), REQUIRED_METADATA)


def test_model_without_metadata_is_refused(tmp_path: Path) -> None:
    model = onnx.load(str(MODEL))
    del model.metadata_props[:]
    bare = tmp_path / "bare.onnx"
    onnx.save(model, str(bare))
    with pytest.raises(ModelLoadError, match="labels"):
        OnnxModel(bare, EngineOptions("cpu"), REQUIRED_METADATA)


def test_service_refuses_to_start_with_a_missing_model(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    app = create_app(Settings(digits_model=tmp_path / "gone.onnx"))
    with pytest.raises(ModelLoadError, match=r"gone\.onnx"), TestClient(app):
        pass


@pytest.mark.parametrize("spinning", [False, True])
def test_spinning_setting_reaches_the_session(spinning: bool, monkeypatch) -> None:
    monkeypatch.setenv("HWR_ONNX_SPINNING", str(spinning).lower())
    settings = Settings()
    options = EngineOptions("cpu", 2, 1, settings.onnx_spinning)
    model = OnnxModel(settings.digits_model, options, REQUIRED_METADATA)
    entries = model.session.get_session_options()
    for key in ("session.intra_op.allow_spinning", "session.inter_op.allow_spinning"):
        assert entries.get_session_config_entry(key) == ("1" if spinning else "0")
