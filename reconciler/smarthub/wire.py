"""SmartHub's wire format: the ONE place that knows paths, field names, query params and states.

Everything the contract (``docs/smarthub-api.md``) marks *assumed* lives in the wire modules, so
an assumption proven wrong is a change of one of them. Functions map wire JSON to
`reconciler.model` records and back; nothing here does I/O.

Strict in what we send (exact field names, ``yyyy-MM-dd'T'HH:mm:ss+0000`` times, path segments
percent-encoded), liberal in what we accept: times as ``+0000``, ``Z``, ``+00:00`` or naive
(read as UTC), epoch numbers too; unknown fields ignored; ``null`` where a list or string is
expected read as empty. A record that cannot be understood raises `MalformedResponse` naming
the field (never a bare KeyError/TypeError).

The wire format is split by job. This module holds the headers, query parameters, the paths
and bodies of the SIM list, status actions, batch jobs and the rest, and the client's one page
size `PAGE_SIZE`. `wire_fields` holds the managed field kinds' side (`FIELD_WIRES`, keyed by
the kind's name in `reconciler.fields`: how a SIM record carries a kind and how it is
written); `wire_values` the readers of values, the SIM path and `MalformedResponse`;
`wire_sims` SIM records, list pages and the change history; `wire_jobs` batch jobs, the
catalogue and SMS answers; `wire_http` problem documents, rate headers and the ``Link``
header. Their names are re-exported here, so the client reads ``wire.parse_sim`` whichever
module holds it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from reconciler.errors import MalformedResponse as MalformedResponse
from reconciler.model import BatchOperation, Status
from reconciler.smarthub.wire_fields import APN_FROM_WIRE as APN_FROM_WIRE
from reconciler.smarthub.wire_fields import APN_TO_WIRE as APN_TO_WIRE
from reconciler.smarthub.wire_fields import FIELD_WIRES as FIELD_WIRES
from reconciler.smarthub.wire_fields import FieldWire as FieldWire
from reconciler.smarthub.wire_fields import WireRequest as WireRequest
from reconciler.smarthub.wire_fields import apn_status_body as apn_status_body
from reconciler.smarthub.wire_fields import apn_status_path as apn_status_path
from reconciler.smarthub.wire_fields import basic_plan_path as basic_plan_path
from reconciler.smarthub.wire_fields import custom_fields_body as custom_fields_body
from reconciler.smarthub.wire_fields import custom_fields_path as custom_fields_path
from reconciler.smarthub.wire_fields import field_writes as field_writes
from reconciler.smarthub.wire_fields import service_package_body as service_package_body
from reconciler.smarthub.wire_fields import supplementary_plan_path as supplementary_plan_path
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
from reconciler.smarthub.wire_sims import STATUS_FROM_WIRE as STATUS_FROM_WIRE
from reconciler.smarthub.wire_sims import STATUS_TO_WIRE as STATUS_TO_WIRE
from reconciler.smarthub.wire_sims import decode_sim_page as decode_sim_page
from reconciler.smarthub.wire_sims import parse_change_log as parse_change_log
from reconciler.smarthub.wire_sims import parse_change_log_page as parse_change_log_page
from reconciler.smarthub.wire_sims import parse_custom_fields as parse_custom_fields
from reconciler.smarthub.wire_sims import parse_sim as parse_sim
from reconciler.smarthub.wire_sims import parse_sim_page as parse_sim_page
from reconciler.smarthub.wire_values import SIMS_PATH as SIMS_PATH
from reconciler.smarthub.wire_values import format_time, segment
from reconciler.smarthub.wire_values import parse_object as parse_object
from reconciler.smarthub.wire_values import parse_time as parse_time
from reconciler.smarthub.wire_values import sim_path as sim_path

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

CHANGE_LOGS_PATH = "/global-sims/changeLogs"
ENTERPRISE_PATH = "/enterprise"
SHARE_POOLS_PATH = "/sharePools"
STATISTICS_PATH = "/global-sims/statistics"
SMS_PATH = "/mt-sms"


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


def batch_path(operation: BatchOperation) -> str:
    word = _STATUS_ACTION_WORDS.get(operation, "servicePackage")
    return f"/batchJobs/global-sims/{word}"


def batch_job_path(job_id: str) -> str:
    return f"/batchJobs/{segment(job_id, 'job id')}"


def service_packages_path(account: str) -> str:
    return f"/{segment(account, 'account name')}/servicePackages"


def account_path(name: str) -> str:
    return f"/account/{segment(name, 'account name')}"


def sms_status_path(sms_id: str) -> str:
    return f"{SMS_PATH}/{segment(sms_id, 'SMS id')}"


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
