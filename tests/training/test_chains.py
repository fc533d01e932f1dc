"""Chain reader: blobs labelled from the ink they hold; smoke run -> ONNX -> onnxruntime parity."""

from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from app.core.engine import EngineOptions, OnnxModel
from app.digits.preprocess import CHAIN_HEIGHT
from app.lines.preprocess import to_batch
from app.lines.reader import REQUIRED_METADATA, LineReader
from tests.conftest import ASSETS
from training import chains
from training.crnn import CRNN
from training.digit_sheets import make_row


def test_blobs_are_labelled_with_the_digits_they_hold_in_reading_order(t10k) -> None:
    images, labels = t10k
    rng = np.random.default_rng(3)
    found = 0
    for _ in range(30):
        row = make_row(images, labels, rng, "touching")
        crops, texts = chains.label_chains(row)
        for crop, text in zip(crops, texts, strict=True):
            assert crop.shape[0] == CHAIN_HEIGHT and 0.99 <= crop.max() <= 1.0
            assert text and text in row.text  # neighbours, in the row's order
            found += len(text) >= 2
    assert found >= 10  # touching rows do give blobs of several digits


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory) -> Path:
    """A few touching rows of t10k digits, one short epoch, exported as a user would."""
    out = tmp_path_factory.mktemp("chains")
    argv = ["--rows", "40", "--eval-rows", "10", "--epochs", "1", "--quiet"]
    argv += ["--mnist-dir", str(ASSETS / "mnist"), "--train-split", "t10k"]
    argv += ["--data", str(out), "--out", str(out), "--checkpoint", str(out / "last.pt")]
    chains.main(argv)
    return out


def test_training_writes_model_card_and_checkpoint(smoke_run: Path) -> None:
    for name in ("digit_chains.onnx", "digit_chains.md", "digit_chains.json", "last.pt"):
        assert (smoke_run / name).is_file(), name
    assert "python -m training.chains" in (smoke_run / "digit_chains.md").read_text()


def test_export_has_dynamic_axes_and_the_digit_charset(smoke_run: Path) -> None:
    model = onnx.load(str(smoke_run / "digit_chains.onnx"))
    onnx.checker.check_model(model)
    dims = model.graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param and dims[3].dim_param
    reader = LineReader(
        OnnxModel(smoke_run / "digit_chains.onnx", EngineOptions("cpu"), REQUIRED_METADATA)
    )
    assert reader.charset == chains.CHARSET and reader.height == CHAIN_HEIGHT


def test_onnx_matches_pytorch_on_real_blobs(smoke_run: Path) -> None:
    state = torch.load(smoke_run / "last.pt", weights_only=False)
    net = CRNN(len(chains.CHARSET), CHAIN_HEIGHT, 64, 64)
    net.load_state_dict(state["model"])
    net.eval()
    with np.load(next(smoke_run.glob("chains-t10k-10-*.npz"))) as z:
        width = int(z["widths"][0])
        crop = z["pixels"][:, :width].astype(np.float32) / 255.0
    batch = to_batch([crop, crop[:, : width // 2]], chains.MEAN, chains.STD)
    with torch.no_grad():
        expected = net(torch.from_numpy(batch)).numpy()
    model = OnnxModel(smoke_run / "digit_chains.onnx", EngineOptions("cpu"), REQUIRED_METADATA)
    np.testing.assert_allclose(model.run(batch), expected, atol=1e-4, rtol=1e-4)
