"""The apply report and the drift report.

Here rather than in `reconciler.applier` or `reconciler.drift` because the renderers (a sibling
layer of both) must read them without importing either.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from reconciler.model.plan import FieldChange, Operation, Problem
from reconciler.model.sims import SourceRef, Status

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
