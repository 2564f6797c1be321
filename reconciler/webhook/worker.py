"""The check queue and its worker: a burst of events for one SIM becomes one re-read.

`CheckQueue` holds at most one pending check per SIM. The first event for a SIM starts a short
debounce (`debounce_seconds`, measured from that first event, so a steady stream cannot starve
it); later events for the same SIM fold into the pending check until the worker takes it. An
event arriving while its SIM is being checked makes a new pending check: the read in flight may
have happened before the change the event announces.

`CheckWorker` is one thread: checks run one at a time, so the API sees at most one request in
flight from the receiver and the client's rate limiter paces it. A check that fails with a
transient API error (transport, 5xx, 429) is retried after `retry_delay_seconds`, at most
`max_attempts` times; other failures are logged and dropped (the scheduled ``fleetform drift``
run is the backstop).
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from reconciler.clock import Clock
from reconciler.errors import FleetformError, QueueFull, RateLimited, ServerError, TransportError
from reconciler.reporting import Reporter
from reconciler.webhook.check import DriftRecord
from reconciler.webhook.metrics import Metrics


@dataclass(frozen=True, slots=True)
class PendingCheck:
    giccid: str
    due: float  # monotonic seconds
    first_event_at: float  # wall-clock epoch seconds of the first event folded in
    events: int = 1
    event_types: frozenset[str] = frozenset()
    attempt: int = 1


class CheckQueue:
    def __init__(
        self,
        *,
        debounce_seconds: float = 0.5,
        max_pending: int = 100_000,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.debounce_seconds = debounce_seconds
        self.max_pending = max_pending
        self._monotonic = monotonic
        self._wall = wall
        self._pending: dict[str, PendingCheck] = {}  # insertion order = arrival order
        self._cond = threading.Condition()
        self._closed = False

    def put(self, giccid: str, event_type: str = "") -> bool:
        """Queue a check of ``giccid``; False when it folded into one already pending."""
        with self._cond:
            current = self._pending.get(giccid)
            if current is not None:
                self._pending[giccid] = dataclasses.replace(
                    current,
                    events=current.events + 1,
                    event_types=current.event_types | {event_type},
                )
                return False
            if len(self._pending) >= self.max_pending:
                raise QueueFull(f"{len(self._pending)} SIMs are already waiting for a check")
            self._pending[giccid] = PendingCheck(
                giccid=giccid,
                due=self._monotonic() + self.debounce_seconds,
                first_event_at=self._wall(),
                event_types=frozenset({event_type}),
            )
            self._cond.notify()
            return True

    def can_accept(self, giccid: str) -> bool:
        """Would `put` succeed? (It folds into a pending check, or there is room.)"""
        with self._cond:
            return giccid in self._pending or len(self._pending) < self.max_pending

    def retry(self, check: PendingCheck, delay: float) -> None:
        """Put a failed check back, due after ``delay``, unless a newer one is pending."""
        with self._cond:
            if check.giccid not in self._pending:
                self._pending[check.giccid] = dataclasses.replace(
                    check, due=self._monotonic() + delay, attempt=check.attempt + 1
                )
                self._cond.notify()

    def take(self, timeout: float | None = None) -> PendingCheck | None:
        """Block until the oldest pending check is due; None on close or timeout."""
        deadline = None if timeout is None else self._monotonic() + timeout
        with self._cond:
            while not self._closed:
                due = self._next_due_locked()
                now = self._monotonic()
                if due is not None and due.due <= now:
                    del self._pending[due.giccid]
                    return due
                wait = None if due is None else due.due - now
                if deadline is not None:
                    left = deadline - now
                    if left <= 0:
                        return None
                    wait = left if wait is None else min(wait, left)
                self._cond.wait(wait)
            return None

    def take_all(self) -> list[PendingCheck]:
        """Every pending check, due or not (tests and shutdown)."""
        with self._cond:
            taken = list(self._pending.values())
            self._pending.clear()
            return taken

    def _next_due_locked(self) -> PendingCheck | None:
        # Arrival order with a fixed debounce is due order, except for retries: scan for the
        # minimum. The queue is bounded and usually tiny.
        return min(self._pending.values(), key=lambda c: c.due, default=None)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def __len__(self) -> int:
        with self._cond:
            return len(self._pending)


class ReadPacer:
    """Caps the API reads the receiver spends: a token bucket of ``per_hour`` reads an hour,
    at most ``burst`` at once. The account's 5000 requests an hour are shared with plan,
    apply and drift runs; a storm of pushes must not eat them. While the worker waits here,
    further events for pending SIMs keep folding into the checks already queued.
    ``per_hour=None`` leaves pacing to the client's rate limiter alone.
    """

    def __init__(self, per_hour: int | None, clock: Clock, *, burst: int = 50) -> None:
        if per_hour is not None and per_hour <= 0:
            raise ValueError("per_hour must be positive")
        self.per_hour = per_hour
        self._clock = clock
        self.burst = burst if per_hour is None else max(1, min(burst, per_hour))
        self._tokens = float(self.burst)
        self._at = clock.monotonic()

    def acquire(self) -> float:
        """Take one read; sleeps (on the clock) until one is available. Returns the wait."""
        if self.per_hour is None:
            return 0.0
        rate = self.per_hour / 3600.0
        now = self._clock.monotonic()
        self._tokens = min(float(self.burst), self._tokens + (now - self._at) * rate)
        self._at = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return 0.0
        wait = (1.0 - self._tokens) / rate
        self._clock.sleep(wait)
        self._tokens = 0.0
        self._at = self._clock.monotonic()
        return wait


Check = Callable[[str], DriftRecord | None]
DriftHandler = Callable[[DriftRecord], None]

_TRANSIENT = (TransportError, ServerError, RateLimited)


class CheckWorker:
    """Drains a `CheckQueue`, calling ``check(giccid)`` and handing drift to ``on_drift``."""

    def __init__(
        self,
        queue: CheckQueue,
        check: Check,
        on_drift: DriftHandler,
        *,
        metrics: Metrics,
        reporter: Reporter,
        retry_delay_seconds: float = 30.0,
        max_attempts: int = 3,
        pacer: ReadPacer | None = None,
    ) -> None:
        self.queue = queue
        self._pacer = pacer
        self._check = check
        self._on_drift = on_drift
        self._metrics = metrics
        self._reporter = reporter
        self.retry_delay_seconds = retry_delay_seconds
        self.max_attempts = max_attempts
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="fleetform-webhook-worker")
        self._thread.daemon = True
        self._thread.start()

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout: float = 10.0) -> None:
        """Finish the check in flight, then stop; checks still pending are dropped (logged)."""
        self.queue.close()
        if self._thread is not None:
            self._thread.join(timeout)
        left = self.queue.take_all()
        if left:
            self._reporter.warn(f"webhook: {len(left)} pending SIM check(s) dropped on shutdown")

    def run_pending(self) -> int:
        """Run every pending check now, in this thread (tests); returns how many ran."""
        taken = self.queue.take_all()
        for item in taken:
            self.process(item)
        return len(taken)

    def _run(self) -> None:
        while True:
            # The read is paid for before the SIM leaves the queue, so events arriving during
            # a wait still fold into its pending check.
            if self._pacer is not None:
                self._pacer.acquire()
            item = self.queue.take()
            if item is None:
                return
            self.process(item)

    def process(self, item: PendingCheck) -> DriftRecord | None:
        try:
            record = self._check(item.giccid)
        except _TRANSIENT as exc:
            self._metrics.checked(drift=False, error=True)
            if item.attempt < self.max_attempts:
                self._reporter.warn(
                    f"webhook: check of {item.giccid} failed ({exc}); retrying in "
                    f"{self.retry_delay_seconds:g} s"
                )
                self.queue.retry(item, self.retry_delay_seconds)
            else:
                self._reporter.warn(
                    f"webhook: check of {item.giccid} failed ({exc}); giving up after "
                    f"{item.attempt} attempts"
                )
            return None
        except FleetformError as exc:
            self._metrics.checked(drift=False, error=True)
            self._reporter.warn(f"webhook: check of {item.giccid} failed: {exc}")
            return None
        except Exception as exc:  # the worker must outlive a bug in one check
            self._metrics.checked(drift=False, error=True)
            self._reporter.warn(
                f"webhook: check of {item.giccid} crashed: {type(exc).__name__}: {exc}"
            )
            return None
        self._metrics.checked(drift=record is not None)
        if record is None:
            return None
        record = dataclasses.replace(
            record,
            events=item.events,
            event_types=tuple(sorted(t for t in item.event_types if t)),
            first_event_at=item.first_event_at,
        )
        try:
            self._on_drift(record)
        except Exception as exc:  # a full disk must not kill the worker
            self._reporter.warn(f"webhook: could not record drift of {item.giccid}: {exc}")
        return record
