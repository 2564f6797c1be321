"""The simulator's state in SQLite: SIMs, change history, batch jobs, SMS, rate windows, keys.

Why SQLite from the standard library: state must survive a restart and be shared with a later
process that opens the same file (``apply --resume`` after ``kill -9``), and a list page must be
one indexed query even at 1,000,000 SIMs. WAL mode lets a second process read while this one
writes; ``busy_timeout`` makes writers wait for each other instead of failing.

Nothing scans the fleet per request: list pages (filtered or not) and history pages are index
seeks however deep the page (see ``reads`` and ``history``), totals come from counts kept as
SIMs change status (``status_counts``) and from the history's per-account numbering.

Concurrency: one connection, guarded by one lock (``base``). The HTTP handlers (event-loop
thread) and the batch worker (its own thread) both go through it, so every operation is atomic
and the rate counter is exact. Every write runs in ``BEGIN IMMEDIATE`` ... ``COMMIT``.

The rooms, one job each, that `Store` is made of:

- ``schema``: tables, indexes, the migration from schema 1;
- ``rows``: the rows handed out, their decoding, the contract's time format;
- ``base``: the connection, its lock and transactions, stored keys;
- ``seeding``: the fleet put into an empty database;
- ``reads``: one SIM, list pages, counts per status;
- ``writes``: SIM writes and the state machine (history rows and push events follow a change);
- ``history``: the change history and its pages;
- ``batch``: batch jobs;
- ``accounts``: SMS and the rate-limit windows.

Choices where the contract is silent (also in the OpenAPI document):
- a no-op write (same plan, same APN status, same custom value) succeeds and records nothing;
- subscribing a plan the SIM already has → 422 ``already_exists``;
- the change history starts empty for the seeded fleet; rows are written for STATUS,
  SERVICE_PACKAGE and IMEI changes, whatever caused them (single call, batch job, admin edit);
  it is listed oldest first, and its times never decrease along it (should the clock step back,
  a change is dated with the latest time already recorded).
"""

from __future__ import annotations

from reconciler.simulator.store.accounts import RateWindows, Sms
from reconciler.simulator.store.batch import BATCH_TYPES, JOB_OPEN, BatchJobs
from reconciler.simulator.store.history import History
from reconciler.simulator.store.rows import (
    APN_STATUSES,
    CUSTOM_FIELDS,
    CUSTOM_MAX,
    ChangeLogRow,
    Event,
    JobRow,
    RateState,
    SimRow,
    format_time,
    parse_time,
    plan_names,
)
from reconciler.simulator.store.schema import SCHEMA_VERSION
from reconciler.simulator.store.seeding import Seeding
from reconciler.simulator.store.writes import TRANSITIONS


class Store(Seeding, History, BatchJobs, Sms, RateWindows):
    """All state, behind one lock. ``on_event`` hears every committed SIM/APN status change."""


__all__ = [
    "APN_STATUSES",
    "BATCH_TYPES",
    "CUSTOM_FIELDS",
    "CUSTOM_MAX",
    "JOB_OPEN",
    "SCHEMA_VERSION",
    "TRANSITIONS",
    "ChangeLogRow",
    "Event",
    "JobRow",
    "RateState",
    "SimRow",
    "Store",
    "format_time",
    "parse_time",
    "plan_names",
]
