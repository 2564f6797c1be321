"""Desired and live SIM records: what git says a SIM must be, and what SmartHub says it is.

The manifest's ``iccid`` is SmartHub's ``giccid`` (the id in every API path); the separate
wire field ``iccid`` is kept on `LiveSim.wire_iccid` only for display.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType


class Status(StrEnum):
    """A SIM's lifecycle state as fleetform names it (SmartHub's wire names in comments)."""

    TEST_READY = "test_ready"  # TEST_READY
    INVENTORY = "inventory"  # INVENTORY
    ACTIVATION_READY = "activation_ready"  # ACTIVATION_READY
    ACTIVE = "active"  # ACTIVATED
    SUSPENDED = "suspended"  # DEACTIVATED
    RETIRED = "retired"  # RETIRED


PRE_SERVICE: frozenset[Status] = frozenset(
    {Status.TEST_READY, Status.INVENTORY, Status.ACTIVATION_READY}
)


class DesiredState(StrEnum):
    """The states a manifest may declare; each is exactly one `Status`."""

    ACTIVE = "active"
    SUSPENDED = "suspended"
    RETIRED = "retired"

    @property
    def status(self) -> Status:
        return Status(self.value)


class ApnStatus(StrEnum):
    ENABLED = "enabled"
    DISABLED = "disabled"


@dataclass(frozen=True, slots=True)
class SourceRef:
    """Where something was declared: shown to people as ``file:line:column`` (1-based)."""

    file: str
    line: int
    column: int = 1

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True, slots=True)
class FleetSpec:
    """The one ``Fleet`` document of a manifest set."""

    name: str
    account: str
    source: SourceRef
    unmanaged: str = "report"  # "report" | "ignore"
    max_changes: int | None = None  # absolute cap on SIMs changed
    max_changes_percent: float | None = None  # or a share of the fleet ("10%")
    allow_retire: bool = False
    rollout: RolloutPolicy | None = None  # ``spec.rollout`` of the Fleet
    mass_disable_percent: float | None = None  # guards.massDisable: the share that trips it


@dataclass(frozen=True, slots=True)
class RolloutPolicy:
    """``spec.rollout`` of a Fleet or SimGroup: apply a wave's changes in canary steps.

    ``steps`` as written, each a share (``"10%"``) or a count (``"25"``) of the SIMs the wave
    changes under this policy, cumulative; the last is ``"100%"``. ``soak_seconds``: the wait
    after a step before its SIMs are checked again. ``max_failed``: the share (0..1) of a
    step's SIMs that may fail before the rollout stops. ``source`` (not compared) is where it
    was declared.
    """

    steps: tuple[str, ...]
    soak_seconds: float = 0.0
    max_failed: float = 0.0
    source: SourceRef | None = field(default=None, compare=False)

    def targets(self, total: int) -> tuple[int, ...]:
        """The cumulative SIM count each step reaches out of ``total`` (non-decreasing; the
        first at least 1 when ``total`` is; the last is ``total``)."""
        out: list[int] = []
        reached = 0
        for entry in self.steps:
            if entry.endswith("%"):
                want = math.ceil(total * float(entry[:-1]) / 100 - 1e-9)
            else:
                want = int(entry)
            reached = min(total, max(reached, want, 1 if total else 0))
            out.append(reached)
        if out:
            out[-1] = total
        return tuple(out)


# The shared empty ``extra`` (one immutable object, not a dict per SIM).
NO_EXTRA: Mapping[str, Mapping[str, str | None]] = MappingProxyType({})


def _no_extra() -> Mapping[str, Mapping[str, str | None]]:
    return NO_EXTRA


@dataclass(frozen=True, slots=True)
class DesiredSim:
    """What git says one SIM must be. A field left None/empty is not managed.

    ``supplementary_plans`` must be subscribed (subscribe only: others are left alone).
    ``apns`` and ``custom_fields`` hold only the keys a manifest declared; a custom field
    mapped to None must be empty.
    ``field_sources`` maps every managed field path to where it was declared.
    """

    iccid: str
    group: str
    source: SourceRef
    state: DesiredState | None = None
    rate_plan: str | None = None
    supplementary_plans: tuple[str, ...] = ()
    apns: Mapping[str, ApnStatus] = field(default_factory=dict)
    custom_fields: Mapping[str, str | None] = field(default_factory=dict)
    field_sources: Mapping[str, SourceRef] = field(default_factory=dict)
    rollout: RolloutPolicy | None = None  # the group's ``spec.rollout``, else the Fleet's
    # the values of field kinds added after these five, by kind name, then key ("" for an
    # unkeyed kind); read and written only through their entries in `reconciler.fields`
    extra: Mapping[str, Mapping[str, str | None]] = field(default_factory=_no_extra)


@dataclass(frozen=True, slots=True)
class DesiredFleet:
    fleet: FleetSpec
    sims: Mapping[str, DesiredSim]  # by iccid
    digest: str  # sha256 over the manifest files' bytes, in path order
    files: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class LiveSim:
    """One SIM as SmartHub reports it, in fleetform's names."""

    iccid: str  # SmartHub giccid
    status: Status
    account: str
    rate_plan: str | None = None
    supplementary_plans: tuple[str, ...] = ()
    apns: Mapping[str, ApnStatus] = field(default_factory=dict)
    custom_fields: Mapping[str, str | None] = field(default_factory=dict)
    wire_iccid: str | None = None
    imsi: str | None = None
    msisdn: str | None = None
    imei: str | None = None
    activated_time: datetime | None = None
    last_modified_time: datetime | None = None
    url: str | None = None
    # field kinds added after the five above (see `DesiredSim.extra`); the value of any field
    # path is `reconciler.fields.live_value`
    extra: Mapping[str, Mapping[str, str | None]] = field(default_factory=_no_extra)
