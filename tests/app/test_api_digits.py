"""POST /digits and the service routes through TestClient, lifespan running."""

import re

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient

from tests.conftest import ROOT, digit_row, encode


def test_read_digits_returns_text_boxes_and_confidences(client: TestClient, t10k) -> None:
    page, text = digit_row(t10k, [3, 2, 1, 18])  # 0, 1, 2, 3 from t10k
    r = client.post("/digits", files={"file": ("d.png", encode(page), "image/png")})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["text"] == text
    assert body["model"] == "lenet5"
    assert [d["digit"] for d in body["digits"]] == list(text)
    xs = [d["box"]["x"] for d in body["digits"]]
    assert xs == sorted(xs)
    for d in body["digits"]:
        assert 0.5 < d["confidence"] <= 1.0
        assert d["line"] == 0
        assert len(d["alternatives"]) == 3
        assert all(a["confidence"] <= d["confidence"] for a in d["alternatives"])
        assert 20 <= d["box"]["height"] <= 28


def test_read_digits_joins_rows_with_newlines(client: TestClient, t10k) -> None:
    top, t1 = digit_row(t10k, [0, 1, 2])
    bottom, t2 = digit_row(t10k, [4, 5, 6])
    width = max(top.shape[1], bottom.shape[1])
    page = np.vstack(
        [np.pad(p, ((0, 0), (0, width - p.shape[1])), constant_values=255) for p in (top, bottom)]
    )
    r = client.post("/digits", files={"file": ("d.png", encode(page))})
    assert r.json()["text"] == f"{t1}\n{t2}"
    assert {d["line"] for d in r.json()["digits"]} == {0, 1}


@pytest.mark.parametrize("ext", [".jpg", ".bmp", ".tiff", ".webp"])
def test_read_digits_accepts_other_formats(client: TestClient, t10k, ext: str) -> None:
    page, text = digit_row(t10k, [7, 8, 9, 10])
    page = cv2.resize(page, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)
    r = client.post("/digits", files={"file": (f"d{ext}", encode(page, ext))})
    assert r.status_code == 200 and r.json()["text"] == text


def test_read_digits_of_blank_page_is_empty(client: TestClient) -> None:
    r = client.post("/digits", files={"file": ("b.png", encode(np.full((50, 80), 255, np.uint8)))})
    assert r.status_code == 200
    assert r.json()["text"] == "" and r.json()["digits"] == []


def test_read_digits_without_file_field_is_422(client: TestClient) -> None:
    r = client.post("/digits", files={"image": ("d.png", b"abc")})
    assert r.status_code == 422 and "file" in r.json()["detail"]


@pytest.mark.parametrize("path", ["/digits", "/lines"])
def test_text_in_the_file_field_is_422_without_python_type_names(
    client: TestClient, path: str
) -> None:
    r = client.post(path, data={"file": "not a file"})
    assert r.status_code == 422
    assert r.json()["detail"] == "file: expected an uploaded file (multipart form field `file`)"


def test_other_validation_messages_are_kept(client: TestClient) -> None:
    r = client.post("/lines?beam=99", files={"file": ("d.png", b"abc")})
    assert r.json()["detail"] == "query.beam: Input should be less than or equal to 32"
    assert client.post("/digits").json()["detail"] == "file: Field required"


def test_read_digits_with_empty_upload_is_400(client: TestClient) -> None:
    r = client.post("/digits", files={"file": ("d.png", b"")})
    assert r.status_code == 400 and r.json()["detail"]


def test_read_digits_with_non_image_is_415(client: TestClient) -> None:
    r = client.post("/digits", files={"file": ("d.png", b"<html>not an image</html>")})
    assert r.status_code == 415 and "PNG" in r.json()["detail"]


def test_read_digits_with_body_over_limit_is_413(client: TestClient) -> None:
    big = b"\x89PNG\r\n\x1a\n" + b"\x00" * (client.app.state.settings.max_upload_bytes + 10)
    r = client.post("/digits", files={"file": ("big.png", big)})
    assert r.status_code == 413 and "limit" in r.json()["detail"]


def test_read_digits_with_chunked_body_over_limit_is_413(client: TestClient) -> None:
    limit = client.app.state.settings.max_upload_bytes

    def chunks():
        yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="x.png"\r\n\r\n'
        for _ in range(limit // 65536 + 2):
            yield b"\x00" * 65536

    r = client.post(
        "/digits", content=chunks(), headers={"content-type": "multipart/form-data; boundary=b"}
    )
    assert r.status_code == 413


def test_read_digits_with_too_many_pixels_is_413(client: TestClient) -> None:
    from tests.hostile import png_header

    r = client.post("/digits", files={"file": ("bomb.png", png_header(20_000, 20_000))})
    assert r.status_code == 413 and "pixels" in r.json()["detail"]


def test_an_image_of_thousands_of_separate_marks_is_refused_with_422(client: TestClient) -> None:
    """10,000 dots (not specks: all alike) would each be a digit candidate; grouping them
    grows with their square, so the image is refused before that work. The dots are drawn
    antialiased: square dots on a 6-pixel pitch are a 3x pixel-by-pixel enlargement of a
    checkerboard, and are smoothed first (app/vision/blocks.py)."""
    page = np.full((600, 600), 255, np.uint8)
    for y in range(3, 600, 6):
        for x in range(3, 600, 6):
            cv2.circle(page, (x, y), 1, 0, -1, cv2.LINE_AA)
    r = client.post("/digits", files={"file": ("dots.png", encode(page))})
    assert r.status_code == 422
    assert re.search(r"holds \d{4,5} separate marks", r.json()["detail"])


def test_health_reports_models_and_the_provider_in_use(client: TestClient) -> None:
    body = client.get("/health").json()
    assert body["status"] == "ok"
    model = body["models"]["digits"]
    assert model["name"] == "lenet5" and len(model["sha256"]) == 64
    session = client.app.state.models["digits"].session
    assert model["provider"] == session.get_providers()[0]


def test_root_redirects_to_docs(client: TestClient) -> None:
    r = client.get("/", follow_redirects=False)
    assert r.status_code in (302, 307) and r.headers["location"] == "/docs"


def test_openapi_documents_digits_with_schema_and_errors(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    op = spec["paths"]["/digits"]["post"]
    assert op["description"]
    assert {"200", "413", "415", "422"} <= set(op["responses"])
    assert "DigitsResponse" in spec["components"]["schemas"]
    assert client.get("/docs").status_code == 200


def test_read_digits_reads_the_readme_example(client: TestClient) -> None:
    data = (ROOT / "tests" / "assets" / "digits_4096.png").read_bytes()
    r = client.post("/digits", files={"file": ("digits_4096.png", data, "image/png")})
    assert r.json()["text"] == "4096"


def test_read_digits_answer_matches_its_documented_schema(client: TestClient, t10k) -> None:
    from app.schemas import DigitsResponse

    page, text = digit_row(t10k, [11, 12, 13])
    body = client.post("/digits", files={"file": ("d.png", encode(page))}).json()
    assert DigitsResponse.model_validate(body).text == text


@pytest.mark.parametrize(
    ("kwargs", "status"),
    [
        ({}, 422),
        ({"json": {"file": "x"}}, 422),
        ({"content": b"xx", "headers": {"content-type": "multipart/form-data"}}, 400),
        ({"data": {"file": "not a file"}}, 422),
        (
            {
                "content": b'--b\r\nContent-Disposition: form-data; name="file"\r\n\r\nabc',
                "headers": {"content-type": "multipart/form-data; boundary=b"},
            },
            422,
        ),
    ],
)
def test_read_digits_with_malformed_requests_is_4xx_json(
    client: TestClient, kwargs, status
) -> None:
    r = client.post("/digits", **kwargs)
    assert r.status_code == status
    assert r.headers["content-type"] == "application/json" and r.json()["detail"]
