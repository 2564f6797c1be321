"""The receiver on a real uvicorn socket: slow and stalled clients do not hold up the others,
a stalled body is cut off with 408, an oversized one with 413, and the server answers while
many connections are open."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from reconciler.clock import SystemClock
from reconciler.reporting import RecordingReporter
from reconciler.webhook import ReceiverStack, RunningServer, build_receiver, sign, start_server
from reconciler.webhook.check import DriftRecord

KEY = "socket-test-key"
GICCID = "8944500000000000014"


def no_drift(giccid: str) -> DriftRecord | None:
    return None


@pytest.fixture
def served(
    tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[tuple[ReceiverStack, RunningServer]]:
    stack = build_receiver(
        push_key=KEY,
        check=no_drift,
        state=tmp_path,
        reporter=RecordingReporter(),
        clock=SystemClock(),
        max_body_bytes=2048,
        body_timeout_seconds=getattr(request, "param", 0.3),
    )
    stack.start()
    running = start_server(stack.app)
    yield stack, running
    running.stop()
    stack.close()


def signed(event_id: str) -> bytes:
    now = int(time.time())
    doc = {
        "eventId": event_id,
        "eventType": "SIM_STATUS_CHANGE",
        "giccid": GICCID,
        "datePush": now,
        "signature": sign(KEY, now),
    }
    return json.dumps(doc).encode()


def raw_request(url: str, body_part: bytes, declared: int) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=5)
    head = (
        f"POST /push HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {declared}\r\n\r\n"
    ).encode()
    sock.sendall(head + body_part)
    return sock


def status_of(sock: socket.socket) -> int:
    data = b""
    while b"\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return int(data.split(b" ", 2)[1])


def test_a_stalled_body_is_cut_off_with_408(
    served: tuple[ReceiverStack, RunningServer],
) -> None:
    stack, running = served
    body = signed("stalled")
    sock = raw_request(running.url, body[:20], len(body))
    started = time.monotonic()
    try:
        assert status_of(sock) == 408
    finally:
        sock.close()
    assert time.monotonic() - started < 3
    assert stack.metrics.snapshot().refused == {"body_timeout": 1}


@pytest.mark.parametrize("served", [3.0], indirect=True)  # a margin a busy machine keeps
def test_stalled_clients_do_not_hold_up_a_good_push(
    served: tuple[ReceiverStack, RunningServer],
) -> None:
    _, running = served
    body = signed("x")
    stalled = [raw_request(running.url, body[:10], len(body)) for _ in range(100)]
    try:
        started = time.monotonic()
        response = httpx.post(f"{running.url}/push", content=signed("good"))
        elapsed = time.monotonic() - started
        assert response.status_code == 200
        assert response.json()["status"] == "accepted"
        assert elapsed < 2.0  # answered long before the stalled ones time out (3 s)
    finally:
        for sock in stalled:
            sock.close()


def test_an_oversized_declared_body_is_413_before_it_is_read(
    served: tuple[ReceiverStack, RunningServer],
) -> None:
    _, running = served
    sock = raw_request(running.url, b"{", 10_000_000)
    try:
        assert status_of(sock) == 413
    finally:
        sock.close()


def test_concurrent_pushes_are_all_answered(
    served: tuple[ReceiverStack, RunningServer],
) -> None:
    stack, running = served

    with httpx.Client(base_url=running.url) as client, ThreadPoolExecutor(10) as pool:
        statuses = list(
            pool.map(lambda i: client.post("/push", content=signed(f"c{i}")).status_code, range(50))
        )
    assert statuses == [200] * 50
    snap = stack.metrics.snapshot()
    assert snap.accepted == {"SIM_STATUS_CHANGE": 50}
    assert snap.queued + snap.coalesced == 50
    assert snap.queued < 50  # one SIM: the burst folded
