"""The ASGI app: the SmartHub contract under ``/v1`` and the simulator's own ``/admin``.

One request goes: latency → drop → injected 503 → redirect → (``/v1/openapi.json`` needs no
key) → key → rate limit → route. Every answer carries ``X-RateLimit-*`` (an unauthenticated
one shows a fresh window); every error is a problem document; malformed input is a 4xx,
never a 500.

Choices where the contract is silent:
- ``size`` above 100 is served as 100 (the ``Link`` URLs say so); ``page``/``size`` that are not
  positive integers → 400. A page past the last → ``[]`` with the usual headers.
- ``accountName`` of another enterprise on the list → 403; an unknown one → an empty list.
- Batch items: an unknown giccid fails with code ``missing``, another enterprise's with
  ``forbidden``, a forced failure with ``internal_error``, a state-machine refusal with
  ``illegal_status``. Batch ``type`` is the path word (``activate``, ``deactivate``, ``retire``,
  ``servicePackage``).
- Request bodies above 1 MiB → 413. ``HEAD`` is answered like ``GET``, without the body.
- ``POST /mt-sms`` to an unknown giccid → 422 ``missing`` (the body names it, not the URL).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import URL, QueryParams
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from reconciler.simulator.faults import Counters, Faults
from reconciler.simulator.fleet import CATALOGUE, ENTERPRISE_OF_ACCOUNT, STATUSES
from reconciler.simulator.problems import (
    BadRequest,
    Forbidden,
    InvalidApiKey,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    Problem,
    RateLimited,
    ServiceUnavailable,
    ValidationFailed,
)
from reconciler.simulator.store import (
    APN_STATUSES,
    CUSTOM_FIELDS,
    CUSTOM_MAX,
    ChangeLogRow,
    JobRow,
    RateState,
    SimRow,
    Store,
    format_time,
    parse_time,
    plan_names,
)

log = logging.getLogger("reconciler.simulator.http")

MAX_BODY = 1024 * 1024
MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 30
MAX_BATCH = 1000
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


class SimulatorApp:
    """The whole server as one ASGI callable."""

    def __init__(
        self,
        store: Store,
        faults: Faults,
        counters: Counters,
        keys: Mapping[str, str],
        rate_limit: int,
        rate_window: float,
        on_job_created: Callable[[], None],
        openapi: Callable[[], dict[str, Any]],
    ) -> None:
        self.store = store
        self.faults = faults
        self.counters = counters
        self.keys = dict(keys)  # api key -> account
        self.rate_limit = rate_limit
        self.rate_window = rate_window
        self.on_job_created = on_job_created
        self.openapi = openapi
        self.routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self.admin_routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self._add_routes()

    # ---- ASGI --------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        path: str = scope["path"]
        try:
            if path == ADMIN_PREFIX or path.startswith(ADMIN_PREFIX + "/"):
                response = await self._admin(request, path[len(ADMIN_PREFIX) :])
            else:
                response = await self._api(request, scope, path)
        except _Dropped:
            return
        if response is not None:
            self.counters.add(f"status{response.status_code}")
            await response(scope, receive, send)

    async def _read_body(self, request: Request) -> bytes:
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY):
            raise PayloadTooLarge(f"request bodies are limited to {MAX_BODY} bytes")
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_BODY:
                raise PayloadTooLarge(f"request bodies are limited to {MAX_BODY} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    async def _drop(self, scope: Scope, request: Request) -> None:
        """Close the socket without an answer, then wait until the server noticed."""
        transport = scope.get(TRANSPORT_KEY)
        self.counters.add("dropped")
        if transport is None:  # not served by our protocol (in-process transport): best effort
            raise _Dropped()
        transport.close()
        # only waiting for the server to see the disconnect; whatever receive() says is moot
        with contextlib.suppress(Exception):
            await asyncio.wait_for(request.receive(), timeout=1.0)
        raise _Dropped()

    def _account_of(self, request: Request) -> str | None:
        key = request.headers.get("x-api-key")
        return self.keys.get(key) if key else None

    def _rate_headers(self, state: RateState | None) -> dict[str, str]:
        if state is None:  # no account to charge: show an untouched window
            return {
                "X-RateLimit-Limit": str(self.rate_limit),
                "X-RateLimit-Remaining": str(self.rate_limit),
                "X-RateLimit-Reset": str(int(self.rate_window)),
            }
        return {
            "X-RateLimit-Limit": str(state.limit),
            "X-RateLimit-Remaining": str(state.remaining),
            "X-RateLimit-Reset": str(state.reset),
        }

    def _peek(self, account: str | None) -> RateState | None:
        if account is None:
            return None
        return self.store.rate(account, self.rate_limit, self.rate_window, consume=False)

    async def _api(self, request: Request, scope: Scope, path: str) -> Response:
        self.counters.add("requests")
        faults = self.faults
        if faults.latency > 0:
            await asyncio.sleep(faults.latency)
        if faults.roll(faults.drop_rate):
            await self._drop(scope, request)
        account = self._account_of(request)
        if faults.roll(faults.error_rate):
            self.counters.add("injectedErrors")
            return problem_response(
                ServiceUnavailable("injected fault"), self._rate_headers(self._peek(account))
            )
        redirect = faults.match_redirect(path)
        if redirect is not None:
            self.counters.add("redirects")
            target = redirect.target_base + path[len(redirect.path_prefix) :]
            if scope.get("query_string"):
                target += "?" + scope["query_string"].decode("latin-1")
            if target.startswith("/"):
                target = str(request.base_url).rstrip("/") + target
            headers = self._rate_headers(self._peek(account))
            headers["Location"] = target
            return Response(status_code=redirect.status, headers=headers)
        if path == API_PREFIX + "/openapi.json" and request.method == "GET":
            return JSONResponse(self.openapi(), headers=self._rate_headers(self._peek(account)))
        if account is None:
            return problem_response(InvalidApiKey(), self._rate_headers(None))
        state = self.store.rate(account, self.rate_limit, self.rate_window, consume=True)
        headers = self._rate_headers(state)
        if not state.allowed:
            self.counters.add("rateLimited")
            return problem_response(RateLimited(), headers)
        try:
            if not (path == API_PREFIX or path.startswith(API_PREFIX + "/")):
                raise NotFound(f"no resource at {path}")
            handler, params = self._match(self.routes, request.method, path[len(API_PREFIX) :])
            body = await self._read_body(request)
            base = str(request.base_url).rstrip("/") + API_PREFIX
            reply = handler(Call(request, account, params, body, base))
        except Problem as problem:
            return problem_response(problem, headers)
        headers.update(reply.headers)
        return JSONResponse(reply.body, status_code=reply.status, headers=headers)

    async def _admin(self, request: Request, path: str) -> Response:
        account = self._account_of(request)
        try:
            if account is None:
                raise InvalidApiKey()
            handler, params = self._match(self.admin_routes, request.method, path)
            body = await self._read_body(request)
            base = str(request.base_url).rstrip("/") + API_PREFIX
            reply = handler(Call(request, account, params, body, base))
        except Problem as problem:
            return problem_response(problem, {})
        return JSONResponse(reply.body, status_code=reply.status, headers=reply.headers)

    @staticmethod
    def _match(
        routes: list[tuple[str, re.Pattern[str], Handler]], method: str, path: str
    ) -> tuple[Handler, dict[str, str]]:
        allowed: list[str] = []
        wanted = "GET" if method == "HEAD" else method  # uvicorn leaves out a HEAD's body
        for route_method, pattern, handler in routes:
            match = pattern.fullmatch(path)
            if match is None:
                continue
            if route_method == wanted:
                return handler, match.groupdict()
            allowed.append(route_method)
        if allowed:
            raise MethodNotAllowed(
                f"{method} is not allowed here", headers={"Allow": ", ".join(allowed)}
            )
        raise NotFound(f"no resource at {path or '/'}")

    # ---- routes ------------------------------------------------------------------------

    def _add_routes(self) -> None:
        sim = r"/global-sims/(?P<giccid>[^/]+)"
        api: list[tuple[str, str, Handler]] = [
            ("GET", r"/global-sims", self.list_sims),
            ("GET", r"/global-sims/changeLogs", self.change_logs),
            ("GET", r"/global-sims/statistics", self.statistics),
            ("GET", sim, self.get_sim),
            ("GET", sim + r"/custom-field", self.get_custom_fields),
            ("PUT", sim + r"/custom-field", self.put_custom_fields),
            ("POST", sim + r"/(?P<operation>activate|deactivate|retire)", self.transition),
            ("POST", sim + r"/supplementaryServicePackages", self.subscribe),
            ("PUT", sim + r"/servicePackage", self.change_basic_plan),
            ("PUT", sim + r"/apnStatus", self.change_apn_status),
            (
                "POST",
                r"/batchJobs/global-sims/(?P<operation>activate|deactivate|retire|servicePackage)",
                self.create_batch_job,
            ),
            ("GET", r"/batchJobs/(?P<job_id>[^/]+)", self.get_batch_job),
            ("POST", r"/mt-sms", self.send_sms),
            ("GET", r"/mt-sms/(?P<sms_id>[^/]+)", self.get_sms),
            ("GET", r"/enterprise", self.enterprise),
            ("GET", r"/account/(?P<name>[^/]+)", self.get_account),
            ("GET", r"/sharePools", self.share_pools),
            ("GET", r"/(?P<name>[^/]+)/servicePackages", self.service_packages),
        ]
        self.routes = [(method, re.compile(path), handler) for method, path, handler in api]
        admin: list[tuple[str, str, Handler]] = [
            ("GET", r"/faults", self.admin_get_faults),
            ("POST", r"/faults", self.admin_set_faults),
            ("GET", r"/counters", self.admin_counters),
            ("POST", r"/counters/reset", self.admin_reset_counters),
            ("POST", r"/rate-limit/reset", self.admin_reset_rate_limit),
            ("GET", r"/sims/(?P<giccid>[^/]+)", self.admin_get_sim),
            ("PATCH", r"/sims/(?P<giccid>[^/]+)", self.admin_patch_sim),
            ("GET", r"/batchJobs", self.admin_jobs),
        ]
        self.admin_routes = [(m, re.compile(p), h) for m, p, h in admin]

    # ---- SIM reads ---------------------------------------------------------------------

    def list_sims(self, call: Call) -> Reply:
        query = call.request.query_params
        page, size = paging(query)
        status = query.get("status")
        if status is not None and status not in STATUSES:
            raise ValidationFailed("globalSim", "status", "invalid", f"unknown status {status!r}")
        account_name = query.get("accountName")
        if account_name is not None and account_name != call.account:
            if account_name in ENTERPRISE_OF_ACCOUNT:
                raise Forbidden()
            return paged(call, [], page, size, 0)
        sims, total = self.store.list_sims(call.account, status, page, size)
        return paged(call, [sim_wire(sim, call.base) for sim in sims], page, size, total)

    def get_sim(self, call: Call) -> Reply:
        return Reply(sim_wire(self.store.owned_sim(call.params["giccid"], call.account), call.base))

    def change_logs(self, call: Call) -> Reply:
        query = call.request.query_params
        page, size = paging(query)
        giccid = query.get("giccid") or None
        if giccid is not None:
            self.store.owned_sim(giccid, call.account)
        since: float | None = None
        if query.get("since"):
            try:
                since = parse_time(query["since"])
            except (ValueError, OverflowError):
                raise ValidationFailed(
                    "changeLog", "since", "invalid", "since must be yyyy-MM-dd'T'HH:mm:ssZ"
                ) from None
        rows, total = self.store.change_logs(call.account, giccid, since, page, size)
        return paged(call, [change_wire(row) for row in rows], page, size, total)

    def statistics(self, call: Call) -> Reply:
        counts = self.store.statistics(call.account)
        return Reply(
            {
                "accountName": call.account,
                "totalSims": sum(counts.values()),
                "simsByStatus": counts,
                "countries": [
                    {"countryCode": "DE", "sims": counts["ACTIVATED"], "dataUsageBytes": 0}
                ],
            }
        )

    def get_custom_fields(self, call: Call) -> Reply:
        sim = self.store.owned_sim(call.params["giccid"], call.account)
        return Reply(sim.custom_fields())

    # ---- SIM writes --------------------------------------------------------------------

    def put_custom_fields(self, call: Call) -> Reply:
        giccid = call.params["giccid"]
        self.store.owned_sim(giccid, call.account)
        body = call.json_object()
        values: dict[str, str | None] = {}
        for name, value in body.items():
            if name not in CUSTOM_FIELDS:
                raise ValidationFailed("customFieldVO", name, "invalid", "unknown custom field")
            if value is not None and not isinstance(value, str):
                raise BadRequest(f"{name} should be a string or null")
            if value is not None and len(value) > CUSTOM_MAX:
                raise ValidationFailed(
                    "customFieldVO", name, "invalid", f"at most {CUSTOM_MAX} characters"
                )
            values[name] = value
        sim = self.store.set_custom_fields(giccid, call.account, values)
        return Reply(sim.custom_fields())

    def transition(self, call: Call) -> Reply:
        sim = self.store.transition(call.params["giccid"], call.account, call.params["operation"])
        return Reply(sim_wire(sim, call.base))

    def subscribe(self, call: Call) -> Reply:
        giccid = call.params["giccid"]
        self.store.owned_sim(giccid, call.account)
        plan = required_string(call.json_object(), "servicePackageName", "servicePackage")
        return Reply(sim_wire(self.store.add_supplementary(giccid, call.account, plan), call.base))

    def change_basic_plan(self, call: Call) -> Reply:
        giccid = call.params["giccid"]
        self.store.owned_sim(giccid, call.account)
        plan = required_string(call.json_object(), "servicePackageName", "servicePackage")
        return Reply(sim_wire(self.store.set_basic_plan(giccid, call.account, plan), call.base))

    def change_apn_status(self, call: Call) -> Reply:
        giccid = call.params["giccid"]
        self.store.owned_sim(giccid, call.account)
        body = call.json_object()
        apn = required_string(body, "apn", "apnStatus")
        status = required_string(body, "status", "apnStatus")
        if status not in APN_STATUSES:
            raise ValidationFailed("apnStatus", "status", "invalid", "ENABLED or DISABLED")
        return Reply(
            sim_wire(self.store.set_apn_status(giccid, call.account, apn, status), call.base)
        )

    # ---- batch jobs --------------------------------------------------------------------

    def create_batch_job(self, call: Call) -> Reply:
        operation = call.params["operation"]
        body = call.json_object()
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

    # ---- SMS, enterprise ---------------------------------------------------------------

    def send_sms(self, call: Call) -> Reply:
        body = call.json_object()
        giccid = required_string(body, "toGiccid", "mtSms")
        content = required_string(body, "content", "mtSms")
        if not content or len(content) > 1600:
            raise ValidationFailed("mtSms", "content", "invalid", "1 to 1600 characters")
        # the URL's resource exists; the SIM the body names does not: 422 `missing`, not 404
        if self.store.get_sim(giccid) is None:
            raise ValidationFailed("mtSms", "toGiccid", "missing", f"no SIM with giccid {giccid}")
        return Reply({"smsMsgId": self.store.create_sms(call.account, giccid, content)})

    def get_sms(self, call: Call) -> Reply:
        found = self.store.get_sms(call.params["sms_id"])
        if found is None:
            raise NotFound(f"no SMS {call.params['sms_id']}")
        account, giccid, deliverable, created = found
        if account != call.account:
            raise Forbidden()
        # delivered (or failed, for a SIM that was not ACTIVATED) a second after it was sent
        done = self.store.clock() - created >= 1.0
        status = "PENDING" if not done else "DELIVERED" if deliverable else "FAILED"
        return Reply({"smsMsgId": call.params["sms_id"], "toGiccid": giccid, "status": status})

    def enterprise(self, call: Call) -> Reply:
        shape = self.faults.enterprise_accounts  # the contract does not give the shape
        accounts: list[Any] = (
            [{"name": call.account, "url": f"{call.base}/account/{call.account}"}]
            if shape == "objects"
            else [call.account]
            if shape == "names"
            else []
        )
        return Reply({"name": ENTERPRISE_OF_ACCOUNT[call.account], "accounts": accounts})

    def _own_account(self, call: Call) -> str:
        name = call.params["name"]
        if name not in ENTERPRISE_OF_ACCOUNT:
            raise NotFound(f"no account {name}")
        if name != call.account:
            raise Forbidden()
        return name

    def get_account(self, call: Call) -> Reply:
        name = self._own_account(call)
        return Reply(
            {
                "name": name,
                "enterpriseName": ENTERPRISE_OF_ACCOUNT[name],
                "status": "ACTIVE",
                "totalSims": sum(self.store.statistics(name).values()),
                "servicePackagesUrl": f"{call.base}/{name}/servicePackages",
            }
        )

    def service_packages(self, call: Call) -> Reply:
        name = self._own_account(call)
        return Reply(
            [
                {"name": plan, "type": kind, "prepaid": prepaid}
                for plan, kind, prepaid in CATALOGUE[name]
            ]
        )

    def share_pools(self, call: Call) -> Reply:
        basic = plan_names(call.account, "BASIC")
        return Reply(
            [
                {
                    "name": f"{call.account}-pool",
                    "accountName": call.account,
                    "servicePackages": list(basic),
                    "totalVolumeBytes": 10 * 1024**4,
                    "usedVolumeBytes": 0,
                }
            ]
        )

    # ---- admin -------------------------------------------------------------------------

    def admin_get_faults(self, call: Call) -> Reply:
        return Reply(self.faults.to_wire())

    def admin_set_faults(self, call: Call) -> Reply:
        try:
            self.faults.update(call.json_object())
        except ValueError as exc:
            raise ValidationFailed("faults", "body", "invalid", str(exc)) from None
        return Reply(self.faults.to_wire())

    def admin_counters(self, call: Call) -> Reply:
        return Reply(self.counters.snapshot())

    def admin_reset_counters(self, call: Call) -> Reply:
        self.counters.reset()
        return Reply(self.counters.snapshot())

    def admin_reset_rate_limit(self, call: Call) -> Reply:
        self.store.reset_rate_windows()
        return Reply({"reset": True})

    def admin_get_sim(self, call: Call) -> Reply:
        sim = self.store.get_sim(call.params["giccid"])
        if sim is None:
            raise NotFound(f"no SIM with giccid {call.params['giccid']}")
        return Reply(sim_wire(sim, call.base))

    def admin_patch_sim(self, call: Call) -> Reply:
        changes = call.json_object()
        for name, value in changes.items():
            _check_admin_field(name, value)
        sim = self.store.admin_patch(call.params["giccid"], changes)
        return Reply(sim_wire(sim, call.base))

    def admin_jobs(self, call: Call) -> Reply:
        return Reply(
            [
                {
                    **job_wire(job, call.base),
                    "accountName": job.account,
                    "giccids": list(job.giccids),
                }
                for job in self.store.all_jobs()
            ]
        )


def _check_admin_field(name: str, value: Any) -> None:
    def bad(message: str) -> ValidationFailed:
        return ValidationFailed("globalSim", name, "invalid", message)

    if name == "status":
        if value not in STATUSES:
            raise bad(f"status must be one of {', '.join(STATUSES)}")
    elif name in ("basicServicePackage", "imei", "imsi", "msisdn"):
        if not isinstance(value, str) or not value:
            raise bad("must be a non-empty string")
    elif name == "supplementaryServicePackages":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise bad("must be a list of strings")
    elif name == "apns":
        if not isinstance(value, list) or not all(
            isinstance(a, dict)
            and isinstance(a.get("apn"), str)
            and a.get("status") in APN_STATUSES
            and set(a) == {"apn", "status"}
            for a in value
        ):
            raise bad("must be a list of {apn, status: ENABLED|DISABLED}")
    elif name in CUSTOM_FIELDS:
        if value is not None and (not isinstance(value, str) or len(value) > CUSTOM_MAX):
            raise bad(f"must be null or a string of at most {CUSTOM_MAX} characters")
    else:
        raise bad("not a field the admin endpoint can change")


def problem_response(problem: Problem, headers: Mapping[str, str]) -> Response:
    merged = {**headers, **problem.headers}
    return JSONResponse(
        problem.body(),
        status_code=problem.status,
        headers=merged,
        media_type="application/problem+json",
    )


class _Dropped(Exception):
    """The connection was closed on purpose; nothing may be sent."""
