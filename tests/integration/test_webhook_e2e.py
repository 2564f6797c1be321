"""End to end over real sockets both ways: simulator → receiver (signed pushes), receiver →
simulator (the re-read). A SIM changed behind fleetform's back shows as drift within seconds."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.app import Connection
from reconciler.reporting import RecordingReporter
from reconciler.simulator import RunningSimulator, giccid_for
from reconciler.webhook import ServeOptions, serve, sign

PUSH_KEY = "UzE4MDkxNDA2MTE1M"


def fleet_yaml(iccids: list[str]) -> str:
    sims = "\n".join(f'    - "{i}"' for i in iccids)
    return f"""\
apiVersion: fleetform/v1
kind: Fleet
metadata: {{name: e2e}}
spec:
  account: acme
  unmanaged: ignore
---
apiVersion: fleetform/v1
kind: SimGroup
metadata: {{name: watched}}
spec:
  state: active
  apns: {{iot.acme: enabled}}
  sims:
{sims}
"""


@dataclass
class Lines:
    items: list[str] = field(default_factory=list)
    cond: threading.Condition = field(default_factory=threading.Condition)

    def __call__(self, line: str) -> None:
        with self.cond:
            self.items.append(line)
            self.cond.notify_all()

    def wait_for(self, predicate: Callable[[list[str]], bool], timeout: float) -> bool:
        with self.cond:
            return self.cond.wait_for(lambda: predicate(self.items), timeout)


@dataclass
class Running:
    url: str
    sim: RunningSimulator
    lines: Lines
    reporter: RecordingReporter
    state: Path
    admin: httpx.Client


@pytest.fixture
def running(
    sim_factory: Callable[..., RunningSimulator],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Running]:
    sim = sim_factory(sims=20, job_delay=0.05, push_key=PUSH_KEY)
    admin = httpx.Client(base_url=sim.admin_url, headers={"X-API-Key": sim.api_key})
    watched = [giccid_for(i) for i in (0, 1, 2)]
    for iccid in watched:  # make git and live agree before pushes are switched on
        r = admin.patch(
            f"/sims/{iccid}",
            json={"status": "ACTIVATED", "apns": [{"apn": "iot.acme", "status": "ENABLED"}]},
        )
        r.raise_for_status()
    manifests = tmp_path / "fleet"
    manifests.mkdir()
    (manifests / "fleet.yaml").write_text(fleet_yaml(watched))
    state = tmp_path / "state"
    monkeypatch.setenv("FLEETFORM_STATE_DIR", str(state))

    lines = Lines()
    reporter = RecordingReporter()
    ready: list[str] = []
    stop = threading.Event()
    started = threading.Event()

    def on_ready(url: str) -> None:
        ready.append(url)
        started.set()

    options = ServeOptions(paths=(manifests,), push_key=PUSH_KEY, port=0, debounce_seconds=0.25)
    result: list[Any] = []
    thread = threading.Thread(
        target=lambda: result.append(
            serve(
                options,
                Connection(endpoint=sim.url, api_key=sim.api_key),
                reporter,
                lines,
                stop=stop,
                on_ready=on_ready,
            )
        )
    )
    thread.start()
    try:
        assert started.wait(10), reporter.warnings
        url = ready[0]
        faults = {
            "pushUrls": {
                "SIM_STATUS_CHANGE": f"{url}/push/SIM_STATUS_CHANGE",
                "SIM_APN_STATUS_CHANGE": f"{url}/push/SIM_APN_STATUS_CHANGE",
            }
        }
        admin.post("/faults", json=faults).raise_for_status()
        yield Running(url, sim, lines, reporter, state, admin)
    finally:
        stop.set()
        thread.join(15)
        admin.close()
    assert result == [0]


def test_a_status_change_behind_our_back_is_drift_within_5_seconds(running: Running) -> None:
    iccid = giccid_for(1)
    started = time.monotonic()
    running.admin.patch(f"/sims/{iccid}", json={"status": "DEACTIVATED"}).raise_for_status()
    assert running.lines.wait_for(lambda items: any(iccid in x for x in items), timeout=5)
    elapsed = time.monotonic() - started
    assert elapsed < 5
    assert running.lines.items == [
        f"drift {iccid} (group watched): state: git active, live suspended"
    ]
    records = [json.loads(x) for x in (running.state / "drift.jsonl").read_text().splitlines()]
    assert [(r["iccid"], r["kind"], r["fields"][0]["live"]) for r in records] == [
        (iccid, "drift", "suspended")
    ]
    assert records[0]["eventTypes"] == ["SIM_STATUS_CHANGE"]

    metrics = httpx.get(f"{running.url}/metrics").text
    assert 'fleetform_webhook_events_accepted_total{event_type="SIM_STATUS_CHANGE"} 1' in metrics
    assert "fleetform_webhook_drift_found_total 1" in metrics
    assert "fleetform_webhook_api_requests_total 1" in metrics


def test_an_apn_change_and_a_status_change_fold_into_one_read(running: Running) -> None:
    iccid = giccid_for(2)
    running.admin.patch(
        f"/sims/{iccid}",
        json={"status": "DEACTIVATED", "apns": [{"apn": "iot.acme", "status": "DISABLED"}]},
    ).raise_for_status()
    assert running.lines.wait_for(lambda items: len(items) >= 1, timeout=5)
    running.sim.drain_pushes()
    metrics = httpx.get(f"{running.url}/metrics").text.splitlines()
    assert "fleetform_webhook_events_coalesced_total 1" in metrics
    assert "fleetform_webhook_checks_total 1" in metrics
    assert running.lines.items == [
        f"drift {iccid} (group watched): state: git active, live suspended; "
        "apns[iot.acme]: git enabled, live disabled"
    ]
    assert running.sim.counters()["pushesDelivered"] == 2


def test_healthz_and_a_forged_push_over_the_socket(running: Running) -> None:
    assert httpx.get(f"{running.url}/healthz").json()["status"] == "ok"
    now = int(time.time())
    forged = {
        "eventId": "forged",
        "eventType": "SIM_STATUS_CHANGE",
        "giccid": giccid_for(0),
        "datePush": now,
        "signature": sign("guessed-key", now),
    }
    response = httpx.post(f"{running.url}/push", json=forged)
    assert response.status_code == 401
    assert response.json()["reason"] == "bad_signature"
    assert any("bad_signature" in w for w in running.reporter.warnings)
    assert PUSH_KEY not in " ".join(running.reporter.warnings + running.reporter.infos)
