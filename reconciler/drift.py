"""Drift: the plan's diff without the steps, grouped by SIM and field, with when it changed.

Pure: the command (`reconciler.commands.drift`) reads the live fleet and the change history
(one paged read of ``changeLogs`` since a point in time, never one read per SIM) and hands
them here.

The change history knows three kinds of change (docs/smarthub-api.md); each field kind says
which one dates it (``change_type`` in `reconciler.fields`): ``status`` dates a drifted
``state``; ``service_package`` dates a drifted ``ratePlan`` or ``supplementaryPlans[...]``;
nothing dates APN status or custom fields, so those have no ``last_changed``. The SIM's
``lastModifiedTime`` (a change of *some* field, often fleetform's own) is kept on the SIM, and
renderers show it only as "SIM last modified", never as a field's change date. A field whose
history lies before ``history_since`` has no date (unknown, not "never").
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from reconciler import fields
from reconciler.model import (
    ChangeLogEntry,
    DesiredFleet,
    DriftBasis,
    DriftField,
    DriftReport,
    DriftSim,
    FleetDiff,
)


def dated_by(path: str) -> str | None:
    """The change history's change_type that dates a drift of this field path (the kind's
    ``change_type`` in `reconciler.fields`), or None when nothing dates it."""
    return fields.split(path)[0].change_type


def last_changes(
    entries: Iterable[ChangeLogEntry], iccids: Iterable[str]
) -> dict[tuple[str, str], datetime]:
    """The latest change time per (iccid, change_type), for the given SIMs only."""
    wanted = set(iccids)
    latest: dict[tuple[str, str], datetime] = {}
    for entry in entries:
        if entry.iccid not in wanted:
            continue
        key = (entry.iccid, entry.change_type)
        if key not in latest or entry.changed_time > latest[key]:
            latest[key] = entry.changed_time
    return latest


def build_drift(
    desired: DesiredFleet,
    diff: FleetDiff,
    *,
    endpoint: str,
    checked_at: datetime,
    change_logs: Iterable[ChangeLogEntry] = (),
    history_since: datetime | None = None,
    requests_spent: int = 0,
    basis: DriftBasis | None = None,
) -> DriftReport:
    """Group ``diff`` by SIM and field and date each drifted field when the history can; a
    SIM's ``last_modified`` is the live one its `SimDiff` carries."""
    latest = last_changes(change_logs, (d.iccid for d in diff.changed))
    sims: list[DriftSim] = []
    for sim_diff in diff.changed:
        want = desired.sims.get(sim_diff.iccid)
        drifted: list[DriftField] = []
        for change in sim_diff.changes:
            change_type = dated_by(change.field)
            when = latest.get((sim_diff.iccid, change_type)) if change_type else None
            drifted.append(
                DriftField(
                    field=change.field,
                    desired=change.after,
                    live=change.before,
                    last_changed=when,
                    source=want.field_sources.get(change.field) if want else None,
                )
            )
        sims.append(
            DriftSim(
                iccid=sim_diff.iccid,
                group=sim_diff.group,
                status=sim_diff.status,
                fields=tuple(drifted),
                last_modified=sim_diff.last_modified,
            )
        )
    unmanaged = diff.unmanaged if desired.fleet.unmanaged != "ignore" else ()
    sims_read = len(diff.changed) + diff.unchanged + len(diff.unmanaged) + len(diff.problems)
    return DriftReport(
        fleet=desired.fleet.name,
        account=desired.fleet.account,
        endpoint=endpoint,
        checked_at=checked_at,
        sims_read=sims_read,
        sims=tuple(sorted(sims, key=lambda s: s.iccid)),
        missing=diff.missing,
        unmanaged=unmanaged,
        problems=diff.problems,
        history_since=history_since,
        requests_spent=requests_spent,
        basis=basis,
    )
