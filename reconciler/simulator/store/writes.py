"""SIM writes and the state machine: every change goes through `SimWrites._save`, which writes
the row, moves the status counts, records history and queues the push events.

Choices where the contract is silent (also in the OpenAPI document): a no-op write (same plan,
same APN status, same custom value) succeeds and records nothing; subscribing a plan the SIM
already has → 422 ``already_exists``.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from reconciler.simulator.problems import Forbidden, NotFound, ValidationFailed, illegal_status
from reconciler.simulator.store import schema
from reconciler.simulator.store.history import record_changes
from reconciler.simulator.store.reads import SimReads
from reconciler.simulator.store.rows import (
    CUSTOM_FIELDS,
    SIM_COLUMNS,
    Event,
    SimRow,
    apns_json,
    format_time,
    plan_names,
    row_to_sim,
)

# operation (path word) -> (statuses it is allowed from, resulting status); contract table
TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "activate": (
        frozenset({"TEST_READY", "INVENTORY", "ACTIVATION_READY", "DEACTIVATED"}),
        "ACTIVATED",
    ),
    "deactivate": (
        frozenset({"ACTIVATED", "TEST_READY", "INVENTORY", "ACTIVATION_READY"}),
        "DEACTIVATED",
    ),
    "retire": (frozenset({"DEACTIVATED"}), "RETIRED"),
}


def transitioned(sim: SimRow, operation: str) -> SimRow:
    """The SIM after a state-machine operation; 422 ``illegal_status`` when not allowed."""
    allowed, result = TRANSITIONS[operation]
    if sim.status not in allowed:
        raise illegal_status("globalSim", sim.status, operation)
    return replace(sim, status=result)


def with_basic_plan(sim: SimRow, plan: str) -> SimRow:
    """The SIM on another basic plan of its account's catalogue."""
    if sim.status == "RETIRED":
        raise illegal_status("globalSim", sim.status, "change the basic plan of")
    if plan not in plan_names(sim.account, "BASIC"):
        raise ValidationFailed(
            "servicePackage",
            "servicePackageName",
            "invalid",
            f"{plan!r} is not a basic service package of account {sim.account}",
        )
    return replace(sim, basic=plan)


def events_for(before: SimRow, after: SimRow, when: str | None) -> list[Event]:
    """The push events a change from ``before`` to ``after`` makes."""
    events: list[Event] = []
    if before.status != after.status:
        events.append(
            Event(
                "SIM_STATUS_CHANGE",
                after.giccid,
                {"oldStatus": before.status, "newStatus": after.status, "changedTime": when},
            )
        )
    old_apns = dict(before.apns)
    for apn, status in after.apns:
        if old_apns.get(apn) != status:
            events.append(
                Event(
                    "SIM_APN_STATUS_CHANGE",
                    after.giccid,
                    {
                        "apn": apn,
                        "oldStatus": old_apns.get(apn),
                        "newStatus": status,
                        "changedTime": when,
                    },
                )
            )
    if before.imei != after.imei:
        events.append(
            Event(
                "IMEI_CHANGE",
                after.giccid,
                {"oldImei": before.imei, "newImei": after.imei, "changedTime": when},
            )
        )
    return events


def count_status(db: sqlite3.Connection, account: str, old: str, new: str, giccid: str) -> None:
    """Move one SIM from ``old`` to ``new`` in the bucket counts."""
    pos = db.execute("SELECT pos FROM sims WHERE giccid = ?", (giccid,)).fetchone()[0]
    bucket = int(pos) >> schema.BUCKET_BITS
    db.execute(
        "UPDATE status_counts SET n = n - 1 WHERE account = ? AND status = ? AND bucket = ?",
        (account, old, bucket),
    )
    db.execute(
        "INSERT INTO status_counts (account, status, bucket, n) VALUES (?, ?, ?, 1) "
        "ON CONFLICT (account, status, bucket) DO UPDATE SET n = n + 1",
        (account, new, bucket),
    )


class SimWrites(SimReads):
    def _save(self, db: sqlite3.Connection, before: SimRow, after: SimRow) -> None:
        """Write ``after`` and record history rows and events for what changed."""
        if after == before:
            return
        now = int(self.clock())
        after = replace(after, last_modified_time=now)
        if after.status == "ACTIVATED" and before.status != "ACTIVATED":
            after = replace(after, activated_time=now)
        db.execute(
            "UPDATE sims SET status = ?, basic = ?, supplementary = ?, apns = ?, custom1 = ?, "
            "custom2 = ?, custom3 = ?, custom4 = ?, custom5 = ?, imsi = ?, msisdn = ?, imei = ?, "
            "activated_time = ?, last_modified_time = ? WHERE giccid = ?",
            (
                after.status,
                after.basic,
                json.dumps(list(after.supplementary)),
                apns_json(after.apns),
                *after.custom,
                after.imsi,
                after.msisdn,
                after.imei,
                after.activated_time,
                after.last_modified_time,
                after.giccid,
            ),
        )
        if before.status != after.status:
            count_status(db, after.account, before.status, after.status, after.giccid)
        record_changes(db, before, after, now)
        self._pending_events.extend(events_for(before, after, format_time(now)))

    def _locked_sim(self, db: sqlite3.Connection, giccid: str, account: str) -> SimRow:
        row = db.execute(f"SELECT {SIM_COLUMNS} FROM sims WHERE giccid = ?", (giccid,)).fetchone()
        if row is None:
            raise NotFound(f"no SIM with giccid {giccid}")
        sim = row_to_sim(row)
        if sim.account != account:
            raise Forbidden()
        return sim

    def transition(self, giccid: str, account: str, operation: str) -> SimRow:
        with self._write() as db:
            before = self._locked_sim(db, giccid, account)
            self._save(db, before, transitioned(before, operation))
        return self._must(giccid)

    def set_basic_plan(self, giccid: str, account: str, plan: str) -> SimRow:
        with self._write() as db:
            before = self._locked_sim(db, giccid, account)
            self._save(db, before, with_basic_plan(before, plan))
        return self._must(giccid)

    def add_supplementary(self, giccid: str, account: str, plan: str) -> SimRow:
        with self._write() as db:
            before = self._locked_sim(db, giccid, account)
            if before.status != "ACTIVATED":
                raise illegal_status("globalSim", before.status, "subscribe a plan for")
            if plan not in plan_names(before.account, "SUPPLEMENTARY"):
                raise ValidationFailed(
                    "servicePackage",
                    "servicePackageName",
                    "invalid",
                    f"{plan!r} is not a supplementary service package of account {before.account}",
                )
            if plan in before.supplementary:
                raise ValidationFailed(
                    "servicePackage",
                    "servicePackageName",
                    "already_exists",
                    f"the SIM already subscribes {plan!r}",
                )
            self._save(db, before, replace(before, supplementary=(*before.supplementary, plan)))
        return self._must(giccid)

    def set_apn_status(self, giccid: str, account: str, apn: str, status: str) -> SimRow:
        with self._write() as db:
            before = self._locked_sim(db, giccid, account)
            if before.status == "RETIRED":
                raise illegal_status("globalSim", before.status, "change the APN status of")
            if apn not in dict(before.apns):
                raise ValidationFailed("apnStatus", "apn", "invalid", f"the SIM has no APN {apn!r}")
            apns = tuple((name, status if name == apn else old) for name, old in before.apns)
            self._save(db, before, replace(before, apns=apns))
        return self._must(giccid)

    def set_custom_fields(
        self, giccid: str, account: str, values: Mapping[str, str | None]
    ) -> SimRow:
        with self._write() as db:
            before = self._locked_sim(db, giccid, account)
            if before.status == "RETIRED":
                raise illegal_status("customFieldVO", before.status, "edit the custom fields of")
            current = before.custom_fields()
            current.update(values)
            custom = tuple(current[name] for name in CUSTOM_FIELDS)
            self._save(db, before, replace(before, custom=custom))
        return self._must(giccid)

    def admin_patch(self, giccid: str, changes: Mapping[str, Any]) -> SimRow:
        """Change a SIM behind fleetform's back: no state machine, no catalogue check."""
        with self._write() as db:
            row = db.execute(
                f"SELECT {SIM_COLUMNS} FROM sims WHERE giccid = ?", (giccid,)
            ).fetchone()
            if row is None:
                raise NotFound(f"no SIM with giccid {giccid}")
            before = row_to_sim(row)
            self._save(db, before, _patched(before, changes))
        return self._must(giccid)


def _patched(sim: SimRow, changes: Mapping[str, Any]) -> SimRow:
    """The SIM with the admin endpoint's (already checked) field changes."""
    for field, value in changes.items():
        if field == "status":
            sim = replace(sim, status=value)
        elif field == "basicServicePackage":
            sim = replace(sim, basic=value)
        elif field == "supplementaryServicePackages":
            sim = replace(sim, supplementary=tuple(value))
        elif field == "apns":
            sim = replace(sim, apns=tuple((a["apn"], a["status"]) for a in value))
        elif field in CUSTOM_FIELDS:
            custom = list(sim.custom)
            custom[CUSTOM_FIELDS.index(field)] = value
            sim = replace(sim, custom=tuple(custom))
        elif field in ("imei", "imsi", "msisdn"):
            sim = replace(sim, **{field: value})
    return sim
