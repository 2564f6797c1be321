"""Hostile manifest files through the real CLI: symlink loops, broken links and FIFOs are named
as problems beside the other files' problems, exit 1, no traceback, and no request is sent."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from reconciler.simulator import RunningSimulator

ROOT = Path(__file__).resolve().parents[2]
BAD_GROUP = ROOT / "tests" / "data" / "manifests" / "unknown-field"


def fleetform(
    *args: str, cwd: Path, sim: RunningSimulator | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SMARTHUB_", "FLEETFORM_"))}
    env["PYTHONPATH"] = str(ROOT)
    env["FLEETFORM_STATE_DIR"] = str(cwd / ".state")
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


@pytest.fixture
def looped(tmp_path: Path) -> Path:
    """A manifest set with a file problem of its own, a self loop, a two-file loop, a loop in a
    subfolder and a FIFO."""
    root = tmp_path / "m"
    shutil.copytree(BAD_GROUP, root)
    (root / "groups").mkdir()
    os.symlink("self.yaml", root / "groups" / "self.yaml")
    os.symlink("b.yml", root / "a.yml")
    os.symlink("a.yml", root / "b.yml")
    os.symlink("nowhere.yaml", root / "dangling.yaml")
    os.mkfifo(root / "pipe.yaml")
    return root


EXPECTED = (
    "m/groups/self.yaml:1:1: cannot be read: symlink loop",
    "m/a.yml:1:1: cannot be read: symlink loop",
    "m/b.yml:1:1: cannot be read: symlink loop",
    "m/dangling.yaml:1:1: cannot be read: broken symlink",
    "m/pipe.yaml:1:1: cannot be read: not a regular file",
)


def test_validate_names_every_loop_and_still_lists_the_other_problems(looped: Path) -> None:
    result = fleetform("validate", "m", cwd=looped.parent)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    for line in EXPECTED:
        assert line in result.stderr
    assert "m/group.yaml:" in result.stderr  # the unknown field of the ordinary file


def test_a_loop_named_on_the_command_line(looped: Path) -> None:
    result = fleetform("validate", "m/groups/self.yaml", "m/fleet.yaml", cwd=looped.parent)
    assert result.returncode == 1
    assert "m/groups/self.yaml:1:1: cannot be read: symlink loop" in result.stderr
    assert "Traceback" not in result.stderr


def test_plan_refuses_before_any_request(
    looped: Path, sim_factory: Callable[..., RunningSimulator]
) -> None:
    sim = sim_factory(sims=20, job_delay=0.05)
    for args in (("plan", "m"), ("plan", "m/groups/self.yaml", "m")):
        result = fleetform(*args, cwd=looped.parent, sim=sim)
        assert result.returncode == 1, (args, result.stderr)
        assert "Traceback" not in result.stderr
        assert "m/groups/self.yaml:1:1: cannot be read: symlink loop" in result.stderr
        assert "m/group.yaml:" in result.stderr
    assert sim.counters().get("requests", 0) == 0  # the counter counts every request
