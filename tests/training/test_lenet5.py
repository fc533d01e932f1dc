"""Training smoke run -> ONNX export -> onnxruntime load, and PyTorch/onnxruntime parity."""

from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from app.core.engine import EngineOptions, OnnxModel
from app.digits.reader import REQUIRED_METADATA, DigitReader
from tests.conftest import ASSETS
from training import augment, lenet5
from training.pieces import segmenter_digest
from training.teacher import load_teacher


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory) -> Path:
    """Train a few hundred real digits for one epoch and export them, as a user would."""
    out = tmp_path_factory.mktemp("lenet5")
    argv = [
        "--epochs",
        "1",
        "--limit",
        "600",
        "--batch-size",
        "64",
        "--quiet",
        "--mnist-dir",
        str(ASSETS / "mnist"),
        "--train-split",
        "t10k",
        "--out",
        str(out),
        "--checkpoint",
        str(out / "last.pt"),
        "--pieces",
        "3",
        "--data",
        str(out),
        "--thin-share",
        "0.5",
        "--blur-share",
        "0.3",
    ]
    lenet5.main(argv)
    return out


def test_training_writes_model_card_plots_and_checkpoint(smoke_run: Path) -> None:
    for name in (
        "lenet5.onnx",
        "lenet5.md",
        "lenet5.json",
        "lenet5_curve.png",
        "lenet5_confusion.png",
        "last.pt",
        f"pieces-t10k-3-1-{segmenter_digest()}.npz",  # segmenter pieces, cached
    ):
        assert (smoke_run / name).is_file(), name
    card = (smoke_run / "lenet5.md").read_text()
    assert "t10k error" in card and "python -m training.lenet5" in card
    assert "drawn again with a thin pen" in card and "t10k error, thin pen" in card
    assert "out-of-focus photo" in card


def test_blur_softens_the_share_of_digits_asked_and_keeps_their_strength(t10k) -> None:
    images, _ = t10k
    x = torch.from_numpy(lenet5.normalize_batch(images[:400] / 255.0)).unsqueeze(1)
    gen = torch.Generator().manual_seed(0)
    out = augment.blur(x, gen, 0.5)
    changed = (out - x).abs().amax(dim=(1, 2, 3)) > 1e-6
    assert 0.35 < changed.float().mean() < 0.65
    soft = out[changed]
    assert torch.allclose(soft.amax(dim=(1, 2, 3)), torch.ones(len(soft)))  # full strength
    # Softened: more pixels between ink and paper; the faint skirt cut to paper.
    mid = ((soft > 0.2) & (soft < 0.8)).float().mean()
    assert mid > ((x[changed] > 0.2) & (x[changed] < 0.8)).float().mean()
    assert not ((soft > 0) & (soft < augment.BLUR_FLOOR)).any()
    assert torch.equal(out[~changed], x[~changed])
    assert torch.equal(augment.blur(x, gen, 0.0), x)


def test_fine_tuning_from_an_export_starts_from_the_exported_function(
    smoke_run: Path, t10k
) -> None:
    """The export folds batch-norm into the convolutions; loaded back, the net computes what
    the export does, in evaluation and (on the statistics' batch) in training mode alike."""
    images, _ = t10k
    digits = torch.from_numpy(lenet5.normalize_batch(images[:256].astype(np.float32) / 255))
    digits = digits.unsqueeze(1)
    net = lenet5.LeNet5()
    lenet5.init_from_onnx(net, smoke_run / "lenet5.onnx", digits)
    model = OnnxModel(smoke_run / "lenet5.onnx", EngineOptions("cpu"), REQUIRED_METADATA)
    batch = (digits - lenet5.MEAN) / lenet5.STD
    expected = model.run(batch.numpy())
    net.eval()
    with torch.no_grad():
        np.testing.assert_allclose(net(batch).numpy(), expected, atol=1e-4, rtol=1e-4)
        net.train()
        for layer in net.classifier:
            if isinstance(layer, torch.nn.Dropout):
                layer.p = 0.0
        np.testing.assert_allclose(net(batch).numpy(), expected, atol=1e-3, rtol=1e-3)


def test_export_passes_checker_with_dynamic_batch_and_metadata(smoke_run: Path) -> None:
    model = onnx.load(str(smoke_run / "lenet5.onnx"))
    onnx.checker.check_model(model)
    assert model.opset_import[0].version >= 17
    dim0 = model.graph.input[0].type.tensor_type.shape.dim[0]
    assert dim0.dim_param  # symbolic, i.e. dynamic batch
    meta = {p.key for p in model.metadata_props}
    assert set(REQUIRED_METADATA) <= meta


def test_onnx_matches_pytorch_on_real_digits(smoke_run: Path, t10k) -> None:
    state = torch.load(smoke_run / "last.pt", weights_only=False)
    net = lenet5.LeNet5()
    net.load_state_dict(state["model"])
    net.eval()
    images, _ = t10k
    digits = lenet5.normalize_batch(images[:64].astype(np.float32) / 255)
    batch = (digits[:, None] - lenet5.MEAN) / lenet5.STD
    with torch.no_grad():
        expected = net(torch.from_numpy(batch)).numpy()
    model = OnnxModel(smoke_run / "lenet5.onnx", EngineOptions("cpu"), REQUIRED_METADATA)
    got = model.run(batch.astype(np.float32))
    np.testing.assert_allclose(got, expected, atol=1e-4, rtol=1e-4)
    reader = DigitReader(model)
    assert reader.labels == [str(d) for d in range(10)]


def test_classic_variant_has_about_61k_parameters_and_modern_is_within_2x() -> None:
    classic = sum(p.numel() for p in lenet5.LeNet5("classic").parameters())
    modern = sum(p.numel() for p in lenet5.LeNet5("modern").parameters())
    assert 60_000 < classic < 63_000
    assert modern <= 2 * classic


def tiny_run(out: Path, epochs: int = 1) -> list[str]:
    """Arguments of a one-batch-per-epoch run on 200 committed t10k digits."""
    return [
        *("--epochs", str(epochs), "--limit", "200", "--batch-size", "50", "--quiet", "--dry-run"),
        *("--mnist-dir", str(ASSETS / "mnist"), "--train-split", "t10k", "--out", str(out)),
    ]


def test_interrupted_training_resumes_from_checkpoint(tmp_path: Path, monkeypatch) -> None:
    argv = [*tiny_run(tmp_path, epochs=2), "--checkpoint", str(tmp_path / "ck.pt")]
    real_evaluate, calls = lenet5.evaluate, []

    def interrupt_in_epoch_2(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_evaluate(*args, **kwargs)

    monkeypatch.setattr(lenet5, "evaluate", interrupt_in_epoch_2)
    with pytest.raises(KeyboardInterrupt):
        lenet5.main(argv)
    assert torch.load(tmp_path / "ck.pt", weights_only=False)["epoch"] == 1
    monkeypatch.setattr(lenet5, "evaluate", real_evaluate)
    lenet5.main([*argv, "--resume"])
    history = torch.load(tmp_path / "ck.pt", weights_only=False)["history"]
    assert [h["epoch"] for h in history] == [1, 2]


def test_resuming_with_another_run_length_is_refused_with_the_command_to_use(
    tmp_path: Path,
) -> None:
    ck = tmp_path / "ck.pt"
    lenet5.main([*tiny_run(tmp_path, epochs=2), "--checkpoint", str(ck)])
    before = torch.load(ck, weights_only=False)
    with pytest.raises(SystemExit, match=r"planned for 2 steps, this run for 3.*--epochs"):
        lenet5.main([*tiny_run(tmp_path, epochs=3), "--checkpoint", str(ck), "--resume"])
    assert torch.load(ck, weights_only=False)["epoch"] == before["epoch"] == 2  # untouched
    lenet5.main([*tiny_run(tmp_path, epochs=2), "--checkpoint", str(ck), "--resume"])


def test_distillation_loss_is_zero_when_student_matches_teacher_and_grows_apart() -> None:
    logits = torch.tensor([[4.0, 1.0, -2.0], [0.0, 3.0, 1.0]])
    same = lenet5.distillation_loss(logits, logits.clone(), temp=4.0)
    apart = lenet5.distillation_loss(logits, logits.flip(1), temp=4.0)
    assert float(same) == pytest.approx(0.0, abs=1e-6)
    assert float(apart) > 0.1


def test_teacher_run_checkpoints_and_teaches_a_student(tmp_path: Path) -> None:
    common = tiny_run(tmp_path)
    teacher_ck = tmp_path / "teacher.pt"
    lenet5.main([*common, "--arch", "teacher", "--checkpoint", str(teacher_ck)])
    assert teacher_ck.is_file() and not (tmp_path / "lenet5.onnx").exists()  # never exported
    teacher = load_teacher(teacher_ck, "cpu")
    assert sum(p.numel() for p in teacher.parameters()) > 5 * sum(
        p.numel() for p in lenet5.LeNet5("modern", 2).parameters()
    )
    assert not any(p.requires_grad for p in teacher.parameters())
    lenet5.main(
        [
            *common,
            "--width",
            "2",
            "--teacher",
            str(teacher_ck),
            "--checkpoint",
            str(tmp_path / "s.pt"),
        ]
    )
    assert (tmp_path / "lenet5.onnx").is_file()
    assert "Distilled" in (tmp_path / "lenet5.md").read_text()
