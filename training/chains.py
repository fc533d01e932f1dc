"""Train the chain reader: a small CRNN (conv -> BiLSTM -> CTC over the ten digits) that reads
a blob of touching digits whole.

    python -m training.chains --rows 30000 --epochs 8 --seed 1 --out models/

Where three or more handwritten digits lean into each other, no set of cuts separates them
and the pair reader sees only two at a time; CTC needs no cuts at all. Training blobs are the
ones the service's own segmenter finds in rows of touching MNIST training digits
(`training/digit_sheets.py`): every blob it would cut into candidates (a lattice of more than
one piece), labelled with the digits whose ink it holds whole; blobs holding part of a digit
are left out. Evaluated on blobs of rows built from the held-out MNIST t10k digits.
"""

import argparse
import datetime as dt
import hashlib
import itertools
import json
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from app.digits.preprocess import CHAIN_HEIGHT, normalize_chain
from app.lines.ctc import greedy_decode, log_softmax
from app.lines.preprocess import frame_count, to_batch
from training import mnist
from training.crnn import CRNN, STRIDE, export_onnx
from training.digit_sheets import Row, make_row
from training.lenet5 import add_io_args, add_run_args, resume_schedule, run_info
from training.pieces import pieces_with_shares, segmenter_digest

CHARSET = ["", *"0123456789"]  # index 0: the CTC blank
MEAN, STD = 0.1, 0.3
WHOLE, NONE = 0.9, 0.1  # a digit is in a blob with this share of its ink, absent below NONE


def label_chains(row: Row) -> tuple[list[np.ndarray], list[str]]:
    """The row's blobs that the segmenter cuts into candidates, normalised for the chain
    reader, and the digits each holds whole (left out: blobs holding part of a digit)."""
    crops, texts = [], []
    for seg, piece, keep, _share in pieces_with_shares(row):
        if len(seg.cuts) <= 2 or piece is not seg.whole:
            continue
        if ((keep > NONE) & (keep < WHOLE)).any():
            continue
        crops.append(normalize_chain(piece.ink))
        texts.append("".join(row.text[k] for k in np.nonzero(keep >= WHOLE)[0]))
    return crops, texts


def build(
    images: np.ndarray, labels: np.ndarray, rows: int, seed: int, quiet: bool = False
) -> tuple[list[np.ndarray], list[str]]:
    """Chain-reader blobs of `rows` touching rows built from `images` (deterministic by seed)."""
    rng = np.random.default_rng(seed)
    crops: list[np.ndarray] = []
    texts: list[str] = []
    for _ in tqdm(range(rows), desc="chains", leave=False, disable=quiet):
        c, t = label_chains(make_row(images, labels, rng, "touching"))
        crops += c
        texts += t
    return crops, texts


def load_chains(split: str, rows: int, seed: int, args: argparse.Namespace):
    """Cached `build`: blobs side by side in one uint8 strip, their widths and texts."""
    tag = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:6] + segmenter_digest()
    path = args.data / f"chains-{split}-{rows}-{seed}-{tag}.npz"
    if not path.is_file():
        images, labels = mnist.load(split, args.mnist_dir)
        crops, texts = build(images, labels, rows, seed, args.quiet)
        path.parent.mkdir(parents=True, exist_ok=True)
        strip = np.concatenate(crops, axis=1) if crops else np.zeros((CHAIN_HEIGHT, 0))
        np.savez_compressed(
            path,
            pixels=np.round(255 * strip).astype(np.uint8),
            widths=np.array([c.shape[1] for c in crops], np.int64),
            texts=np.array(texts),
        )
    with np.load(path) as z:
        edges = np.concatenate([[0], np.cumsum(z["widths"])])
        pixels = z["pixels"].astype(np.float32) / 255.0
        crops = [pixels[:, a:b] for a, b in itertools.pairwise(edges)]
        return crops, [str(t) for t in z["texts"]]


def _batch(crops: list[np.ndarray], texts: list[str], device: str):
    x = torch.from_numpy(to_batch(crops, MEAN, STD, STRIDE)).to(device)
    targets = torch.tensor([int(c) + 1 for t in texts for c in t], dtype=torch.long)
    target_lengths = torch.tensor([len(t) for t in texts], dtype=torch.long)
    input_lengths = torch.tensor([frame_count(c.shape[1], STRIDE) for c in crops])
    return x, targets, input_lengths, target_lengths


def train(model: nn.Module, data, opt, sched, args: argparse.Namespace, epoch: int) -> float:
    """One pass over the blobs in batches of similar width; returns the mean CTC loss."""
    model.train()
    crops, texts = data
    rng = np.random.default_rng(args.seed + epoch)
    # Similar widths share a batch (little padding); the batches come in random order.
    order = np.argsort([c.shape[1] + rng.uniform(0, 8) for c in crops])
    batches = [order[i : i + args.batch_size] for i in range(0, len(order), args.batch_size)]
    total, seen = 0.0, 0
    for idx in tqdm(rng.permutation(len(batches)), desc=f"epoch {epoch}", disable=args.quiet):
        x, y, xl, yl = _batch(
            [crops[i] for i in batches[idx]], [texts[i] for i in batches[idx]], args.device
        )
        log_probs = F.log_softmax(model(x), dim=2).permute(1, 0, 2)  # T x N x C for ctc_loss
        loss = F.ctc_loss(log_probs.float().cpu(), y, xl, yl, zero_infinity=True)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        sched.step()
        total += float(loss.detach()) * len(yl)
        seen += len(yl)
        if args.dry_run:
            break
    return total / max(seen, 1)


@torch.no_grad()
def evaluate(model: nn.Module, data, device: str) -> dict[str, float]:
    """Exact-string accuracy of greedy decoding over the blobs, and per number of digits."""
    model.eval()
    crops, texts = data
    right: dict[int, list[bool]] = {}
    for i in range(0, len(crops), 256):
        part = crops[i : i + 256]
        logits = model(torch.from_numpy(to_batch(part, MEAN, STD, STRIDE)).to(device)).cpu()
        for k, crop in enumerate(part):
            frames = frame_count(crop.shape[1], STRIDE)
            lp = log_softmax(logits[k, :frames].double().numpy())
            got = "".join(CHARSET[c.index] for c in greedy_decode(lp))
            want = texts[i + k]
            right.setdefault(len(want), []).append(got == want)
    every = [ok for oks in right.values() for ok in oks]
    return {
        "exact": float(np.mean(every)) if every else 0.0,
        "blobs": len(every),
        **{f"exact_{n}": float(np.mean(oks)) for n, oks in sorted(right.items()) if n <= 4},
    }


def write_card(out: Path, stem: str, info: dict) -> None:
    ev = info["eval"]
    by_len = ", ".join(
        f"{k.split('_')[1]} digit{'s' * (k != 'exact_1')}: {100 * v:.2f}%"
        for k, v in ev.items()
        if k.startswith("exact_")
    )
    text = f"""# Model card: {stem}.onnx

A small CRNN (conv features -> 2-layer BiLSTM -> CTC over blank + '0'-'9') reading a blob of
touching handwritten digits whole, without cutting it. `/digits` reads every blob it would
cut into candidates with it as well, and keeps the chain reading where it is surer than the
best path of cut pieces; a narrower blob that LeNet-5 reads unsurely is read by it too (two
digits overlapping deeply), and for a digit standing alone that LeNet-5 reads unsurely its
likelihood of each digit is added to LeNet-5's as a second opinion.

| | |
|---|---|
| File | `models/{stem}.onnx` (ONNX opset 17, dynamic batch and width) |
| sha256 | `{info["sha256"]}` |
| Input | `input`: N x 1 x {CHAIN_HEIGHT} x W float32: the blob's ink scaled to \
{CHAIN_HEIGHT} px high with a tenth of its height as margin (`normalize_chain`), then \
(x - {MEAN}) / {STD} |
| Output | `logits`: N x W/{STRIDE} x 11 (CTC blank, '0'-'9') |
| Parameters | {info["parameters"]:,} |
| **Exact blobs, held-out t10k** | **{100 * ev["exact"]:.2f}%** of {ev["blobs"]:,} blobs \
({by_len}) |
| Epochs | {info["epochs"]} (batch {info["batch_size"]}, AdamW + one-cycle) |
| Training wall time | {info["wall_s"]:.0f} s on {info["device_name"]} |
| Seed | {info["seed"]} |
| Date | {info["date"]} |

## Data
{info["train_blobs"]:,} blobs the service's own segmenter finds (and would cut into
candidates) in {info["rows"]:,} rows of 4-8 MNIST training digits of random size and slant,
most neighbours overlapping by a pixel or two (`training/digit_sheets.py`,
`training/chains.py`); each labelled with the digits whose ink it holds whole. The figures
above come from {info["eval_rows"]:,} rows built the same way from MNIST t10k, never used in
training. MNIST: LeCun, Cortes, Burges; CC BY-SA 3.0.

## Reproduce
```
{info["command"]}
```

## Limits
Digits only; trained on synthetic touching rows of MNIST digits.
"""
    (out / f"{stem}.md").write_text(text)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--rows", type=int, default=30_000, help="touching training rows to cut")
    p.add_argument("--eval-rows", type=int, default=2000, help="touching t10k rows to cut")
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--channels", type=int, default=64, help="widest conv layer")
    p.add_argument("--hidden", type=int, default=64, help="LSTM units per direction")
    p.add_argument("--seed", type=int, default=1)
    add_io_args(p, "digit_chains", "chains")
    add_run_args(p)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> dict[str, float]:
    args = parse_args(argv)
    torch.manual_seed(args.seed)
    train_data = load_chains(args.train_split, args.rows, args.seed, args)
    eval_data = load_chains("t10k", args.eval_rows, 7, args)
    model = CRNN(len(CHARSET), CHAIN_HEIGHT, args.hidden, args.channels).to(args.device)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    per_epoch = 1 if args.dry_run else -(-len(train_data[1]) // args.batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=args.lr, total_steps=args.epochs * max(1, per_epoch), pct_start=0.15
    )
    history: list[dict[str, float]] = []
    start, wall = 1, 0.0
    if args.resume and args.checkpoint.is_file():
        state = torch.load(args.checkpoint, weights_only=False)
        model.load_state_dict(state["model"]), opt.load_state_dict(state["opt"])
        resume_schedule(sched, state, str(args.checkpoint))
        history, start, wall = state["history"], state["epoch"] + 1, state["wall"]
    for epoch in range(start, args.epochs + 1):
        t0 = time.time()
        loss = train(model, train_data, opt, sched, args, epoch)
        wall += time.time() - t0
        ev = evaluate(model, eval_data, args.device)
        history.append({"epoch": epoch, "loss": loss, **ev})
        print(f"epoch {epoch}: loss {loss:.4f}  exact {100 * ev['exact']:.2f}%  ({wall:.0f} s)")
        args.checkpoint.parent.mkdir(parents=True, exist_ok=True)
        torch.save(
            {
                "model": model.state_dict(),
                "opt": opt.state_dict(),
                "sched": sched.state_dict(),
                "history": history,
                "epoch": epoch,
                "wall": wall,
            },
            args.checkpoint,
        )
    ev = evaluate(model, eval_data, args.device)
    path = args.out / f"{args.name}.onnx"
    extra = {"name": args.name, "version": dt.date.today().isoformat(), "exact": ev["exact"]}
    export_onnx(model, path, CHARSET, CHAIN_HEIGHT, {**extra, "mean": MEAN, "std": STD})
    info = {
        "eval": ev,
        "rows": args.rows,
        "eval_rows": args.eval_rows,
        "train_blobs": len(train_data[1]),
        **run_info(model, args, wall, path, "training.chains", argv),
    }
    (args.out / f"{args.name}.json").write_text(json.dumps({**info, "history": history}, indent=2))
    write_card(args.out, args.name, info)
    print(f"exact {100 * ev['exact']:.2f}%  -> {path}")
    return ev


if __name__ == "__main__":
    main()
