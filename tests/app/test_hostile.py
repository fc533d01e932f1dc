"""Every hostile input in tests/hostile.py against every upload endpoint of the real app."""

import time

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from bench.load import upload_endpoints
from tests.conftest import ROOT
from tests.hostile import Hostile, cases, expected, png_page

# Leaks that would tell an attacker about the server: stack traces and file-system paths.
LEAKS = ("Traceback", 'File "', "site-packages", str(ROOT), "/usr/lib/python")
# Generous: the CPU may be shared, but no input may keep a request busy for long.
MAX_SECONDS = 15.0
# Discovered from the app as built (no models needed), so new upload routes are covered.
ENDPOINTS = upload_endpoints(create_app().openapi())


def test_upload_endpoints_are_found() -> None:
    assert "/digits" in ENDPOINTS


@pytest.mark.parametrize("path", ENDPOINTS)
@pytest.mark.parametrize("case", cases(), ids=lambda c: c.name)
def test_hostile_input_gets_its_answer(client: TestClient, path: str, case: Hostile) -> None:
    """Its expected answer, as JSON with a `detail` when refused, quickly, and nothing leaked."""
    start = time.perf_counter()
    r = client.post(path, **case.request())
    elapsed = time.perf_counter() - start
    assert r.status_code < 500, r.text
    assert expected(case.expect, r.status_code), f"{r.status_code} {r.text[:300]}"
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    if r.status_code >= 400:
        assert isinstance(body["detail"], str) and body["detail"]
    assert not [leak for leak in LEAKS if leak in r.text]
    assert elapsed < MAX_SECONDS


def test_service_is_healthy_after_the_barrage(client: TestClient) -> None:
    """Runs after the barrage above (file order): the process still answers and reads."""
    assert client.get("/health").status_code == 200
    for path in ENDPOINTS:
        r = client.post(path, files={"file": ("page.png", png_page(), "image/png")})
        assert r.status_code == 200, r.text
    r = client.post("/digits", files={"file": ("page.png", png_page(), "image/png")})
    assert r.json()["text"] == "0123"
