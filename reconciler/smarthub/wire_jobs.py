"""SmartHub's wire format, its jobs and catalogue: batch jobs and their items, the rate-plan
catalogue, the enterprise's accounts and SMS answers, into `reconciler.model` records.

Where the contract leaves a word open (a job's ``type``, an item's ``result``) the obvious
spellings are read too; an unknown word stays an error naming the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.model import (
    BatchItem,
    BatchJob,
    BatchOperation,
    JobStatus,
    RatePlan,
    RatePlanType,
    SmsStatus,
)
from reconciler.smarthub.wire_values import (
    as_flag,
    as_list,
    as_object,
    get_int,
    get_str,
    malformed,
)


def parse_sms_id(raw: Any) -> str:
    record = as_object(raw, "SMS")
    value = get_str(record, "smsMsgId", "SMS", required=True)
    assert value is not None
    return value


def parse_sms_status(raw: Any) -> SmsStatus:
    record = as_object(raw, "SMS")
    value = get_str(record, "status", "SMS", required=True)
    assert value is not None
    try:
        return SmsStatus(value.lower())
    except ValueError:
        raise malformed("SMS", f"field 'status': unknown SMS status {value!r}") from None


# --- batch jobs ---------------------------------------------------------------------------------

JOB_STATUS_FROM_WIRE: Mapping[str, JobStatus] = {
    "PENDING": JobStatus.PENDING,
    "PROCESSING": JobStatus.PROCESSING,
    "COMPLETED": JobStatus.COMPLETED,
    "PARTIALLY_FAILED": JobStatus.PARTIALLY_FAILED,
    "FAILED": JobStatus.FAILED,
}

# The job's ``type`` is not in the contract; accept the path words and the obvious spellings.
_JOB_TYPE_FROM_WIRE: Mapping[str, BatchOperation] = {
    "ACTIVATE": BatchOperation.ACTIVATE,
    "DEACTIVATE": BatchOperation.SUSPEND,
    "SUSPEND": BatchOperation.SUSPEND,
    "RETIRE": BatchOperation.RETIRE,
    "SERVICEPACKAGE": BatchOperation.SET_RATE_PLAN,
    "SERVICE_PACKAGE": BatchOperation.SET_RATE_PLAN,
    "SET_RATE_PLAN": BatchOperation.SET_RATE_PLAN,
    "CHANGE_SERVICE_PACKAGE": BatchOperation.SET_RATE_PLAN,
}


# An item's ``result`` is assumed SUCCESS/FAILED; the obvious other spellings are read too. An
# unknown word stays an error: reading a failure as done would leave a SIM wrong unreported.
_ITEM_RESULT_FROM_WIRE: Mapping[str, bool] = {
    "SUCCESS": True,
    "SUCCEEDED": True,
    "SUCCESSFUL": True,
    "FAILED": False,
    "FAILURE": False,
    "ERROR": False,
}


def _job_status(value: str | None, where: str) -> JobStatus:
    if value is None:
        raise malformed(where, "missing field 'status'")
    status = JOB_STATUS_FROM_WIRE.get(value.upper())
    if status is None:
        raise malformed(where, f"field 'status': unknown job status {value!r}")
    return status


def parse_batch_job(raw: Any, operation: BatchOperation | None = None) -> BatchJob:
    record = as_object(raw, "batch job")
    job_id = get_str(record, "jobId", "batch job", required=True)
    assert job_id is not None
    where = f"batch job {job_id}"
    type_text = get_str(record, "type", where)
    if type_text is not None:
        operation = _JOB_TYPE_FROM_WIRE.get(type_text.upper().replace("-", "_"), operation)
    items: list[BatchItem] = []
    for index, raw_item in enumerate(as_list(record.get("items"), f"{where}.items")):
        item_where = f"{where}.items[{index}]"
        item = as_object(raw_item, item_where)
        giccid = get_str(item, "giccid", item_where, required=True)
        result = get_str(item, "result", item_where, required=True)
        assert giccid is not None and result is not None
        ok = _ITEM_RESULT_FROM_WIRE.get(result.upper())
        if ok is None:
            raise malformed(item_where, f"field 'result': unknown result {result!r}")
        items.append(BatchItem(iccid=giccid, ok=ok, code=get_str(item, "code", where)))
    return BatchJob(
        job_id=job_id,
        status=_job_status(get_str(record, "status", where), where),
        operation=operation,
        total=get_int(record, "total", where, default=len(items)),
        succeeded=get_int(record, "succeeded", where),
        failed=get_int(record, "failed", where),
        items=tuple(items),
        url=get_str(record, "url", where),
    )


def parse_submitted_job(raw: Any, operation: BatchOperation, total: int) -> BatchJob:
    """The 202 answer ``{jobId, status: PENDING, url}``: total is what we sent."""
    job = parse_batch_job(raw, operation)
    return BatchJob(
        job_id=job.job_id,
        status=job.status,
        operation=operation,
        total=job.total or total,
        succeeded=job.succeeded,
        failed=job.failed,
        items=job.items,
        url=job.url,
    )


# --- catalogue ----------------------------------------------------------------------------------


def parse_service_packages(raw: Any) -> list[RatePlan]:
    plans: list[RatePlan] = []
    for index, raw_item in enumerate(as_list(raw, "service packages")):
        where = f"service packages[{index}]"
        item = as_object(raw_item, where)
        name = get_str(item, "name", where, required=True)
        type_text = get_str(item, "type", where, required=True)
        assert name is not None and type_text is not None
        try:
            plan_type = RatePlanType(type_text.lower())
        except ValueError:
            raise malformed(where, f"field 'type': unknown plan type {type_text!r}") from None
        plans.append(RatePlan(name=name, type=plan_type, prepaid=as_flag(item.get("prepaid"))))
    return plans


_ACCOUNT_NAME_KEYS = ("name", "accountName")


def enterprise_account_names(raw: Any) -> list[str]:
    """The account names ``GET /enterprise`` lists, sorted; ``[]`` when it lists none.

    The shape is *assumed* (the vendor page gives none): ``accounts`` as objects
    (``[{"name": "acme", "url": ...}]``, or ``accountName`` instead of ``name``) or as plain
    names (``["acme"]``), in any mix; an item of neither shape, or a missing, null or non-list
    ``accounts``, names nothing. Safe to read liberally: the caller uses a name only when
    exactly one is found, and a wrong one reads an empty or forbidden account, never writes.
    """
    accounts = raw.get("accounts") if isinstance(raw, Mapping) else None
    names: set[str] = set()
    for item in accounts if isinstance(accounts, list) else ():
        if isinstance(item, Mapping):
            item = next((item[k] for k in _ACCOUNT_NAME_KEYS if item.get(k)), None)
        if isinstance(item, str) and item.strip():
            names.add(item.strip())
    return sorted(names)
