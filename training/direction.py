"""Train the line direction classifier: is a normalised line upright or upside down?

    python -m training.direction --lines 120000 --seed 8 --fonts extended --faults 0.3 \
        --ruled 0.25 --epochs 3 --out models/

A small fully convolutional net reads each 8-column frame of a line as upright or upside
down; a line's verdict is the mean of its frames' logits (`app.lines.direction` decodes the
same way). It learns from the CRNN's own rendered training lines (the same cache), each shown
as it is or turned half a turn, so it sees every script, pen and photo fault the CRNN saw.
Held-out: the CRNN's four held-out sets (reserved fonts, MNIST t10k), each line both ways up.
"""

import argparse
import datetime as dt
import json
import math
import multiprocessing as mp
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from app.lines.charset import build_charset
from app.lines.direction import LABELS, line_logits
from app.lines.preprocess import frame_count, to_batch
from training.crnn import build_cache, cache_tag, held_out_sets
from training.onnx_utils import export_lines_model, sha256_file

MEAN, STD = 0.1, 0.3  # of normalised line ink, as the CRNN's; stored in the ONNX metadata
STRIDE = 8  # input columns per output frame
HEIGHT = 32


class DirectionNet(nn.Module):
    """N x 1 x 32 x W -> N x W/8 x 2 logits (upright, upside down) per frame."""

    def __init__(self, channels: int = 64) -> None:
        super().__init__()
        c1, c2, c3 = channels // 4, channels // 2, channels

        def block(cin: int, cout: int, pool: bool) -> list[nn.Module]:
            layers: list[nn.Module] = [
                nn.Conv2d(cin, cout, 3, padding=1, bias=False),
                nn.BatchNorm2d(cout),
                nn.ReLU(inplace=True),
            ]
            return [*layers, nn.MaxPool2d(2, 2)] if pool else layers

        self.features = nn.Sequential(
            *block(1, c1, True),  # 16 x W/2
            *block(c1, c2, True),  # 8 x W/4
            *block(c2, c3, True),  # 4 x W/8
            *block(c3, c3, False),
        )
        # Whole height, three frames across: where the ink sits in the line's height (an
        # ascender's or a descender's room) is what tells which way up it is.
        self.head = nn.Conv2d(c3, len(LABELS), (HEIGHT // 8, 3), padding=(0, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x)).squeeze(2).permute(0, 2, 1)  # N x 2 x 1 x T -> N x T x 2


def as_batch(lines: list[np.ndarray], flips: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """Lines, those where `flips` turned half a turn -> input batch and N x T frame mask."""
    shown = [line[::-1, ::-1] if f else line for line, f in zip(lines, flips, strict=True)]
    x = torch.from_numpy(to_batch(shown, MEAN, STD, STRIDE))
    frames = x.shape[3] // STRIDE
    counts = torch.tensor([frame_count(line.shape[1], STRIDE) for line in lines])
    return x, (torch.arange(frames)[None, :] < counts[:, None]).float()


def pooled(logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """N x T x 2 frame logits -> N x 2: each line's mean over its own frames."""
    return (logits * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)


def train(
    model: DirectionNet,
    lines: list[np.ndarray],
    opt: torch.optim.Optimizer,
    args: argparse.Namespace,
    rng: np.random.Generator,
    epoch: int,
) -> float:
    """One epoch over every line, each shown either way up at random; batches of similar
    widths; the learning rate follows a cosine from --lr to 0 over all epochs."""
    model.train()
    order = np.argsort([line.shape[1] for line in lines], kind="stable")
    batches = [order[i : i + args.batch_size] for i in range(0, len(order), args.batch_size)]
    rng.shuffle(batches)
    total = 0.0
    for n, idx in enumerate(tqdm(batches, desc="train", leave=False, disable=args.quiet)):
        done = (epoch - 1 + n / len(batches)) / args.epochs
        for group in opt.param_groups:
            group["lr"] = args.lr * 0.5 * (1 + math.cos(math.pi * done))
        flips = rng.random(len(idx)) < 0.5
        x, mask = as_batch([lines[i] for i in idx], flips)
        loss = F.cross_entropy(
            pooled(model(x.to(args.device)), mask.to(args.device)),
            torch.from_numpy(flips.astype(np.int64)).to(args.device),
        )
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        total += float(loss.detach())
        if args.dry_run and n >= 1:
            break
    return total / len(batches)


@torch.no_grad()
def evaluate(model: DirectionNet, lines: list[np.ndarray], device: str) -> dict[str, float]:
    """Error rate on every line upright and on every line upside down, decoded as the service
    decodes (`app.lines.direction.line_logits`)."""
    model.eval()
    wrong = {"upright": 0, "upside_down": 0}
    for flip, name in ((False, "upright"), (True, "upside_down")):
        for start in range(0, len(lines), 64):
            chunk = lines[start : start + 64]
            x, _ = as_batch(chunk, np.full(len(chunk), flip))
            logits = model(x.to(device)).cpu().numpy()
            for k, line in enumerate(chunk):
                odds = line_logits(logits[k], frame_count(line.shape[1], STRIDE))
                wrong[name] += int((odds > 0) != flip)
    return {k: v / max(1, len(lines)) for k, v in wrong.items()}


def export_onnx(model: DirectionNet, path: Path, extra: dict[str, object]) -> None:
    """ONNX with dynamic batch and width; labels, height, normalisation in the metadata."""
    metadata = {"name": "line_direction", "labels": list(LABELS), "height": HEIGHT}
    export_lines_model(
        model, path, HEIGHT, metadata | {"mean": MEAN, "std": STD, "stride": STRIDE, **extra}
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--lines", type=int, default=120_000, help="training lines (CRNN cache)")
    p.add_argument("--seed", type=int, default=8, help="the CRNN cache's seed; also this run's")
    p.add_argument("--fonts", choices=["base", "extended"], default="extended")
    p.add_argument("--faults", type=float, default=0.3)
    p.add_argument("--ruled", type=float, default=0.25)
    p.add_argument("--eval-lines", type=int, default=300, help="lines per held-out set")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--channels", type=int, default=64)
    p.add_argument("--workers", type=int, default=mp.cpu_count())
    p.add_argument("--cache", type=Path, default=Path("data/lines"))
    p.add_argument("--sources", type=Path, default=Path("data/sources"))
    p.add_argument("--checkpoint", type=Path, default=Path("runs/direction/last.pt"))
    p.add_argument("--resume", action="store_true")
    p.add_argument("--out", type=Path, default=Path("models"))
    p.add_argument("--dry-run", action="store_true", help="two batches per epoch")
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    return p.parse_args(argv)


def main(
    argv: list[str] | None = None, contexts: dict[str, dict] | None = None
) -> dict[str, dict[str, float]]:
    """Train, evaluate on every held-out set each epoch, export with a card. `contexts` as in
    `training.crnn.main` (rendered only where the cache lacks the lines)."""
    args = parse_args(argv)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    if contexts is None:
        from training.lines.sets import real_contexts

        contexts = real_contexts(args.sources, build_charset(), args.fonts == "extended")
    tag = cache_tag(args.fonts, args.faults, args.ruled)
    lines, _ = build_cache(
        args.cache / f"train-{args.lines}-{HEIGHT}-{args.seed}{tag}.npz",
        args.lines,
        args.seed,
        "train",
        HEIGHT,
        contexts["train"] | {"faults": args.faults, "ruled": args.ruled},
        args.workers,
    )
    held_out = {
        name: held
        for name, (held, _) in held_out_sets(
            args.cache, args.eval_lines, HEIGHT, contexts, args.workers
        ).items()
    }
    model = DirectionNet(args.channels).to(args.device)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    start, history, wall = 1, [], 0.0
    if args.resume and args.checkpoint.is_file():
        state = torch.load(args.checkpoint, weights_only=False)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        rng.bit_generator.state = state["rng"]
        start, history, wall = state["epoch"] + 1, state["history"], state["wall"]
    args.checkpoint.parent.mkdir(parents=True, exist_ok=True)
    for epoch in range(start, args.epochs + 1):
        t0 = time.time()
        loss = train(model, lines, opt, args, rng, epoch)
        wall += time.time() - t0
        errors = {name: evaluate(model, data, args.device) for name, data in held_out.items()}
        history.append({"epoch": epoch, "loss": loss, "error": errors})
        print(
            f"epoch {epoch}: loss {loss:.4f} error "
            + " ".join(
                f"{k} {100 * v['upright']:.2f}/{100 * v['upside_down']:.2f}%"
                for k, v in errors.items()
            ),
            flush=True,
        )
        state = {"model": model.state_dict(), "opt": opt.state_dict(), "epoch": epoch}
        state |= {"history": history, "wall": wall, "rng": rng.bit_generator.state}
        torch.save(state, args.checkpoint)
    final = history[-1]["error"] if history else {}
    path = args.out / "line_direction.onnx"
    export_onnx(model, path, {"version": dt.date.today().isoformat(), "error": final})
    card = {
        "command": "python -m training.direction "
        + " ".join(argv if argv is not None else sys.argv[1:]),
        "wall_s": wall,
        "device": args.device,
        "train_lines": args.lines,
        "eval_lines": args.eval_lines,
        "parameters": sum(p.numel() for p in model.parameters()),
        "history": history,
        "sha256": sha256_file(path),
    }
    path.with_suffix(".json").write_text(json.dumps(card, indent=2))
    write_card(path)
    return final


def write_card(model_path: Path) -> None:
    """models/line_direction.md from the .json beside the model: data, command, size,
    checksum, held-out error after each epoch and, once measured, the effect through /lines."""
    card = json.loads(model_path.with_suffix(".json").read_text())
    card["sha256"] = sha256_file(model_path)
    model_path.with_suffix(".json").write_text(json.dumps(card, indent=2))
    sets = list(card["history"][-1]["error"]) if card["history"] else []
    lines = [
        "# line_direction.onnx: is a handwritten line upright or upside down?",
        "",
        "A small fully convolutional net (4 conv layers, 16-64 maps, batch-norm, ReLU, max-pool)"
        " reads every 8-column frame of a normalised line as upright or upside down; a line's "
        "verdict is the mean of its frames' logits, a page's the mean over all its lines' "
        "frames (`app/lines/direction.py`). Input 1 x 32 x W ink strength, normalised as for "
        "the CRNN; dynamic batch and width. `/lines` heeds it where it is sure "
        "(`app/lines/orient.py`).",
        "",
        f"- parameters: {card['parameters']:,}; file: "
        f"{model_path.stat().st_size / 1e3:.0f} kB; sha256 `{card['sha256']}`",
        f"- command: `{card['command']}`",
        f"- training: the CRNN's {card['train_lines']:,} rendered lines of its last stage, each "
        f"shown as it is or turned half a turn at random, {len(card['history'])} epochs, "
        f"{card['wall_s'] / 60:.0f} min on {card['device']}",
        "",
        "## Data",
        "",
        "The CRNN's (see [crnn.md](crnn.md)): synthetic lines only, drawn from handwriting fonts,"
        " hanzi-writer stroke data and MNIST; the held-out sets use reserved fonts and MNIST t10k.",
        "",
    ]
    if card.get("notes"):
        lines += ["## Through POST /lines", "", card["notes"], ""]
    lines += [
        f"## Held-out error after each epoch ({card['eval_lines']} normalised lines a set, "
        "each read upright and turned; upright / upside down)",
        "",
        "| epoch | loss | " + " | ".join(sets) + " |",
        "|---|---|" + "---|" * len(sets),
        *(
            f"| {h['epoch']} | {h['loss']:.4f} | "
            + " | ".join(
                f"{100 * e['upright']:.2f} / {100 * e['upside_down']:.2f}%"
                for e in h["error"].values()
            )
            + " |"
            for h in card["history"]
        ),
        "",
    ]
    model_path.with_suffix(".md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()
