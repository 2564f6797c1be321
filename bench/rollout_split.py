"""Benchmark: what a rollout costs the planner, in memory (no simulator).

Plans ``--sims`` SIMs in ``--groups`` groups moving to a new basic plan from three old ones,
once without a rollout and once with ``steps: ["1%", "10%", "100%"]``, and prints the planning
CPU of each (``diff_fleet`` + ``make_plan`` + ``seal``), the rollout steps with their SIM
counts, and how evenly the 1% canary covers the groups and the old plans.

    python bench/rollout_split.py [--sims 100000] [--groups 20]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from reconciler.diff import diff_fleet  # noqa: E402
from reconciler.model import (  # noqa: E402
    RATE_PLAN,
    DesiredFleet,
    DesiredSim,
    FleetSpec,
    LiveSim,
    Plan,
    RatePlan,
    RatePlanType,
    RolloutPolicy,
    SourceRef,
    Status,
)
from reconciler.planfile import seal  # noqa: E402
from reconciler.planner.make import make_plan  # noqa: E402

OLD = ("IoT-1GB", "IoT-5GB", "IoT-10GB")
CATALOGUE = [RatePlan(p, RatePlanType.BASIC) for p in (*OLD, "IoT-Unlimited")]


def plan(sims: int, groups: int, rollout: RolloutPolicy | None) -> tuple[Plan, float]:
    src = SourceRef("fleet.yaml", 1)
    wants = {}
    lives = []
    for i in range(sims):
        iccid = f"894450{i:013d}"
        wants[iccid] = DesiredSim(
            iccid, f"g{i % groups}", src, rate_plan="IoT-Unlimited", rollout=rollout
        )
        lives.append(LiveSim(iccid, Status.ACTIVE, "acme", rate_plan=OLD[(i * 7 // 3) % 3]))
    fleet = DesiredFleet(FleetSpec("f", "acme", src, rollout=rollout), wants, digest="d")
    started = time.process_time()
    result = seal(
        make_plan(
            fleet,
            diff_fleet(fleet, lives),
            CATALOGUE,
            endpoint="http://sim/v1",
            account="acme",
            requests_read=sims // 100,
            rate_budget=None,
            created_at="now",
        )
    )
    return result, time.process_time() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sims", type=int, default=100_000)
    parser.add_argument("--groups", type=int, default=20)
    args = parser.parse_args()
    _, plain = plan(args.sims, args.groups, None)
    policy = RolloutPolicy(("1%", "10%", "100%"), 600.0, 0.0)
    staged, cpu = plan(args.sims, args.groups, policy)
    print(f"SIMs: {args.sims:,} in {args.groups} groups, basic plan change")
    print(f"planning CPU without rollout: {plain:.2f} s; with rollout: {cpu:.2f} s")
    for stage in staged.rollout:
        steps = [s for s in staged.steps if s.id in stage.step_ids]
        batch = sum(1 for s in steps if s.batch)
        print(
            f"  {stage.id} {stage.share:>5}: {stage.sims:>7,} SIMs, {len(steps)} steps "
            f"({batch} batch jobs), {stage.requests:,} requests, {stage.seconds:,.0f} s"
        )
    first = [s for s in staged.steps if s.rollout == 1 and s.wave == 1]
    canary = [sim for s in first for sim in s.sims]
    groups = Counter(sim.group for sim in canary)
    plans = Counter(sim.before[RATE_PLAN] for sim in canary)
    print(
        f"1% canary: {len(canary)} SIMs; per group {min(groups.values())}..{max(groups.values())}"
        f" over {len(groups)} of {args.groups} groups; per old plan {dict(sorted(plans.items()))}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
