"""``fleetform plan``: read the live account, diff, plan, render; and the helpers apply and drift
reuse (`read_live`, `run_plan`).

Reading costs ceil(N/100) list requests for an account of N SIMs plus one for the rate-plan
catalogue; nothing is read per SIM. The live list is streamed into the diff, so no LiveSim
outlives its comparison.

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
from reconciler.model import DesiredFleet, FleetDiff, LiveSim, Plan, RateBudget, RatePlan
from reconciler.planfile import seal, write_plan
from reconciler.planner import DEFAULT_CONFIG, PlannerConfig, make_plan
from reconciler.prefetch import Prefetch
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


def read_live(
    api: SmartHubApi,
    desired: DesiredFleet,
    reporter: Reporter,
    *,
    prefetch: Prefetch | None = None,
) -> LiveRead:
    """Read the Fleet's account (paged list + catalogue) and diff it against ``desired``;
    from ``prefetch`` when the read started while the manifests loaded."""
    account = desired.fleet.account
    if prefetch is not None and prefetch.account != account:
        prefetch.stop()
        prefetch = None
    start = prefetch.start_requests if prefetch is not None else api.stats().requests
    reporter.info(f"Reading account {account!r} at {api.endpoint} ...")
    catalogue = tuple(
        prefetch.catalogue() if prefetch is not None else api.service_packages(account)
    )
    counter = _Counter(prefetch.sims() if prefetch is not None else api.iter_sims(account=account))
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
    prefetch: Prefetch | None = None,
) -> Plan:
    """Read, diff and plan; the returned plan is sealed (its checksum filled in)."""
    live = read_live(api, desired, reporter, prefetch=prefetch)
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


def timestamp(clock: Clock) -> str:
    """ISO 8601 UTC to the second, e.g. ``2026-11-25T13:30:14Z`` (a plan's ``created_at``)."""
    return datetime.fromtimestamp(clock.now(), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def overlap_account(connection: Connection, paths: Sequence[Path]) -> str | None:
    """The account to read while the manifests load, or None: load first (no endpoint
    configured -- the embedded simulator is not started for manifests not known valid -- or
    manifests that might be hostile; see `reconciler.manifest.peek_account`)."""
    if connection.endpoint is None:
        return None
    from reconciler.manifest import peek_account

    return peek_account(paths)


def load_while_reading(
    load: Callable[[], DesiredFleet], prefetch: Prefetch, reporter: Reporter
) -> DesiredFleet:
    """``load()`` while ``prefetch`` reads; an invalid set stops the read at once."""
    try:
        desired = load()
    except ManifestError:
        spent = prefetch.stop()
        if spent:
            reporter.info(
                f"Stopped reading the account: the manifests are invalid "
                f"({spent:,} read request{'' if spent == 1 else 's'} spent)"
            )
        raise
    prefetch.loaded()
    return desired


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

    def load_desired() -> DesiredFleet:
        try:
            return load(options.paths)
        except ManifestError as exc:
            if options.fmt == "github":
                write(github.manifest_error_github(exc, workspace=github.workspace_from()))
            raise

    clock = clock or SystemClock()
    account = overlap_account(connection, options.paths)
    if account is None:
        desired = load_desired()
        with open_api(connection, reporter, clock=clock) as api:
            plan = run_plan(api, desired, reporter, created_at=timestamp(clock), config=config)
    else:  # read the account while the manifests load (see reconciler.prefetch)
        with open_api(connection, reporter, clock=clock) as api, Prefetch(api, account) as ahead:
            desired = load_while_reading(load_desired, ahead, reporter)
            plan = run_plan(
                api, desired, reporter, created_at=timestamp(clock), config=config, prefetch=ahead
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
