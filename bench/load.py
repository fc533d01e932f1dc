"""Load and soak test of the upload endpoints against a real uvicorn server on loopback.

    python bench/load.py [--duration 60] [--clients 64] [--soak 100000] [--endpoint /digits]

Starts the service itself (uvicorn, one worker, a free port on 127.0.0.1), waits for /ready
(or /health), then:

1. load: `--clients` keep-alive clients post real images (rows of 4-8 MNIST t10k digits) to
   every multipart upload endpoint in the OpenAPI schema, round robin, for `--duration` s;
   prints requests/s, p50/p99 latency, answers by status code and connection errors;
2. soak: `--soak` more requests (0 skips it), at most `--soak-seconds` long; prints the
   server's resident memory (VmRSS) at its start and end and the growth.

503 answers (the service shedding load politely) are counted apart from other 5xx errors;
clients wait as their Retry-After asks (`--no-backoff` retries at once, as a hostile client
would).
The server inherits this environment, so `HWR_MAX_CONCURRENCY=2 python bench/load.py` tests
another setting (and HWR_API_KEY, when set, is sent as X-API-Key). Every loop is bounded in
count and time; the server is killed at the end.
"""

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from training import mnist  # noqa: E402

BOUNDARY = "loadboundary"
HOST = "127.0.0.1"


# --- the server --------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def start_server(port: int) -> subprocess.Popen:
    """uvicorn with one worker: its pid is the process whose memory the soak watches."""
    cmd = [sys.executable, "-m", "uvicorn", "app.main:app", "--host", HOST, "--port", str(port)]
    cmd += ["--workers", "1", "--log-level", "warning", "--no-access-log"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True)


def get(port: int, path: str, timeout: float = 2.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://{HOST}:{port}{path}", timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def wait_ready(proc: subprocess.Popen, port: int, seconds: float = 120.0) -> str:
    """Poll /ready, or /health where there is no /ready, until 200; the path that answered."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode} before it was ready")
        try:
            for path in ("/ready", "/health"):
                status, _ = get(port, path)
                if status == 200:
                    return path
                if status != 404:
                    break  # /ready exists but says not yet
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the server was not ready within {seconds:.0f} s")


def stop_server(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def rss_mib(pid: int) -> float:
    """Resident memory of `pid` in MiB (Linux /proc, psutil elsewhere)."""
    status = Path(f"/proc/{pid}/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    import psutil  # only where there is no /proc

    return psutil.Process(pid).memory_info().rss / 2**20


def upload_endpoints(spec: dict) -> list[str]:
    """Paths of every POST operation whose body is multipart with a `file` field."""
    schemas = spec.get("components", {}).get("schemas", {})
    paths = []
    for path, ops in spec["paths"].items():
        body = ops.get("post", {}).get("requestBody", {})
        schema = body.get("content", {}).get("multipart/form-data", {}).get("schema", {})
        if "$ref" in schema:
            schema = schemas[schema["$ref"].rsplit("/", 1)[-1]]
        if "file" in schema.get("properties", {}):
            paths.append(path)
    return sorted(paths)


# --- the requests ------------------------------------------------------------------------------


def digit_lines(count: int, seed: int = 0) -> list[bytes]:
    """PNGs of one line of 4-8 real t10k digits each, dark on white, at 1-2x MNIST size."""
    images, _ = mnist.load("t10k", ROOT / "tests/assets/mnist")
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        picks = rng.choice(len(images), int(rng.integers(4, 9)), replace=False)
        row = np.hstack(
            [np.pad(255 - images[i], ((0, 0), (4, 4)), constant_values=255) for i in picks]
        )
        scale = float(rng.uniform(1.0, 2.0))
        row = cv2.resize(row, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
        _ok, buf = cv2.imencode(".png", np.pad(row, 16, constant_values=255))
        out.append(buf.tobytes())
    return out


def request_bytes(port: int, path: str, png: bytes) -> bytes:
    body = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="line.png"\r\n'
        "Content-Type: image/png\r\n\r\n"
    ).encode()
    body += png + f"\r\n--{BOUNDARY}--\r\n".encode()
    # The server inherits this environment: when it wants a key, the key is right here.
    key = os.environ.get("HWR_API_KEY")
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
        + (f"X-API-Key: {key}\r\n" if key else "")
        + f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


# --- the client: lean HTTP/1.1 keep-alive, so the client costs the 2 cores little -------------


@dataclass
class Tally:
    """What one phase saw, per endpoint."""

    latency: dict[str, list[float]] = field(default_factory=dict)
    status: Counter = field(default_factory=Counter)
    conn_errors: Counter = field(default_factory=Counter)
    sent: int = 0

    def add(self, path: str, status: int, seconds: float) -> None:
        self.latency.setdefault(path, []).append(seconds)
        self.status[status] += 1


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bool, float]:
    """(status, server asked to close, Retry-After seconds) of one response; body dropped."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {
        k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in lines[1:] if h)
    }
    if headers.get("transfer-encoding", "").lower() == "chunked":
        while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
            await reader.readexactly(size + 2)
        await reader.readuntil(b"\r\n")
    else:
        await reader.readexactly(int(headers.get("content-length", "0")))
    retry = headers.get("retry-after", "0")
    close = headers.get("connection", "").lower() == "close"
    return status, close, float(retry) if retry.isdigit() else 0.0


async def client(
    port: int,
    requests: list[tuple[str, bytes]],
    offset: int,
    stop_at: float,
    budget: list[int],
    tally: Tally,
    timeout: float,
    backoff: bool,
) -> None:
    """Posts requests in turn until `stop_at` or until the shared `budget` runs out."""
    conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
    i = offset
    while time.monotonic() < stop_at and budget[0] > 0:
        budget[0] -= 1
        path, req = requests[i % len(requests)]
        i += 1
        t0 = time.perf_counter()
        try:
            if conn is None:
                conn = await asyncio.wait_for(asyncio.open_connection(HOST, port), timeout)
            conn[1].write(req)
            status, close, retry_after = await asyncio.wait_for(read_response(conn[0]), timeout)
        except (
            OSError,
            asyncio.IncompleteReadError,
            asyncio.LimitOverrunError,
            TimeoutError,
        ) as exc:
            tally.conn_errors[type(exc).__name__] += 1
            if conn is not None:
                conn[1].close()
            conn = None
            continue
        tally.add(path, status, time.perf_counter() - t0)
        if close:
            conn[1].close()
            conn = None
        if backoff and retry_after:
            # A polite client waits as asked (capped, and never past the end of the phase).
            await asyncio.sleep(min(retry_after, 5.0, max(0.0, stop_at - time.monotonic())))
    if conn is not None:
        conn[1].close()


async def drive(
    port: int,
    requests: list[tuple[str, bytes]],
    clients: int,
    seconds: float,
    count: float,
    timeout: float,
    backoff: bool,
) -> tuple[Tally, float]:
    """Run `clients` clients for `seconds` or `count` requests, whichever ends first."""
    tally = Tally()
    budget = [int(min(count, 2**62))]
    start = time.monotonic()
    await asyncio.gather(
        *(
            client(port, requests, k * 7, start + seconds, budget, tally, timeout, backoff)
            for k in range(clients)
        )
    )
    return tally, time.monotonic() - start


def report(tally: Tally, elapsed: float) -> None:
    done = sum(tally.status.values())
    shed = tally.status.get(503, 0)
    errors5xx = sum(n for s, n in tally.status.items() if s >= 500 and s != 503)
    print(f"  {done} answers in {elapsed:.1f} s: {done / elapsed:.1f} requests/s")
    for path, lat in sorted(tally.latency.items()):
        q = statistics.quantiles(lat, n=100) if len(lat) > 1 else [lat[0]] * 99
        print(f"  {path}: {len(lat)} answers, p50 {1000 * q[49]:.1f} ms, p99 {1000 * q[98]:.1f} ms")
    print(f"  by status: {dict(sorted(tally.status.items()))}")
    print(f"  503 (load shed): {shed}   other 5xx: {errors5xx}   ", end="")
    print(f"connection errors: {sum(tally.conn_errors.values())} {dict(tally.conn_errors)}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--duration", type=float, default=60.0, help="load phase, seconds (0 skips)")
    p.add_argument("--clients", type=int, default=64, help="concurrent keep-alive clients")
    p.add_argument("--soak", type=int, default=100_000, help="soak requests (0 skips)")
    p.add_argument("--soak-seconds", type=float, default=3600.0, help="soak time limit")
    p.add_argument("--endpoint", action="append", help="endpoint to drive (default: all)")
    p.add_argument(
        "--no-backoff", action="store_true", help="ignore Retry-After: retry refusals at once"
    )
    p.add_argument("--images", type=int, default=32, help="distinct images per endpoint")
    # Above the service's own HWR_REQUEST_TIMEOUT_S (30 s), so its 504 shows first.
    p.add_argument("--timeout", type=float, default=60.0, help="per request, seconds")
    args = p.parse_args(argv)

    backoff = not args.no_backoff
    port = free_port()
    proc = start_server(port)
    try:
        ready = wait_ready(proc, port)
        endpoints = args.endpoint or upload_endpoints(json.loads(get(port, "/openapi.json")[1]))
        images = digit_lines(args.images)
        requests = [(path, request_bytes(port, path, png)) for png in images for path in endpoints]
        print(
            f"server pid {proc.pid} on {HOST}:{port}, ready by {ready}; {os.cpu_count()} CPUs; "
            f"endpoints {', '.join(endpoints)}; {len(images)} images of 4-8 t10k digits"
        )
        rss0 = rss_mib(proc.pid)
        print(f"server RSS after start: {rss0:.1f} MiB")
        failed = False
        if args.duration > 0:
            print(f"load: {args.clients} clients for {args.duration:.0f} s")
            tally, elapsed = asyncio.run(
                drive(
                    port, requests, args.clients, args.duration, float("inf"), args.timeout, backoff
                )
            )
            report(tally, elapsed)
            failed |= any(s >= 500 and s != 503 for s in tally.status)
        if args.soak > 0:
            before = rss_mib(proc.pid)
            print(f"soak: {args.soak} requests, {args.clients} clients, RSS {before:.1f} MiB")
            tally, elapsed = asyncio.run(
                drive(
                    port,
                    requests,
                    args.clients,
                    args.soak_seconds,
                    args.soak,
                    args.timeout,
                    backoff,
                )
            )
            after = rss_mib(proc.pid)
            report(tally, elapsed)
            growth = 100.0 * (after - before) / before
            print(f"  RSS at soak start {before:.1f} MiB, at end {after:.1f} MiB: {growth:+.1f}%")
            failed |= any(s >= 500 and s != 503 for s in tally.status)
        if proc.poll() is not None:
            print(f"the server died with exit code {proc.returncode}")
            return 1
        status, _ = get(port, "/health", timeout=10)
        print(f"GET /health after the run: {status}")
        return int(failed or status != 200)
    finally:
        stop_server(proc)


if __name__ == "__main__":
    sys.exit(main())
