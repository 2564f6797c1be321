"""Scheduling: each changed SIM's steps into waves, grouped, ordered and chunked into steps.

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
the manifest did not ask to be active. The status moves come from
`reconciler.planner.statemachine`.

Grouping
--------
SIMs needing the same operation (and, for basic plans, the same plan) in the same wave are
grouped. Status changes and basic plans may run as batch jobs: a job costs one submit plus
``PlannerConfig.batch_polls`` polls, and is used when that is fewer requests than one call per
SIM; groups are split evenly into jobs of at most `BATCH_MAX_SIMS`. Supplementary plans,
APN status (one request per APN) and custom fields (one request per SIM, all fields in one
PUT) are single calls, chunked into steps of at most `BATCH_MAX_SIMS` SIMs so apply can record
progress in pieces.

Order and ids: wave, rollout step, operation (the state machine's, then the field kinds' in
the order of `reconciler.fields`), rate plan, first ICCID. Ids are ``w<wave>-s<nnn>``,
numbered within the wave.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from reconciler import fields
from reconciler.canary import StageKey
from reconciler.fields import FieldKind
from reconciler.model import (
    BATCH_MAX_SIMS,
    STATE,
    DesiredSim,
    FieldChange,
    Operation,
    Problem,
    RatePlan,
    SimDiff,
    SourceRef,
    Status,
    Step,
    StepSim,
)
from reconciler.planner.config import PlannerConfig
from reconciler.planner.statemachine import operation_result, status_path
from reconciler.wording import counted

_STATUS_ORDER: Mapping[Operation, int] = {
    Operation.ACTIVATE: 0,
    Operation.SUSPEND: 1,
    Operation.RETIRE: 2,
}


class Collector:
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
                        f"{first.message} (and {counted(count - 1, 'more SIM', 'more SIMs')} "
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
    kind: FieldKind,
    key: str | None,
    catalogue: Mapping[str, RatePlan],
    collector: Collector,
) -> bool:
    """Whether a change of a kind that names a rate plan (its ``catalogue`` type) names a plan
    of that type in the account's catalogue."""
    expected = kind.catalogue
    if expected is None:
        return True
    name = kind.catalogue_name(key, change.after)
    assert name is not None
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


# A field change with its kind and key, as the table splits its path.
_Change = tuple[FieldKind, str | None, FieldChange]


def schedule_sim(
    sim: SimDiff,
    want: DesiredSim,
    catalogue: Mapping[str, RatePlan],
    collector: Collector,
) -> None:
    """Add one changed SIM's steps to ``collector``: its status path and its field slot in
    waves, or a problem when no legal path or subscribe exists."""
    target: Status | None = None
    changes: list[_Change] = []
    for change in sim.changes:
        kind, key = fields.split(change.field)
        if kind.operation is None:  # the state: the state machine moves it
            assert change.after is not None
            target = Status(change.after)
        elif _check_catalogue(want, change, kind, key, catalogue, collector):
            changes.append((kind, key, change))

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
    if status_at_fields is not Status.ACTIVE and any(k.needs_active for k, _, _ in changes):
        _refuse_inactive(sim, want, target, [c for c in changes if c[0].needs_active], collector)
        changes = [c for c in changes if not c[0].needs_active]

    wave = 1
    state = sim.status
    if changes and fields_first:
        _emit_fields(collector, wave, sim, state, changes)
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
    if changes and not fields_first:
        _emit_fields(collector, wave, sim, state, changes)


def _refuse_inactive(
    sim: SimDiff,
    want: DesiredSim,
    target: Status | None,
    changes: Sequence[_Change],
    collector: Collector,
) -> None:
    """A problem per change that can never be legal: the kind needs an active SIM (a
    subscribe), and the SIM is not active when it runs."""
    for kind, key, change in changes:
        if target is None:
            why = f"it is {sim.status.value} and the manifest does not manage its state"
        else:
            why = f"it goes from {sim.status.value} to {target.value} without being active"
        collector.problem(
            f"{kind.name}_inactive",
            Problem(
                f"cannot {kind.verb} SIM {sim.iccid} to {key!r}: "
                f"a {kind.label} needs an active SIM, and {why}",
                iccid=sim.iccid,
                field=change.field,
                source=_source(want, change.field),
            ),
        )


def _emit_fields(
    collector: Collector, wave: int, sim: SimDiff, state: Status, changes: Sequence[_Change]
) -> None:
    """The field slot: per kind, in table order, one step SIM per change when the kind splits
    its steps (by rate plan), else one step SIM with all the kind's changes."""
    for kind in fields.kinds():
        operation = kind.operation
        mine = [c for c in changes if c[0] is kind]
        if not mine or operation is None:
            continue
        if kind.step_group is None:
            collector.add(wave, operation, "", _step_sim(sim, state, *(c for _, _, c in mine)))
            continue
        for _, key, change in mine:
            group = kind.group(key, change.after)
            collector.add(wave, operation, group, _step_sim(sim, state, change))


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
    """Requests of one call per SIM: the field kind's cost (one per key, or one per SIM)."""
    kind = fields.of_operation(operation)
    if kind is None:
        return len(sims)
    return sum(kind.requests(s.after) for s in sims)


def _operation_rank(operation: Operation) -> int:
    """The state machine's operations first, then the field kinds' in table order."""
    if operation in _STATUS_ORDER:
        return _STATUS_ORDER[operation]
    ranks = [k.operation for k in fields.kinds() if k.operation is not None]
    return len(_STATUS_ORDER) + ranks.index(operation)


def build_steps(
    groups: Mapping[StageKey, list[StepSim]], config: PlannerConfig
) -> tuple[Step, ...]:
    """The plan's steps from the grouped SIMs, in plan order, with their ids and costs."""
    steps: list[Step] = []
    numbers: dict[int, int] = {}
    ordered = sorted(groups, key=lambda k: (k[0], k[1], _operation_rank(k[2]), k[3]))
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


__all__ = ["Collector", "build_steps", "schedule_sim"]
