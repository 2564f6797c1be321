"""``fleetform export`` then ``fleetform plan --detailed-exitcode``: the real CLI in subprocesses,
against the simulator on a socket (the issue's "done when")."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from reconciler.simulator import RunningSimulator

ROOT = Path(__file__).resolve().parents[2]


def fleetform(
    *args: str, cwd: Path, sim: RunningSimulator | None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "FLEETFORM_STATE_DIR": str(cwd / ".state")}
    env.pop("SMARTHUB_ENDPOINT", None)
    env.pop("SMARTHUB_API_KEY", None)
    if sim is not None:
        env |= {"SMARTHUB_ENDPOINT": sim.url, "SMARTHUB_API_KEY": sim.api_key}
    return subprocess.run(
        [sys.executable, "-m", "reconciler", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_export_then_plan_shows_no_change(sim: RunningSimulator, tmp_path: Path) -> None:
    exported = fleetform("export", "--out", "fleet", cwd=tmp_path, sim=sim)
    assert exported.returncode == 0, exported.stderr
    assert "exported 250 SIMs of account acme" in exported.stderr
    assert sim.api_key not in exported.stdout + exported.stderr
    files = sorted(p.name for p in (tmp_path / "fleet").iterdir())
    assert "fleet.yaml" in files and "status-active.yaml" in files

    validated = fleetform("validate", "fleet", cwd=tmp_path, sim=None)
    assert validated.returncode == 0, validated.stderr

    planned = fleetform("plan", "fleet", "--detailed-exitcode", cwd=tmp_path, sim=sim)
    assert planned.returncode == 0, planned.stdout + planned.stderr


def test_export_by_custom_field_then_plan_shows_no_change(
    sim: RunningSimulator, tmp_path: Path
) -> None:
    exported = fleetform("export", "--out", "f", "--group-by", "custom1", cwd=tmp_path, sim=sim)
    assert exported.returncode == 0, exported.stderr
    assert (tmp_path / "f" / "custom1-berlin.yaml").exists()
    planned = fleetform("plan", "f", "--detailed-exitcode", cwd=tmp_path, sim=sim)
    assert planned.returncode == 0, planned.stdout + planned.stderr


def test_export_refuses_to_overwrite_without_force(sim: RunningSimulator, tmp_path: Path) -> None:
    assert fleetform("export", "--out", "f", cwd=tmp_path, sim=sim).returncode == 0
    again = fleetform("export", "--out", "f", cwd=tmp_path, sim=sim)
    assert again.returncode == 1
    assert again.stderr.startswith("Error: refusing to overwrite existing files (use --force)")
    assert "Traceback" not in again.stderr
    forced = fleetform("export", "--out", "f", "--force", cwd=tmp_path, sim=sim)
    assert forced.returncode == 0, forced.stderr


def test_export_with_a_bad_group_key_is_a_usage_error(tmp_path: Path) -> None:
    result = fleetform("export", "--group-by", "imei", cwd=tmp_path, sim=None)
    assert result.returncode == 1  # an error; 2 would mean "changes pending / drift found"
    assert "Invalid value for '--group-by'" in result.stderr
    assert not (tmp_path / "manifests").exists()
