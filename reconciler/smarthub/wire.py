"""SmartHub's wire format: the ONE place that knows paths, field names, query params and states.

Everything the contract (``docs/smarthub-api.md``) marks *assumed* lives in the wire modules, so
an assumption proven wrong is a change of one of them. Functions map wire JSON to
`reconciler.model` records and back; nothing here does I/O.

Strict in what we send (exact field names, ``yyyy-MM-dd'T'HH:mm:ss+0000`` times, path segments
percent-encoded), liberal in what we accept: times as ``+0000``, ``Z``, ``+00:00`` or naive
(read as UTC), epoch numbers too; unknown fields ignored; ``null`` where a list or string is
expected read as empty. A record that cannot be understood raises `MalformedResponse` naming
the field (never a bare KeyError/TypeError).

The wire format is split by job. This module holds the headers, query parameters, paths and
request bodies, the writes of each managed field kind (`FIELD_WRITES`, keyed by the kind's name
in `reconciler.fields`) and the client's one page size `PAGE_SIZE`. `wire_values` holds the
readers of values and `MalformedResponse`; `wire_sims` SIM records, list pages and the change
history; `wire_jobs` batch jobs, the catalogue and SMS answers; `wire_http` problem documents,
rate headers and the ``Link`` header. Their names are re-exported here, so the client reads
``wire.parse_sim`` whichever module holds it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from reconciler.model import CUSTOM_FIELD_NAMES, ApnStatus, BatchOperation, Status
from reconciler.smarthub.wire_http import RATE_LIMIT_HEADER as RATE_LIMIT_HEADER
from reconciler.smarthub.wire_http import RATE_REMAINING_HEADER as RATE_REMAINING_HEADER
from reconciler.smarthub.wire_http import RATE_RESET_HEADER as RATE_RESET_HEADER
from reconciler.smarthub.wire_http import link_rel as link_rel
from reconciler.smarthub.wire_http import parse_link_header as parse_link_header
from reconciler.smarthub.wire_http import parse_problem as parse_problem
from reconciler.smarthub.wire_http import parse_rate_headers as parse_rate_headers
from reconciler.smarthub.wire_http import parse_retry_after as parse_retry_after
from reconciler.smarthub.wire_jobs import JOB_STATUS_FROM_WIRE as JOB_STATUS_FROM_WIRE
from reconciler.smarthub.wire_jobs import enterprise_account_names as enterprise_account_names
from reconciler.smarthub.wire_jobs import parse_batch_job as parse_batch_job
from reconciler.smarthub.wire_jobs import parse_service_packages as parse_service_packages
from reconciler.smarthub.wire_jobs import parse_sms_id as parse_sms_id
from reconciler.smarthub.wire_jobs import parse_sms_status as parse_sms_status
from reconciler.smarthub.wire_jobs import parse_submitted_job as parse_submitted_job
from reconciler.smarthub.wire_sims import APN_FROM_WIRE as APN_FROM_WIRE
from reconciler.smarthub.wire_sims import APN_TO_WIRE as APN_TO_WIRE
from reconciler.smarthub.wire_sims import STATUS_FROM_WIRE as STATUS_FROM_WIRE
from reconciler.smarthub.wire_sims import STATUS_TO_WIRE as STATUS_TO_WIRE
from reconciler.smarthub.wire_sims import decode_sim_page as decode_sim_page
from reconciler.smarthub.wire_sims import parse_change_log as parse_change_log
from reconciler.smarthub.wire_sims import parse_change_log_page as parse_change_log_page
from reconciler.smarthub.wire_sims import parse_custom_fields as parse_custom_fields
from reconciler.smarthub.wire_sims import parse_sim as parse_sim
from reconciler.smarthub.wire_sims import parse_sim_page as parse_sim_page
from reconciler.smarthub.wire_values import MalformedResponse as MalformedResponse
from reconciler.smarthub.wire_values import format_time
from reconciler.smarthub.wire_values import parse_object as parse_object
from reconciler.smarthub.wire_values import parse_time as parse_time

# --- headers and query parameters -------------------------------------------------------------

API_KEY_HEADER = "X-API-Key"


def sendable_api_key(key: str) -> bool:
    """Whether ``key`` can travel in the ``X-API-Key`` header: non-empty visible ASCII.

    Anything else makes httpx fail later with the raw key in its message.
    """
    return bool(key) and all(" " < char <= "~" for char in key)


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


# --- the writes of the managed field kinds --------------------------------------------------


@dataclass(frozen=True, slots=True)
class WireRequest:
    """One request a write makes: method, path (relative to the endpoint) and JSON body."""

    method: str
    path: str
    body: Any


# A kind's values as `reconciler.fields` hands them: key (None for an unkeyed kind) -> text.
FieldValues = Mapping[str | None, str | None]


def _rate_plan_writes(iccid: str, values: FieldValues) -> list[WireRequest]:
    plan = values.get(None)
    if not plan:
        raise ValueError("a rate plan change needs the plan's name")
    return [WireRequest("PUT", basic_plan_path(iccid), service_package_body(plan))]


def _subscribe_writes(iccid: str, values: FieldValues) -> list[WireRequest]:
    """One POST per plan (subscribe only: there is no unsubscribe call)."""
    path = supplementary_plan_path(iccid)
    return [WireRequest("POST", path, service_package_body(plan)) for plan in values if plan]


def _apn_writes(iccid: str, values: FieldValues) -> list[WireRequest]:
    """One PUT per APN; an APN without a status is left as it is."""
    path = apn_status_path(iccid)
    return [
        WireRequest("PUT", path, apn_status_body(apn, ApnStatus(status)))
        for apn, status in values.items()
        if apn and status is not None
    ]


def _custom_field_writes(iccid: str, values: FieldValues) -> list[WireRequest]:
    """One PUT of only the given fields (None clears one)."""
    named = {key: value for key, value in values.items() if key is not None}
    return [WireRequest("PUT", custom_fields_path(iccid), custom_fields_body(named))]


# The single write of each managed field kind but ``state`` (whose calls are the status
# actions and batch jobs above), keyed by the kind's name (`reconciler.fields`). Requests are
# made in the order the values are given.
FIELD_WRITES: Mapping[str, Callable[[str, FieldValues], list[WireRequest]]] = {
    "ratePlan": _rate_plan_writes,
    "supplementaryPlans": _subscribe_writes,
    "apns": _apn_writes,
    "customFields": _custom_field_writes,
}


def field_writes(kind: str, iccid: str, values: FieldValues) -> list[WireRequest]:
    """The requests that set ``values`` of the field kind ``kind`` on one SIM."""
    write = FIELD_WRITES.get(kind)
    if write is None:
        raise ValueError(f"no write is known for the field kind {kind!r}")
    return write(iccid, values)
