"""What the account reports beside its SIMs: the rate-plan catalogue, the change history,
batch jobs, SMS status and the rate budget."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class RatePlanType(StrEnum):
    BASIC = "basic"
    SUPPLEMENTARY = "supplementary"


@dataclass(frozen=True, slots=True)
class RatePlan:
    name: str
    type: RatePlanType
    prepaid: bool = False


@dataclass(frozen=True, slots=True)
class ChangeLogEntry:
    iccid: str
    change_type: str  # "status" | "service_package" | "imei" (wire: STATUS/SERVICE_PACKAGE/IMEI)
    old_value: str | None
    new_value: str | None
    changed_time: datetime


class BatchOperation(StrEnum):
    ACTIVATE = "activate"
    SUSPEND = "suspend"
    RETIRE = "retire"
    SET_RATE_PLAN = "set_rate_plan"


class JobStatus(StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    PARTIALLY_FAILED = "partially_failed"
    FAILED = "failed"

    @property
    def finished(self) -> bool:
        return self in (JobStatus.COMPLETED, JobStatus.PARTIALLY_FAILED, JobStatus.FAILED)


@dataclass(frozen=True, slots=True)
class BatchItem:
    iccid: str
    ok: bool
    code: str | None = None  # the API's reason when not ok, e.g. "illegal_status"


@dataclass(frozen=True, slots=True)
class BatchJob:
    job_id: str
    status: JobStatus
    operation: BatchOperation | None = None
    total: int = 0
    succeeded: int = 0
    failed: int = 0
    items: tuple[BatchItem, ...] = ()
    url: str | None = None


class SmsStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class RateBudget:
    """The server's last word on the rate limit (``X-RateLimit-*``), with when it was heard."""

    limit: int
    remaining: int
    reset_seconds: float  # seconds until the window resets, as of ``observed_at``
    observed_at: float  # clock.monotonic() when the response arrived
    # The window's length, learnt from the Reset of the first request of a window (Remaining at
    # the top); None until such an answer was seen. ``longest_reset``: the largest Reset seen
    # (the window is at least that long).
    window_seconds: float | None = None
    longest_reset: float = 0.0
