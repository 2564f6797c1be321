"""Rollout against the real simulator over a socket: a step failing over ``maxFailed``, a
status change behind fleetform's back during the soak (seen live, or only by the push
receiver), a gate that times out, and the gate's report.

The soak is a ``SoakClock``: short waits (batch job polls) are real, long ones (the soak) are
recorded and skipped, running a hook that plays what happens during the soak."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.clock import SystemClock
from reconciler.commands.apply import ApplyOptions, apply_exit_code, apply_plan
from reconciler.journal import iter_journal_lines
from reconciler.model import ApplyReport, Outcome
from reconciler.render.apply_json import render_apply_json
from reconciler.reporting import RecordingReporter
from reconciler.simulator import RunningSimulator
from reconciler.simulator.fleet import seed_fleet
from reconciler.smarthub.client import SmartHubClient
from tests.fakes import Admin, write_fleet

FAST = {"poll_initial": 0.05, "poll_max": 0.2, "orphan_grace": 0.5}
SOAK = 600.0  # "10m": never really waited here
# acme SIMs of the seeded fleet (sims=250) that can take a new basic plan
CHANGEABLE = [s.giccid for s in seed_fleet(250, 1) if s.account == "acme" and s.status != "RETIRED"]
SIMS = CHANGEABLE[:100]


class SoakClock(SystemClock):
    """Real time, except waits of a minute or more: recorded, skipped (time moves on), and
    ``during_soak`` is called instead."""

    def __init__(self, during_soak: Callable[[], None] = lambda: None) -> None:
        self.offset = 0.0
        self.soaks: list[float] = []
        self.during_soak = during_soak

    def now(self) -> float:
        return time.time() + self.offset

    def monotonic(self) -> float:
        return time.monotonic() + self.offset

    def sleep(self, seconds: float) -> None:
        if seconds < 60:
            super().sleep(seconds)
            return
        self.soaks.append(seconds)
        self.offset += seconds
        self.during_soak()


def manifests(directory: Path, rollout: dict[str, Any]) -> Path:
    path = write_fleet(
        directory,
        {
            "north": {"ratePlan": "IoT-Unlimited", "sims": SIMS[:50]},
            "south": {"ratePlan": "IoT-Unlimited", "sims": SIMS[50:]},
        },
    )
    text = (path / "fleet.yaml").read_text(encoding="utf-8")
    text = text.replace("  guards:", f"  rollout: {json.dumps(rollout)}\n  guards:", 1)
    (path / "fleet.yaml").write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def client_for() -> Iterator[Callable[..., SmartHubClient]]:
    clients: list[SmartHubClient] = []

    def make(sim: RunningSimulator) -> SmartHubClient:
        client = SmartHubClient(sim.url, sim.api_key)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def apply(
    api: SmartHubClient, tmp_path: Path, clock: SoakClock, **options: Any
) -> tuple[ApplyReport, RecordingReporter]:
    reporter = RecordingReporter()
    report = apply_plan(
        api,
        ApplyOptions(**{"auto_approve": True, **FAST, **options}),
        reporter,
        state_dir=tmp_path / "state",
        clock=clock,
    )
    return report, reporter


def done(report: ApplyReport) -> int:
    return report.count(Outcome.DONE)


def journal_kinds(tmp_path: Path) -> list[dict[str, Any]]:
    journal = next((tmp_path / "state" / "journal").glob("*.jsonl"))
    return list(iter_journal_lines(journal))


def first_job(tmp_path: Path) -> list[str]:
    """The SIMs of the first batch job the apply journaled (the canary step's)."""
    return next(r for r in journal_kinds(tmp_path) if r["kind"] == "job")["iccids"]  # type: ignore[no-any-return]


def canaries(report: ApplyReport) -> list[str]:
    return [s.iccid for step in report.steps for s in step.sims if s.outcome is Outcome.DONE]


def test_a_step_failing_over_max_failed_stops_the_rollout(
    sim: RunningSimulator, client_for: Callable[..., SmartHubClient], tmp_path: Path
) -> None:
    path = manifests(tmp_path / "m", {"steps": ["10%", "100%"], "soak": "10m"})
    httpx.post(
        f"{sim.admin_url}/faults",
        json={"batchFailureRate": 1.0},
        headers={"X-API-Key": sim.api_key},
    ).raise_for_status()
    clock = SoakClock()
    report, _ = apply(client_for(sim), tmp_path, clock, paths=(path,))
    assert apply_exit_code(report) == 3
    assert report.stopped is not None
    assert "rollout stopped after step w1-r1" in report.stopped
    assert report.rollout_stopped_at == "w1-r1"
    assert json.loads(render_apply_json(report))["rollout_stopped_at"] == "w1-r1"
    assert "10 of 10 SIMs failed (100.0%), more than maxFailed 0.0%" in report.stopped
    assert report.count(Outcome.FAILED) == 10
    assert report.count(Outcome.NOT_RUN) == 90  # the 100% step never ran
    held = {s.reason for step in report.steps for s in step.sims if s.outcome is Outcome.NOT_RUN}
    assert held == {"held back: the rollout stopped after step w1-r1"}
    assert clock.soaks == pytest.approx([SOAK], abs=5)
    records = journal_kinds(tmp_path)
    assert [r["stage"] for r in records if r["kind"] == "stage_stopped"] == ["w1-r1"]


def test_max_failed_lets_a_few_failures_pass_and_stops_on_more(
    sim: RunningSimulator, client_for: Callable[..., SmartHubClient], tmp_path: Path
) -> None:
    """During the soak someone sets canaries back to their old plan: they no longer hold the
    target. 1 of 10 is within maxFailed 10%; 2 of 10 are not."""
    admin = Admin(sim)

    def revert(state: Path, count: int) -> Callable[[], None]:
        def during() -> None:
            for iccid in first_job(state)[:count]:
                admin.patch_sim(iccid, basicServicePackage="IoT-1GB")

        return during

    path = manifests(tmp_path / "m", {"steps": ["10%", "100%"], "soak": "10m", "maxFailed": "10%"})
    clock = SoakClock(revert(tmp_path / "a", 1))
    report, reporter = apply(client_for(sim), tmp_path / "a", clock, paths=(path,))
    assert report.complete, report.stopped
    assert any("w1-r1 passed its checks" in m for m in reporter.infos)

    path = manifests(tmp_path / "m2", {"steps": ["10%", "100%"], "soak": "10m", "maxFailed": "10%"})
    (path / "fleet.yaml").write_text(
        (path / "fleet.yaml").read_text().replace("IoT-Unlimited", "IoT-10GB"), encoding="utf-8"
    )
    clock = SoakClock(revert(tmp_path / "b", 2))
    report, _ = apply(client_for(sim), tmp_path / "b", clock, paths=(path,))
    admin.close()
    assert apply_exit_code(report) == 3
    assert report.stopped is not None
    assert "2 of 10 SIMs failed (20.0%), more than maxFailed 10.0%" in report.stopped
    assert "ratePlan is IoT-1GB, not IoT-10GB" in report.stopped


def test_a_status_change_during_the_soak_stops_the_rollout(
    sim: RunningSimulator, client_for: Callable[..., SmartHubClient], tmp_path: Path
) -> None:
    path = manifests(tmp_path / "m", {"steps": ["5%", "100%"], "soak": "10m", "maxFailed": 0.5})
    admin = Admin(sim)
    hit: list[str] = []

    def suspend_a_canary() -> None:
        hit.append(first_job(tmp_path)[0])
        was = admin.sim(hit[0])["status"]
        hit.append("suspended" if was != "DEACTIVATED" else "active")
        admin.patch_sim(hit[0], status="DEACTIVATED" if was != "DEACTIVATED" else "ACTIVATED")

    try:
        report, _ = apply(client_for(sim), tmp_path, SoakClock(suspend_a_canary), paths=(path,))
    finally:
        admin.close()
    assert apply_exit_code(report) == 3
    assert report.stopped is not None
    # one SIM of five is within maxFailed 50%, but a status change stops whatever it says
    assert f"{hit[0]}: status moved to {hit[1]} (fleetform left it " in report.stopped
    assert "fleetform did not make" in report.stopped
    assert done(report) == 5


def test_a_status_change_the_push_receiver_recorded_stops_the_rollout(
    sim: RunningSimulator, client_for: Callable[..., SmartHubClient], tmp_path: Path
) -> None:
    """The SIM is back as it should be when re-read, but the receiver saw it suspended."""
    path = manifests(tmp_path / "m", {"steps": ["5%", "100%"], "soak": "10m"})
    clock = SoakClock()

    def pushed() -> None:
        iccid = first_job(tmp_path)[0]
        record = {
            "source": "webhook",
            "kind": "drift",
            "iccid": iccid,
            "status": "suspended",
            "fields": [{"field": "state", "desired": None, "live": "suspended", "source": None}],
            "message": None,
            "detectedAt": time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime(clock.now() - 30)),
        }
        with (tmp_path / "state" / "drift.jsonl").open("a", encoding="utf-8") as out:
            out.write(json.dumps(record) + "\n")

    clock.during_soak = pushed
    report, _ = apply(client_for(sim), tmp_path, clock, paths=(path,))
    assert apply_exit_code(report) == 3
    assert report.stopped is not None
    assert "push receiver: recorded drift (status suspended)" in report.stopped


def test_a_gate_that_times_out_is_killed_and_stops_the_rollout(
    sim: RunningSimulator, client_for: Callable[..., SmartHubClient], tmp_path: Path
) -> None:
    path = manifests(tmp_path / "m", {"steps": ["10%", "100%"], "soak": "10m"})
    marker = tmp_path / "still-running"
    gate = (
        f'{sys.executable} -c "import time, pathlib; time.sleep(5); '
        f"pathlib.Path({str(marker)!r}).write_text('x')\""
    )
    started = time.monotonic()
    report, _ = apply(
        client_for(sim), tmp_path, SoakClock(), paths=(path,), gate=gate, gate_timeout=0.5
    )
    assert apply_exit_code(report) == 3
    assert report.stopped is not None
    assert "the gate said no (timed out after 0.5s)" in report.stopped
    assert time.monotonic() - started < 5
    assert done(report) == 10
    time.sleep(0.2)
    assert not marker.exists()  # killed, not left running


def test_the_gate_reads_the_step_report_and_resume_asks_it_again(
    sim: RunningSimulator, client_for: Callable[..., SmartHubClient], tmp_path: Path
) -> None:
    path = manifests(tmp_path / "m", {"steps": ["10%", "50%", "100%"], "soak": "10m"})
    seen = tmp_path / "seen.jsonl"
    gate = f"cat >> {seen}; exit 7"
    clock = SoakClock()
    report, _ = apply(client_for(sim), tmp_path, clock, paths=(path,), gate=gate)
    assert report.stopped is not None and "the gate said no (exit 7)" in report.stopped
    step = json.loads(seen.read_text(encoding="utf-8").splitlines()[0])
    assert step["step"] == {
        "id": "w1-r1",
        "wave": 1,
        "number": 1,
        "of": 3,
        "share": "10%",
        "sims": 10,
        "soakSeconds": SOAK,
        "maxFailed": 0.0,
        "planSteps": ["w1-s001"],
    }
    assert step["next"] == "w1-r2" and step["failures"] == [] and step["events"] == []
    assert {s["group"] for s in step["sims"]} == {"north", "south"}
    assert sorted(s["iccid"] for s in step["sims"]) == sorted(canaries(report))

    report, _ = apply(client_for(sim), tmp_path, clock, resume=True, gate="cat >/dev/null")
    assert report.complete, report.stopped
    # the stopped step's soak was waited already: only the 50% step soaks now
    assert clock.soaks == pytest.approx([SOAK, SOAK], abs=5)
    records = journal_kinds(tmp_path)
    assert [r["stage"] for r in records if r["kind"] == "stage_passed"] == ["w1-r1", "w1-r2"]


def test_a_gate_without_a_rollout_is_said_to_have_no_effect(
    sim: RunningSimulator, client_for: Callable[..., SmartHubClient], tmp_path: Path
) -> None:
    path = write_fleet(tmp_path / "m", {"all": {"ratePlan": "IoT-Unlimited", "sims": SIMS[:20]}})
    ran = tmp_path / "ran"
    report, reporter = apply(
        client_for(sim), tmp_path, SoakClock(), paths=(path,), gate=f"touch {ran}"
    )
    assert report.complete
    assert "--gate has no effect: the plan has no rollout (spec.rollout)" in reporter.warnings
    assert not ran.exists()
