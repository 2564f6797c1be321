"""Issue 10's "done when" for targeted plans, end to end: a 50,000-SIM account, a commit that
changes 100 SIMs, ``fleetform plan --changed-from HEAD~1`` exits 2 having spent at most 110
requests, and ``fleetform apply`` of that plan makes exactly those SIMs right and touches no
other SIM -- although every other SIM drifts from the manifests too (they declare a custom
field no live SIM holds), which a full plan would change.

The real CLI in subprocesses, the simulator on a socket, a real git repository."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from reconciler.simulator import RunningSimulator
from tests.fakes import Admin
from tests.integration.test_targeted_plan import commit, git

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow  # about 15 s: 50,000 SIMs seeded (6 s), two manifest loads


def fleetform(*args: str, sim: RunningSimulator, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SMARTHUB_", "FLEETFORM_"))}
    env |= {
        "PYTHONPATH": str(ROOT),
        "NO_COLOR": "1",
        "SMARTHUB_ENDPOINT": sim.url,
        "SMARTHUB_API_KEY": sim.api_key,
        "FLEETFORM_STATE_DIR": str(cwd / ".fleetform"),
    }
    return subprocess.run(
        [sys.executable, "-m", "reconciler", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def write(path: Path, groups: dict[str, tuple[str, list[str]]]) -> None:
    """A Fleet and one SimGroup per entry (its custom4, its SIMs), written as plain text:
    PyYAML takes seconds to dump 50,000 entries."""
    path.mkdir(parents=True, exist_ok=True)
    (path / "fleet.yaml").write_text(
        "apiVersion: fleetform/v1\nkind: Fleet\nmetadata: {name: big}\n"
        "spec: {account: acme, unmanaged: ignore}\n"
    )
    docs = [
        f"apiVersion: fleetform/v1\nkind: SimGroup\nmetadata: {{name: {name}}}\nspec:\n"
        f"  customFields: {{custom4: {custom4}}}\n  sims:\n"
        + "".join(f'    - "{iccid}"\n' for iccid in sims)
        for name, (custom4, sims) in groups.items()
    ]
    (path / "groups.yaml").write_text("---\n".join(docs))


def snapshot(sim: RunningSimulator) -> dict[str, dict[str, Any]]:
    """Every SIM's stored row, read from the simulator's database: reading 50,000 SIMs through
    the API would take 500 requests (and seconds) each time."""
    with closing(sqlite3.connect(sim.db_path)) as db:
        db.row_factory = sqlite3.Row
        rows = db.execute("SELECT * FROM sims WHERE account = 'acme'").fetchall()
    return {row["giccid"]: dict(row) for row in rows}


def test_plan_and_apply_of_100_changed_sims_in_a_50000_sim_fleet(
    sim_factory: Callable[..., RunningSimulator], tmp_path: Path
) -> None:
    sim = sim_factory(sims=50_000, job_delay=0.05)
    before = snapshot(sim)
    assert len(before) == 50_000
    iccids = sorted(before)
    chosen = [i for i in iccids if before[i]["status"] == "ACTIVATED"][::7][:100]
    assert len(chosen) == 100

    repo = tmp_path / "fleet"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    write(repo / "manifests", {"all": ("everyone", iccids)})
    commit(repo, "50,000 SIMs")
    pilot = set(chosen)
    rest = [i for i in iccids if i not in pilot]
    write(
        repo / "manifests",
        {"all": ("everyone", rest), "pilot": ("pilot", chosen)},
    )
    commit(repo, "100 SIMs join the pilot")

    admin = Admin(sim)
    try:
        start = admin.counters().get("requests", 0)  # API requests only, not admin ones
        planned = fleetform(
            "plan",
            "manifests",
            "--changed-from",
            "HEAD~1",
            "--detailed-exitcode",
            "--out",
            "plan.json",
            sim=sim,
            cwd=repo,
        )
        spent = admin.counters()["requests"] - start
    finally:
        admin.close()
    assert planned.returncode == 2, planned.stderr
    assert spent <= 110, spent
    head = git(repo, "rev-parse", "--short=7", "HEAD~1")
    assert (
        f"Targeted: 100 SIMs whose declaration changed since HEAD~1 ({head}); the other 49,900 "
        "were not read: the scheduled drift check covers them."
    ) in planned.stdout
    saved = json.loads((repo / "plan.json").read_text())
    assert saved["summary"]["requests_read"] <= 110
    assert saved["targeted"]["commit"] == git(repo, "rev-parse", "HEAD~1")
    assert saved["targeted"]["sims"] == 100 and saved["targeted"]["not_read"] == 49_900
    planned_sims = {s["iccid"] for step in saved["steps"] for s in step["sims"]}
    assert planned_sims == set(chosen)

    applied = fleetform("apply", "plan.json", "--auto-approve", sim=sim, cwd=repo)
    assert applied.returncode == 0, applied.stdout + applied.stderr

    after = snapshot(sim)
    changed = {i for i in iccids if after[i] != before[i]}
    assert changed == set(chosen)  # and every other SIM's row is exactly as it was
    admin = Admin(sim)
    try:
        for iccid in chosen:
            live = admin.sim(iccid)
            assert live["custom4"] == "pilot"
            assert live["status"] == "ACTIVATED"
            assert live["basicServicePackage"] == before[iccid]["basic"]
    finally:
        admin.close()
