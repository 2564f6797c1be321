"""``fleetform apply`` and ``fleetform drift`` end to end: the real CLI in a subprocess over
tests/data/apply, against a simulator on a socket (seeded fleet: sims=250, seed=1)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from reconciler.journal import iter_journal_lines
from reconciler.simulator import RunningSimulator
from tests.fakes import Admin, giccid, write_fleet

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "apply"
TRACKER = "8944500000000000006"  # first SIM of the trackers group
SPARE = "8944500000000000139"  # first SIM of the spares group


@pytest.fixture
def sim(sim_factory: Callable[..., RunningSimulator]) -> RunningSimulator:
    return sim_factory(sims=250, seed=1, job_delay=0.05)


def env_for(sim: RunningSimulator, state: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SMARTHUB_", "FLEETFORM_"))}
    env.update(
        PYTHONPATH=str(ROOT),
        NO_COLOR="1",
        SMARTHUB_ENDPOINT=sim.url,
        SMARTHUB_API_KEY=sim.api_key,
        FLEETFORM_STATE_DIR=str(state),
    )
    return env


def fleetform(*args: str, sim: RunningSimulator, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reconciler", *args],
        cwd=cwd,
        env=env_for(sim, cwd / "state"),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=90,
    )


def test_apply_converges_then_plan_and_drift_are_clean(
    sim: RunningSimulator, tmp_path: Path
) -> None:
    result = fleetform("apply", str(DATA), "--auto-approve", sim=sim, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Apply complete" in result.stdout
    assert "suspend" in result.stdout and "batch job" in result.stderr
    assert sim.api_key not in result.stdout + result.stderr
    plan = fleetform("plan", str(DATA), "--detailed-exitcode", sim=sim, cwd=tmp_path)
    assert plan.returncode == 0, plan.stdout + plan.stderr
    drift = fleetform("drift", str(DATA), sim=sim, cwd=tmp_path)
    assert drift.returncode == 0, drift.stdout + drift.stderr
    assert "No drift" in drift.stdout
    journals = list((tmp_path / "state" / "journal").glob("*.jsonl"))
    assert len(journals) == 1
    records = list(iter_journal_lines(journals[0]))
    assert records[-1]["kind"] == "finished" and records[-1]["complete"] is True


def test_drift_names_the_sim_and_field_changed_behind_our_back(
    sim: RunningSimulator, tmp_path: Path
) -> None:
    assert fleetform("apply", str(DATA), "--auto-approve", sim=sim, cwd=tmp_path).returncode == 0
    admin = Admin(sim)
    try:
        admin.patch_sim(TRACKER, status="DEACTIVATED", custom4="moved")
    finally:
        admin.close()
    drift = fleetform("drift", str(DATA), sim=sim, cwd=tmp_path)
    assert drift.returncode == 2, drift.stderr
    assert TRACKER in drift.stdout
    assert "state: git active, live suspended" in drift.stdout
    assert "customFields.custom4: git fleetform, live moved" in drift.stdout
    as_json = json.loads(
        fleetform("drift", str(DATA), "--format", "json", sim=sim, cwd=tmp_path).stdout
    )
    (drifted,) = as_json["sims"]
    state = next(f for f in drifted["fields"] if f["field"] == "state")
    assert state["last_changed"] is not None  # dated from the change history
    markdown = fleetform("drift", str(DATA), "--format", "markdown", sim=sim, cwd=tmp_path)
    assert markdown.returncode == 2 and f"`{TRACKER}`" in markdown.stdout


def test_a_stale_sim_is_left_alone_and_the_run_exits_3(
    sim: RunningSimulator, tmp_path: Path
) -> None:
    plan_file = tmp_path / "plan.json"
    made = fleetform("plan", str(DATA), "--out", str(plan_file), sim=sim, cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    admin = Admin(sim)
    try:
        admin.patch_sim(SPARE, custom4="by-hand")
        result = fleetform("apply", str(plan_file), "--format", "json", sim=sim, cwd=tmp_path)
        assert result.returncode == 3, result.stderr
        report = json.loads(result.stdout)
        stale = [s for step in report["steps"] for s in step["sims"] if s["outcome"] == "stale"]
        assert [s["iccid"] for s in stale] == [SPARE]
        assert stale[0]["moved"] == [
            {"field": "customFields.custom4", "plan": None, "live": "by-hand"}
        ]
        assert admin.sim(SPARE)["custom4"] == "by-hand"
    finally:
        admin.close()


def test_without_a_tty_apply_of_manifests_needs_auto_approve(
    sim: RunningSimulator, tmp_path: Path
) -> None:
    result = fleetform("apply", str(DATA), sim=sim, cwd=tmp_path)
    assert result.returncode == 1
    assert "--auto-approve" in result.stderr and "Traceback" not in result.stderr


def test_an_edited_plan_file_is_refused(sim: RunningSimulator, tmp_path: Path) -> None:
    plan_file = tmp_path / "plan.json"
    assert (
        fleetform("plan", str(DATA), "--out", str(plan_file), sim=sim, cwd=tmp_path).returncode == 0
    )
    data = json.loads(plan_file.read_text())
    data["steps"][0]["sims"][0]["after"] = {"state": "retired"}
    plan_file.write_text(json.dumps(data))
    result = fleetform("apply", str(plan_file), sim=sim, cwd=tmp_path)
    assert result.returncode == 1 and "checksum" in result.stderr


def test_budget_stops_with_exit_3_and_resume_finishes(
    sim: RunningSimulator, tmp_path: Path
) -> None:
    stopped = fleetform(
        "apply", str(DATA), "--auto-approve", "--budget", "10", sim=sim, cwd=tmp_path
    )
    assert stopped.returncode == 3, stopped.stderr
    assert "fleetform apply --resume" in stopped.stdout
    resumed = fleetform("apply", "--resume", sim=sim, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert "(resumed)" in resumed.stdout
    nothing = fleetform("apply", "--resume", sim=sim, cwd=tmp_path)
    assert nothing.returncode == 1 and "nothing to resume" in nothing.stderr


def test_a_second_concurrent_apply_is_refused(
    sim_factory: Callable[..., RunningSimulator], tmp_path: Path
) -> None:
    slow = sim_factory(sims=250, seed=1, job_delay=3.0)
    first = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "apply", str(DATA), "--auto-approve"],
        cwd=tmp_path,
        env=env_for(slow, tmp_path / "state"),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        lock = tmp_path / "state" / "apply-acme.lock"
        deadline = time.monotonic() + 20
        while not lock.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert lock.exists()
        second = fleetform("apply", str(DATA), "--auto-approve", sim=slow, cwd=tmp_path)
        assert second.returncode == 1
        assert f"another apply of account 'acme' is running (pid {first.pid})" in second.stderr
    finally:
        first.kill()
        first.wait()


def test_a_small_rate_window_is_waited_out_and_said_so(
    sim_factory: Callable[..., RunningSimulator], tmp_path: Path
) -> None:
    small = sim_factory(sims=250, seed=1, job_delay=0.05, rate_limit=12, rate_window=1.5)
    result = fleetform("apply", str(DATA), "--auto-approve", sim=small, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "rate limit: waiting" in result.stderr and "for the window to reset" in result.stderr
    admin = Admin(small)
    try:
        counters = admin.counters()
        assert counters["requests"] > 0 and counters.get("rateLimited", 0) <= 1
    finally:
        admin.close()


def test_a_plan_whose_only_changes_are_held_back_by_problems_fails(
    sim: RunningSimulator, tmp_path: Path
) -> None:
    """An unknown rate plan holds the SIM's change back, so the plan has no step: apply must
    still refuse it (exit 1), not report "nothing to do"."""
    manifests = write_fleet(
        tmp_path / "m", {"g": {"ratePlan": "IoT-2GB", "sims": [giccid(0), giccid(1)]}}
    )
    result = fleetform("apply", str(manifests), "--auto-approve", sim=sim, cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "IoT-2GB" in result.stderr and "Traceback" not in result.stderr
