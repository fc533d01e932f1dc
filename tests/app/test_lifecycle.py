"""Start-up, readiness and failure: a bad model file or device stops the service with one
clear log line; /ready follows the lifespan; unexpected errors leak nothing."""

import asyncio
import logging
import os
from collections.abc import Callable
from pathlib import Path

import onnx
import onnxruntime
import pytest
import uvicorn
from fastapi.testclient import TestClient
from uvicorn.lifespan.on import LifespanOn

from app.core.config import Settings
from app.core.engine import CPU
from app.core.errors import ModelLoadError
from app.main import create_app
from tests.app.serving import post_blank, serving

MODEL = Settings().digits_model


def missing(tmp_path: Path) -> Path:
    return tmp_path / "gone.onnx"


def truncated(tmp_path: Path) -> Path:
    path = tmp_path / "cut.onnx"
    path.write_bytes(MODEL.read_bytes()[:100])
    return path


def random_bytes(tmp_path: Path) -> Path:
    path = tmp_path / "noise.onnx"
    path.write_bytes(os.urandom(4096))
    return path


def without_metadata(tmp_path: Path) -> Path:
    model = onnx.load(str(MODEL))
    del model.metadata_props[:]
    path = tmp_path / "bare.onnx"
    onnx.save(model, str(path))
    return path


def directory(tmp_path: Path) -> Path:
    path = tmp_path / "dir.onnx"
    path.mkdir()
    return path


BAD_MODELS: list[tuple[Callable[[Path], Path], str]] = [
    (missing, "does not exist"),
    (truncated, "cannot be loaded"),
    (random_bytes, "cannot be loaded"),
    (without_metadata, "lacks metadata: labels"),
    (directory, "is not a regular file"),
]


def error_lines(caplog: pytest.LogCaptureFixture, logger: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == logger and r.levelno >= 40]


@pytest.mark.parametrize(("make", "problem"), BAD_MODELS, ids=[m.__name__ for m, _ in BAD_MODELS])
def test_service_refuses_to_start_on_a_bad_model_with_one_log_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, make, problem: str
) -> None:
    path = make(tmp_path)
    app = create_app(Settings(digits_model=path, device="cpu"))

    with pytest.raises(ModelLoadError, match=problem), TestClient(app):
        pass

    [line] = error_lines(caplog, "hwr")
    assert str(path) in line and problem in line and "\n" not in line


@pytest.mark.parametrize(("make", "problem"), BAD_MODELS[:2], ids=["missing", "truncated"])
def test_uvicorn_logs_a_bad_model_as_one_line_without_traceback(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, make, problem: str
) -> None:
    path = make(tmp_path)
    app = create_app(Settings(digits_model=path, device="cpu"))
    lifespan = LifespanOn(uvicorn.Config(app, lifespan="on", log_config=None))

    asyncio.run(lifespan.startup())

    assert lifespan.should_exit
    assert not any("Traceback" in r.getMessage() or r.exc_info for r in caplog.records)
    assert [line for line in error_lines(caplog, "hwr") if str(path) in line]
    assert error_lines(caplog, "uvicorn.error") == ["Application startup failed. Exiting."]


def test_service_refuses_to_start_on_cuda_without_a_gpu(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(onnxruntime, "get_available_providers", lambda: [CPU])
    app = create_app(Settings(device="cuda"))

    with pytest.raises(ModelLoadError, match="HWR_DEVICE=cuda"), TestClient(app):
        pass

    [line] = error_lines(caplog, "hwr")
    assert "CUDAExecutionProvider" in line


def test_auto_device_without_a_gpu_runs_on_cpu_with_one_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(onnxruntime, "get_available_providers", lambda: [CPU])
    with caplog.at_level(logging.WARNING, logger="hwr"), serving(device="auto") as client:
        health = client.get("/health").json()

    warnings = [r for r in caplog.records if r.name == "hwr" and r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "CPU" in warnings[0].getMessage()
    assert health["models"]["digits"]["provider"] == CPU


def test_ready_is_503_before_the_models_load_and_200_after() -> None:
    app = create_app(Settings())
    before = TestClient(app).get("/ready")  # no `with`: the lifespan has not run
    assert before.status_code == 503 and before.json()["detail"]
    assert TestClient(app).get("/health").status_code == 200  # alive all the same

    with TestClient(app) as client:
        after = client.get("/ready")
    assert after.status_code == 200 and after.json() == {"status": "ready"}
    assert TestClient(app).get("/ready").status_code == 503  # shut down again


def test_unexpected_error_is_500_json_without_details(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def explode(_image: object) -> None:
        raise RuntimeError("secret /srv/internal/path")

    with serving(raise_server_exceptions=False) as client:
        monkeypatch.setattr(client.app.state.digit_reader, "read", explode)
        r = post_blank(client)

    assert r.status_code == 500
    assert r.json() == {"detail": "Internal error."}
    assert "secret" not in r.text and "Traceback" not in r.text
    [logged] = [rec for rec in caplog.records if rec.name == "hwr" and rec.exc_info]
    assert "secret" in str(logged.exc_info[1])
