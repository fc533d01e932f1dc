"""Train the pair reader: LeNet-5 over 100 classes ('00'-'99') for touching digit pairs.

python -m training.pairs --rows 20000 --epochs 10 --seed 1 --out models/

Where two handwritten digits touch and overlap so that no cut separates them cleanly, the
service reads the piece whole as a pair (Ciresan et al. read touching pairs the same way).
Training pieces are cut by the service's own segmenter from rows of touching MNIST training
digits (`training/pieces.py`): pieces holding two neighbouring digits whole are labelled
10 a + b; one digit, three, and fragments are trained towards a flat output, so the pair's
confidence tells the reader when a pair reading is right. Evaluated on pieces of rows built
from the held-out MNIST t10k digits.
"""

import argparse
import datetime as dt
import json
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from app.digits.preprocess import PAIR_INPUT
from training import mnist
from training.lenet5 import (
    MEAN,
    STD,
    LeNet5,
    add_io_args,
    add_run_args,
    export_onnx,
    resume_schedule,
    run_info,
    save_checkpoint,
)
from training.pieces import OUTLIER, load_or_build, segmenter_digest

LABELS = [f"{a}{b}" for a in range(10) for b in range(10)]


def load_pairs(
    split: str, rows: int, seed: int, args: argparse.Namespace
) -> tuple[torch.Tensor, torch.Tensor]:
    """Pair-reader pieces (N x 1 x 32 x 48 uint8, ink high) and labels of `rows` touching rows."""
    images, labels = mnist.load(split, args.mnist_dir)
    if args.limit:
        images, labels = images[: args.limit], labels[: args.limit]
    tag = f"{split}-{rows}-{seed}-{segmenter_digest()}"
    x, y = load_or_build(
        args.data / f"pairs-{tag}.npz", images, labels, rows, seed, args.quiet, pairs=True
    )
    return torch.from_numpy(x).unsqueeze(1), torch.from_numpy(y)  # uint8: 4x less memory


def train(
    model: nn.Module,
    data: tuple[torch.Tensor, torch.Tensor],
    opt: torch.optim.Optimizer,
    sched: torch.optim.lr_scheduler.LRScheduler,
    args: argparse.Namespace,
    gen: torch.Generator,
    epoch: int,
) -> float:
    """One pass over the pairs, each batch with as many non-pairs; returns the mean loss."""
    model.train()
    x, y = data
    pos, neg = torch.nonzero(y >= 0)[:, 0], torch.nonzero(y == OUTLIER)[:, 0]
    order = pos[torch.randperm(len(pos), generator=gen)]
    total, seen = 0.0, 0
    steps = range(0, len(order), args.batch_size)
    for start in tqdm(steps, desc=f"epoch {epoch}", leave=False, disable=args.quiet):
        idx = order[start : start + args.batch_size]
        out_idx = neg[torch.randint(0, len(neg), (len(idx),), generator=gen)]
        # A pixel of jitter either way: pieces of the same glyphs differ by where cuts fell.
        xb = torch.roll(
            torch.cat([x[idx], x[out_idx]]).float() / 255.0,
            shifts=tuple(int(v) for v in torch.randint(-1, 2, (2,), generator=gen)),
            dims=(2, 3),
        )
        logits = model(((xb - MEAN) / STD).to(args.device))
        n = len(idx)
        loss = F.cross_entropy(logits[:n], y[idx].to(args.device), label_smoothing=0.05)
        # Outlier exposure: non-pairs towards a flat (maximum-entropy) output.
        loss = loss - 0.5 * F.log_softmax(logits[n:], dim=1).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        total += float(loss.detach()) * n
        seen += n
        if args.dry_run:
            break
    return total / max(seen, 1)


@torch.no_grad()
def evaluate(
    model: nn.Module, data: tuple[torch.Tensor, torch.Tensor], device: str
) -> dict[str, float]:
    """Pair accuracy on pairs, and how sure the reader is of non-pairs (lower is better)."""
    model.eval()
    x, y = data
    probs = torch.cat(
        [
            model(((x[i : i + 1000].float() / 255.0 - MEAN) / STD).to(device)).softmax(1).cpu()
            for i in range(0, len(x), 1000)
        ]
    )
    pos = y >= 0
    conf, pred = probs.max(1)
    return {
        "pair_error": float((pred[pos] != y[pos]).float().mean()) if pos.any() else 0.0,
        "pairs": int(pos.sum()),
        "non_pair_confidence": float(conf[~pos].median()) if (~pos).any() else 0.0,
        "non_pairs": int((~pos).sum()),
    }


def write_card(out: Path, stem: str, info: dict[str, object]) -> None:
    """models/<stem>.md: data, command, figures, checksum."""
    ev = info["eval"]
    text = f"""# Model card: {stem}.onnx

LeNet-5 (modern variant, feature-map width x{info["width"]}) reading two touching handwritten
digits at once, 100 classes '00'-'99'. Same layers as lenet5.onnx on a 32 x 48 input (C5 spans
S4's 5 x 9 maps). `/digits` reads a piece of a blob of touching digits with it where no cut
separates the two digits well; the pair's confidence competes with the two single readings.

| | |
|---|---|
| File | `models/{stem}.onnx` (ONNX opset 17, dynamic batch) |
| sha256 | `{info["sha256"]}` |
| Input | `input`: N x 1 x 32 x 48 float32: the pair fitted into 20 x 40 keeping aspect ratio, \
centre of mass at the centre of 28 x 44, padded to 32 x 48 (`normalize_pair`), then \
(x - {MEAN}) / {STD} |
| Output | `logits`: N x 100 ('00'..'99') |
| Parameters | {info["parameters"]:,} |
| **Pair error, held-out t10k pairs** | **{100 * ev["pair_error"]:.2f}%** \
({ev["pairs"]:,} pair pieces) |
| Median confidence on non-pairs | {ev["non_pair_confidence"]:.3f} ({ev["non_pairs"]:,} pieces) |
| Epochs | {info["epochs"]} (batch {info["batch_size"]} pairs + as many non-pairs, AdamW + \
one-cycle) |
| Training wall time | {info["wall_s"]:.0f} s on {info["device_name"]} |
| Seed | {info["seed"]} |
| Date | {info["date"]} |

## Data
Pieces cut by the service's own segmenter from {info["rows"]:,} rows of 4-8 touching MNIST
training digits (random size and slant, neighbours overlapping by a pixel or two;
`training/digit_sheets.py`, `training/pieces.py`): {info["train_pairs"]:,} pieces holding two
neighbouring digits whole (labelled) and {info["train_non_pairs"]:,} that do not (one digit,
three, fragments: trained towards a flat output). The figures above come from
{info["eval_rows"]:,} rows built the same way from the MNIST t10k digits, never used in
training. MNIST: LeCun, Cortes, Burges; CC BY-SA 3.0.

## Reproduce
```
{info["command"]}
```

## Limits
Reads exactly two digits; longer blobs are cut first. Trained on synthetic touching rows of
MNIST digits only.
"""
    (out / f"{stem}.md").write_text(text)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--rows", type=int, default=20_000, help="touching training rows to cut")
    p.add_argument("--eval-rows", type=int, default=1500, help="touching t10k rows to cut")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--width", type=int, default=2, help="feature-map multiplier for C1 and C3")
    p.add_argument("--seed", type=int, default=1)
    add_io_args(p, "lenet5_pairs", "pairs")
    p.add_argument("--limit", type=int, default=None, help="use only the first N digits")
    add_run_args(p)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> dict[str, float]:
    args = parse_args(argv)
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    train_data = load_pairs(args.train_split, args.rows, args.seed, args)
    eval_data = load_pairs("t10k", args.eval_rows, 7, args)
    model = LeNet5("modern", args.width, len(LABELS), PAIR_INPUT).to(args.device)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    per_epoch = -(-int((train_data[1] >= 0).sum()) // args.batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt,
        max_lr=args.lr,
        total_steps=args.epochs * (1 if args.dry_run else max(1, per_epoch)),
        pct_start=0.15,
    )
    history: list[dict[str, float]] = []
    start, wall = 1, 0.0
    if args.resume and args.checkpoint.is_file():
        state = torch.load(args.checkpoint, weights_only=False)
        model.load_state_dict(state["model"]), opt.load_state_dict(state["opt"])
        resume_schedule(sched, state, str(args.checkpoint))
        gen.set_state(state["gen"])
        history, start, wall = state["history"], state["epoch"] + 1, state["wall"]
    for epoch in range(start, args.epochs + 1):
        t0 = time.time()
        loss = train(model, train_data, opt, sched, args, gen, epoch)
        wall += time.time() - t0
        ev = evaluate(model, eval_data, args.device)
        history.append({"epoch": epoch, "loss": loss, **ev})
        print(
            f"epoch {epoch}: loss {loss:.4f}  pair error {100 * ev['pair_error']:.2f}%  "
            f"non-pair confidence {ev['non_pair_confidence']:.3f}  ({wall:.0f} s)",
            flush=True,
        )
        save_checkpoint(args.checkpoint, model, opt, sched, gen, history, epoch, wall, argv)
    ev = evaluate(model, eval_data, args.device)
    path = args.out / f"{args.name}.onnx"
    meta = {
        "name": args.name,
        "version": dt.date.today().isoformat(),
        "labels": LABELS,
        "input_size": list(PAIR_INPUT),
        "mean": MEAN,
        "std": STD,
        "pair_error": round(ev["pair_error"], 6),
    }
    export_onnx(model, path, meta, PAIR_INPUT)
    info = {
        "width": args.width,
        "eval": ev,
        "rows": args.rows,
        "eval_rows": args.eval_rows,
        "train_pairs": int((train_data[1] >= 0).sum()),
        "train_non_pairs": int((train_data[1] == OUTLIER).sum()),
        **run_info(model, args, wall, path, "training.pairs", argv),
    }
    (args.out / f"{args.name}.json").write_text(json.dumps({**info, "history": history}, indent=2))
    write_card(args.out, args.name, info)
    print(f"pair error {100 * ev['pair_error']:.2f}%  -> {path}")
    return ev


if __name__ == "__main__":
    main()
