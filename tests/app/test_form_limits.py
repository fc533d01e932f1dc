"""Multipart limits: a handful of parts per form, the image only in field `file`, in memory."""

import tempfile

import pytest

from tests.app.serving import BLANK_PNG, post_blank, serving


@pytest.fixture(scope="module")
def client():
    with serving(max_form_parts=8) as c:
        yield c


def test_form_with_thousands_of_fields_is_400_json(client) -> None:
    fields = {f"f{i}": "x" for i in range(5000)}
    r = client.post("/digits", data=fields, files={"file": ("b.png", BLANK_PNG)})
    assert r.status_code == 400
    assert r.headers["content-type"] == "application/json"
    assert "Too many fields" in r.json()["detail"]


def test_urlencoded_form_with_thousands_of_fields_is_400_json(client) -> None:
    r = client.post("/digits", data={f"f{i}": "x" for i in range(5000)})
    assert r.status_code == 400 and "Too many fields" in r.json()["detail"]


def test_form_with_many_files_is_400_json(client) -> None:
    files = [("file", (f"{i}.png", BLANK_PNG)) for i in range(50)]
    r = client.post("/digits", files=files)
    assert r.status_code == 400 and "Too many files" in r.json()["detail"]


def test_form_with_a_few_extra_fields_is_still_read(client) -> None:
    r = post_blank(client, data={"lang": "en", "note": "x"})
    assert r.status_code == 200


def test_image_under_another_field_name_is_422_naming_file(client) -> None:
    r = client.post("/digits", files={"image": ("b.png", BLANK_PNG)})
    assert r.status_code == 422 and "file" in r.json()["detail"]


def test_upload_filename_is_never_used(client) -> None:
    name = "../../../etc/passwd.png"
    r = client.post("/digits", files={"file": (name, BLANK_PNG, "image/png")})
    assert r.status_code == 200 and "passwd" not in r.text


def test_upload_stays_in_memory_up_to_the_body_limit(
    client, monkeypatch: pytest.MonkeyPatch
) -> None:
    def to_disk(_self: object) -> None:
        raise AssertionError("an upload was spooled to disk")

    monkeypatch.setattr(tempfile.SpooledTemporaryFile, "rollover", to_disk)
    big = b"\x89PNG\r\n\x1a\n" + b"\x00" * (client.app.state.settings.max_upload_bytes - 4096)
    r = client.post("/digits", files={"file": ("big.png", big)})
    assert r.status_code == 415  # read from memory and refused as corrupt, not a 500
