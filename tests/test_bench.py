"""bench/robustness.py and bench/eval_digits.py: variants the service can read, refusals counted."""

import numpy as np

from bench.robustness import variant, variants


def test_every_variant_gives_a_bgr_image(t10k) -> None:
    images, _labels = t10k
    page = np.full((80, 160, 3), 255, np.uint8)
    page[20:48, 20:48] = 255 - images[0][..., None]
    for name, change in variants(np.random.default_rng(0)).items():
        out = change(page)
        assert out.dtype == np.uint8 and out.ndim == 3 and out.shape[2] == 3, name
        assert int(out.max()) - int(out.min()) > 60, name  # ink and paper still apart
    change = variants(np.random.default_rng(0))
    assert (change["none"](page) == page).all()
    assert (change["inverted"](page) == 255 - page).all()
    assert change["half"](page).shape[:2] == (40, 80)
    assert change["vignette55"](page)[0, 0].max() < 64  # the corners darkened


def test_a_variant_draws_the_same_whichever_others_run() -> None:
    page = np.full((60, 200, 3), 255, np.uint8)
    page[20:40, 30:170] = 0
    first = variant("desk", 7)(page)
    for other in ("rot3", "saltpepper", "whitetable"):
        variant(other, 7)(page)
    assert np.array_equal(variant("desk", 7)(page), first)
    assert not np.array_equal(variant("desk", 8)(page), first)


def test_digit_eval_counts_a_refused_image_as_wrong_instead_of_stopping() -> None:
    from fastapi.testclient import TestClient

    from app.core.config import Settings
    from app.main import create_app
    from bench import eval_digits

    with TestClient(create_app(Settings(max_digits=1))) as client:
        accuracy, times, refused = eval_digits.evaluate(client, "spaced", 3, seed=1)
    assert (accuracy, refused, len(times)) == (0.0, 3, 3)
    with TestClient(create_app()) as client:
        accuracy, times, refused = eval_digits.evaluate(client, "spaced", 3, seed=1)
    assert refused == 0 and accuracy > 0
