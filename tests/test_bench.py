"""bench/robustness.py: each variant gives an image the service can read, as described."""

import numpy as np

from bench.robustness import variants


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
