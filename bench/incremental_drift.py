"""Benchmark: incremental drift against a full read, on the simulator over a socket.

Run from the repository root::

    PYTHONPATH=. .venv/bin/python bench/incremental_drift.py [--sims 100000] [--changes 100]

The simulator is seeded with ``--sims`` SIMs; manifests declare every active or suspended SIM as
it is live; a full ``plan`` leaves the live-state cache; then ``--changes`` SIMs are changed
behind fleetform's back through the API (two thirds suspended, one third given another rate
plan). Then ``drift`` (incremental, the default) and ``drift --full`` run through the same core
function the CLI calls.

Printed: seeding time, the full plan's requests and time, each drift's requests, time and how
many SIMs it named, and the bound the issue sets for incremental drift:
ceil(history entries / 100) + verify budget + 5.

Measured (2026-12-04, 2 cores shared with five other busy processes, defaults): see the branch
notes for the figures of the run quoted there.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from reconciler.app import Connection
from reconciler.clock import SystemClock
from reconciler.commands.drift import DriftOptions, run_drift
from reconciler.commands.plan import PlanOptions, run_plan
from reconciler.live.incremental import default_verify_budget
from reconciler.model import Status
from reconciler.reporting import RecordingReporter
from reconciler.simulator import SimulatorConfig, start_in_thread
from reconciler.smarthub.client import SmartHubClient


def write_manifests(directory: Path, live: dict[str, Any]) -> Path:
    import yaml

    groups: dict[str, dict[str, Any]] = {}
    for iccid, s in sorted(live.items()):
        if s.status not in (Status.ACTIVE, Status.SUSPENDED):
            continue
        group = groups.setdefault(
            f"{s.status.value}-{s.rate_plan}",
            {"state": s.status.value, "ratePlan": s.rate_plan, "sims": []},
        )
        group["sims"].append(iccid)
    docs: list[dict[str, Any]] = [
        {
            "apiVersion": "fleetform/v1",
            "kind": "Fleet",
            "metadata": {"name": "bench"},
            "spec": {"account": "acme", "unmanaged": "ignore", "guards": {}},
        }
    ]
    for name, spec in groups.items():
        docs.append(
            {
                "apiVersion": "fleetform/v1",
                "kind": "SimGroup",
                "metadata": {"name": name},
                "spec": spec,
            }
        )
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "fleet.yaml").write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return directory


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sims", type=int, default=100_000)
    parser.add_argument("--changes", type=int, default=100)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="fleetform-drift-bench-"))
    os.environ["FLEETFORM_STATE_DIR"] = str(tmp / "state")
    started = time.perf_counter()
    sim = start_in_thread(SimulatorConfig(db_path=tmp / "sim.db", sims=args.sims, job_delay=0.05))
    print(f"simulator seeded with {args.sims:,} SIMs in {time.perf_counter() - started:.1f} s")
    connection = Connection(endpoint=sim.url, api_key=sim.api_key)
    try:
        with SmartHubClient(sim.url, sim.api_key) as api:
            live = {s.iccid: s for s in api.iter_sims(account="acme")}
        manifests = write_manifests(tmp / "m", live)

        started = time.perf_counter()
        out: list[str] = []
        run_plan(
            PlanOptions(paths=[manifests], fmt="json"),
            connection=connection,
            reporter=RecordingReporter(),
            write=out.append,
        )
        plan = json.loads("".join(out))
        print(
            f"full plan: {plan['summary']['requests_read']:,} requests, "
            f"{time.perf_counter() - started:.1f} s (leaves the cache)"
        )

        active = [i for i, s in sorted(live.items()) if s.status is Status.ACTIVE]
        step = max(1, len(active) // args.changes)
        changed = active[::step][: args.changes]
        with SmartHubClient(sim.url, sim.api_key) as api:
            for n, iccid in enumerate(changed):
                if n % 3 == 2:
                    api.set_rate_plan(iccid, "IoT-Unlimited")
                else:
                    api.suspend(iccid)
        print(f"{len(changed):,} SIMs changed behind fleetform's back through the API")

        for full in (False, True):
            out = []
            started = time.perf_counter()
            code = run_drift(
                DriftOptions([manifests], "json", full=full),
                connection=connection,
                reporter=RecordingReporter(),
                write=out.append,
                clock=SystemClock(),
            )
            report = json.loads("".join(out))
            named = {s["iccid"] for s in report["sims"]}
            basis = report["basis"]
            print(
                f"drift{' --full' if full else ''} ({basis['mode']}): exit {code}, "
                f"{report['requests_spent']:,} requests, {time.perf_counter() - started:.1f} s, "
                f"{len(named & set(changed)):,} of {len(changed):,} changed SIMs named"
            )
            if not full:
                entries = basis["history_entries"]
                bound = math.ceil(entries / 100) + default_verify_budget(len(live)) + 5
                print(
                    f"  bound ceil({entries:,} history entries / 100) + verify budget "
                    f"{default_verify_budget(len(live)):,} + 5 = {bound:,}: "
                    f"{'met' if report['requests_spent'] <= bound else 'MISSED'}"
                )
    finally:
        sim.stop()


if __name__ == "__main__":
    main()
