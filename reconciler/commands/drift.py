"""``fleetform drift`` (`run_drift`): where the live fleet differs from git, and since when.

With a usable live-state cache of the account (`read_drift`), drift is
incremental: the cache brought up to date by the change history since its watermark, the
pushes the webhook receiver recorded and a rotating verify slice of the list
(`reconciler.live.incremental`); the report's ``basis`` says what each verdict rests on.
Otherwise, or with ``--full``, or when the history cannot cover the gap (the report says
why), it reads the account once (the paged list, streamed into the diff and into the cache),
then, only when something drifted, the change history once (one paged read of ``changeLogs``
since ``history`` ago, never one read per SIM). Exit 2 when drift exists, 0 when none.

Choice: the history is read for the last 30 days by default (``history_days``); a change
older than that shows no date rather than spending requests on the whole history.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from reconciler.app import Connection, open_api, state_dir
from reconciler.clock import Clock
from reconciler.commands.exit_codes import ExitCode
from reconciler.diff import diff_fleet
from reconciler.drift import build_drift
from reconciler.errors import CacheError, ManifestError
from reconciler.live import finish, open_cache
from reconciler.live.heap import frozen_heap
from reconciler.live.incremental import (
    HISTORY_DAYS,
    IncrementalRead,
    full_read_pages,
    read_incremental,
)
from reconciler.model import DesiredFleet, DriftBasis, DriftReport, LiveSim
from reconciler.render import RenderOptions, write_if_rendered, write_report
from reconciler.reporting import Reporter
from reconciler.smarthub.api import SmartHubApi


def drift_exit_code(report: DriftReport) -> int:
    return ExitCode.CHANGES if report.has_drift else ExitCode.OK


def read_drift_full(
    api: SmartHubApi,
    desired: DesiredFleet,
    reporter: Reporter,
    *,
    clock: Clock,
    history_days: float = HISTORY_DAYS,
    tap: Callable[[Iterator[LiveSim]], Iterator[LiveSim]] | None = None,
    basis: DriftBasis | None = None,
    start: int | None = None,
) -> DriftReport:
    """A full read: the whole list, then the history of what drifted. ``tap`` sees the live
    SIMs on their way to the diff (the live-state cache's `FullRefresh.tap`)."""
    start = api.stats().requests if start is None else start
    account = desired.fleet.account
    reporter.info(f"Reading account {account!r} at {api.endpoint} ...")
    checked_at = datetime.fromtimestamp(clock.now(), UTC)
    sims = api.iter_sims(account=account)
    with frozen_heap():  # the manifests, alive until the end: the collector leaves them
        diff = diff_fleet(desired, tap(sims) if tap is not None else sims)
    since: datetime | None = None
    history = []
    if diff.changed:
        since = checked_at - timedelta(days=history_days)
        drifted = {d.iccid for d in diff.changed}
        history = [e for e in api.iter_change_logs(since=since) if e.iccid in drifted]
    return build_drift(
        desired,
        diff,
        endpoint=api.endpoint,
        checked_at=checked_at,
        change_logs=history,
        history_since=since,
        requests_spent=api.stats().requests - start,
        basis=basis,
    )


def read_drift(
    api: SmartHubApi,
    desired: DesiredFleet,
    reporter: Reporter,
    *,
    clock: Clock,
    state: Path,
    full: bool = False,
    verify_budget: int | None = None,
    history_days: float = HISTORY_DAYS,
) -> DriftReport:
    """Drift over the live-state cache of the account (`reconciler.live.incremental`) unless
    ``full`` is asked, no usable cache exists or the history cannot cover the gap; a full read
    refreshes the cache. The report's ``basis`` says which and why."""
    start = api.stats().requests
    cache = open_cache(
        state,
        endpoint=api.endpoint,
        account=desired.fleet.account,
        reporter=reporter,
        clock=clock.now,
    )
    reason: str | None = None
    try:
        if cache is not None and not full:
            try:
                outcome = read_incremental(
                    api,
                    cache,
                    desired,
                    reporter,
                    clock=clock,
                    verify_budget=verify_budget,
                    history_days=history_days,
                )
                if isinstance(outcome, IncrementalRead):
                    return _incremental_report(api, desired, outcome, clock=clock, start=start)
                reason = outcome
            except CacheError as exc:
                if exc.corrupt:
                    cache.set_aside(str(exc).split(": ", 1)[-1], reporter)
                    reason = "the live-state cache was damaged and was set aside"
                    cache = open_cache(
                        state,
                        endpoint=api.endpoint,
                        account=desired.fleet.account,
                        reporter=reporter,
                        clock=clock.now,
                    )
                else:
                    reason = f"the live-state cache could not be used ({exc})"
            reporter.info(f"drift: reading the whole account: {reason}")
        elif cache is None and not full:
            reason = "no live-state cache can be kept"
        refresh = cache.full_refresh() if cache is not None else None
        report = read_drift_full(
            api,
            desired,
            reporter,
            clock=clock,
            history_days=history_days,
            tap=refresh.tap if refresh is not None else None,
            start=start,
        )
        if refresh is not None:
            finish(refresh, reporter)
        pages = full_read_pages(report.sims_read)
        return replace(
            report,
            basis=DriftBasis(
                mode="full",
                reason=reason,
                read_at=report.checked_at,
                full_read_requests=pages,
            ),
        )
    finally:
        if cache is not None:
            cache.close()


def _incremental_report(
    api: SmartHubApi,
    desired: DesiredFleet,
    read: IncrementalRead,
    *,
    clock: Clock,
    start: int,
) -> DriftReport:
    checked_at = datetime.fromtimestamp(clock.now(), UTC)
    with frozen_heap():
        diff = diff_fleet(desired, read.sims())
    return build_drift(
        desired,
        diff,
        endpoint=api.endpoint,
        checked_at=checked_at,
        change_logs=read.history,
        history_since=read.history_since,
        requests_spent=api.stats().requests - start,
        basis=read.basis,
    )


@dataclass(frozen=True, slots=True)
class DriftOptions:
    paths: Sequence[Path]
    fmt: str = "text"
    history_days: float = HISTORY_DAYS  # how far back the change history dates drifted fields
    full: bool = False  # read the whole account, not the live-state cache
    verify_budget: int | None = None  # list pages an incremental drift re-verifies


def run_drift(
    options: DriftOptions,
    *,
    connection: Connection,
    reporter: Reporter,
    write: Callable[[str], None],
    clock: Clock,
    state: Path | None = None,
) -> int:
    """Load the manifests, compare them with the live account, write the report; exit code."""
    paths, fmt = options.paths, options.fmt
    try:
        desired = load_desired(paths)
    except ManifestError as exc:
        write_if_rendered("manifest-error", fmt, exc, write)  # github: annotations
        raise
    with open_api(connection, reporter, clock=clock) as api:
        report = read_drift(
            api,
            desired,
            reporter,
            clock=clock,
            state=state if state is not None else state_dir(),
            full=options.full,
            verify_budget=options.verify_budget,
            history_days=options.history_days,
        )
    managed = len(desired.sims) - len(report.missing)
    write_report("drift", fmt, report, write, RenderOptions(managed=managed))
    return drift_exit_code(report)


def load_desired(paths: Sequence[Path]) -> DesiredFleet:
    from reconciler.manifest import load_fleet

    return load_fleet(list(paths))
