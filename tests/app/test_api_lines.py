"""POST /lines through TestClient, lifespan running, with the shipped CRNN."""

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.schemas import LinesResponse
from tests.app.test_lines_segment import page_of_rows
from tests.conftest import encode


def post(client: TestClient, image: np.ndarray, **params) -> dict:
    r = client.post("/lines", params=params, files={"file": ("l.png", encode(image), "image/png")})
    assert r.status_code == 200, r.text
    return r.json()


def test_lines_answer_matches_its_documented_schema(client: TestClient, t10k) -> None:
    page = page_of_rows(t10k, 2)
    body = LinesResponse.model_validate(post(client, page))
    assert body.model == "crnn"
    assert len(body.lines) == 2
    assert body.text == "\n".join(line.text for line in body.lines)
    assert body.lines[0].box.y < body.lines[1].box.y
    for line in body.lines:
        assert 0 < line.confidence <= 1
        assert "".join(c.char for c in line.characters) == line.text
        xs = [c.x for c in line.characters]
        assert xs == sorted(xs)
        assert all(0 <= c.x < page.shape[1] and c.width > 0 for c in line.characters)


def test_single_line_reads_the_page_as_one_line(client: TestClient, t10k) -> None:
    assert len(post(client, page_of_rows(t10k, 3), single_line=True)["lines"]) <= 1


def test_beam_search_answers_in_the_same_shape(client: TestClient, t10k) -> None:
    page = page_of_rows(t10k, 1, start=40)
    greedy, beam = post(client, page), post(client, page, beam=8)
    assert len(beam["lines"]) == len(greedy["lines"]) == 1
    assert len(beam["lines"][0]["characters"]) == len(beam["lines"][0]["text"])


def test_blank_page_has_no_lines(client: TestClient) -> None:
    body = post(client, np.full((60, 300), 255, np.uint8))
    assert body["text"] == "" and body["lines"] == []


@pytest.mark.parametrize("params", [{"beam": 99}, {"beam": -1}, {"single_line": "perhaps"}])
def test_bad_query_parameters_are_422(client: TestClient, t10k, params: dict) -> None:
    page = page_of_rows(t10k, 1)
    r = client.post("/lines", params=params, files={"file": ("l.png", encode(page))})
    assert r.status_code == 422 and r.json()["detail"]


def test_non_image_is_415_and_empty_is_400(client: TestClient) -> None:
    assert client.post("/lines", files={"file": ("x.png", b"<html>")}).status_code == 415
    assert client.post("/lines", files={"file": ("x.png", b"")}).status_code == 400


def test_health_lists_the_line_model(client: TestClient) -> None:
    models = client.get("/health").json()["models"]
    assert models["lines"]["name"] == "crnn" and len(models["lines"]["sha256"]) == 64
