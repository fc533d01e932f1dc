"""What people write on forms and notes: text samplers for synthetic lines.

Chinese words are drawn by frequency from jieba's bundled dictionary (fetched once with pip,
verified by sha256); numbers come in real formats; Latin words and codes; mixed lines.
"""

from pathlib import Path

import numpy as np

from training.registry import fetch_member

JIEBA = "jieba==0.42.1"
JIEBA_SHA256 = "055ca12f62674fafed09427f176506079bc135638a14e23e25be909131928db2"
LATIN_WORDS = [
    "Room",
    "Floor",
    "Unit",
    "Total",
    "Date",
    "Name",
    "Order",
    "Item",
    "Invoice",
    "Paid",
    "Due",
    "Note",
    "Call",
    "Email",
    "Phone",
    "Street",
    "Road",
    "Apt",
    "Box",
    "Code",
    "Ref",
    "No",
    "Qty",
    "Price",
    "Sum",
    "Cash",
    "Card",
    "Bank",
    "Account",
    "Shop",
    "Store",
    "Table",
    "Desk",
    "Page",
    "Line",
    "Part",
    "Model",
    "Serial",
    "Batch",
    "Lot",
    "Zone",
    "Gate",
    "Seat",
    "Row",
    "Block",
    "Level",
    "Exit",
    "North",
    "South",
    "East",
    "West",
    "Meeting",
    "Monday",
    "Friday",
    "March",
    "April",
    "June",
    "August",
    "Office",
    "Hotel",
    "Station",
    "Airport",
    "Flight",
    "Train",
]


def fetch_jieba_dict(cache: Path) -> Path:
    """jieba's dict.txt (word, frequency, tag per line), from its verified sdist."""
    return fetch_member(
        JIEBA,
        JIEBA_SHA256,
        wheel=False,
        suffix="jieba/dict.txt",
        target=Path(cache) / "jieba-dict.txt",
    )


class TextSampler:
    """Deterministic (by rng) sampler of line texts restricted to a character set."""

    def __init__(self, dict_path: Path, charset: set[str], min_freq: int = 50) -> None:
        words, freqs = [], []
        for line in Path(dict_path).read_text(encoding="utf-8").splitlines():
            parts = line.split(" ")
            if len(parts) >= 2 and int(parts[1]) >= min_freq and set(parts[0]) <= charset:
                words.append(parts[0])
                freqs.append(int(parts[1]))
        self.words = words
        # Flatten the Zipf curve (power 0.5) so rarer characters are seen often enough.
        p = np.asarray(freqs, np.float64) ** 0.5
        self.p = p / p.sum()

    def chinese(self, rng: np.random.Generator, max_chars: int = 12) -> str:
        out = ""
        while len(out) < rng.integers(2, max_chars + 1):
            out += self.words[rng.choice(len(self.words), p=self.p)]
        return out[:max_chars]

    @staticmethod
    def number(rng: np.random.Generator) -> str:
        kind = rng.integers(0, 7)
        if kind == 0:
            return f"{rng.integers(1990, 2036)}年{rng.integers(1, 13)}月{rng.integers(1, 29)}日"
        if kind == 1:
            return f"{rng.integers(1990, 2036)}-{rng.integers(1, 13):02d}-{rng.integers(1, 29):02d}"
        if kind == 2:
            return f"{rng.integers(0, 24):02d}:{rng.integers(0, 60):02d}"
        if kind == 3:
            return f"¥{rng.integers(0, 100000)}.{rng.integers(0, 100):02d}"
        if kind == 4:
            return "1" + "".join(str(d) for d in rng.integers(0, 10, 10))  # mobile number
        if kind == 5:
            return "".join(str(d) for d in rng.integers(0, 10, rng.integers(4, 12)))
        return f"{rng.integers(1, 1000)}"

    @staticmethod
    def latin(rng: np.random.Generator) -> str:
        kind = rng.integers(0, 3)
        if kind == 0:
            word = str(rng.choice(LATIN_WORDS))
            return word.lower() if rng.random() < 0.4 else word
        if kind == 1:  # codes: A12345, XK-204
            letters = "".join(chr(65 + int(c)) for c in rng.integers(0, 26, rng.integers(1, 3)))
            sep = "-" if rng.random() < 0.3 else ""
            return letters + sep + "".join(str(d) for d in rng.integers(0, 10, rng.integers(2, 6)))
        return f"{rng.choice(LATIN_WORDS)} {rng.integers(1, 999)}"

    def mixed(self, rng: np.random.Generator) -> str:
        parts = []
        for _ in range(rng.integers(2, 4)):
            pick = rng.integers(0, 3)
            parts.append(
                self.chinese(rng, 6)
                if pick == 0
                else self.number(rng)
                if pick == 1
                else self.latin(rng)
            )
        return " ".join(parts) if rng.random() < 0.5 else "".join(parts)
