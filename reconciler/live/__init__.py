"""Live sources beside the full paged read: the live-state cache (`cache`) and incremental
drift over it (`incremental`).

`open_cache` is what commands call: the cache of one account at one endpoint, or None (with
one warning) when no cache can be kept, in which case the command reads live as before.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from reconciler.errors import CacheError
from reconciler.live.cache import FullRefresh, LiveCache, Via
from reconciler.reporting import Reporter

__all__ = ["FullRefresh", "LiveCache", "Via", "open_cache"]


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
