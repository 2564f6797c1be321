"""`CacheFeed`: a `SmartHubApi` that passes every call through and keeps the live-state cache
up to date with what apply sees and does.

- every SIM apply reads live (its re-check before each wave: list pages or single GETs, and the
  SIM a state change answers with) is recorded, `Via.LIST` / `Via.GET`;
- every write that succeeded changes that one field of the cached SIM, `Via.APPLY` (single
  calls at once; a batch job's SIMs when a poll reports them succeeded).

The cache is opened on first use, for the account the first SIM read belongs to. A cache that
cannot be written is said once and then left alone: apply never fails because of its cache,
and never reads it (the cache is never the truth for a write).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from reconciler.errors import CacheError
from reconciler.live.cache import LiveCache, Via
from reconciler.model import (
    ApnStatus,
    BatchJob,
    BatchOperation,
    ChangeLogEntry,
    LiveSim,
    RateBudget,
    RatePlan,
    SmsStatus,
    Status,
)
from reconciler.reporting import Reporter
from reconciler.smarthub.api import RequestStats, SimPage, SmartHubApi

_RESULT: Mapping[BatchOperation, Status] = {
    BatchOperation.ACTIVATE: Status.ACTIVE,
    BatchOperation.SUSPEND: Status.SUSPENDED,
    BatchOperation.RETIRE: Status.RETIRED,
}
_FLUSH = 1000


class CacheFeed:
    def __init__(
        self,
        api: SmartHubApi,
        state: Path,
        reporter: Reporter,
        clock: Callable[[], float],
        *,
        account: str | None = None,
    ) -> None:
        self._api = api
        self._state = state
        self._reporter = reporter
        self._clock = clock
        self._account = account
        self._cache: LiveCache | None = None
        self._broken = False
        self._lock = threading.Lock()
        self._jobs: dict[str, tuple[BatchOperation, str | None]] = {}

    # --- the cache side --------------------------------------------------------------------

    def _open(self, account: str | None) -> LiveCache | None:
        with self._lock:
            if self._broken:
                return None
            if self._cache is None:
                account = self._account or account
                if account is None:
                    return None
                try:
                    self._cache = LiveCache.open(
                        self._state,
                        endpoint=self._api.endpoint,
                        account=account,
                        reporter=self._reporter,
                        clock=self._clock,
                    )
                except CacheError as exc:
                    self._give_up(exc)
            return self._cache

    def _give_up(self, exc: CacheError) -> None:
        self._broken = True
        self._reporter.warn(f"the live-state cache is not updated by this apply: {exc}")

    def _record(self, sims: Sequence[LiveSim], via: Via, at: float | None = None) -> None:
        if not sims:
            return
        cache = self._open(sims[0].account)
        if cache is None:
            return
        try:
            cache.record(sims, via=via, at=at)
        except CacheError as exc:
            with self._lock:
                self._give_up(exc)

    def _patch(self, iccid: str, **fields: Any) -> None:
        cache = self._open(None)
        if cache is None:
            return
        try:
            cache.patch(iccid, via=Via.APPLY, at=self._clock(), **fields)
        except CacheError as exc:
            with self._lock:
                self._give_up(exc)

    def close(self) -> None:
        """Close the cache; the wrapped API stays open (it is the caller's)."""
        with self._lock:
            if self._cache is not None:
                self._cache.close()
                self._cache = None

    # --- SmartHubApi -----------------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        return self._api.endpoint

    def stats(self) -> RequestStats:
        return self._api.stats()

    def rate_budget(self) -> RateBudget | None:
        return self._api.rate_budget()

    def iter_sims(
        self, *, account: str | None = None, status: Status | None = None
    ) -> Iterator[LiveSim]:
        batch: list[LiveSim] = []
        read_at = 0.0  # when the batch's first SIM was read: a write that follows wins
        for sim in self._api.iter_sims(account=account, status=status):
            if not batch:
                read_at = self._clock()
            batch.append(sim)
            if len(batch) >= _FLUSH:
                self._record(batch, Via.LIST, read_at)
                batch = []
            yield sim
        self._record(batch, Via.LIST, read_at)

    def iter_sim_pages(
        self, *, account: str | None = None, start: str | None = None
    ) -> Iterator[SimPage]:
        read_at = self._clock()
        for page in self._api.iter_sim_pages(account=account, start=start):
            self._record(page.sims, Via.LIST, read_at)
            yield page
            read_at = self._clock()

    def count_sims(self, *, account: str | None = None) -> int | None:
        return self._api.count_sims(account=account)

    def get_sim(self, iccid: str) -> LiveSim:
        read_at = self._clock()
        sim = self._api.get_sim(iccid)
        self._record([sim], Via.GET, read_at)
        return sim

    def iter_change_logs(
        self, *, iccid: str | None = None, since: datetime | None = None
    ) -> Iterator[ChangeLogEntry]:
        return self._api.iter_change_logs(iccid=iccid, since=since)

    def get_custom_fields(self, iccid: str) -> Mapping[str, str | None]:
        return self._api.get_custom_fields(iccid)

    def service_packages(self, account: str) -> list[RatePlan]:
        return self._api.service_packages(account)

    def enterprise(self) -> Mapping[str, Any]:
        return self._api.enterprise()

    def account(self, name: str) -> Mapping[str, Any]:
        return self._api.account(name)

    def set_custom_fields(self, iccid: str, values: Mapping[str, str | None]) -> None:
        self._api.set_custom_fields(iccid, values)
        self._patch(iccid, custom_fields=dict(values))

    def _state_change(self, iccid: str, sim: LiveSim | None, status: Status) -> LiveSim | None:
        if sim is not None:
            self._record([sim], Via.GET)
        else:
            self._patch(iccid, status=status)
        return sim

    def activate(self, iccid: str) -> LiveSim | None:
        return self._state_change(iccid, self._api.activate(iccid), Status.ACTIVE)

    def suspend(self, iccid: str) -> LiveSim | None:
        return self._state_change(iccid, self._api.suspend(iccid), Status.SUSPENDED)

    def retire(self, iccid: str) -> LiveSim | None:
        return self._state_change(iccid, self._api.retire(iccid), Status.RETIRED)

    def set_rate_plan(self, iccid: str, rate_plan: str) -> None:
        self._api.set_rate_plan(iccid, rate_plan)
        self._patch(iccid, rate_plan=rate_plan)

    def subscribe_plan(self, iccid: str, plan: str) -> None:
        self._api.subscribe_plan(iccid, plan)
        self._patch(iccid, add_supplementary=plan)

    def set_apn_status(self, iccid: str, apn: str, status: ApnStatus) -> None:
        self._api.set_apn_status(iccid, apn, status)
        self._patch(iccid, apn=(apn, status))

    def submit_batch(
        self, operation: BatchOperation, iccids: Sequence[str], *, rate_plan: str | None = None
    ) -> BatchJob:
        job = self._api.submit_batch(operation, iccids, rate_plan=rate_plan)
        with self._lock:
            self._jobs[job.job_id] = (operation, rate_plan)
        return job

    def get_batch_job(self, job_id: str) -> BatchJob:
        job = self._api.get_batch_job(job_id)
        with self._lock:
            known = self._jobs.get(job_id)
        operation = job.operation or (known[0] if known else None)
        if operation is None:
            return job
        for iccid in _succeeded(job):
            if operation is BatchOperation.SET_RATE_PLAN:
                if known is not None and known[1] is not None:
                    self._patch(iccid, rate_plan=known[1])
            else:
                self._patch(iccid, status=_RESULT[operation])
        return job

    def send_sms(self, iccid: str, content: str) -> str:
        return self._api.send_sms(iccid, content)

    def sms_status(self, sms_id: str) -> SmsStatus:
        return self._api.sms_status(sms_id)


def _succeeded(job: BatchJob) -> Iterable[str]:
    return (item.iccid for item in job.items if item.ok)
