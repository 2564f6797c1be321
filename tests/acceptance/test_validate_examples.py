"""The examples against the embedded simulator's demo fleet: a small, readable plan.

examples/fleet declares 82 SIMs of the seeded fleet (sims=1000, seed=1); all but six match the
live values. If the seed's fleet changes, this test says which examples to refresh.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

EXPECTED = {
    "activate": ["8944500000000003034"],
    "suspend": ["8944500000000005229"],
    "set_rate_plan": ["8944500000000003018"],
    "subscribe_plan": ["8944500000000000972"],
    "set_apn_status": ["8944500000000001285"],
    "set_custom_fields": ["8944500000000002549"],
}


def test_plan_of_the_examples_shows_six_changes(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "FLEETFORM_STATE_DIR": str(tmp_path)}
    env.pop("SMARTHUB_ENDPOINT", None)
    env.pop("SMARTHUB_API_KEY", None)
    result = subprocess.run(
        [sys.executable, "-m", "reconciler", "plan", "examples/fleet", "--format", "json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    assert plan["summary"]["sims_declared"] == 82
    assert plan["summary"]["to_change"] == 6
    assert plan["summary"]["missing"] == 0
    steps = {s["operation"]: [sim["iccid"] for sim in s["sims"]] for s in plan["steps"]}
    assert steps == EXPECTED
    assert plan["problems"] == []
