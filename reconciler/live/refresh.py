"""`FullRefresh`: a full read of the account streamed into the live-state cache."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from reconciler.errors import CacheError
from reconciler.live.store import UPSERT, Via, ms, sim_row
from reconciler.model import LiveSim

if TYPE_CHECKING:
    from reconciler.live.cache import LiveCache


class FullRefresh:
    """Streams a full read of the account into the cache.

    ``tap(sims)`` passes every SIM through unchanged, writing them in transactions of ``batch``
    SIMs, each stamped with the time it passed; ``commit()`` after the read reached its end
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
        self._batch: list[tuple[Any, ...]] = []

    def tap(self, sims: Iterable[LiveSim]) -> Iterator[LiveSim]:
        clock = self.cache._clock
        account = self.cache.account
        for sim in sims:
            if sim.account == account:
                self._batch.append(sim_row(sim, ms(clock()), Via.LIST))
                if len(self._batch) >= self.batch:
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
            self._batch = []
            return
        rows, self._batch = self._batch, []
        try:
            with self.cache._write() as db:
                db.executemany(UPSERT, rows)
        except CacheError as exc:
            self.error = exc
            return
        self.sims += len(rows)
