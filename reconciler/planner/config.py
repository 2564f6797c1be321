"""The planner's knobs (`PlannerConfig`); the defaults follow the SmartHub contract."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PlannerConfig:
    """Knobs of the planner; the defaults follow the SmartHub contract.

    ``rate_window_seconds``: the contract says 5000 requests *an hour*; the headers do not
    carry the window's length, so the hour is assumed unless the limiter learnt the length
    from a fresh window's Reset (`reconciler.planner.cost.rate_window`).
    ``mass_disable_share``: a plan suspending or retiring more than this share of the
    *managed* SIMs (declared in the manifests and live in the account) is refused unless
    forced; fleets of fewer than ``mass_disable_min_sims`` managed SIMs are exempt (suspending
    3 of 4 test SIMs is not an accident worth a guard). Unmanaged SIMs are not the base: in an
    account of 1,000 SIMs of which the manifests manage 82, suspending 74 of them is a mass
    disable of the fleet, not 7% of the account. ``maxChanges`` as a share is of the declared
    SIMs (`reconciler.planner.guards.max_changes_limit`); the two bases differ only by declared
    SIMs missing from the account, which no step can touch.
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

__all__ = ["DEFAULT_CONFIG", "PlannerConfig"]
