"""The ``run:`` scripts of the workflows ``fleetform init`` writes, run as GitHub runs them
(``bash --noprofile --norc -eo pipefail``), against the embedded simulator: their exit-code
handling, the files they hand to the next steps, and the outputs they set.

Only the ``${{ }}`` parts are GitHub's: the test sets the env those would fill in.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow  # about 20 s: a dozen CLI runs with the embedded simulator


class Runner:
    def __init__(self, repo: Path, tmp: Path) -> None:
        self.repo = repo
        self.bin = tmp / "bin"
        self.bin.mkdir()
        shim = self.bin / "fleetform"
        shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m reconciler "$@"\n')
        shim.chmod(0o755)
        (self.bin / "python").symlink_to(sys.executable)
        self.output = tmp / "github_output"
        self.summary = tmp / "step_summary"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SMARTHUB_", "GITHUB_"))}
        env.pop("FLEETFORM_STATE_DIR", None)  # .fleetform/ in the repository, as on a runner
        return env | {
            "PATH": f"{self.bin}{os.pathsep}{os.environ['PATH']}",
            "PYTHONPATH": str(ROOT),
            "FLEET_PATH": "manifests",
            "GITHUB_OUTPUT": str(self.output),
            "GITHUB_STEP_SUMMARY": str(self.summary),
            "RUNNER_TEMP": str(self.bin.parent),
        }

    def step(self, workflow: str, name: str, **env: str) -> subprocess.CompletedProcess[str]:
        data: dict[str, Any] = yaml.safe_load(
            (self.repo / ".github" / "workflows" / workflow).read_text(encoding="utf-8")
        )
        steps = [s for job in data["jobs"].values() for s in job.get("steps", [])]
        script = next(s["run"] for s in steps if s.get("name") == name)
        self.output.write_text("")
        return subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
            cwd=self.repo,
            env=self.env() | env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    def outputs(self) -> dict[str, str]:
        lines = self.output.read_text().splitlines()
        return dict(line.split("=", 1) for line in lines if "=" in line)

    def fleetform(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["fleetform", *args],
            cwd=self.repo,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=120,
        )


@pytest.fixture
def runner(tmp_path: Path) -> Runner:
    repo = tmp_path / "trackers"
    run = Runner(repo, tmp_path)
    repo.mkdir()
    assert run.fleetform("init", "--account", "acme").returncode == 0
    exported = run.fleetform("export", "--out", "manifests", "--force")
    assert exported.returncode == 0, exported.stderr
    return run


def _change_one_sim(repo: Path) -> str:
    path = repo / "manifests" / "status-active.yaml"
    lines = path.read_text().splitlines()
    index = next(i for i, line in enumerate(lines) if line.startswith('    - "'))
    iccid = lines[index].strip()[2:]
    lines[index] = f"    - {{iccid: {iccid}, customFields: {{custom5: ci-test}}}}"
    path.write_text("\n".join(lines) + "\n")
    return iccid.strip('"')


def test_pull_request_then_merge_then_drift(runner: Runner) -> None:
    validated = runner.step("fleetform-plan.yml", "Validate")
    assert validated.returncode == 0, validated.stderr
    assert "::add-matcher::" in validated.stdout

    clean = runner.step("fleetform-plan.yml", "Plan")
    assert clean.returncode == 0, clean.stderr
    assert runner.outputs() == {"exitcode": "0"}

    iccid = _change_one_sim(runner.repo)
    pending = runner.step("fleetform-plan.yml", "Plan")
    assert pending.returncode == 0, pending.stderr  # exit 2 is not a failure of the step
    assert runner.outputs() == {"exitcode": "2"}
    assert iccid in (runner.repo / "plan.md").read_text()
    assert (runner.repo / "plan.json").exists()
    assert "fleetform plan" in runner.summary.read_text()

    drift = runner.step("fleetform-drift.yml", "Drift")
    assert drift.returncode == 0, drift.stderr
    assert runner.outputs() == {"exitcode": "2"}
    assert iccid in (runner.repo / "drift.md").read_text()
    assert drift.stdout.startswith("::error file=manifests/status-active")  # on the manifest line
    assert "### fleetform drift" in runner.summary.read_text()

    planned = runner.step("fleetform-apply.yml", "Plan the merged commit")
    assert planned.returncode == 0, planned.stderr
    applied = runner.step("fleetform-apply.yml", "Apply")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert "Apply complete" in (runner.repo / "apply-report.txt").read_text()
    assert "### fleetform apply: account `acme`" in runner.summary.read_text()

    assert runner.step("fleetform-drift.yml", "Drift").returncode == 0
    assert runner.outputs() == {"exitcode": "0"}


def test_a_failing_plan_is_recorded_not_hidden(runner: Runner) -> None:
    fleet = runner.repo / "manifests" / "fleet.yaml"
    fleet.write_text(fleet.read_text().replace("account: acme", "account: nobody"))
    result = runner.step("fleetform-plan.yml", "Plan")
    assert result.returncode == 0  # the comment step still runs; the last step fails the job
    assert runner.outputs() == {"exitcode": "1"}
    assert "Error:" in (runner.repo / "plan.log").read_text()


def test_the_fleet_name_step_reads_the_fleet_manifest(runner: Runner) -> None:
    result = runner.step("fleetform-drift.yml", "Fleet name")
    assert result.returncode == 0, result.stderr
    # init named it; export --force kept it; the account keys the live-state cache
    assert runner.outputs() == {"name": "trackers", "account": "acme"}


def test_the_fleet_name_step_fails_without_a_fleet(runner: Runner) -> None:
    (runner.repo / "manifests" / "fleet.yaml").unlink()
    result = runner.step("fleetform-drift.yml", "Fleet name")
    assert result.returncode == 1
    assert "no Fleet manifest under manifests" in result.stderr


def test_install_refuses_without_a_pip_spec(runner: Runner) -> None:
    result = runner.step("fleetform-plan.yml", "Install fleetform")
    assert result.returncode == 1
    assert result.stdout.startswith("::error title=FLEETFORM_PIP_SPEC is not set::")


def test_the_apply_workflow_passes_the_gate_a_repository_variable_names(runner: Runner) -> None:
    fleet = runner.repo / "manifests" / "fleet.yaml"
    text = fleet.read_text()
    assert "  account: acme\n" in text
    rollout = '  rollout: {steps: ["25%", "100%"], soak: 0s}\n'
    fleet.write_text(text.replace("  account: acme\n", "  account: acme\n" + rollout, 1))
    path = runner.repo / "manifests" / "status-active.yaml"
    lines = path.read_text().splitlines()
    changed = 0
    for index, line in enumerate(lines):
        if line.startswith('    - "') and changed < 8:
            lines[index] = f"    - {{iccid: {line.strip()[2:]}, customFields: {{custom5: gated}}}}"
            changed += 1
    path.write_text("\n".join(lines) + "\n")
    assert runner.step("fleetform-apply.yml", "Plan the merged commit").returncode == 0
    seen = runner.repo / "gate-input.json"
    gate = {"FLEETFORM_GATE": f"cat > {seen}; exit 1", "FLEETFORM_GATE_TIMEOUT": "30"}
    applied = runner.step("fleetform-apply.yml", "Apply", **gate)
    assert applied.returncode == 3, applied.stdout + applied.stderr
    assert "rollout stopped after step w1-r1" in (runner.repo / "apply-report.txt").read_text()
    assert json.loads(seen.read_text())["step"]["sims"] == 2

    # without the variable there is no gate: the rollout goes on after its re-check
    runner.step("fleetform-apply.yml", "Plan the merged commit")
    assert runner.step("fleetform-apply.yml", "Apply").returncode == 0


def _retire_one_sim(repo: Path) -> str:
    path = repo / "manifests" / "status-active.yaml"
    lines = path.read_text().splitlines()
    index = next(i for i, line in enumerate(lines) if line.startswith('    - "'))
    iccid = lines[index].strip()[2:]
    lines[index] = f"    - {{iccid: {iccid}, state: retired}}"
    path.write_text("\n".join(lines) + "\n")
    return iccid.strip('"')


def test_a_guard_fails_the_pull_request_unless_a_label_lifts_it(runner: Runner) -> None:
    _retire_one_sim(runner.repo)
    stopped = runner.step("fleetform-plan.yml", "Plan")
    assert stopped.returncode == 0  # the comment step still runs; the last step fails the job
    assert runner.outputs() == {"exitcode": "1"}
    log = (runner.repo / "plan.log").read_text()
    assert "Error: apply would refuse this plan (a guard stops it):" in log
    assert "fleetform:allow-retire" in log
    assert "::error title=guard allowRetire::apply will refuse" in stopped.stdout
    assert "#### ⛔ Guards that stop apply" in (runner.repo / "plan.md").read_text()

    lifted = runner.step("fleetform-plan.yml", "Plan", ALLOW_RETIRE="true")
    assert lifted.returncode == 0, lifted.stderr
    assert runner.outputs() == {"exitcode": "2"}
    md = (runner.repo / "plan.md").read_text()
    assert "lifted by `--allow-retire (pull-request label fleetform:allow-retire)`" in md
    digest = md.split("<!-- fleetform-changes-digest: ")[1].split(" -->")[0]

    # on merge: the same label lifts the guard; a digest other than the reviewed one refuses
    assert runner.step("fleetform-apply.yml", "Plan the merged commit").returncode == 1
    planned = runner.step("fleetform-apply.yml", "Plan the merged commit", ALLOW_RETIRE="true")
    assert planned.returncode == 0, planned.stderr
    other = "sha256:" + "0" * 64
    refused = runner.step("fleetform-apply.yml", "Apply", REVIEWED_DIGEST=other)
    assert refused.returncode == 1
    assert runner.outputs() == {"exitcode": "1"}
    assert "::error title=fleetform apply refused or failed::Error: the plan to apply is not " in (
        refused.stdout
    )
    applied = runner.step("fleetform-apply.yml", "Apply", REVIEWED_DIGEST=digest)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert "the plan's changes are the ones reviewed" in (runner.repo / "apply.log").read_text()


def test_a_plan_with_problems_shows_them_in_the_comment_and_on_the_lines(runner: Runner) -> None:
    path = runner.repo / "manifests" / "status-active.yaml"
    text = path.read_text()
    path.write_text(text.replace("ratePlan: ", "ratePlan: IoT-Nope-", 1))
    result = runner.step("fleetform-plan.yml", "Plan")
    assert runner.outputs() == {"exitcode": "1"}
    assert "::error file=manifests/status-active.yaml,line=" in result.stdout
    md = (runner.repo / "plan.md").read_text()
    assert "#### ❌ Problems" in md and "unknown rate plan" in md


def test_targeted_plans_on_a_pull_request_and_on_merge_since_the_last_applied_commit(
    runner: Runner, tmp_path: Path
) -> None:
    from tests.integration.test_targeted_plan import commit, git

    repo = runner.repo
    git(repo, "init", "-q", "-b", "main")
    commit(repo, "the fleet")
    origin = tmp_path / "origin.git"
    git(tmp_path, "clone", "-q", "--bare", str(repo), str(origin))
    git(repo, "remote", "add", "origin", str(origin))
    git(repo, "fetch", "-q", "origin")

    account = runner.step("fleetform-apply.yml", "Fleet account")
    assert account.returncode == 0, account.stderr
    assert runner.outputs() == {"account": "acme"}
    acme = {"FLEET_ACCOUNT": "acme"}
    first = runner.step("fleetform-apply.yml", "Last applied commit", **acme)
    assert first.returncode == 0, first.stderr
    assert runner.outputs() == {}  # no ref yet: the plan step plans the whole fleet
    assert "no refs/fleetform/applied/acme yet" in first.stdout

    applied = git(repo, "rev-parse", "HEAD")
    recorded = runner.step(
        "fleetform-apply.yml", "Record the applied commit", **acme, GITHUB_SHA=applied
    )
    assert recorded.returncode == 0, recorded.stderr
    assert git(origin, "rev-parse", "refs/fleetform/applied/acme") == applied

    iccid = _change_one_sim(repo)
    commit(repo, "one SIM")
    since = runner.step("fleetform-apply.yml", "Last applied commit", **acme)
    assert since.returncode == 0, since.stderr
    assert runner.outputs() == {"ref": "refs/fleetform/applied/acme"}
    planned = runner.step(
        "fleetform-apply.yml",
        "Plan the merged commit",
        APPLIED_REF="refs/fleetform/applied/acme",
    )
    assert planned.returncode == 0, planned.stderr
    plan = (repo / "plan.md").read_text()
    assert "Targeted: 1 SIM whose declaration changed since refs/fleetform/applied/acme" in plan
    assert iccid in plan

    pull = runner.step("fleetform-plan.yml", "Plan", GITHUB_BASE_REF="main")
    assert pull.returncode == 0, pull.stderr
    assert runner.outputs() == {"exitcode": "2"}
    assert (
        "Targeted: 1 SIM whose declaration changed since origin/main"
        in (repo / "plan.md").read_text()
    )
