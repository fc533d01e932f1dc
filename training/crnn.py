"""Train the CRNN line recogniser (conv features -> 2-layer BiLSTM -> CTC) on synthetic lines.

    python -m training.crnn --lines 200000 --epochs 10 --out models/

Lines are rendered once into a cache (all cores, deterministic by seed) and reused; every
epoch is evaluated on the held-out sets (reserved fonts, MNIST t10k digits).
"""

import argparse
import datetime as dt
import itertools
import json
import math
import multiprocessing as mp
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from app.lines.charset import build_charset
from app.lines.ctc import greedy_decode, log_softmax
from app.lines.preprocess import frame_count, normalize_line, to_batch
from training.onnx_utils import export_lines_model

MEAN, STD = 0.1, 0.3  # of normalised line ink; stored in the ONNX metadata
STRIDE = 4  # input columns per output frame


class CRNN(nn.Module):
    """N x 1 x H x W -> N x W/4 x classes logits (H = 32 or 48)."""

    def __init__(
        self, classes: int, height: int = 32, hidden: int = 256, channels: int = 256
    ) -> None:
        super().__init__()
        c1, c2, c3 = channels // 4, channels // 2, channels

        def block(cin: int, cout: int, pool: tuple[int, int] | None) -> list[nn.Module]:
            layers: list[nn.Module] = [
                nn.Conv2d(cin, cout, 3, padding=1, bias=False),
                nn.BatchNorm2d(cout),
                nn.ReLU(inplace=True),
            ]
            return [*layers, nn.MaxPool2d(pool, pool)] if pool else layers

        self.features = nn.Sequential(
            *block(1, c1, (2, 2)),  # H/2, W/2
            *block(c1, c2, (2, 2)),  # H/4, W/4
            *block(c2, c3, None),
            *block(c3, c3, (2, 1)),  # H/8
            *block(c3, c3, None),
            *block(c3, c3, (2, 1)),  # H/16
        )
        self.collapse = nn.Conv2d(c3, c3, (height // 16, 1))  # -> 1 row
        self.rnn = nn.LSTM(
            c3, hidden, num_layers=2, bidirectional=True, batch_first=True, dropout=0.1
        )
        self.head = nn.Linear(2 * hidden, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = F.relu(self.collapse(self.features(x)))  # N x C x 1 x W/4
        seq = f.squeeze(2).permute(0, 2, 1)  # N x C x T -> N x T x C
        out, _ = self.rnn(seq)  # N x T x 2*hidden
        return self.head(out)  # N x T x classes


# What the render workers draw from; set before the pool forks so nothing big is pickled.
_CONTEXT: dict = {}


def _share(rng: np.random.Generator, name: str) -> bool:
    """Whether this line is one of option `name`'s share (no draw where the share is 0)."""
    share = _CONTEXT.get(name, 0.0)
    return bool(share) and rng.random() < share


def render_shard(job: tuple[int, int, int]) -> tuple[list[np.ndarray], list[str]]:
    """Render `count` lines for seed `seed` (one worker's share); returns normalised lines."""
    from app.lines.segment import find_lines
    from training.lines.compose import compose_line, photo_faults

    seed, count, height = job
    rng = np.random.default_rng(seed)
    sampler, sources = _CONTEXT["sampler"], _CONTEXT["sources"]
    kinds = [
        getattr(sampler, k) for k in _CONTEXT.get("kinds", ("chinese", "number", "latin", "mixed"))
    ]
    images, texts = [], []
    while len(texts) < count:
        text = kinds[rng.integers(len(kinds))](rng)
        # Shares drawn only when asked for: earlier runs' lines stay as they were made.
        ruled = _share(rng, "ruled")
        try:
            img = compose_line(text, sources, rng, ruled=ruled)
        except ValueError:
            continue  # a character no source of this split can draw
        if _share(rng, "faults"):
            img = photo_faults(img, rng)
        if ruled:
            # As the service reads it: rules found and painted out, the line cropped.
            crops = find_lines(img, single_line=True)
            if not crops:
                continue
            img = crops[0].gray
        images.append(normalize_line(img, height))
        texts.append(text)
    return images, texts


def build_cache(
    path: Path, count: int, seed: int, split: str, height: int, ctx: dict, workers: int
) -> tuple[list[np.ndarray], list[str]]:
    """Render (or load) `count` lines; shards run on every core, then are cached as .npz."""
    if path.is_file():
        data = np.load(path)
        edges = np.concatenate([[0], np.cumsum(data["widths"])])
        pixels = data["pixels"].astype(np.float32) / 255.0  # H x sum(W), lines side by side
        images = [pixels[:, a:b] for a, b in itertools.pairwise(edges)]
        return images, [str(t) for t in data["texts"]]
    per = 500
    jobs = [
        (seed * 100_003 + k, min(per, count - k * per), height)
        for k in range(math.ceil(count / per))
    ]
    images: list[np.ndarray] = []
    texts: list[str] = []
    _CONTEXT.clear()
    _CONTEXT.update(ctx)
    with mp.get_context("fork").Pool(workers) as pool:
        for imgs, txts in tqdm(
            pool.imap(render_shard, jobs), total=len(jobs), desc=f"render {split}"
        ):
            images += imgs
            texts += txts
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(
        path,
        pixels=np.round(np.concatenate(images, axis=1) * 255).astype(np.uint8),
        widths=np.array([im.shape[1] for im in images]),
        texts=np.array(texts),
    )
    return build_cache(path, count, seed, split, height, ctx, workers)  # as later runs see it


def held_out_sets(
    cache: Path, count: int, height: int, contexts: dict[str, dict], workers: int
) -> dict[str, tuple[list[np.ndarray], list[str]]]:
    """Every held-out set's `count` lines (each context but 'train'), rendered once (seed
    7919) and cached."""
    return {
        name: build_cache(
            cache / f"{name}-{count}-{height}.npz", count, 7919, name, height, ctx, workers
        )
        for name, ctx in contexts.items()
        if name != "train"
    }


def cache_tag(fonts: str, faults: float, ruled: float) -> str:
    """What tells a training cache's lines apart besides count, height and seed: the fonts,
    the shares photographed worse and written on ruled paper."""
    tag = "" if fonts == "base" else f"-{fonts}"
    tag += f"-faults{faults:g}" if faults else ""
    return tag + (f"-ruled{ruled:g}" if ruled else "")


def encode(texts: list[str], index: dict[str, int]) -> tuple[torch.Tensor, torch.Tensor]:
    targets = [index[c] for t in texts for c in t]
    return torch.tensor(targets, dtype=torch.long), torch.tensor([len(t) for t in texts])


def train(
    model: CRNN,
    data: tuple[list[np.ndarray], list[str]],
    index: dict[str, int],
    opt: torch.optim.Optimizer,
    args: argparse.Namespace,
    rng: np.random.Generator,
    epoch: int = 1,
    start: int = 0,
    save: Callable[[int, dict[str, Any]], None] | None = None,
) -> float:
    """One epoch; batches of similar widths to limit padding. The learning rate follows a
    cosine from --lr to 0 over all epochs, batch by batch (a function of the position only, so
    a resumed run continues it exactly). Every --save-every batches `save(step, rng_state)`
    keeps a mid-epoch checkpoint; `start` skips the batches a resumed epoch already did."""
    model.train()
    images, texts = data
    order = np.argsort([im.shape[1] for im in images], kind="stable")
    batches = [order[i : i + args.batch_size] for i in range(0, len(order), args.batch_size)]
    rng_state = rng.bit_generator.state  # the epoch's batch order can be dealt again from it
    rng.shuffle(batches)
    total = 0.0
    rest = batches[start:]
    bar = tqdm(
        rest, desc="train", leave=False, disable=args.quiet, initial=start, total=len(batches)
    )
    for n, idx in enumerate(bar, start):
        done = (epoch - 1 + n / len(batches)) / args.epochs
        for group in opt.param_groups:
            group["lr"] = args.lr * 0.5 * (1 + math.cos(math.pi * done))
        x = torch.from_numpy(to_batch([images[i] for i in idx], MEAN, STD, STRIDE)).to(args.device)
        targets, lengths = encode([texts[i] for i in idx], index)
        logp = model(x).log_softmax(2).permute(1, 0, 2)  # T x N x C, as CTC wants
        frames = torch.full((len(idx),), logp.shape[0], dtype=torch.long)
        loss = F.ctc_loss(logp, targets, frames, lengths, blank=0, zero_infinity=True)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        total += float(loss.detach())
        if save is not None and args.save_every and (n + 1) % args.save_every == 0:
            save(n + 1, rng_state)
        if args.dry_run and n >= 1:
            break
    return total / max(1, len(batches) - start)


def edit_distance(a: str, b: str) -> int:
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[-1]


@torch.no_grad()
def evaluate(
    model: CRNN, data: tuple[list[np.ndarray], list[str]], charset: list[str], device: str
) -> float:
    """Character error rate (edit distance / reference length) with the service's decoder."""
    model.eval()
    images, texts = data
    errors = chars = 0
    for start in range(0, len(images), 64):
        x = torch.from_numpy(to_batch(images[start : start + 64], MEAN, STD, STRIDE)).to(device)
        logits = model(x).cpu().numpy()
        for k, text in enumerate(texts[start : start + 64]):
            width = frame_count(images[start + k].shape[1], STRIDE)
            got = "".join(charset[c.index] for c in greedy_decode(log_softmax(logits[k, :width])))
            errors += edit_distance(got, text)
            chars += len(text)
    return errors / max(1, chars)


def export_onnx(
    model: CRNN, path: Path, charset: list[str], height: int, extra: dict[str, object]
) -> None:
    """ONNX with dynamic batch and width; charset, height and normalisation in the metadata."""
    metadata = {"name": "crnn", "charset": charset, "height": height, "mean": MEAN, "std": STD}
    export_lines_model(model, path, height, metadata | {"stride": STRIDE, **extra})


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--lines", type=int, default=200_000, help="training lines to render")
    p.add_argument("--eval-lines", type=int, default=300, help="lines per held-out set")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--height", type=int, default=32, choices=[32, 48])
    p.add_argument("--hidden", type=int, default=256, help="LSTM units per direction")
    p.add_argument("--channels", type=int, default=256, help="widest conv layer (128 for CPU)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument(
        "--fonts",
        choices=["base", "extended"],
        default="base",
        help="training fonts: the first set, or with the Latin hands added from stage 5",
    )
    p.add_argument(
        "--faults",
        type=float,
        default=0.0,
        help="share of training lines photographed worse: out of focus, under glare",
    )
    p.add_argument(
        "--ruled",
        type=float,
        default=0.0,
        help="share of training lines written on ruled paper, read as the service reads them",
    )
    p.add_argument("--workers", type=int, default=mp.cpu_count())
    p.add_argument("--cache", type=Path, default=Path("data/lines"))
    p.add_argument("--sources", type=Path, default=Path("data/sources"))
    p.add_argument("--checkpoint", type=Path, default=Path("runs/crnn/last.pt"))
    p.add_argument("--resume", action="store_true")
    p.add_argument(
        "--save-every", type=int, default=500, help="batches between mid-epoch checkpoints"
    )
    p.add_argument("--init", type=Path, help="start from this checkpoint's weights (fine-tune)")
    p.add_argument("--out", type=Path, default=Path("models"))
    p.add_argument("--dry-run", action="store_true", help="two batches per epoch")
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    return p.parse_args(argv)


def main(
    argv: list[str] | None = None, contexts: dict[str, dict] | None = None
) -> dict[str, float]:
    """Train, evaluate on every held-out set each epoch, export. `contexts` maps a split name
    ('train' or a held-out set) to {'sampler', 'sources'}; built from the real sources when
    None (see training.lines)."""
    args = parse_args(argv)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    charset = build_charset()
    index = {c: i for i, c in enumerate(charset) if i}
    if contexts is None:
        from training.lines.sets import real_contexts

        contexts = real_contexts(args.sources, charset, extended=args.fonts == "extended")
    tag = cache_tag(args.fonts, args.faults, args.ruled)
    train_data = build_cache(
        args.cache / f"train-{args.lines}-{args.height}-{args.seed}{tag}.npz",
        args.lines,
        args.seed,
        "train",
        args.height,
        contexts["train"] | {"faults": args.faults, "ruled": args.ruled},
        args.workers,
    )
    held_out = held_out_sets(args.cache, args.eval_lines, args.height, contexts, args.workers)
    model = CRNN(len(charset), args.height, args.hidden, args.channels).to(args.device)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    start, history, wall = 1, [], 0.0
    if args.init and not (args.resume and args.checkpoint.is_file()):
        model.load_state_dict(torch.load(args.init, weights_only=False)["model"])
    step = 0
    if args.resume and args.checkpoint.is_file():
        state = torch.load(args.checkpoint, weights_only=False)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        start, history, wall = state["epoch"] + 1, state["history"], state["wall"]
        if state.get("step"):  # stopped inside an epoch: deal its batches again, skip the done
            step = state["step"]
            rng.bit_generator.state = state["epoch_rng"]

    def save_inside(epoch: int, t0: float) -> Callable[[int, dict[str, Any]], None]:
        def save(done: int, rng_state: dict[str, Any]) -> None:
            state = {"model": model.state_dict(), "opt": opt.state_dict(), "epoch": epoch - 1}
            state |= {"history": history, "wall": wall + time.time() - t0}
            torch.save(state | {"step": done, "epoch_rng": rng_state}, args.checkpoint)

        return save

    args.checkpoint.parent.mkdir(parents=True, exist_ok=True)
    for epoch in range(start, args.epochs + 1):
        t0 = time.time()
        loss = train(model, train_data, index, opt, args, rng, epoch, step, save_inside(epoch, t0))
        step = 0
        wall += time.time() - t0
        cer = {name: evaluate(model, data, charset, args.device) for name, data in held_out.items()}
        history.append({"epoch": epoch, "loss": loss, "cer": cer})
        print(
            f"epoch {epoch}: loss {loss:.3f} CER "
            + " ".join(f"{k} {100 * v:.2f}%" for k, v in cer.items()),
            flush=True,
        )
        args.checkpoint.parent.mkdir(parents=True, exist_ok=True)
        torch.save(
            {
                "model": model.state_dict(),
                "opt": opt.state_dict(),
                "epoch": epoch,
                "history": history,
                "wall": wall,
            },
            args.checkpoint,
        )
    final = history[-1]["cer"] if history else {}
    export_onnx(
        model,
        args.out / "crnn.onnx",
        charset,
        args.height,
        {"version": dt.date.today().isoformat(), "cer": final},
    )
    card = {
        "command": "python -m training.crnn "
        + " ".join(argv if argv is not None else sys.argv[1:]),
        "wall_s": wall,
        "device": args.device,
        "train_lines": args.lines,
        "eval_lines": args.eval_lines,
        "height": args.height,
        "parameters": sum(p.numel() for p in model.parameters()),
        "init": str(args.init) if args.init else None,
        "history": history,
    }
    (args.out / "crnn.json").write_text(json.dumps(card, indent=2, ensure_ascii=False))
    write_card(args.out / "crnn.onnx")
    return final


CARD_DATA = Path(__file__).with_name("crnn_data.md")  # the card's data and licences


def write_card(model_path: Path) -> None:
    """models/crnn.md from crnn.json beside the model: data, command, size, checksum and the
    CER measured during training and, once bench/eval_lines.py has recorded it, through the
    service."""
    from app.core.engine import sha256_of

    card = json.loads(model_path.with_suffix(".json").read_text())
    digest = sha256_of(model_path)
    card["sha256"] = digest
    model_path.with_suffix(".json").write_text(json.dumps(card, indent=2, ensure_ascii=False))
    epochs = len(card["history"])
    lines = [
        "# crnn.onnx: handwritten lines (digits, Latin letters, Chinese)",
        "",
        "Conv features -> 2-layer BiLSTM -> linear over 3,870 classes (CTC blank, ASCII, "
        "Chinese punctuation, the 3,755 GB2312 level-1 characters); input 1 x "
        f"{card['height']} x W grayscale ink, dynamic batch and width.",
        "",
        f"- parameters: {card['parameters']:,}; file: "
        f"{model_path.stat().st_size / 1e6:.1f} MB; sha256 `{digest}`",
        f"- command: `{card['command']}`",
        f"- training: {card['train_lines']:,} rendered lines, {epochs} epoch{'s' * (epochs != 1)}, "
        f"{card['wall_s'] / 60:.0f} min on {card['device']}"
        + (f", starting from the weights of `{card['init']}`" if card.get("init") else ""),
        "",
        "## Data",
        "",
        CARD_DATA.read_text(),
    ]
    service = card.get("service")
    if service:
        lines += [
            "## Character error rate through POST /lines (held-out sets)",
            "",
            f"Measured with `{service['command']}`: every line rendered from held-out sources "
            "only, sent as a PNG to the running service (line finding included)"
            + (f"; decoding: {service['decoding']}." if service.get("decoding") else "."),
            "",
            "| held-out set | lines | characters | CER | p50 ms |",
            "|---|---|---|---|---|",
            *(
                f"| {name} | {r['lines']} | {r['characters']} | **{100 * r['cer']:.2f}%** "
                f"| {r['p50_ms']:.1f} |"
                for name, r in service["sets"].items()
            ),
            "",
            *([service["note"], ""] if service.get("note") else []),
        ]
    if card.get("notes"):
        lines += ["## How it was trained", "", card["notes"], ""]
    lines += [
        "## Held-out CER after each training epoch (normalised lines, greedy decoding)",
        "",
        "| epoch | loss | " + " | ".join(card["history"][-1]["cer"]) + " |",
        "|---|---|" + "---|" * len(card["history"][-1]["cer"]),
        *(
            f"| {h['epoch']} | {h['loss']:.3f} | "
            + " | ".join(f"{100 * v:.2f}%" for v in h["cer"].values())
            + " |"
            for h in card["history"]
        ),
        "",
    ]
    model_path.with_suffix(".md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()
