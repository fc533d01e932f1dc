"""Optional API key (X-API-Key) and CORS: both off by default."""

import pytest
from pydantic import ValidationError

from app.core.config import Settings
from app.core.security import PUBLIC_PATHS
from tests.app.serving import post_blank, serving

KEY = "k3y-for-tests"
ORIGIN = "https://app.example"


@pytest.fixture(scope="module")
def keyed():
    with serving(api_key=KEY) as client:
        yield client


def test_api_key_missing_is_401_json(keyed) -> None:
    r = post_blank(keyed)
    assert r.status_code == 401
    assert r.headers["content-type"] == "application/json"
    assert "X-API-Key" in r.json()["detail"]


def test_api_key_wrong_is_401_json(keyed) -> None:
    r = post_blank(keyed, headers={"X-API-Key": KEY + "x"})
    assert r.status_code == 401 and r.json()["detail"] == "Wrong API key."


def test_api_key_right_reads_digits(keyed) -> None:
    assert post_blank(keyed, headers={"X-API-Key": KEY}).status_code == 200


@pytest.mark.parametrize("path", ["/health", "/ready", "/docs", "/redoc", "/openapi.json"])
def test_api_key_is_not_needed_for_probes_and_docs(keyed, path: str) -> None:
    assert keyed.get(path).status_code == 200


def test_api_key_guards_every_documented_route_but_the_public_ones(keyed) -> None:
    spec = keyed.get("/openapi.json").json()
    guarded = [
        (method, path)
        for path, operations in spec["paths"].items()
        if path not in PUBLIC_PATHS
        for method in operations
    ]
    assert ("post", "/digits") in guarded
    for method, path in guarded:
        assert keyed.request(method, path).status_code == 401, (method, path)
        assert spec["paths"][path][method]["security"] == [{"APIKey": []}]
    assert spec["components"]["securitySchemes"]["APIKey"]["name"] == "X-API-Key"
    assert "security" not in spec["paths"]["/health"]["get"]


def test_api_key_is_checked_before_the_body_is_read(keyed) -> None:
    pulled: list[bytes] = []

    def body():
        for chunk in (b"--b\r\n", b"x" * 1000):
            pulled.append(chunk)
            yield chunk

    r = keyed.post(
        "/digits", content=body(), headers={"content-type": "multipart/form-data; boundary=b"}
    )
    assert r.status_code == 401 and pulled == []


def test_api_key_empty_is_refused_at_start() -> None:
    with pytest.raises(ValidationError, match="unset HWR_API_KEY"):
        Settings(api_key="")


def test_cors_is_off_by_default() -> None:
    with serving() as client:
        r = client.options(
            "/digits", headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"}
        )
        assert "access-control-allow-origin" not in r.headers
        assert (
            "access-control-allow-origin"
            not in client.get("/health", headers={"Origin": ORIGIN}).headers
        )


def test_cors_allows_only_the_configured_origins_even_with_an_api_key() -> None:
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "x-api-key",
    }
    with serving(cors_origins=[ORIGIN], api_key=KEY) as client:
        allowed = client.options("/digits", headers={"Origin": ORIGIN, **preflight})
        other = client.options("/digits", headers={"Origin": "https://evil.example", **preflight})
        refused = post_blank(client, headers={"Origin": ORIGIN})

    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == ORIGIN
    assert "x-api-key" in allowed.headers["access-control-allow-headers"].lower()
    assert other.status_code == 400 and "access-control-allow-origin" not in other.headers
    # A browser can read the 401 too, rather than seeing an opaque CORS failure.
    assert refused.status_code == 401
    assert refused.headers["access-control-allow-origin"] == ORIGIN


def test_cors_origins_read_comma_separated_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HWR_CORS_ORIGINS", f"{ORIGIN}, http://localhost:3000")
    assert Settings().cors_origins == [ORIGIN, "http://localhost:3000"]
