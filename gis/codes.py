"""全国地方公共団体コード (local government codes): check digit and normalisation."""

from __future__ import annotations

_WEIGHTS = (6, 5, 4, 3, 2)


def _is_ascii_digits(text: str) -> bool:
    # str.isdigit alone would accept full-width and other Unicode digits.
    return text.isascii() and text.isdigit()


def check_digit(code5: str) -> str:
    """Return the check digit of a 5-digit code (weights 6,5,4,3,2; (11 - S mod 11) mod 10)."""
    if len(code5) != 5 or not _is_ascii_digits(code5):
        raise ValueError(f"a check digit needs a 5-digit code, got {code5!r}")
    total = sum(int(digit) * weight for digit, weight in zip(code5, _WEIGHTS, strict=True))
    return str((11 - total % 11) % 10)


def normalize_municipality_code(code: str | int) -> str:
    """Return the 6-digit code: a 5-digit code gets its check digit, a 6-digit one is verified."""
    if isinstance(code, bool):
        raise ValueError(f"municipality code must be 5 or 6 digits, got {code!r}")
    if isinstance(code, int):
        if code < 0:
            raise ValueError(f"municipality code must be 5 or 6 digits, got {code}")
        # An int has lost the leading zero of Hokkaido codes (01xxx): 1101 means 01101.
        text = f"{code:05d}"
    elif isinstance(code, str):
        text = code.strip()
    else:
        raise ValueError(f"municipality code must be a string of digits, got {type(code).__name__}")
    if not _is_ascii_digits(text):
        raise ValueError(f"municipality code must contain only digits 0-9, got {code!r}")
    if len(text) == 5:
        return text + check_digit(text)
    if len(text) == 6:
        expected = check_digit(text[:5])
        if text[5] != expected:
            raise ValueError(
                f"municipality code {text} has check digit {text[5]}, expected {expected} "
                f"({text[:5]}{expected})"
            )
        return text
    raise ValueError(f"municipality code must be 5 or 6 digits, got {len(text)} digits ({code!r})")
