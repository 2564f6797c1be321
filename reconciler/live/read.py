"""The live read of a plan: the full paged read (`read_live`), or the targeted one, then the plan.

`run_plan` is what ``plan`` and ``apply`` share: read the account (or only the SIMs a git change
reaches, `reconciler.live.targeted`), diff against the manifests, plan, and attach each step's
manifest sources. Reading costs ceil(N/100) list requests for an account of N SIMs plus one
for the rate-plan catalogue; nothing is read per SIM. The live list is streamed into the diff,
so no LiveSim outlives its comparison.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from reconciler.clock import Clock
from reconciler.diff import diff_fleet
from reconciler.live import Via, record_read
from reconciler.live.heap import frozen_heap
from reconciler.live.targeted import Target, TargetedRead, read_targeted
from reconciler.model import DesiredFleet, FleetDiff, LiveSim, Plan, RateBudget, RatePlan
from reconciler.plan_sources import attach_sources
from reconciler.planner.config import DEFAULT_CONFIG, PlannerConfig
from reconciler.planner.make import make_plan
from reconciler.reporting import Reporter
from reconciler.smarthub.api import SmartHubApi
from reconciler.wording import counted


@dataclass(frozen=True, slots=True)
class LiveRead:
    """What one read of the account gave: the diff against the manifests, the catalogue, and
    what it cost."""

    diff: FleetDiff
    catalogue: tuple[RatePlan, ...]
    sims_read: int
    requests: int
    rate_budget: RateBudget | None


def read_live(
    api: SmartHubApi,
    desired: DesiredFleet,
    reporter: Reporter,
    tap: Callable[[Iterator[LiveSim]], Iterator[LiveSim]] | None = None,
) -> LiveRead:
    """Read the Fleet's account (paged list + catalogue) and diff it against ``desired``.

    ``tap`` sees the live SIMs on their way to the diff (the live-state cache's
    `reconciler.live.FullRefresh.tap`)."""
    account = desired.fleet.account
    start = api.stats().requests
    reporter.info(f"Reading account {account!r} at {api.endpoint} ...")
    catalogue = tuple(api.service_packages(account))
    sims = api.iter_sims(account=account)
    counter = _Counter(tap(sims) if tap is not None else sims)
    with frozen_heap():  # the manifests, alive until the end: the collector leaves them
        diff = diff_fleet(desired, counter)
    requests = api.stats().requests - start
    budget = api.rate_budget()
    reporter.info(
        f"Read {counted(counter.count, 'SIM')} and the rate-plan catalogue in "
        f"{counted(requests, 'request')}"
    )
    if budget is not None:
        reporter.info(
            f"Rate budget: {budget.remaining:,} of {budget.limit:,} requests left in this window "
            f"(it resets in {budget.reset_seconds / 60:.0f} min)"
        )
    return LiveRead(diff, catalogue, counter.count, requests, budget)


class _Counter:
    def __init__(self, sims: Iterator[LiveSim]) -> None:
        self._sims = sims
        self.count = 0

    def __iter__(self) -> Iterator[LiveSim]:
        for sim in self._sims:
            self.count += 1
            yield sim


def run_plan(
    api: SmartHubApi,
    desired: DesiredFleet,
    reporter: Reporter,
    *,
    created_at: str,
    config: PlannerConfig = DEFAULT_CONFIG,
    tap: Callable[[Iterator[LiveSim]], Iterator[LiveSim]] | None = None,
    target: Target | None = None,
    record: Callable[[], float] | None = None,
    state: Path | None = None,
) -> Plan:
    """Read, diff and plan; the returned plan is sealed (its checksum filled in). With a
    ``target`` (``--changed-from``) only its SIMs are read and planned; with ``record`` (the
    clock's ``now``) and ``state`` (the state directory) the SIMs a targeted read saw go into
    the live-state cache, stamped by it (apply passes None: its `CacheFeed` records every read
    already). ``tap``, for a full read, is not used then."""
    live: LiveRead | TargetedRead
    if target is not None:
        live = _read_targeted(api, desired, target, reporter, record, state)
    else:
        live = read_live(api, desired, reporter, tap)
    plan = make_plan(
        desired,
        live.diff,
        live.catalogue,
        endpoint=api.endpoint,
        account=desired.fleet.account,
        requests_read=live.requests,
        rate_budget=live.rate_budget,
        created_at=created_at,
        config=config,
        targeted=live.targeting if isinstance(live, TargetedRead) else None,
    )
    return attach_sources(plan, desired)  # sealed


def _read_targeted(
    api: SmartHubApi,
    desired: DesiredFleet,
    target: Target,
    reporter: Reporter,
    now: Callable[[], float] | None,
    state: Path | None,
) -> TargetedRead:
    """The targeted read; with ``now``, its SIMs recorded in the live-state cache under
    ``state`` as of when it began."""
    if now is None or state is None:
        return read_targeted(api, desired, target, reporter)
    seen: list[LiveSim] = []

    def keep(sims: Iterator[LiveSim]) -> Iterator[LiveSim]:
        for sim in sims:
            seen.append(sim)
            yield sim

    started = now()  # the records are as of when the read began, never later
    live = read_targeted(api, desired, target, reporter, tap=keep)
    record_read(
        state,
        seen,
        via=Via.LIST if live.targeting.read_by == "list" else Via.GET,
        endpoint=api.endpoint,
        account=desired.fleet.account,
        reporter=reporter,
        clock=now,
        at=started,
    )
    return live


def timestamp(clock: Clock) -> str:
    """ISO 8601 UTC to the second, e.g. ``2026-11-25T13:30:14Z`` (a plan's ``created_at``)."""
    return datetime.fromtimestamp(clock.now(), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
