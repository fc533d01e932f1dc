"""Builds the character n-gram model that /lines fuses into beam search.

    python -m training.lines.lm --out models/

Chinese: jieba's bundled frequency dictionary (349,046 words), restricted to the CRNN's
level-1 characters; words are written without spaces, so a word's end leads into any word's
start. Latin: wordfreq's English word list (321,180 words with frequencies from Wikipedia,
subtitles, news, books and the web), letters a-z only. Both are fetched once with pip and
verified by sha256. Counts, not probabilities, are stored for pairs, so the service chooses
the smoothing; see app/lines/lm.py for how they are used.
"""

import argparse
import gzip
import hashlib
import itertools
import json
import string
import sys
import time
from collections import Counter
from datetime import date
from pathlib import Path

import numpy as np

from app.lines.charset import gb2312_level1
from app.lines.lm import CharNgramLM
from training.lines.text import JIEBA, fetch_jieba_dict
from training.registry import fetch_member

WORDFREQ = "wordfreq==3.1.1"
WORDFREQ_SHA256 = "4b1c6ecffc6198be3396d5cf871c4423ca71c907c231348d352dd54d62b97473"
WORDFREQ_EN = "wordfreq/data/large_en.msgpack.gz"
# wordfreq's frequencies are shares of all words; as counts per this many words they sit on
# the scale of the smoothing constant the way the dictionary's counts do.
LATIN_SCALE = 1e9
INDEX_KEYS = ("_first", "_second", "_third")  # arrays of character indices


def fetch_wordfreq_en(cache: Path) -> Path:
    """wordfreq's English list (msgpack, gzipped), from its verified wheel."""
    return fetch_member(
        WORDFREQ,
        WORDFREQ_SHA256,
        wheel=True,
        suffix=WORDFREQ_EN,
        target=Path(cache) / "wordfreq-large_en.msgpack.gz",
    )


def english_words(path: Path) -> list[tuple[str, float]]:
    """(word, share of all words) from wordfreq's 'cB' list: bucket i holds the words whose
    frequency is 10 ** (-i / 100)."""
    import msgpack  # training-only dependency

    with gzip.open(path) as fh:
        header, *buckets = msgpack.load(fh, raw=False)
    if header.get("format") != "cB":
        raise ValueError(f"{path}: not a wordfreq cB list")
    return [(w, 10 ** (-i / 100)) for i, bucket in enumerate(buckets) for w in bucket]


def jieba_words(path: Path, min_freq: int = 1) -> list[tuple[str, float]]:
    out = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        parts = line.split(" ")
        if len(parts) >= 2 and int(parts[1]) >= min_freq:
            out.append((parts[0], float(parts[1])))
    return out


def count(
    words: list[tuple[str, float]], chars: str, *, joined: bool, power: float = 1.0
) -> dict[str, np.ndarray]:
    """Per-character arrays and pair counts (see app/lines/lm.py) of one script's words;
    `joined`: words follow each other without spaces (a word's end leads into a start)."""
    index = {c: i for i, c in enumerate(chars)}
    n = len(chars)
    prior, context, start, end = np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n)
    pairs: Counter[int] = Counter()
    triples: Counter[int] = Counter()
    for word, freq in words:
        ids = [index.get(c, -1) for c in word]
        if not ids or min(ids) < 0:
            continue  # a word with a character outside the script
        weight = freq**power
        if joined:
            # Every character is written; every one is followed (in-word or by a new word).
            for i in ids:
                prior[i] += weight
                context[i] += weight
            start[ids[0]] += weight
            end[ids[-1]] += weight
        else:
            # Only what follows a letter is ever scored: the letters after a word's first.
            for i in ids[1:]:
                prior[i] += weight
            for i in ids[:-1]:
                context[i] += weight
        for a, b in itertools.pairwise(ids):
            pairs[a * n + b] += weight
        if not joined:
            # Spaced words only: a Chinese triple would cross unseen word boundaries.
            for a, b, c in zip(ids, ids[1:], ids[2:], strict=False):
                triples[(a * n + b) * n + c] += weight
    # Characters no word uses still get a floor: the model must score every one.
    seen = prior > 0
    prior[~seen] = prior[seen].min() if seen.any() else 1.0
    keys = np.fromiter(pairs.keys(), np.int64, len(pairs))
    keys3 = np.fromiter(triples.keys(), np.int64, len(triples))
    return {
        "chars": np.array(list(chars)),
        "prior": prior / prior.sum(),
        "context": context,
        "start": start / start.sum() if start.sum() > 0 else start,
        "end": end,
        "pair_first": (keys // n).astype(np.int32),
        "pair_second": (keys % n).astype(np.int32),
        "pair_count": np.fromiter(pairs.values(), np.float64, len(pairs)),
        "triple_first": (keys3 // (n * n)).astype(np.int32),
        "triple_second": (keys3 // n % n).astype(np.int32),
        "triple_third": (keys3 % n).astype(np.int32),
        "triple_count": np.fromiter(triples.values(), np.float64, len(triples)),
    }


def combine(parts: dict[str, dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """One model from several scripts' counts (characters never shared between scripts)."""
    out: dict[str, list[np.ndarray]] = {}
    offset = 0
    for k, arrays in enumerate(parts.values()):
        size = len(arrays["chars"])
        for key, value in arrays.items():
            shifted = value + offset if key.endswith(INDEX_KEYS) else value
            out.setdefault(key, []).append(shifted)
        out.setdefault("script", []).append(np.full(size, k, np.int8))
        offset += size
    merged = {key: np.concatenate(values) for key, values in out.items()}
    merged["scripts"] = np.array(list(parts))
    return merged


def write_card(path: Path, info: dict[str, object]) -> None:
    path.with_suffix(".json").write_text(json.dumps(info, indent=2, ensure_ascii=False) + "\n")
    lines = [
        f"# Model card: {path.name}",
        "",
        "Character bigram language models (Chinese, Latin) for `POST /lines` beam search "
        "(`app/lines/lm.py`).",
        "",
        "| | |",
        "|---|---|",
        f"| File | `models/{path.name}` (numpy .npz: counts, no code) |",
        f"| sha256 | `{info['sha256']}` |",
        f"| Chinese | {info['chinese']['characters']:,} characters (GB2312 level 1), "
        f"{info['chinese']['pairs']:,} pairs seen inside words, from "
        f"{info['chinese']['words']:,} words |",
        f"| Latin | {info['latin']['characters']} letters (a-z), "
        f"{info['latin']['pairs']:,} pairs and {info['latin']['triples']:,} triples, from "
        f"{info['latin']['words']:,} words |",
        f"| Date | {info['date']} |",
        "",
        "## Data",
        f"- Chinese: word frequencies of jieba's bundled dictionary (`{JIEBA}`, MIT licence).",
        f"- Latin: wordfreq's English word frequencies (`{WORDFREQ}`; code Apache 2.0, data "
        "CC BY-SA 4.0, from Wikipedia, subtitles, news, books and web text).",
        "",
        "Real usage only: no evaluation line, and no text the training lines were made from "
        "beyond jieba's dictionary, which also supplies their Chinese words.",
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
    p.add_argument("--name", default="lm")
    p.add_argument("--sources", type=Path, default=Path("data/sources"))
    args = p.parse_args(argv)
    t0 = time.time()
    zh = jieba_words(fetch_jieba_dict(args.sources))
    en = [(w, f * LATIN_SCALE) for w, f in english_words(fetch_wordfreq_en(args.sources))]
    parts = {
        "chinese": count(zh, gb2312_level1(), joined=True),
        "latin": count(en, string.ascii_lowercase, joined=False),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"{args.name}.npz"
    np.savez_compressed(path, **combine(parts), version=np.array(date.today().isoformat()))
    CharNgramLM(path)  # it loads as the service will load it
    info = {
        "name": args.name,
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        **{
            script: {
                "characters": len(arrays["chars"]),
                "pairs": int(arrays["pair_count"].size),
                "triples": int(arrays["triple_count"].size),
                "words": len(words),
            }
            for (script, arrays), words in zip(parts.items(), (zh, en), strict=True)
        },
        "date": date.today().isoformat(),
        "command": " ".join(
            ["python -m training.lines.lm", *(sys.argv[1:] if argv is None else argv)]
        ),
    }
    write_card(path, info)
    print(f"{path}: {time.time() - t0:.1f} s")
    return path


if __name__ == "__main__":
    main()
