"""``fleetform webhook serve`` and ``fleetform drift`` on one live-state cache: the receiver
records each SIM a push made it re-read, drift takes it in (APN status, which no history
reports), and the two write at once without losing an update or failing on a lock."""

from __future__ import annotations

import json
import threading
import time

from reconciler.app import Connection
from reconciler.clock import SystemClock
from reconciler.commands.drift import DriftOptions, run_drift
from reconciler.commands.plan import PlanOptions, run_plan
from reconciler.reporting import RecordingReporter
from reconciler.simulator import giccid_for
from tests.integration.test_webhook_e2e import Running, running

__all__ = ["running"]  # the receiver fixture, shared with the end-to-end webhook tests


def drift(r: Running) -> tuple[int, dict[str, object], RecordingReporter]:
    out: list[str] = []
    reporter = RecordingReporter()
    code = run_drift(
        # verify_budget 0: no list slice, what drift knows of APN status came by push
        DriftOptions([r.state.parent / "fleet"], "json", verify_budget=0),
        connection=Connection(endpoint=r.sim.url, api_key=r.sim.api_key),
        reporter=reporter,
        write=out.append,
        clock=SystemClock(),
    )
    return code, json.loads("".join(out)), reporter


def test_pushes_reach_drift_through_the_shared_cache(running: Running) -> None:
    out: list[str] = []
    code = run_plan(
        PlanOptions(paths=[running.state.parent / "fleet"], fmt="json", detailed_exitcode=True),
        connection=Connection(endpoint=running.sim.url, api_key=running.sim.api_key),
        reporter=RecordingReporter(),
        write=out.append,
    )
    assert code == 0
    first, second = giccid_for(1), giccid_for(2)

    def toggle() -> None:
        for status in ("DISABLED", "ENABLED", "DISABLED", "ENABLED", "DISABLED"):
            running.admin.patch(
                f"/sims/{second}", json={"apns": [{"apn": "iot.acme", "status": status}]}
            ).raise_for_status()

    running.admin.patch(
        f"/sims/{first}", json={"apns": [{"apn": "iot.acme", "status": "DISABLED"}]}
    ).raise_for_status()
    pusher = threading.Thread(target=toggle)
    pusher.start()
    for _ in range(4):  # drift runs while the receiver records
        code, report, reporter = drift(running)
        assert reporter.warnings == []
        assert report["basis"]["mode"] == "incremental"  # type: ignore[index]
    pusher.join()
    running.sim.drain_pushes()
    expected = {
        first: [("apns[iot.acme]", "disabled")],
        second: [("apns[iot.acme]", "disabled")],
    }
    deadline = time.monotonic() + 10
    while True:  # the receiver's last check may still be on its way
        code, report, reporter = drift(running)
        drifted = {
            s["iccid"]: [(f["field"], f["live"]) for f in s["fields"]]  # type: ignore[index]
            for s in report["sims"]  # type: ignore[attr-defined]
        }
        if drifted == expected or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert code == 2 and drifted == expected, report
    assert report["basis"]["apn_status"]["last_push"] is not None  # type: ignore[index]
    assert report["requests_spent"] == 1  # one page of history, nothing else
