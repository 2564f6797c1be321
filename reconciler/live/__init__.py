"""Live sources beside the full paged read of `reconciler.live.read.read_live`: the
live-state cache (`cache`), incremental drift over it (`incremental`), and the targeted read
of the SIMs a git change reaches (`targeted`).

`open_cache` is what commands call: the cache of one account at one endpoint, or None (with
one warning) when no cache can be kept, in which case the command reads live as before.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from reconciler.errors import CacheError
from reconciler.live.cache import FullRefresh, LiveCache, Via
from reconciler.model import LiveSim
from reconciler.reporting import Reporter

__all__ = [
    "FullRefresh",
    "LiveCache",
    "Tap",
    "Via",
    "finish",
    "open_cache",
    "record_read",
    "refreshing",
]

Tap = Callable[[Iterator[LiveSim]], Iterator[LiveSim]]


def open_cache(
    state: Path,
    *,
    endpoint: str,
    account: str,
    reporter: Reporter,
    clock: Callable[[], float],
) -> LiveCache | None:
    try:
        return LiveCache.open(
            state, endpoint=endpoint, account=account, reporter=reporter, clock=clock
        )
    except CacheError as exc:
        reporter.warn(f"no live-state cache this run: {exc}")
        return None


@contextmanager
def refreshing(
    state: Path,
    *,
    endpoint: str,
    account: str,
    reporter: Reporter,
    clock: Callable[[], float],
) -> Iterator[Tap | None]:
    """A tap that streams a full read of ``account`` into its live-state cache: the cache is
    marked complete when the block ends without error and the read reached its end. None when
    no cache can be kept (the read goes on without)."""
    cache = open_cache(state, endpoint=endpoint, account=account, reporter=reporter, clock=clock)
    if cache is None:
        yield None
        return
    try:
        refresh = cache.full_refresh()
        yield refresh.tap
        finish(refresh, reporter)
    finally:
        cache.close()


def record_read(
    state: Path,
    sims: Iterable[LiveSim],
    *,
    via: Via,
    endpoint: str,
    account: str,
    reporter: Reporter,
    clock: Callable[[], float],
    at: float | None = None,
) -> int:
    """Record SIMs read live outside a full read (a targeted read's single GETs or list pages)
    into the account's cache, stamped ``at`` (when they were read; default now). Never fails
    the caller: a cache that cannot be written is said and skipped. Returns the SIMs taken in.
    """
    cache = open_cache(state, endpoint=endpoint, account=account, reporter=reporter, clock=clock)
    if cache is None:
        return 0
    try:
        return cache.record(sims, via=via, at=at)
    except CacheError as exc:
        reporter.warn(f"the live-state cache was not updated: {exc}")
        return 0
    finally:
        cache.close()


def finish(refresh: FullRefresh, reporter: Reporter) -> bool:
    """Commit a full read into the cache; a cache that failed on the way is said, once."""
    try:
        done = refresh.commit()
    except CacheError as exc:
        refresh.error = exc
        done = False
    if refresh.error is not None:
        reporter.warn(f"the live-state cache was not updated: {refresh.error}")
    return done
