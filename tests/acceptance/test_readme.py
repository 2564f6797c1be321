"""The README cannot rot: every ``$`` line of its ``console`` blocks runs here, as written.

The commands run in document order in one fresh folder holding a copy of ``examples/`` and
``tests/data/``, against the embedded simulator (or one a line starts itself with ``&``). A
``# exit N`` comment states the expected exit code (default 0). A line ending in ``&`` runs in
the background until the test ends; the next line waits until its ``--port`` answers.

The two set-up commands at the top are checked too: the test command is exactly what ``.ci/run``
runs (CI executes it for real), and the install command ends in a fleetform call that runs here.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
CONSOLE_BLOCK = re.compile(r"^```console\n(.*?)^```", re.S | re.M)
SETUP_BLOCK = re.compile(r"\A# fleetform\n\n```sh\n(.*?)^```", re.S | re.M)
EXIT_COMMENT = re.compile(r"\s+#\s*exit\s+(\d+)\s*$")


@dataclass(frozen=True)
class Command:
    line: int
    text: str
    exit_code: int
    background: bool


def _console_commands() -> list[Command]:
    text = README.read_text(encoding="utf-8")
    commands: list[Command] = []
    for block in CONSOLE_BLOCK.finditer(text):
        first_line = text.count("\n", 0, block.start(1)) + 1
        for offset, raw in enumerate(block.group(1).splitlines()):
            if not raw.startswith("$ "):
                continue
            command = raw[2:].strip()
            expected = 0
            match = EXIT_COMMENT.search(command)
            if match:
                expected = int(match.group(1))
                command = command[: match.start()].rstrip()
            background = command.endswith("&")
            command = command.removesuffix("&").rstrip()
            commands.append(Command(first_line + offset, command, expected, background))
    return commands


COMMANDS = _console_commands()


@dataclass
class Workspace:
    path: Path
    env: dict[str, str]
    background: list[subprocess.Popen[bytes]]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    path = tmp_path_factory.mktemp("readme")
    shutil.copytree(ROOT / "examples", path / "examples")
    shutil.copytree(ROOT / "tests" / "data", path / "tests" / "data")
    shim_dir = path / ".bin"
    shim_dir.mkdir()
    shim = shim_dir / "fleetform"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m reconciler "$@"\n', encoding="utf-8")
    shim.chmod(0o755)
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"SMARTHUB_ENDPOINT", "SMARTHUB_API_KEY", "FLEETFORM_STATE_DIR"}
    }
    env["PATH"] = f"{shim_dir}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["NO_COLOR"] = "1"
    ws = Workspace(path, env, [])
    yield ws
    for process in ws.background:
        process.send_signal(signal.SIGINT)
    for process in ws.background:
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


def _wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = process.stdout.read().decode() if process.stdout else ""
            pytest.fail(f"background command exited with {process.returncode}: {output}")
        with socket.socket() as probe:
            probe.settimeout(0.2)
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    pytest.fail(f"nothing answered on port {port} within {timeout} s")


def test_the_readme_shows_commands() -> None:
    assert len(COMMANDS) >= 10
    assert any(c.background for c in COMMANDS)


def _run(command: Command, workspace: Workspace) -> None:
    if command.background:
        process = subprocess.Popen(
            ["bash", "-c", f"exec {command.text}"],
            cwd=workspace.path,
            env=workspace.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        workspace.background.append(process)
        port = re.search(r"--port\s+(\d+)", command.text)
        assert port, f"README line {command.line}: a background command must name its --port"
        _wait_for_port(int(port.group(1)), process)
        return
    result = subprocess.run(
        ["bash", "-c", command.text],
        cwd=workspace.path,
        env=workspace.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == command.exit_code, (
        f"README line {command.line}: `{command.text}` exited {result.returncode}, "
        f"expected {command.exit_code}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    )
    assert "Traceback" not in result.stderr
    assert "demo-key" not in result.stdout + result.stderr


def test_readme_commands_in_order(workspace: Workspace) -> None:
    """Every command of the README, in order, in one workspace: one test, because each may
    depend on the ones before it (a simulator started in the background, a plan saved), and
    pytest-xdist would otherwise hand the lines to different workers."""
    for command in COMMANDS:
        _run(command, workspace)


def test_setup_commands_are_the_ones_ci_runs(workspace: Workspace) -> None:
    block = SETUP_BLOCK.search(README.read_text(encoding="utf-8"))
    assert block, "README.md must start with the two set-up commands in a sh block"
    install, test = block.group(1).strip().splitlines()
    assert test in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "pytest" in test
    # The install command ends by running fleetform against the embedded simulator: run that part.
    last = install.split("&&")[-1].strip()
    argv = shlex.split(last)
    assert argv[0].endswith("fleetform")
    result = subprocess.run(
        ["fleetform", *argv[1:]],
        cwd=workspace.path,
        env=workspace.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "embedded simulator" in result.stderr
