"""Ctrl+C during a rate-window wait of a real ``fleetform plan``: the list is read ahead on a
thread (`reconciler.smarthub.paging`), and the wait is that thread's. A SIGINT must still end
the process at once, with no request more and no traceback."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from reconciler.simulator import RunningSimulator, giccid_for
from tests.acceptance.test_apply_crash import command, env_for
from tests.fakes import Admin, write_fleet


def test_sigint_while_the_read_ahead_waits_for_the_window_stops_at_once(
    sim_factory: Callable[..., RunningSimulator], tmp_path: Path
) -> None:
    # 600 SIMs: 6 list pages; a window of 3 requests: the catalogue and two pages, then a wait
    sim = sim_factory(sims=600, seed=1, job_delay=0.05, rate_limit=3, rate_window=3600.0)
    admin = Admin(sim)
    manifests = write_fleet(tmp_path / "m", {"few": {"sims": [giccid_for(i) for i in range(3)]}})
    log = tmp_path / "plan.log"
    with open(log, "wb") as sink:
        proc = subprocess.Popen(
            command("plan", str(manifests)),
            cwd=tmp_path,
            env=env_for(sim, tmp_path / "state"),
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while b"waiting" not in log.read_bytes() and proc.poll() is None:
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        assert proc.poll() is None, f"plan ended before its window wait: {log.read_text()}"
        time.sleep(0.3)
        sent = admin.counters()["requests"]
        interrupted = time.monotonic()
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=10)
        took = time.monotonic() - interrupted
        after = admin.counters()["requests"]
    finally:
        if proc.poll() is None:
            proc.kill()
        admin.close()
    output = log.read_text()
    assert took < 1.5, f"plan took {took:.1f}s to stop after SIGINT"
    assert proc.returncode == 1, output  # click's Abort: "Aborted.", as for every command
    assert "Aborted." in output and "Traceback" not in output, output
    assert after == sent, "requests reached the server after SIGINT"
