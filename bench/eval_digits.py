"""Exact-string accuracy of POST /digits on images built from held-out MNIST t10k digits.

    python bench/eval_digits.py --count 1000 [--model models/lenet5.onnx] [--upscale 8]

Each image goes through the real service (TestClient, lifespan running) as a PNG (a JPEG for
the 'photo' kind); the answer's text must equal the true digits exactly.
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

import cv2
from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.core.config import Settings
from app.main import create_app
from training import digit_sheets, mnist

T10K = Path(__file__).resolve().parents[1] / "tests/assets/mnist"


def evaluate(
    client: TestClient,
    kind: str,
    count: int,
    seed: int,
    show: int = 0,
    split: str = "t10k",
    upscale: float = 1.0,
) -> tuple[float, list[float], int]:
    """(fraction of generated images whose /digits text is exactly right, per-request
    milliseconds, how many were refused); with `upscale`, each image is enlarged that many
    times first (as a high-resolution photo of the same page)."""
    images, labels = mnist.load("t10k", T10K) if split == "t10k" else mnist.load("train")
    sheets = digit_sheets.make_sheets(images, labels, kind, count, seed)
    correct = refused = 0
    times = []
    for sheet in sheets:
        ext = ".jpg" if kind == "photo" else ".png"
        image = sheet.image
        if upscale != 1.0:
            image = cv2.resize(image, None, fx=upscale, fy=upscale, interpolation=cv2.INTER_CUBIC)
        _, buf = cv2.imencode(ext, image)
        t0 = time.perf_counter()
        r = client.post("/digits", files={"file": (f"sheet{ext}", buf.tobytes())})
        times.append(1000 * (time.perf_counter() - t0))
        if r.status_code >= 500:
            r.raise_for_status()
        # A refusal (4xx: e.g. more digit candidates than HWR_MAX_DIGITS) reads nothing right.
        refused += r.status_code != 200
        got = r.json()["text"] if r.status_code == 200 else f"<{r.status_code}>"
        if got == sheet.text:
            correct += 1
        elif show > 0:
            show -= 1
            print(f"  {kind}: want {sheet.text!r} got {got!r}")
    return correct / count, times, refused


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--count", type=int, default=1000)
    p.add_argument("--seed", type=int, default=2026)
    p.add_argument("--model", type=Path, default=None)
    p.add_argument("--kinds", nargs="+", default=list(digit_sheets.KINDS))
    p.add_argument("--upscale", type=float, default=1.0, help="enlarge each image this much")
    p.add_argument("--show", type=int, default=0, help="print this many failures per kind")
    p.add_argument(
        "--split",
        choices=["t10k", "train"],
        default="t10k",
        help="digits to build images from: t10k (held out, for reporting) or train (for tuning)",
    )
    args = p.parse_args(argv)
    settings = Settings(**({"digits_model": args.model} if args.model else {}))
    with TestClient(create_app(settings)) as client:
        print("| kind | images | exact-string accuracy | refused | p50 ms |\n|---|---|---|---|---|")
        for kind in args.kinds:
            t0 = time.time()
            acc, times, refused = evaluate(
                client, kind, args.count, args.seed, args.show, args.split, args.upscale
            )
            print(
                f"| {kind} | {args.count} | {100 * acc:.1f}% | {refused} |"
                f" {statistics.median(times):.1f} |"
                f"  ({time.time() - t0:.0f} s)",
                flush=True,
            )


if __name__ == "__main__":
    main()
