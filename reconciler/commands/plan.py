"""``fleetform plan`` (`run_plan`): load the manifests, read the live account and plan
(`reconciler.live.read.run_plan`, which apply shares), render.

Reading costs ceil(N/100) list requests for an account of N SIMs plus one for the rate-plan
catalogue; nothing is read per SIM. With ``--changed-from GITREF`` only the SIMs declared
differently at GITREF are read (`reconciler.live.targeted`), and the plan records that it is
targeted.

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
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TextIO

from reconciler import holdback
from reconciler.app import Connection, open_api, state_dir
from reconciler.clock import Clock, SystemClock
from reconciler.commands.exit_codes import ExitCode
from reconciler.errors import ManifestError, PlanError, UnsafePlanError
from reconciler.guard_lift import GuardOverrides, blocking_reasons, lift_guards
from reconciler.live import Tap, refreshing
from reconciler.live import read as live_read
from reconciler.live.read import timestamp
from reconciler.live.targeted import read_before
from reconciler.live.targeted import target as find_target
from reconciler.model import DesiredFleet, Plan
from reconciler.planfile import write_plan
from reconciler.planner.config import DEFAULT_CONFIG, PlannerConfig
from reconciler.render import (
    RenderOptions,
    formats,
    render_plan,
    write_if_rendered,
    write_report,
)
from reconciler.reporting import Reporter
from reconciler.smarthub.api import SmartHubApi

_LISTED_PROBLEMS = 20  # in the error message; the rendering has them all


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


def run_plan(
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
    if options.fmt not in formats("plan"):
        choices = ", ".join(formats("plan"))
        raise PlanError(f"unknown format {options.fmt!r}; choose one of {choices}")
    if load is None:
        from reconciler.manifest import load_fleet

        load = load_fleet
    before = read_before(options.changed_from, options.paths)  # first: one fleet at a time
    try:
        desired = load(options.paths)
    except ManifestError as exc:
        write_if_rendered("manifest-error", options.fmt, exc, write)  # github: annotations
        raise
    target = None
    if options.changed_from is not None:
        target = find_target(options.changed_from, options.paths, desired, reporter, before)
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
        plan = live_read.run_plan(
            api,
            desired,
            reporter,
            created_at=timestamp(clock),
            config=config,
            tap=tap,
            target=target,
            record=clock.now,
            state=state_dir(),
        )
    plan = lift_guards(plan, options.overrides)
    _write_outputs(plan, options, reporter, write)
    return _verdict(plan, options, reporter)


def _write_outputs(
    plan: Plan, options: PlanOptions, reporter: Reporter, write: Callable[[str], None]
) -> None:
    """The rendering on stdout, and the files asked for (--markdown-out, --out)."""
    look = RenderOptions(color=options.color, width=options.width, verbose=options.verbose)
    write_report("plan", options.fmt, plan, write, look)
    if options.markdown_out is not None:
        _write_text(options.markdown_out, render_plan(plan, "markdown"))
    if options.out is not None:
        write_plan(plan, options.out)
        reporter.info(
            f"Saved the plan to {options.out} (apply it with: fleetform apply {options.out})"
        )


def _verdict(plan: Plan, options: PlanOptions, reporter: Reporter) -> ExitCode:
    """Refuse what apply would refuse (problems, a guard that stops it); else the exit code."""
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
        return ExitCode.CHANGES
    return ExitCode.OK
