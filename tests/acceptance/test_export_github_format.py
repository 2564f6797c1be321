"""``--format github`` through the real CLI, on manifests made by ``fleetform export``:
annotations on the manifest lines, and the job summary written where ``$GITHUB_STEP_SUMMARY``
points."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from reconciler.app import Connection, open_api
from reconciler.model import Status
from reconciler.reporting import RecordingReporter
from reconciler.simulator import RunningSimulator

ROOT = Path(__file__).resolve().parents[2]


def fleetform(
    *args: str, cwd: Path, sim: RunningSimulator | None, summary: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "FLEETFORM_STATE_DIR": str(cwd / ".state")}
    for name in (
        "SMARTHUB_ENDPOINT",
        "SMARTHUB_API_KEY",
        "GITHUB_STEP_SUMMARY",
        "GITHUB_WORKSPACE",
    ):
        env.pop(name, None)
    if sim is not None:
        env |= {"SMARTHUB_ENDPOINT": sim.url, "SMARTHUB_API_KEY": sim.api_key}
    if summary is not None:
        env |= {"GITHUB_STEP_SUMMARY": str(summary), "GITHUB_WORKSPACE": str(cwd)}
    return subprocess.run(
        [sys.executable, "-m", "reconciler", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def exported(sim: RunningSimulator, tmp_path: Path) -> Path:
    result = fleetform("export", "--out", "fleet", cwd=tmp_path, sim=sim)
    assert result.returncode == 0, result.stderr
    return tmp_path


def _suspend_one_active(sim: RunningSimulator) -> str:
    with open_api(Connection(sim.url, sim.api_key), RecordingReporter()) as api:
        target = next(api.iter_sims(account="acme", status=Status.ACTIVE))
        api.suspend(target.iccid)
    return target.iccid


def test_drift_annotates_the_state_line_and_writes_the_summary(
    sim: RunningSimulator, exported: Path
) -> None:
    iccid = _suspend_one_active(sim)
    summary = exported / "summary.md"
    result = fleetform(
        "drift", "fleet", "--format", "github", cwd=exported, sim=sim, summary=summary
    )
    assert result.returncode == 2, result.stderr
    (declared,) = [p for p in (exported / "fleet").glob("*.yaml") if iccid in p.read_text()]
    group = declared.read_text().splitlines()
    state_line = 1 + next(i for i, line in enumerate(group) if line == "  state: active")
    first = result.stdout.splitlines()[0]
    assert first.startswith(f"::error file=fleet/{declared.name},line={state_line},col=")
    assert f"drift in state: git says active; SIM {iccid}: live suspended" in first
    assert summary.read_text().startswith("### fleetform drift")


def test_plan_in_github_format_keeps_its_exit_codes(sim: RunningSimulator, exported: Path) -> None:
    summary = exported / "summary.md"
    clean = fleetform(
        "plan", "fleet", "--format", "github", "--detailed-exitcode", "--out", "plan.json",
        cwd=exported, sim=sim, summary=summary,
    )  # fmt: skip
    assert clean.returncode == 0, clean.stderr
    assert clean.stdout.startswith("::notice title=fleetform plan%3A acme::0 SIMs to change")
    assert (exported / "plan.json").exists()
    _suspend_one_active(sim)
    changed = fleetform(
        "plan", "fleet", "--format", "github", "--detailed-exitcode",
        cwd=exported, sim=sim, summary=summary,
    )  # fmt: skip
    assert changed.returncode == 2, changed.stderr
    assert "::notice title=fleetform plan%3A acme::1 SIM to change" in changed.stdout
    assert summary.read_text().count("fleetform plan") >= 2  # appended, run after run


def test_invalid_manifests_are_annotated_on_their_line(exported: Path) -> None:
    fleet_file = exported / "fleet" / "fleet.yaml"
    fleet_file.write_text(fleet_file.read_text().replace("unmanaged: report", "unmanaged: maybe"))
    result = fleetform("plan", "fleet", "--format", "github", cwd=exported, sim=None)
    assert result.returncode == 1
    assert result.stdout.startswith("::error file=fleet/fleet.yaml,line=")
    assert "Traceback" not in result.stderr and result.stderr.startswith("Error: ")
