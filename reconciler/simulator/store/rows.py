"""What the store hands out: SIM, job, history and rate rows, and the contract's time format.

Rows are frozen dataclasses (times as epoch seconds); the SQL column lists and the decoders
that turn a database row into one live here beside them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from reconciler.simulator.fleet import CATALOGUE

CUSTOM_FIELDS = ("custom1", "custom2", "custom3", "custom4", "custom5")
CUSTOM_MAX = 255
APN_STATUSES = ("ENABLED", "DISABLED")

SIM_COLUMNS = (
    "giccid, account, status, basic, supplementary, apns, custom1, custom2, custom3, custom4, "
    "custom5, imsi, msisdn, imei, activated_time, last_modified_time"
)
JOB_COLUMNS = "job_id, account, type, status, params, giccids, items, created_time, updated_time"


def format_time(epoch: float | None) -> str | None:
    """ISO 8601 as the contract writes it: ``2026-11-25T13:11:37+0000`` (UTC)."""
    if epoch is None:
        return None
    return datetime.fromtimestamp(int(epoch), UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


def parse_time(text: str) -> float:
    """Parse the contract's time format, also accepting ``Z`` and ``+00:00``; ValueError if bad."""
    value = text.strip()
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    parsed = datetime.fromisoformat(value) if "T" in value or "-" in value else None
    if parsed is None:
        raise ValueError(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def plan_names(account: str, plan_type: str) -> tuple[str, ...]:
    return tuple(name for name, kind, _ in CATALOGUE.get(account, ()) if kind == plan_type)


@dataclass(frozen=True, slots=True)
class SimRow:
    """A SIM as stored (times as epoch seconds)."""

    giccid: str
    account: str
    status: str
    basic: str
    supplementary: tuple[str, ...]
    apns: tuple[tuple[str, str], ...]
    custom: tuple[str | None, ...]
    imsi: str
    msisdn: str
    imei: str
    activated_time: int | None
    last_modified_time: int

    def custom_fields(self) -> dict[str, str | None]:
        return dict(zip(CUSTOM_FIELDS, self.custom, strict=True))


@dataclass(frozen=True, slots=True)
class Event:
    """Something a push subscriber hears about (sent after the write committed)."""

    event_type: str
    giccid: str
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class JobRow:
    job_id: str
    account: str
    type: str
    status: str
    params: dict[str, Any]
    giccids: tuple[str, ...]
    items: tuple[dict[str, str], ...]
    created_time: float
    updated_time: float


@dataclass(frozen=True, slots=True)
class ChangeLogRow:
    giccid: str
    change_type: str
    old_value: str | None
    new_value: str | None
    changed_time: int


@dataclass(frozen=True, slots=True)
class RateState:
    limit: int
    remaining: int
    reset: int  # seconds until the window resets
    allowed: bool


# A fleet holds a handful of distinct plan lists and APN lists: decode each once (the results
# are tuples, safe to share), not twice per SIM of every page.
@lru_cache(maxsize=4096)
def _decode_plans(text: str) -> tuple[str, ...]:
    return tuple(json.loads(text))


@lru_cache(maxsize=4096)
def _decode_apns(text: str) -> tuple[tuple[str, str], ...]:
    return tuple((a["apn"], a["status"]) for a in json.loads(text))


def row_to_sim(row: Sequence[Any]) -> SimRow:
    return SimRow(
        giccid=row[0],
        account=row[1],
        status=row[2],
        basic=row[3],
        supplementary=_decode_plans(row[4]),
        apns=_decode_apns(row[5]),
        custom=tuple(row[6:11]),
        imsi=row[11],
        msisdn=row[12],
        imei=row[13],
        activated_time=row[14],
        last_modified_time=row[15],
    )


def row_to_job(row: Sequence[Any]) -> JobRow:
    return JobRow(
        job_id=row[0],
        account=row[1],
        type=row[2],
        status=row[3],
        params=json.loads(row[4]),
        giccids=tuple(json.loads(row[5])),
        items=tuple(json.loads(row[6])),
        created_time=row[7],
        updated_time=row[8],
    )


def apns_json(apns: Sequence[tuple[str, str]]) -> str:
    return json.dumps([{"apn": apn, "status": status} for apn, status in apns])
