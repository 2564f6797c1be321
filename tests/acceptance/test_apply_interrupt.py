"""Ctrl+C during a rate-window wait of a real ``fleetform apply`` subprocess (issue 15, point 1).

The simulator's window is small (30 requests an hour), so apply spends it and its workers sit
in a wait that would last about an hour. A SIGINT must end the process within a second or two,
with not one request more reaching the simulator, the stop recorded in the journal and the way
to resume said; after the window is reset, ``apply --resume`` finishes the plan.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from reconciler.simulator import RunningSimulator, giccid_for
from tests.acceptance.test_apply_crash import command, env_for
from tests.fakes import Admin, write_fleet


def test_sigint_in_a_rate_window_wait_stops_at_once_and_resume_finishes(
    sim_factory: Callable[..., RunningSimulator], tmp_path: Path
) -> None:
    sim = sim_factory(sims=60, seed=1, job_delay=0.05, rate_limit=30, rate_window=3600.0)
    admin = Admin(sim)
    try:
        # 40 SIMs each need one single call (a custom field): more than the window holds
        # (every tenth SIM of the seeded fleet is another enterprise's)
        candidates = [giccid_for(i) for i in range(60) if i % 10 != 9]
        sims = [g for g in candidates if admin.sim(g)["status"] != "RETIRED"][:40]
        manifests = write_fleet(
            tmp_path / "m", {"tagged": {"customFields": {"custom4": "x"}, "sims": sims}}
        )
        state = tmp_path / "state"
        env = env_for(sim, state)
        log = tmp_path / "apply.log"
        with open(log, "wb") as sink:
            proc = subprocess.Popen(
                command("apply", str(manifests), "--auto-approve"),
                cwd=tmp_path,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        try:
            deadline = time.monotonic() + 60
            while b"waiting" not in log.read_bytes() and proc.poll() is None:
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.05)
            assert proc.poll() is None, f"apply ended before its window wait: {log.read_text()}"
            time.sleep(0.3)  # every worker reaches the wait
            sent = admin.counters()["requests"]
            interrupted = time.monotonic()
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pytest.fail(f"apply still running 10 s after SIGINT:\n{log.read_text()}")
            took = time.monotonic() - interrupted
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()  # reaped here, not warned about in a later test
        output = log.read_text()
        assert took < 1.5, f"apply took {took:.1f}s to stop after SIGINT"
        assert proc.returncode == 1, output
        assert admin.counters()["requests"] == sent, "requests reached the server after SIGINT"
        assert "apply --resume" in output and "Traceback" not in output, output

        records = [
            json.loads(line)
            for path in (state / "journal").glob("*.jsonl")
            for line in path.read_text(encoding="utf-8").splitlines()
        ]
        assert records[-1]["kind"] == "aborted" and "interrupted" in records[-1]["reason"]
        done_before = sum(1 for g in sims if admin.sim(g)["custom4"] == "x")
        assert 0 < done_before < len(sims)

        admin.reset_rate_limit()  # a new window: room for the rest
        resumed = subprocess.run(
            command("apply", "--resume"),
            cwd=tmp_path,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert resumed.returncode == 0, resumed.stdout + resumed.stderr
        assert all(admin.sim(g)["custom4"] == "x" for g in sims)
    finally:
        admin.close()
