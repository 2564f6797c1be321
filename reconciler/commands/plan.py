"""``fleetform plan``: read the live account, diff, plan, render; and the helpers apply and drift
reuse (`read_live`, `run_plan`).

Reading costs ceil(N/100) list requests for an account of N SIMs plus one for the rate-plan
catalogue; nothing is read per SIM. The live list is streamed into the diff, so no LiveSim
outlives its comparison. With ``--changed-from GITREF`` only the SIMs declared differently at
GITREF are read (`reconciler.live.targeted`), and the plan records that it is targeted.

Exit codes: 0 nothing to change (or changes without ``--detailed-exitcode``), 2 changes with
``--detailed-exitcode``. A plan with problems (unknown rate plan, declared SIMs missing from the
account, a move out of retired, an impossible subscribe) is still printed (and written with
``--out``) so a reviewer sees everything, and then `PlanError` is raised, which the CLI turns
into ``Error: ...`` and exit 1 -- apply would refuse that plan anyway.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from reconciler.app import Connection, open_api
from reconciler.clock import Clock, SystemClock
from reconciler.diff import diff_fleet
from reconciler.errors import ManifestError, PlanError
from reconciler.live.targeted import Target, read_targeted
from reconciler.live.targeted import target as find_target
from reconciler.model import DesiredFleet, FleetDiff, LiveSim, Plan, RateBudget, RatePlan
from reconciler.planfile import seal, write_plan
from reconciler.planner import DEFAULT_CONFIG, PlannerConfig, make_plan
from reconciler.render import PLAN_FORMATS, github, render_plan
from reconciler.reporting import Reporter
from reconciler.smarthub.api import SmartHubApi

EXIT_OK = 0
EXIT_CHANGES = 2


@dataclass(frozen=True, slots=True)
class LiveRead:
    """What one read of the account gave: the diff against the manifests, the catalogue, and
    what it cost."""

    diff: FleetDiff
    catalogue: tuple[RatePlan, ...]
    sims_read: int
    requests: int
    rate_budget: RateBudget | None


def read_live(api: SmartHubApi, desired: DesiredFleet, reporter: Reporter) -> LiveRead:
    """Read the Fleet's account (paged list + catalogue) and diff it against ``desired``."""
    account = desired.fleet.account
    start = api.stats().requests
    reporter.info(f"Reading account {account!r} at {api.endpoint} ...")
    catalogue = tuple(api.service_packages(account))
    counter = _Counter(api.iter_sims(account=account))
    diff = diff_fleet(desired, counter)
    requests = api.stats().requests - start
    budget = api.rate_budget()
    reporter.info(
        f"Read {counter.count:,} SIMs and the rate-plan catalogue in {requests:,} requests"
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
    target: Target | None = None,
) -> Plan:
    """Read, diff and plan; the returned plan is sealed (its checksum filled in). With a
    ``target`` (``--changed-from``) only its SIMs are read and planned."""
    if target is not None:
        return _run_targeted(api, desired, target, reporter, created_at=created_at, config=config)
    live = read_live(api, desired, reporter)
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
    )
    return seal(plan)


def _run_targeted(
    api: SmartHubApi,
    desired: DesiredFleet,
    target: Target,
    reporter: Reporter,
    *,
    created_at: str,
    config: PlannerConfig,
) -> Plan:
    live = read_targeted(api, desired, target, reporter)
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
        targeted=live.targeting,
    )
    return seal(plan)


def timestamp(clock: Clock) -> str:
    """ISO 8601 UTC to the second, e.g. ``2026-11-25T13:30:14Z`` (a plan's ``created_at``)."""
    return datetime.fromtimestamp(clock.now(), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def wants_color(stream: TextIO) -> bool:
    """Colour for a terminal, never with NO_COLOR set (https://no-color.org)."""
    if os.environ.get("NO_COLOR"):
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


@dataclass(frozen=True, slots=True)
class PlanOptions:
    paths: Sequence[Path]
    out: Path | None = None
    fmt: str = "text"
    detailed_exitcode: bool = False
    color: bool = False
    width: int = 100
    changed_from: str | None = None  # git ref: read and plan only SIMs declared differently


def plan_command(
    options: PlanOptions,
    *,
    connection: Connection,
    reporter: Reporter,
    write: Callable[[str], None],
    clock: Clock | None = None,
    load: Callable[[Sequence[Path]], DesiredFleet] | None = None,
    config: PlannerConfig = DEFAULT_CONFIG,
) -> int:
    """Load the manifests, plan against the API, write the rendering; return the exit code."""
    formats = (*PLAN_FORMATS, "github")
    if options.fmt not in formats:
        raise PlanError(f"unknown format {options.fmt!r}; choose one of {', '.join(formats)}")
    if load is None:
        from reconciler.manifest import load_fleet

        load = load_fleet
    try:
        desired = load(options.paths)
    except ManifestError as exc:
        if options.fmt == "github":
            write(github.manifest_error_github(exc, workspace=github.workspace_from()))
        raise
    target = None
    if options.changed_from is not None:
        target = find_target(options.changed_from, options.paths, desired, reporter)
    clock = clock or SystemClock()
    with open_api(connection, reporter, clock=clock) as api:
        plan = run_plan(
            api, desired, reporter, created_at=timestamp(clock), config=config, target=target
        )
    if options.fmt == "github":
        rendered = github.plan_github(plan, workspace=github.workspace_from(), width=options.width)
        github.emit(rendered, write)
    else:
        write(render_plan(plan, options.fmt, color=options.color, width=options.width))
    if options.out is not None:
        write_plan(plan, options.out)
        reporter.info(
            f"Saved the plan to {options.out} (apply it with: fleetform apply {options.out})"
        )
    if plan.problems:
        count = len(plan.problems)
        raise PlanError(
            f"the plan has {count} problem{'' if count == 1 else 's'} (listed above); "
            "apply would refuse it: fix the manifests and plan again"
        )
    if options.detailed_exitcode and plan.has_changes:
        return EXIT_CHANGES
    return EXIT_OK
