"""Export against a server whose ``GET /enterprise`` lists accounts as plain names, or none:
the contract does not give the shape, so both are read, and without a name the SIMs decide.
Then ``plan --detailed-exitcode`` right after exits 0 (the real CLI, the simulator on a socket)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from reconciler.app import Connection
from reconciler.commands.export import ExportOptions, export_manifests
from reconciler.errors import ConfigError
from reconciler.reporting import RecordingReporter
from reconciler.simulator import RunningSimulator

ROOT = Path(__file__).resolve().parents[2]


def fleetform(*args: str, sim: RunningSimulator, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SMARTHUB_", "FLEETFORM_"))}
    env.update(
        PYTHONPATH=str(ROOT),
        NO_COLOR="1",
        SMARTHUB_ENDPOINT=sim.url,
        SMARTHUB_API_KEY=sim.api_key,
        FLEETFORM_STATE_DIR=str(cwd / ".state"),
    )
    return subprocess.run(
        [sys.executable, "-m", "reconciler", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("shape", ["names", "none"])
def test_export_then_plan_shows_no_change(
    sim_factory: Callable[..., RunningSimulator], tmp_path: Path, shape: str
) -> None:
    sim = sim_factory(sims=120, job_delay=0.05, enterprise_accounts=shape)
    enterprise = httpx.get(f"{sim.url}/enterprise", headers={"X-API-Key": sim.api_key}).json()
    assert enterprise["accounts"] == (["acme"] if shape == "names" else [])
    exported = fleetform("export", "--out", "m", sim=sim, cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr
    assert "exported 120 SIMs of account acme" in exported.stderr
    if shape == "none":
        assert "the enterprise lists no account" in exported.stderr
    planned = fleetform("plan", "m", "--detailed-exitcode", sim=sim, cwd=tmp_path)
    assert planned.returncode == 0, planned.stdout + planned.stderr
    assert "No changes." in planned.stdout


def test_the_shape_can_be_switched_at_run_time(
    sim_factory: Callable[..., RunningSimulator], tmp_path: Path
) -> None:
    sim = sim_factory(sims=30, job_delay=0.05)
    answer = httpx.post(
        f"{sim.admin_url}/faults",
        headers={"X-API-Key": sim.api_key},
        json={"enterpriseAccounts": "names"},
    )
    assert answer.status_code == 200 and answer.json()["enterpriseAccounts"] == "names"
    bad = httpx.post(
        f"{sim.admin_url}/faults",
        headers={"X-API-Key": sim.api_key},
        json={"enterpriseAccounts": "dict"},
    )
    assert bad.status_code == 422 or bad.status_code == 400
    result = export_manifests(
        ExportOptions(out=tmp_path / "m"),
        Connection(endpoint=sim.url, api_key=sim.api_key),
        RecordingReporter(),
    )
    assert result.account == "acme" and result.sims == 30


def test_with_no_account_named_and_sims_of_two_accounts_export_asks(
    sim_factory: Callable[..., RunningSimulator], tmp_path: Path
) -> None:
    """The simulator's keys see one account each; a key seeing two is a server we model by
    the pure function (tests/unit/test_export_command.py); here: the error path of the CLI
    writes nothing when the enterprise lists no account and the account has no SIMs."""
    sim = sim_factory(sims=0, job_delay=0.05, enterprise_accounts="none")
    with pytest.raises(ConfigError, match="lists no account and no SIM names one"):
        export_manifests(
            ExportOptions(out=tmp_path / "m"),
            Connection(endpoint=sim.url, api_key=sim.api_key),
            RecordingReporter(),
        )
    assert not (tmp_path / "m").exists()


def test_an_account_of_another_enterprise_says_how_to_go_on(
    sim_factory: Callable[..., RunningSimulator], tmp_path: Path
) -> None:
    sim = sim_factory(sims=30, job_delay=0.05)
    with pytest.raises(ConfigError, match="'globex' belongs to another enterprise than this API"):
        export_manifests(
            ExportOptions(out=tmp_path / "m", account="globex"),
            Connection(endpoint=sim.url, api_key=sim.api_key),
            RecordingReporter(),
        )
