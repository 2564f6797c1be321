"""The manifest fuzz, in-suite part: damaged manifest sets through the real CLI entry point
(`reconciler.cli.main`, in-process to stay cheap): no traceback, no hang, the right exit code,
and no request for an invalid set. The full run (305 sets, files of 20 MiB, each command in its
own process) is ``bench/manifest_fuzz.py``; the sets come from `tests.manifest_fuzz`."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from reconciler.cli import main
from reconciler.simulator import RunningSimulator
from tests.manifest_fuzz import make_cases

ROOT = Path(__file__).resolve().parents[2]
BASE = ROOT / "examples" / "fleet"
PROBLEM_LINE = re.compile(r"^\S.*:\d+:\d+: \S")


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    try:
        main(args)
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    else:  # main always exits
        code = -1
    captured = capsys.readouterr()
    return code, captured.out + captured.err


@pytest.mark.timeout(90)
def test_damaged_manifest_sets_give_clear_errors_and_send_nothing(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    sim_factory: Callable[..., RunningSimulator],
) -> None:
    sim = sim_factory(sims=1000, job_delay=0.05)  # the seeded fleet examples/fleet declares
    monkeypatch.setenv("SMARTHUB_ENDPOINT", sim.url)
    monkeypatch.setenv("SMARTHUB_API_KEY", sim.api_key)
    monkeypatch.setenv("FLEETFORM_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("NO_COLOR", "1")
    cases = make_cases(BASE, tmp_path / "sets", count=60, seed=12, heavy=False)
    verdicts: dict[str, int] = {}
    for case in cases:
        code, output = run(["validate", str(case.path)], capsys)
        assert "Traceback" not in output, case.name
        assert code in (0, 1), (case.name, output)
        if case.expect != "either":
            assert code == (0 if case.expect == "valid" else 1), (case.name, output)
        if code == 1:
            problems = [line for line in output.splitlines() if PROBLEM_LINE.match(line)]
            assert problems, (case.name, output)  # every problem placed at file:line:column
            before = sim.counters().get("requests", 0)
            plan_code, plan_output = run(["plan", str(case.path)], capsys)
            assert plan_code == 1, (case.name, plan_output)
            assert "Traceback" not in plan_output
            assert sim.counters().get("requests", 0) == before, case.name
        verdicts[case.name] = verdicts.get(case.name, 0) + code
    # the random damage is not all harmless: most of it makes an invalid set
    assert sum(verdicts.values()) >= 30
