"""``fleetform webhook serve`` as a real process: starts, receives, reports drift on stdout,
stops cleanly on SIGTERM; configuration errors exit 1 without a traceback."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import httpx
import pytest

from reconciler.simulator import RunningSimulator, giccid_for
from reconciler.webhook import sign

ROOT = Path(__file__).resolve().parents[2]
PUSH_KEY = "k3y-for-the-cli-test"

FLEET = """\
apiVersion: fleetform/v1
kind: Fleet
metadata: {{name: cli}}
spec:
  account: acme
  unmanaged: ignore
---
apiVersion: fleetform/v1
kind: SimGroup
metadata: {{name: watched}}
spec:
  state: active
  sims: ["{iccid}"]
"""


def env_for(sim: RunningSimulator | None, state: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SMARTHUB_", "FLEETFORM_"))}
    env["PYTHONPATH"] = str(ROOT)
    env["FLEETFORM_STATE_DIR"] = str(state)
    if sim is not None:
        env["SMARTHUB_ENDPOINT"] = sim.url
        env["SMARTHUB_API_KEY"] = sim.api_key
    env.update(extra)
    return env


def reader(stream: IO[str], pumps: list[threading.Thread]) -> queue.Queue[str]:
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        for line in stream:
            lines.put(line.rstrip("\n"))

    thread = threading.Thread(target=pump, daemon=True)
    thread.start()
    pumps.append(thread)
    return lines


def wait_line(lines: queue.Queue[str], pattern: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    seen: list[str] = []
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            break
        seen.append(line)
        if re.search(pattern, line):
            return line
    raise AssertionError(f"no line matching {pattern!r} in {timeout} s; saw {seen}")


@pytest.fixture
def manifests(tmp_path: Path) -> Path:
    path = tmp_path / "fleet.yaml"
    path.write_text(FLEET.format(iccid=giccid_for(3)))
    return path


def start(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "reconciler", *args],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


Factory = Callable[[list[str], dict[str, str]], subprocess.Popen[str]]


@pytest.fixture
def pumps() -> list[threading.Thread]:
    return []


@pytest.fixture
def process_factory(pumps: list[threading.Thread]) -> Iterator[Factory]:
    started: list[subprocess.Popen[str]] = []

    def factory(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
        proc = start(args, env)
        started.append(proc)
        return proc

    yield factory
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait(5)
    for thread in pumps:
        thread.join(5)
    for proc in started:
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def test_serve_reports_drift_on_stdout_and_stops_on_sigterm(
    sim_factory: Callable[..., RunningSimulator],
    manifests: Path,
    tmp_path: Path,
    process_factory: Factory,
    pumps: list[threading.Thread],
) -> None:
    sim = sim_factory(sims=10, job_delay=0.05, push_key=PUSH_KEY)
    iccid = giccid_for(3)
    admin = httpx.Client(base_url=sim.admin_url, headers={"X-API-Key": sim.api_key})
    admin.patch(f"/sims/{iccid}", json={"status": "ACTIVATED"}).raise_for_status()
    env = env_for(sim, tmp_path / "state", SMARTHUB_PUSH_KEY=PUSH_KEY)
    proc = process_factory(["webhook", "serve", "--port", "0", str(manifests)], env)
    assert proc.stdout is not None and proc.stderr is not None
    out, err = reader(proc.stdout, pumps), reader(proc.stderr, pumps)
    listening = wait_line(err, r"listening on http://", 20)
    url = re.search(r"(http://[\d.]+:\d+)", listening).group(1)  # type: ignore[union-attr]

    admin.post("/faults", json={"pushUrls": {"*": f"{url}/push"}}).raise_for_status()
    admin.patch(f"/sims/{iccid}", json={"status": "DEACTIVATED"}).raise_for_status()
    line = wait_line(out, iccid, 5)
    assert line == f"drift {iccid} (group watched): state: git active, live suspended"

    now = int(time.time())
    replay = {"eventId": "r1", "eventType": "SIM_STATUS_CHANGE", "giccid": iccid}
    replay |= {"datePush": now, "signature": sign(PUSH_KEY, now)}
    assert httpx.post(f"{url}/push", json=replay).json()["status"] == "accepted"
    assert httpx.post(f"{url}/push", json=replay).json()["status"] == "duplicate"

    proc.send_signal(signal.SIGTERM)
    assert proc.wait(15) == 0
    admin.close()
    assert (tmp_path / "state" / "webhook.db").exists()
    assert (tmp_path / "state" / "drift.jsonl").read_text().count(iccid) >= 1


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("no-key", "no push key: set SMARTHUB_PUSH_KEY or pass --push-key-file"),
        ("empty-key-file", "is empty"),
        ("bad-manifest", r"fleet\.yaml:\d+:\d+: "),
    ],
)
def test_configuration_errors_exit_1_without_a_traceback(
    tmp_path: Path,
    manifests: Path,
    setup: str,
    message: str,
    process_factory: Factory,
) -> None:
    env = env_for(None, tmp_path / "state", SMARTHUB_ENDPOINT="http://127.0.0.1:9/v1")
    env["SMARTHUB_API_KEY"] = "unused"
    args = ["webhook", "serve", "--port", "0", str(manifests)]
    if setup == "empty-key-file":
        (tmp_path / "key").write_text("\n")
        args += ["--push-key-file", str(tmp_path / "key")]
    elif setup == "bad-manifest":
        env["SMARTHUB_PUSH_KEY"] = PUSH_KEY
        manifests.write_text(FLEET.format(iccid="8944500000000000001"))
    proc = process_factory(args, env)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 1
    assert re.search(message, err), err
    assert "Traceback" not in err
    assert PUSH_KEY not in err
