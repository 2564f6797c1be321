"""Ctrl+C for long runs: a SIGINT sets a cancel event before Python raises KeyboardInterrupt.

A plain KeyboardInterrupt reaches only the main thread. Apply's worker threads may be sleeping
until the rate window resets (on the real API up to an hour) or be about to send their next
request; they see the event instead: their waits end at once and no request is sent after it
(`reconciler.smarthub.limiter`). The main thread still gets its KeyboardInterrupt, so the
applier records the stop in the journal and the CLI says how to resume.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


@contextmanager
def cancel_on_interrupt(cancel: threading.Event) -> Iterator[threading.Event]:
    """Within the block a SIGINT sets ``cancel``, then interrupts the main thread as usual.

    Outside the main thread (signals cannot be handled there) or when SIGINT is ignored (a
    background job of a non-interactive shell), nothing is installed.
    """
    if threading.current_thread() is not threading.main_thread():
        yield cancel
        return
    previous = signal.getsignal(signal.SIGINT)
    if previous is signal.SIG_IGN:
        yield cancel
        return

    def handle(signum: int, frame: FrameType | None) -> None:
        cancel.set()
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, handle)
    try:
        yield cancel
    finally:
        signal.signal(signal.SIGINT, previous)
