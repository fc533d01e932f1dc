"""The training split and the held-out evaluation sets, each tied to its own sources.

Held-out sets use only reserved sources: the evaluation fonts and MNIST t10k digits.
"""

from pathlib import Path

from training import mnist
from training.lines import fonts
from training.lines.compose import GlyphSources
from training.lines.sources import fetch_hanzi
from training.lines.text import TextSampler, fetch_jieba_dict


def real_contexts(cache: Path, charset: list[str], extended: bool = False) -> dict[str, dict]:
    """{'train': ..., 'digits': ..., 'latin': ..., 'chinese': ..., 'mixed': ...} render contexts.
    `extended` adds the later training fonts (held-out sets are the same either way)."""
    sampler = TextSampler(fetch_jieba_dict(cache), set(charset))
    hanzi = fetch_hanzi(cache)
    train_images, train_labels = mnist.load("train")
    test_images, test_labels = mnist.load("t10k")
    latin = fonts.fetch_pypi_fonts(fonts.PYPI_TRAIN, cache)
    latin += fonts.debian_fonts(fonts.DEBIAN_TRAIN_LATIN)
    if extended:
        latin += fonts.fetch_pypi_fonts(fonts.PYPI_TRAIN_MORE, cache)
        latin += fonts.debian_fonts(fonts.DEBIAN_TRAIN_LATIN_MORE)
    train_sources = GlyphSources(
        latin_fonts=latin,
        chinese_fonts=fonts.debian_fonts(fonts.DEBIAN_TRAIN_CHINESE),
        hanzi_root=hanzi,
        mnist_images=train_images,
        mnist_labels=train_labels,
    )
    eval_fonts = fonts.fetch_pypi_fonts(fonts.PYPI_EVAL, cache) + fonts.debian_fonts(
        fonts.DEBIAN_EVAL
    )
    eval_sources = GlyphSources(
        latin_fonts=eval_fonts,
        chinese_fonts=eval_fonts,
        hanzi_root=None,
        mnist_images=test_images,
        mnist_labels=test_labels,
    )
    # Every digit from MNIST t10k; the fonts draw only separators such as '-', ':' and '年'.
    digits_only = GlyphSources(
        latin_fonts=eval_fonts, mnist_images=test_images, mnist_labels=test_labels, digit_share=1.0
    )
    return {
        # Chinese twice as often: 3,755 classes need far more samples than 10 digits.
        "train": {
            "sampler": sampler,
            "sources": train_sources,
            "kinds": ("chinese", "chinese", "mixed", "number", "latin"),
        },
        "digits": {"sampler": sampler, "sources": digits_only, "kinds": ("number",)},
        "latin": {"sampler": sampler, "sources": eval_sources, "kinds": ("latin",)},
        "chinese": {"sampler": sampler, "sources": eval_sources, "kinds": ("chinese",)},
        "mixed": {"sampler": sampler, "sources": eval_sources, "kinds": ("mixed",)},
    }
