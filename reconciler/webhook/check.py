"""The check a push triggers: re-read the SIM, compare it with git, say what drifted.

The event body is a hint, never the truth: `ManifestCheck` reads the SIM from the API (one
request) and diffs that one SIM against its manifest entry with `reconciler.diff.diff_fleet`,
so the receiver and ``fleetform drift`` can never disagree on what drift is.

Decisions where the contract is silent:

- A SIM in no manifest is read only when the Fleet says ``unmanaged: report`` (otherwise the
  event costs no request); it is reported as ``unmanaged`` only if it belongs to the Fleet's
  account. Pushes about other accounts' SIMs are ignored.
- A declared SIM the API answers 404 for, or that moved to another account, is ``missing``.
- A retired SIM the manifest wants otherwise is ``problem`` (nothing can change it).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from reconciler.clock import Clock
from reconciler.diff import diff_fleet
from reconciler.errors import ForbiddenError, NotFoundError
from reconciler.model import DesiredFleet, DriftField, LiveSim
from reconciler.smarthub.api import SmartHubApi

DRIFT = "drift"
UNMANAGED = "unmanaged"
MISSING = "missing"
PROBLEM = "problem"


@dataclass(frozen=True, slots=True)
class DriftRecord:
    """One SIM found out of line with git after a push; one line of ``drift.jsonl``."""

    iccid: str
    kind: str  # drift | unmanaged | missing | problem
    detected_at: float  # epoch seconds
    fleet: str
    account: str
    group: str | None = None
    status: str | None = None  # live status, fleetform's name
    fields: tuple[DriftField, ...] = ()
    message: str | None = None
    events: int = 1  # pushes folded into this one check
    event_types: tuple[str, ...] = ()
    first_event_at: float | None = None  # epoch seconds the first of those pushes arrived

    def to_json(self) -> dict[str, Any]:
        return {
            "source": "webhook",
            "kind": self.kind,
            "iccid": self.iccid,
            "fleet": self.fleet,
            "account": self.account,
            "group": self.group,
            "status": self.status,
            "fields": [
                {
                    "field": f.field,
                    "desired": f.desired,
                    "live": f.live,
                    "source": str(f.source) if f.source else None,
                }
                for f in self.fields
            ],
            "message": self.message,
            "detectedAt": _iso(self.detected_at),
            "firstEventAt": _iso(self.first_event_at) if self.first_event_at else None,
            "events": self.events,
            "eventTypes": list(self.event_types),
        }

    def human_line(self) -> str:
        head = f"{self.kind} {self.iccid}"
        if self.group:
            head += f" (group {self.group})"
        if self.fields:
            parts = [f"{f.field}: git {f.desired}, live {f.live}" for f in self.fields]
            return f"{head}: " + "; ".join(parts)
        return f"{head}: {self.message}" if self.message else head


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class ManifestCheck:
    """``check(giccid) -> DriftRecord | None`` against the manifests ``fleet()`` returns.

    ``fleet`` is a callable so that the server can reload manifests without restarting.
    """

    api: SmartHubApi
    fleet: Callable[[], DesiredFleet]
    clock: Clock
    # Sees every SIM re-read after a push (the live-state cache records it, `Via.PUSH`).
    on_read: Callable[[LiveSim], None] | None = None
    reads: int = field(default=0, init=False)

    def __call__(self, giccid: str) -> DriftRecord | None:
        desired = self.fleet()
        spec = desired.fleet
        want = desired.sims.get(giccid)
        base = DriftRecord(
            iccid=giccid, kind=DRIFT, detected_at=0.0, fleet=spec.name, account=spec.account
        )
        if want is None and spec.unmanaged != "report":
            return None
        live = self._read(giccid)
        now = self.clock.now()
        if want is None:
            if live is None or live.account != spec.account:
                return None
            return dataclasses.replace(
                base,
                kind=UNMANAGED,
                detected_at=now,
                status=live.status.value,
                message=f"in account {spec.account} but in no manifest",
            )
        base = dataclasses.replace(base, group=want.group, detected_at=now)
        if live is None:
            return dataclasses.replace(
                base, kind=MISSING, message="declared in git, unknown to the API"
            )
        one = dataclasses.replace(desired, sims={giccid: want})
        diff = diff_fleet(one, [live])
        if diff.missing:
            return dataclasses.replace(
                base,
                kind=MISSING,
                status=live.status.value,
                message=f"declared in git, but in account {live.account}",
            )
        if diff.problems:
            return dataclasses.replace(
                base,
                kind=PROBLEM,
                status=live.status.value,
                message="; ".join(p.message for p in diff.problems),
            )
        if not diff.changed:
            return None
        sim_diff = diff.changed[0]
        return dataclasses.replace(
            base,
            status=sim_diff.status.value,
            fields=tuple(
                DriftField(
                    field=c.field,
                    desired=c.after,
                    live=c.before,
                    source=want.field_sources.get(c.field),
                )
                for c in sim_diff.changes
            ),
        )

    def _read(self, giccid: str) -> LiveSim | None:
        self.reads += 1
        try:
            live = self.api.get_sim(giccid)
        except (NotFoundError, ForbiddenError):  # unknown, or another enterprise's SIM
            return None
        if self.on_read is not None:
            self.on_read(live)
        return live
