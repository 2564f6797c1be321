"""``fleetform drift``: where the live fleet differs from git, and since when.

Reads the account once (the paged list, streamed into the diff), then, only when something
drifted, the change history once (one paged read of ``changeLogs`` since ``history`` ago,
never one read per SIM). Exit 2 when drift exists, 0 when none.

Choice: the history is read for the last 30 days by default (``history_days``); a change
older than that shows no date rather than spending requests on the whole history.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from reconciler.app import Connection, open_api
from reconciler.clock import Clock
from reconciler.commands.plan import load_while_reading, overlap_account
from reconciler.diff import diff_fleet
from reconciler.drift import build_drift
from reconciler.errors import ManifestError
from reconciler.model import DesiredFleet, DriftReport, LiveSim
from reconciler.prefetch import Prefetch
from reconciler.render import github
from reconciler.render.drift_json import render_drift_json
from reconciler.render.drift_markdown import render_drift_markdown
from reconciler.render.drift_text import render_drift_text
from reconciler.reporting import Reporter
from reconciler.smarthub.api import SmartHubApi

DRIFT_FORMATS: tuple[str, ...] = ("text", "markdown", "json")
EXIT_OK = 0
EXIT_DRIFT = 2
HISTORY_DAYS = 30.0


def render_drift(report: DriftReport, fmt: str, *, managed: int | None = None) -> str:
    """``managed``: the declared SIMs found in the account, which the "No drift" line counts
    (the report lists no unmanaged SIMs when the fleet ignores them, so it cannot tell)."""
    if fmt == "text":
        return render_drift_text(report, managed=managed)
    if fmt == "markdown":
        return render_drift_markdown(report, managed=managed)
    if fmt == "json":
        return render_drift_json(report)
    raise ValueError(f"unknown drift format {fmt!r}; choose one of {', '.join(DRIFT_FORMATS)}")


def drift_exit_code(report: DriftReport) -> int:
    return EXIT_DRIFT if report.has_drift else EXIT_OK


class _Watch:
    """Passes live SIMs through to the diff, keeping each one's lastModifiedTime."""

    def __init__(self, sims: Iterator[LiveSim]) -> None:
        self._sims = sims
        self.last_modified: dict[str, datetime | None] = {}

    def __iter__(self) -> Iterator[LiveSim]:
        for sim in self._sims:
            self.last_modified[sim.iccid] = sim.last_modified_time
            yield sim


def run_drift(
    api: SmartHubApi,
    desired: DesiredFleet,
    reporter: Reporter,
    *,
    clock: Clock,
    history_days: float = HISTORY_DAYS,
    prefetch: Prefetch | None = None,
) -> DriftReport:
    """``prefetch``: the read started while the manifests loaded (see reconciler.prefetch)."""
    account = desired.fleet.account
    if prefetch is not None and prefetch.account != account:
        prefetch.stop()
        prefetch = None
    start = prefetch.start_requests if prefetch is not None else api.stats().requests
    reporter.info(f"Reading account {account!r} at {api.endpoint} ...")
    checked_at = datetime.fromtimestamp(clock.now(), UTC)
    watch = _Watch(prefetch.sims() if prefetch is not None else api.iter_sims(account=account))
    diff = diff_fleet(desired, watch)
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
        last_modified={d.iccid: watch.last_modified.get(d.iccid) for d in diff.changed},
        history_since=since,
        requests_spent=api.stats().requests - start,
    )


def drift_command(
    paths: Sequence[Path],
    fmt: str,
    *,
    connection: Connection,
    reporter: Reporter,
    write: Callable[[str], None],
    clock: Clock,
    history_days: float = HISTORY_DAYS,
) -> int:
    """Load the manifests, compare them with the live account, write the report; exit code."""

    def load() -> DesiredFleet:
        try:
            return load_desired(paths)
        except ManifestError as exc:
            if fmt == "github":
                write(github.manifest_error_github(exc, workspace=github.workspace_from()))
            raise

    account = overlap_account(connection, paths)
    if account is None:
        desired = load()
        with open_api(connection, reporter, clock=clock) as api:
            report = run_drift(api, desired, reporter, clock=clock, history_days=history_days)
    else:  # read the account while the manifests load (see reconciler.prefetch)
        with (
            open_api(connection, reporter, clock=clock) as api,
            Prefetch(api, account, catalogue=False) as ahead,
        ):
            desired = load_while_reading(load, ahead, reporter)
            report = run_drift(
                api, desired, reporter, clock=clock, history_days=history_days, prefetch=ahead
            )
    managed = len(desired.sims) - len(report.missing)
    if fmt == "github":
        rendered = github.drift_github(report, workspace=github.workspace_from(), managed=managed)
        github.emit(rendered, write)
    else:
        write(render_drift(report, fmt, managed=managed))
    return drift_exit_code(report)


def load_desired(paths: Sequence[Path]) -> DesiredFleet:
    from reconciler.manifest import load_fleet

    return load_fleet(list(paths))
