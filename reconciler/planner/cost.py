"""What a plan costs: apply's re-read of a wave, the rate window, and the time estimate.

The read cost counts pages of `reconciler.smarthub.wire.PAGE_SIZE`, the one page size the
client asks for (no second constant).
"""

from __future__ import annotations

import math

from reconciler.model import RateBudget
from reconciler.planner.config import PlannerConfig
from reconciler.smarthub.wire import PAGE_SIZE  # the one page size of the client


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


__all__ = ["PAGE_SIZE", "check_reads", "estimate_seconds", "rate_window"]
