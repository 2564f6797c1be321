"""Shrink to fit: render with the most generous limits that stay under a size limit.

GitHub refuses a comment or an issue body over 65,536 characters. The plan's and the drift's
markdown renderers each try their levels of limits in order (every SIM named first, fewer
after) and keep the first text that fits; if even the smallest does not, the text is cut at a
line boundary and ends with ``note`` saying where the rest is.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

Limits = TypeVar("Limits")


def shrink_to_fit(
    render: Callable[[Limits, bool], str],
    levels: Sequence[Limits],
    *,
    max_chars: int,
    note: str,
    skip: Callable[[Limits], bool] = lambda limits: False,
) -> str:
    """``render(limits, shortened)`` at each level of ``levels`` until one fits ``max_chars``;
    a level ``skip`` says cannot fit is not built. ``shortened`` is true past the first level."""
    text = ""
    for level, limits in enumerate(levels):
        if skip(limits):
            continue
        text = render(limits, level > 0)
        if len(text) <= max_chars:
            return text
    cut = text[: max(0, max_chars - len(note))]
    cut = cut[: cut.rfind("\n")] if "\n" in cut else cut
    return cut + note
