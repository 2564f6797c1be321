"""Planning 100,000 SIMs with 10% changed stays well inside the 5 s CPU budget (no network)."""

from __future__ import annotations

import time

import pytest

from reconciler.diff import diff_fleet
from reconciler.model import (
    ApnStatus,
    DesiredFleet,
    DesiredSim,
    DesiredState,
    FleetSpec,
    LiveSim,
    RatePlan,
    RatePlanType,
    SourceRef,
    Status,
)
from reconciler.planfile import seal
from reconciler.planner.make import make_plan

N = 100_000


@pytest.mark.slow
def test_100k_sims_plan_in_under_5_seconds_of_cpu() -> None:
    source = SourceRef("fleet/g.yaml", 4)
    apns = {"iot.acme": ApnStatus.ENABLED}
    custom = {"custom1": "berlin"}
    lives = [
        LiveSim(f"89445{i:014d}", Status.ACTIVE, "acme", "IoT-1GB", (), apns, custom)
        for i in range(N)
    ]
    wants: dict[str, DesiredSim] = {}
    for i, live in enumerate(lives):
        changed = i % 10 == 0
        kind = (i // 10) % 4
        wants[live.iccid] = DesiredSim(
            live.iccid,
            f"group-{i // 1000}",
            source,
            state=DesiredState.SUSPENDED if changed and kind == 0 else DesiredState.ACTIVE,
            rate_plan="IoT-5GB" if changed and kind == 1 else "IoT-1GB",
            apns={"iot.acme": ApnStatus.DISABLED} if changed and kind == 2 else apns,
            custom_fields={"custom1": f"site-{i}"} if changed and kind == 3 else custom,
        )
    fleet = DesiredFleet(FleetSpec("f", "acme", source), wants, "d")
    catalogue = [RatePlan("IoT-1GB", RatePlanType.BASIC), RatePlan("IoT-5GB", RatePlanType.BASIC)]

    start = time.process_time()
    plan = seal(
        make_plan(
            fleet,
            diff_fleet(fleet, iter(lives)),
            catalogue,
            endpoint="e",
            account="acme",
            requests_read=1001,
            rate_budget=None,
            created_at="t",
        )
    )
    cpu = time.process_time() - start

    assert plan.summary.to_change == N // 10
    assert plan.summary.sims_by_operation["suspend"] == N // 40
    assert cpu < 5.0, f"planning took {cpu:.2f} s of CPU"
