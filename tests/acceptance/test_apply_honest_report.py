"""Apply reports say who did what (issue 15, point 8): the real CLI against a simulator.

A SIM that already held its target (changed by hand after the plan) is reported "already in
place", not as changed by this apply; applying an applied plan again says "nothing left to do"
instead of claiming its SIM changes as done.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from reconciler.simulator import RunningSimulator, giccid_for
from tests.acceptance.test_apply_cli import fleetform
from tests.fakes import Admin, write_fleet


def test_already_in_place_sims_and_a_second_apply_are_reported_as_such(
    sim_factory: Callable[..., RunningSimulator], tmp_path: Path
) -> None:
    sim = sim_factory(sims=30, seed=1, job_delay=0.05)
    admin = Admin(sim)
    try:
        candidates = [giccid_for(i) for i in range(30) if i % 10 != 9]
        sims = [g for g in candidates if admin.sim(g)["status"] != "RETIRED"][:6]
        manifests = write_fleet(
            tmp_path / "m", {"tagged": {"customFields": {"custom4": "x"}, "sims": sims}}
        )
        plan = fleetform("plan", str(manifests), "--out", "plan.json", sim=sim, cwd=tmp_path)
        assert plan.returncode == 0, plan.stdout + plan.stderr
        admin.patch_sim(sims[0], custom4="x")  # someone did one of them by hand

        first = fleetform("apply", "plan.json", sim=sim, cwd=tmp_path)
        assert first.returncode == 0, first.stdout + first.stderr
        assert "Apply complete: 5 SIM changes done, 1 already in place." in first.stdout
        assert "Already in place" in first.stdout and sims[0] in first.stdout

        again = fleetform("apply", "plan.json", sim=sim, cwd=tmp_path)
        assert again.returncode == 0, again.stdout + again.stderr
        assert "Nothing left to do" in again.stdout and "already applied" in again.stdout
        assert "SIM changes done" not in again.stdout
    finally:
        admin.close()
