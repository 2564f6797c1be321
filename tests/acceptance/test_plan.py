"""``fleetform plan`` end to end: the real CLI in a subprocess, over manifests in tests/data/plan,
against a simulator on a socket (the seeded fleet: sims=250, seed=1)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from reconciler.planfile import load_plan
from reconciler.simulator import RunningSimulator

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "plan"


@pytest.fixture
def sim(sim_factory: Callable[..., RunningSimulator]) -> RunningSimulator:
    return sim_factory(sims=250, seed=1, job_delay=0.05)


def fleetform(
    *args: str, sim: RunningSimulator | None, cwd: Path
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SMARTHUB_", "FLEETFORM_"))}
    env["PYTHONPATH"] = str(ROOT)
    env["NO_COLOR"] = "1"
    if sim is not None:
        env["SMARTHUB_ENDPOINT"] = sim.url
        env["SMARTHUB_API_KEY"] = sim.api_key
    return subprocess.run(
        [sys.executable, "-m", "reconciler", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_in_sync_fleet_exits_0_with_detailed_exitcode(
    sim: RunningSimulator, tmp_path: Path
) -> None:
    result = fleetform("plan", str(DATA / "in-sync"), "--detailed-exitcode", sim=sim, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "No changes. The live fleet matches the manifests." in result.stdout
    assert "Read 250 SIMs and the rate-plan catalogue in 4 requests" in result.stderr


def test_changes_are_printed_and_exit_2_with_detailed_exitcode(
    sim: RunningSimulator, tmp_path: Path
) -> None:
    args = ("plan", str(DATA / "changes"), "--allow-retire", "--override-note", "PR label x")
    result = fleetform(*args, "--detailed-exitcode", sim=sim, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    out = result.stdout
    assert "Plan: 1 to activate, 1 to suspend, 1 to retire, 4 with field changes." in out
    assert "Irreversible: 1 SIM will be retired" in out
    assert "8944500000000000014  hamburg-port  state: suspended → retired" in out
    assert "Guards lifted for this plan:" in out
    assert "allowRetire: 1 SIM would be retired, which is final — lifted by --allow-retire " in out
    assert "(PR label x)" in out
    assert "\x1b[" not in out  # no colour when not a terminal
    assert out.index("Wave 1") < out.index("Wave 2") < out.index("\nPlan: ")

    plain = fleetform(*args, sim=sim, cwd=tmp_path)
    assert plain.returncode == 0


def test_a_plan_apply_would_refuse_fails_with_the_reason(
    sim: RunningSimulator, tmp_path: Path
) -> None:
    result = fleetform("plan", str(DATA / "changes"), "--detailed-exitcode", sim=sim, cwd=tmp_path)
    assert result.returncode == 1  # not 2: a PR check on this plan fails, not the apply on merge
    assert "Guards that stop apply:" in result.stdout  # the plan is still shown in full
    assert "Plan: 1 to activate, 1 to suspend, 1 to retire" in result.stdout
    assert "Error: apply would refuse this plan (a guard stops it):" in result.stderr
    assert "allowRetire: 1 SIM would be retired, which is final (lift with --allow-retire" in (
        result.stderr
    )
    assert "the pull-request label fleetform:allow-retire" in result.stderr
    assert "Traceback" not in result.stderr


def test_out_writes_the_plan_file_without_the_key(sim: RunningSimulator, tmp_path: Path) -> None:
    out = tmp_path / "plan.json"
    args = ("--format", "json", "--out", str(out), "--allow-retire")
    result = fleetform("plan", str(DATA / "changes"), *args, sim=sim, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    saved = out.read_text(encoding="utf-8")
    assert saved == result.stdout
    data = json.loads(saved)
    assert data["changes_digest"].startswith("sha256:")
    (retire,) = [g for g in data["guards"] if g["name"] == "allowRetire"]
    assert retire["lifted_by"] == "--allow-retire" and retire["blocking"] is False
    assert sim.api_key not in saved and sim.api_key not in result.stderr
    plan = load_plan(out)
    assert plan.account == "acme" and plan.endpoint == sim.url
    assert [(s.wave, s.operation.value) for s in plan.steps if s.operation.value == "retire"] == [
        (2, "retire")
    ]
    assert json.loads(saved)["format"] == "fleetform.plan/v1"
    assert f"Saved the plan to {out}" in result.stderr


def test_markdown_for_a_pull_request(sim: RunningSimulator, tmp_path: Path) -> None:
    result = fleetform("plan", str(DATA / "changes"), "--format", "markdown", sim=sim, cwd=tmp_path)
    assert result.returncode == 1, result.stderr  # the retire guard stops apply
    md = result.stdout
    assert md.startswith("### fleetform plan: `acme-trackers` on account `acme`")
    assert "> [!CAUTION]" in md and "<details>" in md
    assert "| 1 | active → retired | hamburg-port |" in md
    assert "#### ⛔ Guards that stop apply" in md
    assert "lift with `--allow-retire`, `guards.allowRetire: true` in the Fleet or the " in md
    assert "pull-request label `fleetform:allow-retire`" in md
    assert "<!-- fleetform-changes-digest: sha256:" in md


def test_plan_problems_reach_the_pull_request_comment_and_the_manifest_lines(
    sim: RunningSimulator, tmp_path: Path
) -> None:
    args = ("--format", "github", "--markdown-out", "plan.md", "--out", "plan.json")
    result = fleetform("plan", str(DATA / "problems"), *args, sim=sim, cwd=tmp_path)
    assert result.returncode == 1
    # annotations on the manifest lines (stdout of --format github)
    assert "::error file=" in result.stdout and "fleet.yaml,line=13,col=48," in result.stdout
    assert "unknown rate plan 'IoT-2GB'" in result.stdout
    # the comment's markdown holds the problems themselves
    md = (tmp_path / "plan.md").read_text(encoding="utf-8")
    assert "#### ❌ Problems (1)" in md and "unknown rate plan" in md
    # the SIM missing from the account is held back, not a problem, and the comment says so
    assert "8944500000000000097" in md and "held back" in md.lower()
    # and the error names the problem too, not only "listed above"
    assert "Error: the plan has 1 problem;" in result.stderr
    assert "unknown rate plan 'IoT-2GB'" in result.stderr
    assert "listed above" not in result.stderr


def test_plan_problems_name_the_manifest_line_and_exit_1(
    sim: RunningSimulator, tmp_path: Path
) -> None:
    result = fleetform("plan", str(DATA / "problems"), sim=sim, cwd=tmp_path)
    assert result.returncode == 1
    assert "fleet.yaml:13:48: unknown rate plan 'IoT-2GB'" in result.stdout
    # the missing SIM is held back (listed with its fix), the unknown plan is a problem
    assert "SIM 8944500000000000097 is declared but not in account 'acme'" in result.stdout
    assert "Held back (1)" in result.stdout
    assert "Error: the plan has 1 problem" in result.stderr
    assert "Traceback" not in result.stderr


def test_invalid_manifests_are_an_error_before_any_request(tmp_path: Path) -> None:
    bad = tmp_path / "fleet.yaml"
    bad.write_text("apiVersion: fleetform/v1\nkind: Fleet\nspec: {account: 3}\n", encoding="utf-8")
    result = fleetform("plan", str(bad), sim=None, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("Error: ") and "fleet.yaml:" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / ".fleetform").exists()  # no simulator started, nothing read


def test_without_an_endpoint_the_embedded_simulator_is_used(tmp_path: Path) -> None:
    result = fleetform("plan", str(DATA / "in-sync"), "--detailed-exitcode", sim=None, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "embedded simulator" in result.stderr
    assert (tmp_path / ".fleetform" / "sim.db").exists()
    assert "No changes." in result.stdout
