"""Progressive rollout through the real CLI against the simulator on a socket: a gate that
says no stops the apply after the 1% step (exit 3); ``apply --resume`` with a gate that says
yes finishes the rollout with batch jobs, and the next plan is clean."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from reconciler.journal import iter_journal_lines
from reconciler.simulator import RunningSimulator
from reconciler.simulator.fleet import seed_fleet
from tests.fakes import Admin, write_fleet

ROOT = Path(__file__).resolve().parents[2]
SIMS = 1340


@pytest.fixture
def sim(sim_factory: Callable[..., RunningSimulator]) -> RunningSimulator:
    return sim_factory(sims=1500, seed=1, job_delay=0.05)


def changeable(count: int) -> list[str]:
    """Acme SIMs of the seeded fleet that can take a new basic plan (not retired)."""
    found = [s.giccid for s in seed_fleet(1500, 1) if s.account == "acme" and s.status != "RETIRED"]
    assert len(found) >= count
    return found[:count]


def rollout_manifests(directory: Path, rollout: dict[str, Any]) -> Path:
    """~1,340 SIMs in three groups, all moved to IoT-Unlimited (no seeded SIM has it)."""
    iccids = changeable(SIMS)
    third = len(iccids) // 3
    path = write_fleet(
        directory,
        {
            "north": {"ratePlan": "IoT-Unlimited", "sims": iccids[:third]},
            "south": {"ratePlan": "IoT-Unlimited", "sims": iccids[third : 2 * third]},
            "east": {"ratePlan": "IoT-Unlimited", "sims": iccids[2 * third :]},
        },
        guards={"maxChanges": 2000},
    )
    text = (path / "fleet.yaml").read_text(encoding="utf-8")
    text = text.replace("  guards:\n", f"  rollout: {json.dumps(rollout)}\n  guards:\n", 1)
    (path / "fleet.yaml").write_text(text, encoding="utf-8")
    return path


def fleetform(
    *args: str, sim: RunningSimulator, cwd: Path, timeout: float = 90
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SMARTHUB_", "FLEETFORM_"))}
    env.update(
        PYTHONPATH=str(ROOT),
        NO_COLOR="1",
        SMARTHUB_ENDPOINT=sim.url,
        SMARTHUB_API_KEY=sim.api_key,
        FLEETFORM_STATE_DIR=str(cwd / "state"),
    )
    return subprocess.run(
        [sys.executable, "-m", "reconciler", *args],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def gate_script(directory: Path, name: str, code: int) -> str:
    """A gate that saves what it read on stdin (one file per run) and exits ``code``."""
    script = directory / f"{name}.py"
    script.write_text(
        "import pathlib, sys, time\n"
        f"out = pathlib.Path({str(directory)!r}) / f'{name}-{{time.time_ns()}}.json'\n"
        "out.write_text(sys.stdin.read())\n"
        f"sys.exit({code})\n",
        encoding="utf-8",
    )
    return f"{sys.executable} {script}"


def gate_runs(directory: Path, name: str) -> list[dict[str, Any]]:
    return [
        json.loads(p.read_text(encoding="utf-8")) for p in sorted(directory.glob(f"{name}-*.json"))
    ]


def test_a_gate_saying_no_stops_at_one_percent_and_resume_finishes(
    sim: RunningSimulator, tmp_path: Path
) -> None:
    manifests = rollout_manifests(tmp_path / "m", {"steps": ["1%", "10%", "100%"], "soak": "1s"})
    gates = tmp_path / "gates"
    gates.mkdir()

    first = fleetform(
        "apply",
        str(manifests),
        "--auto-approve",
        "--gate",
        gate_script(gates, "no", 1),
        sim=sim,
        cwd=tmp_path,
    )
    assert first.returncode == 3, first.stdout + first.stderr
    # the plan it showed: three rollout steps, about 1%, 10% and the rest
    assert "Rollout step 1 of 3 (1%): 14 SIMs" in first.stdout
    assert "Rollout step 2 of 3 (10%): 120 SIMs" in first.stdout
    assert "Rollout step 3 of 3 (100%): 1,206 SIMs" in first.stdout
    assert "rollout stopped after step w1-r1" in first.stdout
    assert "the gate said no (exit 1)" in first.stdout
    assert "fleetform apply --resume" in first.stdout
    runs = gate_runs(gates, "no")
    assert len(runs) == 1  # once, after the 1% step
    report = runs[0]
    assert report["format"] == "fleetform.rollout-step/v1"
    assert report["step"]["id"] == "w1-r1" and report["next"] == "w1-r2"
    assert len(report["sims"]) == 14 and report["failures"] == []
    assert {s["group"] for s in report["sims"]} == {"north", "south", "east"}  # stratified
    for entry in report["sims"]:
        assert entry["after"]["ratePlan"] == "IoT-Unlimited"
        assert entry["live"]["ratePlan"] == "IoT-Unlimited"
        assert entry["before"]["ratePlan"] != "IoT-Unlimited"
    changed = [s["iccid"] for s in report["sims"]]

    admin = Admin(sim)
    try:  # about 1% changed: the others still have their old plan
        others = [i for i in changeable(SIMS) if i not in changed]
        assert len(others) == SIMS - 14
        for iccid in others[:: len(others) // 5]:
            assert admin.sim(iccid)["basicServicePackage"] != "IoT-Unlimited"
    finally:
        admin.close()
    journal = next((tmp_path / "state" / "journal").glob("*.jsonl"))
    kinds = [r["kind"] for r in iter_journal_lines(journal)]
    assert "stage_stopped" in kinds and "finished" not in kinds

    second = fleetform(
        "apply",
        "--resume",
        "--auto-approve",
        "--gate",
        gate_script(gates, "yes", 0),
        sim=sim,
        cwd=tmp_path,
    )
    assert second.returncode == 0, second.stdout + second.stderr
    runs = gate_runs(gates, "yes")
    # the stopped step's gate again, then after the 10% step (the last step needs none)
    assert [r["step"]["id"] for r in runs] == ["w1-r1", "w1-r2"]
    assert [s["iccid"] for s in runs[0]["sims"]] == changed
    assert "batch job" in second.stderr
    assert "rollout step w1-r2 (wave 1, step 2 of 3: 10%): 120 SIMs" in second.stderr
    assert "rollout step w1-r1 (wave 1" not in second.stderr  # done before: not run again

    clean = fleetform("plan", str(manifests), "--detailed-exitcode", sim=sim, cwd=tmp_path)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    records = list(iter_journal_lines(journal))
    jobs = [r for r in records if r["kind"] == "job"]
    sizes = sorted(len(r["iccids"]) for r in jobs)
    assert sum(sizes) == SIMS and max(sizes) > 100  # later steps still run as batch jobs


def test_kill_9_during_the_soak_then_resume_waits_what_is_left_and_finishes(
    sim_factory: Callable[..., RunningSimulator], tmp_path: Path
) -> None:
    sim = sim_factory(sims=250, seed=1, job_delay=0.05)
    iccids = [
        s.giccid for s in seed_fleet(250, 1) if s.account == "acme" and s.status != "RETIRED"
    ][:120]
    path = write_fleet(tmp_path / "m", {"all": {"ratePlan": "IoT-Unlimited", "sims": iccids}})
    text = (path / "fleet.yaml").read_text(encoding="utf-8")
    rollout = {"steps": ["10%", "100%"], "soak": "3s"}
    text = text.replace("  guards:", f"  rollout: {json.dumps(rollout)}\n  guards:", 1)
    (path / "fleet.yaml").write_text(text, encoding="utf-8")
    gates = tmp_path / "gates"
    gates.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SMARTHUB_", "FLEETFORM_"))}
    env.update(
        PYTHONPATH=str(ROOT),
        SMARTHUB_ENDPOINT=sim.url,
        SMARTHUB_API_KEY=sim.api_key,
        FLEETFORM_STATE_DIR=str(tmp_path / "state"),
    )
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "reconciler",
            "apply",
            str(path),
            "--auto-approve",
            "--gate",
            gate_script(gates, "first", 0),
        ],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        soaking = False
        while time.monotonic() < deadline and not soaking:
            journals = list((tmp_path / "state" / "journal").glob("*.jsonl"))
            soaking = bool(journals) and any(
                r["kind"] == "soak" for r in iter_journal_lines(journals[0])
            )
            time.sleep(0.05)
        assert soaking, "the apply never reached the soak"
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(timeout=10)
    assert process.returncode == -signal.SIGKILL
    assert gate_runs(gates, "first") == []  # killed before the gate

    started = time.monotonic()
    resumed = fleetform(
        "apply",
        "--resume",
        "--auto-approve",
        "--gate",
        gate_script(gates, "then", 0),
        sim=sim,
        cwd=tmp_path,
    )
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert time.monotonic() - started < 15
    waited = re.search(r"soaking ([0-9.]+)s", resumed.stderr)
    assert waited is not None and float(waited.group(1)) < 3  # only what was left
    runs = gate_runs(gates, "then")
    assert [r["step"]["id"] for r in runs] == ["w1-r1"]
    assert len(runs[0]["sims"]) == 12
    clean = fleetform("plan", str(path), "--detailed-exitcode", sim=sim, cwd=tmp_path)
    assert clean.returncode == 0, clean.stdout + clean.stderr
