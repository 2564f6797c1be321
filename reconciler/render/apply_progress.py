"""Progress of an apply on stderr: a rich progress bar on a TTY, plain lines in CI logs.

Both implement `reconciler.reporting.Reporter`. The plain one prints a progress line at most
every ``interval`` seconds (and for wave boundaries and batch jobs), so a 10,000-SIM apply
leaves a readable log rather than 10,000 lines.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
from rich.progress import Progress as RichProgress

from reconciler.clock import Clock
from reconciler.reporting import Progress
from reconciler.wording import counted

_ALWAYS = ("wave", "batch job", "finished", "stopped")


def _budget(update: Progress) -> str:
    return "" if update.budget_left is None else f", {update.budget_left} left in the window"


class PlainApplyReporter:
    def __init__(self, stream: TextIO, clock: Clock, *, interval: float = 5.0) -> None:
        self.stream = stream
        self.clock = clock
        self.interval = interval
        self._last = float("-inf")
        self._lock = threading.Lock()

    def _line(self, text: str) -> None:
        with self._lock:
            self.stream.write(text + "\n")
            self.stream.flush()

    def info(self, message: str) -> None:
        self._line(message)

    def warn(self, message: str) -> None:
        self._line(f"Warning: {message}")

    def waiting(self, seconds: float, reason: str) -> None:
        """The client waits for the rate window to reset (its ``on_wait``)."""
        self._line(f"rate limit: waiting {seconds:.1f}s for the window to reset ({reason})")

    def progress(self, update: Progress) -> None:
        now = self.clock.monotonic()
        important = any(word in update.message for word in _ALWAYS) or update.waiting_seconds > 0
        with self._lock:
            if not important and now - self._last < self.interval:
                return
            self._last = now
        self._line(
            f"[{update.steps_done}/{update.steps_total} steps, {update.sims_done}/"
            f"{update.sims_total} SIMs, {counted(update.requests_spent, 'request')}"
            f"{_budget(update)}] "
            f"{update.message}".rstrip()
        )


class RichApplyReporter:
    """A live bar (SIMs done of total, requests, budget left, waits); use as a context manager:
    the bar appears with the first progress update and is stopped on exit."""

    def __init__(self, stream: TextIO, *, width: int | None = None) -> None:
        self.console = Console(file=stream, width=width)
        self._bar = RichProgress(
            TextColumn("[bold]{task.description}"),
            BarColumn(bar_width=30),
            MofNCompleteColumn(),
            TextColumn("SIMs"),
            TextColumn("{task.fields[detail]}"),
            TimeElapsedColumn(),
            console=self.console,
            transient=False,
        )
        self._task = self._bar.add_task("apply", total=None, detail="")
        # started on the first update, so the plan and the approval prompt print undisturbed
        self._started = False
        self._last: Progress | None = None

    def __enter__(self) -> RichApplyReporter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._started:
            self._bar.stop()
            self._started = False

    def info(self, message: str) -> None:
        self._bar.console.print(message, markup=False, highlight=False)

    def warn(self, message: str) -> None:
        self._bar.console.print(f"Warning: {message}", style="yellow", markup=False)

    def waiting(self, seconds: float, reason: str) -> None:
        """The client waits for the rate window to reset: shown in the bar until the next
        update, and as a line above it."""
        self.info(f"rate limit: waiting {seconds:.1f}s for the window to reset ({reason})")
        if self._last is not None:
            self.progress(replace(self._last, waiting_seconds=seconds))

    def progress(self, update: Progress) -> None:
        if update.waiting_seconds == 0:
            self._last = update
        detail = (
            f"steps {update.steps_done}/{update.steps_total} · "
            f"{counted(update.requests_spent, 'request')}"
            f"{_budget(update)}"
        )
        if update.waiting_seconds > 0:
            detail += f" · waiting {update.waiting_seconds:.0f}s for the rate limit"
        elif update.message:
            detail += f" · {update.message}"
        if not self._started:
            self._bar.start()
            self._started = True
        self._bar.update(
            self._task, total=update.sims_total, completed=update.sims_done, detail=detail
        )
