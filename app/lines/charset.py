"""The line recogniser's character set: what a CRNN export stores in its metadata.

The service never hard-codes it (it reads the model's metadata); training builds it here so
that export and tests share one definition.
"""

DIGITS = "0123456789"
LATIN = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
ASCII_PUNCT = " !\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
CHINESE_PUNCT = "，。、；：？！“”‘’（）《》—…·¥"
BLANK = ""  # CTC blank, always class 0


def gb2312_level1() -> str:
    """The 3,755 level-1 (most common) GB2312 hanzi, in code order (rows 16-55)."""
    chars = []
    for hi in range(0xB0, 0xD8):
        for lo in range(0xA1, 0xFF):
            try:
                chars.append(bytes([hi, lo]).decode("gb2312"))
            except UnicodeDecodeError:
                continue  # row 55 ends at 0xD7F9
    return "".join(chars)


def build_charset() -> list[str]:
    """Class index -> character; index 0 is the CTC blank."""
    chars = [BLANK, *DIGITS, *LATIN, *ASCII_PUNCT, *CHINESE_PUNCT, *gb2312_level1()]
    if len(set(chars)) != len(chars):
        raise ValueError("charset has duplicates")
    return chars
