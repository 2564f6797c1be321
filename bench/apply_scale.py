"""Benchmark: apply 10,000 suspends plus 500 custom-field changes on the simulator.

Run from the repository root::

    PYTHONPATH=. /tmp/v/bin/python bench/apply_scale.py [--suspend 10000] [--custom 500]
        [--latency 0.02] [--concurrency 8] [--job-delay 0.5]

The simulator is seeded with enough SIMs that ``--suspend`` of them can be suspended (active or
pre-service) and ``--custom`` others can take a custom field; manifests declaring exactly that
are written to a temporary directory; the simulator then gets ``--latency`` seconds per
request, and ``fleetform apply --auto-approve --force`` runs through the same core function the
CLI calls (`apply_plan`), with a fresh client.

Printed: requests spent (reading for the plan, checking live state, writes, polls), wall time,
and the ratio to the lower bound. The lower bound on writes is one request per batch job
(ceil(suspend / 1000)) plus one per custom-field change; its time is the single calls at the
configured concurrency (ceil(custom / concurrency) round trips of ``latency``) or one job's
run time, whichever is longer. Reads are reported beside it: the plan must read the account
(ceil(N/100) pages) and apply re-checks the SIMs it touches (the cheaper of single GETs and
the paged list).

Measured (2026-11-25, this repository's simulator on loopback, 20 ms latency, concurrency 8,
job_delay 0.5 s, a shared 4-core VM): 10,500 SIM changes done; 787 requests in all, no 429,
no retry: 145 to read the 14,334-SIM account for the plan, 642 to apply (the live check by the
paged list, 10 batch jobs of 1,000 SIMs, their polls, 500 custom-field calls). Wall time 9.5 s
(plan 4.0 s, apply 5.5 s). Ratio to the lower bound of 510 write requests: 1.26 for apply,
1.54 with the plan's reads; time 4.4x the 1.3 s bound for apply (7.5x with the plan), the rest
being the sequential pages of the list (about 28 ms each) that the stale check must read.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

import httpx

from reconciler.clock import SystemClock
from reconciler.commands.apply import ApplyOptions, apply_plan
from reconciler.live.read import run_plan, timestamp
from reconciler.manifest import load_fleet
from reconciler.model import BATCH_MAX_SIMS, PRE_SERVICE, Outcome, Status
from reconciler.planfile import write_plan
from reconciler.render.apply_progress import PlainApplyReporter
from reconciler.simulator import SimulatorConfig, start_in_thread
from reconciler.smarthub.client import SmartHubClient


def write_manifests(directory: Path, suspend: list[str], custom: list[str]) -> Path:
    def items(iccids: list[str]) -> str:
        return "\n".join(f'    - "{i}"' for i in iccids)

    directory.mkdir(parents=True, exist_ok=True)
    (directory / "fleet.yaml").write_text(
        "apiVersion: fleetform/v1\nkind: Fleet\nmetadata: {name: bench}\n"
        "spec: {account: acme, unmanaged: ignore}\n---\n"
        "apiVersion: fleetform/v1\nkind: SimGroup\nmetadata: {name: to-suspend}\n"
        f"spec:\n  state: suspended\n  sims:\n{items(suspend)}\n---\n"
        "apiVersion: fleetform/v1\nkind: SimGroup\nmetadata: {name: tagged}\n"
        f"spec:\n  customFields: {{custom5: bench}}\n  sims:\n{items(custom)}\n",
        encoding="utf-8",
    )
    return directory


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suspend", type=int, default=10_000)
    parser.add_argument("--custom", type=int, default=500)
    parser.add_argument("--latency", type=float, default=0.02)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--job-delay", type=float, default=0.5)
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="fleetform-bench-"))
    # ~80% of seeded SIMs are active or pre-service; leave room for the custom-field SIMs
    fleet_size = math.ceil((args.suspend / 0.75) + args.custom * 2)
    started = time.monotonic()
    sim = start_in_thread(
        SimulatorConfig(db_path=work / "sim.db", sims=fleet_size, job_delay=args.job_delay)
    )
    try:
        print(f"simulator: {fleet_size:,} acme SIMs seeded in {time.monotonic() - started:.1f}s")
        with SmartHubClient(sim.url, sim.api_key) as setup:
            live = list(setup.iter_sims(account="acme"))
        suspendable = {Status.ACTIVE, *PRE_SERVICE}
        suspend = [s.iccid for s in live if s.status in suspendable][: args.suspend]
        chosen = set(suspend)
        custom = [
            s.iccid
            for s in live
            if s.iccid not in chosen
            and s.status is not Status.RETIRED
            and s.custom_fields.get("custom5") is None
        ][: args.custom]
        if len(suspend) < args.suspend or len(custom) < args.custom:
            print("not enough suitable SIMs in the seeded fleet", file=sys.stderr)
            return 1
        manifests = write_manifests(work / "manifests", suspend, custom)
        with httpx.Client(base_url=sim.admin_url, headers={"X-API-Key": sim.api_key}) as admin:
            admin.post("/faults", json={"latency": args.latency}).raise_for_status()
            admin.post("/rate-limit/reset").raise_for_status()
            admin.post("/counters/reset").raise_for_status()

        clock = SystemClock()
        reporter = PlainApplyReporter(sys.stderr, clock, interval=5.0)
        with SmartHubClient(sim.url, sim.api_key, clock=clock) as api:
            t0 = time.monotonic()
            plan = run_plan(api, load_fleet([manifests]), reporter, created_at=timestamp(clock))
            plan_seconds = time.monotonic() - t0
            write_plan(plan, work / "plan.json")
            t1 = time.monotonic()
            report = apply_plan(
                api,
                ApplyOptions(
                    plan_file=work / "plan.json",
                    force=True,  # suspending most of the account trips the mass-disable guard
                    concurrency=args.concurrency,
                ),
                reporter,
                state_dir=work / "state",
                clock=clock,
            )
            apply_seconds = time.monotonic() - t1
            total = api.stats()
        with httpx.Client(base_url=sim.admin_url, headers={"X-API-Key": sim.api_key}) as admin:
            counters = admin.get("/counters").json()
    finally:
        sim.stop()

    jobs = sum(len(step.job_ids) for step in report.steps)
    singles = args.custom
    plan_reads = total.requests - report.requests_spent
    bound_requests = math.ceil(args.suspend / BATCH_MAX_SIMS) + singles
    bound_seconds = max(
        math.ceil(singles / args.concurrency) * args.latency, 2 * args.job_delay + args.latency
    )
    changes = sum(len(s.sims) for s in report.steps)
    checks = plan.summary.sims_read / 100
    lines = [
        f"SIM changes done:      {report.count(Outcome.DONE):,} of {changes:,}",
        f"requests spent:        {total.requests:,} in all, {counters.get('rateLimited', 0)} "
        f"answered 429, {total.retries} retries",
        f"  plan (read account)  {plan_reads:,} in {plan_seconds:.1f}s",
        f"  apply                {report.requests_spent:,} in {apply_seconds:.1f}s: live check "
        f"(the paged list, at most {math.ceil(checks)} pages), {jobs} batch jobs + polls, "
        f"{singles} single calls",
        f"wall time:             {plan_seconds + apply_seconds:.1f}s",
        f"lower bound (writes):  {bound_requests:,} requests ({jobs} jobs + {singles} singles), "
        f"{bound_seconds:.1f}s at concurrency {args.concurrency} and "
        f"{args.latency * 1000:.0f} ms latency",
        f"ratio to lower bound:  requests {report.requests_spent / bound_requests:.2f} (apply), "
        f"{total.requests / bound_requests:.2f} (plan + apply); time "
        f"{apply_seconds / bound_seconds:.2f} (apply), "
        f"{(plan_seconds + apply_seconds) / bound_seconds:.2f} (plan + apply)",
    ]
    print("\n".join(lines))
    return 0 if report.complete else 3


if __name__ == "__main__":
    sys.exit(main())
