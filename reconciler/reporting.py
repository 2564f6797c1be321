"""How the core speaks to people without printing: a `Reporter` is passed in.

The CLI builds one that writes to stderr (`LineReporter`; apply's progress is rich on a TTY,
plain lines in CI logs); tests use
`RecordingReporter` and assert on what was said.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from reconciler.wording import counted


@dataclass(frozen=True, slots=True)
class Progress:
    """A snapshot of an apply in flight."""

    steps_done: int
    steps_total: int
    sims_done: int
    sims_total: int
    requests_spent: int
    budget_left: int | None = None  # server's X-RateLimit-Remaining, or the --budget left
    waiting_seconds: float = 0.0  # > 0 while waiting for the rate window to reset
    message: str = ""


class Reporter(Protocol):
    def info(self, message: str) -> None: ...

    def warn(self, message: str) -> None: ...

    def progress(self, update: Progress) -> None: ...


class NullReporter:
    def info(self, message: str) -> None:
        pass

    def warn(self, message: str) -> None:
        pass

    def progress(self, update: Progress) -> None:
        pass


@dataclass
class RecordingReporter:
    infos: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    updates: list[Progress] = field(default_factory=list)

    def info(self, message: str) -> None:
        self.infos.append(message)

    def warn(self, message: str) -> None:
        self.warnings.append(message)

    def progress(self, update: Progress) -> None:
        self.updates.append(update)


class LineReporter:
    """Plain lines through ``write_line`` (the CLI's: stderr); commands with progress bars swap
    in a richer one."""

    def __init__(self, write_line: Callable[[str], None], verbose: bool = False) -> None:
        self._write = write_line
        self.verbose = verbose

    def info(self, message: str) -> None:
        self._write(message)

    def warn(self, message: str) -> None:
        self._write(f"Warning: {message}")

    def progress(self, update: Progress) -> None:
        head = (
            f"[{update.steps_done}/{update.steps_total} steps, "
            f"{update.sims_done}/{update.sims_total} SIMs, "
            f"{counted(update.requests_spent, 'request')}]"
        )
        self._write(f"{head} {update.message}".rstrip())
