"""Direction classifier smoke run on real glyph sources -> ONNX -> the service's decoding."""

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from app.core.engine import EngineOptions, OnnxModel
from app.lines.direction import REQUIRED_METADATA, LineDirection, line_logits
from tests.training.test_crnn import contexts  # noqa: F401  (the glyph sources fixture)
from training import direction
from training.crnn import build_cache


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory, contexts) -> Path:  # noqa: F811
    out = tmp_path_factory.mktemp("direction")
    direction.main(
        [
            "--lines",
            "40",
            "--eval-lines",
            "8",
            "--epochs",
            "1",
            "--batch-size",
            "8",
            "--fonts",
            "base",
            "--faults",
            "0",
            "--ruled",
            "0",
            "--workers",
            "2",
            "--dry-run",
            "--quiet",
            "--cache",
            str(out / "cache"),
            "--checkpoint",
            str(out / "last.pt"),
            "--out",
            str(out),
        ],
        contexts,
    )
    return out


def test_export_carries_its_format_and_matches_torch(smoke_run: Path) -> None:
    path = smoke_run / "line_direction.onnx"
    onnx.checker.check_model(onnx.load(str(path)))
    model = OnnxModel(path, EngineOptions("cpu"), REQUIRED_METADATA)
    assert model.meta_json("labels") == ["upright", "upside_down"]
    state = torch.load(smoke_run / "last.pt", weights_only=False)
    net = direction.DirectionNet()
    net.load_state_dict(state["model"])
    net.eval()
    lines, _ = build_cache(smoke_run / "cache" / "digits-8-32.npz", 8, 7919, "", 32, {}, 1)
    x, _ = direction.as_batch(lines[:3], np.array([False, True, False]))
    with torch.no_grad():
        want = net(x).numpy()
    got = model.run(x.numpy())
    assert got.shape == want.shape == (3, x.shape[3] // 8, 2)
    np.testing.assert_allclose(got, want, atol=1e-4)
    # The service decodes what training pooled: each line's own frames, padding left out.
    x, mask = direction.as_batch(lines[:3], np.zeros(3, bool))
    with torch.no_grad():
        pooled = direction.pooled(net(x), mask).numpy()
    frames = mask.sum(1).numpy()
    each = [line_logits(model.run(x.numpy())[k], int(frames[k])) for k in range(3)]
    np.testing.assert_allclose(each, pooled[:, 1] - pooled[:, 0], atol=1e-4)
    page = LineDirection(model).upside_down(lines[:3])
    assert page == pytest.approx(float(np.dot(each, frames) / frames.sum()), abs=1e-4)


def test_card_records_the_run(smoke_run: Path) -> None:
    card = json.loads((smoke_run / "line_direction.json").read_text())
    assert card["train_lines"] == 40 and card["parameters"] > 0
    assert set(card["history"][-1]["error"]) == {"digits"}
    assert set(card["history"][-1]["error"]["digits"]) == {"upright", "upside_down"}
