"""The planner: a `FleetDiff` becomes a `Plan` of steps in waves. Pure: no network, no clock.

Paths through the state machine (docs/smarthub-api.md)
------------------------------------------------------
==================  ==========================  ===================================
live                desired                      status steps
==================  ==========================  ===================================
pre-service         active                       activate
suspended           active                       activate
active/pre-service  suspended                    suspend
suspended           retired                      retire
active/pre-service  retired                      suspend, then retire (two waves)
retired             anything different           a Problem (the diff reports it)
==================  ==========================  ===================================

Waves, per SIM, as few as correctness allows
--------------------------------------------
A step's ``before`` holds the SIM's ``state`` (apply checks it), so a SIM is never in a status
step and another step of the same wave. The other changes (basic plan, supplementary plans,
APNs, custom fields) run together in one *field slot*:

- going to **active**: activate, then the field slot (a subscribe needs ACTIVATED);
- going to **suspended/retired**: the field slot first (while the SIM can still take a
  subscribe; nothing changes a retired SIM), then suspend, then retire;
- no status change: the field slot alone, in wave 1.

A SIM's slots occupy waves 1, 2, 3, ... so the plan has as many waves as its longest SIM
needs (at most three: fields, suspend, retire). A subscribe that can never be legal -- the SIM
is not ACTIVATED and will not be (stays suspended, is pre-service, goes to retired without
being active) -- is a `Problem` and is left out of the steps; fleetform does not activate a SIM
the manifest did not ask to be active.

Grouping
--------
SIMs needing the same operation (and, for basic plans, the same plan) in the same wave are
grouped. Status changes and basic plans may run as batch jobs: a job costs one submit plus
``PlannerConfig.batch_polls`` polls, and is used when that is fewer requests than one call per
SIM; groups are split evenly into jobs of at most `BATCH_MAX_SIMS`. Supplementary plans,
APN status (one request per APN) and custom fields (one request per SIM, all fields in one
PUT) are single calls, chunked into steps of at most `BATCH_MAX_SIMS` SIMs so apply can record
progress in pieces.

Order and ids: wave, rollout step, operation (the `Operation` declaration order), rate plan,
first ICCID. Ids are ``w<wave>-s<nnn>``, numbered within the wave.

Rollout
-------
With a ``spec.rollout``, `reconciler.canary` splits each wave's SIMs into rollout steps before
the grouping above (see there for how canaries are chosen); the plan's ``rollout`` lists them
with their SIMs, requests and time including the soaks.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from reconciler import holdback
from reconciler.canary import StageKey, describe_stages, split_stages
from reconciler.errors import PlanError, UnsafePlanError
from reconciler.model import (
    BATCH_MAX_SIMS,
    PRE_SERVICE,
    RATE_PLAN,
    STATE,
    DesiredFleet,
    DesiredSim,
    FieldChange,
    FleetDiff,
    Guard,
    Operation,
    Plan,
    PlanSummary,
    Problem,
    RateBudget,
    RatePlan,
    RatePlanType,
    SimDiff,
    SourceRef,
    Status,
    Step,
    StepSim,
    Targeting,
    known_account_size,
    parse_field,
    steps_by_wave,
)
from reconciler.smarthub.wire import PAGE_SIZE  # the one page size of the client
from reconciler.wording import counted

# Named as the manifest spells the setting (``guards.allowRetire`` ...), in every report.
GUARD_ALLOW_RETIRE = "allowRetire"
GUARD_MAX_CHANGES = "maxChanges"
GUARD_MASS_DISABLE = "massDisable"

_OPERATION_ORDER: Mapping[Operation, int] = {op: i for i, op in enumerate(Operation)}
_STATUS_OPERATIONS = frozenset({Operation.ACTIVATE, Operation.SUSPEND, Operation.RETIRE})


@dataclass(frozen=True, slots=True)
class PlannerConfig:
    """Knobs of the planner; the defaults follow the SmartHub contract.

    ``rate_window_seconds``: the contract says 5000 requests *an hour*; the headers do not
    carry the window's length, so the hour is assumed unless the limiter learnt the length
    from a fresh window's Reset (`rate_window`).
    ``mass_disable_share``: a plan suspending or retiring more than this share of the
    *managed* SIMs (declared in the manifests and live in the account) is refused unless
    forced; fleets of fewer than ``mass_disable_min_sims`` managed SIMs are exempt (suspending
    3 of 4 test SIMs is not an accident worth a guard). Unmanaged SIMs are not the base: in an
    account of 1,000 SIMs of which the manifests manage 82, suspending 74 of them is a mass
    disable of the fleet, not 7% of the account. ``maxChanges`` as a share is of the declared
    SIMs (`max_changes_limit`); the two bases differ only by declared SIMs missing from the
    account, which no step can touch.
    """

    batch_polls: int = 3
    rate_window_seconds: float = 3600.0
    default_rate_limit: int = 5000
    mass_disable_share: float = 0.5
    mass_disable_min_sims: int = 10
    unmanaged_listed_in_warning: int = 5
    missing_listed_per_file: int = 10
    strict: bool = False  # SIM problems make the plan invalid instead of being held back


DEFAULT_CONFIG = PlannerConfig()


# --- the state machine -------------------------------------------------------------------


def status_path(live: Status, target: Status) -> tuple[Operation, ...] | None:
    """The status operations taking ``live`` to ``target``; None when no path exists."""
    if live is target:
        return ()
    if live is Status.RETIRED:
        return None
    if target is Status.ACTIVE:
        return (Operation.ACTIVATE,)
    if target is Status.SUSPENDED:
        return None if live is Status.SUSPENDED else (Operation.SUSPEND,)
    if target is Status.RETIRED:
        if live is Status.SUSPENDED:
            return (Operation.RETIRE,)
        return (Operation.SUSPEND, Operation.RETIRE)
    return None  # a pre-service state is never a target


_RESULT: Mapping[Operation, Status] = {
    Operation.ACTIVATE: Status.ACTIVE,
    Operation.SUSPEND: Status.SUSPENDED,
    Operation.RETIRE: Status.RETIRED,
}


def operation_allowed(operation: Operation, status: Status) -> bool:
    """Whether SmartHub accepts ``operation`` on a SIM in ``status`` (the contract's table)."""
    if operation is Operation.ACTIVATE:
        return status in PRE_SERVICE or status is Status.SUSPENDED
    if operation is Operation.SUSPEND:
        return status in PRE_SERVICE or status is Status.ACTIVE
    if operation is Operation.RETIRE:
        return status is Status.SUSPENDED
    if operation is Operation.SUBSCRIBE_PLAN:
        return status is Status.ACTIVE
    return status is not Status.RETIRED


def operation_result(operation: Operation) -> Status | None:
    """The status a status operation leaves the SIM in (None for field operations)."""
    return _RESULT.get(operation)


# --- per-SIM scheduling ------------------------------------------------------------------


class _Collector:
    """Accumulates StepSims per (wave, operation, rate plan), and problems deduplicated."""

    def __init__(self) -> None:
        self.groups: dict[tuple[int, Operation, str], list[StepSim]] = {}
        self.problems: list[Problem] = []
        self._problem_counts: dict[tuple[str, str, SourceRef | None], int] = {}
        self._problem_first: dict[tuple[str, str, SourceRef | None], Problem] = {}

    def add(self, wave: int, operation: Operation, rate_plan: str, sim: StepSim) -> None:
        self.groups.setdefault((wave, operation, rate_plan), []).append(sim)

    def problem(self, key: str, problem: Problem) -> None:
        """Record a problem once per (kind, field, manifest place), counting the SIMs."""
        dedupe = (key, problem.field or "", problem.source)
        if dedupe not in self._problem_counts:
            self._problem_counts[dedupe] = 0
            self._problem_first[dedupe] = problem
        self._problem_counts[dedupe] += 1

    def finished_problems(self) -> list[Problem]:
        out = list(self.problems)
        for key, first in self._problem_first.items():
            count = self._problem_counts[key]
            if count > 1:
                first = Problem(
                    message=(
                        f"{first.message} (and {count - 1:,} more SIM{_s(count - 1)} "
                        "declared there)"
                    ),
                    iccid=first.iccid,
                    field=first.field,
                    source=first.source,
                )
            out.append(first)
        return out


def _source(want: DesiredSim, path: str) -> SourceRef:
    return want.field_sources.get(path, want.source)


_VALID_PLANS_LISTED = 12


def _check_catalogue(
    want: DesiredSim,
    change: FieldChange,
    kind: str,
    key: str | None,
    catalogue: Mapping[str, RatePlan],
    collector: _Collector,
) -> bool:
    """Whether a plan change names a plan of the right type in the account's catalogue."""
    name = key if kind == "supplementaryPlans" else change.after
    assert name is not None
    expected = RatePlanType.SUPPLEMENTARY if kind == "supplementaryPlans" else RatePlanType.BASIC
    found = catalogue.get(name)
    if found is not None and found.type is expected:
        return True
    valid = sorted(p.name for p in catalogue.values() if p.type is expected)
    shown = ", ".join(valid[:_VALID_PLANS_LISTED]) + (
        f" and {len(valid) - _VALID_PLANS_LISTED} more" if len(valid) > _VALID_PLANS_LISTED else ""
    )
    choose = f"; the account's {expected.value} plans: {shown}" if valid else ""
    if found is None:
        message = f"unknown rate plan {name!r}: not in the account's catalogue{choose}"
        tag = "unknown_plan"
    else:
        message = (
            f"rate plan {name!r} is {found.type.value}, but {change.field} needs a {expected}"
            + choose
        )
        tag = "plan_type"
    collector.problem(
        tag,
        Problem(message, iccid=want.iccid, field=change.field, source=_source(want, change.field)),
    )
    return False


def _schedule_sim(
    sim: SimDiff,
    want: DesiredSim,
    catalogue: Mapping[str, RatePlan],
    collector: _Collector,
) -> None:
    target: Status | None = None
    fields: list[tuple[str, str | None, FieldChange]] = []
    subscribes: list[FieldChange] = []
    for change in sim.changes:
        kind, key = parse_field(change.field)
        if kind == STATE:
            assert change.after is not None
            target = Status(change.after)
        elif kind in (RATE_PLAN, "supplementaryPlans"):
            if _check_catalogue(want, change, kind, key, catalogue, collector):
                if kind == RATE_PLAN:
                    fields.append((kind, key, change))
                else:
                    subscribes.append(change)
        else:
            fields.append((kind, key, change))

    path: tuple[Operation, ...] = ()
    if target is not None:
        found = status_path(sim.status, target)
        if found is None:
            collector.problems.append(
                Problem(
                    f"SIM {sim.iccid} cannot go from {sim.status.value} to {target.value}",
                    iccid=sim.iccid,
                    field=STATE,
                    source=_source(want, STATE),
                )
            )
            return
        path = found

    # Where the field slot goes, and the status the SIM has when it runs.
    fields_first = not (path and path[0] is Operation.ACTIVATE)
    status_at_fields = sim.status if fields_first else Status.ACTIVE
    if subscribes and status_at_fields is not Status.ACTIVE:
        for change in subscribes:
            if target is None:
                why = f"it is {sim.status.value} and the manifest does not manage its state"
            else:
                why = f"it goes from {sim.status.value} to {target.value} without being active"
            collector.problem(
                "subscribe_inactive",
                Problem(
                    f"cannot subscribe SIM {sim.iccid} to {parse_field(change.field)[1]!r}: "
                    f"a supplementary plan needs an active SIM, and {why}",
                    iccid=sim.iccid,
                    field=change.field,
                    source=_source(want, change.field),
                ),
            )
        subscribes = []

    wave = 1
    state = sim.status
    has_fields = bool(fields or subscribes)
    if has_fields and fields_first:
        _emit_fields(collector, wave, sim, state, fields, subscribes)
        wave += 1
    for operation in path:
        after = operation_result(operation)
        assert after is not None
        collector.add(
            wave,
            operation,
            "",
            StepSim(sim.iccid, sim.group, {STATE: state.value}, {STATE: after.value}),
        )
        state = after
        wave += 1
    if has_fields and not fields_first:
        _emit_fields(collector, wave, sim, state, fields, subscribes)


def _emit_fields(
    collector: _Collector,
    wave: int,
    sim: SimDiff,
    state: Status,
    fields: Sequence[tuple[str, str | None, FieldChange]],
    subscribes: Sequence[FieldChange],
) -> None:
    apns: list[FieldChange] = []
    customs: list[FieldChange] = []
    for kind, _key, change in fields:
        if kind == RATE_PLAN:
            assert change.after is not None
            collector.add(
                wave, Operation.SET_RATE_PLAN, change.after, _step_sim(sim, state, change)
            )
        elif kind == "apns":
            apns.append(change)
        else:
            customs.append(change)
    for change in subscribes:
        plan = parse_field(change.field)[1] or ""
        collector.add(wave, Operation.SUBSCRIBE_PLAN, plan, _step_sim(sim, state, change))
    if apns:
        collector.add(wave, Operation.SET_APN_STATUS, "", _step_sim(sim, state, *apns))
    if customs:
        collector.add(wave, Operation.SET_CUSTOM_FIELDS, "", _step_sim(sim, state, *customs))


def _step_sim(sim: SimDiff, state: Status, *changes: FieldChange) -> StepSim:
    before: dict[str, str | None] = {STATE: state.value}
    after: dict[str, str | None] = {}
    for change in changes:
        before[change.field] = change.before
        after[change.field] = change.after
    return StepSim(sim.iccid, sim.group, before, after)


# --- steps -------------------------------------------------------------------------------


def _even_chunks(items: Sequence[StepSim], size: int) -> list[Sequence[StepSim]]:
    """Split into the fewest chunks of at most ``size``, sizes differing by at most one."""
    count = max(1, math.ceil(len(items) / size))
    base, extra = divmod(len(items), count)
    chunks: list[Sequence[StepSim]] = []
    start = 0
    for i in range(count):
        end = start + base + (1 if i < extra else 0)
        chunks.append(items[start:end])
        start = end
    return chunks


def _single_requests(operation: Operation, sims: Sequence[StepSim]) -> int:
    if operation is Operation.SET_APN_STATUS:
        return sum(len(s.after) for s in sims)
    return len(sims)


def _build_steps(
    groups: Mapping[StageKey, list[StepSim]], config: PlannerConfig
) -> tuple[Step, ...]:
    steps: list[Step] = []
    numbers: dict[int, int] = {}
    ordered = sorted(groups, key=lambda k: (k[0], k[1], _OPERATION_ORDER[k[2]], k[3]))
    for wave, stage, operation, plan in ordered:
        sims = groups[(wave, stage, operation, plan)]
        chunks = _even_chunks(sims, BATCH_MAX_SIMS)
        batch_cost = len(chunks) * (1 + config.batch_polls)
        batch = operation.batch_operation is not None and batch_cost < len(sims)
        for chunk in chunks:
            numbers[wave] = numbers.get(wave, 0) + 1
            steps.append(
                Step(
                    id=f"w{wave}-s{numbers[wave]:03d}",
                    wave=wave,
                    operation=operation,
                    batch=batch,
                    sims=tuple(chunk),
                    requests=1 + config.batch_polls
                    if batch
                    else _single_requests(operation, chunk),
                    rate_plan=plan or None,
                    rollout=stage,
                )
            )
    return tuple(steps)


# --- guards and estimate -----------------------------------------------------------------


def _guards(
    desired: DesiredFleet,
    steps: Sequence[Step],
    to_change: int,
    managed: int,
    config: PlannerConfig,
) -> tuple[Guard, ...]:
    spec = desired.fleet
    retired = {s.iccid for step in steps if step.operation is Operation.RETIRE for s in step.sims}
    disabled = {
        s.iccid
        for step in steps
        if step.operation in (Operation.SUSPEND, Operation.RETIRE)
        for s in step.sims
    }
    guards: list[Guard] = []

    if retired:
        allowed = spec.allow_retire
        guards.append(
            Guard(
                GUARD_ALLOW_RETIRE,
                blocking=not allowed,
                message=(
                    f"{len(retired):,} SIM{_s(len(retired))} would be retired, which is final"
                    + (" (allowed by allowRetire in the Fleet)" if allowed else "")
                ),
                override=None if allowed else "--allow-retire",
            )
        )
    else:
        guards.append(Guard(GUARD_ALLOW_RETIRE, False, "no SIM is retired"))

    limit = max_changes_limit(desired)
    if limit is None:
        changing = f"{counted(to_change, 'SIM')} change{'s' if to_change == 1 else ''}"
        guards.append(Guard(GUARD_MAX_CHANGES, False, f"{changing} (no maxChanges)"))
    else:
        over = to_change > limit
        guards.append(
            Guard(
                GUARD_MAX_CHANGES,
                blocking=over,
                message=f"{to_change:,} SIM{_s(to_change)} change, maxChanges allows {limit:,}",
                override="--max-changes" if over else None,
            )
        )

    share = len(disabled) / managed if managed else 0.0
    if managed < config.mass_disable_min_sims:
        guards.append(
            Guard(
                GUARD_MASS_DISABLE,
                False,
                f"{len(disabled):,} of {managed:,} managed SIMs suspended or retired "
                f"(not checked below {config.mass_disable_min_sims} SIMs)",
            )
        )
    else:
        limit_share = (
            config.mass_disable_share
            if spec.mass_disable_percent is None
            else spec.mass_disable_percent / 100
        )
        mass = share > limit_share
        guards.append(
            Guard(
                GUARD_MASS_DISABLE,
                blocking=mass,
                message=(
                    f"{len(disabled):,} of {managed:,} managed SIMs ({share:.0%}) would be "
                    f"suspended or retired"
                    + (
                        f", more than {limit_share:.0%} of the fleet: an emptied "
                        "manifest or a bad merge?"
                        if mass
                        else (
                            f" (massDisable in the Fleet allows {limit_share:.0%})"
                            if spec.mass_disable_percent is not None and share > 0
                            else ""
                        )
                    )
                ),
                override="--force" if mass else None,
            )
        )
    return tuple(guards)


def max_changes_limit(desired: DesiredFleet) -> int | None:
    """The Fleet's ``maxChanges`` as a SIM count; a share is of the SIMs the manifests declare."""
    spec = desired.fleet
    limits: list[int] = []
    if spec.max_changes is not None:
        limits.append(spec.max_changes)
    if spec.max_changes_percent is not None:
        limits.append(math.floor(spec.max_changes_percent / 100 * len(desired.sims)))
    return min(limits) if limits else None


def check_reads(sims: int, account_size: int) -> int:
    """Requests apply spends re-reading ``sims`` SIMs before a wave (the stale check).

    Single GETs cost one per SIM; the paged list costs one per `PAGE_SIZE` SIMs of the account.
    Apply reads whichever is cheaper, so this is the one rule both use.
    """
    pages = max(1, math.ceil(account_size / PAGE_SIZE))
    return min(sims, pages)


def rate_window(rate_budget: RateBudget | None, config: PlannerConfig) -> tuple[float, str]:
    """The rate window's length for the estimate, and where it came from.

    ``server``: the server's ``X-RateLimit-Reset`` showed it (`RateBudget.window_seconds`, the
    Reset of a window's first request). ``at least``: no window was seen from its start, but a
    Reset longer than the default was, so the window is at least that. ``assumed``: nothing
    better is known, so the contract's hour (``config.rate_window_seconds``). Whole seconds, so
    the Reset's rounding does not make two plans of the same state differ.
    """
    if rate_budget is not None and rate_budget.window_seconds:
        return float(math.ceil(rate_budget.window_seconds)), "server"
    if rate_budget is not None and rate_budget.longest_reset > config.rate_window_seconds:
        return float(math.ceil(rate_budget.longest_reset)), "at least"
    return config.rate_window_seconds, "assumed"


def estimate_seconds(
    requests: int, limit: int, config: PlannerConfig, window: float | None = None
) -> float:
    """Time to spend ``requests`` at the sustained pace of the server's budget: ``limit``
    requests per ``window`` (default ``rate_window_seconds``).

    Deliberately independent of what is left in the current window when the plan is made: two
    plans of the same state must be identical apart from their creation time, and the budget
    left moves with every request (the plan command says it on stderr). An apply that starts
    with room left in the window finishes sooner; batch job processing time is not included.
    """
    if requests <= 0:
        return 0.0
    return requests * (window or config.rate_window_seconds) / max(limit, 1)


def _s(n: int) -> str:
    return "" if n == 1 else "s"


# --- the plan ------------------------------------------------------------------------------


def make_plan(
    desired: DesiredFleet,
    diff: FleetDiff,
    catalogue: Iterable[RatePlan],
    *,
    endpoint: str,
    account: str,
    requests_read: int,
    rate_budget: RateBudget | None,
    created_at: str,
    config: PlannerConfig = DEFAULT_CONFIG,
    targeted: Targeting | None = None,
) -> Plan:
    """Plan the changes of ``diff``.

    The plan's ``checksum`` is left empty: `reconciler.planfile.seal` fills it (the canonical
    JSON lives there, a layer above). ``sims_read`` counts every SIM of the account the diff
    saw: changed, unchanged, unmanaged, and retired ones with a problem; the mass-disable
    guard counts only the managed ones (all of those but the unmanaged). A ``targeted`` plan
    (``--changed-from``) read only some SIMs: its guards weigh them against every SIM declared
    and found, and its re-check estimate prices the list by the whole account.
    """
    by_name = {p.name: p for p in catalogue}
    collector = _Collector()
    sim_problems = [*diff.problems, *_missing_problems(desired, diff.missing, account, config)]
    strict_problems, held = holdback.split(sim_problems, strict=config.strict)
    collector.problems.extend(strict_problems)
    for sim in diff.changed:
        _schedule_sim(sim, desired.sims[sim.iccid], by_name, collector)

    groups, stage_infos = split_stages(collector.groups, lambda i: desired.sims[i].rollout)
    steps = _build_steps(groups, config)
    by_operation: dict[str, set[str]] = {}
    for step in steps:
        by_operation.setdefault(step.operation.value, set()).update(s.iccid for s in step.sims)
    touched: set[str] = set().union(*by_operation.values()) if by_operation else set()
    managed = len(diff.changed) + diff.unchanged + len(diff.problems)  # declared and live
    sims_read = managed + len(diff.unmanaged)
    size = known_account_size(sims_read, len(desired.sims), targeted)
    if targeted is not None:  # the SIMs not read are declared and, as far as we know, live
        managed = len(desired.sims) - len(diff.missing)

    # Writes and batch polls, plus apply's live re-check of each wave's SIMs.
    requests = sum(step.requests for step in steps) + sum(
        check_reads(len({s.iccid for step in wave_steps for s in step.sims}), size)
        for wave_steps in steps_by_wave(steps)
    )
    rate_limit = rate_budget.limit if rate_budget else config.default_rate_limit
    window, window_source = rate_window(rate_budget, config)
    stages = describe_stages(
        stage_infos,
        steps,
        reads=lambda n: check_reads(n, size),
        seconds=lambda r: estimate_seconds(r, rate_limit, config, window),
    )
    if stages:  # each rollout step re-checks its own SIMs, and waits its soak
        requests = sum(stage.requests for stage in stages)
    report_unmanaged = desired.fleet.unmanaged != "ignore"
    warnings: list[str] = []
    if report_unmanaged and diff.unmanaged:
        shown = ", ".join(diff.unmanaged[: config.unmanaged_listed_in_warning])
        more = len(diff.unmanaged) - config.unmanaged_listed_in_warning
        warnings.append(
            f"{len(diff.unmanaged):,} SIM{_s(len(diff.unmanaged))} in account {account!r} "
            f"{'is' if len(diff.unmanaged) == 1 else 'are'} in no manifest (unmanaged): {shown}"
            + (f" and {more:,} more" if more > 0 else "")
        )
    if rate_budget is None:
        warnings.append(
            f"the server reported no rate budget: the estimate assumes "
            f"{config.default_rate_limit:,} requests an hour"
        )

    summary = PlanSummary(
        sims_declared=len(desired.sims),
        sims_read=sims_read,
        unchanged=diff.unchanged,
        to_change=len(touched),
        unmanaged=len(diff.unmanaged),
        missing=len(diff.missing),
        sims_by_operation={
            op.value: len(by_operation[op.value]) for op in Operation if op.value in by_operation
        },
        requests_read=requests_read,
        requests_estimated=requests,
        duration_estimated_seconds=round(
            estimate_seconds(requests, rate_limit, config, window)
            + sum(stage.soak_seconds for stage in stages),
            1,
        ),
        rate_limit=rate_limit,
        rate_window_seconds=window,
        rate_window_source=window_source,
    )
    return Plan(
        created_at=created_at,
        manifest_digest=desired.digest,
        endpoint=endpoint,
        account=account,
        fleet=desired.fleet.name,
        summary=summary,
        steps=steps,
        warnings=tuple(warnings),
        problems=tuple(collector.finished_problems()),
        guards=_guards(desired, steps, len(touched), managed, config),
        unmanaged=diff.unmanaged if report_unmanaged else (),
        missing=diff.missing,
        rollout=stages,
        held_back=tuple(held),
        targeted=targeted,
    )


def _missing_problems(
    desired: DesiredFleet, missing: Sequence[str], account: str, config: PlannerConfig
) -> list[Problem]:
    """One problem per missing SIM; past ``missing_listed_per_file`` in one file, one problem
    for the file (a wrong account would otherwise give 100,000 lines; `Plan.missing` still
    lists every ICCID)."""
    by_file: dict[str, list[str]] = {}
    for iccid in missing:
        by_file.setdefault(desired.sims[iccid].source.file, []).append(iccid)
    problems: list[Problem] = []
    for iccids in by_file.values():
        if len(iccids) <= config.missing_listed_per_file:
            problems.extend(
                Problem(
                    f"SIM {iccid} is declared but not in account {account!r}; "
                    + holdback.missing_fix(account),
                    iccid=iccid,
                    source=desired.sims[iccid].source,
                )
                for iccid in iccids
            )
            continue
        first = desired.sims[iccids[0]]
        problems.append(
            Problem(
                f"{counted(len(iccids), 'SIM')} declared in this file "
                f"{'is' if len(iccids) == 1 else 'are'} not in account {account!r}, "
                f"{first.iccid} first (a wrong account, or SIMs moved away?); "
                + holdback.missing_fix(account, many=True),
                iccid=first.iccid,
                source=first.source,
            )
        )
    return problems


# --- the safety check ------------------------------------------------------------------------


def raise_if_unsafe(
    plan: Plan, *, allow_retire: bool = False, max_changes: int | None = None, force: bool = False
) -> None:
    """Refuse a plan that has problems or a blocking guard the flags do not lift.

    - problems (unknown plans, illegal moves; with ``strict`` planning also missing and
      retired SIMs, else those are held back) → `PlanError`: no flag lifts them;
    - ``allowRetire`` guard → lifted by ``--allow-retire`` (or allowRetire in the Fleet);
    - ``maxChanges`` guard → ``--max-changes N`` replaces the manifest's limit (the plan must
      change at most N SIMs);
    - ``massDisable`` guard → ``--force`` (or a higher massDisable share in the Fleet).
    A guard lifted when the plan was made (``plan --allow-retire``, shown to the reviewer as
    ``lifted_by``) is not blocking in the plan any more.
    """
    if plan.problems:
        count = len(plan.problems)
        head = f"the plan has {count} problem{_s(count)}; fix the manifests and plan again"
        raise PlanError(head + "".join(f"\n  {p}" for p in plan.problems[:20]))
    refusals: list[str] = []
    for guard in plan.guards:
        if guard.name == GUARD_MAX_CHANGES and max_changes is not None:
            if plan.summary.to_change > max_changes:
                refusals.append(
                    f"{GUARD_MAX_CHANGES}: {counted(plan.summary.to_change, 'SIM')} "
                    f"change{'s' if plan.summary.to_change == 1 else ''}, more than "
                    f"--max-changes {max_changes:,}"
                )
            continue
        if not guard.blocking:
            continue
        if guard.name == GUARD_ALLOW_RETIRE and allow_retire:
            continue
        if guard.name == GUARD_MASS_DISABLE and force:
            continue
        lift = f" (pass {guard.override} to proceed)" if guard.override else ""
        refusals.append(f"{guard.name}: {guard.message}{lift}")
    if refusals:
        raise UnsafePlanError("refusing an unsafe plan:\n  " + "\n  ".join(refusals))


__all__ = [
    "DEFAULT_CONFIG",
    "GUARD_ALLOW_RETIRE",
    "GUARD_MASS_DISABLE",
    "GUARD_MAX_CHANGES",
    "PlannerConfig",
    "estimate_seconds",
    "make_plan",
    "max_changes_limit",
    "operation_allowed",
    "operation_result",
    "raise_if_unsafe",
    "status_path",
]
