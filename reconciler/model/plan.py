"""The diff's and the plan's records: field changes, problems, steps, waves, guards, the plan."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from reconciler.model.account import BatchOperation
from reconciler.model.sims import SourceRef, Status

BATCH_MAX_SIMS = 1000


# --- diff -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One managed field that differs: live ``before``, desired ``after`` (field path values)."""

    field: str
    before: str | None
    after: str | None


@dataclass(frozen=True, slots=True)
class SimDiff:
    iccid: str
    group: str
    status: Status  # the live status the diff saw (needed to path through the state machine)
    changes: tuple[FieldChange, ...]  # in field-path order
    # the live lastModifiedTime the diff saw (drift dates a change by it): kept here rather than
    # for every SIM read, which cost drift a dict of a million entries at a million SIMs
    last_modified: datetime | None = None


@dataclass(frozen=True, slots=True)
class Problem:
    """Something wrong found while diffing or planning, tied to a manifest place when known."""

    message: str
    iccid: str | None = None
    field: str | None = None
    source: SourceRef | None = None

    def __str__(self) -> str:
        where = f"{self.source}: " if self.source else ""
        return f"{where}{self.message}"


@dataclass(frozen=True, slots=True)
class FleetDiff:
    changed: tuple[SimDiff, ...]  # sorted by iccid
    unchanged: int
    unmanaged: tuple[str, ...]  # iccids live in the account but in no manifest (sorted)
    missing: tuple[str, ...]  # iccids declared but absent from the account (sorted)
    problems: tuple[Problem, ...]  # e.g. a move out of retired


# --- plan -------------------------------------------------------------------------------


class Operation(StrEnum):
    """What a step does. Status operations and SET_RATE_PLAN may run as batch jobs.

    The members are the state machine's operations and those of the five field kinds of
    `reconciler.fields`. A field kind added later names its operation with `Operation.added`
    (``Operation.added("set_data_cap")``): an operation like the members (``Operation(value)``
    finds it, a plan file reads it back, ``is`` compares it), which only iterating the enum
    does not list.
    """

    ACTIVATE = "activate"
    SUSPEND = "suspend"
    RETIRE = "retire"
    SET_RATE_PLAN = "set_rate_plan"
    SUBSCRIBE_PLAN = "subscribe_plan"
    SET_APN_STATUS = "set_apn_status"
    SET_CUSTOM_FIELDS = "set_custom_fields"

    @property
    def batch_operation(self) -> BatchOperation | None:
        try:
            return BatchOperation(self.value)
        except ValueError:
            return None

    @classmethod
    def added(cls, value: str) -> Operation:
        """The operation ``value`` of a field kind added later (the member, if one has it)."""
        if value in cls._value2member_map_:
            return cls(value)
        known = _ADDED.get(value)
        if known is None:
            known = str.__new__(cls, value)
            known._name_ = value.upper()
            known._value_ = value
            _ADDED[value] = known
        return known

    @classmethod
    def _missing_(cls, value: object) -> Operation | None:
        return _ADDED.get(value) if isinstance(value, str) else None


_ADDED: dict[str, Operation] = {}


@dataclass(frozen=True, slots=True)
class StepSim:
    """One SIM in a step: the values expected when the step runs, and the values it sets.

    ``before`` always holds ``state``, plus every field path in ``after``. For the first step
    that touches a SIM these are the live values the plan saw; a later wave's ``before`` holds
    what the earlier steps set (a retire after a suspend expects ``suspended``). Apply compares
    ``before`` with live state and skips a SIM that moved (stale). For
    SET_APN_STATUS, ``after`` may hold several ``apns[...]`` paths: one call each.
    For SET_CUSTOM_FIELDS, all ``customFields.*`` paths go in one call.
    """

    iccid: str
    group: str
    before: Mapping[str, str | None]
    after: Mapping[str, str | None]
    # field path in ``after`` -> "file:line:column" of the manifest line that declared the
    # desired value (a group, the Fleet's defaults, the SIM's own entry): why the plan
    # touches a field the pull request did not edit
    sources: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Step:
    id: str  # stable within a plan, e.g. "w1-s003"
    wave: int  # 1-based; wave k+1 starts after wave k finished
    operation: Operation
    batch: bool  # True: one batch job for all ``sims`` (at most BATCH_MAX_SIMS)
    sims: tuple[StepSim, ...]
    requests: int  # estimated requests, polls of a batch job included
    rate_plan: str | None = None  # SET_RATE_PLAN and SUBSCRIBE_PLAN: the plan's name
    rollout: int = 0  # the rollout step of its wave (1-based); 0 when the plan has no rollout


@dataclass(frozen=True, slots=True)
class RolloutStage:
    """One rollout step of a wave: the SIMs it changes, then (unless it is the plan's last
    step) a soak, a re-check of those SIMs and the gate. Its id is ``w<wave>-r<number>``.

    ``share`` says which step of the policies it is (``"1%"``; several joined by ``/`` when
    groups with different rollouts share the step). ``soak_seconds`` and ``max_failed`` are the
    longest soak and the smallest failure share among the policies of its SIMs; ``checked`` is
    False for a step of SIMs no rollout covers (no soak, re-check or gate after it).
    ``requests`` and ``seconds`` are estimates: its writes, polls and reads, and the time they
    take at the rate budget plus the soak.
    """

    wave: int
    number: int
    of: int  # rollout steps in this wave
    share: str
    sims: int
    step_ids: tuple[str, ...]
    requests: int
    seconds: float
    soak_seconds: float = 0.0
    max_failed: float = 0.0
    checked: bool = True

    @property
    def id(self) -> str:
        return f"w{self.wave}-r{self.number}"


def steps_by_wave(steps: Sequence[Step]) -> tuple[tuple[Step, ...], ...]:
    """Steps grouped by wave, waves 1..last in order (a wave without steps is empty)."""
    count = max((s.wave for s in steps), default=0)
    return tuple(tuple(s for s in steps if s.wave == w) for w in range(1, count + 1))


@dataclass(frozen=True, slots=True)
class Guard:
    """A safety check of the plan; ``blocking`` ones stop apply unless overridden."""

    name: str  # "allowRetire" | "maxChanges" | "massDisable": the manifest's spelling
    blocking: bool
    message: str
    override: str | None = None  # the flag that lifts it, e.g. "--allow-retire"
    lifted_by: str | None = None  # tripped but lifted for this plan, e.g. "--allow-retire"


@dataclass(frozen=True, slots=True)
class PlanSummary:
    sims_declared: int
    sims_read: int
    unchanged: int
    to_change: int
    unmanaged: int
    missing: int
    sims_by_operation: Mapping[str, int]  # Operation value -> SIMs it touches
    requests_read: int  # spent reading the live fleet for this plan
    requests_estimated: int  # to apply
    duration_estimated_seconds: float  # at the rate budget the server reported
    rate_limit: int | None = None
    rate_window_seconds: float | None = None
    # where ``rate_window_seconds`` came from: "server" (the server's X-RateLimit-Reset showed
    # it), "at least" (a Reset longer than the default was seen), "assumed" (the default hour);
    # None in plans made before it was recorded. Outside the checksum (`reconciler.planfile`).
    rate_window_source: str | None = None


@dataclass(frozen=True, slots=True)
class Targeting:
    """How a plan made with ``--changed-from`` was targeted: only the SIMs whose declaration
    changed since ``ref`` were read live and planned; the other declared SIMs were not read."""

    ref: str  # as given, e.g. "origin/main"
    commit: str  # the commit it named
    sims: int  # SIMs whose effective declaration changed or that were added: read and planned
    not_read: int  # the other declared SIMs: neither read nor planned
    removed: int = 0  # declared at ref, no longer: unmanaged now, left as they are
    read_by: str = "get"  # "get": one GET per SIM; "list": the paged list, filtered
    account_size: int | None = None  # SIMs in the account (X-Total-Count), when it was asked


@dataclass(frozen=True, slots=True)
class Plan:
    """An immutable plan: deterministic order, counts, guards and a checksum."""

    created_at: str  # ISO 8601 UTC; the one field that differs between plans of the same state
    manifest_digest: str
    endpoint: str
    account: str
    fleet: str
    summary: PlanSummary
    steps: tuple[Step, ...]
    warnings: tuple[str, ...] = ()
    problems: tuple[Problem, ...] = ()  # errors of the plan: apply refuses while any exist
    guards: tuple[Guard, ...] = ()
    unmanaged: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    checksum: str = ""  # sha256 over the plan's content, created_at excluded
    rollout: tuple[RolloutStage, ...] = ()  # the canary steps, in the order apply runs them
    # SIMs left out of the plan, each with how to fix it (a SIM retired outside fleetform, a
    # declared SIM missing from the account); the rest stays appliable (`reconciler.holdback`)
    held_back: tuple[Problem, ...] = ()
    targeted: Targeting | None = None  # made with --changed-from: only some SIMs were read

    @property
    def waves(self) -> tuple[tuple[Step, ...], ...]:
        return steps_by_wave(self.steps)

    @property
    def units(self) -> tuple[tuple[RolloutStage | None, tuple[Step, ...]], ...]:
        """What apply runs one after another: each rollout step's steps, or each wave's when
        the plan has no rollout (then the stage is None)."""
        if not self.rollout:
            return tuple((None, wave) for wave in self.waves)
        by_id = {s.id: s for s in self.steps}
        return tuple((stage, tuple(by_id[i] for i in stage.step_ids)) for stage in self.rollout)

    @property
    def account_size(self) -> int:
        """The SIMs the account is known to hold, which prices a re-read by the paged list:
        the SIMs read, or for a targeted plan, which read only some, the most of those read,
        those declared and the account's own count."""
        return known_account_size(self.summary.sims_read, self.summary.sims_declared, self.targeted)

    @property
    def has_changes(self) -> bool:
        return bool(self.steps)


def known_account_size(sims_read: int, sims_declared: int, targeted: Targeting | None) -> int:
    """See `Plan.account_size`: the one rule the planner's estimate and apply's reads share."""
    if targeted is None:
        return sims_read
    return max(sims_read, sims_declared, targeted.account_size or 0)
