"""Train LeNet-5 on the real MNIST, evaluate on all of t10k, export to ONNX with a model card.

python -m training.lenet5 --epochs 30 --seed 1 --out models/
"""

import argparse
import datetime as dt
import json
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from app.digits.preprocess import INPUT_SIZE, normalize_digit
from training import mnist, outliers, thin
from training.augment import blur, distort, vary_strokes
from training.onnx_utils import add_metadata, sha256_file
from training.pieces import load_or_build, segmenter_digest
from training.teacher import DigitTeacher, load_teacher

LABELS = [str(d) for d in range(10)]
# Mean and std of the normalised 32 x 32 training digits; the app reads them from metadata.
MEAN, STD = 0.1000, 0.2752
THIN_TEST_SEED = 10_000


class LeNet5(nn.Module):
    """LeCun et al. 1998 topology: C1 6@5x5, S2, C3 16@5x5, S4, C5 120, F6 84, 10 outputs.

    classic: tanh and average-pool subsampling as in the paper; modern: ReLU, max-pool,
    batch-norm and dropout on the same layers. `width` multiplies the C1 and C3 feature maps
    (width 2: 12 and 32 maps, ~117k parameters, within twice the classic's ~62k).
    """

    def __init__(
        self,
        variant: str = "modern",
        width: int = 1,
        outputs: int = 10,
        input_size: tuple[int, int] = (32, 32),
    ) -> None:
        super().__init__()
        c1, c3 = 6 * width, 16 * width
        # C5 spans all of S4, as in the paper: 5 x 5 for a 32 x 32 input, 5 x 9 for 32 x 48.
        s4 = ((input_size[0] - 4) // 2 - 4) // 2, ((input_size[1] - 4) // 2 - 4) // 2
        modern = variant == "modern"
        act: type[nn.Module] = nn.ReLU if modern else nn.Tanh
        pool: type[nn.Module] = nn.MaxPool2d if modern else nn.AvgPool2d

        def norm(c: int) -> nn.Module:
            return nn.BatchNorm2d(c) if modern else nn.Identity()

        # fmt: off
        self.features = nn.Sequential(
            nn.Conv2d(1, c1, 5), norm(c1), act(), pool(2),  # 32 -> 28 -> 14
            nn.Conv2d(c1, c3, 5), norm(c3), act(), pool(2),  # 14 -> 10 -> 5
            nn.Conv2d(c3, 120, s4), norm(120), act(),  # 5 -> 1
        )
        # fmt: on
        self.classifier = nn.Sequential(
            nn.Flatten(),  # N x 120 x 1 x 1 -> N x 120
            nn.Dropout(0.25 if modern else 0.0),
            nn.Linear(120, 84),
            act(),
            nn.Dropout(0.1 if modern else 0.0),
            nn.Linear(84, outputs),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """N x 1 x 32 x 32 normalised -> N x 10 logits (softmax is applied by the service)."""
        return self.classifier(self.features(x))


def normalize_batch(images: np.ndarray) -> np.ndarray:
    """N x H x W in [0, 1] -> N x 32 x 32 through the service's own normalize_digit."""
    return np.stack([normalize_digit(img) for img in images]).astype(np.float32)


def add_outliers(
    digits: np.ndarray, pool: torch.Tensor, rng: np.random.Generator, share: float
) -> tuple[np.ndarray, int]:
    """Give 15% of the digits a neighbour's sliver (label kept) and append share * N
    non-digits (halves, touching pairs), all normalised as the service would."""
    n = digits.shape[0]
    others = pool[rng.integers(0, pool.shape[0], 2 * n), 0].numpy()
    digits = digits.copy()
    for i in np.nonzero(rng.random(n) < 0.15)[0]:
        digits[i] = normalize_digit(outliers.with_sliver(digits[i], others[i], rng))
    extra = []
    for j in range(int(share * n)):
        a, b = others[n + j], others[n + j + 1]
        piece = (
            outliers.half_digit(a, rng) if rng.random() < 0.5 else outliers.touching_pair(a, b, rng)
        )
        extra.append(normalize_digit(piece))
    if not extra:
        return digits, 0
    return np.concatenate([digits, np.stack(extra)]), len(extra)


def sample(
    pieces: tuple[torch.Tensor, torch.Tensor], rng: np.random.Generator, k: float, digit: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """k random segmenter pieces that are digits (digit=1) or non-digits (digit=0)."""
    x, y = pieces
    pool = np.nonzero((y.numpy() >= 0) == bool(digit))[0]
    pick = (
        torch.from_numpy(rng.choice(pool, int(k)))
        if len(pool) and k >= 1
        else torch.zeros(0, dtype=torch.long)
    )
    return x[pick], y[pick]


def load_pieces(args: argparse.Namespace) -> tuple[torch.Tensor, torch.Tensor] | None:
    """Pieces the service's segmenter cuts from rows of touching training digits (cached)."""
    if args.pieces <= 0:
        return None
    images, labels = mnist.load(args.train_split, args.mnist_dir)
    if args.limit:
        images, labels = images[: args.limit], labels[: args.limit]
    tag = f"{args.train_split}-{args.pieces}-{args.seed}-{segmenter_digest()}"
    cache = args.data / f"pieces-{tag}.npz"
    x, y = load_or_build(cache, images, labels, args.pieces, args.seed, args.quiet)
    return torch.from_numpy(x.astype(np.float32) / 255.0).unsqueeze(1), torch.from_numpy(y)


def load_split(
    split: str, mnist_dir: Path | None, limit: int | None
) -> tuple[torch.Tensor, torch.Tensor]:
    images, labels = mnist.load(split, mnist_dir)
    if limit:
        images, labels = images[:limit], labels[:limit]
    x = torch.from_numpy(normalize_batch(images.astype(np.float32) / 255.0)).unsqueeze(1)
    return x, torch.from_numpy(labels.astype(np.int64))


def load_thin(
    split: str, mnist_dir: Path | None, limit: int | None, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Thin-pen renders (training/thin.py) of a split's digits, normalised, and their labels."""
    images, labels = mnist.load(split, mnist_dir)
    if limit:
        images, labels = images[:limit], labels[:limit]
    x = thin.thin_pen(images, np.random.default_rng(seed))
    return torch.from_numpy(x).unsqueeze(1), torch.from_numpy(labels.astype(np.int64))


@torch.no_grad()
def init_from_onnx(model: nn.Module, path: Path, sample: torch.Tensor) -> None:
    """Load an exported LeNet-5's weights. The export folded each batch-norm into its
    convolution; each norm is set to pass its input through unchanged, both on `sample`'s
    batch statistics (training) and on running ones (evaluation), so training goes on from
    the exported function."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(path)).graph
    weights = {i.name: torch.from_numpy(numpy_helper.to_array(i).copy()) for i in graph.initializer}
    convs = [n for n in graph.node if n.op_type == "Conv"]
    f = model.features  # conv, norm, act, pool, conv, norm, act, pool, conv, norm, act
    h = (sample.to(f[0].weight.device) - MEAN) / STD
    for node, at in zip(convs, (0, 4, 8), strict=True):
        conv, norm = f[at], f[at + 1]
        conv.weight.copy_(weights[node.input[1]]), conv.bias.copy_(weights[node.input[2]])
        out = conv(h)  # N x C x H x W, before the norm
        mean, var = out.mean((0, 2, 3)), out.var((0, 2, 3), unbiased=False)
        norm.running_mean.copy_(mean), norm.running_var.copy_(var)
        norm.bias.copy_(mean), norm.weight.copy_((var + norm.eps).sqrt())
        if at < 8:
            h = f[at + 3](f[at + 2](out))
    for name in ("classifier.2", "classifier.5"):
        layer = model.get_submodule(name)
        layer.weight.copy_(weights[f"{name}.weight"]), layer.bias.copy_(weights[f"{name}.bias"])


def train(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    opt: torch.optim.Optimizer,
    sched: torch.optim.lr_scheduler.LRScheduler,
    args: argparse.Namespace,
    gen: torch.Generator,
    epoch: int,
    pieces: tuple[torch.Tensor, torch.Tensor] | None = None,
    teacher: nn.Module | None = None,
    thin_x: torch.Tensor | None = None,
) -> float:
    """One epoch with fresh distortions; returns the mean loss. `pieces`: segmenter pieces
    (N x 1 x 32 x 32 in [0, 1], labels with OUTLIER for non-digits) mixed into each batch;
    `teacher`: a trained model whose softened outputs the digits also learn (distillation);
    `thin_x`: thin-pen renders of `x`, standing in for args.thin_share of each batch's digits."""
    model.train()
    order = torch.randperm(x.shape[0], generator=gen)
    rng = np.random.default_rng(int(torch.randint(0, 2**31, (1,), generator=gen)))
    total, seen = 0.0, 0
    bar = tqdm(
        range(0, x.shape[0], args.batch_size),
        desc=f"epoch {epoch}",
        leave=False,
        disable=args.quiet,
    )
    for start in bar:
        idx = order[start : start + args.batch_size]
        xb, yb = x[idx], y[idx]
        if thin_x is not None:
            swap = torch.rand(len(idx), generator=gen) < args.thin_share
            xb = torch.where(swap[:, None, None, None], thin_x[idx], xb)
        if args.outliers > 0:
            xb, n_out = add_outliers(xb[:, 0].numpy(), x, rng, args.outliers)
            xb = torch.from_numpy(xb).unsqueeze(1)
        else:
            n_out = 0
        if args.augment:
            aug = vary_strokes(distort(xb, gen), gen).clamp(0, 1)
            if args.blur_share > 0:
                aug = blur(aug, gen, args.blur_share)
            # Re-fit each distorted digit exactly as the service will (20x20 box, centre of mass).
            xb = torch.from_numpy(normalize_batch(aug[:, 0].numpy())).unsqueeze(1)
        n = len(idx)
        if pieces is not None:
            # Segmenter pieces: digits join the labelled part, non-digits the outliers.
            (px, py), (nx, _) = (
                sample(pieces, rng, len(idx) * args.piece_share / 2, d) for d in (1, 0)
            )
            xb = torch.cat([xb[:n], px, xb[n:], nx])
            yb, n, n_out = torch.cat([yb, py]), n + len(py), n_out + len(nx)
        inputs = ((xb - MEAN) / STD).to(args.device)
        logits = model(inputs)
        loss = F.cross_entropy(logits[:n], yb.to(args.device), label_smoothing=0.05)
        if teacher is not None:
            loss = (1 - args.kd_weight) * loss + args.kd_weight * distillation_loss(
                logits[:n], teacher(inputs[:n]), args.kd_temp
            )
        if n_out:
            # Outlier exposure: push non-digits towards a flat (maximum-entropy) output.
            loss = loss - 0.5 * F.log_softmax(logits[n:], dim=1).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        total += float(loss.detach()) * len(idx)
        seen += len(idx)
        bar.set_postfix(loss=f"{total / seen:.4f}")
        if args.dry_run:
            break
    return total / max(seen, 1)


def distillation_loss(logits: torch.Tensor, taught: torch.Tensor, temp: float) -> torch.Tensor:
    """KL divergence from the teacher's to the student's outputs, both softened by `temp`;
    scaled by temp^2 so its gradients keep their size as temp changes (Hinton et al. 2015)."""
    return (
        F.kl_div(
            F.log_softmax(logits / temp, dim=1),
            F.log_softmax(taught.detach() / temp, dim=1),
            reduction="batchmean",
            log_target=True,
        )
        * temp**2
    )


@torch.no_grad()
def evaluate(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, device: str
) -> tuple[float, np.ndarray]:
    """(error rate, predictions) on normalised digits."""
    model.eval()
    preds = []
    for start in range(0, x.shape[0], 1000):
        xb = ((x[start : start + 1000] - MEAN) / STD).to(device)
        preds.append(model(xb).argmax(1).cpu())
    pred = torch.cat(preds).numpy()
    return float((pred != y.numpy()).mean()), pred


def export_onnx(
    model: nn.Module,
    path: Path,
    metadata: dict[str, object],
    input_size: tuple[int, int] = (INPUT_SIZE, INPUT_SIZE),
) -> None:
    """ONNX (opset 17) with a dynamic batch axis, input 'input', output 'logits', metadata."""
    model = model.cpu().eval()
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(
        model,
        (torch.zeros(1, 1, *input_size),),
        str(path),
        dynamo=False,
        input_names=["input"],
        output_names=["logits"],
        opset_version=17,
        dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
    )
    add_metadata(path, metadata)


def save_plots(
    history: list[dict[str, float]], y: np.ndarray, pred: np.ndarray, out: Path, stem: str
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    epochs = [h["epoch"] for h in history]
    ax.plot(epochs, [h["loss"] for h in history], label="train loss")
    ax2 = ax.twinx()
    ax2.plot(
        epochs, [100 * h["test_error"] for h in history], color="tab:red", label="t10k error %"
    )
    ax.set_xlabel("epoch"), ax.set_ylabel("loss"), ax2.set_ylabel("t10k error (%)")
    fig.legend(loc="upper right"), fig.tight_layout()
    fig.savefig(out / f"{stem}_curve.png", dpi=100)
    plt.close(fig)
    cm = np.zeros((10, 10), np.int64)
    np.add.at(cm, (y, pred), 1)
    fig, ax = plt.subplots(figsize=(5, 4.5))
    ax.imshow(np.log1p(cm), cmap="Blues")
    for i in range(10):
        for j in range(10):
            ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=7)
    ax.set_xlabel("predicted"), ax.set_ylabel("true"), ax.set_title("MNIST t10k confusion")
    ax.set_xticks(range(10)), ax.set_yticks(range(10))
    fig.tight_layout()
    fig.savefig(out / f"{stem}_confusion.png", dpi=100)
    plt.close(fig)


def write_card(out: Path, stem: str, info: dict[str, object]) -> None:
    """models/<stem>.md: data, command, figures, checksum."""
    err = float(info["test_error"])  # type: ignore[arg-type]
    tuned = reproduce = pieces_note = base_wall = teacher_note = thin_note = blur_note = ""
    if info.get("init") and info.get("base_epochs") == "exported":
        tuned = f", fine-tuning the weights of `{info['init']}`"
        reproduce = f"# fine-tunes {info['init']}, an exported model (its weights loaded back)\n"
    elif info.get("init"):
        base_wall = f" (base run: {float(info['base_wall_s'] or 0):.0f} s)"
        tuned = f", fine-tuning a {info['base_epochs']}-epoch base run"
        reproduce = (
            f"# fine-tunes {info['init']}, which the base run wrote "
            "(`make train-lenet5` runs every step)\n"
        )
        if info.get("base_command"):
            reproduce = f"python -m training.lenet5 {info['base_command']}\n" + reproduce
    if info.get("teacher"):
        teacher_note = f"""

Distilled (Hinton et al. 2015) from a larger CNN trained on the same distorted digits
(`training/teacher.py`, {info["teacher_parameters"]:,} parameters, t10k error \
{100 * float(info["teacher_error"]):.2f}%; it is never shipped): {info["kd_weight"]} of
the loss on digits is the divergence from the teacher's outputs softened at temperature \
{info["kd_temp"]}.{" The base run was distilled too." if info.get("base_taught") else ""}"""
    if info.get("pieces"):
        pieces_note = f"""

Each batch also holds pieces cut by the service's own segmenter (`training/pieces.py`) from
{info["pieces"]:,} rows of touching training digits, {info["piece_share"]} per digit: pieces that
hold one whole digit keep its label, halves and pairs count as non-digits, so the classifier
learns the pieces it is really handed."""
    if info.get("thin_share"):
        thin_note = f"""

{info["thin_share"]} of the training digits are drawn again with a thin pen before they are
distorted (`training/thin.py`: the digit's centre line, found by Zhang-Suen thinning at twice
its size, redrawn 1-2 px wide and softened), as a ballpoint or fineliner writes."""
    if info.get("blur_share"):
        blur_note = f"""

{info["blur_share"]} of the training digits are blurred after their distortions, as an
out-of-focus photo blurs them (`training/augment.py: blur`, Gaussian sigma 0.6-1.5 px of the
32 x 32 digit, brought back to full strength, the faintest skirt cut as the service's ink
mask cuts it)."""
    text = f"""# Model card: {stem}.onnx

LeNet-5 ({info["variant"]} variant, feature-map width x{info["width"]}) reading one handwritten
digit, 0-9. Layers: C1 5x5 conv, S2 2x2 pool, C3 5x5 conv, S4 2x2 pool, C5 120, F6 84, 10 outputs.

| | |
|---|---|
| File | `models/{stem}.onnx` (ONNX opset 17, dynamic batch) |
| sha256 | `{info["sha256"]}` |
| Input | `input`: N x 1 x 32 x 32 float32: MNIST-style digit (20x20 box, centre of mass \
in 28x28, padded to 32x32), then (x - {MEAN}) / {STD} |
| Output | `logits`: N x 10 |
| Parameters | {info["parameters"]:,} |
| **MNIST t10k error** | **{100 * err:.2f}%** ({info["test_errors"]} of 10,000 wrong) |
| t10k error, thin pen | {100 * float(info["thin_test_error"]):.2f}% (the same 10,000 digits drawn \
again with a thin pen, `training/thin.py`) |
| Epochs | {info["epochs"]}{tuned} (batch {info["batch_size"]}, AdamW + one-cycle, label \
smoothing 0.05) |
| Training wall time | {info["wall_s"]:.0f} s on {info["device_name"]}{base_wall} |
| Seed | {info["seed"]} |
| Date | {info["date"]} |

## Data
The real MNIST (LeCun, Cortes, Burges; licensed CC BY-SA 3.0): 60,000 training digits, and all
10,000 t10k digits for the figure above (never used for training). Files verified by sha256:

{chr(10).join(f"- `{n}` {h}" for n, h in mnist.SHA256.items())}

Training digits are distorted on the fly (rotation +-12 deg, scale 0.85-1.15, slant, elastic
warp, thicker/thinner strokes, hard binarisation) and then re-normalised by the service's own
`app.digits.preprocess.normalize_digit`, so training sees digits exactly as the service
prepares them. With `--outliers` > 0 each batch also holds non-digits the segmenter can
produce (halves of digits, touching pairs) trained towards a flat output (outlier exposure),
and some digits carry a sliver of a neighbour (label kept): the confidence then tells the
service where to cut touching digits. Outlier share: {info.get("outliers", 0)}.{pieces_note}\
{thin_note}{blur_note}{teacher_note}

## Reproduce
```
{reproduce}{info["command"]}
```

![training curve]({stem}_curve.png) ![confusion]({stem}_confusion.png)

## Limits
One digit per input; the service segments images into digits first. Not trained on letters,
so a letter is read as its closest digit (look at the confidence).
"""
    (out / f"{stem}.md").write_text(text)


def run_info(
    model: nn.Module,
    args: argparse.Namespace,
    wall: float,
    path: Path,
    module: str,
    argv: list[str] | None,
) -> dict[str, object]:
    """The model card's common facts: size, schedule, time, hardware, checksum, command."""
    return {
        "parameters": sum(p.numel() for p in model.parameters()),
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "wall_s": wall,
        "seed": args.seed,
        "device_name": torch.cuda.get_device_name() if args.device.startswith("cuda") else "CPU",
        "date": dt.date.today().isoformat(),
        "sha256": sha256_file(path),
        "command": f"python -m {module} " + shlex.join(argv if argv is not None else sys.argv[1:]),
    }


def save_checkpoint(
    path: Path,
    model: nn.Module,
    opt: torch.optim.Optimizer,
    sched: torch.optim.lr_scheduler.LRScheduler,
    gen: torch.Generator,
    history: list[dict[str, float]],
    epoch: int,
    wall: float,
    argv: list[str] | None,
) -> None:
    """Everything `--resume` needs to continue after `epoch`, and the command that ran."""
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {
        "model": model.state_dict(),
        "opt": opt.state_dict(),
        "sched": sched.state_dict(),
        "gen": gen.get_state(),
        "history": history,
        "epoch": epoch,
        "wall": wall,
        "command": shlex.join(argv if argv is not None else sys.argv[1:]),
    }
    torch.save(state, path)


def resume_schedule(
    sched: torch.optim.lr_scheduler.OneCycleLR, state: dict[str, object], what: str
) -> None:
    """Restore a one-cycle schedule from a checkpoint (`what`), refusing one planned for
    another run length: its learning rate would not anneal where this run ends, or would run
    out of steps and stop the run with the scheduler's own ValueError."""
    saved = state["sched"]["total_steps"]  # type: ignore[index]
    if saved != sched.total_steps:
        raise SystemExit(
            f"{what} was planned for {saved} steps, this run for {sched.total_steps}: resume "
            f"with the --epochs and --batch-size it was started with ({state.get('command')!r}), "
            "or start afresh, fine-tuning from it with --init"
        )
    sched.load_state_dict(state["sched"])  # type: ignore[arg-type]


def add_run_args(p: argparse.ArgumentParser) -> None:
    """Options every digit-model training script shares."""
    p.add_argument(
        "--train-split",
        default="train",
        choices=["train", "t10k"],
        help="t10k only for smoke tests where the training files are absent",
    )
    p.add_argument("--dry-run", action="store_true", help="one batch per epoch, for smoke tests")
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")


def add_io_args(p: argparse.ArgumentParser, name: str, run: str) -> None:
    """Where a digit-model script reads MNIST, caches data, writes the model and checkpoints."""
    p.add_argument("--mnist-dir", type=Path, default=None, help="directory with the four idx files")
    p.add_argument("--data", type=Path, default=Path("data"), help="cache for cut data")
    p.add_argument("--out", type=Path, default=Path("models"))
    p.add_argument("--name", default=name, help="file stem of the exported model")
    p.add_argument("--checkpoint", type=Path, default=Path(f"runs/{run}/last.pt"))
    p.add_argument("--resume", action="store_true", help="continue from --checkpoint")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--variant", choices=["modern", "classic"], default="modern")
    p.add_argument("--width", type=int, default=1, help="feature-map multiplier for C1 and C3")
    p.add_argument(
        "--arch",
        choices=["lenet5", "teacher"],
        default="lenet5",
        help="teacher: the larger CNN of training/teacher.py, checkpointed only, never exported",
    )
    p.add_argument("--teacher", type=Path, help="a teacher run's checkpoint to distil from")
    p.add_argument("--kd-weight", type=float, default=0.7, help="share of the distillation loss")
    p.add_argument("--kd-temp", type=float, default=4.0, help="softmax temperature of distillation")
    p.add_argument(
        "--outliers",
        type=float,
        default=0.25,
        help="non-digit pieces per digit in a batch, trained towards a flat output (0 = off)",
    )
    p.add_argument(
        "--pieces",
        type=int,
        default=0,
        help="rows of touching training digits whose segmenter pieces join training (0 = off)",
    )
    p.add_argument(
        "--piece-share", type=float, default=0.5, help="segmenter pieces per digit in a batch"
    )
    p.add_argument("--data", type=Path, default=Path("data"), help="cache for segmenter pieces")
    p.add_argument(
        "--init",
        type=Path,
        help="start from this checkpoint's weights, or an exported .onnx's (fine-tune)",
    )
    p.add_argument(
        "--thin-share",
        type=float,
        default=0.0,
        help="share of training digits drawn again with a thin pen (training/thin.py)",
    )
    p.add_argument(
        "--blur-share",
        type=float,
        default=0.0,
        help="share of training digits blurred as an out-of-focus photo blurs them",
    )
    p.add_argument("--no-augment", dest="augment", action="store_false")
    p.add_argument("--mnist-dir", type=Path, default=None, help="directory with the four idx files")
    p.add_argument("--out", type=Path, default=Path("models"))
    p.add_argument("--name", default="lenet5", help="file stem of the exported model")
    p.add_argument("--checkpoint", type=Path, default=Path("runs/lenet5/last.pt"))
    p.add_argument("--resume", action="store_true", help="continue from --checkpoint")
    p.add_argument(
        "--limit", type=int, default=None, help="use only the first N digits of each split"
    )
    add_run_args(p)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> float:
    args = parse_args(argv)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    x_train, y_train = load_split(args.train_split, args.mnist_dir, args.limit)
    x_test, y_test = load_split("t10k", args.mnist_dir, args.limit)
    model = (DigitTeacher() if args.arch == "teacher" else LeNet5(args.variant, args.width)).to(
        args.device
    )
    teacher = load_teacher(args.teacher, args.device) if args.teacher else None
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    steps = args.epochs * (1 if args.dry_run else -(-x_train.shape[0] // args.batch_size))
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=args.lr, total_steps=steps, pct_start=0.15
    )
    history: list[dict[str, float]] = []
    start_epoch, wall = 1, 0.0
    segmenter_pieces = load_pieces(args)
    thin_x = (
        load_thin(args.train_split, args.mnist_dir, args.limit, args.seed)[0]
        if args.thin_share > 0
        else None
    )
    base: dict[str, object] = {}
    fresh = not (args.resume and args.checkpoint.is_file())
    if args.init and args.init.suffix == ".onnx" and fresh:
        init_from_onnx(model, args.init, x_train[:4096])
        base = {"init": str(args.init), "base_epochs": "exported", "base_wall_s": None}
    elif args.init and fresh:
        state = torch.load(args.init, weights_only=False)
        model.load_state_dict(state["model"])
        base = {
            "init": str(args.init),
            "base_epochs": state.get("epoch"),
            "base_wall_s": state.get("wall"),
            "base_taught": "--teacher" in str(state.get("command", "")),
            "base_command": state.get("command"),
        }
    if args.resume and args.checkpoint.is_file():
        state = torch.load(args.checkpoint, weights_only=False)
        model.load_state_dict(state["model"]), opt.load_state_dict(state["opt"])
        resume_schedule(sched, state, str(args.checkpoint))
        gen.set_state(state["gen"])
        history, start_epoch, wall = state["history"], state["epoch"] + 1, state["wall"]
    for epoch in range(start_epoch, args.epochs + 1):
        t0 = time.time()
        loss = train(
            model, x_train, y_train, opt, sched, args, gen, epoch, segmenter_pieces, teacher, thin_x
        )
        wall += time.time() - t0
        err, _ = evaluate(model, x_test, y_test, args.device)
        history.append({"epoch": epoch, "loss": loss, "test_error": err})
        print(
            f"epoch {epoch}: loss {loss:.4f}  t10k error {100 * err:.2f}%  ({wall:.0f} s)",
            flush=True,
        )
        save_checkpoint(args.checkpoint, model, opt, sched, gen, history, epoch, wall, argv)
    err, pred = evaluate(model, x_test, y_test, args.device)
    if args.arch == "teacher":
        print(f"t10k error {100 * err:.2f}%  -> {args.checkpoint}")
        return err
    taught: dict[str, object] = {}
    if teacher is not None:
        taught = {
            "teacher": str(args.teacher),
            "teacher_error": evaluate(teacher, x_test, y_test, args.device)[0],
            "teacher_parameters": sum(p.numel() for p in teacher.parameters()),
            "kd_weight": args.kd_weight,
            "kd_temp": args.kd_temp,
        }
    # Held out as t10k is: its digits drawn again with a thin pen (seeded apart from training's).
    thin_err, _ = evaluate(
        model, *load_thin("t10k", args.mnist_dir, args.limit, THIN_TEST_SEED), args.device
    )
    path = args.out / f"{args.name}.onnx"
    export_onnx(
        model,
        path,
        {
            "name": args.name,
            "version": dt.date.today().isoformat(),
            "labels": LABELS,
            "input_size": INPUT_SIZE,
            "mean": MEAN,
            "std": STD,
            "variant": args.variant,
            "width": args.width,
            "mnist_t10k_error": round(err, 6),
        },
    )
    info = {
        "variant": args.variant,
        "width": args.width,
        "outliers": args.outliers,
        "pieces": args.pieces,
        "piece_share": args.piece_share,
        **base,
        **taught,
        "test_error": err,
        "test_errors": round(err * len(y_test)),
        "thin_share": args.thin_share,
        "thin_test_error": thin_err,
        "blur_share": args.blur_share,
        **run_info(model, args, wall, path, "training.lenet5", argv),
    }
    (args.out / f"{args.name}.json").write_text(json.dumps({**info, "history": history}, indent=2))
    save_plots(history, y_test.numpy(), pred, args.out, args.name)
    write_card(args.out, args.name, info)
    print(f"t10k error {100 * err:.2f}%, thin-pen t10k {100 * thin_err:.2f}%  -> {path}")
    return err


if __name__ == "__main__":
    main()
