"""An in-memory SmartHub: a real implementation of `SmartHubApi` for unit tests (no mocks).

It keeps SIMs under SmartHub's state machine, runs batch jobs (each finishes after a number of
polls), counts requests like the HTTP client does (a list read costs one request per page of
100), and raises `BudgetExhausted` before a request that would pass its ``budget``.
"""

from __future__ import annotations

import dataclasses
import itertools
import threading
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from reconciler.errors import (
    ApiFieldError,
    BudgetExhausted,
    IllegalStatus,
    NotFoundError,
    ServerError,
)
from reconciler.model import (
    PRE_SERVICE,
    ApnStatus,
    BatchItem,
    BatchJob,
    BatchOperation,
    ChangeLogEntry,
    JobStatus,
    LiveSim,
    RateBudget,
    RatePlan,
    RatePlanType,
    SmsStatus,
    Status,
)
from reconciler.smarthub.api import RequestStats, SimPage

PAGE = 100

ALLOWED_FROM: dict[BatchOperation, frozenset[Status]] = {
    BatchOperation.ACTIVATE: frozenset(PRE_SERVICE | {Status.SUSPENDED}),
    BatchOperation.SUSPEND: frozenset(PRE_SERVICE | {Status.ACTIVE}),
    BatchOperation.RETIRE: frozenset({Status.SUSPENDED}),
}
TARGET: dict[BatchOperation, Status] = {
    BatchOperation.ACTIVATE: Status.ACTIVE,
    BatchOperation.SUSPEND: Status.SUSPENDED,
    BatchOperation.RETIRE: Status.RETIRED,
}


def luhn_digit(digits: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def giccid(i: int) -> str:
    body = "894450" + f"{i:012d}"
    return body + luhn_digit(body)


def illegal(iccid: str) -> IllegalStatus:
    return IllegalStatus(
        422,
        "Validation Failed",
        errors=[ApiFieldError("GlobalSim", "status", "illegal_status")],
        method="POST",
        url=f"/global-sims/{iccid}",
    )


@dataclasses.dataclass
class FakeJob:
    job_id: str
    operation: BatchOperation
    iccids: tuple[str, ...]
    rate_plan: str | None
    polls: int = 0
    result: BatchJob | None = None


class FakeSmartHub:
    """Implements `reconciler.smarthub.api.SmartHubApi` in memory; thread-safe."""

    def __init__(
        self,
        sims: Sequence[LiveSim] = (),
        *,
        endpoint: str = "http://fake.test/v1",
        budget: int | None = None,
        polls_to_finish: int = 2,
        fail_in_batch: Mapping[str, str] | None = None,
        fail_single: Mapping[str, str] | None = None,
    ) -> None:
        self._endpoint = endpoint
        self._lock = threading.RLock()
        self.sims: dict[str, LiveSim] = {s.iccid: s for s in sims}
        self.budget = budget
        self.polls_to_finish = polls_to_finish
        self.fail_in_batch = dict(fail_in_batch or {})  # iccid -> code, inside batch jobs
        self.fail_single = dict(fail_single or {})  # iccid -> title of a 500 on single writes
        self.lose_answer: set[str] = set()  # iccids whose single writes land, then answer 500
        self.requests = 0
        self.calls: list[tuple[str, str]] = []  # (method name, iccid or job id)
        self.jobs: dict[str, FakeJob] = {}
        self._ids = itertools.count(1)
        self.change_logs: list[ChangeLogEntry] = []
        self.on_request: Any = None  # a hook called with (name, arg) before each request

    @classmethod
    def seeded(cls, count: int, *, account: str = "acme", **kwargs: Any) -> FakeSmartHub:
        sims = [
            LiveSim(
                iccid=giccid(i),
                status=Status.ACTIVE,
                account=account,
                rate_plan="IoT-1GB",
                apns={"iot.acme": ApnStatus.ENABLED},
                custom_fields=dict.fromkeys(("custom1", "custom2", "custom3"), None),
            )
            for i in range(count)
        ]
        return cls(sims, **kwargs)

    # -- bookkeeping ----------------------------------------------------------------------

    def _spend(self, name: str, arg: str = "") -> None:
        with self._lock:
            if self.budget is not None and self.requests >= self.budget:
                raise BudgetExhausted(f"the budget of {self.budget} requests is spent")
            self.requests += 1
            self.calls.append((name, arg))
            hook = self.on_request
        if hook is not None:
            hook(name, arg)

    def _sim(self, iccid: str) -> LiveSim:
        try:
            return self.sims[iccid]
        except KeyError:
            raise NotFoundError(404, "Not Found", url=f"/global-sims/{iccid}") from None

    def change(self, iccid: str, **values: Any) -> None:
        """Change a SIM behind fleetform's back (like the simulator's admin endpoint)."""
        with self._lock:
            self.sims[iccid] = dataclasses.replace(self.sims[iccid], **values)

    def calls_named(self, name: str) -> list[str]:
        return [arg for n, arg in self.calls if n == name]

    # -- the interface --------------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        return self._endpoint

    def stats(self) -> RequestStats:
        return RequestStats(requests=self.requests, retries=0, rate_limited=0, waited_seconds=0.0)

    def rate_budget(self) -> RateBudget | None:
        return None

    def iter_sims(
        self, *, account: str | None = None, status: Status | None = None
    ) -> Iterator[LiveSim]:
        page = 0
        while True:
            self._spend("list", str(page + 1))
            with self._lock:
                selected = [
                    s
                    for _, s in sorted(self.sims.items())
                    if (account is None or s.account == account)
                    and (status is None or s.status is status)
                ]
            chunk = selected[page * PAGE : (page + 1) * PAGE]
            yield from chunk
            page += 1
            if page * PAGE >= len(selected):
                return

    def iter_sim_pages(
        self, *, account: str | None = None, start: str | None = None
    ) -> Iterator[SimPage]:
        page = int(start) if start is not None else 0
        while True:
            self._spend("list", str(page + 1))
            with self._lock:
                selected = [s for _, s in sorted(self.sims.items()) if account in (None, s.account)]
            chunk = selected[page * PAGE : (page + 1) * PAGE]
            more = (page + 1) * PAGE < len(selected)
            yield SimPage(tuple(chunk), str(page + 1) if more else None, str(page))
            if not more:
                return
            page += 1

    def count_sims(self, *, account: str | None = None) -> int | None:
        self._spend("count", account or "")
        with self._lock:
            return sum(1 for s in self.sims.values() if account is None or s.account == account)

    def get_sim(self, iccid: str) -> LiveSim:
        self._spend("get_sim", iccid)
        with self._lock:
            return self._sim(iccid)

    def iter_change_logs(
        self, *, iccid: str | None = None, since: datetime | None = None
    ) -> Iterator[ChangeLogEntry]:
        self._spend("change_logs", iccid or "")
        for entry in list(self.change_logs):
            if (iccid is None or entry.iccid == iccid) and (
                since is None or entry.changed_time >= since
            ):
                yield entry

    def get_custom_fields(self, iccid: str) -> Mapping[str, str | None]:
        self._spend("get_custom_fields", iccid)
        with self._lock:
            return dict(self._sim(iccid).custom_fields)

    def service_packages(self, account: str) -> list[RatePlan]:
        self._spend("service_packages", account)
        return [RatePlan(n, RatePlanType.BASIC) for n in ("IoT-1GB", "IoT-5GB", "IoT-10GB")] + [
            RatePlan("EU-Roaming-500MB", RatePlanType.SUPPLEMENTARY)
        ]

    def enterprise(self) -> Mapping[str, Any]:
        self._spend("enterprise")
        return {"name": "fake"}

    def account(self, name: str) -> Mapping[str, Any]:
        self._spend("account", name)
        return {"name": name}

    def _single(self, name: str, iccid: str) -> LiveSim:
        self._spend(name, iccid)
        if iccid in self.fail_single:
            raise ServerError(500, self.fail_single[iccid], method="POST", url=iccid)
        sim = self._sim(iccid)
        if sim.status is Status.RETIRED:
            raise illegal(iccid)
        return sim

    def set_custom_fields(self, iccid: str, values: Mapping[str, str | None]) -> None:
        with self._lock:
            sim = self._single("set_custom_fields", iccid)
            self.sims[iccid] = dataclasses.replace(
                sim, custom_fields={**sim.custom_fields, **values}
            )
            if iccid in self.lose_answer:
                raise ServerError(502, "Bad Gateway", method="PUT", url=iccid)

    def _transition(self, operation: BatchOperation, iccid: str) -> LiveSim:
        with self._lock:
            sim = self._single(operation.value, iccid)
            if sim.status not in ALLOWED_FROM[operation]:
                raise illegal(iccid)
            moved = dataclasses.replace(sim, status=TARGET[operation])
            self.sims[iccid] = moved
            return moved

    def activate(self, iccid: str) -> LiveSim | None:
        return self._transition(BatchOperation.ACTIVATE, iccid)

    def suspend(self, iccid: str) -> LiveSim | None:
        return self._transition(BatchOperation.SUSPEND, iccid)

    def retire(self, iccid: str) -> LiveSim | None:
        return self._transition(BatchOperation.RETIRE, iccid)

    def set_rate_plan(self, iccid: str, rate_plan: str) -> None:
        with self._lock:
            sim = self._single("set_rate_plan", iccid)
            self.sims[iccid] = dataclasses.replace(sim, rate_plan=rate_plan)

    def subscribe_plan(self, iccid: str, plan: str) -> None:
        with self._lock:
            sim = self._single("subscribe_plan", iccid)
            if sim.status is not Status.ACTIVE:
                raise illegal(iccid)
            plans = tuple(sorted({*sim.supplementary_plans, plan}))
            self.sims[iccid] = dataclasses.replace(sim, supplementary_plans=plans)

    def set_apn_status(self, iccid: str, apn: str, status: ApnStatus) -> None:
        with self._lock:
            sim = self._single("set_apn_status", iccid)
            self.sims[iccid] = dataclasses.replace(sim, apns={**sim.apns, apn: status})

    def submit_batch(
        self, operation: BatchOperation, iccids: Sequence[str], *, rate_plan: str | None = None
    ) -> BatchJob:
        self._spend("submit_batch", operation.value)
        with self._lock:
            job_id = f"job-{next(self._ids)}"
            self.jobs[job_id] = FakeJob(job_id, operation, tuple(iccids), rate_plan)
        return BatchJob(
            job_id=job_id, status=JobStatus.PENDING, operation=operation, total=len(iccids)
        )

    def _run_job(self, job: FakeJob) -> BatchJob:
        items: list[BatchItem] = []
        for iccid in job.iccids:
            sim = self.sims.get(iccid)
            if iccid in self.fail_in_batch:
                items.append(BatchItem(iccid, False, self.fail_in_batch[iccid]))
            elif sim is None:
                items.append(BatchItem(iccid, False, "not_found"))
            elif job.operation is BatchOperation.SET_RATE_PLAN:
                if sim.status is Status.RETIRED:
                    items.append(BatchItem(iccid, False, "illegal_status"))
                else:
                    self.sims[iccid] = dataclasses.replace(sim, rate_plan=job.rate_plan)
                    items.append(BatchItem(iccid, True))
            elif sim.status in ALLOWED_FROM[job.operation]:
                self.sims[iccid] = dataclasses.replace(sim, status=TARGET[job.operation])
                self.change_logs.append(
                    ChangeLogEntry(
                        iccid,
                        "status",
                        sim.status.value,
                        TARGET[job.operation].value,
                        datetime.now(UTC),
                    )
                )
                items.append(BatchItem(iccid, True))
            else:
                items.append(BatchItem(iccid, False, "illegal_status"))
        failed = sum(1 for i in items if not i.ok)
        status = (
            JobStatus.COMPLETED
            if not failed
            else JobStatus.FAILED
            if failed == len(items)
            else JobStatus.PARTIALLY_FAILED
        )
        return BatchJob(
            job_id=job.job_id,
            status=status,
            operation=job.operation,
            total=len(items),
            succeeded=len(items) - failed,
            failed=failed,
            items=tuple(items),
        )

    def get_batch_job(self, job_id: str) -> BatchJob:
        self._spend("get_batch_job", job_id)
        with self._lock:
            job = self.jobs.get(job_id)
            if job is None:
                raise NotFoundError(404, "Not Found", url=f"/batchJobs/{job_id}")
            job.polls += 1
            if job.result is None and job.polls >= self.polls_to_finish:
                job.result = self._run_job(job)
            if job.result is not None:
                return job.result
            return BatchJob(
                job_id=job_id,
                status=JobStatus.PROCESSING,
                operation=job.operation,
                total=len(job.iccids),
            )

    def finish_jobs(self) -> None:
        """Run every pending job now (as the server would while nobody polls)."""
        with self._lock:
            for job in self.jobs.values():
                if job.result is None:
                    job.result = self._run_job(job)

    def send_sms(self, iccid: str, content: str) -> str:
        self._spend("send_sms", iccid)
        return "sms-1"

    def sms_status(self, sms_id: str) -> SmsStatus:
        self._spend("sms_status", sms_id)
        return SmsStatus.DELIVERED

    def close(self) -> None:
        pass


# --- helpers for tests against the real simulator ------------------------------------------


def write_fleet(
    directory: Any,
    groups: Mapping[str, Mapping[str, Any]],
    *,
    account: str = "acme",
    name: str = "test-fleet",
    unmanaged: str = "ignore",
    guards: Mapping[str, Any] | None = None,
) -> Any:
    """Write one Fleet and a SimGroup per entry of ``groups`` (spec dicts) as manifests."""
    from pathlib import Path

    import yaml

    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    docs: list[dict[str, Any]] = [
        {
            "apiVersion": "fleetform/v1",
            "kind": "Fleet",
            "metadata": {"name": name},
            "spec": {"account": account, "unmanaged": unmanaged, "guards": dict(guards or {})},
        }
    ]
    for group, spec in groups.items():
        docs.append(
            {
                "apiVersion": "fleetform/v1",
                "kind": "SimGroup",
                "metadata": {"name": group},
                "spec": dict(spec),
            }
        )
    (path / "fleet.yaml").write_text(yaml.safe_dump_all(docs, sort_keys=False), encoding="utf-8")
    return path


class Admin:
    """The simulator's admin endpoint (changes behind fleetform's back, jobs, counters)."""

    def __init__(self, sim: Any) -> None:
        import httpx

        self._http = httpx.Client(
            base_url=sim.admin_url, headers={"X-API-Key": sim.api_key}, timeout=10.0
        )

    def patch_sim(self, giccid: str, **fields: Any) -> dict[str, Any]:
        response = self._http.patch(f"/sims/{giccid}", json=fields)
        response.raise_for_status()
        return dict(response.json())

    def sim(self, giccid: str) -> dict[str, Any]:
        response = self._http.get(f"/sims/{giccid}")
        response.raise_for_status()
        return dict(response.json())

    def jobs(self) -> list[dict[str, Any]]:
        response = self._http.get("/batchJobs")
        response.raise_for_status()
        return list(response.json())

    def counters(self) -> dict[str, Any]:
        response = self._http.get("/counters")
        response.raise_for_status()
        return dict(response.json())

    def reset_rate_limit(self) -> None:
        """Start a fresh rate window for every account."""
        self._http.post("/rate-limit/reset").raise_for_status()

    def close(self) -> None:
        self._http.close()
