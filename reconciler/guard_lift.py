"""Lifting a plan's guards when the plan is made, so the reviewer sees the override.

``plan --allow-retire`` / ``--max-changes N`` / ``--force`` (in CI: the pull request's
``fleetform:allow-retire`` and ``fleetform:allow-mass-disable`` labels) lift the guards they
name *in the plan*: a lifted guard stays in the plan, not blocking, with ``lifted_by`` naming
the flag, so the markdown comment, the text and the JSON all show it. A plan file carries its
lifts: applying it runs what was reviewed, lifts included. A guard still blocking makes
``plan`` fail (`blocking_reasons`), so a pull request whose plan apply would refuse fails its
check with the reason instead of failing on merge.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from reconciler.model import Guard, Plan
from reconciler.planfile import seal
from reconciler.planner.guards import GUARD_ALLOW_RETIRE, GUARD_MASS_DISABLE, GUARD_MAX_CHANGES


@dataclass(frozen=True, slots=True)
class GuardOverrides:
    """The override flags of one plan or apply run; ``note`` says who asked (a PR label)."""

    allow_retire: bool = False
    max_changes: int | None = None
    force: bool = False
    note: str | None = None

    @property
    def any(self) -> bool:
        return self.allow_retire or self.force or self.max_changes is not None


def _lift(guard: Guard, overrides: GuardOverrides, to_change: int) -> Guard:
    flag: str | None = None
    if guard.name == GUARD_ALLOW_RETIRE and overrides.allow_retire:
        flag = "--allow-retire"
    elif guard.name == GUARD_MASS_DISABLE and overrides.force:
        flag = "--force"
    elif guard.name == GUARD_MAX_CHANGES and overrides.max_changes is not None:
        if to_change > overrides.max_changes:
            return replace(
                guard,
                blocking=True,
                message=f"{to_change:,} SIM{'' if to_change == 1 else 's'} "
                f"change{'s' if to_change == 1 else ''}, more than --max-changes "
                f"{overrides.max_changes:,}",
                override="--max-changes",
            )
        flag = f"--max-changes {overrides.max_changes}"
    if flag is None or not guard.blocking:
        return guard
    by = f"{flag} ({overrides.note})" if overrides.note else flag
    return replace(guard, blocking=False, override=None, lifted_by=by)


def lift_guards(plan: Plan, overrides: GuardOverrides) -> Plan:
    """``plan`` with the guards ``overrides`` lift marked lifted, sealed again."""
    if not overrides.any:
        return plan
    guards = tuple(_lift(g, overrides, plan.summary.to_change) for g in plan.guards)
    return seal(replace(plan, guards=guards))


def blocking_reasons(plan: Plan) -> list[str]:
    """One line per guard that still stops apply, with what lifts it."""
    reasons = []
    for guard in plan.guards:
        if guard.blocking:
            lift = f" (lift with {lift_hint(guard)})" if guard.override else ""
            reasons.append(f"{guard.name}: {guard.message}{lift}")
    return reasons


_MANIFEST_LIFT = {
    GUARD_ALLOW_RETIRE: "guards.allowRetire: true",
    GUARD_MAX_CHANGES: "guards.maxChanges",
    GUARD_MASS_DISABLE: 'guards.massDisable: "100%"',
}
_LABEL_LIFT = {
    GUARD_ALLOW_RETIRE: "fleetform:allow-retire",
    GUARD_MASS_DISABLE: "fleetform:allow-mass-disable",
}


@dataclass(frozen=True, slots=True)
class LiftWay:
    """One reviewed way to lift a guard: ``before`` + ``code`` (a flag, setting or label)
    + ``after``."""

    code: str
    before: str = ""
    after: str = ""


def lift_ways(guard: Guard) -> list[LiftWay]:
    """Every way to lift ``guard``: the flag, the Fleet's setting, the pull-request label."""
    ways = [LiftWay(guard.override)] if guard.override else []
    setting = _MANIFEST_LIFT.get(guard.name)
    if setting:
        before = "a higher " if guard.name == GUARD_MAX_CHANGES else ""
        ways.append(LiftWay(setting, before, " in the Fleet"))
    label = _LABEL_LIFT.get(guard.name)
    if label:
        ways.append(LiftWay(label, "the pull-request label "))
    return ways


def join_ways(ways: list[LiftWay], code: Callable[[str], str] = str) -> str:
    """``a, b or c`` with each way's code through ``code`` (a markdown code span, say)."""
    parts = [f"{w.before}{code(w.code)}{w.after}" for w in ways]
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " or " + parts[-1]


def lift_hint(guard: Guard) -> str:
    """Every reviewed way to lift ``guard``, as plain text."""
    return join_ways(lift_ways(guard))


__all__ = [
    "GuardOverrides",
    "LiftWay",
    "blocking_reasons",
    "join_ways",
    "lift_guards",
    "lift_hint",
    "lift_ways",
]
