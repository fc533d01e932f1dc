"""Throughput of POST /digits next to a bare FastAPI upload endpoint, in one run.

    python bench/bench_digits.py [--seconds 10] [--concurrency 8]

The servers run under uvicorn with one worker on this machine, one at a time, each measured
in alternation (bare, bare async, service, service full, bare, ...); the best round of each
is kept. The bare endpoint comes twice: as a plain `def` (run in FastAPI's thread pool) and
as `async def` (no thread hand-off, the leaner); /digits comes twice too: as served (the
4-digit PNG is a clean crop, read in one pass) and with HWR_CLEAN_CROPS=false (read the full
way, as any other image is). The ratios are printed against each. The client is a lean
asyncio HTTP/1.1 keep-alive loop posting the same 4-digit PNG.
"""

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from training import mnist  # noqa: E402

BARE = "bare upload endpoint (def)"
BARE_ASYNC = "bare upload endpoint (async def)"
# The same image read the full way, as an image that is no clean crop is (app/digits/clean.py).
FULL = "/digits, clean-crop pass off"


def four_digit_png() -> bytes:
    images, _ = mnist.load("t10k", ROOT / "tests/assets/mnist")
    row = np.hstack(
        [np.pad(255 - images[i], ((0, 0), (4, 4)), constant_values=255) for i in (3, 2, 1, 18)]
    )
    _ok, buf = cv2.imencode(".png", np.pad(row, 12, constant_values=255))
    return buf.tobytes()


def request_bytes(port: int, png: bytes) -> bytes:
    boundary = "benchboundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="d.png"\r\n'
            "Content-Type: image/png\r\n\r\n"
        ).encode()
        + png
        + f"\r\n--{boundary}--\r\n".encode()
    )
    head = (
        f"POST /digits HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    return head + body


async def client(port: int, req: bytes, stop: float, lat: list[float], errors: list[int]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    while time.perf_counter() < stop:
        t0 = time.perf_counter()
        writer.write(req)
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(
            next(
                v
                for k, v in (line.split(b": ", 1) for line in head.split(b"\r\n")[1:-2])
                if k.lower() == b"content-length"
            )
        )
        await reader.readexactly(length)
        lat.append(time.perf_counter() - t0)
        if not head.startswith(b"HTTP/1.1 200"):
            errors.append(1)
    writer.close()


async def drive(
    port: int, req: bytes, seconds: float, concurrency: int
) -> tuple[float, list[float], int]:
    lat: list[float] = []
    errors: list[int] = []
    start = time.perf_counter()
    stop = start + seconds
    await asyncio.gather(*(client(port, req, stop, lat, errors) for _ in range(concurrency)))
    return len(lat) / (time.perf_counter() - start), lat, len(errors)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(target: str, port: int, env: dict[str, str] | None = None) -> subprocess.Popen:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            target,
            "--port",
            str(port),
            "--workers",
            "1",
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        cwd=ROOT,
        env={**os.environ, **(env or {}), "PYTHONPATH": str(ROOT)},
    )
    for _ in range(200):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/docs", timeout=1)
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"{target} did not start")


def measure(
    target: str, png: bytes, seconds: float, concurrency: int, env: dict[str, str] | None = None
) -> tuple[float, list[float], int]:
    port = free_port()
    proc = serve(target, port, env)
    try:
        req = request_bytes(port, png)
        asyncio.run(drive(port, req, 1.0, concurrency))  # warm-up
        return asyncio.run(drive(port, req, seconds, concurrency))
    finally:
        proc.terminate()
        proc.wait()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--rounds", type=int, default=2)
    args = p.parse_args(argv)
    png = four_digit_png()
    best: dict[str, tuple[float, list[float], int]] = {}
    for _ in range(args.rounds):
        for name, target, env in (
            (BARE, "bench.bare_app:app", None),
            (BARE_ASYNC, "bench.bare_app:async_app", None),
            ("/digits", "app.main:app", None),
            (FULL, "app.main:app", {"HWR_CLEAN_CROPS": "false"}),
        ):
            rps, lat, errs = measure(target, png, args.seconds, args.concurrency, env)
            if name not in best or rps > best[name][0]:
                best[name] = (rps, lat, errs)
    print(
        f"one uvicorn worker, {args.concurrency} keep-alive clients, "
        f"{args.seconds:.0f} s per round, "
        f"best of {args.rounds} rounds, {len(png)}-byte 4-digit PNG, {os.cpu_count()} CPUs"
    )
    print("| endpoint | requests/s | p50 ms | p99 ms | non-200 |\n|---|---|---|---|---|")
    for name, (rps, lat, errs) in best.items():
        q = statistics.quantiles(lat, n=100)
        print(f"| {name} | {rps:.0f} | {1000 * q[49]:.2f} | {1000 * q[98]:.2f} | {errs} |")
    print()
    for served in ("/digits", FULL):
        for bare in (BARE, BARE_ASYNC):
            print(f"ratio {served} : {bare} = {best[served][0] / best[bare][0]:.2f}")


if __name__ == "__main__":
    main()
