"""Line text samplers."""

import re

import numpy as np

from app.lines.charset import build_charset
from tests.conftest import ASSETS
from training.lines.text import TextSampler

CHARSET = set(build_charset())


def sampler() -> TextSampler:
    return TextSampler(ASSETS / "jieba-mini.txt", CHARSET, min_freq=50)


def test_sampler_keeps_frequent_words_in_the_charset() -> None:
    s = sampler()
    assert "稀有" not in s.words  # below the frequency floor
    assert set(s.words) == {"订单", "号码", "日期", "qwerty"}


def test_every_sample_fits_the_charset_and_is_reproducible() -> None:
    s = sampler()
    texts = []
    for seed in (1, 1):
        rng = np.random.default_rng(seed)
        texts.append([f(rng) for f in (s.chinese, s.number, s.latin, s.mixed) for _ in range(20)])
    assert texts[0] == texts[1]
    for t in texts[0]:
        assert t and set(t) <= CHARSET


def test_numbers_come_in_real_formats() -> None:
    rng = np.random.default_rng(3)
    samples = [TextSampler.number(rng) for _ in range(300)]
    assert any(re.fullmatch(r"\d{4}年\d{1,2}月\d{1,2}日", t) for t in samples)
    assert any(re.fullmatch(r"¥\d+\.\d\d", t) for t in samples)
    assert any(re.fullmatch(r"1\d{10}", t) for t in samples)
    assert any(re.fullmatch(r"\d\d:\d\d", t) for t in samples)
