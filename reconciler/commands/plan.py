"""``fleetform plan``: read the live account, diff, plan, render; and the helpers apply and drift
reuse (`read_live`, `run_plan`).

Reading costs ceil(N/100) list requests for an account of N SIMs plus one for the rate-plan
catalogue; nothing is read per SIM. The live list is streamed into the diff, so no LiveSim
outlives its comparison. With ``--changed-from GITREF`` only the SIMs declared differently at
GITREF are read (`reconciler.live.targeted`), and the plan records that it is targeted.

Exit codes: 0 nothing to change (or changes without ``--detailed-exitcode``), 2 changes or SIMs
held back with ``--detailed-exitcode``, 1 when apply would refuse the plan. A plan with problems
(unknown rate plan, an impossible subscribe; with ``--strict`` also declared SIMs missing from
the account and retired SIMs the manifests want different, which are otherwise held back:
`reconciler.holdback`) is still printed (and written with ``--out``) so a reviewer sees
everything, and then `PlanError` is raised (naming the problems), which the CLI turns into
``Error: ...`` and exit 1 -- apply would refuse that plan anyway. The same for a guard that stops
apply (`UnsafePlanError`), unless lifted with the flag apply takes (`reconciler.guard_lift`): a
pull request whose plan apply would refuse fails its check, not the apply on merge.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from reconciler import holdback
from reconciler.app import Connection, open_api, state_dir
from reconciler.clock import Clock, SystemClock
from reconciler.diff import diff_fleet
from reconciler.errors import ManifestError, PlanError, UnsafePlanError
from reconciler.guard_lift import GuardOverrides, blocking_reasons, lift_guards
from reconciler.live import Tap, Via, record_read, refreshing
from reconciler.live.heap import frozen_heap
from reconciler.live.targeted import Target, TargetedRead, read_targeted
from reconciler.live.targeted import target as find_target
from reconciler.model import DesiredFleet, FleetDiff, LiveSim, Plan, RateBudget, RatePlan
from reconciler.plan_sources import attach_sources
from reconciler.planfile import write_plan
from reconciler.planner import DEFAULT_CONFIG, PlannerConfig, make_plan
from reconciler.render import PLAN_FORMATS, github, render_plan
from reconciler.reporting import Reporter
from reconciler.smarthub.api import SmartHubApi
from reconciler.wording import counted

EXIT_OK = 0
EXIT_CHANGES = 2
_LISTED_PROBLEMS = 20  # in the error message; the rendering has them all


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
) -> Plan:
    """Read, diff and plan; the returned plan is sealed (its checksum filled in). With a
    ``target`` (``--changed-from``) only its SIMs are read and planned; with ``record`` (the
    clock's ``now``) the SIMs a targeted read saw go into the live-state cache, stamped by it
    (apply passes None: its `CacheFeed` records every read already). ``tap``, for a full
    read, is not used then."""
    live: LiveRead | TargetedRead
    if target is not None:
        live = _read_targeted(api, desired, target, reporter, record)
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


def _write_text(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise PlanError(f"cannot write {path}: {exc.strerror or exc}") from exc


def refreshing_cache(
    api: SmartHubApi, account: str, reporter: Reporter, clock: Clock
) -> AbstractContextManager[Tap | None]:
    """A tap streaming a full read into the account's live-state cache (`refreshing`)."""
    return refreshing(
        state_dir(), endpoint=api.endpoint, account=account, reporter=reporter, clock=clock.now
    )


def _read_targeted(
    api: SmartHubApi,
    desired: DesiredFleet,
    target: Target,
    reporter: Reporter,
    now: Callable[[], float] | None,
) -> TargetedRead:
    """The targeted read; with ``now``, its SIMs recorded in the live-state cache as of when
    it began."""
    if now is None:
        return read_targeted(api, desired, target, reporter)
    seen: list[LiveSim] = []

    def keep(sims: Iterator[LiveSim]) -> Iterator[LiveSim]:
        for sim in sims:
            seen.append(sim)
            yield sim

    started = now()  # the records are as of when the read began, never later
    live = read_targeted(api, desired, target, reporter, tap=keep)
    record_read(
        state_dir(),
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
    # plan --allow-retire / --max-changes / --force: lifted guards, shown in the plan
    overrides: GuardOverrides = field(default_factory=GuardOverrides)
    verbose: bool = False  # text: every SIM of every step, nothing folded
    markdown_out: Path | None = None  # also write the markdown rendering (the PR comment)
    strict: bool = False  # SIMs that would be held back make the plan invalid instead
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
    if options.strict:
        config = replace(config, strict=True)
    with (
        open_api(connection, reporter, clock=clock) as api,
        # a full read refreshes the whole cache; a targeted one records its SIMs itself
        refreshing_cache(api, desired.fleet.account, reporter, clock)
        if target is None
        else nullcontext() as tap,
    ):
        plan = run_plan(
            api,
            desired,
            reporter,
            created_at=timestamp(clock),
            config=config,
            tap=tap,
            target=target,
            record=clock.now,
        )
    plan = lift_guards(plan, options.overrides)
    if options.fmt == "github":
        rendered = github.plan_github(plan, workspace=github.workspace_from(), width=options.width)
        github.emit(rendered, write)
    else:
        write(
            render_plan(
                plan,
                options.fmt,
                color=options.color,
                width=options.width,
                verbose=options.verbose,
            )
        )
    if options.markdown_out is not None:
        _write_text(options.markdown_out, render_plan(plan, "markdown"))
    if options.out is not None:
        write_plan(plan, options.out)
        reporter.info(
            f"Saved the plan to {options.out} (apply it with: fleetform apply {options.out})"
        )
    if plan.problems:
        count = len(plan.problems)
        # stdout may be a file (a PR comment, a job log): name the problems here too
        listed = "".join(f"\n  {p}" for p in plan.problems[:_LISTED_PROBLEMS])
        more = count - _LISTED_PROBLEMS
        raise PlanError(
            f"the plan has {count} problem{'' if count == 1 else 's'}; "
            "apply would refuse it: fix the manifests and plan again"
            + listed
            + (f"\n  ... and {more} more (see the plan)" if more > 0 else "")
        )
    reasons = blocking_reasons(plan)
    if reasons:
        raise UnsafePlanError(
            "apply would refuse this plan (a guard stops it):\n  " + "\n  ".join(reasons)
        )
    if plan.held_back:
        reporter.warn(holdback.held_back_line(plan))
    # a SIM held back is a difference from git too: not "nothing to change"
    if options.detailed_exitcode and (plan.has_changes or plan.held_back):
        return EXIT_CHANGES
    return EXIT_OK
