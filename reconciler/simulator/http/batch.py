"""Handlers of ``/batchJobs``: create a job (202), read one.

Choices where the contract is silent: batch items of an unknown giccid fail with code
``missing``, another enterprise's with ``forbidden``, a forced failure with ``internal_error``,
a state-machine refusal with ``illegal_status``. Batch ``type`` is the path word (``activate``,
``deactivate``, ``retire``, ``servicePackage``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from reconciler.simulator.http.calls import Call, Reply, Routes, job_wire, required_string
from reconciler.simulator.problems import BadRequest, Forbidden, NotFound, ValidationFailed
from reconciler.simulator.store import Store, plan_names

MAX_BATCH = 1000


class BatchHandlers:
    def __init__(self, store: Store, on_job_created: Callable[[], None]) -> None:
        self.store = store
        self.on_job_created = on_job_created

    def routes(self) -> Routes:
        return [
            (
                "POST",
                r"/batchJobs/global-sims/(?P<operation>activate|deactivate|retire|servicePackage)",
                self.create_batch_job,
            ),
            ("GET", r"/batchJobs/(?P<job_id>[^/]+)", self.get_batch_job),
        ]

    def create_batch_job(self, call: Call) -> Reply:
        operation = call.params["operation"]
        body = call.json_object()
        giccids = _giccids(body)
        params: dict[str, Any] = {}
        if operation == "servicePackage":
            plan = required_string(body, "servicePackageName", "batchJob")
            if plan not in plan_names(call.account, "BASIC"):
                raise ValidationFailed(
                    "batchJob",
                    "servicePackageName",
                    "invalid",
                    f"{plan!r} is not a basic service package of account {call.account}",
                )
            params["servicePackageName"] = plan
        job = self.store.create_job(call.account, operation, giccids, params)
        self.on_job_created()
        return Reply(
            {
                "jobId": job.job_id,
                "status": job.status,
                "url": f"{call.base}/batchJobs/{job.job_id}",
            },
            status=202,
        )

    def get_batch_job(self, call: Call) -> Reply:
        job = self.store.get_job(call.params["job_id"])
        if job is None:
            raise NotFound(f"no batch job {call.params['job_id']}")
        if job.account != call.account:
            raise Forbidden()
        return Reply(job_wire(job, call.base))


def _giccids(body: dict[str, Any]) -> list[str]:
    """The job's giccids: a list of 1 to MAX_BATCH distinct strings."""
    if "giccids" not in body or body["giccids"] is None:
        raise ValidationFailed("batchJob", "giccids", "missing_field", "giccids is required")
    giccids = body["giccids"]
    if not isinstance(giccids, list) or not all(isinstance(g, str) for g in giccids):
        raise BadRequest("giccids should be a list of strings")
    if not giccids:
        raise ValidationFailed("batchJob", "giccids", "invalid", "giccids is empty")
    if len(giccids) > MAX_BATCH:
        raise ValidationFailed(
            "batchJob", "giccids", "invalid", f"at most {MAX_BATCH} giccids per job"
        )
    if len(set(giccids)) != len(giccids):
        raise ValidationFailed("batchJob", "giccids", "invalid", "giccids has duplicates")
    return giccids
