"""``apply PATH --resume`` after a kill -9 (a CI job re-run adds ``--resume`` to the same command
line): the interrupted plan of those same manifests is resumed and finished; when the manifests
changed since, the paths are refused with the message that says how to go on."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from reconciler.simulator import RunningSimulator
from tests.acceptance.test_apply_crash import command, crash_fleet, env_for, journal_lines
from tests.fakes import Admin


def run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )


def settled_requests(sim: RunningSimulator) -> int:
    """The simulator's request count once it stopped moving for half a second."""
    last, since = sim.counters().get("requests", 0), time.monotonic()
    while time.monotonic() - since < 0.5:
        time.sleep(0.05)
        now = sim.counters().get("requests", 0)
        if now != last:
            last, since = now, time.monotonic()
    return last


@pytest.mark.slow
def test_kill_9_then_apply_manifests_resume_finishes_the_interrupted_plan(
    sim_factory: Callable[..., RunningSimulator], tmp_path: Path
) -> None:
    sim = sim_factory(sims=250, seed=1, job_delay=0.4)
    admin = Admin(sim)
    try:
        manifests = crash_fleet(tmp_path / "m", admin)
        state = tmp_path / "state"
        env = env_for(sim, state)
        line = ["apply", str(manifests), "--auto-approve"]
        with open(tmp_path / "first.log", "wb") as sink:
            proc = subprocess.Popen(
                command(*line),
                cwd=tmp_path,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while proc.poll() is None and time.monotonic() < deadline:
            if (state / "journal").is_dir() and journal_lines(state) >= 7:
                proc.send_signal(signal.SIGKILL)
                break
            time.sleep(0.002)
        proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL

        # the manifests changed since: refused, nothing sent, and the message says how to go on
        fleet_file = manifests / "fleet.yaml"
        original = fleet_file.read_text()
        fleet_file.write_text(original + "\n# an edit\n")
        requests_before = settled_requests(sim)  # what the killed run sent may still arrive
        refused = run(command(*line, "--resume"), tmp_path, env)
        assert refused.returncode == 1
        assert "pass its plan file or nothing, not manifest paths" in refused.stderr
        assert "changed since plan" in refused.stderr
        assert "fleetform apply --resume" in refused.stderr
        assert sim.counters().get("requests", 0) == requests_before
        fleet_file.write_text(original)

        # the same command line with --resume: the interrupted plan is resumed and finished
        resumed = run(command(*line, "--resume"), tmp_path, env)
        assert resumed.returncode == 0, resumed.stdout + resumed.stderr
        assert "planned from these same manifests; resuming it" in resumed.stderr

        held: dict[tuple[str, str], int] = {}
        for job in admin.jobs():
            for giccid in job["giccids"]:
                held[(job["type"], giccid)] = held.get((job["type"], giccid), 0) + 1
        assert {k: n for k, n in held.items() if n > 1} == {}

        plan = run(command("plan", str(manifests), "--detailed-exitcode"), tmp_path, env)
        assert plan.returncode == 0, plan.stdout + plan.stderr

        # nothing left unfinished: --resume says so and how to go on
        again = run(command(*line, "--resume"), tmp_path, env)
        assert again.returncode == 1
        assert "nothing to resume" in again.stderr and "without --resume" in again.stderr
    finally:
        admin.close()
