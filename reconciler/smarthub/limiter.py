"""A thread-safe request limiter fed by the server's ``X-RateLimit-*`` headers.

The server knows the budget better than any client-side guess, so the limiter trusts it:

- Before each request a caller `acquire`s a slot. The slot is granted while the last known
  ``remaining`` minus the requests already in flight is positive, so N threads sharing one
  client never all spend the last token.
- When that budget is spent, the caller sleeps (on the injected clock) until the window resets,
  reporting the wait once through ``on_wait(seconds, reason)``; other callers wait for it.
  ``reason`` is the request that waits (``"GET /v1/global-sims"``), with ``", after a 429"``
  when a 429 rather than the headers said the window was spent. Backoff sleeps (`wait`) are
  counted in ``waited_seconds`` but not reported: ``on_wait`` means "waiting for the rate
  window".
- Before the first answer one request at a time goes through to learn the budget; the others
  wait for its answer. A server that answers without the headers is not paced at all (only
  its 429s are), rather than serialising every request for ever.
- Once the reset time has passed, the window is assumed full again (``remaining = limit``) until
  the next answer says otherwise.
- Answers may arrive out of order; within one window ``remaining`` only goes down (the smaller
  of what we knew and what the server says), so a stale answer cannot hand out tokens twice.
- The window's *length* is learnt, not assumed: an answer with ``remaining`` at the top
  (``limit - 1``: the first request of a fresh window) has a Reset of the whole window; the
  largest such Reset is `RateBudget.window_seconds`. Every Reset is also a lower bound
  (`RateBudget.longest_reset`). The planner's duration estimate uses them (see
  `reconciler.planner.rate_window`).

After a request the caller `release`s the slot with the headers' values (or None). A 429 is
reported with `exhausted`, which marks the budget spent until the reset.

Cancellation: with a ``cancel`` event (set by the CLI's Ctrl+C handler), every wait is
interruptible: the window wait returns at once when the event is set, threads waiting on the
condition look again within ``_CONDITION_POLL``, and `acquire` raises `Cancelled` instead of
granting a slot, so nothing more is sent once a run is cancelled (requests already on the wire
finish).

Waiting between threads uses a `threading.Condition` (woken by `release`), never the clock: the
clock's ``sleep`` is used only for the one wait until the window resets, so tests with a
`FakeClock` assert on ``clock.sleeps``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from reconciler.clock import Clock
from reconciler.errors import Cancelled
from reconciler.model import RateBudget

OnWait = Callable[[float, str], None]

# Real seconds a waiting thread blocks on the condition before looking again: a safety net
# against a lost wake-up, not a pacing mechanism.
_CONDITION_POLL = 0.5


class RateLimiter:
    def __init__(
        self,
        clock: Clock,
        *,
        on_wait: OnWait | None = None,
        cancel: threading.Event | None = None,
    ) -> None:
        self._clock = clock
        self._cancel = cancel
        self._on_wait = on_wait
        self._cond = threading.Condition()
        self._limit: int | None = None
        self._remaining: int | None = None  # None: not heard from the server yet
        self._reset_at = 0.0  # monotonic time the current window ends
        self._in_flight = 0
        self._sleeper = False  # one thread sleeps for the reset; the others wait for it
        self._headerless = False  # the server answered without X-RateLimit-*: do not pace
        self._after_429 = False  # the current "spent" came from a 429, not from the headers
        self._budget: RateBudget | None = None
        self._window: float | None = None  # learnt window length (see the module docstring)
        self._longest_reset = 0.0
        self.waited_seconds = 0.0
        self.rate_waited_seconds = 0.0  # the part spent waiting for the window to reset
        self.waits = 0

    # --- what we know -----------------------------------------------------------------------

    def budget(self) -> RateBudget | None:
        with self._cond:
            return self._budget

    @property
    def in_flight(self) -> int:
        with self._cond:
            return self._in_flight

    def _refresh(self, now: float) -> None:
        """A window whose reset time has passed is full again."""
        if self._remaining is not None and self._limit is not None and now >= self._reset_at:
            self._remaining = self._limit
            # the next window's end is unknown until the server says; keep it "passed"

    # --- the protocol -------------------------------------------------------------------------

    def acquire(self, what: str = "request") -> None:
        """Block until a request may be sent, then count it as in flight.

        Raises `Cancelled` (and counts nothing) once the run is cancelled."""
        while True:
            self._check_cancel()
            sleep_for = 0.0
            with self._cond:
                now = self._clock.monotonic()
                self._refresh(now)
                if self._remaining is None:
                    if self._in_flight == 0 or self._headerless:  # nobody is learning: we do
                        self._in_flight += 1
                        return
                    self._cond.wait(_CONDITION_POLL)
                    continue
                if self._remaining - self._in_flight > 0:
                    self._in_flight += 1
                    return
                if self._in_flight > 0 or self._sleeper:
                    # an answer (or the sleeper) will tell us more
                    self._cond.wait(_CONDITION_POLL)
                    continue
                sleep_for = max(self._reset_at - now, 0.0)
                if sleep_for <= 0:
                    # spent, with the reset already due: trust the window to be fresh
                    self._remaining = self._limit if self._limit else 1
                    continue
                self._sleeper = True
            try:
                reason = f"{what}, after a 429" if self._after_429 else what
                self._sleep(sleep_for, reason, report=True)
            finally:
                with self._cond:
                    self._sleeper = False
                    self._after_429 = False
                    self._cond.notify_all()

    def release(self, headers: tuple[int, int, float] | None, *, answered: bool = True) -> None:
        """The request is over; ``headers`` = (limit, remaining, reset seconds) when it had them.

        ``answered=False``: no response at all (connection error), so nothing was learnt.
        """
        with self._cond:
            self._in_flight = max(self._in_flight - 1, 0)
            if headers is not None:
                self._observe(*headers)
            elif answered and self._remaining is None:
                self._headerless = True
            self._cond.notify_all()

    def exhausted(self, reset_seconds: float) -> None:
        """A 429 said the budget is spent until ``reset_seconds`` from now."""
        with self._cond:
            now = self._clock.monotonic()
            self._remaining = 0
            self._reset_at = now + max(reset_seconds, 0.0)
            self._after_429 = True
            if self._limit is None:
                self._limit = 1
            self._cond.notify_all()

    def wait(self, seconds: float, reason: str) -> None:
        """Sleep for a reason the caller decided (backoff): counted, not reported to on_wait."""
        self._sleep(seconds, reason, report=False)

    # --- internals ----------------------------------------------------------------------------

    def _check_cancel(self) -> None:
        if self._cancel is not None and self._cancel.is_set():
            raise Cancelled("interrupted: no further request is sent")

    def _observe(self, limit: int, remaining: int, reset_seconds: float) -> None:
        now = self._clock.monotonic()
        reset_at = now + reset_seconds
        same_window = self._remaining is not None and now < self._reset_at
        if same_window and self._remaining is not None:
            remaining = min(remaining, self._remaining)
        if reset_seconds > 0 and remaining >= limit - 1:  # the first answer of a fresh window
            self._window = max(self._window or 0.0, reset_seconds)
        self._longest_reset = max(self._longest_reset, reset_seconds)
        self._limit = limit
        self._remaining = remaining
        self._reset_at = reset_at
        self._budget = RateBudget(
            limit=limit,
            remaining=remaining,
            reset_seconds=reset_seconds,
            observed_at=now,
            window_seconds=self._window,
            longest_reset=self._longest_reset,
        )

    def _sleep(self, seconds: float, reason: str, *, report: bool) -> None:
        if seconds <= 0:
            return
        if report and self._on_wait is not None:
            self._on_wait(seconds, reason)
        if self._cancel is None:
            self._clock.sleep(seconds)
        else:
            started = self._clock.monotonic()
            if self._clock.sleep_unless(seconds, self._cancel):
                with self._cond:
                    self.waited_seconds += self._clock.monotonic() - started
                raise Cancelled(f"interrupted while waiting {seconds:.0f}s ({reason})")
        with self._cond:
            self.waited_seconds += seconds
            if report:
                self.rate_waited_seconds += seconds
            self.waits += 1
