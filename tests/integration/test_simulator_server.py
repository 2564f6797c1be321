"""Simulator lifecycle: start/stop, persistence across restarts, keys, errors, concurrency, CLI."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from reconciler.simulator import SimulatorConfig, SimulatorError, start_in_thread

ROOT = Path(__file__).resolve().parents[2]


def get(url: str, key: str | None, **params: object) -> httpx.Response:
    headers = {"X-API-Key": key} if key else {}
    return httpx.get(url, headers=headers, params=params, verify=False)  # type: ignore[arg-type]


def test_state_and_keys_survive_a_restart_without_reseeding(tmp_path: Path) -> None:
    db = tmp_path / "sim.db"
    with start_in_thread(SimulatorConfig(db_path=db, sims=30)) as sim:
        key, other_key = sim.api_key, sim.other_api_key
        giccid = get(sim.url + "/global-sims", key, status="ACTIVATED").json()[0]["giccid"]
        httpx.post(
            f"{sim.url}/global-sims/{giccid}/deactivate", headers={"X-API-Key": key}
        ).raise_for_status()
    started = time.monotonic()
    with start_in_thread(SimulatorConfig(db_path=db, sims=5000, seed=99)) as sim:
        opened = time.monotonic() - started
        total = get(sim.url + "/global-sims", key).headers["X-Total-Count"]
        status = get(f"{sim.url}/global-sims/{giccid}", key).json()["status"]
        assert (sim.api_key, sim.other_api_key) == (key, other_key)
    assert total == "30"  # the existing fleet, not re-seeded with the new size
    assert status == "DEACTIVATED"
    assert opened < 1.0


def test_a_given_key_replaces_the_stored_one(tmp_path: Path) -> None:
    db = tmp_path / "sim.db"
    with start_in_thread(SimulatorConfig(db_path=db, sims=5)) as sim:
        old = sim.api_key
    with start_in_thread(SimulatorConfig(db_path=db, api_key="K", other_api_key="O")) as sim:
        assert (sim.api_key, sim.other_api_key) == ("K", "O")
        assert get(sim.url + "/enterprise", "K").json()["name"] == "Acme"
        assert get(sim.url + "/enterprise", "O").json()["name"] == "Globex"
        assert get(sim.url + "/enterprise", old).status_code == 401


def test_stop_is_fast_idempotent_and_frees_the_port(tmp_path: Path) -> None:
    sim = start_in_thread(SimulatorConfig(db_path=tmp_path / "s.db", sims=5))
    # a keep-alive connection open at stop time must not hold the shutdown
    client = httpx.Client(headers={"X-API-Key": sim.api_key}, verify=False)
    client.get(sim.url + "/enterprise").raise_for_status()
    started = time.monotonic()
    sim.stop()
    elapsed = time.monotonic() - started
    sim.stop()
    client.close()
    assert elapsed < 1.0
    with pytest.raises(httpx.TransportError):
        httpx.get(sim.url + "/enterprise")
    again = start_in_thread(SimulatorConfig(db_path=tmp_path / "s.db"), port=sim.port)
    again.stop()


def test_a_port_in_use_is_a_simulator_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(SimulatorError, match=f"127.0.0.1:{port}"):
            start_in_thread(SimulatorConfig(db_path=tmp_path / "s.db", sims=5), port=port)


def test_a_file_that_is_not_a_database_is_a_simulator_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(SimulatorError, match=r"bad\.db"):
        start_in_thread(SimulatorConfig(db_path=bad))


def test_keys_never_show_in_reprs(tmp_path: Path) -> None:
    config = SimulatorConfig(db_path=tmp_path / "s.db", sims=5, api_key="sekrit", push_key="pk")
    with start_in_thread(config) as sim:
        assert "sekrit" not in repr(config)
        assert "pk" not in repr(config).replace("pkg", "")
        assert "sekrit" not in repr(sim)


def test_concurrent_requests_are_counted_exactly(tmp_path: Path) -> None:
    with start_in_thread(SimulatorConfig(db_path=tmp_path / "s.db", sims=100)) as sim:
        headers = {"X-API-Key": sim.api_key}

        def work(worker: int) -> list[int]:
            with httpx.Client(headers=headers, verify=False) as client:
                return [
                    client.get(sim.url + "/global-sims", params={"page": n % 4 + 1}).status_code
                    for n in range(25)
                ]

        with ThreadPoolExecutor(8) as pool:
            codes = [code for codes in pool.map(work, range(8)) for code in codes]
        remaining = get(sim.url + "/enterprise", sim.api_key).headers["X-RateLimit-Remaining"]
    assert codes == [200] * 200
    assert remaining == str(5000 - 201)


def test_a_second_process_sees_the_same_database(tmp_path: Path) -> None:
    """The embedded mode's case: a later process opens the file an earlier one wrote."""
    db = tmp_path / "sim.db"
    with start_in_thread(SimulatorConfig(db_path=db, sims=20)) as sim:
        key = sim.api_key
        giccid = get(sim.url + "/global-sims", key, status="ACTIVATED").json()[0]["giccid"]
        httpx.post(
            f"{sim.url}/batchJobs/global-sims/deactivate",
            headers={"X-API-Key": key},
            json={"giccids": [giccid]},
        ).raise_for_status()
    code = (
        "import sys, time, httpx\n"
        "from reconciler.simulator import SimulatorConfig, start_in_thread\n"
        "with start_in_thread(SimulatorConfig(db_path=sys.argv[1], job_delay=0.02)) as sim:\n"
        "    for _ in range(200):\n"
        "        r = httpx.get(sim.url + '/global-sims/' + sys.argv[2],\n"
        "                      headers={'X-API-Key': sim.api_key})\n"
        "        if r.json()['status'] == 'DEACTIVATED': break\n"
        "        time.sleep(0.02)\n"
        "    print(sim.api_key, r.json()['status'])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(db), giccid],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [key, "DEACTIVATED"]  # same key; the open job resumed


def test_sim_serve_cli_prints_url_and_key_and_stops_on_sigint(tmp_path: Path) -> None:
    command = [
        sys.executable,
        "-c",
        "from reconciler.cli import main; main()",
        "sim",
        "serve",
        "--port",
        "0",
        "--sims",
        "250",
        "--db",
        str(tmp_path / "cli.db"),
        "--rate-limit",
        "100/60",
    ]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline().split()
        url = next(word for word in first if word.startswith("http://"))
        key = process.stdout.readline().split()[-1]
        for _ in range(100):
            try:
                response = get(url + "/global-sims", key, size=100)
                break
            except httpx.TransportError:
                time.sleep(0.05)
        assert response.headers["X-Total-Count"] == "250"
        assert response.headers["X-RateLimit-Limit"] == "100"
        assert len(response.json()) == 100
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=10)
    assert process.returncode == 0
    assert "Traceback" not in stderr


def test_sim_serve_cli_reports_a_bad_rate_limit_without_a_traceback(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "from reconciler.cli import main; main()",
            "sim",
            "serve",
            "--db",
            str(tmp_path / "x.db"),
            "--rate-limit",
            "lots",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=30,
    )
    assert result.returncode != 0
    assert "--rate-limit" in result.stderr
    assert "Traceback" not in result.stderr


def test_sim_serve_cli_with_given_keys_prints_no_key(tmp_path: Path) -> None:
    command = [
        sys.executable,
        "-c",
        "from reconciler.cli import main; main()",
        "sim",
        "serve",
        "--port",
        "0",
        "--sims",
        "10",
        "--db",
        str(tmp_path / "keys.db"),
        "--api-key",
        "primary-key",
        "--other-api-key",
        "globex-key",
    ]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert process.stdout is not None
        url = next(w for w in process.stdout.readline().split() if w.startswith("http://"))
        enterprise = get(url + "/enterprise", "globex-key").json()["name"]
    finally:
        process.send_signal(signal.SIGINT)
        stdout, _ = process.communicate(timeout=10)
    assert enterprise == "Globex"
    assert "key" not in stdout.lower()  # nothing more was printed after the URL line
    assert process.returncode == 0


def test_sim_serve_reads_the_push_key_file_as_the_receiver_does(tmp_path: Path) -> None:
    """One file for both ends: comments and the old key of a rotation are skipped, the first
    (current) key signs. The whole file, comment and all, used to become the signing key."""
    key_file = tmp_path / "push.key"
    key_file.write_text("# rotated in December\nnew-key\nold-key\n", encoding="utf-8")
    db = tmp_path / "push.db"
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from reconciler.cli import main; main()",
            "sim",
            "serve",
            "--port",
            "0",
            "--sims",
            "10",
            "--db",
            str(db),
            "--push-key-file",
            str(key_file),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert process.stdout is not None
        assert "http://" in process.stdout.readline()
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=10)
    with sqlite3.connect(db) as stored:
        row = stored.execute("SELECT value FROM meta WHERE key = 'push_key'").fetchone()
    assert row == ("new-key",)


def test_sim_serve_refuses_an_empty_push_key_file_without_a_traceback(tmp_path: Path) -> None:
    key_file = tmp_path / "push.key"
    key_file.write_text("# nothing here yet\n\n", encoding="utf-8")
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "from reconciler.cli import main; main()",
            "sim",
            "serve",
            "--port",
            "0",
            "--db",
            str(tmp_path / "x.db"),
            "--push-key-file",
            str(key_file),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=30,
    )
    assert result.returncode == 1
    assert f"the push key file {key_file} is empty" in result.stderr
    assert "Traceback" not in result.stderr
