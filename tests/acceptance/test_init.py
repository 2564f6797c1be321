"""``fleetform init`` as an operator runs it: the real CLI in a subprocess, in an empty folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def fleetform(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "FLEETFORM_STATE_DIR": str(cwd / ".state")}
    env.pop("SMARTHUB_ENDPOINT", None)
    return subprocess.run(
        [sys.executable, "-m", "reconciler", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_init_in_an_empty_folder_makes_a_repository_that_validates(tmp_path: Path) -> None:
    repo = tmp_path / "acme-trackers"
    repo.mkdir()
    result = fleetform("init", "--account", "acme", cwd=repo)
    assert result.returncode == 0, result.stderr
    files = sorted(p.relative_to(repo).as_posix() for p in repo.rglob("*") if p.is_file())
    assert files == [
        ".github/workflows/fleetform-apply.yml",
        ".github/workflows/fleetform-drift.yml",
        ".github/workflows/fleetform-plan.yml",
        ".gitignore",
        "README.md",
        "manifests/fleet.schema.json",
        "manifests/fleet.yaml",
    ]
    assert "name: acme-trackers" in (repo / "manifests" / "fleet.yaml").read_text()
    assert "wrote" in result.stderr and "next: fleetform validate" in result.stderr

    validated = fleetform("validate", "manifests", cwd=repo)
    assert validated.returncode == 0, validated.stdout + validated.stderr


def test_the_written_workflows_pass_the_workflow_schema(tmp_path: Path) -> None:
    assert fleetform("init", str(tmp_path / "r"), cwd=tmp_path).returncode == 0
    workflows = sorted((tmp_path / "r" / ".github" / "workflows").glob("*.yml"))
    assert len(workflows) == 3
    result = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows"]
        + [str(w) for w in workflows],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_init_twice_keeps_what_exists_and_force_replaces_it(tmp_path: Path) -> None:
    assert fleetform("init", "--name", "f1", cwd=tmp_path).returncode == 0
    again = fleetform("init", "--name", "f2", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "kept manifests/fleet.yaml (it exists; --force replaces it)" in again.stderr
    assert "nothing to add" in again.stderr and "Traceback" not in again.stderr
    assert "name: f1" in (tmp_path / "manifests" / "fleet.yaml").read_text()


def test_init_in_an_existing_repository_adds_only_what_is_missing(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("# our fleet\n")
    (tmp_path / ".gitignore").write_text("*.pyc\n.fleetform/")  # no newline at the end
    result = fleetform("init", "--name", "f1", "--account", "acme", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "README.md").read_text() == "# our fleet\n"
    ignore = (tmp_path / ".gitignore").read_text().splitlines()
    assert ignore[:2] == ["*.pyc", ".fleetform/"] and ignore.count(".fleetform/") == 1
    assert "plan.json" in ignore and "apply.log" in ignore
    assert "kept README.md (it exists" in result.stderr
    assert "added fleetform's missing lines to .gitignore" in result.stderr
    assert (tmp_path / "manifests" / "fleet.yaml").exists()
    assert (tmp_path / ".github" / "workflows" / "fleetform-plan.yml").exists()

    forced = fleetform("init", "--name", "f2", "--force", cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert "name: f2" in (tmp_path / "manifests" / "fleet.yaml").read_text()


def test_init_without_account_warns_about_the_demo_account(tmp_path: Path) -> None:
    result = fleetform("init", cwd=tmp_path)
    assert result.returncode == 0
    assert "Warning: no --account given" in result.stderr


def test_init_with_a_bad_name_is_a_clear_error(tmp_path: Path) -> None:
    result = fleetform("init", "--name", "bad name", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("Error: invalid fleet name 'bad name'")
    assert not (tmp_path / "manifests").exists()
