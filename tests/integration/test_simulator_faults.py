"""Simulator faults, redirects, pushes and the admin endpoints, over real sockets."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from reconciler.simulator import Redirect, RunningSimulator, push_signature

StartSim = Callable[..., RunningSimulator]


class Receiver:
    """A tiny push receiver on a free port that records what it was sent."""

    def __init__(self, status: int = 200) -> None:
        self.received: list[tuple[str, dict[str, Any]]] = []
        self.arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length))
                with receiver.arrived:
                    receiver.received.append((self.path, body))
                    receiver.arrived.notify_all()
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def wait_for(self, count: int, timeout: float = 5.0) -> list[tuple[str, dict[str, Any]]]:
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.received) >= count, timeout)
            return list(self.received)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def api(sim: RunningSimulator) -> httpx.Client:
    return httpx.Client(
        base_url=sim.url + "/", headers={"X-API-Key": sim.api_key}, timeout=10, verify=False
    )


def admin(sim: RunningSimulator, key: str | None = None) -> httpx.Client:
    return httpx.Client(
        base_url=sim.admin_url + "/",
        headers={"X-API-Key": key if key is not None else sim.api_key},
        timeout=10,
        verify=False,
    )


def one_sim(sim: RunningSimulator, status: str) -> dict[str, Any]:
    with api(sim) as client:
        return client.get("global-sims", params={"status": status, "size": 1}).json()[0]  # type: ignore[no-any-return]


# ---- pushes ----------------------------------------------------------------------------


def test_the_contract_check_vector() -> None:
    assert push_signature("UzE4MDkxNDA2MTE1M", 1725499848) == (
        "58210277eeea982589a3f2c5711ce5ac23a866298d77fcb5c30bb1e0aa9c345f"
    )


def test_status_and_apn_changes_are_pushed_signed(
    sim_factory: StartSim, receiver: Receiver
) -> None:
    sim = sim_factory(
        sims=50,
        job_delay=0.02,
        push_key="secret-push-key",
        push_urls={
            "SIM_STATUS_CHANGE": receiver.url + "/push/status",
            "SIM_APN_STATUS_CHANGE": receiver.url + "/push/apn",
        },
    )
    target = one_sim(sim, "ACTIVATED")
    giccid = target["giccid"]
    with api(sim) as client:
        client.post(f"global-sims/{giccid}/deactivate").raise_for_status()
        client.put(
            f"global-sims/{giccid}/apnStatus", json={"apn": "iot.acme", "status": "DISABLED"}
        ).raise_for_status()
        client.put(f"global-sims/{giccid}/custom-field", json={"custom1": "x"}).raise_for_status()
    got = receiver.wait_for(2)
    sim.drain_pushes()
    assert len(receiver.received) == 2  # a custom field change is not an event
    paths = [path for path, _ in got]
    assert paths == ["/push/status", "/push/apn"]
    status_event, apn_event = (body for _, body in got)
    for event in (status_event, apn_event):
        assert set(event) == {"eventId", "eventType", "giccid", "datePush", "signature", "data"}
        assert event["giccid"] == giccid
        assert abs(event["datePush"] - time.time()) < 60
        expected = hashlib.sha256(f"secret-push-key{event['datePush']}".encode()).hexdigest()
        assert event["signature"] == expected
    assert status_event["eventType"] == "SIM_STATUS_CHANGE"
    assert status_event["data"]["oldStatus"] == "ACTIVATED"
    assert status_event["data"]["newStatus"] == "DEACTIVATED"
    assert apn_event["eventType"] == "SIM_APN_STATUS_CHANGE"
    assert apn_event["data"]["apn"] == "iot.acme"
    assert apn_event["data"]["newStatus"] == "DISABLED"
    assert status_event["eventId"] != apn_event["eventId"]


def test_batch_jobs_and_admin_edits_push_too(sim_factory: StartSim, receiver: Receiver) -> None:
    sim = sim_factory(sims=50, job_delay=0.02, push_urls={"*": receiver.url})
    with api(sim) as client:
        giccids = [
            s["giccid"]
            for s in client.get("global-sims", params={"status": "ACTIVATED", "size": 3}).json()
        ]
        client.post("batchJobs/global-sims/deactivate", json={"giccids": giccids[:2]})
    with admin(sim) as adm:
        adm.patch(f"sims/{giccids[2]}", json={"status": "INVENTORY"}).raise_for_status()
    got = receiver.wait_for(3)
    assert sorted(body["giccid"] for _, body in got) == sorted(giccids)
    assert {body["eventType"] for _, body in got} == {"SIM_STATUS_CHANGE"}


def test_a_dead_push_url_never_fails_or_blocks_a_request(sim_factory: StartSim) -> None:
    sim = sim_factory(sims=50, push_urls={"*": "http://127.0.0.1:9/nothing-listens"})
    giccid = one_sim(sim, "ACTIVATED")["giccid"]
    with api(sim) as client:
        response = client.post(f"global-sims/{giccid}/deactivate")
    sim.drain_pushes()
    assert response.status_code == 200
    assert sim.counters()["pushesFailed"] == 1


def test_push_urls_can_be_set_at_run_time(sim_factory: StartSim, receiver: Receiver) -> None:
    sim = sim_factory(sims=50)
    with admin(sim) as adm:
        faults = adm.post("faults", json={"pushUrls": {"*": receiver.url}, "pushKey": "k2"})
    giccid = one_sim(sim, "ACTIVATED")["giccid"]
    with api(sim) as client:
        client.post(f"global-sims/{giccid}/deactivate").raise_for_status()
    (_, body), *_ = receiver.wait_for(1)
    assert faults.json()["pushKeySet"] is True
    assert "k2" not in faults.text  # the key is never shown
    assert body["signature"] == push_signature("k2", body["datePush"])


# ---- faults ----------------------------------------------------------------------------


def test_dropped_connections_get_no_answer(sim_factory: StartSim) -> None:
    sim = sim_factory(sims=20, drop_rate=1.0)
    with api(sim) as client, pytest.raises(httpx.TransportError):
        client.get("enterprise")
    with admin(sim) as adm:
        adm.post("faults", json={"dropRate": 0}).raise_for_status()
    with api(sim) as client:
        response = client.get("enterprise")
    assert response.status_code == 200
    assert response.headers["X-RateLimit-Remaining"] == "4999"  # the drop cost nothing
    assert sim.counters()["dropped"] == 1


def test_injected_errors_are_503_problems_that_spend_no_budget(sim_factory: StartSim) -> None:
    sim = sim_factory(sims=20, error_rate=1.0)
    with api(sim) as client:
        failed = [client.get("enterprise") for _ in range(3)]
    for response in failed:
        assert response.status_code == 503
        assert response.json()["status"] == 503
        assert response.headers["X-RateLimit-Remaining"] == "5000"
    with admin(sim) as adm:
        adm.post("faults", json={"errorRate": 0.0}).raise_for_status()
    with api(sim) as client:
        assert client.get("enterprise").status_code == 200


def test_some_errors_at_a_partial_rate(sim_factory: StartSim) -> None:
    sim = sim_factory(sims=20, error_rate=0.5)
    with api(sim) as client:
        codes = [client.get("enterprise").status_code for _ in range(60)]
    assert set(codes) == {200, 503}


def test_latency_is_added_per_request(sim_factory: StartSim) -> None:
    sim = sim_factory(sims=20)
    with admin(sim) as adm:
        adm.post("faults", json={"latency": 0.15}).raise_for_status()
    with api(sim) as client:
        started = time.monotonic()
        client.get("enterprise").raise_for_status()
        elapsed = time.monotonic() - started
    assert elapsed >= 0.15


def test_a_path_redirect_to_this_server(sim_factory: StartSim) -> None:
    sim = sim_factory(sims=20, redirects=(Redirect("/old/v1", 301, "/v1"),))
    old_base = sim.url.replace("/v1", "/old/v1")
    headers = {"X-API-Key": sim.api_key}
    moved = httpx.get(old_base + "/global-sims?size=2", headers=headers)
    followed = httpx.get(old_base + "/global-sims?size=2", headers=headers, follow_redirects=True)
    assert moved.status_code == 301
    assert moved.headers["Location"] == sim.url + "/global-sims?size=2"
    assert followed.status_code == 200
    assert len(followed.json()) == 2


def test_a_temporary_redirect_to_another_host_a_limited_number_of_times(
    sim_factory: StartSim,
) -> None:
    sim = sim_factory(sims=20)
    other = "http://127.0.0.2:8081/v1"
    with admin(sim) as adm:
        adm.post(
            "faults",
            json={
                "redirects": [
                    {
                        "pathPrefix": "/v1/global-sims",
                        "status": 307,
                        "target": other + "/x",
                        "times": 1,
                    }
                ]
            },
        ).raise_for_status()
    with api(sim) as client:
        first = client.post("global-sims/123/activate")
        second = client.post("global-sims/123/activate")
    assert first.status_code == 307
    assert first.headers["Location"] == other + "/x/123/activate"
    assert second.status_code == 404  # served normally once the redirect is used up


def test_bad_fault_settings_are_422(sim_factory: StartSim) -> None:
    sim = sim_factory(sims=20)
    with admin(sim) as adm:
        for body in (
            {"errorRate": 2},
            {"latency": "slow"},
            {"redirects": [{"pathPrefix": "x", "status": 301, "target": "/v1"}]},
            {"redirects": [{"pathPrefix": "/x", "status": 200, "target": "/v1"}]},
            {"pushUrls": ["http://x"]},
            {"nonsense": 1},
        ):
            response = adm.post("faults", json=body)
            assert response.status_code == 422, body
        current = adm.get("faults").json()
    assert current["errorRate"] == 0.0
    assert current["redirects"] == []


# ---- admin -----------------------------------------------------------------------------


def test_admin_needs_a_key(sim_factory: StartSim) -> None:
    sim = sim_factory(sims=20)
    with admin(sim, key="") as adm:
        assert adm.get("counters").status_code == 401
    with admin(sim, key="wrong") as adm:
        assert adm.get("faults").status_code == 401


def test_admin_patch_changes_a_sim_behind_fleetforms_back(sim_factory: StartSim) -> None:
    sim = sim_factory(sims=20)
    target = one_sim(sim, "ACTIVATED")
    giccid = target["giccid"]
    with admin(sim) as adm:
        patched = adm.patch(
            f"sims/{giccid}",
            json={
                "status": "DEACTIVATED",
                "basicServicePackage": "IoT-10GB",
                "apns": [{"apn": "iot.acme", "status": "DISABLED"}],
                "custom3": "moved",
                "imei": "356938035643809",
            },
        )
        bad_bodies: list[dict[str, Any]] = [
            {"status": "ASLEEP"},
            {"custom1": 3},
            {"giccid": "x"},
            {"apns": [{}]},
        ]
        bad = [adm.patch(f"sims/{giccid}", json=body) for body in bad_bodies]
        unknown = adm.patch("sims/123", json={"custom1": "x"})
    with api(sim) as client:
        live = client.get(f"global-sims/{giccid}").json()
        history = client.get("global-sims/changeLogs", params={"giccid": giccid}).json()
    assert patched.status_code == 200
    assert live["status"] == "DEACTIVATED"
    assert live["basicServicePackage"] == "IoT-10GB"
    assert live["apns"] == [{"apn": "iot.acme", "status": "DISABLED"}]
    assert live["custom3"] == "moved"
    assert {h["changeType"] for h in history} == {"STATUS", "SERVICE_PACKAGE", "IMEI"}
    assert all(r.status_code == 422 for r in bad)
    assert unknown.status_code == 404


def test_counters_count_requests_and_429s(sim_factory: StartSim) -> None:
    sim = sim_factory(sims=20, rate_limit=2)
    with api(sim) as client:
        codes = [client.get("enterprise").status_code for _ in range(4)]
    with admin(sim) as adm:
        counters = adm.get("counters").json()
        adm.post("rate-limit/reset").raise_for_status()
        reset = adm.post("counters/reset").json()
    with api(sim) as client:
        assert client.get("enterprise").status_code == 200
    assert codes == [200, 200, 429, 429]
    assert counters["requests"] == 4
    assert counters["rateLimited"] == 2
    assert counters["status429"] == 2
    assert reset == {}
