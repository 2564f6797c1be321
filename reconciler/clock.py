"""Time, injectable: everything that waits or reads the time takes a `Clock`.

`SystemClock` is the real one; its ``sleep_unless`` is the interruptible sleep (a cancel
wakes it at once, used for rate-window waits that may last an hour). `FakeClock` never
sleeps: ``sleep`` advances its time and records the duration, so tests assert on what would
have been slept.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Wall-clock time, epoch seconds (for timestamps people read)."""
        ...

    def monotonic(self) -> float:
        """Monotonic seconds (for intervals, deadlines and rate windows)."""
        ...

    def sleep(self, seconds: float) -> None: ...

    def sleep_unless(self, seconds: float, cancel: threading.Event) -> bool:
        """Sleep like `sleep`, but return early once ``cancel`` is set; True when it was."""
        ...


class SystemClock:
    def now(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)

    def sleep_unless(self, seconds: float, cancel: threading.Event) -> bool:
        # Event.wait wakes as soon as another thread (or a signal handler) sets it
        return cancel.wait(seconds) if seconds > 0 else cancel.is_set()


class FakeClock:
    """A clock that moves only when slept on or advanced; thread-safe."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = start
        self._mono = 0.0
        self._lock = threading.Lock()
        self.sleeps: list[float] = []

    def now(self) -> float:
        with self._lock:
            return self._now

    def monotonic(self) -> float:
        with self._lock:
            return self._mono

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            if seconds > 0:
                self._now += seconds
                self._mono += seconds

    def sleep_unless(self, seconds: float, cancel: threading.Event) -> bool:
        """Records the sleep like `sleep`, unless ``cancel`` is already set."""
        if cancel.is_set():
            return True
        self.sleep(seconds)
        return cancel.is_set()

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds
            self._mono += seconds
