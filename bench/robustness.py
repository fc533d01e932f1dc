"""How /digits and /lines hold up when the same held-out images are photographed or printed
differently: rotated (a few degrees, a quarter or a half turn), shrunk, enlarged pixel by
pixel, blurred, noisy, pencil-pale, on squared or dotted paper, on a desk, under a sharp
shadow, folded, on kraft paper, under a lamp's glare.

    python bench/robustness.py digits --count 200 [--variants none rot3 pencil ...]
    python bench/robustness.py lines --count 60 [--set mixed] [--page 4]

digits: exact-string accuracy on 'rows' sheets (2-4 rows of held-out t10k digits; `--kind`
picks another kind of digit_sheets); lines: CER on one held-out set of lines
(bench/eval_lines.py), or pages of `--page` lines each. Every variant is applied to the same
images, through the running service (TestClient, lifespan running); deterministic by seed.
"""

import argparse
import sys
import zlib
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
from fastapi.testclient import TestClient

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.main import create_app  # noqa: E402
from training import digit_sheets, mnist  # noqa: E402

Image = np.ndarray  # H x W x 3 uint8 BGR


def _rotate(img: Image, degrees: float) -> Image:
    """Rotated about its centre onto a canvas that holds it all, corners filled with paper."""
    h, w = img.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    cos, sin = abs(m[0, 0]), abs(m[0, 1])
    nw, nh = int(h * sin + w * cos), int(h * cos + w * sin)
    m[0, 2] += nw / 2 - w / 2
    m[1, 2] += nh / 2 - h / 2
    paper = tuple(int(v) for v in np.median(img.reshape(-1, 3), axis=0))
    return cv2.warpAffine(img, m, (nw, nh), borderValue=paper)


def _lighting(img: Image, fall: float) -> Image:
    """Vignetting: brightness falls to 1 - fall at the middle of each edge, lower in corners."""
    h, w = img.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    r2 = ((xx - w / 2) / (w / 2)) ** 2 + ((yy - h / 2) / (h / 2)) ** 2
    return (img * np.clip(1 - fall * r2, 0.05, 1)[..., None]).astype(np.uint8)


def _paper(img: Image, step: int, dots: bool) -> Image:
    """Printed squared (pale 1-px grid) or dotted paper under the writing."""
    out = np.full_like(img, 255)
    colour = (200, 170, 150)
    h, w = img.shape[:2]
    if dots:
        for y in range(step // 2, h, step):
            for x in range(step // 2, w, step):
                cv2.circle(out, (x, y), 1, (150, 150, 150), -1)
    else:
        out[step // 2 :: step, :] = colour
        out[:, step // 2 :: step] = colour
    return np.minimum(out, img)


def _desk(img: Image, rng: np.random.Generator, white: bool = False) -> Image:
    """The page photographed lying on a darker desk (`white`: the page in shade on a white
    table): a little turned and in perspective, with 0-20% of its size of desk showing on
    each side (none: its corner touches the frame)."""
    h, w = img.shape[:2]
    if white:
        img = (img * rng.uniform(0.7, 0.85)).astype(np.uint8)
    corners = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    turn = cv2.getRotationMatrix2D((w / 2, h / 2), rng.uniform(-5, 5), 1.0)
    placed = cv2.transform(corners[None], turn)[0]
    placed += rng.uniform(-0.03, 0.03, (4, 2)).astype(np.float32) * np.float32([w, h])
    left, top, right, bottom = (int(rng.uniform(0, 0.2) * s) for s in (w, h, w, h))
    placed += np.float32([left, top]) - placed.min(axis=0)
    big_w, big_h = (np.ceil(placed.max(axis=0)) + np.float32([right, bottom])).astype(int)
    warp = cv2.getPerspectiveTransform(corners, placed)
    page = cv2.warpPerspective(img, warp, (big_w, big_h))
    inside = cv2.warpPerspective(np.full((h, w), 255, np.uint8), warp, (big_w, big_h))
    grain = cv2.GaussianBlur(rng.normal(0, 12, (big_h, big_w)).astype(np.float32), (0, 0), 2)
    tint = np.ones(3, np.float32) if white else rng.uniform(0.75, 1.15, 3).astype(np.float32)
    level = rng.uniform(235, 250) if white else rng.uniform(40, 140)
    desk = np.clip((level + grain[..., None]) * tint, 0, 255).astype(np.uint8)
    alpha = (inside.astype(np.float32) / 255.0)[..., None]
    return (page * alpha + desk * (1 - alpha)).astype(np.uint8)


def _shadow(img: Image, rng: np.random.Generator) -> Image:
    """A phone's or hand's sharp shadow, 30-60% darker, reaching 30-70% of the way in from
    one side of the page."""
    h, w = img.shape[:2]
    reach, (a, b) = rng.uniform(0.3, 0.7), np.sort(rng.uniform(-0.2, 1.2, 2))
    pts = np.float32([[0, a], [reach * rng.uniform(0.7, 1.0), a], [reach, b], [0, b]])
    side = int(rng.integers(4))
    if side >= 2:  # from the top or the bottom instead of a side
        pts = pts[:, ::-1]
    if side % 2:  # from the right or the bottom
        pts = 1 - pts
    mask = np.zeros((h, w), np.float32)
    cv2.fillPoly(mask, [np.int32(pts * np.float32([w, h]))], 1.0)
    mask = cv2.GaussianBlur(mask, (0, 0), rng.uniform(0.8, 2.0))
    return (img * (1 - rng.uniform(0.3, 0.6) * mask)[..., None]).astype(np.uint8)


def _crease(img: Image, rng: np.random.Generator) -> Image:
    """A fold across the page: a thin dark line, and the light 10-20% lower beyond it."""
    h, w = img.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    (a, b), across = rng.uniform(0.2, 0.8, 2), rng.random() < 0.5
    dist = yy - (a + (b - a) * xx / w) * h if across else xx - (a + (b - a) * yy / h) * w
    step = cv2.GaussianBlur(
        np.where(dist > 0, rng.uniform(0.8, 0.9), 1.0).astype(np.float32), (0, 0), 1.0
    )
    line = 1 - rng.uniform(0.25, 0.45) * np.exp(-((dist / rng.uniform(0.8, 1.4)) ** 2))
    return np.clip(img * (step * line)[..., None], 0, 255).astype(np.uint8)


def _glare(img: Image, rng: np.random.Generator) -> Image:
    """A lamp's reflection on a photographed page (paper 200-225): an oval 30-60% of the page
    across washing everything 60-85% of the way to white at its middle."""
    h, w = img.shape[:2]
    paper = rng.uniform(200, 225)
    photo = 30.0 + img.astype(np.float32) / 255.0 * (paper - 30.0)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    cx, cy = rng.uniform(0.3, 0.7) * w, rng.uniform(0.3, 0.7) * h
    ax, ay = rng.uniform(0.15, 0.3) * w, rng.uniform(0.2, 0.4) * h
    oval = np.clip(1.6 * (1 - ((xx - cx) / ax) ** 2 - ((yy - cy) / ay) ** 2), 0, 1) ** 0.7
    photo += (255.0 - photo) * (rng.uniform(0.6, 0.85) * oval)[..., None]
    return np.clip(photo + rng.normal(0, 2, photo.shape), 0, 255).astype(np.uint8)


def _kraft(img: Image, rng: np.random.Generator) -> Image:
    """Red or blue ink on brown kraft paper, shaded 15-30% towards a corner."""
    h, w = img.shape[:2]
    ink = 1.0 - img[..., :1].astype(np.float32) / 255.0
    colour = np.float32([40, 40, 200] if rng.random() < 0.5 else [170, 60, 20])
    out = np.float32([95, 150, 195]) * (1 - ink) + colour * ink
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    cx, cy = rng.uniform(0.3, 0.7, 2)
    r = np.sqrt(((xx / w - cx) ** 2) + ((yy / h - cy) ** 2))
    out *= (1 - rng.uniform(0.15, 0.3) * np.clip(r / 0.7, 0, 1) ** 2)[..., None]
    return np.clip(out + rng.normal(0, 4, out.shape), 0, 255).astype(np.uint8)


def _jpeg(img: Image, quality: int) -> Image:
    _ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)


def _salt_and_pepper(img: Image, rng: np.random.Generator) -> Image:
    out = img.copy()
    noise = rng.random(img.shape[:2])
    out[noise < 0.01] = 0
    out[noise > 0.99] = 255
    return out


def variants(rng: np.random.Generator) -> dict[str, Callable[[Image], Image]]:
    def sign() -> float:
        return float(rng.choice([-1.0, 1.0]))

    return {
        "none": lambda img: img,
        "rot3": lambda img: _rotate(img, sign() * rng.uniform(2, 3)),
        "rot6": lambda img: _rotate(img, sign() * rng.uniform(4, 6)),
        "rot10": lambda img: _rotate(img, sign() * rng.uniform(8, 10)),
        "rot15": lambda img: _rotate(img, sign() * rng.uniform(12, 15)),
        "rot25": lambda img: _rotate(img, sign() * rng.uniform(20, 25)),
        "quarter": lambda img: np.ascontiguousarray(np.rot90(img, int(rng.choice([1, 3])))),
        "upside": lambda img: np.ascontiguousarray(np.rot90(img, 2)),
        "half": lambda img: cv2.resize(img, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA),
        "x3": lambda img: cv2.resize(img, None, fx=3, fy=3, interpolation=cv2.INTER_CUBIC),
        "pixels2": lambda img: cv2.resize(img, None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST),
        "pixels1.75": lambda img: cv2.resize(
            img, None, fx=1.75, fy=1.75, interpolation=cv2.INTER_NEAREST
        ),
        "pixels3": lambda img: cv2.resize(img, None, fx=3, fy=3, interpolation=cv2.INTER_NEAREST),
        "jpeg25": lambda img: _jpeg(img, 25),
        "pencil": lambda img: (255 - (255 - img.astype(np.float32)) * rng.uniform(0.3, 0.5)).astype(
            np.uint8
        ),
        "blur2": lambda img: cv2.GaussianBlur(img, (0, 0), 2.0),
        "saltpepper": lambda img: _salt_and_pepper(img, rng),
        "vignette20": lambda img: _lighting(img, 0.2),
        "vignette33": lambda img: _lighting(img, 0.33),
        "vignette55": lambda img: _lighting(img, 0.55),
        "squared": lambda img: _paper(img, int(rng.integers(16, 30)), dots=False),
        "dotted": lambda img: _paper(img, int(rng.integers(14, 24)), dots=True),
        "inverted": lambda img: 255 - img,
        "desk": lambda img: _desk(img, rng),
        "whitetable": lambda img: _desk(img, rng, white=True),
        "shadow": lambda img: _shadow(img, rng),
        "crease": lambda img: _crease(img, rng),
        "kraft": lambda img: _kraft(img, rng),
        "glare": lambda img: _glare(img, rng),
    }


def variant(name: str, seed: int) -> Callable[[Image], Image]:
    """The variant `name`, drawing from its own generator: its images are the same whichever
    other variants run."""
    return variants(np.random.default_rng([seed, zlib.crc32(name.encode())]))[name]


def run_digits(
    client: TestClient, count: int, seed: int, names: list[str], kind: str = "rows"
) -> None:
    images, labels = mnist.load("t10k", ROOT / "tests/assets/mnist")
    sheets = digit_sheets.make_sheets(images, labels, kind, count, seed)
    print(f"| variant | {kind} sheets | exact-string accuracy |\n|---|---|---|")
    for name in names:
        right = 0
        change = variant(name, seed)
        for sheet in sheets:
            _ok, buf = cv2.imencode(".png", change(sheet.image))
            r = client.post("/digits", files={"file": ("s.png", buf.tobytes())})
            right += r.status_code == 200 and r.json()["text"] == sheet.text
        print(f"| {name} | {count} | {100 * right / count:.1f}% |", flush=True)


def run_lines(
    client: TestClient, count: int, seed: int, names: list[str], kind: str, page: int = 0
) -> None:
    from app.lines.charset import build_charset
    from bench.eval_lines import SETS, held_out_lines, held_out_pages
    from training.crnn import edit_distance
    from training.lines.sets import real_contexts

    contexts = real_contexts(ROOT / "data/sources", build_charset())
    if page:
        lines = held_out_pages(contexts[kind], SETS[kind], count, seed, page, False, False)
    else:
        lines = held_out_lines(contexts[kind], SETS[kind], count, seed)
    unit = f"pages of {page} {kind} lines" if page else f"{kind} lines"
    print(f"| variant | {unit} | CER |\n|---|---|---|")
    for name in names:
        errors = chars = 0
        change = variant(name, seed)
        for image, text in lines:
            bgr = image if image.ndim == 3 else cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
            _ok, buf = cv2.imencode(".png", change(bgr))
            r = client.post("/lines", files={"file": ("l.png", buf.tobytes())})
            got = r.json().get("text", "").replace("\n", " ") if r.status_code == 200 else ""
            errors += edit_distance(got, text)
            chars += len(text)
        print(f"| {name} | {count} | {100 * errors / chars:.2f}% |", flush=True)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("endpoint", choices=["digits", "lines"])
    p.add_argument("--count", type=int, default=None, help="sheets (200) or lines (60)")
    p.add_argument("--seed", type=int, default=2026)
    p.add_argument("--set", default="mixed", help="held-out set of lines (bench/eval_lines.py)")
    p.add_argument("--page", type=int, default=0, help="lines: pages of this many lines each")
    p.add_argument("--kind", default="rows", help="kind of digit sheets (digit_sheets.KINDS)")
    p.add_argument("--variants", nargs="+", default=list(variants(np.random.default_rng(0))))
    args = p.parse_args(argv)
    with TestClient(create_app()) as client:
        if args.endpoint == "digits":
            run_digits(client, args.count or 200, args.seed, args.variants, args.kind)
        else:
            run_lines(client, args.count or 60, args.seed, args.variants, args.set, args.page)


if __name__ == "__main__":
    main()
