"""Counted words in messages: ``1 request``, ``2 requests``, ``1,000 SIMs``."""

from __future__ import annotations


def counted(n: int, singular: str, plural: str | None = None) -> str:
    """``n`` with thousands separators and the word in the number it needs."""
    word = singular if n == 1 else (plural if plural is not None else singular + "s")
    return f"{n:,} {word}"


__all__ = ["counted"]
