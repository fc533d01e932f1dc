"""CRNN smoke run on real glyph sources -> ONNX with dynamic batch and width -> parity."""

from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from app.core.engine import EngineOptions, OnnxModel
from app.lines.charset import build_charset
from tests.conftest import ASSETS
from training import crnn, mnist
from training.lines import fonts
from training.lines.compose import GlyphSources
from training.lines.text import TextSampler


@pytest.fixture(scope="module")
def contexts(tmp_path_factory) -> dict[str, dict]:
    """Small real glyph sources: one training font, MNIST t10k digits, a mini dictionary."""
    out = tmp_path_factory.mktemp("crnn-sources")
    pin = {"fontpkg-caveat==2.0": fonts.PYPI_TRAIN["fontpkg-caveat==2.0"]}
    latin = fonts.fetch_pypi_fonts(pin, out / "fonts")
    images, labels = mnist.load("t10k", ASSETS / "mnist")
    sampler = TextSampler(ASSETS / "jieba-mini.txt", set(build_charset()))
    sources = GlyphSources(latin_fonts=latin, mnist_images=images, mnist_labels=labels)
    return {
        "train": {"sampler": sampler, "sources": sources, "kinds": ("number", "latin")},
        "digits": {"sampler": sampler, "sources": sources, "kinds": ("number",)},
    }


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory, contexts) -> Path:
    out = tmp_path_factory.mktemp("crnn")
    crnn.main(
        [
            "--lines",
            "40",
            "--eval-lines",
            "8",
            "--epochs",
            "1",
            "--batch-size",
            "8",
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


def test_crnn_smoke_run_exports_with_metadata(smoke_run: Path) -> None:
    model = onnx.load(str(smoke_run / "crnn.onnx"))
    onnx.checker.check_model(model)
    meta = {p.key: p.value for p in model.metadata_props}
    assert {"charset", "height", "mean", "std", "stride"} <= set(meta)
    dims = model.graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param and dims[3].dim_param  # dynamic batch and width
    assert (smoke_run / "cache").is_dir() and list((smoke_run / "cache").glob("*.npz"))


def test_crnn_onnx_matches_pytorch_at_two_widths(smoke_run: Path) -> None:
    charset = build_charset()
    net = crnn.CRNN(len(charset), 32)
    net.load_state_dict(torch.load(smoke_run / "last.pt", weights_only=False)["model"])
    net.eval()
    model = OnnxModel(smoke_run / "crnn.onnx", EngineOptions("cpu"), ("charset", "height"))
    rng = np.random.default_rng(0)
    for width in (64, 200):
        x = rng.normal(0, 1, (2, 1, 32, width)).astype(np.float32)
        with torch.no_grad():
            expected = net(torch.from_numpy(x)).numpy()
        np.testing.assert_allclose(model.run(x), expected, atol=1e-4, rtol=1e-3)
        assert expected.shape == (2, width // 4, len(charset))


def test_edit_distance_counts_insertions_deletions_substitutions() -> None:
    assert crnn.edit_distance("订单号", "订单号") == 0
    assert crnn.edit_distance("A123", "A1234") == 1
    assert crnn.edit_distance("kitten", "sitting") == 3


def test_crnn_smoke_run_writes_a_card_with_checksum(smoke_run: Path) -> None:
    from app.core.engine import sha256_of

    card = (smoke_run / "crnn.md").read_text()
    assert sha256_of(smoke_run / "crnn.onnx") in card
    assert "python -m training.crnn --lines 40" in card and "| 1 |" in card


def test_int8_quantisation_keeps_metadata_and_stays_close(smoke_run: Path, tmp_path: Path) -> None:
    from training.quantize import quantize

    quantize(smoke_run / "crnn.onnx", tmp_path / "crnn.int8.onnx")
    keys = ("charset", "height", "mean", "std", "stride")
    fp32 = OnnxModel(smoke_run / "crnn.onnx", EngineOptions("cpu"), keys)
    int8 = OnnxModel(tmp_path / "crnn.int8.onnx", EngineOptions("cpu"), keys)
    assert int8.metadata["charset"] == fp32.metadata["charset"]
    assert int8.metadata["quantization"] == "int8-dynamic"
    assert (tmp_path / "crnn.int8.onnx").stat().st_size < 0.6 * (
        smoke_run / "crnn.onnx"
    ).stat().st_size
    x = np.random.default_rng(1).normal(0, 1, (1, 1, 32, 96)).astype(np.float32)
    a, b = fp32.run(x), int8.run(x)
    assert a.shape == b.shape and np.abs(a - b).max() < 0.1 * np.abs(a).max()


def test_training_resumes_inside_an_epoch(contexts, tmp_path: Path, monkeypatch) -> None:
    argv = [
        *("--lines", "40", "--eval-lines", "8", "--epochs", "1", "--batch-size", "8"),
        *("--workers", "2", "--quiet", "--save-every", "2", "--cache", str(tmp_path / "cache")),
        *("--checkpoint", str(tmp_path / "last.pt"), "--out", str(tmp_path)),
    ]
    real_loss, calls = crnn.F.ctc_loss, []

    def loss_until_batch_3(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:  # after the checkpoint at batch 2
            raise KeyboardInterrupt
        return real_loss(*args, **kwargs)

    monkeypatch.setattr(crnn.F, "ctc_loss", loss_until_batch_3)
    with pytest.raises(KeyboardInterrupt):
        crnn.main(argv, contexts)
    state = torch.load(tmp_path / "last.pt", weights_only=False)
    assert (state["epoch"], state["step"]) == (0, 2)
    calls.clear()
    monkeypatch.setattr(
        crnn.F, "ctc_loss", lambda *a, **k: (calls.append(1), real_loss(*a, **k))[1]
    )
    crnn.main([*argv, "--resume"], contexts)
    assert len(calls) == 3  # 40 lines in 5 batches: the 3 not done before
    state = torch.load(tmp_path / "last.pt", weights_only=False)
    assert state["epoch"] == 1 and "step" not in state


def test_faults_change_a_share_of_the_training_lines_and_only_when_asked(contexts) -> None:
    crnn._CONTEXT.clear()
    crnn._CONTEXT.update(contexts["train"])
    plain, texts = crnn.render_shard((11, 12, 32))
    crnn._CONTEXT["faults"] = 0.0
    again, _ = crnn.render_shard((11, 12, 32))  # faults off: the rendering of earlier runs
    assert all(np.array_equal(a, b) for a, b in zip(plain, again, strict=True))
    crnn._CONTEXT["faults"] = 1.0
    faulty, faulty_texts = crnn.render_shard((11, 12, 32))
    crnn._CONTEXT.clear()
    assert len(faulty) == 12
    # The first line is drawn alike, then photographed worse.
    assert faulty_texts[0] == texts[0] and not np.array_equal(faulty[0], plain[0])


def test_ruled_training_lines_are_read_as_the_service_reads_them(contexts, monkeypatch) -> None:
    from training.lines import compose

    asked = []

    def record(*args, **kwargs):
        asked.append(kwargs.get("ruled", False))
        return real(*args, **kwargs)

    real = compose.compose_line
    monkeypatch.setattr(compose, "compose_line", record)
    crnn._CONTEXT.clear()
    crnn._CONTEXT.update(contexts["train"] | {"ruled": 1.0})
    lines, texts = crnn.render_shard((12, 10, 32))
    crnn._CONTEXT.clear()
    assert len(lines) == len(texts) == 10 and all(asked)  # each written on ruled paper
    for line in lines:
        assert line.shape[0] == 32 and line.max() > 0.5  # the writing is there
        # The rules painted out as the service does: no row inked across most of the line.
        assert (line > 0.3).mean(axis=1).max() < 0.8
