"""Pair reader: smoke run -> ONNX export -> onnxruntime load, parity, and the reader using it."""

from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from app.core.engine import EngineOptions, OnnxModel
from app.digits.preprocess import PAIR_INPUT
from app.digits.reader import REQUIRED_METADATA, DigitReader
from tests.conftest import ASSETS
from training import lenet5, pairs


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory) -> Path:
    """A few touching rows of t10k digits, one short epoch, exported as a user would."""
    out = tmp_path_factory.mktemp("pairs")
    argv = [
        "--rows",
        "40",
        "--eval-rows",
        "10",
        "--epochs",
        "1",
        "--batch-size",
        "32",
        "--quiet",
        "--mnist-dir",
        str(ASSETS / "mnist"),
        "--train-split",
        "t10k",
        "--data",
        str(out),
        "--out",
        str(out),
        "--checkpoint",
        str(out / "last.pt"),
    ]
    pairs.main(argv)
    return out


def test_training_writes_model_card_and_checkpoint(smoke_run: Path) -> None:
    for name in ("lenet5_pairs.onnx", "lenet5_pairs.md", "lenet5_pairs.json", "last.pt"):
        assert (smoke_run / name).is_file(), name
    card = (smoke_run / "lenet5_pairs.md").read_text()
    assert "Pair error" in card and "python -m training.pairs" in card


def test_export_has_dynamic_batch_100_labels_and_its_input_size(smoke_run: Path) -> None:
    model = onnx.load(str(smoke_run / "lenet5_pairs.onnx"))
    onnx.checker.check_model(model)
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_param
    loaded = OnnxModel(smoke_run / "lenet5_pairs.onnx", EngineOptions("cpu"), REQUIRED_METADATA)
    assert loaded.meta_json("labels") == [f"{a}{b}" for a in range(10) for b in range(10)]
    assert loaded.meta_json("input_size") == list(PAIR_INPUT)


def test_onnx_matches_pytorch_on_real_pair_pieces(smoke_run: Path) -> None:
    state = torch.load(smoke_run / "last.pt", weights_only=False)
    net = lenet5.LeNet5("modern", 2, 100, PAIR_INPUT)
    net.load_state_dict(state["model"])
    net.eval()
    x, _ = np.load(next(smoke_run.glob("pairs-t10k-40-*.npz"))).values()
    batch = ((x[:64, None].astype(np.float32) / 255) - lenet5.MEAN) / lenet5.STD
    with torch.no_grad():
        expected = net(torch.from_numpy(batch)).numpy()
    model = OnnxModel(smoke_run / "lenet5_pairs.onnx", EngineOptions("cpu"), REQUIRED_METADATA)
    np.testing.assert_allclose(model.run(batch), expected, atol=1e-4, rtol=1e-4)


def test_reader_accepts_the_pair_model(smoke_run: Path) -> None:
    digits = OnnxModel(
        Path(__file__).resolve().parents[2] / "models/lenet5.onnx",
        EngineOptions("cpu"),
        REQUIRED_METADATA,
    )
    pair_model = OnnxModel(smoke_run / "lenet5_pairs.onnx", EngineOptions("cpu"), REQUIRED_METADATA)
    reader = DigitReader(digits, pairs=pair_model)
    probs = reader.classify_pairs(np.zeros((3, *PAIR_INPUT), np.float32))
    assert probs.shape == (3, 100)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
