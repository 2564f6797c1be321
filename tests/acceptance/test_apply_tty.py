"""``fleetform apply PATH`` on a terminal: it shows the plan and asks; only ``yes`` applies."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from reconciler.simulator import RunningSimulator

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "apply"


@pytest.fixture
def sim(sim_factory: Callable[..., RunningSimulator]) -> RunningSimulator:
    return sim_factory(sims=250, seed=1, job_delay=0.05)


def run_on_a_terminal(sim: RunningSimulator, cwd: Path, answer: str) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SMARTHUB_", "FLEETFORM_"))}
    env.update(
        PYTHONPATH=str(ROOT),
        NO_COLOR="1",
        SMARTHUB_ENDPOINT=sim.url,
        SMARTHUB_API_KEY=sim.api_key,
        FLEETFORM_STATE_DIR=str(cwd / "state"),
        COLUMNS="120",
    )
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "apply", str(DATA)],
        cwd=cwd,
        env=env,
        stdin=slave,
        stdout=slave,
        stderr=slave,
    )
    os.close(slave)
    seen = b""
    answered = False
    deadline = time.monotonic() + 180  # generous: a loaded machine is slow, never wrong
    try:
        # read until the terminal reports that every writer closed it (EIO), not until the
        # process has exited: output written just before the exit is still in the buffer,
        # and stopping at the exit raced with it (the final report lost under load)
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:
                    break  # EIO: the child closed the terminal and all it wrote was read
                if not chunk:
                    break
                seen += chunk
            if not answered and b"Only 'yes' will be accepted" in seen:
                os.write(master, answer.encode() + b"\n")
                answered = True
        code = proc.wait(timeout=30)
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return code, seen.decode(errors="replace")


def test_yes_applies_with_a_progress_bar(sim: RunningSimulator, tmp_path: Path) -> None:
    code, output = run_on_a_terminal(sim, tmp_path, "yes")
    assert code == 0, output
    assert "Plan:" in output and "Apply complete" in output
    assert "SIMs" in output  # the progress bar's column


def test_anything_but_yes_cancels_without_a_write(sim: RunningSimulator, tmp_path: Path) -> None:
    code, output = run_on_a_terminal(sim, tmp_path, "y")
    assert code == 1, output
    assert "apply cancelled" in output
    assert not list((tmp_path / "state").glob("journal/*.jsonl"))


def test_eof_at_the_prompt_aborts_and_says_how_to_resume(
    sim: RunningSimulator, tmp_path: Path
) -> None:
    """Click turns EOF (Ctrl+D) at the prompt into Abort: "Aborted.", then apply's own note,
    which the command leaves for `main` (main never looks at the arguments)."""
    code, output = run_on_a_terminal(sim, tmp_path, "\x04")
    assert code == 1, output
    assert "Aborted." in output
    assert "`fleetform apply --resume` continues it" in output, output
    assert "Traceback" not in output
