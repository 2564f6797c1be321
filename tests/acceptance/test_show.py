"""``fleetform show PLANFILE``: a saved plan printed in each format without a request, by the
real CLI in a subprocess; the simulator on a socket counts every request it gets."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from reconciler.cli import main
from reconciler.planfile import load_plan
from reconciler.render import render_plan
from reconciler.simulator import RunningSimulator

ROOT = Path(__file__).resolve().parents[2]
CHANGES = ROOT / "tests" / "data" / "plan" / "changes"


def fleetform(
    *args: str, cwd: Path, sim: RunningSimulator | None = None, **extra: str
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SMARTHUB_", "FLEETFORM_"))}
    env.update(PYTHONPATH=str(ROOT), NO_COLOR="1", FLEETFORM_STATE_DIR=str(cwd / ".state"))
    env.pop("GITHUB_STEP_SUMMARY", None)
    if sim is not None:
        env.update(SMARTHUB_ENDPOINT=sim.url, SMARTHUB_API_KEY=sim.api_key)
    env.update(extra)
    return subprocess.run(
        [sys.executable, "-m", "reconciler", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A plan file of the changes fixture, and what ``plan`` printed in each format."""
    from reconciler.simulator import SimulatorConfig, start_in_thread

    folder = tmp_path_factory.mktemp("show")
    with start_in_thread(
        SimulatorConfig(db_path=folder / "sim.db", sims=250, job_delay=0.05)
    ) as sim:
        made = fleetform(
            "plan", str(CHANGES), "--out", "plan.json", "--allow-retire", cwd=folder, sim=sim
        )
        assert made.returncode == 0, made.stderr
        printed = {"text": made.stdout}  # what plan printed of this very plan
    return folder / "plan.json", printed


@pytest.mark.parametrize("fmt", ["text", "markdown", "json", "github"])
def test_show_prints_the_plan_in_each_format_and_sends_no_request(
    saved: tuple[Path, dict[str, str]], sim_factory: Callable[..., RunningSimulator], fmt: str
) -> None:
    plan_file, printed = saved
    sim = sim_factory(sims=20, job_delay=0.05)  # configured, and never asked
    summary = plan_file.parent / f"summary-{fmt}.md"
    result = fleetform(
        "show",
        str(plan_file),
        "--format",
        fmt,
        cwd=plan_file.parent,
        sim=sim,
        GITHUB_STEP_SUMMARY=str(summary),
    )
    assert result.returncode == 0, result.stderr
    assert sim.counters().get("requests", 0) == 0
    plan = json.loads(plan_file.read_text())
    steps = plan["steps"]
    assert steps, "the fixture must have changes"
    if fmt == "json":
        assert json.loads(result.stdout) == plan
    elif fmt == "github":
        assert "::notice" in result.stdout
        assert "fleetform plan: `acme-trackers`" in summary.read_text()
    else:
        expected = printed.get(fmt) or render_plan(load_plan(plan_file), fmt)
        assert result.stdout == expected
    for step in steps:
        for sim_entry in step["sims"]:
            assert sim_entry["iccid"] in result.stdout or fmt == "github"
    assert plan["checksum"] in result.stderr
    assert "apply it with: fleetform apply" in result.stderr


def test_show_starts_no_embedded_simulator(
    saved: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    plan_file, _ = saved
    result = fleetform("show", str(plan_file), cwd=tmp_path)  # no endpoint, no key
    assert result.returncode == 0, result.stderr
    assert "embedded" not in result.stderr.lower()
    assert not (tmp_path / ".state").exists()


def test_an_edited_plan_is_refused_as_apply_refuses_it(
    saved: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    plan_file, _ = saved
    data = json.loads(plan_file.read_text())
    data["steps"][0]["sims"][0]["after"] = {
        k: "tampered" for k in data["steps"][0]["sims"][0]["after"]
    }
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps(data))
    result = fleetform("show", str(edited), cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("Error: ") and "checksum" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def show_in_process(
    args: list[str], capsys: pytest.CaptureFixture[str]
) -> tuple[int | str | None, str]:
    """The real CLI entry point in this process (cheap, for the error paths)."""
    with pytest.raises(SystemExit) as exit_:
        main(["show", *args])
    return exit_.value.code, capsys.readouterr().err


@pytest.mark.parametrize("content", ["", "not json", "[]", '{"format": "other"}'])
def test_a_file_that_is_no_plan_is_one_error_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str
) -> None:
    bad = tmp_path / "plan.json"
    bad.write_text(content)
    code, err = show_in_process([str(bad)], capsys)
    assert code == 1
    assert err.startswith("Error: ") and "Traceback" not in err


def test_a_missing_file_or_a_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = show_in_process([str(tmp_path / "nope.json")], capsys)
    assert code == 1 and "cannot read the plan file" in err
    code, err = show_in_process([str(tmp_path)], capsys)
    assert code == 1 and "is a folder" in err
