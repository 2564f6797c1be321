"""What a renderer takes and gives: its options and its `Output` (the registry's vocabulary,
apart from the registry so the entries and the registry both build on it)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Write = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class RenderOptions:
    color: bool = False  # text: ANSI colours
    width: int = 100  # text: the terminal's columns
    verbose: bool = False  # plan text: every SIM of every step, nothing folded
    managed: int | None = None  # drift: declared SIMs found in the account ("No drift" counts)


@dataclass(frozen=True, slots=True)
class Output:
    stdout: str = ""
    stderr: str = ""
    summary: str | None = None  # github: markdown appended to $GITHUB_STEP_SUMMARY


Renderer = Callable[[Any, RenderOptions], Output]
