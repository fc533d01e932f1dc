"""Character error rate of POST /lines on held-out lines built from reserved sources only.

    python bench/eval_lines.py --count 300 [--model models/crnn.onnx] [--beam 0]
    python bench/eval_lines.py --count 100 --page 4 [--ruled] [--margin] [--upscale 6]

Sets: digit strings of MNIST t10k glyphs; Latin words and codes, Chinese phrases and mixed
lines in the fonts kept out of training (Zeyada, Shadows Into Light, dkg-handwriting, Klee,
Seto) with t10k digits. Each line goes through the real service as a PNG; CER is the edit
distance to the true text over the true text's length, summed over the set. With `--page K`,
each image is a page of K lines of the set (the service splits it into lines; the answer's
lines, joined by spaces, are held to the true lines joined the same way).
"""

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.core.config import Settings
from app.core.engine import sha256_of
from app.lines.charset import build_charset
from app.main import create_app
from training.crnn import edit_distance, write_card
from training.lines.compose import compose_line, compose_page
from training.lines.sets import real_contexts

SETS = {"digits": "number", "latin": "latin", "chinese": "chinese", "mixed": "mixed"}


def held_out_lines(
    ctx: dict, kind: str, count: int, seed: int, ruled: bool = False
) -> list[tuple[np.ndarray, str]]:
    """`count` rendered lines (image, text) of one held-out set, deterministic by seed; with
    `ruled`, each written on ruled notebook paper."""
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < count:
        text = getattr(ctx["sampler"], kind)(rng)
        try:
            out.append((compose_line(text, ctx["sources"], rng, ruled=ruled), text))
        except ValueError:
            continue  # a character the reserved fonts cannot draw
    return out


def held_out_pages(
    ctx: dict, kind: str, count: int, seed: int, lines: int, ruled: bool, margin: bool
) -> list[tuple[np.ndarray, str]]:
    """`count` rendered pages (image, lines joined by spaces) of `lines` lines each."""
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < count:
        texts = [getattr(ctx["sampler"], kind)(rng) for _ in range(lines)]
        try:
            page = compose_page(texts, ctx["sources"], rng, ruled=ruled, margin=margin)
        except ValueError:
            continue
        out.append((page, " ".join(texts)))
    return out


def evaluate(
    client: TestClient,
    lines: list[tuple[np.ndarray, str]],
    params: dict,
    show: int = 0,
    upscale: float = 1.0,
) -> tuple[float, list[float]]:
    """(CER, per-request milliseconds) of /lines over the given lines; with `upscale`, each
    image is enlarged that many times first (a high-resolution photo of the same page)."""
    errors = chars = 0
    times = []
    for image, text in lines:
        if upscale != 1.0:
            image = cv2.resize(image, None, fx=upscale, fy=upscale, interpolation=cv2.INTER_CUBIC)
        _, buf = cv2.imencode(".png", image)
        t0 = time.perf_counter()
        r = client.post("/lines", params=params, files={"file": ("line.png", buf.tobytes())})
        times.append(1000 * (time.perf_counter() - t0))
        r.raise_for_status()
        got = r.json()["text"].replace("\n", " ")
        errors += edit_distance(got, text)
        chars += len(text)
        if got != text and show > 0:
            show -= 1
            print(f"  want {text!r} got {got!r}")
    return errors / max(1, chars), times


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--count", type=int, default=300, help="lines per set")
    p.add_argument("--seed", type=int, default=2027)
    p.add_argument("--model", type=Path, default=None)
    p.add_argument("--beam", type=int, default=None, help="beam query (default: the service's, 8)")
    p.add_argument("--single-line", action="store_true", help="skip line splitting")
    p.add_argument("--ruled", action="store_true", help="lines written on ruled notebook paper")
    p.add_argument("--page", type=int, default=0, help="lines per page (0: one line per image)")
    p.add_argument("--upscale", type=float, default=1.0, help="enlarge each image this much")
    p.add_argument("--margin", action="store_true", help="pages with a notebook's margin line")
    p.add_argument("--sets", nargs="+", default=list(SETS), choices=list(SETS))
    p.add_argument("--sources", type=Path, default=Path("data/sources"))
    p.add_argument("--show", type=int, default=0, help="print this many misreadings per set")
    p.add_argument(
        "--record", action="store_true", help="store the figures in the model's card (.json/.md)"
    )
    args = p.parse_args(argv)
    if args.record and (args.page or args.ruled or args.margin or args.upscale != 1.0):
        p.error("--record stores the single-line, plain-paper figures only")
    contexts = real_contexts(args.sources, build_charset())
    settings = Settings(**({"lines_model": args.model} if args.model else {}))
    params: dict[str, object] = {"single_line": args.single_line}
    if args.beam is not None:
        params["beam"] = args.beam
    results = {}
    with TestClient(create_app(settings)) as client:
        unit = "pages" if args.page else "lines"
        print(f"| held-out set | {unit} | characters | CER | p50 ms |\n|---|---|---|---|---|")
        for name in args.sets:
            # Each set keeps its own seed whichever sets are asked for.
            seed = args.seed + list(SETS).index(name)
            if args.page:
                lines = held_out_pages(
                    contexts[name], SETS[name], args.count, seed, args.page, args.ruled, args.margin
                )
            else:
                lines = held_out_lines(contexts[name], SETS[name], args.count, seed, args.ruled)
            cer, times = evaluate(client, lines, params, args.show, args.upscale)
            chars = sum(len(t) for _, t in lines)
            results[name] = {
                "lines": len(lines),
                "characters": chars,
                "cer": cer,
                "p50_ms": float(np.median(times)),
            }
            print(
                f"| {name} | {len(lines)} | {chars} | {100 * cer:.2f}% | {np.median(times):.1f} |",
                flush=True,
            )

    if args.record:
        model = Path(settings.lines_model)
        card = json.loads(model.with_suffix(".json").read_text())
        command = "python bench/eval_lines.py " + " ".join(argv or sys.argv[1:])
        beam = settings.lines_beam if args.beam is None else args.beam
        decoding = "greedy" if beam <= 1 else f"prefix beam search, width {beam}"
        if beam > 1 and settings.lines_lm:
            lm_sha = sha256_of(Path(settings.lines_lm))[:12]
            decoding += (
                f", with the character n-gram model {Path(settings.lines_lm).name} ({lm_sha})"
            )
        card["service"] = {
            "command": command.replace(" --record", ""),
            "decoding": decoding,
            "sets": results,
        }
        model.with_suffix(".json").write_text(json.dumps(card, indent=2, ensure_ascii=False))
        write_card(model)


if __name__ == "__main__":
    main()
