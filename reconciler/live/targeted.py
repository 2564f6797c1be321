"""The targeted live source: read only the SIMs whose declaration changed since a git commit.

``plan --changed-from GITREF`` (and ``apply``) load the manifests at GITREF from git
(`reconciler.manifest.gitref`) and as they are now, take the SIMs whose effective declaration
differs (`reconciler.manifest.delta`), and read only those live. The result has the shape of the
full read's (`TargetedRead` beside `reconciler.live.read.LiveRead`), so the diff and the
planner are the same for both.

How the SIMs are read, the cheaper way (`choose_reads`): one ``GET /global-sims/{giccid}``
each, or the paged list of the account (100 SIMs a page), keeping only those SIMs and stopping
once all were seen. The list costs ceil(account size / 100) requests:

- When the SIMs are no more than the pages the *declared* fleet fills (ceil(declared / 100)),
  single GETs are at most as dear as the list could be, since the account holds at least the
  declared SIMs: GETs, without a request to learn more. This is the usual case: a pull request
  that touches 100 SIMs of 50,000 costs 100 GETs.
- Otherwise the account's size decides, learned for one request from the list's
  ``X-Total-Count`` (a one-SIM page): GETs when fewer than its pages, else the list. A server
  that sends no count gets the list (an account usually is the fleet).

SIMs the account does not hold (404, or another enterprise's: 403) are missing, as they would be
from the list. Unmanaged SIMs are not looked for: only the targeted SIMs are read.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from reconciler.diff import diff_fleet
from reconciler.errors import ConfigError, ForbiddenError, NotFoundError
from reconciler.manifest.delta import DeclaredChanges, declared_changes
from reconciler.manifest.gitref import DeclarationsAtRef, Revision, declarations_at
from reconciler.model import DesiredFleet, FleetDiff, LiveSim, RateBudget, RatePlan, Targeting
from reconciler.reporting import Reporter
from reconciler.smarthub.api import SmartHubApi
from reconciler.smarthub.wire import PAGE_SIZE  # the one page size of the client

GET = "get"
LIST = "list"
CONCURRENCY = 8  # GETs in flight at once (the client paces them under the rate limit)

Tap = Callable[[Iterator[LiveSim]], Iterator[LiveSim]]


@dataclass(frozen=True, slots=True)
class Target:
    """The SIMs a git change reaches: what ``--changed-from`` reads and plans."""

    revision: Revision
    changes: DeclaredChanges
    declared: int  # SIMs declared now

    @property
    def iccids(self) -> tuple[str, ...]:
        return self.changes.targets

    def targeting(self, read_by: str, account_size: int | None) -> Targeting:
        sims = len(self.iccids)
        return Targeting(
            ref=self.revision.ref,
            commit=self.revision.commit,
            sims=sims,
            not_read=self.declared - sims,
            removed=len(self.changes.removed),
            read_by=read_by,
            account_size=account_size,
        )


# What the manifests at the ref declare, read before the working tree's are loaded (so that one
# fleet is in memory at a time: at a million SIMs the two did not fit in 1 GB), or the error
# that reading them met, raised once the working tree's manifests have loaded (their problems
# come first, as they did).
Before = DeclarationsAtRef | ConfigError


def read_before(ref: str | None, paths: Sequence[Path | str]) -> Before | None:
    """`Before` for ``plan``/``apply --changed-from ref``; None without ``ref``."""
    if ref is None:
        return None
    try:
        return declarations_at(ref, paths)
    except ConfigError as exc:
        return exc


def target(
    ref: str,
    paths: Sequence[Path | str],
    desired: DesiredFleet,
    reporter: Reporter,
    before: Before | None = None,
) -> Target:
    """Compare the manifests at ``ref`` (``before``, else read now) with ``desired`` (loaded
    from ``paths``)."""
    if isinstance(before, ConfigError):
        raise before
    if before is None:
        before = declarations_at(ref, paths)  # each SIM's fingerprint: not a second fleet
    changes = declared_changes(before.declarations, desired)
    found = Target(before.revision, changes, len(desired.sims))
    if before.declarations is None:
        reporter.info(
            f"The manifests did not exist at {before.revision}: all {len(desired.sims):,} "
            "SIMs count as added"
        )
    else:
        reporter.info(
            f"Since {before.revision}: {_sims(len(changes.changed))} declared differently, "
            f"{len(changes.added):,} added, {len(changes.removed):,} no longer declared"
        )
    return found


@dataclass(frozen=True, slots=True)
class TargetedRead:
    """What a targeted read gave: the fields of the full read's ``LiveRead``, and how."""

    diff: FleetDiff
    catalogue: tuple[RatePlan, ...]
    sims_read: int
    requests: int
    rate_budget: RateBudget | None
    targeting: Targeting


def choose_reads(
    targets: int, declared: int, count: Callable[[], int | None]
) -> tuple[str, int | None]:
    """(`GET` or `LIST`, the account's size when it was asked): see the module docstring."""
    if targets <= math.ceil(declared / PAGE_SIZE):
        return GET, None
    total = count()
    if total is None:
        return LIST, None
    return (GET if targets < max(1, math.ceil(total / PAGE_SIZE)) else LIST), total


def read_targeted(
    api: SmartHubApi,
    desired: DesiredFleet,
    target: Target,
    reporter: Reporter,
    *,
    tap: Tap | None = None,
) -> TargetedRead:
    """Read the rate-plan catalogue and the targeted SIMs, and diff them against ``desired``.

    ``tap`` sees the live SIMs on their way to the diff (e.g. to keep a live-state cache)."""
    account = desired.fleet.account
    iccids = target.iccids
    start = api.stats().requests
    catalogue = tuple(api.service_packages(account))
    how, size = choose_reads(
        len(iccids), len(desired.sims), lambda: api.count_sims(account=account)
    )
    if how == GET:
        reporter.info(
            f"Reading {_sims(len(iccids))} of account {account!r} one by one at {api.endpoint} "
            "(fewer requests than the pages of the list) ..."
        )
        live = _by_get(api, iccids)
    else:
        pages = f" ({math.ceil(size / PAGE_SIZE):,} pages)" if size is not None else ""
        reporter.info(
            f"Reading {_sims(len(iccids))} from the list of account {account!r}{pages} at "
            f"{api.endpoint} (fewer requests than one GET each) ..."
        )
        live = _by_list(api, account, iccids)
    if tap is not None:
        live = tap(live)
    counted = _Counter(live)
    only = DesiredFleet(
        fleet=desired.fleet,
        sims={iccid: desired.sims[iccid] for iccid in iccids},
        digest=desired.digest,
        files=desired.files,
    )
    diff = diff_fleet(only, counted)
    requests = api.stats().requests - start
    reporter.info(
        f"Read {_sims(counted.count)} and the rate-plan catalogue in {requests:,} requests; "
        f"the other {target.declared - len(iccids):,} declared SIMs were not read"
    )
    return TargetedRead(
        diff, catalogue, counted.count, requests, api.rate_budget(), target.targeting(how, size)
    )


def _by_get(api: SmartHubApi, iccids: Sequence[str]) -> Iterator[LiveSim]:
    def get(iccid: str) -> LiveSim | None:
        try:
            return api.get_sim(iccid)
        except (NotFoundError, ForbiddenError):
            return None  # not in this enterprise's account: missing, as from the list

    if not iccids:
        return
    with ThreadPoolExecutor(max_workers=min(CONCURRENCY, len(iccids))) as pool:
        for sim in pool.map(get, iccids):
            if sim is not None:
                yield sim


def _by_list(api: SmartHubApi, account: str, iccids: Sequence[str]) -> Iterator[LiveSim]:
    wanted = set(iccids)
    for sim in api.iter_sims(account=account):
        if sim.iccid in wanted:
            wanted.discard(sim.iccid)
            yield sim
            if not wanted:
                return  # every targeted SIM seen: the remaining pages are not needed


def _sims(count: int) -> str:
    return f"{count:,} SIM{'' if count == 1 else 's'}"


class _Counter:
    def __init__(self, sims: Iterator[LiveSim]) -> None:
        self._sims = sims
        self.count = 0

    def __iter__(self) -> Iterator[LiveSim]:
        for sim in self._sims:
            self.count += 1
            yield sim


__all__ = [
    "GET",
    "LIST",
    "Before",
    "Target",
    "TargetedRead",
    "choose_reads",
    "read_before",
    "read_targeted",
    "target",
]
