"""The planner: a `FleetDiff` becomes a `Plan` of steps in waves. Pure: no network, no clock.

One room per job; import from the room:

- `reconciler.planner.make`: `make_plan`, the plan from the diff;
- `reconciler.planner.statemachine`: the legal status moves and their steps;
- `reconciler.planner.schedule`: waves, grouping, order, chunking into (batch) steps;
- `reconciler.planner.cost`: apply's re-read cost (the client's one page size), the rate
  window and the time estimate;
- `reconciler.planner.guards`: allowRetire, maxChanges, massDisable, and `raise_if_unsafe`,
  which apply runs;
- `reconciler.planner.config`: `PlannerConfig`.

The names callers used before the split are re-exported here so older imports keep working.
"""

from __future__ import annotations

from reconciler.planner.config import DEFAULT_CONFIG, PlannerConfig
from reconciler.planner.cost import check_reads, estimate_seconds, rate_window
from reconciler.planner.guards import (
    GUARD_ALLOW_RETIRE,
    GUARD_MASS_DISABLE,
    GUARD_MAX_CHANGES,
    max_changes_limit,
    raise_if_unsafe,
)
from reconciler.planner.make import make_plan
from reconciler.planner.statemachine import operation_allowed, operation_result, status_path

__all__ = [
    "DEFAULT_CONFIG",
    "GUARD_ALLOW_RETIRE",
    "GUARD_MASS_DISABLE",
    "GUARD_MAX_CHANGES",
    "PlannerConfig",
    "check_reads",
    "estimate_seconds",
    "make_plan",
    "max_changes_limit",
    "operation_allowed",
    "operation_result",
    "raise_if_unsafe",
    "rate_window",
    "status_path",
]
