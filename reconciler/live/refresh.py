"""`FullRefresh`: a full read of the account streamed into the live-state cache."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from reconciler.errors import CacheError
from reconciler.live.store import UPSERT, Via, ms, sim_rows
from reconciler.model import LiveSim

if TYPE_CHECKING:
    from reconciler.live.cache import LiveCache


class FullRefresh:
    """Streams a full read of the account into the cache.

    ``tap(sims)`` passes every SIM through unchanged, writing them in transactions of ``batch``
    SIMs, each SIM stamped with the time the first SIM of its batch passed (never later than it
    was read; one clock reading a batch, not one a SIM); ``commit()`` after the read reached its end
    removes the SIMs it did not see and marks the cache complete (watermark: the start of the
    read, less `SKEW_SECONDS`). A read that failed or was killed is never committed.
    """

    def __init__(self, cache: LiveCache, started_at: int, *, batch: int) -> None:
        self.cache = cache
        self.started_at = started_at
        self.batch = batch
        self.finished = False
        self.sims = 0
        self.error: CacheError | None = None  # the cache failed: the read went on without it
        self._batch: list[LiveSim] = []
        self._stamp = 0  # epoch ms: when the first SIM of the batch passed

    def tap(self, sims: Iterable[LiveSim]) -> Iterator[LiveSim]:
        clock = self.cache._clock
        account = self.cache.account
        pending = self._batch
        for sim in sims:
            if sim.account == account:
                if not pending:
                    self._stamp = ms(clock())
                pending.append(sim)
                if len(pending) >= self.batch:
                    self._flush()
            yield sim
        self._flush()
        self.finished = True

    def commit(self) -> bool:
        """Mark the cache complete if the read reached its end and every batch was written;
        False (and nothing marked) otherwise. Raises `CacheError` if the marking fails."""
        if not self.finished or self.error is not None:
            return False
        self._flush()
        if self.error is not None:
            raise self.error
        self.cache._finish_full(self.started_at)
        return True

    def _flush(self) -> None:
        """Write the batch; a cache that fails stops being written, the read goes on."""
        if not self._batch or self.error is not None:
            self._batch.clear()
            return
        rows = sim_rows(self._batch, self._stamp, Via.LIST)
        self._batch.clear()
        try:
            with self.cache._write() as db:
                db.executemany(UPSERT, rows)
        except CacheError as exc:
            self.error = exc
            return
        self.sims += len(rows)
