"""The simulator against the contract, over a real socket with raw httpx (protocol level)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from openapi_spec_validator import validate

from reconciler.simulator import RunningSimulator, SimulatorConfig, start_in_thread

StartSim = Callable[..., RunningSimulator]
TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+0000")
STATUSES = ["TEST_READY", "INVENTORY", "ACTIVATION_READY", "ACTIVATED", "DEACTIVATED", "RETIRED"]

# The contract's state machine, written out again here on purpose (not imported from the
# simulator): operation -> (allowed from, result).
CONTRACT = {
    "activate": ({"TEST_READY", "INVENTORY", "ACTIVATION_READY", "DEACTIVATED"}, "ACTIVATED"),
    "deactivate": ({"ACTIVATED", "TEST_READY", "INVENTORY", "ACTIVATION_READY"}, "DEACTIVATED"),
    "retire": ({"DEACTIVATED"}, "RETIRED"),
}


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSimulator]:
    """One simulator for the read-only tests of this module (starting one per test is waste)."""
    db = tmp_path_factory.mktemp("shared") / "sim.db"
    with start_in_thread(SimulatorConfig(db_path=db, sims=250, job_delay=0.05)) as sim:
        yield sim


def api(sim: RunningSimulator, key: str | None = "primary") -> httpx.Client:
    headers = {}
    if key == "primary":
        headers["X-API-Key"] = sim.api_key
    elif key == "other":
        headers["X-API-Key"] = sim.other_api_key
    elif key is not None:
        headers["X-API-Key"] = key
    # verify=False: plain HTTP on loopback, and it spares loading the CA bundle (45 ms a client)
    return httpx.Client(base_url=sim.url + "/", headers=headers, timeout=10, verify=False)


def admin(sim: RunningSimulator) -> httpx.Client:
    return httpx.Client(
        base_url=sim.admin_url + "/", headers={"X-API-Key": sim.api_key}, timeout=10, verify=False
    )


def first_sim(sim: RunningSimulator, **filters: str) -> dict[str, Any]:
    with api(sim) as client:
        page = client.get("global-sims", params={"size": 100, **filters}).json()
    assert page, f"no SIM with {filters}"
    return page[0]  # type: ignore[no-any-return]


def set_status(sim: RunningSimulator, giccid: str, status: str) -> None:
    with admin(sim) as client:
        response = client.patch(f"sims/{giccid}", json={"status": status})
    assert response.status_code == 200, response.text
    assert response.json()["status"] == status


def assert_problem(response: httpx.Response, status: int, title: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["type"] == "about:blank"
    assert body["title"] == title
    assert body["status"] == status
    for header in ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"):
        assert header in response.headers, f"{header} missing on a {status}"
    return body  # type: ignore[no-any-return]


# ---- list and pagination ---------------------------------------------------------------


def test_the_done_when_list_call(shared: RunningSimulator) -> None:
    with api(shared) as client:
        response = client.get("global-sims", params={"size": 100})
    assert response.status_code == 200
    assert len(response.json()) == 100
    assert 'rel="next"' in response.headers["Link"]
    assert response.headers["X-Total-Count"] == "250"


def test_following_link_next_reads_every_sim_exactly_once(shared: RunningSimulator) -> None:
    seen: list[str] = []
    pages = 0
    with api(shared) as client:
        response = client.get("global-sims", params={"size": 7})
        total = int(response.headers["X-Total-Count"])
        while True:
            pages += 1
            assert response.status_code == 200
            seen += [sim["giccid"] for sim in response.json()]
            links = response.links
            assert {"first", "last"} <= set(links)
            if pages > 1:
                assert "prev" in links
            if "next" not in links:
                break
            assert links["next"]["url"].startswith(shared.url)  # absolute, from the request
            response = client.get(links["next"]["url"])
    assert total == 250
    assert pages == 36  # ceil(250 / 7)
    assert len(seen) == len(set(seen)) == 250
    assert "page=36" in response.links["last"]["url"]


def test_list_items_have_the_contract_fields(shared: RunningSimulator) -> None:
    with api(shared) as client:
        items = client.get("global-sims").json()
    assert len(items) == 30  # default size
    for item in items:
        assert item["accountName"] == "acme"
        assert item["iccid"] == item["giccid"]
        assert item["status"] in STATUSES
        assert isinstance(item["supplementaryServicePackages"], list)
        assert all(set(apn) == {"apn", "status"} for apn in item["apns"])
        assert TIME.fullmatch(item["lastModifiedTime"])
        assert item["activatedTime"] is None or TIME.fullmatch(item["activatedTime"])
        assert item["url"] == f"{shared.url}/global-sims/{item['giccid']}"
        for n in range(1, 6):
            assert f"custom{n}" in item


def test_size_above_100_is_served_as_100_and_a_page_past_the_end_is_empty(
    shared: RunningSimulator,
) -> None:
    with api(shared) as client:
        big = client.get("global-sims", params={"size": 500})
        past = client.get("global-sims", params={"size": 100, "page": 9})
    assert len(big.json()) == 100
    assert "size=100" in big.links["next"]["url"]
    assert past.status_code == 200
    assert past.json() == []
    assert "next" not in past.links
    assert past.headers["X-Total-Count"] == "250"


def test_filters_by_status_and_account(shared: RunningSimulator) -> None:
    with api(shared) as client:
        deactivated = client.get("global-sims", params={"status": "DEACTIVATED", "size": 100})
        own = client.get("global-sims", params={"accountName": "acme", "size": 1})
        other = client.get("global-sims", params={"accountName": "globex"})
        unknown = client.get("global-sims", params={"accountName": "nobody"})
        bad = client.get("global-sims", params={"status": "ASLEEP"})
    assert deactivated.json()
    assert all(sim["status"] == "DEACTIVATED" for sim in deactivated.json())
    assert int(deactivated.headers["X-Total-Count"]) == len(deactivated.json())
    assert own.headers["X-Total-Count"] == "250"
    assert_problem(other, 403, "Access forbidden")
    assert unknown.json() == []
    assert unknown.headers["X-Total-Count"] == "0"
    assert assert_problem(bad, 422, "Validation Failed")["errors"][0]["field"] == "status"


def test_each_enterprise_lists_only_its_own_sims(shared: RunningSimulator) -> None:
    with api(shared, "other") as client:
        response = client.get("global-sims", params={"size": 100})
    assert response.headers["X-Total-Count"] == "27"
    assert {sim["accountName"] for sim in response.json()} == {"globex"}
    assert {sim["basicServicePackage"] for sim in response.json()} == {"Globex-Basic"}


# ---- auth and errors -------------------------------------------------------------------


@pytest.mark.parametrize("key", [None, "wrong-key", ""])
def test_no_or_a_wrong_key_is_401(shared: RunningSimulator, key: str | None) -> None:
    with api(shared, key) as client:
        response = client.get("global-sims")
    body = assert_problem(response, 401, "Invalid api key")
    assert body == {"type": "about:blank", "title": "Invalid api key", "status": 401}


def test_another_enterprises_resources_are_403(shared: RunningSimulator) -> None:
    with api(shared, "other") as client:
        globex = client.get("global-sims", params={"size": 1}).json()[0]["giccid"]
    acme = first_sim(shared)["giccid"]
    with api(shared) as client:
        answers = [
            client.get(f"global-sims/{globex}"),
            client.post(f"global-sims/{globex}/deactivate"),
            client.get(f"global-sims/{globex}/custom-field"),
            client.get("global-sims/changeLogs", params={"giccid": globex}),
            client.get("account/globex"),
            client.get("globex/servicePackages"),
        ]
    with api(shared, "other") as client:
        answers.append(client.get(f"global-sims/{acme}"))
    for response in answers:
        body = assert_problem(response, 403, "Access forbidden")
        assert body == {"type": "about:blank", "title": "Access forbidden", "status": 403}


def test_unknown_things_are_404_problem_documents(shared: RunningSimulator) -> None:
    with api(shared) as client:
        for path in [
            "global-sims/8944500000000999999",
            "global-sims/not-a-giccid/custom-field",
            "batchJobs/nope",
            "mt-sms/nope",
            "account/nobody",
            "nobody/servicePackages",
            "no/such/path",
        ]:
            assert_problem(client.get(path), 404, "Not Found")
        assert_problem(client.post("global-sims/8944500000000999999/activate"), 404, "Not Found")


def test_a_wrong_method_is_405_with_allow(shared: RunningSimulator) -> None:
    with api(shared) as client:
        response = client.delete("global-sims")
    assert_problem(response, 405, "Method Not Allowed")
    assert response.headers["Allow"] == "GET"


# ---- state machine ---------------------------------------------------------------------


@pytest.mark.parametrize("operation", sorted(CONTRACT))
@pytest.mark.parametrize("start", STATUSES)
def test_every_state_machine_edge(shared: RunningSimulator, start: str, operation: str) -> None:
    giccid = first_sim(shared, status="ACTIVATED")["giccid"]
    set_status(shared, giccid, start)
    allowed, result = CONTRACT[operation]
    with api(shared) as client:
        response = client.post(f"global-sims/{giccid}/{operation}")
        after = client.get(f"global-sims/{giccid}").json()["status"]
    set_status(shared, giccid, "ACTIVATED")  # leave the shared fleet as found
    if start in allowed:
        assert response.status_code == 200, response.text
        assert response.json()["status"] == result == after
        assert response.json()["giccid"] == giccid
    else:
        body = assert_problem(response, 422, "Validation Failed")
        assert body["errors"][0]["code"] == "illegal_status"
        assert after == start


def test_nothing_changes_a_retired_sim(sim: RunningSimulator) -> None:
    giccid = first_sim(sim, status="RETIRED")["giccid"]
    with api(sim) as client:
        answers = [
            client.put(
                f"global-sims/{giccid}/servicePackage", json={"servicePackageName": "IoT-5GB"}
            ),
            client.put(
                f"global-sims/{giccid}/apnStatus", json={"apn": "iot.acme", "status": "DISABLED"}
            ),
            client.put(f"global-sims/{giccid}/custom-field", json={"custom1": "x"}),
            client.post(
                f"global-sims/{giccid}/supplementaryServicePackages",
                json={"servicePackageName": "US-Roaming-1GB"},
            ),
        ]
        for operation in CONTRACT:
            answers.append(client.post(f"global-sims/{giccid}/{operation}"))
        still = client.get(f"global-sims/{giccid}").json()
    for response in answers:
        assert assert_problem(response, 422, "Validation Failed")["errors"][0]["code"] == (
            "illegal_status"
        )
    assert still["status"] == "RETIRED"


def test_status_and_plan_changes_are_in_the_history(sim: RunningSimulator) -> None:
    target = first_sim(sim, status="ACTIVATED")
    giccid = target["giccid"]
    new_plan = next(p for p in ("IoT-1GB", "IoT-5GB") if p != target["basicServicePackage"])
    with api(sim) as client:
        assert client.get("global-sims/changeLogs").json() == []  # seeded fleet: no history
        client.post(f"global-sims/{giccid}/deactivate").raise_for_status()
        client.put(
            f"global-sims/{giccid}/servicePackage", json={"servicePackageName": new_plan}
        ).raise_for_status()
        logs = client.get("global-sims/changeLogs", params={"giccid": giccid}).json()
        since_future = client.get(
            "global-sims/changeLogs", params={"since": "2999-01-01T00:00:00+0000"}
        )
        since_past = client.get("global-sims/changeLogs", params={"since": "2000-01-01T00:00:00Z"})
        bad_since = client.get("global-sims/changeLogs", params={"since": "yesterday"})
    assert [(log["changeType"], log["oldValue"], log["newValue"]) for log in logs] == [
        ("STATUS", "ACTIVATED", "DEACTIVATED"),
        ("SERVICE_PACKAGE", target["basicServicePackage"], new_plan),
    ]
    assert all(TIME.fullmatch(log["changedTime"]) and log["giccid"] == giccid for log in logs)
    assert since_future.json() == []
    assert since_future.headers["X-Total-Count"] == "0"
    assert len(since_past.json()) == 2
    assert assert_problem(bad_since, 422, "Validation Failed")["errors"][0]["field"] == "since"


def test_history_pages_like_the_list(sim: RunningSimulator) -> None:
    with api(sim) as client:
        giccids = [
            s["giccid"] for s in client.get("global-sims", params={"status": "ACTIVATED"}).json()
        ]
        for giccid in giccids[:12]:
            client.post(f"global-sims/{giccid}/deactivate").raise_for_status()
        first = client.get("global-sims/changeLogs", params={"size": 5})
        last = client.get(first.links["last"]["url"])
    assert first.headers["X-Total-Count"] == "12"
    assert len(first.json()) == 5
    assert len(last.json()) == 2
    assert "next" not in last.links


# ---- single writes ---------------------------------------------------------------------


def test_custom_fields_put_semantics(sim: RunningSimulator) -> None:
    giccid = first_sim(sim, status="ACTIVATED")["giccid"]
    path = f"global-sims/{giccid}/custom-field"
    with api(sim) as client:
        client.put(
            path, json={"custom1": "berlin", "custom2": "tag", "custom3": "c"}
        ).raise_for_status()
        response = client.put(path, json={"custom2": None, "custom4": "x" * 255})
        fields = client.get(path).json()
        too_long = client.put(path, json={"custom5": "x" * 256})
        wrong_type = client.put(path, json={"custom1": 5})
        unknown = client.put(path, json={"custom9": "a"})
        not_object = client.put(path, json=["custom1"])
        after_errors = client.get(path).json()
    assert response.json() == fields
    assert fields == {
        "custom1": "berlin",  # omitted: left alone
        "custom2": None,  # null: cleared
        "custom3": "c",
        "custom4": "x" * 255,
        "custom5": None,
    }
    error = assert_problem(too_long, 422, "Validation Failed")["errors"][0]
    assert (error["resource"], error["field"], error["code"]) == (
        "customFieldVO",
        "custom5",
        "invalid",
    )
    assert_problem(wrong_type, 400, "Bad Request")
    assert_problem(unknown, 422, "Validation Failed")
    assert (
        assert_problem(not_object, 400, "Bad Request")["detail"] == "Body should be a JSON object"
    )
    assert after_errors == fields


def test_basic_plan_change(sim: RunningSimulator) -> None:
    giccid = first_sim(sim, status="DEACTIVATED")["giccid"]
    path = f"global-sims/{giccid}/servicePackage"
    with api(sim) as client:
        ok = client.put(path, json={"servicePackageName": "IoT-Unlimited"})
        unknown = client.put(path, json={"servicePackageName": "IoT-99GB"})
        supplementary = client.put(path, json={"servicePackageName": "EU-Roaming-500MB"})
        other_enterprise = client.put(path, json={"servicePackageName": "Globex-Basic"})
        missing = client.put(path, json={})
        wrong_type = client.put(path, json={"servicePackageName": 1})
    assert ok.status_code == 200
    assert ok.json()["basicServicePackage"] == "IoT-Unlimited"
    for response in (unknown, supplementary, other_enterprise):
        assert assert_problem(response, 422, "Validation Failed")["errors"][0]["code"] == "invalid"
    assert assert_problem(missing, 422, "Validation Failed")["errors"][0]["code"] == "missing_field"
    assert_problem(wrong_type, 400, "Bad Request")


def test_supplementary_plans_only_on_activated_sims(sim: RunningSimulator) -> None:
    with api(sim) as client:
        candidates = client.get("global-sims", params={"status": "ACTIVATED", "size": 100}).json()
    active = next(s for s in candidates if not s["supplementaryServicePackages"])["giccid"]
    suspended = first_sim(sim, status="DEACTIVATED")["giccid"]
    body = {"servicePackageName": "US-Roaming-1GB"}
    with api(sim) as client:
        ok = client.post(f"global-sims/{active}/supplementaryServicePackages", json=body)
        again = client.post(f"global-sims/{active}/supplementaryServicePackages", json=body)
        basic = client.post(
            f"global-sims/{active}/supplementaryServicePackages",
            json={"servicePackageName": "IoT-1GB"},
        )
        not_active = client.post(f"global-sims/{suspended}/supplementaryServicePackages", json=body)
    assert ok.json()["supplementaryServicePackages"] == ["US-Roaming-1GB"]
    assert assert_problem(again, 422, "Validation Failed")["errors"][0]["code"] == "already_exists"
    assert assert_problem(basic, 422, "Validation Failed")["errors"][0]["code"] == "invalid"
    assert assert_problem(not_active, 422, "Validation Failed")["errors"][0]["code"] == (
        "illegal_status"
    )


def test_apn_status(sim: RunningSimulator) -> None:
    target = first_sim(sim, status="ACTIVATED")
    giccid = target["giccid"]
    path = f"global-sims/{giccid}/apnStatus"
    with api(sim) as client:
        ok = client.put(path, json={"apn": "iot.acme", "status": "DISABLED"})
        unknown_apn = client.put(path, json={"apn": "nope.acme", "status": "DISABLED"})
        bad_status = client.put(path, json={"apn": "iot.acme", "status": "OFF"})
        missing = client.put(path, json={"apn": "iot.acme"})
    assert {"apn": "iot.acme", "status": "DISABLED"} in ok.json()["apns"]
    assert assert_problem(unknown_apn, 422, "Validation Failed")["errors"][0]["field"] == "apn"
    assert assert_problem(bad_status, 422, "Validation Failed")["errors"][0]["field"] == "status"
    assert assert_problem(missing, 422, "Validation Failed")["errors"][0]["code"] == "missing_field"


# ---- malformed input -------------------------------------------------------------------


def test_invalid_json_is_400(shared: RunningSimulator) -> None:
    giccid = first_sim(shared)["giccid"]
    with api(shared) as client:
        for content in [b"{", b"", b"null", b"[1]", b"\xff\xfe", b"[" * 100_000]:
            response = client.put(f"global-sims/{giccid}/custom-field", content=content)
            assert_problem(response, 400, "Bad Request")


def test_a_huge_body_is_413(shared: RunningSimulator) -> None:
    giccid = first_sim(shared)["giccid"]
    with api(shared) as client:
        response = client.put(
            f"global-sims/{giccid}/custom-field",
            content=b'{"custom1": "' + b"x" * 2_000_000 + b'"}',
        )
    assert_problem(response, 413, "Payload Too Large")


def test_a_huge_chunked_body_is_413_too(shared: RunningSimulator) -> None:
    giccid = first_sim(shared)["giccid"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: sent chunked
        yield b'{"custom1": "'
        for _ in range(40):
            yield b"x" * 50_000
        yield b'"}'

    with api(shared) as client:
        response = client.put(f"global-sims/{giccid}/custom-field", content=chunks())
    assert_problem(response, 413, "Payload Too Large")


MALFORMED: list[tuple[str, str, dict[str, Any]]] = [
    ("GET", "global-sims?page=abc", {}),
    ("GET", "global-sims?page=0", {}),
    ("GET", "global-sims?size=-1", {}),
    ("GET", "global-sims?size=1e3", {}),
    ("GET", "global-sims?page=99999999999999999999", {}),
    ("GET", "global-sims?page=%00", {}),
    ("GET", "global-sims?status=%ff", {}),
    ("GET", "global-sims/changeLogs?since=2026-13-45T99:99:99Z", {}),
    ("GET", "global-sims/changeLogs?since=%20", {}),
    ("GET", "global-sims/changeLogs?giccid=%27%20OR%201=1", {}),
    ("GET", "global-sims/%27%3B%20DROP%20TABLE%20sims", {}),
    ("GET", "global-sims/" + "9" * 5000, {}),
    ("PUT", "global-sims/GICCID/custom-field", {"content": b'{"custom1": "a"'}),
    ("PUT", "global-sims/GICCID/servicePackage", {"json": {"servicePackageName": None}}),
    ("PUT", "global-sims/GICCID/servicePackage", {"json": {"servicePackageName": ["a"]}}),
    ("PUT", "global-sims/GICCID/apnStatus", {"json": {"apn": {}, "status": []}}),
    ("PUT", "global-sims/GICCID/custom-field", {"json": {"custom1": {"a": 1}}}),
    ("PUT", "global-sims/GICCID/custom-field", {"content": b'{"custom1": NaN}'}),
    ("PUT", "global-sims/GICCID/custom-field", {"content": b'{"custom1": "\\ud800"}'}),
    ("POST", "global-sims/GICCID/supplementaryServicePackages", {"json": 42}),
    ("POST", "batchJobs/global-sims/activate", {"json": {"giccids": "GICCID"}}),
    ("POST", "batchJobs/global-sims/activate", {"json": {"giccids": [1, 2]}}),
    ("POST", "batchJobs/global-sims/activate", {"json": {"giccids": [None]}}),
    ("POST", "batchJobs/global-sims/servicePackage", {"json": {"giccids": ["GICCID"]}}),
    ("POST", "batchJobs/global-sims/nonsense", {"json": {"giccids": ["GICCID"]}}),
    ("POST", "mt-sms", {"json": {"toGiccid": 5, "content": "hi"}}),
    ("POST", "mt-sms", {"json": {"toGiccid": "GICCID", "content": ""}}),
    ("POST", "mt-sms", {"json": {"toGiccid": "nope", "content": "hi"}}),
    ("GET", "batchJobs/%2e%2e", {}),
    ("GET", "global-sims/%ed%a0%80", {}),
    ("GET", "global-sims/changeLogs?giccid=%ed%a0%80", {}),
    ("PATCH", "global-sims/GICCID", {"json": {}}),
]


@pytest.mark.parametrize(("method", "path", "kwargs"), MALFORMED)
def test_malformed_requests_get_a_4xx_problem_never_a_500(
    shared: RunningSimulator, method: str, path: str, kwargs: dict[str, Any]
) -> None:
    giccid = first_sim(shared, status="DEACTIVATED")["giccid"]
    with api(shared) as client:
        response = client.request(method, path.replace("GICCID", giccid), **kwargs)
    assert 400 <= response.status_code < 500, response.text
    body = response.json()
    assert body["status"] == response.status_code
    assert body["title"]


# ---- rate limit ------------------------------------------------------------------------


class FakeWallClock:
    def __init__(self, now: float = 1_790_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_the_fixed_window_rate_limit(tmp_path: Path) -> None:
    clock = FakeWallClock()
    config = SimulatorConfig(
        db_path=tmp_path / "sim.db", sims=20, rate_limit=3, rate_window=60, clock=clock
    )
    with start_in_thread(config) as sim, api(sim) as client:
        answers = [client.get("enterprise") for _ in range(3)]
        clock.now += 10
        limited = client.get("global-sims")
        with api(sim, "other") as other:
            other_account = other.get("enterprise")
        with api(sim, "bad") as anonymous:
            anonymous.get("enterprise")  # a 401 spends nobody's budget
        clock.now += 50
        after_reset = client.get("enterprise")
        with admin(sim) as adm:
            counters = adm.get("counters").json()
    assert [r.headers["X-RateLimit-Remaining"] for r in answers] == ["2", "1", "0"]
    assert all(r.headers["X-RateLimit-Limit"] == "3" for r in answers)
    assert answers[0].headers["X-RateLimit-Reset"] == "60"
    body = assert_problem(limited, 429, "API rate limit exceeded")
    assert body == {"type": "about:blank", "title": "API rate limit exceeded", "status": 429}
    assert limited.headers["X-RateLimit-Remaining"] == "0"
    assert limited.headers["X-RateLimit-Reset"] == "50"
    assert other_account.status_code == 200  # per account
    assert after_reset.status_code == 200
    assert after_reset.headers["X-RateLimit-Remaining"] == "2"
    assert counters["rateLimited"] == 1


def test_admin_calls_spend_no_budget(sim: RunningSimulator) -> None:
    giccid = first_sim(sim)["giccid"]
    with api(sim) as client:
        before = int(client.get("enterprise").headers["X-RateLimit-Remaining"])
        with admin(sim) as adm:
            adm.patch(f"sims/{giccid}", json={"custom5": "behind your back"}).raise_for_status()
            adm.get("counters").raise_for_status()
        after = client.get(f"global-sims/{giccid}")
    assert after.json()["custom5"] == "behind your back"
    assert int(after.headers["X-RateLimit-Remaining"]) == before - 1


# ---- the rest of the catalogue -----------------------------------------------------------


def test_openapi_document_is_served_without_a_key_and_valid(shared: RunningSimulator) -> None:
    response = httpx.get(shared.url + "/openapi.json")
    assert response.status_code == 200
    document = response.json()
    validate(document)
    assert document["openapi"].startswith("3.")
    assert "/global-sims/{giccid}/retire" in document["paths"]


def test_enterprise_account_plans_pools_statistics(shared: RunningSimulator) -> None:
    with api(shared) as client:
        enterprise = client.get("enterprise").json()
        account = client.get("account/acme").json()
        plans = client.get("acme/servicePackages").json()
        pools = client.get("sharePools")
        stats = client.get("global-sims/statistics").json()
    with api(shared, "other") as client:
        other_plans = client.get("globex/servicePackages").json()
    assert enterprise["name"] == "Acme"
    assert account["name"] == "acme"
    assert {(p["name"], p["type"]) for p in plans} == {
        ("IoT-1GB", "BASIC"),
        ("IoT-5GB", "BASIC"),
        ("IoT-10GB", "BASIC"),
        ("IoT-Unlimited", "BASIC"),
        ("EU-Roaming-500MB", "SUPPLEMENTARY"),
        ("US-Roaming-1GB", "SUPPLEMENTARY"),
    }
    assert all(isinstance(p["prepaid"], bool) for p in plans)
    assert {(p["name"], p["type"]) for p in other_plans} == {
        ("Globex-Basic", "BASIC"),
        ("Globex-Roam", "SUPPLEMENTARY"),
    }
    assert pools.status_code == 200
    assert isinstance(pools.json(), list)
    assert stats["totalSims"] == 250
    assert sum(stats["simsByStatus"].values()) == 250


def test_mt_sms_send_and_status(tmp_path: Path) -> None:
    clock = FakeWallClock()
    with start_in_thread(SimulatorConfig(db_path=tmp_path / "s.db", sims=20, clock=clock)) as sim:
        active = first_sim(sim, status="ACTIVATED")["giccid"]
        with api(sim) as client:
            sent = client.post("mt-sms", json={"toGiccid": active, "content": "ping"})
            sms_id = sent.json()["smsMsgId"]
            pending = client.get(f"mt-sms/{sms_id}").json()["status"]
            clock.now += 2
            delivered = client.get(f"mt-sms/{sms_id}").json()["status"]
            with api(sim, "other") as other:
                foreign = other.get(f"mt-sms/{sms_id}")
    assert sent.status_code == 200
    assert (pending, delivered) == ("PENDING", "DELIVERED")
    assert_problem(foreign, 403, "Access forbidden")


def test_an_sms_to_an_unknown_sim_is_422_missing(shared: RunningSimulator) -> None:
    with api(shared) as client:
        response = client.post(
            "mt-sms", json={"toGiccid": "8944500000000999999", "content": "hello"}
        )
    error = assert_problem(response, 422, "Validation Failed")["errors"][0]
    assert (error["field"], error["code"]) == ("toGiccid", "missing")


def test_head_is_answered_like_get_without_a_body(shared: RunningSimulator) -> None:
    with api(shared) as client:
        head = client.head("global-sims", params={"size": 5})
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["X-Total-Count"] == "250"
    assert 'rel="next"' in head.headers["Link"]
