"""A plan as JSON: exactly the plan file (`reconciler.planfile`), so ``--format json`` output
can be saved and applied."""

from __future__ import annotations

from reconciler.model import Plan
from reconciler.planfile import plan_to_json


def render_plan_json(plan: Plan) -> str:
    return plan_to_json(plan)
