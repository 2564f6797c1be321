"""The receiver's HTTP behaviour, in process: every answer a push can get."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from reconciler.clock import FakeClock
from reconciler.reporting import RecordingReporter
from reconciler.webhook import ReceiverStack, build_app, build_receiver, sign
from reconciler.webhook.check import DriftRecord

KEY = "UzE4MDkxNDA2MTE1M"
NOW = 1725499848
GICCID = "8944500000000000017"


class Checks:
    """A check that records the SIMs it was asked about and finds no drift."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, giccid: str) -> DriftRecord | None:
        self.calls.append(giccid)
        return None


class AppClient:
    """A synchronous face over httpx.ASGITransport: each call runs the app in its own loop."""

    def __init__(self, app: Any) -> None:
        self._transport = httpx.ASGITransport(app=app, client=("192.0.2.7", 40000))

    def __enter__(self) -> AppClient:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        async def go() -> httpx.Response:
            async with httpx.AsyncClient(
                transport=self._transport, base_url="http://receiver"
            ) as client:
                response = await client.request(method, path, **kwargs)
                await response.aread()
                return response

        return anyio.run(go)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, **kwargs)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)


def event(**overrides: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "eventId": "ev-1",
        "eventType": "SIM_STATUS_CHANGE",
        "giccid": GICCID,
        "datePush": NOW,
        "signature": sign(KEY, NOW),
        "data": {"status": "DEACTIVATED"},
    }
    doc.update(overrides)
    return {k: v for k, v in doc.items() if v is not ...}


def build(
    tmp_path: Path, clock: FakeClock, reporter: RecordingReporter, **kw: Any
) -> ReceiverStack:
    return build_receiver(
        push_key=KEY,
        check=kw.pop("check", Checks()),
        state=tmp_path,
        reporter=reporter,
        clock=clock,
        **kw,
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(start=NOW)


@pytest.fixture
def reporter() -> RecordingReporter:
    return RecordingReporter()


@pytest.fixture
def stack(tmp_path: Path, clock: FakeClock, reporter: RecordingReporter) -> Iterator[ReceiverStack]:
    s = build(tmp_path, clock, reporter, max_body_bytes=4096)
    yield s
    s.close()


@pytest.fixture
def client(stack: ReceiverStack) -> Iterator[AppClient]:
    with AppClient(stack.app) as c:
        yield c


def assert_problem(response: Any, status: int, reason: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    doc: dict[str, Any] = response.json()
    assert doc["status"] == status
    assert doc["reason"] == reason
    assert doc["title"]
    assert KEY not in response.text
    return doc


def test_a_signed_current_event_is_accepted_and_queued(
    client: AppClient, stack: ReceiverStack
) -> None:
    response = client.post("/push", json=event())
    assert response.status_code == 200
    assert response.json() == {"status": "accepted", "eventId": "ev-1", "queued": True}
    assert len(stack.worker.queue) == 1


def test_the_contracts_check_vector_is_accepted_at_its_time(client: AppClient) -> None:
    sig = "58210277eeea982589a3f2c5711ce5ac23a866298d77fcb5c30bb1e0aa9c345f"
    response = client.post("/push", json=event(datePush=1725499848, signature=sig))
    assert response.status_code == 200


def test_wrong_signature_is_401(client: AppClient, reporter: RecordingReporter) -> None:
    response = client.post("/push", json=event(signature=sign("not-the-key", NOW)))
    assert_problem(response, 401, "bad_signature")
    assert any("bad_signature" in w for w in reporter.warnings)
    assert all(KEY not in w for w in reporter.warnings)


def test_missing_signature_is_401(client: AppClient) -> None:
    assert_problem(client.post("/push", json=event(signature=...)), 401, "missing_signature")


def test_a_date_push_an_hour_old_is_401(client: AppClient) -> None:
    old = NOW - 3600
    response = client.post("/push", json=event(datePush=old, signature=sign(KEY, old)))
    doc = assert_problem(response, 401, "stale")
    assert "3600 s old" in doc["detail"]


def test_a_replayed_event_id_is_acknowledged_not_processed(
    client: AppClient, stack: ReceiverStack
) -> None:
    first = client.post("/push", json=event())
    stack.worker.run_pending()
    again = client.post("/push", json=event())
    assert first.json()["status"] == "accepted"
    assert again.status_code == 200
    assert again.json() == {"status": "duplicate", "duplicate": True, "eventId": "ev-1"}
    assert stack.worker.run_pending() == 0
    snap = stack.metrics.snapshot()
    assert (snap.duplicates, snap.accepted, snap.checks) == (1, {"SIM_STATUS_CHANGE": 1}, 1)


def test_a_refused_event_does_not_burn_its_id(client: AppClient) -> None:
    assert client.post("/push", json=event(signature="0" * 64)).status_code == 401
    assert client.post("/push", json=event()).json()["status"] == "accepted"


def test_a_push_without_event_id_is_422_and_queues_nothing(
    client: AppClient, stack: ReceiverStack
) -> None:
    for _ in range(2):
        response = client.post("/push", json=event(eventId=...))
        doc = assert_problem(response, 422, "invalid_event")
        assert "eventId is required" in doc["detail"]
    assert stack.worker.run_pending() == 0
    assert stack.metrics.snapshot().refused == {"invalid_event": 2}


def test_a_replay_with_the_signature_recased_is_a_duplicate(
    client: AppClient, stack: ReceiverStack
) -> None:
    assert client.post("/push", json=event()).json()["status"] == "accepted"
    recased = event(signature=sign(KEY, NOW).upper())
    assert client.post("/push", json=recased).json()["status"] == "duplicate"
    assert stack.worker.run_pending() == 1


@pytest.mark.parametrize(
    ("content", "status", "reason"),
    [
        (b"{nope", 400, "bad_json"),
        (b"\x00\xff", 400, "bad_json"),
        (b'"a string"', 400, "bad_json"),
        (b"", 400, "bad_json"),
        (json.dumps(event(eventType="SIM_EXPLODED")).encode(), 422, "unknown_event_type"),
        (json.dumps(event(giccid=...)).encode(), 422, "invalid_event"),
        (json.dumps(event(datePush="yesterday")).encode(), 422, "invalid_event"),
        (json.dumps(event(data="x" * 5000)).encode(), 413, "body_too_large"),
    ],
)
def test_malformed_bodies_get_4xx_problems(
    client: AppClient, stack: ReceiverStack, content: bytes, status: int, reason: str
) -> None:
    response = client.post("/push", content=content, headers={"content-type": "application/json"})
    assert_problem(response, status, reason)
    assert stack.metrics.snapshot().refused == {reason: 1}


def test_a_body_over_the_limit_without_content_length_is_413(client: AppClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b" " * 1000

    assert_problem(client.post("/push", content=chunks()), 413, "body_too_large")


def test_the_path_names_the_event_type(client: AppClient) -> None:
    ok = client.post("/push/SIM_STATUS_CHANGE", json=event())
    assert ok.status_code == 200
    wrong = client.post("/push/SIM_APN_STATUS_CHANGE", json=event(eventId="ev-2"))
    assert_problem(wrong, 422, "event_type_mismatch")


def test_other_event_types_are_accepted_but_not_queued(
    client: AppClient, stack: ReceiverStack
) -> None:
    response = client.post("/push", json=event(eventType="IMEI_CHANGE"))
    assert response.json()["queued"] is False
    assert len(stack.worker.queue) == 0


def test_a_burst_for_one_sim_is_one_check(client: AppClient, stack: ReceiverStack) -> None:
    for i in range(20):
        assert client.post("/push", json=event(eventId=f"ev-{i}")).status_code == 200
    other = "8944500000000000025"
    client.post("/push", json=event(eventId="other", giccid=other))
    check = stack.worker._check
    assert isinstance(check, Checks)
    assert stack.worker.run_pending() == 2
    assert check.calls == [GICCID, other]
    snap = stack.metrics.snapshot()
    assert (snap.queued, snap.coalesced) == (2, 19)


def test_a_full_queue_answers_503_and_keeps_the_id_unrecorded(
    tmp_path: Path, clock: FakeClock, reporter: RecordingReporter
) -> None:
    stack = build(tmp_path, clock, reporter, max_pending=1)
    try:
        with AppClient(stack.app) as client:
            assert client.post("/push", json=event()).status_code == 200
            # the same SIM folds into the pending check: no room needed
            assert client.post("/push", json=event(eventId="ev-2")).status_code == 200
            other = event(eventId="ev-3", giccid="8944500000000000025")
            full = client.post("/push", json=other)
            assert full.status_code == 503
            assert full.headers["retry-after"] == "60"
            stack.worker.run_pending()
            assert client.post("/push", json=other).json()["status"] == "accepted"
            # the queue is full again (SIM ...025 pending); a replay of ev-1 (SIM ...017) is
            # still acknowledged as a duplicate, not refused
            assert client.post("/push", json=event()).json()["status"] == "duplicate"
    finally:
        stack.close()


def test_unknown_routes_and_methods_are_problem_documents(client: AppClient) -> None:
    missing = client.get("/nope")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    wrong = client.get("/push")
    assert wrong.status_code == 405
    assert wrong.json()["status"] == 405


def test_healthz(client: AppClient, stack: ReceiverStack) -> None:
    # the worker thread is not started in these tests: healthz says so
    assert client.get("/healthz").status_code == 503
    stack.start()
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "queue": 0}


def test_metrics_in_prometheus_text_format(client: AppClient, stack: ReceiverStack) -> None:
    client.post("/push", json=event())
    client.post("/push", json=event())
    client.post("/push", json=event(signature="0" * 64))
    client.post("/push", content=b"{")
    stack.worker.run_pending()
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    lines = set(response.text.splitlines())
    assert "fleetform_webhook_events_received_total 4" in lines
    assert 'fleetform_webhook_events_accepted_total{event_type="SIM_STATUS_CHANGE"} 1' in lines
    assert 'fleetform_webhook_events_refused_total{reason="bad_signature"} 1' in lines
    assert 'fleetform_webhook_events_refused_total{reason="bad_json"} 1' in lines
    assert "fleetform_webhook_events_duplicate_total 1" in lines
    assert "fleetform_webhook_checks_total 1" in lines
    assert "fleetform_webhook_drift_found_total 0" in lines
    assert "fleetform_webhook_queue_depth 0" in lines
    assert "# TYPE fleetform_webhook_events_refused_total counter" in lines


def test_seen_ids_survive_a_restart(
    tmp_path: Path, clock: FakeClock, reporter: RecordingReporter
) -> None:
    first = build(tmp_path, clock, reporter)
    with AppClient(first.app) as client:
        assert client.post("/push", json=event()).json()["status"] == "accepted"
    first.close()
    second = build(tmp_path, clock, reporter)
    try:
        with AppClient(second.app) as client:
            assert client.post("/push", json=event()).json()["status"] == "duplicate"
    finally:
        second.close()


def test_refusals_are_logged_at_most_burst_per_window_then_summed_up(
    tmp_path: Path, clock: FakeClock, reporter: RecordingReporter
) -> None:
    stack = build(tmp_path, clock, reporter)
    stack.receiver.refusal_log_burst = 3
    app = build_app(stack.receiver)
    try:
        client = AppClient(app)
        for _ in range(10):
            client.post("/push", json=event(signature="0" * 64))
        assert len(reporter.warnings) == 3
        clock.advance(60)
        client.post("/push", json=event(signature="0" * 64))
        assert reporter.warnings[3] == (
            "webhook: 7 more refused push(es) not logged in the last 60 s (counted in /metrics)"
        )
        assert len(reporter.warnings) == 5
        assert stack.metrics.snapshot().refused == {"bad_signature": 11}
    finally:
        stack.close()


def test_a_broken_dedupe_store_answers_503_not_a_crash(
    client: AppClient, stack: ReceiverStack, reporter: RecordingReporter
) -> None:
    stack.store.close()
    response = client.post("/push", json=event())
    doc = assert_problem(response, 503, "store_unavailable")
    assert "detail" not in doc
    assert any("dedupe store" in w for w in reporter.warnings)
