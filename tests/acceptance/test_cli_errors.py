"""The one error boundary: exit codes and messages of the real CLI for things that go wrong."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def fleetform(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("SMARTHUB_")}
    base["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-m", "reconciler", *args],
        capture_output=True,
        text=True,
        env={**base, **(env or {})},
        cwd=ROOT,
        timeout=60,
    )


@pytest.mark.parametrize(
    "args",
    [
        ("plan",),  # no path
        ("drift", "does-not-exist"),
        ("plan", "examples/fleet", "--bogus"),
        ("nonsense",),
    ],
)
def test_usage_errors_exit_1_not_2(args: tuple[str, ...]) -> None:
    """2 means "changes pending / drift found": a typo must not open a drift issue."""
    result = fleetform(*args)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("key", ["SECRETKEY123abc\nx", "SECRETKEYé123"])
def test_a_bad_key_is_one_error_line_that_never_shows_the_key(key: str) -> None:
    result = fleetform(
        "plan",
        "examples/fleet",
        env={"SMARTHUB_ENDPOINT": "http://127.0.0.1:9/v1", "SMARTHUB_API_KEY": key},
    )
    assert result.returncode == 1
    assert "SECRETKEY" not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("Error: ")


def test_no_answer_from_the_endpoint_is_one_clear_line() -> None:
    result = fleetform(
        "plan",
        "examples/fleet",
        env={"SMARTHUB_ENDPOINT": "http://127.0.0.1:9/v1", "SMARTHUB_API_KEY": "k-123"},
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "Error: 0 " not in result.stderr
    assert "k-123" not in result.stdout + result.stderr


@pytest.mark.parametrize("days", ["1e308", "1000000"])
def test_an_absurd_history_window_is_a_usage_error_not_an_overflow(days: str) -> None:
    result = fleetform(
        "drift",
        "examples/fleet",
        "--history-days",
        days,
        env={"SMARTHUB_ENDPOINT": "http://127.0.0.1:9/v1", "SMARTHUB_API_KEY": "k"},
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "--history-days" in result.stderr


@pytest.mark.parametrize("limit", ["5/inf", "5/nan"])
def test_a_rate_limit_the_simulator_cannot_serve_is_refused(limit: str) -> None:
    """``5/inf`` and ``5/nan`` were accepted, and every request then failed inside the server."""
    result = fleetform("sim", "serve", "--port", "0", "--rate-limit", limit, "--db", "/dev/null/x")
    assert result.returncode == 1
    assert "--rate-limit" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("args", "traceback"),
    [
        (("show", "missing.json"), False),
        (("-v", "show", "missing.json"), True),
        (("show", "missing.json", "-v"), True),  # a global option after the command
        (("show", "missing.json", "--verbose"), True),
    ],
)
def test_a_traceback_only_with_verbose_before_or_after_the_command(
    args: tuple[str, ...], traceback: bool
) -> None:
    result = fleetform(*args)
    assert result.returncode == 1, result.stderr
    assert "Error: " in result.stderr
    assert ("Traceback" in result.stderr) is traceback, result.stderr
