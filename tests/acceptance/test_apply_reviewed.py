"""Apply what was reviewed (issue 15, point 6): ``apply --reviewed-digest`` refuses a plan whose
changes differ from the plan reviewed on the pull request, and says both digests."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from reconciler.simulator import RunningSimulator
from tests.acceptance.test_apply_cli import DATA, SPARE, fleetform
from tests.fakes import Admin


@pytest.fixture
def sim(sim_factory: Callable[..., RunningSimulator]) -> RunningSimulator:
    return sim_factory(sims=250, seed=1, job_delay=0.05)


def _digest(path: Path) -> str:
    digest = json.loads(path.read_text(encoding="utf-8"))["changes_digest"]
    assert isinstance(digest, str)
    return digest


def test_apply_refuses_changes_that_differ_from_the_reviewed_plan(
    sim: RunningSimulator, tmp_path: Path
) -> None:
    reviewed = tmp_path / "reviewed.json"
    assert (
        fleetform("plan", str(DATA), "--out", str(reviewed), sim=sim, cwd=tmp_path).returncode == 0
    )
    admin = Admin(sim)
    try:
        admin.patch_sim(SPARE, custom4="by-hand")  # live state moves between review and merge
        merged = tmp_path / "merged.json"
        made = fleetform("plan", str(DATA), "--out", str(merged), sim=sim, cwd=tmp_path)
        assert made.returncode == 0, made.stderr
        assert _digest(merged) != _digest(reviewed)

        refused = fleetform(
            "apply", str(merged), "--reviewed-digest", _digest(reviewed), sim=sim, cwd=tmp_path
        )
        assert refused.returncode == 1
        assert "the plan to apply is not the plan that was reviewed" in refused.stderr
        assert _digest(merged) in refused.stderr and _digest(reviewed) in refused.stderr
        assert "Nothing was changed" in refused.stderr and "Traceback" not in refused.stderr
        assert admin.sim(SPARE)["custom4"] == "by-hand"

        applied = fleetform(
            "apply", str(merged), "--reviewed-digest", _digest(merged), sim=sim, cwd=tmp_path
        )
        assert applied.returncode == 0, applied.stderr
        assert "the plan's changes are the ones reviewed" in applied.stderr
    finally:
        admin.close()
