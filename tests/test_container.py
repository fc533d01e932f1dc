"""The Docker image and compose file, built and run for real, answer /digits and /lines.

Uses the local container engine beside the project (../shared/tools/container-engine); skipped
with a reason where it is absent or we are not root.
"""

import json
import os
import shlex
import socket
import subprocess
import time
import urllib.request

import pytest

from tests.conftest import ROOT, digit_row, encode

ENGINE = ROOT.parent / "shared" / "tools" / "container-engine"

pytestmark = [
    pytest.mark.container,
    pytest.mark.skipif(not (ENGINE / "up").is_file(), reason=f"no container engine at {ENGINE}"),
    pytest.mark.skipif(os.geteuid() != 0, reason="the container engine needs root"),
]


def sh(cmd: str, env: dict[str, str], timeout: int = 900) -> str:
    done = subprocess.run(
        ["bash", "-c", f"source {shlex.quote(str(ENGINE / 'env.sh'))} && {cmd}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, f"{cmd} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post_image(url: str, data: bytes) -> dict:
    boundary = "hwrtestboundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="d.png"\r\n'
            "Content-Type: image/png\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    req = urllib.request.Request(
        url, data=body, headers={"Content-Type": f"multipart/form-data; boundary={boundary}"}
    )
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def compose_up(env: dict[str, str]) -> None:
    """`docker compose up`, up to three times: the local engine now and then fails to start a
    fresh container ("write child: broken pipe"); asked again it usually succeeds, and when it
    does not, a restarted engine (its containers removed, images kept) does."""
    for attempt in range(3):
        try:
            sh("docker compose up -d --build --wait", env)
            return
        except AssertionError as failed:
            if "Error response from daemon" not in str(failed) or attempt == 2:
                raise
            sh("docker compose down --remove-orphans", env)
            if attempt == 1:
                subprocess.run([str(ENGINE / "down"), "--prune"], capture_output=True, timeout=300)
                subprocess.run([str(ENGINE / "up")], check=True, capture_output=True, timeout=900)


def test_compose_up_serves_digits_and_lines(t10k) -> None:
    port = free_port()
    env = {**os.environ, "HWR_PORT": str(port), "COMPOSE_PROJECT_NAME": f"hwrtest{port}"}
    subprocess.run([str(ENGINE / "up")], check=True, capture_output=True, timeout=900)
    sh("../shared/tools/container-engine/lint Dockerfile docker-compose.yml", env)
    try:
        compose_up(env)
        base = f"http://127.0.0.1:{port}"
        for _ in range(30):
            try:
                with urllib.request.urlopen(f"{base}/health", timeout=5) as r:
                    health = json.loads(r.read())
                break
            except OSError:
                time.sleep(1)
        assert health["models"]["digits"]["provider"] == "CPUExecutionProvider"
        page, text = digit_row(t10k, [3, 2, 1, 18, 4])
        assert post_image(f"{base}/digits", encode(page))["text"] == text
        lines = post_image(f"{base}/lines", encode(page))
        assert lines["model"] == "crnn" and len(lines["lines"]) == 1
        # No torch in the serving image.
        out = sh(
            "docker compose exec -T api python3 -c 'import importlib.util as u; "
            'print(u.find_spec("torch") is None)\'',
            env,
        )
        assert out.strip().endswith("True")
        user = sh("docker compose exec -T api id -u", env)
        assert user.strip() != "0"
        # Read-only root file system: the service runs without writing anywhere but /tmp.
        with urllib.request.urlopen(f"{base}/ready", timeout=5) as r:
            assert r.status == 200
        writes = sh(
            "docker compose exec -T api sh -c "
            "'touch /srv/probe 2>/dev/null && echo srv-writable; touch /tmp/probe && echo tmp-ok'",
            env,
        )
        assert "srv-writable" not in writes and "tmp-ok" in writes
    finally:
        sh("docker compose down --remove-orphans", env)


def test_compose_file_is_valid() -> None:
    env = dict(os.environ)
    out = sh("docker compose config --quiet && echo valid", env, timeout=120)
    assert "valid" in out
