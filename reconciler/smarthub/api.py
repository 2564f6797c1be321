"""The SmartHub API as the rest of fleetform sees it: domain types in, domain types out.

`SmartHubApi` is the interface; `reconciler.smarthub.client.SmartHubClient` implements it over
HTTP, and tests may implement it with a fake (pip-tools style: a real implementation of the
interface, never a mock). Every method may raise the `reconciler.errors.ApiError` tree.
All methods are safe to call from several threads at once.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from reconciler.model import (
    ApnStatus,
    BatchJob,
    BatchOperation,
    ChangeLogEntry,
    LiveSim,
    RateBudget,
    RatePlan,
    SmsStatus,
    Status,
)


@dataclass(frozen=True, slots=True)
class RequestStats:
    """What the client has spent so far (every HTTP request counts, retries and redirects too)."""

    requests: int
    retries: int
    rate_limited: int  # 429 answers seen
    waited_seconds: float  # slept for the rate limit or backoff, summed over threads
    rate_waited_seconds: float = 0.0  # of which waiting for the rate window (one thread sleeps
    # for the reset while the others wait on it, so this is wall-clock time)


@dataclass(frozen=True, slots=True)
class SimPage:
    """One page of the SIM list: its SIMs, the URL it was read from and the ``Link: rel=next``
    URL as the server gave it (None on the last page)."""

    sims: tuple[LiveSim, ...]
    next_url: str | None
    url: str = ""


class SmartHubApi(Protocol):
    @property
    def endpoint(self) -> str:
        """Base URL ending in ``/v1``."""
        ...

    def stats(self) -> RequestStats: ...

    def rate_budget(self) -> RateBudget | None:
        """The last ``X-RateLimit-*`` seen, or None before the first response."""
        ...

    # reads
    def iter_sims(
        self, *, account: str | None = None, status: Status | None = None
    ) -> Iterator[LiveSim]:
        """Every SIM of the list endpoint at size=100, page by page following ``Link: next``."""
        ...

    def iter_sim_pages(
        self, *, account: str | None = None, start: str | None = None
    ) -> Iterator[SimPage]:
        """The list page by page from ``start`` (a next URL handed out before) or the first
        page; the live-state cache's verify rotation resumes where it stopped."""
        ...

    def get_sim(self, iccid: str) -> LiveSim: ...

    def iter_change_logs(
        self, *, iccid: str | None = None, since: datetime | None = None
    ) -> Iterator[ChangeLogEntry]: ...

    def get_custom_fields(self, iccid: str) -> Mapping[str, str | None]: ...

    def service_packages(self, account: str) -> list[RatePlan]: ...

    def count_sims(self, *, account: str | None = None) -> int | None:
        """How many SIMs the list holds (its ``X-Total-Count``), for one request of a
        one-SIM page; None when the server sends no usable count."""
        ...

    def enterprise(self) -> Mapping[str, Any]: ...

    def account(self, name: str) -> Mapping[str, Any]: ...

    # single writes
    def set_custom_fields(self, iccid: str, values: Mapping[str, str | None]) -> None:
        """PUT only the given fields; None clears one."""
        ...

    def activate(self, iccid: str) -> LiveSim | None: ...

    def suspend(self, iccid: str) -> LiveSim | None: ...

    def retire(self, iccid: str) -> LiveSim | None: ...

    def set_rate_plan(self, iccid: str, rate_plan: str) -> None: ...

    def subscribe_plan(self, iccid: str, plan: str) -> None: ...

    def set_apn_status(self, iccid: str, apn: str, status: ApnStatus) -> None: ...

    # batch jobs
    def submit_batch(
        self, operation: BatchOperation, iccids: Sequence[str], *, rate_plan: str | None = None
    ) -> BatchJob:
        """POST the batch job (202); returns the job as PENDING with its id."""
        ...

    def get_batch_job(self, job_id: str) -> BatchJob: ...

    # SMS
    def send_sms(self, iccid: str, content: str) -> str:
        """Returns the smsMsgId."""
        ...

    def sms_status(self, sms_id: str) -> SmsStatus: ...

    def close(self) -> None: ...
