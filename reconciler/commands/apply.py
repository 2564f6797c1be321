"""``fleetform apply``: plan (or load a plan file, or a journal to resume), check, lock, apply.

`run_apply` is the command: the CLI passes the options, the connection, where to write and
how to ask for approval; it returns the exit code (0 complete, 3 anything failed, stale or
stopped at ``--budget``). `apply_plan` is the core over an API (tests and benchmarks call it):
the plan comes one of three ways (`Source`), then goes through one check (`_check`: endpoint,
reviewed digest, guards), the lock and one run tail, and it returns the `ApplyReport`.

Choices where the contract is silent:

- A plan file is refused when it was made against another endpoint (`StalePlanError`), has
  problems, or was edited (the checksum, checked by `reconciler.planfile`). With the embedded
  simulator (no endpoint configured) the endpoint is a fresh local port on every run, so that
  check is skipped there and said so.
- ``--resume`` continues a journaled plan: the plan file's when one is given, else the most
  recent unfinished journal in the state directory. With PATHs (a CI job re-run adds
  ``--resume`` to the same command line), the manifests are loaded offline and the unfinished
  plan of their account whose manifest digest is theirs is resumed, and said so; the digest is
  over the files' bytes, so the same manifests typed another way still match. When the
  unfinished plans came from other manifests, PATHs are refused: a new plan of the changed
  manifests is not the plan that was interrupted. Without ``--resume``, a plan
  whose journal holds an unfinished run is resumed all the same (and said so): a CI retry
  after a crash must not submit the SIMs of a still-pending batch job again (see `_run`).
- ``--reviewed-digest`` (the apply workflow passes the digest of the plan reviewed on the pull
  request) refuses a plan whose changes differ from the reviewed ones, naming both digests.
- The lock (``apply-<account>.lock``) is taken before planning, so a second apply of the same
  account is refused before it spends a request.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import Enum
from pathlib import Path
from typing import TextIO

from reconciler.app import Connection, open_api, state_dir
from reconciler.applier.waves import Applier
from reconciler.clock import Clock, SystemClock
from reconciler.commands.exit_codes import ExitCode
from reconciler.errors import (
    ApplyCancelled,
    ConfigError,
    JournalError,
    StalePlanError,
)
from reconciler.holdback import refuse_held_back
from reconciler.interrupt import cancel_on_interrupt
from reconciler.journal import ApplyLock, Journal, JournalStore
from reconciler.live.feed import CacheFeed
from reconciler.model import ApplyReport, Plan
from reconciler.planfile import changes_digest, load_plan, plan_from_json, plan_to_json, seal
from reconciler.planner.config import DEFAULT_CONFIG
from reconciler.planner.guards import raise_if_unsafe
from reconciler.render import render_plan, write_report
from reconciler.render.apply_progress import PlainApplyReporter, RichApplyReporter
from reconciler.reporting import Reporter
from reconciler.rollout import CommandGate, StageCheck
from reconciler.rollout.gate import DEFAULT_GATE_TIMEOUT
from reconciler.smarthub.api import SmartHubApi


@dataclass(frozen=True, slots=True)
class ApplyOptions:
    plan_file: Path | None = None
    paths: tuple[Path, ...] = ()
    auto_approve: bool = False
    allow_retire: bool = False
    max_changes: int | None = None
    force: bool = False
    budget: int | None = None
    resume: bool = False
    concurrency: int = 8
    reviewed_digest: str | None = None  # the changes digest of the plan reviewed on the PR
    poll_initial: float = 1.0
    poll_max: float = 30.0
    orphan_grace: float = 10.0
    gate: str | None = None  # --gate CMD: decides after each rollout step (command line only)
    gate_timeout: float = DEFAULT_GATE_TIMEOUT
    strict: bool = False  # SIMs held back make the plan invalid (refused) instead
    changed_from: str | None = None  # git ref: plan only SIMs declared differently (PATHs only)
    fmt: str = "text"  # the report's format on stdout (the renderer registry's "apply" kind)
    color: bool = False  # the plan shown before a run from manifests, with --format text


def split_arguments(arguments: tuple[Path, ...]) -> tuple[Path | None, tuple[Path, ...]]:
    """``apply PLANFILE`` or ``apply PATH...``: one ``.json`` file is a plan file."""
    if len(arguments) == 1 and arguments[0].suffix == ".json" and not arguments[0].is_dir():
        return arguments[0], ()
    if any(a.suffix == ".json" and not a.is_dir() for a in arguments):
        raise ConfigError("give either one plan file (.json) or manifest paths, not both")
    return None, arguments


def _check_endpoint(plan: Plan, api: SmartHubApi, embedded: bool, reporter: Reporter) -> None:
    if plan.endpoint.rstrip("/") == api.endpoint.rstrip("/"):
        return
    if embedded:
        reporter.warn(
            f"the plan was made against {plan.endpoint}; applying it to the embedded "
            f"simulator at {api.endpoint}"
        )
        return
    raise StalePlanError(
        f"the plan was made against {plan.endpoint}, but the connection is {api.endpoint}: "
        "plan again against this endpoint"
    )


def check_reviewed(plan: Plan, reviewed_digest: str | None, reporter: Reporter) -> None:
    """Refuse a plan whose changes are not the ones reviewed (`changes_digest`)."""
    if reviewed_digest is None:
        return
    digest = changes_digest(plan)
    if digest == reviewed_digest.strip():
        reporter.info(f"the plan's changes are the ones reviewed (changes digest {digest[:19]})")
        return
    n = plan.summary.to_change
    raise StalePlanError(
        f"the plan to apply is not the plan that was reviewed: its changes digest is "
        f"{digest}, the reviewed plan's is {reviewed_digest.strip()} (it would change "
        f"{n:,} SIM{'' if n == 1 else 's'}; live state or the manifests moved since the "
        "review). Nothing was changed: plan again, review that plan, then apply it"
    )


# main prints this after "Aborted." when Ctrl+C (or EOF at the prompt) stops an apply
ABORT_NOTE = (
    "Whatever apply had started is recorded in the journal: "
    "`fleetform apply --resume` continues it (never submitting a batch job twice)."
)


def run_apply(
    options: ApplyOptions,
    *,
    connection: Connection,
    write: Callable[[str], None],
    write_err: Callable[[str], None],
    stderr: TextIO,
    stdin_is_tty: bool,
    confirm: Callable[[Plan], bool],
    clock: Clock | None = None,
) -> int:
    """``fleetform apply``: `apply_plan` over a connection, with progress on ``stderr`` (live
    bars on a terminal, lines otherwise), the plan shown before a run from manifests (on stdout
    with ``--format text``, else on stderr), the report on stdout; returns the exit code.
    Ctrl+C also reaches the worker threads: nothing more is sent, no wait goes on."""
    if options.paths and not options.auto_approve and not stdin_is_tty:
        raise ConfigError(
            "stdin is not a terminal, so apply cannot ask for approval: review the plan and "
            "pass --auto-approve (or apply a saved plan file)"
        )
    clock = clock or SystemClock()
    reporter: PlainApplyReporter | RichApplyReporter = (
        RichApplyReporter(stderr) if stderr.isatty() else PlainApplyReporter(stderr, clock)
    )

    def show_plan(plan: Plan) -> None:
        if options.fmt == "text":
            write(render_plan(plan, "text", color=options.color))
        else:
            write_err(render_plan(plan, "text"))

    with contextlib.ExitStack() as stack:
        cancel = stack.enter_context(cancel_on_interrupt(threading.Event()))
        if isinstance(reporter, RichApplyReporter):
            stack.enter_context(reporter)
        api = stack.enter_context(
            open_api(
                connection,
                reporter,
                clock=clock,
                budget=options.budget,
                on_wait=reporter.waiting,
                cancel=cancel,
            )
        )
        report = apply_plan(
            api,
            options,
            reporter,
            state_dir=state_dir(),
            clock=clock,
            embedded=connection.endpoint is None,
            show_plan=show_plan,
            confirm=confirm,
        )
    write_report("apply", options.fmt, report, write)
    return apply_exit_code(report)


def apply_plan(
    api: SmartHubApi,
    options: ApplyOptions,
    reporter: Reporter,
    *,
    state_dir: Path,
    clock: Clock,
    embedded: bool = False,
    show_plan: Callable[[Plan], None] = lambda plan: None,
    confirm: Callable[[Plan], bool] = lambda plan: False,
) -> ApplyReport:
    """Apply a plan file, the manifests under ``paths``, or resume; see the module docstring.

    What apply reads live and writes also goes into the account's live-state cache
    (`reconciler.live.feed.CacheFeed`); apply never reads the cache."""
    feed = CacheFeed(api, state_dir, reporter, clock.now)
    try:
        return _apply(
            feed,
            options,
            reporter,
            state_dir=state_dir,
            clock=clock,
            embedded=embedded,
            show_plan=show_plan,
            confirm=confirm,
        )
    finally:
        feed.close()


class Source(Enum):
    """Where the plan to apply comes from."""

    RESUME = "resume"  # the journal's (--resume): continued, not checked again
    PLAN_FILE = "plan file"  # planned and reviewed earlier
    MANIFESTS = "manifests"  # planned now, shown, approved


class _Lock:
    """The account's apply lock, taken once: before planning from manifests (a second apply
    is refused before it spends a request), after the checks for a plan already made."""

    def __init__(self, state_dir: Path, stack: contextlib.ExitStack) -> None:
        self._state_dir = state_dir
        self._stack = stack
        self._held = False

    def take(self, account: str) -> None:
        if not self._held:
            self._stack.enter_context(ApplyLock(self._state_dir, account))
            self._held = True


def _apply(
    api: SmartHubApi,
    options: ApplyOptions,
    reporter: Reporter,
    *,
    state_dir: Path,
    clock: Clock,
    embedded: bool,
    show_plan: Callable[[Plan], None],
    confirm: Callable[[Plan], bool],
) -> ApplyReport:
    """The plan one of three ways, then one check, the lock and one run tail."""
    if options.changed_from is not None and (options.resume or options.plan_file is not None):
        raise ConfigError(
            "--changed-from targets a new plan of manifest PATHs; a plan file or --resume "
            "already says which SIMs it touches: leave --changed-from out"
        )
    store = JournalStore(state_dir)
    with contextlib.ExitStack() as stack:
        lock = _Lock(state_dir, stack)
        if options.resume:
            source, plan = Source.RESUME, _plan_to_resume(options, store, reporter)
        elif options.plan_file is not None:
            source, plan = Source.PLAN_FILE, load_plan(options.plan_file)
        elif options.paths:
            source = Source.MANIFESTS
            plan = _plan_now(api, options, reporter, clock, lock)
            show_plan(plan)
        else:
            raise ConfigError("apply needs a plan file or manifest paths (or --resume)")
        _check(plan, source, api, options, embedded, reporter)
        lock.take(plan.account)
        return _run_tail(plan, source, api, store, options, reporter, clock, state_dir, confirm)


def _plan_to_resume(options: ApplyOptions, store: JournalStore, reporter: Reporter) -> Plan:
    """--resume: the plan file's plan, the manifests' interrupted plan, or the latest one."""
    if options.plan_file is not None:
        return load_plan(options.plan_file)
    if options.paths:
        return interrupted_plan_of(options.paths, store, reporter)
    checksum = store.latest_unfinished()
    if checksum is None:
        raise JournalError(f"nothing to resume: no unfinished apply in {store.directory}")
    return plan_from_json(store.plan_text(checksum), origin=f"journal plan {checksum}")


def _plan_now(
    api: SmartHubApi, options: ApplyOptions, reporter: Reporter, clock: Clock, lock: _Lock
) -> Plan:
    """Load the manifests (offline), take the lock, read and plan (sealed)."""
    from reconciler.live.read import run_plan, timestamp
    from reconciler.live.targeted import read_before
    from reconciler.manifest import load_fleet

    before = read_before(options.changed_from, options.paths)  # first: one fleet at a time
    desired = load_fleet(list(options.paths))
    target = None
    if options.changed_from is not None:
        from reconciler.live.targeted import target as find_target

        target = find_target(options.changed_from, options.paths, desired, reporter, before)
    lock.take(desired.fleet.account)
    config = replace(DEFAULT_CONFIG, strict=options.strict)
    plan = run_plan(
        api, desired, reporter, created_at=timestamp(clock), config=config, target=target
    )
    return plan if plan.checksum else seal(plan)


def _check(
    plan: Plan,
    source: Source,
    api: SmartHubApi,
    options: ApplyOptions,
    embedded: bool,
    reporter: Reporter,
) -> None:
    """The one check: the endpoint; then, unless resuming (checked when that apply began), the
    reviewed digest, held-back SIMs under --strict, and the guards. The guards run before the
    no-change shortcut: a plan whose every change is held back by a problem has no steps, and
    must still fail."""
    _check_endpoint(plan, api, embedded, reporter)
    if source is Source.RESUME:
        return
    check_reviewed(plan, options.reviewed_digest, reporter)
    if options.strict:
        refuse_held_back(plan)
    raise_if_unsafe(
        plan,
        allow_retire=options.allow_retire,
        max_changes=options.max_changes,
        force=options.force,
    )


def _run_tail(
    plan: Plan,
    source: Source,
    api: SmartHubApi,
    store: JournalStore,
    options: ApplyOptions,
    reporter: Reporter,
    clock: Clock,
    state_dir: Path,
    confirm: Callable[[Plan], bool],
) -> ApplyReport:
    """Under the lock: resume the journal, or run the plan (one planned now: only with changes
    and once approved, its reads counted in the report)."""
    if source is Source.RESUME:
        journal = store.open(plan.checksum)
        reporter.info(f"resuming plan {plan.checksum} from {journal.path}")
        applier = _applier(
            api,
            journal_for=journal,
            options=options,
            reporter=reporter,
            clock=clock,
            state_dir=state_dir,
        )
        return applier.run(plan, resume=True)
    if source is Source.MANIFESTS:
        if not plan.has_changes:
            return _empty(plan, requests=plan.summary.requests_read)
        if not options.auto_approve and not confirm(plan):
            raise ApplyCancelled("apply cancelled: the plan was not approved; nothing was changed")
    report = _run(api, store, plan, options, reporter, clock, state_dir=state_dir)
    if source is Source.MANIFESTS:
        # this run also spent the plan's reads: the report counts everything the run cost
        report = replace(report, requests_spent=report.requests_spent + plan.summary.requests_read)
    return report


def interrupted_plan_of(paths: tuple[Path, ...], store: JournalStore, reporter: Reporter) -> Plan:
    """The unfinished journaled plan made from the manifests under ``paths`` (same digest).

    Loading the manifests costs no request. Raises `JournalError` when nothing of their account
    is unfinished, `ConfigError` when what is unfinished came from other manifests.
    """
    from reconciler.manifest import load_fleet

    desired = load_fleet(list(paths))
    account = desired.fleet.account
    others: list[str] = []
    for state in store.unfinished(account):
        plan = plan_from_json(
            store.plan_text(state.checksum), origin=f"journal plan {state.checksum}"
        )
        if plan.manifest_digest == desired.digest:
            reporter.info(
                f"--resume with manifest paths: the interrupted apply of plan {plan.checksum} "
                f"(made {plan.created_at}) was planned from these same manifests; resuming it"
            )
            return plan
        others.append(plan.checksum)
    if not others:
        raise JournalError(
            f"nothing to resume: no unfinished apply of account {account!r} in "
            f"{store.directory} (run the same command without --resume to plan and apply)"
        )
    raise ConfigError(
        "--resume continues the interrupted plan from the journal: pass its plan file or "
        "nothing, not manifest paths (the manifests under "
        f"{', '.join(str(p) for p in paths)} changed since plan {others[0]} was made; "
        "`fleetform apply --resume` finishes that plan, then apply the manifests)"
    )


def _applier(
    api: SmartHubApi,
    *,
    journal_for: Journal,
    options: ApplyOptions,
    reporter: Reporter,
    clock: Clock,
    state_dir: Path | None = None,
) -> Applier:
    return Applier(
        api,
        journal_for,
        reporter,
        clock,
        concurrency=options.concurrency,
        poll_initial=options.poll_initial,
        poll_max=options.poll_max,
        orphan_grace=options.orphan_grace,
        rollout=_stage_check(journal_for, options, reporter, clock, state_dir),
    )


def _stage_check(
    journal: Journal,
    options: ApplyOptions,
    reporter: Reporter,
    clock: Clock,
    state_dir: Path | None,
) -> StageCheck:
    """The rollout check: ``--gate`` when given, the push receiver's records as events."""
    from reconciler.webhook.events import DriftLog

    gate = CommandGate(options.gate, timeout=options.gate_timeout) if options.gate else None
    events = DriftLog(state_dir).events if state_dir is not None else None
    return StageCheck(journal, reporter, clock, gate=gate, events=events)


def _run(
    api: SmartHubApi,
    store: JournalStore,
    plan: Plan,
    options: ApplyOptions,
    reporter: Reporter,
    clock: Clock,
    *,
    state_dir: Path | None = None,
) -> ApplyReport:
    """Run ``plan``; an unfinished earlier run of the same plan is resumed, never started over.

    Starting over would forget the batch jobs that run submitted (a fresh run makes earlier
    records history) and submit their SIMs again. A plan whose last run finished is run
    again: every SIM is re-checked against live state, and those already as planned count as
    done without a write (nothing is in flight, so nothing can be done twice).
    An unfinished apply of *another* plan of the account with SIMs possibly in a pending
    batch job is refused: a new plan cannot know which of its SIMs that job holds.
    """
    for other in store.unfinished(plan.account):
        if other.checksum != plan.checksum and other.open_iccids():
            raise JournalError(
                f"an earlier apply of account {plan.account!r} (plan {other.checksum}) did not "
                f"finish and may have batch jobs still pending for "
                f"{len(other.open_iccids())} SIMs: finish it first with `fleetform apply "
                f"--resume` (or remove its journal in {store.directory} if you know nothing "
                "of it is pending)"
            )
    journal = store.create(plan.checksum, plan.endpoint, plan.account, plan_to_json(plan))
    prior = journal.state()
    resume = prior.runs > 0 and not prior.finished
    if resume:
        reporter.info(
            f"an earlier apply of this plan did not finish: resuming it (journal {journal.path})"
        )
    elif prior.finished:
        reporter.info(
            f"this plan was applied before (journal {journal.path}): checking every SIM again; "
            "those already as planned get no request"
        )
    applier = _applier(
        api,
        journal_for=journal,
        options=options,
        reporter=reporter,
        clock=clock,
        state_dir=state_dir,
    )
    return applier.run(plan, resume=resume)


def _empty(plan: Plan, *, requests: int) -> ApplyReport:
    return ApplyReport(
        plan_checksum=plan.checksum,
        endpoint=plan.endpoint,
        account=plan.account,
        steps=(),
        requests_spent=requests,
        waited_seconds=0.0,
        held_back=plan.held_back,
    )


def apply_exit_code(report: ApplyReport) -> int:
    """0 when every SIM change is done; 3 when any failed, was stale, or the run stopped."""
    return ExitCode.OK if report.complete else ExitCode.PARTIAL
