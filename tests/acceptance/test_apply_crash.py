"""kill -9 in the middle of a real ``fleetform apply`` subprocess, then ``apply --resume``.

The simulator runs batch jobs slowly enough (job_delay) that they are in flight when the
process dies. After resume: exit 0, the account matches the manifests, and no SIM was ever in
two batch jobs of the same operation (checked on the simulator's own job list).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from reconciler.simulator import RunningSimulator, giccid_for
from tests.fakes import Admin, write_fleet

ROOT = Path(__file__).resolve().parents[2]


def env_for(sim: RunningSimulator, state: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SMARTHUB_", "FLEETFORM_"))}
    env.update(
        PYTHONPATH=str(ROOT),
        NO_COLOR="1",
        SMARTHUB_ENDPOINT=sim.url,
        SMARTHUB_API_KEY=sim.api_key,
        FLEETFORM_STATE_DIR=str(state),
    )
    return env


def command(*args: str) -> list[str]:
    return [sys.executable, "-c", "from reconciler.cli import main; main()", *args]


def crash_fleet(directory: Path, admin: Admin) -> Path:
    """Three waves with batch jobs: fields, suspend, retire; plus activations."""
    status = {g: admin.sim(g)["status"] for g in (giccid_for(i) for i in range(200) if i % 10 != 9)}
    active = [g for g, s in status.items() if s == "ACTIVATED"]
    others = [g for g, s in status.items() if s not in ("ACTIVATED", "RETIRED")]
    return write_fleet(
        directory,
        {
            "off": {"state": "suspended", "customFields": {"custom5": "off"}, "sims": active[:40]},
            "gone": {"state": "retired", "sims": active[40:60]},
            "on": {"state": "active", "customFields": {"custom5": "on"}, "sims": others[:30]},
            # unchanged SIMs, so the 60 disabled stay under the mass-disable guard's half
            "steady": {"state": "active", "sims": active[60:100]},
        },
        guards={"allowRetire": True, "maxChanges": 1000},
    )


def journal_lines(state: Path) -> int:
    return sum(
        p.read_bytes().count(b"\n") for p in (state / "journal").glob("*.jsonl") if p.exists()
    )


@pytest.mark.slow
@pytest.mark.parametrize("kill_after_lines", [3, 4, 7, 12, 25])
def test_kill_9_mid_apply_then_resume_finishes_without_resubmitting(
    sim_factory: Callable[..., RunningSimulator], tmp_path: Path, kill_after_lines: int
) -> None:
    sim = sim_factory(sims=250, seed=1, job_delay=0.4)
    admin = Admin(sim)
    try:
        manifests = crash_fleet(tmp_path / "m", admin)
        state = tmp_path / "state"
        env = env_for(sim, state)
        log = tmp_path / "first.log"
        with open(log, "wb") as sink:
            proc = subprocess.Popen(
                command("apply", str(manifests), "--auto-approve"),
                cwd=tmp_path,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while proc.poll() is None and time.monotonic() < deadline:
            if (state / "journal").is_dir() and journal_lines(state) >= kill_after_lines:
                proc.send_signal(signal.SIGKILL)
                break
            time.sleep(0.002)
        proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL, f"apply ended before the kill: {log.read_text()}"

        resumed = subprocess.run(
            command("apply", "--resume"),
            cwd=tmp_path,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert resumed.returncode == 0, resumed.stdout + resumed.stderr

        held: dict[tuple[str, str], int] = {}
        for job in admin.jobs():
            for giccid in job["giccids"]:
                key = (job["type"], giccid)
                held[key] = held.get(key, 0) + 1
        twice = {k: n for k, n in held.items() if n > 1}
        assert twice == {}, f"SIMs in two batch jobs of the same operation: {twice}"

        plan = subprocess.run(
            command("plan", str(manifests), "--detailed-exitcode"),
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert plan.returncode == 0, plan.stdout + plan.stderr
    finally:
        admin.close()
