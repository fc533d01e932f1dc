"""A photographed page's surround (desk, scanner lid) painted paper, on real t10k digits."""

from pathlib import Path

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.digits import reader as digit_reader
from app.digits.segment import digit_ink
from app.lines import reader as line_reader
from app.vision import binarize, folds, imageio
from app.vision import page as page_module
from app.vision.page import paper_only
from bench import robustness
from bench.robustness import _lighting
from tests.conftest import creased_sheet, digit_row, encode, read_right_only_with_it
from tests.models.test_shipped_crnn import digit_lines, service_cer
from training import digit_sheets

ASSETS = Path(__file__).resolve().parents[1] / "assets"


def on_desk(
    page: np.ndarray, degrees: float, margins: tuple[int, int, int, int], desk: int = 70
) -> tuple[np.ndarray, np.ndarray]:
    """`page` turned by `degrees` on a grained desk `desk` grey, with (left, top, right,
    bottom) pixels of desk around it, and the H x W bool mask of where the page lies."""
    h, w = page.shape
    left, top, right, bottom = margins
    turn = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    corners = cv2.transform(np.float32([[[0, 0], [w, 0], [w, h], [0, h]]]), turn)[0]
    turn[:, 2] += np.float32([left, top]) - corners.min(axis=0)
    size_w, size_h = (
        np.ceil(corners.max(axis=0) - corners.min(axis=0)) + np.array([left + right, top + bottom])
    ).astype(int)
    placed = cv2.warpAffine(page, turn, (size_w, size_h))
    inside = cv2.warpAffine(np.full((h, w), 255, np.uint8), turn, (size_w, size_h))
    grain = np.random.default_rng(0).normal(desk, 10, (size_h, size_w)).astype(np.float32)
    a = inside.astype(np.float32) / 255.0
    out = placed * a + cv2.GaussianBlur(grain, (0, 0), 2) * (1 - a)
    return np.clip(out, 0, 255).astype(np.uint8), inside > 127


def digit_page(t10k) -> tuple[np.ndarray, str]:
    """Two rows of t10k digits at twice MNIST's size on white paper, and their text."""
    top, text_top = digit_row(t10k, list(range(300, 306)), gap=14, margin=20)
    bottom, text_bottom = digit_row(t10k, list(range(306, 312)), gap=14, margin=20)
    width = max(top.shape[1], bottom.shape[1])
    rows = [
        np.pad(r, ((0, 0), (0, width - r.shape[1])), constant_values=255) for r in (top, bottom)
    ]
    return cv2.resize(np.vstack(rows), None, fx=2, fy=2), f"{text_top}\n{text_bottom}"


def in_shadow(
    page: np.ndarray, corners: list[list[float]], light: float, edge: float = 0.0
) -> np.ndarray:
    """`page` with the polygon `corners` (shares of its width and height) lit at `light` of
    the rest, its edge softened by a blur of `edge` px (0: sharp)."""
    h, w = page.shape
    shade = np.ones((h, w), np.float32)
    cv2.fillPoly(shade, [(np.array(corners) * [w, h]).astype(np.int32)], light)
    if edge:
        shade = cv2.GaussianBlur(shade, (0, 0), edge)
    return page * shade


@pytest.mark.parametrize(
    ("degrees", "margins", "desk", "paper"),
    [
        (3.0, (60, 50, 70, 40), 70, 1.0),
        (-2.0, (0, 80, 40, 0), 120, 1.0),
        (1.5, (30, 30, 30, 30), 40, 1.0),
        (-1.0, (40, 20, 50, 30), 250, 0.7),  # a page in shade on a white table
    ],
)
def test_digits_on_a_desk_read_as_on_the_page_alone(
    client: TestClient, t10k, monkeypatch, degrees, margins, desk, paper
) -> None:
    page, text = digit_page(t10k)
    photo, inside = on_desk((page * paper).astype(np.uint8), degrees, margins, desk)
    body = encode(photo)
    r = client.post("/digits", files={"file": ("p.png", body)}).json()
    assert r["text"] == text
    for d in r["digits"]:  # boxes stay in the photo's own pixels, on the page
        b = d["box"]
        assert inside[b["y"] + b["height"] // 2, b["x"] + b["width"] // 2]
    # The premise: with the surround left as it is, a dark desk is one huge mark (a white
    # table is not: lit along the image's edge, it tells the paper's side, and the shaded
    # page's light is divided out; nor is a desk 120 grey beside white paper, divided out
    # as a shadow with sharp edges would be).
    monkeypatch.setattr(digit_reader, "paper_only", lambda gray: gray)
    got = client.post("/digits", files={"file": ("p.png", body)}).json()["text"]
    assert (got != text) if desk < 100 else (got == text)


def test_lines_on_a_desk_read_nearly_as_on_the_page_alone(
    client: TestClient, t10k, monkeypatch
) -> None:
    """40 digit lines each photographed on a desk: CER within 3 points of the lines alone;
    with the surround left in the premise is that they read far worse."""
    rng = np.random.default_rng(5)
    lines = digit_lines(t10k)
    photos = [
        (on_desk(line, rng.uniform(-2, 2), tuple(rng.integers(0, 30, 4)))[0], text)
        for line, text in lines
    ]
    plain = service_cer(client, lines)
    assert service_cer(client, photos) <= plain + 0.03
    monkeypatch.setattr(line_reader, "paper_only", lambda gray: gray)
    assert service_cer(client, photos) >= plain + 0.15


def test_the_surround_is_painted_with_the_paper_and_the_page_kept(t10k) -> None:
    page, _text = digit_page(t10k)
    photo, inside = on_desk(page, 4.0, (50, 40, 60, 30))
    out = paper_only(photo)
    well_inside = cv2.erode(inside.view(np.uint8), np.ones((9, 9), np.uint8)) > 0
    assert np.array_equal(out[well_inside], photo[well_inside])
    assert np.abs(out[~inside].astype(int) - 255).max() <= 8


def _lit_from_one_side(page: np.ndarray) -> np.ndarray:
    """Brightness falling from 100% at the left to 55% at the right, as under a lamp."""
    fall = np.linspace(1.0, 0.55, page.shape[1], dtype=np.float32)
    return (page * fall[None, :]).astype(np.uint8)


def _vignetted(page: np.ndarray) -> np.ndarray:
    h, w = page.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    r2 = ((xx - w / 2) / (w / 2)) ** 2 + ((yy - h / 2) / (h / 2)) ** 2
    return (page * (1 - 0.33 * r2)).astype(np.uint8)


def _shadow(page: np.ndarray, left: bool) -> np.ndarray:
    """A hard shadow (a hand's, a phone's) over the left or right 60% of the page: both
    parts hold writing."""
    x = np.arange(page.shape[1])
    shade = (x < 0.6 * page.shape[1]) if left else (x >= 0.4 * page.shape[1])
    return (page * np.where(shade, 0.7, 1.0)[None, :]).astype(np.uint8)


def _ruled(page: np.ndarray) -> np.ndarray:
    out = page.copy()
    out[::24] = 150
    return out


@pytest.mark.parametrize(
    "change",
    [
        lambda p: p,
        _lit_from_one_side,
        lambda p: _lit_from_one_side(_ruled(p)),
        _vignetted,
        lambda p: 255 - p,  # chalk on a board: the dark is the board, not a surround
        lambda p: p[70:, 40:],  # a tight crop: digits run into its edges
        lambda p: _shadow(p, left=True),
        lambda p: _shadow(p, left=False),
    ],
    ids=[
        "plain",
        "lit-from-one-side",
        "ruled-lit-from-one-side",
        "vignetted",
        "inverted",
        "crop",
        "shadow-left",
        "shadow-right",
    ],
)
def test_pages_without_a_surround_are_left_as_they_are(t10k, change) -> None:
    page, _text = digit_page(t10k)
    image = change(page)
    assert paper_only(image) is image


def test_light_digits_on_dark_paper_have_no_surround(client: TestClient, t10k) -> None:
    # MNIST's own tiles enlarged 3x: looked for as dark writing on light paper, the strokes
    # were the paper and the black around them a surround, painted over (of the first 3,000
    # t10k digits, 48 such; single digits 2x / 4x 97.0 / 97.2 -> 98.4 / 98.7% read right).
    images, labels = t10k
    for i in (68, 93, 120, 132, 179, 232, 258, 373):
        big = cv2.resize(images[i], None, fx=3, fy=3, interpolation=cv2.INTER_CUBIC)
        assert paper_only(big) is big
        got = client.post("/digits", files={"file": ("d.png", encode(big))}).json()["text"]
        assert got == str(labels[i])


def _falling_off(page: np.ndarray, fall: float, side: float) -> np.ndarray:
    """The page in shade (75%), lit from the left (to 1 - `side` at the right) and darker
    towards its corners (to 1 - `fall` at the middle of each edge): a lamp, a phone's lens."""
    h, w = page.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    r2 = ((xx - w / 2) / (w / 2)) ** 2 + ((yy - h / 2) / (h / 2)) ** 2
    across = np.linspace(1.0, 1.0 - side, w, dtype=np.float32)[None, :]
    return (page * (1 - fall * r2) * across * 0.75).astype(np.uint8)


def test_the_surround_is_painted_as_dark_as_the_page_beside_it(t10k) -> None:
    """Around a page darker at its edges, the paint just outside matches the paper just
    inside, corner by corner (a wide average of the page was 10-22 levels brighter at the
    darker corners)."""
    page, _text = digit_page(t10k)
    photo, inside = on_desk(_falling_off(page, 0.1, 0.35), 2.0, (40, 30, 50, 20), 245)
    out = paper_only(photo).astype(np.float32)
    mask = inside.view(np.uint8)
    outside = (cv2.dilate(mask, np.ones((9, 9), np.uint8)) > 0) & ~(
        cv2.dilate(mask, np.ones((5, 5), np.uint8)) > 0
    )
    edge = (cv2.erode(mask, np.ones((5, 5), np.uint8)) > 0) & ~(
        cv2.erode(mask, np.ones((9, 9), np.uint8)) > 0
    )
    yy, xx = np.mgrid[0 : out.shape[0], 0 : out.shape[1]]
    for lower in (False, True):
        for right in (False, True):
            corner = ((yy >= out.shape[0] / 2) == lower) & ((xx >= out.shape[1] / 2) == right)
            assert abs(out[outside & corner].mean() - out[edge & corner].mean()) <= 10


def test_a_page_in_shade_darker_at_its_corners_reads_right(client: TestClient, t10k) -> None:
    page, text = digit_page(t10k)
    photo, _inside = on_desk(_falling_off(page, 0.2, 0.35), 2.0, (40, 30, 50, 20), 245)
    r = client.post("/digits", files={"file": ("p.png", encode(photo))}).json()
    assert r["text"] == text


@pytest.mark.parametrize("degrees", [2.0, -3.0])
def test_a_page_darker_towards_its_edges_is_found_on_a_desk(
    client: TestClient, t10k, monkeypatch, degrees: float
) -> None:
    """A page whose light falls to 75% at the middle of its edges (lower in the corners), on
    a desk: half-way between paper and desk its corners go with the desk, so the page is
    looked for nearer the desk's level too."""
    page, text = digit_page(t10k)
    photo, _inside = on_desk(
        (_falling_off(page, 0.25, 0.0) / 0.75).astype(np.uint8), degrees, (40, 30, 50, 20), 100
    )
    assert paper_only(photo) is not photo
    r = client.post("/digits", files={"file": ("p.png", encode(photo))}).json()
    assert r["text"] == text
    # The premise: looked for only half-way, the page is not found (its light, divided out
    # at the pen's scale, then reads right all the same).
    monkeypatch.setattr(page_module, "LOOK_AT", (0.5,))
    assert paper_only(photo) is photo


@pytest.mark.parametrize("level", [20, 110])
def test_a_strip_scanned_with_dark_ends_reads_without_them(
    client: TestClient, t10k, monkeypatch, level: int
) -> None:
    # A long strip shows its surround only at its two short sides, a small share of the
    # image's border: each whole side counts. Left in, each dark end read as a "1".
    strip, text = digit_row(t10k, list(range(320, 328)), gap=14, margin=10)
    ends = cv2.copyMakeBorder(strip, 0, 0, 12, 12, cv2.BORDER_CONSTANT, value=level)
    assert paper_only(ends) is not ends
    got = client.post("/digits", files={"file": ("s.png", encode(ends))}).json()["text"]
    assert got == text
    # The premise: with the surround judged on the whole border only, the strip has none.
    monkeypatch.setattr(page_module, "WHOLE_SIDE", 2.0)
    assert paper_only(ends) is ends


@pytest.mark.parametrize(
    ("far", "grain"),
    [
        (0.6, 10.0),  # a trapezoid fills 0.8 of its rectangle: it passed for no sheet
        (0.9, 30.0),  # a coarse-grained desk's dark grains passed for writing beside the page
    ],
)
def test_a_page_seen_from_a_side_on_a_textured_desk_is_found(
    client: TestClient, t10k, far: float, grain: float
) -> None:
    page, text = digit_page(t10k)
    h, w = page.shape
    margin = 60
    near = np.float32([[margin, margin + h], [margin + w, margin + h]])
    inset = (1 - far) * w / 2
    top = np.float32([[margin + inset, margin], [margin + w - inset, margin]])
    corners = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    warp = cv2.getPerspectiveTransform(corners, np.vstack([top, near[::-1]]))
    size = (w + 2 * margin, h + 2 * margin)
    placed = cv2.warpPerspective(page.astype(np.float32), warp, size)
    inside = cv2.warpPerspective(np.ones((h, w), np.float32), warp, size)
    # Grains a few pixels across, as a wood or fabric desk photographed.
    noise = np.random.default_rng(1).normal(80, grain, (size[1] // 4, size[0] // 4))
    desk = cv2.resize(noise.astype(np.float32), size, interpolation=cv2.INTER_LINEAR)
    photo = np.clip(placed * inside + desk * (1 - inside), 0, 255).astype(np.uint8)
    assert client.post("/digits", files={"file": ("p.png", encode(photo))}).json()["text"] == text


def test_a_shaded_page_against_a_surround_of_its_own_colour_keeps_its_edges(
    client: TestClient, monkeypatch
) -> None:
    # Turned a little in perspective, the page leaves wedges of a surround at the paper's
    # median colour: too close to it to be found as a desk, and brighter than the shaded
    # page beside it. Flattened with the light's edges smoothed over, that brightness
    # spread over the page's edge, which became ink.
    body = (ASSETS / "shaded_photo.png").read_bytes()
    assert client.post("/digits", files={"file": ("p.png", body)}).json()["text"] == "8106\n06671"
    # The premise: with the light's edges smoothed over, the page misreads in luminance (in
    # green, where its red ink stands out further on the yellow paper, it reads either way).
    monkeypatch.setattr(binarize, "CLOSING_KERNEL", 10**6)
    monkeypatch.setattr(imageio, "ink_gray", lambda bgr: cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY))
    assert client.post("/digits", files={"file": ("p.png", body)}).json()["text"] != "8106\n06671"


def test_a_sharp_shadow_over_part_of_the_page_keeps_its_edge(
    client: TestClient, t10k, monkeypatch
) -> None:
    # A phone's shadow over the page's top right corner, 40% darker, with a sharp edge: the
    # light divided out smoothly, its edge became ink and the digits under it were lost.
    page, text = digit_page(t10k)
    shaded = in_shadow(page, [[0.55, 0], [1, 0], [1, 0.6], [0.62, 0.45]], 0.6)
    noise = np.random.default_rng(0).normal(0, 3, page.shape)
    body = encode(np.clip(shaded + noise, 0, 255).astype(np.uint8))
    assert client.post("/digits", files={"file": ("p.png", body)}).json()["text"] == text
    # The premise: with the light's edges smoothed over, the digits in the shadow are lost
    # (the lift of shade bands at the pen's scale off as well: it catches this one too).
    monkeypatch.setattr(binarize, "CLOSING_KERNEL", 10**6)
    monkeypatch.setattr(binarize, "_without_shade_bands", lambda flat, stroke, levels=None: flat)
    assert client.post("/digits", files={"file": ("p.png", body)}).json()["text"] != text


def under_glare(page: np.ndarray, ink: float, paper: float, wash: float) -> bytes:
    """`page` photographed (ink and paper at these levels) under a lamp's reflection over its
    middle, lifting everything `wash` of the way to white, as a PNG."""
    h, w = page.shape
    photo = ink + (page.astype(np.float32) / 255.0) * (paper - ink)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    r2 = ((xx - 0.45 * w) / (0.3 * w)) ** 2 + ((yy - 0.5 * h) / (0.45 * h)) ** 2
    photo += (255.0 - photo) * wash * np.clip(1.6 * (1 - r2), 0, 1) ** 0.7
    photo += np.random.default_rng(0).normal(0, 2, photo.shape)
    return encode(np.clip(photo, 0, 255).astype(np.uint8))


@pytest.mark.parametrize(
    ("ink", "paper", "wash", "premise"),
    [
        # Paper 215, the glare lifting everything 70-80% of the way to white: the ink under it
        # kept a fifth to a third of its contrast. The premise: left washed out, it is lost.
        (40.0, 215.0, 0.7, ("restore_washed_ink", lambda raw, flat, hist, stroke: flat)),
        (40.0, 215.0, 0.8, ("restore_washed_ink", lambda raw, flat, hist, stroke: flat)),
        # Paper of 195-205, lifted 65% of the way: the glare peaks near 235, short of white.
        # The premise: glare looked for only where the paper comes within 10 levels of white.
        (30.0, 195.0, 0.65, ("WASH_WHITE", 245.0)),
        (30.0, 205.0, 0.65, ("WASH_WHITE", 245.0)),
    ],
)
def test_ink_washed_out_by_glare_is_brought_back(
    client: TestClient, t10k, monkeypatch, ink: float, paper: float, wash: float, premise
) -> None:
    # A lamp's reflection over the middle of a photographed page: its digits were lost.
    page, text = digit_page(t10k)
    body = under_glare(page, ink, paper, wash)
    assert client.post("/digits", files={"file": ("p.png", body)}).json()["text"] == text
    monkeypatch.setattr(binarize, *premise)
    assert client.post("/digits", files={"file": ("p.png", body)}).json()["text"] != text


@pytest.mark.parametrize("seed", [15, 22])
def test_a_glares_rim_is_not_stretched_as_washed_ink(
    client: TestClient, t10k, monkeypatch, seed: int
) -> None:
    # The robustness bench's glare: its rim falls steeply, and where the washed ink was
    # stretched from the light's low-resolution level the rim came out as a dark arc.
    page, text = digit_page(t10k)
    glared = robustness.variant("glare", seed)(cv2.cvtColor(page, cv2.COLOR_GRAY2BGR))
    body = encode(glared)
    assert client.post("/digits", files={"file": ("p.png", body)}).json()["text"] == text
    # The premise: stretched from the low-resolution level, the rim reads as a digit (in a
    # row of its own, where the reader also leaves out a mark paler than the writing).
    monkeypatch.setattr(binarize, "_stroke_paper", lambda flat, stroke, pens=0.0: None)
    monkeypatch.setattr(digit_reader, "PALE_LONE_MARK", 1.0)
    assert client.post("/digits", files={"file": ("p.png", body)}).json()["text"] != text


def test_a_shadows_narrow_band_across_a_row_is_lifted(
    client: TestClient, t10k, monkeypatch
) -> None:
    # A shadow reaching in as a band across the lower half of the bottom row, 50% darker:
    # narrower than the light's low-resolution level sees, it was left as a bar of ink.
    page, text = digit_page(t10k)
    shaded = in_shadow(page, [[0, 0.8], [0.7, 0.8], [0.7, 0.95], [0, 0.95]], 0.5, edge=1.5)
    noise = np.random.default_rng(0).normal(0, 3, page.shape)
    body = encode(np.clip(shaded + noise, 0, 255).astype(np.uint8))
    assert client.post("/digits", files={"file": ("p.png", body)}).json()["text"] == text
    # The premise: left, the band joins the digits in it into one blob.
    monkeypatch.setattr(binarize, "_without_shade_bands", lambda flat, stroke, levels=None: flat)
    assert client.post("/digits", files={"file": ("p.png", body)}).json()["text"] != text


def test_a_filled_blob_of_ink_is_not_taken_for_shade() -> None:
    # A bold digit's loop filled with ink is as wide as a shade band, but as dark as the ink.
    flat = np.full((120, 200), 250, np.uint8)
    for x in range(20, 180, 20):
        cv2.line(flat, (x, 10), (x + 8, 50), 15, 3)
    cv2.circle(flat, (60, 85), 14, 15, -1)
    flat[70:100, 110:190] = 130  # a shade band
    out = binarize._without_shade_bands(flat, binarize.stroke_width(flat))
    assert out[85, 60] < 40  # the blob stays ink
    assert out[75:95, 130:170].min() > 230  # the band is paper again
    # Strokes keep their contrast with the paper.
    assert out[30, 24] < 60 and out[60, 10] > 240


def test_a_clean_page_and_one_lit_unevenly_without_glare_are_left_as_they_are(t10k) -> None:
    page, _ = digit_page(t10k)
    assert binarize.restore_washed_ink(page, page) is page
    w = page.shape[1]
    vignette = (page * np.linspace(0.7, 1.0, w, dtype=np.float32)[None, :]).astype(np.uint8)
    assert binarize.restore_washed_ink(vignette, page) is page


@pytest.mark.parametrize("index", [2, 6, 10])
def test_a_creases_faint_line_is_not_stretched_as_washed_ink(
    client: TestClient, t10k, monkeypatch, index: int
) -> None:
    # A fold: a faint line, the light a little lower beyond it; the near side is the brighter
    # paper, the faint line on it passes for washed ink. Stretched, it grew too wide to be
    # taken out as a crease, and stayed a stroke joining the digits it crossed. (What is left
    # of a line on its band beside the writing goes since: not in the premise.)
    body, text = creased_sheet(t10k, index, 2)
    read_right_only_with_it(
        client,
        body,
        text,
        monkeypatch,
        (binarize, "_long_faint_lines", lambda flat: np.zeros(flat.shape, bool)),
        (folds, "ON_LINE", 1.01),
        (digit_reader, "PALE_LONE_MARK", 1.0),
    )


def test_a_folds_shaded_side_with_writing_across_its_edge_is_no_surround(
    client: TestClient, t10k, monkeypatch
) -> None:
    # The light 10-20% lower beyond a fold along a row: the shaded side passed for a desk
    # round the page, and the row's lower halves were painted paper.
    body, text = creased_sheet(t10k, 10, 15)
    read_right_only_with_it(client, body, text, monkeypatch, (page_module, "INK_CROSSINGS", 10**6))


def _vignetted(page: np.ndarray, fall: float) -> np.ndarray:
    """`page` darkened towards its edges as a phone lens does: 1 - fall at the middle of each
    side, more in the corners (down to 5%)."""
    return _lighting(cv2.cvtColor(page, cv2.COLOR_GRAY2BGR), fall)[..., 0]


@pytest.mark.parametrize("fall", [0.45, 0.55])
def test_a_page_dark_at_its_rim_is_read_without_the_rim(
    client: TestClient, t10k, monkeypatch, fall: float
) -> None:
    # Vignetting this steep: the closing's min filter held the paper's level half a kernel in
    # at the image's edge, too bright for the darker rim, which became a frame of ink and
    # extra digits in the corners.
    page, text = digit_page(t10k)
    photo = _vignetted(np.pad(page, 40, constant_values=255), fall)
    # At 0.55 the corners themselves are all but black (5%): a sliver of them stays ink.
    assert binarize.border_ring(digit_ink(photo).mask).mean() < 0.1
    assert client.post("/digits", files={"file": ("p.png", encode(photo))}).json()["text"] == text
    # The premise: with the edge repeated (the level held half a kernel in), the rim is ink
    # (the lift of shade bands at the pen's scale off as well: it takes most of it too).
    monkeypatch.setattr(binarize, "_without_shade_bands", lambda flat, stroke, levels=None: flat)
    monkeypatch.setattr(
        binarize,
        "_erode_on",
        lambda level, kernel: cv2.erode(level, kernel, borderType=cv2.BORDER_REPLICATE),
    )
    assert binarize.border_ring(digit_ink(photo).mask).mean() > 0.1


def test_a_shadows_narrow_reach_is_divided_out_at_the_pens_scale(
    client: TestClient, t10k, monkeypatch
) -> None:
    # A shadow reaching in from the left, a band narrower than a sixth of the page and 45%
    # darker: a kernel of a sixth of the page filled it with the brighter paper beside it,
    # and the band was read as a 1.
    page, text = digit_page(t10k)
    page = np.pad(page, ((30, 30), (60, 30)), constant_values=255)
    shaded = in_shadow(page, [[0, 0.25], [0.07, 0.25], [0.07, 1], [0, 1]], 0.55, edge=1.2)
    body = encode(np.clip(shaded, 0, 255).astype(np.uint8))
    assert client.post("/digits", files={"file": ("p.png", body)}).json()["text"] == text
    # The premise: with the kernel left at a sixth of the page, the band is read (the lift
    # of shade bands at the pen's scale off as well: it catches this one too).
    monkeypatch.setattr(binarize, "stroke_width", lambda gray: None)
    monkeypatch.setattr(binarize, "_without_shade_bands", lambda flat, stroke, levels=None: flat)
    assert client.post("/digits", files={"file": ("p.png", body)}).json()["text"] != text


def test_stroke_width_is_the_pens_width() -> None:
    canvas = np.full((200, 300), 255, np.uint8)
    for x in range(20, 280, 30):
        cv2.rectangle(canvas, (x, 20), (x + 5, 90), 0, -1)  # upright bars 6 px wide
    for y in range(110, 190, 20):
        cv2.rectangle(canvas, (20, y), (270, y + 5), 0, -1)  # level bars 6 px high
    assert binarize.stroke_width(canvas) == 6.0
    assert binarize.stroke_width(np.full((50, 50), 255, np.uint8)) is None


def test_a_shadow_over_most_of_the_page_is_not_taken_for_dark_paper(
    client: TestClient, t10k, monkeypatch
) -> None:
    # A shadow 40% darker over two thirds of the page: the median grey level lies in it, so
    # by the median the shadowed paper was the paper and the lit third beyond it the writing,
    # and the whole page was read inverted (a "19" for four rows of digits).
    page, text = digit_page(t10k)
    shaded = in_shadow(page, [[0, 0], [0.68, 0], [0.68, 1], [0, 1]], 0.6, edge=1.5)
    photo = np.clip(shaded, 0, 255).astype(np.uint8)
    assert binarize.dark_ink(photo) is photo
    assert client.post("/digits", files={"file": ("p.png", encode(photo))}).json()["text"] == text
    # The premise: by the median alone, the page is light writing on dark paper.
    monkeypatch.setattr(binarize, "LIT_BORDER", 2.0)
    assert binarize.dark_ink(photo) is not photo
    assert client.post("/digits", files={"file": ("p.png", encode(photo))}).json()["text"] != text


@pytest.mark.parametrize("index", [6, 11])
def test_a_shadows_slanted_edge_leaves_no_sliver_of_ink(
    client: TestClient, t10k, monkeypatch, index: int
) -> None:
    # A shadow with a slanted edge: the light's level, enlarged from its low-resolution copy,
    # put the brighter side's level on a sliver of the shadowed paper along the edge, which
    # was read as an extra digit or joined the digits it touched.
    images, labels = t10k
    sheet = digit_sheets.make_sheets(images, labels, "rows", index + 1, 5)[index]
    body = encode(robustness._shadow(sheet.image, np.random.default_rng(10)))
    assert client.post("/digits", files={"file": ("p.png", body)}).json()["text"] == sheet.text
    # The premise: with the level enlarged as it is, the sliver is ink (and, where it runs to
    # the image's edge, read as no digit since: read again here).
    monkeypatch.setattr(binarize, "_darker_at_edges", lambda level, coarse: level)
    monkeypatch.setattr(digit_reader, "NO_DIGIT", 0.0)
    assert client.post("/digits", files={"file": ("p.png", body)}).json()["text"] != sheet.text
