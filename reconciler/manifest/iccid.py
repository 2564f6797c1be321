"""ICCIDs: 19 or 20 digits, the last a Luhn check digit (ISO/IEC 7812)."""

from __future__ import annotations

_DOUBLED = str.maketrans("0123456789", "0246813579")  # d -> 2d, minus 9 when over 9


def _luhn_sum(digits: str, double_first: bool) -> int:
    """Luhn sum of ``digits`` read from the right; the rightmost is doubled if asked."""
    reverse = digits[::-1]
    kept, doubled = (
        (reverse[1::2], reverse[0::2]) if double_first else (reverse[0::2], reverse[1::2])
    )
    return sum(map(int, kept)) + sum(map(int, doubled.translate(_DOUBLED)))


def check_digit(body: str) -> str:
    """The Luhn check digit that completes ``body`` (digits only)."""
    return str((10 - _luhn_sum(body, double_first=True) % 10) % 10)


def luhn_valid(number: str) -> bool:
    """True when the last digit of ``number`` (digits only) is its Luhn check digit."""
    if number.isascii() and number.isdigit():
        return luhn_valid_digits(number)
    return _luhn_sum(number, double_first=False) % 10 == 0


_DOUBLED_BYTES = bytes.maketrans(b"0123456789", b"0246813579")


def luhn_valid_digits(number: str) -> bool:
    """`luhn_valid` for ASCII digits: digit sums as byte sums, in C (runs once per SIM)."""
    reverse = number[::-1].encode("ascii")
    kept, doubled = reverse[0::2], reverse[1::2].translate(_DOUBLED_BYTES)
    return (sum(kept) + sum(doubled) - 48 * len(reverse)) % 10 == 0


def with_check_digit(body: str) -> str:
    return body + check_digit(body)
