"""Incremental drift: bring the live-state cache up to date for a price that grows with the
change, not with the fleet.

1. The change history since the watermark (``GET /global-sims/changeLogs?since=``, paged):
   its STATUS and SERVICE_PACKAGE entries go into the cache (`LiveCache.take_history`).
2. The pushes the webhook receiver took in are already in the cache (it records the SIM it
   re-reads after each push, `Via.PUSH`).
3. Declared SIMs the cache holds no record of are read one by one (new in git since the last
   full read).
4. A slice of the list is re-verified, at most ``verify_budget`` pages: custom fields and
   supplementary plans are reported by no feed, so they are re-read in rotation. The list's
   pages come in a stable order; the cache keeps the ``Link: rel=next`` URL where the last
   slice stopped (followed as the server gave it) and the next slice starts there, wrapping to
   the first page after the last. After a full read the rotation starts at the first page, the
   one read longest ago, so each slice is the part of the fleet verified longest ago. A cursor
   the server no longer answers restarts the rotation at the first page.

When the history cannot cover the gap, `read_incremental` returns the reason instead and the
caller reads everything:

- no complete full read in the cache yet;
- the watermark is older than `HISTORY_DAYS` (assumed: the history reaches back that far);
- the server refuses the ``since`` (a 4xx) or the history read fails;
- the history no longer holds the anchor, the last entry taken in last time (``since`` is the
  anchor's time and is inclusive, as the contract's simulator has it): older entries were
  dropped, and changes between may be lost with them.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from reconciler.clock import Clock
from reconciler.errors import ApiError, ForbiddenError, NotFoundError, ValidationFailed
from reconciler.live.cache import Anchor, CacheState, LiveCache, Via
from reconciler.model import ChangeLogEntry, DesiredFleet, DriftBasis, LiveSim
from reconciler.reporting import Reporter
from reconciler.smarthub.api import SmartHubApi
from reconciler.smarthub.wire import PAGE_SIZE

HISTORY_DAYS = 30.0
VERIFY_SHARE = 0.05  # default verify budget: 5% of a full read


def full_read_pages(sims: int) -> int:
    return max(1, math.ceil(sims / PAGE_SIZE))


def default_verify_budget(sims: int) -> int:
    return max(1, math.ceil(full_read_pages(sims) * VERIFY_SHARE))


@dataclass(frozen=True, slots=True)
class IncrementalRead:
    history: tuple[ChangeLogEntry, ...]
    history_since: datetime
    basis: DriftBasis
    cache: LiveCache

    def sims(self) -> Iterator[LiveSim]:
        return self.cache.iter_live()


def _utc(epoch: int | None) -> datetime | None:
    return datetime.fromtimestamp(epoch, UTC) if epoch is not None else None


def _when(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def read_incremental(
    api: SmartHubApi,
    cache: LiveCache,
    desired: DesiredFleet,
    reporter: Reporter,
    *,
    clock: Clock,
    verify_budget: int | None = None,
    history_days: float = HISTORY_DAYS,
) -> IncrementalRead | str:
    """Update the cache from the feeds and a verify slice; the reason to read everything
    instead when it cannot be trusted to cover the gap. May raise `CacheError`."""
    state = cache.state()
    account = desired.fleet.account
    now = clock.now()
    stale = _stale(state, account, now, history_days)
    if stale is not None:
        return stale
    assert state.watermark is not None  # `_stale` answered for a cache without one
    since_epoch = state.anchor.at if state.anchor is not None else state.watermark
    since = datetime.fromtimestamp(since_epoch, UTC)
    reporter.info(f"Reading the change history of account {account!r} since {_when(since_epoch)}")
    entries = _history(api, state, since)
    if isinstance(entries, str):
        return entries
    anchor, watermark = _newest(entries, state.anchor, state.watermark)
    _, unknown = cache.take_history(entries, read_at=now, watermark=watermark, anchor=anchor)

    coverage = cache.coverage()
    pages_full = full_read_pages(coverage.sims)
    to_read = sorted(set(cache.absent(desired.sims)) | (unknown & set(desired.sims)))
    if len(to_read) > pages_full:
        return (
            f"{len(to_read):,} declared SIMs are not in the cache: reading the list costs less "
            "than reading them one by one"
        )
    _read_one_by_one(api, cache, to_read, clock)

    budget = verify_budget if verify_budget is not None else default_verify_budget(coverage.sims)
    pages = _verify_slice(api, cache, account, state.cursor, budget, pages_full, clock)
    coverage = cache.coverage()
    state = cache.state()
    basis = DriftBasis(
        mode="incremental",
        read_at=_utc(state.full_at),
        history_until=_utc(state.history_until),
        history_entries=len(entries),
        last_push=_utc(state.last_push_at),
        oldest_verified=_utc(coverage.oldest_full_at),
        verified_pages=pages,
        verify_budget=budget,
        single_reads=len(to_read),
        full_read_requests=full_read_pages(coverage.sims),
    )
    return IncrementalRead(tuple(entries), since, basis, cache)


def _stale(state: CacheState, account: str, now: float, history_days: float) -> str | None:
    """Why the cache cannot be brought up to date from the history, or None."""
    if not state.complete or state.watermark is None:
        return f"no full read of account {account!r} is cached yet"
    if now - state.watermark > history_days * 86400:
        return (
            f"the cache was last brought up to date at {_when(state.watermark)}, longer ago than "
            f"the {history_days:g} days the change history is assumed to reach back"
        )
    return None


def _history(api: SmartHubApi, state: CacheState, since: datetime) -> list[ChangeLogEntry] | str:
    """The change history since ``since``, or why it cannot be trusted to cover the gap."""
    try:
        entries = [e for e in api.iter_change_logs(since=since) if e.changed_time >= since]
    except (ValidationFailed, NotFoundError) as exc:
        return f"the change history refused since={_when(int(since.timestamp()))} ({exc})"
    except ApiError as exc:
        return f"the change history could not be read ({exc})"
    if state.anchor is not None and not any(state.anchor.matches(e) for e in entries):
        return (
            f"the change history no longer holds the last entry taken in "
            f"({state.anchor.describe()}): it does not reach back that far"
        )
    return entries


def _newest(
    entries: list[ChangeLogEntry], anchor: Anchor | None, watermark: int
) -> tuple[Anchor | None, int]:
    """The anchor and watermark after taking in ``entries``: their newest entry, if any."""
    if not entries:
        return anchor, watermark
    last = max(entries, key=lambda e: e.changed_time)  # max keeps the first of equals
    latest = [e for e in entries if e.changed_time == last.changed_time][-1]
    newest = Anchor(
        latest.iccid, latest.change_type, latest.new_value, int(latest.changed_time.timestamp())
    )
    return newest, newest.at


def _read_one_by_one(api: SmartHubApi, cache: LiveCache, iccids: list[str], clock: Clock) -> None:
    """Read ``iccids`` by single GETs into the cache; one not in the account is left out (the
    diff reports it missing)."""
    found: list[LiveSim] = []
    for iccid in iccids:
        try:
            found.append(api.get_sim(iccid))
        except (NotFoundError, ForbiddenError):
            continue
    if found:
        cache.record(found, via=Via.GET, at=clock.now())


def _verify_slice(
    api: SmartHubApi,
    cache: LiveCache,
    account: str,
    cursor: str | None,
    budget: int,
    pages_full: int,
    clock: Clock,
) -> int:
    """Read up to ``budget`` list pages from the cursor on, wrapping at the end; the pages."""
    read = 0
    limit = min(budget, pages_full)
    start = cursor
    restarted = False
    while read < limit:
        try:
            for page in api.iter_sim_pages(account=account, start=start):
                cache.record_page(page.sims, page.next_url, at=clock.now())
                read += 1
                if read >= limit:
                    return read
        except (NotFoundError, ValidationFailed):
            if start is None or restarted:
                raise
            restarted = True  # a cursor the server no longer answers: start over
            read += 1
            cache.record_page((), None, at=clock.now())
        start = None  # the last page was read: wrap to the first
    return read
