"""What a handler gets and gives: the call, the reply, body and paging helpers, wire shapes."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import URL, QueryParams
from starlette.requests import Request

from reconciler.simulator.problems import BadRequest, ValidationFailed
from reconciler.simulator.store import ChangeLogRow, JobRow, SimRow, format_time

MAX_BODY = 1024 * 1024
MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 30
API_PREFIX = "/v1"
ADMIN_PREFIX = "/admin"
TRANSPORT_KEY = "fleetform.transport"  # set by the server's protocol: lets us drop connections
_DIGITS = re.compile(r"[0-9]{1,9}")


@dataclass
class Call:
    """One authenticated request, as handlers see it."""

    request: Request
    account: str
    params: dict[str, str]
    body: bytes
    base: str  # absolute base URL ending in /v1, from the request

    def json_object(self) -> dict[str, Any]:
        return parse_json_object(self.body)


@dataclass
class Reply:
    body: Any
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Call], Reply]
Routes = list[tuple[str, str, Handler]]  # method, path pattern, handler


def parse_json_object(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body.decode("utf-8")) if body.strip() else None
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise BadRequest("Body should be a JSON object") from None
    if not isinstance(value, dict):
        raise BadRequest("Body should be a JSON object")
    try:  # JSON may escape lone surrogates ("\ud800") that no UTF-8 column can hold
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except (UnicodeEncodeError, ValueError):
        raise BadRequest("Body should be a JSON object of valid Unicode text") from None
    return value


def required_string(obj: Mapping[str, Any], name: str, resource: str) -> str:
    if name not in obj or obj[name] is None:
        raise ValidationFailed(resource, name, "missing_field", f"{name} is required")
    value = obj[name]
    if not isinstance(value, str):
        raise BadRequest(f"{name} should be a string")
    return value


def paging(query: QueryParams) -> tuple[int, int]:
    """``page`` (from 1) and ``size`` (1..100, default 30; larger is served as 100)."""
    values = []
    for name, default in (("page", 1), ("size", DEFAULT_PAGE_SIZE)):
        raw = query.get(name)
        if raw is None or raw == "":
            values.append(default)
            continue
        if not _DIGITS.fullmatch(raw) or int(raw) < 1:
            raise BadRequest(f"{name} should be a positive integer")
        values.append(int(raw))
    return values[0], min(values[1], MAX_PAGE_SIZE)


def link_header(url: URL, page: int, size: int, total: int) -> str:
    last = max(1, -(-total // size))
    rels: list[tuple[str, int]] = []
    if page < last:
        rels.append(("next", page + 1))
    if page > 1:
        rels.append(("prev", min(page - 1, last)))
    rels += [("first", 1), ("last", last)]
    return ", ".join(
        f'<{url.include_query_params(page=number, size=size)}>; rel="{rel}"' for rel, number in rels
    )


def paged(call: Call, items: list[Any], page: int, size: int, total: int) -> Reply:
    return Reply(
        items,
        headers={
            "Link": link_header(call.request.url, page, size, total),
            "X-Total-Count": str(total),
        },
    )


def sim_wire(sim: SimRow, base: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "giccid": sim.giccid,
        "iccid": sim.giccid,
        "imsi": sim.imsi,
        "msisdn": sim.msisdn,
        "imei": sim.imei,
        "status": sim.status,
        "accountName": sim.account,
        "basicServicePackage": sim.basic,
        "supplementaryServicePackages": list(sim.supplementary),
        "apns": [{"apn": apn, "status": status} for apn, status in sim.apns],
    }
    body.update(sim.custom_fields())
    body["activatedTime"] = format_time(sim.activated_time)
    body["lastModifiedTime"] = format_time(sim.last_modified_time)
    body["url"] = f"{base}/global-sims/{sim.giccid}"
    return body


def job_wire(job: JobRow, base: str) -> dict[str, Any]:
    succeeded = sum(1 for item in job.items if item["result"] == "SUCCESS")
    return {
        "jobId": job.job_id,
        "type": job.type,
        "status": job.status,
        "total": len(job.giccids),
        "succeeded": succeeded,
        "failed": len(job.items) - succeeded,
        "items": list(job.items),
        "createdTime": format_time(job.created_time),
        "lastModifiedTime": format_time(job.updated_time),
        "url": f"{base}/batchJobs/{job.job_id}",
    }


def change_wire(row: ChangeLogRow) -> dict[str, Any]:
    return {
        "giccid": row.giccid,
        "changeType": row.change_type,
        "oldValue": row.old_value,
        "newValue": row.new_value,
        "changedTime": format_time(row.changed_time),
    }
