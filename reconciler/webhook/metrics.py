"""The receiver's counters, rendered in the Prometheus text exposition format (0.0.4).

Written by hand rather than with prometheus_client: a dozen counters do not justify a
dependency, and the format is a few lines of text.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class MetricsSnapshot:
    received: int
    accepted: dict[str, int]  # by eventType
    refused: dict[str, int]  # by reason
    duplicates: int
    queued: int
    coalesced: int
    checks: int
    check_errors: int
    drift_found: int
    hook_failures: int


class Metrics:
    """Thread-safe counters; ``api_requests`` and ``queue_depth`` are read when rendering."""

    def __init__(
        self,
        *,
        api_requests: Callable[[], int] | None = None,
        queue_depth: Callable[[], int] | None = None,
    ) -> None:
        self._lock = threading.Lock()
        self._received = 0
        self._accepted: Counter[str] = Counter()
        self._refused: Counter[str] = Counter()
        self._duplicates = 0
        self._queued = 0
        self._coalesced = 0
        self._checks = 0
        self._check_errors = 0
        self._drift = 0
        self._hook_failures = 0
        self.api_requests = api_requests
        self.queue_depth = queue_depth

    def received(self) -> None:
        with self._lock:
            self._received += 1

    def accepted(self, event_type: str) -> None:
        with self._lock:
            self._accepted[event_type] += 1

    def refused(self, reason: str) -> None:
        with self._lock:
            self._refused[reason] += 1

    def duplicate(self) -> None:
        with self._lock:
            self._duplicates += 1

    def queued(self, fresh: bool) -> None:
        with self._lock:
            if fresh:
                self._queued += 1
            else:
                self._coalesced += 1

    def checked(self, *, drift: bool, error: bool = False) -> None:
        with self._lock:
            self._checks += 1
            self._drift += int(drift)
            self._check_errors += int(error)

    def hook_failed(self) -> None:
        with self._lock:
            self._hook_failures += 1

    def snapshot(self) -> MetricsSnapshot:
        with self._lock:
            return MetricsSnapshot(
                received=self._received,
                accepted=dict(self._accepted),
                refused=dict(self._refused),
                duplicates=self._duplicates,
                queued=self._queued,
                coalesced=self._coalesced,
                checks=self._checks,
                check_errors=self._check_errors,
                drift_found=self._drift,
                hook_failures=self._hook_failures,
            )

    def render(self) -> str:
        s = self.snapshot()
        families: list[tuple[str, str, str, list[tuple[str, int]]]] = [
            (_PREFIX + "events_received_total", "counter", _RECEIVED_HELP, [("", s.received)]),
            (
                _PREFIX + "events_accepted_total",
                "counter",
                "Verified, first-seen push events, by eventType.",
                [(_labels(event_type=k), v) for k, v in sorted(s.accepted.items())],
            ),
            (
                _PREFIX + "events_refused_total",
                "counter",
                "Push requests refused, by reason.",
                [(_labels(reason=k), v) for k, v in sorted(s.refused.items())],
            ),
        ]
        families += [
            (_PREFIX + name, "counter", help_text, [("", getattr(s, field))])
            for name, field, help_text in _COUNTERS
        ]
        if self.api_requests is not None:
            families.append(
                (
                    _PREFIX + "api_requests_total",
                    "counter",
                    "SmartHub API requests spent by this receiver.",
                    [("", self.api_requests())],
                )
            )
        if self.queue_depth is not None:
            families.append(
                (
                    _PREFIX + "queue_depth",
                    "gauge",
                    "SIMs waiting for a check.",
                    [("", self.queue_depth())],
                )
            )
        out: list[str] = []
        for name, kind, help_text, samples in families:
            out.append(f"# HELP {name} {help_text}")
            out.append(f"# TYPE {name} {kind}")
            out.extend(f"{name}{labels} {value}" for labels, value in samples)
        return "\n".join(out) + "\n"


_PREFIX = "fleetform_webhook_"
_RECEIVED_HELP = "Push requests received on /push."
# the unlabelled counters, in the order shown: (name after the prefix, snapshot field, help)
_COUNTERS = (
    (
        "events_duplicate_total",
        "duplicates",
        "Verified push events whose id was seen before (acknowledged, not processed).",
    ),
    ("checks_queued_total", "queued", "SIMs put on the check queue."),
    (
        "events_coalesced_total",
        "coalesced",
        "Events folded into a check already pending for the same SIM.",
    ),
    ("checks_total", "checks", "SIM re-reads compared with the manifests."),
    ("check_errors_total", "check_errors", "Checks that failed (API error, manifest error)."),
    ("drift_found_total", "drift_found", "Checks that found drift."),
    ("hook_failures_total", "hook_failures", "--on-drift hook runs that failed or timed out."),
)


def _labels(**labels: str) -> str:
    inner = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
    return "{" + inner + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
