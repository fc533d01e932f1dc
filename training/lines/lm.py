"""Builds the Chinese character bigram model that /lines fuses into beam search.

    python -m training.lines.lm --out models/

Counts come from jieba's bundled frequency dictionary (349,046 words; fetched once with pip,
verified by sha256), restricted to the CRNN's Chinese characters. Each word weighs its
frequency to the power `--power`; the counts (not probabilities) are stored, so the service
chooses the smoothing. See app/lines/lm.py for how they are used.
"""

import argparse
import hashlib
import itertools
import json
import sys
import time
from collections import Counter
from datetime import date
from pathlib import Path

import numpy as np

from app.lines.charset import gb2312_level1
from app.lines.lm import CharBigramLM
from training.lines.text import JIEBA, fetch_jieba_dict


def count(dict_path: Path, chars: str, power: float, min_freq: int) -> dict[str, np.ndarray]:
    """Unigram, word-start, word-end and in-word pair counts over `chars`."""
    index = {c: i for i, c in enumerate(chars)}
    n = len(chars)
    unigram, start, end = np.zeros(n), np.zeros(n), np.zeros(n)
    pairs: Counter[int] = Counter()
    for line in Path(dict_path).read_text(encoding="utf-8").splitlines():
        parts = line.split(" ")
        if len(parts) < 2 or int(parts[1]) < min_freq:
            continue
        ids = [index.get(c, -1) for c in parts[0]]
        if not ids or min(ids) < 0:
            continue  # a word with a character outside the charset
        weight = int(parts[1]) ** power
        for i in ids:
            unigram[i] += weight
        start[ids[0]] += weight
        end[ids[-1]] += weight
        for a, b in itertools.pairwise(ids):
            pairs[a * n + b] += weight
    seen = unigram > 0
    # Characters no word uses still get a floor count: the model must score every one.
    floor = unigram[seen].min() if seen.any() else 1.0
    unigram[~seen] = floor
    keys = np.fromiter(pairs.keys(), np.int64, len(pairs))
    return {
        "chars": np.array(list(chars)),
        "unigram": unigram,
        "start": start + floor * 1e-3,
        "end": end,
        "pair_first": (keys // n).astype(np.int32),
        "pair_second": (keys % n).astype(np.int32),
        "pair_count": np.fromiter(pairs.values(), np.float64, len(pairs)).astype(np.float32),
    }


def write_card(path: Path, info: dict[str, object]) -> None:
    path.with_suffix(".json").write_text(json.dumps(info, indent=2, ensure_ascii=False) + "\n")
    lines = [
        f"# Model card: {path.name}",
        "",
        "A Chinese character bigram language model for `POST /lines` beam search "
        "(`app/lines/lm.py`).",
        "",
        "| | |",
        "|---|---|",
        f"| File | `models/{path.name}` (numpy .npz: counts, no code) |",
        f"| sha256 | `{info['sha256']}` |",
        f"| Characters | {info['characters']:,} (GB2312 level 1) |",
        f"| Character pairs seen inside words | {info['pairs']:,} |",
        f"| Words counted | {info['words']:,} of jieba's dictionary, "
        f"weighted by frequency^{info['power']} |",
        f"| Date | {info['date']} |",
        "",
        "## Data",
        f"Word frequencies of jieba's bundled dictionary (`{JIEBA}`, MIT licence): real "
        "Chinese usage. No evaluation line is used.",
        "",
        "## Reproduce",
        "```",
        str(info["command"]),
        "```",
        "",
        "## Measured",
        "See the CRNN card (`crnn.md`) and the README for CER with and without it.",
        "",
    ]
    path.with_suffix(".md").write_text("\n".join(lines))


def main(argv: list[str] | None = None) -> Path:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--out", type=Path, default=Path("models"))
    p.add_argument("--name", default="lm_zh")
    p.add_argument("--power", type=float, default=1.0, help="word weight = frequency ** power")
    p.add_argument("--min-freq", type=int, default=1)
    p.add_argument("--sources", type=Path, default=Path("data/sources"))
    args = p.parse_args(argv)
    t0 = time.time()
    dict_path = fetch_jieba_dict(args.sources)
    arrays = count(dict_path, gb2312_level1(), args.power, args.min_freq)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"{args.name}.npz"
    np.savez_compressed(path, **arrays, version=np.array(date.today().isoformat()))
    CharBigramLM(path)  # it loads as the service will load it
    words = sum(
        1
        for line in dict_path.read_text(encoding="utf-8").splitlines()
        if len(line.split(" ")) >= 2 and int(line.split(" ")[1]) >= args.min_freq
    )
    info = {
        "name": args.name,
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "characters": len(arrays["chars"]),
        "pairs": int(arrays["pair_count"].size),
        "words": words,
        "power": args.power,
        "min_freq": args.min_freq,
        "date": date.today().isoformat(),
        "command": "python -m training.lines.lm "
        + " ".join(sys.argv[1:] if argv is None else argv),
    }
    write_card(path, info)
    print(f"{path}: {info['pairs']:,} pairs, {time.time() - t0:.1f} s")
    return path


if __name__ == "__main__":
    main()
