"""The plan's guards, weighed when the plan is made, and the refusal at apply time.

Three guards, named as the manifest spells the setting (``guards.allowRetire`` ...) in every
report: ``allowRetire`` (a retire is final), ``maxChanges`` (at most N SIMs, or a share of the
declared ones) and ``massDisable`` (suspending or retiring a large share of the managed SIMs).
`plan_guards` records them in the plan; `raise_if_unsafe`, which apply runs before sending
anything, refuses a plan with problems or a blocking guard its flags do not lift.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from reconciler.errors import PlanError, UnsafePlanError
from reconciler.model import DesiredFleet, Guard, Operation, Plan, Step
from reconciler.planner.config import PlannerConfig
from reconciler.wording import counted

GUARD_ALLOW_RETIRE = "allowRetire"
GUARD_MAX_CHANGES = "maxChanges"
GUARD_MASS_DISABLE = "massDisable"


def plan_guards(
    desired: DesiredFleet,
    steps: Sequence[Step],
    to_change: int,
    managed: int,
    config: PlannerConfig,
) -> tuple[Guard, ...]:
    """The plan's guards, in the order allowRetire, maxChanges, massDisable."""
    retired = {s.iccid for step in steps if step.operation is Operation.RETIRE for s in step.sims}
    disabled = {
        s.iccid
        for step in steps
        if step.operation in (Operation.SUSPEND, Operation.RETIRE)
        for s in step.sims
    }
    return (
        _allow_retire(desired, len(retired)),
        _max_changes(desired, to_change),
        _mass_disable(desired, len(disabled), managed, config),
    )


def _allow_retire(desired: DesiredFleet, retired: int) -> Guard:
    if not retired:
        return Guard(GUARD_ALLOW_RETIRE, False, "no SIM is retired")
    allowed = desired.fleet.allow_retire
    return Guard(
        GUARD_ALLOW_RETIRE,
        blocking=not allowed,
        message=(
            f"{counted(retired, 'SIM')} would be retired, which is final"
            + (" (allowed by allowRetire in the Fleet)" if allowed else "")
        ),
        override=None if allowed else "--allow-retire",
    )


def _max_changes(desired: DesiredFleet, to_change: int) -> Guard:
    limit = max_changes_limit(desired)
    if limit is None:
        changing = f"{counted(to_change, 'SIM')} change{'s' if to_change == 1 else ''}"
        return Guard(GUARD_MAX_CHANGES, False, f"{changing} (no maxChanges)")
    over = to_change > limit
    return Guard(
        GUARD_MAX_CHANGES,
        blocking=over,
        message=f"{counted(to_change, 'SIM')} change, maxChanges allows {limit:,}",
        override="--max-changes" if over else None,
    )


def _mass_disable(
    desired: DesiredFleet, disabled: int, managed: int, config: PlannerConfig
) -> Guard:
    spec = desired.fleet
    share = disabled / managed if managed else 0.0
    if managed < config.mass_disable_min_sims:
        return Guard(
            GUARD_MASS_DISABLE,
            False,
            f"{disabled:,} of {managed:,} managed SIMs suspended or retired "
            f"(not checked below {config.mass_disable_min_sims} SIMs)",
        )
    limit_share = (
        config.mass_disable_share
        if spec.mass_disable_percent is None
        else spec.mass_disable_percent / 100
    )
    mass = share > limit_share
    if mass:
        why = f", more than {limit_share:.0%} of the fleet: an emptied manifest or a bad merge?"
    elif spec.mass_disable_percent is not None and share > 0:
        why = f" (massDisable in the Fleet allows {limit_share:.0%})"
    else:
        why = ""
    return Guard(
        GUARD_MASS_DISABLE,
        blocking=mass,
        message=(
            f"{disabled:,} of {managed:,} managed SIMs ({share:.0%}) would be "
            f"suspended or retired{why}"
        ),
        override="--force" if mass else None,
    )


def max_changes_limit(desired: DesiredFleet) -> int | None:
    """The Fleet's ``maxChanges`` as a SIM count; a share is of the SIMs the manifests declare."""
    spec = desired.fleet
    limits: list[int] = []
    if spec.max_changes is not None:
        limits.append(spec.max_changes)
    if spec.max_changes_percent is not None:
        limits.append(math.floor(spec.max_changes_percent / 100 * len(desired.sims)))
    return min(limits) if limits else None


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
        head = (
            f"the plan has {count} problem{'' if count == 1 else 's'}; "
            "fix the manifests and plan again"
        )
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
    "GUARD_ALLOW_RETIRE",
    "GUARD_MASS_DISABLE",
    "GUARD_MAX_CHANGES",
    "max_changes_limit",
    "plan_guards",
    "raise_if_unsafe",
]
