"""SmartHubClient over httpx.MockTransport: a scripted server, never a patched client."""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from reconciler.clock import FakeClock
from reconciler.errors import (
    ApiError,
    AuthenticationError,
    BudgetExhausted,
    ForbiddenError,
    IllegalStatus,
    NotFoundError,
    RateLimited,
    ServerError,
    TransportError,
    ValidationFailed,
)
from reconciler.model import ApnStatus, BatchOperation, JobStatus, SmsStatus, Status
from reconciler.smarthub import SmartHubApi, SmartHubClient
from reconciler.smarthub.wire import MalformedResponse

KEY = "sekret-key-123"
BASE = "https://acme.smh.example/v1"
RATE = {"X-RateLimit-Limit": "5000", "X-RateLimit-Remaining": "4000", "X-RateLimit-Reset": "600"}

Handler = Callable[[httpx.Request], httpx.Response]


def sim_json(giccid: str, status: str = "ACTIVATED") -> dict[str, Any]:
    return {"giccid": giccid, "status": status, "accountName": "acme", "apns": []}


def problem(status: int, title: str, **extra: Any) -> httpx.Response:
    body = {"type": "about:blank", "title": title, "status": status, **extra}
    return httpx.Response(status, json=body, headers=RATE)


@dataclass
class Server:
    """A scripted server: routes are ``(method, path) -> handler``; every request is recorded."""

    routes: dict[tuple[str, str], Handler] = field(default_factory=dict)
    requests: list[httpx.Request] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        handler = self.routes.get((request.method, request.url.path))
        if handler is None:
            return problem(404, "Not Found")
        return handler(request)

    def on(self, method: str, path: str, *responses: httpx.Response | Handler) -> None:
        """Answer with each response in turn (the last one repeats)."""
        queue = list(responses)

        def handler(request: httpx.Request) -> httpx.Response:
            item = queue.pop(0) if len(queue) > 1 else queue[0]
            return item(request) if callable(item) else item

        self.routes[(method, path)] = handler


def client(server: Server, clock: FakeClock | None = None, **kwargs: Any) -> SmartHubClient:
    return SmartHubClient(
        BASE,
        KEY,
        clock=clock or FakeClock(),
        transport=httpx.MockTransport(server),
        random=random.Random(7),
        **kwargs,
    )


def ok(body: Any = None, status: int = 200, **headers: str) -> httpx.Response:
    if body is None:
        return httpx.Response(status, headers={**RATE, **headers})
    return httpx.Response(status, json=body, headers={**RATE, **headers})


def test_client_implements_the_interface() -> None:
    api: SmartHubApi = client(Server())
    assert api.endpoint == BASE
    assert "sekret" not in repr(api)


def test_detail_sends_the_key_and_maps_the_sim() -> None:
    server = Server()
    server.on("GET", "/v1/global-sims/1", ok(sim_json("1", "DEACTIVATED")))
    api = client(server)
    sim = api.get_sim("1")
    assert sim.status is Status.SUSPENDED
    [request] = server.requests
    assert request.headers["X-API-Key"] == KEY
    assert request.headers["Accept"] == "application/json"
    assert api.stats().requests == 1
    budget = api.rate_budget()
    assert budget is not None and (budget.limit, budget.remaining) == (5000, 4000)


# --- pagination ---------------------------------------------------------------------------------


def test_iter_sims_follows_link_exactly_and_streams() -> None:
    server = Server()

    def page(request: httpx.Request) -> httpx.Response:
        cursor = request.url.params.get("cursor")
        if cursor is None:  # first request: ours
            link = (
                f'<{BASE}/global-sims?page=0&size=100&accountName=acme&cursor=b>;\n rel="next",'
                f' <{BASE}/global-sims?page=9&size=100>; rel="last"'
            )
            return ok([sim_json("1"), sim_json("2")], Link=link)
        if cursor == "b":
            # a relative link, resolved against this page's URL
            return ok([sim_json("3")], Link='</v1/global-sims?cursor=c>; rel="next"')
        return ok([sim_json("4")], Link=f'<{BASE}/global-sims?page=0>; rel="first"')

    server.routes[("GET", "/v1/global-sims")] = page
    api = client(server)
    sims = api.iter_sims(account="acme", status=Status.ACTIVE)
    first = next(sims)
    assert first.iccid == "1"
    assert len(server.requests) == 1  # streamed: one page at a time
    assert [s.iccid for s in sims] == ["2", "3", "4"]
    urls = [str(r.url) for r in server.requests]
    assert urls == [
        f"{BASE}/global-sims?size=100&status=ACTIVATED&accountName=acme",
        f"{BASE}/global-sims?page=0&size=100&accountName=acme&cursor=b",
        f"{BASE}/global-sims?cursor=c",
    ]


def test_pagination_loop_is_an_error() -> None:
    server = Server()
    link = f'<{BASE}/global-sims?page=2>; rel="next"'
    server.on("GET", "/v1/global-sims", ok([sim_json("1")], Link=link))
    api = client(server)
    with pytest.raises(ApiError, match="Pagination loop"):
        list(api.iter_sims())
    assert len(server.requests) == 2


def test_empty_page_ends_pagination_even_with_a_next_link() -> None:
    server = Server()
    server.on(
        "GET",
        "/v1/global-sims",
        ok([sim_json("1")], Link=f'<{BASE}/global-sims?page=2>; rel="next"'),
        ok([], Link=f'<{BASE}/global-sims?page=3>; rel="next"'),
    )
    assert [s.iccid for s in client(server).iter_sims()] == ["1"]
    assert len(server.requests) == 2


def test_change_logs_are_paged_and_filtered() -> None:
    from datetime import UTC, datetime

    server = Server()
    entry = {
        "giccid": "1",
        "changeType": "STATUS",
        "oldValue": "ACTIVATED",
        "newValue": "DEACTIVATED",
        "changedTime": "2024-05-01T10:00:00Z",
    }
    server.on("GET", "/v1/global-sims/changeLogs", ok([entry]))
    logs = list(client(server).iter_change_logs(since=datetime(2024, 5, 1, tzinfo=UTC)))
    assert logs[0].change_type == "status"
    assert (logs[0].old_value, logs[0].new_value) == ("active", "suspended")
    assert server.requests[0].url.params["since"] == "2024-05-01T00:00:00+0000"
    assert server.requests[0].url.params["size"] == "100"


# --- writes -------------------------------------------------------------------------------------


def test_writes_send_the_contract_bodies() -> None:
    server = Server()
    server.on("PUT", "/v1/global-sims/1/custom-field", ok(status=204))
    server.on("PUT", "/v1/global-sims/1/servicePackage", ok({"giccid": "1", "whatever": 1}))
    server.on("POST", "/v1/global-sims/1/supplementaryServicePackages", ok(status=201))
    server.on("PUT", "/v1/global-sims/1/apnStatus", ok(status=204))
    server.on("POST", "/v1/global-sims/1/deactivate", ok(sim_json("1", "DEACTIVATED")))
    server.on("POST", "/v1/global-sims/1/activate", ok(status=204))
    server.on("POST", "/v1/global-sims/1/retire", ok(sim_json("1", "RETIRED")))
    api = client(server)
    api.set_custom_fields("1", {"custom2": None, "custom1": "x"})
    api.set_rate_plan("1", "IoT-5GB")
    api.subscribe_plan("1", "EU")
    api.set_apn_status("1", "iot.acme", ApnStatus.DISABLED)
    suspended = api.suspend("1")
    assert suspended is not None and suspended.status is Status.SUSPENDED
    assert api.activate("1") is None
    retired = api.retire("1")
    assert retired is not None and retired.status is Status.RETIRED
    bodies = [(r.method, r.url.path, r.content) for r in server.requests]
    assert bodies[:4] == [
        ("PUT", "/v1/global-sims/1/custom-field", b'{"custom1":"x","custom2":null}'),
        ("PUT", "/v1/global-sims/1/servicePackage", b'{"servicePackageName":"IoT-5GB"}'),
        (
            "POST",
            "/v1/global-sims/1/supplementaryServicePackages",
            b'{"servicePackageName":"EU"}',
        ),
        ("PUT", "/v1/global-sims/1/apnStatus", b'{"apn":"iot.acme","status":"DISABLED"}'),
    ]
    assert server.requests[0].headers["Content-Type"] == "application/json"
    # status actions carry no body (Content-Length 0)
    assert server.requests[4].content == b""
    assert server.requests[4].headers.get("Content-Length") in ("0", None)


def test_batch_submit_and_poll() -> None:
    server = Server()
    server.on(
        "POST",
        "/v1/batchJobs/global-sims/servicePackage",
        ok({"jobId": "j1", "status": "PENDING", "url": f"{BASE}/batchJobs/j1"}, status=202),
    )
    server.on(
        "GET",
        "/v1/batchJobs/j1",
        ok(
            {
                "jobId": "j1",
                "type": "servicePackage",
                "status": "COMPLETED",
                "total": 2,
                "succeeded": 2,
                "failed": 0,
                "items": [
                    {"giccid": "1", "result": "SUCCESS"},
                    {"giccid": "2", "result": "SUCCESS"},
                ],
            }
        ),
    )
    api = client(server)
    job = api.submit_batch(BatchOperation.SET_RATE_PLAN, ["1", "2"], rate_plan="IoT-5GB")
    assert (job.job_id, job.status, job.total) == ("j1", JobStatus.PENDING, 2)
    assert json.loads(server.requests[0].content) == {
        "giccids": ["1", "2"],
        "servicePackageName": "IoT-5GB",
    }
    done = api.get_batch_job("j1")
    assert done.status is JobStatus.COMPLETED
    assert done.operation is BatchOperation.SET_RATE_PLAN
    assert all(item.ok for item in done.items)
    with pytest.raises(ValueError, match="twice"):
        api.submit_batch(BatchOperation.ACTIVATE, ["1", "1"])
    with pytest.raises(ValueError, match="at most 1000"):
        api.submit_batch(BatchOperation.ACTIVATE, [str(i) for i in range(1001)])
    assert len(server.requests) == 2


def test_catalogue_enterprise_account_sms() -> None:
    server = Server()
    server.on("GET", "/v1/acme/servicePackages", ok([{"name": "IoT-1GB", "type": "BASIC"}]))
    server.on("GET", "/v1/enterprise", ok({"name": "Acme", "extra": [1]}))
    server.on("GET", "/v1/account/acme", ok({"name": "acme"}))
    server.on("GET", "/v1/global-sims/1/custom-field", ok({"custom1": "a", "custom5": None}))
    server.on("POST", "/v1/mt-sms", ok({"smsMsgId": "m1"}, status=201))
    server.on("GET", "/v1/mt-sms/m1", ok({"smsMsgId": "m1", "status": "PENDING"}))
    api = client(server)
    assert [p.name for p in api.service_packages("acme")] == ["IoT-1GB"]
    assert api.enterprise()["name"] == "Acme"
    assert api.account("acme") == {"name": "acme"}
    assert api.get_custom_fields("1")["custom1"] == "a"
    assert api.send_sms("1", "ping") == "m1"
    assert json.loads(server.requests[4].content) == {"toGiccid": "1", "content": "ping"}
    assert api.sms_status("m1") is SmsStatus.PENDING


def test_malformed_success_body_names_field_method_and_url() -> None:
    server = Server()
    server.on("GET", "/v1/global-sims/1", ok({"giccid": "1", "status": "ZOMBIE"}))
    server.on("GET", "/v1/global-sims/2", httpx.Response(200, text="<html>", headers=RATE))
    api = client(server)
    with pytest.raises(MalformedResponse) as info:
        api.get_sim("1")
    assert "unknown SIM state 'ZOMBIE'" in str(info.value)
    assert info.value.method == "GET" and info.value.url == f"{BASE}/global-sims/1"
    with pytest.raises(MalformedResponse, match="not JSON"):
        api.get_sim("2")


# --- errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("response", "cls"),
    [
        (problem(401, "Invalid api key"), AuthenticationError),
        (problem(403, "Access forbidden"), ForbiddenError),
        (problem(404, "Not Found"), NotFoundError),
        (problem(400, "Bad Request", detail="Body should be a JSON object"), ValidationFailed),
        (
            problem(422, "Validation Failed", errors=[{"field": "custom1", "code": "invalid"}]),
            ValidationFailed,
        ),
        (
            problem(
                422,
                "Validation Failed",
                errors=[{"resource": "sim", "field": "status", "code": "illegal_status"}],
            ),
            IllegalStatus,
        ),
        (httpx.Response(418, text="teapot", headers=RATE), ApiError),
    ],
)
def test_problem_documents_map_to_the_error_tree(
    response: httpx.Response, cls: type[ApiError]
) -> None:
    server = Server()
    server.on("POST", "/v1/global-sims/1/retire", response)
    with pytest.raises(cls) as info:
        client(server).retire("1")
    error = info.value
    assert type(error) is cls
    assert error.status == response.status_code
    assert error.method == "POST"
    assert error.url == f"{BASE}/global-sims/1/retire"
    assert KEY not in str(error)
    assert len(server.requests) == 1  # 4xx is never retried


def test_illegal_status_carries_the_errors() -> None:
    server = Server()
    server.on(
        "POST",
        "/v1/global-sims/1/retire",
        problem(
            422,
            "Validation Failed",
            errors=[
                {"resource": "sim", "field": "status", "code": "illegal_status", "message": "m"}
            ],
        ),
    )
    with pytest.raises(IllegalStatus) as info:
        client(server).retire("1")
    assert info.value.code == "illegal_status"
    assert info.value.title == "Validation Failed"
    assert "status: illegal_status (m)" in str(info.value)


def test_non_json_error_body_and_echoed_key_are_handled() -> None:
    server = Server()
    server.on(
        "GET",
        "/v1/global-sims/1",
        httpx.Response(401, text=f"proxy says: bad key {KEY}", headers=RATE),
    )
    with pytest.raises(AuthenticationError) as info:
        client(server).get_sim("1")
    assert KEY not in str(info.value)
    assert "<redacted>" in str(info.value)


# --- retries ------------------------------------------------------------------------------------


def expected_backoff(seed: int, attempts: int, base: float = 0.5, cap: float = 30.0) -> list[float]:
    rng = random.Random(seed)
    return [rng.uniform(0, min(cap, base * 2 ** (n - 1))) for n in range(1, attempts + 1)]


def test_5xx_is_retried_with_capped_jittered_backoff() -> None:
    server = Server()
    server.on(
        "GET",
        "/v1/global-sims/1",
        problem(503, "Service Unavailable"),
        httpx.Response(502, text="bad gateway"),
        ok(sim_json("1")),
    )
    clock = FakeClock()
    waits: list[tuple[float, str]] = []
    api = client(server, clock, on_wait=lambda s, r: waits.append((s, r)))
    assert api.get_sim("1").iccid == "1"
    assert clock.sleeps == expected_backoff(7, 2)
    assert waits == []  # backoff is not a wait for the rate window: counted, not reported
    stats = api.stats()
    assert (stats.requests, stats.retries) == (3, 2)
    assert stats.waited_seconds == pytest.approx(sum(clock.sleeps))
    assert stats.rate_waited_seconds == 0.0  # backoff is not waiting for the rate window


def test_backoff_is_capped() -> None:
    server = Server()
    server.on("GET", "/v1/global-sims/1", problem(500, "Internal Server Error"))
    clock = FakeClock()
    api = client(server, clock, max_retries=6, backoff_base=1.0, backoff_cap=4.0)
    with pytest.raises(ServerError) as info:
        api.get_sim("1")
    assert info.value.status == 500
    assert len(server.requests) == 7
    assert clock.sleeps == expected_backoff(7, 6, base=1.0, cap=4.0)
    assert max(clock.sleeps) <= 4.0


def raise_(exc: Exception) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    return handler


def test_get_is_retried_after_a_dropped_connection() -> None:
    server = Server()
    server.on(
        "GET",
        "/v1/global-sims/1",
        raise_(httpx.RemoteProtocolError("Server disconnected")),
        raise_(httpx.ReadTimeout("timed out")),
        ok(sim_json("1")),
    )
    api = client(server)
    assert api.get_sim("1").iccid == "1"
    assert api.stats().retries == 2


def test_post_is_retried_when_it_never_connected() -> None:
    server = Server()
    server.on(
        "POST",
        "/v1/global-sims/1/activate",
        raise_(httpx.ConnectError("refused")),
        problem(503, "Service Unavailable"),
        ok(sim_json("1")),
    )
    api = client(server)
    sim = api.activate("1")
    assert sim is not None and sim.status is Status.ACTIVE
    assert api.stats().requests == 3


@pytest.mark.parametrize("status", [500, 502, 504])
def test_post_answered_with_a_5xx_other_than_503_is_not_repeated(status: int) -> None:
    """The write may have been stored before the 500, or behind the gateway that said 502/504:
    sending it again could make a second batch job. The caller re-reads instead."""
    server = Server()
    server.on(
        "POST",
        "/v1/batchJobs/global-sims/deactivate",
        problem(status, "Server Error"),
        ok({"jobId": "j1", "status": "PENDING"}),
    )
    api = client(server)
    with pytest.raises(ServerError) as info:
        api.submit_batch(BatchOperation.SUSPEND, ["1", "2"])
    assert info.value.status == status
    assert len(server.requests) == 1
    assert api.stats().retries == 0


@pytest.mark.parametrize(
    "exc",
    [
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
        httpx.ReadTimeout("timed out"),
        httpx.ReadError("connection reset"),
    ],
)
def test_post_dropped_after_sending_is_not_repeated(exc: Exception) -> None:
    server = Server()
    server.on("POST", "/v1/batchJobs/global-sims/retire", raise_(exc), ok({"jobId": "j"}))
    api = client(server)
    with pytest.raises(TransportError, match="may or may not have taken effect") as info:
        api.submit_batch(BatchOperation.RETIRE, ["1"])
    assert info.value.method == "POST"
    assert info.value.maybe_sent
    assert len(server.requests) == 1
    assert isinstance(info.value.__cause__, httpx.HTTPError)


def test_put_is_idempotent_and_retried_after_a_drop() -> None:
    server = Server()
    server.on(
        "PUT",
        "/v1/global-sims/1/apnStatus",
        raise_(httpx.RemoteProtocolError("dropped")),
        ok(status=204),
    )
    client(server).set_apn_status("1", "iot", ApnStatus.ENABLED)
    assert len(server.requests) == 2


def test_transport_error_after_retries() -> None:
    server = Server()
    server.on("GET", "/v1/enterprise", raise_(httpx.ConnectError("refused")))
    api = client(server, max_retries=2)
    with pytest.raises(TransportError, match="no answer after 3 attempts") as info:
        api.enterprise()
    assert info.value.status == 0
    assert not info.value.maybe_sent
    assert len(server.requests) == 3


def test_429_waits_for_the_reset_then_retries() -> None:
    server = Server()
    limited = httpx.Response(
        429,
        json={"type": "about:blank", "title": "API rate limit exceeded", "status": 429},
        headers={"X-RateLimit-Limit": "5", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "42"},
    )
    server.on("POST", "/v1/global-sims/1/activate", limited, ok(sim_json("1")))
    clock = FakeClock()
    waits: list[tuple[float, str]] = []
    api = client(server, clock, on_wait=lambda s, r: waits.append((s, r)))
    api.activate("1")
    assert clock.sleeps == [42.0]
    assert waits == [(42.0, "POST /v1/global-sims/1/activate, after a 429")]
    stats = api.stats()
    assert (stats.requests, stats.rate_limited, stats.retries) == (2, 1, 1)
    assert stats.waited_seconds == 42.0


def test_429_forever_becomes_rate_limited() -> None:
    server = Server()
    server.on(
        "GET",
        "/v1/enterprise",
        problem(429, "API rate limit exceeded"),
    )
    clock = FakeClock()
    api = client(server, clock, max_retries=2)
    with pytest.raises(RateLimited):
        api.enterprise()
    assert len(server.requests) == 3
    assert api.stats().rate_limited == 3


def test_known_spent_budget_waits_instead_of_earning_a_429() -> None:
    server = Server()
    headers = {"X-RateLimit-Limit": "2", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "17"}
    server.on("GET", "/v1/enterprise", httpx.Response(200, json={}, headers=headers))
    clock = FakeClock()
    api = client(server, clock)
    api.enterprise()
    api.enterprise()
    assert clock.sleeps == [17.0]
    assert api.stats().rate_limited == 0


def test_budget_refuses_the_request_past_it() -> None:
    server = Server()
    server.on("GET", "/v1/enterprise", problem(503, "down"), ok({}))
    api = client(server, budget=2)
    api.enterprise()  # 503 + retry: two requests
    with pytest.raises(BudgetExhausted, match="budget of 2"):
        api.enterprise()
    assert len(server.requests) == 2
    assert api.stats().requests == 2


# --- redirects ----------------------------------------------------------------------------------


def test_307_keeps_method_and_body() -> None:
    server = Server()
    server.on(
        "PUT",
        "/v1/global-sims/1/servicePackage",
        httpx.Response(307, headers={"Location": "/v1/moved/servicePackage"}),
    )
    server.on("PUT", "/v1/moved/servicePackage", ok(status=204))
    api = client(server)
    api.set_rate_plan("1", "IoT-5GB")
    second = server.requests[1]
    assert (second.method, second.url.path) == ("PUT", "/v1/moved/servicePackage")
    assert second.content == b'{"servicePackageName":"IoT-5GB"}'
    assert second.headers["X-API-Key"] == KEY
    assert api.stats().requests == 2


def test_302_keeps_post_and_is_not_remembered() -> None:
    server = Server()
    server.on(
        "POST",
        "/v1/global-sims/1/activate",
        httpx.Response(302, headers={"Location": f"{BASE}/elsewhere/activate"}),
    )
    server.on("POST", "/v1/elsewhere/activate", ok(sim_json("1")))
    api = client(server)
    api.activate("1")
    api.activate("1")
    assert [(r.method, r.url.path) for r in server.requests] == [
        ("POST", "/v1/global-sims/1/activate"),
        ("POST", "/v1/elsewhere/activate"),
        ("POST", "/v1/global-sims/1/activate"),
        ("POST", "/v1/elsewhere/activate"),
    ]


def test_301_is_remembered_for_the_session() -> None:
    server = Server()
    server.on(
        "GET",
        "/v1/enterprise",
        httpx.Response(301, headers={"Location": f"{BASE}/enterprise-v2"}),
    )
    server.on("GET", "/v1/enterprise-v2", ok({"name": "Acme"}))
    api = client(server)
    api.enterprise()
    api.enterprise()
    assert [r.url.path for r in server.requests] == [
        "/v1/enterprise",
        "/v1/enterprise-v2",
        "/v1/enterprise-v2",
    ]


def test_303_becomes_a_get() -> None:
    server = Server()
    server.on(
        "POST",
        "/v1/mt-sms",
        httpx.Response(303, headers={"Location": "/v1/mt-sms/m9"}),
    )
    server.on("GET", "/v1/mt-sms/m9", ok({"smsMsgId": "m9"}))
    assert client(server).send_sms("1", "x") == "m9"
    assert server.requests[1].method == "GET"
    assert server.requests[1].content == b""


@pytest.mark.parametrize(
    "location",
    [
        "https://other.example/v1/enterprise",  # another host
        "http://acme.smh.example/v1/enterprise",  # another scheme (and port)
        "https://acme.smh.example:8443/v1/enterprise",  # another port
    ],
)
def test_redirect_to_another_origin_drops_the_key(location: str) -> None:
    server = Server()
    server.routes[("GET", "/v1/enterprise")] = lambda request: (
        ok({"host": request.url.host})
        if request.url.host != "acme.smh.example"
        or request.url.port is not None
        or request.url.scheme != "https"
        else httpx.Response(302, headers={"Location": location})
    )
    api = client(server)
    api.enterprise()
    first, second = server.requests
    assert first.headers["X-API-Key"] == KEY
    assert str(second.url) == location
    assert "X-API-Key" not in second.headers
    assert KEY not in str(second.headers)


def test_too_many_redirects() -> None:
    server = Server()
    counter = iter(range(100))
    server.routes[("GET", "/v1/enterprise")] = lambda request: httpx.Response(
        302, headers={"Location": f"/v1/enterprise?hop={next(counter)}"}
    )
    api = client(server)
    with pytest.raises(ApiError, match="Too many redirects"):
        api.enterprise()
    assert len(server.requests) == 6


# --- threads ------------------------------------------------------------------------------------


def test_threads_sharing_a_client_never_earn_a_429() -> None:
    """A server with 30 requests per window; 8 threads x 10 requests; the limiter paces them."""
    clock = FakeClock()
    lock = threading.Lock()
    state = {"remaining": 30, "end": 60.0, "429": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        with lock:
            now = clock.monotonic()
            if now >= state["end"]:
                state["remaining"], state["end"] = 30, now + 60.0
            headers = {
                "X-RateLimit-Limit": "30",
                "X-RateLimit-Remaining": str(max(int(state["remaining"]) - 1, 0)),
                "X-RateLimit-Reset": str(state["end"] - now),
            }
            if state["remaining"] <= 0:
                state["429"] += 1
                return httpx.Response(429, json={"status": 429}, headers=headers)
            state["remaining"] -= 1
        return httpx.Response(200, json={}, headers=headers)

    api = SmartHubClient(BASE, KEY, clock=clock, transport=httpx.MockTransport(handler))
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            for _ in range(10):
                api.enterprise()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert state["429"] == 0
    assert api.stats().requests == 80
    assert len(clock.sleeps) == 2  # 80 requests at 30 per window


def test_retry_after_on_503_replaces_the_jitter() -> None:
    server = Server()
    server.on(
        "GET",
        "/v1/enterprise",
        httpx.Response(503, headers={"Retry-After": "3"}),
        httpx.Response(503, headers={"Retry-After": "999"}),
        ok({}),
    )
    clock = FakeClock()
    client(server, clock, backoff_cap=30.0).enterprise()
    assert clock.sleeps == [3.0, 30.0]


def test_429_without_rate_headers_uses_retry_after() -> None:
    server = Server()
    server.on(
        "GET",
        "/v1/enterprise",
        httpx.Response(429, headers={"Retry-After": "5"}),
        ok({}),
    )
    clock = FakeClock()
    client(server, clock).enterprise()
    assert clock.sleeps == [5.0]


def test_an_epoch_reset_is_read_as_a_time() -> None:
    clock = FakeClock(start=1_700_000_000.0)
    server = Server()
    headers = {
        "X-RateLimit-Limit": "2",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": str(1_700_000_000 + 25),
    }
    server.on("GET", "/v1/enterprise", httpx.Response(200, json={}, headers=headers))
    api = client(server, clock)
    api.enterprise()
    api.enterprise()
    assert clock.sleeps == [25.0]


def test_an_echoed_key_is_redacted_in_the_kept_body() -> None:
    server = Server()
    server.on("GET", "/v1/enterprise", problem(403, "Access forbidden", detail=f"key {KEY}"))
    with pytest.raises(ForbiddenError) as info:
        client(server).enterprise()
    assert KEY not in str(info.value)
    assert KEY not in json.dumps(info.value.body)


@pytest.mark.parametrize("link", ['<http://x:notaport/>; rel="next"', '<ftp://x/y>; rel="next"'])
def test_a_bad_next_link_is_a_clear_error(link: str) -> None:
    server = Server()
    server.on("GET", "/v1/global-sims", ok([sim_json("1")], Link=link))
    with pytest.raises(MalformedResponse, match="header 'Link'"):
        list(client(server).iter_sims())


def test_iter_sims_streams_in_constant_memory() -> None:
    """Reading 500 more pages costs under 400 bytes a page: the loop guard's hash (~170 B).

    Keeping the page's 10 SIMs would cost over 10 KB a page. The first 600 pages are a warm-up:
    the ``re`` and ``urllib`` caches (bounded) fill there.
    """
    import tracemalloc

    page_body = json.dumps([sim_json(str(n)) for n in range(10)]).encode()

    def peak_for(pages: int) -> int:
        def handler(request: httpx.Request) -> httpx.Response:
            number = int(request.url.params.get("page", "1"))
            headers = dict(RATE)
            if number < 600 + pages:
                headers["Link"] = f'<{BASE}/global-sims?page={number + 1}&size=100>; rel="next"'
            return httpx.Response(200, content=page_body, headers=headers)

        api = SmartHubClient(BASE, KEY, clock=FakeClock(), transport=httpx.MockTransport(handler))
        sims = api.iter_sims()
        for _ in range(600 * 10):
            next(sims)
        tracemalloc.start()
        count = sum(1 for _ in sims)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert count == pages * 10
        return peak

    small, large = peak_for(100), peak_for(600)
    assert (large - small) / 500 < 400, (small, large)
