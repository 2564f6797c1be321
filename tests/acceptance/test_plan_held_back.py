"""One bad SIM does not block every plan (issue 15, point 2): the real CLI against a simulator.

A SIM retired outside fleetform but declared active, and a declared SIM absent from the
account, are held back: listed with how to fix each, recorded in the plan file, and the rest
of the plan is appliable. ``--strict`` keeps the old behaviour (the whole plan is invalid).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from reconciler.simulator import RunningSimulator, giccid_for
from tests.acceptance.test_apply_cli import fleetform
from tests.fakes import Admin, write_fleet


def test_bad_sims_are_held_back_and_the_rest_applies(
    sim_factory: Callable[..., RunningSimulator], tmp_path: Path
) -> None:
    sim = sim_factory(sims=40, seed=1, job_delay=0.05)
    admin = Admin(sim)
    try:
        ours = [giccid_for(i) for i in range(40) if i % 10 != 9]
        status = {g: admin.sim(g)["status"] for g in ours}
        good = [g for g in ours if status[g] != "RETIRED"][:6]
        retired = good.pop()
        admin.patch_sim(retired, status="RETIRED")  # retired outside fleetform
        elsewhere = giccid_for(9)  # another enterprise's SIM: not in account acme
        manifests = write_fleet(
            tmp_path / "m",
            {
                "tagged": {
                    "customFields": {"custom4": "x"},
                    "sims": [*good, {"iccid": retired, "state": "active"}, elsewhere],
                }
            },
        )
        plan = fleetform(
            "plan", str(manifests), "--detailed-exitcode", "--out", "plan.json",
            sim=sim, cwd=tmp_path,
        )  # fmt: skip
        assert plan.returncode == 2, plan.stdout + plan.stderr
        assert "Held back (2)" in plan.stdout and "Error" not in plan.stderr
        assert f"SIM {retired} was retired outside fleetform" in plan.stdout
        assert f"SIM {elsewhere} is declared but not in account 'acme'" in plan.stdout
        assert plan.stdout.count("fix:") == 2
        assert "5 with field changes. 2 SIMs held back" in plan.stdout
        saved = json.loads((tmp_path / "plan.json").read_text(encoding="utf-8"))
        assert {h["iccid"] for h in saved["held_back"]} == {retired, elsewhere}
        assert saved["problems"] == [] and saved["summary"]["to_change"] == 5
        lines = (manifests / "fleet.yaml").read_text(encoding="utf-8").splitlines()
        for held in saved["held_back"]:  # each at the SIM's own line
            assert held["iccid"] in lines[held["source"]["line"] - 1]

        strict = fleetform(
            "plan", str(manifests), "--detailed-exitcode", "--strict", sim=sim, cwd=tmp_path
        )
        assert strict.returncode == 1 and "2 problems" in strict.stderr, strict.stderr
        refused = fleetform("apply", "plan.json", "--strict", sim=sim, cwd=tmp_path)
        assert refused.returncode == 1 and "holds back 2 SIMs" in refused.stderr
        assert all(admin.sim(g)["custom4"] is None for g in good)  # nothing was sent

        applied = fleetform("apply", "plan.json", sim=sim, cwd=tmp_path)
        assert applied.returncode == 0, applied.stdout + applied.stderr
        assert all(admin.sim(g)["custom4"] == "x" for g in good)
        assert "Held back, not applied" in applied.stdout
        assert retired in applied.stdout and elsewhere in applied.stdout
        assert "Apply complete: 5 SIM changes done. 2 SIMs held back" in applied.stdout
    finally:
        admin.close()
