"""SIMs held back from a plan: one bad SIM must not block every plan.

Two kinds of problem concern one SIM of the account and not the manifests as a whole:

- a SIM retired outside fleetform (or retired, and declared with values it cannot take):
  nothing can change a retired SIM;
- a SIM declared but absent from the account (moved away, never delivered, a typo).

By default such SIMs are *held back*: they get no step, the plan lists them with how to fix
each (`Plan.held_back`, recorded in the plan file), and the rest of the plan stays appliable.
``--strict`` keeps them as problems: the plan is invalid and apply refuses it, as before.
Problems of the manifests themselves (an unknown rate plan, a move no API call can make) stay
problems either way: they say the manifests are wrong, not that one SIM is.
"""

from __future__ import annotations

from collections.abc import Sequence

from reconciler.errors import PlanError
from reconciler.model import Plan, Problem

STRICT_HINT = "--strict makes them errors"


def split(sim_problems: Sequence[Problem], *, strict: bool) -> tuple[list[Problem], list[Problem]]:
    """``(problems, held_back)``: under ``strict`` every SIM problem stays a problem."""
    if strict:
        return list(sim_problems), []
    return [], list(sim_problems)


def missing_fix(account: str, *, many: bool = False) -> str:
    them, it = ("them", "they") if many else ("it", "it")
    return (
        f"fix: remove {them} from the manifests if {it} left account {account!r} for good, "
        f"or check the Fleet's account and the ICCID{'s' if many else ''}"
    )


def refuse_held_back(plan: Plan) -> None:
    """``apply --strict PLANFILE``: a plan with SIMs held back is refused, as with problems."""
    if not plan.held_back:
        return
    count = len(plan.held_back)
    head = (
        f"--strict: the plan holds back {count} SIM{'' if count == 1 else 's'}; "
        "fix them and plan again"
    )
    raise PlanError(head + "".join(f"\n  {p}" for p in plan.held_back[:20]))


def held_back_line(plan: Plan) -> str:
    """One line for summaries: how many SIMs were held back, and that the rest can go on."""
    count = len(plan.held_back)
    return (
        f"{count:,} SIM{'' if count == 1 else 's'} held back (listed with the fix for each); "
        f"the rest of the plan can be applied ({STRICT_HINT})"
    )
