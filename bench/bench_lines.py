"""Latency of the CRNN: one line and a batch of 16 through onnxruntime, and one line through
POST /lines, for each model given (e.g. fp32 and int8 side by side, same run).

    python bench/bench_lines.py [--models models/crnn.onnx models/crnn.int8.onnx] [--width 320]

Inputs are real normalised lines (held-out MNIST t10k digits) cut or padded to the width, so
the numbers match what the service sees; onnxruntime runs with the service's session options.
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from fastapi.testclient import TestClient

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.core.config import Settings  # noqa: E402
from app.core.engine import EngineOptions, OnnxModel  # noqa: E402
from app.lines.preprocess import normalize_line, to_batch  # noqa: E402
from app.lines.reader import REQUIRED_METADATA  # noqa: E402
from app.main import create_app  # noqa: E402
from training import mnist  # noqa: E402
from training.lines.compose import GlyphSources, compose_line  # noqa: E402


def digit_lines(count: int, seed: int = 3) -> list[np.ndarray]:
    """Grayscale lines of 8-14 t10k digits (dark ink)."""
    images, labels = mnist.load("t10k", ROOT / "tests/assets/mnist")
    src = GlyphSources(latin_fonts=[], mnist_images=images, mnist_labels=labels, digit_share=1)
    rng = np.random.default_rng(seed)
    return [
        compose_line("".join(str(d) for d in rng.integers(0, 10, rng.integers(8, 15))), src, rng)
        for _ in range(count)
    ]


def timed(fn, repeat: int) -> list[float]:
    fn()  # warm-up: first runs allocate
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(1000 * (time.perf_counter() - t0))
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--models", nargs="+", type=Path, default=[ROOT / "models/crnn.onnx"])
    p.add_argument("--width", type=int, default=320)
    p.add_argument("--repeat", type=int, default=200)
    p.add_argument(
        "--configs",
        nargs="+",
        default=["1", "2", "2s"],
        help="onnxruntime intra-op threads per configuration; a trailing s: threads spin-wait",
    )
    args = p.parse_args(argv)
    raw = digit_lines(16)
    print(
        f"| model | threads | one line (1 x H x {args.width}) p50 ms | batch of 16 p50 ms "
        "| lines/s (16) | POST /lines p50 ms: greedy / beam 8 + LM (default) |"
        "\n|---|---|---|---|---|---|"
    )
    for path in args.models:
        for config in args.configs:
            threads, spinning = int(config.rstrip("s")), config.endswith("s")
            single, batch, (greedy, default), h = measure(path, raw, args, threads, spinning)
            print(
                f"| {path.name} (h={h}) | {threads}{', spinning' * spinning} | {single:.2f} "
                f"| {batch:.1f} | {16000 / batch:.0f} | {greedy:.2f} / {default:.2f} |",
                flush=True,
            )


def measure(
    path: Path, raw: list[np.ndarray], args: argparse.Namespace, threads: int, spinning: bool
) -> tuple[float, float, tuple[float, float], int]:
    """p50 ms of one line, of a batch of 16 and of one POST /lines (greedy, default); the
    model's height."""
    model = OnnxModel(path, EngineOptions("cpu", threads, 1, spinning), REQUIRED_METADATA)
    h = int(model.metadata["height"])
    mean, std = float(model.metadata["mean"]), float(model.metadata["std"])
    lines = [normalize_line(img, h)[:, : args.width] for img in raw]
    lines = [np.pad(x, ((0, 0), (0, args.width - x.shape[1]))) for x in lines]
    one = to_batch(lines[:1], mean, std)
    sixteen = to_batch(lines, mean, std)
    single = statistics.median(timed(lambda: model.run(one), args.repeat))
    batch = statistics.median(timed(lambda: model.run(sixteen), args.repeat // 4))
    _, png = cv2.imencode(".png", raw[0])
    settings = Settings(lines_model=path, intra_op_threads=threads, onnx_spinning=spinning)
    with TestClient(create_app(settings)) as client:
        files = {"file": ("l.png", png.tobytes(), "image/png")}
        service = tuple(
            statistics.median(
                timed(
                    lambda q=query: client.post("/lines", params=q, files=files), args.repeat // 2
                )
            )
            for query in ({"beam": 0}, {})
        )
    return single, batch, service, h


if __name__ == "__main__":
    main()
