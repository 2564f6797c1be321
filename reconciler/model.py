"""The domain records every layer shares: frozen dataclasses, no I/O.

Names here are fleetform's own, not SmartHub's wire names: the client's wire module
(`reconciler.smarthub.wire`) is the one place that maps ``ACTIVATED`` to `Status.ACTIVE`,
``basicServicePackage`` to `LiveSim.rate_plan` and so on.

The manifest's ``iccid`` is SmartHub's ``giccid`` (the id in every API path); the separate
wire field ``iccid`` is kept on `LiveSim.wire_iccid` only for display.

Field paths
-----------
A *field path* names one managed value of a SIM, in the words of the manifest:

=========================================  ===============================================
``state``                                   lifecycle state (`Status` value)
``ratePlan``                                basic rate plan name
``supplementaryPlans[EU-Roaming-500MB]``    one supplementary plan: ``subscribed`` or None
``apns[iot.acme]``                          one APN's status: ``enabled`` / ``disabled``
``customFields.custom1``                    one custom field: text or None (empty)
=========================================  ===============================================

`FieldChange`, `StepSim.before`/`after` and `DesiredSim.field_sources` are keyed by these paths,
built with the helpers below so nobody formats them by hand.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

CUSTOM_FIELD_NAMES: tuple[str, ...] = ("custom1", "custom2", "custom3", "custom4", "custom5")
CUSTOM_FIELD_MAX_LENGTH = 255
BATCH_MAX_SIMS = 1000

STATE = "state"
RATE_PLAN = "ratePlan"
SUBSCRIBED = "subscribed"


def supplementary_field(plan: str) -> str:
    return f"supplementaryPlans[{plan}]"


def apn_field(apn: str) -> str:
    return f"apns[{apn}]"


def custom_field(name: str) -> str:
    return f"customFields.{name}"


_BRACKETED = re.compile(r"^(supplementaryPlans|apns)\[(.+)\]$")


def parse_field(path: str) -> tuple[str, str | None]:
    """Split a field path into (kind, key): ``apns[iot.acme]`` -> (``apns``, ``iot.acme``).

    Kinds: ``state``, ``ratePlan``, ``supplementaryPlans``, ``apns``, ``customFields``.
    """
    if path in (STATE, RATE_PLAN):
        return path, None
    match = _BRACKETED.match(path)
    if match:
        return match.group(1), match.group(2)
    if path.startswith("customFields."):
        return "customFields", path.removeprefix("customFields.")
    raise ValueError(f"not a field path: {path!r}")


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


class RatePlanType(StrEnum):
    BASIC = "basic"
    SUPPLEMENTARY = "supplementary"


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

    def value(self, path: str) -> str | None:
        """The live value at a field path, as the plan's ``before`` records it."""
        kind, key = parse_field(path)
        if kind == STATE:
            return self.status.value
        if kind == RATE_PLAN:
            return self.rate_plan
        assert key is not None
        if kind == "supplementaryPlans":
            return SUBSCRIBED if key in self.supplementary_plans else None
        if kind == "apns":
            apn = self.apns.get(key)
            return apn.value if apn is not None else None
        return self.custom_fields.get(key) or None  # "" and null are both empty, as in the diff


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
    """What a step does. Status operations and SET_RATE_PLAN may run as batch jobs."""

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


# --- apply report -----------------------------------------------------------------------
# Here rather than in reconciler.applier because the renderers (a sibling layer of the
# applier) must read them without importing the applier.


# The reason of a DONE outcome whose SIM already held the step's values (kept word for word:
# journals written by earlier versions carry it).
ALREADY = "already as planned"


class Outcome(StrEnum):
    """What became of one SIM in one step of an apply."""

    DONE = "done"  # the step's values hold (set by us, or already so: idempotent)
    FAILED = "failed"  # the API refused; ``reason`` holds its code or title
    STALE = "stale"  # live state moved since the plan: left alone; ``moved`` says what
    SKIPPED = "skipped"  # not attempted: failed or stale in an earlier wave
    NOT_RUN = "not_run"  # the run stopped (``--budget``) before reaching it


@dataclass(frozen=True, slots=True)
class SimOutcome:
    iccid: str
    outcome: Outcome
    reason: str | None = None
    moved: tuple[FieldChange, ...] = ()  # STALE: before = the plan's value, after = live value
    job_id: str | None = None  # NOT_RUN: the batch job that already holds this SIM, if any

    @property
    def already(self) -> bool:
        """DONE, but not by fleetform: the SIM held the step's values already (changed by
        hand, or an earlier apply of the same plan), so no change of ours made it so."""
        return self.outcome is Outcome.DONE and self.reason == ALREADY


@dataclass(frozen=True, slots=True)
class StepReport:
    step_id: str
    wave: int
    operation: Operation
    batch: bool
    sims: tuple[SimOutcome, ...]  # in the step's SIM order
    job_ids: tuple[str, ...] = ()

    def count(self, outcome: Outcome) -> int:
        return sum(1 for s in self.sims if s.outcome is outcome)


@dataclass(frozen=True, slots=True)
class OperationTotals:
    operation: Operation
    done: int = 0  # changed by fleetform (this run, or an earlier run of a resumed apply)
    failed: int = 0
    stale: int = 0
    skipped: int = 0
    not_run: int = 0
    already: int = 0  # DONE, but the SIM held the values already: nothing of ours changed it


@dataclass(frozen=True, slots=True)
class ApplyReport:
    """The result of one apply run (a resumed run includes what earlier runs did)."""

    plan_checksum: str
    endpoint: str
    account: str
    steps: tuple[StepReport, ...]  # in plan order
    requests_spent: int  # by this run (reads, writes, polls, retries)
    waited_seconds: float  # this run waited for the rate window to reset (wall-clock)
    rate_limited: int = 0  # 429 answers seen by this run
    duration_seconds: float = 0.0
    stopped: str | None = None  # why the run stopped before the end (e.g. --budget spent)
    resumed: bool = False
    rollout_stopped_at: str | None = None  # the rollout step whose check or gate stopped it
    held_back: tuple[Problem, ...] = ()  # the plan's SIMs held back: not applied, with the fix

    @property
    def totals(self) -> tuple[OperationTotals, ...]:
        """Per operation, in the order operations first appear in the plan."""
        order: list[Operation] = []
        counts: dict[Operation, dict[Outcome, int]] = {}
        already: dict[Operation, int] = {}
        for step in self.steps:
            if step.operation not in counts:
                order.append(step.operation)
                counts[step.operation] = dict.fromkeys(Outcome, 0)
                already[step.operation] = 0
            for sim in step.sims:
                counts[step.operation][sim.outcome] += 1
                already[step.operation] += sim.already
        return tuple(
            OperationTotals(
                operation=op,
                done=counts[op][Outcome.DONE] - already[op],
                already=already[op],
                failed=counts[op][Outcome.FAILED],
                stale=counts[op][Outcome.STALE],
                skipped=counts[op][Outcome.SKIPPED],
                not_run=counts[op][Outcome.NOT_RUN],
            )
            for op in order
        )

    def count(self, outcome: Outcome) -> int:
        return sum(step.count(outcome) for step in self.steps)

    @property
    def already_in_place(self) -> int:
        """SIM changes found already made (DONE, but not by fleetform)."""
        return sum(1 for step in self.steps for s in step.sims if s.already)

    @property
    def changed(self) -> int:
        """SIM changes fleetform made (in this run, or an earlier run of a resumed apply)."""
        return self.count(Outcome.DONE) - self.already_in_place

    @property
    def complete(self) -> bool:
        """Every SIM of every step done: exit 0. Otherwise apply exits 3."""
        return self.stopped is None and all(
            s.outcome is Outcome.DONE for step in self.steps for s in step.sims
        )


# --- drift ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DriftField:
    field: str  # field path
    desired: str | None  # what git says
    live: str | None  # what SmartHub says
    last_changed: datetime | None = None  # from the change history, when it covers the field
    source: SourceRef | None = None  # where the desired value is declared


@dataclass(frozen=True, slots=True)
class DriftSim:
    iccid: str
    group: str
    status: Status
    fields: tuple[DriftField, ...]  # in field-path order
    last_modified: datetime | None = None  # the SIM's lastModifiedTime (any field)


@dataclass(frozen=True, slots=True)
class DriftBasis:
    """What a drift report's verdicts rest on and how fresh each is.

    ``mode`` "full": the whole account was read (``reason`` says why when incremental drift
    was the default but could not be used). "incremental": the live-state cache, brought up to
    date by the change history (state and rate plan, up to ``history_until``), the pushes the
    webhook receiver recorded (APN status and the rest of a pushed SIM, last at
    ``last_push``), and a rotating slice of the list (every field; the record verified longest
    ago is ``oldest_verified``)."""

    mode: str  # "full" | "incremental"
    reason: str | None = None
    read_at: datetime | None = None  # the full read (or the cache's last full read) began
    history_until: datetime | None = None
    history_entries: int = 0
    last_push: datetime | None = None
    oldest_verified: datetime | None = None
    verified_pages: int = 0
    verify_budget: int = 0
    single_reads: int = 0  # declared SIMs the cache did not hold, read one by one
    full_read_requests: int = 0  # what reading the whole list costs


@dataclass(frozen=True, slots=True)
class DriftReport:
    """Where the live fleet differs from git: the plan's diff without the steps."""

    fleet: str
    account: str
    endpoint: str
    checked_at: datetime
    sims_read: int
    sims: tuple[DriftSim, ...]  # sorted by iccid
    missing: tuple[str, ...] = ()  # declared in git, absent from the account
    unmanaged: tuple[str, ...] = ()  # live but in no manifest (empty when the fleet ignores them)
    problems: tuple[Problem, ...] = ()
    history_since: datetime | None = None  # the change history was read from this time on
    requests_spent: int = 0
    basis: DriftBasis | None = None  # what the verdicts rest on (None: a plain full read)

    @property
    def has_drift(self) -> bool:
        """Managed fields differ, declared SIMs are missing, or a retired SIM differs from git
        (a problem no apply can fix). Unmanaged SIMs are reported but are not drift: git says
        nothing about them, and a fleet that manages part of an account would never be clean."""
        return bool(self.sims or self.missing or self.problems)
