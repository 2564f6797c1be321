"""Help and small papercuts of the command line (issue 15, point 9): every command's ``--help``
lists its exit codes, ``sim serve --help`` describes every option, and the global options also
work after the command name."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from reconciler.cli import cli
from reconciler.simulator import RunningSimulator

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "plan"


def _commands(group: click.Group = cli, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            yield from _commands(command, (*prefix, name))
        else:
            yield (*prefix, name)


@pytest.mark.parametrize("path", list(_commands()), ids=" ".join)
def test_every_commands_help_lists_its_exit_codes(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "\n  Exit codes:\n" in result.output
    codes = [
        line.split()[0]
        for line in result.output.split("Exit codes:\n")[1].splitlines()
        if line.strip() and line.strip()[0].isdigit()
    ]
    assert "0" in codes and "1" in codes


def test_the_exit_codes_are_the_commands_own() -> None:
    plan = CliRunner().invoke(cli, ["plan", "--help"]).output
    assert "2  changes pending (with --detailed-exitcode)" in plan
    apply = CliRunner().invoke(cli, ["apply", "--help"]).output
    assert "3  finished with some steps failed or stale" in apply


def test_sim_serve_help_describes_every_option() -> None:
    serve = cli.commands["sim"].commands["serve"]  # type: ignore[attr-defined]
    undocumented = [p.name for p in serve.params if isinstance(p, click.Option) and not p.help]
    assert undocumented == []
    text = CliRunner().invoke(cli, ["sim", "serve", "--help"]).output
    assert "/admin/faults" in text and "/admin/sims/GICCID" in text


@pytest.fixture
def sim(sim_factory: Callable[..., RunningSimulator]) -> RunningSimulator:
    return sim_factory(sims=250, seed=1, job_delay=0.05)


def test_global_options_also_work_after_the_command(sim: RunningSimulator, tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_text(sim.api_key)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SMARTHUB_", "FLEETFORM_"))}
    env |= {"PYTHONPATH": str(ROOT), "NO_COLOR": "1"}
    args = [str(DATA / "in-sync"), "--endpoint", sim.url, "--api-key-file", str(key_file)]
    result = subprocess.run(
        [sys.executable, "-m", "reconciler", "plan", *args, "--detailed-exitcode"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert f"Reading account 'acme' at {sim.url}" in result.stderr
    assert "embedded simulator" not in result.stderr
    assert sim.api_key not in result.stderr + result.stdout
