"""SmartHub's wire format: the ONE module that knows paths, field names, query params and states.

Everything the contract (``docs/smarthub-api.md``) marks *assumed* lives here, so an
assumption proven wrong is a one-file change. Functions map wire JSON to `reconciler.model`
records and back; nothing here does I/O.

Strict in what we send (exact field names, ``yyyy-MM-dd'T'HH:mm:ss+0000`` times, path segments
percent-encoded), liberal in what we accept: times as ``+0000``, ``Z``, ``+00:00`` or naive
(read as UTC), epoch numbers too; unknown fields ignored; ``null`` where a list or string is
expected read as empty. A record that cannot be understood raises `MalformedResponse` naming
the field (never a bare KeyError/TypeError).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import msgspec

from reconciler.errors import ApiError, ApiFieldError
from reconciler.model import (
    CUSTOM_FIELD_NAMES,
    ApnStatus,
    BatchItem,
    BatchJob,
    BatchOperation,
    ChangeLogEntry,
    JobStatus,
    LiveSim,
    RatePlan,
    RatePlanType,
    SmsStatus,
    Status,
)

# --- headers and query parameters -------------------------------------------------------------

API_KEY_HEADER = "X-API-Key"


def sendable_api_key(key: str) -> bool:
    """Whether ``key`` can travel in the ``X-API-Key`` header: non-empty visible ASCII.

    Anything else makes httpx fail later with the raw key in its message.
    """
    return bool(key) and all(" " < char <= "~" for char in key)


RATE_LIMIT_HEADER = "X-RateLimit-Limit"
RATE_REMAINING_HEADER = "X-RateLimit-Remaining"
RATE_RESET_HEADER = "X-RateLimit-Reset"
TOTAL_COUNT_HEADER = "X-Total-Count"
LINK_HEADER = "Link"

PAGE_SIZE = 100  # the contract's maximum
PARAM_SIZE = "size"
PARAM_STATUS = "status"
PARAM_ACCOUNT = "accountName"
PARAM_GICCID = "giccid"
PARAM_SINCE = "since"

# --- paths (relative to the endpoint, which ends in /v1) ----------------------------------------

SIMS_PATH = "/global-sims"
CHANGE_LOGS_PATH = "/global-sims/changeLogs"
ENTERPRISE_PATH = "/enterprise"
SHARE_POOLS_PATH = "/sharePools"
STATISTICS_PATH = "/global-sims/statistics"
SMS_PATH = "/mt-sms"


def _segment(value: str, what: str) -> str:
    if not value:
        raise ValueError(f"empty {what} in a SmartHub path")
    return quote(value, safe="")


def sim_path(iccid: str) -> str:
    return f"{SIMS_PATH}/{_segment(iccid, 'giccid')}"


def custom_fields_path(iccid: str) -> str:
    return f"{sim_path(iccid)}/custom-field"


# Operation words as they appear in paths: suspend is ``deactivate`` on the wire.
_STATUS_ACTION_WORDS: Mapping[BatchOperation, str] = {
    BatchOperation.ACTIVATE: "activate",
    BatchOperation.SUSPEND: "deactivate",
    BatchOperation.RETIRE: "retire",
}


def status_action_path(iccid: str, operation: BatchOperation) -> str:
    if operation not in _STATUS_ACTION_WORDS:
        raise ValueError(f"{operation} is not a status operation")
    return f"{sim_path(iccid)}/{_STATUS_ACTION_WORDS[operation]}"


def basic_plan_path(iccid: str) -> str:
    return f"{sim_path(iccid)}/servicePackage"


def supplementary_plan_path(iccid: str) -> str:
    return f"{sim_path(iccid)}/supplementaryServicePackages"


def apn_status_path(iccid: str) -> str:
    return f"{sim_path(iccid)}/apnStatus"


def batch_path(operation: BatchOperation) -> str:
    word = _STATUS_ACTION_WORDS.get(operation, "servicePackage")
    return f"/batchJobs/global-sims/{word}"


def batch_job_path(job_id: str) -> str:
    return f"/batchJobs/{_segment(job_id, 'job id')}"


def service_packages_path(account: str) -> str:
    return f"/{_segment(account, 'account name')}/servicePackages"


def account_path(name: str) -> str:
    return f"/account/{_segment(name, 'account name')}"


def sms_status_path(sms_id: str) -> str:
    return f"{SMS_PATH}/{_segment(sms_id, 'SMS id')}"


# --- errors -----------------------------------------------------------------------------------


class MalformedResponse(ApiError):
    """A 2xx answer whose body does not match the contract (names the offending field)."""

    def __init__(
        self, message: str, *, status: int = 200, method: str | None = None, url: str | None = None
    ) -> None:
        super().__init__(status, "Malformed response", detail=message, method=method, url=url)
        self.message = message


def _fail(where: str, message: str) -> MalformedResponse:
    return MalformedResponse(f"{where}: {message}")


# --- scalar readers ----------------------------------------------------------------------------


def _obj(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _fail(where, f"expected a JSON object, got {type(value).__name__}")
    return value


def _list(value: Any, where: str) -> Sequence[Any]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise _fail(where, f"expected a JSON array, got {type(value).__name__}")
    return value


def _str(record: Mapping[str, Any], key: str, where: str, *, required: bool = False) -> str | None:
    value = record.get(key)
    if value is None:
        if required:
            raise _fail(where, f"missing field {key!r}")
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise _fail(where, f"field {key!r}: expected a string, got {type(value).__name__}")
    return str(value)


def _int(record: Mapping[str, Any], key: str, where: str, default: int = 0) -> int:
    value = record.get(key)
    if value is None:
        return default
    if isinstance(value, bool):
        raise _fail(where, f"field {key!r}: expected an integer, got a boolean")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise _fail(where, f"field {key!r}: expected an integer, got {value!r}") from None


def parse_time(value: Any, *, field: str = "time") -> datetime | None:
    """Read a SmartHub time: ISO 8601 with ``+0000``, ``Z``, ``+00:00``, naive = UTC, or epoch."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = value / 1000 if value > 10**11 else value  # milliseconds, as the CDRs use
        return datetime.fromtimestamp(seconds, tz=UTC)
    if not isinstance(value, str):
        raise _fail(field, f"expected a time string, got {type(value).__name__}")
    text = value.strip()
    if text.endswith(("z", "Z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise _fail(field, f"not an ISO 8601 time: {value!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def format_time(value: datetime) -> str:
    """``yyyy-MM-dd'T'HH:mm:ss+0000`` in UTC (naive datetimes are taken as UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


# --- SIM ----------------------------------------------------------------------------------------

STATUS_FROM_WIRE: Mapping[str, Status] = {
    "TEST_READY": Status.TEST_READY,
    "INVENTORY": Status.INVENTORY,
    "ACTIVATION_READY": Status.ACTIVATION_READY,
    "ACTIVATED": Status.ACTIVE,
    "DEACTIVATED": Status.SUSPENDED,
    "RETIRED": Status.RETIRED,
}
STATUS_TO_WIRE: Mapping[Status, str] = {v: k for k, v in STATUS_FROM_WIRE.items()}

APN_FROM_WIRE: Mapping[str, ApnStatus] = {
    "ENABLED": ApnStatus.ENABLED,
    "DISABLED": ApnStatus.DISABLED,
}
APN_TO_WIRE: Mapping[ApnStatus, str] = {v: k for k, v in APN_FROM_WIRE.items()}


def _status(value: str | None, where: str) -> Status:
    if value is None:
        raise _fail(where, "missing field 'status'")
    status = STATUS_FROM_WIRE.get(value.upper())
    if status is None:
        raise _fail(where, f"field 'status': unknown SIM state {value!r}")
    return status


def _plan_name(item: Any, where: str) -> str:
    if isinstance(item, str):
        return item
    if isinstance(item, Mapping):  # liberal: [{"name": ...}] or [{"servicePackageName": ...}]
        for key in ("name", "servicePackageName"):
            if isinstance(item.get(key), str):
                return str(item[key])
    raise _fail(where, f"expected a plan name, got {item!r}")


def _apns(value: Any, where: str) -> dict[str, ApnStatus]:
    apns: dict[str, ApnStatus] = {}
    for index, raw in enumerate(_list(value, f"{where}.apns")):
        item_where = f"{where}.apns[{index}]"
        item = _obj(raw, item_where)
        name = _str(item, "apn", item_where, required=True)
        status_text = _str(item, "status", item_where, required=True)
        assert name is not None and status_text is not None
        status = APN_FROM_WIRE.get(status_text.upper())
        if status is None:
            raise _fail(item_where, f"field 'status': unknown APN status {status_text!r}")
        apns[name] = status
    return apns


def parse_custom_fields(raw: Any, where: str = "custom fields") -> dict[str, str | None]:
    """custom1..custom5; an empty string is the same as null (empty) to fleetform."""
    record = _obj(raw, where)
    return {name: _str(record, name, where) or None for name in CUSTOM_FIELD_NAMES}


def parse_sim(raw: Any, where: str = "SIM") -> LiveSim:
    record = _obj(raw, where)
    giccid = _str(record, "giccid", where, required=True)
    assert giccid is not None
    where = f"SIM {giccid}"
    supplementary = tuple(
        _plan_name(item, f"{where}.supplementaryServicePackages")
        for item in _list(
            record.get("supplementaryServicePackages"), f"{where}.supplementaryServicePackages"
        )
    )
    return LiveSim(
        iccid=giccid,
        status=_status(_str(record, "status", where), where),
        account=_str(record, "accountName", where) or "",
        rate_plan=_str(record, "basicServicePackage", where),
        supplementary_plans=supplementary,
        apns=_apns(record.get("apns"), where),
        custom_fields=parse_custom_fields(record, where),
        wire_iccid=_str(record, "iccid", where),
        imsi=_str(record, "imsi", where),
        msisdn=_str(record, "msisdn", where),
        imei=_str(record, "imei", where),
        activated_time=parse_time(record.get("activatedTime"), field=f"{where}.activatedTime"),
        last_modified_time=parse_time(
            record.get("lastModifiedTime"), field=f"{where}.lastModifiedTime"
        ),
        url=_str(record, "url", where),
    )


def parse_sim_page(raw: Any) -> list[LiveSim]:
    """A page of the SIM list, from `decode_sim_page`'s records or from plain JSON values."""
    if isinstance(raw, _FastPage):
        try:
            return [_sim_from_wire(item) for item in raw.sims]
        except KeyError:  # a state or APN status in lower case, or unknown: parse_sim judges
            raw = json.loads(raw.body)
    return [parse_sim(item, f"SIM list[{i}]") for i, item in enumerate(_list(raw, "SIM list"))]


# A page of 100 SIMs is decoded by msgspec straight into these records, in C; `parse_sim` read
# every field through a Python call (1.8 million calls for 100,000 SIMs, about 3 s). The
# records take only the common shape exactly (strings, null, lists of plan names, RFC 3339
# times); anything else, or an unknown state, makes `decode_sim_page` hand the page to
# `parse_sim` as plain JSON, which accepts the liberal shapes or names the malformed field.
# gc=False: they hold only strings, times and lists of those (never a cycle), so the cyclic
# collector need not track the million of them a full read makes.


class _WireApn(msgspec.Struct, gc=False):
    apn: str
    status: str


class _WireSim(msgspec.Struct, gc=False):
    giccid: str
    status: str
    accountName: str | None = None
    basicServicePackage: str | None = None
    supplementaryServicePackages: list[str] | None = None
    apns: list[_WireApn] | None = None
    custom1: str | None = None
    custom2: str | None = None
    custom3: str | None = None
    custom4: str | None = None
    custom5: str | None = None
    iccid: str | None = None
    imsi: str | None = None
    msisdn: str | None = None
    imei: str | None = None
    activatedTime: datetime | None = None
    lastModifiedTime: datetime | None = None
    url: str | None = None


_SIM_PAGE_DECODER = msgspec.json.Decoder(list[_WireSim])


class _FastPage:
    """SIM records decoded by `decode_sim_page`, and the body they came from."""

    __slots__ = ("body", "sims")

    def __init__(self, sims: list[_WireSim], body: bytes) -> None:
        self.sims = sims
        self.body = body


def decode_sim_page(body: bytes) -> Any:
    """The body of a SIM list page, for `parse_sim_page`; ``ValueError`` if it is not JSON."""
    if not body.strip():
        return None
    try:
        sims = _SIM_PAGE_DECODER.decode(body)
    except msgspec.DecodeError:  # another shape (parse_sim judges it), or not UTF-8 JSON
        return json.loads(body)  # ValueError if it is not JSON at all
    return _FastPage(sims, body)


def _utc(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is UTC:
        return value
    if value.tzinfo is None:  # naive: UTC, as parse_time reads it
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _sim_from_wire(sim: _WireSim) -> LiveSim:
    # positional, in LiveSim's field order (a test compares every field with parse_sim's): 14
    # keyword arguments cost about 2 us a SIM more, 2 s of CPU for a million SIMs
    apns = sim.apns
    activated = sim.activatedTime
    modified = sim.lastModifiedTime
    return LiveSim(
        sim.giccid,
        STATUS_FROM_WIRE[sim.status],
        sim.accountName or "",
        sim.basicServicePackage,
        tuple(sim.supplementaryServicePackages) if sim.supplementaryServicePackages else (),
        {apn.apn: APN_FROM_WIRE[apn.status] for apn in apns} if apns else {},
        {
            "custom1": sim.custom1 or None,
            "custom2": sim.custom2 or None,
            "custom3": sim.custom3 or None,
            "custom4": sim.custom4 or None,
            "custom5": sim.custom5 or None,
        },
        sim.iccid,
        sim.imsi,
        sim.msisdn,
        sim.imei,
        activated if activated is None or activated.tzinfo is UTC else _utc(activated),
        modified if modified is None or modified.tzinfo is UTC else _utc(modified),
        sim.url,
    )


def list_params(*, account: str | None, status: Status | None) -> dict[str, str | int]:
    params: dict[str, str | int] = {PARAM_SIZE: PAGE_SIZE}
    if status is not None:
        params[PARAM_STATUS] = STATUS_TO_WIRE[status]
    if account is not None:
        params[PARAM_ACCOUNT] = account
    return params


def count_params(*, account: str | None) -> dict[str, str | int]:
    """A one-SIM page: the cheapest request whose ``X-Total-Count`` counts the list."""
    params: dict[str, str | int] = {PARAM_SIZE: 1}
    if account is not None:
        params[PARAM_ACCOUNT] = account
    return params


def total_count(value: str | None) -> int | None:
    """``X-Total-Count`` as a count; None when absent or not a whole number (it only guides a
    choice of how to read, so a server that sends none is no error)."""
    if value is None or not value.strip().isdigit():
        return None
    return int(value.strip())


# --- change history -----------------------------------------------------------------------------


def change_log_params(*, iccid: str | None, since: datetime | None) -> dict[str, str | int]:
    params: dict[str, str | int] = {PARAM_SIZE: PAGE_SIZE}
    if iccid is not None:
        params[PARAM_GICCID] = iccid
    if since is not None:
        params[PARAM_SINCE] = format_time(since)
    return params


def parse_change_log(raw: Any, where: str = "change log") -> ChangeLogEntry:
    record = _obj(raw, where)
    giccid = _str(record, "giccid", where, required=True)
    change_type = _str(record, "changeType", where, required=True)
    changed = parse_time(record.get("changedTime"), field=f"{where}.changedTime")
    if changed is None:
        raise _fail(where, "missing field 'changedTime'")
    assert giccid is not None and change_type is not None
    kind = change_type.lower()  # STATUS/SERVICE_PACKAGE/IMEI -> status/...
    old_value = _str(record, "oldValue", where)
    new_value = _str(record, "newValue", where)
    if kind == "status":  # state names in fleetform's words (ACTIVATED -> active)
        old_value, new_value = _status_name(old_value), _status_name(new_value)
    return ChangeLogEntry(
        iccid=giccid,
        change_type=kind,
        old_value=old_value,
        new_value=new_value,
        changed_time=changed,
    )


def _status_name(value: str | None) -> str | None:
    """A wire state as a `Status` value; an unknown one is kept as sent (history is a hint)."""
    if value is None:
        return None
    status = STATUS_FROM_WIRE.get(value.upper())
    return status.value if status is not None else value


def parse_change_log_page(raw: Any) -> list[ChangeLogEntry]:
    return [
        parse_change_log(item, f"change log[{i}]")
        for i, item in enumerate(_list(raw, "change log list"))
    ]


# --- writes -------------------------------------------------------------------------------------


def custom_fields_body(values: Mapping[str, str | None]) -> dict[str, str | None]:
    """Only the given fields (an omitted field is left as is on the server; None clears)."""
    unknown = sorted(set(values) - set(CUSTOM_FIELD_NAMES))
    if unknown:
        raise ValueError(f"not custom fields: {', '.join(unknown)}")
    return {name: values[name] for name in CUSTOM_FIELD_NAMES if name in values}


def service_package_body(plan: str) -> dict[str, str]:
    return {"servicePackageName": plan}


def apn_status_body(apn: str, status: ApnStatus) -> dict[str, str]:
    return {"apn": apn, "status": APN_TO_WIRE[status]}


def batch_body(
    operation: BatchOperation, iccids: Sequence[str], rate_plan: str | None
) -> dict[str, Any]:
    body: dict[str, Any] = {"giccids": list(iccids)}
    if operation is BatchOperation.SET_RATE_PLAN:
        if not rate_plan:
            raise ValueError("a batch rate plan change needs the plan's name")
        body["servicePackageName"] = rate_plan
    return body


def sms_body(iccid: str, content: str) -> dict[str, str]:
    return {"toGiccid": iccid, "content": content}


def parse_sms_id(raw: Any) -> str:
    record = _obj(raw, "SMS")
    value = _str(record, "smsMsgId", "SMS", required=True)
    assert value is not None
    return value


def parse_sms_status(raw: Any) -> SmsStatus:
    record = _obj(raw, "SMS")
    value = _str(record, "status", "SMS", required=True)
    assert value is not None
    try:
        return SmsStatus(value.lower())
    except ValueError:
        raise _fail("SMS", f"field 'status': unknown SMS status {value!r}") from None


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
        raise _fail(where, "missing field 'status'")
    status = JOB_STATUS_FROM_WIRE.get(value.upper())
    if status is None:
        raise _fail(where, f"field 'status': unknown job status {value!r}")
    return status


def parse_batch_job(raw: Any, operation: BatchOperation | None = None) -> BatchJob:
    record = _obj(raw, "batch job")
    job_id = _str(record, "jobId", "batch job", required=True)
    assert job_id is not None
    where = f"batch job {job_id}"
    type_text = _str(record, "type", where)
    if type_text is not None:
        operation = _JOB_TYPE_FROM_WIRE.get(type_text.upper().replace("-", "_"), operation)
    items: list[BatchItem] = []
    for index, raw_item in enumerate(_list(record.get("items"), f"{where}.items")):
        item_where = f"{where}.items[{index}]"
        item = _obj(raw_item, item_where)
        giccid = _str(item, "giccid", item_where, required=True)
        result = _str(item, "result", item_where, required=True)
        assert giccid is not None and result is not None
        ok = _ITEM_RESULT_FROM_WIRE.get(result.upper())
        if ok is None:
            raise _fail(item_where, f"field 'result': unknown result {result!r}")
        items.append(BatchItem(iccid=giccid, ok=ok, code=_str(item, "code", where)))
    return BatchJob(
        job_id=job_id,
        status=_job_status(_str(record, "status", where), where),
        operation=operation,
        total=_int(record, "total", where, default=len(items)),
        succeeded=_int(record, "succeeded", where),
        failed=_int(record, "failed", where),
        items=tuple(items),
        url=_str(record, "url", where),
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


def _flag(value: Any) -> bool:
    """A boolean the contract assumes: JSON true/false, also "true"/"false" and 1/0 (a plain
    ``bool("false")`` would read true)."""
    if isinstance(value, str):
        return value.strip().lower() in ("true", "yes", "1")
    return bool(value)


def parse_service_packages(raw: Any) -> list[RatePlan]:
    plans: list[RatePlan] = []
    for index, raw_item in enumerate(_list(raw, "service packages")):
        where = f"service packages[{index}]"
        item = _obj(raw_item, where)
        name = _str(item, "name", where, required=True)
        type_text = _str(item, "type", where, required=True)
        assert name is not None and type_text is not None
        try:
            plan_type = RatePlanType(type_text.lower())
        except ValueError:
            raise _fail(where, f"field 'type': unknown plan type {type_text!r}") from None
        plans.append(RatePlan(name=name, type=plan_type, prepaid=_flag(item.get("prepaid"))))
    return plans


def parse_object(raw: Any, where: str) -> dict[str, Any]:
    return dict(_obj(raw, where))


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


# --- problem documents and rate headers ---------------------------------------------------------


def parse_problem(raw: Any) -> tuple[str | None, str | None, list[ApiFieldError]]:
    """``(title, detail, errors)`` from a problem document; tolerant of anything."""
    if not isinstance(raw, Mapping):
        return None, None, []
    title = raw.get("title")
    detail = raw.get("detail")
    errors: list[ApiFieldError] = []
    raw_errors = raw.get("errors")
    if isinstance(raw_errors, list):
        for item in raw_errors:
            if not isinstance(item, Mapping):
                continue

            def text(key: str, item: Mapping[str, Any] = item) -> str | None:
                value = item.get(key)
                return None if value is None else str(value)

            errors.append(
                ApiFieldError(
                    resource=text("resource"),
                    field=text("field"),
                    code=text("code"),
                    message=text("message"),
                )
            )
    return (
        None if title is None else str(title),
        None if detail is None else str(detail),
        errors,
    )


# A Reset larger than this is an epoch time, not "seconds until": some APIs send that (GitHub's
# does), and the vendor's wording ("current request limit reset time") allows it.
_EPOCH_THRESHOLD = 1_000_000_000


def parse_rate_headers(
    headers: Mapping[str, str], now: float | None = None
) -> tuple[int, int, float] | None:
    """``(limit, remaining, reset_seconds)`` or None when the headers are absent or garbled.

    The contract's Reset is seconds until the window resets; an epoch-seconds Reset is
    converted with ``now`` (wall-clock epoch seconds) when given.
    """
    try:
        limit_text = headers.get(RATE_LIMIT_HEADER)
        remaining_text = headers.get(RATE_REMAINING_HEADER)
        reset_text = headers.get(RATE_RESET_HEADER)
        if limit_text is None or remaining_text is None or reset_text is None:
            return None
        limit = int(float(limit_text))
        remaining = int(float(remaining_text))
        reset = float(reset_text)
    except ValueError:
        return None
    if reset > _EPOCH_THRESHOLD and now is not None:
        reset -= now
    return limit, max(remaining, 0), max(reset, 0.0)


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """``Retry-After`` in seconds (the delta form; an HTTP date is ignored)."""
    value = headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        return None


# --- Link header (RFC 8288) ---------------------------------------------------------------------


def parse_link_header(value: str) -> list[tuple[str, dict[str, str]]]:
    """Every link of a ``Link`` header as ``(target, params)``, params' names lower-cased.

    Handles several links, quoted and bare parameter values, commas and semicolons inside
    quotes or angle brackets, and whitespace or line breaks anywhere between tokens (the
    vendor's own sample breaks the line after ``;``).
    """
    links: list[tuple[str, dict[str, str]]] = []
    pos, end = 0, len(value)

    def skip_ws(i: int) -> int:
        while i < end and value[i] in " \t\r\n":
            i += 1
        return i

    while pos < end:
        pos = skip_ws(pos)
        if pos >= end:
            break
        if value[pos] == ",":
            pos += 1
            continue
        if value[pos] != "<":
            # garbage: skip to the next link
            nxt = value.find(",", pos)
            pos = end if nxt < 0 else nxt + 1
            continue
        close = value.find(">", pos + 1)
        if close < 0:
            break
        target = value[pos + 1 : close].strip()
        pos = close + 1
        params: dict[str, str] = {}
        while True:
            pos = skip_ws(pos)
            if pos >= end or value[pos] == ",":
                break
            if value[pos] != ";":
                pos += 1
                continue
            pos = skip_ws(pos + 1)
            start = pos
            while pos < end and value[pos] not in "=;, \t\r\n":
                pos += 1
            name = value[start:pos].lower()
            pos = skip_ws(pos)
            param_value = ""
            if pos < end and value[pos] == "=":
                pos = skip_ws(pos + 1)
                if pos < end and value[pos] == '"':
                    pos += 1
                    chars: list[str] = []
                    while pos < end and value[pos] != '"':
                        if value[pos] == "\\" and pos + 1 < end:
                            pos += 1
                        chars.append(value[pos])
                        pos += 1
                    pos += 1  # closing quote
                    param_value = "".join(chars)
                else:
                    start = pos
                    while pos < end and value[pos] not in ";, \t\r\n":
                        pos += 1
                    param_value = value[start:pos]
            if name and name not in params:  # RFC 8288: the first occurrence wins
                params[name] = param_value
        links.append((target, params))
    return links


def link_rel(value: str | None, rel: str) -> str | None:
    """The target of the first link whose ``rel`` (a space-separated list) holds ``rel``."""
    if not value:
        return None
    for target, params in parse_link_header(value):
        if rel.lower() in params.get("rel", "").lower().split():
            return target
    return None
